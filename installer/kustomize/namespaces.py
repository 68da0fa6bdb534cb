"""``namespace:``: kustomize's namespace transformer.

- ``metadata.namespace`` is set on every object whose kind kustomize does not know to be
  cluster-scoped (custom resources included, whatever their CRD says, as kustomize does);
- the field specs of the ``namespace`` category are set too: Namespace objects (apiVersion v1)
  are renamed, APIServices and CRD conversion webhooks point at the new namespace, and so does
  any place a ``configurations:`` file names;
- (Cluster)RoleBinding subjects named ``default`` get the namespace (kustomize's default
  ``setRoleBindingSubjects: defaultOnly``).

Every object's id before the move is remembered: patches, replacements and the final fix-up of
references (:mod:`.nameref`) still find objects by the ids they had.
"""

from __future__ import annotations

from typing import Any

from installer.errors import BuildError
from installer.kustomize.cow import Draft, deep_copy
from installer.kustomize.fieldspecs import SCALAR, FieldSpec, apply_spec, set_scalar
from installer.kustomize.resid import Res, is_cluster_scoped
from installer.objects import Obj, describe

_ROLE_BINDINGS = ("RoleBinding", "ClusterRoleBinding")
_WEBHOOKS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
# Kinds whose references follow the namespace (see _fresh_references).
_REFERRERS = frozenset({*_ROLE_BINDINGS, *_WEBHOOKS, "CustomResourceDefinition", "APIService"})


def set_namespace(resources: list[Res], namespace: str, specs: tuple[FieldSpec, ...], where: str) -> None:
    """Move ``resources`` (in place: each gets its new object) to ``namespace``."""
    setter = set_scalar(namespace, where)
    by_kind: dict[str, list[FieldSpec]] = {}
    for spec in specs:
        by_kind.setdefault(spec.kind, []).append(spec)
    for res in resources:
        res.store_previous_id()
        kind = str(res.obj.get("kind"))
        mine = _specs_for(res, [*by_kind.get("", ()), *by_kind.get(kind, ())])
        if not mine and kind not in _REFERRERS:
            res.update(_with_namespace(res.obj, namespace, where))
            continue
        draft = Draft(_with_namespace(res.obj, namespace, where))
        if kind in _ROLE_BINDINGS:
            _default_subjects(draft, namespace, where)
        for spec in mine:
            apply_spec(draft, spec, setter, SCALAR, where)
        res.update(_fresh_references(draft))
    _check_unique(resources, where)


def _with_namespace(obj: Obj, namespace: str, where: str) -> Obj:
    """``metadata.namespace`` set (what the field spec ``metadata/namespace``, create, does),
    unless the kind is cluster-scoped; written out, as it runs on every object of every build."""
    if is_cluster_scoped(obj):
        return obj
    metadata = obj.get("metadata")
    if metadata is None:
        return {**obj, "metadata": {"namespace": namespace}}
    if not isinstance(metadata, dict) or isinstance(metadata.get("namespace"), (dict, list)):
        raise BuildError(f"kustomize: {where}: {describe(obj)}: metadata.namespace must be a string")
    if metadata.get("namespace") == namespace:
        return obj
    return {**obj, "metadata": {**metadata, "namespace": namespace}}


def _fresh_references(draft: Draft) -> Obj:
    """The object, with fresh copies of the parts whose references follow the namespace.

    Webhook services, binding subjects, CRD conversion and APIService services are rewritten
    later (here or by :mod:`.nameref`) only where they point into a namespace that moved. Copying
    them either way means the render writes them the same way (never as reused upstream text),
    whether or not the chosen namespace is the one upstream wrote.
    """
    obj = draft.root
    kind = obj.get("kind")
    if kind in _WEBHOOKS and isinstance(obj.get("webhooks"), list):
        draft.own(("webhooks",))
    elif kind in _ROLE_BINDINGS and isinstance(obj.get("subjects"), list):
        draft.own(("subjects",))
    elif copied_whole(obj):
        return deep_copy(obj)
    return draft.root


def copied_whole(obj: Obj) -> bool:
    """Whether the transformer copies ``obj`` whole (:func:`_fresh_references`): a CRD with a
    conversion webhook service, an APIService with a service. No value of such an object is
    the pre-build's any more, so the render dumps all of it (:mod:`installer.textahead`)."""
    kind = obj.get("kind")
    return (
        kind == "CustomResourceDefinition"
        and _has_service(obj, ("spec", "conversion", "webhook", "clientConfig", "service"))
    ) or (kind == "APIService" and _has_service(obj, ("spec", "service")))


def _has_service(obj: Obj, path: tuple[str, ...]) -> bool:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return isinstance(node, dict)


def _specs_for(res: Res, specs: list[FieldSpec]) -> list[FieldSpec]:
    """The specs that apply, without those kustomize handles by hand (metadata.namespace; names
    of non-v1 objects; binding subjects)."""
    api = res.obj.get("apiVersion")
    binding = res.obj.get("kind") in _ROLE_BINDINGS
    return [
        s
        for s in specs
        if s.path != "metadata/namespace"
        and not (s.path == "metadata/name" and api != "v1")
        and not (binding and s.kind in _ROLE_BINDINGS and s.path == "subjects/namespace")
    ]


def _default_subjects(draft: Draft, namespace: str, where: str) -> None:
    """kustomize's default for bindings: subjects named ``default`` get the namespace."""
    subjects = draft.root.get("subjects")
    if subjects is None:
        return
    if not isinstance(subjects, list):
        raise BuildError(f"kustomize: {where}: {describe(draft.root)}: subjects must be a list")
    for i, subject in enumerate(subjects):
        if isinstance(subject, dict) and subject.get("name") == "default":
            draft.set(("subjects", i, "namespace"), namespace)


def _check_unique(resources: list[Res], where: str) -> None:
    """Moving objects into one namespace must not make two of them the same object."""
    seen: set[tuple[str, str, str, str, str]] = set()
    for res in resources:
        if res.key() in seen:
            raise BuildError(f"kustomize: {where}: the namespace makes two objects {describe(res.obj)}")
        seen.add(res.key())
