"""Labels and annotations: ``labels:``, ``commonAnnotations:`` and the builtin LabelTransformer
and AnnotationsTransformer of ``transformers:``.

Where labels go is kustomize's rule: a ``labels:`` entry writes ``metadata.labels`` only, plus
pod templates with ``includeTemplates``, plus selectors (and templates) with
``includeSelectors``, plus its own ``fields`` and the ``labels`` field specs of configurations.
New keys are added after the existing ones, in the order the kustomization gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from installer.errors import BuildError
from installer.kustomize import schema
from installer.kustomize.cow import Draft
from installer.kustomize.fieldspecs import (
    MAP,
    FieldSpec,
    TransformerConfig,
    apply_spec,
    merge_specs,
    set_pairs,
)
from installer.kustomize.resid import Res
from installer.objects import Obj

_METADATA_LABELS = FieldSpec("metadata/labels", create=True)
BUILTIN_TRANSFORMERS = {"LabelTransformer": "labels", "AnnotationsTransformer": "annotations"}
_CONFIG_COMMON = {"apiVersion": schema.STR, "kind": schema.STR, "metadata": schema.ANY}


def label_specs(entry: Mapping[str, Any], config: TransformerConfig, where: str) -> tuple[FieldSpec, ...]:
    """Where one ``labels:`` entry writes (kustomize's LabelTransformer configuration)."""
    own = [FieldSpec.parse(f, f"{where}.fields[{i}]") for i, f in enumerate(entry.get("fields") or [])]
    specs = merge_specs(merge_specs((), own, where), config.get("labels"), where)
    if entry.get("includeSelectors"):
        return merge_specs(specs, config.get("commonLabels"), where)
    if entry.get("includeTemplates"):
        specs = merge_specs(specs, config.get("templateLabels"), where)
    return merge_specs(specs, (_METADATA_LABELS,), where)


def add_pairs(
    resources: list[Res], pairs: Mapping[str, str], specs: tuple[FieldSpec, ...], where: str
) -> None:
    """Add ``pairs`` to the maps at ``specs`` in every object (created where a spec says so)."""
    if not pairs:
        return
    setter = set_pairs(dict(pairs), where)
    for res in resources:
        obj = res.obj
        draft: Draft | None = None
        for spec in specs:
            labeled = _metadata_labels(obj, pairs) if spec == _METADATA_LABELS and draft is None else None
            if labeled is not None:
                obj = labeled
                continue
            draft = draft or Draft(obj)
            apply_spec(draft, spec, setter, MAP, where)
        res.update(draft.root if draft else obj)


def _metadata_labels(obj: Obj, pairs: Mapping[str, str]) -> Obj | None:
    """The spec ``metadata/labels`` (create), written out for the usual shapes, as it runs on
    every object of every build with labels; None leaves anything unusual to the field-spec walk."""
    metadata = obj.get("metadata")
    if metadata is None:
        return {**obj, "metadata": {"labels": dict(pairs)}}
    if not isinstance(metadata, dict):
        return None
    labels = metadata.get("labels")
    if labels is None:
        return {**obj, "metadata": {**metadata, "labels": dict(pairs)}}
    if not isinstance(labels, dict):
        return None
    if all(labels.get(k) == v for k, v in pairs.items()):
        return obj
    return {**obj, "metadata": {**metadata, "labels": {**labels, **pairs}}}


def apply_builtin_transformer(resources: list[Res], cfg: Any, where: str) -> None:
    """A builtin LabelTransformer or AnnotationsTransformer from ``transformers:``."""
    kind = cfg.get("kind") if isinstance(cfg, dict) else None
    if not isinstance(cfg, dict) or cfg.get("apiVersion") != "builtin" or kind not in BUILTIN_TRANSFORMERS:
        raise BuildError(f"kustomize: {where}: unsupported transformer {kind}")
    key = BUILTIN_TRANSFORMERS[kind]
    schema.check(
        cfg, {**_CONFIG_COMMON, key: schema.STRING_MAP, "fieldSpecs": ("list", schema.FIELD_SPEC)}, where, ""
    )
    pairs = cfg.get(key) or {}
    specs = merge_specs((), (FieldSpec.parse(f, where) for f in cfg.get("fieldSpecs") or []), where)
    add_pairs(resources, pairs, specs, where)
