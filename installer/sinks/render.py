"""The stdout sink: deterministic multi-document YAML, objects in apply order.

Dumping KServe's 3.5 MB of objects takes over a second even with libyaml; most objects are the
same from one render to the next, so each object's YAML is kept in the cache under the digest of
its JSON form (key order included: the YAML keeps the object's own key order).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from installer import locations, yamlio
from installer.objects import Obj, describe

log = logging.getLogger(__name__)

_FORMAT = "1"


def object_yaml(obj: Obj, cache: Path | None) -> str:
    """One object as a YAML document (``---`` first), from the cache when possible."""
    if cache is None:
        return "---\n" + yamlio.dump(obj)
    key = hashlib.sha256((_FORMAT + json.dumps(obj, separators=(",", ":"))).encode()).hexdigest()
    path = cache / key[:2] / key
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = "---\n" + yamlio.dump(obj)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".y-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache must not fail the render
        log.debug("yaml cache not written: %s", exc)
    return text


def yaml_cache_dir() -> Path:
    return locations.cache_dir() / "yaml"


def to_yaml(objs: Iterable[Obj], cached: bool = True) -> str:
    cache = yaml_cache_dir() if cached else None
    return "".join(object_yaml(o, cache) for o in objs)


def credential_secrets(objs: Iterable[Obj]) -> list[Obj]:
    """Secrets that carry values (data or stringData): left out of output unless asked for."""
    return [o for o in objs if o.get("kind") == "Secret" and (o.get("data") or o.get("stringData"))]


def without_secrets(objs: list[Obj], include: bool) -> list[Obj]:
    if include:
        if credential_secrets(objs):
            log.warning("--include-secrets: the output contains Secret values; do not commit it unencrypted")
        return objs
    dropped = {id(o) for o in credential_secrets(objs)}
    for o in objs:
        if id(o) in dropped:
            log.warning(
                "left out %s (it carries credentials; provide it out of band or pass --include-secrets)",
                describe(o),
            )
    return [o for o in objs if id(o) not in dropped]
