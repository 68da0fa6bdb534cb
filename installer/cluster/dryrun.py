"""``undeploy --dry-run=server``: the same undeploy, with every write a server-side dry run.

:class:`DryRunCluster` wraps a :class:`~installer.cluster.client.Cluster`: reads pass through,
applies (releasing our labels) are sent with ``dryRun=All``, deletes are sent with
``dryRun=All`` (the API server runs admission and answers as if it deleted, and deletes
nothing), and anything else is refused. The guard (custom resources of users) runs as usual, so
a dry run refuses what the real undeploy would refuse.
"""

from __future__ import annotations

from collections.abc import Iterator

from installer.cluster.client import Cluster, Ref
from installer.errors import ClusterError
from installer.objects import Obj


class DryRunCluster:
    """A cluster on which undeploy changes nothing (see the module's docstring)."""

    def __init__(self, cluster: Cluster) -> None:
        self.inner = cluster

    def get(self, ref: Ref) -> Obj | None:
        return self.inner.get(ref)

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        return self.inner.list(api_version, kind, namespace)

    def serves(self, api_version: str, kind: str) -> bool:
        return self.inner.serves(api_version, kind)

    def resource_versions(
        self, api_version: str, kind: str, label_selector: str
    ) -> dict[tuple[str, str], str]:
        return self.inner.resource_versions(api_version, kind, label_selector)

    def watch_crds(self, label_selector: str, since: str, timeout: float) -> Iterator[Obj]:
        return self.inner.watch_crds(label_selector, since, timeout)

    def apply(
        self, obj: Obj, *, force: bool = False, dry_run: bool = False, metadata_only: bool = False
    ) -> Obj:
        return self.inner.apply(obj, force=force, dry_run=True, metadata_only=metadata_only)

    def update(self, obj: Obj) -> Obj:
        raise ClusterError(f"update {Ref.of(obj)}: not sent in a dry run")

    def patch_status(self, ref: Ref, status: Obj) -> Obj:
        raise ClusterError(f"patch the status of {ref}: not sent in a dry run")

    def delete(self, ref: Ref) -> bool:
        """A server-side dry-run delete; False if the object is already gone."""
        return bool(self.inner.delete_dry_run(ref))

    def delete_dry_run(self, ref: Ref) -> bool:
        return self.delete(ref)
