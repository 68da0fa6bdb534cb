"""kustomize's built-in field specs: where its transformers act when no configuration says more.

Transcribed as data from kustomize v5.5's ``api/internal/konfig/builtinpluginconsts`` (Apache-2.0):
the results must be kustomize's, so the places it touches must be its places. Each entry is
(path, kind, group, version, create). Only the categories this engine implements are here;
``nameReference`` keeps only the references whose target is a mapping with a namespace (webhook
Services, binding subjects), because names never change in this engine (no prefixes, suffixes
or hashes; renaming patches are refused), so references by name alone never need fixing.
"""

from __future__ import annotations

from typing import Final

Spec = tuple[str, str, str, str, bool]

METADATA_LABELS: Final[tuple[Spec, ...]] = (
    ("metadata/labels", "", "", "", True),
    ("spec/template/metadata/labels", "ReplicationController", "", "v1", True),
    ("spec/template/metadata/labels", "Deployment", "", "", True),
    ("spec/template/metadata/labels", "ReplicaSet", "", "", True),
    ("spec/template/metadata/labels", "DaemonSet", "", "", True),
    ("spec/template/metadata/labels", "StatefulSet", "apps", "", True),
    ("spec/volumeClaimTemplates[]/metadata/labels", "StatefulSet", "apps", "", True),
    ("spec/template/metadata/labels", "Job", "batch", "", True),
    ("spec/jobTemplate/metadata/labels", "CronJob", "batch", "", True),
    ("spec/jobTemplate/spec/template/metadata/labels", "CronJob", "batch", "", True),
)

_AFFINITY: Final = tuple(
    f"spec/template/spec/affinity/{kind}/{term}"
    for kind in ("podAffinity", "podAntiAffinity")
    for term in (
        "preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        "requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    )
)
_SPREAD: Final = "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels"

COMMON_LABELS: Final[tuple[Spec, ...]] = (
    ("spec/selector", "Service", "", "v1", True),
    ("spec/selector", "ReplicationController", "", "v1", True),
    ("spec/selector/matchLabels", "Deployment", "", "", True),
    *((path, "Deployment", "apps", "", False) for path in (*_AFFINITY, _SPREAD)),
    ("spec/selector/matchLabels", "ReplicaSet", "", "", True),
    ("spec/selector/matchLabels", "DaemonSet", "", "", True),
    ("spec/selector/matchLabels", "StatefulSet", "apps", "", True),
    *((path, "StatefulSet", "apps", "", False) for path in (*_AFFINITY, _SPREAD)),
    ("spec/selector/matchLabels", "Job", "batch", "", False),
    ("spec/jobTemplate/spec/selector/matchLabels", "CronJob", "batch", "", False),
    ("spec/selector/matchLabels", "PodDisruptionBudget", "policy", "", False),
    ("spec/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", "", False),
    ("spec/ingress/from/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", "", False),
    ("spec/egress/to/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", "", False),
    *METADATA_LABELS,
)

COMMON_ANNOTATIONS: Final[tuple[Spec, ...]] = (
    ("metadata/annotations", "", "", "", True),
    ("spec/template/metadata/annotations", "ReplicationController", "", "v1", True),
    ("spec/template/metadata/annotations", "Deployment", "", "", True),
    ("spec/template/metadata/annotations", "ReplicaSet", "", "", True),
    ("spec/template/metadata/annotations", "DaemonSet", "", "", True),
    ("spec/template/metadata/annotations", "StatefulSet", "", "", True),
    ("spec/template/metadata/annotations", "Job", "batch", "", True),
    ("spec/jobTemplate/metadata/annotations", "CronJob", "batch", "", True),
    ("spec/jobTemplate/spec/template/metadata/annotations", "CronJob", "batch", "", True),
)

NAMESPACE: Final[tuple[Spec, ...]] = (
    ("metadata/name", "Namespace", "", "", True),
    ("spec/service/namespace", "APIService", "apiregistration.k8s.io", "", True),
    (
        "spec/conversion/webhook/clientConfig/service/namespace",
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "",
        False,
    ),
)

IMAGES: Final[tuple[Spec, ...]] = tuple(
    (f"{prefix}{containers}[]/image", "", "", "", True)
    for prefix in ("spec/", "spec/template/spec/")
    for containers in ("containers", "initContainers")
)

_POD_VARS: Final = tuple(
    f"{containers}/{leaf}"
    for containers in ("containers", "initContainers")
    for leaf in ("args", "command", "env/value", "volumeMounts/mountPath")
)
VAR_REFERENCE: Final[tuple[Spec, ...]] = (
    *((f"spec/jobTemplate/spec/template/spec/{p}", "CronJob", "", "", False) for p in _POD_VARS),
    ("spec/jobTemplate/spec/template/volumes/nfs/server", "CronJob", "", "", False),
    *(
        (f"spec/template/spec/{p}", kind, "", "", False)
        for kind in ("DaemonSet", "Deployment", "Job", "ReplicaSet", "StatefulSet")
        for p in (*_POD_VARS, *(() if kind == "StatefulSet" else ("volumes/nfs/server",)))
    ),
    ("spec/template/metadata/annotations", "Deployment", "", "", False),
    ("spec/rules/host", "Ingress", "", "", False),
    ("spec/tls/hosts", "Ingress", "", "", False),
    ("spec/tls/secretName", "Ingress", "", "", False),
    *((f"spec/{p}", "Pod", "", "", False) for p in (*_POD_VARS, "volumes/nfs/server")),
    ("spec/ports/port", "Service", "", "", False),
    ("spec/ports/targetPort", "Service", "", "", False),
    ("spec/volumeClaimTemplates/spec/nfs/server", "StatefulSet", "", "", False),
    ("spec/nfs/server", "PersistentVolume", "", "", False),
    ("metadata/labels", "", "", "", False),
    ("metadata/annotations", "", "", "", False),
)

# (referral kind, group, version) -> referrer specs.
NAME_REFERENCE: Final[tuple[tuple[tuple[str, str, str], tuple[Spec, ...]], ...]] = (
    (
        ("Service", "", "v1"),
        tuple(
            ("webhooks/clientConfig/service", kind, "admissionregistration.k8s.io", "", False)
            for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
        ),
    ),
    (
        ("ServiceAccount", "", "v1"),
        tuple(
            ("subjects", kind, "rbac.authorization.k8s.io", "", False)
            for kind in ("RoleBinding", "ClusterRoleBinding")
        ),
    ),
)
