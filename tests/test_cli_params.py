"""Bad parameters through the real CLI: one line naming the culprit, exit 2, nothing fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.mirror_server import MirrorServer

# (id, extra CLI args, files to create {name: bytes}, extra env, text the one line must contain)
Case = tuple[str, list[str], dict[str, bytes], dict[str, str], str]

CASES: list[Case] = [
    ("unknown key", ["--set", "kserve.namespacee=x"], {}, {}, "kserve.namespacee"),
    (
        "unknown key in file",
        ["-f", "{d}/v.yaml"],
        {"v.yaml": b"ingress:\n  hostz: [a.b]\n"},
        {},
        "ingress.hostz",
    ),
    ("wrong type", ["-f", "{d}/v.yaml"], {"v.yaml": b"kserve:\n  namespace: 5\n"}, {}, "kserve.namespace"),
    (
        "wrong type list",
        ["-f", "{d}/v.yaml"],
        {"v.yaml": b"ingress:\n  hosts: a.example.com\n"},
        {},
        "ingress.hosts",
    ),
    ("bad mode", ["--mode", "Serverles"], {}, {}, "kserve.deploymentMode"),
    ("alias on old version", ["--mode", "Knative", "--version", "v0.13.1"], {}, {}, "kserve.deploymentMode"),
    ("bad protocol", ["--set", "ingress.protocol=ftp"], {}, {}, "ingress.protocol"),
    ("malformed host", ["--set", "ingress.hosts=ok.example.com,bad_host!"], {}, {}, "ingress.hosts[1]"),
    ("malformed endpoint URL", ["--set", "bucket.endpoint=http://"], {}, {}, "bucket.endpoint"),
    ("malformed resource URL", ["--set", "kustomize.resources=notaurl"], {}, {}, "kustomize.resources[0]"),
    (
        "bad digest",
        ["--set", "kustomize.resources=https://x.io/k.yaml#sha256=abc"],
        {},
        {},
        "kustomize.resources[0]",
    ),
    ("bad registry", ["--set", "images.registry=Registry Local"], {}, {}, "images.registry"),
    ("missing values file", ["-f", "{d}/nope.yaml"], {}, {}, "nope.yaml"),
    ("unreadable values file (a directory)", ["-f", "{d}/dir.yaml"], {"dir.yaml/": b""}, {}, "dir.yaml"),
    ("YAML syntax error", ["-f", "{d}/v.yaml"], {"v.yaml": b"kserve:\n  namespace: [x\n"}, {}, "v.yaml"),
    ("values file is a list", ["-f", "{d}/v.yaml"], {"v.yaml": b"- kserve.namespace: x\n"}, {}, "v.yaml"),
    (
        "duplicate keys",
        ["-f", "{d}/v.yaml"],
        {"v.yaml": b"kserve:\n  namespace: a\n  namespace: b\n"},
        {},
        "v.yaml",
    ),
    ("python tag", ["-f", "{d}/v.yaml"], {"v.yaml": b"kserve: !!python/object:os.system {}\n"}, {}, "v.yaml"),
    ("not UTF-8", ["-f", "{d}/v.yaml"], {"v.yaml": b"kserve:\n  namespace: \xff\xfe\n"}, {}, "v.yaml"),
    ("set without =", ["--set", "kserve.namespace"], {}, {}, "--set kserve.namespace"),
    ("unknown version", ["--version", "v0.99.0"], {}, {}, "kserve.version"),
    ("version not a tag", ["--version", "latest"], {}, {}, "kserve.version"),
    ("empty namespace", ["--set", "kserve.namespace="], {}, {}, "kserve.namespace"),
    ("namespace not a DNS label", ["--set", "kserve.namespace=ML_Serving"], {}, {}, "kserve.namespace"),
    (
        "hubctl env bad mode",
        [],
        {},
        {"HUB_COMPONENT": "kserve", "DEPLOYMENT_MODE": "Nope"},
        "kserve.deploymentMode",
    ),
    ("--from-env bad namespace", ["--from-env"], {}, {"NAMESPACE": "-x-"}, "kserve.namespace"),
]


def _materialize(tmp: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        if name.endswith("/"):
            (tmp / name).mkdir()
        else:
            (tmp / name).write_bytes(data)


@pytest.mark.parametrize(("case", "args", "files", "env", "culprit"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["fetch", "build"])
def test_bad_parameter(
    command: str,
    case: str,
    args: list[str],
    files: dict[str, bytes],
    env: dict[str, str],
    culprit: str,
    tmp_path: Path,
    mirror_http: MirrorServer,
) -> None:
    _materialize(tmp_path, files)
    argv = [a.replace("{d}", str(tmp_path)) for a in args]
    cache = tmp_path / "cache"
    full_env = {"INSTALLER_CACHE_DIR": str(cache), "INSTALLER_BUILD_DIR": str(tmp_path / "built"), **env}
    res = run_cli(command, *argv, "--mirror", mirror_http.url, env=full_env)
    assert res.code == 2, (res.code, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and culprit in lines[0], lines[0]
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stdout == ""
    assert mirror_http.requests == [], "nothing may be fetched on bad input"
    assert not cache.exists() and not (tmp_path / "built").exists()


def test_stray_environment_is_ignored_without_hubctl(tmp_path: Path) -> None:
    res = run_cli("params", "-o", "json", env={"NAMESPACE": "stray", "DEPLOYMENT_MODE": "Nope"})
    assert res.code == 0, res.stderr
    assert '"namespace": "kserve"' in res.stdout


def test_help_everywhere() -> None:
    top = run_cli("--help")
    assert top.code == 0 and "params" in top.stdout and "build" in top.stdout
    commands = (
        ["params"],
        ["fetch"],
        ["build"],
        ["render"],
        ["deploy"],
        ["diff"],
        ["undeploy"],
        ["lock"],
        ["lock", "add"],
        ["lock", "list"],
    )
    for cmd in commands:
        res = run_cli(*cmd, "--help")
        assert res.code == 0 and "Usage:" in res.stdout, cmd
        assert res.stderr == "", f"{cmd}: {res.stderr}"  # e.g. click's warning about a duplicate option
    assert "kserve.namespace [NAMESPACE]" in run_cli("params", "--help").stdout
    version = run_cli("--version")
    assert version.code == 0 and version.stdout.startswith("installer ")


def test_params_output_formats() -> None:
    res = run_cli("params", "--set", "ingress.hosts=a.example.com", "--mode", "Serverless", "-o", "json")
    assert res.code == 0
    import json

    data = json.loads(res.stdout)
    assert data["ingress"]["hosts"] == ["a.example.com"] and data["kserve"]["deploymentMode"] == "Serverless"
