"""Object digests: rebuilt manifests pinned by what they say, downloads accepted by bytes or objects.

The mirror's v0.18.1 and v0.20.0 ``kserve.yaml`` are rebuilt by upstream's recipe; the real
release asset has other bytes. These tests serve other bytes with the same objects (re-serialized,
and rebuilt by upstream's recipe from the source tarball with kubectl) through a real HTTP server
on 127.0.0.1 and check they verify, while a single changed value does not.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import integrity
from installer.errors import IntegrityError
from installer.integrity import ObjectDigestError, objects_digest
from installer.lock import Asset, Lock
from installer.sources import Cache, FetchSettings, fetch_asset
from tests.mirror_server import serve

V20 = "github.com/kserve/kserve/releases/download/v0.20.0/kserve.yaml"
TARBALL = "github.com/kserve/kserve/archive/refs/tags/v0.20.0.tar.gz"


def pinned(lock: Lock, version: str = "v0.20.0") -> Asset:
    return next(a for a in lock.assets("kserve", version) if a.name == "kserve.yaml")


def dump(docs: list[Any]) -> bytes:
    """Same objects, other bytes: PyYAML's layout, keys sorted, no comments."""
    return yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=True, width=80).encode()


@pytest.fixture(scope="module")
def v20_docs(upstream: Path) -> list[Any]:
    text = (upstream / V20).read_text()
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


def test_the_pinned_object_digests_are_the_mirror_files(lock: Lock, upstream: Path) -> None:
    for version in ("v0.18.1", "v0.20.0"):
        asset = pinned(lock, version)
        data = (upstream / asset.url.split("://", 1)[1]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == asset.sha256
        assert objects_digest(data) == asset.objects_sha256


def test_layout_comments_and_document_order_do_not_count(v20_docs: list[Any]) -> None:
    base = objects_digest(dump(v20_docs))
    assert objects_digest(dump(list(reversed(v20_docs)))) == base
    with_noise = b"# a comment\n---\n\n---\n" + dump(v20_docs).replace(b"\n---", b"\n---\n# note")
    assert objects_digest(with_noise) == base


def test_any_changed_value_changes_the_digest(v20_docs: list[Any]) -> None:
    base = objects_digest(dump(v20_docs))
    changed = [dict(d) for d in v20_docs]
    changed[-1] = {**changed[-1], "metadata": {**changed[-1]["metadata"], "name": "other"}}
    assert objects_digest(dump(changed)) != base
    assert objects_digest(dump(v20_docs[:-1])) != base


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"a: &x [1, 2]\nb: *x\n", "anchors and aliases"),
        (b"\xff\xfe", "not UTF-8"),
        (b"a: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_bytes_have_no_object_digest(data: bytes, problem: str) -> None:
    with pytest.raises(ObjectDigestError, match=problem):
        objects_digest(data)


def test_the_parse_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity, "MAX_BYTES", 100)
    with pytest.raises(ObjectDigestError, match="over the 100-byte limit"):
        objects_digest(b"a: 1\n" * 30)
    monkeypatch.setattr(integrity, "MAX_BYTES", 1 << 20)
    monkeypatch.setattr(integrity, "MAX_DOCUMENTS", 3)
    with pytest.raises(ObjectDigestError, match="more than 3 documents"):
        objects_digest(b"---\na: 1\n" * 4)


def _serve_copy(tmp_path: Path, data: bytes) -> Path:
    root = tmp_path / "mirror"
    (root / V20).parent.mkdir(parents=True)
    (root / V20).write_bytes(data)
    return root


def test_other_bytes_with_the_pinned_objects_are_accepted_and_cached(
    lock: Lock, v20_docs: list[Any], tmp_path: Path
) -> None:
    asset = pinned(lock)
    data = dump(v20_docs)
    assert hashlib.sha256(data).hexdigest() != asset.sha256
    cache = Cache(tmp_path / "cache")
    with serve(_serve_copy(tmp_path, data)) as server:
        got = fetch_asset(asset, FetchSettings(mirror=server.url, retries=0), cache)
        assert got.sha256 == hashlib.sha256(data).hexdigest()
        assert got.path.read_bytes() == data
        again = fetch_asset(asset, FetchSettings(mirror=server.url, retries=0), cache)
        assert again.path == got.path and again.sha256 == got.sha256
        assert server.requests == ["/" + V20], "the second fetch must come from the cache"
    assert asset.objects_sha256 is not None
    assert cache.objects_path_for(asset.objects_sha256).is_symlink()


def test_one_changed_value_is_refused_and_nothing_is_cached(
    lock: Lock, v20_docs: list[Any], tmp_path: Path
) -> None:
    asset = pinned(lock)
    docs = [dict(d) for d in v20_docs]
    first_cm = next(i for i, d in enumerate(docs) if d["kind"] == "ConfigMap")
    docs[first_cm] = {**docs[first_cm], "data": {**docs[first_cm]["data"], "deploy": "{}"}}
    cache = Cache(tmp_path / "cache")
    with serve(_serve_copy(tmp_path, dump(docs))) as server, pytest.raises(IntegrityError) as err:
        fetch_asset(asset, FetchSettings(mirror=server.url, retries=0), cache)
    assert asset.sha256 is not None and asset.sha256 in err.value.message
    assert f"nor do its objects match objectsSha256 {asset.objects_sha256}" in err.value.message
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*") if "tmp" not in p.parts)


@pytest.mark.kubectl
def test_upstream_recipe_from_the_source_tarball_verifies(lock: Lock, upstream: Path, tmp_path: Path) -> None:
    """`kustomize build config/overlays/all | drop the Namespace | sed s/:latest/:v0.20.0/` (the
    release recipe), written by kubectl's kustomize with its own layout, passes the pin."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed for the recipe test"
    with tarfile.open(upstream / TARBALL) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    built = subprocess.run(
        [kubectl, "kustomize", str(tmp_path / "src" / "kserve-0.20.0" / "config" / "overlays" / "all")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    docs = [d for d in yaml.load_all(built, Loader=yaml.CSafeLoader) if d and d.get("kind") != "Namespace"]
    data = (
        yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False).replace(":latest", ":v0.20.0").encode()
    )
    asset = pinned(lock)
    with serve(_serve_copy(tmp_path, data)) as server:
        got = fetch_asset(asset, FetchSettings(mirror=server.url, retries=0), Cache(tmp_path / "cache"))
    assert got.sha256 != asset.sha256 and got.path.read_bytes() == data
