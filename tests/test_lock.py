"""The committed lock agrees with the mirror's README and with what `installer lock add` computes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from installer import versions
from installer.lock import Lock, load_lock
from tests.conftest import LOCK_PATH, run_cli


def mirror_readme_table(upstream: Path) -> dict[str, tuple[str, bool]]:
    """URL -> (sha256, rebuilt) from the mirror README's file tables (release assets and source
    tarballs)."""
    rows: dict[str, tuple[str, bool]] = {}
    for line in (upstream / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        # Two tables: v0.12-v0.16 (status in the sixth cell) and v0.17+ (status last, fifth).
        if (
            len(cells) >= 5
            and cells[1].startswith("https://github.com/kserve/")
            and ("/releases/download/" in cells[1] or "/archive/" in cells[1])
        ):
            sha = re.sub(r"[`*]", "", cells[2])
            rows[cells[1]] = (sha, "REBUILT" in cells[-1])
    return rows


def test_lock_lists_every_mirrored_asset_with_the_readme_digest(lock: Lock, upstream: Path) -> None:
    table = mirror_readme_table(upstream)
    assert len(table) >= 15
    locked = {
        a.url: (a.sha256, a.rebuilt)
        for comp in lock.components
        for v in lock.versions(comp)
        for a in lock.assets(comp, v)
    }
    for name in lock.source_names():
        source = lock.source(name)
        assert source is not None
        locked[source.url] = (source.sha256, source.rebuilt)
    assert locked == table


def test_rebuilt_source_tarballs_say_so(lock: Lock) -> None:
    """The mirror's source tarballs hold only config/ and LICENSE: pinned as rebuilt, with the
    version their tag names and upstream's release recipe as entry points."""
    assert lock.source_names() == ["v0.18.1", "v0.20.0"]
    for name in lock.source_names():
        source = lock.source(name)
        assert source is not None and source.rebuilt and "rebuilt from the tag" in source.note
        assert source.version == name and source.url.endswith(f"/archive/refs/tags/{name}.tar.gz")
        assert source.entry_points == versions.SOURCE_ENTRY_POINTS
        assert lock.source(source.url) is source


def test_rebuilt_tarball_says_so_and_is_never_the_default(lock: Lock) -> None:
    (mm,) = lock.assets(versions.MODELMESH, "v0.12.0")
    assert mm.rebuilt and "not the real release asset" in mm.note and mm.objects_sha256 is None
    assert mm.checks == "sha256"
    with pytest.raises(Exception, match="no complete"):
        lock.default_version(versions.MODELMESH)


def test_rebuilt_manifests_are_pinned_by_their_objects_and_the_newest_is_the_default(lock: Lock) -> None:
    for version in ("v0.18.1", "v0.20.0"):
        by_name = {a.name: a for a in lock.assets(versions.KSERVE, version)}
        assert list(by_name) == ["kserve-crds.yaml", "kserve.yaml", "kserve-cluster-resources.yaml"]
        assert by_name["kserve.yaml"].rebuilt and by_name["kserve.yaml"].objects_sha256
        assert by_name["kserve.yaml"].checks == "sha256 or objects"
        for real in ("kserve-crds.yaml", "kserve-cluster-resources.yaml"):
            assert not by_name[real].rebuilt and by_name[real].checks == "sha256"
    assert lock.default_version() == "v0.20.0"


def test_lock_list_says_which_check_each_asset_has(tmp_path: Path) -> None:
    text = run_cli("lock", "list")
    assert text.code == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if x.startswith("kserve v0.20.0 kserve.yaml "))
    assert line.endswith("[sha256 or objects] (rebuilt)")
    assert any(
        x.startswith("kserve v0.20.0 kserve-crds.yaml ") and x.endswith("[sha256]")
        for x in text.stdout.splitlines()
    )
    as_json = run_cli("lock", "list", "-o", "json")
    assert as_json.code == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    checks = {(r["version"], r["name"]): r["check"] for r in rows if r["component"] == "kserve"}
    assert checks[("v0.20.0", "kserve.yaml")] == "sha256 or objects"
    assert checks[("v0.13.1", "kserve.yaml")] == "sha256"
    assert all(len(r["sha256"]) == 64 for r in rows)


def test_lock_add_recomputes_the_committed_lock(tmp_path: Path, upstream: Path) -> None:
    """Regenerating every entry from the mirror gives the committed digests and sizes."""
    committed = load_lock(LOCK_PATH)
    target = tmp_path / "lock.yaml"
    env = {"INSTALLER_CACHE_DIR": str(tmp_path / "cache")}
    for comp in committed.components:
        for v in committed.versions(comp):
            args = [
                "--lock",
                str(target),
                "lock",
                "add",
                "--component",
                comp,
                "--version",
                v,
                "--mirror",
                str(upstream),
            ]
            rebuilt = [a for a in committed.assets(comp, v) if a.rebuilt]
            if rebuilt:
                args += ["--rebuilt", rebuilt[0].note]
                if len(rebuilt) < len(committed.assets(comp, v)):
                    for a in rebuilt:
                        args += ["--rebuilt-asset", a.name]
            res = run_cli(*args, env=env)
            assert res.code == 0, res.stderr
    for name in committed.source_names():
        source = committed.source(name)
        assert source is not None
        args = ["--lock", str(target), "lock", "add", "--source", source.url, "--mirror", str(upstream)]
        res = run_cli(*args, "--rebuilt", source.note, env=env)
        assert res.code == 0, res.stderr
        assert res.stdout.startswith(f"{source.sha256}  {source.url}")
    regenerated = load_lock(target)
    assert regenerated.to_dict() == committed.to_dict()
    assert target.read_text() == LOCK_PATH.read_text()


def test_lock_add_refuses_a_bad_tag(tmp_path: Path) -> None:
    res = run_cli("--lock", str(tmp_path / "l.yaml"), "lock", "add", "--version", "latest")
    assert res.code == 2 and "--version" in res.stderr and not (tmp_path / "l.yaml").exists()


def test_asset_names_follow_the_release_layout() -> None:
    assert versions.asset_names("kserve", "v0.11.2") == ["kserve.yaml", "kserve-runtimes.yaml"]
    assert versions.asset_names("kserve", "v0.13.1") == ["kserve.yaml", "kserve-cluster-resources.yaml"]
    assert versions.asset_names("kserve", "v0.17.0")[0] == "kserve-crds.yaml"
    assert versions.asset_names("modelmesh-serving", "v0.12.0") == ["config-v0.12.0.tar.gz"]
    assert versions.parse_tag("v0.17.0-rc1") < versions.parse_tag("v0.17.0") < versions.parse_tag("v0.17.1")


def test_lock_add_refuses_an_unknown_rebuilt_asset_before_fetching(tmp_path: Path, upstream: Path) -> None:
    res = run_cli(
        "--lock",
        str(tmp_path / "l.yaml"),
        "lock",
        "add",
        "--version",
        "v0.20.0",
        "--mirror",
        str(upstream),
        "--rebuilt",
        "why",
        "--rebuilt-asset",
        "kserve-runtimes.yaml",
        env={"INSTALLER_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert res.code == 2 and "--rebuilt-asset kserve-runtimes.yaml" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "l.yaml").exists() and not (tmp_path / "cache").exists()
