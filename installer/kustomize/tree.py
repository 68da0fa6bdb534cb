"""The files a build reads: a tree of texts and pre-parsed objects, by POSIX path.

The engine never touches the disk while building. Callers hand it a :class:`FileTree`: the render
assembles one in memory (pre-built upstream objects, rendered overlays, generated patches), and
:meth:`FileTree.from_directory` loads a checkout or an extracted tarball. Keeping the disk out of
the build is what makes a build a pure function of its input, and what lets pre-parsed objects
stand in for files (they are never parsed twice).
"""

from __future__ import annotations

import functools
import os
import posixpath
import stat
from pathlib import Path

from installer import yamlio
from installer.errors import BuildError
from installer.objects import Obj

# kustomize's recognized names, in the order it looks for them.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_FILE_BYTES = 64 << 20  # far above any manifest; stops a stray disk image from being read whole

FileValue = str | list[Obj]


class FileTree:
    """Files of a kustomization, by POSIX path relative to the tree's root.

    A value is either text or a list of already-parsed objects: pre-built upstream files are
    handed over parsed, so they are never parsed twice. ``refused`` names files that exist but
    were not loaded (a symlink leading outside the tree, a device, binary content), so reading
    one says why instead of "no such file".
    """

    __slots__ = ("_parsed", "files", "refused")

    def __init__(
        self, files: dict[str, FileValue] | None = None, refused: dict[str, str] | None = None
    ) -> None:
        self.files: dict[str, FileValue] = files if files is not None else {}
        self.refused: dict[str, str] = refused if refused is not None else {}
        # Parsed documents of text files, remembered with the text they came from: a directory
        # that several kustomizations include (KServe's 2 MB CRDs) is parsed once per tree.
        self._parsed: dict[str, tuple[str, list[Obj]]] = {}

    @classmethod
    def from_directory(cls, root: str | os.PathLike[str]) -> FileTree:
        """Load every regular file below ``root`` (paths relative to it, POSIX separators).

        Safe on untrusted trees: only regular files are read; a symlink is followed only when it
        resolves to a regular file inside ``root`` (as kustomize's load restrictor demands), and
        symlinked directories are not entered, so nothing outside ``root`` is ever read and no
        cycle can be walked. Other entries are recorded in ``refused`` with the reason.
        """
        base = Path(root).resolve(strict=True)
        if not base.is_dir():
            raise BuildError(f"kustomize: {root}: not a directory")
        tree = cls()
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            here = Path(dirpath)
            for name in list(dirnames):
                if (here / name).is_symlink():
                    dirnames.remove(name)
                    tree.refused[_relative(base, here / name)] = "a symlinked directory (not followed)"
            for name in filenames:
                tree._load(base, here / name)
        return tree

    def _load(self, base: Path, path: Path) -> None:
        rel = _relative(base, path)
        real = path.resolve() if path.is_symlink() else path
        if real != path and not real.is_relative_to(base):
            self.refused[rel] = "a symlink leading outside the tree"
            return
        try:
            info = real.stat()
        except OSError as exc:
            self.refused[rel] = f"unreadable ({exc.strerror})"
            return
        if not stat.S_ISREG(info.st_mode):
            self.refused[rel] = "not a regular file"
        elif info.st_size > MAX_FILE_BYTES:
            self.refused[rel] = f"too large ({info.st_size} bytes)"
        else:
            try:
                self.files[rel] = real.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                self.refused[rel] = "not UTF-8 text"

    def read(self, path: str) -> FileValue:
        """A file's text or objects; a missing or refused file is an error that says which."""
        try:
            return self.files[path]
        except KeyError:
            reason = self.refused.get(path, "no such file")
            raise BuildError(f"kustomize: {path}: {reason}") from None

    def documents(self, path: str) -> list[Obj]:
        """The objects in a file (parsed once per text; the engine never mutates them)."""
        value = self.read(path)
        if isinstance(value, list):
            return list(value)
        cached = self._parsed.get(path)
        if cached is not None and cached[0] is value:
            return list(cached[1])
        docs = parse_documents(path, value)
        self._parsed[path] = (value, docs)
        return list(docs)

    def is_dir(self, path: str) -> bool:
        prefix = "" if path in ("", ".") else path.rstrip("/") + "/"
        return any(k.startswith(prefix) for k in self.files)

    def kustomization_in(self, path: str) -> str | None:
        """The kustomization file of a directory; like kustomize, two of them is an error."""
        found = [c for c in (join(path, n) for n in KUSTOMIZATION_FILES) if c in self.files]
        if len(found) > 1:
            raise BuildError(f"kustomize: {path}: more than one kustomization file ({', '.join(found)})")
        return found[0] if found else None


def _relative(base: Path, path: Path) -> str:
    return path.relative_to(base).as_posix()


@functools.lru_cache(maxsize=4096)
def join(base: str, rel: str) -> str:
    """``rel`` relative to the directory ``base``, normalized; never above the tree's root.
    (Remembered: a render joins the same few paths for every patch and kustomization.)"""
    joined = posixpath.normpath(posixpath.join(base, rel) if base not in ("", ".") else rel)
    if joined == ".." or joined.startswith("../") or posixpath.isabs(rel):
        raise BuildError(f"kustomize: {rel} escapes the kustomization root")
    return joined


def parse_documents(path: str, value: FileValue) -> list[Obj]:
    """The Kubernetes objects of a YAML stream (empty documents skipped, as kustomize does)."""
    if isinstance(value, list):
        return list(value)
    try:
        docs = [d for d in yamlio.load_all(value) if d is not None]
    except Exception as exc:
        raise BuildError(f"kustomize: {path}: not valid YAML: {' '.join(str(exc).split())}") from None
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d:
            raise BuildError(f"kustomize: {path}: every document must be a Kubernetes object")
        if str(d["kind"]).endswith("List") and isinstance(d.get("items"), list):
            raise BuildError(f"kustomize: {path}: a {d['kind']} of objects is not supported; list them")
        metadata = d.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("name"):
            raise BuildError(f"kustomize: {path}: a {d['kind']} without metadata.name")
    return docs
