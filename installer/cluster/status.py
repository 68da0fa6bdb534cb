"""``installer status``: what the inventory says is installed, and whether it is up.

Read-only: the inventory (the ApplySet parent) gives version, mode, parameters digest and the
objects; the live cluster gives which of those exist and the readiness of each controller,
admission webhook and CRD, by the same rules deploy waits on (:mod:`installer.cluster.readiness`),
with their messages. An object the server cannot return (a conversion webhook that does not
answer, a kind it no longer serves) is reported with the reason, and the rest as usual: status
never fails because one kind cannot be read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from installer.cluster import readiness
from installer.cluster.client import Cluster, Ref
from installer.cluster.inventory import read_inventory
from installer.cluster.readiness import WORKLOAD_RULES, Readiness
from installer.errors import ClusterError, ConversionWebhookError
from installer.objects import WEBHOOK_KINDS, Obj

# More than this many missing objects are counted, not listed, in the text report.
SHOWN_MISSING = 10


@dataclass
class Component:
    kind: str
    name: str
    namespace: str
    ready: bool
    detail: str
    failed: bool = False


@dataclass
class Unreadable:
    """An object the API server could not return, and why."""

    object: str
    reason: str


@dataclass
class Status:
    installed: bool
    namespace: str
    version: str = ""
    mode: str = ""
    parameters_digest: str = ""
    objects: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    crds: list[Component] = field(default_factory=list)
    workloads: list[Component] = field(default_factory=list)
    webhooks: list[Component] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        parts = [*self.crds, *self.workloads, *self.webhooks]
        return self.installed and not self.missing and not self.unreadable and all(c.ready for c in parts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ready": self.ready}

    def lines(self) -> list[str]:
        if not self.installed:
            return [f"not installed: no inventory in namespace {self.namespace}"]
        total = sum(self.objects.values())
        out = [
            f"KServe {self.version}, mode {self.mode}, namespace {self.namespace}",
            "parameters digest "
            + (self.parameters_digest or "none: the last deploy did not finish (deploy again)"),
            f"objects: {total} recorded, {len(self.missing)} missing, {len(self.unreadable)} unreadable",
        ]
        out += [f"  missing {m}" for m in self.missing[:SHOWN_MISSING]]
        if len(self.missing) > SHOWN_MISSING:
            out.append(f"  and {len(self.missing) - SHOWN_MISSING} more missing (-o json lists them all)")
        out += [f"  cannot read {u.object}: {u.reason}" for u in self.unreadable]
        for c in [*self.crds, *self.workloads, *self.webhooks]:
            if c.kind == "CustomResourceDefinition" and c.ready:
                continue  # an Established CRD is the normal case: only the others are worth a line
            mark = "ready" if c.ready else "FAILED" if c.failed else "NOT READY"
            where = f"{c.namespace}/" if c.namespace else ""
            out.append(f"{c.kind} {where}{c.name}: {mark} ({c.detail})")
        out.append("ready" if self.ready else "not ready")
        return out


def _component(ref: Ref, state: Readiness) -> Component:
    return Component(ref.kind, ref.name, ref.namespace, state.ok, state.message, state.failing)


def _why(exc: ClusterError) -> str:
    if isinstance(exc, ConversionWebhookError):
        return f"{exc.webhook} is not answering ({exc.message.split(': ', 1)[-1][:200]})"
    return exc.message


def _check(cluster: Cluster, ref: Ref, live: Obj, result: Status) -> None:
    if ref.kind in WORKLOAD_RULES:
        rule = WORKLOAD_RULES[ref.kind]
        result.workloads.append(_component(ref, rule(live, readiness.workload_pods(cluster, live))))
    elif ref.kind in WEBHOOK_KINDS:
        result.webhooks.append(_component(ref, readiness.webhook_configuration(cluster, live)))
    elif ref.kind == "CustomResourceDefinition":
        result.crds.append(_component(ref, readiness.crd(live)))


def status(cluster: Cluster, namespace: str) -> Status:
    inventory = read_inventory(cluster, namespace)
    if inventory is None:
        return Status(installed=False, namespace=namespace)
    result = Status(
        installed=True,
        namespace=namespace,
        version=inventory.version,
        mode=inventory.mode,
        parameters_digest=inventory.params_digest,
        objects=dict(sorted(Counter(r.kind for r in inventory.refs).items())),
    )
    for ref in inventory.refs:
        try:
            live = cluster.get(ref)
            if live is None:
                result.missing.append(str(ref))
            else:
                _check(cluster, ref, live, result)
        except ClusterError as exc:  # one kind the server cannot return does not hide the rest
            result.unreadable.append(Unreadable(str(ref), _why(exc)))
    return result
