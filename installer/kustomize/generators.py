"""``configMapGenerator`` (with ``generatorOptions``): ConfigMaps from files and literals.

Only ``disableNameSuffixHash: true`` is supported: a hashed name would have to be written into
every reference to the ConfigMap, and this engine never renames objects. Options of an entry
win over the kustomization's ``generatorOptions`` (labels and annotations are merged, the
entry's values first), as in kustomize.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from installer.errors import BuildError
from installer.kustomize.tree import FileValue
from installer.objects import Obj

Reader = Callable[[str, str], tuple[str, FileValue]]


def generate(spec: Mapping[str, Any], read: Reader, kfile: str) -> list[Obj]:
    """The ConfigMaps of a kustomization's ``configMapGenerator``; ``read(rel, where)`` loads a file."""
    options = spec.get("generatorOptions") or {}
    return [
        _config_map(gen, options, read, f"{kfile}: configMapGenerator[{i}]")
        for i, gen in enumerate(spec.get("configMapGenerator") or [])
    ]


def _config_map(gen: Mapping[str, Any], options: Mapping[str, Any], read: Reader, where: str) -> Obj:
    if not gen.get("name"):
        raise BuildError(f"kustomize: {where}: needs a name")
    own = gen.get("options") or {}
    if not (options.get("disableNameSuffixHash") or own.get("disableNameSuffixHash")):
        raise BuildError(
            f"kustomize: {where}: name hashes are not supported; set generatorOptions.disableNameSuffixHash"
        )
    if gen.get("behavior", "create") not in (None, "create"):
        raise BuildError(f"kustomize: {where}: only behavior create is supported")
    meta: dict[str, Any] = {"name": str(gen["name"])}
    if gen.get("namespace"):
        meta["namespace"] = str(gen["namespace"])
    labels = {**(options.get("labels") or {}), **(own.get("labels") or {})}
    annotations = {**(options.get("annotations") or {}), **(own.get("annotations") or {})}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    cm: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    data = _data(gen, read, where)
    if data:
        cm["data"] = data
    if options.get("immutable") or own.get("immutable"):
        cm["immutable"] = True
    return cm


def _data(gen: Mapping[str, Any], read: Reader, where: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for lit in gen.get("literals") or []:
        key, sep, value = str(lit).partition("=")
        if not sep:
            raise BuildError(f"kustomize: {where}: literal {lit!r} is not key=value")
        data[key] = value
    for entry in gen.get("files") or []:
        key, sep, rel = str(entry).partition("=")
        if not sep:
            key, rel = posixpath.basename(str(entry)), str(entry)
        fpath, text = read(rel, where)
        if not isinstance(text, str):
            raise BuildError(f"kustomize: {where}: {fpath} must be text")
        data[key] = text
    return data
