"""The stdout sink: deterministic multi-document YAML, objects in apply order.

Large values that a render did not touch (CRD schemas) are written as their original upstream
text (:class:`installer.yamltext.TextIndex`); everything else is dumped with libyaml. Both are a
pure function of the input, so the same input gives the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from installer.objects import Obj, describe
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)


def object_yaml(obj: Obj, index: TextIndex | None = None) -> str:
    """One object as a YAML document, ``---`` first."""
    return "---\n" + (index or TextIndex()).dump(obj)


def yaml_documents(objs: Iterable[Obj], index: TextIndex | None = None) -> Iterator[str]:
    """Each object as a YAML document, ``---`` first, one at a time (a sink can write each as it
    comes instead of holding the whole text: v0.20.0's is 7 MB)."""
    idx = index or TextIndex()
    for o in objs:
        yield "---\n" + idx.dump(o)


def to_yaml(objs: Iterable[Obj], index: TextIndex | None = None) -> str:
    return "".join(yaml_documents(objs, index))


def to_json_list(objs: Iterable[Obj]) -> str:
    """The objects as one ``v1`` ``List`` (what ``kubectl get -o json`` prints for many), indented."""
    from installer import jsonio

    return jsonio.dumps_indented({"apiVersion": "v1", "kind": "List", "items": list(objs)}) + "\n"


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


SECRETS_NOTE = "SECRETS.md"


def out_of_band_note(secrets: Iterable[Obj]) -> str:
    """What a GitOps tree without its Secrets needs from elsewhere: each Secret and its keys
    (names only, never values), for sealed-secrets, external-secrets, SOPS or by hand."""
    lines = [
        "# Secrets to provide out of band",
        "",
        "The installer left these Secrets out of this directory because they carry credentials",
        "(render with --include-secrets to keep them). Create them in the cluster, or with your",
        "secret manager, before syncing:",
        "",
    ]
    for obj in secrets:
        meta = obj.get("metadata") or {}
        keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})
        names = ", ".join(f"`{k}`" for k in keys)
        lines.append(f"- Secret `{meta.get('namespace', '')}/{meta.get('name')}`: keys {names}")
    return "\n".join(lines) + "\n"
