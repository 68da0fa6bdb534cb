"""The hubctl contract: manifest in step with the schema, hooks run as hubctl runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from installer import params
from installer.cluster.prerequisites import missing_prerequisites
from installer.hubctl import (
    OUTPUTS,
    component_yaml,
    manifest_parameters,
    outputs_block,
)
from installer.lock import Lock
from installer.params import ParameterOptions
from tests.conftest import REPO
from tests.fake_cluster import FakeCluster

MANIFEST = REPO / "hub-component.yaml"


def test_manifest_is_generated_from_the_schema() -> None:
    assert MANIFEST.read_text() == component_yaml(), (
        "regenerate: installer hubctl component > hub-component.yaml"
    )


def test_every_parameter_both_ways() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    entries = manifest_parameters(manifest)
    assert set(entries) == set(params.leaves())
    for key, leaf in params.leaves().items():
        entry = entries[key]
        assert entry.get("env") == leaf.env, key
        default = leaf.default
        if default in (None, []):
            assert "value" not in entry and entry.get("empty") == "allow", key
        else:
            expected = " ".join(default) if isinstance(default, list) else str(default)
            assert entry["value"] == (expected.lower() if isinstance(default, bool) else expected), key
        assert entry["brief"] == leaf.brief
    assert manifest["requires"] == ["kubernetes"] and manifest["kind"] == "component"
    assert [o["name"] for o in manifest["outputs"]] == [name for name, _ in OUTPUTS]


def hubctl_env(tmp_path: Path, upstream: Path, **overrides: str) -> dict[str, str]:
    """Exactly what hubctl would set: each parameter's env variable with its value, plus HUB_*."""
    env: dict[str, str] = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for entry in manifest_parameters(yaml.safe_load(MANIFEST.read_text())).values():
        if "env" in entry:
            env[entry["env"]] = str(entry.get("value", ""))
    env.update(
        HUB_COMPONENT="kserve",
        # hubctl points this at the component's directory; the test keeps the checkout clean
        HUB_COMPONENT_DIR=str(tmp_path / "component"),
        HUB_STACK_NAME="test-stack",
        INSTALLER_MIRROR=str(upstream),
        INSTALLER_SKIP_CHECKS="true",
        INSTALLER_CACHE_DIR=str(tmp_path / "cache"),
        INSTALLER_BUILD_DIR=str(tmp_path / "built"),
    )
    env.update(overrides)
    return env


def run_hook(verb: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / verb)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_pre_deploy_as_hubctl_runs_it(tmp_path: Path, upstream: Path) -> None:
    env = hubctl_env(
        tmp_path, upstream, NAMESPACE="ml-serving", INGRESS_HOSTS="models.example.com", INGRESS_CLASS="nginx"
    )
    res = run_hook("pre-deploy", env)
    assert res.returncode == 0, res.stderr
    assert "objects rendered to" in res.stdout
    objs = [
        d
        for d in yaml.safe_load_all((tmp_path / "component" / ".installer" / "rendered.yaml").read_text())
        if d
    ]
    (cm,) = [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "inferenceservice-config"
    ]
    assert cm["metadata"]["namespace"] == "ml-serving"
    ingress = yaml.safe_load(cm["data"]["ingress"])
    assert ingress["ingressDomain"] == "models.example.com" and ingress["ingressClassName"] == "nginx"
    assert yaml.safe_load(cm["data"]["deploy"])["defaultDeploymentMode"] == "RawDeployment"


def test_pre_deploy_names_the_hubctl_parameter(tmp_path: Path, upstream: Path) -> None:
    res = run_hook("pre-deploy", hubctl_env(tmp_path, upstream, DEPLOYMENT_MODE="Serverlesss"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "kserve.deploymentMode" in lines[0] and "DEPLOYMENT_MODE" in lines[0], (
        res.stderr
    )
    assert not (tmp_path / "cache" / "sha256").exists()


def test_outputs_block_parses_into_the_declared_outputs(lock: Lock) -> None:
    resolved = params.resolve(
        lock, ParameterOptions(set_args=["ingress.hosts=models.example.com", "ingress.protocol=https"])
    )
    text = "deployed\n" + outputs_block(resolved)
    after = text.split("Outputs:\n", 1)[1]
    parsed = dict(line.split(" = ", 1) for line in after.splitlines())
    assert list(parsed) == [name for name, _ in OUTPUTS]
    assert (
        parsed["kserve.ingress.domain"] == "models.example.com"
        and parsed["kserve.ingress.protocol"] == "https"
    )
    assert parsed["kserve.version"] == "v0.20.0"


def _established(name: str) -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": name.split(".", 1)[1],
            "names": {"kind": "X"},
            "scope": "Namespaced",
            "versions": [],
        },
        "status": {"conditions": [{"type": "Established", "status": "True"}]},
    }


def test_prerequisite_checks(lock: Lock) -> None:
    cluster = FakeCluster()
    raw = params.resolve(lock)
    serverless = params.resolve(lock, ParameterOptions(mode="Serverless"))
    assert any("cert-manager CRD" in m for m in missing_prerequisites(cluster, raw))
    for crd in ("certificates.cert-manager.io", "issuers.cert-manager.io"):
        cluster.objects[("apiextensions.k8s.io", "CustomResourceDefinition", "", crd)] = _established(crd)
    cluster.objects[("apps", "Deployment", "cert-manager", "cert-manager-webhook")] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cert-manager-webhook", "namespace": "cert-manager"},
        "status": {"availableReplicas": 1},
    }
    assert missing_prerequisites(cluster, raw) == []
    missing = missing_prerequisites(cluster, serverless)
    assert any("Knative Serving" in m for m in missing) and any("Istio" in m for m in missing)
    modelmesh = params.resolve(
        lock, ParameterOptions(set_args=["modelmesh.userNamespaces=team-a"], mode="ModelMesh")
    )
    assert missing_prerequisites(cluster, modelmesh) == [
        "Secret modelmesh-serving/model-serving-etcd (key etcd_connection), or set modelmesh.etcd.endpoints "
        "or modelmesh.quickstart=true",
        "Namespace team-a (modelmesh.userNamespaces must exist)",
    ]
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "model-serving-etcd", "namespace": "modelmesh-serving"},
        }
    )
    assert missing_prerequisites(cluster, modelmesh) == []


@pytest.mark.skipif(
    not os.environ.get("INSTALLER_TEST_KUBECONFIG"),
    reason="INSTALLER_TEST_KUBECONFIG is not set: no real API server to test against",
)
def test_deploy_undeploy_post_undeploy_leave_nothing(tmp_path: Path, upstream: Path) -> None:
    env = hubctl_env(
        tmp_path,
        upstream,
        KUBECONFIG=os.environ["INSTALLER_TEST_KUBECONFIG"],
        NAMESPACE="hub-kserve",
        INSTALLER_TIMEOUT="30",
    )
    deployed = run_hook("deploy", env)
    outputs = dict(
        line.split(" = ", 1)
        for line in deployed.stdout.split("Outputs:\n", 1)[-1].splitlines()
        if " = " in line
    )
    if os.environ.get("INSTALLER_TEST_ADMISSION") == "off":
        assert deployed.returncode == 0, deployed.stderr
        assert set(outputs) == {name for name, _ in OUTPUTS}
        assert outputs["kserve.namespace"] == "hub-kserve"
    else:  # no node runs KServe's webhook: deploy stops at the runtimes, naming it
        assert deployed.returncode == 1 and "admission webhook" in deployed.stderr, deployed.stderr
    assert run_hook("undeploy", {**env, "INSTALLER_FORCE": "true"}).returncode == 0
    verified = run_hook("post-undeploy", env)
    assert verified.returncode == 0 and "nothing of ours remains" in verified.stdout, verified.stderr
    # Checked independently of the installer's own verdict: nothing labelled with this instance.
    kinds = "namespaces,customresourcedefinitions,clusterroles,clusterrolebindings,validatingwebhookconfigurations,mutatingwebhookconfigurations"
    left = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            env["KUBECONFIG"],
            "get",
            kinds,
            "-l",
            "installer.kserve.io/instance=hub-kserve",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert left.returncode == 0 and left.stdout.strip() == "", left.stdout + left.stderr
