"""The fleet's kustomize targets and overlay rewrites, on small inputs (no render)."""

from __future__ import annotations

import pytest

from installer.errors import BuildError
from installer.objects import ObjectKey
from installer.sinks.engines import (
    ClusterIndex,
    Engines,
    FluxSettings,
    Repository,
    _git_ref,
    covering_targets,
    flux_kustomizations,
)
from installer.sinks.fleet import relocate

CM = ObjectKey("", "ConfigMap", "kserve", "cfg")
CM2 = ObjectKey("", "ConfigMap", "kserve", "other")
CRD = ObjectKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "a.b.c")
SVC = ObjectKey("", "Service", "kserve", "svc")
KN_SVC = ObjectKey("serving.knative.dev", "Service", "kserve", "svc")


def test_a_kind_wide_target_when_it_selects_nothing_else() -> None:
    assert covering_targets([CM, CM2, CRD], [CM, CM2, CRD, SVC]) == [
        {"group": "", "kind": "ConfigMap"},
        {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"},
    ]


def test_object_targets_when_the_kind_is_split() -> None:
    assert covering_targets([CM], [CM, CM2]) == [
        {"group": "", "kind": "ConfigMap", "name": "cfg", "namespace": "kserve"}
    ]


def test_core_group_selects_any_group_as_in_kustomize() -> None:
    """`group: ''` selects the kind in every group: a core Service and a Knative Service of the
    same name cannot be told apart by a target, and that is an error, not a wrong selection."""
    assert covering_targets([KN_SVC], [SVC, KN_SVC]) == [{"group": "serving.knative.dev", "kind": "Service"}]
    with pytest.raises(BuildError, match=r"selects .* alone"):
        covering_targets([SVC], [SVC, KN_SVC])


def test_names_are_escaped_regular_expressions() -> None:
    dotted = ObjectKey("", "ConfigMap", "kserve", "a.b")
    lookalike = ObjectKey("", "ConfigMap", "kserve", "axb")
    assert covering_targets([dotted], [dotted, lookalike])[0]["name"] == "a\\.b"


def test_git_refs_for_flux() -> None:
    assert _git_ref("main") == {"branch": "main"}
    assert _git_ref("refs/tags/v1.2.0") == {"name": "refs/tags/v1.2.0"}
    assert _git_ref("0123456789abcdef0123456789abcdef01234567") == {
        "commit": "0123456789abcdef0123456789abcdef01234567"
    }


def test_flux_remote_clusters_read_their_kubeconfig_secret() -> None:
    index = ClusterIndex("eu", "prod-eu-1", ((CRD, "crds"), (CM, "namespaced")))
    engines = Engines(
        Repository("https://git.example.com/f.git", path="fleet"), flux=FluxSettings(kube_config_secrets=True)
    )
    crds, main = flux_kustomizations(index, engines, ["crds", "main"])
    assert crds["spec"]["kubeConfig"] == {"secretRef": {"name": "prod-eu-1-kubeconfig"}}
    assert main["spec"]["path"] == "./fleet/flux/eu/main" and "healthChecks" not in main["spec"]


OVERLAY = """\
# A comment that must survive.
resources:
- ../upstream   # not a plain line: rewritten by dumping again
- local
namespace: ml
"""


def test_relocate_keeps_comments_and_falls_back_to_a_dump() -> None:
    def moved(ref: str) -> str | None:
        return "base/v0.20.0" if ref == "upstream" else None

    plain = OVERLAY.replace("   # not a plain line: rewritten by dumping again", "")
    out = relocate(plain, "overlay/kustomization.yaml", moved, "clusters/dev")
    assert out == plain.replace("- ../upstream", "- ../../../base/v0.20.0")
    dumped = relocate(OVERLAY, "overlay/kustomization.yaml", moved, "clusters/dev")
    assert "# A comment" not in dumped and "- ../../../base/v0.20.0\n- local\n" in dumped
