"""The parts an install is made of, and which ones each mode selects.

A mode is data: the overlay directory that composes it (``overlays/<dir>/``) and the components
it installs. Nothing outside a component asks which mode was chosen; the pipeline asks the
selected components (:class:`~installer.components.base.Component`) in this table's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from installer.components.base import Component
from installer.components.kserve import KServe
from installer.components.model_namespaces import ModelNamespaces
from installer.components.modelmesh import ModelMesh
from installer.parameters import Parameters

KSERVE: Final = KServe()
MODELMESH: Final = ModelMesh()
MODEL_NAMESPACES: Final = ModelNamespaces()


@dataclass(frozen=True)
class Mode:
    """``overlay``: the directory under ``overlays/``; ``components``: what it installs;
    ``annotations``: what an InferenceService carries to be served by this mode
    (``installer example``); ``no_effect``: parameters (a key, or a group ending in ``.``) that
    change nothing in this mode, with why, so that setting one is said rather than ignored;
    ``prerequisites``: what the cluster must already have, by the names of
    :data:`installer.cluster.prerequisites.CHECKS` (the cluster side owns how each is checked)."""

    overlay: str
    components: tuple[Component, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    no_effect: Mapping[str, str] = field(default_factory=dict)
    prerequisites: tuple[str, ...] = ("cert-manager",)


KNATIVE_ONLY = "only Serverless uses it (Knative's gateways)"
MODELMESH_ONLY = "only ModelMesh mode installs ModelMesh Serving"
MODES: Final = {
    "RawDeployment": Mode(
        "rawdeployment",
        (KSERVE, MODEL_NAMESPACES),
        no_effect={"knative.": KNATIVE_ONLY, "istio.": KNATIVE_ONLY, "modelmesh.": MODELMESH_ONLY},
    ),
    "Serverless": Mode(
        "serverless",
        (KSERVE, MODEL_NAMESPACES),
        no_effect={
            "ingress.class": "Knative serves Serverless InferenceServices; it only reaches those that "
            "ask for RawDeployment by annotation",
            "modelmesh.": MODELMESH_ONLY,
        },
        prerequisites=("cert-manager", "knative-istio"),
    ),
    "ModelMesh": Mode(
        "modelmesh",
        (KSERVE, MODEL_NAMESPACES, MODELMESH),
        {"serving.kserve.io/deploymentMode": "ModelMesh"},
        no_effect={"knative.": KNATIVE_ONLY, "istio.": KNATIVE_ONLY},
        prerequisites=("cert-manager", "modelmesh-etcd"),
    ),
}
BY_NAME: Final[dict[str, Component]] = {c.name: c for c in (KSERVE, MODELMESH)}


def mode_of(params: Parameters) -> Mode:
    return MODES[params.canonical_mode]


def unused_parameters(params: Parameters) -> list[str]:
    """Warnings for parameters set (not defaulted) that have no effect in the chosen mode."""
    out: list[str] = []
    for key, origin in params.origins.items():
        for prefix, why in mode_of(params).no_effect.items():
            if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
                out.append(f"{key} has no effect in {params.mode} mode: {why} (from {origin})")
    return out


def selected(params: Parameters) -> tuple[Component, ...]:
    """The components the parameters select, in the order the stages ask them."""
    return mode_of(params).components
