"""Credentials (S3, etcd): from a file or the environment, never from parameters a shell history keeps.

Values travel only in :class:`S3Credentials`, whose ``repr`` is masked; errors name the file or
the variable, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from installer.errors import ParameterError

# Names of environment variables and file keys, not values.
ACCESS_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY = "AWS_SECRET_ACCESS_KEY"  # noqa: S105
ETCD_USER = "ETCD_USERID"
ETCD_PASSWORD = "ETCD_PASSWORD"  # noqa: S105
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    source: str = ""

    def values(self) -> tuple[str, str]:
        return self.access_key_id, self.secret_access_key


def parse_env_file(text: str, origin: str) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` and quotes allowed, ``#`` comments); values never echoed."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        if "=" not in line:
            raise ParameterError(origin, f"line {n} is not KEY=VALUE")
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _load_pair(
    parameter: str, first: str, second: str, credentials_file: str | None, env: Mapping[str, str]
) -> tuple[str, str, str] | None:
    """Two values from ``credentials_file`` (``KEY=VALUE`` lines), else from the environment."""
    if credentials_file:
        path = Path(credentials_file)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ParameterError(parameter, f"{path} is larger than {MAX_FILE_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ParameterError(parameter, f"{path}: no such file") from None
        except UnicodeDecodeError:
            raise ParameterError(parameter, f"{path}: not UTF-8 text") from None
        except IsADirectoryError:
            raise ParameterError(parameter, f"{path}: is a directory") from None
        except OSError as exc:
            raise ParameterError(parameter, f"{path}: {exc.strerror}") from None
        found = parse_env_file(text, f"{parameter} {path}")
        missing = [k for k in (first, second) if not found.get(k)]
        if missing:
            raise ParameterError(parameter, f"{path} has no {missing[0]}")
        return found[first], found[second], f"file {path}"
    have = [k for k in (first, second) if env.get(k)]
    if not have:
        return None
    if len(have) == 1:
        other = second if have[0] == first else first
        raise ParameterError(other, f"{have[0]} is set but {other} is not")
    return env[first], env[second], "environment"


def load_credentials(
    credentials_file: str | None,
    env: Mapping[str, str] | None = None,
    parameter: str = "bucket.credentialsFile",
) -> S3Credentials | None:
    """Credentials from ``credentials_file``, else from the environment; None when neither has any."""
    pair = _load_pair(parameter, ACCESS_KEY, SECRET_KEY, credentials_file, os.environ if env is None else env)
    return S3Credentials(*pair) if pair else None


@dataclass(frozen=True)
class EtcdCredentials:
    userid: str = field(repr=False)
    password: str = field(repr=False)
    source: str = ""


def load_etcd_credentials(
    credentials_file: str | None, env: Mapping[str, str] | None = None
) -> EtcdCredentials | None:
    """etcd user and password for ModelMesh, from ``modelmesh.etcd.credentialsFile`` or the
    ETCD_USERID / ETCD_PASSWORD variables; None when neither has any (etcd without auth)."""
    pair = _load_pair(
        "modelmesh.etcd.credentialsFile",
        ETCD_USER,
        ETCD_PASSWORD,
        credentials_file,
        os.environ if env is None else env,
    )
    return EtcdCredentials(*pair) if pair else None


@dataclass(frozen=True)
class Credentials:
    """Every credential one install needs, read once in the parameter stage (before any fetch).

    ``s3`` comes from ``bucket.credentialsFile`` or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY;
    ``by_file`` holds the credentials of model namespaces with a file of their own, keyed by the
    parameter that names the file; ``etcd`` is ModelMesh's.
    """

    s3: S3Credentials | None = None
    etcd: EtcdCredentials | None = None
    by_file: Mapping[str, S3Credentials | None] = field(default_factory=dict)


def load(
    needs: frozenset[str],
    s3_file: str | None,
    etcd_file: str | None,
    own_files: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Credentials:
    """Read what ``needs`` names (``s3``, ``etcd``): a stray variable of a kind nobody needs is
    ignored, so it can neither fail nor leak into an install. ``own_files`` maps a parameter to
    a credentials file of its own (model namespaces with their own bucket)."""
    environ = os.environ if env is None else env
    s3 = load_credentials(s3_file, environ) if "s3" in needs else None
    etcd = load_etcd_credentials(etcd_file, environ) if "etcd" in needs else None
    by_file = {
        parameter: load_credentials(path, environ, parameter=parameter)
        for parameter, path in (own_files or {}).items()
        if "s3" in needs
    }
    return Credentials(s3, etcd, by_file)
