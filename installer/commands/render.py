"""Commands that render, or prepare a render: params, fetch, build, render, example."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from installer import operations, params, versions, yamlio
from installer.app import FetchOptions, prepare, render_install, resolve_parameters
from installer.cli_options import Context, fetch_options, parameter_options, pass_context
from installer.params import ParameterOptions
from installer.phases import PHASES
from installer.render import Validation
from installer.validate import KUBERNETES_VERSION, parse_kubernetes_version


@click.command("params")
@parameter_options
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@pass_context
def params_cmd(ctx: Context, output: str, params_opts: ParameterOptions) -> None:
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


@click.command("fetch")
@parameter_options
@fetch_options
@click.option(
    "--component", type=click.Choice(list(versions.COMPONENTS)), default=versions.KSERVE, show_default=True
)
@pass_context
def fetch_cmd(ctx: Context, component: str, params_opts: ParameterOptions, fetch_opts: FetchOptions) -> None:
    """Download the pinned assets of a version into the cache, verifying every sha256."""
    install = prepare(ctx.lock, params_opts, fetch_opts)
    for f in operations.fetch_component(install, component):
        click.echo(f"{f.sha256}  {f.path}  {f.asset.url}")


@click.command("build")
@parameter_options
@fetch_options
@click.option("--force", is_flag=True, help="Rebuild even when the pre-built tree is up to date.")
@pass_context
def build_cmd(ctx: Context, force: bool, params_opts: ParameterOptions, fetch_opts: FetchOptions) -> None:
    """Fetch and pre-build a KServe version into kserve-built/<version>/."""
    built = operations.prebuild_kserve(prepare(ctx.lock, params_opts, fetch_opts), force)
    counts = ", ".join(f"{p} {len(built.phases.get(p, []))}" for p in PHASES)
    click.echo(
        f"{built.component} {built.version}: {len(built.all_objects())} objects ({counts}) in {built.path}"
    )


@click.command("render")
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
    "--fleet",
    "fleet_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Render every cluster of a fleet file into one GitOps tree at --output-dir (docs/gitops.md).",
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
    ctx: Context,
    params_opts: ParameterOptions,
    fetch_opts: FetchOptions,
    **options: Any,
) -> None:
    """Render the install: YAML (or -o json) on stdout in apply order, or a GitOps tree with --output-dir."""
    fleet_path = options.pop("fleet_path")
    sink = operations.RenderSink(**options)
    if fleet_path is not None:
        operations.render_fleet(ctx.lock, fleet_path, params_opts, fetch_opts, sink)
        return
    sink.check()
    install = prepare(ctx.lock, params_opts, fetch_opts)
    sink.write(render_install(install, Validation(sink.kube_version, dump_ahead=sink.writes_yaml)))


@click.command("example")
@click.option("--namespace", "example_namespace", required=True, help="Namespace of the InferenceService.")
@parameter_options
@fetch_options
@pass_context
def example_cmd(
    ctx: Context, example_namespace: str, params_opts: ParameterOptions, fetch_opts: FetchOptions
) -> None:
    """Print an sklearn iris InferenceService for this install, validated against its CRD."""
    obj = operations.example(prepare(ctx.lock, params_opts, fetch_opts), example_namespace)
    click.echo(yamlio.dump(obj), nl=False)
