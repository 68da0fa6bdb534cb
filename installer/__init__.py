"""kserve-installer: install KServe on Kubernetes from pinned upstream release manifests."""

__version__ = "0.1.0"
