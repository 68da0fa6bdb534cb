"""Source builds (``kserve.source``): a KServe ref's ``config/`` built by upstream's release recipe.

The mirror's ``kserve.yaml`` of v0.18.1 and v0.20.0 was made by that recipe (its README: kubectl
v1.32's kustomize v5.5 instead of upstream's kustomize v5.8.1, the Namespace documents dropped,
``:latest`` replaced by the tag), and its ``kserve-crds.yaml`` and ``kserve-cluster-resources.yaml``
are the real assets, which the README says the same recipe reproduces byte for byte at v0.20.0.
So a source render and a release render of one version must be the same objects, for every
parameter, and they are: ``RECIPE_DIFFERENCES`` is empty. What does differ, and is not compared:
the text (our engine keeps the key order of upstream's files where kustomize sorts some keys;
libyaml quotes strings its own way) and the pre-build's notes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from installer import params, sourcebuild, tarball
from installer.app import resolve_parameters
from installer.components import KSERVE
from installer.components.base import BuildContext
from installer.components.parts import LLMISVC, Part
from installer.errors import ParameterError
from installer.lock import Lock
from installer.objects import Obj, ObjectKey
from installer.params import ParameterOptions
from installer.render import Rendered, render
from installer.sinks.gitops import write_kustomization
from installer.sources import FetchSettings
from tests.conftest import REPO, full_parameters, run_cli
from tests.kustomize_ref import differences, kubectl_kustomize
from tests.source_tarballs import mirror_tarball, selection, wanted_components
from tests.test_parts import COMBINATIONS, IDS

SOURCES = ["v0.18.1", "v0.20.0"]
# Objects in which a source render and the release render of the same version may differ, and why.
# None: see the module docstring.
RECIPE_DIFFERENCES: dict[ObjectKey, str] = {}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _sets(version: str, parameters: str, lock: Lock, mode: str = "RawDeployment") -> list[str]:
    """Every parameter but kustomize.resources (which replaces the assets a source replaces) and
    images.tag (which retags a source build's images; a release's are tagged already)."""
    if parameters == "defaults":
        return []
    left = ("kustomize.resources=", "images.tag=")
    return [a for a in full_parameters(version, mode, lock) if not a.startswith(left)]


def _render(
    lock: Lock, mirror: Path, sets: list[str], mode: str = "RawDeployment", version: str | None = None
) -> Rendered:
    p = params.resolve(lock, ParameterOptions(set_args=sets, mode=mode, version=version))
    return render(p, lock, FetchSettings(mirror=str(mirror), allow_unpinned=False))


def _compared(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if ObjectKey.of(o) not in RECIPE_DIFFERENCES]


@pytest.mark.parametrize("parameters", ["defaults", "all"])
@pytest.mark.parametrize("mode", ["RawDeployment", "ModelMesh"])
@pytest.mark.parametrize("version", SOURCES)
def test_source_render_equals_the_release_render(
    version: str, mode: str, parameters: str, lock: Lock, upstream: Path, session_env: Path
) -> None:
    sets = _sets(version, parameters, lock, mode)
    release = _render(lock, upstream, sets, mode, version=version)
    source = _render(lock, upstream, [*sets, f"kserve.source={version}"], mode)
    assert len(source.objects) == len(release.objects) >= 60
    assert differences(_compared(source.objects), _compared(release.objects)) == []
    assert source.built.version == version and "/source/" in str(source.built.path)


@pytest.mark.parametrize("off", COMBINATIONS, ids=IDS)
def test_source_with_parts_left_out_equals_the_release_with_them_left_out(
    off: tuple[Part, ...], lock: Lock, upstream: Path, session_env: Path
) -> None:
    """The source leaves parts out by selecting upstream's components, the release by dropping
    objects: the same result."""
    sets = [f"{p.parameter}=false" for p in off]
    release = _render(lock, upstream, sets, version="v0.20.0")
    source = _render(lock, upstream, [*sets, "kserve.source=v0.20.0"])
    assert differences(source.objects, release.objects) == []
    notes = " ".join(source.built.notes)
    for part in off:
        assert f"left out component ../../{part.component}" in notes


@pytest.mark.kubectl
@pytest.mark.parametrize("off", COMBINATIONS, ids=IDS)
def test_source_build_with_parts_left_out_equals_upstreams_selection(
    off: tuple[Part, ...],
    source_trees: dict[str, Path],
    lock: Lock,
    upstream: Path,
    session_env: Path,
) -> None:
    """kubectl builds the selection, ``crd/full`` and ``clusterresources`` of the same tree, with
    the recipe's steps; ``clusterresources`` holds the LLMInferenceServiceConfigs, which cannot be
    applied without llmisvc's CRD, so the reference drops them when llmisvc is left out."""
    tree = source_trees["v0.20.0"]
    theirs: dict[ObjectKey, Obj] = {}
    for d in (
        tree / "config/crd/full",
        selection(tree, wanted_components([p.component for p in off])),
        tree / "config/clusterresources",
    ):
        for o in sourcebuild.retag(kubectl_kustomize(d), "v0.20.0"):
            if o["kind"] != "Namespace" and not (LLMISVC in off and o["kind"] == "LLMInferenceServiceConfig"):
                theirs.pop(ObjectKey.of(o), None)
                theirs[ObjectKey.of(o)] = o
    p = params.resolve(
        lock, ParameterOptions(set_args=["kserve.source=v0.20.0", *[f"{x.parameter}=false" for x in off]])
    )
    ctx = _context(lock, upstream)
    ours = KSERVE.prebuild(p, KSERVE.fetch(p, ctx), ctx).all_objects()
    assert differences(ours, list(theirs.values())) == []


def _context(lock: Lock, upstream: Path) -> BuildContext:
    return BuildContext(lock, FetchSettings(mirror=str(upstream)))


# ---------------------------------------------------------------------------- refs and tags


@pytest.fixture
def commit_mirror(tmp_path: Path, upstream: Path) -> Iterator[tuple[Path, str]]:
    """A mirror that serves v0.20.0's source tree as the archive of a commit."""
    mirror = tmp_path / "mirror"
    dest = mirror / "github.com/kserve/kserve/archive" / f"{COMMIT}.tar.gz"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(mirror_tarball(upstream, "v0.20.0"), dest)
    yield mirror, hashlib.sha256(dest.read_bytes()).hexdigest()


def _images(objs: list[Obj]) -> list[str]:
    return [
        c["image"]
        for o in objs
        if o["kind"] in ("Deployment", "DaemonSet")
        for c in o["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith("kserve/")
    ]


def test_a_commit_keeps_latest_unless_images_tag_says_otherwise(
    commit_mirror: tuple[Path, str], lock: Lock, isolated: Path
) -> None:
    mirror, sha = commit_mirror
    spec = f"kserve.source=https://github.com/kserve/kserve/archive/{COMMIT}.tar.gz#sha256={sha}"
    with pytest.raises(ParameterError, match=r"names no KServe release; set kserve\.version"):
        params.resolve(lock, ParameterOptions(set_args=[spec]))
    latest = _render(lock, mirror, [spec], version="v0.20.0")
    assert _images(latest.objects) and all(i.endswith(":latest") for i in _images(latest.objects))
    tagged = _render(lock, mirror, [spec, "images.tag=nightly-2026"], version="v0.20.0")
    assert all(i.endswith(":nightly-2026") for i in _images(tagged.objects))
    config = next(o for o in tagged.objects if o["metadata"]["name"] == "inferenceservice-config")
    assert ":latest" not in str(config["data"]) and "kserve/agent:nightly-2026" in config["data"]["agent"]


def test_images_tag_on_a_release_is_said_to_do_nothing(
    lock: Lock, upstream: Path, session_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = ParameterOptions(set_args=["images.tag=other"], version="v0.20.0")
    with caplog.at_level(logging.WARNING):
        resolve_parameters(lock, options, {})  # the parameter stage says so, before any fetch
    assert "images.tag has no effect on a release" in caplog.text
    rendered = _render(lock, upstream, ["images.tag=other"], version="v0.20.0")
    assert all(i.endswith(":v0.20.0") for i in _images(rendered.objects))


# ---------------------------------------------------------------------------- pre-built once


def test_the_source_is_built_once_and_read_back_after(
    lock: Lock, upstream: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = tarball.read

    def counted(*args: Any, **kwargs: Any) -> tarball.Tarball:
        calls.append("read")
        return real(*args, **kwargs)

    monkeypatch.setattr(tarball, "read", counted)
    first = _render(lock, upstream, ["kserve.source=v0.20.0"])
    second = _render(lock, upstream, ["kserve.source=v0.20.0"])
    assert calls == ["read"], "the second render reads the pre-built tree, not the tarball"
    assert second.built.path == first.built.path and second.built.texts
    assert differences(second.objects, first.objects) == []
    _render(lock, upstream, ["kserve.source=v0.20.0", "kserve.llmisvc.enabled=false"])
    assert calls == ["read", "read"], "another selection of components is another build"
    phase_files = sorted((first.built.path).glob("0*.yaml"))
    assert len(phase_files) == 7


@pytest.mark.kubectl
def test_emitted_kustomization_of_a_source_render_builds_with_kubectl(
    lock: Lock, upstream: Path, session_env: Path, tmp_path: Path
) -> None:
    sets = [*_sets("v0.20.0", "all", lock), "kserve.source=v0.20.0", "kserve.localmodel.enabled=false"]
    rendered = _render(lock, upstream, sets)
    write_kustomization(
        tmp_path / "k", rendered.tree, rendered.source_files(), force=False, include_secrets=True
    )
    assert differences(rendered.objects, kubectl_kustomize(tmp_path / "k")) == []


def test_build_command_of_a_locked_source(cli_env: dict[str, str]) -> None:
    res = run_cli("build", "--set", "kserve.source=v0.18.1", env=cli_env, timeout=600)
    assert res.code == 0, res.stderr
    assert res.stdout.startswith("kserve v0.18.1: ") and "/source/" in res.stdout
    assert "rebuilt from the ref" in res.stderr


def test_a_commit_pinned_under_a_name_renders_by_that_name(
    commit_mirror: tuple[Path, str], tmp_path: Path, cli_env: dict[str, str]
) -> None:
    mirror, sha = commit_mirror
    lock = tmp_path / "lock.yaml"
    url = f"https://github.com/kserve/kserve/archive/{COMMIT}.tar.gz"
    add = ["--lock", str(lock), "lock", "add", "--source", url, "--mirror", str(mirror)]
    refused = run_cli(*add, env=cli_env)
    assert refused.code == 2 and "give --version" in refused.stderr and not lock.exists()
    added = run_cli(*add, "--version", "v0.20.0", "--name", "nightly", env=cli_env)
    assert added.code == 0, added.stderr
    assert added.stdout == f"{sha}  {url}  (nightly, KServe v0.20.0)\n"
    listed = run_cli("--lock", str(lock), "lock", "list", env=cli_env)
    assert f"kserve v0.20.0 source nightly {sha} [sha256] {url}" in listed.stdout
    out = run_cli(
        "--lock", str(lock), "render", "--mirror", str(mirror), "--set", "kserve.source=nightly", env=cli_env
    )
    assert out.code == 0, out.stderr
    assert "kserve/kserve-controller:latest" in out.stdout and ":v0.20.0" not in out.stdout


def test_the_build_script_builds_a_locked_source(cli_env: dict[str, str], tmp_path: Path) -> None:
    """hack/build-kserve-manifests --source: the pre-built tree of a source, made by our engine."""
    res = subprocess.run(
        [sys.executable, str(REPO / "hack" / "build-kserve-manifests"), "--source", "v0.18.1"],
        env={**os.environ, **cli_env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    built = Path(cli_env["INSTALLER_BUILD_DIR"]) / "source"
    trees = [p for p in built.iterdir() if (p / "objects.json").is_file()]
    assert len(trees) == 1, sorted(built.iterdir())
    assert (
        "kserve v0.18.1: " in res.stdout and not (Path(cli_env["INSTALLER_BUILD_DIR"]) / "v0.18.1").exists()
    )
