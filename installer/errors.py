"""The installer's error tree.

Every failure a user can cause or meet is one of these. The CLI prints ``error: <message>`` on a
single line and exits with :attr:`InstallerError.exit_code`; a traceback is shown only with
``--debug``. Two exit codes matter to callers (hubctl, CI jobs): 2 means the input was wrong and
nothing was attempted; 1 means the input was fine but something outside failed (network, digest,
cluster, timeout).
"""

from __future__ import annotations

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
