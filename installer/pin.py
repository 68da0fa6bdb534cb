"""Adding a version to the lock: download each release asset once and record its digest.

This is the only way digests get into the lock, as ``pip-compile --generate-hashes`` is for
requirements files: the command hashes the bytes it received; nobody types a digest. An asset the
caller marks as rebuilt (the mirror holds a stand-in made by upstream's recipe, not the release's
bytes) is pinned by its objects too, when it is YAML (:mod:`installer.integrity`). A source
tarball (:func:`pin_source`) is pinned by its bytes, with the KServe version it is and the entry
points to build.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass

from installer import versions
from installer.errors import BuildError, UsageError
from installer.integrity import ObjectDigestError, objects_digest
from installer.lock import SOURCE_NAME, Asset, Lock, Source
from installer.sources import Cache, FetchSettings, fetch_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinRequest:
    """What ``installer lock add`` pins. With ``rebuilt_note``, the assets named in
    ``rebuilt_assets`` (all of them when it is empty) are marked rebuilt, with that note."""

    component: str
    version: str
    rebuilt_note: str | None = None
    rebuilt_assets: Collection[str] = ()


def pin_version(lock: Lock, request: PinRequest, settings: FetchSettings, cache: Cache) -> list[Asset]:
    """Fetch the requested version's assets unpinned, then store them in ``lock`` with digests."""
    component, version = request.component, request.version
    rebuilt_note, rebuilt_assets = request.rebuilt_note, request.rebuilt_assets
    names = versions.asset_names(component, version)
    unknown = sorted(set(rebuilt_assets) - set(names))
    if unknown:
        raise UsageError(
            f"--rebuilt-asset {unknown[0]}: {component} {version} has no such asset ({', '.join(names)})"
        )
    if rebuilt_assets and rebuilt_note is None:
        raise UsageError("--rebuilt-asset needs --rebuilt NOTE (why the mirror's copy is not the release's)")
    wanted = [Asset(name=n, url=versions.release_url(component, version, n)) for n in names]
    fetched = fetch_all(wanted, _unpinned(settings), cache)
    pinned: list[Asset] = []
    for f in fetched:
        rebuilt = rebuilt_note is not None and (not rebuilt_assets or f.asset.name in rebuilt_assets)
        pinned.append(
            Asset(
                name=f.asset.name,
                url=f.asset.url,
                sha256=f.sha256,
                size=f.path.stat().st_size,
                rebuilt=rebuilt,
                note=(rebuilt_note or "") if rebuilt else "",
                objects_sha256=_objects_digest(f.asset, f.path.read_bytes()) if rebuilt else None,
            )
        )
    lock.set_assets(component, version, pinned)
    return pinned


def _unpinned(settings: FetchSettings) -> FetchSettings:
    """``settings`` for fetching what is about to be pinned: no digest yet, none announced."""
    return dataclasses.replace(settings, allow_unpinned=True, announce_unpinned=False)


def _objects_digest(asset: Asset, data: bytes) -> str | None:
    """The object digest of a rebuilt YAML asset (None for a tarball: its bytes are all we have)."""
    if not asset.name.endswith((".yaml", ".yml")):
        return None
    try:
        return objects_digest(data)
    except ObjectDigestError as exc:
        raise BuildError(f"{asset.url}: cannot pin its objects: {exc}") from None


@dataclass(frozen=True)
class SourceRequest:
    """What ``installer lock add --source URL`` pins: the tarball, under ``name`` (default: the
    ref its URL names), as KServe ``version`` (default: the URL's release tag), built from
    ``entry_points`` (default: upstream's release recipe)."""

    url: str
    name: str | None = None
    version: str | None = None
    entry_points: tuple[str, ...] = ()
    rebuilt_note: str | None = None


def source_of(request: SourceRequest) -> Source:
    """The unpinned source a request describes; every problem is a UsageError, before any fetch."""
    url = request.url
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or "#" in url:
        raise UsageError(f"--source: {url!r} is not an http(s) URL of a tarball")
    version = request.version or versions.source_version(url)
    if version is None:
        raise UsageError(
            f"--source {url}: the URL names no KServe release tag; give --version (e.g. v0.21.0)"
        )
    if not versions.is_tag(version):
        raise UsageError(f"--version: {version!r} is not a release tag like v0.20.0")
    name = request.name or _default_name(url)
    if not SOURCE_NAME.match(name):
        raise UsageError(f"--name: {name!r} must be letters, digits and ._/@+- (at most 128)")
    for entry in request.entry_points:
        problem = versions.entry_point_problem(entry)
        if problem:
            raise UsageError(f"--entry-point: {problem}")
    entries = request.entry_points or versions.SOURCE_ENTRY_POINTS
    return Source(name=name, url=url, version=version, entry_points=tuple(entries))


def _default_name(url: str) -> str:
    """The ref a GitHub archive URL names (``v0.20.0``; a commit shortened to 12 digits), prefixed
    by the repository for a fork's; the URL's file name otherwise."""
    ref = versions.archive_ref(url)
    if ref is None:
        return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tar.gz")
    short = ref.ref[:12] if ref.kind == "commit" else ref.ref
    return short if ref.repository.lower() == "kserve/kserve" else f"{ref.repository}@{short}"


def pin_source(lock: Lock, request: SourceRequest, settings: FetchSettings, cache: Cache) -> Source:
    """Fetch a source tarball unpinned and store it in ``lock`` with its digest and size."""
    wanted = source_of(request)
    fetched = fetch_all([wanted.asset], _unpinned(settings), cache)[0]
    rebuilt = request.rebuilt_note is not None
    pinned = Source(
        name=wanted.name,
        url=wanted.url,
        version=wanted.version,
        sha256=fetched.sha256,
        entry_points=wanted.entry_points,
        size=fetched.path.stat().st_size,
        rebuilt=rebuilt,
        note=request.rebuilt_note or "",
    )
    lock.set_source(pinned)
    return pinned
