"""The shape of kustomization and configuration files, checked before anything is built.

kustomize decodes a kustomization strictly (unknown fields and wrongly typed values are errors),
and so does this engine, with one more rule: a field kustomize knows but this engine does not
implement is refused by name, never ignored, because ignoring it would build something else
than kustomize would. Every message names the file and the field path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from installer import yamlio
from installer.errors import BuildError
from installer.kustomize.tree import FileValue

# A shape is a scalar type name, ("list", shape), ("map", shape), a struct (field -> shape), or
# ANY. None (YAML null) is accepted everywhere: kustomize's decoder treats it as absent.
Shape = Any
ANY: Final = "any"
STR: Final = "string"
BOOL: Final = "boolean"
INT: Final = "integer"
STRINGS: Final = ("list", STR)
STRING_MAP: Final = ("map", STR)

GVK = {"group": STR, "version": STR, "kind": STR}
FIELD_SPEC = {**GVK, "path": STR, "create": BOOL}
RESID = {**GVK, "name": STR, "namespace": STR}
SELECTOR = {**RESID, "labelSelector": STR, "annotationSelector": STR}
FIELD_OPTIONS = {"delimiter": STR, "index": INT, "create": BOOL}
REPLACEMENT = {
    "source": {**RESID, "fieldPath": STR, "options": FIELD_OPTIONS},
    "targets": (
        "list",
        {"select": SELECTOR, "reject": ("list", SELECTOR), "fieldPaths": STRINGS, "options": FIELD_OPTIONS},
    ),
}
GENERATOR_OPTIONS = {
    "labels": STRING_MAP,
    "annotations": STRING_MAP,
    "disableNameSuffixHash": BOOL,
    "immutable": BOOL,
}

KUSTOMIZATION: Final = {
    "apiVersion": STR,
    "kind": STR,
    "metadata": ANY,
    "resources": STRINGS,
    "bases": STRINGS,
    "components": STRINGS,
    "namespace": STR,
    "patches": ("list", {"path": STR, "patch": STR, "target": SELECTOR}),
    "labels": (
        "list",
        {
            "pairs": STRING_MAP,
            "includeSelectors": BOOL,
            "includeTemplates": BOOL,
            "fields": ("list", FIELD_SPEC),
        },
    ),
    "commonAnnotations": STRING_MAP,
    "images": ("list", {"name": STR, "newName": STR, "newTag": STR, "digest": STR, "tagSuffix": STR}),
    "replacements": ("list", {"path": STR, **REPLACEMENT}),
    "configMapGenerator": (
        "list",
        {
            "name": STR,
            "namespace": STR,
            "behavior": STR,
            "files": STRINGS,
            "literals": STRINGS,
            "options": GENERATOR_OPTIONS,
        },
    ),
    "generatorOptions": GENERATOR_OPTIONS,
    "configurations": STRINGS,
    "transformers": STRINGS,
    "vars": (
        "list",
        {
            "name": STR,
            "objref": {**RESID, "apiVersion": STR},
            "fieldref": {"fieldPath": STR},
        },
    ),
}
# Fields kustomize has that this engine does not implement (refused by name).
UNSUPPORTED: Final = frozenset(
    {
        "namePrefix",
        "nameSuffix",
        "commonLabels",
        "patchesStrategicMerge",
        "patchesJson6902",
        "imageTags",
        "replicas",
        "secretGenerator",
        "helmCharts",
        "helmGlobals",
        "helmChartInflationGenerator",
        "generators",
        "validators",
        "crds",
        "openapi",
        "sortOptions",
        "buildMetadata",
    }
)
# Nested fields kustomize has that this engine does not implement.
UNSUPPORTED_NESTED: Final = frozenset({"options", "envs", "env", "encoding"})

CONFIG_CATEGORIES: Final = (
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "templateLabels",
    "commonAnnotations",
    "varReference",
    "images",
    "replicas",
)
CONFIGURATION: Final = {
    **{c: ("list", FIELD_SPEC) for c in CONFIG_CATEGORIES},
    "nameReference": ("list", {**GVK, "fieldSpecs": ("list", FIELD_SPEC)}),
}
KINDS: Final = {
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
    "Component": "kustomize.config.k8s.io/v1alpha1",
}


def load_yaml(value: FileValue, where: str) -> Any:
    """One YAML document of a text file."""
    if not isinstance(value, str):
        raise BuildError(f"kustomize: {where}: must be a YAML file")
    try:
        return yamlio.load(value)
    except Exception as exc:
        raise BuildError(f"kustomize: {where}: not valid YAML: {' '.join(str(exc).split())}") from None


def load_mapping(value: FileValue, where: str) -> dict[str, Any]:
    """A YAML file that must be a mapping (a kustomization, a configuration)."""
    data = load_yaml(value, where)
    if not isinstance(data, dict):
        raise BuildError(f"kustomize: {where}: must be a mapping")
    return data


def load_kustomization(value: FileValue, where: str) -> dict[str, Any]:
    """A kustomization file, checked: its kind (Kustomization or Component), apiVersion, fields."""
    spec = load_mapping(value, where)
    for key in spec:
        if key in UNSUPPORTED:
            raise BuildError(f"kustomize: {where}: unsupported field {key!r}")
    check(spec, KUSTOMIZATION, where, "")
    kind = spec.get("kind") or "Kustomization"
    if kind not in KINDS:
        raise BuildError(f"kustomize: {where}: kind should be Kustomization or Component, not {kind!r}")
    if spec.get("apiVersion") and spec["apiVersion"] != KINDS[kind]:
        raise BuildError(f"kustomize: {where}: apiVersion for {kind} should be {KINDS[kind]}")
    if all(v is None for k, v in spec.items() if k not in ("apiVersion", "kind")):
        raise BuildError(f"kustomize: {where}: the kustomization is empty")
    return spec


def check(value: Any, shape: Shape, where: str, path: str) -> None:
    """Raise a BuildError naming ``path`` when ``value`` does not have ``shape``."""
    if value is None or shape == ANY:
        return
    if isinstance(shape, dict):
        _check_struct(value, shape, where, path)
    elif isinstance(shape, tuple):
        container, inner = shape
        if container == "list":
            if not isinstance(value, list):
                raise BuildError(f"kustomize: {where}: {path}: must be a list")
            for i, item in enumerate(value):
                check(item, inner, where, f"{path}[{i}]")
        else:
            if not isinstance(value, dict):
                raise BuildError(f"kustomize: {where}: {path}: must be a mapping")
            for k, item in value.items():
                check(item, inner, where, f"{path}.{k}")
    elif not _is_scalar(value, shape):
        raise BuildError(f"kustomize: {where}: {path}: must be a {shape}, not {value!r}")


def _check_struct(value: Any, shape: Mapping[str, Shape], where: str, path: str) -> None:
    if not isinstance(value, dict):
        raise BuildError(f"kustomize: {where}: {path or 'the file'}: must be a mapping")
    for key, item in value.items():
        field = f"{path}.{key}" if path else str(key)
        if key not in shape:
            what = "unsupported" if key in UNSUPPORTED_NESTED else "unknown"
            raise BuildError(f"kustomize: {where}: {what} field {field!r}")
        check(item, shape[key], where, field)


def _is_scalar(value: Any, shape: str) -> bool:
    if shape == STR:
        return isinstance(value, str)
    if shape == BOOL:
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool)
