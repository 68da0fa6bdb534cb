"""The build: kustomize's accumulator, one kustomization (or component) at a time.

Per kustomization, in kustomize's order: its ``resources`` (files, and directories built on their
own then taken as they came out), its ``configurations``, its generators, its ``components``
(each applied to what has been accumulated so far, as if its fields were the including
kustomization's), then its transformers, in kustomize's fixed order: patches, namespace, labels,
annotations, images, replacements, then ``transformers:``. Field-spec configurations and vars
of a sub-kustomization travel up to the one that includes it. At the top, references follow the
objects namespaces moved (:mod:`.nameref`), vars are resolved, and objects marked
``config.kubernetes.io/local-config: "true"`` are dropped.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from installer import yamlio
from installer.errors import BuildError
from installer.kustomize import schema
from installer.kustomize.fieldspecs import TransformerConfig, load_configuration
from installer.kustomize.metadata import add_pairs, apply_builtin_transformer, label_specs
from installer.kustomize.nameref import fix_back_references
from installer.kustomize.namespaces import set_namespace
from installer.kustomize.patches import apply_patch
from installer.kustomize.resid import Res, meta
from installer.kustomize.tree import FileTree, FileValue, join
from installer.objects import Obj, describe

if TYPE_CHECKING:
    from installer.kustomize.vars import Var

LOCAL_CONFIG = "config.kubernetes.io/local-config"


class Accumulator:
    """What building a kustomization hands to the one that includes it."""

    __slots__ = ("config", "resources", "variables")

    def __init__(self, resources: list[Res] | None = None) -> None:
        self.resources: list[Res] = resources if resources is not None else []
        self.config = TransformerConfig()
        self.variables: list[Var] = []

    def append(self, new: list[Res], where: str) -> None:
        """Add objects; like kustomize, an id already present is an error."""
        seen = {r.key() for r in self.resources}
        for res in new:
            key = res.key()
            if key in seen:
                raise BuildError(f"kustomize: {where}: {describe(res.obj)} appears twice")
            seen.add(key)
            self.resources.append(res)

    def add_vars(self, variables: list[Var], where: str) -> None:
        """Vars travel up to the top, where they are resolved; a name may be declared once."""
        for var in variables:
            if any(known.name == var.name for known in self.variables):
                raise BuildError(f"kustomize: {where}: var {var.name} is defined twice")
            self.variables.append(var)


def build(
    tree: FileTree,
    root: str = ".",
    built: Mapping[str, list[Obj]] | None = None,
    restrict_loads: bool = True,
) -> list[Obj]:
    """Build the kustomization at ``root``; ``built`` supplies directories already built.

    ``restrict_loads=False`` is kustomize's ``--load-restrictor LoadRestrictionsNone``: files
    (patches, transformer configs) may then come from outside the kustomization's directory, as
    ModelMesh's ``runtimes`` needs.
    """
    top = posixpath.normpath(root)
    acc = _Builder(tree, dict(built or {}), restrict_loads).directory(top, top, top=True)
    fix_back_references(acc.resources, acc.config.name_references, top)
    if acc.variables:
        from installer.kustomize.vars import resolve_vars

        resolve_vars(acc.resources, acc.variables, acc.config.get("varReference"), top)
    return [r.obj for r in acc.resources if not _local(r.obj)]


def _local(obj: Obj) -> bool:
    """kustomize drops objects annotated as local configuration from its output."""
    annotations = meta(obj).get("annotations")
    return isinstance(annotations, dict) and annotations.get(LOCAL_CONFIG) == "true"


class _Builder:
    """One build: the tree, the directories given already built, the load restriction, and the
    stack of kustomizations being built (a cycle is an error, not a recursion limit)."""

    def __init__(self, tree: FileTree, built: dict[str, list[Obj]], restrict_loads: bool) -> None:
        self.tree = tree
        self.built = built
        self.restrict_loads = restrict_loads
        self.stack: list[str] = []

    # ------------------------------------------------------------------ loading

    def read_file(self, base: str, rel: str, where: str) -> tuple[str, FileValue]:
        """A file a kustomization names, checked against kustomize's load restrictor."""
        fpath = join(base, rel)
        if self.restrict_loads and base not in ("", ".") and not fpath.startswith(base + "/"):
            # kustomize's load restrictor: files must be at or below the kustomization.
            raise BuildError(f"kustomize: {where}: file {rel} is not in or below {base}")
        try:
            return fpath, self.tree.read(fpath)
        except BuildError as exc:
            raise BuildError(f"kustomize: {where}: {exc.message.removeprefix('kustomize: ')}") from None

    def load(self, path: str, where: str) -> tuple[str, dict[str, Any]]:
        """The kustomization file of a directory, checked by :mod:`.schema` before anything is built."""
        kfile = self.tree.kustomization_in(path)
        if kfile is None:
            raise BuildError(f"kustomize: {where}: {path} has no kustomization file")
        return kfile, schema.load_kustomization(self.tree.read(kfile), kfile)

    def directory(self, path: str, where: str, top: bool = False) -> Accumulator:
        """A kustomization listed under ``resources``, or the top (which may be a Component, as
        ``kubectl kustomize`` builds one on its own): built on its own."""
        if path in self.built:
            return Accumulator([Res(o) for o in self.built[path]])
        self.check_cycle(path, where)
        kfile, spec = self.load(path, where)
        if spec.get("kind") == "Component" and not top:
            raise BuildError(f"kustomize: {where}: {path} is a Component; list it under components")
        acc = Accumulator()
        self.accumulate(path, kfile, spec, acc)
        return acc

    def check_cycle(self, path: str, where: str) -> None:
        """Entering ``path`` again while it is being built is a cycle: named by the file whose
        entry closes it (``where``), which is the one to fix."""
        if path in self.stack:
            raise BuildError(f"kustomize: {where}: cycle: {' -> '.join([*self.stack, path])}")

    # ------------------------------------------------------------------ accumulation

    def accumulate(self, path: str, kfile: str, spec: dict[str, Any], acc: Accumulator) -> None:
        """Apply one kustomization or component to ``acc``, in kustomize's order (see the module)."""
        self.check_cycle(path, kfile)
        self.stack.append(path)
        self.resources(path, kfile, spec, acc)
        config = TransformerConfig.builtin()
        for i, cfg in enumerate(spec.get("configurations") or []):
            where = f"{kfile}: configurations[{i}]"
            fpath, text = self.read_file(path, cfg, where)
            config.merge(load_configuration(text, f"{where}: {fpath}"), where)
        acc.config.merge(config, kfile)
        if spec.get("configMapGenerator"):
            self.generate(path, kfile, spec, acc)
        for i, comp in enumerate(spec.get("components") or []):
            self.component(join(path, comp), f"{kfile}: components[{i}]", acc)
        self.transform(path, kfile, spec, acc)
        if spec.get("vars"):
            self.declare_vars(kfile, spec, acc)
        self.stack.pop()

    # The modules of features a render does not use (generators, vars, images, replacements)
    # are imported by the kustomizations that use them: every render is a new process, and
    # importing what it does not run would cost it more than the engine's work.

    def generate(self, path: str, kfile: str, spec: dict[str, Any], acc: Accumulator) -> None:
        """``configMapGenerator``: generated objects join the accumulated ones."""
        from installer.kustomize.generators import generate

        generated = generate(spec, lambda rel, where: self.read_file(path, rel, where), kfile)
        acc.append([Res(o) for o in generated], kfile)

    def declare_vars(self, kfile: str, spec: dict[str, Any], acc: Accumulator) -> None:
        """``vars``: declared here, resolved once at the top."""
        from installer.kustomize.vars import Var

        acc.add_vars([Var.parse(v, f"{kfile}: vars[{i}]") for i, v in enumerate(spec["vars"])], kfile)

    def resources(self, path: str, kfile: str, spec: dict[str, Any], acc: Accumulator) -> None:
        """``resources`` (and ``bases``): files parsed, directories built on their own; kustomize
        tries a path as a file first, then as a directory."""
        new: list[Res] = []
        for entry in [*(spec.get("resources") or []), *(spec.get("bases") or [])]:
            if "://" in entry or entry.startswith("git@"):
                raise BuildError(f"kustomize: {kfile}: remote resource {entry} is not supported")
            rpath = join(path, entry)
            if rpath in self.tree.files or rpath in self.tree.refused:
                fpath, _ = self.read_file(path, entry, kfile)
                new.extend(Res(o) for o in self.tree.documents(fpath))
            elif rpath in self.built or self.tree.kustomization_in(rpath) is not None:
                sub = self.directory(rpath, kfile)
                new.extend(sub.resources)
                acc.config.merge(sub.config, kfile)
                acc.add_vars(sub.variables, kfile)
            elif self.tree.is_dir(rpath):
                raise BuildError(f"kustomize: {kfile}: resource {entry} has no kustomization file")
            else:
                raise BuildError(f"kustomize: {kfile}: resource {entry} not found")
        acc.append(new, kfile)

    def component(self, path: str, where: str, acc: Accumulator) -> None:
        """A component works on what the including kustomization accumulated so far, as if its
        fields were that kustomization's (kustomize shares the accumulator)."""
        self.check_cycle(path, where)
        kfile, spec = self.load(path, where)
        if spec.get("kind") != "Component":
            raise BuildError(f"kustomize: {where}: {path} is not a Component (kind: Component)")
        self.accumulate(path, kfile, spec, acc)

    # ------------------------------------------------------------------ transformers

    def transform(self, path: str, kfile: str, spec: dict[str, Any], acc: Accumulator) -> None:
        """The transformers of one kustomization, in kustomize's fixed order."""
        for i, entry in enumerate(spec.get("patches") or []):
            where = f"{kfile}: patches[{i}]"
            acc.resources = apply_patch(
                acc.resources, self.patch_text(path, entry, where), entry.get("target"), where
            )
        if spec.get("namespace"):
            set_namespace(acc.resources, spec["namespace"], acc.config.get("namespace"), kfile)
        for i, entry in enumerate(spec.get("labels") or []):
            where = f"{kfile}: labels[{i}]"
            add_pairs(acc.resources, entry.get("pairs") or {}, label_specs(entry, acc.config, where), where)
        if spec.get("commonAnnotations"):
            add_pairs(acc.resources, spec["commonAnnotations"], acc.config.get("commonAnnotations"), kfile)
        if spec.get("images"):
            from installer.kustomize.images import set_images

            set_images(acc.resources, spec["images"], acc.config.get("images"), kfile)
        if spec.get("replacements"):
            self.replace(path, kfile, spec, acc)
        for i, entry in enumerate(spec.get("transformers") or []):
            where = f"{kfile}: transformers[{i}]"
            for cfg in self.transformer_configs(path, entry, where):
                apply_builtin_transformer(acc.resources, cfg, where)

    def replace(self, path: str, kfile: str, spec: dict[str, Any], acc: Accumulator) -> None:
        """``replacements``, inline and from files."""
        from installer.kustomize.replacements import apply_replacements, load_replacements

        def read(rel: str) -> tuple[str, FileValue]:
            return self.read_file(path, rel, f"{kfile}: replacements")

        apply_replacements(acc.resources, load_replacements(spec["replacements"], read, kfile), kfile)

    def patch_text(self, path: str, entry: Mapping[str, Any], where: str) -> str:
        """The text of a ``patches:`` entry: inline ``patch`` or the file at ``path``."""
        if entry.get("path") and entry.get("patch"):
            raise BuildError(f"kustomize: {where}: give path or patch, not both")
        if entry.get("patch"):
            return str(entry["patch"])
        if not entry.get("path"):
            raise BuildError(f"kustomize: {where}: needs path or patch")
        _, body = self.read_file(path, str(entry["path"]), where)
        if not isinstance(body, str):
            raise BuildError(f"kustomize: {where}: patch file must be text")
        return body

    def transformer_configs(self, path: str, entry: str, where: str) -> list[Any]:
        """A ``transformers:`` entry: inline YAML (as kustomize accepts) or a file of configs."""
        if "\n" in entry:
            try:
                return [d for d in yamlio.load_all(entry) if d is not None]
            except Exception as exc:
                raise BuildError(
                    f"kustomize: {where}: not valid YAML: {' '.join(str(exc).split())}"
                ) from None
        fpath, _ = self.read_file(path, entry, where)
        return list(self.tree.documents(fpath))
