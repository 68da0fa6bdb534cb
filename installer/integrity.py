"""Object digests: the sha256 of what a manifest *says*, not of how its bytes are laid out.

KServe's release recipe from v0.17 (``kustomize build ... | yq ... | sed``) makes ``kserve.yaml``
at release time; the mirror's copy of v0.18.1 and v0.20.0 is rebuilt by that same recipe with
another kustomize, so its bytes differ from the real asset's while its objects are the same. A
lock that pinned the bytes alone would make every online download of those versions fail; one
that pinned nothing would trust anything. So such an asset is pinned twice: by the sha256 of its
bytes and by the sha256 of its objects, and a download is accepted when either matches.

The object digest is defined here once, and must never change for a pinned asset (it is stored in
the lock): the documents of the stream are parsed with YAML's safe loader, empty documents are
dropped, each remaining document is serialized as canonical JSON (keys sorted, no whitespace,
UTF-8; orjson), and the digest is taken over those serializations in sorted order, each followed by
a newline. Document order is left out on purpose: the installer orders objects by its own phases,
and kustomize releases have changed their output order before. The parse is bounded: a size
limit, a document limit, and no YAML aliases (a few lines of anchors can stand for billions of
nodes once serialized).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import orjson

from installer import yamlio

MAX_BYTES: Final = 64 << 20
MAX_DOCUMENTS: Final = 10_000


class ObjectDigestError(ValueError):
    """The bytes cannot be given an object digest (too large, not YAML, aliases)."""


def objects_digest(data: bytes) -> str:
    """sha256 of the canonical JSON of the YAML documents in ``data`` (see the module docstring)."""
    if len(data) > MAX_BYTES:
        raise ObjectDigestError(f"{len(data)} bytes is over the {MAX_BYTES}-byte limit for an object digest")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ObjectDigestError(f"not UTF-8 text (byte {exc.start})") from None
    docs: list[Any] = []
    try:
        for doc in yamlio.load_all(text):
            if doc is None:
                continue
            docs.append(doc)
            if len(docs) > MAX_DOCUMENTS:
                raise ObjectDigestError(f"more than {MAX_DOCUMENTS} documents")
    except ObjectDigestError:
        raise
    except Exception as exc:  # yaml errors carry multi-line marks
        raise ObjectDigestError(f"not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if yamlio.has_shared_nodes(docs):
        raise ObjectDigestError("YAML anchors and aliases are not allowed in a pinned manifest")
    try:
        canonical = sorted(
            orjson.dumps(d, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) for d in docs
        )
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ObjectDigestError(f"documents are not JSON data: {exc}") from None
    h = hashlib.sha256()
    for line in canonical:
        h.update(line + b"\n")
    return h.hexdigest()
