"""Optional parts of KServe: the LLMInferenceService stack and the LocalModel stack, left out on request.

Upstream composes KServe from kustomize components (``config/components/kserve``, ``llmisvc``,
``localmodel``) and ships ``config/overlays/standalone/kserve`` as the selection without the two
optional ones. A source build selects components the same way (:mod:`installer.sourcebuild`); a
release asset is already built, so its objects are dropped instead. What to drop is decided here,
for both, from the objects themselves rather than from a list of names per version (names moved
between releases: v0.16.0's ``llmisvc-manager-role`` is v0.20.0's ``kserve-llmisvc-manager-role``):

1. the part's *seeds*: its CRDs (by group and kind) and its controller workloads (by kind and name);
2. then, until nothing changes, everything the reference graph (:mod:`installer.references`) ties
   to what was dropped: an object that needs a dropped object (a webhook calling a dropped
   Service or admitting a dropped resource, a binding to a dropped ServiceAccount or role, a
   custom resource of a dropped CRD, a Service selecting only dropped pods), and a ServiceAccount,
   role, Certificate or Issuer whose every user was dropped.

Nothing a kept object uses is ever dropped: a binding that also grants a kept ServiceAccount, or a
Certificate a kept workload mounts, stops the build with one line naming both. The tests compare
the result with upstream's standalone selection built by ``kubectl kustomize``, and check every
reference of every render for a target.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from installer.errors import BuildError
from installer.objects import Obj, ObjectKey
from installer.parameters import Parameters
from installer.references import CRD_GROUP, RBAC, Ref, references

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """An optional part: its parameter, upstream's component directory, and its seeds."""

    name: str
    parameter: str
    title: str
    component: str
    # (group, kind prefix) of its CRDs ("" matches every kind of the group)
    crds: tuple[tuple[str, str], ...]
    # (kind, name) of its controller workloads
    workloads: frozenset[tuple[str, str]]

    def is_seed(self, key: ObjectKey, obj: Obj) -> bool:
        """The part's CRDs, its custom resources (found by kind too, for when the CRD is gone
        already: a source build without the component still has LLMInferenceServiceConfigs in
        ``clusterresources``) and its controllers."""
        if key.kind == "CustomResourceDefinition" and key.group == CRD_GROUP:
            spec = obj.get("spec") or {}
            group, kind = str(spec.get("group")), str((spec.get("names") or {}).get("kind"))
        else:
            group, kind = key.group, key.kind
        if any(group == g and kind.startswith(prefix) for g, prefix in self.crds):
            return True
        return (key.kind, key.name) in self.workloads


LLMISVC: Final = Part(
    name="llmisvc",
    parameter="kserve.llmisvc.enabled",
    title="LLMInferenceService stack",
    component="components/llmisvc",
    crds=(
        ("serving.kserve.io", "LLMInferenceService"),
        # Gateway API Inference Extension (InferencePool, ...) and llm-d: upstream ships them in
        # the llmisvc component, for the llmisvc controller alone.
        ("inference.networking.x-k8s.io", ""),
        ("inference.networking.k8s.io", ""),
        ("llm-d.ai", ""),
    ),
    workloads=frozenset({("Deployment", "llmisvc-controller-manager")}),
)
LOCALMODEL: Final = Part(
    name="localmodel",
    parameter="kserve.localmodel.enabled",
    title="LocalModel stack",
    component="components/localmodel",
    crds=(("serving.kserve.io", "LocalModel"),),
    workloads=frozenset(
        {("Deployment", "kserve-localmodel-controller-manager"), ("DaemonSet", "kserve-localmodelnode-agent")}
    ),
)
PARTS: Final = (LLMISVC, LOCALMODEL)
# Kinds that exist only for their users: once every user is gone, so are they.
SERVING_KINDS: Final = frozenset(
    {
        ("", "ServiceAccount"),
        (RBAC, "Role"),
        (RBAC, "ClusterRole"),
        ("cert-manager.io", "Certificate"),
        ("cert-manager.io", "Issuer"),
    }
)


def left_out(params: Parameters) -> tuple[Part, ...]:
    """The parts the parameters leave out."""
    return tuple(p for p in PARTS if not params[p.parameter])


@dataclass(frozen=True)
class Removal:
    """What leaving parts out removes: the objects, and the parts the objects did not have."""

    removed: frozenset[ObjectKey]
    absent: tuple[Part, ...]


def removal(objs: list[Obj], parts: Iterable[Part]) -> Removal:
    """The objects that leaving ``parts`` out removes from ``objs`` (see the module docstring)."""
    wanted = tuple(parts)
    by_key = {ObjectKey.of(o): o for o in objs}
    seeds = {p.name: {k for k, o in by_key.items() if p.is_seed(k, o)} for p in wanted}
    removed = {k for found in seeds.values() for k in found}
    if removed:
        refs = references(objs)
        _close(removed, refs, by_key)
        _check_kept_grants(removed, refs, by_key)
    return Removal(frozenset(removed), tuple(p for p in wanted if not seeds[p.name]))


def _close(removed: set[ObjectKey], refs: list[Ref], by_key: Mapping[ObjectKey, Obj]) -> None:
    """Grow ``removed`` until no kept object needs a removed one and no serving object is left
    without users."""
    users: dict[ObjectKey, set[ObjectKey]] = {}
    for ref in refs:
        if ref.consumer:
            for target in ref.targets:
                users.setdefault(target, set()).add(ref.source)
    changed = True
    while changed:
        changed = False
        for ref in refs:
            present = [t for t in ref.targets if t in by_key]
            if ref.source not in removed and present and all(t in removed for t in present):
                removed.add(ref.source)
                changed = True
        for key in by_key.keys() - removed:
            if (key.group, key.kind) in SERVING_KINDS and users.get(key) and users[key] <= removed:
                removed.add(key)
                changed = True


def _check_kept_grants(removed: set[ObjectKey], refs: list[Ref], by_key: Mapping[ObjectKey, Obj]) -> None:
    """A removed binding must not also grant a ServiceAccount that stays: that would take
    permissions from a kept controller."""
    for ref in refs:
        kept = [t for t in ref.targets if t in by_key and t not in removed]
        if ref.source in removed and not ref.consumer and kept:
            raise BuildError(
                f"cannot leave the part out: {ref.source} would go, but its {ref.field} also grants "
                f"{kept[0]}, which stays"
            )


def without(objs: list[Obj], removed: frozenset[ObjectKey]) -> list[Obj]:
    return [o for o in objs if ObjectKey.of(o) not in removed]


def warn_absent(absent: Iterable[Part], version: str) -> None:
    """Leaving out a part a version does not have is a no-op, said once."""
    for part in absent:
        log.warning(
            "%s=false: KServe %s has no %s; nothing to leave out", part.parameter, version, part.title
        )
