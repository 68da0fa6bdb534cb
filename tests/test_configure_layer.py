"""The generated root layer's file names and text: made for reviewing a change to them."""

from __future__ import annotations

from installer import yamlio
from installer.components.base import Contribution
from installer.configure import root_layer
from installer.objects import ObjectKey

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "ns"}, "data": {}}
DEP = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "ctl", "namespace": "ns"},
    "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "x/ctl:v1"}]}}},
}


def _layer(registry: str | None, value: str) -> dict[str, str]:
    ops = {ObjectKey.of(CM): [{"op": "replace", "path": "/data/ingress", "value": value}]}
    merge = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ctl"}}
    return root_layer([CM, DEP], [Contribution(ops=ops, merges=[(DEP, merge)])], registry).files


def test_patch_files_are_named_after_their_object_only() -> None:
    """One more patch (a registry) adds files and renames none: a cluster's diff is its change."""
    without = _layer(None, "{}")
    with_registry = _layer("reg.local/m", "{}")
    assert set(without) - {"kustomization.yaml"} == {
        "patches/configmap-ns-cfg.yaml",
        "patches/deployment-ns-ctl.merge.yaml",
    }
    assert set(with_registry) - set(without) == {"patches/deployment-ns-ctl.yaml"}
    assert all(with_registry[k] == v for k, v in without.items() if k != "kustomization.yaml")
    paths = [p["path"] for p in yamlio.load(with_registry["kustomization.yaml"])["patches"]]
    assert paths.index("patches/deployment-ns-ctl.yaml") < paths.index("patches/deployment-ns-ctl.merge.yaml")


def test_multi_line_values_are_literal_blocks() -> None:
    """A changed line of a ConfigMap's JSON shows in a diff as that one line."""
    value = '{\n    "ingressClassName": "nginx",\n    "urlScheme": "http"\n}'
    text = _layer(None, value)["patches/configmap-ns-cfg.yaml"]
    assert '    "ingressClassName": "nginx",\n' in text
    assert yamlio.load(text)[0]["value"] == value
