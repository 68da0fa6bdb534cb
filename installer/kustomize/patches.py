"""``patches:``: strategic-merge patches and JSON 6902 patches, with or without a target.

As in kustomize: a patch is strategic-merge when its text is YAML objects and JSON 6902 when it
is a list of operations. Without a target, each strategic-merge patch applies to the object with
its id (current or original); with a target, to every object the target selects. A JSON 6902
patch needs a target. A patched object is copied whole before the patch applies (the patch may
reach anywhere in it), which is also what the render's writer expects of patched objects.

JSON 6902 is the jsonpatch library's. Strategic merge is written here: no Python package
implements it (kustomize's is kyaml's merge2, in Go); it follows the Kubernetes API types' merge
keys for the built-in kinds patched in practice, and custom resources have no schema here (nor
in kustomize), so their lists are replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jsonpatch

from installer import yamlio
from installer.errors import BuildError
from installer.kustomize.cow import deep_copy
from installer.kustomize.resid import Res, current_id, name_of
from installer.kustomize.selectors import Target
from installer.kustomize.tree import parse_documents
from installer.objects import Obj, describe

log = logging.getLogger(__name__)

POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Strategic-merge keys of the built-in types (the API types' patchMergeKey tags). A list without
# an entry is replaced whole, as Kubernetes does.
POD_SPEC_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
CONTAINER_MERGE_KEYS = {
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "resizePolicy": "resourceName",
}
_BUILTIN_SMP_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "networking.k8s.io",
        "policy",
    }
)


def parse_patch(text: str, where: str) -> tuple[bool, list[dict[str, Any]]]:
    """(is JSON 6902, its operations) or (False, the strategic-merge patches)."""
    body = text.strip()
    if not body:
        raise BuildError(f"kustomize: {where}: the patch is empty")
    try:
        docs = [d for d in yamlio.load_all(body) if d is not None]
    except Exception as exc:
        raise BuildError(
            f"kustomize: {where}: patch is not valid YAML: {' '.join(str(exc).split())}"
        ) from None
    if not docs:
        raise BuildError(f"kustomize: {where}: the patch is empty")
    if len(docs) == 1 and isinstance(docs[0], list):
        ops: list[dict[str, Any]] = docs[0]
        if not all(isinstance(op, dict) and "op" in op for op in ops):
            raise BuildError(f"kustomize: {where}: a JSON 6902 patch is a list of operations")
        return True, ops
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("kind") or not name_of(doc):
            raise BuildError(f"kustomize: {where}: a strategic-merge patch needs a kind and metadata.name")
    return False, parse_documents(where, docs)


def apply_patch(resources: list[Res], text: str, target: Mapping[str, Any] | None, where: str) -> list[Res]:
    """Apply one ``patches:`` entry to the build's resources."""
    is_json, parsed = parse_patch(text, where)
    if is_json:
        if not target:
            raise BuildError(f"kustomize: {where}: a JSON 6902 patch needs a target")
        ops = _json_patch(parsed, where)
        selected = _selected(resources, target, where)
        for res in selected:
            res.store_previous_id()
            res.update(_json6902(res.obj, ops, where))
        return resources
    if target:
        if len(parsed) > 1:
            raise BuildError(
                f"kustomize: {where}: a patch with a target may hold only one strategic-merge patch"
            )
        chosen = {id(r) for r in _selected(resources, target, where)}
        return _merge_into(resources, lambda r: id(r) in chosen, parsed[0])
    for patch in parsed:
        pid = current_id(patch)
        found = [r for r in resources if any(i.equals(pid) for i in r.all_ids())]
        if len(found) != 1:
            what = "no resource matches" if not found else f"{len(found)} resources match"
            raise BuildError(f"kustomize: {where}: {what} the strategic-merge patch for {describe(patch)}")
        resources = _merge_into(resources, lambda r, hit=found[0]: r is hit, patch)
    return resources


def _selected(resources: list[Res], target: Mapping[str, Any], where: str) -> list[Res]:
    """The objects a ``target:`` selects."""
    chosen = Target(target, f"kustomize: {where}: target")
    selected = chosen.select(resources)
    if not selected:
        # kustomize applies such a patch to nothing, silently; say so at least.
        log.warning("kustomize: %s: no resource matches target %s; the patch changes nothing", where, chosen)
    return selected


def _merge_into(resources: list[Res], chosen: Any, patch: Obj) -> list[Res]:
    out = []
    for res in resources:
        if chosen(res):
            merged = strategic_merge(res.obj, patch)
            if merged is None:
                continue
            res.update(merged)
        out.append(res)
    return out


def _json_patch(ops: list[dict[str, Any]], where: str) -> jsonpatch.JsonPatch:
    try:
        return jsonpatch.JsonPatch(ops)
    except (jsonpatch.InvalidJsonPatch, TypeError) as exc:
        raise BuildError(f"kustomize: {where}: not a valid JSON 6902 patch: {exc}") from None


def _json6902(obj: Obj, ops: jsonpatch.JsonPatch, where: str) -> Obj:
    """A JSON 6902 patch applied (by the jsonpatch library) to a copy of ``obj``."""
    try:
        result: Obj = ops.apply(deep_copy(obj), in_place=True)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise BuildError(f"kustomize: {where}: {describe(obj)}: {exc}") from None
    if not isinstance(result, dict):
        raise BuildError(f"kustomize: {where}: {describe(obj)}: the patch leaves no object")
    if name_of(result) != name_of(obj):
        # kustomize would then rewrite every reference to the old name; this engine never renames.
        raise BuildError(
            f"kustomize: {where}: {describe(obj)}: renaming an object with a patch is not supported"
        )
    return result


# ---------------------------------------------------------------------------- strategic merge


def _merge_key(kind: str, path: tuple[str, ...]) -> str | None:
    """The strategic-merge key of the list at ``path`` in an object of ``kind``, if any."""
    pod = POD_SPEC_PATHS.get(kind)
    if pod and path[: len(pod)] == pod:
        rest = path[len(pod) :]
        if len(rest) == 1:
            return POD_SPEC_MERGE_KEYS.get(rest[0])
        if len(rest) == 3 and rest[0] in ("containers", "initContainers", "ephemeralContainers"):
            return CONTAINER_MERGE_KEYS.get(rest[2])
    if kind == "Service" and path == ("spec", "ports"):
        return "port"
    if kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration") and path == ("webhooks",):
        return "name"
    if path == ("metadata", "ownerReferences"):
        return "uid"
    return None


def strategic_merge(obj: Obj, patch: Mapping[str, Any]) -> Obj | None:
    """Apply a strategic-merge patch; None when the patch says ``$patch: delete``.

    The object keeps its kind, name and namespace, as kustomize keeps them.
    """
    if patch.get("$patch") == "delete":
        return None
    kind = str(obj.get("kind"))
    builtin = current_id(obj).group in _BUILTIN_SMP_GROUPS
    body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
    meta = dict(body.get("metadata") or {})
    meta.pop("name", None)
    meta.pop("namespace", None)
    body["metadata"] = meta
    return _merge_map(deep_copy(obj), body, kind if builtin else None, ())


def _merge_map(orig: Obj, patch: Mapping[str, Any], kind: str | None, path: tuple[str, ...]) -> Obj:
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            orig.pop(key, None)
        elif isinstance(value, dict) and isinstance(orig.get(key), dict):
            orig[key] = _merge_map(orig[key], value, kind, (*path, key))
        elif isinstance(value, list) and isinstance(orig.get(key), list) and kind is not None:
            merge_key = _merge_key(kind, (*path, key))
            orig[key] = (
                _merge_list(orig[key], value, merge_key, kind, (*path, key)) if merge_key else _strip(value)
            )
        else:
            orig[key] = _strip(value)
    return orig


def _merge_list(orig: list[Any], patch: list[Any], key: str, kind: str, path: tuple[str, ...]) -> list[Any]:
    """Merge by ``key`` in kustomize's order: the patch's items first, then untouched originals."""
    by_key = {o.get(key): o for o in orig if isinstance(o, dict) and key in o}
    mentioned: set[Any] = set()
    head: list[Any] = []
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            head.append(_strip(item))
            continue
        mentioned.add(item[key])
        if item.get("$patch") == "delete":
            continue
        original = by_key.get(item[key])
        head.append(_strip(item) if original is None else _merge_map(original, item, kind, (*path, "*")))
    tail = [o for o in orig if not (isinstance(o, dict) and o.get(key) in mentioned)]
    return head + tail


def _strip(value: Any) -> Any:
    """Drop directive keys and null map values from a value being added (as kustomize does)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
