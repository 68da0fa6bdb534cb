"""Fetching against a real HTTP server on 127.0.0.1 and against a mirror directory."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer.errors import FetchError, IntegrityError, LockError, UsageError
from installer.lock import Asset, Lock
from installer.sources import (
    Cache,
    FetchSettings,
    assets_for,
    connection_problem,
    fetch_all,
    fetch_asset,
    mirrored,
    parse_resource,
)
from tests.mirror_server import MirrorServer

SMALL = "github.com/kserve/kserve/releases/download/v0.13.1/kserve-cluster-resources.yaml"
URL = f"https://{SMALL}"


@pytest.fixture
def small_asset(upstream: Path) -> Asset:
    data = (upstream / SMALL).read_bytes()
    return Asset(
        name="kserve-cluster-resources.yaml", url=URL, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def fast(mirror: str, **kw: float) -> FetchSettings:
    opts: dict[str, float] = {"connect_timeout": 2.0, "read_timeout": 2.0, "retries": 2, "backoff": 0.01}
    opts.update(kw)
    return FetchSettings(mirror=mirror, **opts)  # type: ignore[arg-type]


def cached_files(cache: Cache) -> list[Path]:
    return sorted(p for p in (cache.root / "sha256").rglob("*") if p.is_file()) if cache.root.exists() else []


def leftover_temp(cache: Cache) -> list[Path]:
    tmp = cache.root / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


# ------------------------------------------------------------------ HTTP mirror


def test_good_download_is_verified_and_cached(
    mirror_http: MirrorServer, cache: Cache, small_asset: Asset
) -> None:
    got = fetch_asset(small_asset, fast(mirror_http.url), cache)
    assert got.sha256 == small_asset.sha256
    assert got.path == cache.path_for(small_asset.sha256 or "")
    assert hashlib.sha256(got.path.read_bytes()).hexdigest() == small_asset.sha256
    assert mirror_http.requests == ["/" + SMALL]
    again = fetch_asset(small_asset, fast(mirror_http.url), cache)
    assert again.path == got.path
    assert len(mirror_http.requests) == 1, "a cached asset must not be downloaded again"


def test_changed_byte_is_rejected_and_not_cached(
    mirror_http: MirrorServer, cache: Cache, small_asset: Asset
) -> None:
    mirror_http.fault_always("/" + SMALL, "tamper")
    with pytest.raises(IntegrityError) as err:
        fetch_asset(small_asset, fast(mirror_http.url), cache)
    msg = err.value.message
    assert f"{mirror_http.url}/{SMALL}" in msg
    assert small_asset.sha256 is not None and small_asset.sha256 in msg
    assert err.value.actual in msg and err.value.actual != small_asset.sha256
    assert cached_files(cache) == [] and leftover_temp(cache) == []
    assert len(mirror_http.requests) == 1, "a digest mismatch on a whole body is not retried"


def test_truncated_body_fails_like_a_mismatch(
    mirror_http: MirrorServer, cache: Cache, small_asset: Asset
) -> None:
    mirror_http.fault_always("/" + SMALL, "truncate")
    with pytest.raises(IntegrityError) as err:
        fetch_asset(small_asset, fast(mirror_http.url), cache)
    msg = err.value.message
    assert small_asset.sha256 is not None
    assert SMALL in msg and small_asset.sha256 in msg and err.value.actual in msg
    assert "cut short" in msg or "truncated" in msg
    assert cached_files(cache) == [] and leftover_temp(cache) == []


def test_404_fails_at_once_without_retry(mirror_http: MirrorServer, cache: Cache, small_asset: Asset) -> None:
    mirror_http.fault_always("/" + SMALL, 404)
    with pytest.raises(FetchError, match="HTTP 404") as err:
        fetch_asset(small_asset, fast(mirror_http.url, retries=3), cache)
    assert SMALL in err.value.message
    assert len(mirror_http.requests) == 1
    assert cached_files(cache) == []


def test_500_twice_then_200_succeeds(mirror_http: MirrorServer, cache: Cache, small_asset: Asset) -> None:
    mirror_http.fault("/" + SMALL, 500, 500)
    got = fetch_asset(small_asset, fast(mirror_http.url, retries=2), cache)
    assert got.sha256 == small_asset.sha256
    assert len(mirror_http.requests) == 3


def test_500_forever_gives_up_after_bounded_retries(
    mirror_http: MirrorServer, cache: Cache, small_asset: Asset
) -> None:
    mirror_http.fault_always("/" + SMALL, 503)
    with pytest.raises(FetchError, match=r"HTTP 503 \(gave up after 3 attempts\)"):
        fetch_asset(small_asset, fast(mirror_http.url, retries=2), cache)
    assert len(mirror_http.requests) == 3
    assert cached_files(cache) == []


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    sock.close()


def test_server_that_never_answers_fails_within_the_timeout(
    silent_server: str, cache: Cache, small_asset: Asset
) -> None:
    settings = fast(silent_server, read_timeout=0.5, retries=0)
    start = time.monotonic()
    with pytest.raises(FetchError, match=r"no answer within 0.5s"):
        fetch_asset(small_asset, settings, cache)
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 2.0, elapsed
    # With retries the bound is (retries + 1) timeouts plus the backoff.
    start = time.monotonic()
    with pytest.raises(FetchError, match="gave up after 3 attempts"):
        fetch_asset(small_asset, fast(silent_server, read_timeout=0.3, retries=2), cache)
    assert time.monotonic() - start < 3 * 0.3 + 1.5
    assert cached_files(cache) == []


def test_connection_refused_is_retried_then_reported(cache: Cache, small_asset: Asset) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens on that port now
    with pytest.raises(
        FetchError, match=rf"127.0.0.1:{port} refused the connection \(gave up after 2 attempts\)"
    ):
        fetch_asset(small_asset, fast(f"http://127.0.0.1:{port}", retries=1), cache)


# ------------------------------------------------------------------ directory mirror


@pytest.fixture
def dir_mirror(tmp_path: Path, upstream: Path) -> Path:
    root = tmp_path / "mirror"
    (root / SMALL).parent.mkdir(parents=True)
    shutil.copyfile(upstream / SMALL, root / SMALL)
    return root


def test_directory_mirror_good(dir_mirror: Path, cache: Cache, small_asset: Asset) -> None:
    got = fetch_asset(small_asset, fast(str(dir_mirror)), cache)
    assert got.sha256 == small_asset.sha256 and got.path.is_file()
    (dir_mirror / SMALL).unlink()
    assert fetch_asset(small_asset, fast(str(dir_mirror)), cache).path == got.path, (
        "second fetch comes from the cache"
    )


def test_directory_mirror_changed_byte(dir_mirror: Path, cache: Cache, small_asset: Asset) -> None:
    data = bytearray((dir_mirror / SMALL).read_bytes())
    data[10] ^= 1
    (dir_mirror / SMALL).write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        fetch_asset(small_asset, fast(str(dir_mirror)), cache)
    assert small_asset.sha256 is not None
    assert str(dir_mirror / SMALL) in err.value.message and small_asset.sha256 in err.value.message
    assert cached_files(cache) == [] and leftover_temp(cache) == []


def test_directory_mirror_truncated(dir_mirror: Path, cache: Cache, small_asset: Asset) -> None:
    data = (dir_mirror / SMALL).read_bytes()
    (dir_mirror / SMALL).write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError) as err:
        fetch_asset(small_asset, fast(str(dir_mirror)), cache)
    assert hashlib.sha256(data[: len(data) // 2]).hexdigest() in err.value.message
    assert cached_files(cache) == []


def test_directory_mirror_missing_file(dir_mirror: Path, cache: Cache, small_asset: Asset) -> None:
    (dir_mirror / SMALL).unlink()
    with pytest.raises(FetchError, match="not in the mirror"):
        fetch_asset(small_asset, fast(str(dir_mirror)), cache)


def test_missing_mirror_directory_is_a_usage_error(tmp_path: Path, cache: Cache, small_asset: Asset) -> None:
    with pytest.raises(UsageError, match="directory does not exist"):
        fetch_all([small_asset], fast(str(tmp_path / "nope")), cache)


# ------------------------------------------------------------------ mapping and pinning rules


def test_mirror_mapping() -> None:
    assert mirrored(URL, None) == URL
    assert mirrored(URL, "/m") == f"/m/{SMALL}"
    assert mirrored(URL, "file:///m") == f"/m/{SMALL}"
    assert mirrored(URL, "http://h:1/base/") == f"http://h:1/base/{SMALL}"
    for bad in ("https://h/a/../../etc/passwd", "https://h/a/%2e%2e/x", "ftp://h/x"):
        with pytest.raises(UsageError):
            mirrored(bad, "/m")


def test_unpinned_resources_are_refused_unless_allowed(lock: Lock) -> None:
    with pytest.raises(LockError, match="has no digest"):
        assets_for(lock, "kserve", "v0.16.0", [URL])
    assert assets_for(lock, "kserve", "v0.16.0", [URL], allow_unpinned=True)[0].sha256 is None
    pinned = parse_resource(f"{URL}#sha256={'a' * 64}")
    assert pinned.sha256 == "a" * 64 and pinned.url == URL and pinned.name == "kserve-cluster-resources.yaml"


def test_unlocked_version_is_refused_unless_allowed(lock: Lock) -> None:
    with pytest.raises(LockError, match="not in the lock file"):
        assets_for(lock, "kserve", "v0.19.0")
    names = [a.name for a in assets_for(lock, "kserve", "v0.19.0", allow_unpinned=True)]
    assert names == ["kserve-crds.yaml", "kserve.yaml", "kserve-cluster-resources.yaml"]


def test_unpinned_fetch_prints_the_digest_to_pin(
    mirror_http: MirrorServer, cache: Cache, small_asset: Asset, caplog: pytest.LogCaptureFixture
) -> None:
    loose = Asset(name=small_asset.name, url=small_asset.url)
    with pytest.raises(LockError):
        fetch_asset(loose, fast(mirror_http.url), cache)
    assert mirror_http.requests == []
    settings = FetchSettings(mirror=mirror_http.url, allow_unpinned=True)
    with caplog.at_level("WARNING", logger="installer"):
        got = fetch_asset(loose, settings, cache)
    assert got.sha256 == small_asset.sha256
    assert f"{URL}#sha256={small_asset.sha256}" in caplog.text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Failed to resolve 'github.com' ([Errno -2] Name or service not known)",
            "cannot resolve github.com",
        ),
        ("[Errno 111] Connection refused", "github.com refused the connection"),
        ("[Errno 101] Network is unreachable", "no route to github.com"),
        ("SSLError: certificate verify failed", "TLS with github.com failed"),
    ],
)
def test_connection_problems_are_a_few_words(text: str, problem: str) -> None:
    """urllib3 nests reprs hundreds of characters long; the message names host and problem."""
    long = OSError(
        f"HTTPSConnectionPool(host='github.com', port=443): Max retries exceeded ({text})" + "x" * 400
    )
    said = connection_problem(long, "https://github.com/kserve/kserve/releases/download/v0.14.0/kserve.yaml")
    assert said.startswith(problem) and len(said) < 250
