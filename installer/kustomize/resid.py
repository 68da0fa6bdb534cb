"""Resource identities as kustomize sees them, and the resources of a build with their history.

kustomize matches objects by id (group, version, kind, name, namespace) in several places, and
not always the same way: patch targets and name references also match the ids an object had
before a namespace transformer moved it (its "previous ids"); namespaces compare as *effective*
namespaces ("" and "default" are the same; a cluster-scoped kind has none). This module holds
those rules in one place; the callers say which flavour they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from installer.objects import Obj

NO_NAMESPACE = "_non_namespaceable_"  # kustomize's effective namespace of cluster-scoped kinds
DEFAULT_NAMESPACE = "default"

# Kinds kustomize's built-in OpenAPI data (Kubernetes 1.21) knows to be cluster-scoped, by
# apiVersion and kind. Anything else counts as namespaced, custom resources included, whatever
# their CRD says: that is what kustomize does, so the namespace transformer sets a namespace on
# them too.
_CLUSTER_SCOPED_KINDS: dict[str, tuple[str, ...]] = {
    "MutatingWebhookConfiguration": (
        "admissionregistration.k8s.io/v1",
        "admissionregistration.k8s.io/v1beta1",
    ),
    "ValidatingWebhookConfiguration": (
        "admissionregistration.k8s.io/v1",
        "admissionregistration.k8s.io/v1beta1",
    ),
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"),
    "APIService": ("apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1"),
    "CertificateSigningRequest": ("certificates.k8s.io/v1", "certificates.k8s.io/v1beta1"),
    "FlowSchema": ("flowcontrol.apiserver.k8s.io/v1beta1",),
    "PriorityLevelConfiguration": ("flowcontrol.apiserver.k8s.io/v1beta1",),
    "IngressClass": ("networking.k8s.io/v1", "networking.k8s.io/v1beta1"),
    "RuntimeClass": ("node.k8s.io/v1", "node.k8s.io/v1beta1"),
    "PodSecurityPolicy": ("policy/v1beta1",),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1beta1"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1beta1"),
    "PriorityClass": ("scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1"),
    "CSIDriver": ("storage.k8s.io/v1", "storage.k8s.io/v1beta1"),
    "CSINode": ("storage.k8s.io/v1", "storage.k8s.io/v1beta1"),
    "StorageClass": ("storage.k8s.io/v1", "storage.k8s.io/v1beta1"),
    "VolumeAttachment": ("storage.k8s.io/v1", "storage.k8s.io/v1beta1"),
    "ComponentStatus": ("v1",),
    "Namespace": ("v1",),
    "Node": ("v1",),
    "NodeProxyOptions": ("v1",),
    "PersistentVolume": ("v1",),
}
CLUSTER_SCOPED = frozenset((api, kind) for kind, apis in _CLUSTER_SCOPED_KINDS.items() for api in apis)


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    group, sep, version = api_version.partition("/")
    return (group, version) if sep else ("", api_version)


def is_cluster_scoped(obj: Obj) -> bool:
    return (str(obj.get("apiVersion", "")), str(obj.get("kind", ""))) in CLUSTER_SCOPED


def meta(obj: Obj) -> dict[str, object]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


@dataclass(frozen=True)
class ResId:
    """kustomize's ResId. ``cluster`` says the kind is known to be cluster-scoped (kustomize
    knows that for current ids of objects, not for selectors nor for previous ids)."""

    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    cluster: bool = False

    def effective_namespace(self) -> str:
        if self.cluster:
            return NO_NAMESPACE
        return DEFAULT_NAMESPACE if self.namespace in ("", DEFAULT_NAMESPACE) else self.namespace

    def gvk_selected_by(self, group: str, version: str, kind: str) -> bool:
        """Empty selector fields are wildcards."""
        return (
            (not group or group == self.group)
            and (not version or version == self.version)
            and (not kind or kind == self.kind)
        )

    def selected_by(self, selector: ResId) -> bool:
        """kustomize's ResId.IsSelectedBy: exact name, effective namespace and GVK, "" = any."""
        return (
            (not selector.name or selector.name == self.name)
            and (not selector.namespace or selector.effective_namespace() == self.effective_namespace())
            and self.gvk_selected_by(selector.group, selector.version, selector.kind)
        )

    def equals(self, other: ResId) -> bool:
        return self.effective_namespace() == other.effective_namespace() and (
            self.group,
            self.version,
            self.kind,
            self.name,
        ) == (other.group, other.version, other.kind, other.name)

    def __str__(self) -> str:
        gvk = "/".join(p for p in (self.group, self.version, self.kind) if p)
        return f"{gvk} {self.namespace + '/' if self.namespace else ''}{self.name}"


def current_id(obj: Obj, aware: bool = True) -> ResId:
    """The object's id now; ``aware`` marks built-in cluster-scoped kinds as kustomize's
    resource map does (replacements build ids without that knowledge)."""
    group, version = split_api_version(str(obj.get("apiVersion", "")))
    return ResId(
        group,
        version,
        str(obj.get("kind", "")),
        name_of(obj),
        namespace_of(obj),
        aware and is_cluster_scoped(obj),
    )


@dataclass
class Res:
    """An object of the build and the ids it had before transformers moved it.

    kustomize keeps that history in annotations on the object; here it rides beside it, so the
    object stays as upstream wrote it. Each entry is (kind, name, effective namespace).
    """

    obj: Obj
    history: tuple[tuple[str, str, str], ...] = field(default=())

    def cur_id(self, aware: bool = True) -> ResId:
        return current_id(self.obj, aware)

    def prev_ids(self) -> list[ResId]:
        group, version = split_api_version(str(self.obj.get("apiVersion", "")))
        return [ResId(group, version, kind, name, ns) for kind, name, ns in self.history]

    def org_id(self) -> ResId:
        """The first id the object had (kustomize's OrgId)."""
        prev = self.prev_ids()
        return prev[0] if prev else self.cur_id()

    def all_ids(self, aware: bool = True) -> list[ResId]:
        return [*self.prev_ids(), self.cur_id(aware)]

    def store_previous_id(self) -> None:
        cur = self.cur_id()
        self.history = (*self.history, (cur.kind, cur.name, cur.effective_namespace()))
