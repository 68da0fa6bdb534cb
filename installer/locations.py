"""Where the installer finds its data and keeps its caches.

Run from a checkout (or an editable install) the repository's own ``kserve-built/`` and
``overlays/`` are used, so that a pre-build lands next to the lock it came from. A plain
``pip install .`` has no repository around it: the wheel carries the lock and overlays under
``installer/_bundled`` and pre-built trees go to the cache directory instead.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE_DIR.parent
_BUNDLED_ROOT = _PACKAGE_DIR / "_bundled"


def _from_source_tree() -> bool:
    return (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "kserve-built").is_dir()


def data_root() -> Path:
    """The directory holding ``kserve-built/sources.lock.yaml`` and ``overlays/``."""
    return _SOURCE_ROOT if _from_source_tree() else _BUNDLED_ROOT


def default_lock_path() -> Path:
    """The lock file: ``INSTALLER_LOCK`` if set, else the one of the checkout or the wheel."""
    override = os.environ.get("INSTALLER_LOCK")
    if override:
        return Path(override)
    return data_root() / "kserve-built" / "sources.lock.yaml"


def overlays_dir() -> Path:
    """Mode overlays: ``INSTALLER_OVERLAYS_DIR`` (for site or test overlays), else the shipped ones."""
    override = os.environ.get("INSTALLER_OVERLAYS_DIR")
    return Path(override) if override else data_root() / "overlays"


def cache_dir() -> Path:
    """Content-addressed download cache: ``INSTALLER_CACHE_DIR``, else the XDG cache dir."""
    override = os.environ.get("INSTALLER_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "kserve-installer"


def build_dir() -> Path:
    """Root of pre-built trees: ``INSTALLER_BUILD_DIR``, the checkout's ``kserve-built/``, or the cache."""
    override = os.environ.get("INSTALLER_BUILD_DIR")
    if override:
        return Path(override)
    if _from_source_tree():
        return _SOURCE_ROOT / "kserve-built"
    return cache_dir() / "kserve-built"
