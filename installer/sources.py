"""Getting upstream assets: URL -> mirror mapping, download with retries, sha256 check, cache.

Nothing reaches the cache before its bytes were hashed and compared with the lock: a tampered or
truncated download leaves the cache as it was. The cache is content-addressed
(``<cache>/sha256/ab/abcdef...``), so two versions that share an asset share the file, and an
asset already present is never downloaded again.

An asset pinned by its objects too (a rebuilt stand-in, :mod:`installer.integrity`) is accepted
when its bytes differ but its objects match; the file is stored under its own byte digest and
symlinked from ``<cache>/objects-sha256/ab/...``, so the next fetch finds it without downloading.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from installer import versions
from installer.errors import FetchError, IntegrityError, LockError, UsageError, root_cause
from installer.lock import Asset, Lock, Source

if TYPE_CHECKING:  # requests costs ~0.1 s to import; a warm render never downloads
    import requests

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_PIN = re.compile(r"^(?P<url>[^#]+)#sha256=(?P<sha>[0-9a-f]{64})$")


@dataclass(frozen=True)
class FetchSettings:
    """How to reach upstream: mirror, timeouts (seconds) and retry policy."""

    mirror: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0
    allow_unpinned: bool = False
    announce_unpinned: bool = True


@dataclass(frozen=True)
class FetchedAsset:
    """An asset whose verified bytes sit in the cache at ``path``."""

    asset: Asset
    sha256: str
    path: Path


def check_mirror(mirror: str | None) -> None:
    """Refuse a mirror that cannot work before anything is fetched (exit 2)."""
    if not mirror:
        return
    scheme = urllib.parse.urlsplit(mirror).scheme
    if scheme in ("http", "https"):
        return
    if scheme == "file":
        mirror = urllib.parse.urlsplit(mirror).path
    elif scheme:
        raise UsageError(
            f"--mirror: unsupported scheme {scheme!r} in {mirror} (use a directory or http(s) URL)"
        )
    if not Path(mirror).is_dir():
        raise UsageError(f"--mirror: directory does not exist: {mirror}")


def mirrored(url: str, mirror: str | None) -> str:
    """Map ``https://HOST/PATH`` to ``BASE/HOST/PATH``; without a mirror the URL itself.

    The mapped path is checked to stay below BASE, so that a crafted URL (``..`` segments,
    encoded slashes) cannot read files outside the mirror.
    """
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not an http(s) URL: {url}")
    rel = f"{parts.netloc}{urllib.parse.unquote(parts.path)}"
    segments = [s for s in rel.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise UsageError(f"URL path escapes the mirror: {url}")
    base_scheme = urllib.parse.urlsplit(mirror).scheme
    if base_scheme in ("http", "https"):
        return mirror.rstrip("/") + "/" + "/".join(urllib.parse.quote(s) for s in segments)
    base = urllib.parse.urlsplit(mirror).path if base_scheme == "file" else mirror
    return str(Path(base).joinpath(*segments))


def parse_resource(spec: str) -> Asset:
    """A ``kustomize.resources`` entry: ``URL`` or ``URL#sha256=HEX`` (pip's pinning syntax)."""
    m = _PIN.match(spec)
    url, sha = (m.group("url"), m.group("sha")) if m else (spec, None)
    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] or "resource.yaml"
    return Asset(name=name, url=url, sha256=sha)


def source_for(lock: Lock, spec: str, allow_unpinned: bool = False) -> Source:
    """The source ``kserve.source`` names: a source of the lock (by name or URL), or a tarball
    URL pinned inline (``URL#sha256=HEX``), or (``--allow-unpinned``) an unpinned URL. A source
    outside the lock is built with the default entry points; its version comes from a tag in its
    URL, else the caller must supply it (an empty ``version`` here)."""
    pinned = lock.source(spec)
    if pinned is not None:
        return pinned
    m = _PIN.match(spec)
    url, sha = (m.group("url"), m.group("sha")) if m else (spec, None)
    if "://" not in url:
        known = ", ".join(lock.source_names()) or "none"
        raise LockError(
            f"kserve.source: {spec!r} is neither a source in the lock (locked: {known}) nor a tarball URL"
        )
    by_url = lock.source(url)
    if by_url is not None:
        if sha and sha != by_url.sha256:
            raise LockError(f"kserve.source: {url} is pinned to another sha256 in the lock ({by_url.name})")
        return by_url
    if sha is None and not allow_unpinned:
        raise LockError(
            f"kserve.source: {url} has no digest; pin it with `installer lock add --source {url}`, "
            "append #sha256=<hex>, or pass --allow-unpinned to print it"
        )
    return Source(name=url, url=url, version=versions.source_version(url) or "", sha256=sha)


def assets_for(
    lock: Lock,
    component: str,
    version: str,
    resources: list[str] | None = None,
    allow_unpinned: bool = False,
) -> list[Asset]:
    """The assets to fetch: the ``kustomize.resources`` override, the lock, or (unpinned) the release."""
    if resources:
        assets = [parse_resource(r) for r in resources]
        unpinned = [a.url for a in assets if a.sha256 is None]
        if unpinned and not allow_unpinned:
            raise LockError(
                f"kustomize.resources: {unpinned[0]} has no digest; append #sha256=<hex> "
                "or pass --allow-unpinned to print it"
            )
        return assets
    if lock.has(component, version):
        return lock.assets(component, version)
    if not allow_unpinned:
        lock.assets(component, version)  # raises the LockError naming the locked versions
    return [
        Asset(name=n, url=versions.release_url(component, version, n))
        for n in versions.asset_names(component, version)
    ]


class Cache:
    """Content-addressed store of verified downloads."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def get(self, sha256: str) -> Path | None:
        p = self.path_for(sha256)
        return p if p.is_file() else None

    def objects_path_for(self, objects_sha256: str) -> Path:
        return self.root / "objects-sha256" / objects_sha256[:2] / objects_sha256

    def find(self, asset: Asset) -> Path | None:
        """The verified copy of ``asset``: by its byte digest, or by its object digest (then the
        path of the stored file, whose name is its own byte digest)."""
        hit = self.get(asset.sha256) if asset.sha256 else None
        if hit is None and asset.objects_sha256:
            alias = self.objects_path_for(asset.objects_sha256)
            hit = alias.resolve() if alias.is_file() else None
        return hit

    def link_objects(self, stored: Path, objects_sha256: str) -> None:
        """Record that ``stored`` (already verified) holds these objects: a relative symlink,
        swapped in atomically so a concurrent reader sees the old link or the new one."""
        alias = self.objects_path_for(objects_sha256)
        alias.parent.mkdir(parents=True, exist_ok=True)
        tmp = alias.with_name(f".{alias.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(stored, alias.parent), tmp)
        tmp.replace(alias)

    def temp_file(self) -> tuple[BinaryIO, Path]:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="dl-")
        return os.fdopen(fd, "wb"), Path(name)

    def commit(self, tmp: Path, sha256: str) -> Path:
        dest = self.path_for(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(dest)
        return dest


class _TransientError(Exception):
    """A failure worth another try: connection trouble, timeouts, 5xx, a cut-off body."""

    def __init__(self, reason: str, partial_sha: str | None = None) -> None:
        super().__init__(reason)
        self.partial_sha = partial_sha


def fetch_asset(
    asset: Asset,
    settings: FetchSettings,
    cache: Cache,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchedAsset:
    """Return the verified cached copy of ``asset``, downloading it if needed."""
    if asset.sha256:
        hit = cache.find(asset)
        if hit:
            log.debug("cached %s (%s)", asset.url, hit.name)
            return FetchedAsset(asset, hit.name, hit)
    elif not settings.allow_unpinned:
        raise LockError(f"{asset.url} is not pinned by sha256; pass --allow-unpinned to fetch it anyway")
    location = mirrored(asset.url, settings.mirror)
    if "://" in location:
        import requests

        http = _Http(settings, session or requests.Session(), sleep)
        fetched = _download(asset, location, http, cache)
    else:
        fetched = _copy_local(asset, Path(location), cache)
    if not asset.sha256 and settings.announce_unpinned:
        log.warning("unpinned: %s#sha256=%s", asset.url, fetched.sha256)
    return fetched


def _objects_match(asset: Asset, tmp: Path) -> bool:
    """Whether bytes that differ from the pin still hold the pinned objects."""
    from installer.integrity import ObjectDigestError, objects_digest

    if not asset.objects_sha256:
        return False
    try:
        return objects_digest(tmp.read_bytes()) == asset.objects_sha256
    except ObjectDigestError as exc:
        log.debug("%s: no object digest: %s", asset.url, exc)
        return False


def _verify_and_store(asset: Asset, url: str, tmp: Path, digest: str, cache: Cache) -> FetchedAsset:
    by_objects = bool(asset.sha256) and digest != asset.sha256 and _objects_match(asset, tmp)
    if asset.sha256 and digest != asset.sha256 and not by_objects:
        tmp.unlink(missing_ok=True)
        detail = (
            f"nor do its objects match objectsSha256 {asset.objects_sha256}" if asset.objects_sha256 else ""
        )
        raise IntegrityError(url, asset.sha256, digest, detail)
    path = cache.commit(tmp, digest)
    if by_objects and asset.objects_sha256:
        cache.link_objects(path, asset.objects_sha256)
        log.debug(
            "fetched %s (%d bytes, sha256 %s): verified by its objects (the lock pins a rebuilt copy)",
            asset.url,
            path.stat().st_size,
            digest[:12],
        )
    else:
        log.debug("fetched %s (%d bytes, sha256 %s)", asset.url, path.stat().st_size, digest[:12])
    return FetchedAsset(asset, digest, path)


def _copy_local(asset: Asset, source: Path, cache: Cache) -> FetchedAsset:
    try:
        src = source.open("rb")
    except FileNotFoundError:
        raise FetchError(f"{asset.url}: not in the mirror (looked for {source})") from None
    except OSError as exc:
        raise FetchError(f"{asset.url}: cannot read {source}: {exc.strerror}") from None
    out, tmp = cache.temp_file()
    h = hashlib.sha256()
    try:
        with src, out:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _verify_and_store(asset, str(source), tmp, h.hexdigest(), cache)


@dataclass(frozen=True)
class _Http:
    """How downloads go: settings (timeouts, retries), one session, the sleep between tries."""

    settings: FetchSettings
    session: requests.Session
    sleep: Callable[[float], None]


def _download(asset: Asset, url: str, http: _Http, cache: Cache) -> FetchedAsset:
    settings, session, sleep = http.settings, http.session, http.sleep
    last: _TransientError | None = None
    for attempt in range(settings.retries + 1):
        if attempt:
            delay = settings.backoff * (2 ** (attempt - 1))
            log.debug("retrying %s in %.1fs (%s)", url, delay, last)
            sleep(delay)
        out, tmp = cache.temp_file()
        try:
            with out:
                digest = _stream(url, settings, session, out)
            return _verify_and_store(asset, url, tmp, digest, cache)
        except _TransientError as exc:
            last = exc
        finally:
            tmp.unlink(missing_ok=True)
    if last is None:  # retries >= 0 means at least one attempt, which sets it or returns
        raise FetchError(f"{url}: no attempt was made")
    if last.partial_sha and asset.sha256:
        raise IntegrityError(url, asset.sha256, last.partial_sha, str(last))
    hint = (
        "; offline or air-gapped? pass --mirror BASE"
        if "://" in asset.url and settings.mirror is None
        else ""
    )
    raise FetchError(f"{url}: {last} (gave up after {settings.retries + 1} attempts{hint})")


def connection_problem(exc: BaseException, url: str) -> str:
    """What went wrong connecting to ``url``'s host, in a few words (urllib3's own messages run
    to hundreds of characters of nested reprs)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or url
    where = f"{host}:{parts.port}" if parts.port else host
    cause = root_cause(exc, 160)
    whole = root_cause(exc, 100_000)
    if any(
        s in whole
        for s in (
            "Name or service not known",
            "Temporary failure in name resolution",
            "nodename nor servname",
            "Failed to resolve",
            "No address associated",
        )
    ):
        return f"cannot resolve {host} (no DNS, or no network)"
    if "Connection refused" in whole:
        return f"{where} refused the connection"
    if "Network is unreachable" in whole or "No route to host" in whole:
        return f"no route to {where} (no network)"
    if "SSL" in whole or "certificate" in whole.lower():
        return f"TLS with {where} failed: {cause}"
    return f"cannot connect to {where}: {cause}"


def _stream(url: str, settings: FetchSettings, session: requests.Session, out: BinaryIO) -> str:
    """Download ``url`` into ``out`` and return its sha256; raise _TransientError for retryable trouble."""
    import requests

    timeout = (settings.connect_timeout, settings.read_timeout)
    try:
        resp = session.get(url, stream=True, timeout=timeout)
    except requests.Timeout:
        raise _TransientError(f"no answer within {settings.read_timeout:g}s") from None
    except requests.ConnectionError as exc:
        raise _TransientError(connection_problem(exc, url)) from None
    with resp:
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _TransientError(f"HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise FetchError(f"{url}: HTTP {resp.status_code} {resp.reason}")
        h = hashlib.sha256()
        received = 0
        try:
            for chunk in resp.iter_content(_CHUNK):
                h.update(chunk)
                out.write(chunk)
                received += len(chunk)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # urllib3 enforces Content-Length: a body cut short surfaces here.
            raise _TransientError(
                f"body cut short after {received} bytes: {root_cause(exc)}", h.hexdigest()
            ) from None
        except requests.Timeout:
            raise _TransientError(
                f"read stalled for {settings.read_timeout:g}s after {received} bytes"
            ) from None
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and int(expected) != received:
            raise _TransientError(f"truncated: received {received} of {expected} bytes", h.hexdigest())
        return h.hexdigest()


def fetch_all(
    assets: list[Asset], settings: FetchSettings, cache: Cache, session: requests.Session | None = None
) -> list[FetchedAsset]:
    """Fetch every asset, in order, sharing one HTTP session (made only if something is downloaded)."""
    check_mirror(settings.mirror)
    if session is None and not any(_downloads(a, settings, cache) for a in assets):
        return [fetch_asset(a, settings, cache) for a in assets]
    import requests

    with session or requests.Session() as s:
        return [fetch_asset(a, settings, cache, s) for a in assets]


def _downloads(asset: Asset, settings: FetchSettings, cache: Cache) -> bool:
    """Whether fetching ``asset`` goes over HTTP. Copies from a local mirror do not: a cold
    render from one need not import requests (~0.1 s, a twentieth of a cold render). A URL the
    mirror refuses counts as a download, so that :func:`fetch_asset` reports it as before."""
    if asset.sha256 and cache.find(asset):
        return False
    try:
        return "://" in mirrored(asset.url, settings.mirror)
    except UsageError:
        return True
