"""The one entry every command and hubctl hook goes through: options -> an :class:`Install` -> a render.

:func:`prepare` is the whole parameter stage: parameters merged and validated, every
cross-parameter rule of the selected components checked, credentials read once, the mirror
checked. Nothing is fetched or written before it returns, so bad input always ends with exit 2
and no side effects. :func:`render_install` then runs the rest of the pipeline.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from installer import credentials as credentials_module
from installer import params as params_module
from installer.components import mode_of, selected, unused_parameters
from installer.components.base import BuildContext, Component
from installer.components.model_namespaces import own_credential_files
from installer.credentials import Credentials
from installer.lock import Lock
from installer.overlays import require_overlay
from installer.parameters import Parameters
from installer.params import ParameterOptions
from installer.render import Rendered, Validation, render_selected
from installer.sources import FetchSettings, check_mirror

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchOptions:
    """How to reach upstream assets."""

    mirror: str | None = None
    read_timeout: float = 60.0
    retries: int = 3

    def settings(self, allow_unpinned: bool) -> FetchSettings:
        check_mirror(self.mirror)
        return FetchSettings(
            mirror=self.mirror or None,
            connect_timeout=min(10.0, self.read_timeout),
            read_timeout=self.read_timeout,
            retries=self.retries,
            allow_unpinned=allow_unpinned,
        )


@dataclass(frozen=True)
class Install:
    """Everything the parameter stage decided: what to install, from where, with which secrets."""

    params: Parameters
    parts: tuple[Component, ...]
    credentials: Credentials
    lock: Lock
    settings: FetchSettings


def resolve_parameters(
    lock: Lock,
    options: ParameterOptions,
    env: Mapping[str, str],
    more_checks: Callable[[Parameters], None] = lambda _: None,
) -> Parameters:
    """Merged, validated parameters whose every component accepts them (exit 2 otherwise);
    ``more_checks`` run with them, before the set is remembered as valid."""

    def checks(resolved: Parameters) -> None:
        _check_parameters(resolved)
        more_checks(resolved)

    resolved = params_module.resolve(lock, options, env, checks)
    for warning in unused_parameters(resolved):
        log.warning("%s", warning)
    return resolved


def _check_parameters(resolved: Parameters) -> None:
    """What the mode and its components refuse, before anything is fetched or written."""
    require_overlay(resolved, mode_of(resolved).overlay)
    for part in selected(resolved):
        part.check(resolved)


def read_credentials(
    resolved: Parameters, parts: tuple[Component, ...], env: Mapping[str, str] | None = None
) -> Credentials:
    """The credentials the selected components need, and no others."""
    needs = frozenset(n for p in parts for n in p.credentials(resolved))
    return credentials_module.load(
        needs,
        resolved["bucket.credentialsFile"],
        resolved["modelmesh.etcd.credentialsFile"],
        own_credential_files(resolved),
        env,
    )


def prepare(
    lock: Lock,
    options: ParameterOptions,
    fetch: FetchOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> Install:
    """The parameter stage: nothing is fetched or written here."""
    environ = os.environ if env is None else env
    found: list[Credentials] = []
    settings = (fetch or FetchOptions()).settings(options.allow_unpinned)
    resolved = resolve_parameters(
        lock, options, environ, lambda p: found.append(read_credentials(p, selected(p), environ))
    )
    return Install(resolved, selected(resolved), found[0], lock, settings)


def render_install(install: Install, validation: Validation | None = None) -> Rendered:
    """Fetch, pre-build, overlay, configure and validate: the objects by phase."""
    checks = validation or Validation()
    ctx = BuildContext(install.lock, install.settings, while_waiting=checks.warm_up())
    return render_selected(install.params, install.parts, install.credentials, ctx, checks)
