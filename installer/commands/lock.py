"""``installer lock``: read and extend the lock file."""

from __future__ import annotations

import json
from typing import Any

import click

from installer import locations, versions
from installer.app import FetchOptions
from installer.cli_options import Context, fetch_options, pass_context
from installer.errors import InstallerError, ParameterError
from installer.lock import Lock, load_lock, save_lock


@click.group("lock")
def lock_group() -> None:
    """Read and extend the lock file (kserve-built/sources.lock.yaml)."""


@lock_group.command("add")
@click.option("--version", "version", required=True, help="Release tag to pin, e.g. v0.16.0.")
@click.option(
    "--component", type=click.Choice(list(versions.COMPONENTS)), default=versions.KSERVE, show_default=True
)
@click.option(
    "--rebuilt",
    "rebuilt_note",
    default=None,
    metavar="NOTE",
    help="Mark the assets as rebuilt stand-ins (their digest is not the real release's); YAML ones are "
    "pinned by their objects too.",
)
@click.option(
    "--rebuilt-asset",
    "rebuilt_assets",
    multiple=True,
    metavar="NAME",
    help="With --rebuilt: only this asset is rebuilt (repeatable; default: all of the version's).",
)
@fetch_options
@pass_context
def lock_add_cmd(ctx: Context, fetch_opts: FetchOptions, **options: Any) -> None:
    """Download a release's assets and record their sha256 in the lock."""
    from installer.pin import PinRequest, pin_version
    from installer.sources import Cache

    request = PinRequest(**options)
    if not versions.is_tag(request.version):
        raise ParameterError("--version", f"{request.version!r} is not a release tag like v0.16.0")
    settings = fetch_opts.settings(allow_unpinned=False)
    lock = _lock_or_new(ctx)
    pinned = pin_version(lock, request, settings, Cache(locations.cache_dir()))
    save_lock(lock, ctx.lock_path)
    for a in pinned:
        click.echo(f"{a.sha256}  {a.url}")


def _lock_or_new(ctx: Context) -> Lock:
    try:
        return load_lock(ctx.lock_path)
    except InstallerError:
        if ctx.lock_path.exists():
            raise
        return Lock()


@lock_group.command("list")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_context
def lock_list_cmd(ctx: Context, output: str) -> None:
    """List the pinned versions and assets, and how a download of each is verified.

    CHECK is `sha256` (the bytes must match) or `sha256 or objects` (a rebuilt stand-in: the bytes,
    or the objects they hold, must match).
    """
    rows = [
        {"component": comp, "version": v, **a.to_dict(), "check": a.checks}
        for comp in sorted(ctx.lock.components)
        for v in ctx.lock.versions(comp)
        for a in ctx.lock.assets(comp, v)
    ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        mark = " (rebuilt)" if r.get("rebuilt") else ""
        click.echo(f"{r['component']} {r['version']} {r['name']} {r['sha256']} [{r['check']}]{mark}")
