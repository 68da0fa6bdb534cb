"""Parameter precedence, coercion and validation (in process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import params
from installer.errors import ParameterError
from installer.lock import Lock


def resolve(
    lock: Lock,
    env: dict[str, str] | None = None,
    use_env: bool = False,
    flags: dict[str, tuple[str, str]] | None = None,
    **kw: object,
) -> params.Parameters:
    by_flag = {flag: value for flag, value in (flags or {}).values()}
    options = params.ParameterOptions(
        mode=by_flag.get("--mode"),
        version=by_flag.get("--version"),
        from_env=use_env,
        **kw,  # type: ignore[arg-type]
    )
    return params.resolve(lock, options, env)


def test_defaults(lock: Lock) -> None:
    p = resolve(lock)
    assert p.namespace == "kserve"
    assert p.version == "v0.20.0" and p.origins["kserve.version"] == "lock file default"
    assert p.mode == "RawDeployment"
    assert p["ingress.protocol"] == "http" and p["ingress.hosts"] == []
    assert p["ingress.class"] is None and p["bucket.endpoint"] is None


def test_precedence_defaults_file_env_set_flags(lock: Lock, tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(
        "kserve:\n  namespace: from-a\n  deploymentMode: Serverless\ningress.hosts: [a.example.com]\n"
    )
    b = tmp_path / "b.yaml"
    b.write_text("kserve:\n  namespace: from-b\n")
    env = {
        "NAMESPACE": "from-env",
        "INGRESS_HOSTS": "e1.example.com e2.example.com",
        "DEPLOYMENT_MODE": "ModelMesh",
    }
    p = resolve(lock, values_files=[a, b])
    assert p.namespace == "from-b" and p.mode == "Serverless" and p["ingress.hosts"] == ["a.example.com"]
    p = resolve(lock, values_files=[a, b], env=env, use_env=True)
    assert p.namespace == "from-env" and p["ingress.hosts"] == ["e1.example.com", "e2.example.com"]
    assert p.mode == "ModelMesh"
    p = resolve(lock, values_files=[a, b], env=env, use_env=True, set_args=["kserve.namespace=from-set"])
    assert p.namespace == "from-set" and p.origins["kserve.namespace"] == "--set"
    p = resolve(
        lock,
        values_files=[a],
        env=env,
        use_env=True,
        set_args=["kserve.deploymentMode=Serverless"],
        flags={"kserve.deploymentMode": ("--mode", "RawDeployment")},
    )
    assert p.mode == "RawDeployment" and p.origins["kserve.deploymentMode"] == "--mode"


def test_environment_is_ignored_unless_asked(lock: Lock) -> None:
    p = resolve(lock, env={"NAMESPACE": "stray"}, use_env=False)
    assert p.namespace == "kserve"


def test_hubctl_empty_values_mean_unset(lock: Lock) -> None:
    env = {"INGRESS_CLASS": "", "INGRESS_HOSTS": "", "BUCKET_ENDPOINT": "", "BUCKET_REGION": ""}
    p = resolve(lock, env=env, use_env=True)
    assert p["ingress.class"] is None and p["ingress.hosts"] == [] and p["bucket.endpoint"] is None


def test_set_lists_helm_style(lock: Lock) -> None:
    p = resolve(lock, set_args=["ingress.hosts={a.example.com,b.example.com}"])
    assert p["ingress.hosts"] == ["a.example.com", "b.example.com"]
    p = resolve(lock, set_args=["ingress.hosts=a.example.com,b.example.com"])
    assert p["ingress.hosts"] == ["a.example.com", "b.example.com"]


def test_mode_aliases_follow_the_version(lock: Lock) -> None:
    assert (
        resolve(lock, flags={"kserve.deploymentMode": ("--mode", "Standard")}).canonical_mode
        == "RawDeployment"
    )
    assert (
        resolve(lock, flags={"kserve.deploymentMode": ("--mode", "Knative")}).canonical_mode == "Serverless"
    )
    with pytest.raises(
        ParameterError, match=r"kserve.deploymentMode: Standard is only understood by KServe v0.16"
    ):
        resolve(
            lock,
            flags={
                "kserve.deploymentMode": ("--mode", "Standard"),
                "kserve.version": ("--version", "v0.15.2"),
            },
        )


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://minio.minio:9000", ("minio.minio:9000", False)),
        ("https://s3.eu-west-1.amazonaws.com", ("s3.eu-west-1.amazonaws.com", True)),
        ("s3.amazonaws.com", ("s3.amazonaws.com", True)),
        ("minio:9000", ("minio:9000", True)),
        ("http://", None),
        ("ftp://x", None),
        ("http://a b", None),
        ("http://minio/path", None),
        ("http://user:pw@minio", None),
    ],
)
def test_s3_endpoint_parts(endpoint: str, expected: tuple[str, bool] | None) -> None:
    assert params.s3_endpoint_parts(endpoint) == expected


def test_every_leaf_has_a_brief_and_a_default_key() -> None:
    for key, leaf in params.leaves().items():
        assert leaf.brief, key
        assert "default" in leaf.schema, key


def test_inline_values_take_a_values_file_place(lock: Lock, tmp_path: Path) -> None:
    """Values given in place (a fleet file's) interleave with values files, later ones winning."""
    a = tmp_path / "a.yaml"
    a.write_text("kserve:\n  namespace: from-a\ningress.class: nginx\n")
    inline = params.InlineValues("fleet.yaml clusters[dev].values", {"kserve": {"namespace": "inline"}})
    p = resolve(lock, values_files=[a, inline])
    assert p.namespace == "inline" and p.origins["kserve.namespace"] == "fleet.yaml clusters[dev].values"
    assert p["ingress.class"] == "nginx" and p.origins["ingress.class"] == f"values file {a}"
    assert resolve(lock, values_files=[inline, a]).namespace == "from-a"
    bad = params.InlineValues("fleet.yaml clusters[dev].values", {"kserve.namespace": "Bad_NS"})
    with pytest.raises(ParameterError, match=r"kserve.namespace: .*from fleet.yaml clusters\[dev\].values"):
        resolve(lock, values_files=[bad])
    with pytest.raises(ParameterError, match=r"kserve.nmespace: unknown parameter \(in fleet.yaml"):
        resolve(lock, values_files=[params.InlineValues("fleet.yaml", {"kserve.nmespace": "x"})])
