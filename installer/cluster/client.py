"""The few API calls the installer needs, behind one small interface.

:class:`Cluster` is what the orchestration (apply, diff, undeploy, status) is written against.
:class:`~installer.cluster.kube.KubernetesCluster` implements it over HTTP (urllib3, the API's
own paths, server-side apply); tests use a fake with the same behaviour for these calls. API
errors become the installer's own types here (:mod:`installer.errors`), with the API Status
kept, so orchestration code never sees an HTTP library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from installer.errors import (
    ClusterError,
    ConflictError,
    ConversionWebhookError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    StatusCause,
    WebhookUnavailableError,
)
from installer.objects import Obj, ObjectKey, group_of_api_version

# The errors live in installer.errors (one tree); their names stay importable from here.
__all__ = [
    "FIELD_MANAGER",
    "Cluster",
    "ClusterError",
    "ConflictError",
    "ConversionWebhookError",
    "ForbiddenError",
    "InvalidError",
    "NotFoundError",
    "Ref",
    "WebhookUnavailableError",
    "conflict_managers",
    "status_error",
    "webhook_name",
]

FIELD_MANAGER = "kserve-installer"


@dataclass(frozen=True)
class Ref:
    """Where an object lives: enough to GET or DELETE it (its :attr:`key` plus an API version)."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: Obj) -> Ref:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj["apiVersion"]), str(obj["kind"]), str(meta["name"]), str(meta.get("namespace") or "")
        )

    @property
    def key(self) -> ObjectKey:
        """The object's identity (its address without the API version)."""
        return ObjectKey(group_of_api_version(self.api_version), self.kind, self.namespace, self.name)

    @property
    def group(self) -> str:
        return group_of_api_version(self.api_version)

    def __str__(self) -> str:
        return str(self.key)

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    def stub(self) -> Obj:
        """A body naming the object and nothing else (the start of a labels-only apply)."""
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta}


class Cluster(Protocol):
    """The calls the installer makes. Objects are plain dicts, as everywhere else."""

    def get(self, ref: Ref) -> Obj | None:
        """The live object, or None if it does not exist (404, or its kind is unknown)."""

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the server serves this kind now (discovery, asked again when the answer
        held lacks it: a CRD Established a moment ago is in discovery a moment later)."""

    def apply(
        self, obj: Obj, *, force: bool = False, dry_run: bool = False, metadata_only: bool = False
    ) -> Obj:
        """Server-side apply with field manager ``kserve-installer``; returns the result, or with
        ``metadata_only`` only its ``metadata`` (a PartialObjectMetadata): what a create needs
        read back is its resourceVersion, and the whole answer of a 0.8 MB CRD is server CPU (it
        encodes it) that a busy server establishing CRDs has none of to spare."""

    def update(self, obj: Obj) -> Obj:
        """Replace (PUT) an object as read, resourceVersion included: rewrites it in the CRD's
        current storage version, which is how a storage version migration moves it."""

    def patch_status(self, ref: Ref, status: Obj) -> Obj:
        """Merge-patch the status subresource (a CRD's ``storedVersions``)."""

    def delete(self, ref: Ref) -> bool:
        """Delete; False if it was already gone (404 is success)."""

    def delete_dry_run(self, ref: Ref) -> bool:
        """A server-side dry-run delete (``dryRun=All``); False if it is already gone."""

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        """Objects of a kind (all namespaces when ``namespace`` is empty); [] if the kind is unknown."""

    def watch_crds(self, label_selector: str, since: str, timeout: float) -> Iterator[Obj]:
        """CRDs with these labels as they change after resourceVersion ``since``, until
        ``timeout`` seconds pass or the server ends the watch; each as the Established wait
        reads it: ``metadata.name``, ``metadata.resourceVersion`` and ``status.conditions``."""

    def resource_versions(
        self, api_version: str, kind: str, label_selector: str
    ) -> dict[tuple[str, str], str]:
        """(namespace, name) -> resourceVersion of the objects of a kind with these labels, in all
        namespaces; metadata only, so a 1 MB CRD costs a few hundred bytes. {} if the kind is unknown."""


def webhook_name(message: str) -> str | None:
    """The webhook named in an API server's 'failed calling webhook' message, if any."""
    marker = 'failed calling webhook "'
    if marker in message:
        return message.split(marker, 1)[1].split('"', 1)[0]
    return None


# "conversion webhook for serving.kserve.io/v1alpha1, Kind=LLMInferenceServiceConfig failed: ..."
CONVERSION_FAILED = re.compile(r"conversion webhook for ([^ ,]+), Kind=(\w+) failed")
CONFLICT_MANAGER = re.compile(r'conflicts? with "([^"]+)"')


def conflict_managers(message: str) -> list[str]:
    """The field managers a server-side apply conflict names."""
    return list(dict.fromkeys(CONFLICT_MANAGER.findall(message)))


def status_error(status: int, body: Any, what: str) -> ClusterError:
    """Turn an API Status (the JSON body of an error response) into one of our errors."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else dict(body or {})
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = " ".join(str(data.get("message") or body or "").split())[:400]
    reason = str(data.get("reason") or "")
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    causes = [StatusCause.of(c) for c in (details or {}).get("causes") or [] if isinstance(c, dict)]
    hook = webhook_name(message)
    if hook is not None:
        return WebhookUnavailableError(f"{what}: webhook {hook} is not reachable yet: {message}", hook)
    converting = CONVERSION_FAILED.search(message)
    if converting:
        webhook = f"conversion webhook for {converting.group(1)}, Kind={converting.group(2)}"
        return ConversionWebhookError(
            f"{what}: {webhook} is not answering: {message}", webhook, status, reason
        )
    if status == 404:
        return NotFoundError(f"{what}: not found", status, reason, details, causes)
    if status == 403:
        return ForbiddenError(f"{what}: forbidden: {message}", status, reason, details, causes)
    if status == 409 and conflict_managers(message):
        managers = ", ".join(f'"{m}"' for m in conflict_managers(message))
        return ConflictError(
            f"{what}: {message} (fields owned by field manager {managers}; rerun with "
            "--force-conflicts to take them over)",
            status,
            reason,
            details,
            causes,
        )
    if status == 422:
        return InvalidError(f"{what}: HTTP 422 {reason}: {message}", status, reason, details, causes)
    return ClusterError(f"{what}: HTTP {status} {reason}: {message}", status, reason, details, causes)
