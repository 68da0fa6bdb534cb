"""``installer diff``: what deploy would do, per object, decided by the API server.

Each object is dry-run applied server-side and compared with the live one; what the server would
refuse as an immutable change is a ``replace`` (deploy deletes and creates it); objects of the
previous inventory the render lacks are a ``prune``. The CRD upgrade-safety check runs first, as
in deploy: a refused upgrade is an error here too, and a storage version move is shown.

Each result carries its unified diff (:mod:`installer.cluster.diffview`): the live object against
the server's dry-run result; a created object whole, a pruned one whole as removed, a replaced
one against the live object with the rendered fields put over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from installer.cluster.apply import PROTECTED_KINDS
from installer.cluster.bodies import comparable, field_changes, prepare
from installer.cluster.client import Cluster, Ref
from installer.cluster.crds import StorageMove, check_crd_upgrades
from installer.cluster.diffview import unified
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
    diff: list[str] = field(default_factory=list, compare=False)  # unified diff lines, no colour

    def summary(self) -> str:
        why = " cannot change in place (deleted and created again)" if self.immutable else ""
        return f"{self.action:7s} {self.ref}" + (f": {', '.join(self.fields)}{why}" if self.fields else "")

    @property
    def immutable(self) -> bool:
        return self.action == "replace" and not any(f.startswith("re-created in") for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": self.ref,
            "action": self.action,
            "fields": self.fields,
            "diff": "\n".join(self.diff),
        }


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
    out += [_pruned(cluster, r) for r in prune_set(old.refs if old else [], applied)]
    return out


def _pruned(cluster: Cluster, ref: Ref) -> ObjectDiff:
    try:
        live = cluster.get(ref)
    except ClusterError as exc:
        return ObjectDiff(str(ref), "prune", [f"(cannot read it: {exc.message})"])
    return ObjectDiff(str(ref), "prune", diff=unified(str(ref), live, None) if live is not None else [])


def overlaid(live: Any, wanted: Any) -> Any:
    """``wanted`` put over ``live`` (maps merged, lists of one length item by item, anything else
    taken from ``wanted``): roughly what the object would be, for showing a change the server
    would not dry-run, without the defaults the server filled in showing as removed."""
    if isinstance(live, dict) and isinstance(wanted, dict):
        return {**live, **{k: overlaid(live.get(k), v) for k, v in wanted.items()}}
    if isinstance(live, list) and isinstance(wanted, list) and len(live) == len(wanted):
        return [overlaid(a, b) for a, b in zip(live, wanted, strict=True)]
    return wanted


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
    name = str(ref)
    if live is None:
        return ObjectDiff(name, "create", diff=unified(name, None, wanted))
    try:
        result = cluster.apply(wanted, dry_run=True)
    except InvalidError as exc:
        if exc.immutable_fields and ref.kind not in PROTECTED_KINDS:
            return ObjectDiff(
                name, "replace", exc.immutable_fields, unified(name, live, overlaid(live, wanted))
            )
        return _failing(name, exc, live, wanted)
    except ClusterError as exc:
        return _failing(name, exc, live, wanted)
    fields = field_changes(comparable(live), comparable(result))
    return ObjectDiff(name, "change", fields, unified(name, live, result)) if fields else None


def _failing(name: str, exc: ClusterError, live: Obj, wanted: Obj) -> ObjectDiff:
    return ObjectDiff(
        name, "change", [f"(apply would fail: {exc.message})"], unified(name, live, overlaid(live, wanted))
    )
