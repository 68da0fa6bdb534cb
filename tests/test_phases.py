"""The phase table: rules by kind and group, a per-object override, one identity."""

from __future__ import annotations

import pytest

from installer.errors import BuildError
from installer.objects import ObjectKey, identity
from installer.phases import PHASE_ANNOTATION, PHASES, apply_order, phase_file, phase_of, phase_of_key


def obj(
    api: str, kind: str, name: str, ns: str = "", annotations: dict[str, str] | None = None
) -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if ns:
        meta["namespace"] = ns
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": api, "kind": kind, "metadata": meta}


@pytest.mark.parametrize(
    ("o", "phase"),
    [
        (obj("v1", "Namespace", "kserve"), "crds"),
        (obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "x.serving.kserve.io"), "crds"),
        (obj("rbac.authorization.k8s.io/v1", "ClusterRole", "r"), "cluster"),
        (obj("v1", "ConfigMap", "c", "kserve"), "namespaced"),
        (obj("cert-manager.io/v1", "Certificate", "c", "kserve"), "certificates"),
        (obj("apps/v1", "Deployment", "d", "kserve"), "workloads"),
        (obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "w"), "webhooks"),
        (obj("serving.kserve.io/v1alpha1", "ClusterServingRuntime", "r"), "custom-resources"),
    ],
)
def test_rules(o: dict[str, object], phase: str) -> None:
    assert phase_of(o, {}) == phase
    assert phase_of_key(identity(o)) == phase


def test_an_object_can_name_its_phase() -> None:
    job = obj("batch/v1", "Job", "smoke", "kserve", {PHASE_ANNOTATION: "custom-resources"})
    assert phase_of(job, {}) == "custom-resources"
    ordered = apply_order([job, obj("apps/v1", "Deployment", "d", "kserve")])
    assert [o["metadata"]["name"] for o in ordered["custom-resources"]] == ["smoke"]


def test_an_unknown_phase_names_the_object_and_the_phases() -> None:
    bad = obj("v1", "ConfigMap", "c", "kserve", {PHASE_ANNOTATION: "late"})
    with pytest.raises(BuildError, match=r"ConfigMap/kserve/c: annotation installer.kserve.io/phase: 'late'"):
        phase_of(bad, {})


def test_kind_rank_inside_a_phase() -> None:
    ordered = apply_order(
        [
            obj("v1", "Service", "a", "kserve"),
            obj("v1", "ConfigMap", "b", "kserve"),
            obj("v1", "ServiceAccount", "c", "kserve"),
        ]
    )
    assert [o["kind"] for o in ordered["namespaced"]] == ["ServiceAccount", "ConfigMap", "Service"]


def test_object_key_keeps_the_group_and_round_trips() -> None:
    a = ObjectKey.of(obj("serving.kserve.io/v1beta1", "InferenceService", "x", "ns"))
    b = ObjectKey.of(obj("other.example.com/v1", "InferenceService", "x", "ns"))
    assert a != b and len({a, b}) == 2
    assert a.id == "InferenceService.serving.kserve.io/ns/x" and ObjectKey.parse(a.id) == a
    core = ObjectKey.of(obj("v1", "Namespace", "kserve"))
    assert core.id == "Namespace//kserve" and ObjectKey.parse(core.id) == core
    assert str(a) == "InferenceService/ns/x" and str(core) == "Namespace/kserve"


def test_phase_files_follow_the_table() -> None:
    assert [phase_file(p) for p in PHASES][:2] == ["00-crds.yaml", "01-cluster.yaml"]
