"""CRDs across upgrades and downgrades: upgrade safety, storage version moves, Established waits.

CRDs are always updated in place (their uid, and so every custom resource, is kept). Before the
CRD phase the rendered CRDs are compared with the live ones, as kapp's CRD upgrade-safety
pre-flight does, and a change that could lose data is refused with one line before anything is
applied: a version dropped while ``status.storedVersions`` still lists it (objects may be stored
in it; the API server would refuse the update anyway) or a scope change (which only deleting the
CRD could make). ``--force-crd-upgrade`` overrides.

A dropped stored version is no loss when the only objects of the CRD are the installer's own:
they are deleted and created again by this deploy, the CRD's storage moves to the new version
and ``storedVersions`` is trimmed (what kube-storage-version-migrator does, with nothing to
migrate). Likewise when a CRD's storage version changes under a conversion webhook (v0.16 ->
v0.18: LLMInferenceServiceConfig v1alpha1 -> v1alpha2, converted by the llmisvc webhook): the
installer's objects are created again in the new version rather than converted, so the upgrade
does not depend on a webhook that only the new controller serves. Other objects are left as they
are (the webhook converts them once it runs); with ``--force-crd-upgrade`` they are read in the
new version and written back, which needs that webhook.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from installer.cluster.apply import UNTOUCHED
from installer.cluster.bodies import INSTANCE, prepare
from installer.cluster.client import Cluster, Ref
from installer.cluster.inventory import Inventory
from installer.cluster.readiness import Readiness, crd
from installer.cluster.run import Run
from installer.cluster.waits import wait_ready
from installer.errors import ClusterError, CrdUpgradeError
from installer.objects import Obj, ObjectKey

log = logging.getLogger(__name__)

CRD_API = "apiextensions.k8s.io/v1"
SHOWN = 3


def storage_version(obj: Obj) -> str:
    return next((str(v["name"]) for v in obj["spec"].get("versions") or [] if v.get("storage")), "")


def version_names(obj: Obj) -> tuple[str, ...]:
    return tuple(str(v["name"]) for v in obj["spec"].get("versions") or [])


def conversion_service(obj: Obj) -> str:
    """``namespace/name`` of the Service of a CRD's conversion webhook ("" without one)."""
    conversion = obj["spec"].get("conversion") or {}
    if conversion.get("strategy") != "Webhook":
        return ""
    service = ((conversion.get("webhook") or {}).get("clientConfig") or {}).get("service") or {}
    return f"{service.get('namespace')}/{service.get('name')}" if service else "(a URL)"


def conversion_webhooks(crds: list[Obj]) -> dict[tuple[str, str], str]:
    """(group, kind) -> how to name the conversion webhook of its CRD, for CRDs that have one."""
    out: dict[tuple[str, str], str] = {}
    for o in crds:
        if o.get("kind") == "CustomResourceDefinition" and conversion_service(o):
            spec = o["spec"]
            out[(str(spec["group"]), str(spec["names"]["kind"]))] = (
                f"conversion webhook of CRD {o['metadata']['name']} (service {conversion_service(o)})"
            )
    return out


@dataclass(frozen=True)
class CrdChange:
    """How one CRD changes from its live definition to the rendered one."""

    name: str
    group: str
    kind: str
    live_storage: str
    new_storage: str
    new_versions: tuple[str, ...]
    dropped_stored: tuple[str, ...]
    scope: tuple[str, str] | None
    webhook: str

    @classmethod
    def of(cls, live: Obj, new: Obj) -> CrdChange:
        stored = ((live.get("status") or {}).get("storedVersions")) or [storage_version(live)]
        new_versions = version_names(new)
        scopes = (str(live["spec"].get("scope")), str(new["spec"].get("scope")))
        return cls(
            str(new["metadata"]["name"]),
            str(new["spec"]["group"]),
            str(new["spec"]["names"]["kind"]),
            storage_version(live),
            storage_version(new),
            new_versions,
            tuple(v for v in stored if v not in new_versions),
            scopes if scopes[0] != scopes[1] else None,
            conversion_service(new),
        )

    @property
    def ref(self) -> Ref:
        return Ref(CRD_API, "CustomResourceDefinition", self.name)

    @property
    def moves_storage(self) -> bool:
        """Its objects must move to the new storage version for this upgrade to go through."""
        return bool(self.dropped_stored) or (bool(self.webhook) and self.live_storage != self.new_storage)


@dataclass
class StorageMove:
    """A storage version move: the installer's objects are created again, others rewritten."""

    change: CrdChange
    new: Obj
    ours: list[Ref] = field(default_factory=list)
    others: list[Ref] = field(default_factory=list)


def objects_of(cluster: Cluster, group: str, version: str, kind: str) -> list[Ref]:
    """Every object of a custom kind, read in ``version`` (raises when the server cannot)."""
    return [Ref.of(o) for o in cluster.list(f"{group}/{version}", kind)]


def _named(refs: list[Ref]) -> str:
    shown = ", ".join(str(r) for r in refs[:SHOWN])
    return shown + (f" and {len(refs) - SHOWN} more" if len(refs) > SHOWN else "")


def check_crd_upgrades(
    run: Run, crds: list[Obj], old: Inventory | None, settled: frozenset[ObjectKey] = frozenset()
) -> list[StorageMove]:
    """kapp's CRD upgrade safety: refuse, before anything is applied, what could lose data;
    return the storage moves this upgrade makes. A CRD the last deploy applied with this very
    body, untouched since (in ``settled``, :meth:`FastPath.settled`), is not read again:
    nothing about it changes."""
    ours = old.keys if old else set()
    problems: list[str] = []
    moves: list[StorageMove] = []
    force = run.opts.force_crd_upgrade
    for new in (o for o in crds if o.get("kind") == "CustomResourceDefinition"):
        if Ref.of(new).key in settled:
            continue
        live = run.cluster.get(Ref.of(new))
        if live is None:
            continue
        change = CrdChange.of(live, new)
        if change.scope and not force:
            problems.append(
                f"CRD {change.name}: its scope would change from {change.scope[0]} to {change.scope[1]}, "
                "which the API server cannot do in place (only deleting the CRD and all its objects could)"
            )
        if change.moves_storage:
            move, problem = _plan_move(run.cluster, change, new, ours, force)
            problems += [problem] if problem else []
            moves += [move] if move else []
    if problems:
        raise CrdUpgradeError(
            f"refusing to upgrade: {'; '.join(problems)}; nothing was applied (--force-crd-upgrade overrides)"
        )
    return moves


def _plan_move(
    cluster: Cluster, change: CrdChange, new: Obj, ours: set[ObjectKey], force: bool
) -> tuple[StorageMove | None, str]:
    try:
        found = objects_of(cluster, change.group, change.live_storage, change.kind)
    except ClusterError as exc:
        return (
            None,
            f"CRD {change.name}: cannot list its objects to move them to {change.new_storage}: {exc.message}",
        )
    move = StorageMove(
        change, new, [r for r in found if r.key in ours], [r for r in found if r.key not in ours]
    )
    if change.dropped_stored and move.others and not force:
        return None, (
            f"CRD {change.name}: this version drops {', '.join(change.dropped_stored)}, which "
            f"status.storedVersions still lists, and {len(move.others)} objects the installer did not "
            f"apply may be stored in it ({_named(move.others)}): migrate them to {change.new_storage} "
            "or delete them first"
        )
    return move, ""


def move_storage(run: Run, moves: list[StorageMove]) -> None:
    """Make each storage move (a dry run only says what it would do)."""
    for move in moves:
        change = move.change
        run.report.note(
            f"CRD {change.name}: storage moves from {change.live_storage} to {change.new_storage}"
            + (f" (drops stored {', '.join(change.dropped_stored)})" if change.dropped_stored else "")
            + (f"; re-creating {len(move.ours)} objects of ours: {_named(move.ours)}" if move.ours else "")
        )
        run.recreated.update(r.key for r in move.ours)
        if run.opts.dry_run:
            if change.dropped_stored:
                run.moving.add(change.ref.key)
            continue
        for ref in move.ours:
            run.cluster.delete(ref)
        for ref in move.ours:
            wait_ready(f"{ref} to be deleted", functools.partial(_gone, run.cluster, ref), run.opts.waits)
        if change.dropped_stored:
            _trim_stored_versions(run, move)


def _gone(cluster: Cluster, ref: Ref) -> Readiness:
    return Readiness.ready("gone") if cluster.get(ref) is None else Readiness.waiting("still there")


def _trim_stored_versions(run: Run, move: StorageMove) -> None:
    """Storage to the new version (the dropped ones still served), others' objects rewritten
    there, then ``storedVersions`` without the dropped versions."""
    change, cluster = move.change, run.cluster
    live = cluster.get(change.ref) or {}
    kept = [v for v in live.get("spec", {}).get("versions") or [] if v["name"] not in change.new_versions]
    interim = prepare(move.new, run.opts.instance, run.applyset)
    versions = [*interim["spec"]["versions"], *({**v, "storage": False} for v in kept)]
    cluster.apply({**interim, "spec": {**interim["spec"], "versions": versions}}, force=True)
    for ref in move.others:  # --force-crd-upgrade: read in the new version, write back
        current = cluster.get(Ref(f"{change.group}/{change.new_storage}", ref.kind, ref.name, ref.namespace))
        if current is not None:
            cluster.update(current)
    stored = ((cluster.get(change.ref) or {}).get("status") or {}).get("storedVersions") or []
    trimmed = [v for v in stored if v in change.new_versions]
    cluster.patch_status(change.ref, {"storedVersions": trimmed or [change.new_storage]})


def wait_established(
    run: Run,
    objs: list[Obj],
    live: list[Obj | None],
    versions: dict[ObjectKey, str],
    established: Callable[[Obj], None] = lambda crd: None,
) -> None:
    """Each CRD just applied, until Established (its kind is served); records the
    resourceVersion it has then, which is what the next deploy will find untouched.

    Watched first: one watch of our CRDs from the oldest resourceVersion the applies answered
    with sees each one the moment the server establishes it, where polls came up to 2 s late and
    each fetched a CRD of up to 1 MB from a server busy establishing the others (seconds of work
    for the big ones). Polling settles whatever the watch did not (a server that ends the watch
    or no longer has that resourceVersion), within what is left of ``--timeout``.
    ``established`` is called with each CRD (as applied) the watch sees Established.
    """
    waiting = [
        (Ref.of(o), got)
        for o, got in zip(objs, live, strict=True)
        if o["kind"] == "CustomResourceDefinition"
        and (got is None or not (got.get(UNTOUCHED) or crd(got).ok))
    ]
    if not waiting:
        return
    run.report.note(f"waiting for {len(waiting)} CRDs to be Established")
    pending = {ref.name: ref for ref, _ in waiting}
    started = run.opts.clock()
    since = _oldest_version([got for _, got in waiting])
    if since:
        applied = {str(o["metadata"]["name"]): o for o in objs}
        _watch_established(run, pending, since, versions, lambda name: established(applied[name]))
    left = max(1.0, run.opts.timeout - (run.opts.clock() - started))
    clock = dataclasses.replace(run.opts.waits, timeout=left)
    for ref in pending.values():
        latest: dict[str, Obj | None] = {}

        def rule(ref: Ref = ref, latest: dict[str, Obj | None] = latest) -> Readiness:
            latest["crd"] = run.cluster.get(ref)
            return crd(latest["crd"])

        wait_ready(f"CRD {ref.name} to be Established", rule, clock)
        versions[ref.key] = str(((latest.get("crd") or {}).get("metadata") or {}).get("resourceVersion"))


def _oldest_version(answers: list[Obj | None]) -> str:
    """The smallest resourceVersion among the applies' answers: a watch from there sees every
    later change of each CRD. Empty when one is missing or not a number (they are opaque; etcd's
    are numbers): polling then."""
    found = [str(((got or {}).get("metadata") or {}).get("resourceVersion") or "") for got in answers]
    if not found or not all(rv.isdigit() for rv in found):
        return ""
    return min(found, key=int)


def _watch_established(
    run: Run,
    pending: dict[str, Ref],
    since: str,
    versions: dict[ObjectKey, str],
    established: Callable[[str], None],
) -> None:
    """Take CRDs out of ``pending`` as the watch shows them Established (see wait_established)."""
    selector = f"{INSTANCE}={run.opts.instance}"
    try:
        for obj in run.cluster.watch_crds(selector, since, run.opts.timeout):
            ref = pending.get(str(obj["metadata"]["name"]))
            if ref is None or not crd(obj).ok:
                continue  # not one we wait for, or not yet (a refusal is the poll's to report)
            versions[ref.key] = str(obj["metadata"].get("resourceVersion"))
            del pending[ref.name]
            established(ref.name)
            if not pending:
                return
    except ClusterError as exc:
        log.debug("watching the CRDs stopped (%s): polling them instead", exc.message)
