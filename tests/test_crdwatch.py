"""The protobuf CRD watch: the wire decoding (installer/cluster/crdwatch.py) on messages built
here field by field, and the stream as an HTTP server on 127.0.0.1 sends it (split anywhere,
ended, cut). What the real server sends is read in tests/test_cluster.py."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from installer.cluster import crdwatch
from installer.cluster.kube import connect
from installer.errors import ClusterError
from tests import fake_apiserver


def varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def field(number: int, value: int | bytes | str) -> bytes:
    """One field: a varint for an int, length-prefixed for bytes and text."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def crd(name: str, rv: str, conditions: list[dict[str, str]], spec: bytes = b"") -> bytes:
    meta = field(1, name) + field(5, "uid-1") + field(6, rv) + field(7, 3)
    numbers = {"type": 1, "status": 2, "reason": 4, "message": 5}
    status = b"".join(
        field(1, field(3, field(1, 1700000000)) + b"".join(field(numbers[k], v) for k, v in c.items()))
        for c in conditions
    )
    status += field(3, "v1")  # storedVersions
    return field(1, meta) + field(2, spec) + field(3, status)


def frame(kind_of_event: str, kind: str, body: bytes) -> bytes:
    unknown = (
        field(1, field(1, "v1") + field(2, kind))
        + field(2, body)
        + field(4, "application/vnd.kubernetes.protobuf")
    )
    event = field(1, kind_of_event) + field(2, field(1, crdwatch.MAGIC + unknown))
    return len(event).to_bytes(4, "big") + event


ESTABLISHED = [
    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "accepted"},
]


def test_a_crd_event_gives_its_name_version_and_conditions_and_skips_its_spec() -> None:
    spec = field(1, "serving.kserve.io") + field(4, b"\x0a" * 900_000)  # as big as KServe's largest
    kind_of_event, kind, body = crdwatch.event(
        frame("MODIFIED", "CustomResourceDefinition", crd("a.b", "42", ESTABLISHED, spec))[4:]
    )
    assert (kind_of_event, kind) == ("MODIFIED", "CustomResourceDefinition")
    assert crdwatch.crd_state(body) == {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "a.b", "resourceVersion": "42"},
        "status": {"conditions": ESTABLISHED},
    }


def test_an_error_event_gives_the_status_as_json_has_it() -> None:
    status = (
        field(1, b"")
        + field(2, "Failure")
        + field(3, "too old resource version: 1 (9)")
        + field(4, "Expired")
        + field(6, 410)
    )
    kind_of_event, kind, body = crdwatch.event(frame("ERROR", "Status", status)[4:])
    assert (kind_of_event, kind) == ("ERROR", "Status")
    assert crdwatch.status(body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": "too old resource version: 1 (9)",
        "reason": "Expired",
        "code": 410,
    }


def test_fixed_width_and_unknown_fields_are_skipped() -> None:
    extra = (
        varint(9 << 3 | 1) + b"\x00" * 8 + varint(10 << 3 | 5) + b"\x00" * 4 + field(11, 7) + field(12, "x")
    )
    body = crd("a.b", "7", ESTABLISHED[:1]) + extra
    assert crdwatch.crd_state(body)["status"]["conditions"] == ESTABLISHED[:1]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (field(1, "name")[:-2], "runs past the end"),
        (varint(1 << 3 | 2) + varint(100), "runs past the end"),
        (b"\x80", "varint runs past"),
        (varint(1 << 3 | 3), "wire type 3"),
        (varint(9 << 3 | 1) + b"\x00" * 3, "runs past the end"),
        (field(1, field(1, b"\xff\xfe")), "not UTF-8"),
    ],
)
def test_broken_bytes_are_a_wire_error(data: bytes, words: str) -> None:
    with pytest.raises(crdwatch.WireError, match=words):
        crdwatch.crd_state(data)


def test_an_object_without_the_protobuf_magic_is_refused() -> None:
    event = field(1, "ADDED") + field(2, field(1, b'{"kind": "CustomResourceDefinition"}'))
    with pytest.raises(crdwatch.WireError, match="not a protobuf-encoded"):
        crdwatch.event(event)
    assert crdwatch.embedded_status(b'{"kind": "Status"}') == {}


CONDITION = st.fixed_dictionaries(
    {"type": st.text(min_size=1), "status": st.sampled_from(["True", "False", "Unknown"])},
    optional={"reason": st.text(), "message": st.text()},
)


@given(
    st.text(min_size=1), st.integers(min_value=1, max_value=2**63).map(str), st.lists(CONDITION, max_size=5)
)
def test_any_name_version_and_conditions_read_back(
    name: str, rv: str, conditions: list[dict[str, str]]
) -> None:
    state = crdwatch.crd_state(crd(name, rv, conditions))
    assert state["metadata"] == {"name": name, "resourceVersion": rv}
    assert state["status"]["conditions"] == conditions


@contextmanager
def streaming(
    body: bytes, sizes: list[int], status: int = 200, content_type: str = crdwatch.PROTOBUF_WATCH
) -> Iterator[str]:
    """A server whose watch answers ``body`` in writes of these sizes (then the rest), flushed
    one by one, then closes the stream; it refuses a watch that is not the protobuf CRD watch."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/version":
                self._answer(200, b'{"gitVersion": "v1.32.0"}', "application/json")
                return
            wanted = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=1&labelSelector=app%3Dx"
            if not self.path.startswith(wanted) or self.headers["Accept"] != crdwatch.PROTOBUF_WATCH:
                self._answer(400, b'{"message": "not the protobuf CRD watch"}', "application/json")
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            pos = 0
            for size in [*sizes, len(body)]:
                self.wfile.write(body[pos : pos + size])
                self.wfile.flush()
                pos += size

        def _answer(self, code: int, data: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_frames_split_anywhere_are_read_whole(tmp_path: Path) -> None:
    events = frame("ADDED", "CustomResourceDefinition", crd("a.b", "5", []))
    events += frame("MODIFIED", "CustomResourceDefinition", crd("a.b", "6", ESTABLISHED, b"s" * 70_000))
    events += frame("BOOKMARK", "CustomResourceDefinition", crd("", "7", []))
    with streaming(events, [1, 2, 3, 50, 1000, 9]) as url:
        cluster = connect(fake_apiserver.kubeconfig(url, tmp_path / "kc"))
        got = list(cluster.watch_crds("app=x", "4", 5))
    assert [(o["metadata"]["resourceVersion"], len(o["status"]["conditions"])) for o in got] == [
        ("5", 0),
        ("6", 2),
    ]


def test_a_stream_cut_inside_a_frame_is_a_cluster_error(tmp_path: Path) -> None:
    events = frame("ADDED", "CustomResourceDefinition", crd("a.b", "5", ESTABLISHED))
    with streaming(events[:-10], [3]) as url:
        cluster = connect(fake_apiserver.kubeconfig(url, tmp_path / "kc"))
        with pytest.raises(ClusterError, match="cannot be read: the stream ended 10 bytes into a frame"):
            list(cluster.watch_crds("app=x", "4", 5))


def test_a_watch_answered_in_json_is_refused_at_once(tmp_path: Path) -> None:
    """A proxy that does not pass protobuf on: its first bytes would read as a frame length of
    ~2 GB and the watch would wait out its whole timeout; it is refused at once (the wait then
    polls)."""
    json_event = b'{"type": "ADDED", "object": {"kind": "CustomResourceDefinition"}}\n'
    with streaming(json_event, [], content_type="application/json;stream=watch") as url:
        cluster = connect(fake_apiserver.kubeconfig(url, tmp_path / "kc"))
        with pytest.raises(ClusterError, match="answered application/json;stream=watch, not protobuf"):
            list(cluster.watch_crds("app=x", "4", 60))


def test_an_error_event_and_an_error_answer_carry_the_api_status(tmp_path: Path) -> None:
    gone = (
        field(2, "Failure")
        + field(3, "too old resource version: 4 (9)")
        + field(4, "Expired")
        + field(6, 410)
    )
    with streaming(frame("ERROR", "Status", gone), []) as url:
        cluster = connect(fake_apiserver.kubeconfig(url, tmp_path / "kc"))
        with pytest.raises(ClusterError, match="too old resource version") as caught:
            list(cluster.watch_crds("app=x", "4", 5))
    assert caught.value.code == 410
    forbidden = (
        field(2, "Failure")
        + field(3, "customresourcedefinitions is forbidden")
        + field(4, "Forbidden")
        + field(6, 403)
    )
    answer = crdwatch.MAGIC + field(1, field(1, "v1") + field(2, "Status")) + field(2, forbidden)
    with streaming(answer, [], status=403) as url:
        cluster = connect(fake_apiserver.kubeconfig(url, tmp_path / "kc"))
        with pytest.raises(ClusterError, match="forbidden: customresourcedefinitions is forbidden") as caught:
            list(cluster.watch_crds("app=x", "4", 5))
    assert caught.value.code == 403
