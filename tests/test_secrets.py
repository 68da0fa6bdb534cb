"""Secret values never leak: not in logs, errors, `installer params`, renders without
--include-secrets, emitted kustomizations, GitOps trees or the caches, for every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import fake_apiserver
from tests.conftest import run_cli

KEY_ID = "AKIA-LEAKCHECK-7Q2"
SECRET = "s3cr3t-LEAKCHECK-9Zx"


def _files_text(root: Path) -> str:
    return (
        "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())
        if root.exists()
        else ""
    )


@pytest.fixture(params=["environment", "file"])
def secret_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = {"INSTALLER_CACHE_DIR": str(tmp_path / "cache"), "INSTALLER_BUILD_DIR": str(tmp_path / "built")}
    if request.param == "environment":
        env |= {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    else:
        creds = tmp_path / "creds.env"
        creds.write_text(f"export AWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY='{SECRET}'\n")
        env |= {"HUB_COMPONENT": "kserve", "BUCKET_CREDENTIALS_FILE": str(creds)}
    return env


def test_no_command_leaks_the_credentials(secret_env: dict[str, str], tmp_path: Path, upstream: Path) -> None:
    common = [
        "--mirror",
        str(upstream),
        "--set",
        "modelNamespaces=models,team-b",
        "--set",
        "bucket.endpoint=http://minio.minio:9000",
    ]
    outputs: list[str] = []
    for args in (
        ["params", "--set", "modelNamespaces=models"],
        ["params", "-o", "json", "--set", "modelNamespaces=models"],
        ["fetch", "--mirror", str(upstream)],
        ["build", "--mirror", str(upstream)],
        ["render", *common],
        [
            "render",
            *common,
            "--output-dir",
            str(tmp_path / "gitops"),
            "--emit-kustomization",
            str(tmp_path / "emitted"),
        ],
        ["render", *common, "--set", "ingress.protocol=ftp"],  # an error while credentials are loaded
        ["render", *common, "-v"],
        ["lock", "list"],
    ):
        res = run_cli(*args, env=secret_env)
        outputs += [res.stdout, res.stderr]
    kc = tmp_path / "kc"
    with fake_apiserver.serve("conflict") as api:
        fake_apiserver.kubeconfig(api, kc)
        for args in (
            ["deploy", *common, "--kubeconfig", str(kc)],
            ["diff", *common, "--kubeconfig", str(kc)],
        ):
            res = run_cli(*args, env=secret_env)
            assert res.code == 1, res.stderr
            outputs += [res.stdout, res.stderr]
        res = run_cli("check", "--set", "modelNamespaces=models", "--kubeconfig", str(kc), env=secret_env)
        assert res.code == 1, res.stderr
        outputs += [res.stdout, res.stderr]
    hub_env = {
        **secret_env,
        "HUB_COMPONENT": "kserve",
        "INSTALLER_MIRROR": str(upstream),
        "INSTALLER_SKIP_CHECKS": "true",
        "MODEL_NAMESPACES": "models",
        "HUB_COMPONENT_DIR": str(tmp_path / "hub"),
    }
    res = run_cli("hook", "pre-deploy", env=hub_env)
    assert res.code == 0, res.stderr
    outputs += [res.stdout, res.stderr, _files_text(tmp_path / "hub")]
    res = run_cli("hubctl", "component", env=secret_env)
    outputs += [res.stdout, res.stderr]
    with fake_apiserver.serve("forbidden") as api:
        fake_apiserver.kubeconfig(api, kc)
        res = run_cli("undeploy", "--kubeconfig", str(kc), env=secret_env)
        outputs += [res.stdout, res.stderr]
    everything = "".join(outputs) + _files_text(tmp_path / "gitops") + _files_text(tmp_path / "emitted")
    everything += _files_text(tmp_path / "cache") + _files_text(tmp_path / "built")
    assert KEY_ID not in everything and SECRET not in everything
    assert "left out Secret/models/kserve-s3-credentials" in "".join(outputs), (
        "the Secret exists and was left out"
    )

    # With --include-secrets the values are there: the test above looked for something real.
    shown = run_cli("render", *common, "--include-secrets", env=secret_env)
    assert shown.code == 0 and SECRET in shown.stdout and KEY_ID in shown.stdout
    assert SECRET not in shown.stderr and "do not commit it unencrypted" in shown.stderr


def test_gitops_trees_name_the_secrets_they_leave_out(
    secret_env: dict[str, str], tmp_path: Path, upstream: Path
) -> None:
    res = run_cli(
        "render",
        "--mirror",
        str(upstream),
        "--set",
        "modelNamespaces=models,team-b",
        "--output-dir",
        str(tmp_path / "gitops"),
        "--emit-kustomization",
        str(tmp_path / "kust"),
        env=secret_env,
    )
    assert res.code == 0, res.stderr
    for tree in ("gitops", "kust"):
        note = (tmp_path / tree / "SECRETS.md").read_text()
        for ns in ("models", "team-b"):
            assert (
                f"Secret `{ns}/kserve-s3-credentials`: keys `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`"
                in note
            )
        for path in (tmp_path / tree).rglob("*"):
            if path.is_file():
                text = path.read_text()
                assert KEY_ID not in text and SECRET not in text, path
