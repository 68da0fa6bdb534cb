"""Cluster tests against a real API server (INSTALLER_TEST_KUBECONFIG); skipped otherwise.

Written for a bare kube-apiserver (no nodes: workloads never become ready; admission webhooks
have no endpoints unless the server runs with
--disable-admission-plugins=ValidatingAdmissionWebhook,MutatingAdmissionWebhook, which the test
is told by INSTALLER_TEST_ADMISSION=off). cert-manager's CRDs must be installed on it.
Each test works in its own namespace and removes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def ns(upstream: Path, tmp_path: Path) -> Iterator[str]:
    name = f"kst-{uuid.uuid4().hex[:8]}"
    yield name
    run_cli("undeploy", "--namespace", name, "--force", "--kubeconfig", KUBECONFIG, env=_env(tmp_path))


def _env(tmp_path: Path) -> dict[str, str]:
    return {"INSTALLER_CACHE_DIR": str(tmp_path / "cache"), "INSTALLER_BUILD_DIR": str(tmp_path / "built")}


def installer(tmp_path: Path, upstream: Path, *args: str) -> subprocess.CompletedProcess[str]:
    res = run_cli(
        *args, "--kubeconfig", KUBECONFIG, "--mirror", str(upstream), env=_env(tmp_path), timeout=900
    )
    return subprocess.CompletedProcess(args, res.code, res.stdout, res.stderr)


def kubectl(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", KUBECONFIG, *args],
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )


def deploy(tmp_path: Path, upstream: Path, ns: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return installer(
        tmp_path,
        upstream,
        "deploy",
        "--no-wait",
        "--timeout",
        "30",
        "--set",
        f"kserve.namespace={ns}",
        *extra,
    )


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
    assert kubectl("get", "namespace", ns).returncode != 0


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
    created = kubectl("apply", "--server-side", "-f", "-", input_text=yaml.safe_dump(isvc))
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


def test_upgrade_keeps_crds_and_prunes(tmp_path: Path, upstream: Path, ns: str) -> None:
    if not ADMISSION_OFF:
        pytest.skip("needs INSTALLER_TEST_ADMISSION=off to deploy completely")
    for version in ("v0.13.1", "v0.15.2", "v0.16.0"):
        uid_before = kubectl(
            "get", "crd", "inferenceservices.serving.kserve.io", "-o", "jsonpath={.metadata.uid}"
        ).stdout
        res = deploy(tmp_path, upstream, ns, "--version", version)
        assert res.returncode == 0, res.stderr
        uid_after = kubectl(
            "get", "crd", "inferenceservices.serving.kserve.io", "-o", "jsonpath={.metadata.uid}"
        ).stdout
        if uid_before:
            assert uid_after == uid_before, "the CRD is updated in place, never deleted"


def test_killed_deploy_converges(tmp_path: Path, upstream: Path, ns: str) -> None:
    env = {**os.environ, **_env(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "installer",
            "deploy",
            "--no-wait",
            "--timeout",
            "30",
            "--kubeconfig",
            KUBECONFIG,
            "--mirror",
            str(upstream),
            "--set",
            f"kserve.namespace={ns}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _deploy_ok(deploy(tmp_path, upstream, ns))
