"""A real HTTP server on 127.0.0.1 that serves a mirror directory, with injectable faults.

Faults are set per URL path and consumed request by request, so a test can say "500, 500, then
the real file" or "the file with one byte changed" or "a Content-Length larger than the body".
Every request is recorded, so tests can assert that nothing was fetched at all.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Fault = Literal["tamper", "truncate", "hang"] | int  # an int is an HTTP status to answer with


@dataclass
class MirrorServer:
    root: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    always: dict[str, Fault] = field(default_factory=dict)
    hang_seconds: float = 30.0

    def fault(self, path: str, *sequence: Fault) -> None:
        """Answer the next requests for ``path`` with these faults, then normally."""
        self.faults[path].extend(sequence)

    def fault_always(self, path: str, fault: Fault) -> None:
        self.always[path] = fault


def _handler(server: MirrorServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requests.append(path)
            queued = server.faults.get(path)
            fault = queued.pop(0) if queued else server.always.get(path)
            if fault == "hang":
                time.sleep(server.hang_seconds)
                return
            if isinstance(fault, int):
                body = f"fault {fault}\n".encode()
                self.send_response(fault)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            file = server.root / path.lstrip("/")
            if not file.is_file():
                self.send_error(404)
                return
            data = file.read_bytes()
            length = len(data)
            if fault == "tamper":
                data = data[:10] + bytes([data[10] ^ 0x01]) + data[11:]
            elif fault == "truncate":
                data = data[: len(data) // 2]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(data)
            if fault == "truncate":
                self.close_connection = True

    return Handler


@contextmanager
def serve(root: Path) -> Iterator[MirrorServer]:
    state = MirrorServer(root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
