"""Property tests: any parameter mapping or values file either renders, or fails with exit 2 and
one error line, never with a traceback or an internal error.

Run in-process through the real entry point (installer.cli.main), 500 examples each.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from installer import params
from installer.cli import main
from tests.conftest import LOCKED_VERSIONS

EXAMPLES = int(os.environ.get("INSTALLER_HYPOTHESIS_EXAMPLES", "500"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Plausible values per key, so that a good share of examples is valid and really renders.
GOOD: dict[str, list[Any]] = {
    "kserve.namespace": ["kserve", "ml-serving", "a"],
    "kserve.version": [*LOCKED_VERSIONS, "v9.9.9"],
    "kserve.deploymentMode": ["RawDeployment", "Serverless", "Standard", "Knative", "ModelMesh"],
    "ingress.class": ["nginx", None, "traefik"],
    "ingress.protocol": ["http", "https"],
    "ingress.hosts": [["models.example.com"], ["a.example.com", "b.example.com"], []],
    "ingress.domainTemplate": ["{{ .Name }}.{{ .IngressDomain }}", None],
    "bucket.endpoint": ["http://minio.minio:9000", "s3.amazonaws.com", None],
    "bucket.region": ["eu-west-1", None],
    "images.registry": ["registry.local:5000/mirror", None],
    "modelNamespaces": [["models"], []],
    "images.tag": ["v1.2.3", None, "nightly"],
    "kserve.llmisvc.enabled": [True, False],
    "kserve.localmodel.enabled": [True, False],
}
KEYS = [
    k for k in params.leaves() if k not in ("kustomize.resources", "bucket.credentialsFile", "kserve.source")
]
# kustomize.resources and kserve.source would make valid examples download from elsewhere (or
# build a source tree, seconds each); bucket.credentialsFile points at files: all three have
# their own cases in test_bad_inputs.py.

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def parameter_mappings(draw: st.DrawFn) -> dict[str, Any]:
    unknown = st.text(min_size=1, max_size=12)
    keys = draw(st.lists(st.sampled_from(KEYS) | unknown, max_size=4, unique=True))
    out: dict[str, Any] = {}
    for key in keys:
        good = GOOD.get(key)
        # Mostly plausible values, so that a good share of the examples really renders.
        use_good = good is not None and draw(st.integers(0, 9)) < 8
        out[key] = draw(st.sampled_from(good)) if good is not None and use_good else draw(junk)
    return out


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def check(code: int, stdout: str, stderr: str) -> None:
    event(f"exit {code}")
    assert "Traceback" not in stderr
    assert "internal error" not in stderr, stderr
    if code == 0:
        assert stdout.startswith("---\n") and "kind: CustomResourceDefinition" in stdout
    else:
        assert code == 2, stderr
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and stderr.strip().splitlines()[-1] == errors[0], stderr


@pytest.fixture
def values_file(tmp_path: Path, session_env: Path, upstream: Path) -> Path:
    return tmp_path / "values.yaml"


@SETTINGS
@given(mapping=parameter_mappings())
def test_random_parameter_mappings(mapping: dict[str, Any], values_file: Path, upstream: Path) -> None:
    values_file.write_text(yaml.safe_dump(mapping))
    check(*run(["render", "--mirror", str(upstream), "-f", str(values_file)]))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_as_values_file(data: bytes, values_file: Path, upstream: Path) -> None:
    values_file.write_bytes(data)
    check(*run(["render", "--mirror", str(upstream), "--version", "v0.13.1", "-f", str(values_file)]))
