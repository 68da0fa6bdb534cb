"""A real API server accepts a fleet's Argo CD and Flux objects (INSTALLER_TEST_KUBECONFIG; skipped
otherwise).

The engines' CRDs from ../shared/gitops are installed (cluster-scoped, left in place: other runs
share them), then the ApplicationSet and the Flux Kustomizations are applied server-side with
``--dry-run=server`` and strict field validation, in a namespace of the test's own that is removed
afterwards. The GitRepository is left out: its CRD (Flux's source-controller) is not among them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer.lock import Lock
from tests.test_cluster import KUBECONFIG, kubectl
from tests.test_fleet import CLUSTERS, GITOPS, fleet_yaml, render_fleet_dir

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not KUBECONFIG, reason="INSTALLER_TEST_KUBECONFIG is not set: no real API server to test against"
    ),
]
MANAGER = "kserve-installer-tests"


@pytest.fixture(scope="module")
def engine_crds() -> None:
    """Argo CD's and Flux's CRDs, applied (not dry-run: the objects under test need their kinds)."""
    files = sorted(GITOPS.glob("*-crd.yaml"))
    assert files, f"no CRDs in {GITOPS}"
    for f in files:
        res = kubectl("apply", "--server-side", f"--field-manager={MANAGER}", "-f", str(f))
        assert res.returncode == 0, res.stderr
    for f in files:
        name = yaml.safe_load(f.read_text())["metadata"]["name"]
        res = kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
        assert res.returncode == 0, res.stderr


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"fleet-{uuid.uuid4().hex[:8]}"
    res = kubectl("create", "namespace", name)
    assert res.returncode == 0, res.stderr
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def test_api_server_accepts_the_engine_objects(
    engine_crds: None, namespace: str, tmp_path: Path, upstream: Path, lock: Lock, session_env: Path
) -> None:
    clusters = {k: CLUSTERS[k] for k in ("dev", "prod-eu", "mesh")}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(fleet_yaml(clusters, argocd={"namespace": namespace}, flux={"namespace": namespace}))
    render_fleet_dir(fleet, tmp_path / "out", upstream, lock)
    files = [
        tmp_path / "out" / "argocd" / "applicationset.yaml",
        *(tmp_path / "out" / "flux" / f"{n}.yaml" for n in clusters),
    ]
    docs: list[dict[str, Any]] = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    assert {d["kind"] for d in docs} == {"ApplicationSet", "Kustomization"}
    res = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        f"--field-manager={MANAGER}",
        "-f",
        "-",
        input_text=yaml.safe_dump_all(docs),
    )
    assert res.returncode == 0, res.stderr
    applied = [line for line in res.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(docs), res.stdout
