"""Replacing a directory in one step: readers see the old tree or the new one, never a mix.

The new tree is filled in a temporary sibling (same file system), then swapped with the old one by
Linux's ``renameat2(RENAME_EXCHANGE)``: at no moment is there no tree at all, so a process killed
at any point leaves one whole tree. Where the call is missing (other kernels, other systems) two
renames are used, which leave a short moment without the directory. Used by every sink that
writes a directory and by the pre-build.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return int(fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)) == 0


def replace_directory(path: Path, fill: Callable[[Path], None], mode: int = 0o755) -> None:
    """Call ``fill(tmp)`` on a fresh sibling directory, then put it in place of ``path``.

    ``OSError`` from making the sibling reaches the caller (which names the target); anything
    ``fill`` raises leaves ``path`` as it was and removes the sibling.
    """
    parent = path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.tmp-"))
    try:
        os.chmod(tmp, mode)
        fill(tmp)
        if not path.exists():
            tmp.rename(path)
        elif exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old tree
        else:
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.old-"))
            os.rmdir(old)
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
