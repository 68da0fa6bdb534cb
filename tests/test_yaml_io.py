"""yamlio's faster load and dump are PyYAML's (CSafeLoader / CSafeDumper), object for object, byte
for byte: on every upstream YAML file of the mirror (release assets and every YAML file inside
the source tarballs) and on the scalars where YAML 1.1 and 1.2 part ways."""

from __future__ import annotations

import datetime
import gc
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from installer import yamlio, yamltext
from installer.yamltext import DumpCache
from tests.conftest import UPSTREAM


def reference_load_all(text: str | bytes) -> list[Any]:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def reference_dump(value: Any) -> str:
    return yaml.dump(value, Dumper=yaml.CSafeDumper, default_flow_style=False, sort_keys=False, width=1 << 30)


def exactly(a: Any, b: Any, path: str = "") -> str | None:
    """Where ``a`` and ``b`` differ in value, type (1 is not True) or key order; None if nowhere."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r:.80} != {type(b).__name__} {b!r:.80}"
    if isinstance(a, dict):
        if [(type(k), repr(k)) for k in a] != [(type(k), repr(k)) for k in b]:  # repr: NaN keys
            return f"{path}: keys {list(a)[:8]} != {list(b)[:8]}"
        for (key, x), y in zip(a.items(), b.values(), strict=True):
            found = exactly(x, y, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = exactly(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if a != b and not (a != a and b != b):  # NaN equals NaN here
        return f"{path}: {a!r:.80} != {b!r:.80}"
    return None


def shape(value: Any, seen: dict[int, int] | None = None) -> Any:
    """Which containers are the same object (YAML aliases), as first-seen indices."""
    seen = {} if seen is None else seen
    if isinstance(value, dict | list):
        if id(value) in seen:
            return ("alias", seen[id(value)])
        seen[id(value)] = len(seen)
        items = value.values() if isinstance(value, dict) else value
        return [shape(v, seen) for v in items]
    return None


def mirror_yaml() -> Iterator[tuple[str, bytes]]:
    """Every YAML file of the mirror: release assets, and the YAML inside every tarball."""
    for path in sorted(UPSTREAM.rglob("*.yaml")):
        yield str(path.relative_to(UPSTREAM)), path.read_bytes()
    for tarball in sorted(UPSTREAM.rglob("*.tar.gz")):
        with tarfile.open(tarball) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith((".yaml", ".yml")):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield f"{tarball.name}:{member.name}", handle.read()


def outcome(load: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", load(text)
    except yaml.YAMLError as exc:
        return "error", type(exc).__name__


@pytest.fixture(scope="module")
def files() -> list[tuple[str, bytes]]:
    found = list(mirror_yaml())
    assert len(found) > 100, "expected the release assets and the tarballs' YAML"
    return found


def test_every_mirror_file_loads_to_libyamls_objects(files: list[tuple[str, bytes]]) -> None:
    gc.disable()  # the reference is slow with the collector on; results do not depend on it
    try:
        for name, text in files:
            want, got = outcome(reference_load_all, text), outcome(lambda t: list(yamlio.load_all(t)), text)
            assert want[0] == got[0], f"{name}: {want[0]} != {got[0]}"
            if want[0] == "ok":
                assert exactly(want[1], got[1]) is None, f"{name}: {exactly(want[1], got[1])}"
                assert shape(want[1]) == shape(got[1]), f"{name}: aliases differ"
            else:
                assert want == got, name
    finally:
        gc.enable()


def test_every_mirror_object_dumps_to_libyamls_bytes(files: list[tuple[str, bytes]]) -> None:
    gc.disable()
    try:
        for name, text in files:
            if not name.endswith(".yaml") or ":" in name:
                continue  # release assets: the objects the render writes
            for doc in reference_load_all(text):
                if not isinstance(doc, dict):
                    continue
                assert yamlio.dump(doc) == reference_dump(doc), name
                for key, value in doc.items():
                    assert yamlio.dump({key: value}) == reference_dump({key: value}), f"{name}: {key}"
    finally:
        gc.enable()


# Scalars YAML 1.1 (PyYAML) and 1.2 parsers read differently, tags, aliases, merge keys, keys
# that are not strings, and errors: each must come out as PyYAML has it.
SCALARS = (
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Yes",
    "NO",
    "On",
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "",
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "190:20:30",
    "1.5",
    "1e3",
    "1.0e+3",
    ".5",
    "+1",
    ".inf",
    "-.Inf",
    ".nan",
    "1.2.3",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "'2001-12-14'",
    '"yes"',
    "-0",
    "00",
    "685.230_15e+03",
    "1.0e3",
    "+.5",
    "-0x1F",
    "08",
    "OFF",
    "Off",
    "1:20",
    "<<",
    "=",
    "100Mi",
    "10.0.0.1",
    "v0.20.0",
)
TRICKY = [
    *(f"k: {s}\n" for s in SCALARS),
    "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n",
    "a: 1\na: 2\n",
    "base: &b {a: 1}\nmerged:\n  <<: *b\n  c: 2\n",
    "a: !!str 1\nb: !!int '7'\nc: !!float 1\n",
    "a: !!binary aGVsbG8=\n",
    "s: !!set {a, b}\no: !!omap [a: 1, b: 2]\n",
    "? [1, 2]\n: 3\n",
    "1: a\ntrue: b\nnull: c\n",
    "=: x\n",
    "a: =\n",
    'a: "\\x85\\u2028 \\t"\nb: |\n  x\n  y\n\nc: >\n  x\n  y\n',
    "a: !custom x\n",
    "a: [1, {b: c}\n",
    "- a\n- - b\n  - c: d\n",
    "---\na: 1\n---\n---\n- 2\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents_load_as_pyyaml_does(text: str) -> None:
    assert_same(outcome(reference_load_all, text), outcome(lambda t: list(yamlio.load_all(t)), text), text)


def assert_same(want: tuple[str, Any], got: tuple[str, Any], text: str) -> None:
    """The same outcome: the same error, or exactly the same objects, aliases included."""
    assert want[0] == got[0], f"{text[:80]!r}: {want} != {got}"
    if want[0] == "ok":
        assert exactly(want[1], got[1]) is None, f"{text[:80]!r}: {exactly(want[1], got[1])}"
        assert shape(want[1]) == shape(got[1]), f"{text[:80]!r}: aliases differ"
    else:
        assert want == got


def padded(text: str) -> str:
    """``text`` long enough for :func:`yamlio.load_manifest` to ask yaml-rs (a comment after it)."""
    return text + "#" + "x" * yamlio.FAST_MIN_CHARS + "\n"


def reference_load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def same_as_libyaml(text: str) -> None:
    """load_manifest gives libyaml's objects, or its error when yaml-rs refuses the text too."""
    want, got = outcome(reference_load, text), outcome(yamlio.load_manifest, text)
    if want[0] == "error" and got[0] == "ok":  # what YAML 1.2 allows (a value with no key)
        assert yamlio.read_alike(text), f"{text[:80]!r}: libyaml refuses it, yet it was read"
        return
    assert_same(want, got, text)


def test_the_fast_reader_is_installed() -> None:
    """yaml-rs is a dependency: without it every load is libyaml's (right, but the slower)."""
    assert yamlio._yaml_rs() is not None


POSITIONS = (
    "k: {}\n",
    "{}: v\n",
    "- {}\n",
    "- - {}\n",
    "k:\n  {}\n",
    "k: [a, {}]\n",
    "k: {{a: {}}}\n",
    "k: {{{}: a}}\n",
    "[{}, a]\n",
    "? {}\n: v\n",
    "k: {} # comment\n",
    "k: [\n  {}\n]\n",
)


@pytest.mark.parametrize("position", POSITIONS)
def test_every_tricky_scalar_in_every_place_loads_as_libyaml_does(position: str) -> None:
    """Where YAML 1.2 (yaml-rs) and 1.1 (libyaml) part ways, load_manifest gives libyaml's answer,
    in every place a plain scalar can stand; so must every tricky document."""
    for scalar in SCALARS:
        same_as_libyaml(padded(position.format(scalar)))
    for text in TRICKY:
        same_as_libyaml(padded(text))


def test_what_yaml_rs_refuses_libyaml_decides() -> None:
    text = padded("a: 1\na: 2\n")  # yaml-rs refuses duplicate keys; PyYAML keeps the last
    assert yamlio.read_alike(text)
    assert yamlio.load_manifest(text) == {"a": 2}


WORDS = st.sampled_from([s for s in SCALARS if s and s[0] not in "'\"<=?"] + ["a", "b-c", "x y"])


def _emit(node: Any, indent: int) -> list[str]:
    """Block YAML of ``node``: a word, or (kind, items) with kind map, seq, flowseq or flowmap."""
    if isinstance(node, str):
        return [node]
    kind, items = node
    if kind == "flowseq":
        return ["[" + ", ".join(items) + "]"]
    if kind == "flowmap":
        return ["{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"]
    lines = []
    for item in items:
        key, value = item if kind == "map" else (None, item)
        head = " " * indent + (f"{key}:" if kind == "map" else "-")
        inner = _emit(value, indent + 2)
        if isinstance(value, str) or value[0].startswith("flow"):
            lines.append(f"{head} {inner[0]}")
        else:
            lines += [head, *inner]
    return lines


DOCUMENTS = st.recursive(
    st.one_of(
        WORDS,
        st.lists(WORDS, min_size=1, max_size=3).map(lambda xs: ("flowseq", xs)),
        st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=3).map(lambda kv: ("flowmap", kv)),
    ),
    lambda kids: st.one_of(
        st.lists(st.tuples(WORDS, kids), min_size=1, max_size=4).map(lambda kv: ("map", kv)),
        st.lists(kids, min_size=1, max_size=4).map(lambda xs: ("seq", xs)),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_any_document_of_tricky_words_loads_as_libyaml_does(node: Any) -> None:
    same_as_libyaml(padded("\n".join(_emit(node, 0)) + "\n"))


def test_every_mirror_document_loads_through_load_manifest_as_libyaml_does(
    files: list[tuple[str, bytes]],
) -> None:
    """Each document of the mirror, whole and block by block as the pre-build parses it, gives
    libyaml's objects; and yaml-rs reads nearly all of the bytes (the check for YAML 1.1-only text
    is not so cautious that it sends everything to libyaml)."""
    fast = total = 0
    gc.disable()
    try:
        for name, raw in files:
            for doc in yamltext.split_documents(raw.decode()):
                total += len(doc)
                if len(doc) >= yamlio.FAST_MIN_CHARS and yamlio.read_alike(doc):
                    fast += len(doc)
                same_as_libyaml(doc)
                obj, _, _ = yamltext.parse_document(doc)
                assert exactly(reference_load(doc), obj) is None, name
    finally:
        gc.enable()
    assert fast > 0.9 * total, f"yaml-rs read {fast} of {total} characters"


SHARED = {"x": 1}
DUMPS: list[Any] = [
    {"a": SHARED, "b": [SHARED, SHARED]},
    {"f": [1.0, float("nan"), float("inf"), -float("inf"), 1e20, -0.0, 1e-7]},
    {"d": datetime.date(2020, 1, 1), "t": datetime.datetime(2020, 1, 1, 12, 0)},
    {"s": ["yes", "no", "on", "0777", "1e3", "", "~", "null", "a: b", "- x", "#", "é", "\u2028", "x\ny"]},
    {2: "int key", False: "bool key", None: "null key", 1.5: "float key"},
    {"b": b"bytes", "set": {1, 2}, "tuple": (1, 2)},
    {"empty": {}, "list": [], "nested": [[], {}, [[1]]]},
    [{"a": 1}, "x", 3, None, True],
    "plain",
]


@pytest.mark.parametrize("value", DUMPS, ids=range(len(DUMPS)))
def test_dumps_are_pyyamls_bytes(value: Any) -> None:
    assert yamlio.dump(value) == reference_dump(value)
    assert yamlio.dump_all([value, value]) == yaml.dump_all(
        [value, value],
        Dumper=yaml.CSafeDumper,
        default_flow_style=False,
        sort_keys=False,
        explicit_start=True,
        width=1 << 30,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SCALARS)), max_size=8))
def test_any_string_dumps_to_pyyamls_bytes(words: list[str]) -> None:
    """The dumper answers most tag questions without PyYAML's resolver (:class:`yamlio._Dumper`):
    any text, as a key, a value and an item, is quoted exactly where PyYAML quotes it."""
    value = {w: [w, {"k": w, w: None}] for w in words}
    assert yamlio.dump(value) == reference_dump(value)


def test_collector_state_is_restored() -> None:
    assert gc.isenabled()
    yamlio.load("a: 1\n")
    yamlio.dump({"a": 1})
    with pytest.raises(yaml.YAMLError):
        yamlio.load("a: [1\n")
    assert gc.isenabled()
    gc.disable()
    try:
        yamlio.load("a: 1\n")
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---------------------------------------------------------------------------- DumpCache


def test_dump_cache_gives_the_dump_and_reads_it_back(tmp_path: Path) -> None:
    cache = DumpCache(tmp_path)
    value = {"items": [{"name": f"n{i}", "on": "yes", "n": i, "f": 1.5, "b": True} for i in range(800)]}
    calls: list[int] = []

    def dump() -> str:
        calls.append(1)
        return yamlio.dump({"spec": value})

    first = cache.text("spec", value, 0, dump)
    again = cache.text("spec", json.loads(json.dumps(value)), 0, dump)  # equal, not the same object
    assert first == again == reference_dump({"spec": value})
    assert len(calls) == 1
    assert cache.text("spec", value, 2, dump) == first
    assert len(calls) == 2  # the indent is part of the key
    changed = {"items": [*value["items"][:-1], {**value["items"][-1], "b": 1}]}  # True -> 1
    assert cache.text("spec", changed, 0, dump) == first
    assert len(calls) == 3  # a miss: dumped


def test_a_prepared_lookup_is_not_worked_out_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``prepare`` works out where a value's text is kept; ``text`` then uses that for the very
    same value (not for an equal one, which is worked out again), and reads the same text."""
    value = {"items": [{"name": f"n{i}", "n": i} for i in range(2000)]}
    DumpCache(tmp_path).text("spec", value, 2, lambda: "kept\n")
    cache = DumpCache(tmp_path)
    cache.prepare("spec", value, 2)
    worked_out: list[int] = []
    real = yamltext._content_digest

    def counted(*args: Any, **kwargs: Any) -> str | None:
        worked_out.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(yamltext, "_content_digest", counted)
    assert cache.text("spec", value, 2, lambda: "dumped\n") == "kept\n"
    assert worked_out == []
    assert cache.text("spec", json.loads(json.dumps(value)), 2, lambda: "dumped\n") == "kept\n"
    assert worked_out == [1]


def test_dump_cache_refuses_what_json_cannot_tell_apart(tmp_path: Path) -> None:
    big = [f"item-{i}" for i in range(4000)]
    shared = {"a": big, "b": big}  # an alias in YAML, two copies in JSON
    nan = {"a": big, "x": float("nan")}  # null in JSON, .nan in YAML
    keys = {"a": big, 1: "x"}
    for value in (shared, nan, keys):
        want = reference_dump({"k": value})
        assert DumpCache(tmp_path).text("k", value, 0, lambda want=want: want) == want  # type: ignore[misc]
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_dump_cache_ignores_damaged_files(tmp_path: Path) -> None:
    cache = DumpCache(tmp_path)
    value = [f"item-{i}" for i in range(4000)]
    good = cache.text("k", value, 0, lambda: yamlio.dump({"k": value}))
    (stored,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    stored.write_bytes(stored.read_bytes()[:-10])
    assert cache.text("k", value, 0, lambda: yamlio.dump({"k": value})) == good
    assert cache.text("k", value, 0, lambda: "never") == good  # rewritten whole


def test_secrets_never_reach_the_dump_cache(tmp_path: Path) -> None:
    from installer.yamltext import TextIndex

    big = {f"key{i}": "c2VjcmV0" * 64 for i in range(100)}
    index = TextIndex(DumpCache(tmp_path))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": big}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": big}
    assert index.missing([secret]) == []
    assert index.dump(secret) == reference_dump(secret)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    assert index.dump(config) == reference_dump(config)
    assert any(p.is_file() for p in tmp_path.rglob("*"))  # the same data outside a Secret is kept


def test_the_dump_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_FILES the least recently written texts go; the newest stay readable."""
    monkeypatch.setattr(DumpCache, "MAX_FILES", 3)
    cache = DumpCache(tmp_path)
    values = [{"n": i, "pad": "x" * DumpCache.MIN_BYTES} for i in range(6)]
    seen: set[Path] = set()
    for i, value in enumerate(values):
        cache.text("k", value, 0, lambda i=i: f"text {i}\n")  # type: ignore[misc]
        for new in {p for p in tmp_path.glob("??/*") if len(p.name) == 64} - seen:
            os.utime(new, (1000 + i, 1000 + i))  # written in this order, whatever the clock's grain
            seen.add(new)
    files = [p for p in tmp_path.glob("??/*") if len(p.name) == 64]
    assert len(files) == 3
    assert cache.text("k", values[-1], 0, lambda: "dumped again\n") == "text 5\n"


def line_by_line(text: str) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """The reference split of ``text``: documents, and each document's blocks at columns 0, 2."""
    blocks = [list(yamltext._blocks(text.splitlines(keepends=True), n)) for n in (0, 2)]
    return yamltext._split_lines(text), blocks


def regex_split(text: str) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """The same by the splitters the pre-build uses (regular expressions on "\n"-only text)."""
    return yamltext.split_documents(text), [yamltext._text_blocks(text, n) for n in (0, 2)]


def test_every_mirror_file_splits_as_line_by_line(files: list[tuple[str, bytes]]) -> None:
    """Documents and blocks found by regular expressions are those found line by line."""
    for name, data in files:
        text = data.decode("utf-8", errors="replace")
        assert regex_split(text)[0] == line_by_line(text)[0], name
        for doc in yamltext.split_documents(text):
            assert regex_split(doc) == line_by_line(doc), name


PIECES = ["---", "--- ", "-", " ", "  ", "\n", ":", "a", "b: c", "  d:", "#", "'", '"', "\t", "\xa0"]
BREAKS = ["\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES + PIECES + BREAKS), max_size=16))
def test_splits_agree_on_any_text(pieces: list[str]) -> None:
    """Any text, with other line breaks (then the line-by-line code runs) or without."""
    text = "".join(pieces)
    assert regex_split(text) == line_by_line(text)
    assert yamltext._after_first_line(text) == "".join(text.splitlines(keepends=True)[1:])
