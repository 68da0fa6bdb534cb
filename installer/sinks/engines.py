"""What the GitOps engines sync a fleet with: an Argo CD ApplicationSet, Flux Kustomizations.

Argo CD syncs each ``clusters/<name>`` as one Application (a list generator over the clusters,
each with its destination) and orders the objects inside it by sync wave, one wave per apply
phase. The waves are kustomize patches of the Application's source, so the cluster directory
itself stays exactly the single render of that cluster (what ``kubectl kustomize`` proves).

Flux gets three Kustomizations per cluster, each at its own path: the CRD stage (Namespaces and
CRDs, waited for), the main stage (everything up to the webhooks, with health checks on the
controller Deployments) and the custom resources (the runtimes KServe's webhooks validate, applied
once the controllers that serve those webhooks are ready). Each stage is the cluster directory
minus what the other stages hold (``$patch: delete`` by target), so no object is owned by two
Kustomizations, and their union is the cluster.

Targets select by group and kind where that is exact over the objects concerned, else object by
object; :func:`covering_targets` checks that the selection is exact.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from installer import yamlio
from installer.errors import BuildError
from installer.objects import Obj, ObjectKey
from installer.phases import INDEX, PHASES

SYNC_WAVE: Final = "argocd.argoproj.io/sync-wave"
KUSTOMIZE_API: Final = "kustomize.config.k8s.io/v1beta1"
FLUX_API: Final = "kustomize.toolkit.fluxcd.io/v1"
FLUX_SOURCE_API: Final = "source.toolkit.fluxcd.io/v1"
ARGO_API: Final = "argoproj.io/v1alpha1"
SOURCE_NAME: Final = "kserve-fleet"
PREFIX: Final = "kserve-"
# Flux stages: (name suffix, directory, phases). Flux labels every object with its Kustomization's
# name, and label values stop at 63 characters: the longest name bounds a cluster's name.
STAGES: Final = (
    ("-crds", "crds", ("crds",)),
    ("", "main", ("cluster", "namespaced", "certificates", "workloads", "webhooks")),
    ("-custom-resources", "custom-resources", ("custom-resources",)),
)
MAX_CLUSTER_NAME: Final = 63 - len(PREFIX) - max(len(s) for s, _, _ in STAGES)
# cert-manager injects these after sync; Argo CD must not report them as drift.
CA_BUNDLES: Final = (
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", ".webhooks[]?.clientConfig.caBundle"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", ".webhooks[]?.clientConfig.caBundle"),
    ("apiextensions.k8s.io", "CustomResourceDefinition", ".spec.conversion.webhook.clientConfig.caBundle"),
)


@dataclass(frozen=True)
class Repository:
    """Where the fleet tree lives: ``path`` is the ``--output-dir`` inside the repository."""

    url: str
    revision: str = "main"
    path: str = ""

    def at(self, *parts: str) -> str:
        """A path in the repository, as Argo CD wants it (no leading ``./``)."""
        return posixpath.join(self.path, *parts) if self.path else posixpath.join(*parts)


@dataclass(frozen=True)
class ArgoSettings:
    """Where the ApplicationSet lives and which Argo CD project its Applications belong to."""

    namespace: str = "argocd"
    project: str = "default"


@dataclass(frozen=True)
class FluxSettings:
    """Where the Kustomizations live; ``kube_config_secrets``: one Flux reconciles every cluster,
    reaching each with the kubeconfig in Secret ``<destination>-kubeconfig`` (Cluster API's name)."""

    namespace: str = "flux-system"
    kube_config_secrets: bool = False


@dataclass(frozen=True)
class Engines:
    """The fleet file's settings for the engines."""

    repository: Repository
    argocd: ArgoSettings = ArgoSettings()
    flux: FluxSettings = FluxSettings()


@dataclass(frozen=True)
class ClusterIndex:
    """What the engines need to know of one cluster's render: each object's key and phase."""

    name: str
    destination: str
    placed: tuple[tuple[ObjectKey, str], ...]

    @classmethod
    def of(cls, name: str, destination: str, phases: Mapping[str, Sequence[Obj]]) -> ClusterIndex:
        placed = tuple((ObjectKey.of(o), p) for p in PHASES for o in phases.get(p, ()))
        return cls(name, destination, placed)

    def keys(self, phases: Iterable[str]) -> list[ObjectKey]:
        wanted = set(phases)
        return [k for k, p in self.placed if p in wanted]


# ---------------------------------------------------------------------------- targets


def _selects(target: Mapping[str, str], key: ObjectKey) -> bool:
    """Whether a kustomize target (exact values, as written here) selects ``key``; an empty or
    missing field selects any value, as in kustomize."""
    if key.kind != target["kind"] or (target.get("group") and key.group != target["group"]):
        return False
    if "name" in target and not re.fullmatch(target["name"], key.name):
        return False
    return "namespace" not in target or re.fullmatch(target["namespace"], key.namespace) is not None


def _object_target(key: ObjectKey) -> dict[str, str]:
    out = {"group": key.group, "kind": key.kind, "name": re.escape(key.name)}
    if key.namespace:
        out["namespace"] = re.escape(key.namespace)
    return out


def covering_targets(wanted: Iterable[ObjectKey], universe: Iterable[ObjectKey]) -> list[dict[str, str]]:
    """Targets that together select exactly ``wanted`` among ``universe``: one per group and kind
    where no other object of the universe answers to it, else one per object."""
    want, every = sorted(set(wanted)), set(universe) | set(wanted)
    out: list[dict[str, str]] = []
    for group, kind in sorted({(k.group, k.kind) for k in want}):
        by_kind = {"group": group, "kind": kind}
        selected = {k for k in every if _selects(by_kind, k)}
        if selected <= set(want):
            out.append(by_kind)
            continue
        for key in (k for k in want if (k.group, k.kind) == (group, kind)):
            target = _object_target(key)
            if {k for k in every if _selects(target, k)} != {key}:
                raise BuildError(f"no kustomize target selects {key} alone")
            out.append(target)
    return out


def _smp(target: Mapping[str, str], metadata: Obj, delete: bool = False) -> dict[str, Any]:
    """A strategic-merge patch of every object ``target`` selects. The body's name is only there
    because kustomize wants one: with a target, each object keeps its own name."""
    body: Obj = {
        "apiVersion": "v1",
        "kind": target["kind"],
        "metadata": {"name": "selected-by-target", **metadata},
    }
    if delete:
        body = {"$patch": "delete", **body}
    return {"target": dict(target), "patch": yamlio.dump(body)}


# ---------------------------------------------------------------------------- Flux


def stage_kustomizations(cluster: ClusterIndex, cluster_dir: str) -> dict[str, str]:
    """``{stage directory: kustomization.yaml}`` for each Flux stage that holds objects: the
    cluster directory (``cluster_dir``, relative to the stage's) minus the other stages' objects."""
    universe = [k for k, _ in cluster.placed]
    out: dict[str, str] = {}
    for _, dirname, phases in STAGES:
        if not cluster.keys(phases):
            continue
        drop = [k for k, p in cluster.placed if p not in phases]
        doc: Obj = {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": [cluster_dir]}
        if drop:
            doc["patches"] = [_smp(t, {}, delete=True) for t in covering_targets(drop, universe)]
        out[dirname] = yamlio.dump_for_review(doc)
    return out


def _health_checks(cluster: ClusterIndex) -> list[dict[str, str]]:
    """The controllers: every Deployment the render applies in its workloads phase."""
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": k.name, "namespace": k.namespace}
        for k in cluster.keys(["workloads"])
        if (k.group, k.kind) == ("apps", "Deployment")
    ]


def _stage_spec(cluster: ClusterIndex, engines: Engines, dirname: str) -> Obj:
    spec: Obj = {
        "interval": "10m",
        "retryInterval": "1m",
        "timeout": "10m" if dirname == "main" else "5m",
        "path": "./" + engines.repository.at("flux", cluster.name, dirname),
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
    }
    if dirname == "crds":
        # Wait until every CRD is Established; never delete them with this object (that would
        # delete every InferenceService of the cluster).
        spec.update(wait=True, deletionPolicy="Orphan")
    elif dirname == "main" and (checks := _health_checks(cluster)):
        spec["healthChecks"] = checks
    if engines.flux.kube_config_secrets:
        spec["kubeConfig"] = {"secretRef": {"name": f"{cluster.destination}-kubeconfig"}}
    return spec


def flux_kustomizations(cluster: ClusterIndex, engines: Engines, stages: Iterable[str]) -> list[Obj]:
    """One Flux Kustomization per stage of ``cluster`` (``stages``: those written), each depending
    on the one before."""
    present = set(stages)
    out: list[Obj] = []
    for suffix, dirname, _ in STAGES:
        if dirname not in present:
            continue
        spec = _stage_spec(cluster, engines, dirname)
        if out:
            spec = {"dependsOn": [{"name": out[-1]["metadata"]["name"]}], **spec}
        meta = {"name": f"{PREFIX}{cluster.name}{suffix}", "namespace": engines.flux.namespace}
        out.append({"apiVersion": FLUX_API, "kind": "Kustomization", "metadata": meta, "spec": spec})
    return out


def _git_ref(revision: str) -> dict[str, str]:
    """Flux's ``ref`` for a revision: a full commit, a full ref name, else a branch."""
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return {"commit": revision}
    return {"name": revision} if revision.startswith("refs/") else {"branch": revision}


def flux_source(engines: Engines) -> Obj:
    """The GitRepository every Kustomization of the fleet reads from."""
    return {
        "apiVersion": FLUX_SOURCE_API,
        "kind": "GitRepository",
        "metadata": {"name": SOURCE_NAME, "namespace": engines.flux.namespace},
        "spec": {
            "interval": "5m",
            "url": engines.repository.url,
            "ref": _git_ref(engines.repository.revision),
        },
    }


# ---------------------------------------------------------------------------- Argo CD


def wave_patches(clusters: Sequence[ClusterIndex]) -> list[dict[str, Any]]:
    """Patches that give every object of every cluster its phase's sync wave."""
    phase_of: dict[ObjectKey, str] = {}
    for c in clusters:
        for key, phase in c.placed:
            if phase_of.setdefault(key, phase) != phase:
                raise BuildError(
                    f"{key} is applied in phase {phase_of[key]} in one cluster, {phase} in another"
                )
    out: list[dict[str, Any]] = []
    for phase in PHASES:
        wanted = [k for k, p in phase_of.items() if p == phase]
        wave = {"annotations": {SYNC_WAVE: str(INDEX[phase])}}
        out += [_smp(t, wave) for t in covering_targets(wanted, phase_of)]
    return out


def application_set(clusters: Sequence[ClusterIndex], engines: Engines) -> Obj:
    """One Application per cluster directory, synced server-side, waves in phase order."""
    repo, argocd = engines.repository, engines.argocd
    elements = [
        {"cluster": c.name, "destination": c.destination, "path": repo.at("clusters", c.name)}
        for c in clusters
    ]
    source = {
        "repoURL": repo.url,
        "targetRevision": repo.revision,
        "path": "{{.path}}",
        "kustomize": {"patches": wave_patches(clusters)},
    }
    template = {
        "metadata": {"name": PREFIX + "{{.cluster}}"},
        "spec": {
            "project": argocd.project,
            "source": source,
            "destination": {"name": "{{.destination}}"},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                # KServe's CRDs are too large for client-side apply.
                "syncOptions": ["ServerSideApply=true", "RespectIgnoreDifferences=true"],
            },
            "ignoreDifferences": [
                {"group": g, "kind": k, "jqPathExpressions": [p]} for g, k, p in CA_BUNDLES
            ],
        },
    }
    spec = {
        "goTemplate": True,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{"list": {"elements": elements}}],
        # Removing a cluster from the fleet deletes its Application, never KServe on the cluster.
        "syncPolicy": {"preserveResourcesOnDeletion": True},
        "template": template,
    }
    meta = {"name": "kserve", "namespace": argocd.namespace}
    return {"apiVersion": ARGO_API, "kind": "ApplicationSet", "metadata": meta, "spec": spec}
