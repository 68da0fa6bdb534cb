"""Configure: what plain kustomize cannot say, generated as one more kustomization layer.

The ``inferenceservice-config`` ConfigMap holds JSON documents as strings; kustomize can only
replace a whole string. Here each JSON value is parsed, only the keys that parameters set are
changed, and the result is serialized back, so every upstream default the user did not touch
survives, in every version. The same stage fixes what kustomize's ``namespace:`` leaves behind
(Certificate DNS names, ``cert-manager.io/inject-ca-from``, service references inside the
ConfigMap JSON, the namespace kustomize puts on cluster-scoped custom resources) and rewrites
every image to ``images.registry``.

The output is a set of JSON 6902 patches in a root ``kustomization.yaml`` over the overlay, so
``kubectl kustomize`` of the emitted tree reproduces the render exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from installer import modelmesh, objects, yamlio
from installer.credentials import EtcdCredentials, S3Credentials, load_credentials
from installer.errors import BuildError
from installer.model_namespaces import ModelNamespace, model_namespaces
from installer.model_namespaces import names as model_namespace_names
from installer.objects import Obj
from installer.params import Parameters, s3_endpoint_parts

log = logging.getLogger(__name__)

CONFIGMAP = "inferenceservice-config"
CONTROLLER = "kserve-controller-manager"
CONFIG_DIGEST_ANNOTATION = "installer.kserve.io/config-digest"
INJECT_CA = "cert-manager.io/inject-ca-from"
# Keys of inferenceservice-config whose value is not JSON (commented pseudo-JSON): never parsed.
NOT_JSON = frozenset({"_example"})


@dataclass
class Configured:
    """The generated root layer: its kustomization files, and what it set (for messages)."""

    files: dict[str, str] = field(default_factory=dict)
    config_changes: dict[str, list[str]] = field(default_factory=dict)
    namespace_object: Obj | None = None


def _pointer(*parts: str | int) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _walk_strings(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk_strings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_strings(v, (*path, i))
    elif isinstance(node, str):
        yield path, node


def _image_strings(node: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, value) of every non-empty ``image`` field below ``node``."""
    for path, text in list(_walk_strings(node)):
        if path and path[-1] == "image" and text:
            yield path, text


def _set_at(root: Any, path: tuple[str | int, ...], value: Any) -> None:
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


# ---------------------------------------------------------------------------- images


def relocate_image(ref: str, registry: str) -> str:
    """``quay.io/brancz/kube-rbac-proxy:v0.18.0`` -> ``REGISTRY/brancz/kube-rbac-proxy:v0.18.0``.

    The source registry host (a first path segment with a dot or port, or ``localhost``) is
    dropped and the rest of the path kept, so images from different registries stay apart only
    by their path: the layout ``skopeo sync`` and most mirroring tools produce.
    """
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        ref = rest
    return f"{registry.rstrip('/')}/{ref}"


def _is_image_key(key: str | int) -> bool:
    return isinstance(key, str) and (key == "image" or key.endswith("Image"))


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


def mode_settings(config: Mapping[str, Any]) -> dict[str, list[tuple[list[str], Any]]]:
    """Flatten the overlay's ConfigMap settings to ``{data key: [(json path, value)]}``, nulls dropped."""
    out: dict[str, list[tuple[list[str], Any]]] = {}

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


def configure_configmap(
    data: Mapping[str, Any],
    settings: Mapping[str, list[tuple[list[str], Any]]],
    registry: str | None,
    old_ns: str,
    new_ns: str,
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """New string values for the ConfigMap keys that change, and which JSON paths changed."""
    new_values: dict[str, str] = {}
    changes: dict[str, list[str]] = {}
    for key, raw in data.items():
        if key in NOT_JSON or not isinstance(raw, str):
            continue
        wanted = settings.get(key, [])
        if not wanted and not registry and old_ns == new_ns:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            if wanted:
                raise BuildError(
                    f"ConfigMap {CONFIGMAP}: data.{key} is not JSON, cannot set {wanted[0][0]}"
                ) from None
            continue
        if not isinstance(doc, dict):
            continue
        touched: list[str] = []
        for json_path, value in wanted:
            if set_path(doc, json_path, value):
                touched.append(".".join(json_path))
        for path, text in list(_walk_strings(doc)):
            new = text
            if registry and path and _is_image_key(path[-1]) and text:
                new = relocate_image(text, registry)
            if old_ns != new_ns:
                new = new.replace(f".{old_ns}.svc", f".{new_ns}.svc")
                if path and path[-1] == "kserveIngressGateway" and new.startswith(f"{old_ns}/"):
                    new = f"{new_ns}/{new[len(old_ns) + 1 :]}"
            if new != text:
                _set_at(doc, path, new)
                touched.append(".".join(map(str, path)))
        if touched:
            new_values[key] = json.dumps(doc, indent=4)
            changes[key] = touched
    return new_values, changes


# ---------------------------------------------------------------------------- per-object ops


def _object_ops(
    obj: Obj, registry: str | None, old_ns: str, new_ns: str, cluster_kinds: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    meta = obj.get("metadata") or {}
    key = (objects.group_of(obj), str(obj.get("kind")))
    if key in cluster_kinds and meta.get("namespace"):
        ops.append({"op": "remove", "path": "/metadata/namespace"})
    if old_ns != new_ns:
        ann = (meta.get("annotations") or {}).get(INJECT_CA)
        if isinstance(ann, str) and ann.startswith(f"{old_ns}/"):
            value = f"{new_ns}/{ann[len(old_ns) + 1 :]}"
            ops.append(
                {"op": "replace", "path": _pointer("metadata", "annotations", INJECT_CA), "value": value}
            )
        if obj.get("kind") == "Certificate" and objects.group_of(obj) == objects.CERT_MANAGER_GROUP:
            for path, text in _walk_strings(obj.get("spec") or {}, ("spec",)):
                if f".{old_ns}.svc" in text:
                    new = text.replace(f".{old_ns}.svc", f".{new_ns}.svc")
                    ops.append({"op": "replace", "path": _pointer(*path), "value": new})
    if registry and obj.get("kind") != "CustomResourceDefinition":
        for path, text in _image_strings(obj):
            ops.append({"op": "replace", "path": _pointer(*path), "value": relocate_image(text, registry)})
    return ops


def _target(obj: Obj) -> dict[str, str]:
    api = str(obj["apiVersion"])
    meta = obj.get("metadata") or {}
    target = {"group": objects.group_of(obj), "version": api.split("/", 1)[-1], "kind": str(obj["kind"])}
    target["name"] = re.escape(str(meta["name"]))
    if meta.get("namespace"):
        target["namespace"] = re.escape(str(meta["namespace"]))
    return target


def _file_name(index: int, obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    parts = [str(obj["kind"]).lower(), str(meta.get("namespace") or ""), str(meta["name"])]
    slug = re.sub(r"[^a-z0-9.-]+", "-", "-".join(p for p in parts if p).lower())
    return f"patches/{index:03d}-{slug}.yaml"


RUNTIMES_FILE = "namespace-runtimes.yaml"
S3_SECRET = "kserve-s3-credentials"
S3_SERVICE_ACCOUNT = "kserve-s3"
SECRETS_FILE = "secrets.yaml"
MODEL_NAMESPACES_FILE = "model-namespaces.yaml"
MODELMESH_FILE = "modelmesh.yaml"


def s3_annotations(ns: ModelNamespace) -> dict[str, str]:
    """KServe's S3 annotations for a namespace's storage: endpoint host[:port] without scheme,
    use-https "0"/"1" from the scheme, region, verify-ssl "0"/"1" when set."""
    annotations: dict[str, str] = {}
    if ns.endpoint:
        parts = s3_endpoint_parts(ns.endpoint)
        if parts:
            annotations["serving.kserve.io/s3-endpoint"] = parts[0]
            annotations["serving.kserve.io/s3-usehttps"] = "1" if parts[1] else "0"
    if ns.region:
        annotations["serving.kserve.io/s3-region"] = ns.region
    if ns.verify_ssl is not None:
        annotations["serving.kserve.io/s3-verifyssl"] = "1" if ns.verify_ssl else "0"
    return annotations


def model_namespace_objects(params: Parameters, creds: S3Credentials | None) -> tuple[list[Obj], list[Obj]]:
    """(Namespaces and ServiceAccounts, Secrets) for each model namespace, as KServe's S3 docs
    set them up.

    The Secret carries the keys KServe's storage initializer reads, annotated for the namespace's
    storage; the ServiceAccount lists it, and InferenceServices name the ServiceAccount. Without
    credentials only the ServiceAccount is rendered and the Secret must be provided out of band.
    A namespace is created unless its entry says ``create: false``: then it is a labels-only
    object with no labels, which deploy only checks for (it never creates or deletes it).
    """
    labels = {"app.kubernetes.io/managed-by": "kserve-installer"}
    user_namespaces = (
        set(params["modelmesh.userNamespaces"]) if params.canonical_mode == "ModelMesh" else set()
    )
    reserved = {
        params.namespace,
        params["modelmesh.namespace"] if params.canonical_mode == "ModelMesh" else "",
    }
    objs: list[Obj] = []
    secrets: list[Obj] = []
    missing_credentials: list[str] = []
    for ns in model_namespaces(params):
        if ns.name not in user_namespaces and ns.name not in reserved:
            meta: dict[str, Any] = {"name": ns.name}
            if ns.create:
                meta["labels"] = dict(labels)
            else:
                meta["annotations"] = dict(objects.LABELS_ONLY_ANNOTATIONS)
            objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": S3_SERVICE_ACCOUNT, "namespace": ns.name, "labels": dict(labels)},
                "secrets": [{"name": S3_SECRET}],
            }
        )
        own = creds
        if ns.credentials_parameter != "bucket.credentialsFile":
            own = load_credentials(ns.credentials_file, parameter=ns.credentials_parameter)
        if own is None:
            missing_credentials.append(ns.name)
            continue
        secret_meta: dict[str, Any] = {"name": S3_SECRET, "namespace": ns.name, "labels": dict(labels)}
        annotations = s3_annotations(ns)
        if annotations:
            secret_meta["annotations"] = annotations
        key_id, secret_key = own.values()
        secrets.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": secret_meta,
                "type": "Opaque",
                "stringData": {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret_key},
            }
        )
    if missing_credentials:
        log.warning(
            "no S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or bucket.credentialsFile): "
            "provide Secret %s out of band in %s",
            S3_SECRET,
            ", ".join(missing_credentials),
        )
    return objs, secrets


def namespace_runtimes(objs: list[Obj], params: Parameters) -> list[Obj]:
    """Every ClusterServingRuntime as a ServingRuntime (same spec) in each model namespace.

    For platforms that allow no cluster-scoped runtimes (OpenDataHub): the spec is copied as
    rendered, images already pointing at ``images.registry`` when it is set.
    """
    registry = params["images.registry"]
    out: list[Obj] = []
    for obj in objs:
        if obj.get("kind") != "ClusterServingRuntime":
            continue
        spec = json.loads(json.dumps(obj.get("spec") or {}))
        if registry:
            for path, text in _image_strings(spec):
                _set_at(spec, path, relocate_image(text, registry))
        meta = obj.get("metadata") or {}
        for ns in model_namespace_names(params):
            out.append(
                {
                    "apiVersion": obj["apiVersion"],
                    "kind": "ServingRuntime",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": ns,
                        "labels": {
                            **(meta.get("labels") or {}),
                            "app.kubernetes.io/managed-by": "kserve-installer",
                        },
                    },
                    "spec": spec,
                }
            )
    return out


def configure(
    objs: list[Obj],
    params: Parameters,
    overlay_config: Mapping[str, Any],
    source_namespace: str,
    overlay_dir: str = "overlay",
    credentials: S3Credentials | None = None,
    extra_secrets: list[Obj] | None = None,
    etcd: EtcdCredentials | None = None,
) -> Configured:
    """Generate the root kustomization (over ``overlay_dir``) that configures the overlay's output."""
    new_ns = params.namespace
    registry = params["images.registry"]
    settings = mode_settings(overlay_config)
    bucket = bucket_settings(params)
    if bucket:
        settings.setdefault("credentials", []).extend(bucket)
    if not _configmap_keys(objs):
        settings = {}  # KServe's CRDs alone (ModelMesh without KServe's controller): nothing to set
    scopes = objects.crd_scopes(objs)
    cluster_kinds = {k for k, scope in scopes.items() if scope == "Cluster"}

    result = Configured()
    entries: list[dict[str, Any]] = []
    patch_files: dict[str, str] = {}
    config_digest: str | None = None
    per_namespace = params["runtimes.scope"] == "namespace"
    for obj in objs:
        meta = obj.get("metadata") or {}
        if per_namespace and obj.get("kind") == "ClusterServingRuntime":
            name = _file_name(len(entries), obj)
            delete = {
                "$patch": "delete",
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "metadata": {
                    "name": meta["name"],
                    **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
                },
            }
            patch_files[name] = yamlio.dump(delete)
            entries.append({"path": name})
            continue
        ops = _object_ops(obj, registry, source_namespace, new_ns, cluster_kinds)
        if obj.get("kind") == "ConfigMap" and meta.get("name") == CONFIGMAP:
            values, changes = configure_configmap(
                obj.get("data") or {}, settings, registry, source_namespace, new_ns
            )
            ops += [{"op": "replace", "path": _pointer("data", k), "value": v} for k, v in values.items()]
            result.config_changes = changes
            final = {**(obj.get("data") or {}), **values}
            config_digest = hashlib.sha256(json.dumps(final, sort_keys=True).encode()).hexdigest()[:16]
        if ops:
            name = _file_name(len(entries), obj)
            patch_files[name] = yamlio.dump(ops)
            entries.append({"path": name, "target": _target(obj)})
    unused = sorted(set(settings) - set(result.config_changes) - _configmap_keys(objs))
    if unused:
        raise BuildError(f"ConfigMap {CONFIGMAP} has no key {unused[0]!r} for this version")

    controller = next(
        (
            o
            for o in objs
            if o.get("kind") == "Deployment" and (o.get("metadata") or {}).get("name") == CONTROLLER
        ),
        None,
    )
    if controller is not None and config_digest is not None:
        # The controller validates deploy/ingress only at start-up: restart it when they change.
        name = _file_name(len(entries), controller)
        smp = {
            "apiVersion": controller["apiVersion"],
            "kind": "Deployment",
            "metadata": {"name": CONTROLLER},
            "spec": {"template": {"metadata": {"annotations": {CONFIG_DIGEST_ANNOTATION: config_digest}}}},
        }
        patch_files[name] = yamlio.dump(smp)
        entries.append({"path": name, "target": _target(controller)})

    resources: list[str] = [overlay_dir]
    if not any(o.get("kind") == "Namespace" and o["metadata"]["name"] == new_ns for o in objs):
        # KServe v0.17+ ships no Namespace object: create it.
        ns_obj: Obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": new_ns, "labels": {"app.kubernetes.io/managed-by": "kserve-installer"}},
        }
        patch_files["namespace.yaml"] = yamlio.dump(ns_obj)
        resources.append("namespace.yaml")
        result.namespace_object = ns_obj
    if per_namespace:
        runtimes = namespace_runtimes(objs, params)
        if runtimes:
            patch_files[RUNTIMES_FILE] = yamlio.dump_all(runtimes)
            resources.append(RUNTIMES_FILE)
    accounts, secrets = model_namespace_objects(params, credentials)
    if accounts:
        patch_files[MODEL_NAMESPACES_FILE] = yamlio.dump_all(accounts)
        resources.append(MODEL_NAMESPACES_FILE)
    if params.canonical_mode == "ModelMesh":
        images = (
            modelmesh.image_overrides(objs, lambda ref: relocate_image(ref, registry)) if registry else {}
        )
        mm_objs, mm_secrets = modelmesh.root_objects(params, credentials, etcd, extra_secrets or [], images)
        if mm_objs:
            patch_files[MODELMESH_FILE] = yamlio.dump_all(mm_objs)
            resources.append(MODELMESH_FILE)
        secrets += mm_secrets
    if secrets:
        patch_files[SECRETS_FILE] = yamlio.dump_all(secrets)
        resources.append(SECRETS_FILE)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    if entries:
        kustomization["patches"] = entries
    result.files = {"kustomization.yaml": yamlio.dump(kustomization), **patch_files}
    return result


def _configmap_keys(objs: list[Obj]) -> set[str]:
    for o in objs:
        if o.get("kind") == "ConfigMap" and (o.get("metadata") or {}).get("name") == CONFIGMAP:
            return set((o.get("data") or {}).keys())
    return set()
