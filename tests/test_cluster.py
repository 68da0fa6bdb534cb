"""Cluster tests against a real API server (INSTALLER_TEST_KUBECONFIG); skipped otherwise.

Written for a bare kube-apiserver (no nodes: workloads never become ready; admission webhooks
have no endpoints unless the server runs with
--disable-admission-plugins=ValidatingAdmissionWebhook,MutatingAdmissionWebhook, which the test
is told by INSTALLER_TEST_ADMISSION=off). A kube-controller-manager beside it finalizes
namespaces and reports Deployment conditions. cert-manager's CRDs are installed from
INSTALLER_TEST_CERT_MANAGER_CRDS (default ../shared/cluster/cert-manager-v1.19.6-crds.yaml, the
real ones), or schema-less stand-ins when that file is absent.

INSTALLER_TEST_KUBECONFIG_ADMISSION_OFF may name a second front door to the same cluster
(same etcd) without admission webhooks: the upgrade chain with webhooks on needs it for the
step after each failing one. Each test works in namespaces of its own and removes them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer.errors import ClusterError
from tests.conftest import REPO, run_cli

KUBECONFIG = os.environ.get("INSTALLER_TEST_KUBECONFIG", "")
ADMISSION_OFF = os.environ.get("INSTALLER_TEST_ADMISSION") == "off"
KUBECONFIG_OFF = os.environ.get("INSTALLER_TEST_KUBECONFIG_ADMISSION_OFF", "")
CERT_MANAGER_CRDS = Path(
    os.environ.get(
        "INSTALLER_TEST_CERT_MANAGER_CRDS",
        REPO.parent / "shared" / "cluster" / "cert-manager-v1.19.6-crds.yaml",
    )
)
COMPLETE_ONLY = "needs INSTALLER_TEST_ADMISSION=off: with admission webhooks on, no deploy completes"
WEBHOOKS_ONLY = "needs admission webhooks on (INSTALLER_TEST_ADMISSION unset)"
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not KUBECONFIG, reason="INSTALLER_TEST_KUBECONFIG is not set: no real API server to test against"
    ),
]


def _minimal_crd(kind: str, plural: str, group: str, scope: str = "Namespaced") -> dict[str, object]:
    """A schema-less CRD: enough for the API server to store cert-manager's objects."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": scope,
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="session", autouse=True)
def cert_manager_crds() -> None:
    """A bare API server has no cert-manager: give it cert-manager's kinds (not its controllers),
    its real CRDs when they are at hand (so KServe's Issuers and Certificates are validated)."""
    if CERT_MANAGER_CRDS.is_file():
        res = kubectl("apply", "--server-side", "-f", str(CERT_MANAGER_CRDS))
        assert res.returncode == 0, res.stderr
        kubectl(
            "wait",
            "--for=condition=Established",
            "crd",
            "-l",
            "app.kubernetes.io/name=cert-manager",
            "--timeout=60s",
        )
        return
    if kubectl("get", "crd", "certificates.cert-manager.io").returncode == 0:
        return
    crds = [
        _minimal_crd("Certificate", "certificates", "cert-manager.io"),
        _minimal_crd("Issuer", "issuers", "cert-manager.io"),
        _minimal_crd("ClusterIssuer", "clusterissuers", "cert-manager.io", "Cluster"),
    ]
    res = kubectl_apply(*crds)
    assert res.returncode == 0, res.stderr
    for crd in crds:
        kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")  # type: ignore[index]


@pytest.fixture
def ns(upstream: Path, tmp_path: Path) -> Iterator[str]:
    name = f"kst-{uuid.uuid4().hex[:8]}"
    yield name
    run_cli("undeploy", "--namespace", name, "--force", "--kubeconfig", KUBECONFIG, env=_env(tmp_path))
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")  # one a test made itself


def _env(tmp_path: Path) -> dict[str, str]:
    return {"INSTALLER_CACHE_DIR": str(tmp_path / "cache"), "INSTALLER_BUILD_DIR": str(tmp_path / "built")}


def installer(
    tmp_path: Path, upstream: Path, *args: str, kubeconfig: str = ""
) -> subprocess.CompletedProcess[str]:
    mirror = ["--mirror", str(upstream)] if args[0] in ("deploy", "diff") else []
    res = run_cli(*args, "--kubeconfig", kubeconfig or KUBECONFIG, *mirror, env=_env(tmp_path), timeout=900)
    return subprocess.CompletedProcess(args, res.code, res.stdout, res.stderr)


def kubectl(
    *args: str, input_text: str | None = None, kubeconfig: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig or KUBECONFIG, *args],
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )


def kubectl_apply(
    *bodies: object, manager: str = "", force: bool = False, kubeconfig: str = ""
) -> subprocess.CompletedProcess[str]:
    """Server-side apply of objects, as another field manager when ``manager`` is given."""
    flags = [f"--field-manager={manager}"] if manager else []
    flags += ["--force-conflicts"] if force else []
    return kubectl(
        "apply",
        "--server-side",
        *flags,
        "-f",
        "-",
        input_text=yaml.safe_dump_all(bodies),
        kubeconfig=kubeconfig,
    )


def deploy(
    tmp_path: Path, upstream: Path, ns: str, *extra: str, kubeconfig: str = ""
) -> subprocess.CompletedProcess[str]:
    return installer(
        tmp_path,
        upstream,
        "deploy",
        "--no-wait",
        "--skip-checks",  # a bare API server runs no cert-manager webhook (test_check covers the check)
        "--timeout",
        "30",
        "--set",
        f"kserve.namespace={ns}",
        *extra,
        kubeconfig=kubeconfig,
    )


def deploy_argv(upstream: Path, ns: str) -> list[str]:
    """A complete `deploy` command line for this server, for tests that run the CLI themselves."""
    return [
        "deploy",
        "--no-wait",
        "--skip-checks",
        "--timeout",
        "30",
        "--kubeconfig",
        KUBECONFIG,
        "--mirror",
        str(upstream),
        "--set",
        f"kserve.namespace={ns}",
    ]


def _deploy_ok(res: subprocess.CompletedProcess[str]) -> None:
    if ADMISSION_OFF:
        assert res.returncode == 0, res.stderr
    else:
        # No node runs the KServe webhook: runtimes must fail with the webhook named, after the rest.
        assert res.returncode == 1 and "admission webhook" in res.stderr and "did not answer" in res.stderr, (
            res.stderr
        )


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_deploy_then_redeploy_changes_nothing(tmp_path: Path, upstream: Path, ns: str) -> None:
    _deploy_ok(deploy(tmp_path, upstream, ns))
    if ADMISSION_OFF:
        again = deploy(tmp_path, upstream, ns)
        assert again.returncode == 0 and again.stdout.startswith("0 changed"), again.stdout
        assert installer(tmp_path, upstream, "diff", "--set", f"kserve.namespace={ns}").returncode == 0
        changed = installer(
            tmp_path, upstream, "diff", "--set", f"kserve.namespace={ns}", "--set", "ingress.protocol=https"
        )
        assert changed.returncode == 1 and "data.ingress" in changed.stdout


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_dry_run_changes_nothing(tmp_path: Path, upstream: Path, ns: str) -> None:
    """On an empty cluster a dry run reports every object as created (what needs a namespace or
    CRD this deploy brings is counted unchecked) and creates nothing; after a deploy, a dry run
    of a changed parameter reports it and leaves objects and resourceVersions as they were."""
    res = deploy(tmp_path, upstream, ns, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "crds: applying" in res.stderr, "progress lines when stderr is not a terminal"
    assert res.stdout.startswith("dry run: ") and " created, 0 configured" in res.stdout, res.stdout
    assert "counted as created without the server's check" in res.stderr
    assert kubectl("get", "namespace", ns).returncode != 0
    assert kubectl("get", "crd", "inferenceservices.serving.kserve.io").returncode != 0
    _deploy_ok(deploy(tmp_path, upstream, ns))
    before = json.loads(kubectl("get", "configmap", "inferenceservice-config", "-n", ns, "-o", "json").stdout)
    res = deploy(tmp_path, upstream, ns, "--dry-run", "--set", "ingress.protocol=https")
    if ADMISSION_OFF:
        assert res.returncode == 0, res.stderr
        # the ConfigMap, and the controller whose pod template carries the config digest
        assert res.stdout.startswith("dry run: 2 changed (0 created, 2 configured"), res.stdout
    else:  # a dry run is admitted like a real apply: the runtimes wait for KServe's webhook
        assert res.returncode == 1 and "did not answer within 30s" in res.stderr, res.stderr
    after = json.loads(kubectl("get", "configmap", "inferenceservice-config", "-n", ns, "-o", "json").stdout)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert json.loads(after["data"]["ingress"]).get("urlScheme") != "https"


def test_global_quiet_silences_deploy_progress(tmp_path: Path, upstream: Path, ns: str) -> None:
    res = run_cli(
        "-q",
        *deploy_argv(upstream, ns),
        env=_env(tmp_path),
        timeout=900,
    )
    assert "applying" not in res.stderr, res.stderr
    if ADMISSION_OFF:
        assert res.code == 0 and "changed" in res.stdout, res.stderr
    else:
        assert res.code == 1 and res.stderr.count("\n") == 2, res.stderr  # the warning and the error


def _storage_container(name: str) -> dict[str, Any]:
    """A user's ClusterStorageContainer: a custom resource no KServe webhook validates, so it can
    be created whether admission webhooks are on or off."""
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterStorageContainer",
        "metadata": {"name": name},
        "spec": {
            "container": {"name": "storage-initializer", "image": "registry.invalid/init:1"},
            "supportedUriFormats": [{"prefix": "custom://"}],
        },
    }


def test_undeploy_guard_and_twice(tmp_path: Path, upstream: Path, ns: str) -> None:
    _deploy_ok(deploy(tmp_path, upstream, ns))
    user = _storage_container(f"{ns}-users")
    created = kubectl_apply(user)
    assert created.returncode == 0, created.stderr
    refused = installer(tmp_path, upstream, "undeploy", "--namespace", ns)
    assert refused.returncode == 1, refused.stderr
    assert (
        refused.stderr.strip().splitlines()[-1].startswith("error: refusing to undeploy: 1 custom resources")
    )
    assert f"ClusterStorageContainer/{ns}-users" in refused.stderr and "--force" in refused.stderr
    assert kubectl("get", "deployment", "kserve-controller-manager", "-n", ns).returncode == 0, (
        "nothing deleted"
    )
    forced = installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force")
    assert forced.returncode == 0 and forced.stdout.startswith("deleted "), forced.stderr
    # undeploy waited: the CRD (and the user's object with it) and the namespace are gone
    assert kubectl("get", "namespace", ns).returncode != 0
    assert kubectl("get", "crd", "clusterstoragecontainers.serving.kserve.io").returncode != 0
    again = installer(tmp_path, upstream, "undeploy", "--namespace", ns)
    assert again.returncode == 0 and again.stdout.strip() == "deleted 0 objects", again.stdout


def test_injected_ca_bundle_is_kept(tmp_path: Path, upstream: Path, ns: str) -> None:
    if not ADMISSION_OFF:
        pytest.skip("needs INSTALLER_TEST_ADMISSION=off to deploy completely")
    assert deploy(tmp_path, upstream, ns).returncode == 0
    hooks = [
        h
        for h in kubectl("get", "validatingwebhookconfigurations", "-o", "name").stdout.split()
        if "serving.kserve.io" in h
    ]
    patch = '{"webhooks":[{"name":"%s","clientConfig":{"caBundle":"LS0tCg=="}}]}'
    name = hooks[0].split("/", 1)[1]
    first = yaml.safe_load(kubectl("get", hooks[0], "-o", "yaml").stdout)["webhooks"][0]["name"]
    res = kubectl(
        "patch",
        "validatingwebhookconfiguration",
        name,
        "--type=strategic",
        "-p",
        patch % first,
        "--field-manager=cert-manager-cainjector",
    )
    assert res.returncode == 0, res.stderr
    assert deploy(tmp_path, upstream, ns).stdout.startswith("0 changed")
    assert (
        yaml.safe_load(kubectl("get", hooks[0], "-o", "yaml").stdout)["webhooks"][0]["clientConfig"][
            "caBundle"
        ]
        == "LS0tCg=="
    )
    assert installer(tmp_path, upstream, "diff", "--set", f"kserve.namespace={ns}").returncode == 0


def test_conflict_names_object_and_field_and_force_takes_ownership(
    tmp_path: Path, upstream: Path, ns: str
) -> None:
    if not ADMISSION_OFF:
        pytest.skip("needs INSTALLER_TEST_ADMISSION=off to deploy completely")
    assert deploy(tmp_path, upstream, ns).returncode == 0
    live = json.loads(kubectl("get", "configmap", "inferenceservice-config", "-n", ns, "-o", "json").stdout)
    theirs: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inferenceservice-config", "namespace": ns},
        "data": {"ingress": live["data"]["ingress"].replace('"http"', '"https"')},
    }
    assert theirs["data"]["ingress"] != live["data"]["ingress"]
    took = kubectl_apply(theirs, manager="someone-else", force=True)
    assert took.returncode == 0, took.stderr
    refused = deploy(tmp_path, upstream, ns)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: apply ConfigMap/{ns}/inferenceservice-config: ")
    assert 'conflict with "someone-else": .data.ingress' in line and "--force-conflicts" in line
    forced = deploy(tmp_path, upstream, ns, "--force-conflicts")
    assert forced.returncode == 0 and forced.stdout.startswith("1 changed"), forced.stdout
    now = json.loads(kubectl("get", "configmap", "inferenceservice-config", "-n", ns, "-o", "json").stdout)
    assert now["data"]["ingress"] == live["data"]["ingress"]
    assert deploy(tmp_path, upstream, ns).stdout.startswith("0 changed")


def test_check_names_what_each_mode_lacks(tmp_path: Path, upstream: Path) -> None:
    """A bare API server has cert-manager's CRDs (the session fixture) but no cert-manager pods.
    Knative's and Istio's kinds, and the gateways, are detected once they exist."""

    def check(*args: str) -> tuple[int, str]:
        res = installer(tmp_path, upstream, "check", *args)
        return res.returncode, res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.stdout

    code, line = check("--mode", "RawDeployment")
    assert code == 1 and line == (
        "error: RawDeployment needs: a ready cert-manager webhook (Deployment cert-manager-webhook) "
        "(or pass --skip-checks)"
    )
    code, line = check("--mode", "Serverless")
    assert code == 1 and "Knative Serving (CRD services.serving.knative.dev)" in line
    assert "Istio (CRD gateways.networking.istio.io)" in line
    code, line = check("--mode", "ModelMesh", "--set", "modelmesh.namespace=mm-check")
    assert code == 1 and "Secret mm-check/model-serving-etcd (key etcd_connection)" in line
    extra = [
        _minimal_crd("Service", "services", "serving.knative.dev"),
        _minimal_crd("Gateway", "gateways", "networking.istio.io"),
    ]
    for crd in extra:  # Istio serves v1beta1 too; the check asks for that
        crd["spec"]["versions"][0]["name"] = "v1beta1"  # type: ignore[index]
    assert kubectl_apply(*extra).returncode == 0
    try:
        for crd in extra:
            kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")  # type: ignore[index]
        code, line = check("--mode", "Serverless")
        assert "Knative Serving" not in line and "Istio (CRD" not in line
        assert "Istio Gateway knative-serving/knative-ingress-gateway" in line, line
        assert kubectl("create", "namespace", "knative-serving").returncode == 0
        for gw in ("knative-ingress-gateway", "knative-local-gateway"):
            body = {
                "apiVersion": "networking.istio.io/v1beta1",
                "kind": "Gateway",
                "metadata": {"name": gw, "namespace": "knative-serving"},
                "spec": {},
            }
            assert kubectl_apply(body).returncode == 0
        code, line = check("--mode", "Serverless")
        assert code == 1 and line == (
            "error: Serverless needs: a ready cert-manager webhook (Deployment cert-manager-webhook) "
            "(or pass --skip-checks)"
        )
    finally:
        kubectl("delete", "namespace", "knative-serving", "--wait=false")
        for crd in extra:
            kubectl("delete", "crd", crd["metadata"]["name"])  # type: ignore[index]


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_deploy_waits_for_the_certificates_cert_manager_issues(
    tmp_path: Path, upstream: Path, ns: str
) -> None:
    """With cert-manager's controller on the cluster, the controllers are applied only once their
    webhook certificate's Secret exists; this test plays cert-manager's part."""
    cm_ns = f"{ns}-cm"
    controller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cert-manager", "namespace": cm_ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "cert-manager"}},
            "template": {
                "metadata": {"labels": {"app": "cert-manager"}},
                "spec": {"containers": [{"name": "controller", "image": "registry.invalid/cert-manager:v1"}]},
            },
        },
    }
    assert kubectl("create", "namespace", cm_ns).returncode == 0
    try:
        created = kubectl_apply(controller)
        assert created.returncode == 0, created.stderr
        # (the timeout bounds the CRD waits too: a loaded server takes seconds to establish v0.20's)
        waited = deploy(tmp_path, upstream, ns, "--timeout", "40")
        assert waited.returncode == 1
        line = waited.stderr.strip().splitlines()[-1]
        assert "timed out after 40s waiting for Secret" in line and "of Certificate" in line, line
        assert f"cert-manager ({cm_ns}/cert-manager) has not issued it" in line, line
        assert kubectl("get", "deployment", "kserve-controller-manager", "-n", ns).returncode != 0, (
            "no controller before its certificate"
        )
        certs = json.loads(kubectl("get", "certificates.cert-manager.io", "-n", ns, "-o", "json").stdout)
        assert certs["items"]
        for cert in certs["items"]:  # what cert-manager would write
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": cert["spec"]["secretName"], "namespace": ns},
                "data": {"tls.crt": "LS0tCg==", "tls.key": "LS0tCg=="},
            }
            issued = kubectl_apply(secret, manager="cert-manager")
            assert issued.returncode == 0, issued.stderr
        res = deploy(tmp_path, upstream, ns)
        _deploy_ok(res)
        assert kubectl("get", "deployment", "kserve-controller-manager", "-n", ns).returncode == 0
    finally:
        kubectl("delete", "namespace", cm_ns, "--wait=true", "--timeout=60s")


def _identities(
    refs: set[tuple[str, str, str, str]],
) -> dict[tuple[str, str, str, str], tuple[str, str, str, str]]:
    """(group, kind, namespace, name) -> the entry: an object keeps its identity across API versions."""
    return {
        (api.split("/")[0] if "/" in api else "", kind, namespace, name): (api, kind, namespace, name)
        for api, kind, namespace, name in refs
    }


def _inventory(ns: str) -> set[tuple[str, str, str, str]]:
    raw = kubectl(
        "get", "configmap", "kserve-installer-inventory", "-n", ns, "-o", "jsonpath={.data.objects}"
    ).stdout
    return {(r["apiVersion"], r["kind"], r.get("namespace", ""), r["name"]) for r in json.loads(raw or "[]")}


def _deploy_until_namespaced_phase(
    tmp_path: Path, argv: list[str]
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``installer deploy`` in a child and return once it says it applies the namespaced
    phase (the CRDs are in), with the progress lines it printed so far."""
    env = {**os.environ, **_env(tmp_path)}
    env.pop("HUB_COMPONENT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "installer", *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("namespaced: applying"):
            break
    return proc, seen


def test_killed_deploy_converges(tmp_path: Path, upstream: Path, ns: str) -> None:
    """SIGKILL once the CRDs are in and the next phases are being applied, then deploy again."""
    proc, seen = _deploy_until_namespaced_phase(tmp_path, deploy_argv(upstream, ns))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    # Killed mid-way: the CRDs are there and the inventory already records the whole intent.
    assert kubectl("get", "crd", "inferenceservices.serving.kserve.io").returncode == 0
    assert len(_inventory(ns)) >= 70
    _deploy_ok(deploy(tmp_path, upstream, ns))
    if ADMISSION_OFF:
        again = deploy(tmp_path, upstream, ns)
        assert again.returncode == 0 and again.stdout.startswith("0 changed"), again.stdout


def test_modelmesh_deploy_guard_and_user_namespaces(tmp_path: Path, upstream: Path, ns: str) -> None:
    """ModelMesh beside KServe: redeploy changes nothing; undeploy refuses while a Predictor or an
    InferenceService exists; a user namespace outlives undeploy and loses only our label."""
    team = f"{ns}-team"
    mm_ns = f"{ns}-mm"
    assert kubectl("create", "namespace", team).returncode == 0
    assert kubectl("label", "namespace", team, "owner=team").returncode == 0
    try:
        args = [
            "--mode",
            "ModelMesh",
            "--set",
            f"modelmesh.namespace={mm_ns}",
            "--set",
            f"modelmesh.userNamespaces={team}",
            "--set",
            "modelmesh.etcd.endpoints=http://etcd.example:2379",
        ]
        _deploy_ok(deploy(tmp_path, upstream, ns, *args))
        labels = json.loads(kubectl("get", "namespace", team, "-o", "jsonpath={.metadata.labels}").stdout)
        assert labels.get("modelmesh-enabled") == "true" and labels.get("owner") == "team"
        assert kubectl("get", "deployment", "modelmesh-controller", "-n", mm_ns).returncode == 0
        assert kubectl("get", "crd", "predictors.serving.kserve.io").returncode == 0
        if ADMISSION_OFF:
            again = deploy(tmp_path, upstream, ns, *args)
            assert again.returncode == 0 and again.stdout.startswith("0 changed"), again.stdout + again.stderr
        predictor = {
            "apiVersion": "serving.kserve.io/v1alpha1",
            "kind": "Predictor",
            "metadata": {"name": "example-mnist", "namespace": team},
            "spec": {
                "modelType": {"name": "onnx"},
                "path": "onnx/mnist.onnx",
                "storage": {"s3": {"secretKey": "x"}},
            },
        }
        isvc = {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {
                "name": "mm-isvc",
                "namespace": team,
                "annotations": {"serving.kserve.io/deploymentMode": "ModelMesh"},
            },
            "spec": {
                "predictor": {"model": {"modelFormat": {"name": "onnx"}, "storageUri": "s3://models/mnist"}}
            },
        }
        for user_object, kind in ((predictor, "Predictor"), (isvc, "InferenceService")):
            created = kubectl_apply(user_object)
            if created.returncode != 0:
                assert not ADMISSION_OFF, created.stderr
                continue
            refused = installer(tmp_path, upstream, "undeploy", "--namespace", ns)
            assert refused.returncode == 1 and kind in refused.stderr, refused.stderr
            kubectl("delete", kind.lower(), user_object["metadata"]["name"], "-n", team, "--wait=true")  # type: ignore[index]
        assert installer(tmp_path, upstream, "undeploy", "--namespace", ns).returncode == 0
        kept = kubectl("get", "namespace", team, "-o", "jsonpath={.metadata.labels}")
        assert kept.returncode == 0, "the user namespace is never deleted"
        labels = json.loads(kept.stdout)
        assert "modelmesh-enabled" not in labels and labels.get("owner") == "team"
        assert kubectl("get", "deployment", "modelmesh-controller", "-n", mm_ns).returncode != 0
    finally:
        kubectl("delete", "namespace", team, "--wait=false")


def test_status_after_deploy(tmp_path: Path, upstream: Path, ns: str) -> None:
    missing = installer(tmp_path, upstream, "status", "--namespace", ns, "-o", "json")
    assert missing.returncode == 1 and json.loads(missing.stdout)["installed"] is False
    _deploy_ok(deploy(tmp_path, upstream, ns))
    res = installer(tmp_path, upstream, "status", "--namespace", ns, "-o", "json")
    report = json.loads(res.stdout)
    assert report["installed"] is True and report["mode"] == "RawDeployment"
    assert report["objects"]["CustomResourceDefinition"] >= 6
    # A bare API server runs no pods: the controller is not available, the webhooks have no endpoints.
    assert res.returncode == 1 and report["ready"] is False
    assert any(w["name"] == "kserve-controller-manager" and not w["ready"] for w in report["workloads"])
    text = installer(tmp_path, upstream, "status", "--namespace", ns)
    assert "NOT READY" in text.stdout and text.stdout.rstrip().endswith("not ready")


def test_model_namespaces_outlive_undeploy_unless_created(tmp_path: Path, upstream: Path, ns: str) -> None:
    existing, fresh, theirs = f"{ns}-existing", f"{ns}-fresh", f"{ns}-theirs"
    for name in (existing, theirs):
        assert kubectl("create", "namespace", name).returncode == 0
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump({"modelNamespaces": [existing, fresh, {"name": theirs, "create": False}]})
    )
    try:
        res = deploy(tmp_path, upstream, ns, "-f", str(values))
        _deploy_ok(res)
        for name in (existing, fresh, theirs):
            assert kubectl("get", "serviceaccount", "kserve-s3", "-n", name).returncode == 0, name
        assert installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force").returncode == 0
        for name in (existing, theirs):
            assert kubectl("get", "namespace", name).returncode == 0, f"{name} existed before: kept"
            assert kubectl("get", "serviceaccount", "kserve-s3", "-n", name).returncode != 0
        gone = kubectl("get", "namespace", fresh, "-o", "jsonpath={.metadata.deletionTimestamp}")
        assert gone.returncode != 0 or gone.stdout, "the namespace the installer created is deleted"
    finally:
        for name in (existing, fresh, theirs):
            kubectl("delete", "namespace", name, "--wait=false")


# ------------------------------------------------------------------ the API server's own decisions


def _server() -> Any:
    from installer.cluster.kube import connect

    return connect(Path(KUBECONFIG))


def test_an_apply_without_the_strict_field_check_still_refuses_a_field_the_kind_lacks() -> None:
    """Writes ask for fieldValidation=Ignore (kube.KubernetesCluster._write): the server must
    still refuse a field CustomResourceDefinition does not have, as server-side apply does for
    every built-in kind whatever the directive."""
    cluster = _server()
    crd = _minimal_crd("Probe", f"probes{uuid.uuid4().hex[:6]}", "installer.example.com")
    crd["spec"]["unknownField"] = True  # type: ignore[index]
    with pytest.raises(ClusterError, match=r"unknownField"):
        cluster.apply(crd, dry_run=True)
    del crd["spec"]["unknownField"]  # type: ignore[attr-defined]
    assert cluster.apply(crd, dry_run=True)["kind"] == "CustomResourceDefinition"


def test_a_kind_is_served_once_its_crd_is_in_discovery() -> None:
    """``serves`` (what the deploy's first read of a new kind waits for) follows discovery: no
    for a kind without a CRD, yes once its CRD is Established and listed."""
    from installer.cluster.client import Ref

    cluster = _server()
    plural = f"served{uuid.uuid4().hex[:6]}"
    crd = _minimal_crd("Served", plural, "served.installer.test", "Cluster")
    assert cluster.serves("v1", "ConfigMap")
    assert not cluster.serves("served.installer.test/v1", "Served")
    cluster.apply(crd)
    try:
        deadline = time.monotonic() + 60
        while not cluster.serves("served.installer.test/v1", "Served"):
            assert time.monotonic() < deadline, "the kind never appeared in discovery"
            time.sleep(0.2)
        assert cluster.get(Ref("served.installer.test/v1", "Served", "absent")) is None
    finally:
        cluster.delete(
            Ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.served.installer.test")
        )


def test_the_protobuf_crd_watch_reads_what_the_server_sends(ns: str) -> None:
    """The CRD watch asks for protobuf (installer/cluster/crdwatch.py): what it reads of a CRD
    the server establishes is what a JSON read of it says. The same watch carries every deploy's
    Established wait."""
    from installer.cluster.client import Ref

    cluster = _server()
    label = f"installer-test/watch={ns}"
    crd = _minimal_crd("Watched", f"watched{ns.replace('-', '')}", "watch.installer.test", "Cluster")
    crd["metadata"] = {**crd["metadata"], "labels": {"installer-test/watch": ns}}  # type: ignore[dict-item]
    answer = cluster.apply(crd)
    try:
        seen = []
        for state in cluster.watch_crds(label, answer["metadata"]["resourceVersion"], 30):
            seen.append(state)
            if any(
                c["type"] == "Established" and c["status"] == "True" for c in state["status"]["conditions"]
            ):
                break
        live = cluster.get(Ref.of(crd))
        assert live is not None and seen, "the watch saw the CRD established"
        assert seen[-1]["metadata"] == {
            "name": crd["metadata"]["name"],  # type: ignore[index]
            "resourceVersion": live["metadata"]["resourceVersion"],
        }
        wanted = [
            {k: c[k] for k in ("type", "status", "reason", "message") if k in c}
            for c in live["status"]["conditions"]
        ]
        assert seen[-1]["status"]["conditions"] == wanted
    finally:
        cluster.delete(Ref.of(crd))


def test_a_create_answered_with_metadata_only(ns: str) -> None:
    """What a deploy asks of a create's answer (``metadata_only``): the server answers a
    PartialObjectMetadata with the resourceVersion the CRD wait starts from, and still stores
    the whole object; without it, the whole object comes back."""
    from installer.cluster.client import Ref

    cluster = _server()
    crd = _minimal_crd("Answered", f"answered{ns.replace('-', '')}", "answer.installer.test", "Cluster")
    answer = cluster.apply(crd, metadata_only=True)
    try:
        assert answer["kind"] == "PartialObjectMetadata" and set(answer) == {"apiVersion", "kind", "metadata"}
        live = cluster.get(Ref.of(crd))
        assert live is not None and live["spec"]["names"]["kind"] == "Answered"
        assert answer["metadata"]["uid"] == live["metadata"]["uid"]
        assert int(answer["metadata"]["resourceVersion"]) <= int(live["metadata"]["resourceVersion"])
        full = cluster.apply(crd)
        assert full["kind"] == "CustomResourceDefinition" and full["spec"]["group"] == "answer.installer.test"
    finally:
        cluster.delete(Ref.of(crd))


def test_immutable_fields_are_recognized_from_the_api_status() -> None:
    """The Status a real server answers a refused change with: only immutable fields make an
    InvalidError that may be replaced; a plain validation error may not."""
    from installer.errors import InvalidError

    cluster = _server()
    ns = f"kst-imm-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", ns).returncode == 0
    binding: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": ns}],
    }

    def deployment(app: str, port: int = 80) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": ns},
            "spec": {
                "selector": {"matchLabels": {"app": app}},
                "template": {
                    "metadata": {"labels": {"app": app}},
                    "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": port}]}]},
                },
            },
        }

    def service(cluster_ip: str = "") -> dict[str, Any]:
        spec: dict[str, Any] = {"ports": [{"port": 80}]}
        if cluster_ip:
            spec["clusterIP"] = cluster_ip
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "namespace": ns},
            "spec": spec,
        }

    def job(image: str) -> dict[str, Any]:
        template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}}
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j", "namespace": ns},
            "spec": {"template": template},
        }

    try:
        cases = [
            (binding, {**binding, "roleRef": {**binding["roleRef"], "name": "edit"}}, ["roleRef"]),
            (deployment("a"), deployment("b"), ["spec.selector"]),
            (service(), service("None"), ["spec.clusterIPs[0]"]),
            (job("a"), job("b"), ["spec.template"]),
        ]
        for first, changed, fields in cases:
            cluster.apply(first, force=True)
            for dry_run in (True, False):
                with pytest.raises(InvalidError) as refused:
                    cluster.apply(changed, force=True, dry_run=dry_run)
                assert refused.value.code == 422 and refused.value.reason == "Invalid"
                assert refused.value.immutable_fields == fields, refused.value.causes
        with pytest.raises(InvalidError) as invalid:
            cluster.apply(deployment("a", port=70000), force=True)
        assert invalid.value.immutable_fields == [] and invalid.value.causes
    finally:
        kubectl("delete", "namespace", ns, "--wait=false")


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_immutable_change_on_upgrade_replaces_the_binding(tmp_path: Path, upstream: Path, ns: str) -> None:
    """v0.16.0 -> v0.18.1 changes llmisvc-manager-rolebinding's roleRef (kserve/kserve#5325)."""
    _deploy_ok(deploy(tmp_path, upstream, ns, "--version", "v0.16.0"))
    uid = kubectl(
        "get", "clusterrolebinding", "llmisvc-manager-rolebinding", "-o", "jsonpath={.metadata.uid}"
    ).stdout
    planned = installer(tmp_path, upstream, "diff", "--version", "v0.18.1", "--set", f"kserve.namespace={ns}")
    assert planned.returncode == 1
    assert "replace ClusterRoleBinding/llmisvc-manager-rolebinding: roleRef" in planned.stdout, planned.stdout
    res = deploy(tmp_path, upstream, ns, "--version", "v0.18.1")
    _deploy_ok(res)
    assert (
        "replacing ClusterRoleBinding/llmisvc-manager-rolebinding: roleRef cannot change in place"
        in res.stderr
    )
    live = json.loads(
        kubectl("get", "clusterrolebinding", "llmisvc-manager-rolebinding", "-o", "json").stdout
    )
    assert live["roleRef"]["name"] == "kserve-llmisvc-manager-role" and live["metadata"]["uid"] != uid
    if ADMISSION_OFF:
        assert " replaced, " in res.stdout and res.stdout.split(" replaced")[0].rsplit(" ", 1)[-1] != "0"


def _crd_state(name: str) -> dict[str, Any]:
    crd = json.loads(kubectl("get", "crd", name, "-o", "json").stdout)
    return {
        "uid": crd["metadata"]["uid"],
        "resourceVersion": crd["metadata"]["resourceVersion"],
        "storedVersions": crd["status"]["storedVersions"],
        "versions": [v["name"] for v in crd["spec"]["versions"]],
    }


def _versions_of_inventory(ns: str) -> dict[str, str]:
    """resourceVersion of every member of the install, by kind/namespace/name."""
    out = {}
    for group_kind in _applyset_kinds(ns):
        got = kubectl(
            "get", group_kind, "-A", "-l", f"applyset.kubernetes.io/part-of={_applyset_id(ns)}", "-o", "json"
        )
        for item in json.loads(got.stdout or '{"items": []}')["items"]:
            meta = item["metadata"]
            out[f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = meta["resourceVersion"]
    return out


def _inventory_version(ns: str) -> str:
    got = kubectl(
        "get",
        "configmap",
        "kserve-installer-inventory",
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    )
    return got.stdout


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_stored_versions_guard_refuses_before_anything_is_applied(
    tmp_path: Path, upstream: Path, ns: str
) -> None:
    """v0.20.0 -> v0.16.0 drops v1alpha2 of the LLM CRDs, which storedVersions lists. With a
    user's LLMInferenceServiceConfig stored in it: refused, one line, nothing applied. Without:
    the storage moves back to v1alpha1 and storedVersions is trimmed."""
    crd = "llminferenceserviceconfigs.serving.kserve.io"
    _deploy_ok(deploy(tmp_path, upstream, ns, "--version", "v0.20.0"))
    if not ADMISSION_OFF:  # this test plays a cluster where that validator is not installed
        assert (
            kubectl(
                "delete", "validatingwebhookconfiguration", "llminferenceserviceconfig.serving.kserve.io"
            ).returncode
            == 0
        )
    user = {
        "apiVersion": "serving.kserve.io/v1alpha2",
        "kind": "LLMInferenceServiceConfig",
        "metadata": {"name": "users-own", "namespace": ns},
        "spec": {},
    }
    assert (created := kubectl_apply(user)).returncode == 0, created.stderr
    crd_before, members_before = _crd_state(crd), _versions_of_inventory(ns)
    assert crd_before["storedVersions"] in (["v1alpha2"], ["v1alpha1", "v1alpha2"])
    inventory_before = _inventory_version(ns)
    refused = deploy(tmp_path, upstream, ns, "--version", "v0.16.0")
    assert refused.returncode == 1
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(
        f"error: refusing to upgrade: CRD {crd}: this version drops v1alpha2, which status.storedVersions still lists"
    ), line
    assert f"LLMInferenceServiceConfig/{ns}/users-own" in line and line.endswith(
        "nothing was applied (--force-crd-upgrade overrides)"
    )
    assert "applying" not in refused.stderr, "refused before the first phase"
    assert _crd_state(crd) == crd_before and _versions_of_inventory(ns) == members_before
    inventory_after = _inventory_version(ns)
    assert inventory_after == inventory_before
    assert kubectl("delete", "llminferenceserviceconfig", "users-own", "-n", ns).returncode == 0
    down = deploy(tmp_path, upstream, ns, "--version", "v0.16.0")
    _deploy_ok(down)
    after = _crd_state(crd)
    assert (
        after["storedVersions"] == ["v1alpha1"]
        and after["versions"] == ["v1alpha1"]
        and after["uid"] == crd_before["uid"]
    )
    assert f"CRD {crd}: storage moves from v1alpha2 to v1alpha1 (drops stored v1alpha2)" in down.stderr


def test_crds_are_established_before_their_custom_resources(tmp_path: Path, upstream: Path, ns: str) -> None:
    res = deploy(tmp_path, upstream, ns)
    _deploy_ok(res)
    assert "waiting for 16 CRDs to be Established" in res.stderr, res.stderr
    assert "could not find the requested resource" not in res.stderr
    crds = json.loads(kubectl("get", "crd", "-l", f"installer.kserve.io/instance={ns}", "-o", "json").stdout)[
        "items"
    ]
    assert len(crds) == 16
    for crd in crds:
        assert {"type": "Established", "status": "True"}.items() <= next(
            c for c in crd["status"]["conditions"] if c["type"] == "Established"
        ).items()
    if ADMISSION_OFF:
        assert kubectl("get", "clusterservingruntime", "kserve-sklearnserver").returncode == 0


def test_webhook_retries_until_it_answers(tmp_path: Path, upstream: Path, ns: str) -> None:
    """With admission webhooks on and no KServe pod, the runtimes are retried; once the webhook
    configurations are gone (as if the webhook answered), the retry goes through."""
    if ADMISSION_OFF:
        pytest.skip(WEBHOOKS_ONLY)
    env = {**os.environ, **_env(tmp_path)}
    argv = [sys.executable, "-m", "installer", *deploy_argv(upstream, ns)]
    argv[argv.index("30")] = "120"  # --timeout
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("custom-resources: applying"):
            break
    time.sleep(3)  # a few refused attempts
    hooks = kubectl(
        "get",
        "validatingwebhookconfiguration,mutatingwebhookconfiguration",
        "-l",
        f"installer.kserve.io/instance={ns}",
        "-o",
        "name",
    ).stdout.split()
    assert hooks
    assert kubectl("delete", *hooks).returncode == 0
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, "".join(seen) + err
    assert "changed" in out
    assert kubectl("get", "clusterservingruntime", "kserve-sklearnserver").returncode == 0


def test_prune_after_a_parameter_change(tmp_path: Path, upstream: Path, ns: str) -> None:
    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    models = f"{ns}-models"
    assert deploy(tmp_path, upstream, ns, "--set", f"modelNamespaces={models}").returncode == 0
    assert kubectl("get", "serviceaccount", "kserve-s3", "-n", models).returncode == 0
    res = deploy(tmp_path, upstream, ns)
    assert res.returncode == 0, res.stderr
    # the namespace it created and its ServiceAccount (no credentials here: no Secret was rendered)
    assert " 2 pruned)" in res.stdout, res.stdout
    assert kubectl("get", "serviceaccount", "kserve-s3", "-n", models).returncode != 0
    gone = kubectl("get", "namespace", models, "-o", "jsonpath={.metadata.deletionTimestamp}")
    assert gone.returncode != 0 or gone.stdout


def test_metadata_list_gives_the_live_resource_versions(tmp_path: Path, upstream: Path, ns: str) -> None:
    """The redeploy fast path's PartialObjectMetadataList request, on a real server."""
    _deploy_ok(deploy(tmp_path, upstream, ns))
    cluster = _server()
    for api_version, kind in (
        ("apps/v1", "Deployment"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("v1", "ConfigMap"),
    ):
        listed = cluster.resource_versions(api_version, kind, f"installer.kserve.io/instance={ns}")
        assert listed, kind
        for (namespace, name), rv in listed.items():
            from installer.cluster.client import Ref

            live = cluster.get(Ref(api_version, kind, name, namespace))
            assert live is not None and live["metadata"]["resourceVersion"] == rv


class _Recording:
    """A Cluster that records each call (name, first argument) before making it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            first = args[0] if args else ""
            if isinstance(first, dict):
                first = first["metadata"]["name"]
            self.calls.append((name, str(getattr(first, "name", first))))
            return method(*args, **kwargs)

        return call


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_redeploy_fast_path_sends_nothing(
    tmp_path: Path, upstream: Path, ns: str, lock: Any, session_env: Path
) -> None:
    """An identical redeploy on a real server: no apply but the inventory's, one metadata-only
    list (PartialObjectMetadataList) per kind, and no object read in full."""
    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    from installer import params
    from installer.cluster.deploy import DeployOptions
    from installer.cluster.deploy import deploy as deploy_objects
    from installer.cluster.inventory import INVENTORY
    from installer.cluster.progress import QuietProgress
    from installer.render import render
    from installer.sources import FetchSettings

    assert deploy(tmp_path, upstream, ns).returncode == 0
    assert deploy(tmp_path, upstream, ns).returncode == 0  # records the CRDs' settled status
    resolved = params.resolve(lock, params.ParameterOptions(set_args=(f"kserve.namespace={ns}",)))
    phases = render(resolved, lock, FetchSettings(mirror=str(upstream))).phases
    from installer.cluster.inventory import read_inventory

    cluster = _Recording(_server())
    recorded = read_inventory(_server(), ns)
    assert recorded is not None
    # the same version, mode and parameters digest as the CLI's deploy recorded
    opts = DeployOptions(
        instance=ns, version=recorded.version, mode=recorded.mode, params_digest=recorded.params_digest
    )
    changes = deploy_objects(cluster, phases, ns, opts, QuietProgress())
    everything = [o for objs in phases.values() for o in objs]
    assert changes.changed == 0 and len(changes.unchanged) == len(everything)
    assert [c for c in cluster.calls if c[0] == "apply"] == [("apply", INVENTORY)]
    kinds = {(o["apiVersion"], o["kind"]) for o in everything}
    assert len([c for c in cluster.calls if c[0] == "resource_versions"]) == len(kinds)
    read = {name for verb, name in cluster.calls if verb == "get"}
    assert read <= {INVENTORY, ns}, f"read in full: {sorted(read - {INVENTORY, ns})}"


# ------------------------------------------------------------------ undeploy waits


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_undeploy_waits_then_deploy_works_five_times(tmp_path: Path, upstream: Path, ns: str) -> None:
    """undeploy returns once its CRDs and the namespace it created are finalized, so a deploy
    right after works: five times in a row."""
    for _ in range(5):
        _deploy_ok(deploy(tmp_path, upstream, ns))
        gone = installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force")
        assert gone.returncode == 0 and gone.stdout.startswith("deleted "), gone.stderr
        assert kubectl("get", "namespace", ns).returncode != 0, "the namespace is gone"
        assert kubectl("get", "crd", "-l", f"installer.kserve.io/instance={ns}", "-o", "name").stdout == ""


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_undeploy_no_wait_and_timeout(tmp_path: Path, upstream: Path, ns: str) -> None:
    """--no-wait returns while the namespace terminates (a deploy then says why it cannot
    start); --timeout ends a wait that cannot finish with one line naming what is left. A
    finalizer of someone else's on a ConfigMap keeps the namespace terminating."""
    other = f"{ns}-c"
    held: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": ns, "finalizers": ["example.com/hold"]},
    }
    try:
        _deploy_ok(deploy(tmp_path, upstream, ns))
        assert kubectl_apply(held).returncode == 0
        quick = installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force", "--no-wait")
        assert quick.returncode == 0 and "waiting up to" not in quick.stderr, quick.stderr
        assert kubectl("get", "namespace", ns, "-o", "jsonpath={.metadata.deletionTimestamp}").stdout
        blocked = deploy(tmp_path, upstream, ns)
        assert blocked.returncode == 1
        assert blocked.stderr.strip().splitlines()[-1] == (
            f"error: Namespace {ns} is still being deleted (by an undeploy run with --no-wait?): wait until it "
            "is gone, then deploy again"
        )
        assert "applying" not in blocked.stderr, "refused before anything is applied"
        kubectl("wait", "--for=delete", "crd", "-l", f"installer.kserve.io/instance={ns}", "--timeout=60s")
        _deploy_ok(deploy(tmp_path, upstream, other))
        assert kubectl_apply({**held, "metadata": {**held["metadata"], "namespace": other}}).returncode == 0
        timed = installer(tmp_path, upstream, "undeploy", "--namespace", other, "--force", "--timeout", "5")
        assert timed.returncode == 1
        line = timed.stderr.strip().splitlines()[-1]
        assert line.startswith(
            "error: timed out after 5s waiting for deleted objects to be finalized; still terminating: "
        ), line
        assert f"Namespace/{other}" in line, line
        assert "waiting up to 5s for " in timed.stderr
    finally:
        for name in (ns, other):
            kubectl(
                "patch",
                "configmap",
                "held",
                "-n",
                name,
                "--type=merge",
                "-p",
                '{"metadata":{"finalizers":null}}',
            )
            kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s")


# ------------------------------------------------------------------ readiness


def test_replica_failure_fails_deploy_wait_within_seconds(tmp_path: Path, upstream: Path, ns: str) -> None:
    """A ResourceQuota of 0 pods: kube-controller-manager reports ReplicaFailure on the
    controller Deployment, and deploy --wait ends with that message, not after --timeout."""
    assert kubectl("create", "namespace", ns).returncode == 0
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-pods", "namespace": ns},
        "spec": {"hard": {"pods": "0"}},
    }
    assert kubectl_apply(quota).returncode == 0
    start = time.monotonic()
    res = deploy(tmp_path, upstream, ns, "--wait", "--timeout", "300")
    took = time.monotonic() - start
    assert res.returncode == 1, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error: waiting for ") and "workloads to be ready: Deployment/" in line, line
    assert "ReplicaFailure (FailedCreate)" in line and "exceeded quota: no-pods" in line, line
    assert took < 120, f"failed after {took:.0f}s of a 300s timeout"
    assert "waiting up to 300s for 4 workloads to be ready" in res.stderr


# ------------------------------------------------------------------ the inventory is an ApplySet


def _applyset_id(ns: str) -> str:
    from installer.cluster.inventory import applyset_id

    return applyset_id(ns)


def _applyset_kinds(ns: str) -> list[str]:
    got = kubectl(
        "get",
        "configmap",
        "kserve-installer-inventory",
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.annotations.applyset\\.kubernetes\\.io/contains-group-kinds}",
    )
    return [k for k in got.stdout.split(",") if k]


def _members(ns: str, kinds: list[str]) -> set[str]:
    """What kubectl lists by the ApplySet member label, as Kind/namespace/name, among the kinds
    the server still serves (a kind whose CRD was deleted has no objects left)."""
    found: set[str] = set()
    selector = f"applyset.kubernetes.io/part-of={_applyset_id(ns)}"
    served = [
        k for k in kinds if "doesn't have a resource type" not in kubectl("get", k, "-A", "-o", "name").stderr
    ]
    if not served:
        return found
    got = kubectl("get", ",".join(served), "-A", "-l", selector, "-o", "json")
    assert got.returncode == 0, got.stderr
    for item in json.loads(got.stdout)["items"]:
        meta = item["metadata"]
        found.add(
            f"{item['kind']}/{meta['namespace']}/{meta['name']}"
            if meta.get("namespace")
            else f"{item['kind']}/{meta['name']}"
        )
    return found


def _inventory_names(ns: str) -> set[str]:
    return {
        f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"
        for _, kind, namespace, name in _inventory(ns)
    }


def _kubectl_applyset(namespace: str, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """kubectl's own ApplySet apply, with the parent this installer uses."""
    argv = ["kubectl", "--kubeconfig", KUBECONFIG, "apply", "--server-side", "--prune"]
    argv += ["--applyset=configmaps/kserve-installer-inventory", "-n", namespace, "-f", "-"]
    env = {**os.environ, "KUBECTL_APPLYSET": "true"}
    return subprocess.run(
        argv, input=yaml.safe_dump(obj), capture_output=True, text=True, check=False, env=env
    )


def test_applyset_lists_exactly_the_inventory(tmp_path: Path, upstream: Path, ns: str) -> None:
    """After a complete deploy the ApplySet's members are exactly the inventory; after undeploy,
    none. (With webhooks on no deploy completes: the inventory already records the runtimes the
    webhook holds back, so the two differ by design.)"""
    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    _deploy_ok(deploy(tmp_path, upstream, ns))
    kinds = _applyset_kinds(ns)
    assert "CustomResourceDefinition.apiextensions.k8s.io" in kinds and "Deployment.apps" in kinds
    assert _members(ns, kinds) == _inventory_names(ns)
    # kubectl sees our parent as an ApplySet made by another tool, and will not prune it
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe", "namespace": ns}}
    taken = _kubectl_applyset(ns, probe)
    assert taken.returncode != 0 and 'managed by tooling "kserve-installer"' in taken.stderr, taken.stderr
    assert installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force").returncode == 0
    assert _members(ns, kinds) == set()
    assert kubectl("get", "crd", "inferenceservices.serving.kserve.io").returncode != 0, (
        "its kinds went with it"
    )


def test_kubectl_computes_the_same_applyset_id() -> None:
    name = f"kst-as-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    try:
        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe", "namespace": name}}
        made = _kubectl_applyset(name, probe)
        assert made.returncode == 0, made.stderr
        labels = json.loads(
            kubectl(
                "get",
                "configmap",
                "kserve-installer-inventory",
                "-n",
                name,
                "-o",
                "jsonpath={.metadata.labels}",
            ).stdout
        )
        assert labels["applyset.kubernetes.io/id"] == _applyset_id(name)
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_previous_inventory_format_is_migrated(tmp_path: Path, upstream: Path, ns: str) -> None:
    """An install recorded by the previous release (ConfigMap without ApplySet labels, digests
    keyed Kind/namespace/name, members without part-of) is rewritten by the next deploy."""
    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    assert deploy(tmp_path, upstream, ns).returncode == 0
    kinds = _applyset_kinds(ns)
    names = _inventory_names(ns)
    raw = json.loads(kubectl("get", "configmap", "kserve-installer-inventory", "-n", ns, "-o", "json").stdout)
    old_data = {
        k: raw["data"][k]
        for k in ("objects", "version", "mode", "parametersDigest", "createdNamespaces", "labelsOnly")
    }
    for field in ("digests", "resourceVersions"):  # keyed without the group, as before
        keyed = json.loads(raw["data"][field])
        old_data[field] = json.dumps(
            {
                k.split("/", 1)[0].split(".", 1)[0] + "/" + k.split("/", 1)[1].lstrip("/"): v
                for k, v in keyed.items()
            }
        )
    old = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "kserve-installer-inventory",
            "namespace": ns,
            "labels": {"installer.kserve.io/instance": ns},
        },
        "data": old_data,
    }
    replaced = kubectl("replace", "-f", "-", input_text=json.dumps(old))
    assert replaced.returncode == 0, replaced.stderr
    selector = f"applyset.kubernetes.io/part-of={_applyset_id(ns)}"
    for group_kind in kinds:
        kubectl("label", group_kind, "-A", "-l", selector, "applyset.kubernetes.io/part-of-")
    assert _members(ns, kinds) == set()
    migrated = deploy(tmp_path, upstream, ns)
    assert migrated.returncode == 0, migrated.stderr
    assert _members(ns, kinds) == names, "every member labelled again"
    data = json.loads(
        kubectl("get", "configmap", "kserve-installer-inventory", "-n", ns, "-o", "json").stdout
    )
    assert data["data"]["format"] == "applyset-v1" and data["metadata"]["labels"][
        "applyset.kubernetes.io/id"
    ] == _applyset_id(ns)
    again = deploy(tmp_path, upstream, ns)
    assert again.returncode == 0 and again.stdout.startswith("0 changed"), again.stdout


# ------------------------------------------------------------------ what the fake cluster stands in for


def _fake_and_real(ns: str) -> list[Any]:
    from tests.fake_cluster import FakeCluster

    fake = FakeCluster()
    fake.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return [fake, _server()]


def _apply_as(cluster: Any, obj: dict[str, Any], manager: str, force: bool = False) -> dict[str, Any]:
    """Server-side apply as ``manager`` (the real client applies as kserve-installer only)."""
    from tests.fake_cluster import FakeCluster

    if isinstance(cluster, FakeCluster):
        return cluster.apply(obj, manager=manager, force=force)
    done = kubectl_apply(obj, manager=manager, force=force)
    if done.returncode != 0:
        from installer.errors import ConflictError

        raise ConflictError(done.stderr)
    got: dict[str, Any] = json.loads(
        kubectl(
            "get",
            obj["kind"].lower(),
            obj["metadata"]["name"],
            *(["-n", obj["metadata"]["namespace"]] if obj["metadata"].get("namespace") else []),
            "-o",
            "json",
        ).stdout
    )
    return got


def test_fake_and_server_co_own_equal_values(ns: str) -> None:
    """Two managers setting a field to the same value co-own it: it survives when one stops
    applying it; another value is a conflict unless forced. The fake does the same."""
    from installer.errors import ConflictError

    assert kubectl("create", "namespace", ns).returncode == 0
    for cluster in _fake_and_real(ns):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": ns}}
        _apply_as(cluster, {**cm, "data": {"k": "v", "a": "1"}}, "alice")
        _apply_as(cluster, {**cm, "data": {"k": "v"}}, "bob")
        kept = _apply_as(cluster, {**cm, "data": {"a": "1"}}, "alice")
        assert kept["data"] == {"k": "v", "a": "1"}, (type(cluster).__name__, kept["data"])
        with pytest.raises(ConflictError):
            _apply_as(cluster, {**cm, "data": {"a": "2"}}, "bob")
        taken = _apply_as(cluster, {**cm, "data": {"a": "2"}}, "bob", force=True)
        assert taken["data"]["a"] == "2"
        _apply_as(cluster, {**cm, "data": {}}, "bob")
        assert "a" not in (_apply_as(cluster, {**cm, "data": {"k": "v"}}, "bob").get("data") or {}), (
            "alice lost it to the force"
        )


def test_fake_and_server_match_webhooks_by_name(ns: str) -> None:
    """A caBundle another manager sets on one webhook of a configuration survives our apply of
    the whole list, matched by the webhook's name (not its position)."""
    name = f"{ns}.example.com"
    assert kubectl("create", "namespace", ns).returncode == 0

    def hook(hook_name: str) -> dict[str, Any]:
        return {
            "name": hook_name,
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Ignore",
            "clientConfig": {"service": {"name": "nothing", "namespace": ns, "path": "/x"}},
            "rules": [
                {
                    "apiGroups": ["test.invalid"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["nothings"],
                }
            ],
        }

    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
    }
    try:
        for cluster in _fake_and_real(ns):
            _apply_as(
                cluster, {**body, "webhooks": [hook(f"a.{name}"), hook(f"b.{name}")]}, "kserve-installer"
            )
            _apply_as(
                cluster,
                {**body, "webhooks": [{"name": f"b.{name}", "clientConfig": {"caBundle": "LS0tCg=="}}]},
                "cainjector",
            )
            live = _apply_as(
                cluster, {**body, "webhooks": [hook(f"b.{name}"), hook(f"a.{name}")]}, "kserve-installer"
            )
            bundles = {w["name"]: w["clientConfig"].get("caBundle") for w in live["webhooks"]}
            assert bundles == {f"a.{name}": None, f"b.{name}": "LS0tCg=="}, (type(cluster).__name__, bundles)
    finally:
        kubectl("delete", "validatingwebhookconfiguration", name)


def test_fake_and_server_leave_resource_version_alone_on_dry_run(ns: str) -> None:
    assert kubectl("create", "namespace", ns).returncode == 0
    for cluster in _fake_and_real(ns):
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "dry", "namespace": ns},
            "data": {"a": "1"},
        }
        planned = cluster.apply(cm, dry_run=True)
        assert not planned["metadata"].get("resourceVersion"), "a dry-run create has none"
        stored = cluster.apply(cm)
        changed = cluster.apply({**cm, "data": {"a": "2"}}, dry_run=True)
        assert changed["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
        assert changed["data"] == {"a": "2"}
        from installer.cluster.client import Ref

        again = cluster.get(Ref("v1", "ConfigMap", "dry", ns))
        assert again["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"] and again[
            "data"
        ] == {"a": "1"}


# ------------------------------------------------------------------ adopting an install


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_adopting_an_install_made_by_kubectl(tmp_path: Path, upstream: Path, ns: str) -> None:
    """KServe installed by `kubectl apply --server-side -f kserve.yaml` (the release's own file,
    moved to this test's namespace): deploy names the other field manager and how to take over;
    after --force-conflicts the install is ours (0 changed next time), and undeploy removes
    what it applied and keeps the namespace it did not create."""
    import re

    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    release = upstream / "github.com/kserve/kserve/releases/download/v0.20.0/kserve.yaml"
    text = release.read_text()
    text = re.sub(r"^(\s*namespace: )kserve$", rf"\g<1>{ns}", text, flags=re.MULTILINE)
    text = text.replace(".kserve.svc", f".{ns}.svc").replace(
        "inject-ca-from: kserve/", f"inject-ca-from: {ns}/"
    )
    assert kubectl("create", "namespace", ns).returncode == 0
    try:
        by_kubectl = kubectl("apply", "--server-side", "-f", "-", input_text=text)
        if "ensure CRDs are installed first" in by_kubectl.stderr:  # as users do: again, once established
            kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")
            by_kubectl = kubectl("apply", "--server-side", "-f", "-", input_text=text)
        assert by_kubectl.returncode == 0, by_kubectl.stderr[-2000:]
        refused = deploy(tmp_path, upstream, ns)
        assert refused.returncode == 1
        line = refused.stderr.strip().splitlines()[-1]
        # The first object refused may conflict on one field or several (objects start largest
        # first: inferenceservice-config, on two); the server words them "conflict(s) with".
        assert line.startswith("error: apply ") and re.search(r'conflicts? with "kubectl": ', line), line
        assert line.endswith(
            '(fields owned by field manager "kubectl"; rerun with --force-conflicts to take them over)'
        ), line
        taken = deploy(tmp_path, upstream, ns, "--force-conflicts")
        assert taken.returncode == 0, taken.stderr
        again = deploy(tmp_path, upstream, ns)
        assert again.returncode == 0 and again.stdout.startswith("0 changed"), again.stdout
        inventory = _inventory(ns)
        assert installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force").returncode == 0
        assert kubectl("get", "namespace", ns).returncode == 0, "kept: kubectl's user created it"
        for ref in inventory:
            assert ref[1] == "Namespace" or _gone(*ref), ref
    finally:  # what kubectl applied and the installer never took over
        kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input_text=text)
        kubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s")


# ------------------------------------------------------------------ the upgrade chain


CHAIN = ("v0.13.1", "v0.15.2", "v0.16.0", "v0.18.1", "v0.20.0", "v0.16.0")
ISVC_CRD = "inferenceservices.serving.kserve.io"


def _user_objects(ns: str) -> list[dict[str, Any]]:
    """One InferenceService and one ServingRuntime of the user's."""
    return [
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "sklearn-iris", "namespace": ns},
            "spec": {
                "predictor": {
                    "model": {
                        "modelFormat": {"name": "sklearn"},
                        "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
                    }
                }
            },
        },
        {
            "apiVersion": "serving.kserve.io/v1alpha1",
            "kind": "ServingRuntime",
            "metadata": {"name": "users-runtime", "namespace": ns},
            "spec": {
                "supportedModelFormats": [{"name": "sklearn", "version": "1"}],
                "containers": [{"name": "kserve-container", "image": "registry.invalid/runtime:1"}],
            },
        },
    ]


def _gone(api_version: str, kind: str, namespace: str, name: str) -> bool:
    group = api_version.split("/")[0] if "/" in api_version else ""
    where = ["-n", namespace] if namespace else []
    return kubectl("get", f"{kind}.{group}" if group else kind, name, *where).returncode != 0


def _converged(tmp_path: Path, upstream: Path, ns: str, version: str, kubeconfig: str = "") -> None:
    """After a step: diff says nothing would change and status reports the version, no read error."""
    same = installer(
        tmp_path,
        upstream,
        "diff",
        "--version",
        version,
        "--set",
        f"kserve.namespace={ns}",
        kubeconfig=kubeconfig,
    )
    assert same.returncode == 0, same.stdout[-3000:] + same.stderr[-1000:]
    report = installer(tmp_path, upstream, "status", "--namespace", ns, "-o", "json", kubeconfig=kubeconfig)
    state = json.loads(report.stdout)
    assert (
        state["installed"]
        and state["version"] == version
        and state["unreadable"] == []
        and state["missing"] == []
    )
    assert report.returncode == 1 and state["ready"] is False, "no pod ever runs here"


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_upgrade_chain(tmp_path: Path, upstream: Path, ns: str) -> None:
    """v0.13.1 -> v0.15.2 -> v0.16.0 -> v0.18.1 -> v0.20.0 -> v0.16.0 with an InferenceService and
    a ServingRuntime of the user's: every step exits 0, the inferenceservices CRD keeps its uid,
    the user's objects survive, diff and status agree, what a step dropped is gone."""
    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    figures: list[dict[str, Any]] = []
    uid = ""
    for i, version in enumerate(CHAIN):
        before = _inventory(ns)
        start = time.monotonic()
        res = deploy(tmp_path, upstream, ns, "--version", version)
        took = time.monotonic() - start
        assert res.returncode == 0, f"{version}: {res.stderr[-3000:]}"
        if i == 0:
            assert (made := kubectl_apply(*_user_objects(ns), manager="user")).returncode == 0, made.stderr
            uid = _crd_state(ISVC_CRD)["uid"]
        assert _crd_state(ISVC_CRD)["uid"] == uid, f"{version}: the CRD was updated in place"
        for obj in _user_objects(ns):
            assert kubectl("get", obj["kind"].lower(), obj["metadata"]["name"], "-n", ns).returncode == 0, (
                obj["kind"]
            )
        old_ids, new_ids = _identities(before), _identities(_inventory(ns))
        dropped = [old_ids[key] for key in old_ids.keys() - new_ids.keys()]
        assert all(_gone(*ref) for ref in dropped), f"{version}: {[r for r in dropped if not _gone(*r)]}"
        _converged(tmp_path, upstream, ns, version)
        replaced = [
            line.split("replacing ", 1)[1].split(":", 1)[0]
            for line in res.stderr.splitlines()
            if line.startswith("replacing ")
        ]
        recreated = [line for line in res.stderr.splitlines() if "re-creating" in line]
        figures.append(
            {
                "version": version,
                "summary": res.stdout.strip(),
                "seconds": round(took, 1),
                "crd uid": uid,
                "replaced": replaced,
                "re-created": recreated,
                "dropped": len(dropped),
                "dropped objects": sorted(f"{r[1]}/{r[3]}" for r in dropped),
            }
        )
    print("\n" + json.dumps(figures, indent=1))
    assert figures[3]["replaced"] == ["ClusterRoleBinding/llmisvc-manager-rolebinding"]
    assert figures[5]["replaced"] == ["ClusterRoleBinding/llmisvc-manager-rolebinding"]
    assert figures[5]["dropped"] > 0, "the downgrade prunes what v0.20.0 added"


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_upgrade_chain_with_webhooks_on(tmp_path: Path, upstream: Path, ns: str) -> None:
    """The same chain through a front door with admission webhooks on (no KServe pod answers):
    each step fails within its --timeout with one line naming the webhook, and the same step
    through the door without them (INSTALLER_TEST_KUBECONFIG_ADMISSION_OFF) converges."""
    if ADMISSION_OFF:
        pytest.skip(WEBHOOKS_ONLY)
    if not KUBECONFIG_OFF:
        pytest.skip(
            "needs INSTALLER_TEST_KUBECONFIG_ADMISSION_OFF: a door to the same cluster without admission webhooks"
        )
    figures: list[dict[str, Any]] = []
    uid = ""
    for i, version in enumerate(CHAIN):
        start = time.monotonic()
        failed = deploy(tmp_path, upstream, ns, "--version", version)
        took = time.monotonic() - start
        line = failed.stderr.strip().splitlines()[-1]
        assert failed.returncode == 1 and line.startswith("error: ") and "webhook" in line, failed.stderr[
            -2000:
        ]
        assert ("did not answer within 30s" in line) or ("is not reachable yet" in line), line
        assert took < 30 + 120, f"{version}: failed after {took:.0f}s"
        converged = deploy(tmp_path, upstream, ns, "--version", version, kubeconfig=KUBECONFIG_OFF)
        assert converged.returncode == 0, f"{version}: {converged.stderr[-3000:]}"
        if i == 0:
            made = kubectl_apply(*_user_objects(ns), manager="user", kubeconfig=KUBECONFIG_OFF)
            assert made.returncode == 0, made.stderr
            uid = _crd_state(ISVC_CRD)["uid"]
        assert _crd_state(ISVC_CRD)["uid"] == uid
        for obj in _user_objects(ns):
            assert kubectl("get", obj["kind"].lower(), obj["metadata"]["name"], "-n", ns).returncode == 0
        _converged(tmp_path, upstream, ns, version, kubeconfig=KUBECONFIG_OFF)
        figures.append(
            {
                "version": version,
                "failed in": round(took, 1),
                "error": line[:200],
                "then": converged.stdout.strip(),
            }
        )
    print("\n" + json.dumps(figures, indent=1))


PART_CASES = [
    pytest.param(["--set", "kserve.localmodel.enabled=false"], "localmodel", id="release-without-localmodel"),
    pytest.param(
        ["--set", "kserve.source=v0.20.0", "--set", "kserve.llmisvc.enabled=false"],
        "llminferenceservice|llmisvc|inference.networking|llm-d",
        id="source-without-llmisvc",
    ),
]


@pytest.mark.timeout(900)  # a cold source build, two deploys and a render on a shared server
@pytest.mark.parametrize(("extra", "part"), PART_CASES)
def test_parts_left_out_deploy_whole(
    tmp_path: Path, upstream: Path, ns: str, extra: list[str], part: str
) -> None:
    """A render without an optional part deploys, and what it applied is exactly the render: no
    object of the part is ours. CRDs are cluster-wide and this server is shared: another install
    may have the part's CRDs, so the test asserts only that they are not this install's."""
    res = deploy(tmp_path, upstream, ns, *extra, "--timeout", "300")  # the server is shared: patience
    _deploy_ok(res)
    rendered = run_cli(
        "render",
        "-o",
        "json",
        "--mirror",
        str(upstream),
        "--set",
        f"kserve.namespace={ns}",
        *extra,
        env=_env(tmp_path),
    )
    assert rendered.code == 0, rendered.stderr
    objs = json.loads(rendered.stdout)["items"]
    assert not [o for o in objs if re.search(part, o["metadata"]["name"])], "the part is left out"
    applied = {(kind, namespace, name) for _, kind, namespace, name in _inventory(ns)}
    if ADMISSION_OFF:
        assert applied == {
            (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs
        }
    assert not [a for a in applied if re.search(part, a[2])], "nothing of the part is ours"
    for o in objs:
        namespace = o["metadata"].get("namespace")
        if namespace == ns and o["kind"] in ("Deployment", "Service", "ServiceAccount", "Certificate"):
            assert kubectl("get", f"{o['kind'].lower()}", o["metadata"]["name"], "-n", ns).returncode == 0
    crds = kubectl("get", "crd", "-o", "json")
    for crd in json.loads(crds.stdout)["items"]:
        if re.search(part, crd["metadata"]["name"]):
            labels = crd["metadata"].get("labels") or {}
            assert labels.get("installer.kserve.io/instance") != ns, crd["metadata"]["name"]
    if ADMISSION_OFF:
        # Cluster-scoped objects (bindings naming this namespace, webhooks) are shared by name with
        # any other install on this server, which may have re-applied them meanwhile: only what
        # this install lacks or has too much is asserted.
        again = deploy(tmp_path, upstream, ns, *extra, "--timeout", "300")
        assert again.returncode == 0 and "(0 created, " in again.stdout, again.stdout
        assert ", 0 pruned)" in again.stdout, again.stdout


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_diff_shows_values_and_never_a_secret_and_undeploy_dry_run_deletes_nothing(
    tmp_path: Path, upstream: Path, ns: str
) -> None:
    """A ConfigMap value changed by kubectl shows in `installer diff` as its old and new value
    (exit 1, text and -o json alike); a changed Secret shows as changed, its values never; and
    `undeploy --dry-run=server` lists what it would delete and deletes nothing."""
    if not ADMISSION_OFF:
        pytest.skip(COMPLETE_ONLY)
    models = f"{ns}-models"
    secret_value = f"never-printed-{uuid.uuid4().hex}"
    creds = tmp_path / "creds.env"
    creds.write_text(f"AWS_ACCESS_KEY_ID=AKIA-DIFF-TEST\nAWS_SECRET_ACCESS_KEY={secret_value}\n")
    params = ["--set", f"kserve.namespace={ns}", "--set", f"modelNamespaces={models}"]
    params += ["--set", f"bucket.credentialsFile={creds}"]
    _deploy_ok(deploy(tmp_path, upstream, ns, *params[2:]))
    assert installer(tmp_path, upstream, "diff", *params).returncode == 0
    patch = {"data": {"deploy": '{"defaultDeploymentMode": "Serverless"}'}}
    assert (
        kubectl(
            "patch", "configmap", "inferenceservice-config", "-n", ns, "--type=merge", "-p", json.dumps(patch)
        ).returncode
        == 0
    )
    new_secret = f"changed-by-hand-{uuid.uuid4().hex}"
    set_secret = {"stringData": {"AWS_SECRET_ACCESS_KEY": new_secret}}
    assert (
        kubectl(
            "patch",
            "secret",
            "kserve-s3-credentials",
            "-n",
            models,
            "--type=merge",
            "-p",
            json.dumps(set_secret),
        ).returncode
        == 0
    )
    res = installer(tmp_path, upstream, "diff", *params)
    assert res.returncode == 1, res.stderr
    cm = f"ConfigMap/{ns}/inferenceservice-config"
    assert f"--- live/{cm}\n+++ merged/{cm}\n@@ " in res.stdout, res.stdout
    assert '-  deploy: \'{"defaultDeploymentMode": "Serverless"}\'' in res.stdout, res.stdout
    assert '+        "defaultDeploymentMode": "RawDeployment"' in res.stdout, res.stdout
    assert "+  AWS_SECRET_ACCESS_KEY: '*** (after)'" in res.stdout, res.stdout
    as_json = installer(tmp_path, upstream, "diff", "-o", "json", *params)
    assert as_json.returncode == 1, as_json.stderr
    entries = {e["object"]: e for e in json.loads(as_json.stdout)}
    assert entries[cm]["diff"] in res.stdout and "-  deploy: '{" in entries[cm]["diff"]
    assert entries[f"Secret/{models}/kserve-s3-credentials"]["action"] == "change"
    for value in (secret_value, new_secret):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in res.stdout + res.stderr + as_json.stdout + as_json.stderr
    before = kubectl(
        "get", "configmap,secret,serviceaccount,deployment,service", "-n", ns, "-o", "name"
    ).stdout
    crds = kubectl("get", "crd", "-o", "name").stdout
    dry = installer(tmp_path, upstream, "undeploy", "--dry-run=server", "--set", f"kserve.namespace={ns}")
    assert dry.returncode == 0, dry.stderr
    assert f"delete Namespace/{models}" in dry.stdout and f"delete {cm}" in dry.stdout, dry.stdout
    assert dry.stdout.splitlines()[-1].startswith("dry run: deleted "), dry.stdout
    assert (
        kubectl("get", "configmap,secret,serviceaccount,deployment,service", "-n", ns, "-o", "name").stdout
        == before
    )
    assert kubectl("get", "crd", "-o", "name").stdout == crds
    assert kubectl("get", "namespace", models, "-o", "jsonpath={.status.phase}").stdout == "Active"
    assert installer(tmp_path, upstream, "status", "--set", f"kserve.namespace={ns}").stdout, (
        "still installed"
    )


@pytest.mark.timeout(1800)  # deploys of v0.18+ take tens of seconds on a loaded server
def test_api_server_that_stops_mid_phase_then_deploy_converges(
    tmp_path: Path, upstream: Path, ns: str
) -> None:
    """The API server goes away (a proxy in front of it is cut) while deploy applies the
    namespaced phase: one error line naming the call it was making, exit 1; the next deploy,
    against the server that answers again, converges and diff then says nothing would change."""
    from urllib.parse import urlsplit

    from tests.tcp_proxy import proxy

    config = yaml.safe_load(Path(KUBECONFIG).read_text())
    server = urlsplit(config["clusters"][0]["cluster"]["server"])
    with proxy(server.hostname or "127.0.0.1", server.port or 443) as cut_off:
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{cut_off.port}"
        via_proxy = tmp_path / "kubeconfig-proxy"
        via_proxy.write_text(yaml.safe_dump(config))
        argv = [a if a != KUBECONFIG else str(via_proxy) for a in deploy_argv(upstream, ns)]
        proc, seen = _deploy_until_namespaced_phase(tmp_path, argv)
        cut_off.cut()
        assert proc.stderr is not None
        seen += proc.stderr.readlines()
        proc.wait()
    errors = [line for line in seen if line.startswith("error: ")]
    assert proc.returncode == 1, "".join(seen)
    assert len(errors) == 1 and errors[0] == seen[-1], "".join(seen)
    assert f"127.0.0.1:{cut_off.port}" in errors[0] and "Traceback" not in "".join(seen), errors
    assert re.match(r"error: (apply|get|list|read|wait|the API server|cannot reach)", errors[0]), errors[0]
    _deploy_ok(deploy(tmp_path, upstream, ns))
    if ADMISSION_OFF:
        assert installer(tmp_path, upstream, "diff", "--set", f"kserve.namespace={ns}").returncode == 0


def test_a_watch_from_a_compacted_resource_version_is_its_410_status() -> None:
    """A resourceVersion the server no longer has (etcd compacted it) ends the protobuf CRD
    watch with the server's 410 Status, decoded from protobuf: what makes the Established wait
    poll instead. Last in this file: a server compacts every 5 minutes, and one younger than
    that still has resourceVersion 1."""
    from installer.errors import ClusterError

    cluster = _server()
    try:
        for _ in cluster.watch_crds("installer-test/none", "1", 2):
            pass
    except ClusterError as exc:
        assert exc.code == 410 and "too old resource version" in exc.message, exc.message
    else:
        pytest.skip(
            "the server has compacted nothing yet (it does every 5 minutes): resourceVersion 1 is served"
        )
