"""S3 Secret and ServiceAccount per model namespace, as KServe's storage initializer reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from installer import params
from installer.app import prepare
from installer.components.model_namespaces import (
    S3_SECRET,
    S3_SERVICE_ACCOUNT,
    model_namespace_objects,
    own_credential_files,
)
from installer.credentials import S3Credentials, load_credentials
from installer.errors import ParameterError
from installer.lock import Lock
from installer.objects import is_labels_only
from installer.params import ParameterOptions
from tests.conftest import CREDENTIALS_FILE, LOCKED_VERSIONS


@pytest.mark.parametrize(
    ("endpoint", "host", "https"),
    [
        ("http://minio.minio:9000", "minio.minio:9000", "0"),
        ("https://s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", "1"),
    ],
)
def test_secret_annotations_follow_the_endpoint(endpoint: str, host: str, https: str, lock: Lock) -> None:
    p = params.resolve(
        lock,
        ParameterOptions(
            set_args=["modelNamespaces=a,b", f"bucket.endpoint={endpoint}", "bucket.region=eu-west-1"]
        ),
    )
    objs, secrets = model_namespace_objects(p, S3Credentials("id", "key", "test"))
    accounts = [o for o in objs if o["kind"] == "ServiceAccount"]
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"] == ["a", "b"]
    assert [s["metadata"]["namespace"] for s in secrets] == ["a", "b"]
    for secret in secrets:
        assert secret["metadata"]["name"] == S3_SECRET
        assert secret["metadata"]["annotations"] == {
            "serving.kserve.io/s3-endpoint": host,
            "serving.kserve.io/s3-usehttps": https,
            "serving.kserve.io/s3-region": "eu-west-1",
        }
        assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}
    assert all(
        a["metadata"]["name"] == S3_SERVICE_ACCOUNT and a["secrets"] == [{"name": S3_SECRET}]
        for a in accounts
    )


def test_without_credentials_only_the_service_accounts(lock: Lock) -> None:
    p = params.resolve(lock, ParameterOptions(set_args=["modelNamespaces=a"]))
    objs, secrets = model_namespace_objects(p, None)
    assert [o["kind"] for o in objs] == ["Namespace", "ServiceAccount"] and secrets == []


def test_credentials_sources() -> None:
    from_file = load_credentials(str(CREDENTIALS_FILE), env={})
    assert from_file is not None and from_file.values() == ("AKIA-TEST-ONLY-0000", "test-only-not-a-secret")
    assert "test-only" not in repr(from_file)
    from_env = load_credentials(None, env={"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"})
    assert from_env is not None and from_env.source == "environment"
    assert load_credentials(None, env={}) is None
    with pytest.raises(ParameterError, match="AWS_SECRET_ACCESS_KEY"):
        load_credentials(None, env={"AWS_ACCESS_KEY_ID": "a"})


def test_entries_with_their_own_storage_and_existing_namespaces(lock: Lock, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    other = tmp_path / "team-b.env"
    other.write_text("AWS_ACCESS_KEY_ID=team-b-id\nAWS_SECRET_ACCESS_KEY=team-b-key\n")
    values.write_text(
        "modelNamespaces:\n- models\n"
        "- name: team-b\n  create: false\n  bucket:\n"
        "    endpoint: https://s3.eu-west-1.amazonaws.com\n    region: eu-west-1\n    verifySsl: false\n"
        f"    credentialsFile: {other}\n"
    )
    p = params.resolve(
        lock, ParameterOptions(values_files=[values], set_args=["bucket.endpoint=http://minio.minio:9000"])
    )
    own = {k: load_credentials(v, parameter=k) for k, v in own_credential_files(p).items()}
    assert list(own) == ["modelNamespaces[1].bucket.credentialsFile"]
    objs, secrets = model_namespace_objects(p, S3Credentials("id", "key", "test"), own)
    namespaces = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Namespace"}
    assert namespaces["models"]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kserve-installer"}
    assert is_labels_only(namespaces["team-b"]) and not namespaces["team-b"]["metadata"].get("labels")
    by_ns = {s["metadata"]["namespace"]: s for s in secrets}
    assert by_ns["models"]["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.minio:9000",
        "serving.kserve.io/s3-usehttps": "0",
    }
    assert by_ns["team-b"]["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "s3.eu-west-1.amazonaws.com",
        "serving.kserve.io/s3-usehttps": "1",
        "serving.kserve.io/s3-region": "eu-west-1",
        "serving.kserve.io/s3-verifyssl": "0",
    }
    assert by_ns["models"]["stringData"]["AWS_ACCESS_KEY_ID"] == "id"
    assert by_ns["team-b"]["stringData"]["AWS_ACCESS_KEY_ID"] == "team-b-id"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("- a\n- a\n", "modelNamespaces: a is listed twice"),
        (
            "- name: a\n  bucket: {credentialsFile: /nonexistent/creds.env}\n",
            "modelNamespaces[0].bucket.credentialsFile",
        ),
        ("- name: a\n  create: maybe\n", "modelNamespaces"),
        ("- name: a\n  bucket: {endpoint: 'not a url'}\n", "modelNamespaces"),
    ],
)
def test_bad_entries_name_the_parameter(entries: str, message: str, lock: Lock, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("modelNamespaces:\n" + entries)
    with pytest.raises(ParameterError, match=re.escape(message)):
        prepare(lock, ParameterOptions(values_files=(values,)))


VERSIONS = LOCKED_VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_namespace_scoped_runtimes(version: str, lock: Lock, upstream: object, session_env: object) -> None:
    from pathlib import Path

    import yaml

    from installer.render import render
    from installer.sources import FetchSettings

    p = params.resolve(
        lock,
        ParameterOptions(
            set_args=[
                f"kserve.version={version}",
                "modelNamespaces=models,team-b",
                "runtimes.scope=namespace",
            ]
        ),
    )
    rendered = render(
        p, lock, FetchSettings(mirror=str(upstream))
    )  # validates every object, runtimes included
    assets = lock.assets("kserve", version)
    text = (Path(str(upstream)) / assets[-1].url.removeprefix("https://")).read_text()
    upstream_csrs = {
        d["metadata"]["name"]: d["spec"]
        for d in yaml.safe_load_all(text)
        if d and d["kind"] == "ClusterServingRuntime"
    }
    assert upstream_csrs
    assert not [o for o in rendered.objects if o["kind"] == "ClusterServingRuntime"]
    for ns in ("models", "team-b"):
        got = {
            o["metadata"]["name"]: o["spec"]
            for o in rendered.objects
            if o["kind"] == "ServingRuntime" and o["metadata"]["namespace"] == ns
        }
        assert got == upstream_csrs


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", ["RawDeployment", "Serverless"])
def test_example_passes_the_crd_schema(
    version: str, mode: str, lock: Lock, upstream: object, session_env: object
) -> None:
    from installer.components import KSERVE
    from installer.components.base import BuildContext
    from installer.errors import ValidationError
    from installer.example import MESH_ANNOTATIONS, inference_service, validate_example
    from installer.sources import FetchSettings

    p = params.resolve(
        lock,
        ParameterOptions(
            set_args=[
                f"kserve.version={version}",
                f"kserve.deploymentMode={mode}",
                "modelNamespaces=models",
                "mesh.sidecarInjection=true",
            ]
        ),
    )
    ctx = BuildContext(lock, FetchSettings(mirror=str(upstream)))
    crds = KSERVE.prebuild(p, KSERVE.fetch(p, ctx), ctx).phases["crds"]
    obj = inference_service("models", p)
    validate_example(obj, crds)
    assert obj["spec"]["predictor"]["serviceAccountName"] == S3_SERVICE_ACCOUNT
    assert MESH_ANNOTATIONS.items() <= obj["metadata"]["annotations"].items()
    broken = {**obj, "spec": {"predictor": {"model": {"modelFormat": "sklearn"}}}}
    with pytest.raises(ValidationError, match="modelFormat"):
        validate_example(broken, crds)
