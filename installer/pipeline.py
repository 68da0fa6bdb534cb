"""The stages wired together: what the CLI and the hubctl hooks call.

Each function takes the resolved :class:`~installer.params.Parameters` and returns the output of
one more stage; nothing here reaches back into an earlier stage.
"""

from __future__ import annotations

from collections.abc import Callable

from installer import locations, prebuild, versions
from installer.lock import Lock
from installer.params import Parameters
from installer.sources import Cache, FetchedAsset, FetchSettings, assets_for, fetch_all


def fetch_sources(
    params: Parameters, lock: Lock, settings: FetchSettings, component: str = versions.KSERVE
) -> list[FetchedAsset]:
    """Fetch (or find in the cache) every asset of the requested version, verified."""
    resources = list(params["kustomize.resources"]) if component == versions.KSERVE else None
    version = params.version if component == versions.KSERVE else lock.default_version(component)
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
