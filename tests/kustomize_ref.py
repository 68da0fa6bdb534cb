"""Run the reference: `kubectl kustomize` on a directory, parsed into objects."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer.objects import identity

KUBECTL = shutil.which("kubectl")


def run_kubectl_kustomize(path: Path) -> subprocess.CompletedProcess[str]:
    if KUBECTL is None:
        pytest.fail(
            "kubectl is not installed: the differential tests need `kubectl kustomize` as the reference"
        )
    return subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=300)


def parse_stream(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


def kubectl_kustomize(path: Path) -> list[dict[str, Any]]:
    proc = run_kubectl_kustomize(path)
    assert proc.returncode == 0, proc.stderr
    return parse_stream(proc.stdout)


def by_identity(objs: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for o in objs:
        key = identity(o)
        assert key not in out, f"{key} twice"
        out[key] = o
    return out


def differences(ours: Iterable[dict[str, Any]], theirs: Iterable[dict[str, Any]]) -> list[str]:
    """Human-readable differences between two object sets (empty when equal)."""
    a, b = by_identity(ours), by_identity(theirs)
    diffs = [f"only in installer: {k}" for k in sorted(a.keys() - b.keys())]
    diffs += [f"only in kustomize: {k}" for k in sorted(b.keys() - a.keys())]
    for k in sorted(a.keys() & b.keys()):
        if a[k] != b[k]:
            diffs.append(f"differs: {k}: {_first_diff(a[k], b[k])}")
    return diffs


def _first_diff(x: Any, y: Any, path: str = "") -> str:
    if isinstance(x, dict) and isinstance(y, dict):
        for key in sorted(set(x) | set(y), key=str):
            if x.get(key) != y.get(key):
                return _first_diff(x.get(key), y.get(key), f"{path}/{key}")
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (p, q) in enumerate(zip(x, y, strict=True)):
            if p != q:
                return _first_diff(p, q, f"{path}/{i}")
    return f"{path}: {str(x)[:120]!r} != {str(y)[:120]!r}"
