"""Defects a review found (issue 19, points 1-6): each test failed on the code before its fix.

1. the validation pass cache must be keyed by everything that decided a pass (the CRD schema);
3. --kube-version is parsed, its range stated, and refused before any work;
5. caches are bounded, written atomically, and two renders can share one empty cache;
6. tests leave nothing in the checkout or the real home directory (see conftest.py).
(2 and 4 are in test_bad_inputs.py and test_cli_conventions.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from installer.errors import ValidationError
from installer.validate import validate_objects
from tests.conftest import REPO, run_cli


def crd(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "a"},
    "spec": {"size": "large"},
}
LOOSE = {
    "type": "object",
    "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
}
STRICT = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
}


def test_a_pass_against_a_loose_crd_is_not_reused_against_a_stricter_one(tmp_path: Path) -> None:
    cache = tmp_path / "validated.json"
    validate_objects([crd(LOOSE), WIDGET], cache)
    with pytest.raises(ValidationError, match=r"Widget/a/w: spec.size: 'large' is not of type 'integer'"):
        validate_objects([crd(STRICT), WIDGET], cache)


def test_the_same_input_is_still_remembered(tmp_path: Path) -> None:
    cache = tmp_path / "validated.json"
    first = validate_objects([crd(LOOSE), WIDGET], cache)
    again = validate_objects([crd(LOOSE), WIDGET], cache)
    assert first.cached == 0 and again.cached == 2 and again.checked == 0


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


@pytest.mark.parametrize("value", ["banana", "1.9", "1.16", "2.0", "1.999"])
def test_kube_version_outside_the_schemas_is_refused_before_any_work(
    value: str, env: dict[str, str], tmp_path: Path
) -> None:
    res = run_cli("render", "--kube-version", value, env=env)
    assert res.code == 2, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: --kube-version {value}:") and "supported:" in line, res.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "built").exists()


@pytest.mark.parametrize("value", ["1.30", "v1.31", "1.32.4"])
def test_kube_version_forms_kubectl_users_write(value: str, env: dict[str, str]) -> None:
    res = run_cli(
        "render", "--version", "v0.15.2", "--set", "ingress.class=nginx", "--kube-version", value, env=env
    )
    assert res.code == 0, res.stderr


def test_the_pass_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from installer import passcache

    monkeypatch.setattr(passcache, "MAX_ENTRIES", 5)
    path = tmp_path / "p.json"
    for n in range(12):
        store = passcache.PassCache(path)
        store.add(f"d{n}")
        store.save()
    kept = json.loads(path.read_text())
    assert len(kept) == 5 and kept[-1] == "d11", kept


def test_the_overlay_memo_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lock: Any) -> None:
    from installer import overlays, params

    monkeypatch.setenv("INSTALLER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(overlays, "MAX_MEMOS", 4)
    for n in range(9):
        p = params.resolve(lock, params.ParameterOptions(set_args=(f"kserve.namespace=ns{n}",)))
        overlays.render_overlay(p, "rawdeployment")
    memos = list((tmp_path / "cache" / "overlays").glob("*.json"))
    assert 1 <= len(memos) <= 4


def test_two_renders_into_one_empty_cache(env: dict[str, str], tmp_path: Path) -> None:
    """A CI matrix: two processes start on one empty cache; both succeed, with the same bytes,
    and leave no half-written entry (every cached file hashes to its name)."""
    cmd = [
        sys.executable,
        "-m",
        "installer",
        "render",
        "--version",
        "v0.16.0",
        "--set",
        "ingress.class=nginx",
    ]
    full = {**os.environ, **env}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full, cwd=tmp_path)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode() for o in outs]
    assert outs[0][0] == outs[1][0] and outs[0][0]
    import hashlib

    for f in (tmp_path / "cache" / "sha256").rglob("*"):
        if f.is_file():
            assert hashlib.sha256(f.read_bytes()).hexdigest() == f.name
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith((".pass-", ".o-", "dl-"))]
    assert leftovers == []
    json.loads((tmp_path / "cache" / "validated" / "k8s-1.32.json").read_text())


def test_the_checkout_is_not_written_by_the_hubctl_hook(tmp_path: Path, upstream: Path) -> None:
    """The hook writes .installer/ into its working directory (hubctl runs it in the component's
    directory); a test runs it in a directory of its own, never in the checkout."""
    assert not (REPO / ".installer").exists()
    res = run_cli(
        "hook",
        "pre-deploy",
        env={
            "HUB_COMPONENT": "kserve",
            "INSTALLER_MIRROR": str(upstream),
            "INSTALLER_SKIP_CHECKS": "true",
            "INSTALLER_CACHE_DIR": str(tmp_path / "cache"),
            "INSTALLER_BUILD_DIR": str(tmp_path / "built"),
            "INGRESS_CLASS": "nginx",
        },
    )
    assert res.code == 0, res.stderr
    assert not (REPO / ".installer").exists()
    assert (Path.cwd() / ".installer" / "rendered.yaml").is_file()
