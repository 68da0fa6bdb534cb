"""The installer's error tree.

Every failure a user can cause or meet is one of these. The CLI prints ``error: <message>`` on a
single line and exits with :attr:`InstallerError.exit_code`; a traceback is shown only with
``--debug``. Two exit codes matter to callers (hubctl, CI jobs): 2 means the input was wrong and
nothing was attempted; 1 means the input was fine but something outside failed (network, digest,
cluster, timeout).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class InstallerError(Exception):
    """Base of every error the installer reports to a user."""

    exit_code: int = EXIT_RUNTIME

    def __init__(self, message: str) -> None:
        # Messages are printed on one line: fold any newline a library put into a cause.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


def root_cause(exc: BaseException, limit: int = 300) -> str:
    """The innermost cause of a library error (the readable one), on one line, bounded."""
    while exc.__context__ is not None and not isinstance(exc, OSError):
        exc = exc.__context__
    text = " ".join((str(exc) or type(exc).__name__).split())
    return text if len(text) <= limit else text[:limit] + "..."


class UsageError(InstallerError):
    """Bad command-line usage: conflicting or malformed options."""

    exit_code = EXIT_USAGE


class ParameterError(UsageError):
    """A parameter (from a flag, a values file, the environment or the schema) is invalid.

    ``key`` is the hubctl-style dotted name (``kserve.namespace``) or the file that was wrong, so
    that the message always names the culprit.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


class LockError(InstallerError):
    """The lock file is missing, malformed, or does not pin what was asked for."""

    exit_code = EXIT_USAGE


class FetchError(InstallerError):
    """An asset could not be downloaded or read from the mirror."""


class IntegrityError(FetchError):
    """Downloaded bytes do not match the pinned sha256 (tampered or truncated)."""

    def __init__(self, url: str, expected: str, actual: str, detail: str = "") -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        extra = f" ({detail})" if detail else ""
        super().__init__(f"sha256 mismatch for {url}{extra}: expected {expected}, got {actual}")


class BuildError(InstallerError):
    """Upstream assets could not be turned into normalized objects."""


class ValidationError(InstallerError):
    """A rendered object does not match its schema (an overlay or a parameter made it invalid)."""


class OutputError(InstallerError):
    """The output location cannot be written safely."""

    exit_code = EXIT_USAGE


class PrerequisiteError(InstallerError):
    """The cluster lacks something the chosen mode needs (cert-manager, Knative, Istio)."""


# ------------------------------------------------------------------ cluster errors


@dataclass(frozen=True)
class StatusCause:
    """One entry of an API Status's ``details.causes``: the field the server names, and why.

    Kept because the server's decision lives there: a 422 whose causes all say a field cannot
    change is an immutable field (the object can be replaced), any other 422 is bad input.
    """

    field: str
    reason: str
    message: str

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> StatusCause:
        return cls(str(raw.get("field") or ""), str(raw.get("reason") or ""), str(raw.get("message") or ""))


# How kube-apiserver words "this field cannot be updated" (apimachinery's FieldImmutableErrorMsg,
# RBAC's roleRef, Service's clusterIP, pods, CEL's conventional message): see tests/test_cluster.py.
IMMUTABLE_MESSAGE = re.compile(
    r"field is immutable|cannot change roleRef|may not change once set|is immutable|"
    r"may not be changed|updates may not change fields|updates to .+ are forbidden",
    re.IGNORECASE,
)


class ClusterError(InstallerError):
    """The API server said no, or could not be reached.

    Like lightkube's and kr8s's API errors it keeps the API Status it answered with: ``code``
    (HTTP status), ``reason`` (``Invalid``, ``Conflict``, ...), ``details`` and its ``causes``
    (field paths), so callers decide on the server's own words rather than on message text.
    """

    def __init__(
        self,
        message: str,
        code: int = 0,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        causes: Iterable[StatusCause] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.details: dict[str, Any] = dict(details or {})
        self.causes: tuple[StatusCause, ...] = tuple(causes)


class NotFoundError(ClusterError):
    """404: the object (or its kind) does not exist."""


class ConflictError(ClusterError):
    """409 on apply: another field manager owns fields this apply sets."""


class ForbiddenError(ClusterError):
    """403: the credentials may not do this."""


class InvalidError(ClusterError):
    """422: the server refused the object as invalid."""

    @property
    def immutable_fields(self) -> list[str]:
        """The fields the server says cannot change, when that is all it says ([] otherwise).

        Only a refusal made entirely of immutable fields may be answered by replacing the
        object; one real validation error among them means the object itself is wrong.
        """
        causes = self.causes or (StatusCause("", self.reason, self.message),)
        if not all(IMMUTABLE_MESSAGE.search(c.message) for c in causes):
            return []
        return [c.field or "(object)" for c in causes]


class WebhookUnavailableError(ClusterError):
    """A webhook the API server must call could not be called (no endpoints yet, connection
    refused, bad CA): an admission webhook, or a CRD's conversion webhook."""

    def __init__(self, message: str, webhook: str, code: int = 500, reason: str = "InternalError") -> None:
        super().__init__(message, code, reason)
        self.webhook = webhook


class ConversionWebhookError(WebhookUnavailableError):
    """The API server could not convert a custom resource between versions: the CRD's conversion
    webhook did not answer. ``webhook`` names the kind and version it was converting."""


class WaitTimeoutError(ClusterError):
    """A wait ran out of time."""


class ReadinessError(ClusterError):
    """Something deploy waits on failed for good (a Deployment that cannot create its pods, a
    container that cannot pull its image): waiting longer would not help."""


class UserDataError(ClusterError):
    """Undeploy refused: custom resources that users created still exist."""


class CrdUpgradeError(ClusterError):
    """A CRD change that could lose data (a stored version dropped, the scope changed), refused
    before anything is applied."""
