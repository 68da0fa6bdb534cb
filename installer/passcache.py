"""Digests of inputs that passed a check, so the same input is not checked again.

Schema validation is a pure function of (schema, input): an input that passed once passes again.
Only passes are remembered; anything new or changed is always checked, so errors are never
hidden. The store is one JSON file under the cache directory, replaced atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from installer import jsonio


class PassCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: set[str] = set()
        self.added: set[str] = set()
        if path is not None:
            try:
                self.known = set(jsonio.loads(path.read_bytes()))
            except (OSError, ValueError):
                self.known = set()

    def __contains__(self, digest: str) -> bool:
        return digest in self.known or digest in self.added

    def add(self, digest: str) -> None:
        self.added.add(digest)

    def save(self) -> None:
        if self.path is None or not self.added:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pass-")
            with os.fdopen(fd, "wb") as f:
                f.write(jsonio.dumps(sorted(self.known | self.added)))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only cache only costs time
