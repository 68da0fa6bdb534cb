"""The ``installer`` command line: parse, call the pipeline, print, exit.

Every error ends here as one line on stderr (``error: ...``) and an exit code: 2 for bad usage or
parameters, 1 for failures outside (network, digest, cluster). ``--debug`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from installer import __version__, locations, params, pipeline, versions, yamlio
from installer.errors import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    InstallerError,
    ParameterError,
    PrerequisiteError,
    UsageError,
)
from installer.lock import Lock, load_lock, save_lock
from installer.overlays import require_overlay
from installer.phases import PHASES
from installer.pin import pin_version
from installer.render import credentials_for, render
from installer.sinks.gitops import write_gitops, write_kustomization
from installer.sinks.output import check_target
from installer.sinks.render import credential_secrets, to_yaml, without_secrets
from installer.sources import Cache, FetchSettings, check_mirror
from installer.validate import KUBERNETES_VERSION

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("installer")


class _Context:
    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self._lock: Lock | None = None

    @property
    def lock(self) -> Lock:
        if self._lock is None:
            self._lock = load_lock(self.lock_path)
        return self._lock


def _apply_decorators(func: F, decorators: Sequence[Callable[[Any], Any]]) -> F:
    """Apply a group of click options in the order they are listed (as if stacked above ``func``)."""
    for d in reversed(decorators):
        func = d(func)
    return func


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
    return _apply_decorators(func, decorators)


def fetch_options(func: F) -> F:
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
    return _apply_decorators(func, decorators)


def resolve_params(ctx: _Context, kw: dict[str, Any]) -> params.Parameters:
    use_env = bool(kw.get("from_env")) or "HUB_COMPONENT" in os.environ
    resolved = params.resolve(
        lock=ctx.lock,
        values_files=kw.get("values_files", ()),
        set_args=kw.get("set_args", ()),
        flags={
            "kserve.deploymentMode": ("--mode", kw.get("mode")),
            "kserve.version": ("--version", kw.get("version")),
        },
        env=os.environ,
        use_env=use_env,
        allow_unpinned=bool(kw.get("allow_unpinned")),
    )
    require_overlay(resolved)
    return resolved


def fetch_settings(kw: dict[str, Any]) -> FetchSettings:
    settings = FetchSettings(
        mirror=kw.get("mirror") or None,
        connect_timeout=min(10.0, kw.get("read_timeout", 60.0)),
        read_timeout=kw.get("read_timeout", 60.0),
        retries=kw.get("retries", 3),
        allow_unpinned=bool(kw.get("allow_unpinned")),
    )
    check_mirror(settings.mirror)
    return settings


def _setup_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", prog_name="installer", message="%(prog)s %(version)s")
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
    click_ctx.obj = _Context(lock_path or locations.default_lock_path())


def _quiet(command_flag: bool) -> bool:
    """A command's own --quiet, or the global one (`installer -q deploy`): either silences progress."""
    return command_flag or not log.isEnabledFor(logging.INFO)


def _pass(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(click.get_current_context().find_object(_Context), **kwargs)

    return wrapper  # type: ignore[return-value]


@cli.command("params")
@parameter_options
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@_pass
def params_cmd(ctx: _Context, output: str, **kw: Any) -> None:
    """Print the effective parameters (secrets masked).

    \b
    Parameters (dotted name, hubctl env variable, default):
    """
    resolved = resolve_params(ctx, kw)
    nested = resolved.nested(masked=True)
    if output == "json":
        click.echo(json.dumps(nested, indent=2))
    else:
        click.echo(yamlio.dump(nested), nl=False)


def _param_help() -> str:
    lines = []
    for key, leaf in params.leaves().items():
        env = f" [{leaf.env}]" if leaf.env else ""
        default = "" if leaf.default in (None, []) else f" (default {leaf.default})"
        lines.append(f"  {key}{env}: {leaf.brief}{default}")
    return "\n".join(lines)


params_cmd.help = (params_cmd.help or "") + "\n" + _param_help()


@cli.command("fetch")
@parameter_options
@fetch_options
@click.option(
    "--component", type=click.Choice(list(versions.COMPONENTS)), default=versions.KSERVE, show_default=True
)
@_pass
def fetch_cmd(ctx: _Context, component: str, **kw: Any) -> None:
    """Download the pinned assets of a version into the cache, verifying every sha256."""
    resolved = resolve_params(ctx, kw)
    settings = fetch_settings(kw)
    fetched = pipeline.fetch_sources(resolved, ctx.lock, settings, component)
    for f in fetched:
        click.echo(f"{f.sha256}  {f.path}  {f.asset.url}")


@cli.command("build")
@parameter_options
@fetch_options
@click.option("--force", is_flag=True, help="Rebuild even when the pre-built tree is up to date.")
@_pass
def build_cmd(ctx: _Context, force: bool, **kw: Any) -> None:
    """Fetch and pre-build a KServe version into kserve-built/<version>/."""
    resolved = resolve_params(ctx, kw)
    settings = fetch_settings(kw)
    built = pipeline.prebuilt(resolved, ctx.lock, settings, force=force)
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
    "output_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a GitOps tree (one file per object, a kustomization per phase) instead of stdout.",
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
    help="Kubernetes version whose schemas validate core objects.",
)
@_pass
def render_cmd(
    ctx: _Context,
    output_dir: Path | None,
    force: bool,
    gitops_sync_waves: bool,
    include_secrets: bool,
    emit_dir: Path | None,
    kube_version: str,
    **kw: Any,
) -> None:
    """Render the install: multi-document YAML on stdout in apply order, or a GitOps tree with -o."""
    for target, what in ((output_dir, "output directory"), (emit_dir, "kustomization directory")):
        if target is not None:
            check_target(target, force, what)
    if output_dir is not None and emit_dir is not None and output_dir.resolve() == emit_dir.resolve():
        raise UsageError("-o and --emit-kustomization must name different directories")
    resolved = resolve_params(ctx, kw)
    settings = fetch_settings(kw)
    credentials = credentials_for(resolved)  # checked before anything is fetched
    rendered = render(resolved, ctx.lock, settings, kubernetes_version=kube_version, credentials=credentials)
    phases = {p: without_secrets(objs, include_secrets) for p, objs in rendered.phases.items()}
    if emit_dir is not None:
        write_kustomization(emit_dir, rendered.tree, rendered.built, force, include_secrets)
    index = rendered.built.text_index()
    if output_dir is not None:
        omitted = [] if include_secrets else credential_secrets(rendered.objects)
        write_gitops(output_dir, phases, force, gitops_sync_waves, index, omitted)
        log.info("wrote %d objects to %s", sum(len(v) for v in phases.values()), output_dir)
    else:
        sys.stdout.write(to_yaml((o for p in PHASES for o in phases[p]), index))


def cluster_options(func: F) -> F:
    decorators = [
        click.option(
            "--kubeconfig",
            type=click.Path(path_type=Path),
            default=None,
            envvar="KUBECONFIG",
            help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).",
        ),
        click.option("--context", default=None, help="Kubeconfig context."),
    ]
    return _apply_decorators(func, decorators)


def _connect(kw: dict[str, Any]) -> Any:
    from installer.cluster.kube import connect

    kubeconfig = kw.get("kubeconfig")
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise UsageError(f"--kubeconfig {kubeconfig}: no such file")
    return connect(kubeconfig, kw.get("context"))


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
@click.option("--dry-run", is_flag=True, help="Server-side dry run: validate everything, change nothing.")
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
@_pass
def deploy_cmd(
    ctx: _Context,
    skip_checks: bool,
    dry_run: bool,
    force_conflicts: bool,
    force_crd_upgrade: bool,
    wait: bool,
    wait_timeout: float,
    concurrency: int,
    quiet: bool,
    **kw: Any,
) -> None:
    """Render, then server-side apply in phases; prune what the previous deploy had and this one does not."""
    resolved = resolve_params(ctx, kw)
    changes = run_deploy(
        ctx,
        resolved,
        kw,
        skip_checks,
        dry_run,
        force_conflicts,
        wait,
        wait_timeout,
        concurrency,
        quiet,
        force_crd_upgrade=force_crd_upgrade,
    )
    click.echo(("dry run: " if dry_run else "") + changes.summary())


def run_deploy(
    ctx: _Context,
    resolved: params.Parameters,
    kw: dict[str, Any],
    skip_checks: bool,
    dry_run: bool = False,
    force_conflicts: bool = False,
    wait: bool = False,
    wait_timeout: float = 300.0,
    concurrency: int = 4,
    quiet: bool = False,
    force_crd_upgrade: bool = False,
) -> Any:
    """Connect, check prerequisites, render, deploy: shared by `deploy` and the hubctl hook."""
    from installer.cluster.deploy import DeployOptions, deploy
    from installer.cluster.progress import for_terminal

    settings = fetch_settings(kw)
    credentials = credentials_for(resolved)
    cluster = _connect(kw)  # before rendering: a cluster that cannot be reached fails fast
    if not skip_checks:
        require_prerequisites(cluster, resolved)
    rendered = render(resolved, ctx.lock, settings, credentials=credentials)
    opts = DeployOptions(
        instance=resolved.namespace,
        version=resolved.version,
        mode=resolved.mode,
        params_digest=params_digest(resolved),
        dry_run=dry_run,
        force_conflicts=force_conflicts,
        force_crd_upgrade=force_crd_upgrade,
        wait=wait,
        timeout=wait_timeout,
        concurrency=concurrency,
    )
    with for_terminal(_quiet(quiet)) as progress:
        return deploy(cluster, rendered.phases, resolved.namespace, opts, progress)


def require_prerequisites(cluster: Any, resolved: params.Parameters) -> None:
    from installer.cluster.prerequisites import missing_prerequisites

    missing = missing_prerequisites(cluster, resolved)
    if missing:
        raise PrerequisiteError(f"{resolved.mode} needs: {'; '.join(missing)} (or pass --skip-checks)")


@cli.command("check")
@parameter_options
@cluster_options
@_pass
def check_cmd(ctx: _Context, **kw: Any) -> None:
    """Check the prerequisites of the chosen mode on the cluster; exit 1 listing what is missing."""
    resolved = resolve_params(ctx, kw)
    require_prerequisites(_connect(kw), resolved)
    click.echo(f"prerequisites of {resolved.mode}: all present")


@cli.command("example")
@click.option("--namespace", "example_namespace", required=True, help="Namespace of the InferenceService.")
@parameter_options
@fetch_options
@_pass
def example_cmd(ctx: _Context, example_namespace: str, **kw: Any) -> None:
    """Print an sklearn iris InferenceService for this install, validated against its CRD."""
    from installer.example import inference_service, validate_example

    resolved = resolve_params(ctx, kw)
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", example_namespace) or len(example_namespace) > 63:
        raise UsageError(f"--namespace {example_namespace!r} is not a DNS-1123 label")
    built = pipeline.prebuilt(resolved, ctx.lock, fetch_settings(kw))
    obj = inference_service(example_namespace, resolved)
    validate_example(obj, built.phases.get("crds") or [])
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
@_pass
def hook_cmd(ctx: _Context, verb: str) -> None:
    """Run as hubctl runs the component: parameters from its environment variables only.

    \b
    pre-deploy     validate parameters, fetch and pre-build, render, check prerequisites
    deploy         deploy, then print the Outputs: block
    undeploy       delete what deploy recorded (INSTALLER_FORCE=true to delete with models present)
    post-undeploy  verify nothing of ours remains
    Environment: INSTALLER_MIRROR, INSTALLER_SKIP_CHECKS=true, INSTALLER_TIMEOUT (seconds for each
    wait, 300), KUBECONFIG, HUB_COMPONENT_DIR.
    """
    from installer.hubctl import outputs_block

    kw: dict[str, Any] = {"from_env": True, "mirror": os.environ.get("INSTALLER_MIRROR") or None}
    resolved = resolve_params(ctx, kw)
    skip = os.environ.get("INSTALLER_SKIP_CHECKS", "").lower() in ("1", "true", "yes")
    if verb == "pre-deploy":
        settings = fetch_settings(kw)
        credentials = credentials_for(resolved)
        rendered = render(resolved, ctx.lock, settings, credentials=credentials)
        out_dir = Path(os.environ.get("HUB_COMPONENT_DIR") or ".") / ".installer"
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / "rendered.yaml"
        target.write_text(to_yaml(without_secrets(rendered.objects, False), rendered.built.text_index()))
        if not skip:
            require_prerequisites(_connect(kw), resolved)
        click.echo(f"pre-deploy: {len(rendered.objects)} objects rendered to {target}")
    elif verb == "deploy":
        timeout = float(os.environ.get("INSTALLER_TIMEOUT") or 300)
        changes = run_deploy(ctx, resolved, kw, skip_checks=skip, wait_timeout=timeout)
        click.echo(changes.summary())
        click.echo(outputs_block(resolved), nl=False)
    elif verb == "undeploy":
        from installer.cluster.deploy import undeploy

        force = os.environ.get("INSTALLER_FORCE", "").lower() in ("1", "true", "yes")
        click.echo(f"deleted {len(undeploy(_connect(kw), resolved.namespace, force=force))} objects")
    else:
        from installer.cluster.deploy import leftovers, wait_for

        cluster = _connect(kw)
        rendered = render(resolved, ctx.lock, fetch_settings(kw), credentials=credentials_for(resolved))
        timeout = float(os.environ.get("INSTALLER_TIMEOUT") or 300)
        # Deletion is asynchronous: a namespace terminates only once its contents are gone. What
        # is still there after the timeout is reported below with the rest.
        with contextlib.suppress(InstallerError):
            wait_for(
                "objects being deleted to go",
                lambda: not leftovers(cluster, rendered.objects)[1],
                timeout,
                1.0,
                time.sleep,
            )
        ours, terminating = leftovers(cluster, rendered.objects)
        left = ours + [f"{t} (still terminating)" for t in terminating]
        if left:
            raise PrerequisiteError(
                f"post-undeploy: {len(left)} objects of ours remain: {', '.join(left[:5])}"
            )
        click.echo("post-undeploy: nothing of ours remains")


@cli.command("diff")
@parameter_options
@fetch_options
@cluster_options
@_pass
def diff_cmd(ctx: _Context, **kw: Any) -> None:
    """Show what deploy would create, change (field by field) or prune. Exit 1 if anything would change."""
    from installer.cluster.deploy import diff

    resolved = resolve_params(ctx, kw)
    settings = fetch_settings(kw)
    cluster = _connect(kw)
    rendered = render(resolved, ctx.lock, settings)
    changes = diff(cluster, rendered.phases, resolved.namespace, resolved.namespace)
    for d in changes:
        click.echo(f"{d.action:7s} {d.ref}" + (f": {', '.join(d.fields)}" if d.fields else ""))
    click.echo(f"{len(changes)} objects would change")
    if changes:
        sys.exit(1)


@cli.command("undeploy")
@click.option("--namespace", "namespace", default=None, help="Install namespace (default: kserve.namespace).")
@parameter_options
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
@click.option(
    "--timeout",
    "wait_timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the deleted objects to be gone.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress lines; only the summary line.")
@_pass
def undeploy_cmd(
    ctx: _Context,
    namespace: str | None,
    force: bool,
    wait: bool,
    wait_timeout: float,
    quiet: bool,
    **kw: Any,
) -> None:
    """Delete what deploy recorded in its inventory (custom resources first, CRDs last) and wait
    until it is gone."""
    from installer.cluster.progress import for_terminal
    from installer.cluster.undeploy import UndeployWait, undeploy
    from installer.cluster.waits import Clock

    ns = namespace or resolve_params(ctx, kw).namespace
    waiting = UndeployWait(wait, Clock(timeout=wait_timeout, interval=1.0))
    with for_terminal(_quiet(quiet)) as progress:
        deleted = undeploy(_connect(kw), ns, force=force, progress=progress, wait=waiting)
    click.echo(f"deleted {len(deleted)} objects")


@cli.command("status")
@click.option("--namespace", "namespace", default=None, help="Install namespace (default: kserve.namespace).")
@parameter_options
@cluster_options
@click.option(
    "-o", "--output", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@_pass
def status_cmd(ctx: _Context, namespace: str | None, output: str, **kw: Any) -> None:
    """Installed version, mode, parameters digest, objects, and readiness of controllers and webhooks.

    Exit 0 when installed and ready, 1 otherwise.
    """
    from installer.cluster.status import status

    ns = namespace or resolve_params(ctx, kw).namespace
    result = status(_connect(kw), ns)
    if output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo("\n".join(result.lines()))
    if not result.ready:
        sys.exit(1)


def params_digest(resolved: params.Parameters) -> str:
    from installer import jsonio

    return jsonio.digest(resolved.nested(masked=False))[:16]


@cli.group("lock")
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
@_pass
def lock_add_cmd(
    ctx: _Context,
    version: str,
    component: str,
    rebuilt_note: str | None,
    rebuilt_assets: tuple[str, ...],
    **kw: Any,
) -> None:
    """Download a release's assets and record their sha256 in the lock."""
    if not versions.is_tag(version):
        raise ParameterError("--version", f"{version!r} is not a release tag like v0.16.0")
    settings = fetch_settings(kw)
    try:
        lock = load_lock(ctx.lock_path)
    except InstallerError:
        if ctx.lock_path.exists():
            raise
        lock = Lock()
    pinned = pin_version(
        lock, component, version, settings, Cache(locations.cache_dir()), rebuilt_note, rebuilt_assets
    )
    save_lock(lock, ctx.lock_path)
    for a in pinned:
        click.echo(f"{a.sha256}  {a.url}")


@lock_group.command("list")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_pass
def lock_list_cmd(ctx: _Context, output: str) -> None:
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


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turn every error into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("INSTALLER_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="installer", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(EXIT_USAGE)
    except InstallerError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        click.echo(
            f"error: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(rerun with --debug for the traceback)",
            err=True,
        )
        sys.exit(EXIT_RUNTIME)
    sys.exit(0)
