"""Configure: what plain kustomize cannot say, generated as one more kustomization layer.

Each selected component looks at the overlay's output and contributes JSON 6902 operations per
object, objects to delete, strategic-merge patches and new objects
(:class:`~installer.components.base.Contribution`; the render stage asks them). This stage adds
what holds for every object
whoever ships it (the registry rewrite of every ``image``; the namespace kustomize puts on
cluster-scoped custom resources, which the API server would refuse) and writes it all as a root
``kustomization.yaml`` over the overlay: one patch per object, then the merges, then the new
objects, then one Secrets file. ``kubectl kustomize`` of that tree reproduces the render exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from installer import images, objects, yamlio
from installer.components.base import Contribution, JsonPatch
from installer.components.kserve import pointer
from installer.objects import Obj, ObjectKey

SECRETS_FILE = "secrets.yaml"


@dataclass
class Configured:
    """The generated root layer: its kustomization files, and what it set (for messages)."""

    files: dict[str, str] = field(default_factory=dict)
    config_changes: dict[str, list[str]] = field(default_factory=dict)


def generic_ops(obj: Obj, registry: str | None, cluster_kinds: set[tuple[str, str]]) -> JsonPatch:
    """Operations every object may need, whichever component ships it."""
    ops: JsonPatch = []
    key = (objects.group_of(obj), str(obj.get("kind")))
    if key in cluster_kinds and (obj.get("metadata") or {}).get("namespace"):
        ops.append({"op": "remove", "path": "/metadata/namespace"})
    if registry and obj.get("kind") != "CustomResourceDefinition":
        ops += [
            {"op": "replace", "path": pointer(*path), "value": images.relocate(text, registry)}
            for path, text in images.image_fields(obj)
        ]
    return ops


def target(obj: Obj) -> dict[str, str]:
    """A kustomize patch target that selects exactly ``obj``."""
    api = str(obj["apiVersion"])
    meta = obj.get("metadata") or {}
    out = {"group": objects.group_of(obj), "version": api.split("/", 1)[-1], "kind": str(obj["kind"])}
    out["name"] = re.escape(str(meta["name"]))
    if meta.get("namespace"):
        out["namespace"] = re.escape(str(meta["namespace"]))
    return out


def _file_name(obj: Obj, suffix: str) -> str:
    """``patches/<kind>-<namespace>-<name><suffix>.yaml``: named after the object alone (no running
    number), so that one more patch for one object adds one file and renames none, and a review of
    a change to the generated layer (a fleet's cluster directory) shows only that change."""
    meta = obj.get("metadata") or {}
    parts = [str(obj["kind"]).lower(), str(meta.get("namespace") or ""), str(meta["name"])]
    slug = re.sub(r"[^a-z0-9.-]+", "-", "-".join(p for p in parts if p).lower())
    return f"patches/{slug}{suffix}.yaml"


def _delete_patch(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    ident: dict[str, Any] = {"name": meta["name"]}
    if meta.get("namespace"):
        ident["namespace"] = meta["namespace"]
    return {"$patch": "delete", "apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": ident}


class _Layer:
    """The root kustomization being written: patch entries and their files."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.files: dict[str, str] = {}

    def add(self, obj: Obj, body: Any, targeted: bool, suffix: str = "") -> None:
        name = _file_name(obj, suffix)
        n = 1
        while name in self.files:  # two objects whose names differ only in what a slug drops
            n += 1
            name = _file_name(obj, f"{suffix}-{n}")
        self.files[name] = yamlio.dump_for_review(body)
        self.entries.append({"path": name, "target": target(obj)} if targeted else {"path": name})


def _patches(objs: list[Obj], contributions: Sequence[Contribution], registry: str | None) -> _Layer:
    cluster_kinds = {k for k, scope in objects.crd_scopes(objs).items() if scope == "Cluster"}
    deletes = {key for c in contributions for key in c.deletes}
    layer = _Layer()
    for obj in objs:
        key = ObjectKey.of(obj)
        if key in deletes:
            layer.add(obj, _delete_patch(obj), targeted=False, suffix=".delete")
            continue
        ops = generic_ops(obj, registry, cluster_kinds)
        ops += [op for c in contributions for op in c.ops.get(key, ())]
        if ops:
            layer.add(obj, ops, targeted=True)
    for c in contributions:
        for obj, merge in c.merges:
            layer.add(obj, merge, targeted=True, suffix=".merge")
    return layer


def root_layer(objs: list[Obj], contributions: Sequence[Contribution], registry: str | None) -> Configured:
    """The root kustomization (over ``overlay/``) that configures the overlay's output ``objs``."""
    layer = _patches(objs, contributions, registry)
    resources: list[str] = ["overlay"]
    for c in contributions:
        for name, new in c.resources:
            layer.files[name] = yamlio.dump_all(new)
            resources.append(name)
    secrets = [s for c in contributions for s in c.secrets]
    if secrets:
        layer.files[SECRETS_FILE] = yamlio.dump_all(secrets)
        resources.append(SECRETS_FILE)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    if layer.entries:
        kustomization["patches"] = layer.entries
    changes = {k: v for c in contributions for k, v in c.config_changes.items()}
    return Configured({"kustomization.yaml": yamlio.dump(kustomization), **layer.files}, changes)
