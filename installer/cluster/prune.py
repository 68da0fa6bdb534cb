"""Prune: after an upgrade, a downgrade or a parameter change is applied, delete what the
previous inventory lists and the new render lacks, in reverse apply order.

Never touched: user custom resources (not in the inventory, so never pruned), a namespace the
installer did not create (it only loses the labels the installer set on it), and a CRD whose
custom resources still exist (deleting it would delete them: it is kept, said so, and stays in
the inventory until a later deploy finds it empty).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from installer.cluster.bodies import labels_body
from installer.cluster.client import Cluster, Ref
from installer.cluster.inventory import Inventory
from installer.cluster.run import Run
from installer.errors import ClusterError
from installer.objects import ObjectKey


def prune_set(old: Iterable[Ref], new: Iterable[Ref]) -> list[Ref]:
    """Objects of the old inventory the new render does not contain, in reverse apply order."""
    keep = {r.key for r in new}
    return list(reversed([r for r in old if r.key not in keep]))


def release_labels(cluster: Cluster, ref: Ref, dry_run: bool = False) -> bool:
    """Remove the labels we own from an object we only label; False when it no longer exists."""
    if cluster.get(ref) is None:
        return False
    cluster.apply(labels_body(ref.stub(), {}), dry_run=dry_run)
    return True


def custom_resources_of(cluster: Cluster, crd_ref: Ref, exclude: Collection[ObjectKey] = ()) -> list[Ref]:
    """Custom resources of one CRD, read in its storage version, except ``exclude``.

    Raises ClusterError when the server cannot list them (a conversion webhook not answering):
    callers that must not lose data treat that as "there may be some".
    """
    crd = cluster.get(crd_ref)
    if not crd:
        return []
    spec = crd.get("spec") or {}
    kind = str((spec.get("names") or {}).get("kind"))
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), "")
    found = [Ref.of(o) for o in cluster.list(f"{spec.get('group')}/{storage}", kind)]
    return [r for r in found if r.key not in exclude]


def prune(run: Run, old: Inventory | None, applied: list[Ref], created: set[str]) -> list[Ref]:
    """Delete what ``old`` lists and ``applied`` lacks; returns what stays ours although it was
    not applied (CRDs kept for their custom resources)."""
    kept: list[Ref] = []
    for ref in prune_set(old.refs if old else [], applied):
        if ref.kind == "Namespace" and ref.name not in created:
            # Never delete a namespace the installer did not create; only take back our fields.
            if release_labels(run.cluster, ref, run.opts.dry_run):
                run.changes.pruned.append(f"{ref} (labels)")
            continue
        if ref.kind == "CustomResourceDefinition" and _in_use(run, ref):
            kept.append(ref)  # still ours: a later deploy prunes it once they are gone
            continue
        # (one a storage move deleted before the CRD phase is gone already: pruned all the same)
        if run.opts.dry_run or run.cluster.delete(ref) or ref.key in run.recreated:
            run.changes.pruned.append(str(ref))
    return kept


def _in_use(run: Run, ref: Ref) -> bool:
    try:
        users = custom_resources_of(run.cluster, ref)
    except ClusterError as exc:
        run.report.note(f"kept {ref}: cannot tell whether custom resources of it exist ({exc.message})")
        return True
    if users:  # deleting the CRD would delete them: keep it, say so
        run.report.note(f"kept {ref}: {len(users)} custom resources of it still exist ({users[0]})")
    return bool(users)


def release_dropped_labels(run: Run, old: Inventory | None, labelled: list[Ref]) -> None:
    """Objects the previous deploy labelled and this one does not: our labels come off."""
    for ref in old.labels_only if old else ():
        if ref not in labelled and release_labels(run.cluster, ref, run.opts.dry_run):
            run.changes.pruned.append(f"{ref} (labels)")
