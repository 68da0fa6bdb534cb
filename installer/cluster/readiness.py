"""Whether an object on the cluster is ready for what comes after it, read from its live state.

One rule per kind, shared by deploy (which waits on them), status (which reports them) and the
prerequisite checks (which refuse to start without them).
"""

from __future__ import annotations

from installer.cluster.client import Cluster, Ref
from installer.objects import Obj


def crd_established(crd: Obj | None) -> bool:
    """The API server serves the CRD's kind: its custom resources can be applied."""
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def workload_ready(cluster: Cluster, obj: Obj) -> bool:
    """Every replica of the current generation is available (a DaemonSet: on every node)."""
    live = cluster.get(Ref.of(obj)) or {}
    status = live.get("status") or {}
    if obj["kind"] == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        return desired > 0 and int(status.get("numberReady") or 0) == desired
    want = int((live.get("spec") or {}).get("replicas", 1))
    generation = int((live.get("metadata") or {}).get("generation", 1))
    observed = int(status.get("observedGeneration") or 0)
    return observed >= generation and int(status.get("availableReplicas") or 0) >= want


def secret_issued(cluster: Cluster, ref: Ref) -> bool:
    """The Secret exists and holds a certificate (cert-manager writes tls.crt once issued)."""
    secret = cluster.get(ref) or {}
    return bool((secret.get("data") or {}).get("tls.crt"))
