"""``installer status``: what the inventory says is installed, and whether it is up.

Read-only: the inventory ConfigMap gives version, mode, parameters digest and the objects; the
live cluster gives which of those exist, whether the controllers' Deployments are available and
whether each admission webhook has a ready endpoint behind its Service (the API server cannot
call it otherwise) and a CA bundle (cert-manager injects it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from installer.cluster.client import Cluster, Ref
from installer.cluster.deploy import read_inventory
from installer.cluster.readiness import workload_ready

# More than this many missing objects are counted, not listed, in the text report.
SHOWN_MISSING = 10


@dataclass
class Component:
    kind: str
    name: str
    namespace: str
    ready: bool
    detail: str


@dataclass
class Status:
    installed: bool
    namespace: str
    version: str = ""
    mode: str = ""
    parameters_digest: str = ""
    objects: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    workloads: list[Component] = field(default_factory=list)
    webhooks: list[Component] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        parts = [*self.workloads, *self.webhooks]
        return self.installed and not self.missing and all(c.ready for c in parts)

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
            f"objects: {total} recorded, {len(self.missing)} missing",
        ]
        out += [f"  missing {m}" for m in self.missing[:SHOWN_MISSING]]
        if len(self.missing) > SHOWN_MISSING:
            out.append(f"  and {len(self.missing) - SHOWN_MISSING} more missing (-o json lists them all)")
        for c in [*self.workloads, *self.webhooks]:
            mark = "ready" if c.ready else "NOT READY"
            where = f"{c.namespace}/" if c.namespace else ""
            out.append(f"{c.kind} {where}{c.name}: {mark} ({c.detail})")
        out.append("ready" if self.ready else "not ready")
        return out


def _workload(cluster: Cluster, ref: Ref) -> Component:
    live = cluster.get(ref) or {}
    status = live.get("status") or {}
    want = (live.get("spec") or {}).get("replicas", 1)
    detail = f"{status.get('availableReplicas') or 0}/{want} available"
    obj = {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "metadata": {"name": ref.name, "namespace": ref.namespace},
    }
    return Component(ref.kind, ref.name, ref.namespace, bool(live) and workload_ready(cluster, obj), detail)


def _endpoints_ready(cluster: Cluster, namespace: str, name: str) -> bool:
    endpoints = cluster.get(Ref("v1", "Endpoints", name, namespace)) or {}
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


def _webhook(cluster: Cluster, ref: Ref) -> Component:
    live = cluster.get(ref) or {}
    hooks = live.get("webhooks") or []
    problems: list[str] = []
    for hook in hooks:
        config = hook.get("clientConfig") or {}
        service = config.get("service") or {}
        if service and not _endpoints_ready(cluster, str(service.get("namespace")), str(service.get("name"))):
            problems.append(f"{hook.get('name')}: no ready endpoint for service {service.get('name')}")
        if not config.get("caBundle") or config.get("caBundle") == "Cg==":
            problems.append(f"{hook.get('name')}: no CA bundle injected yet")
    if not live:
        problems.append("missing")
    detail = "; ".join(problems[:2]) if problems else f"{len(hooks)} webhooks answering"
    return Component(ref.kind, ref.name, "", not problems, detail)


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
        if ref.kind in ("Deployment", "DaemonSet", "StatefulSet"):
            result.workloads.append(_workload(cluster, ref))
        elif ref.kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            result.webhooks.append(_webhook(cluster, ref))
        elif cluster.get(ref) is None:
            result.missing.append(str(ref))
    return result
