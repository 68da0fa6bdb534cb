"""The parameter model: the schema, its leaves, and the resolved values every stage reads.

One JSON Schema (``parameters.schema.json``) declares every parameter: type, default, hubctl
environment variable (``x-env``), brief. :class:`Parameters` is what the parameter stage
(:mod:`installer.params`) hands down the pipeline: flat dotted keys, each value with where it came
from. Reading it is reading data; nothing here resolves or validates.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from installer import versions

MASK = "********"

# Canonical mode names of KServe <= v0.15, and the v0.16+ names that alias them.
MODE_ALIASES = {"Standard": "RawDeployment", "Knative": "Serverless"}
ALIASES_SINCE = (0, 16)


@dataclass(frozen=True)
class Leaf:
    """One parameter of the schema."""

    key: str
    schema: Mapping[str, Any]

    @property
    def env(self) -> str | None:
        return self.schema.get("x-env")

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def brief(self) -> str:
        return str(self.schema.get("x-brief", ""))

    @property
    def secret(self) -> bool:
        return bool(self.schema.get("x-secret", False))

    @property
    def types(self) -> list[str]:
        t = self.schema.get("type", "string")
        return [t] if isinstance(t, str) else list(t)


@functools.cache
def schema() -> dict[str, Any]:
    """The parameter JSON Schema shipped in the package."""
    text = resources.files("installer").joinpath("parameters.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def leaves() -> dict[str, Leaf]:
    """Every parameter by dotted key, in schema order."""
    out: dict[str, Leaf] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for name, sub in node.get("properties", {}).items():
            key = f"{prefix}{name}"
            if sub.get("type") == "object":
                walk(sub, key + ".")
            else:
                out[key] = Leaf(key, sub)

    walk(schema(), "")
    return out


@dataclass(frozen=True)
class Parameters:
    """Effective parameter values (flat, dotted keys) and where each came from."""

    values: Mapping[str, Any]
    origins: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def namespace(self) -> str:
        return str(self.values["kserve.namespace"])

    @property
    def version(self) -> str:
        return str(self.values["kserve.version"])

    @property
    def mode(self) -> str:
        """The requested mode name as given (may be a v0.16+ alias)."""
        return str(self.values["kserve.deploymentMode"])

    @property
    def canonical_mode(self) -> str:
        """Serverless, RawDeployment or ModelMesh, whatever spelling was given."""
        return MODE_ALIASES.get(self.mode, self.mode)

    def nested(self, masked: bool = True) -> dict[str, Any]:
        """The values as a nested mapping (secrets masked unless ``masked=False``)."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            node = out
            *parents, last = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = MASK if masked and leaves()[key].secret and value else value
        return out

    @property
    def minor(self) -> tuple[int, int]:
        """(major, minor) of the KServe version: what per-version choices look at."""
        return versions.minor_of(self.version)


def s3_endpoint_parts(value: str) -> tuple[str, bool] | None:
    """``http://minio.minio:9000`` -> (``minio.minio:9000``, use_https=False); None if malformed.

    KServe wants host[:port] without a scheme and decides http/https from s3UseHttps alone
    (kserve-install-surfaces.md, b). No scheme means https, KServe's own default.
    """
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        return None
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?|\[[0-9a-f:]+\]", parts.hostname):
        return None
    host = parts.netloc.lower() if port is None else f"{parts.hostname}:{port}"
    return host, parts.scheme == "https"
