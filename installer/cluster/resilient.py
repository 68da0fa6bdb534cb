"""What the connection to an API server does about a busy or a broken server.

- **Throttled** (429 Too Many Requests, API Priority and Fairness rejecting): every request, the
  server-side applies (PATCH) included, is retried after the ``Retry-After`` the server names
  (at most :data:`MAX_RETRY_AFTER` seconds each, :data:`THROTTLE_RETRIES` times); a 503 that
  names a ``Retry-After`` likewise. A 429 is sent before the request is processed, so retrying
  a write is safe. When the server keeps refusing, the last answer is the one-line error.
  The error then says so.
- **Broken mid-response** (the connection drops while a body is read): one
  :class:`~installer.errors.ClusterError` naming the call (``list Deployment``, ``apply
  ConfigMap/...``) and the server, not a urllib3 exception.

The retry is the connection pool's (:mod:`installer.cluster.kube` builds it with
:func:`throttle_retry`); naming the call is :func:`guarded`'s, around any cluster.
"""

from __future__ import annotations

import functools
import http.client
from typing import Any

from installer.cluster.client import Ref
from installer.errors import ClusterError, root_cause

MAX_RETRY_AFTER = 30.0
THROTTLE_RETRIES = 5


def throttle_retry() -> Any:
    """urllib3's Retry for throttling: 429 always, any method, Retry-After honoured and capped."""
    from urllib3.util.retry import Retry

    class _Retry(Retry):
        def get_retry_after(self, response: Any) -> float | None:
            after = super().get_retry_after(response)
            return None if after is None else min(float(after), MAX_RETRY_AFTER)

    return _Retry(
        total=THROTTLE_RETRIES + 3,
        connect=3,
        read=0,
        redirect=0,
        status=THROTTLE_RETRIES,
        status_forcelist=(429,),
        allowed_methods=None,  # every verb: a throttled request was not processed
        respect_retry_after_header=True,
        backoff_factor=0.5,
        raise_on_status=False,  # the last answer goes back to the client: one error line
    )


def _describe(method: str, args: tuple[Any, ...]) -> str:
    first = args[0] if args else None
    if isinstance(first, Ref):
        return f"{method} {first}"
    if isinstance(first, dict) and first.get("metadata"):
        return f"{method} {Ref.of(first)}"
    if method in ("list", "resource_versions") and len(args) > 1:
        return f"list {args[1]}"
    return method


def _named(exc: ClusterError, method: str, args: tuple[Any, ...]) -> ClusterError:
    """The error, saying a read was a read (the client names only the object) and that a 429
    was retried; any other error as it is."""
    message = exc.message
    described = _describe(method, args)
    if method == "get" and not message.startswith(described) and message.startswith(described[4:]):
        message = f"get {message}"
    if exc.code == 429:
        message += f" (still throttled after {THROTTLE_RETRIES} retries, each after the server's Retry-After)"
    if message == exc.message:
        return exc
    error = type(exc).__new__(type(exc))
    error.__dict__.update(exc.__dict__)
    error.args = (message,)
    return error


class Guarded:
    """A cluster whose calls turn a connection broken mid-response into one ClusterError."""

    def __init__(self, cluster: Any) -> None:
        self.inner = cluster

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith("_") or not callable(attr):
            return attr
        return functools.partial(self._guard, name, attr)

    def _guard(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except ClusterError as exc:
            raise _named(exc, name, args) from None
        except (HTTPError, http.client.HTTPException) as exc:
            server = getattr(self.inner, "server", "the API server")
            raise ClusterError(
                f"{_describe(name, args)}: the connection to {server} broke mid-response: {root_cause(exc)}"
            ) from None


def guarded(cluster: Any) -> Any:
    """The cluster with broken responses reported as one error (see the module); its connection
    pool retries throttled requests with :func:`throttle_retry`."""
    return Guarded(cluster)
