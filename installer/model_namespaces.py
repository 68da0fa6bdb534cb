"""``modelNamespaces``: the namespaces where models run, each with its storage settings.

An entry is a name (from ``--set``, the environment or a values file) or, in a values file, a
mapping ``{name, create, bucket: {endpoint, region, verifySsl, credentialsFile}}``. Unset storage
fields fall back to the global ``bucket.*`` parameters, so the common case stays one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from installer.errors import ParameterError
from installer.params import Parameters


@dataclass(frozen=True)
class ModelNamespace:
    name: str
    create: bool
    endpoint: str | None
    region: str | None
    verify_ssl: bool | None
    credentials_file: str | None
    # Where its credentials file was given, for error messages that name the parameter.
    credentials_parameter: str


def model_namespaces(params: Parameters) -> list[ModelNamespace]:
    out: list[ModelNamespace] = []
    seen: set[str] = set()
    for i, raw in enumerate(params["modelNamespaces"] or []):
        entry: dict[str, Any] = {"name": raw} if isinstance(raw, str) else dict(raw)
        bucket = dict(entry.get("bucket") or {})
        name = str(entry["name"])
        if name in seen:
            raise ParameterError("modelNamespaces", f"{name} is listed twice")
        seen.add(name)
        own_file = bucket.get("credentialsFile")
        out.append(
            ModelNamespace(
                name=name,
                create=bool(entry.get("create", True)),
                endpoint=bucket.get("endpoint", params["bucket.endpoint"]),
                region=bucket.get("region", params["bucket.region"]),
                verify_ssl=bucket.get("verifySsl", params["bucket.verifySsl"]),
                credentials_file=own_file or params["bucket.credentialsFile"],
                credentials_parameter=(
                    f"modelNamespaces[{i}].bucket.credentialsFile" if own_file else "bucket.credentialsFile"
                ),
            )
        )
    return out


def names(params: Parameters) -> list[str]:
    return [ns.name for ns in model_namespaces(params)]
