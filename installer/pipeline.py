"""The stages wired together: what the CLI and the hubctl hooks call.

Each function takes the resolved :class:`~installer.params.Parameters` and returns the output of
one more stage; nothing here reaches back into an earlier stage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from installer import locations, modelmesh, prebuild, versions
from installer.errors import LockError
from installer.lock import Lock
from installer.params import Parameters
from installer.sources import Cache, FetchedAsset, FetchSettings, assets_for, fetch_all

log = logging.getLogger(__name__)


def modelmesh_version(lock: Lock) -> str:
    """The lock's ModelMesh Serving version. A rebuilt stand-in (the mirror's tarball, rebuilt from
    the tag) is used when nothing better is pinned, with a warning saying how to pin the real one."""
    try:
        return lock.default_version(versions.MODELMESH)
    except LockError:
        pinned = lock.versions(versions.MODELMESH)
        if not pinned:
            raise
        log.warning(
            "%s %s: the lock pins a tarball rebuilt from the tag, not the release asset; pin the real one "
            "with: installer lock add --component %s --version %s",
            versions.MODELMESH,
            pinned[-1],
            versions.MODELMESH,
            pinned[-1],
        )
        return pinned[-1]


def fetch_sources(
    params: Parameters, lock: Lock, settings: FetchSettings, component: str = versions.KSERVE
) -> list[FetchedAsset]:
    """Fetch (or find in the cache) every asset of the requested version, verified."""
    resources = list(params["kustomize.resources"]) if component == versions.KSERVE else None
    version = params.version if component == versions.KSERVE else modelmesh_version(lock)
    assets = assets_for(lock, component, version, resources, settings.allow_unpinned)
    return fetch_all(assets, settings, Cache(locations.cache_dir()))


def prebuilt(
    params: Parameters,
    lock: Lock,
    settings: FetchSettings,
    force: bool = False,
    while_waiting: Callable[[], object] | None = None,
) -> prebuild.Built:
    """Fetch and pre-build the requested KServe version (a no-op when already built)."""
    fetched = fetch_sources(params, lock, settings)
    return prebuild.build(
        versions.KSERVE,
        params.version,
        fetched,
        locations.build_dir(),
        force=force,
        while_waiting=while_waiting,
    )


def prebuilt_modelmesh(params: Parameters, lock: Lock, settings: FetchSettings) -> modelmesh.BuiltModelMesh:
    """Fetch and pre-build ModelMesh Serving (the lock's version) for ``modelmesh.namespace``."""
    version = modelmesh_version(lock)
    assets = assets_for(lock, versions.MODELMESH, version)
    fetched = fetch_all(assets, settings, Cache(locations.cache_dir()))
    return modelmesh.build(
        version,
        params["modelmesh.namespace"],
        fetched,
        locations.build_dir(),
    )
