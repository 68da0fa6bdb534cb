"""``installer diff``: what deploy would do, per object, decided by the API server.

Each object is dry-run applied server-side and compared with the live one; what the server would
refuse as an immutable change is a ``replace`` (deploy deletes and creates it); objects of the
previous inventory the render lacks are a ``prune``. The CRD upgrade-safety check runs first, as
in deploy: a refused upgrade is an error here too, and a storage version move is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from installer.cluster.apply import PROTECTED_KINDS
from installer.cluster.bodies import comparable, field_changes, prepare
from installer.cluster.client import Cluster, Ref
from installer.cluster.crds import StorageMove, check_crd_upgrades
from installer.cluster.inventory import applyset_id, read_inventory
from installer.cluster.progress import QuietProgress
from installer.cluster.prune import prune_set
from installer.cluster.run import ChangeSet, DeployOptions, Run
from installer.errors import ClusterError, InvalidError
from installer.objects import Obj
from installer.phases import PHASES


@dataclass
class ObjectDiff:
    ref: str
    action: str  # create | change | replace | prune
    fields: list[str] = field(default_factory=list)


def diff(cluster: Cluster, phases: dict[str, list[Obj]], namespace: str, instance: str) -> list[ObjectDiff]:
    """What deploy would do, per object: server-side dry run against the live objects."""
    old = read_inventory(cluster, namespace)
    run = Run(
        cluster, DeployOptions(instance, dry_run=True), QuietProgress(), ChangeSet(), applyset_id(namespace)
    )
    moves = check_crd_upgrades(run, phases.get("crds") or [], old)
    out: list[ObjectDiff] = []
    applied: list[Ref] = []
    for phase in PHASES:
        for obj in phases.get(phase) or []:
            wanted = prepare(obj, instance, run.applyset)
            applied.append(Ref.of(wanted))
            found = _moved(Ref.of(wanted), moves) or _one(cluster, wanted)
            if found is not None:
                out.append(found)
    out += [ObjectDiff(str(r), "prune") for r in prune_set(old.refs if old else [], applied)]
    return out


def _moved(ref: Ref, moves: list[StorageMove]) -> ObjectDiff | None:
    """The CRDs whose storage version moves, and the objects of ours that move with them."""
    for move in moves:
        change = move.change
        if ref.key == change.ref.key:
            dropped = f", drops stored {', '.join(change.dropped_stored)}" if change.dropped_stored else ""
            return ObjectDiff(
                str(ref),
                "change",
                [f"storage version {change.live_storage} -> {change.new_storage}{dropped}"],
            )
        if ref.key in {r.key for r in move.ours}:
            return ObjectDiff(str(ref), "replace", [f"re-created in {change.group}/{change.new_storage}"])
    return None


def _one(cluster: Cluster, wanted: Obj) -> ObjectDiff | None:
    ref = Ref.of(wanted)
    try:
        live = cluster.get(ref)
    except ClusterError as exc:
        return ObjectDiff(str(ref), "change", [f"(cannot read it: {exc.message})"])
    if live is None:
        return ObjectDiff(str(ref), "create")
    try:
        result = cluster.apply(wanted, dry_run=True)
    except InvalidError as exc:
        if exc.immutable_fields and ref.kind not in PROTECTED_KINDS:
            return ObjectDiff(str(ref), "replace", exc.immutable_fields)
        return ObjectDiff(str(ref), "change", [f"(apply would fail: {exc.message})"])
    except ClusterError as exc:
        return ObjectDiff(str(ref), "change", [f"(apply would fail: {exc.message})"])
    fields = field_changes(comparable(live), comparable(result))
    return ObjectDiff(str(ref), "change", fields) if fields else None
