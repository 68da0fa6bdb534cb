"""Guarded undeploy: delete what the inventory lists, wait until it is gone.

Refused while custom resources of the installed CRDs exist that the installer did not apply
(InferenceServices, ServingRuntimes, Predictors, ...), or cannot be listed (a conversion webhook
not answering: there may be some), unless ``--force``. Deletes the admission webhook
configurations first (KServe's validate deletes of LLM configs: with its controller down they
could never be deleted otherwise), then in reverse phase order (CRDs last; namespaces only if
the installer created them), releases the labels of labels-only
objects, treats 404 as done, and then waits, as ``kubectl delete`` does, until what it deleted
is gone: a CRD stays Terminating until its custom resources are deleted, a namespace until its
contents are, and a deploy started before that fails (``namespace ... is being terminated``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from installer.cluster.bodies import MANAGED_BY, TOOL
from installer.cluster.client import Cluster, Ref
from installer.cluster.dryrun import DryRunCluster
from installer.cluster.inventory import INVENTORY, Inventory, read_inventory
from installer.cluster.progress import LineProgress, Progress
from installer.cluster.prune import custom_resources_of, release_labels
from installer.cluster.readiness import Readiness
from installer.cluster.waits import Clock, wait_ready
from installer.errors import ClusterError, UserDataError, WaitTimeoutError
from installer.objects import WEBHOOK_KINDS, Obj, is_labels_only
from installer.phases import INDEX, phase_of_key

log = logging.getLogger(__name__)
SHOWN = 5


@dataclass(frozen=True)
class UndeployWait:
    """Whether and how long undeploy waits for what it deleted (``--no-wait``, ``--timeout``)."""

    enabled: bool = True
    clock: Clock = field(default_factory=lambda: Clock(timeout=300.0, interval=1.0))


def user_resources(cluster: Cluster, inventory: Inventory) -> tuple[list[Ref], list[str]]:
    """Custom resources of the installed CRDs that the installer did not apply itself, and the
    CRDs whose custom resources could not be listed (with why)."""
    ours = inventory.keys
    found: list[Ref] = []
    unreadable: list[str] = []
    for ref in inventory.refs:
        if ref.kind != "CustomResourceDefinition":
            continue
        try:
            found += custom_resources_of(cluster, ref, ours)
        except ClusterError as exc:
            unreadable.append(f"{ref.name} ({exc.message})")
    return sorted(found, key=lambda r: r.key), unreadable


def _refuse(users: list[Ref], unreadable: list[str]) -> UserDataError:
    parts = []
    if users:
        shown = ", ".join(str(u) for u in users[:SHOWN])
        more = f" and {len(users) - SHOWN} more" if len(users) > SHOWN else ""
        parts.append(f"{len(users)} custom resources still exist ({shown}{more})")
    if unreadable:
        parts.append(f"the custom resources of {'; '.join(unreadable)} cannot be listed")
    return UserDataError(f"refusing to undeploy: {' and '.join(parts)}; delete them or pass --force")


def undeploy(
    cluster: Cluster,
    namespace: str,
    force: bool = False,
    progress: Progress | None = None,
    wait: UndeployWait | None = None,
) -> list[str]:
    """Delete what the inventory lists, custom resources first and CRDs last, then wait until it
    is gone (unless ``wait.enabled`` is off); returns what was deleted. On a
    :class:`DryRunCluster` every delete is a server-side dry run: what would be deleted, nothing
    changed, nothing waited for."""
    report = progress or LineProgress(log.info)
    dry_run = isinstance(cluster, DryRunCluster)
    if dry_run:
        wait = UndeployWait(enabled=False)
    inventory = read_inventory(cluster, namespace)
    if inventory is None:
        report.note(f"nothing to undeploy: no inventory in namespace {namespace}")
        return []
    users, unreadable = user_resources(cluster, inventory)
    if (users or unreadable) and not force:
        raise _refuse(users, unreadable)
    deleted = _delete_all(cluster, inventory, report)
    settings = wait or UndeployWait()
    if settings.enabled:
        wait_deleted(cluster, deleted, settings.clock, report)
    cluster.delete(Ref("v1", "ConfigMap", INVENTORY, namespace))
    report.note(f"{'dry run: ' if dry_run else ''}deleted {len(deleted)} objects")
    return [str(r) for r in deleted]


def _delete_all(cluster: Cluster, inventory: Inventory, report: Progress) -> list[Ref]:
    """Admission webhooks first (deleting the objects they validate must not depend on the
    controller that serves them), then the rest in reverse apply order."""
    refs = sorted(inventory.refs, key=lambda r: (r.kind not in WEBHOOK_KINDS, -INDEX[phase_of_key(r.key)]))
    deleted: list[Ref] = []
    for ref in refs:
        if ref.kind == "Namespace" and not inventory.created(ref.name):
            if release_labels(cluster, ref):  # it stays, without what we set on it
                report.note(f"{ref}: kept (it existed before), our labels removed")
            continue
        if cluster.delete(ref):
            deleted.append(ref)
    for ref in inventory.labels_only:
        if release_labels(cluster, ref):
            report.note(f"{ref}: removed our labels (the namespace stays)")
    return deleted


def _named(refs: list[Ref]) -> str:
    shown = ", ".join(str(r) for r in refs[:SHOWN])
    return shown + (f" and {len(refs) - SHOWN} more" if len(refs) > SHOWN else "")


def wait_deleted(cluster: Cluster, refs: Iterable[Ref], clock: Clock, report: Progress) -> None:
    """Until every object in ``refs`` is gone (finalized); one progress line while it waits, one
    error line naming what is still terminating when ``clock.timeout`` runs out."""
    remaining = list(refs)

    def rule() -> Readiness:
        remaining[:] = [r for r in remaining if cluster.get(r) is not None]
        if not remaining:
            return Readiness.ready("all gone")
        return Readiness.waiting(_named(remaining))

    if rule().ok:
        return
    report.note(
        f"waiting up to {clock.timeout:g}s for {len(remaining)} deleted objects to be finalized "
        f"({_named(remaining)})"
    )
    try:
        wait_ready("deleted objects to be finalized", rule, clock)
    except WaitTimeoutError:
        raise WaitTimeoutError(
            f"timed out after {clock.timeout:g}s waiting for deleted objects to be finalized; still "
            f"terminating: {_named(remaining)} (the API server goes on deleting them: run undeploy "
            "again to wait, or deploy once they are gone)"
        ) from None


def leftovers(cluster: Cluster, objs: Iterable[Obj]) -> tuple[list[str], list[str]]:
    """(ours, terminating): rendered objects still on the cluster with our managed-by label, and
    those the API server is still deleting (a namespace waits for its contents to go first).
    Objects we only label count while they still carry our labels."""
    ours: list[str] = []
    terminating: list[str] = []
    for obj in objs:
        ref = Ref.of(obj)
        live = cluster.get(ref)
        if live is None:
            continue
        meta = live.get("metadata") or {}
        labels = meta.get("labels") or {}
        if is_labels_only(obj):
            wanted = (obj.get("metadata") or {}).get("labels") or {}
            if any(labels.get(k) == v for k, v in wanted.items()):
                ours.append(f"{ref} (labels)")
        elif meta.get("deletionTimestamp"):
            terminating.append(str(ref))
        elif labels.get(MANAGED_BY) == TOOL:
            ours.append(str(ref))
    return ours, terminating
