"""S3 Secret and ServiceAccount per model namespace, as KServe's storage initializer reads them."""

from __future__ import annotations

import pytest

from installer import params
from installer.configure import S3_SECRET, S3_SERVICE_ACCOUNT, model_namespace_objects
from installer.credentials import S3Credentials, load_credentials
from installer.errors import ParameterError
from installer.lock import Lock
from tests.conftest import CREDENTIALS_FILE


@pytest.mark.parametrize(
    ("endpoint", "host", "https"),
    [
        ("http://minio.minio:9000", "minio.minio:9000", "0"),
        ("https://s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", "1"),
    ],
)
def test_secret_annotations_follow_the_endpoint(endpoint: str, host: str, https: str, lock: Lock) -> None:
    p = params.resolve(
        lock=lock, set_args=["modelNamespaces=a,b", f"bucket.endpoint={endpoint}", "bucket.region=eu-west-1"]
    )
    accounts, secrets = model_namespace_objects(p, S3Credentials("id", "key", "test"))
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
    p = params.resolve(lock=lock, set_args=["modelNamespaces=a"])
    accounts, secrets = model_namespace_objects(p, None)
    assert len(accounts) == 1 and secrets == []


def test_credentials_sources() -> None:
    from_file = load_credentials(str(CREDENTIALS_FILE), env={})
    assert from_file is not None and from_file.values() == ("AKIA-TEST-ONLY-0000", "test-only-not-a-secret")
    assert "test-only" not in repr(from_file)
    from_env = load_credentials(None, env={"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"})
    assert from_env is not None and from_env.source == "environment"
    assert load_credentials(None, env={}) is None
    with pytest.raises(ParameterError, match="AWS_SECRET_ACCESS_KEY"):
        load_credentials(None, env={"AWS_ACCESS_KEY_ID": "a"})
