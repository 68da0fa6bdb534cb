"""Whether an object on the cluster is ready for what comes after it, read from its live state.

One rule per kind, as kapp's: each returns a :class:`Readiness` (``done``, ``ok``, ``message``).
``done`` and ``ok``: ready. ``done`` and not ``ok``: failed for good (a Deployment whose pods the
API server refuses, a container that cannot pull its image), so a wait ends at once with the
message instead of running out its timeout. Not ``done``: still on its way, and the message says
where it is. Deploy waits on these rules, ``status`` reports them, the prerequisite checks
require them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from installer.cluster.client import Cluster, Ref
from installer.errors import ClusterError
from installer.objects import Obj

# A pod's container waiting for one of these will not get better by waiting (kapp's pod rules).
FAILING_WAIT_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
WORKLOAD_RULE_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet"})


@dataclass(frozen=True)
class Readiness:
    """kapp's (done, successful, message) for one object."""

    done: bool
    ok: bool
    message: str

    @classmethod
    def ready(cls, message: str) -> Readiness:
        return cls(True, True, message)

    @classmethod
    def waiting(cls, message: str) -> Readiness:
        return cls(False, False, message)

    @classmethod
    def failed(cls, message: str) -> Readiness:
        return cls(True, False, message)

    @property
    def failing(self) -> bool:
        return self.done and not self.ok


def _conditions(obj: Obj | None) -> dict[str, Mapping[str, Any]]:
    conds = ((obj or {}).get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in conds if isinstance(c, Mapping)}


def crd(live: Obj | None) -> Readiness:
    """A CRD is ready once Established: the API server serves its kind."""
    if live is None:
        return Readiness.waiting("not found")
    conds = _conditions(live)
    if conds.get("Established", {}).get("status") == "True":
        return Readiness.ready("Established")
    names = conds.get("NamesAccepted", {})
    if names.get("status") == "False":
        return Readiness.failed(f"NamesAccepted=False: {names.get('message') or names.get('reason')}")
    return Readiness.waiting("not Established yet")


def crd_established(live: Obj | None) -> bool:
    return crd(live).ok


def _generation_observed(live: Obj) -> bool:
    """The controller has seen the current spec (an object without a generation: nothing to see)."""
    generation = (live.get("metadata") or {}).get("generation")
    if generation is None:
        return True
    return int((live.get("status") or {}).get("observedGeneration") or 0) >= int(generation)


def _missing_or_broken(live: Obj | None, pods: Iterable[Obj]) -> Readiness | None:
    """What every workload rule says first: not there yet, or one of its pods cannot start."""
    if live is None:
        return Readiness.waiting("not found")
    broken = pod_failure(pods)
    return Readiness.failed(broken) if broken else None


def deployment(live: Obj | None, pods: Iterable[Obj] = ()) -> Readiness:
    """Available at the current generation; failed when the controller says it cannot create
    pods (ReplicaFailure), the rollout ran past its progress deadline, or a pod cannot start."""
    if live is None:
        return Readiness.waiting("not found")
    conds = _conditions(live)
    failure = conds.get("ReplicaFailure", {})
    if failure.get("status") == "True":
        return Readiness.failed(f"ReplicaFailure ({failure.get('reason')}): {failure.get('message')}")
    progressing = conds.get("Progressing", {})
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness.failed(f"ProgressDeadlineExceeded: {progressing.get('message')}")
    first = _missing_or_broken(live, pods)
    if first:
        return first
    status = live.get("status") or {}
    want = int((live.get("spec") or {}).get("replicas", 1))
    available = int(status.get("availableReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if not _generation_observed(live):
        return Readiness.waiting(f"{available}/{want} available, rollout not observed yet")
    if available >= want and (want == 0 or updated >= want):
        return Readiness.ready(f"{available}/{want} available")
    return Readiness.waiting(f"{available}/{want} available")


def serving(live: Obj | None) -> Readiness:
    """A Deployment someone else rolls out (cert-manager's webhook) serves once one replica is
    available; whether its latest rollout is complete does not matter to its clients."""
    if live is None:
        return Readiness.waiting("not found")
    rollout = deployment(live)
    if rollout.failing:
        return rollout
    available = int((live.get("status") or {}).get("availableReplicas") or 0)
    if available >= 1:
        return Readiness.ready(f"{available} available")
    return Readiness.waiting("no replica available")


def daemonset(live: Obj | None, pods: Iterable[Obj] = ()) -> Readiness:
    """Every scheduled pod updated and available; a pod that cannot start fails it."""
    first = _missing_or_broken(live, pods)
    if first or live is None:
        return first or Readiness.waiting("not found")
    status = live.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    ready = int(status.get("numberReady") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    message = f"{ready}/{desired} ready on the nodes it is scheduled to"
    if not _generation_observed(live) or "desiredNumberScheduled" not in status:
        return Readiness.waiting(f"{message}, rollout not observed yet")
    if ready >= desired and updated >= desired and not int(status.get("numberUnavailable") or 0):
        return Readiness.ready(message)
    return Readiness.waiting(message)


def statefulset(live: Obj | None, pods: Iterable[Obj] = ()) -> Readiness:
    """Every replica ready at the current generation; a pod that cannot start fails it."""
    first = _missing_or_broken(live, pods)
    if first or live is None:
        return first or Readiness.waiting("not found")
    want = int((live.get("spec") or {}).get("replicas", 1))
    ready = int((live.get("status") or {}).get("readyReplicas") or 0)
    if _generation_observed(live) and ready >= want:
        return Readiness.ready(f"{ready}/{want} ready")
    return Readiness.waiting(f"{ready}/{want} ready")


def pod_failure(pods: Iterable[Obj]) -> str | None:
    """The first container that waits for a reason waiting will not cure, as one message."""
    for pod in pods:
        status = pod.get("status") or {}
        statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        for container in statuses:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_WAIT_REASONS:
                name = (pod.get("metadata") or {}).get("name")
                detail = f": {waiting.get('message')}" if waiting.get("message") else ""
                return f"pod {name}: container {container.get('name')}: {waiting.get('reason')}{detail}"
    return None


WORKLOAD_RULES = {"Deployment": deployment, "DaemonSet": daemonset, "StatefulSet": statefulset}


def _matches(labels: Mapping[str, str], selector: Mapping[str, Any]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def workload_pods(cluster: Cluster, live: Obj) -> list[Obj]:
    """The pods a workload selects (by its matchLabels), so their failures can be named."""
    selector = (live.get("spec") or {}).get("selector") or {}
    namespace = str((live.get("metadata") or {}).get("namespace") or "")
    try:
        pods = cluster.list("v1", "Pod", namespace)
    except ClusterError:
        return []  # pods are a refinement: without them the workload's own status decides
    return [p for p in pods if _matches((p.get("metadata") or {}).get("labels") or {}, selector)]


def workload(cluster: Cluster, ref: Ref) -> Readiness:
    """The rule of a Deployment, DaemonSet or StatefulSet, read from the cluster now."""
    live = cluster.get(ref)
    rule = WORKLOAD_RULES[ref.kind]
    return rule(live, workload_pods(cluster, live) if live else ())


def secret_issued(cluster: Cluster, ref: Ref) -> Readiness:
    """A Certificate's Secret is issued once it holds tls.crt (cert-manager writes it)."""
    secret = cluster.get(ref)
    if secret is None:
        return Readiness.waiting(f"Secret {ref.namespace}/{ref.name} not issued yet")
    if (secret.get("data") or {}).get("tls.crt"):
        return Readiness.ready(f"Secret {ref.namespace}/{ref.name} issued")
    return Readiness.waiting(f"Secret {ref.namespace}/{ref.name} has no tls.crt yet")


def _endpoints_ready(cluster: Cluster, namespace: str, name: str) -> bool:
    endpoints = cluster.get(Ref("v1", "Endpoints", name, namespace)) or {}
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


def webhook_configuration(cluster: Cluster, live: Obj | None) -> Readiness:
    """Each webhook has a ready endpoint behind its Service (the API server cannot call it
    otherwise) and a CA bundle (cert-manager's cainjector writes it)."""
    if live is None:
        return Readiness.waiting("missing")
    hooks = live.get("webhooks") or []
    problems: list[str] = []
    for hook in hooks:
        config = hook.get("clientConfig") or {}
        service = config.get("service") or {}
        if service and not _endpoints_ready(cluster, str(service.get("namespace")), str(service.get("name"))):
            problems.append(f"{hook.get('name')}: no ready endpoint for service {service.get('name')}")
        if not config.get("caBundle") or config.get("caBundle") == "Cg==":
            problems.append(f"{hook.get('name')}: no CA bundle injected yet")
    if problems:
        return Readiness.waiting("; ".join(problems[:2]))
    return Readiness.ready(f"{len(hooks)} webhooks answering")
