"""Validate: every object against a schema before anything leaves the installer.

Core kinds are checked with kubernetes-validate (the Kubernetes OpenAPI schemas, strict: unknown
fields are errors, as ``kubectl apply --validate=strict`` would report them). Custom resources are
checked against the ``openAPIV3Schema`` of their CRD in the same render, turned into JSON Schema
(``nullable``, ``x-kubernetes-int-or-string`` and ``x-kubernetes-preserve-unknown-fields`` mapped;
unknown fields refused where the CRD lists properties, since the API server would drop them).
Kinds with neither (cert-manager's, whose CRDs are not part of KServe) are reported as skipped.

The verdict comes from jsonschema-rs and the error message from python-jsonschema
(:mod:`installer.schemacheck`). Even so, a render runs on every deploy and an object that passed
once passes again, so the digests of objects that passed are kept in the cache directory and only
new or changed objects are checked.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from installer import __version__, jsonio, objects
from installer.errors import UsageError, ValidationError
from installer.objects import Obj
from installer.passcache import PassCache
from installer.schemacheck import Checker, SchemaSet

log = logging.getLogger(__name__)

KUBERNETES_VERSION = "1.32"

# A schema is checked by jsonschema-rs first when its objects in a render are this many bytes of
# JSON or more (:mod:`installer.schemacheck`). python-jsonschema takes ~0.09 s per MB of CRDs;
# jsonschema-rs 25 ms to import and 7 MB of peak RSS (its library and the compiled CRD schema).
# The CRDs of v0.18+ (2.0-2.3 MB, 0.18 s in python-jsonschema) are worth it; v0.16.0's (1.2 MB)
# would have raised its cold render's peak RSS from 89 to 95 MB (0.40x kustomize's) to save 0.1 s.
FAST_MIN_BYTES = 1536 * 1024


@dataclass
class Report:
    checked: int = 0
    cached: int = 0
    skipped: list[str] = field(default_factory=list)


class _Deciders:
    """What decides whether an object passes: its CRD version's schema, or the Kubernetes
    schemas of a version (with the package that ships them), or nothing. A remembered pass is
    keyed by the object *and* this, so a stricter CRD of the same name is checked again."""

    def __init__(
        self, crd_schemas: Mapping[tuple[str, str, str], Mapping[str, Any]], kubernetes_version: str
    ):
        self.crd_schemas = crd_schemas
        self.core = f"k8s/{kubernetes_version}/kubernetes-validate {_package_version('kubernetes-validate')}"
        self._schema_digests: dict[tuple[str, str, str], str] = {}

    def salt(self, obj: Obj) -> str:
        key = _schema_key(obj)
        if key in self.crd_schemas:
            if key not in self._schema_digests:
                self._schema_digests[key] = "crd/" + jsonio.digest(self.crd_schemas[key])
            return self._schema_digests[key]
        if _has_core_schema(obj):
            return self.core
        return "no schema"


def _schema_key(obj: Obj) -> tuple[str, str, str]:
    return (objects.group_of(obj), str(obj.get("kind")), str(obj.get("apiVersion", "")).split("/")[-1])


def _has_core_schema(obj: Obj) -> bool:
    """Whether kubernetes-validate's schemas cover ``obj``'s kind (cert-manager's are not)."""
    group = objects.group_of(obj)
    return group in objects.BUILTIN_GROUPS and group != objects.CERT_MANAGER_GROUP


@functools.cache
def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


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
    salt = f"{__version__}/"
    cache = PassCache(cache_path)
    crd_schemas = _crd_schemas(objs)
    deciders = _Deciders(crd_schemas, kubernetes_version)
    pending: list[tuple[str, Obj]] = []
    to_check: dict[tuple[str, str, str], int] = {}  # JSON bytes to check, by schema
    for obj in objs:
        data = jsonio.canonical(obj)
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            d = ""  # never digest secret values into a file: checked every time
        else:
            d = jsonio.hashed(data, salt + deciders.salt(obj))
            if d in cache:
                report.cached += 1
                continue
        pending.append((d, obj))
        key = _schema_key(obj)
        to_check[key] = to_check.get(key, 0) + len(data)
    core: _CoreValidator | None = None
    custom: dict[tuple[str, str, str], Checker] = {}
    for d, obj in pending:
        key = _schema_key(obj)
        fast = to_check[key] >= FAST_MIN_BYTES
        if key in crd_schemas:
            if key not in custom:
                custom[key] = _custom_validator(crd_schemas[key])
            _raise_first(obj, custom[key], fast)
            report.checked += 1
        elif _has_core_schema(obj):
            core = core or core_validator(kubernetes_version)
            core.check(obj, fast)
            report.checked += 1
        else:
            report.skipped.append(objects.describe(obj))
        if d:
            cache.add(d)  # skipped objects too: their answer (no schema) does not change either
    cache.save()
    if report.skipped:
        log.debug("no schema for %s", ", ".join(report.skipped))
    return report


@functools.cache
def _strict_schema_dirs() -> dict[tuple[int, int, int], Path]:
    """kubernetes-validate's strict schema directories by Kubernetes version, read from its
    package directory: importing it costs 0.13 s (it imports python-jsonschema), and all we
    use of it is its JSON files."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return {}
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    return {
        (int(m.group(1)), int(m.group(2)), int(m.group(3))): p
        for p in (root.iterdir() if root.is_dir() else ())
        if (m := re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-local-strict", p.name))
    }


def supported_kubernetes_versions() -> list[tuple[int, int]]:
    """(major, minor) of every Kubernetes version kubernetes-validate ships strict schemas for."""
    return sorted({v[:2] for v in _strict_schema_dirs()})


def parse_kubernetes_version(text: str) -> str:
    """``1.32``, ``v1.32`` or ``1.32.4`` -> ``1.32``, if its schemas ship; else one line (exit 2)."""
    supported = supported_kubernetes_versions()
    span = (
        f"{supported[0][0]}.{supported[0][1]} to {supported[-1][0]}.{supported[-1][1]}"
        if supported
        else "none"
    )
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if m is None:
        raise UsageError(f"--kube-version {text}: not a Kubernetes version like 1.32 (supported: {span})")
    version = (int(m.group(1)), int(m.group(2)))
    if version not in supported:
        raise UsageError(
            f"--kube-version {text}: no Kubernetes schemas for {version[0]}.{version[1]} (supported: {span})"
        )
    return f"{version[0]}.{version[1]}"


@functools.cache
def core_validator(version: str) -> _CoreValidator:
    """The (expensive to build) validator of core kinds for a Kubernetes version, built once."""
    return _CoreValidator(version)


class _CoreValidator:
    """kubernetes-validate's strict schemas of one Kubernetes version (the newest it ships that
    is not newer), the shared definitions read once, one checker per kind.

    ``kubernetes_validate.validate`` re-reads its multi-megabyte definitions file and rebuilds the
    registry for every object (~25 ms each). Each kind's checker registers only the definitions
    its schema reaches (a fifth of the 1.4 MB for all of KServe's kinds together): jsonschema-rs
    holds what it is given in memory, ~7 MB for all of them.
    """

    def __init__(self, version: str) -> None:
        self.version = version
        wanted = tuple(int(x) for x in version.split(".")[:2])
        dirs = sorted((v, p) for v, p in _strict_schema_dirs().items() if v[:2] <= wanted)
        if not dirs:
            raise ValidationError(f"validate: no Kubernetes schemas for {version}")
        self.schema_dir = dirs[-1][1]
        self.definitions: dict[str, Any] = jsonio.loads((self.schema_dir / "_definitions.json").read_bytes())
        self._refs: dict[str, frozenset[str]] = {}
        self.validators: dict[tuple[str, str], Checker] = {}

    def _reached(self, schema: Any) -> dict[str, Any]:
        """The definitions document with only the definitions ``schema`` reaches."""
        defs = self.definitions["$defs"]
        todo = set(_refs_in(schema))
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in defs:
                continue
            seen.add(name)
            if name not in self._refs:
                self._refs[name] = frozenset(_refs_in(defs[name]))
            todo |= self._refs[name] - seen
        head = {k: v for k, v in self.definitions.items() if k != "$defs"}
        return {**head, "$defs": {n: defs[n] for n in seen}}

    def _validator(self, obj: Obj) -> Checker:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key not in self.validators:
            api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", key[0])
            try:
                schema = jsonio.loads((self.schema_dir / f"{key[1].lower()}-{api}.json").read_bytes())
            except FileNotFoundError:
                raise ValidationError(
                    f"validate: {objects.describe(obj)}: Kubernetes {self.version} has no {key[0]} {key[1]}"
                ) from None
            self.validators[key] = SchemaSet("2020-12", [self._reached(schema)]).checker(schema)
        return self.validators[key]

    def check(self, obj: Obj, fast: bool = False) -> None:
        _raise_first(obj, self._validator(obj), fast)


def _refs_in(node: Any) -> Iterator[str]:
    """The definition names of every ``$ref`` in ``node`` (``…#/$defs/NAME``)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str):
                    yield value.rpartition("#/$defs/")[2]
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


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


_DRAFT4 = SchemaSet("4")


def _custom_validator(schema: Mapping[str, Any]) -> Checker:
    return _DRAFT4.checker(to_json_schema(schema))


def _raise_first(obj: Obj, checker: Checker, fast: bool = False) -> None:
    err = checker.first_error(obj, fast)
    if err is not None:
        raise ValidationError(
            f"validate: {objects.describe(obj)}: {_location(err.absolute_path)}: {err.message}"
        )
