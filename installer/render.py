"""The render stage: pre-built upstream objects -> overlay -> configure -> validate -> ordered objects.

The whole evaluation is a kustomization tree (``upstream/``, ``overlay/``, and the generated root
layer), so the exact input the engine built can be written out (``--emit-kustomization``) and
built again by ``kubectl kustomize`` to the same objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from installer import kustomize, locations, objects, yamlio
from installer.configure import CONFIGMAP, Configured, configure
from installer.credentials import S3Credentials, load_credentials
from installer.kustomize import FileTree
from installer.lock import Lock
from installer.objects import PHASES, Obj
from installer.overlays import render_overlay
from installer.params import Parameters
from installer.pipeline import prebuilt
from installer.prebuild import Built, phase_file
from installer.sources import FetchSettings
from installer.validate import KUBERNETES_VERSION, core_validator, validate_objects

log = logging.getLogger(__name__)

# Inside a phase: what must exist first (lightkube's rank table, trimmed to what KServe ships).
KIND_RANK = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ServiceAccount": 10,
    "Secret": 11,
    "ConfigMap": 12,
    "ClusterRole": 20,
    "ClusterRoleBinding": 21,
    "Role": 22,
    "RoleBinding": 23,
    "Service": 30,
    "Issuer": 40,
    "Certificate": 41,
}


@dataclass(frozen=True)
class Rendered:
    """Objects in apply order, by phase, plus the kustomization tree that produced them."""

    phases: dict[str, list[Obj]]
    tree: FileTree
    built: Built
    configured: Configured

    @property
    def objects(self) -> list[Obj]:
        return [o for p in PHASES for o in self.phases[p]]


def order(objs: list[Obj]) -> dict[str, list[Obj]]:
    scopes = objects.crd_scopes(objs)
    phases: dict[str, list[Obj]] = {p: [] for p in PHASES}
    for o in objs:
        phases[objects.phase_of(o, scopes)].append(o)
    for p in PHASES:
        phases[p].sort(key=lambda o: (KIND_RANK.get(str(o.get("kind")), 50), *objects.identity(o)[1:]))
    return phases


def upstream_tree(built: Built) -> dict[str, kustomize.FileValue]:
    files: dict[str, kustomize.FileValue] = {}
    names = []
    for p in PHASES:
        if built.phases.get(p):
            files[f"upstream/{phase_file(p)}"] = built.phases[p]
            names.append(phase_file(p))
    files["upstream/kustomization.yaml"] = yamlio.dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": names}
    )
    return files


def source_namespace(built: Built) -> str:
    """The namespace upstream installs into (that of its inferenceservice-config)."""
    for o in built.all_objects():
        if o.get("kind") == "ConfigMap" and o["metadata"].get("name") == CONFIGMAP:
            return str(o["metadata"].get("namespace") or "kserve")
    return "kserve"


def credentials_for(params: Parameters) -> S3Credentials | None:
    """S3 credentials, read only when model namespaces need them (a stray AWS_* variable is ignored)."""
    return load_credentials(params["bucket.credentialsFile"]) if params["modelNamespaces"] else None


def render(
    params: Parameters,
    lock: Lock,
    settings: FetchSettings,
    validate: bool = True,
    kubernetes_version: str = KUBERNETES_VERSION,
    credentials: S3Credentials | None = None,
) -> Rendered:
    warm_up = (lambda: core_validator(kubernetes_version)) if validate else None
    built = prebuilt(params, lock, settings, while_waiting=warm_up)
    overlay = render_overlay(params)
    tree = FileTree(upstream_tree(built))
    tree.files.update({f"overlay/{k}": v for k, v in overlay.files.items()})
    overlay_objs = kustomize.build(tree, "overlay")
    creds = credentials if credentials is not None else credentials_for(params)
    configured = configure(overlay_objs, params, overlay.config, source_namespace(built), credentials=creds)
    tree.files.update(configured.files)
    final = kustomize.build(tree, ".", built={"overlay": overlay_objs})
    if params.canonical_mode == "RawDeployment" and not params["ingress.class"]:
        log.warning(
            "ingress.class is not set: KServe's default IngressClass 'istio' has no controller unless Istio "
            "is installed; set ingress.class to your ingress controller's class"
        )
    phases = order(final)
    if validate:
        report = validate_objects(
            [o for p in PHASES for o in phases[p]],
            locations.cache_dir() / "validated" / f"k8s-{kubernetes_version}.json",
            kubernetes_version,
        )
        log.debug("validated %d objects (%d from cache)", report.checked, report.cached)
    return Rendered(phases, tree, built, configured)
