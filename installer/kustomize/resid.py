"""Resource identities as kustomize sees them, and the resources of a build with their history.

kustomize matches objects by id (group, version, kind, name, namespace) in several places, and
not always the same way: patch targets and name references also match the ids an object had
before a namespace transformer moved it (its "previous ids"); namespaces compare as *effective*
namespaces ("" and "default" are the same; a cluster-scoped kind has none). This module holds
those rules in one place; the callers say which flavour they need.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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


def scalar_text(value: Any) -> str:
    """The text kyaml holds for a scalar (a map or list node holds none)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def is_cluster_scoped(obj: Obj) -> bool:
    """Whether kustomize knows the object's kind to be cluster-scoped."""
    return (str(obj.get("apiVersion", "")), str(obj.get("kind", ""))) in CLUSTER_SCOPED


def meta(obj: Obj) -> dict[str, object]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


class ResId(NamedTuple):
    """kustomize's ResId. ``cluster`` says the kind is known to be cluster-scoped (kustomize
    knows that for current ids of objects, not for selectors nor for previous ids). A named
    tuple: builds compute thousands of them."""

    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    cluster: bool = False

    def effective_namespace(self) -> str:
        """The namespace as kustomize compares it: an empty one is default; cluster-scoped kinds have none."""
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
        """kustomize's ResId.Equals: the same GVK and name, in the same effective namespace."""
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
    api = obj.get("apiVersion")
    api = api if isinstance(api, str) else str(api or "")
    group, sep, version = api.partition("/")
    if not sep:
        group, version = "", api
    kind = obj.get("kind")
    kind = kind if isinstance(kind, str) else str(kind or "")
    name, namespace = _meta_id(obj)
    return ResId(group, version, kind, name, namespace, aware and (api, kind) in CLUSTER_SCOPED)


def _meta_id(obj: Obj) -> tuple[str, str]:
    """(name, namespace) as current_id reads them."""
    m = obj.get("metadata")
    name, namespace = (m.get("name"), m.get("namespace")) if isinstance(m, dict) else (None, None)
    return (
        name if isinstance(name, str) else str(name or ""),
        namespace if isinstance(namespace, str) else str(namespace or ""),
    )


class Res:
    """An object of the build and the ids it had before transformers moved it.

    kustomize keeps that history in annotations on the object; here it rides beside it, so the
    object stays as upstream wrote it. Each entry is (kind, name, effective namespace).

    Ids are remembered with the object they were computed from: a transformer never changes an
    object in place (it puts a new one in ``obj``), so the same object always has the same ids,
    and the render's hundreds of patch targets do not recompute them for every object.
    """

    __slots__ = ("_cur", "_prev", "history", "obj")

    def __init__(self, obj: Obj, history: tuple[tuple[str, str, str], ...] = ()) -> None:
        self.obj = obj
        self.history = history
        self._cur: tuple[Obj, ResId, tuple[str, str, str, str, str]] | None = None
        self._prev: tuple[Obj, tuple[tuple[str, str, str], ...], list[ResId]] | None = None

    def cur_id(self, aware: bool = True) -> ResId:
        if not aware:
            return current_id(self.obj, False)
        return self._current()[1]

    def _current(self) -> tuple[Obj, ResId, tuple[str, str, str, str, str]]:
        if self._cur is None or self._cur[0] is not self.obj:
            cur = current_id(self.obj)
            self._cur = (
                self.obj,
                cur,
                (cur.group, cur.version, cur.kind, cur.name, cur.effective_namespace()),
            )
        return self._cur

    def prev_ids(self) -> list[ResId]:
        return list(self._previous()) if self.history else []

    def _previous(self) -> list[ResId]:
        if self._prev is None or self._prev[0] is not self.obj or self._prev[1] is not self.history:
            group, version = split_api_version(str(self.obj.get("apiVersion", "")))
            ids = [ResId(group, version, kind, name, ns) for kind, name, ns in self.history]
            self._prev = (self.obj, self.history, ids)
        return self._prev[2]

    def key(self) -> tuple[str, str, str, str, str]:
        """What makes two objects the same object for kustomize (its CurId equality)."""
        return self._current()[2]

    def org_id(self) -> ResId:
        """The first id the object had (kustomize's OrgId)."""
        return self._previous()[0] if self.history else self.cur_id()

    def all_ids(self) -> list[ResId]:
        """Previous ids, then the current one (kustomize's GetMatchingResourcesByAnyId)."""
        return [*self.prev_ids(), self.cur_id()]

    def update(self, obj: Obj) -> None:
        """Put a transformed object in place, carrying its ids over when its apiVersion and
        kind did not change (only name and namespace are then read again)."""
        old, self.obj = self.obj, obj
        if obj is old or self._cur is None or self._cur[0] is not old:
            return
        if old.get("apiVersion") != obj.get("apiVersion") or old.get("kind") != obj.get("kind"):
            return
        cur = self._cur[1]
        name, namespace = _meta_id(obj)
        if (name, namespace) != (cur.name, cur.namespace):
            cur = cur._replace(name=name, namespace=namespace)
        self._cur = (obj, cur, (cur.group, cur.version, cur.kind, cur.name, cur.effective_namespace()))
        if self._prev is not None and self._prev[0] is old:
            self._prev = (obj, self._prev[1], self._prev[2])

    def store_previous_id(self) -> None:
        """Remember the current id before a transformer that may change it (kustomize's
        StorePreviousId): matching by previous ids is how moved objects are still found."""
        cur = self.cur_id()
        self.history = (*self.history, (cur.kind, cur.name, cur.effective_namespace()))
