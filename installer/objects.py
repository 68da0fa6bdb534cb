"""Small helpers on Kubernetes objects as plain dicts: identity, scope, apply phase.

The apply phases follow what the API server needs (kserve-install-surfaces.md, f): CRDs must be
Established before their custom resources, cert-manager must issue the webhook certificate before
the webhooks are useful, and ClusterServingRuntimes need the KServe webhook answering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

Obj = dict[str, Any]

# Apply order. Namespaces travel with the CRDs: both must exist before anything else.
PHASES: Final = ("crds", "cluster", "namespaced", "certificates", "workloads", "webhooks", "custom-resources")
PHASE_TITLES: Final = {
    "crds": "Namespaces and CustomResourceDefinitions",
    "cluster": "cluster-scoped configuration and RBAC",
    "namespaced": "namespaced configuration, RBAC and Services",
    "certificates": "cert-manager Issuers and Certificates",
    "workloads": "controllers (Deployments, DaemonSets)",
    "webhooks": "admission webhook configurations",
    "custom-resources": "custom resources (runtimes, storage containers, LLM configs)",
}

CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "IngressClass",
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "APIService",
        "RuntimeClass",
        "CSIDriver",
        "ClusterIssuer",
        "PodSecurityPolicy",
        "GatewayClass",
    }
)
WORKLOAD_KINDS: Final = frozenset({"Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "ReplicaSet"})
WEBHOOK_KINDS: Final = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})
CERT_MANAGER_GROUP: Final = "cert-manager.io"
# Built-in API groups: objects of any other group are custom resources.
BUILTIN_GROUPS: Final = frozenset(
    {
        "",
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "networking.k8s.io",
        "policy",
        "autoscaling",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "apiregistration.k8s.io",
        "node.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
        CERT_MANAGER_GROUP,
    }
)


# Objects the installer only labels and never owns (existing namespaces ModelMesh should watch):
# deploy applies their labels alone, prune and undeploy remove those labels, nothing deletes them.
# GitOps tools are told the same: Argo CD and Flux never prune or delete them.
LABELS_ONLY: Final = "installer.kserve.io/labels-only"
LABELS_ONLY_ANNOTATIONS: Final = {
    LABELS_ONLY: "true",
    "argocd.argoproj.io/sync-options": "Delete=false,Prune=false",
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
}


def is_labels_only(obj: Mapping[str, Any]) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(LABELS_ONLY) == "true"


def group_of(obj: Mapping[str, Any]) -> str:
    api = str(obj.get("apiVersion", ""))
    return api.split("/", 1)[0] if "/" in api else ""


def identity(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(group, kind, namespace, name): what makes an object unique on a cluster."""
    meta = obj.get("metadata") or {}
    return (
        group_of(obj),
        str(obj.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "")),
    )


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (or ``Kind/name``) for messages."""
    _, kind, ns, name = identity(obj)
    return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"


def crd_scopes(objs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) -> "Cluster" | "Namespaced" for every CRD among ``objs``."""
    out: dict[tuple[str, str], str] = {}
    for o in objs:
        if o.get("kind") == "CustomResourceDefinition":
            spec = o.get("spec") or {}
            out[(str(spec.get("group")), str((spec.get("names") or {}).get("kind")))] = str(spec.get("scope"))
    return out


def is_cluster_scoped(obj: Mapping[str, Any], scopes: Mapping[tuple[str, str], str]) -> bool:
    kind = str(obj.get("kind"))
    scope = scopes.get((group_of(obj), kind))
    if scope is not None:
        return scope == "Cluster"
    if kind in CLUSTER_SCOPED_KINDS:
        return True
    if group_of(obj) in BUILTIN_GROUPS:
        return False
    return not (obj.get("metadata") or {}).get("namespace")


def phase_of(obj: Mapping[str, Any], scopes: Mapping[tuple[str, str], str]) -> str:
    kind, group = str(obj.get("kind")), group_of(obj)
    if kind in ("Namespace", "CustomResourceDefinition"):
        return "crds"
    if kind in WEBHOOK_KINDS:
        return "webhooks"
    if group == CERT_MANAGER_GROUP:
        return "certificates"
    if kind in WORKLOAD_KINDS and group in ("apps", "batch"):
        return "workloads"
    if group not in BUILTIN_GROUPS:
        return "custom-resources"
    return "cluster" if is_cluster_scoped(obj, scopes) else "namespaced"
