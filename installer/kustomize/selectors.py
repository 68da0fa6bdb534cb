"""Which objects a patch or a replacement applies to.

Two kinds of selectors, as in kustomize:

- patch targets (:class:`Target`): group, version, kind, name and namespace are anchored regular
  expressions; name and namespace match the object's current or original value (before a
  namespace transformer moved it);
- replacement sources and targets (:func:`select_ids`): exact values against any of the object's
  ids, current or previous.

Both may carry Kubernetes label and annotation selectors (``app=x,tier in (a,b),!legacy``),
parsed here with the grammar of apimachinery's ``labels.Parse``: no maintained Python package
parses Kubernetes selectors (the official client only passes them to the API server), and the
grammar is small. Go's RE2 and Python's ``re`` agree on the patterns kustomizations use (names,
alternations, ``.*``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from installer.errors import BuildError
from installer.kustomize.resid import Res, ResId, meta

# ---------------------------------------------------------------------------- label selectors

# Patterns as strings: ``re`` compiles and caches them on first use, not when a render imports.
_TOKEN = r"\s*(==|!=|=|!|\(|\)|,|[A-Za-z0-9._/-]+)"  # noqa: S105 (a lexer's token, not a password)
_KEY = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"


class Requirement(NamedTuple):
    """One term of a label selector (``key``, ``!key``, ``key in (..)``, ``key notin (..)``;
    ``=``/``==``/``!=`` are in/notin of one value)."""

    key: str
    op: str  # exists, !, in, notin
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        present = self.key in labels
        value = str(labels.get(self.key))
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op == "in":
            return present and value in self.values
        return not present or value not in self.values


def parse_selector(text: str, where: str) -> tuple[Requirement, ...]:
    """A label selector (``labels.Parse`` syntax); a malformed one is an error, never "match all"."""
    tokens = _tokens(text, where)
    reqs: list[Requirement] = []
    pos = 0
    while pos < len(tokens):
        req, pos = _requirement(tokens, pos, f"{where}: selector {text!r}")
        reqs.append(req)
        if pos < len(tokens):
            if tokens[pos] != ",":
                raise BuildError(f"{where}: selector {text!r}: expected ',' before {tokens[pos]!r}")
            pos += 1
            if pos == len(tokens):
                raise BuildError(f"{where}: selector {text!r}: ends with ','")
    return tuple(reqs)


def _tokens(text: str, where: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = re.compile(_TOKEN).match(text, pos)
        if not m:
            raise BuildError(f"{where}: selector {text!r}: unexpected {text[pos:].strip()[:1]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def _requirement(tokens: list[str], pos: int, where: str) -> tuple[Requirement, int]:
    if tokens[pos] == "!":
        key = _key(tokens, pos + 1, where)
        return Requirement(key, "!"), pos + 2
    key = _key(tokens, pos, where)
    pos += 1
    op = tokens[pos] if pos < len(tokens) else ","
    if op == ",":
        return Requirement(key, "exists"), pos
    if op in ("=", "==", "!="):
        value = tokens[pos + 1] if pos + 1 < len(tokens) and tokens[pos + 1] not in (",", "(", ")") else ""
        _check_value(value, where)
        step = 2 if value else 1
        return Requirement(key, "notin" if op == "!=" else "in", frozenset({value})), pos + step
    if op in ("in", "notin"):
        values, pos = _value_set(tokens, pos + 1, where)
        return Requirement(key, op, values), pos
    raise BuildError(f"{where}: unexpected {op!r} after {key!r}")


def _key(tokens: list[str], pos: int, where: str) -> str:
    key = tokens[pos] if pos < len(tokens) else ""
    if not re.fullmatch(_KEY, key):
        raise BuildError(f"{where}: {key!r} is not a valid label key")
    return key


def _check_value(value: str, where: str) -> None:
    if not re.fullmatch(_VALUE, value):
        raise BuildError(f"{where}: {value!r} is not a valid label value")


def _value_set(tokens: list[str], pos: int, where: str) -> tuple[frozenset[str], int]:
    if pos >= len(tokens) or tokens[pos] != "(":
        raise BuildError(f"{where}: expected '(' after in/notin")
    values: set[str] = set()
    pos += 1
    while pos < len(tokens) and tokens[pos] != ")":
        if tokens[pos] != ",":
            _check_value(tokens[pos], where)
            values.add(tokens[pos])
        pos += 1
    if pos >= len(tokens):
        raise BuildError(f"{where}: missing ')'")
    if not values:
        raise BuildError(f"{where}: in/notin needs at least one value")
    return frozenset(values), pos + 1


def selector_matches(reqs: tuple[Requirement, ...], labels: Any) -> bool:
    """All terms hold for ``labels`` (an empty selector matches everything)."""
    found = labels if isinstance(labels, dict) else {}
    return all(r.matches(found) for r in reqs)


# ---------------------------------------------------------------------------- patch targets


def _anchored(pattern: str, where: str) -> re.Pattern[str] | str | None:
    """The pattern compiled, or the plain string it stands for when it has no operators (the
    render's targets are escaped names: comparing strings is what makes hundreds of them cheap)."""
    if not pattern:
        return None
    try:
        return _compile(pattern)
    except re.error as exc:
        raise BuildError(f"{where}: {pattern!r} is not a valid regular expression: {exc}") from None


@functools.cache
def _compile(pattern: str) -> re.Pattern[str] | str:
    literal = re.sub(_UNESCAPE, r"\1", pattern)
    if re.escape(literal) == pattern or re.fullmatch(_PLAIN, pattern):
        return literal
    return re.compile(f"(?:{pattern})")


_UNESCAPE = r"\\([^A-Za-z0-9])"
_PLAIN = r"[A-Za-z0-9_-]*"


class Target:
    """A ``target:`` of a patch (kustomize's Selector with regular expressions)."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        get = raw.get
        self.regex = {
            k: _anchored(str(get(k) or ""), where) for k in ("group", "version", "kind", "name", "namespace")
        }
        self.labels = parse_selector(str(get("labelSelector") or ""), where)
        self.annotations = parse_selector(str(get("annotationSelector") or ""), where)

    def select(self, resources: list[Res]) -> list[Res]:
        """kustomize's resWrangler.Select: name and namespace may match the original or the
        current value, the GVK the current one; labels and annotations the current ones."""
        kind = self.regex["kind"]
        if isinstance(kind, str):  # most targets name a kind: test that first, inline
            resources = [res for res in resources if res.obj.get("kind") == kind]
        return [res for res in resources if self.matches(res)]

    def matches(self, res: Res) -> bool:
        regex = self.regex
        kind = regex["kind"]
        if isinstance(kind, str) and kind != res.obj.get("kind"):
            return False
        cur = res.cur_id()
        if not (_any(regex["kind"], cur.kind) and _any(regex["group"], cur.group)):
            return False
        if not _any(regex["version"], cur.version):
            return False
        org = res.org_id()
        if not _any(regex["name"], org.name, cur.name):
            return False
        if not _any(regex["namespace"], org.effective_namespace(), cur.effective_namespace()):
            return False
        m = meta(res.obj)
        return selector_matches(self.labels, m.get("labels")) and selector_matches(
            self.annotations, m.get("annotations")
        )

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.raw.items() if v)


def _any(pattern: re.Pattern[str] | str | None, value: str, other: str | None = None) -> bool:
    """Whether ``pattern`` (None: anything) matches ``value`` or ``other``."""
    if pattern is None:
        return True
    if isinstance(pattern, str):
        return pattern in (value, other)
    return pattern.fullmatch(value) is not None or (
        other is not None and pattern.fullmatch(other) is not None
    )


# ---------------------------------------------------------------------------- replacement selectors


def resid_of(raw: Mapping[str, Any] | None) -> ResId:
    """The ResId part of a selector (group, version, kind, name, namespace)."""
    get = (raw or {}).get
    group, version, kind, name, namespace = (
        str(get(k) or "") for k in ("group", "version", "kind", "name", "namespace")
    )
    return ResId(group, version, kind, name, namespace)


def ids_for_replacement(res: Res) -> list[ResId]:
    """The ids a replacement matches: the current one built without knowing cluster scope, and
    the previous ones (kustomize's MakeResIds)."""
    return [res.cur_id(aware=False), *res.prev_ids()]


def matches_label_and_annotation(res: Res, raw: Mapping[str, Any] | None, where: str) -> bool:
    """The label and annotation selectors of a replacement's select or reject."""
    get = (raw or {}).get
    m = meta(res.obj)
    labels = parse_selector(str(get("labelSelector") or ""), where)
    annotations = parse_selector(str(get("annotationSelector") or ""), where)
    return selector_matches(labels, m.get("labels")) and selector_matches(annotations, m.get("annotations"))
