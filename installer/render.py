"""The render stage: the selected components' pre-built objects -> overlay -> configure -> validate.

The whole evaluation is one kustomization tree, so the exact input the engine built can be
written out (``--emit-kustomization``) and built again by ``kubectl kustomize`` to the same
objects::

    upstream/, modelmesh/, ...   each component's pre-built objects (:meth:`Component.tree`)
    overlay/                     overlays/<mode>/ after Jinja2: composes the components' files
    kustomization.yaml, ...      the root layer configure generates over ``overlay``
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import components, kustomize, locations
from installer.components.base import BuildContext, Component, ConfigureContext
from installer.configure import Configured, root_layer
from installer.credentials import Credentials
from installer.kustomize import FileTree
from installer.lock import Lock
from installer.objects import Obj
from installer.overlays import render_overlay
from installer.parameters import Parameters
from installer.phases import PHASES, apply_order
from installer.sources import FetchSettings
from installer.textahead import dumping_ahead
from installer.validate import KUBERNETES_VERSION, core_validator, validate_objects
from installer.yamltext import DumpCache, TextIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    """Objects in apply order, by phase, plus the kustomization tree that produced them."""

    phases: dict[str, list[Obj]]
    tree: FileTree
    builds: dict[str, Any]
    configured: Configured
    parts: tuple[Component, ...]
    index: TextIndex | None = None  # the writer's, when prepared during the render

    @property
    def objects(self) -> list[Obj]:
        return [o for p in PHASES for o in self.phases[p]]

    @property
    def built(self) -> Any:
        """KServe's pre-build (every mode installs KServe, or at least its CRDs)."""
        return self.builds[components.KSERVE.name]

    def text_index(self) -> TextIndex:
        """Original texts of pre-built values, for the YAML writer."""
        return self.index if self.index is not None else text_index(self.parts, self.builds)

    def source_files(self) -> dict[str, Path]:
        """Tree files that exist on disk as pre-built (copied when the tree is written out)."""
        return {k: v for c in self.parts for k, v in c.source_files(self.builds[c.name]).items()}


def text_index(parts: tuple[Component, ...], builds: dict[str, Any]) -> TextIndex:
    """Original texts of the pre-built values of ``parts``, and the cache of dumped ones."""
    index = TextIndex(DumpCache(locations.cache_dir() / "yaml-text"))
    for c in parts:
        c.text_index(builds[c.name], index)
    return index


@dataclass(frozen=True)
class Validation:
    """Validate the output against the schemas of this Kubernetes version (``enabled=False``: not).

    ``dump_ahead``: the caller will write the objects as YAML. While the engine runs and the
    objects are validated, a second process dumps what the writer will need (:mod:`.textahead`);
    without the validation there is too little to overlap with to be worth a process."""

    kubernetes_version: str = KUBERNETES_VERSION
    enabled: bool = True
    dump_ahead: bool = False

    def warm_up(self) -> Callable[[], object] | None:
        """Loading the core schemas: work to do while the pre-build waits for its parser. Not
        with ``dump_ahead``: the schemas then load beside the dump, which takes longer than the
        engine and the validation, while the parse is the first thing everything waits for."""
        if not self.enabled or self.dump_ahead:
            return None
        return lambda: core_validator(self.kubernetes_version)


def render_selected(
    params: Parameters,
    parts: tuple[Component, ...],
    credentials: Credentials,
    build: BuildContext,
    validation: Validation,
) -> Rendered:
    """Build ``parts`` with the mode's overlay, configure, order by phase and validate."""
    fetched = {c.name: c.fetch(params, build) for c in parts}
    builds = {c.name: c.prebuild(params, fetched[c.name], build) for c in parts}
    if not (validation.dump_ahead and validation.enabled):
        return _evaluate(params, parts, credentials, builds, validation)
    index = text_index(parts, builds)
    with dumping_ahead(index):
        rendered = _evaluate(params, parts, credentials, builds, validation)
        # While the dump processes finish: what the writer would work out before reading their
        # dumps back.
        index.prepare(rendered.objects)
    return dataclasses.replace(rendered, index=index)


def _evaluate(
    params: Parameters,
    parts: tuple[Component, ...],
    credentials: Credentials,
    builds: dict[str, Any],
    validation: Validation,
) -> Rendered:
    """The pre-built ``builds`` through the overlay and the root layer, by phase, validated."""
    tree = FileTree({k: v for c in parts for k, v in c.tree(params, builds[c.name]).items()})
    overlay = render_overlay(params, components.mode_of(params).overlay)
    tree.files.update({f"overlay/{k}": v for k, v in overlay.files.items()})
    overlay_objs = kustomize.build(tree, "overlay")
    owned = frozenset(ns for c in parts for ns in c.namespaces(params))
    ctx = ConfigureContext(params, credentials, builds, owned, overlay.config)
    contributions = [c.configure(overlay_objs, ctx) for c in parts]
    configured = root_layer(overlay_objs, contributions, params["images.registry"])
    tree.files.update(configured.files)
    phases = apply_order(kustomize.build(tree, ".", built={"overlay": overlay_objs}))
    rendered = Rendered(phases, tree, builds, configured, parts)
    if validation.enabled:
        version = validation.kubernetes_version
        report = validate_objects(
            rendered.objects, locations.cache_dir() / "validated" / f"k8s-{version}.json", version
        )
        log.debug("validated %d objects (%d from cache)", report.checked, report.cached)
    return rendered


def render(
    params: Parameters,
    lock: Lock,
    settings: FetchSettings,
    validation: Validation | None = None,
    credentials: Credentials | None = None,
) -> Rendered:
    """Render the components ``params`` select (credentials read here unless given)."""
    from installer.app import read_credentials

    parts = components.selected(params)
    creds = credentials if credentials is not None else read_credentials(params, parts)
    checks = validation or Validation()
    ctx = BuildContext(lock, settings, while_waiting=checks.warm_up())
    return render_selected(params, parts, creds, ctx, checks)
