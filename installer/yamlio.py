"""YAML reading and writing with libyaml where present.

PyYAML's pure-Python loader is roughly 8x slower than libyaml on KServe's 3.5 MB manifest, so every
load and dump in the installer goes through these helpers.

Even with libyaml, most of PyYAML's time is spent in Python around it: resolving the tag of each
scalar (a few regular expressions, 480,000 times for KServe v0.20.0) and constructing objects
node by node through the generic constructor, while the cyclic garbage collector scans the growing
heap again and again. So loads and dumps here (:class:`_Loader`, :class:`_Dumper`):

- remember the tag each scalar resolved to (the answer depends only on the scalar's text and style);
- build plain documents (maps with string keys, sequences, strings, and scalars PyYAML resolves to
  int, float, bool or null) in one recursive pass; any other node (timestamps, merge keys, other
  tags, non-string keys) sends the whole document back to PyYAML's own constructor;
- dump plain values with nodes built in one pass, the same nodes PyYAML's representer builds;
- pause the cyclic garbage collector while they run (they make many objects and no cycles; each
  collection would scan the whole growing heap again).

Each is PyYAML's own behaviour, only faster: same objects, same bytes. ``tests/test_yaml_io.py``
compares both with plain ``CSafeLoader``/``CSafeDumper`` on every upstream YAML file.

An upstream manifest's document (:func:`load_manifest`, what the pre-build parses) is read by
``yaml-rs`` (a YAML parser in Rust, ~4x faster than the above on KServe's manifests) when its
text has nothing that YAML 1.2, which yaml-rs reads, and YAML 1.1, which libyaml and PyYAML
read, resolve differently (:func:`read_alike`). Such text is rare in Kubernetes manifests:
plain ``yes``/``no``/``on``/``off``, numbers written in
octal, with underscores, exponents or colons, timestamps, merge keys, tags, anchors and aliases
(libyaml shares an aliased node, yaml-rs copies it), more than one document, or line breaks other
than ``\n``. The check looks for them only where a plain scalar can start, so false alarms (a
line of prose ending in "on") only cost the faster parse; any text yaml-rs refuses (duplicate
keys, which PyYAML lets the last one win) goes to libyaml as well. There is no YAML 1.1 mode in
yaml-rs to use instead, and no other parser as fast that gives Python objects.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

HAS_LIBYAML = hasattr(yaml, "CSafeLoader")
# Typed as Any: the C classes are not subclasses of the pure-Python ones in the stubs.
SafeLoader: Any = yaml.CSafeLoader if HAS_LIBYAML else yaml.SafeLoader
_SafeDumper: Any = yaml.CSafeDumper if HAS_LIBYAML else yaml.SafeDumper
# What the bytes of a dump depend on besides the value (caches of dumped text are keyed by it).
DUMPER = f"pyyaml {yaml.__version__} libyaml {HAS_LIBYAML}"

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _TAG + "str", _TAG + "map", _TAG + "seq"
_INT, _BOOL, _NULL, _FLOAT = _TAG + "int", _TAG + "bool", _TAG + "null", _TAG + "float"
_PLAIN_SCALARS = frozenset({_INT, _BOOL, _NULL, _FLOAT})

# Tags resolved so far, by (scalar text, implicit flags). Short texts only (names, types, numbers
# repeat; long descriptions do not), and a bounded number of them.
_RESOLVED: dict[tuple[str, Any], str] = {}
_RESOLVED_MAX_ENTRIES = 100_000
_RESOLVED_MAX_CHARS = 64


def _resolve(resolver: Any, base: Any, kind: Any, value: Any, implicit: Any) -> Any:
    if kind is not ScalarNode or len(value) > _RESOLVED_MAX_CHARS:
        return base.resolve(resolver, kind, value, implicit)
    key = (value, implicit)
    tag = _RESOLVED.get(key)
    if tag is None:
        if len(_RESOLVED) >= _RESOLVED_MAX_ENTRIES:
            _RESOLVED.clear()
        tag = _RESOLVED[key] = base.resolve(resolver, kind, value, implicit)
    return tag


class _NotPlainError(Exception):
    """A node or value the one-pass builders leave to PyYAML's own constructor or representer."""


class _Loader(SafeLoader):  # type: ignore[misc]
    """libyaml's safe loader, with remembered tags and a one-pass constructor for plain documents."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        return _resolve(self, SafeLoader, kind, value, implicit)

    def construct_document(self, node: Node) -> Any:
        try:
            return self._build(node, {})
        except _NotPlainError:
            return super().construct_document(node)

    def _build(self, node: Node, made: dict[int, Any]) -> Any:
        tag = node.tag
        kind = type(node)
        if kind is ScalarNode and tag == _STR:
            return node.value
        if kind is MappingNode and tag == _MAP:
            mapping = made.get(id(node))  # an alias: the very object its anchor made, as PyYAML
            if mapping is None:
                mapping = made[id(node)] = {}
                for key_node, value_node in node.value:
                    if type(key_node) is not ScalarNode or key_node.tag != _STR:
                        raise _NotPlainError  # merge keys, non-string keys
                    mapping[key_node.value] = self._build(value_node, made)
            return mapping
        if kind is SequenceNode and tag == _SEQ:
            seq = made.get(id(node))
            if seq is None:
                seq = made[id(node)] = []
                seq.extend(self._build(item, made) for item in node.value)
            return seq
        if kind is ScalarNode and tag in _PLAIN_SCALARS:
            return self.yaml_constructors[tag](self, node)
        raise _NotPlainError


# The first characters a plain scalar may resolve to another tag than str from (digits, signs,
# ``.``, ``~``, ``<``, ``=`` and the letters of true, null, yes, on...), read from the resolver.
_IMPLICIT_FIRST = frozenset(_SafeDumper.yaml_implicit_resolvers)


class _Dumper(_SafeDumper):  # type: ignore[misc]
    """libyaml's safe dumper, with remembered tags and one-pass nodes for plain values."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """What PyYAML's resolver answers, the common answers first: libyaml's serializer asks
        this twice for each scalar (300,000 times for v0.20.0's llmisvc CRDs). Asked whether a
        scalar would be read back as a str when quoted (``implicit[0]`` false), the resolver
        always says str without path resolvers; and a plain text whose first character has no
        implicit resolver is a str too."""
        if (
            kind is ScalarNode
            and not self.yaml_path_resolvers
            and (not implicit[0] or (value and value[0] not in _IMPLICIT_FIRST))
        ):
            return _STR
        return _resolve(self, _SafeDumper, kind, value, implicit)

    def represent(self, data: Any) -> None:
        try:
            node = self._node(data, {})
        except _NotPlainError:
            super().represent(data)
            return
        self.serialize(node)

    def _node(self, data: Any, made: dict[int, Node]) -> Node:
        kind = type(data)
        if kind is str:
            return ScalarNode(_STR, data)
        if kind is dict:
            node = made.get(id(data))  # reached twice: the same node, so an alias, as PyYAML
            if node is None:
                pairs: list[tuple[Node, Node]] = []
                node = made[id(data)] = MappingNode(_MAP, pairs, flow_style=False)
                for key, value in data.items():
                    pairs.append((self._node(key, made), self._node(value, made)))
            return node
        if kind is list:
            node = made.get(id(data))
            if node is None:
                items: list[Node] = []
                node = made[id(data)] = SequenceNode(_SEQ, items, flow_style=False)
                items.extend(self._node(item, made) for item in data)
            return node
        if kind is bool:
            return ScalarNode(_BOOL, "true" if data else "false")
        if kind is int:
            return ScalarNode(_INT, str(data))
        if data is None:
            return ScalarNode(_NULL, "null")
        if kind is float:
            node = self.represent_float(data)
            return node  # type: ignore[no-any-return]
        raise _NotPlainError


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (a parse or dump makes many objects and no cycles)."""
    pause = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause:
            gc.enable()


def load_all(text: str | bytes) -> Iterator[Any]:
    """Yield every document of a multi-document YAML stream (empty documents included), one at
    a time as :func:`yaml.load_all` does (a caller may stop early), the collector paused while
    each is parsed."""
    loader = _Loader(text)
    try:
        while True:
            with gc_paused():
                if not loader.check_data():
                    return
                doc = loader.get_data()
            yield doc
    finally:
        loader.dispose()


# Where a plain scalar can start: after indentation and block indicators at the start of a line,
# after a mapping value or key indicator, inside flow collections, or after a quoted key's colon.
_PLAIN_START = r"(?:^[ \t]*(?:[-?:][ \t]+)*|[-?:][ \t]+|[\[{,][ \t]*|[\"']:[ \t]*)"
# ... and end: before a comment, a key's colon, a flow indicator or the end of the line.
_PLAIN_END = r"(?=[ \t]*(?:$|\#|:(?:[ \t]|$)|[,\]}]))"
_AMBIGUOUS = "|".join(
    [
        r"[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF",  # booleans in YAML 1.1 only
        r"\.(?:nan|NaN|NAN)",  # one NaN object in PyYAML, a new one each time in yaml-rs: keys differ
        r"<<|=",  # merge and value keys
        r"[-+]?0[0-9_]+(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?",  # a leading zero: octal in 1.1
        r"[-+]?0[xXoObB][0-9a-fA-F_]*",  # prefixed integers
        r"[-+]?[0-9.][0-9_.]*_[0-9_.]*(?:[eE][-+]?[0-9]+)?",  # underscores
        r"[-+]?[0-9.][0-9_.]*[eE][-+]?[0-9]+",  # exponents (1.1 needs a dot and a sign)
        r"[-+]\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?",  # a signed leading dot
        r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",  # base 60
        r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t][^\n]*)?",  # timestamps
    ]
)
# One line holding one of those (checked a line at a time: it is too slow for megabytes).
YAML_1_1_LINE = re.compile(
    "|".join(
        [
            rf"{_PLAIN_START}(?:{_AMBIGUOUS}){_PLAIN_END}",  # scalars resolved differently
            rf"{_PLAIN_START}\*[A-Za-z0-9_][^\s,\[\]{{}}]*{_PLAIN_END}",  # aliases (shared by libyaml)
            rf"{_PLAIN_START}!(?:!?[A-Za-z][\w./:-]*|<[^>\n]*>)?(?=[ \t]|$)",  # tags
            rf"{_PLAIN_START}\?(?:[ \t]+[\[{{-]|[ \t]*$)|[\]}}][ \t]*:(?:[ \t]|$)",  # collections as keys
            r"^(?:---|\.\.\.)(?=[ \t]|$)|^%",  # more than one document; directives
        ]
    ),
    re.MULTILINE,
)
# Where a line may hold one: each regular expression starts with a character the scan looks for
# (fast in ``re``) and looks behind it, so megabytes are scanned in milliseconds; every hit's
# line is then checked with YAML_1_1_LINE.
_SEP = r"[\s\[{,:]"
_LINES_TO_CHECK = tuple(
    re.compile(p, re.MULTILINE)
    for p in [
        rf"[yYnNoO](?<={_SEP}[yYnNoO])(?:es|ES|o|O|n|N|ff|FF){_PLAIN_END}",  # booleans
        r"0(?<=[\s\[{,:+-]0)[0-9_xXoObB]",  # leading zeros, prefixes
        r"_(?<=[0-9.]_)",  # underscores
        r"[0-9][eE][-+]?[0-9]",  # exponents
        r":(?<=[0-9]:)[0-5]?[0-9]",  # base 60
        r"-(?<=[0-9]{4}-)[0-9]",  # timestamps
        r"\.(?<=[-+]\.)[0-9]",  # a signed leading dot
        rf"\.(?<={_SEP}\.)(?:nan|NaN|NAN)",  # NaN
        r"<<",  # merge keys
        rf"=(?<={_SEP}=)",  # value keys
        rf"\*(?<={_SEP}\*)[A-Za-z0-9_]",  # aliases
        rf"!(?<={_SEP}!)",  # tags
        r"\?(?=[ \t]+[\[{-]|[ \t]*$)",  # collections as keys
        r"\][ \t]*:",
        r"\}[ \t]*:",
        r"\n(?:---|\.\.\.|%)",  # documents, directives (text starts after a line break: see below)
    ]
)
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029", "\ufeff", "\t")  # and tabs, and a byte order mark


def read_alike(text: str) -> bool:
    """Whether yaml-rs (YAML 1.2) reads ``text`` as libyaml (YAML 1.1) does (see the module's
    docstring). False alarms only cost speed."""
    first = text.find("\n")
    if (
        any(c in text for c in _OTHER_BREAKS)
        or text.startswith(("---", "...", "%"))
        or YAML_1_1_LINE.search(text, 0, len(text) if first < 0 else first)  # nothing before it
    ):
        return False
    for candidates in _LINES_TO_CHECK:
        for hit in candidates.finditer(text):
            at = hit.start() + hit.group().startswith("\n")  # a document marker's own line
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            if YAML_1_1_LINE.search(text, start, len(text) if end < 0 else end):
                return False
    return True


# Shorter texts go to libyaml: what yaml-rs saves on them is less than importing it (~20 ms), and
# a warm render reads only short ones.
FAST_MIN_CHARS = 4096


@functools.cache
def _yaml_rs() -> Any:
    try:
        return importlib.import_module("yaml_rs")
    except ImportError:  # a speed-up only: libyaml reads everything without it
        return None


def load(text: str | bytes) -> Any:
    """Load a single YAML document with the safe loader."""
    with gc_paused():
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (libyaml's safe loader)


def load_manifest(text: str) -> Any:
    """:func:`load` for upstream manifests: yaml-rs where it gives libyaml's objects. Text that
    libyaml refuses but YAML 1.2 allows (a value with no key) may be read: the pre-build's input
    is what kubectl reads too, and only there is the speed needed."""
    if len(text) >= FAST_MIN_CHARS and read_alike(text):
        fast = _yaml_rs()
        if fast is not None:
            with gc_paused(), contextlib.suppress(Exception):  # what yaml-rs refuses, libyaml decides
                return fast.loads(text, parse_datetime=False)
    return load(text)


def dump(obj: Any) -> str:
    """Dump one object as block YAML with keys in their given order (deterministic)."""
    with gc_paused():
        return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=1 << 30)


class _ReviewDumper(_SafeDumper):  # type: ignore[misc]
    """Writes multi-line strings as literal blocks (``|``) where YAML allows it."""


def _represent_str(dumper: Any, text: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_ReviewDumper.add_representer(str, _represent_str)


def dump_for_review(obj: Any) -> str:
    """Like :func:`dump`, with multi-line strings as literal blocks: a changed line in a JSON value
    (a ConfigMap patch) shows in a diff as that one line, not as a whole escaped string. Strings a
    block cannot hold exactly (trailing spaces, tabs) stay quoted."""
    return yaml.dump(obj, Dumper=_ReviewDumper, default_flow_style=False, sort_keys=False, width=1 << 30)


def dump_all(objs: Iterable[Any]) -> str:
    """Dump objects as a multi-document stream, each starting with ``---``."""
    with gc_paused():
        return yaml.dump_all(
            objs,
            Dumper=_Dumper,
            default_flow_style=False,
            sort_keys=False,
            explicit_start=True,
            width=1 << 30,
        )


def has_shared_nodes(root: Any) -> bool:
    """True if any list or mapping is reachable twice (what YAML aliases produce)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                return True
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)
    return False
