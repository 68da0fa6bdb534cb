"""Optional parts: the LLMInferenceService and LocalModel stacks left out, with nothing left dangling.

For every locked version and every combination of parts left out, the render passes validation
(render validates), every reference of the result finds its target, and nothing of the part is
left. The objects a release loses are checked against upstream's own selection: the
kustomization ``config/overlays/standalone/kserve`` is (the base plus the components wanted),
built by ``kubectl kustomize`` from the v0.18.1 and v0.20.0 source tarballs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from installer import params, versions
from installer.components import parts
from installer.components.parts import LLMISVC, LOCALMODEL, Part, removal
from installer.errors import BuildError
from installer.lock import Lock
from installer.objects import Obj, ObjectKey
from installer.params import ParameterOptions
from installer.references import dangling, references
from installer.render import Rendered, render
from installer.sources import FetchSettings
from tests.conftest import LOCKED_VERSIONS
from tests.kustomize_ref import differences, kubectl_kustomize
from tests.source_tarballs import selection, wanted_components

COMBINATIONS = [(LLMISVC,), (LOCALMODEL,), (LLMISVC, LOCALMODEL)]
IDS = ["llmisvc", "localmodel", "both"]
# The first release that ships each part (kserve-install-surfaces.md, table a).
SINCE = {"llmisvc": (0, 16), "localmodel": (0, 14)}


def _render(
    lock: Lock, upstream: Path, version: str, off: tuple[Part, ...], mode: str = "RawDeployment"
) -> Rendered:
    sets = [f"{p.parameter}=false" for p in off]
    p = params.resolve(lock, ParameterOptions(set_args=sets, version=version, mode=mode))
    return render(p, lock, FetchSettings(mirror=str(upstream)))


def _keys(objs: list[Obj]) -> set[ObjectKey]:
    return {ObjectKey.of(o) for o in objs}


@pytest.fixture(scope="module")
def full(lock: Lock, upstream: Path, session_env: Path) -> dict[str, Rendered]:
    return {v: _render(lock, upstream, v, ()) for v in LOCKED_VERSIONS}


@pytest.mark.parametrize("version", LOCKED_VERSIONS)
def test_full_renders_have_no_dangling_references(version: str, full: dict[str, Rendered]) -> None:
    objs = full[version].objects
    refs = references(objs)
    assert len(refs) >= 40, "the webhooks, bindings, workloads and certificates all refer to something"
    assert dangling(objs) == []


@pytest.mark.parametrize("off", COMBINATIONS, ids=IDS)
@pytest.mark.parametrize("version", LOCKED_VERSIONS)
def test_parts_left_out_leave_nothing_dangling(
    version: str,
    off: tuple[Part, ...],
    full: dict[str, Rendered],
    lock: Lock,
    upstream: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        rendered = _render(lock, upstream, version, off)
    objs = rendered.objects
    assert [r.describe() for r in dangling(objs)] == []
    before = full[version].objects
    gone = _keys(before) - _keys(objs)
    assert _keys(objs) <= _keys(before), "leaving out only removes"
    for part in off:
        assert not [o for o in objs if part.is_seed(ObjectKey.of(o), o)], f"{part.name} is left out"
        shipped = versions.minor_of(version) >= SINCE[part.name]
        absent = f"{part.parameter}=false: KServe {version} has no {part.title}; nothing to leave out"
        assert (absent in caplog.text) is not shipped
    if all(versions.minor_of(version) < SINCE[p.name] for p in off):
        assert differences(objs, before) == [], "a part a version does not have: a no-op"
    else:
        assert gone, "something was left out"
        kinds = {k.kind for k in gone}
        assert {"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= kinds
    # Objects that stay are the same objects: nothing else is rewritten.
    kept = {ObjectKey.of(o): o for o in before}
    assert [k for k, o in ((ObjectKey.of(o), o) for o in objs) if kept[k] != o] == []


@pytest.mark.parametrize("version", ["v0.16.0", "v0.20.0"])
def test_modelmesh_mode_leaves_parts_out_too(
    version: str, lock: Lock, upstream: Path, session_env: Path
) -> None:
    rendered = _render(lock, upstream, version, (LLMISVC, LOCALMODEL), mode="ModelMesh")
    assert dangling(rendered.objects) == []
    names = {o["metadata"]["name"] for o in rendered.objects}
    assert "modelmesh-controller" in names and "kserve-controller-manager" in names
    assert not any("llminferenceservice" in n or "localmodel" in n for n in names)


# ---------------------------------------------------------------------------- against upstream


@pytest.mark.kubectl
@pytest.mark.parametrize("off", COMBINATIONS, ids=IDS)
@pytest.mark.parametrize("version", ["v0.18.1", "v0.20.0"])
def test_release_loses_exactly_what_upstreams_selection_leaves_out(
    version: str, off: tuple[Part, ...], source_trees: dict[str, Path], full: dict[str, Rendered]
) -> None:
    """``kserve.yaml`` is ``overlays/all`` built; with parts off it must be the selection built."""
    built = full[version].built
    release = [o for o in built.all_objects() if o.get("kind") != "Namespace"]
    all_dir = selection(source_trees[version], ["kserve", "llmisvc", "localmodel"])
    everything = _keys(kubectl_kustomize(all_dir))
    from_main = [o for o in release if ObjectKey.of(o) in everything]
    ours = [o for o in from_main if ObjectKey.of(o) not in removal(release, off).removed]
    theirs = [
        _retagged(o, version)
        for o in kubectl_kustomize(
            selection(source_trees[version], wanted_components([p.component for p in off]))
        )
        if o.get("kind") != "Namespace"
    ]
    assert differences(ours, theirs) == []


def _retagged(obj: Obj, version: str) -> Any:
    from installer.sourcebuild import retag

    return retag([obj], version)[0]


# ---------------------------------------------------------------------------- the rules themselves


def _binding(name: str, *accounts: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "shared"},
        "subjects": [{"kind": "ServiceAccount", "name": a, "namespace": "kserve"} for a in accounts],
    }


def _deployment(name: str, account: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "kserve"},
        "spec": {
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"serviceAccountName": account}}
        },
    }


def _account(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "kserve"}}


def test_a_binding_that_also_grants_a_kept_account_stops_the_removal() -> None:
    objs = [
        _deployment("llmisvc-controller-manager", "llm"),
        _deployment("kserve-controller-manager", "main"),
        _account("llm"),
        _account("main"),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "shared"}},
        _binding("both", "llm", "main"),
    ]
    with pytest.raises(
        BuildError, match=re.escape("ClusterRoleBinding/both would go, but its subjects[1] also grants")
    ):
        removal(objs, (LLMISVC,))
    objs[-1] = _binding("own", "llm")
    gone = {k.name for k in removal(objs, (LLMISVC,)).removed}
    # Its account, its binding and the role only that binding used go with the controller.
    assert gone == {"llmisvc-controller-manager", "llm", "own", "shared"}
    objs.append(_binding("main-too", "main"))
    gone = {k.name for k in removal(objs, (LLMISVC,)).removed}
    assert gone == {"llmisvc-controller-manager", "llm", "own"}, "a role someone else binds stays"


def test_dangling_names_each_reference_without_a_target(full: dict[str, Rendered]) -> None:
    objs = full["v0.20.0"].objects
    ns = next(o for o in objs if o["kind"] == "Deployment")["metadata"]["namespace"]
    service = ObjectKey("", "Service", ns, "kserve-webhook-server-service")
    account = ObjectKey("", "ServiceAccount", ns, "kserve-controller-manager")
    issuer = ObjectKey("cert-manager.io", "Issuer", ns, "selfsigned-issuer")
    crd = ObjectKey(
        "apiextensions.k8s.io", "CustomResourceDefinition", "", "llminferenceserviceconfigs.serving.kserve.io"
    )
    for missing, expect, mention in (
        (
            service,
            "ValidatingWebhookConfiguration/servingruntime.serving.kserve.io webhooks[0].clientConfig.service",
            str(service),
        ),
        (account, f"Deployment/{ns}/kserve-controller-manager serviceAccountName", str(account)),
        (issuer, f"Certificate/{ns}/serving-cert spec.issuerRef", str(issuer)),
        (crd, f"LLMInferenceServiceConfig/{ns}/", "LLMInferenceServiceConfig"),
    ):
        found = [r.describe() for r in dangling([o for o in objs if ObjectKey.of(o) != missing])]
        assert any(d.startswith(expect) for d in found), (missing, found)
        assert all(mention in d or str(missing) in d for d in found), found


def test_left_out_reads_the_parameters(lock: Lock) -> None:
    p = params.resolve(lock, ParameterOptions(set_args=["kserve.localmodel.enabled=false"]))
    assert parts.left_out(p) == (LOCALMODEL,)
    assert parts.left_out(params.resolve(lock, ParameterOptions())) == ()
