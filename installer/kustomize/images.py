"""``images:``: kustomize's image tag transformer.

Each entry runs over every object except CRDs, twice as kustomize runs it: first over the
``image`` of every item of any ``containers`` or ``initContainers`` list at any depth (custom
resources included), then over the ``images`` field specs (built-in pod paths, plus what
``configurations:`` add, e.g. a custom resource's ``spec/container/image``). An image matches
when its name is the entry's ``name`` (a regular expression, as in kustomize) followed by an
optional tag and sha256 digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from installer.errors import BuildError
from installer.kustomize.cow import Draft, Path
from installer.kustomize.fieldspecs import FieldSpec, apply_spec
from installer.kustomize.resid import Res, scalar_text
from installer.objects import describe

_CONTAINER_LISTS = ("containers", "initContainers")


def split_image(ref: str) -> tuple[str, str, str]:
    """kustomize's image.Split: ``name[:tag][@digest]`` -> (name, tag, digest), the tag looked
    for after the first ``/`` so that a registry port is not taken for a tag."""
    slash = ref.find("/")
    start = slash if slash > 0 else 0
    search = ref[start:]
    at, colon = search.find("@"), search.find(":")
    if at < 0 and colon < 0:
        return ref, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return ref[: start + at], "", ref[start + at + 1 :]
    if at >= 0:
        return ref[: start + colon], ref[start + colon + 1 : start + at], ref[start + at + 1 :]
    return ref[: start + colon], ref[start + colon + 1 :], ""


class ImageRule:
    """One ``images:`` entry."""

    def __init__(self, rule: Mapping[str, Any], where: str) -> None:
        self.rule = rule
        self.where = where
        name = str(rule.get("name") or "")
        try:
            # Go's regexp: "^" + name + "...$", the name unescaped; \Z is Go's "$" (no newline).
            self.pattern = re.compile(f"^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?\\Z")
        except re.error as exc:
            raise BuildError(
                f"kustomize: {where}: image name {name!r} is not a valid pattern: {exc}"
            ) from None

    def new_value(self, value: str) -> str | None:
        """The rewritten image, or None when this rule does not apply to ``value``."""
        if not self.pattern.search(value):
            return None
        name, tag, digest = split_image(value)
        new_tag, new_digest = str(self.rule.get("newTag") or ""), str(self.rule.get("digest") or "")
        name = str(self.rule.get("newName") or name)
        if new_tag or new_digest:
            tag, digest = new_tag, new_digest
        elif self.rule.get("tagSuffix"):
            tag, digest = tag + str(self.rule["tagSuffix"]), ""
        return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    def set_at(self, draft: Draft, at: Path, node: Any) -> None:
        """Rewrite the image scalar at ``at`` (a field spec setter)."""
        if isinstance(node, (dict, list)):
            raise BuildError(f"kustomize: {self.where}: {describe(draft.root)}: an image must be a string")
        new = self.new_value(scalar_text(node))
        if new is not None:
            draft.set(at, new)


def set_images(
    resources: list[Res], rules: list[Mapping[str, Any]], specs: tuple[FieldSpec, ...], where: str
) -> None:
    """Apply the ``images:`` entries one after the other, as kustomize runs one transformer each."""
    for i, raw in enumerate(rules):
        rule = ImageRule(raw, f"{where}: images[{i}]")
        for res in resources:
            if res.obj.get("kind") == "CustomResourceDefinition":
                continue
            draft = Draft(res.obj)
            _containers(draft, (), draft.root, rule)
            for spec in specs:
                apply_spec(draft, spec, rule.set_at, None, where)
            res.update(draft.root)


def _containers(draft: Draft, at: Path, node: Any, rule: ImageRule) -> None:
    """The legacy pass: ``image`` of the items of every containers/initContainers list."""
    if isinstance(node, dict):
        for key, value in node.items():
            _containers(draft, (*at, key), value, rule)
            if key in _CONTAINER_LISTS and isinstance(value, list):
                for i, item in enumerate(value):
                    if item is not None and not isinstance(item, dict):
                        raise BuildError(
                            f"kustomize: {rule.where}: {describe(draft.root)}: {key} items must be maps"
                        )
                    if isinstance(item, dict) and "image" in item:
                        rule.set_at(draft, (*at, key, i, "image"), item["image"])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _containers(draft, (*at, i), value, rule)
