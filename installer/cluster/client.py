"""The few API calls the installer needs, behind one small interface.

:class:`Cluster` is what the orchestration (apply, diff, undeploy, status) is written against.
:class:`KubernetesCluster` implements it with the official kubernetes client (dynamic client,
server-side apply); tests use a fake with the same behaviour for these calls. Errors are turned
into the installer's own types here, so orchestration code never sees an HTTP library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from installer.errors import InstallerError
from installer.objects import Obj, ObjectKey, group_of_api_version

FIELD_MANAGER = "kserve-installer"


@dataclass(frozen=True)
class Ref:
    """Where an object lives: enough to GET or DELETE it."""

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

    def __str__(self) -> str:
        return str(self.key)

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out


class ClusterError(InstallerError):
    """The API server said no, or could not be reached."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFoundError(ClusterError):
    """404: the object (or its kind) does not exist."""


class ConflictError(ClusterError):
    """409 on apply: another field manager owns fields this apply sets."""


class ForbiddenError(ClusterError):
    """403: the credentials may not do this."""


class WebhookUnavailableError(ClusterError):
    """An admission webhook could not be called (no endpoints yet, connection refused, bad CA)."""

    def __init__(self, message: str, webhook: str) -> None:
        super().__init__(message, 500, "InternalError")
        self.webhook = webhook


class Cluster(Protocol):
    """The calls the installer makes. Objects are plain dicts, as everywhere else."""

    def get(self, ref: Ref) -> Obj | None:
        """The live object, or None if it does not exist (404, or its kind is unknown)."""

    def apply(self, obj: Obj, *, force: bool = False, dry_run: bool = False) -> Obj:
        """Server-side apply with field manager ``kserve-installer``; returns the result."""

    def delete(self, ref: Ref) -> bool:
        """Delete; False if it was already gone (404 is success)."""

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        """Objects of a kind (all namespaces when ``namespace`` is empty); [] if the kind is unknown."""

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


def status_error(status: int, body: Any, what: str) -> ClusterError:
    """Turn an API Status (the JSON body of an error response) into one of our errors."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else dict(body or {})
    except ValueError:
        data = {}
    message = " ".join(str(data.get("message") or body or "").split())[:400]
    reason = str(data.get("reason") or "")
    hook = webhook_name(message)
    if hook is not None:
        return WebhookUnavailableError(f"{what}: webhook {hook} is not reachable yet: {message}", hook)
    if status == 404:
        return NotFoundError(f"{what}: not found", status, reason)
    if status == 403:
        return ForbiddenError(f"{what}: forbidden: {message}", status, reason)
    if status == 409:
        return ConflictError(
            f"{what}: {message} (rerun with --force-conflicts to take ownership)", status, reason
        )
    return ClusterError(f"{what}: HTTP {status} {reason}: {message}", status, reason)
