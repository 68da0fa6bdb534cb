"""References that follow the objects they name: kustomize's name-reference fix-up.

Run once, at the top of a build (as kustomize's FixBackReferences): a reference such as a
webhook's ``clientConfig.service`` ({name, namespace}) or a binding's subject names an object of
the build by the name and namespace it had; when a namespace transformer moved that object, the
reference is rewritten to follow it. A candidate referral must have had that name (kustomize
matches previous ids only, so objects no transformer touched are never referrals), be of the
referenced kind, and be in the referrer's namespace unless one of them is cluster-scoped or the
referral is a ServiceAccount. Names never change in this engine, so a reference by name alone
stays as it is; the work is in references that carry a namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from installer.errors import BuildError
from installer.kustomize.cow import Draft, Path
from installer.kustomize.fieldspecs import FieldSpec, NameReference, apply_spec
from installer.kustomize.paths import scalar_text
from installer.kustomize.resid import NO_NAMESPACE, Res, name_of, namespace_of
from installer.objects import describe


def fix_back_references(resources: list[Res], refs: tuple[NameReference, ...], where: str) -> None:
    if not any(r.history for r in resources):
        return  # only objects with previous ids can be referrals
    for referrer in resources:
        org = referrer.org_id()
        mine = [
            (ref, spec)
            for ref in refs
            for spec in ref.referrers
            if org.gvk_selected_by(spec.group, spec.version, spec.kind)
        ]
        if not mine:
            continue
        candidates = _could_be_referenced(referrer, resources)
        draft = Draft(referrer.obj)
        for ref, spec in mine:
            fixer = _Fixer(referrer, ref, spec, candidates, where)
            apply_spec(draft, FieldSpec(spec.path), fixer.set, None, where)
        referrer.obj = draft.root


def _could_be_referenced(referrer: Res, resources: list[Res]) -> list[Res]:
    """kustomize's SubsetThatCouldBeReferencedByResource."""
    rid = referrer.cur_id()
    if rid.cluster:
        return resources
    allowed: set[str] = set()
    if referrer.obj.get("kind") == "RoleBinding":
        for s in referrer.obj.get("subjects") or []:
            if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and "namespace" in s:
                allowed.add(str(s["namespace"]))
    out = []
    for r in resources:
        cid = r.cur_id()
        if (
            cid.cluster
            or cid.effective_namespace() == rid.effective_namespace()
            or namespace_of(r.obj) in allowed
        ):
            out.append(r)
    return out


class _Fixer:
    """Rewrites the references at one referrer spec of one object."""

    def __init__(
        self, referrer: Res, ref: NameReference, spec: FieldSpec, candidates: list[Res], where: str
    ) -> None:
        self.referrer, self.ref, self.spec, self.candidates, self.where = (
            referrer,
            ref,
            spec,
            candidates,
            where,
        )

    def set(self, draft: Draft, at: Path, node: Any) -> None:
        if node is None:
            return
        if isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, list):
                    raise BuildError(
                        f"kustomize: {self.where}: {describe(draft.root)}: {self.spec.path}: expected names"
                    )
                self.set(draft, (*at, i), item)
        elif isinstance(node, dict):
            self._mapping(draft, at, node)
        else:
            referral = self._referral(scalar_text(node), self.candidates, _same_names)
            if referral is not None and name_of(referral.obj) != scalar_text(node):
                draft.set(at, name_of(referral.obj))

    def _mapping(self, draft: Draft, at: Path, node: dict[str, Any]) -> None:
        if "name" not in node:
            raise BuildError(f"kustomize: {self.where}: {describe(draft.root)}: {self.spec.path} has no name")
        old = scalar_text(node["name"])
        candidates = self.candidates
        if "namespace" in node:
            candidates = _in_namespace(candidates, scalar_text(node["namespace"]))
        referral = self._referral(old, candidates, _same_names_and_namespaces)
        if referral is None:
            return
        name, namespace = name_of(referral.obj), namespace_of(referral.obj)
        if name == old and not namespace:
            return
        draft.set((*at, "name"), name)
        if namespace:
            draft.set((*at, "namespace"), namespace)

    def _referral(
        self, old: str, candidates: list[Res], identical: Callable[[list[Res]], bool]
    ) -> Res | None:
        """kustomize's selectReferral."""
        ref = self.ref
        found = [
            r
            for r in candidates
            if any(name == old for _, name, _ in r.history)
            and any(p.gvk_selected_by(ref.group, ref.version, ref.kind) for p in r.prev_ids())
        ]
        found = [r for r in found if self._role_ref_allows(r) and self._namespace_allows(r)]
        if len(found) <= 1:
            return found[0] if found else None
        if identical(found):
            return found[0]
        names = ", ".join(describe(r.obj) for r in found)
        raise BuildError(
            f"kustomize: {self.where}: {describe(self.referrer.obj)}: {old} could refer to any of {names}"
        )

    def _role_ref_allows(self, candidate: Res) -> bool:
        if not self.spec.path.endswith("roleRef/name"):
            return True
        role_ref = self.referrer.obj.get("roleRef")
        if not isinstance(role_ref, dict) or "apiGroup" not in role_ref or "kind" not in role_ref:
            return True
        return any(
            p.gvk_selected_by(str(role_ref["apiGroup"]), "", str(role_ref["kind"]))
            for p in candidate.prev_ids()
        )

    def _namespace_allows(self, candidate: Res) -> bool:
        rid, cid = self.referrer.cur_id(), candidate.cur_id()
        return (
            rid.cluster
            or cid.cluster
            or candidate.obj.get("kind") == "ServiceAccount"
            or rid.effective_namespace() == cid.effective_namespace()
        )


def _in_namespace(candidates: list[Res], namespace: str) -> list[Res]:
    """Candidates whose original namespace is ``namespace``; failing that, whose current one is."""
    by_origin = [r for r in candidates if r.org_id().effective_namespace() == namespace != NO_NAMESPACE]
    if by_origin:
        return by_origin
    return [r for r in candidates if r.cur_id().effective_namespace() == namespace != NO_NAMESPACE]


def _same_names(found: list[Res]) -> bool:
    return len({name_of(r.obj) for r in found}) == 1


def _same_names_and_namespaces(found: list[Res]) -> bool:
    return len({(name_of(r.obj), namespace_of(r.obj)) for r in found}) == 1
