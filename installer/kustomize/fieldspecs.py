"""Field specs: where in which objects a transformer acts, and the walk that finds those places.

A field spec is a GVK filter plus a slash-separated path (``spec/template/metadata/labels``;
``containers[]`` marks a list). Lists met along the path are walked item by item. With
``create``, missing maps on the way are created, as kustomize's fieldspec filter does; without
it, a missing field means "nothing to do here". The transformer configuration collects the
built-in specs and those ``configurations:`` files add; it travels up from a sub-kustomization
to the kustomization that includes it, as kustomize's accumulator does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from installer.errors import BuildError
from installer.kustomize import defaults, schema
from installer.kustomize.cow import Draft, Path
from installer.kustomize.resid import split_api_version
from installer.kustomize.tree import FileValue
from installer.objects import Obj, describe

MAP, SCALAR = "map", "scalar"
SetFn = Callable[[Draft, Path, Any], None]


class FieldSpec(NamedTuple):
    """kustomize's FieldSpec: a place (slash-separated ``path``) in objects of a GVK (blank =
    any), and whether missing maps on the way are created."""

    path: str
    kind: str = ""
    group: str = ""
    version: str = ""
    create: bool = False

    @staticmethod
    def parse(raw: Any, where: str) -> FieldSpec:
        schema.check(raw, schema.FIELD_SPEC, where, "field spec")
        if not isinstance(raw, dict) or not raw.get("path"):
            raise BuildError(f"kustomize: {where}: a field spec needs a path")
        get = raw.get
        return FieldSpec(
            str(raw["path"]), get("kind") or "", get("group") or "", get("version") or "", bool(get("create"))
        )

    def applies_to(self, obj: Obj) -> bool:
        """Whether the spec's GVK selects ``obj`` (kind first: it decides most cases)."""
        if self.kind and self.kind != obj.get("kind"):
            return False
        if not (self.group or self.version):
            return True
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        return (not self.group or self.group == group) and (not self.version or self.version == version)

    def same_place(self, other: FieldSpec) -> bool:
        """kustomize's effectivelyEquals: same path, and ``other``'s GVK (blanks = any) selects ours."""
        return (
            self.path == other.path
            and (not other.group or other.group == self.group)
            and (not other.version or other.version == self.version)
            and (not other.kind or other.kind == self.kind)
        )


def merge_specs(
    specs: tuple[FieldSpec, ...], incoming: Iterable[FieldSpec], where: str
) -> tuple[FieldSpec, ...]:
    """kustomize's FsSlice.MergeAll: add new places; the same place with another ``create`` is an error."""
    out = list(specs)
    for spec in incoming:
        known = next((s for s in out if s.same_place(spec)), None)
        if known is None:
            out.append(spec)
        elif known.create != spec.create:
            raise BuildError(
                f"kustomize: {where}: conflicting field specs for {spec.path} ({spec.kind or 'any kind'})"
            )
    return tuple(out)


def _builtin(specs: Iterable[defaults.Spec]) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(path, kind, group, version, create) for path, kind, group, version, create in specs
    )


class NameReference(NamedTuple):
    """Objects of ``kind`` (``group``/``version``) are referred to at ``referrers``."""

    kind: str
    group: str
    version: str
    referrers: tuple[FieldSpec, ...]


class TransformerConfig:
    """Field specs by category (``namespace``, ``commonLabels``, ``images``, ...) and name
    references: kustomize's TransformerConfig, built-in specs plus ``configurations:``."""

    __slots__ = ("name_references", "specs")

    def __init__(
        self,
        specs: dict[str, tuple[FieldSpec, ...]] | None = None,
        name_references: tuple[NameReference, ...] = (),
    ) -> None:
        self.specs: dict[str, tuple[FieldSpec, ...]] = specs if specs is not None else {}
        self.name_references = name_references

    @staticmethod
    def builtin() -> TransformerConfig:
        """kustomize's built-in configuration (a new object; its spec tuples are shared)."""
        return TransformerConfig(dict(_BUILTIN_SPECS), _BUILTIN_REFERENCES)

    def get(self, category: str) -> tuple[FieldSpec, ...]:
        return self.specs.get(category, ())

    def merge(self, other: TransformerConfig, where: str) -> None:
        """Add ``other``'s specs (kustomize's TransformerConfig.Merge). Every kustomization
        merges the built-in specs again: that case is recognised, not recomputed."""
        for category, specs in other.specs.items():
            current = self.get(category)
            if specs is current or not specs:
                continue
            self.specs[category] = specs if not current else merge_specs(current, specs, where)
        if other.name_references is self.name_references:
            return
        refs = list(self.name_references)
        for ref in other.name_references:
            key = (ref.kind, ref.group, ref.version)
            i = next((i for i, r in enumerate(refs) if (r.kind, r.group, r.version) == key), None)
            if i is None:
                refs.append(ref)
            elif refs[i] is not ref:
                merged = merge_specs(refs[i].referrers, ref.referrers, where)
                refs[i] = NameReference(ref.kind, ref.group, ref.version, merged)
        self.name_references = tuple(refs)


_BUILTIN_SPECS: dict[str, tuple[FieldSpec, ...]] = {
    "namespace": _builtin(defaults.NAMESPACE),
    "commonLabels": _builtin(defaults.COMMON_LABELS),
    "templateLabels": _builtin(defaults.METADATA_LABELS),
    "commonAnnotations": _builtin(defaults.COMMON_ANNOTATIONS),
    "varReference": _builtin(defaults.VAR_REFERENCE),
    "images": _builtin(defaults.IMAGES),
}
_BUILTIN_REFERENCES = tuple(
    NameReference(k, g, v, _builtin(refs)) for (k, g, v), refs in defaults.NAME_REFERENCE
)


def load_configuration(value: FileValue, where: str) -> TransformerConfig:
    """A ``configurations:`` file (kustomize decodes it strictly, and so does this)."""
    raw = schema.load_mapping(value, where)
    schema.check(raw, schema.CONFIGURATION, where, "")
    config = TransformerConfig()
    for category in schema.CONFIG_CATEGORIES:
        specs = [
            FieldSpec.parse(s, f"{where}: {category}[{i}]") for i, s in enumerate(raw.get(category) or [])
        ]
        config.specs[category] = merge_specs((), specs, where)
    refs = []
    for i, entry in enumerate(raw.get("nameReference") or []):
        get = entry.get
        specs = [FieldSpec.parse(s, f"{where}: nameReference[{i}]") for s in get("fieldSpecs") or []]
        refs.append(NameReference(get("kind") or "", get("group") or "", get("version") or "", tuple(specs)))
    config.name_references = tuple(refs)
    return config


# ---------------------------------------------------------------------------- the walk


def split_escaped(path: str, delimiter: str) -> list[str]:
    """kustomize's PathSplitter: ``delimiter`` separates, a backslash before it makes it part of
    the name, a leading delimiter is ignored. Field specs split on ``/``, field paths on ``.``."""
    parts = path.split(delimiter)
    if len(parts) > 1 and parts[0] == "":
        parts = parts[1:]
    out = [parts[0]]
    for part in parts[1:]:
        if out[-1].endswith("\\"):
            out[-1] = out[-1][:-1] + delimiter + part
        else:
            out.append(part)
    return out


@functools.cache
def split_path(path: str) -> tuple[str, ...]:
    """A field spec's path, split as kustomize splits it (remembered: specs are few, walks many)."""
    return tuple(split_escaped(path, "/"))


def apply_spec(draft: Draft, spec: FieldSpec, set_value: SetFn, create: str | None, where: str) -> None:
    """Call ``set_value(draft, path, value)`` at every place ``spec`` names in the draft's object.

    ``create`` is what to create at the end of a missing path (MAP, SCALAR, or None for never),
    used only when the spec says ``create``.
    """
    if spec.applies_to(draft.root):
        _Walk(draft, spec, set_value, create if spec.create else None, where).walk((), split_path(spec.path))


class _Walk:
    """One walk of one field spec through one draft (kustomize's fieldspec filter)."""

    __slots__ = ("create", "draft", "set_value", "spec", "where")

    def __init__(
        self, draft: Draft, spec: FieldSpec, set_value: SetFn, create: str | None, where: str
    ) -> None:
        self.draft, self.spec, self.set_value, self.create, self.where = draft, spec, set_value, create, where

    def walk(self, at: Path, rest: tuple[str, ...]) -> None:
        node = self.draft.get(at)
        if not rest:
            self.set_value(self.draft, at, node)
        elif isinstance(node, list):
            for i in range(len(node)):
                self.walk((*at, i), rest)
        elif isinstance(node, dict):
            self.field(node, at, rest)
        elif node is not None:
            raise BuildError(
                f"kustomize: {self.where}: {describe(self.draft.root)}: {self.spec.path}: "
                f"expected a map or a list at {'/'.join(map(str, at))}"
            )

    def field(self, node: dict[str, Any], at: Path, rest: tuple[str, ...]) -> None:
        """One path step in a map; what kustomize's fieldspec filter does in handleMap."""
        name = rest[0].removesuffix("[]")
        if not name:
            raise BuildError(
                f"kustomize: {self.where}: field spec {self.spec.path!r} has an empty field name"
            )
        is_list = name != rest[0]
        kind = (
            ("list" if is_list else None)
            if self.create is None or is_list
            else (self.create if len(rest) == 1 else MAP)
        )
        if name not in node:
            if kind is None or kind == "list":
                return
            self.draft.set((*at, name), {} if kind == MAP else "")
        elif node[name] is None and kind is not None:
            # kustomize turns an explicit null into the kind it expects there
            self.draft.set((*at, name), {} if kind == MAP else [] if kind == "list" else "")
        self.walk((*at, name), rest[1:])


def set_pairs(pairs: dict[str, str], where: str) -> SetFn:
    """A setter that adds ``pairs`` to the map it finds (labels, annotations)."""

    def setter(draft: Draft, at: Path, node: Any) -> None:
        if node is None:
            draft.set(at, dict(pairs))
            return
        if not isinstance(node, dict):
            raise BuildError(
                f"kustomize: {where}: {describe(draft.root)}: {'/'.join(map(str, at))} is not a map"
            )
        for key, value in pairs.items():
            draft.set((*at, key), value)

    return setter


def set_scalar(value: str, where: str) -> SetFn:
    """A setter that writes ``value`` into the scalar it finds (namespaces)."""

    def setter(draft: Draft, at: Path, node: Any) -> None:
        if isinstance(node, (dict, list)):
            place = "/".join(map(str, at))
            raise BuildError(
                f"kustomize: {where}: {describe(draft.root)}: {place}: field specs must target scalars"
            )
        draft.set(at, value)

    return setter
