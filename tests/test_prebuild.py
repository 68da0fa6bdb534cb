"""Pre-built objects equal the upstream files, counted and compared on their own."""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import prebuild, versions
from installer.lock import Lock
from installer.objects import identity
from installer.phases import PHASES, phase_file
from installer.sources import Cache, FetchSettings, fetch_all
from tests.conftest import LOCKED_VERSIONS


@functools.cache
def _parse(path: Path) -> list[dict[str, Any]]:
    # The independent reference: PyYAML's own safe_load_all, not the installer's loader.
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def upstream_objects(upstream: Path, lock: Lock, version: str) -> list[dict[str, Any]]:
    """Every object of the version's assets, parsed independently with yaml.safe_load_all."""
    docs: list[dict[str, Any]] = []
    for asset in lock.assets(versions.KSERVE, version):
        path = upstream / asset.url.removeprefix("https://")
        docs.extend(_parse(path))
    return docs


@pytest.fixture(scope="module")
def built(lock: Lock, upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, prebuild.Built]:
    root = tmp_path_factory.mktemp("prebuild")
    cache = Cache(root / "cache")
    out = {}
    for v in lock.versions():
        fetched = fetch_all(lock.assets(versions.KSERVE, v), FetchSettings(mirror=str(upstream)), cache)
        out[v] = prebuild.build(versions.KSERVE, v, fetched, root / "built")
    return out


@pytest.mark.parametrize("version", LOCKED_VERSIONS)
def test_counts_by_kind_equal_upstream(
    version: str, built: dict[str, prebuild.Built], lock: Lock, upstream: Path
) -> None:
    docs = upstream_objects(upstream, lock, version)
    unique: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for d in docs:
        unique.setdefault(identity(d), d)
    expected = Counter((d["apiVersion"], d["kind"]) for d in unique.values())
    got = Counter((o["apiVersion"], o["kind"]) for o in built[version].all_objects())
    assert got == expected
    assert sum(got.values()) == len(unique)


@pytest.mark.parametrize("version", LOCKED_VERSIONS)
def test_objects_are_unchanged(
    version: str, built: dict[str, prebuild.Built], lock: Lock, upstream: Path
) -> None:
    """Every upstream object is in the build, equal to the letter; of two copies the later asset's
    (as upstream applies kserve-crds.yaml, then kserve.yaml)."""
    last = {identity(d): d for d in upstream_objects(upstream, lock, version)}
    by_id = {identity(o): o for o in built[version].all_objects()}
    assert len(by_id) == len(built[version].all_objects()), "no object twice"
    assert by_id == last


@pytest.mark.parametrize("version", [v for v in LOCKED_VERSIONS if versions.minor_of(v) >= (0, 17)])
def test_v017_core_crds_come_from_kserve_yaml(version: str, built: dict[str, prebuild.Built]) -> None:
    """kserve.yaml repeats the six CRDs of kserve-crds.yaml with labels and the CA annotation added:
    its copy is kept, and the build says so for each."""
    notes = built[version].notes
    replaced = [n for n in notes if n.endswith("from kserve.yaml replaced an earlier copy")]
    assert len(replaced) == 6, notes
    crds = {o["metadata"]["name"]: o for o in built[version].phases["crds"]}
    isvc = crds["inferenceservices.serving.kserve.io"]
    assert isvc["metadata"]["labels"]["app.kubernetes.io/name"] == "kserve"
    assert isvc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "kserve/serving-cert"
    assert not any(o["kind"] == "Namespace" for o in built[version].phases["crds"]), (
        "v0.17+ ships no Namespace"
    )


def test_v016_duplicates_are_dropped_and_noted(built: dict[str, prebuild.Built]) -> None:
    notes = built["v0.16.0"].notes
    assert len(notes) == 8 and all(
        "identical duplicate LLMInferenceServiceConfig/kserve/" in n for n in notes
    )
    assert built["v0.13.1"].notes == []


def test_phases(built: dict[str, prebuild.Built]) -> None:
    phases = built["v0.15.2"].phases
    assert {o["kind"] for o in phases["crds"]} == {"Namespace", "CustomResourceDefinition"}
    assert {o["kind"] for o in phases["webhooks"]} == {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
    assert {o["kind"] for o in phases["custom-resources"]} == {
        "ClusterServingRuntime",
        "ClusterStorageContainer",
    }
    assert {o["kind"] for o in phases["certificates"]} == {"Issuer", "Certificate"}
    assert {o["kind"] for o in phases["workloads"]} == {"Deployment", "DaemonSet"}
    assert {o["kind"] for o in phases["cluster"]} == {"ClusterRole", "ClusterRoleBinding"}
    assert all(o["metadata"].get("namespace") for o in phases["namespaced"])
    llm = [o for o in built["v0.16.0"].phases["custom-resources"] if o["kind"] == "LLMInferenceServiceConfig"]
    assert len(llm) == 8, "LLMInferenceServiceConfigs are applied in the last phase"


def test_tree_on_disk_matches_the_index(built: dict[str, prebuild.Built]) -> None:
    b = built["v0.16.0"]
    index = json.loads((b.path / prebuild.OBJECTS_FILE).read_text())
    for phase in PHASES:
        file = b.path / phase_file(phase)
        from_yaml = list(yaml.load_all(file.read_text(), Loader=yaml.CSafeLoader)) if file.exists() else []
        assert from_yaml == index[phase] == b.phases[phase]


def test_second_build_does_no_work(
    built: dict[str, prebuild.Built], lock: Lock, upstream: Path, tmp_path: Path
) -> None:
    b = built["v0.13.1"]
    before = {p.name: p.stat().st_mtime_ns for p in b.path.iterdir()}
    fetched = fetch_all(
        lock.assets(versions.KSERVE, "v0.13.1"), FetchSettings(mirror=str(upstream)), Cache(tmp_path)
    )
    again = prebuild.build(versions.KSERVE, "v0.13.1", fetched, b.path.parent)
    assert again.phases == b.phases
    assert {p.name: p.stat().st_mtime_ns for p in b.path.iterdir()} == before
    # A changed builder stamp (different inputs) rebuilds.
    meta = json.loads((b.path / prebuild.BUILD_FILE).read_text())
    meta["stamp"] = "0" * 64
    (b.path / prebuild.BUILD_FILE).write_text(json.dumps(meta))
    prebuild.build(versions.KSERVE, "v0.13.1", fetched, b.path.parent)
    assert json.loads((b.path / prebuild.BUILD_FILE).read_text())["stamp"] != "0" * 64
    assert not [p for p in b.path.parent.iterdir() if p.name.startswith(".")], "no temporary trees left"
    assert os.access(b.path / prebuild.OBJECTS_FILE, os.R_OK)


# ---------------------------------------------------------------------------- superseded copies


def _crd(name: str, labels: dict[str, str] | None = None, schema: str = "object", order: str = "ms") -> str:
    meta = {"name": name, **({"labels": labels} if labels else {})}
    spec = {"group": "x.io", "versions": [{"name": "v1", "schema": {"type": schema}}]}
    parts = {"m": {"metadata": meta}, "s": {"spec": spec}}
    head = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
    return "".join(yaml.safe_dump(p, sort_keys=False) for p in [head, *(parts[c] for c in order)])


SUPERSEDED_CASES = {
    "labels added later": [[_crd("a.x.io"), _crd("b.x.io")], [_crd("a.x.io", {"l": "1"}), _crd("b.x.io")]],
    "identical copies": [[_crd("a.x.io")], [_crd("a.x.io")]],
    "same head, other spec": [[_crd("a.x.io")], [_crd("a.x.io", schema="string")]],
    "same object, other order": [[_crd("a.x.io")], [_crd("a.x.io", order="sm")]],
    "three copies": [
        [_crd("a.x.io"), _crd("a.x.io", {"l": "1"})],
        [_crd("a.x.io"), _crd("a.x.io", {"l": "2"})],
    ],
    "back and forth": [[_crd("a.x.io", {"l": "1"})], [_crd("a.x.io"), _crd("a.x.io", {"l": "1"}, "string")]],
    "an unclean document": [[_crd("a.x.io"), "- not\n- a mapping\n"], [_crd("a.x.io", {"l": "1"})]],
    "empty documents": [["", "# comment\n", _crd("a.x.io")], [_crd("a.x.io", {"l": "1"}), "\n"]],
}


@pytest.mark.parametrize("case", SUPERSEDED_CASES)
def test_superseded_copies_are_skipped_without_changing_the_build(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever it skips, normalization gives what parsing every document gives: the same
    objects in the same order, the same texts and the same notes."""
    from installer.lock import Asset
    from installer.sources import FetchedAsset

    fetched = []
    for n, docs in enumerate(SUPERSEDED_CASES[case]):
        path = tmp_path / f"asset{n}.yaml"
        path.write_text("---\n".join(docs))
        fetched.append(
            FetchedAsset(Asset(path.name, f"https://example.com/{path.name}", None), "0" * 64, path)
        )

    def outcome() -> Any:
        try:
            parsed, notes = prebuild.normalize(fetched)
        except Exception as exc:
            return type(exc).__name__, str(exc)
        return [(p.obj, p.text, p.texts) for p in parsed], notes

    skipped = prebuild.superseded(
        [d for docs in SUPERSEDED_CASES[case] for d in "---\n".join(docs).split("---\n")]
    )
    with_skips = outcome()
    monkeypatch.setattr(prebuild, "superseded", lambda texts: {})
    assert with_skips == outcome()
    if case == "labels added later":
        assert list(skipped) == [0]  # a.x.io's first copy; b.x.io's copies are the same object
    if case in ("identical copies", "same head, other spec", "an unclean document"):
        assert skipped == {}
