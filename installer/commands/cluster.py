"""Commands that talk to a cluster: deploy, check, diff, undeploy, status."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from installer import operations
from installer.app import FetchOptions, prepare, resolve_parameters
from installer.cli_options import (
    ClusterOptions,
    Context,
    F,
    cluster_options,
    fetch_options,
    parameter_options,
    pass_context,
    quiet_progress,
)
from installer.errors import EXIT_USAGE, InstallerError
from installer.params import ParameterOptions


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


def timeout_option(help_text: str) -> Callable[[F], F]:
    """kubectl's ``--timeout`` in seconds, as deploy and undeploy wait; only what it bounds differs."""
    return click.option(
        "--timeout",
        "wait_timeout",
        type=click.FloatRange(min=1),
        default=300.0,
        show_default=True,
        help=help_text,
    )


@click.command("deploy")
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
    "--force-crd-upgrade",
    is_flag=True,
    help="Apply CRD changes the upgrade-safety check refuses (a stored version dropped: objects are "
    "rewritten in the new storage version first).",
)
@click.option(
    "--wait/--no-wait", default=False, show_default=True, help="Wait for the controllers to be ready."
)
@timeout_option("Seconds for each wait (CRDs, webhooks, rollout).")
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
    ctx: Context,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    cluster_opts: ClusterOptions,
    **options: Any,
) -> None:
    """Render, then server-side apply in phases; prune what the previous deploy had and this one does not."""
    install = prepare(ctx.lock, cluster_opts.parameters(params_opts), fetch_opts)
    request = operations.DeployRequest(**{**options, "quiet": quiet_progress(options["quiet"])})
    changes = operations.deploy_install(install, cluster_opts, request)
    click.echo(("dry run: " if request.dry_run else "") + changes.summary())


@click.command("check")
@parameter_options
@fetch_options
@cluster_options
@pass_context
def check_cmd(
    ctx: Context, params_opts: ParameterOptions, fetch_opts: FetchOptions, cluster_opts: ClusterOptions
) -> None:
    """Check the prerequisites of the chosen mode on the cluster; exit 1 listing what is missing."""
    resolved = resolve_parameters(ctx.lock, cluster_opts.parameters(params_opts), os.environ)
    operations.require_prerequisites(operations.connect(cluster_opts), resolved)
    click.echo(f"prerequisites of {resolved.mode}: all present")


@click.command("diff")
@parameter_options
@fetch_options
@cluster_options
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a unified diff per object (coloured on a terminal unless NO_COLOR); json: a list of "
    "{object, action, fields, diff}.",
)
@pass_context
def diff_cmd(
    ctx: Context,
    output: str,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    cluster_opts: ClusterOptions,
) -> None:
    """Show what deploy would create, change, replace or prune: per object a unified diff of the
    live object against the API server's dry-run result, Secret values masked.

    Exit codes as kubectl diff's: 0 nothing would change, 1 something would, 2 an error.
    """
    from installer.cluster.diffview import lines, use_colour

    try:
        install = prepare(ctx.lock, cluster_opts.parameters(params_opts), fetch_opts)
        changes = operations.diff_install(install, cluster_opts)
    except InstallerError as exc:
        exc.exit_code = max(exc.exit_code, EXIT_USAGE)  # 1 means "differs" here, as in kubectl diff
        raise
    if output == "json":
        click.echo(json.dumps([d.to_dict() for d in changes], indent=2))
    else:
        colour = use_colour(sys.stdout)
        for line in lines(changes, colour):
            click.echo(line, color=colour)
        click.echo(f"{len(changes)} objects would change")
    if changes:
        sys.exit(1)


@click.command("undeploy")
@parameter_options
@fetch_options
@cluster_options
@click.option(
    "--force", is_flag=True, help="Delete even while InferenceServices and other custom resources exist."
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until what was deleted is gone (CRDs and namespaces finalized).",
)
@timeout_option("Seconds to wait for the deleted objects to be gone.")
@dry_run_option
@click.option("--quiet", "-q", is_flag=True, help="No progress lines; only the summary line.")
@pass_context
def undeploy_cmd(
    ctx: Context,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    cluster_opts: ClusterOptions,
    **options: Any,
) -> None:
    """Delete what deploy recorded in its inventory (custom resources first, CRDs last) and wait
    until it is gone.

    Accepts deploy's parameter and fetch flags, so a script can pass the same ones; only the
    namespace (-n, or kserve.namespace) matters.
    """
    request = operations.UndeployRequest(**{**options, "quiet": quiet_progress(options["quiet"])})
    ns = resolve_parameters(ctx.lock, cluster_opts.parameters(params_opts), os.environ).namespace
    deleted = operations.undeploy_install(ns, cluster_opts, request)
    if request.dry_run:  # what a real undeploy would delete, one line each
        for ref in deleted:
            click.echo(f"delete {ref}")
    click.echo(("dry run: " if request.dry_run else "") + f"deleted {len(deleted)} objects")


@click.command("status")
@parameter_options
@fetch_options
@cluster_options
@click.option(
    "-o", "--output", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_context
def status_cmd(
    ctx: Context,
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
