"""Render acceptance: ConfigMap JSON, namespace, registry, determinism, validation, output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import params
from installer.errors import ValidationError
from installer.lock import Lock
from installer.params import ParameterOptions
from installer.render import Rendered, render
from installer.sources import FetchSettings
from tests.conftest import LOCKED_VERSIONS, REPO, full_parameters, run_cli
from tests.kustomize_ref import differences, kubectl_kustomize

VERSIONS = LOCKED_VERSIONS
REGISTRY = "registry.local:5000/mirror"


def do_render(lock: Lock, upstream: Path, sets: list[str], version: str, mode: str) -> Rendered:
    p = params.resolve(lock, ParameterOptions(set_args=sets, version=version, mode=mode))
    return render(p, lock, FetchSettings(mirror=str(upstream)))


def upstream_configmap(upstream: Path, version: str) -> dict[str, str]:
    text = (upstream / f"github.com/kserve/kserve/releases/download/{version}/kserve.yaml").read_text()
    for doc in yaml.load_all(text, Loader=yaml.CSafeLoader):
        if doc and doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "inferenceservice-config":
            return dict(doc["data"])
    raise AssertionError("no inferenceservice-config upstream")


def rendered_configmap(r: Rendered) -> dict[str, str]:
    (cm,) = [
        o
        for o in r.objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "inferenceservice-config"
    ]
    return dict(cm["data"])


def leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from leaves(v, (*path, str(k)))
    else:
        yield path, node


def strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, (*path, i))
    elif isinstance(node, str):
        yield path, node


def expected_settings(version: str, mode: str) -> dict[tuple[str, ...], Any]:
    """What the full parameter set must put into the ConfigMap, written out by hand."""
    exp: dict[tuple[str, ...], Any] = {
        ("deploy", "defaultDeploymentMode"): mode,
        ("ingress", "ingressClassName"): "nginx",
        ("ingress", "ingressDomain"): "models.example.com",
        ("ingress", "additionalIngressDomains"): ["alt.example.com"],
        ("ingress", "urlScheme"): "https",
        ("ingress", "domainTemplate"): "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}",
        ("credentials", "s3", "s3Endpoint"): "minio.minio:9000",
        ("credentials", "s3", "s3UseHttps"): "0",
        ("credentials", "s3", "s3Region"): "eu-west-1",
    }
    if mode == "RawDeployment":
        exp[("ingress", "disableIstioVirtualHost")] = True
    else:
        exp[("ingress", "ingressGateway")] = "kn-serving/kn-ingress"
        exp[("ingress", "localGateway")] = "kn-serving/kn-local"
        exp[("ingress", "localGatewayService")] = "mesh-local.mesh.svc.cluster.local"
        if version == "v0.13.1":
            exp[("ingress", "ingressService")] = "mesh-ingress.mesh.svc.cluster.local"
    return exp


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", ["RawDeployment", "Serverless"])
def test_configmap_keeps_every_key_no_parameter_sets(
    version: str, mode: str, lock: Lock, upstream: Path, session_env: Path
) -> None:
    up = upstream_configmap(upstream, version)
    r = do_render(lock, upstream, full_parameters(version, mode, lock), version, mode)
    got = rendered_configmap(r)
    assert got.keys() == up.keys()
    assert got["_example"] == up["_example"], "_example is not JSON and is never touched"
    expected = expected_settings(version, mode)
    seen: set[tuple[str, ...]] = set()
    for key in sorted(set(up) - {"_example"}):
        before, after = json.loads(up[key]), json.loads(got[key])
        before_leaves, after_leaves = dict(leaves(before, (key,))), dict(leaves(after, (key,)))
        for path, value in after_leaves.items():
            if path in expected:
                assert value == expected[path], path
                seen.add(path)
            elif path[-1] == "image" or path[-1].endswith("Image"):
                assert value == f"{REGISTRY}/{before_leaves[path]}", path
            elif path == ("ingress", "kserveIngressGateway"):
                assert value == "ml-serving/kserve-ingress-gateway"
            else:
                assert before_leaves.get(path) == value, f"{path} changed without a parameter"
        assert set(before_leaves) - set(after_leaves) == set(), "no upstream key may disappear"
    assert seen == set(expected)


@pytest.mark.parametrize("version", VERSIONS)
def test_defaults_change_only_mode_keys(version: str, lock: Lock, upstream: Path, session_env: Path) -> None:
    up = upstream_configmap(upstream, version)
    got = rendered_configmap(do_render(lock, upstream, [], version, "RawDeployment"))
    for key in up:
        if key in ("deploy", "ingress"):
            continue
        assert got[key] == up[key], f"{key} must be byte-identical when no parameter touches it"
    assert json.loads(got["deploy"]) == {**json.loads(up["deploy"]), "defaultDeploymentMode": "RawDeployment"}
    assert json.loads(got["ingress"]) == {**json.loads(up["ingress"]), "disableIstioVirtualHost": True}


@pytest.mark.parametrize("version", VERSIONS)
def test_namespace_moves_every_reference(version: str, lock: Lock, upstream: Path, session_env: Path) -> None:
    r = do_render(lock, upstream, ["kserve.namespace=ml-serving"], version, "RawDeployment")
    offenders = []
    for obj in r.objects:
        found = list(strings(obj))
        if obj["kind"] == "ConfigMap":
            for key, value in obj.get("data", {}).items():
                if key != "_example":
                    found += [(("data", key, *p), s) for p, s in strings(json.loads(value))]
        for path, text in found:
            is_image = (
                bool(path)
                and isinstance(path[-1], str)
                and (path[-1] == "image" or path[-1].endswith("Image"))
            )
            if ".kserve.svc" in text or (text.startswith("kserve/") and not is_image):
                offenders.append((obj["kind"], obj["metadata"]["name"], path, text))
            if path and path[-1] == "namespace" and text == "kserve":
                offenders.append((obj["kind"], obj["metadata"]["name"], path, text))
    assert offenders == []
    namespaced = [o for o in r.objects if o["metadata"].get("namespace")]
    assert namespaced and all(o["metadata"]["namespace"] == "ml-serving" for o in namespaced)
    assert [o["metadata"]["name"] for o in r.objects if o["kind"] == "Namespace"] == ["ml-serving"]
    cluster_crs = [o for o in r.objects if o["kind"] in ("ClusterServingRuntime", "ClusterStorageContainer")]
    assert cluster_crs and not any("namespace" in o["metadata"] for o in cluster_crs)


@pytest.mark.parametrize("version", VERSIONS)
def test_registry_reaches_every_image(version: str, lock: Lock, upstream: Path, session_env: Path) -> None:
    r = do_render(lock, upstream, [f"images.registry={REGISTRY}"], version, "Serverless")
    images: list[str] = []
    for obj in r.objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        images += [s for p, s in strings(obj) if p and p[-1] == "image"]
        if obj["kind"] == "ConfigMap":
            for key, value in obj.get("data", {}).items():
                if key != "_example":
                    images += [
                        s
                        for p, s in strings(json.loads(value))
                        if p[-1] == "image" or str(p[-1]).endswith("Image")
                    ]
    assert len(images) >= 15
    assert [i for i in images if not i.startswith(REGISTRY + "/")] == []
    assert f"{REGISTRY}/kserve/kserve-controller:{version}" in images
    assert f"{REGISTRY}/brancz/kube-rbac-proxy:v0.18.0" in images or version != "v0.16.0"


def test_render_is_byte_identical_across_processes(tmp_path: Path, upstream: Path) -> None:
    outputs = []
    for seed, cache in (("1", "a"), ("2", "b"), ("3", "b")):  # cold caches, then a warm one
        env = {
            **os.environ,
            "PYTHONHASHSEED": seed,
            "INSTALLER_CACHE_DIR": str(tmp_path / cache),
            "INSTALLER_BUILD_DIR": str(tmp_path / f"built-{cache}"),
        }
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "installer",
                "render",
                "--mirror",
                str(upstream),
                "--set",
                "kserve.namespace=ml",
            ],
            capture_output=True,
            env=env,
            cwd=REPO,
            check=True,
        )
        outputs.append(proc.stdout)
    assert len(outputs[0]) > 1_000_000
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.fixture
def broken_overlays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_env: Path) -> Path:
    root = tmp_path / "overlays"
    shutil.copytree(REPO / "overlays", root)
    monkeypatch.setenv("INSTALLER_OVERLAYS_DIR", str(root))
    return root / "rawdeployment"


def _add_patch(overlay: Path, target: str, ops: str) -> None:
    k = overlay / "kustomization.yaml.j2"
    k.write_text(k.read_text() + f"patches:\n- target: {target}\n  patch: |-\n{ops}")


def test_every_rendered_object_passes_validation(lock: Lock, upstream: Path, session_env: Path) -> None:
    from installer.validate import validate_objects

    r = do_render(lock, upstream, [], "v0.16.0", "RawDeployment")
    report = validate_objects(r.objects, cache_path=None)
    assert report.checked == len(r.objects) - len(report.skipped)
    assert {s.split("/")[0] for s in report.skipped} == {"Issuer", "Certificate"}


def test_broken_core_patch_names_object_and_field(broken_overlays: Path, lock: Lock, upstream: Path) -> None:
    _add_patch(
        broken_overlays,
        "{kind: Deployment, name: kserve-controller-manager}",
        "    - {op: add, path: /spec/replicas, value: two}\n",
    )
    with pytest.raises(
        ValidationError, match=r"Deployment/kserve/kserve-controller-manager: spec\.replicas: 'two'"
    ):
        do_render(lock, upstream, [], "v0.16.0", "RawDeployment")


def test_broken_custom_resource_names_object_and_field(
    broken_overlays: Path, lock: Lock, upstream: Path
) -> None:
    _add_patch(
        broken_overlays,
        "{kind: ClusterServingRuntime, name: kserve-sklearnserver}",
        "    - {op: add, path: /spec/containers/0/imagePullPolicyy, value: Always}\n",
    )
    with pytest.raises(
        ValidationError,
        match=r"ClusterServingRuntime/kserve-sklearnserver: spec\.containers\[0\]: .*imagePullPolicyy",
    ):
        do_render(lock, upstream, [], "v0.16.0", "RawDeployment")


def test_cli_gitops_tree_builds_to_stdout_render(tmp_path: Path, upstream: Path) -> None:
    env = {"INSTALLER_CACHE_DIR": str(tmp_path / "c"), "INSTALLER_BUILD_DIR": str(tmp_path / "b")}
    out = run_cli("render", "--version", "v0.15.2", "--mirror", str(upstream), env=env)
    assert out.code == 0, out.stderr
    tree = run_cli(
        "render",
        "--version",
        "v0.15.2",
        "--mirror",
        str(upstream),
        "--output-dir",
        str(tmp_path / "gitops"),
        "--gitops-sync-waves",
        env=env,
    )
    assert tree.code == 0 and tree.stdout == "", tree.stderr
    stdout_objs = [d for d in yaml.load_all(out.stdout, Loader=yaml.CSafeLoader) if d]
    built = kubectl_kustomize(tmp_path / "gitops")
    waves = {o["metadata"]["annotations"].pop("argocd.argoproj.io/sync-wave") for o in built}
    for o in built:
        if not o["metadata"]["annotations"]:
            del o["metadata"]["annotations"]
    assert differences(stdout_objs, built) == []
    assert waves == {"0", "1", "2", "3", "4", "5", "6"}
    dirs = sorted(p.name for p in (tmp_path / "gitops").iterdir() if p.is_dir())
    assert dirs == [
        "00-crds",
        "01-cluster",
        "02-namespaced",
        "03-certificates",
        "04-workloads",
        "05-webhooks",
        "06-custom-resources",
    ]
    # A second write needs --force; the tree is left as it was.
    before = sorted(str(p) for p in (tmp_path / "gitops").rglob("*"))
    again = run_cli(
        "render",
        "--version",
        "v0.15.2",
        "--mirror",
        str(upstream),
        "--output-dir",
        str(tmp_path / "gitops"),
        env=env,
    )
    assert again.code == 2 and "not empty" in again.stderr
    assert sorted(str(p) for p in (tmp_path / "gitops").rglob("*")) == before


def test_output_to_a_file_is_refused(tmp_path: Path, upstream: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    res = run_cli(
        "render",
        "--mirror",
        str(upstream),
        "--output-dir",
        str(target),
        env={"INSTALLER_CACHE_DIR": str(tmp_path / "c"), "INSTALLER_BUILD_DIR": str(tmp_path / "b")},
    )
    assert res.code == 2 and "not a directory" in res.stderr and target.read_text() == "x"
    assert not (tmp_path / "c").exists(), "refused before anything was fetched"


def test_credential_secrets_are_left_out_unless_asked() -> None:
    from installer.sinks.render import without_secrets

    objs = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3", "namespace": "a"},
            "stringData": {"k": "v"},
        },
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty", "namespace": "a"}},
    ]
    assert [o["metadata"]["name"] for o in without_secrets(objs, include=False)] == ["empty"]
    assert len(without_secrets(objs, include=True)) == 2


def test_aliases_are_written_as_given_on_v016(lock: Lock, upstream: Path, session_env: Path) -> None:
    r = do_render(lock, upstream, [], "v0.16.0", "Standard")
    assert json.loads(rendered_configmap(r)["deploy"])["defaultDeploymentMode"] == "Standard"


def test_an_invalid_render_is_one_line_through_the_cli(broken_overlays: Path, upstream: Path) -> None:
    """A validation failure is an error like any other: exit 1, one line naming object and field,
    no traceback, nothing on stdout."""
    _add_patch(
        broken_overlays,
        "{kind: Deployment, name: kserve-controller-manager}",
        "    - {op: add, path: /spec/replicas, value: two}\n",
    )
    res = run_cli("render", "--version", "v0.16.0", "--mirror", str(upstream), "--set", "ingress.class=nginx")
    assert res.code == 1 and res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.splitlines() == [
        "error: validate: Deployment/kserve/kserve-controller-manager: spec.replicas: 'two' is not of type 'integer', 'null'"
    ]
