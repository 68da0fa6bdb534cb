"""Reading an upstream tarball strictly, in memory: nothing of it is ever written to disk.

ModelMesh Serving ships its kustomize tree as a ``.tar.gz``, and a KServe source is GitHub's
archive of a ref. Both are read here into ``{path below the top directory: text}``, which the
kustomize engine builds without touching the disk (:class:`installer.kustomize.FileTree`). Not
extracting at all is the strongest answer to the classic archive attacks: no member can land
outside a directory, follow a link out of it, or overwrite anything.

Refused, each with one line naming the tarball and the member: a member that is not a regular
file or a directory (symlinks, hard links, devices, FIFOs), an absolute path, a path with ``..``,
a member outside the single top directory, more members or more bytes than any release holds
(a decompression bomb stops at the limit, not at the end of the disk).

Written on the standard library's :mod:`tarfile` rather than its ``extractall(filter="data")``:
that filter extracts to disk and accepts links inside the tree, and here nothing is extracted
and no link is needed.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from installer.errors import BuildError

MAX_MEMBER_BYTES: Final = 64 << 20
MAX_TOTAL_BYTES: Final = 512 << 20
MAX_MEMBERS: Final = 100_000


@dataclass(frozen=True)
class Tarball:
    """A tarball's text files by path below its top directory, and that directory's name."""

    top: str
    files: dict[str, str]


def _member_path(label: str, member: tarfile.TarInfo) -> str:
    """The member's normalized path; unsafe ones are refused (one line naming the member)."""
    raw = member.name
    name = posixpath.normpath(raw)
    if raw.startswith("/") or name == ".." or name.startswith("../") or "/../" in f"/{raw}/":
        raise BuildError(f"{label}: member {raw!r} escapes the archive's top directory (absolute or '..')")
    return name


def _kind(member: tarfile.TarInfo) -> str | None:
    """Why a member is refused (None: a regular file or a directory)."""
    if member.isfile() or member.isdir():
        return None
    if member.issym():
        return f"a symlink (to {member.linkname!r})"
    if member.islnk():
        return f"a hard link (to {member.linkname!r})"
    return "not a regular file"


def read(path: Path, label: str | None = None, under: Collection[str] = ()) -> Tarball:
    """The text files of the ``.tar.gz`` at ``path``, below its one top directory.

    ``under``: keep only files below these directories (relative to the top); the others are
    checked but not kept. Files that are not UTF-8 are skipped (nothing kustomize reads is binary).
    """
    name = label or path.name
    files: dict[str, str] = {}
    tops: set[str] = set()
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise BuildError(f"{name}: more than {MAX_MEMBERS} members")
                rel = _keep(name, member, tops)
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    raise BuildError(f"{name}: more than {MAX_TOTAL_BYTES} bytes unpacked")
                if rel is None or (under and not any(rel.startswith(d.rstrip("/") + "/") for d in under)):
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                try:
                    files[rel] = handle.read().decode("utf-8")
                except UnicodeDecodeError:
                    continue
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BuildError(f"{name}: not a readable .tar.gz: {exc}") from None
    if len(tops) != 1:
        raise BuildError(f"{name}: expected one top directory, found {sorted(tops) or 'none'}")
    return Tarball(tops.pop(), files)


def _keep(label: str, member: tarfile.TarInfo, tops: set[str]) -> str | None:
    """The path below the top directory of a regular file to read (None: a directory)."""
    path = _member_path(label, member)
    why = _kind(member)
    if why is not None:
        raise BuildError(f"{label}: {member.name} is {why}; only regular files are read")
    if member.size > MAX_MEMBER_BYTES:
        raise BuildError(f"{label}: {member.name} is too large ({member.size} bytes)")
    top, _, rest = path.partition("/")
    if member.isdir():
        if top not in (".", ""):
            tops.add(top)
        return None
    if not rest:
        raise BuildError(f"{label}: {member.name} is not under a top directory")
    tops.add(top)
    return rest
