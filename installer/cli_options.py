"""Groups of click options that arrive in a command as one typed object each.

A command declares ``@parameter_options`` and receives ``params_opts: ParameterOptions``; no
command reads an option back by string key. The same groups serve every command, so a flag
means the same everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import click

from installer.app import FetchOptions
from installer.lock import Lock, load_lock
from installer.params import ParameterOptions

F = TypeVar("F", bound=Callable[..., Any])


class CommandContext:
    """What the group's options decide for every command: the lock file (read on first use)."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self._lock: Lock | None = None

    @property
    def lock(self) -> Lock:
        if self._lock is None:
            self._lock = load_lock(self.lock_path)
        return self._lock


def pass_context(func: F) -> F:
    """The command receives the group's :class:`CommandContext` as its first argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(click.get_current_context().find_object(CommandContext), **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class ClusterOptions:
    """Which cluster to talk to, and the install's namespace there (kubectl's flags)."""

    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str | None = None

    def parameters(self, options: ParameterOptions) -> ParameterOptions:
        """``-n NS`` is ``kserve.namespace=NS`` with a flag's precedence."""
        return replace(options, namespace=self.namespace) if self.namespace else options


def _stack(func: F, decorators: Sequence[Callable[[Any], Any]]) -> F:
    """Apply click options in the order they are listed (as if stacked above ``func``)."""
    for d in reversed(decorators):
        func = d(func)
    return func


def _grouped(
    func: F,
    decorators: Sequence[Callable[[Any], Any]],
    names: Sequence[str],
    make: Callable[..., Any],
    into: str,
) -> F:
    """Options ``names`` go into one object ``make(**values)``, passed as keyword ``into``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {n: kwargs.pop(n) for n in names}
        return func(*args, **{into: make(**values)}, **kwargs)

    return _stack(wrapper, decorators)  # type: ignore[return-value]


def parameter_options(func: F) -> F:
    """Options that feed :func:`installer.params.resolve`, shared by every command that renders."""
    decorators = [
        click.option(
            "-f",
            "--values",
            "values_files",
            multiple=True,
            type=click.Path(path_type=Path),
            help="Values file (YAML mapping of parameters); repeatable, later files win.",
        ),
        click.option(
            "--set",
            "set_args",
            multiple=True,
            metavar="KEY=VALUE",
            help="Set one parameter (e.g. kserve.namespace=ml); repeatable; lists as a,b.",
        ),
        click.option("--mode", default=None, help="Deployment mode (kserve.deploymentMode)."),
        click.option("--version", "version", default=None, help="KServe release tag (kserve.version)."),
        click.option(
            "--from-env",
            is_flag=True,
            help="Read hubctl's environment variables (implied when HUB_COMPONENT is set).",
        ),
        click.option(
            "--allow-unpinned",
            is_flag=True,
            help="Fetch assets that the lock does not pin, printing their digests.",
        ),
    ]

    def make(values_files: tuple[Path, ...], set_args: tuple[str, ...], **rest: Any) -> ParameterOptions:
        return ParameterOptions(tuple(values_files), tuple(set_args), **rest)

    names = ("values_files", "set_args", "mode", "version", "from_env", "allow_unpinned")
    return _grouped(func, decorators, names, make, "params_opts")


def fetch_options(func: F) -> F:
    """Where upstream assets come from and how patiently."""
    decorators = [
        click.option(
            "--mirror",
            envvar="INSTALLER_MIRROR",
            default=None,
            help="Mirror base (directory or http(s) URL): https://HOST/PATH -> BASE/HOST/PATH.",
        ),
        click.option(
            "--fetch-timeout",
            "read_timeout",
            type=click.FloatRange(min=0.1),
            default=60.0,
            show_default=True,
            help="Seconds to wait for a download server to answer.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0, max=10),
            default=3,
            show_default=True,
            help="Retries on connection errors and HTTP 5xx.",
        ),
    ]
    return _grouped(func, decorators, ("mirror", "read_timeout", "retries"), FetchOptions, "fetch_opts")


def cluster_options(func: F) -> F:
    """kubectl's ``--kubeconfig``, ``--context`` and ``-n/--namespace``."""
    decorators = [
        click.option(
            "--kubeconfig",
            type=click.Path(path_type=Path),
            default=None,
            envvar="KUBECONFIG",
            help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).",
        ),
        click.option("--context", default=None, help="Kubeconfig context."),
        click.option(
            "-n", "--namespace", default=None, help="Namespace of the install (kserve.namespace, as a flag)."
        ),
    ]
    return _grouped(func, decorators, ("kubeconfig", "context", "namespace"), ClusterOptions, "cluster_opts")
