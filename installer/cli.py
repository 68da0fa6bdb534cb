"""The ``installer`` command line: parse, call, print, exit.

This module is the group, its global flags and :func:`main`; the commands live in
:mod:`installer.commands` (render, cluster, hub, lock). Commands are thin: options arrive as typed
objects (:mod:`installer.cli_options`), every command that renders goes through :mod:`installer.app`
(parameters, components, credentials, then the pipeline), the cluster commands through
:mod:`installer.operations`, and hubctl's hooks through :mod:`installer.hubctl`. Every error
ends in :func:`main` as one line on stderr and an exit code: 2 for bad usage or parameters, 1 for
failures outside (network, digest, cluster); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

import click

from installer import __version__, locations
from installer.cli_options import Context
from installer.errors import EXIT_RUNTIME, EXIT_USAGE, InstallerError, UsageError
from installer.lock import load_lock

log = logging.getLogger("installer")


def _setup_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_version(ctx) if value else None,
    help="Show the installer's version and the KServe versions it pins, and exit.",
)
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Lock file (default: kserve-built/sources.lock.yaml, or INSTALLER_LOCK).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug messages on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(click_ctx: click.Context, lock_path: Path | None, quiet: bool, verbose: bool, debug: bool) -> None:
    """Install KServe on Kubernetes from pinned upstream release manifests.

    Parameters use hubctl's dotted names (kserve.namespace, ingress.hosts, ...); see
    `installer params --help`. Precedence: defaults < -f values < hubctl env < --set < flags.
    """
    _setup_logging(quiet, verbose)
    click_ctx.obj = Context(lock_path or locations.default_lock_path())


def _print_version(click_ctx: click.Context) -> None:
    """``installer --version``: the tool, and what it can install (the lock's versions)."""
    click.echo(f"installer {__version__}")
    try:
        lock = load_lock(locations.default_lock_path())
    except InstallerError as exc:
        click.echo(f"pinned versions unknown: {exc.message}")
    else:
        for component in sorted(lock.components):
            pinned = ", ".join(lock.versions(component))
            try:
                default = f" (default {lock.default_version(component)})"
            except InstallerError:
                default = ""
            click.echo(f"{component}: {pinned}{default}")
    click_ctx.exit()


def _register() -> None:
    """The subcommands, from their modules (one module per kind of work)."""
    from installer.commands import cluster, hub, lock, render

    for command in (
        render.params_cmd,
        render.fetch_cmd,
        render.build_cmd,
        render.render_cmd,
        render.example_cmd,
        cluster.deploy_cmd,
        cluster.check_cmd,
        cluster.diff_cmd,
        cluster.undeploy_cmd,
        cluster.status_cmd,
        hub.hubctl_group,
        hub.hook_cmd,
        lock.lock_group,
    ):
        cli.add_command(command)


_register()


def _fail(message: str, code: int, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


GLOBAL_FLAGS = frozenset({"--debug", "-q", "--quiet", "-v", "--verbose"})


def hoist_global_flags(args: list[str]) -> list[str]:
    """``installer render --debug`` means ``installer --debug render``: the global flags are
    accepted anywhere, as kubectl's are. They take no value, so moving them is safe (a command's
    own ``-q`` and the global one mean the same)."""
    flags = [a for a in args if a in GLOBAL_FLAGS]
    rest = [a for a in args if a not in GLOBAL_FLAGS]
    if "--" in args:  # nothing after "--" is an option
        cut = args.index("--")
        flags = [a for a in args[:cut] if a in GLOBAL_FLAGS]
        rest = [a for a in args[:cut] if a not in GLOBAL_FLAGS] + args[cut:]
    return flags + rest


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turn every error into one line and an exit code."""
    args = hoist_global_flags(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("INSTALLER_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="installer", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 130, False)
    except click.ClickException as exc:
        _fail(" ".join(exc.format_message().split()), EXIT_USAGE, debug)
    except InstallerError as exc:
        _fail(exc.message, exc.exit_code, debug)
    except KeyboardInterrupt:
        _fail("interrupted", 130, False)
    except Exception as exc:
        cause = " ".join(str(exc).split())
        _fail(
            f"internal error: {type(exc).__name__}: {cause} (rerun with --debug for the traceback)",
            EXIT_RUNTIME,
            debug,
        )
    sys.exit(0)


__all__ = ["UsageError", "cli", "main"]
