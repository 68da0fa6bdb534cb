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
from installer.kustomize.resid import NO_NAMESPACE, Res, name_of, namespace_of, scalar_text
from installer.objects import describe


def fix_back_references(resources: list[Res], refs: tuple[NameReference, ...], where: str) -> None:
    """Rewrite the references of ``resources`` to the objects namespaces moved (in place)."""
    # Only objects with previous ids can be referrals, and only of a kind some reference names:
    # without one, no reference can change (the render's second build, often).
    kinds_before = {kind for r in resources for kind, _, _ in r.history}
    refs = tuple(ref for ref in refs if not ref.kind or ref.kind in kinds_before)
    if not refs:
        return
    index = _Index(resources)
    kinds = {spec.kind for ref in refs for spec in ref.referrers}
    referrers = (
        resources
        if "" in kinds
        else [r for r in resources if (r.history[0][0] if r.history else r.obj.get("kind")) in kinds]
    )
    for referrer in referrers:
        org = referrer.org_id()
        mine = [
            (ref, spec)
            for ref in refs
            for spec in ref.referrers
            if org.gvk_selected_by(spec.group, spec.version, spec.kind)
        ]
        if not mine:
            continue
        candidates = _Candidates(referrer, index)
        draft = Draft(referrer.obj)
        for ref, spec in mine:
            fixer = _Fixer(referrer, ref, spec, candidates, where)
            apply_spec(draft, FieldSpec(spec.path), fixer.set, None, where)
        referrer.update(draft.root)


class _Index:
    """The build's objects by previous name, and (when first needed) their namespaces."""

    def __init__(self, resources: list[Res]) -> None:
        self.by_name: dict[str, list[Res]] = {}
        for r in resources:
            for name in dict.fromkeys(name for _, name, _ in r.history):
                self.by_name.setdefault(name, []).append(r)
        self.resources = resources
        self._rows: list[tuple[str, str, bool, str]] | None = None
        self.memo: dict[tuple[int, str, str | None], tuple[str, str] | None] = {}
        self._origins: set[str] | None = None

    def rows(self) -> list[tuple[str, str, bool, str]]:
        """(original namespace, current namespace, cluster-scoped, namespace field) per object."""
        if self._rows is None:
            self._rows = []
            for r in self.resources:
                cur = r.cur_id()
                origin = r.history[0][2] if r.history else cur.effective_namespace()
                self._rows.append((origin, cur.effective_namespace(), cur.cluster, cur.namespace))
        return self._rows

    def origins(self) -> set[str]:
        """Every original namespace (what a cluster-scoped referrer may point into)."""
        if self._origins is None:
            self._origins = {
                r.history[0][2] if r.history else r.cur_id().effective_namespace() for r in self.resources
            }
        return self._origins


class _Candidates:
    """What a referrer may refer to (kustomize's SubsetThatCouldBeReferencedByResource): for a
    namespaced referrer, cluster-scoped objects and those of its namespace (and, for a
    RoleBinding, of its ServiceAccount subjects' namespaces)."""

    def __init__(self, referrer: Res, index: _Index) -> None:
        self.index = index
        rid = referrer.cur_id()
        self.everything = rid.cluster
        self.namespace = rid.effective_namespace()
        self.also: set[str] = set()
        if referrer.obj.get("kind") == "RoleBinding":
            for s in referrer.obj.get("subjects") or []:
                if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and "namespace" in s:
                    self.also.add(str(s["namespace"]))
        self._origins: set[str] | None = None
        # Referrals of mapping references, by (reference kind, name, namespace field): the same
        # for every cluster-scoped referrer, so they share the index's.
        self.memo = index.memo if self.everything else {}

    def _allowed(self, current: str, cluster: bool, field: str) -> bool:
        return self.everything or cluster or current == self.namespace or field in self.also

    def named(self, name: str) -> list[Res]:
        found = self.index.by_name.get(name, [])
        if self.everything:
            return found
        return [
            r
            for r in found
            if self._allowed(r.cur_id().effective_namespace(), r.cur_id().cluster, namespace_of(r.obj))
        ]

    def in_namespace(self, found: list[Res], namespace: str) -> list[Res]:
        """kustomize groups the candidates by original namespace, and failing that by current."""
        if namespace == NO_NAMESPACE:
            return []
        if self._origins is None and self.everything:
            self._origins = self.index.origins()
        if self._origins is None:
            self._origins = {
                org for org, cur, cl, field in self.index.rows() if self._allowed(cur, cl, field)
            }
        if namespace in self._origins:
            return [r for r in found if r.org_id().effective_namespace() == namespace]
        return [r for r in found if r.cur_id().effective_namespace() == namespace]


class _Fixer:
    """Rewrites the references at one referrer spec of one object."""

    def __init__(
        self, referrer: Res, ref: NameReference, spec: FieldSpec, candidates: _Candidates, where: str
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
            old = scalar_text(node)
            referral = self._referral(old, self.candidates.named(old), _same_names)
            if referral is not None and name_of(referral.obj) != scalar_text(node):
                draft.set(at, name_of(referral.obj))

    def _mapping(self, draft: Draft, at: Path, node: dict[str, Any]) -> None:
        if "name" not in node:
            raise BuildError(f"kustomize: {self.where}: {describe(draft.root)}: {self.spec.path} has no name")
        old = scalar_text(node["name"])
        field = scalar_text(node["namespace"]) if "namespace" in node else None
        key = (id(self.ref), old, field)
        memo = self.candidates.memo
        if key not in memo:  # webhooks name the same Service again and again
            candidates = self.candidates.named(old)
            if field is not None:
                candidates = self.candidates.in_namespace(candidates, field)
            referral = self._referral(old, candidates, _same_names_and_namespaces)
            memo[key] = None if referral is None else (name_of(referral.obj), namespace_of(referral.obj))
        found = memo[key]
        if found is None:
            return
        name, namespace = found
        if name == old and not namespace:
            return
        draft.set((*at, "name"), name)
        if namespace:
            draft.set((*at, "namespace"), namespace)

    def _referral(
        self, old: str, candidates: list[Res], identical: Callable[[list[Res]], bool]
    ) -> Res | None:
        """kustomize's selectReferral, among candidates that had the name ``old``."""
        ref = self.ref
        found = [
            r
            for r in candidates
            if any(p.gvk_selected_by(ref.group, ref.version, ref.kind) for p in r.prev_ids())
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


def _same_names(found: list[Res]) -> bool:
    return len({name_of(r.obj) for r in found}) == 1


def _same_names_and_namespaces(found: list[Res]) -> bool:
    return len({(name_of(r.obj), namespace_of(r.obj)) for r in found}) == 1
