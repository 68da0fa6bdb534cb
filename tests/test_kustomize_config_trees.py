"""KServe's own kustomize trees, built by the engine and by `kubectl kustomize`, object for object.

Every directory under ``config/`` that holds a kustomization, in the source tarballs of v0.18.1
and v0.20.0 in the upstream mirror (read at run time, extracted to a temporary directory). These
trees use what KServe's manifests need: components, replacements, labels with selectors,
configurations, images, patches with and without targets, a namespace moved twice (kubeflow).

kubectl's outputs are computed once per session, in worker processes started at the first test
(running kubectl and parsing its 100 MB of YAML is most of this file's time), while the engine
builds in this process.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from installer import kustomize
from installer.errors import BuildError
from tests.conftest import UPSTREAM
from tests.kustomize_ref import differences, parse_stream, run_kubectl_kustomize

VERSIONS = ("v0.18.1", "v0.20.0")
ARCHIVES = UPSTREAM / "github.com" / "kserve" / "kserve" / "archive" / "refs" / "tags"
# Directories whose kustomization names files the source tarball does not ship (generated or
# left out upstream): kubectl cannot build them, so the engine must refuse them too.
KUBECTL_CANNOT_BUILD = frozenset(
    {"config/overlays/dev-image-config", "config/overlays/development", "config/overlays/llmisvc"}
)


def _top(version: str) -> str:
    return f"kserve-{version.removeprefix('v')}"


def _directories(version: str) -> list[str]:
    """Directories (relative to the tarball's top) holding a kustomization file."""
    with tarfile.open(ARCHIVES / f"{version}.tar.gz") as tar:
        names = tar.getnames()
    top = _top(version) + "/"
    found = {
        name.removeprefix(top).rsplit("/", 1)[0]
        for name in names
        if name.startswith(top + "config/") and name.rsplit("/", 1)[-1] in kustomize.KUSTOMIZATION_FILES
    }
    return sorted(found)


CASES = [(v, d) for v in VERSIONS for d in _directories(v)]


def _extract(archive: Path, dest: Path, top: str) -> Path:
    """Extract with tarfile's "data" filter (no absolute or parent paths, no links out, no
    devices), and refuse anything but regular files and directories under the expected top."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not (member.isfile() or member.isdir()) or not (member.name + "/").startswith(top + "/"):
                raise AssertionError(f"{archive.name}: unexpected member {member.name!r}")
        tar.extractall(dest, filter="data")
    return dest / top


def _kubectl(path: str) -> tuple[int, Any]:
    """(0, objects) or (exit code, stderr) of `kubectl kustomize path` (runs in a worker)."""
    proc = run_kubectl_kustomize(Path(path))
    return (0, parse_stream(proc.stdout)) if proc.returncode == 0 else (proc.returncode, proc.stderr)


@pytest.fixture(scope="session")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dest = tmp_path_factory.mktemp("kserve-config-trees")
    return {v: _extract(ARCHIVES / f"{v}.tar.gz", dest, _top(v)) for v in VERSIONS}


@pytest.fixture(scope="session")
def trees(extracted: dict[str, Path]) -> dict[str, kustomize.FileTree]:
    """One tree per version: each file is parsed once, whichever directories include it."""
    return {v: kustomize.FileTree.from_directory(root) for v, root in extracted.items()}


@pytest.fixture(scope="session")
def reference(extracted: dict[str, Path]) -> Iterator[dict[tuple[str, str], Future[tuple[int, Any]]]]:
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield {(v, d): pool.submit(_kubectl, str(extracted[v] / d)) for v, d in CASES}


def test_every_version_has_its_trees() -> None:
    for version in VERSIONS:
        dirs = [d for v, d in CASES if v == version]
        assert len(dirs) >= 50, f"{version}: only {len(dirs)} kustomization directories"
        assert {"config/default", "config/overlays/all", "config/overlays/kubeflow"} <= set(dirs)
        assert set(dirs) >= KUBECTL_CANNOT_BUILD


@pytest.mark.kubectl
@pytest.mark.parametrize(("version", "directory"), CASES, ids=[f"{v}:{d}" for v, d in CASES])
def test_config_tree_builds_like_kubectl(
    version: str,
    directory: str,
    trees: dict[str, kustomize.FileTree],
    reference: dict[tuple[str, str], Future[tuple[int, Any]]],
) -> None:
    try:
        ours: list[dict[str, Any]] | BuildError = kustomize.build(trees[version], directory)
    except BuildError as exc:
        ours = exc
    code, theirs = reference[(version, directory)].result(timeout=900)
    if directory in KUBECTL_CANNOT_BUILD:
        assert code != 0, f"kubectl builds {directory} now: take it off KUBECTL_CANNOT_BUILD"
        assert isinstance(ours, BuildError), f"kubectl fails ({theirs.strip()[:300]}) but the engine builds"
        # One line that names the kustomization and the file it lacks, the one kubectl names.
        missing = re.search(r"lstat (\S+): no such file", theirs)
        assert missing, theirs
        assert ours.message.startswith(f"kustomize: {directory}/kustomization.yaml: ")
        assert Path(missing.group(1)).name in ours.message
        assert "no such file" in ours.message or "not found" in ours.message
        return
    assert code == 0, f"kubectl kustomize failed: {theirs}"
    assert not isinstance(ours, BuildError), f"the engine fails where kubectl builds: {ours}"
    assert theirs, "kubectl built nothing"
    assert differences(ours, theirs) == []
