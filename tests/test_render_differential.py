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
    assert keys == set(params.leaves()) - {"kserve.source"}


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
def test_namespace_scoped_modelmesh_builds_with_kubectl(
    lock: Lock, upstream: Path, session_env: Path, tmp_path: Path
) -> None:
    """modelmesh.scope=namespace adds a strategic-merge patch of ModelMesh's controller, which
    kustomize finds by its id, namespace included: the emitted tree must build as rendered."""
    p = params.resolve(
        lock,
        ParameterOptions(
            set_args=["modelmesh.scope=namespace", "modelmesh.namespace=mm-only"],
            version="v0.16.0",
            mode="ModelMesh",
        ),
    )
    rendered = render(p, lock, FetchSettings(mirror=str(upstream)))
    controller = next(
        o
        for o in rendered.objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "modelmesh-controller"
    )
    env = controller["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "NAMESPACE_SCOPE", "value": "true"} in env
    write_kustomization(
        tmp_path / "k", rendered.tree, rendered.source_files(), force=False, include_secrets=True
    )
    assert differences(rendered.objects, kubectl_kustomize(tmp_path / "k")) == []
