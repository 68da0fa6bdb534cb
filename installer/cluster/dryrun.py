"""``undeploy --dry-run=server``: the same undeploy, with every write a server-side dry run.

:class:`DryRunCluster` wraps a :class:`~installer.cluster.client.Cluster`: reads pass through,
applies (releasing our labels) are sent with ``dryRun=All``, deletes are sent with
``dryRun=All`` (the API server runs admission and answers as if it deleted, and deletes
nothing), and anything else is refused. The guard (custom resources of users) runs as usual, so
a dry run refuses what the real undeploy would refuse.
"""

from __future__ import annotations

from typing import Any

from installer.cluster.client import Cluster, Ref, status_error
from installer.errors import ClusterError, NotFoundError, root_cause
from installer.objects import Obj


class DryRunCluster:
    """A cluster on which undeploy changes nothing (see the module's docstring)."""

    def __init__(self, cluster: Cluster) -> None:
        self.inner = cluster

    def get(self, ref: Ref) -> Obj | None:
        return self.inner.get(ref)

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        return self.inner.list(api_version, kind, namespace)

    def resource_versions(
        self, api_version: str, kind: str, label_selector: str
    ) -> dict[tuple[str, str], str]:
        return self.inner.resource_versions(api_version, kind, label_selector)

    def apply(self, obj: Obj, *, force: bool = False, dry_run: bool = False) -> Obj:
        return self.inner.apply(obj, force=force, dry_run=True)

    def update(self, obj: Obj) -> Obj:
        raise ClusterError(f"update {Ref.of(obj)}: not sent in a dry run")

    def patch_status(self, ref: Ref, status: Obj) -> Obj:
        raise ClusterError(f"patch the status of {ref}: not sent in a dry run")

    def delete(self, ref: Ref) -> bool:
        """A server-side dry-run delete; False if the object is already gone."""
        own = getattr(self.inner, "delete_dry_run", None)  # a cluster that has one (test fakes)
        if own is not None:
            return bool(own(ref))
        return _kube_delete_dry_run(self.inner, ref)


def _kube_delete_dry_run(cluster: Any, ref: Ref) -> bool:
    """DELETE with ``dryRun=All`` through the kubernetes client's dynamic client."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

    what = f"delete {ref} (dry run)"
    try:
        res = cluster.dynamic.resources.get(api_version=ref.api_version, kind=ref.kind)
        res.delete(name=ref.name, namespace=ref.namespace or None, dry_run="All")
    except ResourceNotFoundError:
        return False  # the kind is gone: so is the object
    except (ApiException, DynamicApiError) as exc:
        error = status_error(int(getattr(exc, "status", 0) or 0), getattr(exc, "body", ""), what)
        if isinstance(error, NotFoundError):
            return False
        raise error from None
    except ClusterError:
        raise
    except Exception as exc:
        raise ClusterError(f"{what}: {cluster.server}: {root_cause(exc)}") from None
    return True
