"""Overlays: render the Jinja2 templates of a mode's ``overlays/<dir>/`` with the parameters.

An overlay is a real kustomization (``kubectl kustomize`` builds it once templated). Files ending
in ``.j2`` are templates; the ``.j2`` is dropped from the rendered name. Besides the
kustomization, a mode declares the ``inferenceservice-config`` keys it sets in
``inferenceservice-config.yaml`` (read by :mod:`installer.configure`, not by kustomize).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import jsonio, locations, yamlio
from installer.errors import BuildError, ParameterError
from installer.parameters import Parameters

CONFIG_FILE = "inferenceservice-config.yaml"


@dataclass(frozen=True)
class Overlay:
    """A rendered overlay: its kustomization files, and the ConfigMap keys the mode sets."""

    name: str
    files: dict[str, str]
    config: dict[str, dict[str, Any]]


@functools.cache
def _environment(base: Path) -> Any:
    import jinja2  # imported here: only renders need it

    # Jinja2's bytecode cache skips compiling the templates again on every render.
    cache = locations.cache_dir() / "jinja2"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        bytecode: Any = jinja2.FileSystemBytecodeCache(str(cache))
    except OSError:
        bytecode = None
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(base)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # The templates write YAML, not HTML: escaping would corrupt values (tojson quotes them).
        autoescape=False,  # noqa: S701
        bytecode_cache=bytecode,
    )


def template_context(params: Parameters) -> dict[str, Any]:
    ctx = params.nested(masked=False)
    ctx.update(
        namespace=params.namespace,
        version=params.version,
        minor=list(params.minor),
        mode=params.mode,
        canonical_mode=params.canonical_mode,
    )
    return ctx


def require_overlay(params: Parameters, name: str, root: Path | None = None) -> None:
    """Refuse (exit 2, before anything is fetched) a mode this installation has no overlay for."""
    if not ((root or locations.overlays_dir()) / name).is_dir():
        raise ParameterError(
            "kserve.deploymentMode",
            f"{params.mode} is not available: this installation has no overlays/{name}",
        )


def render_overlay(params: Parameters, name: str, root: Path | None = None) -> Overlay:
    """Render the mode's overlay ``overlays/<name>/`` into memory.

    The rendered files are remembered under the digest of the templates and the parameters, so
    an unchanged render does not even import Jinja2.
    """
    base = (root or locations.overlays_dir()) / name
    if not base.is_dir():
        raise BuildError(f"no overlay for {params.canonical_mode} at {base}")
    ctx = template_context(params)
    sources = {
        p.relative_to(base).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }
    memo = locations.cache_dir() / "overlays" / f"{jsonio.digest([sources, ctx])}.json"
    try:
        files: dict[str, str] = jsonio.loads(memo.read_bytes())
        _touch(memo)
    except (OSError, ValueError):
        files = _render_files(name, base, sources, ctx)
        _save(memo, files)
        _prune(memo.parent)
    config_text = files.get(CONFIG_FILE, "")
    config = (yamlio.load(config_text) if config_text else None) or {}
    if not isinstance(config, dict):
        raise BuildError(f"overlay {name}/{CONFIG_FILE}: must map ConfigMap keys to settings")
    return Overlay(name, {k: v for k, v in files.items() if k != CONFIG_FILE}, config or {})


def _render_files(name: str, base: Path, sources: dict[str, str], ctx: dict[str, Any]) -> dict[str, str]:
    env = _environment(base)
    files: dict[str, str] = {}
    for rel, text in sources.items():
        if rel.endswith(".j2"):
            try:
                text = env.get_template(rel).render(**ctx)
            except Exception as exc:
                raise BuildError(f"overlay {name}/{rel}: {' '.join(str(exc).split())}") from None
            rel = rel[:-3]
        files[rel] = text
    return files


MAX_MEMOS = 256


def _touch(path: Path) -> None:
    """Mark a memo as used, so that pruning drops the least recently used ones."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _prune(directory: Path) -> None:
    """Keep the ``MAX_MEMOS`` most recently used memos (one per parameter set ever rendered
    would grow without end). A memo another process removes meanwhile is simply rendered again."""
    try:
        memos = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in memos[:-MAX_MEMOS]:
        with contextlib.suppress(OSError):
            old.unlink()


def _save(path: Path, files: dict[str, str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".o-")
        with os.fdopen(fd, "wb") as f:
            f.write(jsonio.dumps(files))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time
