"""FileTree.from_directory: a kustomization on disk, read without leaving it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from installer import kustomize
from installer.errors import BuildError

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "base").mkdir(parents=True)
    (root / "base" / "cm.yaml").write_text(CM)
    (root / "base" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (root / "overlay").mkdir()
    (root / "overlay" / "kustomization.yaml").write_text("resources: [../base]\nnamespace: x\n")
    os.symlink("../base/cm.yaml", root / "overlay" / "linked-source.yaml")
    secret = tmp_path / "secret.yaml"
    secret.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    os.symlink(secret, root / "overlay" / "escape.yaml")
    os.symlink(tmp_path, root / "overlay" / "loop")
    (root / "overlay" / "binary.bin").write_bytes(b"\xff\xfe\x00")
    os.mkfifo(root / "overlay" / "pipe")
    return root


def test_loads_regular_files_and_links_inside(layout: Path) -> None:
    tree = kustomize.FileTree.from_directory(layout)
    assert tree.files["base/cm.yaml"] == CM
    assert tree.files["overlay/linked-source.yaml"] == CM  # a link inside the tree is followed
    assert set(tree.refused) == {"overlay/escape.yaml", "overlay/loop", "overlay/binary.bin", "overlay/pipe"}
    assert tree.refused["overlay/escape.yaml"] == "a symlink leading outside the tree"
    assert tree.refused["overlay/loop"] == "a symlinked directory (not followed)"
    assert tree.refused["overlay/binary.bin"] == "not UTF-8 text"
    assert tree.refused["overlay/pipe"] == "not a regular file"
    assert not any("secret" in v for v in tree.files.values() if isinstance(v, str))


def test_a_refused_file_is_named_with_the_reason(layout: Path) -> None:
    (layout / "overlay" / "kustomization.yaml").write_text("resources: [../base, escape.yaml]\n")
    tree = kustomize.FileTree.from_directory(layout)
    with pytest.raises(
        BuildError, match=re.escape("overlay/escape.yaml: a symlink leading outside the tree")
    ):
        kustomize.build(tree, "overlay")


def test_builds_from_disk(layout: Path) -> None:
    (layout / "overlay" / "kustomization.yaml").write_text("resources: [../base, linked-source.yaml]\n")
    with pytest.raises(BuildError, match="appears twice"):
        kustomize.build(kustomize.FileTree.from_directory(layout), "overlay")
    (layout / "overlay" / "kustomization.yaml").write_text("resources: [../base]\nnamespace: x\n")
    out = kustomize.build(kustomize.FileTree.from_directory(layout), "overlay")
    assert out == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "x"},
            "data": {"a": "1"},
        }
    ]


def test_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(BuildError, match="not a directory"):
        kustomize.FileTree.from_directory(tmp_path / "f")
