"""Phased server-side apply, inventory and pruning, guarded undeploy, diff (kapp's model).

Order is data (:mod:`installer.phases`); readiness is a rule per kind: CRDs must be
Established before their custom resources are applied, and custom resources are retried while the
admission webhook that validates them is not reachable yet. Every applied object carries the
managed-by and instance labels; an inventory ConfigMap in the install namespace lists what was
applied, so the next deploy deletes what the new render no longer contains, after applying it.

Fields other controllers own are never set: ``caBundle`` (injected by cert-manager's cainjector)
is removed from webhooks and CRD conversion before apply, so a redeploy neither fights the
injector nor reports a change.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from installer import jsonio
from installer.cluster.client import Cluster, Ref
from installer.cluster.prerequisites import cert_manager_controller, certificate_secret
from installer.cluster.progress import LineProgress, Progress
from installer.cluster.readiness import crd_established, secret_issued, workload_ready
from installer.errors import ClusterError, InstallerError, WebhookUnavailableError
from installer.objects import Obj, is_labels_only
from installer.phases import INDEX, PHASES, phase_of_key

log = logging.getLogger(__name__)

MANAGED_BY = "app.kubernetes.io/managed-by"
INSTANCE = "installer.kserve.io/instance"
INVENTORY = "kserve-installer-inventory"
APPLY_CONCURRENCY = 4
MAX_RETRY_DELAY = 5.0
# Marks the stand-in _apply_many returns for an object it left untouched (no GET, no apply).
UNTOUCHED = "__untouched__"


class WaitTimeoutError(InstallerError):
    """A wait ran out of time."""


@dataclass
class ChangeSet:
    """What a deploy did (or, with dry run / diff, would do)."""

    created: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.configured) + len(self.pruned)

    def summary(self) -> str:
        return (
            f"{self.changed} changed ({len(self.created)} created, {len(self.configured)} configured, "
            f"{len(self.pruned)} pruned), {len(self.unchanged)} unchanged"
        )


@dataclass(frozen=True)
class Inventory:
    """What an install applied, as recorded in the cluster."""

    refs: list[Ref]
    version: str = ""
    mode: str = ""
    params_digest: str = ""
    created_namespaces: tuple[str, ...] = ()
    labels_only: tuple[Ref, ...] = ()
    digests: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def to_configmap(self, namespace: str, instance: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": INVENTORY,
                "namespace": namespace,
                "labels": {MANAGED_BY: "kserve-installer", INSTANCE: instance},
            },
            "data": {
                "objects": jsonio.dumps([r.to_dict() for r in self.refs]).decode(),
                "version": self.version,
                "mode": self.mode,
                "parametersDigest": self.params_digest,
                "createdNamespaces": jsonio.dumps(sorted(self.created_namespaces)).decode(),
                "labelsOnly": jsonio.dumps([r.to_dict() for r in self.labels_only]).decode(),
                "digests": jsonio.dumps(dict(sorted(self.digests.items()))).decode(),
                "resourceVersions": jsonio.dumps(dict(sorted(self.versions.items()))).decode(),
            },
        }

    def apply_to(self, cluster: Cluster, namespace: str, instance: str) -> None:
        cluster.apply(self.to_configmap(namespace, instance), force=True)

    @classmethod
    def from_configmap(cls, cm: Obj) -> Inventory:
        data = cm.get("data") or {}
        created = [str(n) for n in jsonio.loads(data.get("createdNamespaces") or "[]")]
        if data.get("createdNamespace") == "true":  # written by earlier versions: the install namespace
            created.append(str((cm.get("metadata") or {}).get("namespace")))
        return cls(
            _refs(data.get("objects")),
            str(data.get("version", "")),
            str(data.get("mode", "")),
            str(data.get("parametersDigest", "")),
            tuple(created),
            tuple(_refs(data.get("labelsOnly"))),
            dict(jsonio.loads(data.get("digests") or "{}")),
            dict(jsonio.loads(data.get("resourceVersions") or "{}")),
        )

    def created(self, namespace: str) -> bool:
        return namespace in self.created_namespaces


def _refs(raw_json: str | None) -> list[Ref]:
    raw = jsonio.loads(raw_json or "[]")
    return [Ref(r["apiVersion"], r["kind"], r["name"], r.get("namespace", "")) for r in raw]


def read_inventory(cluster: Cluster, namespace: str) -> Inventory | None:
    cm = cluster.get(Ref("v1", "ConfigMap", INVENTORY, namespace))
    return Inventory.from_configmap(cm) if cm else None


# ------------------------------------------------------------------ preparing objects


def prepare(obj: Obj, instance: str) -> Obj:
    """Labels added, injected fields removed; the rendered object itself is not changed.

    A labels-only object (an existing namespace the installer labels) is reduced to its labels:
    server-side apply then owns those labels and nothing else of it.
    """
    if is_labels_only(obj):
        return labels_body(obj)
    meta = dict(obj.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "kserve-installer", INSTANCE: instance}
    out = {**obj, "metadata": meta}
    kind = obj.get("kind")
    if kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        out["webhooks"] = [
            {**w, "clientConfig": {k: v for k, v in (w.get("clientConfig") or {}).items() if k != "caBundle"}}
            for w in obj.get("webhooks") or []
        ]
    elif kind == "CustomResourceDefinition":
        conv = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook")
        if isinstance(conv, dict) and "caBundle" in (conv.get("clientConfig") or {}):
            cc = {k: v for k, v in conv["clientConfig"].items() if k != "caBundle"}
            out["spec"] = {
                **obj["spec"],
                "conversion": {**obj["spec"]["conversion"], "webhook": {**conv, "clientConfig": cc}},
            }
    return out


def labels_body(obj: Obj, labels: dict[str, str] | None = None) -> Obj:
    """The apply body that owns only ``labels`` of an object (none: releases every label we own)."""
    meta = obj.get("metadata") or {}
    body: Obj = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": {"name": meta["name"]}}
    if meta.get("namespace"):
        body["metadata"]["namespace"] = meta["namespace"]
    wanted = dict(meta.get("labels") or {}) if labels is None else labels
    if wanted:
        body["metadata"]["labels"] = wanted
    return body


def release_labels(cluster: Cluster, ref: Ref, dry_run: bool = False) -> bool:
    """Remove the labels we own from an object we only label; False when it no longer exists."""
    if cluster.get(ref) is None:
        return False
    stub: Obj = {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": {"name": ref.name}}
    if ref.namespace:
        stub["metadata"]["namespace"] = ref.namespace
    cluster.apply(labels_body(stub, {}), dry_run=dry_run)
    return True


_VOLATILE_META = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields", "selfLink")


def comparable(obj: Obj | None) -> Obj | None:
    """The object without server bookkeeping, for 'did anything change' questions."""
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    return {k: v for k, v in obj.items() if k != "status"} | {"metadata": meta}


# ------------------------------------------------------------------ waits


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    deadline = clock() + timeout
    while not check():
        if clock() >= deadline:
            raise WaitTimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        sleep(interval)


# ------------------------------------------------------------------ deploy


@dataclass
class DeployOptions:
    instance: str
    version: str = ""
    mode: str = ""
    params_digest: str = ""
    dry_run: bool = False
    force_conflicts: bool = False
    wait: bool = False
    timeout: float = 300.0
    interval: float = 0.25
    concurrency: int = APPLY_CONCURRENCY
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def wait_until(self, what: str, check: Callable[[], bool]) -> None:
        """:func:`wait_for` with this deploy's timeout, interval, sleep and clock."""
        wait_for(what, check, self.timeout, self.interval, self.sleep, self.clock)


def deploy(
    cluster: Cluster,
    phases: dict[str, list[Obj]],
    namespace: str,
    opts: DeployOptions,
    progress: Progress | None = None,
) -> ChangeSet:
    """Apply every phase in order, wait where the next phase needs it, then prune and record."""
    report = progress or LineProgress(log.info)
    changes = ChangeSet()
    old = read_inventory(cluster, namespace)
    everything = [o for p in PHASES for o in phases.get(p) or []]
    labelled = [Ref.of(o) for o in everything if is_labels_only(o)]
    missing = [r for r in labelled if cluster.get(r) is None]
    if missing:
        # Checked before anything is applied: these are the user's, the installer never creates them.
        raise ClusterError(
            f"{missing[0]} does not exist and the installer does not create it "
            "(modelmesh.userNamespaces, or a model namespace with create: false); create it first"
        )
    created = set(old.created_namespaces) if old else set()
    old_refs = {(r.kind, r.name) for r in old.refs} if old else set()
    for o in everything:
        name = str(o["metadata"]["name"])
        new_namespace = (
            o["kind"] == "Namespace" and not is_labels_only(o) and ("Namespace", name) not in old_refs
        )
        if new_namespace and cluster.get(Ref.of(o)) is None:
            created.add(name)
    applied: list[Ref] = []
    digests: dict[str, str] = {}
    versions: dict[str, str] = {}
    seen = _FastPath(old.digests, old.versions, _live_versions(cluster, everything, opts)) if old else None
    for phase in PHASES:
        objs = [prepare(o, opts.instance) for o in phases.get(phase) or []]
        if not objs:
            continue
        report.start(phase, len(objs))
        retry = phase == "custom-resources"
        live = _apply_many(
            cluster, objs, opts, changes, retry, functools.partial(report.advance, phase), seen
        )
        applied += [Ref.of(o) for o in objs if Ref.of(o) not in labelled]
        digests.update({str(Ref.of(o)): _digest(o) for o in objs})
        versions.update(
            {
                str(Ref.of(o)): str(got["metadata"].get("resourceVersion"))
                for o, got in zip(objs, live, strict=True)
                if got
            }
        )
        if phase == "crds" and not opts.dry_run:
            # Record the intent before the rest is applied: a deploy that fails or is killed from
            # here on leaves an inventory that covers everything it may have created, so undeploy
            # (or the next deploy's prune) still finds it. The final inventory replaces it.
            intent = _merge_refs(
                old.refs if old else [], [Ref.of(o) for o in everything if not is_labels_only(o)]
            )
            Inventory(
                intent,
                opts.version,
                opts.mode,
                "",
                tuple(sorted(created)),
                tuple(dict.fromkeys([*(old.labels_only if old else ()), *labelled])),
            ).apply_to(cluster, namespace, opts.instance)
            pending = [
                o
                for o, got in zip(objs, live, strict=True)
                if o["kind"] == "CustomResourceDefinition" and _needs_wait(got)
            ]
            if pending:
                report.note(f"waiting for {len(pending)} CRDs to be Established")
            for o in pending:
                ref = Ref.of(o)
                latest: dict[str, Obj | None] = {}

                def established(ref: Ref = ref, latest: dict[str, Obj | None] = latest) -> bool:
                    latest["crd"] = cluster.get(ref)
                    return crd_established(latest["crd"])

                opts.wait_until(f"CRD {ref.name} to be Established", established)
                # Its resourceVersion once established is what the next deploy will find untouched.
                versions[str(ref)] = str(
                    ((latest.get("crd") or {}).get("metadata") or {}).get("resourceVersion")
                )
        if phase == "certificates" and not opts.dry_run:
            wait_for_certificate_secrets(cluster, objs, opts, report)
        if phase == "workloads" and opts.wait and not opts.dry_run:
            report.note(f"waiting up to {opts.timeout:g}s for {len(objs)} workloads to be ready")
            for o in objs:
                opts.wait_until(f"{Ref.of(o)} to be ready", functools.partial(workload_ready, cluster, o))
    stale = prune_set(old.refs if old else [], applied)
    for ref in stale:
        if ref.kind == "Namespace" and ref.name not in created:
            # Never delete a namespace the installer did not create; only take back our fields.
            if release_labels(cluster, ref, opts.dry_run):
                changes.pruned.append(f"{ref} (labels)")
            continue
        if ref.kind == "CustomResourceDefinition":
            users = _custom_resources_of(cluster, ref)
            if users:  # deleting the CRD would delete them: keep it, say so
                report.note(f"kept {ref}: {len(users)} custom resources of it still exist ({users[0]})")
                applied.append(ref)  # still ours: a later deploy prunes it once they are gone
                continue
        if (not opts.dry_run and cluster.delete(ref)) or opts.dry_run:
            changes.pruned.append(str(ref))
    for ref in old.labels_only if old else ():
        if ref not in labelled and release_labels(cluster, ref, opts.dry_run):
            changes.pruned.append(f"{ref} (labels)")
    if not opts.dry_run:
        inv = Inventory(
            applied,
            opts.version,
            opts.mode,
            opts.params_digest,
            tuple(sorted(created)),
            tuple(labelled),
            digests,
            versions,
        )
        inv.apply_to(cluster, namespace, opts.instance)
    return changes


def _merge_refs(old: Iterable[Ref], new: Iterable[Ref]) -> list[Ref]:
    """The new refs in apply order, then old ones the new render lacks (still to be pruned)."""
    return list(dict.fromkeys([*new, *old]))


def _apply_many(
    cluster: Cluster,
    objs: list[Obj],
    opts: DeployOptions,
    changes: ChangeSet,
    retry_webhooks: bool,
    applied_one: Callable[[], None] = lambda: None,
    seen: _FastPath | None = None,
) -> list[Obj | None]:
    """Apply ``objs`` (bounded concurrency); returns each object as the server holds it now
    (``{"metadata": {"resourceVersion": ...}}`` alone for one left untouched).

    An object applied last time with exactly this body (its digest is in the inventory) is not
    sent again when nobody changed it since (same resourceVersion), or when its live state still
    has every field we set, with our values: that apply would change nothing, and the API server's
    merge of a 1 MB CRD is the slow part of a redeploy.

    Webhook retries share one deadline, ``opts.timeout`` from the start of the phase: the objects
    of a phase wait for the same webhook, so twenty runtimes must not wait twenty timeouts. Once
    one object fails for good, the others stop instead of running out their own retries.
    """
    deadline = opts.clock() + opts.timeout
    failed = threading.Event()

    def one(obj: Obj) -> tuple[str, str, Obj | None]:
        try:
            return attempt(obj)
        except BaseException:
            failed.set()
            raise

    def attempt(obj: Obj) -> tuple[str, str, Obj | None]:
        ref = Ref.of(obj)
        key = str(ref)
        if failed.is_set():
            raise _AbandonedError(key)
        same_body = seen is not None and seen.digests.get(key) == _digest(obj) and not opts.dry_run
        if same_body and seen is not None and seen.untouched(key):
            applied_one()
            return "unchanged", key, {UNTOUCHED: True, "metadata": {"resourceVersion": seen.versions[key]}}
        live = cluster.get(ref)
        before = comparable(live)
        if live is not None and same_body and not field_changes(before, comparable(obj)):
            applied_one()
            return "unchanged", key, live
        delay = opts.interval
        while True:
            try:
                result = cluster.apply(obj, force=opts.force_conflicts, dry_run=opts.dry_run)
                after = comparable(result)
                break
            except WebhookUnavailableError as exc:
                if failed.is_set():
                    raise _AbandonedError(key) from None
                if not retry_webhooks or opts.clock() >= deadline:
                    raise ClusterError(
                        f"apply {ref}: admission webhook {exc.webhook} did not answer within "
                        f"{opts.timeout:g}s (is the KServe controller running and its certificate issued?)"
                    ) from None
                opts.sleep(min(delay, max(0.0, deadline - opts.clock())))
                delay = min(delay * 2, MAX_RETRY_DELAY)  # back off: the webhook may take minutes
        applied_one()
        if before is None:
            return "created", str(ref), result
        return ("unchanged" if before == after else "configured"), str(ref), result

    with ThreadPoolExecutor(max_workers=max(1, opts.concurrency)) as pool:
        futures = [pool.submit(one, o) for o in objs]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:  # the failure that stopped the phase, not the objects abandoned because of it
        raise next((e for e in errors if not isinstance(e, _AbandonedError)), errors[0])
    results = [f.result() for f in futures]
    for outcome, name, _ in results:
        getattr(changes, outcome).append(name)
    return [live for _, _, live in results]


class _AbandonedError(ClusterError):
    """Not applied: another object of the same phase had already failed for good."""

    def __init__(self, what: str) -> None:
        super().__init__(f"apply {what}: abandoned after an earlier failure in the same phase")


@dataclass(frozen=True)
class _FastPath:
    """What a redeploy needs to leave untouched objects alone: the previous deploy's body digests
    and resourceVersions, and the live resourceVersions (one metadata-only list per kind)."""

    digests: dict[str, str]
    versions: dict[str, str]
    live: dict[str, str]

    def untouched(self, key: str) -> bool:
        return bool(self.versions.get(key)) and self.live.get(key) == self.versions.get(key)


def _live_versions(cluster: Cluster, objs: list[Obj], opts: DeployOptions) -> dict[str, str]:
    kinds = sorted({(str(o["apiVersion"]), str(o["kind"])) for o in objs if not is_labels_only(o)})
    out: dict[str, str] = {}
    for api_version, kind in kinds:
        try:
            found = cluster.resource_versions(api_version, kind, f"{INSTANCE}={opts.instance}")
        except ClusterError:
            continue  # a kind not served yet (its CRD comes with this deploy): the slow path decides
        for (namespace, name), rv in found.items():
            out[str(Ref(api_version, kind, name, namespace))] = rv
    return out


def wait_for_certificate_secrets(
    cluster: Cluster, objs: list[Obj], opts: DeployOptions, report: Progress
) -> None:
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
    controller = cert_manager_controller(cluster)
    if controller is None:
        report.note(
            f"cert-manager's controller is not on this cluster: not waiting for the Secrets of "
            f"{len(secrets)} Certificates (the controllers start once something issues them)"
        )
        return
    pending = [(c, s) for c, s in secrets if not secret_issued(cluster, s)]
    if pending:
        report.note(f"waiting for cert-manager to issue {len(pending)} certificates")
    for cert, secret in pending:
        try:
            opts.wait_until(
                f"Secret {secret.namespace}/{secret.name}", functools.partial(secret_issued, cluster, secret)
            )
        except WaitTimeoutError as exc:
            raise WaitTimeoutError(
                f"{exc.message} of Certificate {cert.namespace}/{cert.name}: cert-manager "
                f"({controller}) has not issued it; is it running, and is the Issuer ready?"
            ) from None


def _needs_wait(crd: Obj | None) -> bool:
    """A CRD left untouched (only its resourceVersion is known: the same as after the last
    deploy, which waited) is established; one just applied is, once its status says so."""
    if crd is None:
        return True
    return not crd.get(UNTOUCHED) and not crd_established(crd)


def _digest(obj: Obj) -> str:
    return jsonio.digest(obj)[:16]


def prune_set(old: Iterable[Ref], new: Iterable[Ref]) -> list[Ref]:
    """Objects of the old inventory the new render does not contain, in reverse apply order."""
    keep = {(r.kind, r.namespace, r.name) for r in new}
    stale = [r for r in old if (r.kind, r.namespace, r.name) not in keep]
    return list(reversed(stale))


# ------------------------------------------------------------------ undeploy


class UserDataError(InstallerError):
    """Undeploy refused: custom resources that users created still exist."""


def _custom_resources_of(
    cluster: Cluster, crd_ref: Ref, ours: set[tuple[str, str, str]] | None = None
) -> list[str]:
    """Custom resources of one CRD (those in ``ours`` excepted), as Kind/namespace/name."""
    crd = cluster.get(crd_ref)
    if not crd:
        return []
    spec = crd.get("spec") or {}
    kind = (spec.get("names") or {}).get("kind")
    found: list[str] = []
    for version in spec.get("versions") or []:
        if not version.get("storage"):
            continue
        for item in cluster.list(f"{spec.get('group')}/{version.get('name')}", str(kind)):
            meta = item.get("metadata") or {}
            key = (str(kind), str(meta.get("namespace") or ""), str(meta.get("name")))
            if key not in (ours or set()):
                found.append(f"{kind}/{key[1]}/{key[2]}" if key[1] else f"{kind}/{key[2]}")
    return found


def user_resources(cluster: Cluster, inventory: Inventory) -> list[str]:
    """Custom resources of the installed CRDs that the installer did not apply itself."""
    ours = {(r.kind, r.namespace, r.name) for r in inventory.refs}
    found: list[str] = []
    for ref in inventory.refs:
        if ref.kind == "CustomResourceDefinition":
            found += _custom_resources_of(cluster, ref, ours)
    return sorted(found)


def undeploy(
    cluster: Cluster, namespace: str, force: bool = False, progress: Progress | None = None
) -> list[str]:
    """Delete what the inventory lists, custom resources first and CRDs last; returns what was deleted."""
    report = progress or LineProgress(log.info)
    inventory = read_inventory(cluster, namespace)
    if inventory is None:
        report.note(f"nothing to undeploy: no inventory in namespace {namespace}")
        return []
    users = user_resources(cluster, inventory)
    if users and not force:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        raise UserDataError(
            f"refusing to undeploy: {len(users)} custom resources still exist ({shown}); "
            "delete them or pass --force"
        )
    refs = sorted(inventory.refs, key=lambda r: -INDEX[phase_of_key(r.key)])
    deleted: list[str] = []
    for ref in refs:
        if ref.kind == "Namespace" and not inventory.created(ref.name):
            if release_labels(cluster, ref):  # it stays, without what we set on it
                report.note(f"{ref}: kept (it existed before), our labels removed")
            continue
        if cluster.delete(ref):
            deleted.append(str(ref))
    for ref in inventory.labels_only:
        if release_labels(cluster, ref):
            report.note(f"{ref}: removed our labels (the namespace stays)")
    cluster.delete(Ref("v1", "ConfigMap", INVENTORY, namespace))
    report.note(f"deleted {len(deleted)} objects")
    return deleted


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
        elif labels.get(MANAGED_BY) == "kserve-installer":
            ours.append(str(ref))
    return ours, terminating


# ------------------------------------------------------------------ diff


@dataclass
class ObjectDiff:
    ref: str
    action: str  # create | change | prune
    fields: list[str] = field(default_factory=list)


def field_changes(live: Any, wanted: Any, path: str = "") -> list[str]:
    """Paths where ``wanted`` differs from ``live`` (fields only the live object has are ignored)."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        out: list[str] = []
        for key, value in wanted.items():
            out += field_changes(live.get(key), value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(wanted, list) and isinstance(live, list) and len(wanted) == len(live):
        return [
            c
            for i, (a, b) in enumerate(zip(live, wanted, strict=True))
            for c in field_changes(a, b, f"{path}[{i}]")
        ]
    return [] if live == wanted else [path or "(object)"]


def diff(cluster: Cluster, phases: dict[str, list[Obj]], namespace: str, instance: str) -> list[ObjectDiff]:
    """What deploy would do, per object: server-side dry run against the live objects."""
    out: list[ObjectDiff] = []
    applied: list[Ref] = []
    for phase in PHASES:
        for obj in phases.get(phase) or []:
            wanted = prepare(obj, instance)
            ref = Ref.of(wanted)
            applied.append(ref)
            live = cluster.get(ref)
            if live is None:
                out.append(ObjectDiff(str(ref), "create"))
                continue
            try:
                result = cluster.apply(wanted, dry_run=True)
            except ClusterError as exc:
                out.append(ObjectDiff(str(ref), "change", [f"(apply would fail: {exc.message})"]))
                continue
            fields = field_changes(comparable(live), comparable(result))
            if fields:
                out.append(ObjectDiff(str(ref), "change", fields))
    old = read_inventory(cluster, namespace)
    out += [ObjectDiff(str(r), "prune") for r in prune_set(old.refs if old else [], applied)]
    return out
