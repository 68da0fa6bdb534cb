"""`render --fleet`: every cluster directory builds to that cluster's single render, and the
Argo CD and Flux objects are what their CRDs accept and sync what they should.

One fleet of six clusters, two versions, three modes, with their own namespaces, registries,
ingress and buckets, is rendered once for the module; each test reads it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import params, yamlio
from installer.app import FetchOptions
from installer.lock import Lock
from installer.objects import ObjectKey
from installer.operations import RenderSink, render_fleet
from installer.params import ParameterOptions
from installer.phases import INDEX, apply_order
from installer.render import render
from installer.sinks.engines import STAGES, SYNC_WAVE
from installer.sinks.render import credential_secrets
from installer.sources import FetchSettings
from installer.validate import validate_objects
from tests.conftest import CREDENTIALS_FILE, ETCD_CREDENTIALS_FILE, REPO
from tests.kustomize_ref import by_identity, differences, kubectl_kustomize

GITOPS = Path(os.environ.get("INSTALLER_TEST_GITOPS", REPO.parent / "shared" / "gitops"))

DEFAULTS: dict[str, Any] = {"ingress.protocol": "https", "bucket.region": "eu-west-1"}
# name -> (version, mode, values): what a single render of the cluster is given.
CLUSTERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "dev": (
        "v0.20.0",
        "RawDeployment",
        {"ingress.class": "nginx", "ingress.hosts": ["models.dev.example.com"]},
    ),
    "staging": (
        "v0.20.0",
        "Serverless",
        {
            "kserve.namespace": "kserve-staging",
            "images.registry": "registry.staging.example.com/mirror",
            "ingress.hosts": ["models.staging.example.com"],
            "bucket.endpoint": "http://minio.minio:9000",
        },
    ),
    "prod-eu": (
        "v0.16.0",
        "RawDeployment",
        {
            "kserve.namespace": "ml-serving",
            "ingress.class": "traefik",
            "ingress.hosts": ["models.eu.example.com", "ml.eu.example.com"],
            "images.registry": "registry.eu.example.com/kserve",
            "bucket.endpoint": "https://s3.eu-west-1.amazonaws.com",
            "modelNamespaces": ["models", "team-b"],
            "bucket.credentialsFile": str(CREDENTIALS_FILE),
        },
    ),
    "prod-us": (
        "v0.16.0",
        "Serverless",
        {
            "images.registry": "registry.us.example.com/kserve",
            "ingress.hosts": ["models.us.example.com"],
            "bucket.endpoint": "https://s3.us-east-1.amazonaws.com",
            "bucket.region": "us-east-1",
            "knative.namespace": "kn-serving",
        },
    ),
    "mesh": (
        "v0.20.0",
        "ModelMesh",
        {
            "modelmesh.namespace": "mm-prod",
            "modelmesh.etcd.endpoints": ["http://etcd-0.db:2379"],
            "modelmesh.etcd.credentialsFile": str(ETCD_CREDENTIALS_FILE),
        },
    ),
    "mesh-lite": (
        "v0.16.0",
        "ModelMesh",
        {
            "kserve.namespace": "kserve-crds",
            "modelmesh.kserveController": False,
            "modelmesh.scope": "namespace",
        },
    ),
}


def fleet_yaml(clusters: dict[str, tuple[str, str, dict[str, Any]]], **top: Any) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "installer.kserve.io/v1alpha1",
        "kind": "Fleet",
        "repository": {
            "url": "https://git.example.com/platform/kserve-fleet.git",
            "revision": "main",
            "path": "kserve",
        },
        "defaults": {"values": DEFAULTS},
        "clusters": [
            {"name": name, "version": version, "mode": mode, "values": values}
            for name, (version, mode, values) in clusters.items()
        ],
        **top,
    }
    return yamlio.dump(doc)


def render_fleet_dir(
    fleet: Path, out: Path, upstream: Path, lock: Lock, include_secrets: bool = True
) -> None:
    sink = RenderSink(output_dir=out, include_secrets=include_secrets)
    render_fleet(lock, fleet, ParameterOptions(), FetchOptions(mirror=str(upstream)), sink)


def single_render(
    name: str, lock: Lock, upstream: Path, clusters: dict[str, Any] = CLUSTERS
) -> list[dict[str, Any]]:
    """The render of one cluster alone, from its values as `-f values.yaml --version --mode`."""
    version, mode, values = clusters[name]
    p = params.resolve(
        lock,
        ParameterOptions(
            set_args=(),
            version=version,
            mode=mode,
            values_files=[params.InlineValues("test values", {**DEFAULTS, **values})],
        ),
    )
    return render(p, lock, FetchSettings(mirror=str(upstream))).objects


@pytest.fixture(scope="module")
def fleet_dir(
    tmp_path_factory: pytest.TempPathFactory, upstream: Path, lock: Lock, session_env: Path
) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    (root / "fleet.yaml").write_text(fleet_yaml(CLUSTERS))
    render_fleet_dir(root / "fleet.yaml", root / "out", upstream, lock)
    return root / "out"


def test_layout(fleet_dir: Path) -> None:
    """One base per version (and per ModelMesh build); a cluster directory holds its layer only."""
    bases = sorted(p.name for p in (fleet_dir / "base").iterdir())
    assert bases[-2:] == ["v0.16.0", "v0.20.0"] and len(bases) == 4, bases
    assert all(b.startswith("modelmesh-serving-v0.12.0-") for b in bases[:2])
    assert sorted(p.name for p in (fleet_dir / "clusters").iterdir()) == sorted(CLUSTERS)
    for name in CLUSTERS:
        home = fleet_dir / "clusters" / name
        assert {p.name for p in home.iterdir()} <= {
            "kustomization.yaml",
            "overlay",
            "patches",
            "namespace.yaml",
            "modelmesh.yaml",
            "model-namespaces.yaml",
            "secrets.yaml",
        }, name
        assert sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) < 64_000, name
    assert (fleet_dir / "argocd" / "applicationset.yaml").is_file()
    assert sorted(p.name for p in (fleet_dir / "flux").iterdir() if p.is_file()) == sorted(
        [f"{n}.yaml" for n in CLUSTERS] + ["source.yaml"]
    )
    assert not (fleet_dir / "kustomization.yaml").exists(), "nothing may build the whole fleet at once"


@pytest.mark.kubectl
@pytest.mark.parametrize("name", list(CLUSTERS))
def test_cluster_builds_to_its_single_render(name: str, fleet_dir: Path, lock: Lock, upstream: Path) -> None:
    assert (
        differences(single_render(name, lock, upstream), kubectl_kustomize(fleet_dir / "clusters" / name))
        == []
    )


def _objects(path: Path) -> dict[ObjectKey, dict[str, Any]]:
    return {ObjectKey.of(o): o for o in kubectl_kustomize(path)}


@pytest.mark.kubectl
@pytest.mark.parametrize("name", list(CLUSTERS))
def test_flux_stages_partition_the_cluster(name: str, fleet_dir: Path) -> None:
    """Each object in exactly one stage, the stage of its phase; together, the cluster."""
    cluster = _objects(fleet_dir / "clusters" / name)
    phase_of = {ObjectKey.of(o): p for p, objs in apply_order(list(cluster.values())).items() for o in objs}
    seen: dict[ObjectKey, str] = {}
    for _, stage, phases in STAGES:
        path = fleet_dir / "flux" / name / stage
        if not path.exists():
            assert not [k for k, p in phase_of.items() if p in phases], stage
            continue
        for key, obj in _objects(path).items():
            assert key not in seen, f"{key} in {seen.get(key)} and {stage}"
            assert phase_of[key] in phases and obj == cluster[key], (stage, key)
            seen[key] = stage
    assert set(seen) == set(cluster)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def gitops_crds() -> list[dict[str, Any]]:
    """The Argo CD and Flux CRDs of ../shared/gitops, read at run time (never copied here)."""
    if not GITOPS.is_dir():
        pytest.fail(f"the GitOps engines' CRDs are missing at {GITOPS} (set INSTALLER_TEST_GITOPS)")
    return [d for f in sorted(GITOPS.glob("*-crd.yaml")) for d in _docs(f)]


def engine_objects(fleet_dir: Path) -> list[dict[str, Any]]:
    files = [fleet_dir / "argocd" / "applicationset.yaml", *sorted((fleet_dir / "flux").glob("*.yaml"))]
    return [d for f in files for d in _docs(f)]


def test_engine_objects_match_their_crd_schemas(fleet_dir: Path) -> None:
    objs = engine_objects(fleet_dir)
    kinds = sorted({o["kind"] for o in objs})
    assert kinds == ["ApplicationSet", "GitRepository", "Kustomization"]
    report = validate_objects([*gitops_crds(), *objs])
    # GitRepository's CRD (source-controller) is not among them: it is the only one not checked.
    assert report.skipped and [s for s in report.skipped if "GitRepository" not in s] == []
    stages = [p for p in (fleet_dir / "flux").glob("*/*") if p.is_dir()]
    assert sum(o["kind"] == "Kustomization" for o in objs) == len(stages) >= 2 * len(CLUSTERS)


def test_flux_kustomizations_chain_and_check_the_controllers(fleet_dir: Path) -> None:
    for name in CLUSTERS:
        ks = _docs(fleet_dir / "flux" / f"{name}.yaml")
        assert ks[0]["metadata"]["name"] == f"kserve-{name}-crds" and "dependsOn" not in ks[0]["spec"]
        assert ks[0]["spec"]["wait"] is True and ks[0]["spec"]["deletionPolicy"] == "Orphan"
        for before, after in itertools.pairwise(ks):
            assert after["spec"]["dependsOn"] == [{"name": before["metadata"]["name"]}]
        assert all(k["spec"]["prune"] is True for k in ks)
        assert len({k["spec"]["path"] for k in ks}) == len(ks), "one path per stage"
        main = ks[1]["spec"]
        assert main["path"] == f"./kserve/flux/{name}/main"
        checks = {(c["name"], c["namespace"]) for c in main["healthChecks"]}
        _version, mode, values = CLUSTERS[name]
        if values.get("modelmesh.kserveController", True):
            ns = values.get("kserve.namespace", "kserve")
            assert ("kserve-controller-manager", ns) in checks, name
        if mode == "ModelMesh":
            assert ("modelmesh-controller", values.get("modelmesh.namespace", "modelmesh-serving")) in checks


@pytest.mark.kubectl
@pytest.mark.parametrize("name", ["staging", "prod-eu", "mesh"])
def test_argocd_waves_follow_the_phases(name: str, fleet_dir: Path, tmp_path: Path) -> None:
    """What Argo CD builds for a cluster (its kustomize patches over the directory) puts every
    object in its phase's wave."""
    appset = _docs(fleet_dir / "argocd" / "applicationset.yaml")[0]
    element = next(e for e in appset["spec"]["generators"][0]["list"]["elements"] if e["cluster"] == name)
    assert element == {"cluster": name, "destination": name, "path": f"kserve/clusters/{name}"}
    patches = appset["spec"]["template"]["spec"]["source"]["kustomize"]["patches"]
    app = tmp_path / "app"
    app.mkdir()
    cluster = os.path.relpath(fleet_dir / "clusters" / name, app)
    (app / "kustomization.yaml").write_text(yamlio.dump({"resources": [cluster], "patches": patches}))
    waved = kubectl_kustomize(app)
    plain = by_identity(kubectl_kustomize(fleet_dir / "clusters" / name))
    for phase, objs in apply_order(waved).items():
        for obj in objs:
            assert obj["metadata"]["annotations"][SYNC_WAVE] == str(INDEX[phase]), ObjectKey.of(obj)
    assert len(waved) == len(plain)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def two_clusters(tmp_path: Path) -> Iterator[Path]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(fleet_yaml({k: CLUSTERS[k] for k in ("dev", "prod-eu")}))
    yield fleet


@pytest.mark.kubectl
def test_secrets_stay_out_and_bytes_repeat(
    two_clusters: Path, tmp_path: Path, upstream: Path, lock: Lock, session_env: Path
) -> None:
    """Without --include-secrets the model namespaces' S3 Secrets are named in SECRETS.md and left
    out; the same fleet file gives the same bytes."""
    render_fleet_dir(two_clusters, tmp_path / "a", upstream, lock, include_secrets=False)
    render_fleet_dir(two_clusters, tmp_path / "b", upstream, lock, include_secrets=False)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    home = tmp_path / "a" / "clusters" / "prod-eu"
    assert "Secret `models/" in (home / "SECRETS.md").read_text()
    built = kubectl_kustomize(home)
    assert not [o for o in built if o["kind"] == "Secret" and (o.get("data") or o.get("stringData"))]
    single = single_render("prod-eu", lock, upstream)
    omitted = credential_secrets(single)
    assert len(omitted) == 2
    expected = [o for o in single if o not in omitted]
    assert differences(expected, built) == []
    assert not (tmp_path / "a" / "clusters" / "dev" / "SECRETS.md").exists()


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_ten_clusters_cost_little_more_than_one(
    tmp_path: Path, upstream: Path, lock: Lock, session_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten clusters of one version, each with its namespace, ingress, bucket (half with a
    registry, half Serverless), against one cluster's `render --output-dir` tree."""
    clusters = {}
    for i in range(10):
        values: dict[str, Any] = {
            "kserve.namespace": f"kserve-{i}",
            "ingress.class": "nginx",
            "ingress.hosts": [f"models.c{i}.example.com"],
            "bucket.endpoint": f"https://s3.region-{i}.example.com",
        }
        if i % 2:
            values["images.registry"] = f"registry-{i}.example.com/mirror"
        clusters[f"c{i}"] = ("v0.20.0", "RawDeployment" if i < 5 else "Serverless", values)
    (tmp_path / "fleet.yaml").write_text(fleet_yaml(clusters))
    render_fleet_dir(tmp_path / "fleet.yaml", tmp_path / "fleet", upstream, lock)
    version, mode, values = clusters["c1"]
    p = params.resolve(
        lock, ParameterOptions(values_files=[params.InlineValues("c1", values)], version=version, mode=mode)
    )
    RenderSink(output_dir=tmp_path / "single").write(render(p, lock, FetchSettings(mirror=str(upstream))))
    fleet, single = _tree_bytes(tmp_path / "fleet"), _tree_bytes(tmp_path / "single")
    with capsys.disabled():
        print(
            f"\nfleet of 10 clusters: {fleet} bytes; one cluster's tree: {single} bytes; ratio {fleet / single:.3f}"
        )
    assert fleet < 1.3 * single
