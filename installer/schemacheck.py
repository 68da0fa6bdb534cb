"""JSON Schema checks: the verdict from jsonschema-rs, the explanation from jsonschema.

A render checks every object it writes (:mod:`installer.validate`) and every parameter set it is
given (:mod:`installer.params`). With python-jsonschema alone that was the largest part of a
cold render: 0.2 s for KServe v0.20.0's three large CRDs against the CRD schema, and 0.08 s just
to import it. jsonschema-rs (Rust, a maintained library with abi3 wheels) gives the same verdict
on those objects in 3 ms.

Its error messages are not python-jsonschema's, though, and ours are what users read and what
the tests pin (``spec.replicas: 'two' is not of type 'integer', 'null'``). So jsonschema-rs only
says *whether* an instance is valid. When it says no, python-jsonschema is asked, and its answer
is final: the first error is reported, or, if it finds none, the instance passes. A jsonschema-rs
that is stricter than python-jsonschema (regex dialects, say) only costs time. One that is more
lenient would let an error through; ``tests/test_schemacheck.py`` checks, on every locked
version's objects and on broken copies of them, that the two agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import jsonschema

Draft = Literal["4", "2020-12"]
FormatCheck = Callable[[str], bool]


class SchemaSet:
    """Schemas that may refer to the same shared resources (Kubernetes' ``_definitions.json``),
    in one draft, with custom ``formats`` (a format not listed is not checked, as
    python-jsonschema does without a format checker).

    The shared resources are registered with jsonschema-rs once; python-jsonschema's registry is
    built only when an instance fails. Nothing is imported before the first schema is built: a
    warm render, whose objects and parameters all passed before, checks none and imports neither
    (jsonschema-rs' import alone is 25 ms).
    """

    def __init__(
        self,
        draft: Draft,
        resources: Sequence[Mapping[str, Any]] = (),
        formats: Mapping[str, FormatCheck] | None = None,
    ) -> None:
        self.draft = draft
        self.resources = tuple(resources)
        self.formats = dict(formats or {})

    @functools.cached_property
    def _registry(self) -> Any:
        import jsonschema_rs

        return jsonschema_rs.Registry([(str(r["$id"]), dict(r)) for r in self.resources])

    def checker(self, schema: Mapping[str, Any]) -> Checker:
        return Checker(self, schema)

    def fast(self, schema: Mapping[str, Any]) -> Any:
        import jsonschema_rs

        options: dict[str, Any] = {"validate_formats": bool(self.formats)}
        if self.formats:
            options["formats"] = self.formats
        if self.resources:
            options["registry"] = self._registry
        cls: Any = jsonschema_rs.Draft4Validator if self.draft == "4" else jsonschema_rs.Draft202012Validator
        return cls(schema, **options)

    def slow(self, schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
        import jsonschema  # ~0.08 s: only once an instance failed the fast check
        from referencing import Registry
        from referencing.jsonschema import DRAFT4, DRAFT202012

        spec = DRAFT4 if self.draft == "4" else DRAFT202012
        registry: Registry[Any] = Registry()
        for r in (*self.resources, schema):  # the schema too: its $id is the base of its $refs
            resource = spec.create_resource(r)
            if resource.id() is not None:
                registry = resource @ registry
        cls: Any = jsonschema.Draft4Validator if self.draft == "4" else jsonschema.Draft202012Validator
        format_checker = None
        if self.formats:
            format_checker = jsonschema.FormatChecker(formats=())
            for name, check in self.formats.items():
                format_checker.checks(name)(_strings_only(check))
        validator: jsonschema.protocols.Validator = cls(
            schema, registry=registry, format_checker=format_checker
        )
        return validator


def _strings_only(check: FormatCheck) -> Callable[[object], bool]:
    """python-jsonschema hands a format check every instance; jsonschema-rs only strings."""
    return lambda value: not isinstance(value, str) or check(value)


class Checker:
    """One schema of a :class:`SchemaSet`."""

    def __init__(self, schemas: SchemaSet, schema: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.schema = schema
        self._fast = schemas.fast(schema)

    def is_valid(self, instance: Any) -> bool:
        """jsonschema-rs' verdict alone (what the differential test compares)."""
        return bool(self._fast.is_valid(instance))

    @functools.cached_property
    def _slow(self) -> jsonschema.protocols.Validator:
        return self.schemas.slow(self.schema)

    def errors(self, instance: Any) -> list[jsonschema.ValidationError]:
        """python-jsonschema's errors, ordered by where in the instance they are."""
        return sorted(self._slow.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])

    def first_error(self, instance: Any) -> jsonschema.ValidationError | None:
        """None if ``instance`` is valid, else the error python-jsonschema reports first."""
        if self.is_valid(instance):
            return None
        errors = self.errors(instance)
        return errors[0] if errors else None
