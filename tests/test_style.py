"""ruff and mypy are part of the test run, so CI enforces them."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

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


def _python_files() -> list[Path]:
    return sorted((REPO / "installer").rglob("*.py"))


def test_modules_stay_small() -> None:
    """No module over 500 lines: one job per module, readable in one sitting."""
    long = [
        f"{p.relative_to(REPO)}: {n}" for p in _python_files() if (n := len(p.read_text().splitlines())) > 500
    ]
    assert not long, long


def test_functions_stay_short() -> None:
    """No function over 60 lines (ruff's PLR0915 counts statements, not lines)."""
    long = [
        f"{p.relative_to(REPO)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for p in _python_files()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, long


def test_no_mode_conditional_outside_the_components() -> None:
    """A mode is data (installer.components.MODES): no other module asks which mode was chosen."""
    asking = re.compile(r"canonical_mode\s*(==|!=|in\b)|\.mode\s*(==|!=)\s*[\"']")
    found = [
        f"{p.relative_to(REPO)}:{i}: {line.strip()}"
        for p in _python_files()
        if "components" not in p.parts
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if asking.search(line)
    ]
    assert not found, found
