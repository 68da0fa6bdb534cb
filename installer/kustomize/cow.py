"""Copy-on-write edits of parsed objects.

Why not copy objects before changing them? The render's YAML writer recognises values that are
still the very same Python objects as the pre-build parsed (identity, not equality) and writes
their original upstream text instead of dumping them again; dumping KServe's CRD schemas takes as
long as parsing them. So a transformer must copy only the containers on the path to what it
changes and share everything else with its input; and it must never mutate its input, which may
be shared by other builds (pre-built objects, the parse cache of a :class:`~.tree.FileTree`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from installer.objects import Obj

Key = str | int
Path = tuple[Key, ...]


def deep_copy(obj: Obj) -> Obj:
    """A private copy of an object (a JSON round trip: ~5x faster than copy.deepcopy here)."""
    try:
        copied: Obj = json.loads(json.dumps(obj))
        return copied
    except (TypeError, ValueError):
        return copy.deepcopy(obj)


def same(a: Any, b: Any) -> bool:
    """Equal in value and in type (``1 == True`` must not count as unchanged)."""
    return a is b or (type(a) is type(b) and a == b)


class Draft:
    """One object being edited: containers along edited paths are copied once, the rest shared.

    ``root`` is the input object until the first edit, then its private shallow copy. Every
    container the draft copied is remembered (the copy itself is kept, so its id stays unique),
    so editing the same container twice copies it once.
    """

    def __init__(self, obj: Obj) -> None:
        self.root: Obj = obj
        self._own: dict[int, Any] = {}

    def get(self, path: Sequence[Key]) -> Any:
        node: Any = self.root
        for key in path:
            node = node[key]
        return node

    def own(self, path: Sequence[Key]) -> Any:
        """The container at ``path``, made private (it and its ancestors are copied once)."""
        if id(self.root) not in self._own:
            self.root = self._copy(self.root)
        node: Any = self.root
        for key in path:
            child = node[key]
            if id(child) not in self._own:
                child = self._copy(child)
                node[key] = child
            node = child
        return node

    def set(self, path: Sequence[Key], value: Any) -> None:
        """Set the value at ``path`` (its parent must exist); an unchanged value copies nothing."""
        parent = self.get(path[:-1])
        key = path[-1]
        exists = key in parent if isinstance(parent, dict) else 0 <= int(key) < len(parent)
        if exists and same(parent[key], value):
            return
        self.own(path[:-1])[key] = value

    def append(self, path: Sequence[Key], value: Any) -> None:
        """Append to the list at ``path``."""
        self.own(path).append(value)

    def _copy(self, node: Any) -> Any:
        if isinstance(node, dict):
            dup: Any = dict(node)
        elif isinstance(node, list):
            dup = list(node)
        else:
            raise TypeError(f"not a container: {type(node).__name__}")
        self._own[id(dup)] = dup
        return dup
