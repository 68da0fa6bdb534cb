"""The GitOps sink: a directory Argo CD or Flux can sync, and the emitted kustomization.

Layout of ``render -o DIR``::

    DIR/kustomization.yaml            resources: the phase directories, in apply order
    DIR/00-crds/kustomization.yaml    resources: the files of the phase
    DIR/00-crds/<kind>-<name>.yaml    one object per file (<kind>-<namespace>-<name> if namespaced)
    ...

With ``sync_waves`` each object gets ``argocd.argoproj.io/sync-wave: "<phase index>"`` so Argo CD
applies the phases in order and waits for each to be healthy.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from installer import yamlio
from installer.configure import SECRETS_FILE
from installer.errors import OutputError
from installer.kustomize import FileTree, FileValue
from installer.objects import Obj
from installer.phases import PHASES
from installer.sinks.output import safe_name, write_atomically
from installer.sinks.render import SECRETS_NOTE, object_yaml, out_of_band_note
from installer.yamltext import TextIndex

SYNC_WAVE = "argocd.argoproj.io/sync-wave"


def _kustomization(resources: list[str]) -> str:
    return yamlio.dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    )


def with_sync_wave(obj: Obj, wave: int) -> Obj:
    """A copy with the wave annotation; ``spec`` and the rest stay shared (their texts reused)."""
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), SYNC_WAVE: str(wave)}
    return {**obj, "metadata": meta}


@dataclass(frozen=True)
class TreeOptions:
    """``force``: replace a non-empty directory; ``sync_waves``: Argo CD sync-wave annotations."""

    force: bool = False
    sync_waves: bool = False


def write_phase_tree(
    root: Path, phases: dict[str, list[Obj]], index: TextIndex | None, sync_waves: bool
) -> None:
    """Fill ``root`` (an existing directory) with the objects by phase, one file each, and the
    kustomizations that list them; shared by the GitOps tree and a fleet's bases."""
    dirs = []
    for wave, phase in enumerate(PHASES):
        objs = phases.get(phase) or []
        if not objs:
            continue
        dirname = f"{wave:02d}-{phase}"
        dirs.append(dirname)
        (root / dirname).mkdir()
        files = []
        for obj in objs:
            meta = obj.get("metadata") or {}
            name = (
                safe_name(str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))
                + ".yaml"
            )
            if name in files:
                raise OutputError(f"two objects would share the file {dirname}/{name}")
            files.append(name)
            doc = with_sync_wave(obj, wave) if sync_waves else obj
            (root / dirname / name).write_text(object_yaml(doc, index), encoding="utf-8")
        (root / dirname / "kustomization.yaml").write_text(_kustomization(files), encoding="utf-8")
    (root / "kustomization.yaml").write_text(_kustomization(dirs), encoding="utf-8")


def write_gitops(
    path: Path,
    phases: dict[str, list[Obj]],
    options: TreeOptions,
    index: TextIndex | None = None,
    omitted: Sequence[Obj] = (),
) -> None:
    """The objects by phase, one file each; ``omitted`` Secrets are named in SECRETS.md."""

    def fill(tmp: Path) -> None:
        if omitted:
            (tmp / SECRETS_NOTE).write_text(out_of_band_note(omitted), encoding="utf-8")
        write_phase_tree(tmp, phases, index, options.sync_waves)

    write_atomically(path, fill, options.force, "output directory")


def without_secrets_file(files: dict[str, FileValue]) -> dict[str, FileValue]:
    """A render tree's files without the generated Secrets file (and out of the root
    kustomization's resources), with SECRETS.md naming what was left out."""
    if SECRETS_FILE not in files:
        return dict(files)
    out = dict(files)
    secrets = out.pop(SECRETS_FILE)
    out[SECRETS_NOTE] = out_of_band_note(yamlio.load_all(secrets) if isinstance(secrets, str) else secrets)
    root = yamlio.load(str(out["kustomization.yaml"]))
    root["resources"] = [r for r in root["resources"] if r != SECRETS_FILE]
    out["kustomization.yaml"] = yamlio.dump(root)
    return out


def write_kustomization(
    path: Path, tree: FileTree, source_files: dict[str, Path], force: bool, include_secrets: bool = False
) -> None:
    """Write the exact tree the engine evaluated; files in ``source_files`` (pre-built phase files,
    tree path -> file on disk) are copied as the pre-build wrote them.

    Without ``include_secrets`` the generated Secrets file is left out (and out of the root
    kustomization's resources), as Secrets are left out of the render.
    """
    files = dict(tree.files) if include_secrets else without_secrets_file(tree.files)

    def fill(tmp: Path) -> None:
        pre_built = source_files
        for rel, value in sorted(files.items()):
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(value, str):
                dest.write_text(value, encoding="utf-8")
            elif rel in pre_built and pre_built[rel].is_file():
                shutil.copyfile(pre_built[rel], dest)
            else:
                dest.write_text(yamlio.dump_all(value), encoding="utf-8")

    write_atomically(path, fill, force, "kustomization directory")
