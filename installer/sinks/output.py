"""Writing directories safely: into a temporary sibling, then renamed into place.

An interrupted write leaves either the old directory or the new one, never a mix
(:mod:`installer.atomic`); bad targets (a file, a non-empty directory without ``--force``, an
unwritable parent) are refused before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from installer.atomic import replace_directory
from installer.errors import OutputError


def check_target(path: Path, force: bool, what: str) -> None:
    """Refuse a target that cannot be written, before anything is fetched or written. Missing
    parents are fine (they are created with the tree, as ``mkdir -p``), unless one is a file."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputError(f"{what} {path}: directory is not empty (pass --force to replace it)")
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{what} {path}: {ancestor} is a file, not a directory")
    try:  # a real probe: permission bits say little to root, and nothing of /proc or a read-only mount
        os.rmdir(tempfile.mkdtemp(dir=ancestor, prefix=f".{path.name}.probe-"))
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot write to {ancestor}: {exc.strerror}") from None


def write_atomically(path: Path, fill: Callable[[Path], None], force: bool, what: str) -> None:
    """Check the target, then fill a fresh sibling and swap it in (:mod:`installer.atomic`)."""
    check_target(path, force, what)
    try:
        replace_directory(path, fill)
    except OSError as exc:
        if exc.filename and Path(str(exc.filename)).parent == path.resolve().parent:
            raise OutputError(
                f"{what} {path}: cannot write to {path.resolve().parent}: {exc.strerror}"
            ) from None
        raise


def safe_name(*parts: str) -> str:
    """A file name from object fields; anything that could leave the directory is refused."""
    text = "-".join(p for p in parts if p).lower()
    if not text or "/" in text or "\\" in text or text.startswith(".") or "\0" in text:
        raise OutputError(f"cannot name a file after {'/'.join(parts)!r}: not a Kubernetes object name")
    for ch in text:
        if not (ch.isalnum() or ch in "-._:"):
            raise OutputError(f"cannot name a file after {'/'.join(parts)!r}: character {ch!r}")
    return text.replace(":", "-")
