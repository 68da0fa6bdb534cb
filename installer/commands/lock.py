"""``installer lock``: read and extend the lock file (kserve-built/sources.lock.yaml).

``lock add`` pins a release's assets (``--version``) or a KServe source tarball (``--source``);
``lock list`` prints what is pinned and how each download is verified.
"""

from __future__ import annotations

import json
from typing import Any

import click

from installer import locations, versions
from installer.app import FetchOptions
from installer.cli_options import Context, fetch_options, pass_context
from installer.errors import InstallerError, ParameterError, UsageError
from installer.lock import Lock, Source, load_lock, save_lock
from installer.sources import Cache, FetchSettings


@click.group("lock")
def lock_group() -> None:
    """Read and extend the lock file (kserve-built/sources.lock.yaml)."""


@lock_group.command("add")
@click.option("--version", "version", default=None, help="Release tag to pin, e.g. v0.16.0.")
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
@click.option(
    "--source",
    "source_url",
    default=None,
    metavar="URL",
    help="Pin a KServe source tarball instead of a release (GitHub archive of a tag, a commit or a "
    "fork's ref); --version then names the KServe version it is (default: the URL's release tag).",
)
@click.option("--name", "source_name", default=None, help="With --source: the name kserve.source uses.")
@click.option(
    "--entry-point",
    "entry_points",
    multiple=True,
    metavar="DIR",
    help="With --source: a directory of its tree to build, in order (repeatable; default: "
    + ", ".join(versions.SOURCE_ENTRY_POINTS)
    + ").",
)
@fetch_options
@pass_context
def lock_add_cmd(ctx: Context, fetch_opts: FetchOptions, **options: Any) -> None:
    """Download a release's assets, or a source tarball, and record their sha256 in the lock."""
    settings = fetch_opts.settings(allow_unpinned=False)
    if options["source_url"] is not None:
        source = _pin_source(ctx, settings, Cache(locations.cache_dir()), options)
        click.echo(f"{source.sha256}  {source.url}  ({source.name}, KServe {source.version})")
        return
    from installer.pin import PinRequest, pin_version

    for flag, key in (("--name", "source_name"), ("--entry-point", "entry_points")):
        if options[key]:
            raise UsageError(f"{flag} goes with --source")
    if options["version"] is None:
        raise UsageError("lock add needs --version (a release) or --source (a source tarball)")
    request = PinRequest(
        options["component"], options["version"], options["rebuilt_note"], options["rebuilt_assets"]
    )
    if not versions.is_tag(request.version):
        raise ParameterError("--version", f"{request.version!r} is not a release tag like v0.16.0")
    lock = _lock_or_new(ctx)
    pinned = pin_version(lock, request, settings, Cache(locations.cache_dir()))
    save_lock(lock, ctx.lock_path)
    for a in pinned:
        click.echo(f"{a.sha256}  {a.url}")


def _pin_source(ctx: Context, settings: FetchSettings, cache: Cache, options: dict[str, Any]) -> Source:
    """``lock add --source``: every flag checked before the download, then the lock saved."""
    from installer.pin import SourceRequest, pin_source, source_of

    if options["component"] != versions.KSERVE or options["rebuilt_assets"]:
        raise UsageError("--source pins a KServe source tarball: no --component or --rebuilt-asset")
    request = SourceRequest(
        options["source_url"],
        options["source_name"],
        options["version"],
        tuple(options["entry_points"]),
        options["rebuilt_note"],
    )
    source_of(request)
    lock = _lock_or_new(ctx)
    source = pin_source(lock, request, settings, cache)
    save_lock(lock, ctx.lock_path)
    return source


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
    """List the pinned versions and assets, and how a download of each is verified; then the
    pinned sources (name, KServe version, sha256, URL).

    CHECK is `sha256` (the bytes must match) or `sha256 or objects` (a rebuilt stand-in: the bytes,
    or the objects they hold, must match).
    """
    rows = [
        {"component": comp, "version": v, **a.to_dict(), "check": a.checks}
        for comp in sorted(ctx.lock.components)
        for v in ctx.lock.versions(comp)
        for a in ctx.lock.assets(comp, v)
    ]
    sources = [
        {
            "component": versions.KSERVE,
            "version": s.version,
            "name": s.asset.name,
            "source": s.name,
            **s.to_dict(),
            "check": s.asset.checks,
        }
        for s in (ctx.lock.source(n) for n in ctx.lock.source_names())
        if s is not None
    ]
    if output == "json":
        click.echo(json.dumps(rows + sources, indent=2))
        return
    for r in rows:
        mark = " (rebuilt)" if r.get("rebuilt") else ""
        click.echo(f"{r['component']} {r['version']} {r['name']} {r['sha256']} [{r['check']}]{mark}")
    for r in sources:
        mark = " (rebuilt)" if r.get("rebuilt") else ""
        where = f"{r['component']} {r['version']} source {r['source']}"
        click.echo(f"{where} {r['sha256']} [{r['check']}]{mark} {r['url']}")
