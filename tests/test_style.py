"""ruff and mypy are part of the test run, so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

TARGETS = [
    "installer",
    "tests",
    "hack/build-kserve-manifests",
    "hack/render-digests",
    "hack/render-walk",
    "benchmarks",
]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(REPO / ".venv" / "bin")) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_lint() -> None:
    res = subprocess.run([_tool("ruff"), "check", *TARGETS], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format() -> None:
    res = subprocess.run(
        [_tool("ruff"), "format", "--check", *TARGETS], cwd=REPO, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_strict() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
