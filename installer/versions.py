"""Release tags and the asset names each release publishes.

KServe renamed and added assets over time (kserve-install-surfaces.md, table a): up to v0.11 the
runtimes came as ``kserve-runtimes.yaml``; v0.12-v0.16 publish ``kserve.yaml`` and
``kserve-cluster-resources.yaml``; from v0.17 ``kserve-crds.yaml`` comes first and ``kserve.yaml``
no longer holds the Namespace. ModelMesh Serving publishes its kustomize tree as a tarball.
"""

from __future__ import annotations

import re
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
