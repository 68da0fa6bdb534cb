"""jsonschema-rs and python-jsonschema agree on what we validate (:mod:`installer.schemacheck`).

The render trusts jsonschema-rs when it says valid and asks python-jsonschema only when it says
invalid. So jsonschema-rs must never pass what python-jsonschema refuses. These tests compare the
two verdicts on every object a full render of each locked version writes, in two modes, and on
broken copies of each: an unknown field added, a value of the wrong type, a string a pattern may
refuse, at paths drawn (with a fixed seed) from everywhere in the object. Every schema is
compared, not only those the render checks fast. They also count the broken copies that both
refuse, so a mutation that breaks nothing cannot make the comparison empty.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from installer import jsonio, objects, params
from installer.lock import Lock
from installer.objects import Obj
from installer.params import ParameterOptions
from installer.render import render
from installer.schemacheck import Checker, SchemaSet
from installer.sources import FetchSettings
from installer.validate import (
    KUBERNETES_VERSION,
    _crd_schemas,
    _custom_validator,
    _has_core_schema,
    _schema_key,
    core_validator,
)
from tests.conftest import LOCKED_VERSIONS, full_parameters

PATHS_PER_OBJECT = 6
Path_ = tuple[str | int, ...]


def paths(node: Any, at: Path_ = ()) -> Iterator[Path_]:
    """Every path in ``node``, containers and leaves, the root excluded."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*at, k)
            yield from paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*at, i)
            yield from paths(v, (*at, i))


def wrong_values(value: Any) -> list[Any]:
    """Values of another type than ``value``, and strings a format or pattern may refuse."""
    if isinstance(value, bool):
        return ["yes", 1]
    if isinstance(value, int | float):
        return ["seven", True, 1.5]
    if isinstance(value, str):
        return [7, False, "", "not a valid: value/\n", "x" * 300]
    if isinstance(value, list):
        return [{"a": 1}, "list", [None]]
    if isinstance(value, dict):
        return [["x"], 3, {**value, "zzUnknownField": "x"}]
    return ["null was here", {}]


def broken_copies(obj: Any, rng: random.Random) -> Iterator[Any]:
    """Copies of ``obj`` with one value replaced, at up to PATHS_PER_OBJECT drawn paths."""
    every = list(paths(obj))
    for path in rng.sample(every, min(PATHS_PER_OBJECT, len(every))):
        parent = obj
        for p in path[:-1]:
            parent = parent[p]
        for wrong in wrong_values(parent[path[-1]]):
            copy = jsonio.loads(jsonio.dumps(obj))
            target = copy
            for p in path[:-1]:
                target = target[p]
            target[path[-1]] = wrong
            yield copy
    copy = jsonio.loads(jsonio.dumps(obj))
    copy["zzUnknownTopLevel"] = 1
    yield copy


def checker_of(obj: Obj, crd_schemas: dict[tuple[str, str, str], Any]) -> Checker | None:
    """The checker validate_objects uses for ``obj``, or None (no schema)."""
    key = _schema_key(obj)
    if key in crd_schemas:
        return _custom_validator(crd_schemas[key])
    if _has_core_schema(obj):
        return core_validator(KUBERNETES_VERSION)._validator(obj)
    return None


class Verdicts:
    """Counts of (jsonschema-rs valid, python-jsonschema valid) over compared instances."""

    def __init__(self) -> None:
        self.both_refuse = 0
        self.both_pass = 0
        self.stricter: list[str] = []  # jsonschema-rs refused what python-jsonschema passes
        self.lenient: list[str] = []  # jsonschema-rs passed what python-jsonschema refuses

    def compare(self, checker: Checker, instance: Any, what: str) -> None:
        fast = checker.is_valid(instance)
        errors = checker.errors(instance)
        if fast and errors:
            self.lenient.append(f"{what}: {errors[0].message[:120]}")
        elif not fast and not errors:
            self.stricter.append(what)
        elif fast:
            self.both_pass += 1
        else:
            self.both_refuse += 1


@pytest.mark.parametrize("version", LOCKED_VERSIONS)
@pytest.mark.parametrize("mode", ["Serverless", "ModelMesh"])
def test_rendered_objects_and_broken_copies_get_one_verdict(
    version: str, mode: str, lock: Lock, upstream: Path, session_env: Path
) -> None:
    p = params.resolve(lock, ParameterOptions(set_args=full_parameters(version, mode, lock)))
    objs = render(p, lock, FetchSettings(mirror=str(upstream))).objects
    crd_schemas = _crd_schemas(objs)
    rng = random.Random(f"{version}/{mode}")
    verdicts = Verdicts()
    checked = 0
    for obj in objs:
        checker = checker_of(obj, crd_schemas)
        if checker is None:
            continue
        checked += 1
        verdicts.compare(checker, obj, objects.describe(obj))
        for n, broken in enumerate(broken_copies(obj, rng)):
            verdicts.compare(checker, broken, f"{objects.describe(obj)} #{n}")
    assert checked >= 0.8 * len(objs)
    assert verdicts.lenient == [], "jsonschema-rs passed what python-jsonschema refuses"
    assert verdicts.stricter == []
    assert verdicts.both_pass >= checked, "a rendered object was refused"
    assert verdicts.both_refuse >= 5 * checked, "too few broken copies were refused to compare"


def test_a_refusal_is_explained_by_python_jsonschema() -> None:
    checker = SchemaSet("4").checker({"type": "object", "properties": {"n": {"type": "integer"}}})
    for fast in (False, True):
        assert checker.first_error({"n": 1}, fast) is None
        err = checker.first_error({"n": "two"}, fast)
        assert err is not None
        assert (list(err.absolute_path), err.message) == (["n"], "'two' is not of type 'integer'")


class RefusesAll:
    def is_valid(self, instance: Any) -> bool:
        return False


def test_a_refusal_python_jsonschema_does_not_share_passes() -> None:
    """Where jsonschema-rs is stricter (here: a stand-in that refuses everything), python-jsonschema's
    answer is final; and without ``fast`` jsonschema-rs is not asked (nor compiled) at all."""
    checker = SchemaSet("2020-12").checker({"type": "string"})
    checker.__dict__["_compiled"] = RefusesAll()
    assert checker.first_error("x", fast=True) is None
    assert checker.first_error(7, fast=True) is not None
    plain = SchemaSet("2020-12").checker({"type": "string"})
    assert plain.first_error("x") is None
    assert "_compiled" not in plain.__dict__


def test_a_broken_crd_of_a_large_render_is_found_through_jsonschema_rs(
    lock: Lock, upstream: Path, session_env: Path
) -> None:
    """v0.20.0's CRDs are checked fast (FAST_MIN_BYTES); a broken one is still reported in
    python-jsonschema's words, naming the object and the field."""
    from installer.errors import ValidationError
    from installer.validate import FAST_MIN_BYTES, validate_objects

    p = params.resolve(lock, ParameterOptions(version=LOCKED_VERSIONS[-1]))
    objs = [
        jsonio.loads(jsonio.dumps(o)) for o in render(p, lock, FetchSettings(mirror=str(upstream))).objects
    ]
    crds = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
    assert sum(len(jsonio.canonical(o)) for o in crds) >= FAST_MIN_BYTES
    largest = max(crds, key=lambda o: len(jsonio.canonical(o)))
    largest["spec"]["scope"] = 7
    with pytest.raises(
        ValidationError,
        match=rf"CustomResourceDefinition/{largest['metadata']['name']}: spec\.scope: 7 is not of type 'string'",
    ):
        validate_objects(objs)
    assert "_compiled" in core_validator(KUBERNETES_VERSION)._validator(largest).__dict__
