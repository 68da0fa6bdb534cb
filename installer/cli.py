"""The ``installer`` command line: parse, call, print, exit.

Commands are thin: options arrive as typed objects (:mod:`installer.cli_options`), every command
that renders goes through :mod:`installer.app` (parameters, components, credentials, then the
pipeline), the cluster commands through :mod:`installer.operations`, and hubctl's hooks through
:mod:`installer.hubctl`. Every error ends in :func:`main` as one line on stderr and an exit code:
2 for bad usage or parameters, 1 for failures outside (network, digest, cluster); ``--debug``
adds the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from installer import __version__, locations, operations, params, versions, yamlio
from installer.app import FetchOptions, prepare, render_install, resolve_parameters
from installer.cli_lock import lock_group
from installer.cli_options import (
    ClusterOptions,
    CommandContext,
    cluster_options,
    fetch_options,
    parameter_options,
    pass_context,
)
from installer.errors import EXIT_RUNTIME, EXIT_USAGE, InstallerError, UsageError
from installer.lock import load_lock
from installer.params import ParameterOptions
from installer.phases import PHASES
from installer.render import Validation
from installer.validate import KUBERNETES_VERSION, parse_kubernetes_version

F = TypeVar("F", bound=Callable[..., Any])
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
    click_ctx.obj = CommandContext(lock_path or locations.default_lock_path())


cli.add_command(lock_group)


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


def _quiet(command_flag: bool) -> bool:
    """A command's own --quiet, or the global one (`installer -q deploy`): either silences progress."""
    return command_flag or not log.isEnabledFor(logging.INFO)


@cli.command("params")
@parameter_options
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@pass_context
def params_cmd(ctx: CommandContext, output: str, params_opts: ParameterOptions) -> None:
    """Print the effective parameters (secrets masked).

    \b
    Parameters (dotted name, hubctl env variable, default):
    """
    nested = resolve_parameters(ctx.lock, params_opts, os.environ).nested(masked=True)
    if output == "json":
        click.echo(json.dumps(nested, indent=2))
    else:
        click.echo(yamlio.dump(nested), nl=False)


def _yaml_scalar(value: Any) -> str:
    """A default as YAML and hub-component.yaml write it: ``true``/``false``, lists as a,b."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _param_help() -> str:
    lines = []
    for key, leaf in params.leaves().items():
        env = f" [{leaf.env}]" if leaf.env else ""
        default = "" if leaf.default in (None, []) else f" (default {_yaml_scalar(leaf.default)})"
        lines.append(f"  {key}{env}: {leaf.brief}{default}")
    return "\n".join(lines)


params_cmd.help = (params_cmd.help or "") + "\n" + _param_help()


@cli.command("fetch")
@parameter_options
@fetch_options
@click.option(
    "--component", type=click.Choice(list(versions.COMPONENTS)), default=versions.KSERVE, show_default=True
)
@pass_context
def fetch_cmd(
    ctx: CommandContext, component: str, params_opts: ParameterOptions, fetch_opts: FetchOptions
) -> None:
    """Download the pinned assets of a version into the cache, verifying every sha256."""
    install = prepare(ctx.lock, params_opts, fetch_opts)
    for f in operations.fetch_component(install, component):
        click.echo(f"{f.sha256}  {f.path}  {f.asset.url}")


@cli.command("build")
@parameter_options
@fetch_options
@click.option("--force", is_flag=True, help="Rebuild even when the pre-built tree is up to date.")
@pass_context
def build_cmd(
    ctx: CommandContext, force: bool, params_opts: ParameterOptions, fetch_opts: FetchOptions
) -> None:
    """Fetch and pre-build a KServe version into kserve-built/<version>/."""
    built = operations.prebuild_kserve(prepare(ctx.lock, params_opts, fetch_opts), force)
    counts = ", ".join(f"{p} {len(built.phases.get(p, []))}" for p in PHASES)
    click.echo(
        f"{built.component} {built.version}: {len(built.all_objects())} objects ({counts}) in {built.path}"
    )


@cli.command("render")
@parameter_options
@fetch_options
@click.option(
    "-o",
    "--output",
    "output_format",
    default="yaml",
    show_default=True,
    metavar="yaml|json",
    help="Format on stdout: multi-document YAML, or JSON (one v1 List).",
)
@click.option(
    "--output-dir",
    "output_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a GitOps tree (one file per object, a kustomization per phase) instead of stdout "
    "(parents are created).",
)
@click.option("--force", is_flag=True, help="Replace a non-empty output directory.")
@click.option(
    "--gitops-sync-waves", is_flag=True, help="Annotate objects with Argo CD sync waves (phase order)."
)
@click.option("--include-secrets", is_flag=True, help="Keep Secrets that carry credentials in the output.")
@click.option(
    "--emit-kustomization",
    "emit_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the exact kustomization the engine evaluated (buildable by kubectl kustomize).",
)
@click.option(
    "--kube-version",
    default=KUBERNETES_VERSION,
    show_default=True,
    callback=lambda _ctx, _param, value: parse_kubernetes_version(value),
    help="Kubernetes version whose schemas validate core objects (any that kubernetes-validate ships).",
)
@pass_context
def render_cmd(
    ctx: CommandContext,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    **options: Any,
) -> None:
    """Render the install: YAML (or -o json) on stdout in apply order, or a GitOps tree with --output-dir."""
    sink = operations.RenderSink(**options)
    sink.check()
    install = prepare(ctx.lock, params_opts, fetch_opts)
    ahead = sink.output_format == "yaml" or sink.output_dir is not None
    sink.write(render_install(install, Validation(sink.kube_version, text_ahead=ahead)))


def _dry_run(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bool:
    """kubectl's ``--dry-run=server|none``; ``client`` has no meaning for a server-side apply."""
    if value in (None, "none"):
        return False
    if value == "server":
        return True
    if value == "client":
        raise click.BadParameter(
            "client has no meaning here: what the API server accepts (webhooks, schemas, conflicts) is "
            "decided by the server; use --dry-run=server"
        )
    raise click.BadParameter(f"{value!r} is not one of server, none")


def dry_run_option(func: F) -> F:
    option = click.option(
        "--dry-run",
        "dry_run",
        flag_value="server",
        default=None,
        is_flag=False,
        metavar="server|none",
        callback=_dry_run,
        help="Server-side dry run: the API server validates everything, nothing changes "
        "(--dry-run alone means server).",
    )
    return option(func)


@cli.command("deploy")
@parameter_options
@fetch_options
@cluster_options
@click.option(
    "--skip-checks",
    is_flag=True,
    envvar="INSTALLER_SKIP_CHECKS",
    help="Do not check prerequisites (cert-manager; Knative and Istio for Serverless).",
)
@dry_run_option
@click.option("--force-conflicts", is_flag=True, help="Take ownership of fields another field manager set.")
@click.option(
    "--wait/--no-wait", default=False, show_default=True, help="Wait for the controllers to be ready."
)
@click.option(
    "--timeout",
    "wait_timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds for each wait (CRDs, webhooks, rollout).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=32),
    default=4,
    show_default=True,
    help="Objects applied at once within a phase.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display; only the summary line.")
@pass_context
def deploy_cmd(
    ctx: CommandContext,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    cluster_opts: ClusterOptions,
    **options: Any,
) -> None:
    """Render, then server-side apply in phases; prune what the previous deploy had and this one does not."""
    install = prepare(ctx.lock, cluster_opts.parameters(params_opts), fetch_opts)
    request = operations.DeployRequest(**{**options, "quiet": _quiet(options["quiet"])})
    changes = operations.deploy_install(install, cluster_opts, request)
    click.echo(("dry run: " if request.dry_run else "") + changes.summary())


@cli.command("check")
@parameter_options
@fetch_options
@cluster_options
@pass_context
def check_cmd(
    ctx: CommandContext, params_opts: ParameterOptions, fetch_opts: FetchOptions, cluster_opts: ClusterOptions
) -> None:
    """Check the prerequisites of the chosen mode on the cluster; exit 1 listing what is missing."""
    resolved = resolve_parameters(ctx.lock, cluster_opts.parameters(params_opts), os.environ)
    operations.require_prerequisites(operations.connect(cluster_opts), resolved)
    click.echo(f"prerequisites of {resolved.mode}: all present")


@cli.command("example")
@click.option("--namespace", "example_namespace", required=True, help="Namespace of the InferenceService.")
@parameter_options
@fetch_options
@pass_context
def example_cmd(
    ctx: CommandContext, example_namespace: str, params_opts: ParameterOptions, fetch_opts: FetchOptions
) -> None:
    """Print an sklearn iris InferenceService for this install, validated against its CRD."""
    obj = operations.example(prepare(ctx.lock, params_opts, fetch_opts), example_namespace)
    click.echo(yamlio.dump(obj), nl=False)


@cli.group("hubctl")
def hubctl_group() -> None:
    """hubctl component support."""


@hubctl_group.command("component")
def hubctl_component_cmd() -> None:
    """Print hub-component.yaml, generated from the parameter schema."""
    from installer.hubctl import component_yaml

    click.echo(component_yaml(), nl=False)


@cli.command("hook")
@click.argument("verb", type=click.Choice(["pre-deploy", "deploy", "undeploy", "post-undeploy"]))
@pass_context
def hook_cmd(ctx: CommandContext, verb: str) -> None:
    """Run as hubctl runs the component: parameters from its environment variables only.

    \b
    pre-deploy     validate parameters, fetch and pre-build, render, check prerequisites
    deploy         deploy, then print the Outputs: block
    undeploy       delete what deploy recorded (INSTALLER_FORCE=true to delete with models present)
    post-undeploy  verify nothing of ours remains
    Environment: INSTALLER_MIRROR, INSTALLER_SKIP_CHECKS=true, INSTALLER_TIMEOUT (seconds for each
    wait, 300), KUBECONFIG, HUB_COMPONENT_DIR.
    """
    from installer.hubctl import run_hook

    click.echo(run_hook(verb, ctx.lock, os.environ), nl=False)


@cli.command("diff")
@parameter_options
@fetch_options
@cluster_options
@pass_context
def diff_cmd(
    ctx: CommandContext, params_opts: ParameterOptions, fetch_opts: FetchOptions, cluster_opts: ClusterOptions
) -> None:
    """Show what deploy would create, change (field by field) or prune.

    Exit codes as kubectl diff's: 0 nothing would change, 1 something would, 2 an error.
    """
    try:
        install = prepare(ctx.lock, cluster_opts.parameters(params_opts), fetch_opts)
        changes = operations.diff_install(install, cluster_opts)
    except InstallerError as exc:
        exc.exit_code = max(exc.exit_code, EXIT_USAGE)  # 1 means "differs" here, as in kubectl diff
        raise
    for d in changes:
        click.echo(f"{d.action:7s} {d.ref}" + (f": {', '.join(d.fields)}" if d.fields else ""))
    click.echo(f"{len(changes)} objects would change")
    if changes:
        sys.exit(1)


@cli.command("undeploy")
@parameter_options
@fetch_options
@cluster_options
@click.option(
    "--force", is_flag=True, help="Delete even while InferenceServices and other custom resources exist."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress lines; only the summary line.")
@pass_context
def undeploy_cmd(
    ctx: CommandContext,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    cluster_opts: ClusterOptions,
    **options: Any,
) -> None:
    """Delete what deploy recorded in its inventory: custom resources first, CRDs last.

    Accepts deploy's parameter and fetch flags, so a script can pass the same ones; only the
    namespace (-n, or kserve.namespace) matters.
    """
    request = operations.UndeployRequest(**options)
    ns = resolve_parameters(ctx.lock, cluster_opts.parameters(params_opts), os.environ).namespace
    deleted = operations.undeploy_install(ns, cluster_opts, request.force, _quiet(request.quiet))
    click.echo(f"deleted {len(deleted)} objects")


@cli.command("status")
@parameter_options
@fetch_options
@cluster_options
@click.option(
    "-o", "--output", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_context
def status_cmd(
    ctx: CommandContext,
    output: str,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    cluster_opts: ClusterOptions,
) -> None:
    """Installed version, mode, parameters digest, objects, and readiness of controllers and webhooks.

    Exit 0 when installed and ready, 1 otherwise.
    """
    from installer.cluster.status import status

    ns = resolve_parameters(ctx.lock, cluster_opts.parameters(params_opts), os.environ).namespace
    result = status(operations.connect(cluster_opts), ns)
    if output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo("\n".join(result.lines()))
    if not result.ready:
        sys.exit(1)


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
