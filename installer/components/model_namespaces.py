"""Model namespaces: where InferenceServices run, each with its storage credentials.

``modelNamespaces`` entries are a name (from ``--set``, the environment or a values file) or, in
a values file, a mapping ``{name, create, bucket: {endpoint, region, verifySsl, credentialsFile}}``.
Unset storage fields fall back to the global ``bucket.*`` parameters, so the common case stays one
list. Each namespace gets what KServe's S3 documentation sets up by hand: a Secret with the keys
the storage initializer reads, annotated for the namespace's endpoint, and a ServiceAccount that
lists it (InferenceServices name the ServiceAccount). With ``runtimes.scope=namespace`` every
ClusterServingRuntime becomes a ServingRuntime in each model namespace instead (platforms that
allow no cluster-scoped runtimes, such as OpenDataHub).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import images, objects
from installer.components.base import BuildContext, ConfigureContext, Contribution
from installer.credentials import S3Credentials
from installer.errors import ParameterError
from installer.kustomize import FileValue
from installer.lock import Asset, Lock
from installer.objects import Obj, ObjectKey
from installer.parameters import Parameters, s3_endpoint_parts
from installer.sources import FetchedAsset
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)

S3_SECRET = "kserve-s3-credentials"  # noqa: S105 (the Secret's name, not a value)
S3_SERVICE_ACCOUNT = "kserve-s3"
RUNTIMES_FILE = "namespace-runtimes.yaml"
MODEL_NAMESPACES_FILE = "model-namespaces.yaml"
GLOBAL_CREDENTIALS = "bucket.credentialsFile"
MANAGED = {"app.kubernetes.io/managed-by": "kserve-installer"}


@dataclass(frozen=True)
class ModelNamespace:
    name: str
    create: bool
    endpoint: str | None
    region: str | None
    verify_ssl: bool | None
    credentials_file: str | None
    # Where its credentials file was given, for error messages that name the parameter.
    credentials_parameter: str


def model_namespaces(params: Parameters) -> list[ModelNamespace]:
    out: list[ModelNamespace] = []
    seen: set[str] = set()
    for i, raw in enumerate(params["modelNamespaces"] or []):
        entry: dict[str, Any] = {"name": raw} if isinstance(raw, str) else dict(raw)
        bucket = dict(entry.get("bucket") or {})
        name = str(entry["name"])
        if name in seen:
            raise ParameterError("modelNamespaces", f"{name} is listed twice")
        seen.add(name)
        own_file = bucket.get("credentialsFile")
        out.append(
            ModelNamespace(
                name=name,
                create=bool(entry.get("create", True)),
                endpoint=bucket.get("endpoint", params["bucket.endpoint"]),
                region=bucket.get("region", params["bucket.region"]),
                verify_ssl=bucket.get("verifySsl", params["bucket.verifySsl"]),
                credentials_file=own_file or params["bucket.credentialsFile"],
                credentials_parameter=(
                    f"modelNamespaces[{i}].bucket.credentialsFile" if own_file else GLOBAL_CREDENTIALS
                ),
            )
        )
    return out


def names(params: Parameters) -> list[str]:
    return [ns.name for ns in model_namespaces(params)]


def own_credential_files(params: Parameters) -> dict[str, str]:
    """Credentials files of entries with a bucket of their own, by the parameter naming them."""
    return {
        ns.credentials_parameter: ns.credentials_file
        for ns in model_namespaces(params)
        if ns.credentials_parameter != GLOBAL_CREDENTIALS and ns.credentials_file
    }


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


def _namespace(ns: ModelNamespace) -> Obj:
    """A namespace the installer creates, or (``create: false``) a labels-only object with no
    labels, which deploy only checks for: it never creates or deletes it."""
    meta: dict[str, Any] = {"name": ns.name}
    if ns.create:
        meta["labels"] = dict(MANAGED)
    else:
        meta["annotations"] = dict(objects.LABELS_ONLY_ANNOTATIONS)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _secret(ns: ModelNamespace, creds: S3Credentials) -> Obj:
    meta: dict[str, Any] = {"name": S3_SECRET, "namespace": ns.name, "labels": dict(MANAGED)}
    annotations = s3_annotations(ns)
    if annotations:
        meta["annotations"] = annotations
    key_id, secret_key = creds.values()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret_key},
    }


def model_namespace_objects(
    params: Parameters,
    credentials: S3Credentials | None,
    by_file: dict[str, S3Credentials | None] | None = None,
    owned: frozenset[str] = frozenset(),
) -> tuple[list[Obj], list[Obj]]:
    """(Namespaces and ServiceAccounts, Secrets) for each model namespace. Without credentials
    only the ServiceAccount is rendered and the Secret must be provided out of band. Namespaces in
    ``owned`` are created or labelled by another component, so no Namespace is rendered for them."""
    objs: list[Obj] = []
    secrets: list[Obj] = []
    missing: list[str] = []
    for ns in model_namespaces(params):
        if ns.name not in owned:
            objs.append(_namespace(ns))
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": S3_SERVICE_ACCOUNT, "namespace": ns.name, "labels": dict(MANAGED)},
                "secrets": [{"name": S3_SECRET}],
            }
        )
        own = credentials
        if ns.credentials_parameter != GLOBAL_CREDENTIALS:
            own = (by_file or {}).get(ns.credentials_parameter)
        if own is None:
            missing.append(ns.name)
        else:
            secrets.append(_secret(ns, own))
    if missing:
        log.warning(
            "no S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or bucket.credentialsFile): "
            "provide Secret %s out of band in %s",
            S3_SECRET,
            ", ".join(missing),
        )
    return objs, secrets


def namespace_runtimes(objs: list[Obj], params: Parameters) -> list[Obj]:
    """Every ClusterServingRuntime as a ServingRuntime (same spec) in each model namespace; images
    already pointing at ``images.registry`` when it is set."""
    registry = params["images.registry"]
    out: list[Obj] = []
    for obj in objs:
        if obj.get("kind") != "ClusterServingRuntime":
            continue
        spec = json.loads(json.dumps(obj.get("spec") or {}))
        if registry:
            images.relocate_all(spec, registry)
        meta = obj.get("metadata") or {}
        for ns in names(params):
            out.append(
                {
                    "apiVersion": obj["apiVersion"],
                    "kind": "ServingRuntime",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": ns,
                        "labels": {**(meta.get("labels") or {}), **MANAGED},
                    },
                    "spec": spec,
                }
            )
    return out


class ModelNamespaces:
    """The model namespaces component (selected in every mode; it adds nothing without entries)."""

    name = "model-namespaces"

    def check(self, params: Parameters) -> None:
        namespaces = model_namespaces(params)  # duplicate names are refused here, before any fetch
        if params["runtimes.scope"] == "namespace" and not namespaces:
            raise ParameterError(
                "runtimes.scope",
                "namespace puts the serving runtimes into the model namespaces, and modelNamespaces is "
                "empty: no runtime would be installed; list modelNamespaces or use runtimes.scope=cluster",
            )
        if not namespaces and "bucket.verifySsl" in params.origins:
            log.warning(
                "bucket.verifySsl has no effect without modelNamespaces: it annotates their S3 Secrets "
                "(from %s)",
                params.origins["bucket.verifySsl"],
            )

    def credentials(self, params: Parameters) -> frozenset[str]:
        return frozenset({"s3"}) if params["modelNamespaces"] else frozenset()

    def namespaces(self, params: Parameters) -> frozenset[str]:
        return frozenset()

    def assets(self, params: Parameters, lock: Lock, allow_unpinned: bool) -> list[Asset]:
        return []

    def fetch(self, params: Parameters, ctx: BuildContext) -> list[FetchedAsset]:
        return []

    def prebuild(self, params: Parameters, fetched: list[FetchedAsset], ctx: BuildContext) -> None:
        return None

    def tree(self, params: Parameters, build: Any) -> dict[str, FileValue]:
        return {}

    def text_index(self, build: Any, index: TextIndex) -> None:
        return None

    def source_files(self, build: Any) -> dict[str, Path]:
        return {}

    def configure(self, objs: list[Obj], ctx: ConfigureContext) -> Contribution:
        out = Contribution()
        if ctx.params["runtimes.scope"] == "namespace":
            out.deletes = [ObjectKey.of(o) for o in objs if o.get("kind") == "ClusterServingRuntime"]
            runtimes = namespace_runtimes(objs, ctx.params)
            if runtimes:
                out.resources.append((RUNTIMES_FILE, runtimes))
        accounts, secrets = model_namespace_objects(
            ctx.params, ctx.credentials.s3, dict(ctx.credentials.by_file), ctx.owned_namespaces
        )
        if accounts:
            out.resources.append((MODEL_NAMESPACES_FILE, accounts))
        out.secrets = secrets
        return out
