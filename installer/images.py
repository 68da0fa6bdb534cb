"""Container images: the one walk that finds image references, and the registry rewrite.

``images.registry`` must reach every image KServe can start: workload containers, the images
named inside the ``inferenceservice-config`` JSON (``image``, ``*Image`` keys), serving runtimes,
and ModelMesh's runtime images. Every stage that rewrites images finds them with
:func:`image_fields` and rewrites them with :func:`relocate`, so "what is an image" and "where
does it go" are decided once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Path = tuple[str | int, ...]


def is_image_key(key: str | int) -> bool:
    """``image`` itself: the field of every container and runtime."""
    return key == "image"


def is_image_like_key(key: str | int) -> bool:
    """``image`` or ``...Image`` (``storageInitializer.image``, ``agent.image``, ``modelcarImage``)."""
    return isinstance(key, str) and (key == "image" or key.endswith("Image"))


def strings(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """(path, value) of every string below ``node``, depth first, in document order."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, (*path, i))
    elif isinstance(node, str):
        yield path, node


def image_fields(
    node: Any, path: Path = (), is_image: Callable[[str | int], bool] = is_image_key
) -> Iterator[tuple[Path, str]]:
    """(path, reference) of every non-empty image field below ``node``."""
    for p, text in list(strings(node, path)):
        if p and is_image(p[-1]) and text:
            yield p, text


def set_at(root: Any, path: Path, value: Any) -> None:
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def relocate(ref: str, registry: str) -> str:
    """``quay.io/brancz/kube-rbac-proxy:v0.18.0`` -> ``REGISTRY/brancz/kube-rbac-proxy:v0.18.0``.

    The source registry host (a first path segment with a dot or port, or ``localhost``) is
    dropped and the rest of the path kept, so images from different registries stay apart only
    by their path: the layout ``skopeo sync`` and most mirroring tools produce.
    """
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        ref = rest
    return f"{registry.rstrip('/')}/{ref}"


def relocate_all(node: Any, registry: str, is_image: Callable[[str | int], bool] = is_image_key) -> None:
    """Rewrite every image field below ``node`` in place."""
    for path, text in image_fields(node, (), is_image):
        set_at(node, path, relocate(text, registry))
