"""Pre-build: fetched upstream YAML -> normalized objects under ``kserve-built/<version>/``.

Parsing KServe's 3.5 MB manifest costs about a second even with libyaml; every render would pay it.
The pre-build pays it once per asset digest and stores the objects as JSON (``objects.json``, read
in ~0.1 s) next to one YAML file per apply phase (for people, and for ``kubectl kustomize``).

Normalization (the only ways an object may differ from upstream, checked by tests):

1. Empty documents (``---`` with nothing after it) are dropped.
2. An object whose identity (group, kind, namespace, name) appeared before is dropped when it is
   identical (v0.16.0 ships its eight LLMInferenceServiceConfigs in both assets). When it differs,
   the later asset's copy replaces the earlier one (v0.17+ ``kserve.yaml`` repeats the CRDs of
   ``kserve-crds.yaml`` with labels and the CA-injection annotation added); the build records it.
3. Objects are grouped by apply phase, keeping upstream order inside a phase. Nothing inside an
   object is changed.

Documents are parsed block by block (:mod:`installer.yamltext`), so the original text of large
values (CRD schemas) is kept in ``texts.json`` and reused when the render writes YAML; the phase
files are the upstream documents' own text.

A second build with the same asset digests and the same builder is a no-op (``build.json``
holds a stamp of both).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import jsonio, objects, yamlio
from installer.atomic import replace_directory
from installer.errors import BuildError
from installer.objects import Obj, ObjectKey
from installer.phases import PHASES, group_by_phase, phase_file
from installer.sources import FetchedAsset
from installer.yamltext import TextIndex, parse_document, parse_head, split_documents

log = logging.getLogger(__name__)

BUILD_FORMAT = 2
BUILD_FILE = "build.json"
OBJECTS_FILE = "objects.json"
TEXTS_FILE = "texts.json"
PARALLEL_MIN_BYTES = 512 * 1024


@dataclass(frozen=True)
class Built:
    """A pre-built version: objects by phase plus what the build dropped or replaced.

    ``edited``: phases whose objects no longer equal the phase file under ``path`` (objects were
    left out after the build, :meth:`without`), so that file must not stand in for them.
    ``left_out``: upstream components a source build did not build (``components/llmisvc``)."""

    component: str
    version: str
    phases: dict[str, list[Obj]]
    notes: list[str]
    path: Path
    texts: dict[str, list[Texts]] | None = None
    edited: frozenset[str] = frozenset()
    left_out: tuple[str, ...] = ()

    def without(self, removed: Collection[ObjectKey]) -> Built:
        """This build without the objects ``removed`` names (their texts go with them)."""
        if not removed:
            return self
        phases: dict[str, list[Obj]] = {}
        texts: dict[str, list[Texts]] = {}
        edited = set(self.edited)
        for phase, objs in self.phases.items():
            own = (self.texts or {}).get(phase, [])
            keep = [i for i, o in enumerate(objs) if ObjectKey.of(o) not in removed]
            phases[phase] = [objs[i] for i in keep]
            texts[phase] = [own[i] for i in keep if i < len(own)]
            if len(keep) != len(objs):
                edited.add(phase)
        return dataclasses.replace(self, phases=phases, texts=texts, edited=frozenset(edited))

    def all_objects(self) -> list[Obj]:
        return [o for p in PHASES for o in self.phases.get(p, [])]

    def text_index(self) -> TextIndex:
        """Original texts of the pre-built values, for the YAML writer."""
        index = TextIndex()
        self.add_texts(index)
        return index

    def add_texts(self, index: TextIndex) -> None:
        for phase, objs in self.phases.items():
            for obj, (top, spec) in zip(objs, (self.texts or {}).get(phase, []), strict=False):
                index.add(obj, top, spec)


Texts = tuple[dict[str, str], dict[str, str]]


def stamp(component: str, version: str, fetched: list[FetchedAsset]) -> str:
    h = hashlib.sha256(f"{BUILD_FORMAT}\0{component}\0{version}".encode())
    for f in fetched:
        h.update(f"\0{f.asset.name}\0{f.sha256}".encode())
    return h.hexdigest()


@dataclass
class Parsed:
    """One upstream document: the object, its text, and the texts of its large values."""

    obj: Obj
    text: str
    texts: Texts


def _parse_all(texts: list[str]) -> list[tuple[Any, dict[str, str], dict[str, str]]]:
    # One pause for all blocks: between blocks the collector would scan everything parsed so far.
    with yamlio.gc_paused():
        return [parse_document(t) for t in texts]


def parse_documents(
    texts: list[str], while_waiting: Callable[[], object] | None = None
) -> list[tuple[Any, dict[str, str], dict[str, str]]]:
    """Parse documents, on two cores when there are two and enough YAML to be worth a process.

    libyaml parses KServe v0.16.0 (3.5 MB) in ~1.2 s on one core: half of a cold render. The
    documents are dealt between this process and a forked worker (:func:`_deal`), which parse
    them at the same time. Results come back in document order. This process then runs
    ``while_waiting`` (warming up the validator) until the worker's objects are in.
    """
    total = sum(map(len, texts))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2 or total < PARALLEL_MIN_BYTES or "fork" not in multiprocessing.get_all_start_methods():
        return _parse_all(texts)
    halves = _deal(texts)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    try:
        # The collector stays paused until the worker's objects are in: the pool's thread
        # unpickles them, millions of new objects, and each collection would scan the whole heap.
        with yamlio.gc_paused():
            future = pool.submit(_parse_all, [texts[i] for i in halves[1]])
            mine = _parse_all([texts[i] for i in halves[0]])
            if while_waiting is not None:
                while_waiting()
            theirs = future.result()
    finally:
        # Not waiting for the worker to exit (~0.06 s: the kernel frees its copy of this heap).
        pool.shutdown(wait=False)
    out: list[Any] = [None] * len(texts)
    for half, results in zip(halves, (mine, theirs), strict=True):
        for i, r in zip(half, results, strict=True):
            out[i] = r
    return out


# What a character the worker parses costs against one parsed here: its objects are pickled,
# sent and unpickled (v0.20.0: ~0.13 s after a 0.55 s parse of 4 MB).
WORKER_COST = 1.25


def _deal(texts: list[str]) -> tuple[list[int], list[int]]:
    """Indexes of the documents this process parses, and of those the worker parses: largest
    first, each to the side with less work so far, the worker's weighted by :data:`WORKER_COST`.
    v0.20.0 has three documents of ~2 MB; unweighted, the worker got two of them and this
    process, with the rest, waited ~0.2 s for their objects."""
    halves: tuple[list[int], list[int]] = ([], [])
    work = [0.0, 0.0]
    for i in sorted(range(len(texts)), key=lambda i: -len(texts[i])):
        side = 0 if work[0] <= work[1] else 1
        halves[side].append(i)
        work[side] += len(texts[i]) * (WORKER_COST if side else 1.0)
    return halves


def normalize(
    fetched: list[FetchedAsset], while_waiting: Callable[[], object] | None = None
) -> tuple[list[Parsed], list[str]]:
    """Parse every YAML asset in order and apply normalization rules 1 and 2."""
    docs: list[tuple[FetchedAsset, int, str]] = []
    for f in fetched:
        if not f.asset.name.endswith((".yaml", ".yml")):
            raise BuildError(
                f"{f.asset.name}: not a YAML manifest; this component is pre-built by its own mode"
            )
        try:
            text = f.path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BuildError(f"{f.asset.url}: not UTF-8 text (byte {exc.start})") from None
        docs.extend((f, i, doc) for i, doc in enumerate(split_documents(text)))
    texts = [d[2] for d in docs]
    stand_ins = superseded(texts)
    todo = [i for i in range(len(texts)) if i not in stand_ins]
    try:
        parsed = parse_documents([texts[i] for i in todo], while_waiting)
    except Exception as exc:
        raise BuildError(f"upstream YAML does not parse: {' '.join(str(exc).split())}") from None
    results: list[tuple[Any, dict[str, str], dict[str, str]]] = [(None, {}, {})] * len(texts)
    for i, result in zip(todo, parsed, strict=True):
        results[i] = result
    for i, head in stand_ins.items():
        results[i] = (head, {}, {})  # never kept: a later document replaces it (see superseded)

    kept: dict[ObjectKey, Parsed] = {}
    notes: list[str] = []
    for (f, i, doc_text), (doc, top, spec) in zip(docs, results, strict=True):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
            raise BuildError(f"{f.asset.url}: document {i + 1} is not a Kubernetes object with kind and name")
        keep(kept, notes, Parsed(doc, doc_text, (top, spec)), f.asset.name)
    return list(kept.values()), notes


def superseded(texts: list[str]) -> dict[int, Obj]:
    """Documents that normalization rule 2 certainly replaces by a later one, by index, each with
    its top-level entries but ``spec`` (:func:`~installer.yamltext.parse_head`) as a stand-in.

    v0.18+ ship their CRDs twice: ``kserve-crds.yaml``, then ``kserve.yaml`` with labels added.
    The earlier copies (a quarter of v0.20.0's 9 MB) need not be parsed whole: a document is
    replaced when the next one of its identity differs from it, and heads that differ are
    objects that differ. So a document is left unparsed when its head differs from the next
    one's of the same identity and from the previous one's (that comparison, made when it
    arrives, must come out as with the whole object too). The stand-in then compares as the
    object would: unequal to both. Only when every document's identity is known (a clean
    head with kind and name, or an empty document): otherwise nothing is skipped.
    """
    heads: list[Obj | None] = []
    groups: dict[ObjectKey, list[int]] = {}
    for i, text in enumerate(texts):
        if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
            heads.append(None)  # an empty document: dropped by rule 1
            continue
        head = parse_head(text)
        if head is None or not head.get("kind") or not isinstance(head.get("metadata"), dict):
            return {}
        if not head["metadata"].get("name"):
            return {}
        heads.append(head)
        groups.setdefault(objects.identity(head), []).append(i)
    out: dict[int, Obj] = {}
    for group in groups.values():
        for n, i in enumerate(group):
            head = heads[i]
            later = n + 1 < len(group) and heads[group[n + 1]] != head
            earlier_differs = n == 0 or heads[group[n - 1]] != head
            if later and earlier_differs and head is not None:
                out[i] = head
    return out


def keep(kept: dict[ObjectKey, Parsed], notes: list[str], item: Parsed, origin: str) -> None:
    """Normalization rule 2: add ``item`` to ``kept`` (by identity, in order) unless an identical
    copy is there; a differing later copy replaces the earlier one. ``notes`` says which."""
    ident = objects.identity(item.obj)
    prev = kept.get(ident)
    if prev is not None:
        what = objects.describe(item.obj)
        if prev.obj == item.obj:
            notes.append(f"dropped identical duplicate {what} from {origin}")
            return
        notes.append(f"{what} from {origin} replaced an earlier copy")
        del kept[ident]  # re-inserted below, so that order follows the winning copy
    kept[ident] = item


def split_phases(parsed: list[Parsed]) -> dict[str, list[Parsed]]:
    """By phase, keeping upstream order inside each."""
    return group_by_phase(parsed, lambda p: p.obj)


@dataclass(frozen=True)
class BuildOptions:
    """``force``: build even when up to date; ``while_waiting``: work to do while a worker parses."""

    force: bool = False
    while_waiting: Callable[[], object] | None = None


def build(
    component: str, version: str, fetched: list[FetchedAsset], root: Path, options: BuildOptions | None = None
) -> Built:
    """Pre-build ``version`` into ``root/<version>`` unless an up-to-date build is there.

    The objects (millions of them: v0.20.0's CRD schemas) live as long as the render and hold
    no cycles, so they are made with the cyclic collector paused and then frozen: otherwise
    each later collection of the older generations scanned them all again (0.3 s of a cold
    v0.20.0 render, 0.07 s of a warm one). Reference counting still frees them."""
    with yamlio.gc_paused():
        built = _build(component, version, fetched, root, options or BuildOptions())
        gc.freeze()
    return built


def _build(
    component: str, version: str, fetched: list[FetchedAsset], root: Path, options: BuildOptions
) -> Built:
    dest = root / version if component == "kserve" else root / component / version
    want = stamp(component, version, fetched)
    if not options.force:
        existing = load_built(dest, expect_stamp=want)
        if existing is not None:
            log.debug("pre-built %s %s is up to date (%s)", component, version, dest)
            return existing
    parsed, notes = normalize(fetched, options.while_waiting)
    return store(dest, parsed, build_meta(component, version, want, fetched, {}, notes=notes))


def store(dest: Path, parsed: list[Parsed], meta: dict[str, Any]) -> Built:
    """Write ``parsed`` (normalized documents) as the pre-built tree ``dest`` and return it;
    ``meta`` is ``build.json`` (its counts and kinds are filled in here)."""
    by_phase = split_phases(parsed)
    phases = {p: [item.obj for item in items] for p, items in by_phase.items()}
    texts = {p: [item.texts for item in items] for p, items in by_phase.items()}
    full = {**meta, **_contents(phases)}
    _write_tree(dest, by_phase, full)
    log.debug("pre-built %s %s: %d objects into %s", meta["component"], meta["version"], len(parsed), dest)
    return _built(meta, phases, dest, texts)


def build_meta(
    component: str,
    version: str,
    want: str,
    fetched: list[FetchedAsset],
    groups: dict[str, list[Obj]],
    **extra: Any,
) -> dict[str, Any]:
    """``build.json``: the stamp that marks a build current, plus what it holds (for people)."""
    return {
        "format": BUILD_FORMAT,
        "component": component,
        "version": version,
        "stamp": want,
        "assets": [{"name": f.asset.name, "url": f.asset.url, "sha256": f.sha256} for f in fetched],
        **_contents(groups),
        **extra,
    }


def _contents(groups: dict[str, list[Obj]]) -> dict[str, Any]:
    """What ``build.json`` says a build holds: objects per group and per kind (for people)."""
    objs = [o for group in groups.values() for o in group]
    return {
        "counts": {name: len(group) for name, group in groups.items()},
        "kinds": dict(sorted(Counter(f"{o['apiVersion']}/{o['kind']}" for o in objs).items())),
    }


def _write_tree(dest: Path, by_phase: dict[str, list[Parsed]], meta: dict[str, Any]) -> None:
    # Each file is made just before it is written (a lazy mapping): v0.20.0's are 7, 2.5 and
    # 14 MB, and holding them all at once would raise the peak memory of a cold render by a tenth.
    def phase_text(items: list[Parsed]) -> bytes:
        body = "".join("---\n" + (i.text if i.text.endswith("\n") else i.text + "\n") for i in items)
        return body.encode("utf-8")

    files: dict[str, Callable[[], bytes]] = {
        phase_file(phase): functools.partial(phase_text, items) for phase, items in by_phase.items() if items
    }
    files[OBJECTS_FILE] = lambda: jsonio.dumps({p: [i.obj for i in v] for p, v in by_phase.items()})
    files[TEXTS_FILE] = lambda: jsonio.dumps({p: [i.texts for i in v] for p, v in by_phase.items()})
    write_tree(dest, files, meta)


def write_tree(dest: Path, files: Mapping[str, bytes | Callable[[], bytes]], meta: dict[str, Any]) -> None:
    """Write ``files`` (bytes, or a function that makes them) and ``build.json`` into a temporary
    sibling, then swap it in: readers never see half a tree (:mod:`installer.atomic`)."""

    def fill(tmp: Path) -> None:
        for name, body in files.items():
            (tmp / name).write_bytes(body if isinstance(body, bytes) else body())
        # build.json last: its presence with the right stamp is what marks the tree complete.
        (tmp / BUILD_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    replace_directory(dest, fill)


def read_meta(dest: Path) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((dest / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == BUILD_FORMAT else None


def load_built(dest: Path, expect_stamp: str | None = None) -> Built | None:
    """Load a pre-built tree, or None if absent, stale or of another builder format."""
    meta = read_meta(dest)
    if meta is None or (expect_stamp is not None and meta.get("stamp") != expect_stamp):
        return None
    try:
        phases = jsonio.loads((dest / OBJECTS_FILE).read_bytes())
        texts = jsonio.loads((dest / TEXTS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return _built(meta, phases, dest, texts)


def _built(meta: dict[str, Any], phases: dict[str, list[Obj]], dest: Path, texts: Any) -> Built:
    """A :class:`Built` from its ``build.json`` and objects."""
    left_out = tuple((meta.get("source") or {}).get("leftOut") or ())
    notes = list(meta.get("notes", []))
    return Built(meta["component"], meta["version"], phases, notes, dest, texts, left_out=left_out)
