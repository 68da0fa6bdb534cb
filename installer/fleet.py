"""A fleet file: the clusters one GitOps repository installs KServe on, and how the engines reach them.

::

    apiVersion: installer.kserve.io/v1alpha1    # optional; checked when present
    kind: Fleet
    repository:                                 # where the rendered tree is committed
      url: https://git.example.com/platform/kserve-fleet.git
      revision: main                            # branch, refs/tags/<tag>, refs/heads/<b>, or a commit
      path: kserve                              # the --output-dir inside the repository
    argocd: {namespace: argocd, project: default}
    flux: {namespace: flux-system, kubeConfigSecrets: false}
    defaults:                                   # every cluster's values, under its own
      valuesFiles: [common.yaml]
      values: {ingress.protocol: https}
    clusters:
    - name: prod-eu                             # DNS-1123 label: clusters/<name>, flux/<name>.yaml
      destination: prod-eu-west-1               # Argo CD cluster name (default: the name)
      version: v0.20.0                          # kserve.version (optional)
      mode: Serverless                          # kserve.deploymentMode (optional)
      valuesFiles: [eu.yaml]                    # relative to the fleet file
      values: {kserve.namespace: kserve, ingress.hosts: [models.eu.example.com]}

A cluster's parameters merge as a single render's do: defaults < ``defaults.valuesFiles`` <
``defaults.values`` < the cluster's ``valuesFiles`` < its ``values`` < ``version`` / ``mode``. The
hubctl environment is never read: the fleet file is the whole input.

Every defect is one line naming the fleet file, the cluster and the key, and exits 2 before
anything is fetched or written: the file is checked whole first (keys, names, paths, pins), then
every cluster's parameters are resolved and checked (:func:`installer.app.prepare`), and only then
does the first render start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import logging
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from installer import jsonio, versions
from installer.app import FetchOptions, Install, prepare, render_install
from installer.errors import EXIT_USAGE, InstallerError, ParameterError, UsageError
from installer.lock import Lock
from installer.params import InlineValues, ParameterOptions, load_values_file
from installer.render import Rendered, Validation
from installer.sinks.engines import MAX_CLUSTER_NAME, ArgoSettings, Engines, FluxSettings, Repository
from installer.sinks.fleet import ClusterTree

log = logging.getLogger(__name__)

API_VERSION: Final = "installer.kserve.io/v1alpha1"
KIND: Final = "Fleet"
VALUES_KEYS: Final = ("valuesFiles", "values")
KEYS: Final = {
    "": ("apiVersion", "kind", "repository", "argocd", "flux", "defaults", "clusters"),
    "repository": ("url", "revision", "path"),
    "argocd": ("namespace", "project"),
    "flux": ("namespace", "kubeConfigSecrets"),
    "defaults": VALUES_KEYS,
    "cluster": ("name", "destination", "version", "mode", *VALUES_KEYS),
}
DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
GIT_URL: Final = re.compile(r"(https?|ssh|git)://\S+|[\w.-]+@[\w.-]+:\S+")

ValuesSource = Path | InlineValues


@dataclass(frozen=True)
class ClusterSpec:
    """One cluster of the fleet: its name, its destination in the engines, its values in order."""

    name: str
    destination: str
    values: tuple[ValuesSource, ...]

    def options(self) -> ParameterOptions:
        return ParameterOptions(values_files=self.values)


@dataclass(frozen=True)
class Fleet:
    """A checked fleet file: the engines' settings, the clusters, the values they all share."""

    path: Path
    engines: Engines
    clusters: tuple[ClusterSpec, ...]
    defaults: tuple[ValuesSource, ...] = ()


@dataclass(frozen=True)
class _Where:
    """Where in the fleet file a value sits, for messages: ``fleet.yaml: cluster dev: key: ...``."""

    path: Path
    scope: str = ""

    def error(self, key: str, problem: str) -> UsageError:
        scope = f"{self.scope}: " if self.scope else ""
        return UsageError(f"{self.path}: {scope}{key}: {problem}")

    def origin(self, key: str) -> str:
        """How a value from here is named as the origin of a parameter."""
        return f"{self.path}: {self.scope}: {key}" if self.scope else f"{self.path}: {key}"


# ---------------------------------------------------------------------------- the file


def _mapping(value: Any, where: _Where, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A mapping with only ``allowed`` keys (an unknown key is named, with the nearest known one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping, got {type(value).__name__}")
    for name in value:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(allowed)})"
            raise where.error(f"{key}.{name}" if key else str(name), f"unknown key{hint}")
    return value


def _string(data: Mapping[str, Any], key: str, where: _Where, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise where.error(key, "required")
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise where.error(key, f"expected a non-empty string without spaces, got {value!r}")
    return value


def _label(data: Mapping[str, Any], key: str, where: _Where, default: str | None = None) -> str:
    value = _string(data, key, where, default)
    if not DNS_LABEL.fullmatch(value) or len(value) > 63:
        raise where.error(key, f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-')")
    return value


def _repository(data: Any, where: _Where) -> Repository:
    repo = _mapping(data, where, "repository", KEYS["repository"])
    if not repo:
        raise where.error("repository", "required (url, revision, path: where the tree is committed)")
    inner = _Where(where.path, "repository")
    url = _string(repo, "url", inner)
    if not GIT_URL.fullmatch(url):
        raise inner.error("url", f"{url!r} is not a Git URL (https://..., ssh://..., git@host:path)")
    path = posixpath.normpath(_string(repo, "path", inner, "."))
    if path.startswith(("/", "../")) or path == "..":
        raise inner.error("path", f"{path!r} must be a relative path inside the repository")
    return Repository(url, _string(repo, "revision", inner, "main"), "" if path == "." else path)


def _engines(data: Mapping[str, Any], where: _Where) -> Engines:
    argocd = _mapping(data.get("argocd"), where, "argocd", KEYS["argocd"])
    flux = _mapping(data.get("flux"), where, "flux", KEYS["flux"])
    secrets = flux.get("kubeConfigSecrets", False)
    if not isinstance(secrets, bool):
        raise where.error("flux.kubeConfigSecrets", f"expected true or false, got {secrets!r}")
    return Engines(
        _repository(data.get("repository"), where),
        ArgoSettings(
            _label(argocd, "namespace", _Where(where.path, "argocd"), "argocd"),
            _string(argocd, "project", _Where(where.path, "argocd"), "default"),
        ),
        FluxSettings(_label(flux, "namespace", _Where(where.path, "flux"), "flux-system"), secrets),
    )


def _values(data: Mapping[str, Any], where: _Where, home: Path) -> list[ValuesSource]:
    """``valuesFiles`` (paths relative to the fleet file, each checked to exist), then ``values``."""
    files = data.get("valuesFiles") or []
    if not isinstance(files, list):
        raise where.error("valuesFiles", f"expected a list of paths, got {type(files).__name__}")
    out: list[ValuesSource] = []
    for i, name in enumerate(files):
        if not isinstance(name, str) or not name:
            raise where.error(f"valuesFiles[{i}]", f"expected a path, got {name!r}")
        path = home / name
        if not path.is_file():
            raise where.error(
                f"valuesFiles[{i}]", f"{name}: no such file (paths are relative to {where.path})"
            )
        out.append(path)
    inline = data.get("values")
    if inline is not None:
        if not isinstance(inline, dict):
            raise where.error("values", f"expected a mapping of parameters, got {type(inline).__name__}")
        out.append(InlineValues(where.origin("values"), inline))
    return out


def _cluster(raw: Any, where: _Where, lock: Lock, fleet: Fleet) -> ClusterSpec:
    """One entry of ``clusters``, its values after the fleet's ``defaults``."""
    data = _mapping(raw, where, "", KEYS["cluster"])
    name = _label(data, "name", where)
    if len(name) > MAX_CLUSTER_NAME:
        raise where.error(
            "name",
            f"{name!r} is longer than {MAX_CLUSTER_NAME} characters (Flux labels every object with "
            "its Kustomization's name, kserve-<name>-custom-resources, at most 63)",
        )
    inner = _Where(where.path, f"cluster {name}")
    destination = _string(data, "destination", inner, name)
    if fleet.engines.flux.kube_config_secrets and not DNS_LABEL.fullmatch(destination):
        raise inner.error("destination", f"{destination!r} cannot name the Secret {destination}-kubeconfig")
    sources = [*fleet.defaults, *_values(data, inner, where.path.parent)]
    for key, param in (("version", "kserve.version"), ("mode", "kserve.deploymentMode")):
        if key in data:
            value = _string(data, key, inner)
            if key == "version":
                _check_pinned(value, lock, inner)
            sources.append(InlineValues(inner.origin(key), {param: value}))
    return ClusterSpec(name, destination, tuple(sources))


def _check_pinned(version: str, lock: Lock, where: _Where) -> None:
    """A fleet renders only what the lock pins: its bytes must not depend on what a server holds."""
    if not lock.has(versions.KSERVE, version):
        pinned = ", ".join(lock.versions(versions.KSERVE)) or "none"
        raise where.error(
            "version",
            f"{version} is not pinned in the lock file (pinned: {pinned}); "
            f"pin it with `installer lock add --version {version}`",
        )


def _clusters(data: Mapping[str, Any], where: _Where, lock: Lock, fleet: Fleet) -> tuple[ClusterSpec, ...]:
    raw = data.get("clusters")
    if raw is None:
        raise where.error("clusters", "required (the list of clusters)")
    if not isinstance(raw, list):
        raise where.error("clusters", f"expected a list of clusters, got {type(raw).__name__}")
    if not raw:
        raise where.error("clusters", "the list is empty (a fleet has at least one cluster)")
    out: list[ClusterSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, dict) else None
        named = isinstance(name, str) and DNS_LABEL.fullmatch(name) is not None
        scope = _Where(where.path, f"cluster {name}" if named else f"clusters[{i}]")
        spec = _cluster(entry, scope, lock, fleet)
        if spec.name in seen:
            raise scope.error("name", f"{spec.name!r} is also the name of clusters[{seen[spec.name]}]")
        other = next((c.name for c in out if c.destination == spec.destination), None)
        if other is not None:
            # Two installs on one cluster would own the same CRDs, and the engines would fight.
            raise scope.error(
                "destination", f"{spec.destination!r} is also the destination of cluster {other}"
            )
        seen[spec.name] = i
        out.append(spec)
    return tuple(out)


def load_fleet(path: Path, lock: Lock) -> Fleet:
    """Read and check a fleet file whole (exit 2 naming the cluster and the key on any defect)."""
    try:
        data = load_values_file(path, "fleet file")
    except ParameterError as exc:
        raise UsageError(f"--fleet {exc.message}") from None
    where = _Where(path)
    _mapping(data, where, "", KEYS[""])
    for key, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if key in data and data[key] != wanted:
            raise where.error(key, f"expected {wanted}, got {data[key]!r}")
    engines = _engines(data, where)
    defaults = _mapping(data.get("defaults"), where, "defaults", KEYS["defaults"])
    shell = Fleet(path, engines, (), tuple(_values(defaults, _Where(path, "defaults"), path.parent)))
    return dataclasses.replace(shell, clusters=_clusters(data, where, lock, shell))


# ---------------------------------------------------------------------------- the renders


def _fleet_env() -> dict[str, str]:
    """The environment without hubctl's marker: hubctl's variables never reach a fleet's clusters
    (credentials may still come from the environment, as for a single render)."""
    return {k: v for k, v in os.environ.items() if k != "HUB_COMPONENT"}


def prepare_fleet(lock: Lock, fleet: Fleet, fetch: FetchOptions) -> list[tuple[ClusterSpec, Install]]:
    """Every cluster's parameter stage (:func:`installer.app.prepare`), before any render: a bad
    value in the last cluster stops the fleet before the first download."""
    fetch.settings(allow_unpinned=False)  # the mirror, once, not as one cluster's fault
    env = _fleet_env()
    out = []
    for spec in fleet.clusters:
        try:
            out.append((spec, prepare(lock, spec.options(), fetch, env)))
        except InstallerError as exc:
            if exc.exit_code != EXIT_USAGE:
                raise
            raise UsageError(f"{fleet.path}: cluster {spec.name}: {exc.message}") from None
    return out


def shared_names(install: Install, rendered: Rendered) -> dict[str, str]:
    """Each component's top directory in the render tree -> the name of its base in the fleet:
    KServe's is its version (with a digest of the assets when ``kustomize.resources`` replaces the
    release's); another component's carries its version and a digest of its files (ModelMesh
    Serving is pre-built for its namespace)."""
    out: dict[str, str] = {}
    for part in rendered.parts:
        build = rendered.builds[part.name]
        files = part.tree(install.params, build)
        for top in sorted({p.split("/", 1)[0] for p in files}):
            if part.name == versions.KSERVE:
                custom = install.params["kustomize.resources"]
                out[top] = f"{build.version}-{jsonio.digest(custom)[:8]}" if custom else str(build.version)
            else:
                out[top] = f"{part.name}-{build.version}-{jsonio.digest(files)[:8]}"
    return out


class _NameCluster(logging.Filter):
    """Prefixes what is said during one cluster's render with the cluster's name: a warning that
    ``ingress.class`` is not set must say whose."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.prefix = f"cluster {name}: "

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            record.msg = self.prefix + str(record.msg)
        return True


@contextlib.contextmanager
def _naming(name: str) -> Iterator[None]:
    """Messages and errors of one cluster's render name the cluster."""
    handlers = logging.getLogger("installer").handlers
    naming = _NameCluster(name)
    for handler in handlers:
        handler.addFilter(naming)
    try:
        yield
    except InstallerError as exc:
        named = InstallerError(f"cluster {name}: {exc.message}")
        named.exit_code = exc.exit_code
        raise named from exc
    finally:
        for handler in handlers:
            handler.removeFilter(naming)


def _render(spec: ClusterSpec, install: Install, validation: Validation) -> ClusterTree:
    with _naming(spec.name):
        rendered = render_install(install, validation)
        log.info("rendered KServe %s, %s", install.params.version, install.params.mode)
    return ClusterTree(
        name=spec.name,
        destination=spec.destination,
        files=rendered.tree.files,
        own=frozenset(rendered.configured.files),
        shared=shared_names(install, rendered),
        phases=rendered.phases,
        index=rendered.text_index(),
    )


def cluster_trees(
    prepared: list[tuple[ClusterSpec, Install]], validation: Validation
) -> Iterator[Callable[[], ClusterTree]]:
    """One render per cluster, each run when the sink asks for it (one in memory at a time)."""
    for spec, install in prepared:
        yield functools.partial(_render, spec, install, validation)
