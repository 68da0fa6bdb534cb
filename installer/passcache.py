"""Digests of inputs that passed a check, so the same input is not checked again.

Schema validation is a pure function of (schema, input): an input that passed once passes again,
so callers key a pass by the digest of *everything* that decided it (the input and its schema).
Only passes are remembered; anything new or changed is always checked, so errors are never
hidden.

The store is one JSON list under the cache directory, oldest first, at most
``MAX_ENTRIES`` long (a render remembers ~100 digests; the bound keeps years of renders from
growing the file without end). It is replaced atomically, so a reader never sees half a file;
two processes saving at once both merge with what is on disk, and the later one wins the rest.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from installer import jsonio

MAX_ENTRIES = 20_000


def _read(path: Path) -> list[str]:
    try:
        loaded = jsonio.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    return [d for d in loaded if isinstance(d, str)] if isinstance(loaded, list) else []


class PassCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: set[str] = set(_read(path)) if path is not None else set()
        self.added: dict[str, None] = {}  # in order of addition

    def __contains__(self, digest: str) -> bool:
        return digest in self.known or digest in self.added

    def add(self, digest: str) -> None:
        self.added[digest] = None

    def save(self) -> None:
        """Merge with the file as it is now, keep the newest ``MAX_ENTRIES``, swap it in."""
        if self.path is None or not self.added:
            return
        on_disk = [d for d in _read(self.path) if d not in self.added]
        kept = [*on_disk, *self.added][-MAX_ENTRIES:]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pass-")
            with os.fdopen(fd, "wb") as f:
                f.write(jsonio.dumps(kept))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only cache only costs time
