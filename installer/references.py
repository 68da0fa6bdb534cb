"""What an install's objects refer to, by identity: the graph that leaving a part out must keep whole.

Kubernetes objects name each other in a handful of well-known fields, and an install breaks
quietly when a target is missing: a webhook whose Service is gone fails every admission request,
a binding to a missing ServiceAccount grants nothing, a Certificate without its issuer is never
issued. :func:`references` lists those references of a set of objects; :func:`dangling` says
which ones point at nothing in the set. The optional parts (:mod:`installer.components.parts`)
use the same graph to find everything a left-out part brings, and the tests check every render
with :func:`dangling`.

A reference is satisfied when any of its ``targets`` is present (a Service selects the pods of
any matching workload; a Secret volume is satisfied by the Certificate that issues that Secret
or by the Secret itself). References to what an install never ships are not listed: built-in
resources, objects of other products (Knative's gateways, Istio's services), and Secrets that
no Certificate of the set issues (users and other tools create them, or they are optional).

Written here rather than taken from a library: no maintained Python package models references
between manifests (kubeconform and friends validate schemas, not the graph), and the fields are
few and stable (core/v1, rbac/v1, admissionregistration/v1, apiextensions/v1, cert-manager/v1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from installer.objects import CERT_MANAGER_GROUP, WEBHOOK_KINDS, WORKLOAD_KINDS, Obj, ObjectKey, group_of

RBAC: Final = "rbac.authorization.k8s.io"
CRD_GROUP: Final = "apiextensions.k8s.io"
INJECT_CA: Final = "cert-manager.io/inject-ca-from"
# KServe's own API group: a custom resource or a webhook rule in it must find its CRD in the set
# (so must one in any other group a CRD of the set defines).
KSERVE_GROUP_SUFFIX: Final = "kserve.io"


@dataclass(frozen=True)
class Ref:
    """``source`` needs one of ``targets`` (found through ``field``); ``consumer`` marks a
    reference by which the source uses the target (a pod runs as a ServiceAccount, a webhook
    calls a Service), as opposed to one that only names it (a binding names its subjects)."""

    source: ObjectKey
    field: str
    targets: tuple[ObjectKey, ...]
    consumer: bool = True

    def describe(self) -> str:
        want = " or ".join(str(t) for t in self.targets) or "a matching object"
        return f"{self.source} {self.field} -> {want}"


def _key(group: str, kind: str, namespace: str, name: str) -> ObjectKey:
    return ObjectKey(group, kind, namespace, name)


def _crd_key(plural: str, group: str) -> ObjectKey:
    return _key(CRD_GROUP, "CustomResourceDefinition", "", f"{plural}.{group}")


class Index:
    """What references are resolved against: CRDs by (group, kind), Certificates by Secret name,
    workloads by namespace with their pod labels."""

    def __init__(self, objs: Iterable[Obj]) -> None:
        self.crd_by_kind: dict[tuple[str, str], ObjectKey] = {}
        self.issuers_of_secret: dict[tuple[str, str], list[ObjectKey]] = {}
        self.secrets: set[tuple[str, str]] = set()
        self.pods: dict[str, list[tuple[ObjectKey, Mapping[str, Any]]]] = {}
        for obj in objs:
            self._add(obj)
        self.groups = {group for group, _ in self.crd_by_kind}

    def own(self, group: str) -> bool:
        """Whether the install defines resources of ``group`` (so their CRD must be in it)."""
        return (
            group in self.groups or group == KSERVE_GROUP_SUFFIX or group.endswith("." + KSERVE_GROUP_SUFFIX)
        )

    def _add(self, obj: Obj) -> None:
        key = ObjectKey.of(obj)
        spec = obj.get("spec") or {}
        if key.kind == "CustomResourceDefinition" and key.group == CRD_GROUP:
            self.crd_by_kind[(str(spec.get("group")), str((spec.get("names") or {}).get("kind")))] = key
        elif key.kind == "Certificate" and key.group == CERT_MANAGER_GROUP and spec.get("secretName"):
            self.issuers_of_secret.setdefault((key.namespace, str(spec["secretName"])), []).append(key)
        elif key.kind == "Secret" and key.group == "":
            self.secrets.add((key.namespace, key.name))
        elif key.kind in WORKLOAD_KINDS:
            labels = ((_pod_template(obj).get("metadata") or {}).get("labels")) or {}
            self.pods.setdefault(key.namespace, []).append((key, labels))


def _pod_template(obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return spec.get("template") or {}


def references(objs: list[Obj]) -> list[Ref]:
    """Every reference of ``objs`` to an object an install ships (see the module docstring)."""
    index = Index(objs)
    out: list[Ref] = []
    for obj in objs:
        out.extend(_of_object(obj, ObjectKey.of(obj), index))
    return out


def _of_object(obj: Obj, key: ObjectKey, index: Index) -> Iterator[Ref]:
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(INJECT_CA)
    if isinstance(annotation, str) and "/" in annotation:
        ns, name = annotation.split("/", 1)
        yield Ref(key, f"annotation {INJECT_CA}", (_key(CERT_MANAGER_GROUP, "Certificate", ns, name),))
    if key.kind in WEBHOOK_KINDS:
        yield from _webhooks(obj, key, index)
    elif key.kind == "CustomResourceDefinition":
        service = (((obj.get("spec") or {}).get("conversion") or {}).get("webhook") or {}).get(
            "clientConfig"
        ) or {}
        yield from _service(key, "spec.conversion.webhook.clientConfig.service", service.get("service"))
    elif key.kind in ("RoleBinding", "ClusterRoleBinding") and key.group == RBAC:
        yield from _binding(obj, key)
    elif key.kind in WORKLOAD_KINDS:
        yield from _pod(obj, key, index)
    elif key.kind == "Service" and key.group == "":
        yield from _selector(obj, key, index)
    elif key.group == CERT_MANAGER_GROUP and key.kind == "Certificate":
        yield from _issuer(obj, key)
    if index.own(key.group):
        crd = index.crd_by_kind.get((key.group, key.kind))
        target = crd or _key(CRD_GROUP, "CustomResourceDefinition", "", f"(kind {key.kind}).{key.group}")
        yield Ref(key, "apiVersion/kind", (target,))


def _service(key: ObjectKey, field: str, service: Any) -> Iterator[Ref]:
    if isinstance(service, dict) and service.get("name"):
        ns = str(service.get("namespace") or "")
        yield Ref(key, field, (_key("", "Service", ns, str(service["name"])),))


def _webhooks(obj: Obj, key: ObjectKey, index: Index) -> Iterator[Ref]:
    for i, hook in enumerate(obj.get("webhooks") or []):
        yield from _service(
            key, f"webhooks[{i}].clientConfig.service", (hook.get("clientConfig") or {}).get("service")
        )
        for j, rule in enumerate(hook.get("rules") or []):
            for group in rule.get("apiGroups") or []:
                if not index.own(str(group)):
                    continue
                for resource in rule.get("resources") or []:
                    plural = str(resource).split("/", 1)[0]
                    if plural != "*":
                        yield Ref(key, f"webhooks[{i}].rules[{j}]", (_crd_key(plural, str(group)),))


def _binding(obj: Obj, key: ObjectKey) -> Iterator[Ref]:
    role = obj.get("roleRef") or {}
    if role.get("kind") in ("Role", "ClusterRole") and role.get("name"):
        ns = key.namespace if role["kind"] == "Role" else ""
        yield Ref(key, "roleRef", (_key(RBAC, str(role["kind"]), ns, str(role["name"])),))
    for i, subject in enumerate(obj.get("subjects") or []):
        if subject.get("kind") == "ServiceAccount" and subject.get("name"):
            ns = str(subject.get("namespace") or key.namespace)
            target = _key("", "ServiceAccount", ns, str(subject["name"]))
            yield Ref(key, f"subjects[{i}]", (target,), consumer=False)


def _pod(obj: Obj, key: ObjectKey, index: Index) -> Iterator[Ref]:
    pod = _pod_template(obj).get("spec") or {}
    account = pod.get("serviceAccountName") or pod.get("serviceAccount")
    if account:
        yield Ref(key, "serviceAccountName", (_key("", "ServiceAccount", key.namespace, str(account)),))
    for i, volume in enumerate(pod.get("volumes") or []):
        secret = volume.get("secret") or {}
        name = secret.get("secretName")
        if not name or secret.get("optional"):
            continue
        issuers = index.issuers_of_secret.get((key.namespace, str(name)), [])
        if issuers:
            own = _key("", "Secret", key.namespace, str(name))
            yield Ref(key, f"volumes[{i}].secret", (*issuers, own))


def _selector(obj: Obj, key: ObjectKey, index: Index) -> Iterator[Ref]:
    selector = (obj.get("spec") or {}).get("selector")
    if not isinstance(selector, dict) or not selector:
        return
    matches = tuple(
        w
        for w, labels in index.pods.get(key.namespace, [])
        if all(labels.get(k) == v for k, v in selector.items())
    )
    yield Ref(key, "spec.selector", matches or (_key("apps", "(pods)", key.namespace, _labels(selector)),))


def _labels(selector: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _issuer(obj: Obj, key: ObjectKey) -> Iterator[Ref]:
    ref = (obj.get("spec") or {}).get("issuerRef") or {}
    if ref.get("name") and (ref.get("group") in (None, "", CERT_MANAGER_GROUP)):
        kind = str(ref.get("kind") or "Issuer")
        ns = key.namespace if kind == "Issuer" else ""
        yield Ref(key, "spec.issuerRef", (_key(CERT_MANAGER_GROUP, kind, ns, str(ref["name"])),))


def dangling(objs: list[Obj]) -> list[Ref]:
    """References of ``objs`` none of whose targets is among ``objs``."""
    present = {ObjectKey.of(o) for o in objs}
    return [r for r in references(objs) if not any(t in present for t in r.targets)]


__all__ = ["Ref", "dangling", "group_of", "references"]
