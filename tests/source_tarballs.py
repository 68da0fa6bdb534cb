"""Source tarballs for tests, made at run time from the mirror's (never committed, never copied).

``variant()`` reads the mirror's ``archive/refs/tags/<tag>.tar.gz`` and writes a new tarball with
some files replaced, removed or added, and optionally raw members no honest archive holds
(a symlink, a path escaping the top directory): the bad-input catalogue and the source-build
tests make what they need from the real tree.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path

ARCHIVE = "github.com/kserve/kserve/archive/refs/tags"

# path below the top directory -> new text (None: remove the file, or everything below a path
# ending in "/"; a callable edits the old text)
Edits = Mapping[str, str | Callable[[str], str] | None]


def mirror_tarball(upstream: Path, version: str) -> Path:
    return upstream / ARCHIVE / f"{version}.tar.gz"


def top_of(version: str) -> str:
    return f"kserve-{version.removeprefix('v')}"


def variant(
    upstream: Path,
    version: str,
    dest: Path,
    edits: Edits | None = None,
    extra: list[tuple[tarfile.TarInfo, bytes]] | None = None,
) -> str:
    """Write the edited copy of ``version``'s source tarball to ``dest``; returns its sha256."""
    todo = dict(edits or {})
    top = top_of(version)
    out = io.BytesIO()
    with (
        tarfile.open(mirror_tarball(upstream, version)) as src,
        tarfile.open(fileobj=out, mode="w:gz") as tar,
    ):
        for member in src:
            rel = member.name.removeprefix(top + "/")
            if any(rel.startswith(k) or rel == k.rstrip("/") for k in todo if k.endswith("/")):
                continue
            if rel in todo:
                edit = todo.pop(rel)
                if edit is None:
                    continue
                handle = src.extractfile(member)
                old = handle.read().decode() if handle else ""
                _add(tar, member.name, (edit(old) if callable(edit) else edit).encode())
            elif member.isfile():
                handle = src.extractfile(member)
                tar.addfile(member, handle)
            else:
                tar.addfile(member)
        for rel, edit in todo.items():  # new files
            if isinstance(edit, str) and not rel.endswith("/"):
                _add(tar, f"{top}/{rel}", edit.encode())
        for info, data in extra or []:
            tar.addfile(info, io.BytesIO(data) if data else None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(out.getvalue())
    return hashlib.sha256(out.getvalue()).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def symlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def extract(version: str, upstream: Path, dest: Path) -> Path:
    """The mirror's source tree of ``version`` on disk (tarfile's "data" filter), for kubectl."""
    with tarfile.open(mirror_tarball(upstream, version)) as tar:
        tar.extractall(dest, filter="data")
    return dest / top_of(version)


def selection(tree: Path, components: list[str]) -> Path:
    """A kustomization like upstream's ``config/overlays/standalone/kserve``: the base and the
    components wanted (``overlays/all`` is the base and all three)."""
    d = tree / "config" / "overlays" / f"selection-{'-'.join(components)}"
    d.mkdir(parents=True, exist_ok=True)
    listed = "".join(f"- ../../components/{c}\n" for c in components)
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: kserve\n"
        f"resources:\n- ../../base\ncomponents:\n{listed}"
    )
    return d


def wanted_components(left_out: list[str]) -> list[str]:
    """Upstream's components but those left out (``components/llmisvc``, ...)."""
    return [c for c in ("kserve", "llmisvc", "localmodel") if f"components/{c}" not in left_out]
