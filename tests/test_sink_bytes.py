"""What every sink writes parses back to exactly the rendered objects.

The YAML writer reuses upstream text for values the render did not touch and reads large dumped
values back from its cache (:mod:`installer.yamltext`); nothing else checks those bytes against
the objects. For every locked version, with defaults and with the full parameter set (in two
modes, so that ModelMesh's pre-build and text are covered): stdout YAML, ``-o json``, every file
of the ``--output-dir`` GitOps tree (with sync waves) and the ``--emit-kustomization`` tree (built
again by the engine from disk) give back the rendered objects, value for value and type for type
(``1`` is not ``true``, ``"1"`` is not ``1``), parsed by plain PyYAML (``CSafeLoader``) and the
standard library's JSON. One render per case serves all four sinks.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import kustomize, params
from installer.kustomize import FileTree
from installer.lock import Lock
from installer.objects import ObjectKey
from installer.operations import RenderSink
from installer.params import ParameterOptions
from installer.phases import PHASES
from installer.render import Rendered, Validation, render
from installer.sinks.gitops import with_sync_wave
from installer.sinks.render import to_yaml
from installer.sources import FetchSettings
from installer.textahead import deal
from tests.conftest import LOCKED_VERSIONS, full_parameters
from tests.test_yaml_io import exactly

CASES = [("RawDeployment", "defaults"), ("Serverless", "full"), ("ModelMesh", "full")]


@contextlib.contextmanager
def no_collector() -> Iterator[None]:
    """The reference parser is slow with the collector on; results do not depend on it."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_yaml(text: str) -> list[Any]:
    with no_collector():
        return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


def same_objects(want: list[Any], got: list[Any], where: str) -> None:
    assert len(want) == len(got), f"{where}: {len(got)} objects, rendered {len(want)}"
    for w, g in zip(want, got, strict=True):
        found = exactly(w, g)
        assert found is None, f"{where}: {ObjectKey.of(w)}{found}"


def same_by_identity(want: list[Any], got: list[Any], where: str) -> None:
    """The same objects, in any order (a kustomization builds them in its own order)."""
    by_key = {ObjectKey.of(o): o for o in got}
    assert sorted(map(str, by_key)) == sorted(str(ObjectKey.of(o)) for o in want), where
    for w in want:
        found = exactly(w, by_key[ObjectKey.of(w)])
        assert found is None, f"{where}: {ObjectKey.of(w)}{found}"


def stdout_of(sink: RenderSink, rendered: Rendered) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        sink.write(rendered)
    return buf.getvalue()


def gitops_objects(root: Path) -> list[Any]:
    """Every object file of a GitOps tree, in the order its kustomizations list them."""
    out: list[Any] = []
    for phase_dir in parse_yaml((root / "kustomization.yaml").read_text())[0]["resources"]:
        for name in parse_yaml((root / phase_dir / "kustomization.yaml").read_text())[0]["resources"]:
            (obj,) = parse_yaml((root / phase_dir / name).read_text(encoding="utf-8"))
            out.append(obj)
    return out


@pytest.mark.parametrize("version", LOCKED_VERSIONS)
@pytest.mark.parametrize(("mode", "parameters"), CASES)
def test_every_sink_parses_back_to_the_render(
    version: str, mode: str, parameters: str, lock: Lock, upstream: Path, session_env: Path, tmp_path: Path
) -> None:
    sets = full_parameters(version, mode, lock) if parameters == "full" else []
    p = params.resolve(lock, ParameterOptions(set_args=sets, version=version, mode=mode))
    rendered = render(p, lock, FetchSettings(mirror=str(upstream)))
    objs = rendered.objects  # Secrets included: every sink below is told to keep them

    same_objects(objs, parse_yaml(stdout_of(RenderSink(include_secrets=True), rendered)), "stdout YAML")

    listed = json.loads(stdout_of(RenderSink(output_format="json", include_secrets=True), rendered))
    same_objects(objs, listed["items"], "-o json")

    waves = [with_sync_wave(o, wave) for wave, phase in enumerate(PHASES) for o in rendered.phases[phase]]
    tree = tmp_path / "tree"
    RenderSink(output_dir=tree, gitops_sync_waves=True, include_secrets=True).write(rendered)
    same_objects(waves, gitops_objects(tree), "--output-dir")

    emitted = tmp_path / "emitted"
    RenderSink(output_dir=tmp_path / "unused", emit_dir=emitted, include_secrets=True).write(rendered)
    with no_collector():
        rebuilt = kustomize.build(FileTree.from_directory(emitted), ".")
    same_by_identity(objs, rebuilt, "--emit-kustomization")


def test_values_dumped_ahead_are_dealt_by_size() -> None:
    """One group per core, the largest values first, each to the lighter group; no group empty."""
    a, b, c, d = (("k", {"x": "y" * n}, 2) for n in (1000, 900, 120, 60))
    assert deal([d, c, b, a], 2) == [[a, d], [b, c]]
    assert deal([c, a], 4) == [[a], [c]]
    assert deal([a, b, c, d], 1) == [[a, b, c, d]]


def test_text_dumped_ahead_is_the_text_dumped_after(
    lock: Lock, upstream: Path, session_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``dump_ahead`` a second process fills the dump cache, before the engine runs, with
    what the writer will dump (predicted from the pre-built objects); the YAML written from that
    cache is the YAML dumped without it."""
    version = "v0.20.0"  # its two llmisvc CRDs are copied whole, so dumped whole
    p = params.resolve(lock, ParameterOptions(version=version))
    settings = FetchSettings(mirror=str(upstream))
    before = render(p, lock, settings)
    plain = to_yaml(before.objects, before.text_index())
    monkeypatch.setenv("INSTALLER_CACHE_DIR", str(tmp_path / "cache"))  # an empty dump cache
    rendered = render(p, lock, settings, Validation(dump_ahead=True))
    assert list((tmp_path / "cache" / "yaml-text").rglob("*")), "nothing was dumped ahead"
    copies = [o for o in rendered.objects if kustomize.copied_whole(o)]
    assert len(copies) == 2
    assert rendered.text_index().missing(copies) == [], "the prediction missed a value"
    assert to_yaml(rendered.objects, rendered.text_index()) == plain
