"""Kubernetes objects as plain dicts: their one identity (:class:`ObjectKey`), group and scope.

Every stage names an object the same way: by group, kind, namespace and name. The API version is
not part of it (one object is served at several versions), and the group is (two kinds of one name
in different groups are different objects). Apply phases live in :mod:`installer.phases`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

Obj = dict[str, Any]

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
    return group_of_api_version(str(obj.get("apiVersion", "")))


def group_of_api_version(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


class ObjectKey(NamedTuple):
    """What makes an object unique on a cluster: (group, kind, namespace, name).

    A tuple, so it sorts, hashes and unpacks; ``str()`` is the form messages use, ``id`` the
    form records use (the inventory keys objects by it).
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        meta = obj.get("metadata") or {}
        return cls(
            group_of(obj),
            str(obj.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
        )

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        """The inverse of :attr:`id`."""
        group_kind, namespace, name = text.split("/")
        kind, _, group = group_kind.partition(".")
        return cls(group, kind, namespace, name)

    @property
    def id(self) -> str:
        """``Kind.group/namespace/name`` (kubectl's ``kind.group``; empty parts stay empty)."""
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        """``Kind/namespace/name`` (or ``Kind/name``) for messages."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


def identity(obj: Mapping[str, Any]) -> ObjectKey:
    """The object's :class:`ObjectKey`."""
    return ObjectKey.of(obj)


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (or ``Kind/name``) for messages."""
    return str(ObjectKey.of(obj))


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
