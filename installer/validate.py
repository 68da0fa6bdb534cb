"""Validate: every object against a schema before anything leaves the installer.

Core kinds are checked with kubernetes-validate (the Kubernetes OpenAPI schemas, strict: unknown
fields are errors, as ``kubectl apply --validate=strict`` would report them). Custom resources are
checked against the ``openAPIV3Schema`` of their CRD in the same render, turned into JSON Schema
(``nullable``, ``x-kubernetes-int-or-string`` and ``x-kubernetes-preserve-unknown-fields`` mapped;
unknown fields refused where the CRD lists properties, since the API server would drop them).
Kinds with neither (cert-manager's, whose CRDs are not part of KServe) are reported as skipped.

Validation of KServe's 75 objects takes over a second, and a render runs on every deploy; an
object that passed once passes again, so the digests of objects that passed are kept in the cache
directory and only new or changed objects are checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from installer import __version__, objects
from installer.errors import InstallerError
from installer.objects import Obj

log = logging.getLogger(__name__)

KUBERNETES_VERSION = "1.32"


class ValidationError(InstallerError):
    """A rendered object does not match its schema."""


@dataclass
class Report:
    checked: int = 0
    cached: int = 0
    skipped: list[str] = field(default_factory=list)


def _digest(obj: Obj, salt: str) -> str:
    return hashlib.sha256(
        (salt + json.dumps(obj, sort_keys=True, separators=(",", ":"))).encode()
    ).hexdigest()


class _PassCache:
    """Digests of objects that passed validation (one JSON file; written atomically)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: set[str] = set()
        self.added: set[str] = set()
        if path is not None:
            try:
                self.known = set(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                self.known = set()

    def save(self) -> None:
        if self.path is None or not self.added:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".validated-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(sorted(self.known | self.added), f)
        os.replace(tmp, self.path)


def _location(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def validate_objects(
    objs: list[Obj], cache_path: Path | None = None, kubernetes_version: str = KUBERNETES_VERSION
) -> Report:
    """Raise :class:`ValidationError` naming the object and field of the first failure."""
    report = Report()
    salt = f"{__version__}/{kubernetes_version}/"
    cache = _PassCache(cache_path)
    crd_schemas = _crd_schemas(objs)
    pending: list[tuple[str, Obj]] = []
    for obj in objs:
        d = _digest(obj, salt)
        if d in cache.known:
            report.cached += 1
        else:
            pending.append((d, obj))
    if pending:
        core = _CoreValidator(kubernetes_version)
        for d, obj in pending:
            key = (objects.group_of(obj), str(obj.get("kind")), str(obj.get("apiVersion", "")).split("/")[-1])
            if key in crd_schemas:
                _check_custom(obj, crd_schemas[key])
            elif (
                objects.group_of(obj) in objects.BUILTIN_GROUPS
                and objects.group_of(obj) != objects.CERT_MANAGER_GROUP
            ):
                core.check(obj)
            else:
                report.skipped.append(objects.describe(obj))
                continue
            report.checked += 1
            cache.added.add(d)
        cache.save()
    if report.skipped:
        log.debug("no schema for %s", ", ".join(report.skipped))
    return report


class _CoreValidator:
    def __init__(self, version: str) -> None:
        import kubernetes_validate  # imported lazily: ~0.2 s, needed only when the cache misses

        self.kv = kubernetes_validate
        self.version = version

    def check(self, obj: Obj) -> None:
        try:
            self.kv.validate(obj, self.version, strict=True)
        except self.kv.ValidationError as exc:
            err = exc.caused_by if hasattr(exc, "caused_by") else exc
            path = _location(getattr(err, "absolute_path", getattr(err, "path", [])))
            message = getattr(err, "message", str(err))
            raise ValidationError(f"validate: {objects.describe(obj)}: {path}: {message}") from None
        except self.kv.SchemaNotFoundError:
            what = f"{obj.get('apiVersion')} {obj.get('kind')}"
            raise ValidationError(
                f"validate: {objects.describe(obj)}: Kubernetes {self.version} has no {what}"
            ) from None


def _crd_schemas(objs: list[Obj]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for o in objs:
        if o.get("kind") != "CustomResourceDefinition":
            continue
        spec = o.get("spec") or {}
        for v in spec.get("versions") or []:
            schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
            out[(str(spec.get("group")), str((spec.get("names") or {}).get("kind")), str(v.get("name")))] = (
                schema
            )
    return out


def to_json_schema(node: Any, root: bool = True) -> Any:
    """A CRD structural schema as JSON Schema (draft 4 vocabulary)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out["properties"] = {k: to_json_schema(v, False) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value, False) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(v, False) for v in value]
        elif key in ("x-kubernetes-int-or-string", "nullable", "format") or key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if root:
        props = out.setdefault("properties", {})
        for k in ("apiVersion", "kind"):
            props.setdefault(k, {"type": "string"})
        props["metadata"] = {"type": "object"}
    return out


def _check_custom(obj: Obj, schema: Mapping[str, Any]) -> None:
    import jsonschema

    validator = jsonschema.Draft4Validator(to_json_schema(schema))
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        raise ValidationError(
            f"validate: {objects.describe(obj)}: {_location(err.absolute_path)}: {err.message}"
        )
