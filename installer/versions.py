"""Release tags and the asset names each release publishes.

KServe renamed and added assets over time (kserve-install-surfaces.md, table a): up to v0.11 the
runtimes came as ``kserve-runtimes.yaml``; v0.12-v0.16 publish ``kserve.yaml`` and
``kserve-cluster-resources.yaml``; from v0.17 ``kserve-crds.yaml`` comes first and ``kserve.yaml``
no longer holds the Namespace. ModelMesh Serving publishes its kustomize tree as a tarball.

A KServe *source* is GitHub's archive of a ref (``archive/refs/tags/<tag>.tar.gz``,
``archive/<commit>.tar.gz``, a fork's); :func:`archive_ref` reads which ref a URL names, and
``SOURCE_ENTRY_POINTS`` are the directories upstream's release recipe builds.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from typing import Final

KSERVE: Final = "kserve"
MODELMESH: Final = "modelmesh-serving"
COMPONENTS: Final = (KSERVE, MODELMESH)

_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")
TAG_PATTERN: Final = _TAG.pattern


def is_tag(tag: str) -> bool:
    return _TAG.match(tag) is not None


def parse_tag(tag: str) -> tuple[int, int, int, tuple[int, str]]:
    """Sortable key of a release tag; a pre-release sorts before its release."""
    m = _TAG.match(tag)
    if not m:
        raise ValueError(f"not a release tag like v0.16.0: {tag!r}")
    major, minor, patch, pre = m.groups()
    return int(major), int(minor), int(patch), (0, pre) if pre else (1, "")


def minor_of(tag: str) -> tuple[int, int]:
    key = parse_tag(tag)
    return key[0], key[1]


def release_url(component: str, tag: str, name: str) -> str:
    return f"https://github.com/kserve/{component}/releases/download/{tag}/{name}"


def asset_names(component: str, tag: str) -> list[str]:
    """The release assets the installer needs for ``component`` at ``tag``, in apply order."""
    if component == MODELMESH:
        return [f"config-{tag}.tar.gz"]
    if component != KSERVE:
        raise ValueError(f"unknown component {component!r}")
    minor = minor_of(tag)
    if minor < (0, 12):
        return ["kserve.yaml", "kserve-runtimes.yaml"]
    if minor < (0, 17):
        return ["kserve.yaml", "kserve-cluster-resources.yaml"]
    return ["kserve-crds.yaml", "kserve.yaml", "kserve-cluster-resources.yaml"]


# What upstream's release recipe builds (hack/release/generate-install.sh at v0.20.0), in order:
# kserve-crds.yaml, kserve.yaml (without its Namespace, :latest -> the tag), and
# kserve-cluster-resources.yaml (:latest -> the tag).
SOURCE_ENTRY_POINTS: Final = ("config/crd/full", "config/overlays/all", "config/clusterresources")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ArchiveRef:
    """What a GitHub archive URL names: the repository and a tag, a commit or a branch."""

    repository: str
    kind: str  # "tag", "commit" or "branch"
    ref: str


def archive_ref(url: str) -> ArchiveRef | None:
    """``https://github.com/OWNER/REPO/archive/refs/tags/TAG.tar.gz`` and friends (None when the
    URL is not such an archive: a tarball elsewhere names no ref the installer can use)."""
    parts = urllib.parse.urlsplit(url)
    segments = [urllib.parse.unquote(s) for s in parts.path.split("/") if s]
    if parts.hostname != "github.com" or len(segments) < 4 or segments[2] != "archive":
        return None
    if not segments[-1].endswith(".tar.gz"):
        return None
    repository = f"{segments[0]}/{segments[1]}"
    rest = [*segments[3:-1], segments[-1].removesuffix(".tar.gz")]
    if rest[:2] == ["refs", "tags"] and len(rest) > 2:
        return ArchiveRef(repository, "tag", "/".join(rest[2:]))
    if rest[:2] == ["refs", "heads"] and len(rest) > 2:
        return ArchiveRef(repository, "branch", "/".join(rest[2:]))
    if len(rest) == 1:
        return ArchiveRef(repository, "commit" if _COMMIT.match(rest[0]) else "tag", rest[0])
    return None


def source_version(url: str) -> str | None:
    """The KServe version a source URL names: the tag of an archive of ``kserve/kserve`` when it is
    a release tag. A fork's tags follow the fork's own scheme, and a commit names no version."""
    ref = archive_ref(url)
    if ref is None or ref.repository.lower() != "kserve/kserve" or ref.kind != "tag":
        return None
    return ref.ref if is_tag(ref.ref) else None


def entry_point_problem(entry: object) -> str | None:
    """Why ``entry`` is not a directory inside a source tree (None when it is one)."""
    if not isinstance(entry, str) or not entry:
        return "must be a directory path"
    norm = posixpath.normpath(entry)
    if entry.startswith("/") or norm == ".." or norm.startswith("../") or "\\" in entry:
        return f"{entry!r} must be a relative path inside the tarball"
    return None
