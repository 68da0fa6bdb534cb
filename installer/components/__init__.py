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
    (``installer example``)."""

    overlay: str
    components: tuple[Component, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)


MODES: Final = {
    "RawDeployment": Mode("rawdeployment", (KSERVE, MODEL_NAMESPACES)),
    "Serverless": Mode("serverless", (KSERVE, MODEL_NAMESPACES)),
    "ModelMesh": Mode(
        "modelmesh",
        (KSERVE, MODEL_NAMESPACES, MODELMESH),
        {"serving.kserve.io/deploymentMode": "ModelMesh"},
    ),
}
BY_NAME: Final[dict[str, Component]] = {c.name: c for c in (KSERVE, MODELMESH)}


def mode_of(params: Parameters) -> Mode:
    return MODES[params.canonical_mode]


def selected(params: Parameters) -> tuple[Component, ...]:
    """The components the parameters select, in the order the stages ask them."""
    return mode_of(params).components
