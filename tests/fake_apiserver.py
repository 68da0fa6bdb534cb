"""A stand-in Kubernetes API server on 127.0.0.1 for the error paths a real one decides.

It answers discovery for the core group (enough for the kubernetes client to find ConfigMaps and
Namespaces) and then says no in one of two ways, with the Status bodies kube-apiserver sends:
``forbidden`` (403 on every object request) or ``conflict`` (404 on GET, 409 on apply, as when
another field manager owns a field). The real behaviour is covered by tests/test_cluster.py.
"""

from __future__ import annotations

import http.server
import json
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
]


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


@contextmanager
def serve(mode: str) -> Iterator[str]:
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            requests.append(f"{self.command} {path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if path == "/version":
                return self._send(
                    200,
                    {
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
                    },
                )
            if path == "/api":
                return self._send(
                    200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
                )
            if path == "/apis":
                return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            if path == "/api/v1":
                return self._send(
                    200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": CORE_RESOURCES}
                )
            if mode == "forbidden":
                return self._send(
                    403,
                    _status(
                        403,
                        "Forbidden",
                        f'configmaps is forbidden: User "system:serviceaccount:ci:deployer" cannot {self.command.lower()} resource',
                    ),
                )
            if self.command == "GET":
                return self._send(404, _status(404, "NotFound", "not found"))
            return self._send(
                409,
                _status(
                    409,
                    "Conflict",
                    'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .metadata.labels.team',
                ),
            )

        do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def kubeconfig(server: str, path: Path, token: str = "secret-token-value") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        f"users: [{{name: u, user: {{token: {token}}}}}]\n"
    )
    return path
