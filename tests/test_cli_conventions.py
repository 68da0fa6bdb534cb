"""kubectl's and Helm's habits, through the real CLI: one test per row of issue 18's table.

Cluster commands are pointed at a port where nothing listens: the error must then be about the
connection (exit 1), which proves the flags were accepted, parsed and checked before connecting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_cli


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**cli_env, "HOME": str(tmp_path / "home")}


@pytest.fixture
def unreachable(unreachable_kubeconfig: Path) -> Path:
    return unreachable_kubeconfig


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_render_o_json_is_one_v1_list(env: dict[str, str]) -> None:
    res = run_cli("render", "--version", "v0.15.2", "--set", "ingress.class=nginx", "-o", "json", env=env)
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    yaml_out = run_cli("render", "--version", "v0.15.2", "--set", "ingress.class=nginx", env=env)
    assert doc["items"] == [d for d in yaml.safe_load_all(yaml_out.stdout) if d is not None]


def test_o_that_is_no_format_points_to_output_dir(env: dict[str, str], tmp_path: Path) -> None:
    res = run_cli("render", "-o", str(tmp_path / "tree"), env=env)
    assert res.code == 2 and "--output-dir" in one_error_line(res.stderr)
    assert not (tmp_path / "tree").exists() and not (tmp_path / "cache").exists()


def test_output_dir_creates_its_parents(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "work" / "gitops" / "kserve"
    res = run_cli("render", "--version", "v0.15.2", "--output-dir", str(target), env=env)
    assert res.code == 0, res.stderr
    assert (target / "kustomization.yaml").is_file() and (target / "00-crds").is_dir()


def test_output_dir_under_a_file_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    res = run_cli("render", "--output-dir", str(tmp_path / "afile" / "sub" / "tree"), env=env)
    assert res.code == 2 and "is a file, not a directory" in one_error_line(res.stderr)
    assert not (tmp_path / "cache").exists()


def test_diff_exit_codes_follow_kubectl_diff(env: dict[str, str], unreachable: Path) -> None:
    """0 same, 1 differs, >1 error: an API server that is down is an error, not a difference."""
    res = run_cli("diff", "--kubeconfig", str(unreachable), env=env)
    assert res.code == 2 and "cannot reach the API server" in one_error_line(res.stderr)


@pytest.mark.parametrize("command", ["deploy", "status", "undeploy", "check"])
def test_n_namespace_on_every_cluster_command(command: str, env: dict[str, str], unreachable: Path) -> None:
    res = run_cli(command, "-n", "ml", "--kubeconfig", str(unreachable), env=env)
    assert res.code == 1 and "cannot reach the API server" in one_error_line(res.stderr)


def test_n_is_kserve_namespace_with_a_flags_precedence(env: dict[str, str]) -> None:
    from installer.cli_options import ClusterOptions
    from installer.params import ParameterOptions

    opts = ClusterOptions(namespace="ml").parameters(ParameterOptions(set_args=("kserve.namespace=other",)))
    from installer import params
    from installer.lock import load_lock
    from tests.conftest import LOCK_PATH

    resolved = params.resolve(load_lock(LOCK_PATH), opts)
    assert resolved.namespace == "ml" and resolved.origins["kserve.namespace"] == "--namespace"


@pytest.mark.parametrize("value", ["--dry-run=server", "--dry-run", "--dry-run=none"])
def test_dry_run_takes_kubectls_values(value: str, env: dict[str, str], unreachable: Path) -> None:
    res = run_cli("deploy", value, "--kubeconfig", str(unreachable), env=env)
    assert res.code == 1 and "cannot reach the API server" in one_error_line(res.stderr)


def test_dry_run_client_says_it_has_no_meaning(env: dict[str, str], unreachable: Path) -> None:
    res = run_cli("deploy", "--dry-run=client", "--kubeconfig", str(unreachable), env=env)
    assert res.code == 2 and "client has no meaning here" in one_error_line(res.stderr)


def test_values_from_stdin(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "installer", "params", "-f", "-", "-o", "json"],
        input="kserve:\n  namespace: from-stdin\n",
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kserve"]["namespace"] == "from-stdin"


@pytest.mark.parametrize("flag", ["--debug", "-q", "-v"])
def test_global_flags_after_the_command(flag: str, env: dict[str, str]) -> None:
    res = run_cli("params", flag, "--version", "v9.9.9", env=env)
    assert res.code == 2, res.stderr
    assert ("Traceback" in res.stderr) == (flag == "--debug")
    assert res.stderr.rstrip().splitlines()[-1].startswith("error: kserve.version: v9.9.9 is not in the lock")


def test_verbose_after_the_command_shows_details(env: dict[str, str]) -> None:
    res = run_cli("render", "--version", "v0.15.2", "--set", "ingress.class=nginx", "-v", env=env)
    assert res.code == 0 and "pre-built kserve v0.15.2" in res.stderr


def test_lock_list_o_json(env: dict[str, str]) -> None:
    res = run_cli("lock", "list", "-o", "json", env=env)
    assert res.code == 0 and {r["version"] for r in json.loads(res.stdout)} >= {"v0.13.1", "v0.20.0"}


@pytest.mark.parametrize(
    ("mirror", "said"),
    [
        ("http://kserve-mirror.invalid", "cannot resolve kserve-mirror.invalid"),
        ("http://127.0.0.1:9", "127.0.0.1:9 refused the connection"),
    ],
)
def test_a_network_failure_is_one_short_line(mirror: str, said: str, env: dict[str, str]) -> None:
    res = run_cli(
        "render",
        "--version",
        "v0.14.0",
        "--allow-unpinned",
        "--retries",
        "0",
        env={**env, "INSTALLER_MIRROR": mirror},
    )
    line = one_error_line(res.stderr)
    assert res.code == 1 and said in line and len(line) < 250 and "HTTPConnectionPool" not in line
    assert res.stderr.count("\n") == 1


def test_offline_without_mirror_hints_at_mirror(env: dict[str, str]) -> None:
    plain = {k: v for k, v in env.items() if k != "INSTALLER_MIRROR"}
    res = run_cli("render", "--version", "v0.14.0", "--allow-unpinned", "--retries", "0", env=plain)
    line = one_error_line(res.stderr)
    assert res.code == 1 and "pass --mirror" in line and len(line) < 300


def test_a_successful_render_is_quiet(env: dict[str, str]) -> None:
    first = run_cli("render", "--version", "v0.15.2", "--set", "ingress.class=nginx", env=env)
    again = run_cli("render", "--version", "v0.15.2", "--set", "ingress.class=nginx", env=env)
    assert first.code == again.code == 0 and first.stderr == again.stderr == ""


def test_namespace_runtimes_without_model_namespaces_are_refused(env: dict[str, str], tmp_path: Path) -> None:
    res = run_cli("render", "--set", "runtimes.scope=namespace", env=env)
    assert res.code == 2 and "runtimes.scope" in one_error_line(res.stderr)
    assert not (tmp_path / "cache").exists(), "refused before anything is fetched"


def test_parameters_without_effect_are_named(env: dict[str, str]) -> None:
    res = run_cli("params", "--mode", "Serverless", "--set", "ingress.class=nginx", env=env)
    assert res.code == 0 and "ingress.class has no effect in Serverless mode" in res.stderr
    raw = run_cli("params", "--set", "knative.namespace=kn", "--set", "ingress.class=nginx", env=env)
    assert "knative.namespace has no effect in RawDeployment mode" in raw.stderr
    assert "ingress.class" not in raw.stderr


def test_sync_waves_reach_stdout(env: dict[str, str]) -> None:
    res = run_cli(
        "render", "--version", "v0.15.2", "--set", "ingress.class=nginx", "--gitops-sync-waves", env=env
    )
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    waves = {d["kind"]: d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for d in docs}
    assert waves["CustomResourceDefinition"] == "0" and waves["ClusterServingRuntime"] == "6"


def test_params_help_shows_yaml_booleans(env: dict[str, str]) -> None:
    res = run_cli("params", "--help", env=env)
    assert "(default false)" in res.stdout and "(default true)" in res.stdout
    assert "(default False)" not in res.stdout and "(default True)" not in res.stdout


def test_undeploy_accepts_deploys_flags(env: dict[str, str], unreachable: Path) -> None:
    res = run_cli(
        "undeploy",
        "--mirror",
        env["INSTALLER_MIRROR"],
        "--mode",
        "Serverless",
        "--version",
        "v0.16.0",
        "--kubeconfig",
        str(unreachable),
        env=env,
    )
    assert res.code == 1 and "cannot reach the API server" in one_error_line(res.stderr)


def test_version_names_the_tool_and_the_pinned_kserve(env: dict[str, str]) -> None:
    res = run_cli("--version", env=env)
    assert res.code == 0 and res.stdout.startswith("installer ")
    assert "kserve: v0.13.1, v0.15.2, v0.16.0, v0.18.1, v0.20.0 (default v0.20.0)" in res.stdout


def test_values_file_refuses_one_parameter_in_two_spellings(env: dict[str, str], tmp_path: Path) -> None:
    values = tmp_path / "v.yaml"
    values.write_text("kserve.namespace: a\nkserve:\n  namespace: b\n")
    res = run_cli("params", "-f", str(values), env=env)
    line = one_error_line(res.stderr)
    assert res.code == 2 and "kserve.namespace: given twice" in line and "kserve: {namespace}" in line


def test_shell_completion_is_click_s(env: dict[str, str]) -> None:
    """docs/cli.md documents bash, zsh and fish completion; each script is produced and bash
    completes a command name."""
    for shell in ("bash", "zsh", "fish"):
        res = run_cli(env={**env, "_INSTALLER_COMPLETE": f"{shell}_source"})
        assert res.code == 0 and "_INSTALLER_COMPLETE" in res.stdout, shell
    words = run_cli(
        env={**env, "_INSTALLER_COMPLETE": "bash_complete", "COMP_WORDS": "installer ren", "COMP_CWORD": "1"}
    )
    assert "render" in words.stdout
