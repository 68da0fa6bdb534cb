"""What each mode needs on the cluster before the installer applies anything, and whether
cert-manager is there to issue the webhook certificates.

The installer installs none of these (cert-manager, Knative, Istio, etcd): it checks for them, so
that a deploy that cannot work stops before applying anything, with the missing pieces named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from installer import params
from installer.cluster.client import Cluster, Ref
from installer.cluster.readiness import crd_established, serving
from installer.objects import Obj

# cert-manager's controller Deployment carries these labels in its static manifests and its Helm
# chart, whatever the release is called; its default name is "cert-manager".
CERT_MANAGER_CONTROLLER_LABELS = {
    "app.kubernetes.io/name": "cert-manager",
    "app.kubernetes.io/component": "controller",
}


def _crd(cluster: Cluster, name: str) -> bool:
    return crd_established(cluster.get(Ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)))


def cert_manager_controller(cluster: Cluster) -> str | None:
    """namespace/name of cert-manager's controller Deployment, ready or not; None if there is none.

    Its presence is what "cert-manager is there" means to deploy: certificates will be issued, so
    it is worth waiting for their Secrets (a controller still starting counts, as when cert-manager
    is installed in the same pipeline just before).
    """
    for d in cluster.list("apps/v1", "Deployment"):
        meta = d.get("metadata") or {}
        labels = meta.get("labels") or {}
        by_labels = all(labels.get(k) == v for k, v in CERT_MANAGER_CONTROLLER_LABELS.items())
        if by_labels or meta.get("name") == "cert-manager":
            return f"{meta.get('namespace')}/{meta.get('name')}"
    return None


def certificate_secret(cert: Obj) -> Ref | None:
    """The Secret a cert-manager Certificate is issued into."""
    name = (cert.get("spec") or {}).get("secretName")
    namespace = (cert.get("metadata") or {}).get("namespace") or ""
    return Ref("v1", "Secret", str(name), str(namespace)) if name else None


def _deployment_available(cluster: Cluster, name: str) -> bool:
    """Some Deployment of that name serves (:func:`installer.cluster.readiness.serving`)."""
    return any(
        (d.get("metadata") or {}).get("name") == name and serving(d).ok
        for d in cluster.list("apps/v1", "Deployment")
    )


def missing_prerequisites(cluster: Cluster, resolved: params.Parameters) -> list[str]:
    """What the chosen mode needs that the cluster lacks (empty when ready): the checks its
    :class:`~installer.components.Mode` names, in that order."""
    from installer.components import mode_of

    return [m for name in mode_of(resolved).prerequisites for m in CHECKS[name](cluster, resolved)]


def _cert_manager_missing(cluster: Cluster, _resolved: params.Parameters) -> list[str]:
    """cert-manager's CRDs and a webhook that answers: every mode's webhooks need certificates."""
    missing: list[str] = []
    for crd in ("certificates.cert-manager.io", "issuers.cert-manager.io"):
        if not _crd(cluster, crd):
            missing.append(f"cert-manager CRD {crd}")
    if not _deployment_available(cluster, "cert-manager-webhook"):
        missing.append("a ready cert-manager webhook (Deployment cert-manager-webhook)")
    return missing


def _serverless_missing(cluster: Cluster, resolved: params.Parameters) -> list[str]:
    """Knative Serving, Istio, and the two gateways Knative routes through."""
    missing: list[str] = []
    if not _crd(cluster, "services.serving.knative.dev"):
        missing.append("Knative Serving (CRD services.serving.knative.dev)")
    if not _crd(cluster, "gateways.networking.istio.io"):
        return [*missing, "Istio (CRD gateways.networking.istio.io)"]
    kn = resolved["knative.namespace"]
    for gw in (resolved["knative.ingressGateway"], resolved["knative.localGateway"]):
        if cluster.get(Ref("networking.istio.io/v1beta1", "Gateway", gw, kn)) is None:
            missing.append(f"Istio Gateway {kn}/{gw}")
    return missing


def _modelmesh_missing(cluster: Cluster, resolved: params.Parameters) -> list[str]:
    """The etcd Secret (unless the installer builds it) and the user namespaces it labels."""
    missing: list[str] = []
    builds_it = resolved["modelmesh.etcd.endpoints"] or resolved["modelmesh.quickstart"]
    mm = resolved["modelmesh.namespace"]
    if not builds_it and cluster.get(Ref("v1", "Secret", "model-serving-etcd", mm)) is None:
        missing.append(
            f"Secret {mm}/model-serving-etcd (key etcd_connection), or set modelmesh.etcd.endpoints "
            "or modelmesh.quickstart=true"
        )
    for user in resolved["modelmesh.userNamespaces"]:
        if cluster.get(Ref("v1", "Namespace", user)) is None:
            missing.append(f"Namespace {user} (modelmesh.userNamespaces must exist)")
    return missing


Check = Callable[[Cluster, params.Parameters], list[str]]
# What a mode may name in its ``prerequisites`` (installer.components.MODES).
CHECKS: Final[dict[str, Check]] = {
    "cert-manager": _cert_manager_missing,
    "knative-istio": _serverless_missing,
    "modelmesh-etcd": _modelmesh_missing,
}
