"""How ``installer diff`` shows what would change: a unified diff per object, as ``kubectl diff``.

Each side is the object as YAML without what the server manages (managedFields, resourceVersion,
uid, generation, creationTimestamp, status) and without an injected ``caBundle``, so only what a
deploy would change shows. A Secret's values never show: every ``data``/``stringData`` value
(and kubectl's last-applied annotation, which holds them too) becomes a fixed mask on both
sides, ``*** (before)`` / ``*** (after)`` where they differ, so a changed secret still shows as
changed. Colour (red removed, green added) only on a terminal, and never with ``NO_COLOR``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import IO, Any

import click

from installer import yamlio
from installer.cluster.bodies import comparable
from installer.objects import Obj

MASK = "***"
SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
INJECTED = "caBundle"


def shown(obj: Obj | None) -> Obj | None:
    """The object as the diff shows it: no server bookkeeping, no injected CA bundle."""
    return None if obj is None else _without_injected(comparable(obj))


def _without_injected(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_injected(v) for k, v in node.items() if k != INJECTED}
    if isinstance(node, list):
        return [_without_injected(v) for v in node]
    return node


def masked(before: Obj | None, after: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Both sides with a Secret's values replaced by the mask (marked before/after where they
    differ); any other kind unchanged."""
    kind = (before or after or {}).get("kind")
    if kind != "Secret":
        return before, after
    b = _copy_meta(before)
    a = _copy_meta(after)
    for name in SECRET_FIELDS:
        _mask_map(b, a, lambda o, name=name: o.get(name))
    _mask_map(b, a, lambda o: (o.get("metadata") or {}).get("annotations"), only=LAST_APPLIED)
    return b, a


def _copy_meta(obj: Obj | None) -> Obj | None:
    """A copy deep enough to replace values of data, stringData and annotations in place."""
    if obj is None:
        return None
    out = {k: dict(v) if k in SECRET_FIELDS and isinstance(v, dict) else v for k, v in obj.items()}
    meta = dict(out.get("metadata") or {})
    if isinstance(meta.get("annotations"), dict):
        meta["annotations"] = dict(meta["annotations"])
    out["metadata"] = meta
    return out


def _mask_map(before: Obj | None, after: Obj | None, pick: Any, only: str | None = None) -> None:
    old = pick(before) if before is not None else None
    new = pick(after) if after is not None else None
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    for key in set(old) | set(new):
        if only is not None and key != only:
            continue
        differ = key in old and key in new and old[key] != new[key]
        if key in old:
            old[key] = f"{MASK} (before)" if differ else MASK
        if key in new:
            new[key] = f"{MASK} (after)" if differ else MASK


def unified(ref: str, before: Obj | None, after: Obj | None) -> list[str]:
    """The unified diff of one object, live against what deploy would leave ("" sides absent)."""
    b, a = masked(shown(before), shown(after))
    old = yamlio.dump_for_review(b).splitlines() if b is not None else []
    new = yamlio.dump_for_review(a).splitlines() if a is not None else []
    return list(difflib.unified_diff(old, new, f"live/{ref}", f"merged/{ref}", lineterm="", n=3))


def use_colour(stream: IO[str], env: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and not when NO_COLOR is set (https://no-color.org)."""
    environ = os.environ if env is None else env
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not environ.get("NO_COLOR")


def coloured(line: str) -> str:
    if line.startswith(("---", "+++")):
        return click.style(line, bold=True)
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("+"):
        return click.style(line, fg="green")
    return line


def lines(diffs: Iterable[Any], colour: bool = False) -> list[str]:
    """The text output: per object its summary line, then its unified diff."""
    out: list[str] = []
    for d in diffs:
        out.append(d.summary())
        out += [coloured(line) if colour else line for line in d.diff]
    return out
