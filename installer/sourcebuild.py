"""Pre-build of a KServe source: its tarball's kustomize tree -> the same :class:`Built` a release gives.

A source is GitHub's archive of a ref (a tag, a commit, a fork's). Upstream makes its release
assets from that tree (``hack/release/generate-install.sh`` at v0.20.0, described in the mirror's
README): ``kserve-crds.yaml`` is ``kustomize build config/crd/full``; ``kserve.yaml`` is the build
of ``config/overlays/all`` without its Namespace object (a ``yq`` select) and with ``:latest``
replaced by the release tag (a ``sed``); ``kserve-cluster-resources.yaml`` is the build of
``config/clusterresources`` with the same replacement.

This module does the same with the installer's kustomize engine, in memory (:mod:`installer.tarball`
reads the tarball; nothing is extracted): every entry point of the source (by default those three
directories) is built in order, Namespace objects are dropped, ``:latest`` in every string becomes
``:<tag>`` (the ref's release tag, or ``images.tag``; without either, a commit keeps ``:latest``),
and the objects go through the release pre-build's normalization (:func:`installer.prebuild.keep`:
a CRD that ``crd/full`` and ``overlays/all`` both hold is kept once, as the later entry has it).
The result is stored like a release's pre-build, under ``kserve-built/source/``, keyed by the
tarball's digest and everything else the build depends on: a second render reads it back as fast
as a release's.

Optional parts are left out by building upstream's ``config/overlays/standalone/kserve``-style
selection: an entry point's kustomization loses the ``components`` entries of those parts (what
else of theirs the other entry points hold, such as LLMInferenceServiceConfigs in
``clusterresources``, is dropped by :mod:`installer.components.parts`, as for a release).

The sed of upstream's recipe replaces text; here the replacement is made in string values, which
is the same wherever ``:latest`` is inside a value (every occurrence in KServe's tree is an image
reference, some inside the ``inferenceservice-config`` JSON); the tests compare the result with
the release assets object for object.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import __version__, jsonio, kustomize, tarball, yamlio
from installer.errors import BuildError
from installer.kustomize import FileTree
from installer.kustomize.schema import load_kustomization
from installer.lock import Source
from installer.objects import Obj, ObjectKey
from installer.prebuild import BUILD_FORMAT, Built, Parsed, build_meta, keep, load_built, store
from installer.sources import FetchedAsset
from installer.yamltext import dump_document

log = logging.getLogger(__name__)

SOURCE_FORMAT = 1
LATEST = ":latest"


@dataclass(frozen=True)
class SourceOptions:
    """How to build a source: ``tag`` replaces ``:latest`` (None keeps it); ``drop_components``:
    upstream component directories (``components/llmisvc``) that entry points leave out."""

    tag: str | None = None
    drop_components: tuple[str, ...] = ()
    force: bool = False


def stamp(source: Source, fetched: FetchedAsset, options: SourceOptions) -> str:
    """What a source build depends on: the bytes, the recipe, the options and the builder."""
    return jsonio.digest(
        [
            BUILD_FORMAT,
            SOURCE_FORMAT,
            __version__,
            fetched.sha256,
            source.version,
            list(source.entry_points),
            options.tag,
            sorted(options.drop_components),
        ],
        "source-build",
    )


def build(source: Source, fetched: FetchedAsset, root: Path, options: SourceOptions) -> Built:
    """Pre-build ``source`` into ``root/source/...`` unless an up-to-date build is there."""
    want = stamp(source, fetched, options)
    dest = root / "source" / f"{fetched.sha256[:16]}-{want[:12]}"
    if not options.force:
        existing = load_built(dest, expect_stamp=want)
        if existing is not None:
            log.debug("pre-built source %s is up to date (%s)", source.name, dest)
            return existing
    label = fetched.asset.name
    tree = read_tree(fetched.path, label, source.entry_points)
    notes: list[str] = []
    dropped: set[str] = set()
    kept: dict[ObjectKey, Parsed] = {}
    for i, entry in enumerate(source.entry_points):
        where = f"{label}: entryPoints[{i}]"
        objs = build_entry(tree, entry, options.drop_components, (notes, dropped), where)
        for obj in retag([o for o in objs if o.get("kind") != "Namespace"], options.tag):
            keep(kept, notes, Parsed(obj, "", ({}, {})), entry)
    parsed = [_with_texts(p) for p in kept.values()]
    meta = build_meta("kserve", source.version, want, [fetched], {}, notes=notes)
    meta["source"] = {
        "name": source.name,
        "entryPoints": list(source.entry_points),
        "tag": options.tag,
        "leftOut": sorted(dropped),
    }
    return store(dest, parsed, meta)


def read_tree(path: Path, label: str, entry_points: tuple[str, ...]) -> FileTree:
    """The tarball's files below the top directories of the entry points, as a tree; an entry
    point without a kustomization is named here, before anything is built."""
    tops = {entry.split("/", 1)[0] for entry in entry_points}
    read = tarball.read(path, label, under=tops)
    tree = FileTree(dict(read.files))
    for i, entry in enumerate(entry_points):
        if tree.kustomization_in(posixpath.normpath(entry)) is None:
            top = entry.split("/", 1)[0]
            has_top = tree.is_dir(top)
            what = "has no kustomization file" if has_top else f"is missing: the tarball has no {top}/"
            raise BuildError(f"{label}: entryPoints[{i}]: {read.top}/{entry} {what}")
    return tree


def build_entry(
    tree: FileTree, entry: str, drop: tuple[str, ...], said: tuple[list[str], set[str]], where: str
) -> list[Obj]:
    """One entry point built by the engine, without the ``components`` entries of ``drop``;
    ``said``: the build's notes, and the components really left out (both added to)."""
    notes, dropped = said
    path = posixpath.normpath(entry)
    if drop:
        dropped.update(_drop_components(tree, path, drop, notes))
    try:
        with _engine_notes(notes, entry):
            return kustomize.build(tree, path)
    except BuildError as exc:
        raise BuildError(f"{where}: {exc.message}") from None


def _drop_components(tree: FileTree, path: str, drop: tuple[str, ...], notes: list[str]) -> set[str]:
    """Rewrite the entry's kustomization without the components to leave out (in memory);
    returns those of ``drop`` it listed."""
    kfile = tree.kustomization_in(path)
    if kfile is None:
        return set()
    spec = load_kustomization(tree.read(kfile), kfile)
    listed = spec.get("components") or []
    found = {d for c in listed for d in drop if _is(posixpath.normpath(posixpath.join(path, c)), d)}
    kept = [c for c in listed if not any(_is(posixpath.normpath(posixpath.join(path, c)), d) for d in drop)]
    if found:
        notes.extend(f"{kfile}: left out component {c}" for c in listed if c not in kept)
        spec["components"] = kept
        tree.files[kfile] = yamlio.dump(spec)
    return found


def _is(joined: str, component: str) -> bool:
    """Whether the directory ``joined`` is upstream's ``component`` (``components/llmisvc``)."""
    return joined == component or joined.endswith("/" + component)


class _Notes(logging.Handler):
    def __init__(self, notes: list[str], entry: str) -> None:
        super().__init__(logging.DEBUG)
        self.notes = notes
        self.entry = entry

    def emit(self, record: logging.LogRecord) -> None:
        self.notes.append(f"{self.entry}: {record.getMessage()}")


@contextlib.contextmanager
def _engine_notes(notes: list[str], entry: str) -> Iterator[None]:
    """The engine's warnings about upstream's tree (a patch that matches nothing) go to the
    build's notes (``build.json``), not to the user: kubectl says nothing of them, and only
    upstream can act on them."""
    logger = logging.getLogger("installer.kustomize")
    handler = _Notes(notes, entry)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def retag(objs: list[Obj], tag: str | None) -> list[Obj]:
    """``:latest`` -> ``:<tag>`` in every string value (upstream's sed); unchanged values stay the
    very same objects, as the engine's copy-on-write leaves them."""
    if not tag:
        return objs
    return [_retag(o, f":{tag}") for o in objs]


def _retag(value: Any, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(LATEST, new) if LATEST in value else value
    if isinstance(value, dict):
        items = {k: _retag(v, new) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, list):
        elems = [_retag(v, new) for v in value]
        return value if all(a is b for a, b in zip(elems, value, strict=True)) else elems
    return value


def _with_texts(item: Parsed) -> Parsed:
    text, top, spec = dump_document(item.obj)
    return Parsed(item.obj, text, (top, spec))
