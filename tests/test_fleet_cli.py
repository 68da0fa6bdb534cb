"""`render --fleet` through the real CLI: bad fleet files and options (one line on stderr naming
the cluster and the key, exit 2, nothing fetched, nothing written), and the example of
docs/gitops.md, read from the doc and rendered."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, Result, run_cli
from tests.kustomize_ref import differences, kubectl_kustomize
from tests.mirror_server import MirrorServer

GOOD = """\
repository: {url: https://git.example.com/fleet.git}
clusters:
- name: dev
  values: {ingress.class: nginx}
- name: prod
  version: v0.16.0
  mode: Serverless
  valuesFiles: [prod.yaml]
"""


@dataclass
class Case:
    name: str
    fleet: str
    culprit: str
    args: list[str] = field(default_factory=list)
    setup: Callable[[Path], object] = lambda d: None


def _with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


CASES = [
    Case("unknown top-level key", GOOD.replace("clusters:", "cluster:"), "fleet.yaml: cluster: unknown key"),
    Case(
        "unknown cluster key",
        _with("  valuesFiles: [prod.yaml]", "  valuesFile: [prod.yaml]"),
        "fleet.yaml: cluster prod: valuesFile: unknown key (did you mean valuesFiles?)",
    ),
    Case(
        "duplicate cluster names",
        _with("- name: prod", "- name: dev"),
        "fleet.yaml: cluster dev: name: 'dev' is also the name of clusters[0]",
    ),
    Case(
        "two clusters, one destination",
        _with("- name: prod", "- name: prod\n  destination: dev"),
        "fleet.yaml: cluster prod: destination: 'dev' is also the destination of cluster dev",
    ),
    Case(
        "cluster name not a DNS label",
        _with("- name: prod", "- name: Prod_EU"),
        "fleet.yaml: clusters[1]: name: 'Prod_EU' is not a DNS-1123 label",
    ),
    Case(
        "cluster name too long for Flux's labels",
        _with("- name: prod", "- name: " + "p" * 40),
        "is longer than 39 characters",
    ),
    Case(
        "cluster values fail validation (the last cluster)",
        _with("  mode: Serverless", "  mode: Serverless\n  values: {kserve.namespace: Bad_NS}"),
        "fleet.yaml: cluster prod: kserve.namespace: 'Bad_NS' is not a DNS-1123 label",
    ),
    Case(
        "unknown parameter in a cluster's values",
        _with("values: {ingress.class: nginx}", "values: {ingress.klass: nginx}"),
        "fleet.yaml: cluster dev: ingress.klass: unknown parameter",
    ),
    Case(
        "unpinned version",
        _with("version: v0.16.0", "version: v0.99.0"),
        "fleet.yaml: cluster prod: version: v0.99.0 is not pinned in the lock file",
    ),
    Case(
        "values file missing",
        _with("[prod.yaml]", "[missing.yaml]"),
        "fleet.yaml: cluster prod: valuesFiles[0]: missing.yaml: no such file",
    ),
    Case(
        "empty cluster list",
        "repository: {url: https://git.example.com/fleet.git}\nclusters: []\n",
        "fleet.yaml: clusters: the list is empty",
    ),
    Case("no repository", GOOD.split("\n", 1)[1], "fleet.yaml: repository: required"),
    Case(
        "repository URL that is no Git URL",
        _with("https://git.example.com/fleet.git", "git.example.com/fleet"),
        "fleet.yaml: repository: url: 'git.example.com/fleet' is not a Git URL",
    ),
    Case("fleet file missing", "", "fleet file not found", setup=lambda d: (d / "fleet.yaml").unlink()),
    Case("fleet file not a mapping", "- a\n- b\n", "fleet.yaml: a fleet file must be a mapping"),
    Case(
        "--output-dir is a file",
        GOOD,
        "exists and is not a directory",
        setup=lambda d: (d / "out").write_text("x"),
    ),
    Case(
        "--fleet with --set",
        GOOD,
        "--fleet takes every parameter from the fleet file: drop --set",
        ["--set", "kserve.namespace=x"],
    ),
    Case("--fleet with -o json", GOOD, "--fleet writes a tree, not -o json", ["-o", "json"]),
]


def render_fleet_cli(home: Path, mirror: MirrorServer, *args: str) -> Result:
    """`installer render --fleet fleet.yaml --output-dir out` in ``home``, from the HTTP mirror."""
    env = {"INSTALLER_CACHE_DIR": str(home / "cache"), "INSTALLER_BUILD_DIR": str(home / "built")}
    fleet = ("--fleet", "fleet.yaml", "--output-dir", "out", "--mirror", mirror.url)
    return run_cli("render", *fleet, *args, env=env, cwd=home, timeout=600)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_fleet(case: Case, tmp_path: Path, mirror_http: MirrorServer) -> None:
    (tmp_path / "prod.yaml").write_text("kserve.namespace: ml\n")
    (tmp_path / "fleet.yaml").write_text(case.fleet)
    case.setup(tmp_path)
    out = tmp_path / "out"
    before = out.read_bytes() if out.is_file() else None
    res = render_fleet_cli(tmp_path, mirror_http, *case.args)
    lines = res.stderr.strip().splitlines()
    assert res.code == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert case.culprit in lines[0], lines[0]
    assert res.stdout == ""
    assert (out.read_bytes() if out.is_file() else None) == before and not out.is_dir(), "nothing written"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no temporary tree left"
    assert mirror_http.requests == [], "nothing fetched"
    assert not (tmp_path / "built").exists()


DOCS = REPO / "docs" / "gitops.md"


def docs_fleet_files() -> dict[str, str]:
    """The files of docs/gitops.md's fleet section: each ```yaml file=NAME block (tests/test_docs.py
    writes the same blocks before it runs the page's commands)."""
    section = DOCS.read_text().split("## Fleets", 1)[1]
    blocks = re.findall(r"```yaml file=(\S+)\n(.*?)```", section, flags=re.S)
    return {name: body for name, body in blocks}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.kubectl
def test_docs_example_fleet(tmp_path: Path, upstream: Path, shared_build_dir: Path) -> None:
    """The fleet file of docs/gitops.md renders (twice, to the same bytes), and its prod-eu
    cluster builds to what `installer render` gives for the same values."""
    files = docs_fleet_files()
    assert set(files) == {"fleet.yaml", "prod.yaml"}
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    env = {
        "INSTALLER_CACHE_DIR": str(shared_build_dir / "cache"),
        "INSTALLER_BUILD_DIR": str(shared_build_dir / "built"),
    }
    for out in ("a", "b"):
        res = run_cli(
            "render",
            "--fleet",
            "fleet.yaml",
            "--output-dir",
            out,
            "--mirror",
            str(upstream),
            env=env,
            cwd=tmp_path,
            timeout=900,
        )
        assert res.code == 0, res.stderr
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "a" / "clusters").iterdir()) == ["dev", "legacy", "prod-eu"]
    assert sorted(p.name for p in (tmp_path / "a" / "base").iterdir()) == ["v0.16.0", "v0.20.0"]
    single = run_cli(
        "render",
        "--mirror",
        str(upstream),
        "--version",
        "v0.20.0",
        "--mode",
        "Serverless",
        "--set",
        "ingress.class=nginx",
        "--set",
        "ingress.protocol=https",
        "-f",
        "prod.yaml",
        "--set",
        "ingress.hosts=models.eu.example.com",
        "--set",
        "bucket.region=eu-west-1",
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert single.code == 0, single.stderr
    objs = [d for d in yaml.safe_load_all(single.stdout) if d]
    assert differences(objs, kubectl_kustomize(tmp_path / "a" / "clusters" / "prod-eu")) == []
    for name in ("dev", "legacy"):
        assert kubectl_kustomize(tmp_path / "a" / "clusters" / name)


def test_a_failing_render_names_its_cluster_and_writes_nothing(
    tmp_path: Path, mirror_http: MirrorServer
) -> None:
    """The second cluster's asset is missing from the mirror (exit 1): the first rendered, yet the
    old tree stays as it was, whole."""
    missing = "https://example.com/kserve/missing.yaml#sha256=" + "0" * 64
    (tmp_path / "fleet.yaml").write_text(
        "repository: {url: https://git.example.com/fleet.git}\n"
        "clusters:\n- name: dev\n"
        f"- name: broken\n  values: {{kustomize.resources: ['{missing}']}}\n"
    )
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("the tree of yesterday")
    res = render_fleet_cli(tmp_path, mirror_http, "--force", "--retries", "0")
    errors = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert res.code == 1, res.stderr
    assert len(errors) == 1 and errors[0].startswith("error: cluster broken: ") and "404" in errors[0], (
        res.stderr
    )
    assert "cluster dev: rendered KServe" in res.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no temporary tree left"
