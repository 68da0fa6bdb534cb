"""Writing directories safely: into a temporary sibling, then renamed into place.

An interrupted write leaves either the old directory or the new one, never a mix; bad targets
(a file, a non-empty directory without ``--force``, an unwritable parent) are refused before
anything is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from installer.errors import OutputError


def check_target(path: Path, force: bool, what: str) -> None:
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputError(f"{what} {path}: directory is not empty (pass --force to replace it)")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{what} {path}: parent directory {parent} does not exist")
    try:  # a real probe: permission bits say little to root, and nothing of /proc or a read-only mount
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.probe-"))
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot write to {parent}: {exc.strerror}") from None


def write_atomically(path: Path, fill: Callable[[Path], None], force: bool, what: str) -> None:
    """Call ``fill(tmp)`` on a fresh sibling directory, then swap it in for ``path``."""
    check_target(path, force, what)
    parent = path.resolve().parent
    try:
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.tmp-"))
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot write to {parent}: {exc.strerror}") from None
    try:
        os.chmod(tmp, 0o755)
        fill(tmp)
        if path.exists():
            if exchange(tmp, path):
                shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old tree
                return
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.old-"))
            os.rmdir(old)
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported.

    With two renames there is a moment when the target does not exist at all; a process killed
    then would leave neither the old tree nor the new one.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return int(fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)) == 0


def safe_name(*parts: str) -> str:
    """A file name from object fields; anything that could leave the directory is refused."""
    text = "-".join(p for p in parts if p).lower()
    if not text or "/" in text or "\\" in text or text.startswith(".") or "\0" in text:
        raise OutputError(f"cannot name a file after {'/'.join(parts)!r}: not a Kubernetes object name")
    for ch in text:
        if not (ch.isalnum() or ch in "-._:"):
            raise OutputError(f"cannot name a file after {'/'.join(parts)!r}: character {ch!r}")
    return text.replace(":", "-")
