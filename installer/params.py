"""Parameters: one JSON Schema, five sources, one precedence order.

defaults < ``-f values.yaml`` (repeatable, later files win) < hubctl environment variables
< ``--set key=value`` (repeatable) < explicit flags (``--mode``, ``--version``).

Keys are hubctl's dotted names (``kserve.namespace``). Every input is flattened to dotted keys
first, so an unknown key, a wrong type or a bad value is reported against the name a user knows,
with the place it came from. The hubctl environment is read only when running under hubctl
(``HUB_COMPONENT`` is set) or with ``--from-env``: a stray ``NAMESPACE`` in someone's shell must
never move an install.
"""

from __future__ import annotations

import difflib
import re
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from installer import jsonio, locations, versions, yamlio
from installer.errors import ParameterError
from installer.lock import Lock
from installer.parameters import (
    ALIASES_SINCE,
    MASK,
    MODE_ALIASES,
    Leaf,
    Parameters,
    leaves,
    s3_endpoint_parts,
    schema,
)
from installer.passcache import PassCache

__all__ = [
    "MASK",
    "InlineValues",
    "Leaf",
    "ParameterOptions",
    "Parameters",
    "leaves",
    "resolve",
    "s3_endpoint_parts",
    "schema",
]

if TYPE_CHECKING:
    import jsonschema

MAX_VALUES_FILE_BYTES = 1 << 20

_PATTERN_WORDS = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a DNS-1123 label (lowercase letters, digits and '-')",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": "a DNS-1123 host name",
    versions.TAG_PATTERN: "a release tag like v0.16.0",
    "^[a-z0-9-]+$": "a region name like eu-west-1",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$": "an image tag (letters, digits, '_', '.', '-'; at most 128)",
    "^[^\\s]+$": "a source name or URL (no spaces)",
}


def _groups() -> set[str]:
    return {k.rsplit(".", i)[0] for k in leaves() for i in range(1, k.count(".") + 1)}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, list(leaves()), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# ---------------------------------------------------------------- values files


class _ValuesLoader(yamlio.SafeLoader):  # type: ignore[misc]
    """Safe loader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key) if isinstance(key, str | int | float | bool) else None
    return loader.construct_mapping(node, deep=deep)


_ValuesLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_values_file(path: Path, what: str = "values file") -> dict[str, Any]:
    """Read a values file (or another YAML mapping, ``what``, such as a fleet file); every defect is
    one ParameterError naming the file."""
    name = str(path)
    try:
        raw = _read_values(path, name, what)
    except FileNotFoundError:
        raise ParameterError(name, f"{what} not found") from None
    except PermissionError:
        raise ParameterError(name, f"{what} is not readable (permission denied)") from None
    except OSError as exc:
        raise ParameterError(name, f"cannot read {what}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(name, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.load(text, Loader=_ValuesLoader)  # noqa: S506 (a SafeLoader refusing duplicates)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise ParameterError(name, f"YAML error at {where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ParameterError(name, f"YAML error: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(name, f"a {what} must be a mapping, got {type(data).__name__}")
    if yamlio.has_shared_nodes(data):
        # A few lines of anchors can stand for billions of nodes ("billion laughs"): refuse them.
        raise ParameterError(name, f"YAML anchors and aliases are not allowed in a {what}")
    return data


def _read_values(path: Path, name: str, what: str = "values file") -> bytes:
    """The bytes of a values file, or of standard input for ``-`` (kubectl's and Helm's
    convention); never more than the size limit."""
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_VALUES_FILE_BYTES + 1)
        if len(raw) > MAX_VALUES_FILE_BYTES:
            raise ParameterError(
                "-", f"values from standard input exceed the limit of {MAX_VALUES_FILE_BYTES} bytes"
            )
        return raw
    if path.is_dir():
        raise ParameterError(name, f"is a directory, not a {what}")
    size = path.stat().st_size
    if size > MAX_VALUES_FILE_BYTES:
        raise ParameterError(name, f"{what} is {size} bytes; the limit is {MAX_VALUES_FILE_BYTES}")
    return path.read_bytes()


def flatten(data: Mapping[Any, Any], origin: str) -> dict[str, Any]:
    """Nested or dotted mapping -> {dotted key: value}; unknown keys are errors, and so is one
    parameter given twice in two spellings (``kserve.namespace: a`` beside ``kserve: {namespace:
    b}``): YAML's own duplicate check cannot see that, and silently keeping one would surprise."""
    out: dict[str, Any] = {}
    _flatten_into(data, origin, ("", ""), out, {})
    return out


def _flatten_into(
    data: Mapping[Any, Any], origin: str, at: tuple[str, str], out: dict[str, Any], spelled: dict[str, str]
) -> None:
    """``at``: (dotted prefix, the prefix as written) of ``data``'s keys."""
    known, groups = leaves(), _groups()
    prefix, written = at
    for raw_key, value in data.items():
        if not isinstance(raw_key, str) or not raw_key:
            raise ParameterError(f"{origin}", f"parameter names must be strings, got {_short(raw_key)}")
        key = prefix + raw_key
        spelling = f"{written}{raw_key}" if not written else f"{written}{{{raw_key}}}"
        if key in known:
            if key in out:
                raise ParameterError(
                    key, f"given twice in {origin}: as {spelled[key]} and as {spelling}; keep one"
                )
            out[key], spelled[key] = value, spelling
        elif key in groups:
            if not isinstance(value, Mapping):
                raise ParameterError(key, f"expected a mapping of parameters (in {origin})")
            _flatten_into(value, origin, (key + ".", f"{spelling}: "), out, spelled)
        else:
            raise ParameterError(key, f"unknown parameter (in {origin}){_suggest(key)}")


# ---------------------------------------------------------------- strings (env, --set)


def coerce(key: str, text: str, origin: str) -> Any:
    """Turn a string from the environment or ``--set`` into the leaf's type."""
    leaf = leaves()[key]
    types = leaf.types
    if text == "" and "null" in types:
        return None
    if "array" in types:
        body = text[1:-1] if text.startswith("{") and text.endswith("}") else text
        return [item for item in re.split(r"[\s,]+", body) if item]
    if "boolean" in types:
        low = text.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ParameterError(key, f"expected true or false, got {_short(text)} (from {origin})")
    if "integer" in types:
        try:
            return int(text)
        except ValueError:
            raise ParameterError(key, f"expected an integer, got {_short(text)} (from {origin})") from None
    return text


def parse_set(arg: str) -> tuple[str, str]:
    """``key=value`` -> (key, value), Helm style."""
    if "=" not in arg:
        raise ParameterError(f"--set {arg}", "expected key=value")
    key, value = arg.split("=", 1)
    key = key.strip()
    if key not in leaves():
        raise ParameterError(key or "--set", f"unknown parameter (from --set){_suggest(key)}")
    return key, value


def from_env(env: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """Parameters hubctl passes as environment variables, by dotted key."""
    out: dict[str, tuple[Any, str]] = {}
    for key, leaf in leaves().items():
        if leaf.env and leaf.env in env:
            origin = f"environment {leaf.env}"
            out[key] = (coerce(key, env[leaf.env], origin), origin)
    return out


# ---------------------------------------------------------------- validation


def _check_s3_endpoint(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return True  # the type keyword reports it
    return s3_endpoint_parts(value) is not None


def _check_pinned_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    url = value.split("#", 1)[0]
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        return False
    if "#" in value:
        return re.fullmatch(r"sha256=[0-9a-f]{64}", value.split("#", 1)[1]) is not None
    return True


_FORMAT_WORDS = {
    "s3-endpoint": "not an S3 endpoint like http://minio.minio:9000 or s3.eu-west-1.amazonaws.com",
    "pinned-url": "not an http(s) URL, optionally ending in #sha256=<64 hex digits>",
}


def _message(err: jsonschema.ValidationError, secret: bool) -> str:
    shown = "value" if secret else _short(err.instance)
    v = err.validator
    if v == "type":
        allowed: Any = err.validator_value
        want = allowed if isinstance(allowed, str) else " or ".join(allowed)
        return f"expected {want}, got {type(err.instance).__name__} {shown}"
    if v == "enum":
        choices: Any = err.validator_value
        return f"{shown} is not one of {', '.join(map(str, choices))}"
    if v == "pattern":
        return f"{shown} is not {_PATTERN_WORDS.get(str(err.validator_value), 'valid')}"
    if v == "minLength":
        return "must not be empty"
    if v == "maxLength":
        return f"{shown} is longer than {err.validator_value} characters"
    if v == "format":
        return f"{shown} is {_FORMAT_WORDS.get(str(err.validator_value), 'malformed')}"
    return err.message


def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # ~0.06 s: imported only when a parameter set has not been seen before

    formats = jsonschema.FormatChecker(formats=())
    formats.checks("s3-endpoint")(_check_s3_endpoint)
    formats.checks("pinned-url")(_check_pinned_url)
    return jsonschema.Draft202012Validator(schema(), format_checker=formats)


def validate(values: Mapping[str, Any], origins: Mapping[str, str]) -> PassCache:
    """Check every value against the schema; the first error (by key) is raised.

    Parameter sets that passed before are remembered by digest (see :mod:`installer.passcache`);
    the caller saves the returned store once every other check passed too, so bad input never
    writes anything.
    """
    doc = Parameters(values).nested(masked=False)
    passed = PassCache(locations.cache_dir() / "validated" / "parameters.json")
    key = jsonio.digest(doc, jsonio.digest(schema()))
    if key in passed:
        return passed
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.path])
    if not errors:
        passed.add(key)
        return passed
    err = errors[0]
    path = [p for p in err.absolute_path]
    key_parts = [str(p) for p in path if isinstance(p, str)]
    key = ".".join(key_parts)
    index = next((f"[{p}]" for p in path if isinstance(p, int)), "")
    leaf = leaves().get(key)
    origin = origins.get(key, "default")
    raise ParameterError(f"{key}{index}", f"{_message(err, bool(leaf and leaf.secret))} (from {origin})")


# ---------------------------------------------------------------- resolution


@dataclass(frozen=True)
class InlineValues:
    """Values given in place rather than in a file of their own (a fleet file's ``values:``).

    They take a values file's place in the precedence order, so a fleet can interleave its
    shared and per-cluster files and mappings; ``origin`` is what error messages name.
    """

    origin: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ParameterOptions:
    """Where parameters come from, besides the defaults (``installer params --help`` lists them)."""

    # Values files (or values given in place), lowest precedence first.
    values_files: Sequence[Path | InlineValues] = ()
    set_args: Sequence[str] = ()
    mode: str | None = None
    version: str | None = None
    # -n/--namespace of the cluster commands: kserve.namespace, as a flag.
    namespace: str | None = None
    # Read hubctl's environment variables (implied when HUB_COMPONENT is set).
    from_env: bool = False
    allow_unpinned: bool = False


def resolve(
    lock: Lock,
    options: ParameterOptions | None = None,
    env: Mapping[str, str] | None = None,
    checks: Callable[[Parameters], None] | None = None,
) -> Parameters:
    """Merge every source by precedence, validate, fill in the computed defaults, and run
    ``checks`` (the components' cross-parameter rules). A parameter set is remembered as valid
    only once all of that passed: a refused command writes nothing, not even to the cache."""
    opts = options or ParameterOptions()
    environ = env or {}
    values: dict[str, Any] = {k: leaf.default for k, leaf in leaves().items()}
    origins: dict[str, str] = {}

    for source in opts.values_files:
        data, where, origin = _values_of(source)
        for key, value in flatten(data, where).items():
            values[key], origins[key] = value, origin
    if opts.from_env or "HUB_COMPONENT" in environ:
        for key, (value, origin) in from_env(environ).items():
            values[key], origins[key] = value, origin
    for arg in opts.set_args:
        key, text = parse_set(arg)
        values[key], origins[key] = coerce(key, text, "--set"), "--set"
    for key, flag, value in (
        ("kserve.deploymentMode", "--mode", opts.mode),
        ("kserve.version", "--version", opts.version),
        ("kserve.namespace", "--namespace", opts.namespace),
    ):
        if value is not None:
            values[key], origins[key] = value, flag

    passed = validate(values, origins)

    if values["kserve.source"]:
        _source_version(values, origins, lock, opts.allow_unpinned)
    if values["kserve.version"] is None:
        values["kserve.version"] = lock.default_version(versions.KSERVE)
        origins["kserve.version"] = "lock file default"
    _check_version(values, origins, lock, opts.allow_unpinned)
    _check_mode(values, origins)
    resolved = Parameters(values, origins)
    if checks is not None:
        checks(resolved)
    passed.save()
    return resolved


def _values_of(source: Path | InlineValues) -> tuple[Mapping[Any, Any], str, str]:
    """The mapping a values source holds, where an unknown key is said to be, and the origin its
    values are reported with."""
    if isinstance(source, InlineValues):
        if yamlio.has_shared_nodes(source.data):
            raise ParameterError(source.origin, "YAML anchors and aliases are not allowed in values")
        return source.data, source.origin, source.origin
    if str(source) == "-":
        return load_values_file(source), "standard input", "standard input"
    return load_values_file(source), str(source), f"values file {source}"


def _source_version(
    values: dict[str, Any], origins: dict[str, str], lock: Lock, allow_unpinned: bool
) -> None:
    """A source build is the KServe version its source is: ``kserve.version`` follows it, and may
    only repeat it (a source outside the lock whose URL names no release needs it given)."""
    from installer.sources import source_for

    spec = values["kserve.source"]
    if values["kustomize.resources"]:
        raise ParameterError(
            "kserve.source",
            f"cannot be combined with kustomize.resources (both replace the release assets; from "
            f"{origins.get('kserve.source')})",
        )
    source = source_for(lock, spec, allow_unpinned)
    given = values["kserve.version"]
    if not source.version and given is None:
        raise ParameterError(
            "kserve.source", f"{spec} names no KServe release; set kserve.version to the version it is"
        )
    if source.version and given is not None and given != source.version:
        raise ParameterError(
            "kserve.version",
            f"{given} (from {origins.get('kserve.version')}) is not the version of source {source.name} "
            f"({source.version}); leave kserve.version unset",
        )
    if given is None:
        values["kserve.version"], origins["kserve.version"] = source.version, f"source {source.name}"


def _check_version(
    values: Mapping[str, Any], origins: Mapping[str, str], lock: Lock, allow_unpinned: bool
) -> None:
    version = values["kserve.version"]
    pinned = lock.has(versions.KSERVE, version) or values["kserve.source"]
    if pinned or allow_unpinned or values["kustomize.resources"]:
        return
    known = ", ".join(lock.versions(versions.KSERVE)) or "none"
    raise ParameterError(
        "kserve.version",
        f"{version} is not in the lock file (locked: {known}; from {origins.get('kserve.version')}); "
        f"pin it with `installer lock add --version {version}` or pass --allow-unpinned",
    )


def _check_mode(values: Mapping[str, Any], origins: Mapping[str, str]) -> None:
    mode, version = values["kserve.deploymentMode"], values["kserve.version"]
    if mode in MODE_ALIASES and versions.minor_of(version) < ALIASES_SINCE:
        raise ParameterError(
            "kserve.deploymentMode",
            f"{mode} is only understood by KServe v0.16 and later; KServe {version} exits at start-up "
            f"on it: use {MODE_ALIASES[mode]} (from {origins.get('kserve.deploymentMode', 'default')})",
        )
