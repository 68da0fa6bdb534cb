"""ModelMesh Serving's release config tarball -> objects, built by our kustomize engine.

modelmesh-serving ships a kustomize tree (``config-<version>/``), not pre-built YAML, and its
``default`` kustomization uses ``vars`` so that the install namespace flows into the webhook
certificate's DNS names and ``inject-ca-from``. Its own install script sets the namespace with
``kustomize edit set namespace`` and builds. The pre-build does the same with our engine: for a
namespace, it builds each directory the installer uses under a kustomization that sets that
namespace, and stores the objects under ``kserve-built/modelmesh-serving/<version>/<namespace>/``.

The tarball is read from the fetch cache at run time (upstream files never enter the repository).
It is read strictly and in memory (:mod:`installer.tarball`): regular files only, under one top
directory, no absolute or ``..`` paths; nothing is extracted to disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import images, jsonio, kustomize, locations, tarball, versions, yamlio
from installer.components.base import BuildContext, ConfigureContext, Contribution
from installer.credentials import EtcdCredentials, S3Credentials
from installer.errors import BuildError, LockError, ParameterError
from installer.kustomize import FileTree, FileValue, deep_copy
from installer.lock import Asset, Lock
from installer.objects import LABELS_ONLY_ANNOTATIONS, Obj
from installer.parameters import Parameters
from installer.prebuild import BUILD_FORMAT, OBJECTS_FILE, build_meta, read_meta, write_tree
from installer.sources import Cache, FetchedAsset, assets_for, fetch_all
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)

COMPONENT = "modelmesh-serving"
# Directories of the tree the installer builds, by the name of their pre-built file.
DIRECTORIES = {
    "default": "default",
    "rbac-cluster-scope": "rbac/cluster-scope",
    "rbac-namespace-scope": "rbac/namespace-scope",
    "runtimes": "runtimes",
    "namespace-runtimes": "namespace-runtimes",
}
QUICKSTART = "dependencies/quickstart.yaml"


@dataclass(frozen=True)
class BuiltModelMesh:
    """ModelMesh Serving built for one namespace: objects by part (``DIRECTORIES`` + quickstart)."""

    version: str
    namespace: str
    parts: dict[str, list[Obj]]
    path: Path


def read_tarball(path: Path) -> dict[str, str]:
    """The tarball's text files by path below its single top directory (read strictly, in
    memory: :mod:`installer.tarball`)."""
    return tarball.read(path).files


def wrapper(namespace: str, resource: str) -> str:
    """A kustomization that builds ``resource`` of the tree into ``namespace``."""
    return yamlio.dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespace,
            "resources": [resource],
        }
    )


def build_parts(files: dict[str, str], namespace: str) -> dict[str, list[Obj]]:
    """Build every part of the tree for ``namespace`` (what ``kubectl kustomize`` would give)."""
    tree = FileTree({f"config/{k}": v for k, v in files.items()})
    parts: dict[str, list[Obj]] = {}
    targets = {**DIRECTORIES, "quickstart": QUICKSTART}
    for part, rel in targets.items():
        if f"config/{rel}" not in tree.files and tree.kustomization_in(f"config/{rel}") is None:
            raise BuildError(f"{COMPONENT}: the tarball has no {rel}")
        tree.files[f"{part}/kustomization.yaml"] = wrapper(namespace, f"../config/{rel}")
        # runtimes/ takes a transformer from ../default, as upstream's LoadRestrictionsNone allows.
        parts[part] = kustomize.build(tree, part, restrict_loads=False)
    return parts


def stamp(version: str, namespace: str, fetched: list[FetchedAsset]) -> str:
    return jsonio.digest([BUILD_FORMAT, version, namespace, sorted(f.sha256 for f in fetched)], "modelmesh")


def build(
    version: str, namespace: str, fetched: list[FetchedAsset], root: Path, force: bool = False
) -> BuiltModelMesh:
    """Pre-build ModelMesh ``version`` for ``namespace`` (a no-op when already built)."""
    dest = root / COMPONENT / version / namespace
    want = stamp(version, namespace, fetched)
    if not force:
        meta = read_meta(dest)
        if meta is not None and meta.get("stamp") == want:
            try:
                parts = jsonio.loads((dest / OBJECTS_FILE).read_bytes())
                return BuiltModelMesh(version, namespace, parts, dest)
            except (OSError, ValueError):
                pass
    tarballs = [f for f in fetched if f.asset.name.endswith((".tar.gz", ".tgz"))]
    if len(tarballs) != 1:
        raise BuildError(f"{COMPONENT} {version}: expected one config tarball, got {len(tarballs)}")
    parts = build_parts(read_tarball(tarballs[0].path), namespace)
    files = {f"{part}.yaml": yamlio.dump_all(objs).encode("utf-8") for part, objs in parts.items()}
    files[OBJECTS_FILE] = jsonio.dumps(parts)
    meta_out = build_meta(COMPONENT, version, want, fetched, parts, namespace=namespace)
    write_tree(dest, files, meta_out)
    log.debug("pre-built %s %s for namespace %s into %s", COMPONENT, version, namespace, dest)
    return BuiltModelMesh(version, namespace, parts, dest)


# ---------------------------------------------------------------------------- root-layer objects

# Names of Secret objects ModelMesh reads, not secret values.
ETCD_SECRET = "model-serving-etcd"  # noqa: S105
STORAGE_SECRET = "storage-config"  # noqa: S105
USER_CONFIGMAP = "model-serving-config"
ENABLED_LABEL = "modelmesh-enabled"
MANAGED = {"app.kubernetes.io/managed-by": "kserve-installer"}
MODELMESH_FILE = "modelmesh.yaml"
# model-serving-config keys set by ``modelmesh.config.*`` parameters (parameter -> YAML path).
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "podsPerRuntime": ("podsPerRuntime",),
    "restProxy": ("restProxy", "enabled"),
    "scaleToZero": ("scaleToZero", "enabled"),
    "scaleToZeroGracePeriodSeconds": ("scaleToZero", "gracePeriodSeconds"),
    "metrics": ("metrics", "enabled"),
    "serviceAccountName": ("serviceAccountName",),
}


def user_config(params: Parameters) -> dict[str, Any]:
    """The keys of ``model-serving-config`` the parameters set. ModelMesh merges this ConfigMap over
    ``model-serving-config-defaults`` itself, so every key left out keeps its shipped default."""
    config: dict[str, Any] = {}
    for name, path in CONFIG_KEYS.items():
        value = params[f"modelmesh.config.{name}"]
        if value is None:
            continue
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return config


# Images ModelMesh's controller starts for each runtime, named (without tag) in its defaults.
DEFAULT_IMAGE_PATHS = (("modelMeshImage",), ("restProxy", "image"), ("storageHelperImage",))


def image_overrides(objs: list[Obj], relocate: Callable[[str], str]) -> dict[str, Any]:
    """model-serving-config entries that point the images of ``model-serving-config-defaults`` at
    a mirror registry (ModelMesh merges the user config over the defaults, key by key)."""
    defaults = next(
        (
            o
            for o in objs
            if o.get("kind") == "ConfigMap"
            and (o.get("metadata") or {}).get("name") == "model-serving-config-defaults"
        ),
        None,
    )
    if defaults is None:
        return {}
    parsed = yamlio.load(((defaults.get("data") or {}).get("config-defaults.yaml")) or "") or {}
    out: dict[str, Any] = {}
    for path in DEFAULT_IMAGE_PATHS:
        node: Any = parsed
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get("name"), str):
            target = out
            for part in path:
                target = target.setdefault(part, {})
            target["name"] = relocate(node["name"])
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def check_parameters(params: Parameters) -> None:
    """Combinations ModelMesh cannot serve, refused before anything is fetched."""
    if params["modelmesh.userNamespaces"] and params["modelmesh.scope"] != "cluster":
        raise ParameterError(
            "modelmesh.userNamespaces",
            "needs modelmesh.scope=cluster (a namespace-scoped ModelMesh serves only its own)",
        )
    if params["modelmesh.etcd.endpoints"] and params["modelmesh.quickstart"]:
        raise ParameterError(
            "modelmesh.etcd.endpoints",
            "cannot be combined with modelmesh.quickstart (which runs its own etcd)",
        )


def root_objects(
    params: Parameters,
    s3: S3Credentials | None,
    etcd: EtcdCredentials | None,
    quickstart_secrets: list[Obj],
    extra_config: dict[str, Any] | None = None,
) -> tuple[list[Obj], list[Obj]]:
    """(objects, Secrets) the ModelMesh parameters add: model-serving-config, the etcd and storage
    Secrets, and the ``modelmesh-enabled`` label of user namespaces (labels-only objects)."""
    check_parameters(params)
    ns = params["modelmesh.namespace"]
    objs: list[Obj] = []
    secrets = [deep_copy(s) for s in quickstart_secrets]
    if ns != params.namespace:  # upstream's script expects it to exist; we create it (and record that)
        objs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": dict(MANAGED)}}
        )
    config = _merge(user_config(params), extra_config or {})
    if config:
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": USER_CONFIGMAP, "namespace": ns, "labels": dict(MANAGED)},
                "data": {"config.yaml": yamlio.dump(config)},
            }
        )
    etcd_secret = _etcd_secret(params, etcd)
    if etcd_secret is not None:
        secrets.append(etcd_secret)
    _add_storage(params, s3, secrets)
    objs += [_enabled_namespace(user) for user in params["modelmesh.userNamespaces"]]
    return objs, secrets


def _etcd_secret(params: Parameters, etcd: EtcdCredentials | None) -> Obj | None:
    endpoints = params["modelmesh.etcd.endpoints"]
    if not endpoints:
        return None
    connection: dict[str, Any] = {
        "endpoints": ",".join(endpoints),
        "root_prefix": params["modelmesh.etcd.rootPrefix"],
    }
    if etcd is not None:
        connection.update(userid=etcd.userid, password=etcd.password)
    ns = params["modelmesh.namespace"]
    return _secret(ETCD_SECRET, ns, MANAGED, {"etcd_connection": json.dumps(connection, indent=2)})


def _add_storage(params: Parameters, s3: S3Credentials | None, secrets: list[Obj]) -> None:
    """One ``storage-config`` entry in ModelMesh's namespace and each user namespace; beside the
    quickstart's MinIO entry where that Secret exists already."""
    storage = storage_entry(params, s3)
    if storage is None:
        return
    ns, key = params["modelmesh.namespace"], params["modelmesh.storage.key"]
    user_ns = list(params["modelmesh.userNamespaces"]) if params["modelmesh.scope"] == "cluster" else []
    for target in [ns, *(n for n in user_ns if n != ns)]:
        existing = next(
            (
                s
                for s in secrets
                if s["metadata"]["name"] == STORAGE_SECRET and s["metadata"].get("namespace") == target
            ),
            None,
        )
        if existing is not None:
            existing.setdefault("stringData", {})[key] = storage
        else:
            secrets.append(_secret(STORAGE_SECRET, target, MANAGED, {key: storage}))


def _enabled_namespace(name: str) -> Obj:
    """A user namespace ModelMesh serves: only labelled, never created or deleted."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {ENABLED_LABEL: "true"},
            "annotations": dict(LABELS_ONLY_ANNOTATIONS),
        },
    }


def storage_entry(params: Parameters, s3: S3Credentials | None) -> str | None:
    """One ``storage-config`` entry (JSON, as ModelMesh's puller reads it) for the bucket parameters."""
    endpoint = params["bucket.endpoint"]
    if not endpoint:
        return None
    if s3 is None:
        log.warning(
            "bucket.endpoint is set but no S3 credentials were given (bucket.credentialsFile or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): provide Secret %s out of band",
            STORAGE_SECRET,
        )
        return None
    key_id, secret_key = s3.values()
    entry: dict[str, str] = {
        "type": "s3",
        "access_key_id": key_id,
        "secret_access_key": secret_key,
        "endpoint_url": endpoint,
    }
    if params["bucket.region"]:
        entry["region"] = params["bucket.region"]
    if params["modelmesh.storage.defaultBucket"]:
        entry["default_bucket"] = params["modelmesh.storage.defaultBucket"]
    return json.dumps(entry, indent=2)


def _secret(name: str, namespace: str, labels: dict[str, str], data: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "type": "Opaque",
        "stringData": data,
    }


# ---------------------------------------------------------------------------- the component


def pinned_version(lock: Lock, warn: bool = False) -> str:
    """The lock's ModelMesh Serving version. A rebuilt stand-in (the mirror's tarball, rebuilt from
    the tag) is used when nothing better is pinned; ``warn`` says so and how to pin the real one."""
    try:
        return lock.default_version(versions.MODELMESH)
    except LockError:
        pinned = lock.versions(versions.MODELMESH)
        if not pinned:
            raise
        if not warn:
            return pinned[-1]
        log.warning(
            "%s %s: the lock pins a tarball rebuilt from the tag, not the release asset; pin the real one "
            "with: installer lock add --component %s --version %s",
            versions.MODELMESH,
            pinned[-1],
            versions.MODELMESH,
            pinned[-1],
        )
        return pinned[-1]


def selected_parts(params: Parameters) -> list[str]:
    """The pre-built parts the parameters select (the quickstart's Secrets go elsewhere)."""
    scope = params["modelmesh.scope"]
    parts = ["default", f"rbac-{scope}-scope", "runtimes" if scope == "cluster" else "namespace-runtimes"]
    return [*parts, "quickstart"] if params["modelmesh.quickstart"] else parts


def quickstart_secrets(params: Parameters, build: BuiltModelMesh) -> list[Obj]:
    if not params["modelmesh.quickstart"]:
        return []
    return [o for o in build.parts["quickstart"] if o.get("kind") == "Secret"]


class ModelMesh:
    """ModelMesh Serving beside KServe, pre-built for ``modelmesh.namespace`` (ModelMesh mode)."""

    name = versions.MODELMESH

    def check(self, params: Parameters) -> None:
        check_parameters(params)

    def credentials(self, params: Parameters) -> frozenset[str]:
        return frozenset({"etcd", "s3"}) if params["bucket.endpoint"] else frozenset({"etcd"})

    def namespaces(self, params: Parameters) -> frozenset[str]:
        return frozenset({params["modelmesh.namespace"], *params["modelmesh.userNamespaces"]})

    def assets(self, params: Parameters, lock: Lock, allow_unpinned: bool) -> list[Asset]:
        return assets_for(lock, versions.MODELMESH, pinned_version(lock))

    def fetch(self, params: Parameters, ctx: BuildContext) -> list[FetchedAsset]:
        assets = assets_for(ctx.lock, versions.MODELMESH, pinned_version(ctx.lock, warn=True))
        return fetch_all(assets, ctx.settings, Cache(locations.cache_dir()))

    def prebuild(self, params: Parameters, fetched: list[FetchedAsset], ctx: BuildContext) -> BuiltModelMesh:
        version = pinned_version(ctx.lock)
        return build(version, params["modelmesh.namespace"], fetched, locations.build_dir(), ctx.force)

    def tree(self, params: Parameters, build: BuiltModelMesh) -> dict[str, FileValue]:
        """``modelmesh/``: the selected parts, the quickstart without its Secrets (those go to the
        root layer's Secrets file, left out of output unless asked for)."""
        parts = selected_parts(params)
        files: dict[str, FileValue] = {
            f"modelmesh/{p}.yaml": build.parts[p] for p in parts if p != "quickstart"
        }
        if "quickstart" in parts:
            files["modelmesh/quickstart.yaml"] = [
                o for o in build.parts["quickstart"] if o.get("kind") != "Secret"
            ]
        files["modelmesh/kustomization.yaml"] = yamlio.dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [f"{p}.yaml" for p in parts],
            }
        )
        return files

    def text_index(self, build: BuiltModelMesh, index: TextIndex) -> None:
        return None

    def source_files(self, build: Any) -> dict[str, Path]:
        return {}

    def configure(self, objs: list[Obj], ctx: ConfigureContext) -> Contribution:
        params = ctx.params
        registry = params["images.registry"]
        overrides = image_overrides(objs, lambda ref: images.relocate(ref, registry)) if registry else {}
        mm_objs, secrets = root_objects(
            params,
            ctx.credentials.s3,
            ctx.credentials.etcd,
            quickstart_secrets(params, ctx.builds[self.name]),
            overrides,
        )
        out = Contribution(secrets=secrets)
        if mm_objs:
            out.resources.append((MODELMESH_FILE, mm_objs))
        return out
