"""kyaml field paths, as replacements use them: ``spec.template.spec.containers.[name=app].image``,
``webhooks.*.clientConfig.service.name``, ``metadata.annotations.[cert-manager.io/inject-ca-from]``,
``spec.dnsNames.0``.

Written here because these are kyaml's own semantics (no JSONPath or JSON-pointer library
has its list selectors, wildcards and create-on-the-way). Two readers, with kyaml's two
behaviours: :func:`lookup` finds one node (a replacement source;
``*`` is refused there, as kyaml refuses it) and :class:`Matcher` finds every node a path matches
in a draft, creating what is missing when asked (replacement targets with ``create``). Values
are plain Python objects; where kyaml works on a scalar's text, :func:`scalar_text` gives it.
"""

from __future__ import annotations

import re
from typing import Any

from installer import yamlio
from installer.errors import BuildError
from installer.kustomize.cow import Draft, Path
from installer.kustomize.fieldspecs import split_escaped
from installer.kustomize.resid import scalar_text


def split(path: str) -> list[str]:
    """kyaml's SmarterPathSplitter: dots separate, ``\\.`` is a dot, ``[a.b]`` is one map key and
    ``[name=a.b]`` one list selector."""
    plain = split_escaped(path, ".")
    out: list[str] = []
    i = 0
    while i < len(plain):
        elem = plain[i]
        if elem.startswith("[") and not elem.endswith("]"):
            group = [elem]
            while i < len(plain) - 1:
                i += 1
                group.append(plain[i])
                if plain[i].endswith("]"):
                    break
            joined = ".".join(group)
            elem = joined if "=" in joined else joined.strip("[]")
        out.append(elem)
        i += 1
    return [p.strip() for p in out if p.strip()]


def _is_index(part: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", part) is not None


def _selector(part: str, where: str) -> tuple[str, str]:
    key, sep, value = part[1:-1].partition("=")
    if not sep:
        raise BuildError(f"{where}: {part}: a list selector is [field=value]")
    return key, value


def _element_text(elem: Any, key: str) -> str | None:
    if not key:
        return None if isinstance(elem, (dict, list)) else scalar_text(elem)
    if not isinstance(elem, dict) or key not in elem:
        return None
    return scalar_text(elem[key])


def _kind_error(where: str, part: str, want: str, node: Any) -> BuildError:
    return BuildError(f"{where}: at {part!r}: expected a {want}, found {type(node).__name__}")


def lookup(obj: Any, parts: list[str], where: str) -> Any:
    """kyaml's PathGetter: the one node at ``parts``, or None when any step is missing."""
    node = obj
    for part in parts:
        if node is None:
            return None
        if part == "*":
            raise BuildError(f"{where}: a wildcard cannot select a replacement source")
        if _is_index(part) or part == "-":
            node = _index(node, part, where)
        elif part.startswith("[") and part.endswith("]"):
            key, value = _selector(part, where)
            if not isinstance(node, list):
                raise _kind_error(where, part, "list", node)
            node = next((e for e in node if _element_text(e, key) == value), None)
        else:
            if not isinstance(node, dict):
                raise _kind_error(where, part, "map", node)
            node = node.get(part)
    return node


def _index(node: Any, part: str, where: str) -> Any:
    if not isinstance(node, list):
        raise _kind_error(where, part, "list", node)
    if part == "-":
        return node[-1] if node else None
    index = int(part)
    if index < 0:
        raise BuildError(f"{where}: array index {index} cannot be negative")
    return node[index] if index < len(node) else None


class Matcher:
    """kyaml's PathMatcher over a draft: every node ``parts`` matches (``*`` = every item,
    ``[k=regex]`` = items whose ``k`` matches, ``N`` = item N). With ``create`` (the kind of
    the value to write: "map", "list" or "scalar"), missing fields are created on the way."""

    __slots__ = ("create", "draft", "where")

    def __init__(self, draft: Draft, create: str | None, where: str) -> None:
        self.draft, self.create, self.where = draft, create, where

    def match(self, at: Path, parts: list[str]) -> list[Path]:
        """The paths of the nodes ``parts`` matches below ``at``."""
        if not parts:
            return [at]
        node = self.draft.get(at)
        part = parts[0]
        if _is_index(part) and int(part) >= 0:
            return self._index(node, at, parts)
        if part.startswith("[") and part.endswith("]"):
            return self._select(node, at, parts)
        if part == "*":
            if node is None:
                return []
            if not isinstance(node, list):
                raise _kind_error(self.where, part, "list", node)
            return [p for i in range(len(node)) for p in self.match((*at, i), parts[1:])]
        return self._field(node, at, parts)

    def _new(self, parts: list[str]) -> Any:
        """A node for the first of ``parts``, shaped for what comes next (kyaml's getPathPartKind)."""
        nxt = parts[1] if len(parts) > 1 else ""
        if (nxt.startswith("[") and nxt.endswith("]")) or (_is_index(nxt) and int(nxt) >= 0):
            return []
        if not nxt:
            return {} if self.create == "map" else [] if self.create == "list" else ""
        return {}

    def _field(self, node: Any, at: Path, parts: list[str]) -> list[Path]:
        name = parts[0]
        if node is None:
            return []
        if not isinstance(node, dict):
            raise _kind_error(self.where, name, "map", node)
        if name not in node:
            if self.create is None:
                return []
            self.draft.set((*at, name), self._new(parts))
        return self.match((*at, name), parts[1:])

    def _index(self, node: Any, at: Path, parts: list[str]) -> list[Path]:
        index = int(parts[0])
        items = node if isinstance(node, list) else []
        if node is not None and not isinstance(node, list):
            raise _kind_error(self.where, parts[0], "list", node)
        if self.create is not None and index == len(items) and isinstance(node, list):
            self.draft.append(at, self._new(parts))
            items = self.draft.get(at)
        if index >= len(items):
            raise BuildError(f"{self.where}: index {index} specified but only {len(items)} elements found")
        return self.match((*at, index), parts[1:])

    def _select(self, node: Any, at: Path, parts: list[str]) -> list[Path]:
        key, pattern = _selector(parts[0], self.where)
        if node is None:
            return []
        if not isinstance(node, list):
            raise _kind_error(self.where, parts[0], "list", node)
        regex = re.compile(pattern)
        found = [
            p
            for i, elem in enumerate(node)
            if (text := _element_text(elem, key)) is not None and regex.search(text)
            for p in self.match((*at, i), parts[1:])
        ]
        if found or self.create is None:
            return found
        self.draft.append(at, {key: pattern} if key else pattern)
        return self._select(self.draft.get(at), at, parts)


def typed_like(text: str, old: Any, where: str) -> Any:
    """``text`` written into a scalar that held ``old``: kyaml keeps the scalar's YAML tag, so the
    result reads back with the old type (a string stays a string; a number takes the number)."""
    if isinstance(old, str):
        return text
    if old is None:
        return None  # the tag stays !!null: the value reads back as null, whatever the text
    parsed = _plain(text)
    if isinstance(old, bool) and isinstance(parsed, bool):
        return parsed
    if (
        isinstance(old, int)
        and not isinstance(old, bool)
        and isinstance(parsed, int)
        and not isinstance(parsed, bool)
    ):
        return parsed
    if isinstance(old, float) and isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        return float(parsed)
    raise BuildError(f"{where}: cannot write {text!r} into a {type(old).__name__} field")


def created(text: str) -> Any:
    """``text`` written into a scalar the replacement created (no tag: it reads back as YAML)."""
    return _plain(text)


def _plain(text: str) -> Any:
    if "\n" in text or not text:
        return text
    try:
        value = yamlio.load(text)
    except Exception:
        return text
    return text if isinstance(value, (dict, list)) else value
