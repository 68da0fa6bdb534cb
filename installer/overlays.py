"""Overlays: pick ``overlays/<mode>/`` and render its Jinja2 templates with the parameters.

An overlay is a real kustomization (``kubectl kustomize`` builds it once templated). Files ending
in ``.j2`` are templates; the ``.j2`` is dropped from the rendered name. Besides the
kustomization, a mode declares the ``inferenceservice-config`` keys it sets in
``inferenceservice-config.yaml`` (read by :mod:`installer.configure`, not by kustomize).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import locations, versions, yamlio
from installer.errors import BuildError
from installer.params import Parameters

CONFIG_FILE = "inferenceservice-config.yaml"
MODE_DIRS = {"RawDeployment": "rawdeployment", "Serverless": "serverless", "ModelMesh": "modelmesh"}


@dataclass(frozen=True)
class Overlay:
    """A rendered overlay: its kustomization files, and the ConfigMap keys the mode sets."""

    name: str
    files: dict[str, str]
    config: dict[str, dict[str, Any]]


@functools.cache
def _environment() -> Any:
    import jinja2  # imported here: only renders need it

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def template_context(params: Parameters) -> dict[str, Any]:
    ctx = params.nested(masked=False)
    ctx.update(
        namespace=params.namespace,
        version=params.version,
        minor=list(versions.minor_of(params.version)),
        mode=params.mode,
        canonical_mode=params.canonical_mode,
    )
    return ctx


def render_overlay(params: Parameters, root: Path | None = None) -> Overlay:
    """Render the overlay of the requested mode into memory."""
    name = MODE_DIRS[params.canonical_mode]
    base = (root or locations.overlays_dir()) / name
    if not base.is_dir():
        raise BuildError(f"no overlay for {params.canonical_mode} at {base}")
    env = _environment()
    ctx = template_context(params)
    files: dict[str, str] = {}
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = path.relative_to(base).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel.endswith(".j2"):
            rel = rel[:-3]
            try:
                text = env.from_string(text).render(**ctx)
            except Exception as exc:
                raise BuildError(f"overlay {name}/{rel}.j2: {' '.join(str(exc).split())}") from None
        files[rel] = text
    config_text = files.pop(CONFIG_FILE, "")
    config = yamlio.load(config_text) if config_text else {}
    if not isinstance(config, dict):
        raise BuildError(f"overlay {name}/{CONFIG_FILE}: must map ConfigMap keys to settings")
    return Overlay(name, files, config or {})
