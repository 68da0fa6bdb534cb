"""Connection failures need no cluster: one line, exit code, nothing rendered half-way."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import run_cli


def _env(tmp_path: Path) -> dict[str, str]:
    return {"INSTALLER_CACHE_DIR": str(tmp_path / "c"), "INSTALLER_BUILD_DIR": str(tmp_path / "b")}


def test_missing_kubeconfig_file(tmp_path: Path, upstream: Path) -> None:
    res = run_cli(
        "deploy", "--mirror", str(upstream), "--kubeconfig", str(tmp_path / "nope"), env=_env(tmp_path)
    )
    assert res.code == 2 and res.stderr.count("\n") == 1 and "--kubeconfig" in res.stderr
    assert "Traceback" not in res.stderr


def test_kubeconfig_without_contexts(tmp_path: Path, upstream: Path) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    res = run_cli("diff", "--mirror", str(upstream), "--kubeconfig", str(cfg), env=_env(tmp_path))
    # diff's errors exit 2 (1 means "something would change", as with kubectl diff)
    assert res.code == 2 and res.stderr.strip().startswith("error: no usable kubeconfig"), res.stderr
    assert res.stderr.count("\n") == 1


def test_unreachable_api_server(tmp_path: Path, upstream: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: secret-token-value}}]\n"
    )
    res = run_cli("deploy", "--mirror", str(upstream), "--kubeconfig", str(cfg), env=_env(tmp_path))
    assert res.code == 1, res.stderr
    assert (
        res.stderr.count("\n") == 1
        and f"cannot reach the API server at https://127.0.0.1:{port}" in res.stderr
    )
    assert "secret-token-value" not in res.stderr + res.stdout
