"""The render stage: pre-built upstream objects -> overlay -> configure -> validate -> ordered objects.

The whole evaluation is a kustomization tree (``upstream/``, ``overlay/``, and the generated root
layer), so the exact input the engine built can be written out (``--emit-kustomization``) and
built again by ``kubectl kustomize`` to the same objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from installer import kustomize, locations, yamlio
from installer.configure import CONFIGMAP, Configured, configure
from installer.credentials import S3Credentials, load_credentials, load_etcd_credentials
from installer.kustomize import FileTree
from installer.lock import Lock
from installer.modelmesh import BuiltModelMesh
from installer.objects import Obj
from installer.overlays import render_overlay
from installer.params import Parameters
from installer.phases import PHASES, apply_order, phase_file
from installer.pipeline import prebuilt, prebuilt_modelmesh
from installer.prebuild import Built
from installer.sources import FetchSettings
from installer.validate import KUBERNETES_VERSION, core_validator, validate_objects

log = logging.getLogger(__name__)


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


def upstream_file(phase: str) -> str:
    """Where a pre-built phase sits in the render tree. CRDs have a kustomization of their own, so
    an overlay can take KServe's CRDs alone (ModelMesh without KServe's controller)."""
    return f"upstream/crds/{phase_file(phase)}" if phase == "crds" else f"upstream/{phase_file(phase)}"


def upstream_tree(built: Built) -> dict[str, kustomize.FileValue]:
    files: dict[str, kustomize.FileValue] = {}
    names = []
    for p in PHASES:
        if built.phases.get(p):
            files[upstream_file(p)] = built.phases[p]
            names.append("crds" if p == "crds" else phase_file(p))
    files["upstream/kustomization.yaml"] = _kustomization(names)
    files["upstream/crds/kustomization.yaml"] = _kustomization(
        [phase_file("crds")] if built.phases.get("crds") else []
    )
    return files


def _kustomization(resources: list[str]) -> str:
    return yamlio.dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    )


def modelmesh_tree(
    params: Parameters, mm: BuiltModelMesh
) -> tuple[dict[str, kustomize.FileValue], list[Obj]]:
    """ModelMesh's pre-built parts the parameters select, as ``modelmesh/``; plus the quickstart's
    Secrets, which go to the root layer's Secrets file (left out of output unless asked for)."""
    scope = params["modelmesh.scope"]
    parts = ["default", f"rbac-{scope}-scope", "runtimes" if scope == "cluster" else "namespace-runtimes"]
    files: dict[str, kustomize.FileValue] = {f"modelmesh/{p}.yaml": mm.parts[p] for p in parts}
    secrets: list[Obj] = []
    if params["modelmesh.quickstart"]:
        quick = mm.parts["quickstart"]
        secrets = [o for o in quick if o.get("kind") == "Secret"]
        files["modelmesh/quickstart.yaml"] = [o for o in quick if o.get("kind") != "Secret"]
        parts.append("quickstart")
    files["modelmesh/kustomization.yaml"] = _kustomization([f"{p}.yaml" for p in parts])
    return files, secrets


def source_namespace(built: Built) -> str:
    """The namespace upstream installs into (that of its inferenceservice-config)."""
    for o in built.all_objects():
        if o.get("kind") == "ConfigMap" and o["metadata"].get("name") == CONFIGMAP:
            return str(o["metadata"].get("namespace") or "kserve")
    return "kserve"


def credentials_for(params: Parameters) -> S3Credentials | None:
    """S3 credentials, read only when model namespaces or ModelMesh's storage need them (a stray
    AWS_* variable is ignored)."""
    modelmesh_storage = params.canonical_mode == "ModelMesh" and bool(params["bucket.endpoint"])
    needed = params["modelNamespaces"] or modelmesh_storage
    return load_credentials(params["bucket.credentialsFile"]) if needed else None


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
    extra_secrets: list[Obj] = []
    mm: BuiltModelMesh | None = None
    if params.canonical_mode == "ModelMesh":
        mm = prebuilt_modelmesh(params, lock, settings)
        mm_files, extra_secrets = modelmesh_tree(params, mm)
        tree.files.update(mm_files)
    overlay_objs = kustomize.build(tree, "overlay")
    creds = credentials if credentials is not None else credentials_for(params)
    configured = configure(
        overlay_objs,
        params,
        overlay.config,
        source_namespace(built),
        credentials=creds,
        extra_secrets=extra_secrets,
        etcd=load_etcd_credentials(params["modelmesh.etcd.credentialsFile"]) if mm else None,
    )
    tree.files.update(configured.files)
    final = kustomize.build(tree, ".", built={"overlay": overlay_objs})
    if params.canonical_mode == "RawDeployment" and not params["ingress.class"]:
        log.warning(
            "ingress.class is not set: KServe's default IngressClass 'istio' has no controller unless Istio "
            "is installed; set ingress.class to your ingress controller's class"
        )
    phases = apply_order(final)
    if validate:
        report = validate_objects(
            [o for p in PHASES for o in phases[p]],
            locations.cache_dir() / "validated" / f"k8s-{kubernetes_version}.json",
            kubernetes_version,
        )
        log.debug("validated %d objects (%d from cache)", report.checked, report.cached)
    return Rendered(phases, tree, built, configured)
