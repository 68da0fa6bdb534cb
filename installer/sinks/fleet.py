"""The fleet sink: one GitOps tree for many clusters, what they share written once.

A render is already a kustomization tree (:mod:`installer.render`): the components' pre-built
objects (``upstream/``, ``modelmesh/``), the mode overlay (``overlay/``) and the generated
configure layer (root ``kustomization.yaml``, ``patches/``, generated objects). A fleet is those
trees with the components' part, the same for every cluster that uses it, moved to ``base/``::

    DIR/base/<version>/                    KServe of that version, as upstream ships it: one file
                                           per object by phase (a kustomization per phase)
    DIR/base/<component>-<version>-<digest>/  another component's shared part (ModelMesh Serving,
                                           pre-built for its namespace)
    DIR/clusters/<name>/kustomization.yaml the cluster's configure layer: its patches (ConfigMap
                                           JSON, namespace moves, images) and generated objects
    DIR/clusters/<name>/overlay/           the mode overlay: namespace and labels over ../../../base/
    DIR/argocd/applicationset.yaml         one Application per cluster (:mod:`.engines`)
    DIR/flux/source.yaml, flux/<name>.yaml the GitRepository; each cluster's Flux Kustomizations
    DIR/flux/<name>/<stage>/               each Flux stage's path: the cluster minus other stages

``kubectl kustomize DIR/clusters/<name>`` builds exactly the single render of that cluster: the
overlay and configure layer are the render's own files, only pointed at the shared base. A change
to one cluster's values changes files under ``clusters/<name>/`` (and its Flux stages) only.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from installer import jsonio, kustomize, yamlio
from installer.errors import BuildError
from installer.kustomize import FileTree, FileValue
from installer.objects import Obj, ObjectKey
from installer.phases import INDEX, PHASES, apply_order
from installer.sinks.engines import (
    ClusterIndex,
    Engines,
    application_set,
    flux_kustomizations,
    flux_source,
    stage_kustomizations,
)
from installer.sinks.gitops import without_secrets_file, write_phase_tree
from installer.sinks.output import write_atomically
from installer.sinks.render import without_secrets
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)

OVERLAY = "overlay"


@dataclass(frozen=True)
class ClusterTree:
    """One cluster's render, as the fleet sink needs it.

    ``files``: the render's kustomization tree; ``own``: the files of its generated configure
    layer; ``shared``: each component's top directory in the tree -> the name of its base (equal
    names must mean equal files: checked); ``phases``: the rendered objects; ``index``: original
    texts of pre-built values, so that a base is written as upstream wrote it.
    """

    name: str
    destination: str
    files: Mapping[str, FileValue]
    own: frozenset[str]
    shared: Mapping[str, str]
    phases: Mapping[str, list[Obj]]
    index: TextIndex


@dataclass(frozen=True)
class _Base:
    """A base written: the digest of the files it came from, and of each phase's objects (which
    is how a reference to part of a component, such as ``upstream/crds``, finds its directory)."""

    digest: str
    phases: Mapping[str, str]


def _objects_digest(objs: Iterable[Obj]) -> str:
    return jsonio.digest(sorted(objs, key=lambda o: ObjectKey.of(o)))


class FleetTree:
    """Fills a fleet tree at ``root`` one cluster at a time (one render in memory at a time)."""

    def __init__(self, root: Path, include_secrets: bool) -> None:
        self.root = root
        self.include_secrets = include_secrets
        self.bases: dict[str, _Base] = {}
        self.clusters: list[ClusterIndex] = []

    def add(self, cluster: ClusterTree) -> None:
        for group, base in sorted(cluster.shared.items()):
            files = {k: v for k, v in cluster.files.items() if k.startswith(group + "/")}
            self._base(base, group, files, cluster.index)
        self._cluster_dir(cluster)
        phases = {p: without_secrets(list(cluster.phases.get(p, [])), self.include_secrets) for p in PHASES}
        self.clusters.append(ClusterIndex.of(cluster.name, cluster.destination, phases))

    def finish(self, engines: Engines) -> None:
        """The engines' files, once every cluster is in."""
        self._write(
            "argocd/applicationset.yaml", yamlio.dump_for_review(application_set(self.clusters, engines))
        )
        self._write("flux/source.yaml", yamlio.dump(flux_source(engines)))
        for c in self.clusters:
            stages = stage_kustomizations(c, posixpath.join("..", "..", "..", "clusters", c.name))
            for stage, text in stages.items():
                self._write(f"flux/{c.name}/{stage}/kustomization.yaml", text)
            self._write(f"flux/{c.name}.yaml", yamlio.dump_all(flux_kustomizations(c, engines, stages)))

    # ------------------------------------------------------------------------ bases

    def _base(self, name: str, group: str, files: dict[str, FileValue], index: TextIndex) -> None:
        digest = jsonio.digest(files)
        known = self.bases.get(name)
        if known is not None:
            if known.digest != digest:
                raise BuildError(f"two clusters would share base/{name} with different {group}/ files")
            return
        phases = apply_order(kustomize.build(FileTree(dict(files)), group))
        dest = self.root / "base" / name
        dest.mkdir(parents=True)
        write_phase_tree(dest, phases, index, sync_waves=False)
        self.bases[name] = _Base(digest, {p: _objects_digest(objs) for p, objs in phases.items() if objs})
        log.info("wrote base/%s (%d objects)", name, sum(len(v) for v in phases.values()))

    def _moved(self, cluster: ClusterTree, ref: str) -> str | None:
        """Where a reference into the render tree (``ref``, from its root) is in the fleet tree:
        a component's directory is its base; a part of it, the base's phase directory with the
        same objects; anything else stays in the cluster directory (None)."""
        group = ref.split("/", 1)[0]
        if group not in cluster.shared:
            return None
        base = self.bases[cluster.shared[group]]
        if ref == group:
            return f"base/{cluster.shared[group]}"
        files = {k: v for k, v in cluster.files.items() if k.startswith(group + "/")}
        digest = _objects_digest(kustomize.build(FileTree(files), ref))
        for phase, phase_digest in base.phases.items():
            if phase_digest == digest:
                return f"base/{cluster.shared[group]}/{INDEX[phase]:02d}-{phase}"
        raise BuildError(f"{ref}: no phase of base/{cluster.shared[group]} holds the same objects")

    # ------------------------------------------------------------------------ clusters

    def _cluster_dir(self, cluster: ClusterTree) -> None:
        files = {k: v for k, v in cluster.files.items() if k in cluster.own or k.startswith(OVERLAY + "/")}
        if not self.include_secrets:
            files = without_secrets_file(files)
        home = f"clusters/{cluster.name}"
        for rel, value in sorted(files.items()):
            text = value if isinstance(value, str) else yamlio.dump_all(value)
            if rel.startswith(OVERLAY + "/") and posixpath.basename(rel) == "kustomization.yaml":
                text = relocate(text, rel, lambda ref: self._moved(cluster, ref), home)
            self._write(f"{home}/{rel}", text)

    def _write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _resource_line(new: str, match: re.Match[str]) -> str:
    return match.group(1) + new


def relocate(text: str, rel: str, moved: Callable[[str], str | None], home: str) -> str:
    """The kustomization ``text`` (at ``rel`` in a render tree) with each resource that ``moved``
    places elsewhere in the fleet tree pointed there, from its new place under ``home``. Lines
    are replaced in place, so the overlay's comments stay; a layout that defeats that is dumped
    again, without them."""
    doc = yamlio.load(text) or {}
    resources = list(doc.get("resources") or [])
    here = posixpath.dirname(rel)
    in_place = True
    for i, ref in enumerate(resources):
        target = moved(posixpath.normpath(posixpath.join(here, ref)))
        if target is None:
            continue
        new = posixpath.relpath(target, posixpath.join(home, here))
        resources[i] = new
        line = re.compile(rf"(?m)^(\s*-\s+){re.escape(ref)}[ \t]*$")
        text, count = line.subn(functools.partial(_resource_line, new), text)
        in_place = in_place and count == 1
    return text if in_place else yamlio.dump({**doc, "resources": resources})


def write_fleet(
    path: Path,
    clusters: Iterable[Callable[[], ClusterTree]],
    engines: Engines,
    force: bool,
    include_secrets: bool,
) -> None:
    """Render each cluster (``clusters`` yields them one at a time) into a fresh tree, then swap it
    in place of ``path`` (:mod:`installer.atomic`): a failure leaves ``path`` as it was."""

    def fill(tmp: Path) -> None:
        tree = FleetTree(tmp, include_secrets)
        for make in clusters:
            tree.add(make())
        tree.finish(engines)

    write_atomically(path, fill, force, "output directory")
