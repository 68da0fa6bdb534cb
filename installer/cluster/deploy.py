"""One deploy, phase by phase (kapp's model): the orchestration; each step lives in its module.

1. Pre-flight, where a failure applies nothing: labels-only objects must exist, no namespace of
   the render may still be terminating (an undeploy run with ``--no-wait``), and the CRD
   upgrade-safety check (:mod:`~installer.cluster.crds`).
2. Storage version moves the upgrade needs (:mod:`~installer.cluster.crds`).
3. Each phase of :mod:`installer.phases` is applied (:mod:`~installer.cluster.apply`), then
   what the next phase needs is waited for: after the CRDs, an intent inventory; before the first
   phase that needs their kinds served (the controllers), every CRD Established, the phases
   between applied while the server establishes them; after cert-manager's objects, their
   Secrets (when cert-manager is there); after the controllers, with ``--wait``, their readiness
   (a failing Deployment ends the wait at once).
4. Prune (:mod:`~installer.cluster.prune`) and the final inventory, an ApplySet
   (:mod:`~installer.cluster.inventory`).
"""

from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from installer.cluster.apply import FastPath, apply_phase
from installer.cluster.bodies import Bodies, prepare
from installer.cluster.client import Cluster, Ref
from installer.cluster.crds import check_crd_upgrades, conversion_webhooks, move_storage, wait_established
from installer.cluster.diff import ObjectDiff, diff
from installer.cluster.inventory import (
    FORMAT,
    INVENTORY,
    Inventory,
    applyset_id,
    read_inventory,
    write_inventory,
)
from installer.cluster.prerequisites import cert_manager_controller, certificate_secret
from installer.cluster.progress import LineProgress, Progress
from installer.cluster.prune import prune, prune_set, release_dropped_labels
from installer.cluster.readiness import WORKLOAD_RULES, Readiness, secret_issued, workload
from installer.cluster.run import APPLY_CONCURRENCY, ChangeSet, DeployOptions, Run
from installer.cluster.undeploy import UndeployWait, leftovers, undeploy
from installer.cluster.waits import wait_for, wait_ready
from installer.errors import ClusterError, WaitTimeoutError
from installer.objects import Obj, ObjectKey, crd_scopes, group_of, is_labels_only
from installer.phases import NEEDS_SERVED_KINDS, PHASES

# The CLI and the hubctl hooks import these from here.
__all__ = [
    "APPLY_CONCURRENCY",
    "INVENTORY",
    "ChangeSet",
    "DeployOptions",
    "ObjectDiff",
    "UndeployWait",
    "deploy",
    "diff",
    "leftovers",
    "prune_set",
    "read_inventory",
    "undeploy",
    "wait_for",
]

log = logging.getLogger(__name__)

DISCOVERY_POLL = 0.05  # at least this long between two discovery requests of a first read


@dataclass
class _Record:
    """What this deploy applied so far: the next inventory."""

    applied: list[Ref] = field(default_factory=list)
    digests: dict[ObjectKey, str] = field(default_factory=dict)
    versions: dict[ObjectKey, str] = field(default_factory=dict)

    def add(self, objs: list[Obj], bodies: Bodies, live: list[Obj | None], labelled: list[Ref]) -> None:
        self.applied += [Ref.of(o) for o in objs if Ref.of(o) not in labelled]
        self.digests.update({Ref.of(o).key: d for o, d in zip(objs, bodies.digests, strict=True)})
        for o, got in zip(objs, live, strict=True):
            if got:
                self.versions[Ref.of(o).key] = str(got["metadata"].get("resourceVersion"))


@dataclass(frozen=True)
class _Install:
    """What the install is before this deploy changes it."""

    namespace: str
    old: Inventory | None
    everything: list[Obj]
    created: set[str]
    labelled: list[Ref]
    absent: frozenset[str]  # namespaces of the render that do not exist yet


def deploy(
    cluster: Cluster,
    phases: dict[str, list[Obj]],
    namespace: str,
    opts: DeployOptions,
    progress: Progress | None = None,
) -> ChangeSet:
    """Apply every phase in order, wait where the next phase needs it, then prune and record."""
    crds = phases.get("crds") or []
    run = Run(cluster, opts, progress or LineProgress(log.info), ChangeSet(), applyset_id(namespace))
    run.conversions = conversion_webhooks(crds)
    install = _preflight(cluster, phases, namespace)
    run.new_namespaces = install.absent
    old = install.old
    # An inventory of an earlier format: every object is read once (members gain the ApplySet label).
    fast = (
        FastPath.of(cluster, old, install.everything, opts.instance) if old and old.format == FORMAT else None
    )
    prepared = {p: [prepare(o, opts.instance, run.applyset) for o in phases.get(p) or []] for p in PHASES}
    crd_bodies = Bodies.of(prepared["crds"])  # the upgrade check's digests, and the phase's
    moves = check_crd_upgrades(
        run, crds, old, fast.settled(prepared["crds"], crd_bodies) if fast else frozenset()
    )
    steps = _Steps(run, install, _Record())
    try:
        for phase in PHASES:
            objs = prepared[phase]
            if not objs:
                continue
            if phase == "crds":
                move_storage(run, moves)
            if phase in NEEDS_SERVED_KINDS or steps.of_new_kinds(objs):
                steps.crds_established()
            run.report.start(phase, len(objs))
            bodies = crd_bodies if phase == "crds" else Bodies.of(objs)
            live = apply_phase(run, phase, objs, bodies, fast)
            steps.record.add(objs, bodies, live, install.labelled)
            steps.after(phase, objs, live)
        steps.finish()
    finally:
        steps.finished.set()  # first reads still waiting for discovery give up
        steps.warmer.shutdown(wait=False)
    return run.changes


def _preflight(cluster: Cluster, phases: dict[str, list[Obj]], namespace: str) -> _Install:
    """Checked before anything is applied; which namespaces this install creates."""
    everything = [o for p in PHASES for o in phases.get(p) or []]
    labelled = [Ref.of(o) for o in everything if is_labels_only(o)]
    missing = [r for r in labelled if cluster.get(r) is None]
    if missing:  # these are the user's: the installer never creates them
        raise ClusterError(
            f"{missing[0]} does not exist and the installer does not create it "
            "(modelmesh.userNamespaces, or a model namespace with create: false); create it first"
        )
    old = read_inventory(cluster, namespace)
    created = set(old.created_namespaces) if old else set()
    absent: set[str] = set()
    for o in everything:
        if o["kind"] != "Namespace" or is_labels_only(o):
            continue
        live = cluster.get(Ref.of(o))
        if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
            raise ClusterError(
                f"Namespace {o['metadata']['name']} is still being deleted (by an undeploy run with "
                "--no-wait?): wait until it is gone, then deploy again"
            )
        if live is None:
            absent.add(str(o["metadata"]["name"]))
            if not (old and Ref.of(o).key in old.keys):
                created.add(str(o["metadata"]["name"]))
    return _Install(namespace, old, everything, created, labelled, frozenset(absent))


@dataclass
class _Steps:
    """What happens between phases and at the end."""

    run: Run
    install: _Install
    record: _Record
    crds: tuple[list[Obj], list[Obj | None]] | None = None  # applied, not yet waited for
    kinds: frozenset[tuple[str, str]] = frozenset()  # (group, kind) of those CRDs
    warmer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))
    finished: threading.Event = field(default_factory=threading.Event)

    def after(self, phase: str, objs: list[Obj], live: list[Obj | None]) -> None:
        """What the phases after this one need from it."""
        run = self.run
        if run.opts.dry_run:
            return
        if phase == "crds":
            _write_intent(run, self.install)
            self.crds = (objs, live)  # waited for before the first phase that needs them
            self.kinds = frozenset(crd_scopes(objs))
            configured = set(run.changes.configured)
            run.reschemed |= crd_scopes(o for o in objs if str(Ref.of(o)) in configured).keys()
        elif phase == "certificates":
            wait_for_certificate_secrets(run, objs)
        elif phase == "workloads" and run.opts.wait:
            wait_for_workloads(run, objs)

    def of_new_kinds(self, objs: list[Obj]) -> bool:
        """Whether one of ``objs`` is of a kind whose CRD is not waited for yet (an object that an
        annotation placed in an earlier phase than its kind's)."""
        return self.crds is not None and any((group_of(o), o["kind"]) in self.kinds for o in objs)

    def crds_established(self) -> None:
        """Every CRD this deploy applied Established (once): the next phase needs their kinds."""
        if self.crds is not None:
            wait_established(self.run, *self.crds, self.record.versions, self.first_request)
            self.crds = None

    def first_request(self, crd: Obj) -> None:
        """A first request for the kind of a CRD just Established, in the background. The API
        server builds what serves a kind (its schema's validators, the apply type converter) at
        that kind's first request, 0.5 s for v0.20.0's llmisvc configs: made now, that overlaps the
        wait for the other CRDs instead of holding up the phase that applies the kind's objects.
        A read of the first of them; its answer is not used, and a failure is the phase's to see."""
        spec = crd.get("spec") or {}
        kind = (str(spec.get("group")), str((spec.get("names") or {}).get("kind")))
        first = next((o for o in self.install.everything if (group_of(o), o["kind"]) == kind), None)
        if first is not None and not is_labels_only(first):
            self.warmer.submit(_first_read, self.run, Ref.of(first), self.finished)

    def finish(self) -> None:
        """Prune what the new render lacks, then record the install (not on a dry run)."""
        self.crds_established()  # the inventory records their resourceVersions once Established
        run, install, record = self.run, self.install, self.record
        kept = prune(run, install.old, record.applied, install.created)
        release_dropped_labels(run, install.old, install.labelled)
        if run.opts.dry_run:
            return
        opts = run.opts
        final = Inventory(
            record.applied + kept,
            opts.version,
            opts.mode,
            opts.params_digest,
            tuple(sorted(install.created)),
            tuple(install.labelled),
            record.digests,
            record.versions,
        )
        write_inventory(run.cluster, final, install.namespace, opts.instance)


def _first_read(run: Run, ref: Ref, finished: threading.Event) -> None:
    """Read ``ref`` once its kind is in discovery (polled until the deploy ends)."""
    try:
        while not run.cluster.serves(ref.api_version, ref.kind):
            if finished.wait(max(run.opts.interval, DISCOVERY_POLL)):
                return  # the deploy ended (or failed) first
        run.cluster.get(ref)
    except ClusterError as exc:
        log.debug("a first read of %s failed: %s", ref, exc.message)


def _write_intent(run: Run, install: _Install) -> None:
    """Once the namespaces and CRDs are in, record everything this deploy may create plus the
    previous inventory: a deploy that fails or is killed from here on leaves nothing untracked
    (undeploy, or the next deploy's prune, finds it), and status says the deploy did not finish
    (no parameters digest). The final inventory replaces it. Not written for a redeploy of the
    same version and parameters whose objects the previous inventory already covers."""
    old, opts = install.old, run.opts
    new = [Ref.of(o) for o in install.everything if not is_labels_only(o)]
    same = old is not None and (old.version, old.mode, old.params_digest) == (
        opts.version,
        opts.mode,
        opts.params_digest,
    )
    if (
        old is not None
        and same
        and {r.key for r in new} <= old.keys
        and install.created <= set(old.created_namespaces)
        and set(install.labelled) <= set(old.labels_only)
    ):
        return
    intent = Inventory(
        list(dict.fromkeys([*new, *(old.refs if old else [])])),
        run.opts.version,
        run.opts.mode,
        "",
        tuple(sorted(install.created)),
        tuple(dict.fromkeys([*(old.labels_only if old else ()), *install.labelled])),
    )
    write_inventory(run.cluster, intent, install.namespace, run.opts.instance)


def wait_for_certificate_secrets(run: Run, objs: list[Obj]) -> None:
    """Before the controllers: their pods mount the webhook certificate's Secret and cannot start
    without it, so a cert-manager that never issues it is named here, not later as an admission
    webhook that never answers. Only when cert-manager is there; a cluster without it is told so."""
    secrets = [
        (Ref.of(o), secret)
        for o in objs
        if o["kind"] == "Certificate" and (secret := certificate_secret(o)) is not None
    ]
    if not secrets:
        return
    controller = cert_manager_controller(run.cluster)
    if controller is None:
        run.report.note(
            f"cert-manager's controller is not on this cluster: not waiting for the Secrets of "
            f"{len(secrets)} Certificates (the controllers start once something issues them)"
        )
        return
    pending = [(c, s) for c, s in secrets if not secret_issued(run.cluster, s).ok]
    if pending:
        run.report.note(f"waiting for cert-manager to issue {len(pending)} certificates")
    for cert, secret in pending:
        try:
            rule = functools.partial(secret_issued, run.cluster, secret)
            wait_ready(f"Secret {secret.namespace}/{secret.name}", rule, run.opts.waits)
        except WaitTimeoutError as exc:
            raise WaitTimeoutError(
                f"{exc.message.split(' (last: ')[0]} of Certificate {cert.namespace}/{cert.name}: "
                f"cert-manager ({controller}) has not issued it; is it running, and is the Issuer ready?"
            ) from None


def wait_for_workloads(run: Run, objs: list[Obj]) -> None:
    """``--wait``: every controller ready, all polled together against one deadline; one that
    fails (its pods refused, an image that cannot be pulled, a crash loop) ends the wait at once
    with its rule's message."""
    pending = {Ref.of(o): Readiness.waiting("") for o in objs if o["kind"] in WORKLOAD_RULES}
    run.report.note(f"waiting up to {run.opts.timeout:g}s for {len(pending)} workloads to be ready")

    def rule() -> Readiness:
        for ref in list(pending):
            state = workload(run.cluster, ref)
            if state.failing:
                return Readiness.failed(f"{ref}: {state.message}")
            if state.ok:
                del pending[ref]
            else:
                pending[ref] = state
        if not pending:
            return Readiness.ready("")
        return Readiness.waiting("; ".join(f"{r}: {s.message}" for r, s in pending.items()))

    wait_ready(f"{len(pending)} workloads to be ready", rule, run.opts.waits)
