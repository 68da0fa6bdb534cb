"""The committed lock agrees with the mirror's README and with what `installer lock add` computes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from installer import versions
from installer.lock import Lock, load_lock
from tests.conftest import LOCK_PATH, run_cli


def mirror_readme_table(upstream: Path) -> dict[str, tuple[str, bool]]:
    """URL -> (sha256, rebuilt) from the mirror README's file table."""
    rows: dict[str, tuple[str, bool]] = {}
    for line in (upstream / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            len(cells) >= 6
            and cells[1].startswith("https://github.com/kserve/")
            and "/releases/download/" in cells[1]
        ):
            sha = re.sub(r"[`*]", "", cells[2])
            rows[cells[1]] = (sha, "REBUILT" in cells[5])
    return rows


def test_lock_lists_every_mirrored_asset_with_the_readme_digest(lock: Lock, upstream: Path) -> None:
    table = mirror_readme_table(upstream)
    assert len(table) >= 7
    locked = {
        a.url: (a.sha256, a.rebuilt)
        for comp in lock.components
        for v in lock.versions(comp)
        for a in lock.assets(comp, v)
    }
    assert locked == table


def test_rebuilt_asset_says_so_and_is_never_the_default(lock: Lock) -> None:
    (mm,) = lock.assets(versions.MODELMESH, "v0.12.0")
    assert mm.rebuilt and "not the real release asset" in mm.note
    with pytest.raises(Exception, match="no complete"):
        lock.default_version(versions.MODELMESH)
    assert lock.default_version() == "v0.16.0"


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
            note = committed.assets(comp, v)[0].note
            if committed.assets(comp, v)[0].rebuilt:
                args += ["--rebuilt", note]
            res = run_cli(*args, env=env)
            assert res.code == 0, res.stderr
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
