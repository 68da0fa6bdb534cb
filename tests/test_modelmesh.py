"""ModelMesh mode: the pre-build of modelmesh-serving's tarball and the render around it.

The tarball is the mirror's real release config (read at run time, never copied here). The
pre-build is checked against ``kubectl kustomize`` of the extracted tree, object for object.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import params
from installer.components import modelmesh
from installer.errors import BuildError
from installer.lock import Lock
from installer.objects import LABELS_ONLY, identity
from installer.params import ParameterOptions
from installer.render import render
from installer.sources import FetchSettings
from tests.conftest import ETCD_CREDENTIALS_FILE, LOCKED_VERSIONS, run_cli
from tests.kustomize_ref import KUBECTL, differences

TARBALL = Path("github.com/kserve/modelmesh-serving/releases/download/v0.12.0/config-v0.12.0.tar.gz")
VERSIONS = LOCKED_VERSIONS


@pytest.fixture(scope="module")
def tarball(upstream: Path) -> Path:
    return upstream / TARBALL


def kubectl_kustomize_unrestricted(path: Path) -> list[dict[str, Any]]:
    import subprocess

    assert KUBECTL is not None, "kubectl is needed as the reference"
    # Upstream's install script builds runtimes/ the same way (it loads ../default's transformer).
    proc = subprocess.run(
        [KUBECTL, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.mark.kubectl
@pytest.mark.parametrize("namespace", ["modelmesh-serving", "mm-test"])
def test_prebuild_equals_kubectl_kustomize_of_the_extracted_tree(
    tarball: Path, namespace: str, tmp_path: Path
) -> None:
    ours = modelmesh.build_parts(modelmesh.read_tarball(tarball), namespace)
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    (top,) = [p for p in (tmp_path / "src").iterdir() if p.is_dir()]
    targets = {**modelmesh.DIRECTORIES, "quickstart": modelmesh.QUICKSTART}
    for part, rel in targets.items():
        wrapper = tmp_path / f"wrap-{part}"
        wrapper.mkdir()
        (wrapper / "kustomization.yaml").write_text(modelmesh.wrapper(namespace, f"../src/{top.name}/{rel}"))
        theirs = kubectl_kustomize_unrestricted(wrapper)
        assert theirs, part
        assert differences(ours[part], theirs) == [], part
    # vars carried the namespace into the certificate and the CA injection (what `namespace:` alone misses).
    cert = next(o for o in ours["default"] if o["kind"] == "Certificate")
    assert cert["spec"]["dnsNames"][0] == f"modelmesh-webhook-server-service.{namespace}.svc"
    vwc = next(o for o in ours["default"] if o["kind"] == "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{namespace}/modelmesh-webhook-server-cert"
    )


def test_tarball_with_unsafe_paths_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        data = b"kind: ConfigMap\n"
        info = tarfile.TarInfo("../escape.yaml")
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BuildError, match="escapes the archive"):
        modelmesh.read_tarball(bad)
    with pytest.raises(BuildError, match="not a readable"):
        (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
        modelmesh.read_tarball(tmp_path / "junk.tar.gz")


def _render(lock: Lock, upstream: Path, version: str = "v0.16.0", sets: list[str] | None = None) -> Any:
    p = params.resolve(lock, ParameterOptions(set_args=sets or [], version=version, mode="ModelMesh"))
    return render(p, lock, FetchSettings(mirror=str(upstream)))


def _crd(objs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == "CustomResourceDefinition" and o["metadata"]["name"] == name]


@pytest.mark.parametrize("version", VERSIONS)
def test_render_keeps_kserves_crds_and_adds_predictors(
    version: str, lock: Lock, upstream: Path, session_env: Path
) -> None:
    rendered = _render(lock, upstream, version, ["modelmesh.namespace=mm-test"])
    objs = rendered.objects
    assert max(Counter(identity(o) for o in objs).values()) == 1
    kserve_crds = {o["metadata"]["name"]: o for o in rendered.built.phases["crds"]}
    for plural in ("inferenceservices", "servingruntimes", "clusterservingruntimes"):
        (crd,) = _crd(objs, f"{plural}.serving.kserve.io")
        # KServe's schema of this version, not ModelMesh's v0.12 copy.
        assert crd["spec"]["versions"] == kserve_crds[crd["metadata"]["name"]]["spec"]["versions"]
    assert len(_crd(objs, "predictors.serving.kserve.io")) == 1
    mm = [o for o in objs if o["metadata"].get("namespace") == "mm-test"]
    assert {o["kind"] for o in mm} >= {"Deployment", "Service", "Certificate", "Issuer", "ServiceAccount"}
    text = json.dumps(mm + [o for o in objs if "modelmesh" in o["metadata"]["name"]])
    assert "modelmesh-serving.svc" not in text and '"system"' not in text
    vwc = next(o for o in objs if o["metadata"]["name"] == "modelmesh-servingruntime.serving.kserve.io")
    assert vwc["webhooks"][0]["clientConfig"]["service"]["namespace"] == "mm-test"
    assert (
        vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        == "mm-test/modelmesh-webhook-server-cert"
    )
    crb = next(o for o in objs if o["metadata"]["name"] == "modelmesh-controller-rolebinding")
    assert {s.get("namespace") for s in crb["subjects"]} == {"mm-test"}
    # KServe's controller defaults InferenceServices to ModelMesh.
    cm = next(o for o in objs if o["metadata"]["name"] == "inferenceservice-config")
    assert json.loads(cm["data"]["deploy"])["defaultDeploymentMode"] == "ModelMesh"
    # ModelMesh's namespace is created; its runtimes are cluster-scoped by default.
    assert any(o["kind"] == "Namespace" and o["metadata"]["name"] == "mm-test" for o in objs)
    runtimes = {o["metadata"]["name"] for o in objs if o["kind"] == "ClusterServingRuntime"}
    assert {"triton-2.x", "mlserver-1.x", "ovms-1.x", "torchserve-0.x"} <= runtimes


def test_without_kserve_controller_only_kserves_crds_are_installed(
    lock: Lock, upstream: Path, session_env: Path
) -> None:
    objs = _render(lock, upstream, sets=["modelmesh.kserveController=false"]).objects
    kserve = [o for o in objs if o["metadata"].get("namespace") == "kserve"]
    assert not [o for o in kserve if o["kind"] in ("Deployment", "ConfigMap", "Service")]
    assert len(_crd(objs, "inferenceservices.serving.kserve.io")) == 1
    assert any(o["metadata"]["name"] == "modelmesh-controller" for o in objs)


def test_namespace_scope_uses_namespace_runtimes_and_tells_the_controller(
    lock: Lock, upstream: Path, session_env: Path
) -> None:
    objs = _render(lock, upstream, sets=["modelmesh.scope=namespace"]).objects
    mm_runtimes = {"triton-2.x", "mlserver-1.x", "ovms-1.x", "torchserve-0.x"}
    assert {o["metadata"]["name"] for o in objs if o["kind"] == "ServingRuntime"} >= mm_runtimes
    assert not mm_runtimes & {o["metadata"]["name"] for o in objs if o["kind"] == "ClusterServingRuntime"}
    assert not [o for o in objs if o["kind"] == "ClusterRole" and "modelmesh" in o["metadata"]["name"]]
    controller = next(
        o for o in objs if o["metadata"]["name"] == "modelmesh-controller" and o["kind"] == "Deployment"
    )
    env = {e["name"]: e.get("value") for e in controller["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NAMESPACE_SCOPE"] == "true"


def test_config_etcd_storage_and_user_namespaces(
    lock: Lock, upstream: Path, session_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-for-test")
    rendered = _render(
        lock,
        upstream,
        sets=[
            "modelmesh.config.podsPerRuntime=1",
            "modelmesh.config.scaleToZero=false",
            "modelmesh.etcd.endpoints=http://etcd-0.db:2379,http://etcd-1.db:2379",
            f"modelmesh.etcd.credentialsFile={ETCD_CREDENTIALS_FILE}",
            "modelmesh.userNamespaces=team-a",
            "bucket.endpoint=http://minio.minio:9000",
            "bucket.region=us-south",
            "modelmesh.storage.defaultBucket=models",
        ],
    )
    objs = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in rendered.objects
    }
    user = yaml.safe_load(
        objs[("ConfigMap", "modelmesh-serving", "model-serving-config")]["data"]["config.yaml"]
    )
    assert user == {"podsPerRuntime": 1, "scaleToZero": {"enabled": False}}
    defaults = objs[("ConfigMap", "modelmesh-serving", "model-serving-config-defaults")]["data"]
    with tarfile.open(_tarball_path(upstream)) as tar:
        shipped = tar.extractfile("config-v0.12.0/default/config-defaults.yaml")
        assert shipped is not None
        assert defaults["config-defaults.yaml"] == shipped.read().decode()
    etcd = json.loads(
        objs[("Secret", "modelmesh-serving", "model-serving-etcd")]["stringData"]["etcd_connection"]
    )
    assert etcd == {
        "endpoints": "http://etcd-0.db:2379,http://etcd-1.db:2379",
        "root_prefix": "modelmesh-serving",
        "userid": "modelmesh",
        "password": "not-a-real-password",
    }
    for ns in ("modelmesh-serving", "team-a"):
        entry = json.loads(objs[("Secret", ns, "storage-config")]["stringData"]["default"])
        assert entry == {
            "type": "s3",
            "access_key_id": "AKIDTEST",
            "secret_access_key": "secret-for-test",
            "endpoint_url": "http://minio.minio:9000",
            "region": "us-south",
            "default_bucket": "models",
        }
    team = objs[("Namespace", "", "team-a")]
    assert team["metadata"]["labels"] == {"modelmesh-enabled": "true"}
    assert team["metadata"]["annotations"][LABELS_ONLY] == "true"


def _tarball_path(upstream: Path) -> Path:
    return upstream / TARBALL


def test_quickstart_brings_etcd_and_minio(lock: Lock, upstream: Path, session_env: Path) -> None:
    objs = _render(lock, upstream, sets=["modelmesh.quickstart=true"]).objects
    names = {
        (o["kind"], o["metadata"]["name"])
        for o in objs
        if o["metadata"].get("namespace") == "modelmesh-serving"
    }
    assert {("Deployment", "etcd"), ("Deployment", "minio"), ("Secret", "model-serving-etcd")} <= names
    assert ("Secret", "storage-config") in names


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        (["modelmesh.quickstart=true", "modelmesh.etcd.endpoints=http://e:2379"], "modelmesh.etcd.endpoints"),
        (["modelmesh.scope=namespace", "modelmesh.userNamespaces=team-a"], "modelmesh.userNamespaces"),
        (["modelmesh.etcd.endpoints=etcd:2379"], "modelmesh.etcd.endpoints"),
        (["modelmesh.scope=both"], "modelmesh.scope"),
        (["modelmesh.namespace=Not_A_Namespace"], "modelmesh.namespace"),
    ],
)
def test_bad_modelmesh_parameters_are_one_line(
    sets: list[str], named: str, upstream: Path, tmp_path: Path
) -> None:
    args = ["render", "--mode", "ModelMesh", "--mirror", str(upstream)]
    for s in sets:
        args += ["--set", s]
    res = run_cli(
        *args, env={"INSTALLER_CACHE_DIR": str(tmp_path / "c"), "INSTALLER_BUILD_DIR": str(tmp_path / "b")}
    )
    assert res.code == 2, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and named in errors[0], res.stderr
    assert res.stdout == ""


def test_secrets_stay_out_of_default_output(upstream: Path, tmp_path: Path) -> None:
    env = {
        "INSTALLER_CACHE_DIR": str(tmp_path / "c"),
        "INSTALLER_BUILD_DIR": str(tmp_path / "b"),
        "ETCD_USERID": "etcd-user",
        "ETCD_PASSWORD": "etcd-password-value",
    }
    base = [
        "render",
        "--mode",
        "ModelMesh",
        "--mirror",
        str(upstream),
        "--set",
        "modelmesh.etcd.endpoints=http://e:2379",
    ]
    res = run_cli(*base, env=env)
    assert res.code == 0, res.stderr
    assert "etcd-password-value" not in res.stdout + res.stderr
    assert "model-serving-etcd" in res.stderr  # named as left out
    shown = run_cli(*base, "--include-secrets", env=env)
    assert "etcd-password-value" in shown.stdout


def test_registry_reaches_the_images_modelmesh_starts(lock: Lock, upstream: Path, session_env: Path) -> None:
    registry = "registry.local:5000/mirror"
    objs = _render(lock, upstream, sets=[f"images.registry={registry}"]).objects
    config = next(o for o in objs if o["metadata"]["name"] == "model-serving-config")
    user = yaml.safe_load(config["data"]["config.yaml"])
    assert user["modelMeshImage"]["name"] == f"{registry}/kserve/modelmesh"
    assert user["restProxy"]["image"]["name"] == f"{registry}/kserve/rest-proxy"
    assert user["storageHelperImage"]["name"] == f"{registry}/kserve/modelmesh-runtime-adapter"
    images = [
        c["image"]
        for o in objs
        for spec in (o.get("spec", {}).get("template", {}).get("spec"), o.get("spec"))
        if isinstance(spec, dict)
        for c in spec.get("containers") or []
        if isinstance(c, dict) and "image" in c
    ]
    assert images and all(i.startswith(registry + "/") for i in images), [
        i for i in images if not i.startswith(registry)
    ]
