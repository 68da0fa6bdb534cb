"""S3 credentials: from a file or the environment, never from parameters a shell history keeps.

Values travel only in :class:`S3Credentials`, whose ``repr`` is masked; errors name the file or
the variable, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from installer.errors import ParameterError

ACCESS_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
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


def load_credentials(
    credentials_file: str | None, env: Mapping[str, str] | None = None
) -> S3Credentials | None:
    """Credentials from ``credentials_file``, else from the environment; None when neither has any."""
    env = os.environ if env is None else env
    if credentials_file:
        path = Path(credentials_file)
        key = "bucket.credentialsFile"
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ParameterError(key, f"{path} is larger than {MAX_FILE_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ParameterError(key, f"{path}: no such file") from None
        except UnicodeDecodeError:
            raise ParameterError(key, f"{path}: not UTF-8 text") from None
        except IsADirectoryError:
            raise ParameterError(key, f"{path}: is a directory") from None
        except OSError as exc:
            raise ParameterError(key, f"{path}: {exc.strerror}") from None
        found = parse_env_file(text, f"{key} {path}")
        missing = [k for k in (ACCESS_KEY, SECRET_KEY) if not found.get(k)]
        if missing:
            raise ParameterError(key, f"{path} has no {missing[0]}")
        return S3Credentials(found[ACCESS_KEY], found[SECRET_KEY], f"file {path}")
    have = [k for k in (ACCESS_KEY, SECRET_KEY) if env.get(k)]
    if not have:
        return None
    if len(have) == 1:
        other = SECRET_KEY if have[0] == ACCESS_KEY else ACCESS_KEY
        raise ParameterError(other, f"{have[0]} is set but {other} is not")
    return S3Credentials(env[ACCESS_KEY], env[SECRET_KEY], "environment")
