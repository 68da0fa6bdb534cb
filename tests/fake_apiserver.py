"""A stand-in Kubernetes API server on 127.0.0.1 for the error paths a real one decides.

It answers discovery for the core group, apps and apiextensions (enough for the kubernetes
client to find Namespaces, ConfigMaps, Secrets, Deployments and CRDs) and then answers object
requests by its mode, with the Status bodies kube-apiserver sends:

- ``forbidden``: 403 on every object request; ``conflict``: 404 on GET, 409 on apply, as when
  another field manager owns a field;
- ``accept``: an empty cluster that takes every apply (the body echoed), nothing stored;
- ``throttle``: 429 with ``Retry-After: 1`` on every object request (API priority and fairness
  rejecting); ``throttle-once``: that once per verb, then ``accept``;
- ``error-500``, ``error-503``: an internal error, the server unavailable (no Retry-After);
- ``drop``: as ``accept``, but a list (a collection GET) is cut off mid-response;
  ``drop-discovery``: every API resource list is cut off mid-response;
- ``stop-after-N``: as ``accept`` for N applies; at the next one the server stops (that request
  is dropped unanswered and nothing listens any more).

The real behaviour is covered by tests/test_cluster.py.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CORE_RESOURCES = [
    {
        "name": "namespaces",
        "singularName": "namespace",
        "namespaced": False,
        "kind": "Namespace",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
    },
    {
        "name": "configmaps",
        "singularName": "configmap",
        "namespaced": True,
        "kind": "ConfigMap",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
    },
    {
        "name": "secrets",
        "singularName": "secret",
        "namespaced": True,
        "kind": "Secret",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
    },
]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
GROUPS: dict[str, list[dict[str, Any]]] = {
    "apps/v1": [
        {
            "name": "deployments",
            "singularName": "deployment",
            "namespaced": True,
            "kind": "Deployment",
            "verbs": VERBS,
        }
    ],
    "apiextensions.k8s.io/v1": [
        {
            "name": "customresourcedefinitions",
            "singularName": "customresourcedefinition",
            "namespaced": False,
            "kind": "CustomResourceDefinition",
            "verbs": VERBS,
        }
    ],
}
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "31",
}
COLLECTIONS = {r["name"] for r in CORE_RESOURCES} | {r["name"] for rs in GROUPS.values() for r in rs}


def _group_list() -> dict[str, Any]:
    groups = []
    for gv in GROUPS:
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


DISCOVERY: dict[str, dict[str, Any]] = {
    "/version": VERSION,
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": _group_list(),
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": CORE_RESOURCES},
    **{
        f"/apis/{gv}": {"kind": "APIResourceList", "groupVersion": gv, "resources": rs}
        for gv, rs in GROUPS.items()
    },
}


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class _State:
    """What a server in one mode remembers between requests."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[str] = []
        self.queries: list[str] = []  # "VERB path?query" of each request
        self.authorizations: list[str] = []  # the Authorization header of each request
        self.applies = 0
        self.throttled: set[str] = set()  # the verbs throttled once (throttle-once)
        self.stop_after = int(mode.rsplit("-", 1)[1]) if mode.startswith("stop-after-") else None
        self.stopped = threading.Event()


def _is_list(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in COLLECTIONS


def _echo(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body or b"{}")
    except ValueError:
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    meta = obj.setdefault("metadata", {})
    meta.setdefault("resourceVersion", "1")
    meta.setdefault("uid", "00000000-0000-0000-0000-000000000001")
    return obj


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _cut(self, body: dict[str, Any]) -> None:
        """Announce the whole body, send a third of it, close: a connection dropped mid-response."""
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 3])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _answer(self) -> None:
        st = self.state
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        st.requests.append(f"{self.command} {path}")
        st.queries.append(f"{self.command} {self.path}")
        st.authorizations.append(str(self.headers.get("Authorization")))
        if st.stopped.is_set():  # gone: a connection kept alive from before gets no answer either
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path in DISCOVERY:
            if path.startswith(("/api/", "/apis/")) and st.mode == "drop-discovery":
                return self._cut(DISCOVERY[path])
            return self._send(200, DISCOVERY[path])
        return self._object(path, body)

    def _object(self, path: str, body: bytes) -> None:
        st, mode = self.state, self.state.mode
        if mode == "throttle" or (mode == "throttle-once" and self.command not in st.throttled):
            st.throttled.add(self.command)
            message = "too many requests, please try again later"
            return self._send(429, _status(429, "TooManyRequests", message), {"Retry-After": "1"})
        if mode in ("error-500", "error-503"):
            code = int(mode[-3:])
            reason = "InternalError" if code == 500 else "ServiceUnavailable"
            return self._send(code, _status(code, reason, f"{reason.lower()}: etcdserver: request timed out"))
        if mode == "forbidden":
            message = f'configmaps is forbidden: User "system:serviceaccount:ci:deployer" cannot {self.command.lower()} resource'
            return self._send(403, _status(403, "Forbidden", message))
        if self.command == "GET":
            if _is_list(path):
                items = {
                    "kind": "List",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"},
                    "items": [],
                }
                return self._cut(items) if mode == "drop" else self._send(200, items)
            return self._send(404, _status(404, "NotFound", "not found"))
        if mode == "conflict":
            message = (
                'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .metadata.labels.team'
            )
            return self._send(409, _status(409, "Conflict", message))
        if self.command == "DELETE":
            return self._send(404, _status(404, "NotFound", "not found"))
        st.applies += 1
        if st.stop_after is not None and st.applies > st.stop_after:
            st.stopped.set()  # the server goes away: this request is never answered
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        return self._send(200, _echo(body))

    do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815


@contextmanager
def serve(
    mode: str,
    requests: list[str] | None = None,
    headers: list[str] | None = None,
    queries: list[str] | None = None,
) -> Iterator[str]:
    """Run a server in ``mode`` (see the module's docstring); ``requests`` collects what it was
    asked, ``headers`` the Authorization header each request came with, ``queries`` each
    request with its query string."""
    state = _State(mode)
    if requests is not None:
        state.requests = requests
    if queries is not None:
        state.queries = queries
    if headers is not None:
        state.authorizations = headers
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop_when_told() -> None:
        state.stopped.wait()
        httpd.shutdown()
        httpd.server_close()

    stopper = threading.Thread(target=stop_when_told, daemon=True)
    stopper.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        state.stopped.set()
        stopper.join()


def kubeconfig(server: str, path: Path, token: str = "secret-token-value") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        f"users: [{{name: u, user: {{token: {token}}}}}]\n"
    )
    return path
