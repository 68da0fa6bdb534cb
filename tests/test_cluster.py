"""Cluster tests against a real API server (INSTALLER_TEST_KUBECONFIG); skipped otherwise.

Written for a bare kube-apiserver (no nodes: workloads never become ready; admission webhooks
have no endpoints unless the server runs with
--disable-admission-plugins=ValidatingAdmissionWebhook,MutatingAdmissionWebhook, which the test
is told by INSTALLER_TEST_ADMISSION=off). cert-manager's CRDs must be installed on it.
Each test works in its own namespace and removes it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_cli

KUBECONFIG = os.environ.get("INSTALLER_TEST_KUBECONFIG", "")
ADMISSION_OFF = os.environ.get("INSTALLER_TEST_ADMISSION") == "off"
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
    """A bare API server has no cert-manager: give it cert-manager's kinds (not its controllers)."""
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


def _env(tmp_path: Path) -> dict[str, str]:
    return {"INSTALLER_CACHE_DIR": str(tmp_path / "cache"), "INSTALLER_BUILD_DIR": str(tmp_path / "built")}


def installer(tmp_path: Path, upstream: Path, *args: str) -> subprocess.CompletedProcess[str]:
    mirror = ["--mirror", str(upstream)] if args[0] in ("deploy", "diff") else []
    res = run_cli(*args, "--kubeconfig", KUBECONFIG, *mirror, env=_env(tmp_path), timeout=900)
    return subprocess.CompletedProcess(args, res.code, res.stdout, res.stderr)


def kubectl(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", KUBECONFIG, *args],
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )


def kubectl_apply(
    *bodies: object, manager: str = "", force: bool = False
) -> subprocess.CompletedProcess[str]:
    """Server-side apply of objects, as another field manager when ``manager`` is given."""
    flags = [f"--field-manager={manager}"] if manager else []
    flags += ["--force-conflicts"] if force else []
    return kubectl("apply", "--server-side", *flags, "-f", "-", input_text=yaml.safe_dump_all(bodies))


def deploy(tmp_path: Path, upstream: Path, ns: str, *extra: str) -> subprocess.CompletedProcess[str]:
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


def test_dry_run_changes_nothing(tmp_path: Path, upstream: Path, ns: str) -> None:
    res = deploy(tmp_path, upstream, ns, "--dry-run")
    assert res.returncode in (0, 1), res.stderr
    assert "crds: applying" in res.stderr, "progress lines when stderr is not a terminal"
    assert kubectl("get", "namespace", ns).returncode != 0
    # After a real deploy, a dry run of a changed parameter reports it and changes nothing.
    _deploy_ok(deploy(tmp_path, upstream, ns))
    before = kubectl("get", "configmap", "inferenceservice-config", "-n", ns, "-o", "json").stdout
    assert before
    res = deploy(tmp_path, upstream, ns, "--dry-run", "--set", "ingress.protocol=https")
    assert res.returncode in (0, 1), res.stderr
    if ADMISSION_OFF:
        assert res.stdout.startswith("dry run: ") and " 0 configured" not in res.stdout, res.stdout
    after = kubectl("get", "configmap", "inferenceservice-config", "-n", ns, "-o", "json").stdout
    assert (
        json.loads(after)["metadata"]["resourceVersion"] == json.loads(before)["metadata"]["resourceVersion"]
    )
    assert json.loads(json.loads(after)["data"]["ingress"]).get("urlScheme") != "https"


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


def test_undeploy_guard_and_twice(tmp_path: Path, upstream: Path, ns: str) -> None:
    _deploy_ok(deploy(tmp_path, upstream, ns))
    isvc = {
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
    }
    created = kubectl_apply(isvc)
    if created.returncode == 0:
        refused = installer(tmp_path, upstream, "undeploy", "--namespace", ns)
        assert refused.returncode == 1 and "InferenceService" in refused.stderr
    assert installer(tmp_path, upstream, "undeploy", "--namespace", ns, "--force").returncode == 0
    assert installer(tmp_path, upstream, "undeploy", "--namespace", ns).returncode == 0


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
        waited = deploy(tmp_path, upstream, ns, "--timeout", "5")
        assert waited.returncode == 1
        line = waited.stderr.strip().splitlines()[-1]
        assert "timed out after 5s waiting for Secret" in line and "of Certificate" in line, line
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


def _inventory(ns: str) -> set[tuple[str, str, str, str]]:
    raw = kubectl(
        "get", "configmap", "kserve-installer-inventory", "-n", ns, "-o", "jsonpath={.data.objects}"
    ).stdout
    return {(r["apiVersion"], r["kind"], r.get("namespace", ""), r["name"]) for r in json.loads(raw or "[]")}


def test_upgrade_keeps_crds_and_prunes(tmp_path: Path, upstream: Path, ns: str) -> None:
    if not ADMISSION_OFF:
        pytest.skip("needs INSTALLER_TEST_ADMISSION=off to deploy completely")
    previous_uid = ""
    previous: set[tuple[str, str, str, str]] = set()
    pruned_total = 0
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "kept", "namespace": ns},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/iris"}}},
    }
    for version in ("v0.13.1", "v0.15.2", "v0.16.0"):
        res = deploy(tmp_path, upstream, ns, "--version", version)
        assert res.returncode == 0, res.stderr
        uid = kubectl(
            "get", "crd", "inferenceservices.serving.kserve.io", "-o", "jsonpath={.metadata.uid}"
        ).stdout
        assert uid
        if previous_uid:
            assert uid == previous_uid, "the CRD is updated in place, never deleted"
        else:
            created = kubectl_apply(isvc)
            assert created.returncode == 0, created.stderr
        assert kubectl("get", "inferenceservice", "kept", "-n", ns).returncode == 0, "user data is kept"
        current = _inventory(ns)
        for api, kind, namespace, name in previous - current:
            where = ["-n", namespace] if namespace else []
            gone = kubectl("get", f"{kind}.{api.split('/')[0]}" if "/" in api else kind, name, *where)
            assert gone.returncode != 0, f"{kind}/{name} should have been pruned"
            pruned_total += 1
        previous_uid, previous = uid, current
    # No locked upgrade drops an object (each adds some); a downgrade does: v0.16.0's additions go,
    # except a CRD whose custom resources still exist.
    assert pruned_total == 0
    llm = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "LLMInferenceServiceConfig",
        "metadata": {"name": "users-own", "namespace": ns},
        "spec": {},
    }
    assert kubectl_apply(llm).returncode == 0
    res = deploy(tmp_path, upstream, ns, "--version", "v0.15.2")
    assert res.returncode == 0, res.stderr
    dropped = previous - _inventory(ns)
    assert dropped, "v0.16.0 -> v0.15.2 must prune v0.16.0's additions"
    for api, kind, namespace, name in dropped:
        where = ["-n", namespace] if namespace else []
        assert (
            kubectl("get", f"{kind}.{api.split('/')[0]}" if "/" in api else kind, name, *where).returncode
            != 0
        )
    assert "kept CustomResourceDefinition" in res.stderr and "llminferenceserviceconfigs" in res.stderr
    assert kubectl("get", "crd", "llminferenceserviceconfigs.serving.kserve.io").returncode == 0
    assert kubectl("get", "inferenceservice", "kept", "-n", ns).returncode == 0
    kubectl("delete", "inferenceservice", "kept", "-n", ns)
    kubectl("delete", "llminferenceserviceconfig", "users-own", "-n", ns)


def test_killed_deploy_converges(tmp_path: Path, upstream: Path, ns: str) -> None:
    """SIGKILL once the CRDs are in and the next phases are being applied, then deploy again."""
    env = {**os.environ, **_env(tmp_path)}
    env.pop("HUB_COMPONENT", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "installer",
            *deploy_argv(upstream, ns),
        ],
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
            proc.send_signal(signal.SIGKILL)
            break
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
