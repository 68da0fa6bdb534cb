"""Applying one phase: bounded concurrency, the redeploy fast path, webhook retries, replacement.

- An object applied last time with exactly this body (its digest is in the inventory) is not sent
  again when nobody changed it since (same resourceVersion, from one metadata-only list per kind),
  or when its live state still has every field we set, with our values: that apply would change
  nothing, and the API server's merge of a 1 MB CRD is the slow part of a redeploy.
- Custom resources are retried while a webhook the server must call cannot be called: the
  admission webhook that validates them, or the conversion webhook of their CRD. The retries of
  a phase share one deadline (``--timeout`` from the start of the phase: its objects wait for the
  same webhook); once one object fails for good, the others stop instead of running out their own.
- A custom resource the server refuses as invalid (422) right after this deploy changed its CRD
  is retried for up to :data:`SCHEMA_SETTLE_SECONDS`: the API server switches to a CRD's new
  schema asynchronously after the update, with nothing in the CRD's status to wait for, and
  until then validates against the old one. Seen in an upgrade from v0.18.1 to v0.20.0: v0.20.0
  dropped a pattern from an llmisvc config's header names, which the server still enforced.
  The render validated the object against the new schema, so the refusal is the server's lag;
  a refusal that outlasts the bound (a CEL rule the render cannot check) is reported as it is.
- An object the server refuses because a field cannot change (422 whose causes all say so: RBAC
  ``roleRef``, a workload's ``selector``, a Service's ``clusterIP``, a Job's template) is replaced:
  deleted, waited for until gone, created. Never a CRD, a Namespace or anything that holds data.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from installer.cluster.bodies import Bodies, comparable, field_changes
from installer.cluster.client import Cluster, Ref
from installer.cluster.inventory import Inventory
from installer.cluster.readiness import Readiness
from installer.cluster.run import Run
from installer.cluster.waits import wait_ready
from installer.errors import (
    ClusterError,
    ConversionWebhookError,
    InvalidError,
    NotFoundError,
    WebhookUnavailableError,
)
from installer.objects import Obj, ObjectKey, is_labels_only

MAX_RETRY_DELAY = 5.0
# How long a custom resource refused as invalid is retried after its CRD changed (see above).
SCHEMA_SETTLE_SECONDS = 30.0
HTTP_GATEWAY_TIMEOUT = 504
SERVER_TIMEOUT_RETRIES = 2
LIST_CONCURRENCY = 8  # metadata-only lists of a redeploy in flight at once
# Marks the stand-in returned for an object left untouched (no GET, no apply).
UNTOUCHED = "__untouched__"
# Deleting these to replace them would lose what they hold (or everything inside them).
PROTECTED_KINDS = frozenset(
    {"CustomResourceDefinition", "Namespace", "PersistentVolumeClaim", "PersistentVolume", "StatefulSet"}
)


@dataclass(frozen=True)
class FastPath:
    """What a redeploy needs to leave untouched objects alone: the previous deploy's body digests
    and resourceVersions, and the live resourceVersions (one metadata-only list per kind)."""

    digests: dict[ObjectKey, str]
    versions: dict[ObjectKey, str]
    live: dict[ObjectKey, str]

    @classmethod
    def of(cls, cluster: Cluster, old: Inventory, objs: list[Obj], instance: str) -> FastPath:
        return cls(old.digests, old.versions, live_versions(cluster, objs, instance))

    def untouched(self, key: ObjectKey) -> bool:
        return bool(self.versions.get(key)) and self.live.get(key) == self.versions.get(key)

    def settled(self, objs: list[Obj], bodies: Bodies) -> frozenset[ObjectKey]:
        """The objects (as prepared) the last deploy applied with this very body, untouched since."""
        return frozenset(
            Ref.of(o).key
            for o, digest in zip(objs, bodies.digests, strict=True)
            if self.untouched(Ref.of(o).key) and self.digests.get(Ref.of(o).key) == digest
        )


def live_versions(cluster: Cluster, objs: list[Obj], instance: str) -> dict[ObjectKey, str]:
    """resourceVersions of our live objects, one PartialObjectMetadataList request per kind."""
    from installer.cluster.bodies import INSTANCE

    kinds = sorted({(str(o["apiVersion"]), str(o["kind"])) for o in objs if not is_labels_only(o)})

    def listed(kind: tuple[str, str]) -> dict[tuple[str, str], str]:
        try:
            return cluster.resource_versions(*kind, f"{INSTANCE}={instance}")
        except ClusterError:
            return {}  # a kind not served yet, or not readable now: the slow path decides

    out: dict[ObjectKey, str] = {}
    # The lists are independent and each waits on the server (the CRDs' one the longest): together.
    with ThreadPoolExecutor(max_workers=LIST_CONCURRENCY) as pool:
        for (api_version, kind), found in zip(kinds, pool.map(listed, kinds), strict=True):
            for (namespace, name), rv in found.items():
                out[Ref(api_version, kind, name, namespace).key] = rv
    return out


@dataclass(frozen=True)
class Outcome:
    action: str  # created | configured | replaced | unchanged
    ref: Ref
    live: Obj | None


class _AbandonedError(ClusterError):
    """Not applied: another object of the same phase had already failed for good."""

    def __init__(self, what: str) -> None:
        super().__init__(f"apply {what}: abandoned after an earlier failure in the same phase")


class PhaseApply:
    """The objects of one phase, applied ``opts.concurrency`` at a time."""

    def __init__(self, run: Run, phase: str, fast: FastPath | None) -> None:
        self.run = run
        self.phase = phase
        self.fast = fast
        self.retry_webhooks = phase == "custom-resources"
        self.deadline = run.opts.clock() + run.opts.timeout
        self.failed = threading.Event()
        self.unchecked: list[Ref] = []  # dry run: what the server could not check yet

    def apply(self, objs: list[Obj], bodies: Bodies) -> list[Obj | None]:
        """Apply ``objs``; each object as the server holds it now, in order (for one left
        untouched, ``{"metadata": {"resourceVersion": ...}}`` alone)."""
        workers = max(1, self.run.opts.concurrency)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            started = {
                i: pool.submit(self._one, objs[i], bodies.digests[i])
                for i in largest_first(bodies.sizes, workers)
            }
        futures = [started[i] for i in range(len(objs))]
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:  # the failure that stopped the phase, not the objects abandoned because of it
            raise next((e for e in errors if not isinstance(e, _AbandonedError)), errors[0])
        results = [f.result() for f in futures]
        for outcome in results:
            getattr(self.run.changes, outcome.action).append(str(outcome.ref))
        if self.unchecked:
            self.run.report.note(
                f"dry run: {len(self.unchecked)} objects of {self.phase} counted as created without the "
                f"server's check: their namespace or CRD comes with this deploy ({self.unchecked[0]})"
            )
        return [outcome.live for outcome in results]

    def _one(self, obj: Obj, digest: str) -> Outcome:
        try:
            outcome = self._attempt(obj, digest)
        except BaseException:
            self.failed.set()
            raise
        self.run.report.advance(self.phase)
        return outcome

    def _attempt(self, obj: Obj, digest: str) -> Outcome:
        ref = Ref.of(obj)
        if self.failed.is_set():
            raise _AbandonedError(str(ref))
        opts = self.run.opts
        same_body = self.fast is not None and self.fast.digests.get(ref.key) == digest and not opts.dry_run
        if same_body and self.fast is not None and self.fast.untouched(ref.key):
            rv = self.fast.versions[ref.key]
            return Outcome("unchanged", ref, {UNTOUCHED: True, "metadata": {"resourceVersion": rv}})
        if opts.dry_run and ref.key in self.run.moving | self.run.recreated:
            # Its storage move (reported) comes first; until then the server would refuse a dry
            # run of the CRD, and the objects of ours it re-creates would need converting.
            action = "replaced" if ref.key in self.run.recreated else "configured"
            return Outcome(action, ref, None)
        live = self._live(ref)
        before = comparable(live)
        if live is not None and same_body and not field_changes(before, comparable(obj)):
            return Outcome("unchanged", ref, live)
        try:
            result = self._retrying(ref, functools.partial(self._send, obj, live is None))
        except InvalidError as exc:
            return self._replace(obj, live, exc)
        except NotFoundError:
            if not (opts.dry_run and live is None):
                raise
            self.unchecked.append(ref)  # a dry run creates no namespace or CRD for the next ones
            return Outcome("created", ref, None)
        if before is None:
            return Outcome("replaced" if ref.key in self.run.recreated else "created", ref, result)
        return Outcome("unchanged" if before == comparable(result) else "configured", ref, result)

    def _live(self, ref: Ref) -> Obj | None:
        """The object as the server holds it; not asked for in a namespace this deploy creates
        (nothing can be there yet), which spares a round trip per object where the phases after
        the CRD wait are a deploy's critical path."""
        if ref.namespace and ref.namespace in self.run.new_namespaces:
            return None
        return self._retrying(ref, functools.partial(self.run.cluster.get, ref))

    def _send(self, obj: Obj, creates: bool) -> Obj:
        """The apply; a create is answered with metadata only (its resourceVersion is all that
        is read of it, and encoding a big CRD is the busy server's CPU)."""
        opts = self.run.opts
        return self.run.cluster.apply(
            obj, force=opts.force_conflicts, dry_run=opts.dry_run, metadata_only=creates and not opts.dry_run
        )

    def _retrying(self, ref: Ref, call: Callable[[], Obj | None]) -> Obj | None:
        """``call`` again, backing off, while a webhook the server needs does not answer, or
        (a few times) when the server gave up on the request itself (504: a busy server's
        request deadline; a read and a server-side apply are safe to send again)."""
        opts = self.run.opts
        delay = opts.interval
        timeouts = 0
        settle_until: float | None = None
        while True:
            try:
                return call()
            except InvalidError as exc:
                if exc.immutable_fields or (ref.group, ref.kind) not in self.run.reschemed:
                    raise
                if settle_until is None:
                    settle_until = min(self.deadline, opts.clock() + SCHEMA_SETTLE_SECONDS)
                    self.run.report.note(
                        f"{ref} refused as invalid right after its CRD changed: retrying while the "
                        "server takes up the new schema"
                    )
                if self.failed.is_set() or opts.clock() >= settle_until:
                    raise
            except WebhookUnavailableError as exc:
                if self.failed.is_set():
                    raise _AbandonedError(str(ref)) from None
                if not self.retry_webhooks or opts.clock() >= self.deadline:
                    raise ClusterError(self._gave_up(ref, exc)) from None
            except ClusterError as exc:
                if (
                    exc.code != HTTP_GATEWAY_TIMEOUT
                    or timeouts >= SERVER_TIMEOUT_RETRIES
                    or self.failed.is_set()
                ):
                    raise
                timeouts += 1
            opts.sleep(min(delay, max(0.0, self.deadline - opts.clock())))
            delay = min(delay * 2, MAX_RETRY_DELAY)  # back off: the webhook may take minutes

    def _gave_up(self, ref: Ref, exc: WebhookUnavailableError) -> str:
        timeout = self.run.opts.timeout
        if isinstance(exc, ConversionWebhookError):
            hook = self.run.conversions.get((ref.group, ref.kind), exc.webhook)
            return (
                f"apply {ref}: {hook} did not answer within {timeout:g}s (is the controller that "
                "serves it running and its certificate issued?)"
            )
        return (
            f"apply {ref}: admission webhook {exc.webhook} did not answer within "
            f"{timeout:g}s (is the KServe controller running and its certificate issued?)"
        )

    def _replace(self, obj: Obj, live: Obj | None, exc: InvalidError) -> Outcome:
        """Delete and create again an object whose change the server refuses as immutable."""
        ref = Ref.of(obj)
        fields = exc.immutable_fields
        if not fields or live is None:
            raise exc
        if ref.kind in PROTECTED_KINDS:
            raise InvalidError(
                f"{exc.message} (a {ref.kind} is never deleted to be replaced: change it by hand)",
                exc.code,
                exc.reason,
                exc.details,
                exc.causes,
            ) from None
        cluster, opts = self.run.cluster, self.run.opts
        self.run.report.note(f"replacing {ref}: {', '.join(fields)} cannot change in place")
        if opts.dry_run:
            return Outcome("replaced", ref, live)
        cluster.delete(ref)
        gone = functools.partial(_gone, cluster, ref)
        wait_ready(f"{ref} to be deleted before it is created again", gone, opts.waits)
        return Outcome("replaced", ref, cluster.apply(obj, force=opts.force_conflicts))


def largest_first(sizes: list[int], workers: int) -> list[int]:
    """The order to start objects of these ``sizes`` in: the largest bodies first when they
    cannot all start at once. The server's time for an apply grows with the body, so a phase
    with a few big CRDs among small ones ends soonest when those start first (v0.20.0's three
    0.7 MB CRDs are the 8th to 10th of 16 by name); their Established wait then starts sooner."""
    if len(sizes) <= workers:
        return list(range(len(sizes)))
    return sorted(range(len(sizes)), key=lambda i: -sizes[i])


def _gone(cluster: Cluster, ref: Ref) -> Readiness:
    live = cluster.get(ref)
    if live is None:
        return Readiness.ready("gone")
    finalizers = ", ".join((live.get("metadata") or {}).get("finalizers") or []) or "none"
    return Readiness.waiting(f"still terminating (finalizers: {finalizers})")


def apply_phase(
    run: Run, phase: str, objs: list[Obj], bodies: Bodies, fast: FastPath | None
) -> list[Obj | None]:
    return PhaseApply(run, phase, fast).apply(objs, bodies)
