"""What the commands do, once their options are parsed: render to a sink, deploy, diff, undeploy.

Shared by the CLI and the hubctl hooks, so both behave the same; each function takes the
:class:`~installer.app.Install` the parameter stage produced (or an install namespace) and the
typed options of its command. The cluster modules are imported when a cluster command runs: a
render never loads the HTTP client.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from installer import jsonio
from installer.app import FetchOptions, Install, render_install
from installer.cli_options import ClusterOptions
from installer.components import BY_NAME, KSERVE
from installer.components.base import BuildContext
from installer.errors import PrerequisiteError, UsageError
from installer.lock import Lock
from installer.objects import Obj
from installer.parameters import Parameters
from installer.params import ParameterOptions
from installer.phases import PHASES
from installer.prebuild import Built
from installer.render import Rendered, Validation
from installer.sinks.gitops import TreeOptions, with_sync_wave, write_gitops, write_kustomization
from installer.sinks.output import check_target
from installer.sinks.render import credential_secrets, to_json_list, without_secrets, yaml_documents
from installer.sources import FetchedAsset
from installer.validate import KUBERNETES_VERSION

if TYPE_CHECKING:
    from installer.cluster.client import Cluster
    from installer.cluster.deploy import ChangeSet, ObjectDiff

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- sources


def fetch_component(install: Install, component: str) -> list[FetchedAsset]:
    """Fetch (or find in the cache) every asset of ``component``, verified."""

    return BY_NAME[component].fetch(install.params, BuildContext(install.lock, install.settings))


def prebuild_kserve(install: Install, force: bool) -> Built:
    ctx = BuildContext(install.lock, install.settings, force)
    built: Built = KSERVE.prebuild(install.params, KSERVE.fetch(install.params, ctx), ctx)
    return built


# ---------------------------------------------------------------------------- render sinks


OUTPUT_FORMATS = ("yaml", "json")


@dataclass(frozen=True)
class RenderSink:
    """Where ``installer render`` writes: stdout, a GitOps tree, the evaluated kustomization."""

    output_format: str = "yaml"
    output_dir: Path | None = None
    force: bool = False
    gitops_sync_waves: bool = False
    include_secrets: bool = False
    emit_dir: Path | None = None
    kube_version: str = KUBERNETES_VERSION

    def check(self) -> None:
        """Refuse bad targets before anything is fetched (exit 2)."""
        if self.output_format not in OUTPUT_FORMATS:
            raise UsageError(
                f"-o {self.output_format}: not an output format (yaml or json); "
                f"to write a GitOps tree use --output-dir {self.output_format}"
            )
        for target, what in (
            (self.output_dir, "output directory"),
            (self.emit_dir, "kustomization directory"),
        ):
            if target is not None:
                check_target(target, self.force, what)
        both = self.output_dir is not None and self.emit_dir is not None
        if both and Path(str(self.output_dir)).resolve() == Path(str(self.emit_dir)).resolve():
            raise UsageError("-o and --emit-kustomization must name different directories")

    @property
    def writes_yaml(self) -> bool:
        """Whether :meth:`write` dumps objects as YAML (stdout YAML or a GitOps tree)."""
        return self.output_format == "yaml" or self.output_dir is not None

    def write(self, rendered: Rendered) -> None:
        phases = {p: without_secrets(objs, self.include_secrets) for p, objs in rendered.phases.items()}
        if self.emit_dir is not None:
            write_kustomization(
                self.emit_dir, rendered.tree, rendered.source_files(), self.force, self.include_secrets
            )
        index = rendered.text_index()
        if self.output_dir is not None:
            omitted = [] if self.include_secrets else credential_secrets(rendered.objects)
            options = TreeOptions(self.force, self.gitops_sync_waves)
            write_gitops(self.output_dir, phases, options, index, omitted)
            log.debug("wrote %d objects to %s", sum(len(v) for v in phases.values()), self.output_dir)
            return
        objs = [
            with_sync_wave(o, wave) if self.gitops_sync_waves else o
            for wave, p in enumerate(PHASES)
            for o in phases[p]
        ]
        if self.output_format == "json":
            sys.stdout.write(to_json_list(objs))
        else:
            sys.stdout.writelines(yaml_documents(objs, index))


def check_fleet_usage(sink: RenderSink, params_opts: ParameterOptions) -> Path:
    """A fleet file is the whole input of ``render --fleet``, and its output is a tree: refuse the
    options that would say otherwise (exit 2, before anything is read or written)."""
    given = [
        flag
        for flag, value in (
            ("-f/--values", params_opts.values_files),
            ("--set", params_opts.set_args),
            ("--mode", params_opts.mode),
            ("--version", params_opts.version),
            ("--from-env", params_opts.from_env),
            ("--allow-unpinned", params_opts.allow_unpinned),
            ("--emit-kustomization", sink.emit_dir),
            ("--gitops-sync-waves", sink.gitops_sync_waves),
        )
        if value
    ]
    if given:
        raise UsageError(f"--fleet takes every parameter from the fleet file: drop {given[0]}")
    if sink.output_format != "yaml":
        raise UsageError(f"--fleet writes a tree, not -o {sink.output_format}: give it --output-dir DIR")
    if sink.output_dir is None:
        raise UsageError("--fleet writes a tree: give it --output-dir DIR")
    return sink.output_dir


def render_fleet(
    lock: Lock, fleet_path: Path, params_opts: ParameterOptions, fetch: FetchOptions, sink: RenderSink
) -> None:
    """``render --fleet``: check the options, the target, the file and every cluster's parameters
    (exit 2, nothing fetched or written), then render each cluster into one fleet tree, swapped
    into place at the end (:mod:`installer.sinks.fleet`)."""
    from installer.fleet import cluster_trees, load_fleet, prepare_fleet
    from installer.sinks.fleet import write_fleet

    out = check_fleet_usage(sink, params_opts)
    sink.check()
    fleet = load_fleet(fleet_path, lock)
    prepared = prepare_fleet(lock, fleet, fetch)
    trees = cluster_trees(prepared, Validation(sink.kube_version))
    write_fleet(out, trees, fleet.engines, sink.force, sink.include_secrets)
    log.info("wrote %d clusters to %s", len(prepared), out)


# ---------------------------------------------------------------------------- cluster


def connect(opts: ClusterOptions) -> Cluster:
    """A checked connection: a missing kubeconfig or an unreachable server fails here. Throttled
    requests are retried after the server's Retry-After; a response cut off is one error line
    (:mod:`installer.cluster.resilient`)."""
    from installer.cluster.kube import connect as kube_connect
    from installer.cluster.resilient import guarded

    if opts.kubeconfig is not None and not Path(opts.kubeconfig).is_file():
        raise UsageError(f"--kubeconfig {opts.kubeconfig}: no such file")
    cluster: Cluster = guarded(kube_connect(opts.kubeconfig, opts.context))
    return cluster


def require_prerequisites(cluster: Cluster, resolved: Parameters) -> None:
    from installer.cluster.prerequisites import missing_prerequisites

    missing = missing_prerequisites(cluster, resolved)
    if missing:
        raise PrerequisiteError(f"{resolved.mode} needs: {'; '.join(missing)} (or pass --skip-checks)")


def params_digest(resolved: Parameters) -> str:
    return jsonio.digest(resolved.nested(masked=False))[:16]


@dataclass(frozen=True)
class DeployRequest:
    """How ``installer deploy`` applies (its command's options)."""

    skip_checks: bool = False
    dry_run: bool = False
    force_conflicts: bool = False
    force_crd_upgrade: bool = False
    wait: bool = False
    wait_timeout: float = 300.0
    concurrency: int = 4
    quiet: bool = False


def deploy_install(install: Install, cluster_opts: ClusterOptions, request: DeployRequest) -> ChangeSet:
    """Connect, check prerequisites, render, deploy: shared by `deploy` and the hubctl hook."""
    from installer.cluster.deploy import DeployOptions, deploy
    from installer.cluster.progress import for_terminal

    cluster = connect(cluster_opts)  # before rendering: a cluster that cannot be reached fails fast
    if not request.skip_checks:
        require_prerequisites(cluster, install.params)
    rendered = render_install(install)
    resolved = install.params
    opts = DeployOptions(
        instance=resolved.namespace,
        version=resolved.version,
        mode=resolved.mode,
        params_digest=params_digest(resolved),
        dry_run=request.dry_run,
        force_conflicts=request.force_conflicts,
        force_crd_upgrade=request.force_crd_upgrade,
        wait=request.wait,
        timeout=request.wait_timeout,
        concurrency=request.concurrency,
    )
    with for_terminal(request.quiet) as progress:
        return deploy(cluster, rendered.phases, resolved.namespace, opts, progress)


def diff_install(install: Install, cluster_opts: ClusterOptions) -> list[ObjectDiff]:
    from installer.cluster.diff import diff

    cluster = connect(cluster_opts)
    rendered = render_install(install)
    namespace = install.params.namespace
    return diff(cluster, rendered.phases, namespace, namespace)


@dataclass(frozen=True)
class UndeployRequest:
    """How ``installer undeploy`` deletes (its command's options)."""

    force: bool = False
    wait: bool = True
    wait_timeout: float = 300.0
    quiet: bool = False
    dry_run: bool = False


def undeploy_install(namespace: str, cluster_opts: ClusterOptions, request: UndeployRequest) -> list[str]:
    """Delete what deploy recorded and, unless told not to, wait until it is gone: a deploy
    started right after must not meet a terminating namespace or CRD."""
    from installer.cluster.dryrun import DryRunCluster
    from installer.cluster.progress import for_terminal
    from installer.cluster.undeploy import UndeployWait, undeploy
    from installer.cluster.waits import Clock

    waiting = UndeployWait(request.wait, Clock(timeout=request.wait_timeout, interval=1.0))
    cluster = connect(cluster_opts)
    with for_terminal(request.quiet) as progress:
        return undeploy(
            DryRunCluster(cluster) if request.dry_run else cluster,
            namespace,
            force=request.force,
            progress=progress,
            wait=waiting,
        )


# ---------------------------------------------------------------------------- example


def example(install: Install, namespace: str) -> Obj:
    """The example InferenceService for ``namespace``, validated against this version's CRD."""
    from installer.example import inference_service, validate_example

    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace) or len(namespace) > 63:
        raise UsageError(f"--namespace {namespace!r} is not a DNS-1123 label")
    built = prebuild_kserve(install, force=False)
    obj = inference_service(namespace, install.params)
    validate_example(obj, built.phases.get("crds") or [])
    return obj
