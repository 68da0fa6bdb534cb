"""What a component is: one part of an install, with everything the pipeline needs from it.

KServe and ModelMesh Serving (and later optional parts) each bring their own sources, pre-build,
files for the render's kustomization tree, and configure contributions. The pipeline never asks
"which mode is this?": it asks each selected component (:mod:`installer.components`) in turn.

The stages call a component in this order:

1. parameter stage: :meth:`Component.check` (cross-parameter rules, before anything is fetched)
   and :meth:`Component.credentials` (which credentials to read, once);
2. sources, then pre-build: :meth:`Component.fetch` for every component, then
   :meth:`Component.prebuild` for every component;
3. overlay: :meth:`Component.tree` (files under the render tree that the mode overlay includes);
4. configure: :meth:`Component.configure`, given the overlay's objects, returns a
   :class:`Contribution` to the generated root layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from installer.credentials import Credentials
from installer.kustomize import FileValue
from installer.lock import Asset, Lock
from installer.objects import Obj, ObjectKey
from installer.parameters import Parameters
from installer.sources import FetchedAsset, FetchSettings
from installer.yamltext import TextIndex

JsonPatch = list[dict[str, Any]]


@dataclass
class Contribution:
    """What a component adds to the generated root kustomization.

    ``ops``: JSON 6902 operations per object (the configure stage writes one patch per object,
    every contributor's operations together); ``deletes``: objects to remove; ``merges``:
    strategic-merge patches ``(target object, patch)``, applied after the JSON patches;
    ``resources``: new objects by file name; ``secrets``: objects that carry credentials (one
    file, left out of output unless asked for); ``config_changes``: what was set, for messages.
    """

    ops: dict[ObjectKey, JsonPatch] = field(default_factory=dict)
    deletes: list[ObjectKey] = field(default_factory=list)
    merges: list[tuple[Obj, Obj]] = field(default_factory=list)
    resources: list[tuple[str, list[Obj]]] = field(default_factory=list)
    secrets: list[Obj] = field(default_factory=list)
    config_changes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildContext:
    """What a pre-build may use: where to fetch from, and work to do while it waits."""

    lock: Lock
    settings: FetchSettings
    force: bool = False
    while_waiting: Callable[[], object] | None = None


@dataclass(frozen=True)
class ConfigureContext:
    """What a component's configure step sees besides the objects."""

    params: Parameters
    credentials: Credentials
    builds: Mapping[str, Any]
    # Namespaces components create or label themselves: nobody else renders a Namespace for them.
    owned_namespaces: frozenset[str]
    # The inferenceservice-config keys the mode's overlay sets (its inferenceservice-config.yaml).
    mode_settings: Mapping[str, Any]


class Component(Protocol):
    """One part of an install (see the module docstring for when each method runs)."""

    name: str

    def check(self, params: Parameters) -> None:
        """Refuse parameter combinations that cannot work (ParameterError), before any fetch."""

    def credentials(self, params: Parameters) -> frozenset[str]:
        """Which credentials this component needs: ``s3``, ``etcd`` (read once, by the caller)."""

    def namespaces(self, params: Parameters) -> frozenset[str]:
        """Namespaces the component creates or labels itself."""

    def assets(self, params: Parameters, lock: Lock, allow_unpinned: bool) -> list[Asset]:
        """The upstream assets to fetch, verified against the lock."""

    def fetch(self, params: Parameters, ctx: BuildContext) -> list[FetchedAsset]:
        """The verified assets in the cache (downloaded when missing)."""

    def prebuild(self, params: Parameters, fetched: list[FetchedAsset], ctx: BuildContext) -> Any:
        """Pre-build (a no-op when up to date); the result is passed back to the methods below."""

    def tree(self, params: Parameters, build: Any) -> dict[str, FileValue]:
        """Files this component puts into the render's kustomization tree."""

    def text_index(self, build: Any, index: TextIndex) -> None:
        """Register the original texts of pre-built values (for the YAML writer)."""

    def source_files(self, build: Any) -> dict[str, Path]:
        """Tree files that exist on disk as the pre-build wrote them (copied, not re-dumped, when
        the evaluated kustomization is written out)."""

    def configure(self, objs: list[Obj], ctx: ConfigureContext) -> Contribution:
        """Root-layer patches and objects for the overlay's output ``objs``."""
