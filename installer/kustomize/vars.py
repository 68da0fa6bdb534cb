"""``vars``: ``$(NAME)`` in var-reference fields stands for a field of one object of the build.

As in kustomize, vars declared anywhere in the tree reach the top, and are resolved once, after
every transformer ran and references were fixed (so a namespace set above flows into them).
``$$`` is a literal ``$``; an unknown name stays as written; a string that is exactly
``$(NAME)`` takes the value with its type.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from installer.errors import BuildError
from installer.kustomize.cow import deep_copy
from installer.kustomize.fieldspecs import FieldSpec
from installer.kustomize.resid import Res, split_api_version
from installer.objects import Obj

log = logging.getLogger(__name__)


class Var(NamedTuple):
    """A ``vars`` entry: ``$(name)`` stands for ``field_path`` of the object ``objref`` names."""

    name: str
    kind: str
    obj_name: str
    group: str | None
    version: str | None
    namespace: str | None
    field_path: str

    @staticmethod
    def parse(raw: Mapping[str, Any], where: str) -> Var:
        ref = raw.get("objref")
        if not raw.get("name") or not isinstance(ref, dict):
            raise BuildError(f"kustomize: {where}: a var needs a name and an objref")
        if not ref.get("kind") or not ref.get("name"):
            raise BuildError(f"kustomize: {where}: var {raw['name']}: objref needs kind and name")
        fieldref = raw.get("fieldref") or {}
        return Var(
            str(raw["name"]),
            str(ref["kind"]),
            str(ref["name"]),
            ref.get("group"),
            ref.get("version") or ref.get("apiVersion"),
            ref.get("namespace"),
            str(fieldref.get("fieldPath") or "metadata.name"),
        )


def field_value(obj: Obj, path: str) -> Any:
    """A field by kustomize's fieldPath syntax: ``spec.ports[0].port``."""
    node: Any = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return None
            node = node[index]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _var_value(var: Var, objs: list[Obj], where: str) -> Any:
    found = []
    for o in objs:
        group, version = split_api_version(str(o.get("apiVersion", "")))
        meta = o.get("metadata") or {}
        if (
            o.get("kind") == var.kind
            and meta.get("name") == var.obj_name
            and (var.group is None or var.group == group)
            and (var.version is None or var.version in (version, o.get("apiVersion")))
            and (var.namespace is None or var.namespace == meta.get("namespace"))
        ):
            found.append(o)
    if len(found) != 1:
        what = "no object" if not found else f"{len(found)} objects"
        raise BuildError(f"kustomize: {where}: var {var.name}: {what} match {var.kind}/{var.obj_name}")
    value = field_value(found[0], var.field_path)
    if value is None or isinstance(value, (dict, list)):
        raise BuildError(f"kustomize: {where}: var {var.name}: {var.field_path} is not a scalar field")
    return value


def expand(text: str, values: Mapping[str, Any], used: set[str]) -> Any:
    """kustomize's ``$(VAR)`` expansion of one string."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        close = text.find(")", i + 2) if nxt == "(" else -1
        if close < 0:
            out.append("$" + nxt)
            i += 2
            continue
        name = text[i + 2 : close]
        if name not in values:
            out.append(f"$({name})")
        elif text == f"$({name})":
            used.add(name)
            return values[name]
        else:
            used.add(name)
            value = values[name]
            out.append(("true" if value else "false") if isinstance(value, bool) else str(value))
        i = close + 1
    return "".join(out)


def resolve_vars(
    resources: list[Res], variables: list[Var], specs: tuple[FieldSpec, ...], where: str
) -> None:
    """Expand ``$(VAR)`` in the var-reference fields of every object (kustomize's ResolveVars)."""
    if not variables:
        return
    objs = [r.obj for r in resources]
    values = {v.name: _var_value(v, objs, where) for v in variables}
    used: set[str] = set()

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            return expand(value, values, used)
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        return value

    for res in resources:
        mine = [s for s in specs if s.applies_to(res.obj)]
        if not mine or "$" not in json.dumps(res.obj):
            continue
        new = deep_copy(res.obj)
        for spec in mine:
            _visit(new, tuple(p for p in spec.path.split("/") if p), substitute)
        res.update(new)
    unused = sorted(set(values) - used)
    if unused:
        log.warning("kustomize: %s: vars never used: %s", where, ", ".join(unused))


def _visit(node: Any, path: tuple[str, ...], update: Any) -> None:
    """Replace the value at ``path`` by ``update(value)``; lists along the way are walked item by item."""
    if isinstance(node, list):
        for item in node:
            _visit(item, path, update)
        return
    if not isinstance(node, dict) or not path:
        return
    head, rest = path[0], path[1:]
    if not rest:
        if head in node:
            node[head] = update(node[head])
        return
    if head in node:
        _visit(node[head], rest, update)
