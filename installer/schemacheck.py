"""JSON Schema checks: the verdict from jsonschema-rs where it pays, the explanation from jsonschema.

A render checks every object it writes (:mod:`installer.validate`). With python-jsonschema alone
that was the largest part of a cold v0.20.0 render: 0.19 s for its CRDs against the CRD schema
(2.3 MB, three of them over 0.6 MB). jsonschema-rs (Rust, a maintained library with abi3 wheels)
gives the same verdict on them in 3 ms.

It is not used everywhere, for memory: a compiled jsonschema-rs validator holds its whole schema
(5-9 MB for the ServingRuntime and llmisvc CRD schemas), where python-jsonschema reads the schema
as it goes. Compiling every schema raised a cold v0.16.0 render's peak RSS from 89 to 114 MB,
past issue 17's bound; small instances cost python-jsonschema little. So a caller asks for the
fast check (``fast=True``) only for a schema with enough instance bytes to check (see
:data:`installer.validate.FAST_MIN_BYTES`).

jsonschema-rs' error messages are not python-jsonschema's, and ours are what users read and what
the tests pin (``spec.replicas: 'two' is not of type 'integer', 'null'``). So jsonschema-rs only
says *whether* an instance is valid. When it says no, python-jsonschema is asked, and its answer
is final: the first error is reported, or, if it finds none, the instance passes. A jsonschema-rs
that is stricter than python-jsonschema (regex dialects, say) only costs time. One that is more
lenient would let an error through; ``tests/test_schemacheck.py`` checks, on every locked
version's objects and on broken copies of them, that the two agree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import jsonschema

Draft = Literal["4", "2020-12"]


class SchemaSet:
    """Schemas of one draft that may refer to the same shared resources (Kubernetes'
    ``_definitions.json``, each with its ``$id``). Formats are not checked, as python-jsonschema
    does without a format checker. Nothing is imported or registered before it is needed."""

    def __init__(self, draft: Draft, resources: Sequence[Mapping[str, Any]] = ()) -> None:
        self.draft = draft
        self.resources = tuple(resources)

    def checker(self, schema: Mapping[str, Any]) -> Checker:
        return Checker(self, schema)

    @functools.cached_property
    def _registry(self) -> Any:
        import jsonschema_rs  # 25 ms: only when a schema is compiled

        return jsonschema_rs.Registry([(str(r["$id"]), dict(r)) for r in self.resources])

    def compiled(self, schema: Mapping[str, Any]) -> Any:
        """``schema`` as a jsonschema-rs validator."""
        import jsonschema_rs

        options: dict[str, Any] = {"validate_formats": False}
        if self.resources:
            options["registry"] = self._registry
        cls: Any = jsonschema_rs.Draft4Validator if self.draft == "4" else jsonschema_rs.Draft202012Validator
        return cls(dict(schema), **options)

    def python(self, schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
        """``schema`` as a python-jsonschema validator, the shared resources registered."""
        import jsonschema  # ~0.08 s
        from referencing import Registry
        from referencing.jsonschema import DRAFT4, DRAFT202012

        spec = DRAFT4 if self.draft == "4" else DRAFT202012
        registry: Registry[Any] = Registry()
        for r in (*self.resources, schema):  # the schema too: its $id is the base of its $refs
            resource = spec.create_resource(r)
            if resource.id() is not None:
                registry = resource @ registry
        cls: Any = jsonschema.Draft4Validator if self.draft == "4" else jsonschema.Draft202012Validator
        validator: jsonschema.protocols.Validator = cls(schema, registry=registry)
        return validator


class Checker:
    """One schema of a :class:`SchemaSet`, compiled for jsonschema-rs when first asked fast."""

    def __init__(self, schemas: SchemaSet, schema: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.schema = schema

    @functools.cached_property
    def _compiled(self) -> Any:
        return self.schemas.compiled(self.schema)

    @functools.cached_property
    def _python(self) -> jsonschema.protocols.Validator:
        return self.schemas.python(self.schema)

    def is_valid(self, instance: Any) -> bool:
        """jsonschema-rs' verdict alone (what the differential test compares)."""
        return bool(self._compiled.is_valid(instance))

    def errors(self, instance: Any) -> list[jsonschema.ValidationError]:
        """python-jsonschema's errors, ordered by where in the instance they are."""
        return sorted(self._python.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])

    def first_error(self, instance: Any, fast: bool = False) -> jsonschema.ValidationError | None:
        """None if ``instance`` is valid, else the error python-jsonschema reports first; with
        ``fast``, jsonschema-rs is asked first, and a pass is final."""
        if fast and self.is_valid(instance):
            return None
        errors = self.errors(instance)
        return errors[0] if errors else None
