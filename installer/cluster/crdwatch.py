"""What the Established wait reads from a protobuf watch of CRDs, decoded from the wire.

Why protobuf: the API server encodes a watch event once per encoding and shares it among the
watchers that asked for that encoding, and its own controllers watch CRDs in protobuf. A JSON
watch made it deep-copy, convert and encode each changed CRD once more for us alone: for
KServe's 0.8 MB CRDs that was ~11% of the server's CPU in a v0.20.0 first deploy (a CPU
profile: 2.9 s of 25 s in the watch encoder), on a server whose CPU is what that deploy waits
for. The wait needs five fields of each event (the CRD's name and resourceVersion, each
condition's type, status and message); everything else, the 0.8 MB spec above all, is skipped
by its length without being read.

Why written here: the protobuf wire format of those fields is varints and length-prefixed
fields (https://protobuf.dev/programming-guides/encoding/), a few lines; the Kubernetes message
classes exist for Python only as generated code of the whole API (no maintained package ships
them), and the ``protobuf`` runtime alone cannot read a message without them.

The field numbers are those of Kubernetes' ``generated.proto`` files, stable across releases
(protobuf field numbers are never reused): ``meta.v1.WatchEvent``, ``runtime.RawExtension``,
``runtime.Unknown``, ``meta.v1.Status``, ``meta.v1.ObjectMeta`` and ``apiextensions.v1``'s
``CustomResourceDefinition``, ``...Status`` and ``...Condition``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from installer.objects import Obj

# The media type of a protobuf watch; each event is a frame: 4 bytes of length, big-endian.
PROTOBUF_WATCH: Final = "application/vnd.kubernetes.protobuf;stream=watch"
# runtime.Unknown, in which each embedded object comes, starts with these 4 bytes.
MAGIC: Final = b"k8s\x00"
VARINT, I64, LEN, I32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not the protobuf message they should be."""


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a message: an int for a varint, bytes for a length-prefixed
    field; fixed-width fields are skipped (none of the fields read here is one)."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == LEN:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise WireError(f"field {number} runs past the end of its message")
            yield number, data[pos : pos + size]
            pos += size
        elif wire in (I64, I32):
            pos += 8 if wire == I64 else 4
        else:
            raise WireError(f"field {number} has wire type {wire}, which no Kubernetes message uses")
    if pos != end:
        raise WireError("a field runs past the end of its message")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise WireError("a varint runs past the end of its message")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise WireError("a string field holds a number")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise WireError("a string field is not UTF-8") from None


def _message(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise WireError("a message field holds a number")
    return value


def event(frame: bytes) -> tuple[str, str, bytes]:
    """A ``meta.v1.WatchEvent``: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR), the
    kind of its object and the object's own bytes."""
    kind_of_event, raw = "", b""
    for number, value in fields(frame):
        if number == 1:
            kind_of_event = _text(value)
        elif number == 2:  # RawExtension
            raw = next((_message(v) for n, v in fields(_message(value)) if n == 1), b"")
    return (kind_of_event, *embedded(raw))


def embedded(raw: bytes) -> tuple[str, bytes]:
    """The kind and bytes of an object in the server's protobuf encoding: ``MAGIC``, then a
    ``runtime.Unknown`` that holds the object's TypeMeta and its message."""
    if not raw.startswith(MAGIC):
        raise WireError("not a protobuf-encoded Kubernetes object")
    kind, body = "", b""
    for number, value in fields(raw[len(MAGIC) :]):
        if number == 1:  # TypeMeta
            kind = next((_text(v) for n, v in fields(_message(value)) if n == 2), "")
        elif number == 2:
            body = _message(value)
    return kind, body


def crd_state(body: bytes) -> Obj:
    """A CRD as the wait reads it: name, resourceVersion and status conditions (the rest is
    left out: a reader of anything else must not be handed this)."""
    meta: dict[str, str] = {}
    conditions: list[dict[str, str]] = []
    for number, value in fields(body):
        if number == 1:  # ObjectMeta
            for n, v in fields(_message(value)):
                if n == 1:
                    meta["name"] = _text(v)
                elif n == 6:
                    meta["resourceVersion"] = _text(v)
        elif number == 3:  # CustomResourceDefinitionStatus
            for n, v in fields(_message(value)):
                if n == 1:
                    conditions.append(_condition(_message(v)))
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta,
        "status": {"conditions": conditions},
    }


def _condition(data: bytes) -> dict[str, str]:
    names = {1: "type", 2: "status", 4: "reason", 5: "message"}
    return {names[n]: _text(v) for n, v in fields(data) if n in names}


def embedded_status(raw: bytes) -> Obj:
    """The Status of an error answer in protobuf (what a protobuf request gets), as JSON has it;
    ``{}`` when the bytes are not one."""
    try:
        kind, body = embedded(raw)
        return status(body) if kind == "Status" else {}
    except (WireError, UnicodeDecodeError):
        return {}


def status(body: bytes) -> Obj:
    """A ``meta.v1.Status`` (what an ERROR event carries) as the JSON API would give it."""
    names = {2: "status", 3: "message", 4: "reason"}
    out: Obj = {"kind": "Status", "apiVersion": "v1"}
    for number, value in fields(body):
        if number in names:
            out[names[number]] = _text(value)
        elif number == 6 and isinstance(value, int):
            out["code"] = value
    return out
