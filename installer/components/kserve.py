"""KServe: its release assets, pre-built; the ``inferenceservice-config`` ConfigMap configured as JSON.

The ConfigMap holds JSON documents as strings; kustomize can only replace a whole string. Each
JSON value is parsed, only the keys that parameters set are changed, and the result is serialized
back, so every upstream default the user did not touch survives, in every version. The keys a mode
sets come from its overlay (``overlays/<mode>/inferenceservice-config.yaml``); ``bucket.*`` adds
the S3 settings. The component also fixes what kustomize's ``namespace:`` leaves behind in
KServe's objects (Certificate DNS names, ``cert-manager.io/inject-ca-from``, service references
inside the ConfigMap JSON), restarts the controller when its start-up configuration changes, and
creates the install namespace for releases that ship none (v0.17+).

KServe comes from its release assets, or, with ``kserve.source``, from a source tarball built by
upstream's release recipe (:mod:`installer.sourcebuild`): both give the same :class:`Built`, and
everything after the pre-build treats them alike. The optional parts the parameters leave out
(:mod:`installer.components.parts`) are left out of either, right after the pre-build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import images, locations, objects, prebuild, sourcebuild, versions, yamlio
from installer.components import parts
from installer.components.base import BuildContext, ConfigureContext, Contribution, JsonPatch
from installer.errors import BuildError
from installer.kustomize import FileValue
from installer.lock import Asset, Lock, Source
from installer.objects import Obj, ObjectKey
from installer.parameters import Parameters, s3_endpoint_parts
from installer.phases import PHASES, phase_file
from installer.prebuild import Built
from installer.sources import Cache, FetchedAsset, assets_for, fetch_all, source_for
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)

CONFIGMAP = "inferenceservice-config"
CONTROLLER = "kserve-controller-manager"
CONFIG_DIGEST_ANNOTATION = "installer.kserve.io/config-digest"
INJECT_CA = "cert-manager.io/inject-ca-from"
NAMESPACE_FILE = "namespace.yaml"
# Keys of inferenceservice-config whose value is not JSON (commented pseudo-JSON): never parsed.
NOT_JSON = frozenset({"_example"})

Settings = dict[str, list[tuple[list[str], Any]]]


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) to ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# ---------------------------------------------------------------------------- the render tree


def upstream_file(phase: str) -> str:
    """Where a pre-built phase sits in the render tree. CRDs have a kustomization of their own, so
    an overlay can take KServe's CRDs alone (ModelMesh without KServe's controller)."""
    return f"upstream/crds/{phase_file(phase)}" if phase == "crds" else f"upstream/{phase_file(phase)}"


def kustomization(resources: list[str]) -> str:
    return yamlio.dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    )


def upstream_tree(built: Built) -> dict[str, FileValue]:
    files: dict[str, FileValue] = {}
    names = []
    for p in PHASES:
        if built.phases.get(p):
            files[upstream_file(p)] = built.phases[p]
            names.append("crds" if p == "crds" else phase_file(p))
    files["upstream/kustomization.yaml"] = kustomization(names)
    files["upstream/crds/kustomization.yaml"] = kustomization(
        [phase_file("crds")] if built.phases.get("crds") else []
    )
    return files


def source_namespace(built: Built) -> str:
    """The namespace upstream installs into (that of its inferenceservice-config)."""
    for o in built.all_objects():
        if o.get("kind") == "ConfigMap" and o["metadata"].get("name") == CONFIGMAP:
            return str(o["metadata"].get("namespace") or "kserve")
    return "kserve"


# ---------------------------------------------------------------------------- ConfigMap JSON


def set_path(doc: dict[str, Any], dotted: list[str], value: Any) -> bool:
    """Set ``doc[a][b]... = value``, creating maps; True if anything changed."""
    node = doc
    for part in dotted[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if node.get(dotted[-1], object()) == value and dotted[-1] in node:
        return False
    node[dotted[-1]] = value
    return True


def mode_settings(config: Mapping[str, Any]) -> Settings:
    """Flatten the overlay's ConfigMap settings to ``{data key: [(json path, value)]}``, nulls dropped."""
    out: Settings = {}

    def walk(node: Any, key: str, path: list[str]) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, key, [*path, str(k)])
        elif node is not None and path:
            out.setdefault(key, []).append((path, node))

    for key, settings in config.items():
        walk(settings, str(key), [])
    return out


def bucket_settings(params: Parameters) -> list[tuple[list[str], Any]]:
    """``credentials`` settings from bucket.*: endpoint without scheme, use-https "0"/"1", region."""
    out: list[tuple[list[str], Any]] = []
    endpoint = params["bucket.endpoint"]
    if endpoint:
        parts = s3_endpoint_parts(endpoint)
        if parts is None:  # the schema check makes this unreachable; keep the message anyway
            raise BuildError(f"bucket.endpoint: {endpoint!r} is not an S3 endpoint")
        host, https = parts
        out += [(["s3", "s3Endpoint"], host), (["s3", "s3UseHttps"], "1" if https else "0")]
    if params["bucket.region"]:
        out.append((["s3", "s3Region"], params["bucket.region"]))
    return out


@dataclass(frozen=True)
class Moves:
    """Where things move in a render: images to ``registry`` (None: they stay), services from the
    upstream namespace ``old_ns`` to ``new_ns``."""

    registry: str | None
    old_ns: str
    new_ns: str

    @property
    def none(self) -> bool:
        return not self.registry and self.old_ns == self.new_ns

    def apply(self, path: tuple[str | int, ...], text: str) -> str:
        """One string of the ConfigMap JSON with the registry and namespace moves applied."""
        new = text
        if self.registry and path and images.is_image_like_key(path[-1]) and text:
            new = images.relocate(text, self.registry)
        old, ns = self.old_ns, self.new_ns
        if old != ns:
            new = new.replace(f".{old}.svc", f".{ns}.svc")
            if path and path[-1] == "kserveIngressGateway" and new.startswith(f"{old}/"):
                new = f"{ns}/{new[len(old) + 1 :]}"
        return new


def _configure_value(
    key: str, raw: str, wanted: list[tuple[list[str], Any]], moves: Moves
) -> tuple[str, list[str]] | None:
    """The new JSON text of one ConfigMap key and the paths that changed (None: unchanged)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        if wanted:
            raise BuildError(
                f"ConfigMap {CONFIGMAP}: data.{key} is not JSON, cannot set {wanted[0][0]}"
            ) from None
        return None
    if not isinstance(doc, dict):
        return None
    touched = [".".join(path) for path, value in wanted if set_path(doc, path, value)]
    for path, text in list(images.strings(doc)):
        new = moves.apply(path, text)
        if new != text:
            images.set_at(doc, path, new)
            touched.append(".".join(map(str, path)))
    return (json.dumps(doc, indent=4), touched) if touched else None


def configure_configmap(
    data: Mapping[str, Any], settings: Settings, moves: Moves
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """New string values for the ConfigMap keys that change, and which JSON paths changed."""
    new_values: dict[str, str] = {}
    changes: dict[str, list[str]] = {}
    for key, raw in data.items():
        if key in NOT_JSON or not isinstance(raw, str):
            continue
        wanted = settings.get(key, [])
        if not wanted and moves.none:
            continue
        result = _configure_value(key, raw, wanted, moves)
        if result is not None:
            new_values[key], changes[key] = result
    return new_values, changes


def configmap_keys(objs: list[Obj]) -> set[str]:
    for o in objs:
        if o.get("kind") == "ConfigMap" and (o.get("metadata") or {}).get("name") == CONFIGMAP:
            return set((o.get("data") or {}).keys())
    return set()


# ---------------------------------------------------------------------------- namespace moves


def namespace_ops(obj: Obj, old_ns: str, new_ns: str) -> JsonPatch:
    """What kustomize's ``namespace:`` leaves behind in one object: the CA-injection annotation
    and, in a cert-manager Certificate, the service DNS names."""
    if old_ns == new_ns:
        return []
    ops: JsonPatch = []
    ann = ((obj.get("metadata") or {}).get("annotations") or {}).get(INJECT_CA)
    if isinstance(ann, str) and ann.startswith(f"{old_ns}/"):
        value = f"{new_ns}/{ann[len(old_ns) + 1 :]}"
        ops.append({"op": "replace", "path": pointer("metadata", "annotations", INJECT_CA), "value": value})
    if obj.get("kind") == "Certificate" and objects.group_of(obj) == objects.CERT_MANAGER_GROUP:
        for path, text in images.strings(obj.get("spec") or {}, ("spec",)):
            if f".{old_ns}.svc" in text:
                new = text.replace(f".{old_ns}.svc", f".{new_ns}.svc")
                ops.append({"op": "replace", "path": pointer(*path), "value": new})
    return ops


def _controller_restart(objs: list[Obj], digest: str) -> tuple[Obj, Obj] | None:
    """The controller validates deploy/ingress only at start-up: a pod-template annotation with
    the digest of its configuration restarts it when they change."""
    controller = next(
        (
            o
            for o in objs
            if o.get("kind") == "Deployment" and (o.get("metadata") or {}).get("name") == CONTROLLER
        ),
        None,
    )
    if controller is None:
        return None
    patch: Obj = {
        "apiVersion": controller["apiVersion"],
        "kind": "Deployment",
        "metadata": {"name": CONTROLLER},
        "spec": {"template": {"metadata": {"annotations": {CONFIG_DIGEST_ANNOTATION: digest}}}},
    }
    return controller, patch


def _namespace_object(objs: list[Obj], namespace: str) -> Obj | None:
    """KServe v0.17+ ships no Namespace object: the installer creates the install namespace."""
    if any(o.get("kind") == "Namespace" and o["metadata"]["name"] == namespace for o in objs):
        return None
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "kserve-installer"}},
    }


# ---------------------------------------------------------------------------- sources


def source_of(params: Parameters, lock: Lock, allow_unpinned: bool) -> Source | None:
    """The source ``kserve.source`` chooses (None: the release), with its version (the parameter
    stage made ``kserve.version`` the source's, or had it given for a URL that names none)."""
    spec = params["kserve.source"]
    if not spec:
        return None
    source = source_for(lock, spec, allow_unpinned)
    return source if source.version else dataclasses.replace(source, version=params.version)


def source_tag(source: Source) -> str | None:
    """What ``:latest`` becomes in a source build: the tag the source's URL names, as upstream's
    release recipe does; a commit or a branch keeps ``:latest`` (``images.tag`` overrides)."""
    ref = versions.archive_ref(source.url)
    return ref.ref if ref is not None and ref.kind == "tag" else None


def _warn_rebuilt(source: Source) -> None:
    """A rebuilt stand-in is used when it is what the lock pins, with a word on the real one."""
    if source.rebuilt:
        log.warning(
            "kserve source %s: the lock pins a tarball rebuilt from the ref, not the real archive; pin the "
            "real one with: installer lock add --source %s",
            source.name,
            source.url,
        )


# ---------------------------------------------------------------------------- the component


class KServe:
    """KServe's release (or ``kustomize.resources``) assets, in every mode."""

    name = versions.KSERVE

    def check(self, params: Parameters) -> None:
        """Nothing to refuse here (a source and its version are checked with the parameters);
        say when ``images.tag`` has no effect."""
        if params.origins.get("images.tag") and not params["kserve.source"]:
            log.warning(
                "images.tag has no effect on a release: its images are tagged already; it sets the tag "
                "of :latest images in a kserve.source build (from %s)",
                params.origins["images.tag"],
            )

    @staticmethod
    def _warn(params: Parameters) -> None:
        """Said once the render succeeded: an error must stay the only line of a failure."""
        if params.canonical_mode == "RawDeployment" and not params["ingress.class"]:
            log.warning(
                "ingress.class is not set: KServe's default IngressClass 'istio' has no controller unless "
                "Istio is installed; set ingress.class to your ingress controller's class"
            )

    def credentials(self, params: Parameters) -> frozenset[str]:
        return frozenset()

    def namespaces(self, params: Parameters) -> frozenset[str]:
        return frozenset({params.namespace})

    def assets(self, params: Parameters, lock: Lock, allow_unpinned: bool) -> list[Asset]:
        source = source_of(params, lock, allow_unpinned)
        if source is not None:
            return [source.asset]
        resources = list(params["kustomize.resources"])
        return assets_for(lock, versions.KSERVE, params.version, resources, allow_unpinned)

    def fetch(self, params: Parameters, ctx: BuildContext) -> list[FetchedAsset]:
        assets = self.assets(params, ctx.lock, ctx.settings.allow_unpinned)
        return fetch_all(assets, ctx.settings, Cache(locations.cache_dir()))

    def prebuild(self, params: Parameters, fetched: list[FetchedAsset], ctx: BuildContext) -> Built:
        """The release's (or the source's) pre-build, without the parts the parameters leave out."""
        source = source_of(params, ctx.lock, ctx.settings.allow_unpinned)
        leave_out = parts.left_out(params)
        if source is None:
            options = prebuild.BuildOptions(ctx.force, ctx.while_waiting)
            built = prebuild.build(versions.KSERVE, params.version, fetched, locations.build_dir(), options)
        else:
            _warn_rebuilt(source)
            drop = tuple(p.component for p in leave_out)
            tag = params["images.tag"] or source_tag(source)
            built = sourcebuild.build(
                source,
                fetched[0],
                locations.build_dir(),
                sourcebuild.SourceOptions(tag, drop, ctx.force),
            )
        found = parts.removal(built.all_objects(), leave_out)
        parts.warn_absent([p for p in found.absent if p.component not in built.left_out], params.version)
        return built.without(found.removed)

    def tree(self, params: Parameters, build: Built) -> dict[str, FileValue]:
        return upstream_tree(build)

    def text_index(self, build: Built, index: TextIndex) -> None:
        build.add_texts(index)

    def source_files(self, build: Built) -> dict[str, Path]:
        """The phase files as the pre-build wrote them, except those of phases that lost objects
        to a left-out part (those are written from the objects)."""
        return {upstream_file(p): build.path / phase_file(p) for p in PHASES if p not in build.edited}

    def configure(self, objs: list[Obj], ctx: ConfigureContext) -> Contribution:
        params = ctx.params
        moves = Moves(params["images.registry"], source_namespace(ctx.builds[self.name]), params.namespace)
        settings = self._settings(params, ctx.mode_settings, objs)
        out = Contribution()
        for obj in objs:
            ops = namespace_ops(obj, moves.old_ns, moves.new_ns)
            if obj.get("kind") == "ConfigMap" and (obj.get("metadata") or {}).get("name") == CONFIGMAP:
                ops += self._configmap_ops(obj, objs, settings, moves, out)
            if ops:
                out.ops[ObjectKey.of(obj)] = ops
        unused = sorted(set(settings) - set(out.config_changes) - configmap_keys(objs))
        if unused:
            raise BuildError(f"ConfigMap {CONFIGMAP} has no key {unused[0]!r} for this version")
        namespace = _namespace_object(objs, moves.new_ns)
        if namespace is not None:
            out.resources.append((NAMESPACE_FILE, [namespace]))
        self._warn(params)
        return out

    @staticmethod
    def _settings(params: Parameters, from_mode: Mapping[str, Any], objs: list[Obj]) -> Settings:
        """The ConfigMap keys to set: the mode's, plus the S3 settings of ``bucket.*``."""
        if not configmap_keys(objs):
            return {}  # KServe's CRDs alone (ModelMesh without KServe's controller): nothing to set
        settings = mode_settings(from_mode)
        bucket = bucket_settings(params)
        if bucket:
            settings.setdefault("credentials", []).extend(bucket)
        return settings

    @staticmethod
    def _configmap_ops(
        obj: Obj, objs: list[Obj], settings: Settings, moves: Moves, out: Contribution
    ) -> JsonPatch:
        values, out.config_changes = configure_configmap(obj.get("data") or {}, settings, moves)
        final = {**(obj.get("data") or {}), **values}
        digest = hashlib.sha256(json.dumps(final, sort_keys=True).encode()).hexdigest()[:16]
        restart = _controller_restart(objs, digest)
        if restart is not None:
            out.merges.append(restart)
        return [{"op": "replace", "path": pointer("data", k), "value": v} for k, v in values.items()]
