"""hubctl support: the component manifest and the hooks hubctl's executables run."""

from __future__ import annotations

import os

import click

from installer.cli_options import Context, pass_context


@click.group("hubctl")
def hubctl_group() -> None:
    """hubctl component support."""


@hubctl_group.command("component")
def hubctl_component_cmd() -> None:
    """Print hub-component.yaml, generated from the parameter schema."""
    from installer.hubctl import component_yaml

    click.echo(component_yaml(), nl=False)


@click.command("hook")
@click.argument("verb", type=click.Choice(["pre-deploy", "deploy", "undeploy", "post-undeploy"]))
@pass_context
def hook_cmd(ctx: Context, verb: str) -> None:
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
