"""The differential test: `kubectl kustomize` of the emitted kustomization equals our render.

For every locked version x {RawDeployment, Serverless, ModelMesh} x {defaults, every parameter set}.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import params
from installer.lock import Lock
from installer.params import ParameterOptions
from installer.render import render
from installer.sinks.gitops import TreeOptions, write_gitops, write_kustomization
from installer.sources import FetchSettings
from tests.conftest import LOCKED_VERSIONS, full_parameters
from tests.kustomize_ref import differences, kubectl_kustomize

VERSIONS = LOCKED_VERSIONS
MODES = ["RawDeployment", "Serverless", "ModelMesh"]


def test_full_parameter_set_touches_every_parameter(lock: Lock) -> None:
    keys = {arg.split("=", 1)[0] for arg in full_parameters("v0.16.0", "Serverless", lock)}
    assert keys == set(params.leaves())


@pytest.mark.kubectl
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("parameters", ["defaults", "all"])
def test_emitted_kustomization_builds_to_the_render(
    version: str, mode: str, parameters: str, lock: Lock, upstream: Path, session_env: Path, tmp_path: Path
) -> None:
    sets = full_parameters(version, mode, lock) if parameters == "all" else []
    p = params.resolve(lock, ParameterOptions(set_args=sets, version=version, mode=mode))
    rendered = render(p, lock, FetchSettings(mirror=str(upstream)))
    write_kustomization(
        tmp_path / "k", rendered.tree, rendered.source_files(), force=False, include_secrets=True
    )
    assert differences(rendered.objects, kubectl_kustomize(tmp_path / "k")) == []
    # The GitOps tree builds to the same objects too.
    write_gitops(tmp_path / "g", rendered.phases, TreeOptions())
    assert differences(rendered.objects, kubectl_kustomize(tmp_path / "g")) == []


@pytest.mark.kubectl
def test_modelmesh_namespace_scope_builds_to_the_render(
    lock: Lock, upstream: Path, session_env: Path, tmp_path: Path
) -> None:
    """The overlay's NAMESPACE_SCOPE patch names its namespace: kustomize matches a patch without
    one only to objects without one (the installer's engine was more lenient)."""
    p = params.resolve(lock, ParameterOptions(set_args=["modelmesh.scope=namespace"], mode="ModelMesh"))
    rendered = render(p, lock, FetchSettings(mirror=str(upstream)))
    write_kustomization(
        tmp_path / "k", rendered.tree, rendered.source_files(), force=False, include_secrets=True
    )
    assert differences(rendered.objects, kubectl_kustomize(tmp_path / "k")) == []
