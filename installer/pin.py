"""Adding a version to the lock: download each release asset once and record its digest.

This is the only way digests get into the lock, as ``pip-compile --generate-hashes`` is for
requirements files: the command hashes the bytes it received; nobody types a digest. An asset the
caller marks as rebuilt (the mirror holds a stand-in made by upstream's recipe, not the release's
bytes) is pinned by its objects too, when it is YAML (:mod:`installer.integrity`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from installer import versions
from installer.errors import BuildError, UsageError
from installer.integrity import ObjectDigestError, objects_digest
from installer.lock import Asset, Lock
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
    unpinned = FetchSettings(
        mirror=settings.mirror,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries=settings.retries,
        backoff=settings.backoff,
        allow_unpinned=True,
        announce_unpinned=False,
    )
    fetched = fetch_all(wanted, unpinned, cache)
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


def _objects_digest(asset: Asset, data: bytes) -> str | None:
    """The object digest of a rebuilt YAML asset (None for a tarball: its bytes are all we have)."""
    if not asset.name.endswith((".yaml", ".yml")):
        return None
    try:
        return objects_digest(data)
    except ObjectDigestError as exc:
        raise BuildError(f"{asset.url}: cannot pin its objects: {exc}") from None
