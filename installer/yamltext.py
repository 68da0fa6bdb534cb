"""Parsing upstream YAML by blocks, so the text of large unchanged values can be reused.

Dumping KServe's 3.4 MB of CRD schemas takes about as long as parsing them. A render changes an
object's metadata (labels, namespace) but rarely its ``spec``. So the pre-build splits every
document into its top-level blocks (``apiVersion: ...``, ``metadata:``, ``spec:`` ...) and the
blocks of ``spec`` into theirs, and parses each block on its own: the parsed value is by
construction the value of that text. The output stage then writes a value that is still the very
same object (identity, not equality) as its original text, and dumps only what changed.

What it does dump, when large, it remembers by content (:class:`DumpCache`): a value the engine
copied without changing it (v0.18+'s two CRDs with a conversion webhook are copied whole, so
that their conversion service is written the same way whatever the namespace) is dumped once,
then read back on every later render, byte for byte what the dump wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from installer import jsonio, yamlio

REUSE_MIN_CHARS = 256  # smaller blocks are cheaper to dump again than to carry


# Line breaks str.splitlines() knows besides "\n". Text without them is split with regular
# expressions that look only at "\n" (C speed: v0.20.0's 9 MB are scanned line by line in
# Python three times, ~0.2 s); text with them goes line by line, the reference behaviour.
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A ``---`` line (trailing whitespace allowed, as ``line.rstrip() == "---"``): at the start of
# the text, or after a "\n" (the newline ending it is left for the next match to start with).
_FIRST_SEPARATOR = re.compile(r"---[^\S\n]*(?=\n|\Z)")
_SEPARATOR = re.compile(r"\n---[^\S\n]*(?=\n|\Z)")


def _only_newlines(text: str) -> bool:
    return not any(c in text for c in _OTHER_BREAKS)


def split_documents(text: str) -> list[str]:
    """Documents of a stream, split at ``---`` lines (empty documents kept)."""
    if not _only_newlines(text):
        return _split_lines(text)
    docs: list[str] = []
    begin = 0
    first = _FIRST_SEPARATOR.match(text)
    if first:
        docs.append("")
        begin = first.end() + 1
    for m in _SEPARATOR.finditer(text):
        docs.append(text[begin : m.start() + 1])
        begin = m.end() + 1
    docs.append(text[begin:])
    return docs


def _split_lines(text: str) -> list[str]:
    """:func:`split_documents` line by line (any line break str.splitlines() knows)."""
    docs: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if line.rstrip() == "---":
            docs.append([])
        else:
            docs[-1].append(line)
    return ["".join(d) for d in docs]


# A line that may start a mapping entry at column 0 or 2 (see _blocks: it must also hold a ":").
_ENTRY = {n: re.compile(" " * n + r"[^ #\-\n][^\n]*") for n in (0, 2)}
_NEXT_ENTRY = {n: re.compile(r"\n" + " " * n + r"[^ #\-\n][^\n]*") for n in (0, 2)}


def _text_blocks(text: str, indent: int) -> list[tuple[str, str]]:
    """``list(_blocks(text.splitlines(keepends=True), indent))``, found with regular expressions
    when "\n" is the only line break (``indent`` 0 or 2)."""
    if indent not in _ENTRY or not _only_newlines(text):
        return list(_blocks(text.splitlines(keepends=True), indent))
    entries = [(0, m.group())] if (m := _ENTRY[indent].match(text)) else []
    entries += [(m.start() + 1, m.group()[1:]) for m in _NEXT_ENTRY[indent].finditer(text)]
    out: list[tuple[str, str]] = []
    key, begin = "", 0
    for start, line in entries:
        if ":" not in line:
            continue
        if key:  # as _blocks: an entry without a key runs on into the next one
            out.append((key, text[begin:start]))
            begin = start
        key = line[indent:].split(":", 1)[0].strip().strip("'\"")
    if key and begin < len(text):
        out.append((key, text[begin:]))
    return out


def _after_first_line(text: str) -> str:
    if _only_newlines(text):
        return text.partition("\n")[2]
    return "".join(text.splitlines(keepends=True)[1:])


def _blocks(lines: list[str], indent: int) -> Iterator[tuple[str, str]]:
    """(key, text) of each mapping entry starting at column ``indent``; comments ride along."""
    current: list[str] = []
    key = ""
    prefix = " " * indent
    for line in lines:
        starts_entry = (
            line.startswith(prefix)
            and len(line) > indent
            and line[indent] not in " #-\n"
            and ":" in line
            and not line[:indent].strip()
        )
        if starts_entry and current and key:
            yield key, "".join(current)
            current = []
        if starts_entry:
            key = line[indent:].split(":", 1)[0].strip().strip("'\"")
        current.append(line)
    if current and key:
        yield key, "".join(current)


def parse_document(text: str) -> tuple[Any, dict[str, str], dict[str, str]]:
    """Parse a document block by block; returns (object, top-level texts, spec child texts).

    Falls back to one parse of the whole document (no reusable texts) whenever the block split
    does not give a clean mapping: anything unusual is parsed as YAML, never guessed.
    """
    obj: dict[str, Any] = {}
    texts: dict[str, str] = {}
    spec_texts: dict[str, str] = {}
    try:
        for key, block in _text_blocks(text, 0):
            value = yamlio.load_manifest(block)
            if not isinstance(value, dict) or list(value) != [key] or key in obj:
                raise ValueError(key)
            obj[key] = value[key]
            if len(block) >= REUSE_MIN_CHARS:
                texts[key] = block
            if key == "spec" and isinstance(obj[key], dict):
                body = _after_first_line(block)
                spec: dict[str, Any] = {}
                for child, child_text in _text_blocks(body, 2):
                    if len(child_text) >= REUSE_MIN_CHARS:
                        spec_texts[child] = child_text
                    spec[child] = None
                if list(spec) != list(obj[key]):
                    spec_texts = {}
    except Exception:
        whole = yamlio.load_manifest(text)
        return whole, {}, {}
    if not obj:
        return yamlio.load_manifest(text), {}, {}
    return obj, texts, spec_texts


def parse_head(text: str) -> dict[str, Any] | None:
    """A document's top-level entries other than ``spec``, each block parsed as
    :func:`parse_document` parses it (so each value is the object's); None when the block split
    is not clean or there is nothing. What lets the pre-build skip the ``spec`` of a document
    that a later one replaces: two objects whose heads differ are different objects."""
    head: dict[str, Any] = {}
    seen: set[str] = set()
    try:
        for key, block in _text_blocks(text, 0):
            if key in seen:
                return None
            seen.add(key)
            if key != "spec":
                value = yamlio.load_manifest(block)
                if not isinstance(value, dict) or list(value) != [key]:
                    return None
                head[key] = value[key]
    except Exception:
        return None
    return head if seen else None


def dump_document(obj: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
    """The YAML of an object built here (a source build has no upstream text), block by block:
    (document text, top-level texts, spec child texts), as :func:`parse_document` returns them
    for upstream text, so that the output stage can reuse the large ones. The blocks are exactly
    what :meth:`TextIndex.dump` writes for a value it has no text for: reusing them changes no byte.
    """
    out: list[str] = []
    texts: dict[str, str] = {}
    spec_texts: dict[str, str] = {}
    for key, value in obj.items():
        if key == "spec" and isinstance(value, dict) and value:
            children = []
            for child, cvalue in value.items():
                text = _indent(yamlio.dump({child: cvalue}), 2)
                if len(text) >= REUSE_MIN_CHARS:
                    spec_texts[child] = text
                children.append(text)
            block = "spec:\n" + "".join(children)
        else:
            block = yamlio.dump({key: value})
        if len(block) >= REUSE_MIN_CHARS:
            texts[key] = block
        out.append(block)
    return "".join(out), texts, spec_texts


class DumpCache:
    """The YAML text of large dumped values, on disk by the digest of what decides the text.

    The text of ``yamlio.dump`` is a pure function of the value's content, types, key order and
    shared containers (aliases), and of PyYAML's version; the key is the sha256 of exactly that:
    values with shared containers, non-finite floats or types JSON cannot tell apart are never
    cached. Each file starts with the sha256 of its text, so a damaged file is a miss; files
    are written whole then renamed into place. Small values are not worth a file.
    """

    MIN_BYTES = 16 * 1024
    # A version holds 2-4 such values per parameter set; this keeps every locked version and
    # many parameter sets while bounding the disk (issue 19: no cache grows without bound).
    MAX_FILES = 256
    FORMAT = f"1\0{yamlio.DUMPER}"

    def __init__(self, root: Path) -> None:
        self.root = root
        # Paths worked out ahead (:meth:`prepare`), by the identity of the value (kept alive here).
        self._prepared: dict[tuple[int, str, int], tuple[Any, Path | None]] = {}

    def prepare(self, key: str, value: Any, indent: int) -> None:
        """Work out now where :meth:`text` will look for ``value``: its digest (a JSON dump and a
        walk of the value, ~0.07 s for v0.20.0's llmisvc CRDs) is then not on the writer's path.
        ``value`` must not change afterwards."""
        self._prepared[(id(value), key, indent)] = (value, self._path(key, value, indent, check=True))

    def _prepared_path(self, key: str, value: Any, indent: int) -> Path | None:
        """:meth:`_path` of ``value``, as :meth:`prepare` worked it out if it did."""
        prepared = self._prepared.get((id(value), key, indent))
        if prepared is not None and prepared[0] is value:
            return prepared[1]
        return self._path(key, value, indent, check=True)

    def text(self, key: str, value: Any, indent: int, dump: Callable[[], str]) -> str:
        """``dump()``, the text of ``{key: value}`` indented by ``indent``, from disk if known."""
        path = self._prepared_path(key, value, indent)
        if path is None:
            return dump()
        known = _read_checked(path)
        if known is not None:
            return known
        text = dump()
        _write_checked(path, text)
        self._trim()
        return text

    def _trim(self) -> None:
        """Drop the least recently written files beyond :attr:`MAX_FILES`. Two processes may
        trim at once: a file already gone is fine, and a reader of a dropped file just misses."""
        files = [p for p in self.root.glob("??/*") if len(p.name) == 64]  # not a file being written
        if len(files) <= self.MAX_FILES:
            return
        by_age: list[tuple[float, Path]] = []
        for p in files:
            with contextlib.suppress(OSError):
                by_age.append((p.stat().st_mtime, p))
        for _, p in sorted(by_age)[: len(by_age) - self.MAX_FILES]:
            with contextlib.suppress(OSError):
                p.unlink()

    def holds(self, key: str, value: Any, indent: int) -> bool:
        """Whether :meth:`text` would find the text on disk, or never looks (small values and
        values it does not cache); a quick look: a damaged file counts as there."""
        path = self._path(key, value, indent, check=False)
        return path is None or path.is_file()

    def _path(self, key: str, value: Any, indent: int, check: bool) -> Path | None:
        digest = _content_digest(f"{self.FORMAT}\0{indent}\0{key}", value, self.MIN_BYTES, check)
        return None if digest is None else self.root / digest[:2] / digest


def _content_digest(salt: str, value: Any, min_bytes: int, check: bool = True) -> str | None:
    """sha256 of ``value`` as JSON (types and key order kept), or None when JSON would not tell
    it apart from another value that dumps differently, or it is small. ``check=False`` skips
    the walk that looks for such values (for a look that decides nothing about the text)."""
    if not isinstance(value, dict | list):
        return None
    try:
        data = jsonio.dumps(value)
    except (TypeError, ValueError):  # non-string keys, integers beyond 64 bits
        return None
    if len(data) < min_bytes or (check and not _plain_tree(value)):
        return None
    return hashlib.sha256(salt.encode() + b"\0" + data).hexdigest()


def _plain_tree(root: dict[str, Any] | list[Any]) -> bool:
    """No container reached twice (YAML would write an alias), only str/int/bool/None and finite
    floats as scalars (what JSON keeps apart; ``nan`` and ``None`` both become ``null``)."""
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return False
        seen.add(id(node))
        for item in node.values() if type(node) is dict else node:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append(item)
            elif kind is float:
                if not math.isfinite(item):
                    return False
            elif not (kind is str or kind is int or kind is bool or item is None):
                return False
    return True


def _read_checked(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, _, body = data.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != head:
        return None
    return body.decode("utf-8")


def _write_checked(path: Path, text: str) -> None:
    body = text.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dump-")
        with os.fdopen(fd, "wb") as f:
            f.write(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time


class TextIndex:
    """Original texts of values, looked up by the identity of the parsed value; with a
    :class:`DumpCache`, the texts of large values dumped before, looked up by content."""

    def __init__(self, dumped: DumpCache | None = None) -> None:
        self._top: dict[int, tuple[str, str, Any]] = {}
        self._spec: dict[int, tuple[str, str, Any]] = {}
        self._sources: list[dict[str, Any]] = []
        self._dumped = dumped

    def add(self, obj: dict[str, Any], texts: dict[str, str], spec_texts: dict[str, str]) -> None:
        # The value itself is kept with its id, so the id cannot be reused by another object.
        self._sources.append(obj)
        for key, text in texts.items():
            self._top[id(obj[key])] = (key, text, obj[key])
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for key, text in spec_texts.items():
                if key in spec:
                    self._spec[id(spec[key])] = (key, text, spec[key])

    def dump(self, obj: dict[str, Any]) -> str:
        """``obj`` as a YAML document body, reusing original texts of untouched values."""
        cached = _cacheable(obj)
        return "".join(p if isinstance(p, str) else self._dump(*p, cached=cached) for p in self._parts(obj))

    def missing(self, objs: Iterable[dict[str, Any]]) -> list[tuple[str, Any, int]]:
        """The large values :meth:`dump` would have to dump for ``objs`` that the cache lacks."""
        dumped = self._dumped
        if dumped is None:
            return []
        return [
            p
            for o in objs
            if _cacheable(o)
            for p in self._parts(o)
            if not isinstance(p, str) and not dumped.holds(*p)
        ]

    def copies_missing(self, copied: Callable[[dict[str, Any]], bool]) -> list[tuple[str, Any, int]]:
        """What :meth:`missing` would say for a private copy of each object added here that
        ``copied`` selects: a copy shares no value with the pre-build, so no original text
        stands in for any of its values. Known before the engine runs (what it will copy)."""
        dumped = self._dumped
        if dumped is None:
            return []
        return [
            p
            for o in self._sources
            if _cacheable(o) and copied(o)
            for p in self._parts(o, reuse=False)
            if not isinstance(p, str) and not dumped.holds(*p)
        ]

    def prepare(self, objs: Iterable[dict[str, Any]]) -> None:
        """Work out ahead where :meth:`dump` will look up the large values of ``objs`` in the
        cache (:meth:`DumpCache.prepare`); the objects must not change afterwards."""
        if self._dumped is None:
            return
        for o in objs:
            if _cacheable(o):
                for p in self._parts(o):
                    if not isinstance(p, str):
                        self._dumped.prepare(*p)

    def fill(self, values: Iterable[tuple[str, Any, int]]) -> None:
        """Dump ``values`` (from :meth:`missing`) into the cache, for a later :meth:`dump`."""
        for key, value, indent in values:
            self._dump(key, value, indent)

    def _parts(self, obj: dict[str, Any], reuse: bool = True) -> Iterator[str | tuple[str, Any, int]]:
        """The document in order: original texts, and (key, value, indent) of what is dumped
        (everything, for ``reuse=False``: how a copy of ``obj`` would be written)."""
        for key, value in obj.items():
            hit = self._top.get(id(value)) if reuse else None
            if hit is not None and hit[0] == key and hit[2] is value:
                yield hit[1]
            elif key == "spec" and isinstance(value, dict) and value and self._spec:
                yield "spec:\n"
                for child, cvalue in value.items():
                    chit = self._spec.get(id(cvalue)) if reuse else None
                    if chit is not None and chit[0] == child and chit[2] is cvalue:
                        yield chit[1]
                    else:
                        yield child, cvalue, 2
            else:
                yield key, value, 0

    def _dump(self, key: str, value: Any, indent: int, cached: bool = True) -> str:
        def dump() -> str:
            text = yamlio.dump({key: value})
            return _indent(text, indent) if indent else text

        if self._dumped is None or not cached:
            return dump()
        return self._dumped.text(key, value, indent, dump)


def _cacheable(obj: dict[str, Any]) -> bool:
    """Secrets never reach the dump cache: their values stay out of every file but the output."""
    return obj.get("kind") != "Secret"


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))
