"""The apply phases: one table, used by the pre-build, the render, deploy, prune and undeploy.

What the API server needs decides the order (kserve-install-surfaces.md, f): Namespaces and CRDs
first, and CRDs Established before their custom resources; RBAC and configuration before the
controllers that read them; cert-manager's Certificates before the controllers that mount their
Secrets; the webhook configurations once the controllers that serve them exist; and last the
custom resources the KServe webhooks validate (ClusterServingRuntimes and friends).

As in Carvel kapp's change groups, an object can name its phase itself with the annotation
``installer.kserve.io/phase`` (for a site overlay that adds, say, a Job that must run after the
webhooks); every other object is placed by the rules below, in this order of precedence. Inside a
phase objects are ranked by kind (what must exist first), then by namespace and name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from installer.errors import BuildError
from installer.objects import (
    BUILTIN_GROUPS,
    CERT_MANAGER_GROUP,
    WEBHOOK_KINDS,
    WORKLOAD_KINDS,
    Obj,
    ObjectKey,
    crd_scopes,
    describe,
    group_of,
    is_cluster_scoped,
)

PHASE_ANNOTATION: Final = "installer.kserve.io/phase"


@dataclass(frozen=True)
class Phase:
    """A step of a deploy. ``served_kinds``: its objects need the CRDs of this deploy Established
    first (custom resources are of those kinds; the controllers watch them and exit at start if
    one is not served). Phases without it are applied while the API server establishes the CRDs,
    which takes it seconds for KServe's large ones."""

    name: str
    title: str
    served_kinds: bool = False


TABLE: Final = (
    Phase("crds", "Namespaces and CustomResourceDefinitions"),
    Phase("cluster", "cluster-scoped configuration and RBAC"),
    Phase("namespaced", "namespaced configuration, RBAC and Services"),
    Phase("certificates", "cert-manager Issuers and Certificates"),
    Phase("workloads", "controllers (Deployments, DaemonSets)", served_kinds=True),
    Phase("webhooks", "admission webhook configurations"),
    Phase(
        "custom-resources", "custom resources (runtimes, storage containers, LLM configs)", served_kinds=True
    ),
)
NEEDS_SERVED_KINDS: Final = frozenset(p.name for p in TABLE if p.served_kinds)
PHASES: Final = tuple(p.name for p in TABLE)
PHASE_TITLES: Final = {p.name: p.title for p in TABLE}
INDEX: Final = {p.name: i for i, p in enumerate(TABLE)}

Scopes = Mapping[tuple[str, str], str]
# (rule, phase): the first rule that holds places the object. A rule sees the object's group and
# kind, and whether it is cluster-scoped.
RULES: Final[tuple[tuple[Callable[[str, str, bool], bool], str], ...]] = (
    (lambda group, kind, cluster: kind in ("Namespace", "CustomResourceDefinition"), "crds"),
    (lambda group, kind, cluster: kind in WEBHOOK_KINDS, "webhooks"),
    (lambda group, kind, cluster: group == CERT_MANAGER_GROUP, "certificates"),
    (lambda group, kind, cluster: kind in WORKLOAD_KINDS and group in ("apps", "batch"), "workloads"),
    (lambda group, kind, cluster: group not in BUILTIN_GROUPS, "custom-resources"),
    (lambda group, kind, cluster: cluster, "cluster"),
    (lambda group, kind, cluster: True, "namespaced"),
)

# Inside a phase: what must exist first (lightkube's rank table, trimmed to what KServe ships).
KIND_RANK: Final = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ServiceAccount": 10,
    "Secret": 11,
    "ConfigMap": 12,
    "ClusterRole": 20,
    "ClusterRoleBinding": 21,
    "Role": 22,
    "RoleBinding": 23,
    "Service": 30,
    "Issuer": 40,
    "Certificate": 41,
}
OTHER_KIND_RANK: Final = 50


def phase_of(obj: Obj, scopes: Scopes) -> str:
    """The phase an object is applied in: its annotation, else the first rule that holds."""
    wanted = ((obj.get("metadata") or {}).get("annotations") or {}).get(PHASE_ANNOTATION)
    if wanted is not None:
        if wanted not in INDEX:
            raise BuildError(
                f"{describe(obj)}: annotation {PHASE_ANNOTATION}: {wanted!r} is not a phase "
                f"(one of {', '.join(PHASES)})"
            )
        return str(wanted)
    return phase_of_kind(group_of(obj), str(obj.get("kind")), is_cluster_scoped(obj, scopes))


def phase_of_kind(group: str, kind: str, cluster_scoped: bool) -> str:
    return next(phase for rule, phase in RULES if rule(group, kind, cluster_scoped))


def phase_of_key(key: ObjectKey, scopes: Scopes = {}) -> str:  # noqa: B006 (read-only default)
    """The phase of an object known only by its key (an inventory entry)."""
    scope = scopes.get((key.group, key.kind))
    cluster = scope == "Cluster" if scope is not None else not key.namespace
    return phase_of_kind(key.group, key.kind, cluster)


def group_by_phase(objs: Iterable[Any], obj_of: Callable[[Any], Obj] = lambda o: o) -> dict[str, list[Any]]:
    """Items by phase, in their given order inside a phase (``obj_of`` finds an item's object)."""
    items = list(objs)
    scopes = crd_scopes(obj_of(i) for i in items)
    out: dict[str, list[Any]] = {p: [] for p in PHASES}
    for item in items:
        out[phase_of(obj_of(item), scopes)].append(item)
    return out


def apply_order(objs: Iterable[Obj]) -> dict[str, list[Obj]]:
    """Objects by phase, each phase ranked by kind, then namespace and name."""
    phases = group_by_phase(objs)
    for objs_of_phase in phases.values():
        objs_of_phase.sort(key=rank_in_phase)
    return phases


def rank_in_phase(obj: Obj) -> tuple[int, str, str, str]:
    key = ObjectKey.of(obj)
    return (KIND_RANK.get(key.kind, OTHER_KIND_RANK), key.kind, key.namespace, key.name)


def phase_file(phase: str) -> str:
    """``NN-<phase>.yaml``: a phase's file name in pre-built and rendered trees."""
    return f"{INDEX[phase]:02d}-{phase}.yaml"
