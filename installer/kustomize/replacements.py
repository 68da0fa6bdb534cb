"""``replacements:``: copy a field of one object into fields of others (kustomize's
ReplacementTransformer).

A source selects exactly one object (by exact group/version/kind/name/namespace, against its
current or previous ids) and reads one field (``metadata.name`` by default), optionally one part
of it (``options.delimiter`` and ``index``). Each target selects objects (``select``, minus
``reject``; label and annotation selectors included) and writes the value into every field its
``fieldPaths`` match; with a delimiter, into one part of the field (a negative index prepends, an
index past the end appends); with ``create``, missing fields are made. A scalar keeps its type
(kyaml copies the text and keeps the tag).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from installer.errors import BuildError
from installer.kustomize import paths, schema
from installer.kustomize.cow import Draft, Path
from installer.kustomize.resid import Res, ResId, name_of, scalar_text
from installer.kustomize.selectors import ids_for_replacement, matches_label_and_annotation, resid_of
from installer.kustomize.tree import FileValue
from installer.objects import Obj, describe

DEFAULT_FIELD_PATH = "metadata.name"
Reader = Callable[[str], tuple[str, FileValue]]


class Value(NamedTuple):
    """A source's value: the node itself, and the text kyaml copies into scalar targets."""

    node: Any  # what replaces a map or list
    text: str  # what a scalar receives


def load_replacements(entries: list[Mapping[str, Any]], read: Reader, where: str) -> list[Mapping[str, Any]]:
    """Inline replacements and those of ``path:`` files (a list of them, or one)."""
    out: list[Mapping[str, Any]] = []
    for i, entry in enumerate(entries):
        here = f"{where}: replacements[{i}]"
        if not entry.get("path"):
            out.append(entry)
            continue
        if entry.get("source") or entry.get("targets"):
            raise BuildError(f"kustomize: {here}: give either a path or an inline replacement, not both")
        fpath, text = read(str(entry["path"]))
        loaded = schema.load_yaml(text, f"{here}: {fpath}")
        items = loaded if isinstance(loaded, list) else [loaded]
        for j, item in enumerate(items):
            schema.check(item, schema.REPLACEMENT, f"{here}: {fpath}", f"[{j}]")
            out.append(item)
    return out


def apply_replacements(resources: list[Res], replacements: list[Mapping[str, Any]], where: str) -> None:
    """Apply ``replacements`` in order; each sees what the previous ones wrote."""
    for i, r in enumerate(replacements):
        here = f"kustomize: {where}: replacements[{i}]"
        if not r.get("source") or r.get("targets") is None:
            raise BuildError(f"{here}: a replacement needs a source and targets")
        value = _source_value(resources, r["source"], here)
        for j, target in enumerate(r["targets"]):
            _apply_target(resources, value, target, f"{here}.targets[{j}]")


def _source_value(resources: list[Res], source: Mapping[str, Any], where: str) -> Value:
    """The value a source selects; exactly one object must match, and the field must be set."""
    selector = resid_of(source)
    found = [r for r in resources if any(i.selected_by(selector) for i in ids_for_replacement(r))]
    if len(found) != 1:
        what = "nothing is" if not found else f"{len(found)} objects are"
        raise BuildError(f"{where}: {what} selected by source {selector}")
    field_path = source.get("fieldPath") or DEFAULT_FIELD_PATH
    node = paths.lookup(found[0].obj, paths.split(field_path), f"{where}: source")
    if node is None or node in ({}, []):
        raise BuildError(f"{where}: the source {describe(found[0].obj)} has no {field_path}")
    options = source.get("options") or {}
    if not options.get("delimiter"):
        return Value(node, scalar_text(node))
    if isinstance(node, (dict, list)):
        raise BuildError(f"{where}: options.delimiter needs a scalar source field")
    pieces = scalar_text(node).split(options["delimiter"])
    index = int(options.get("index") or 0)
    if not 0 <= index < len(pieces):
        raise BuildError(f"{where}: options.index {index} is out of bounds for {scalar_text(node)!r}")
    piece = pieces[index]
    return Value(piece if isinstance(node, str) else paths.created(piece), piece)


def _apply_target(resources: list[Res], value: Value, target: Mapping[str, Any], where: str) -> None:
    """Write ``value`` into every object ``target`` selects and does not reject."""
    select = target.get("select")
    if select is None:
        raise BuildError(f"{where}: a target needs select")
    wanted = resid_of(select)
    rejects = target.get("reject") or []
    for res in resources:
        if not _labels_allow(res, select, rejects, where):
            continue
        ids = ids_for_replacement(res)
        if any(i.selected_by(wanted) for i in ids) and not _rejected(rejects, ids):
            _write(res, value, target, where)


def _labels_allow(res: Res, select: Mapping[str, Any], rejects: list[Mapping[str, Any]], where: str) -> bool:
    if not matches_label_and_annotation(res, select, where):
        return False
    return not any(
        (r.get("labelSelector") or r.get("annotationSelector"))
        and matches_label_and_annotation(res, r, where)
        for r in rejects
    )


def _rejected(rejects: list[Mapping[str, Any]], ids: list[ResId]) -> bool:
    for raw in rejects:
        rid = resid_of(raw)
        if rid != ResId() and any(i.selected_by(rid) for i in ids):
            return True
    return False


def _write(res: Res, value: Value, target: Mapping[str, Any], where: str) -> None:
    """Write ``value`` at every field path of ``target`` in one object (missing fields are an
    error unless ``options.create``)."""
    options = target.get("options") or {}
    create = None
    if options.get("create"):
        create = (
            "map" if isinstance(value.node, dict) else "list" if isinstance(value.node, list) else "scalar"
        )
    draft = Draft(res.obj)
    writer = _Writer(value, options, res.obj, where)
    for field_path in target.get("fieldPaths") or [DEFAULT_FIELD_PATH]:
        matcher = paths.Matcher(draft, create, f"{where}: {describe(res.obj)}: {field_path}")
        found = matcher.match((), paths.split(field_path))
        if not found:
            verb = "find or create" if create else "find"
            raise BuildError(f"{where}: unable to {verb} field {field_path!r} in {describe(res.obj)}")
        for at in found:
            writer.set(draft, at)
    if name_of(draft.root) != name_of(res.obj):
        # kustomize would then rewrite every reference to the old name; this engine never renames.
        raise BuildError(f"{where}: renaming {describe(res.obj)} with a replacement is not supported")
    res.update(draft.root)


class _Writer:
    """Writes a replacement's value into one target field, as kyaml's setFieldValue does."""

    __slots__ = ("options", "original", "value", "where")

    def __init__(self, value: Value, options: Mapping[str, Any], original: Obj, where: str) -> None:
        self.value, self.options, self.where = value, options, where
        self.original = original  # the target before this replacement: fields it lacked were created now

    def set(self, draft: Draft, at: Path) -> None:
        current = draft.get(at)
        text = self.value.text
        delimiter = self.options.get("delimiter")
        if delimiter:
            if isinstance(current, (dict, list)):
                raise BuildError(f"{self.where}: options.delimiter needs a scalar target field")
            parts = scalar_text(current).split(delimiter)
            index = int(self.options.get("index") or 0)
            if index < 0:
                parts.insert(0, text)
            elif index >= len(parts):
                parts.append(text)
            else:
                parts[index] = text
            text = str(delimiter).join(parts)
        if isinstance(current, (dict, list)):
            draft.set(at, copy.deepcopy(self.value.node))
        elif self.created(at):
            draft.set(at, paths.created(text))
        else:
            draft.set(at, paths.typed_like(text, current, self.where))

    def created(self, at: Path) -> bool:
        node: Any = self.original
        for key in at:
            present = (
                key in node if isinstance(node, dict) else isinstance(node, list) and int(key) < len(node)
            )
            if not present:
                return True
            node = node[key]
        return False
