"""Adding a version to the lock: download each release asset once and record its digest.

This is the only way digests get into the lock, as ``pip-compile --generate-hashes`` is for
requirements files: the command hashes the bytes it received; nobody types a digest.
"""

from __future__ import annotations

import logging

from installer import versions
from installer.lock import Asset, Lock
from installer.sources import Cache, FetchSettings, fetch_all

log = logging.getLogger(__name__)


def pin_version(
    lock: Lock,
    component: str,
    version: str,
    settings: FetchSettings,
    cache: Cache,
    rebuilt_note: str | None = None,
) -> list[Asset]:
    """Fetch ``component`` ``version``'s assets unpinned, then store them in ``lock`` with digests."""
    wanted = [
        Asset(name=n, url=versions.release_url(component, version, n))
        for n in versions.asset_names(component, version)
    ]
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
    pinned = [
        Asset(
            name=f.asset.name,
            url=f.asset.url,
            sha256=f.sha256,
            size=f.path.stat().st_size,
            rebuilt=rebuilt_note is not None,
            note=rebuilt_note or "",
        )
        for f in fetched
    ]
    lock.set_assets(component, version, pinned)
    return pinned
