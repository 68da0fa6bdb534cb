"""``installer diff`` as a unified diff with values, per object, against the fake API server
(tests/fake_cluster.py); the same on a real server is in tests/test_cluster.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from installer import params
from installer.cluster.client import Ref
from installer.cluster.deploy import DeployOptions, deploy
from installer.cluster.diff import ObjectDiff, diff
from installer.cluster.diffview import MASK, lines, masked, use_colour
from installer.lock import Lock
from installer.objects import Obj
from installer.params import ParameterOptions
from installer.render import render
from installer.sources import FetchSettings
from tests.fake_cluster import FakeCluster

NS = "kserve"
SECRET_VALUE = "c2VjcmV0LXZhbHVlLW5ldmVyLXNob3du"  # base64 of a value that must never be printed
NEW_SECRET_VALUE = "YW5vdGhlci1zZWNyZXQtdmFsdWU="


@pytest.fixture(scope="module")
def phases(lock: Lock, upstream: Path, session_env: Path) -> dict[str, list[Obj]]:
    p = params.resolve(lock, ParameterOptions(version="v0.15.2"))
    return render(p, lock, FetchSettings(mirror=str(upstream))).phases


def opts() -> DeployOptions:
    return DeployOptions(
        instance=NS, version="v0.15.2", mode="RawDeployment", interval=0.0, timeout=5.0, sleep=lambda s: None
    )


def secret(value: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kserve-s3-credentials", "namespace": NS},
        "type": "Opaque",
        "data": {"AWS_SECRET_ACCESS_KEY": value, "AWS_ACCESS_KEY_ID": "QUtJQQ=="},
    }


def _with(phases: dict[str, list[Obj]], *objs: Obj) -> dict[str, list[Obj]]:
    """The phases with ``objs`` in place of the objects of the same name (added when new)."""
    out = {p: list(v) for p, v in phases.items()}
    for obj in objs:
        ref = Ref.of(obj).key
        for items in out.values():
            for i, o in enumerate(items):
                if Ref.of(o).key == ref:
                    items[i] = obj
                    break
            else:
                continue
            break
        else:
            out["namespaced"].append(obj)
    return out


def _text(changes: list[ObjectDiff]) -> str:
    return "\n".join(lines(changes)) + json.dumps([d.to_dict() for d in changes])


def test_a_change_shows_the_old_and_the_new_value(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    cm = next(o for o in phases["namespaced"] if o["metadata"]["name"] == "inferenceservice-config")
    old_deploy = cm["data"]["deploy"]
    changed = {**cm, "data": {**cm["data"], "deploy": '{"defaultDeploymentMode": "Serverless"}'}}
    [d] = diff(cluster, _with(phases, changed), NS, NS)
    ref = "ConfigMap/kserve/inferenceservice-config"
    assert (d.action, d.ref, d.fields) == ("change", ref, ["data.deploy"])
    assert d.diff[:2] == [f"--- live/{ref}", f"+++ merged/{ref}"]
    assert d.diff[2].startswith("@@ ")
    removed = [line for line in d.diff[2:] if line.startswith("-")]
    added = [line for line in d.diff[2:] if line.startswith("+")]
    assert '"defaultDeploymentMode": "RawDeployment"' in old_deploy
    assert any('"defaultDeploymentMode": "RawDeployment"' in line for line in removed), d.diff
    assert added == ['+  deploy: \'{"defaultDeploymentMode": "Serverless"}\''], d.diff
    for noise in ("managedFields", "resourceVersion", "uid:", "creationTimestamp", "generation"):
        assert noise not in "\n".join(d.diff)
    assert lines([d])[0] == f"change  {ref}: data.deploy"
    assert d.to_dict() == {
        "object": ref,
        "action": "change",
        "fields": ["data.deploy"],
        "diff": "\n".join(d.diff),
    }


def test_a_create_shows_the_whole_object_and_a_prune_the_removed_one(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    created = diff(cluster, {"crds": phases["crds"][:1]}, NS, NS)
    assert [d.action for d in created] == ["create"]
    body = created[0].diff[3:]
    assert body and all(line.startswith("+") for line in body)
    assert "+kind: Namespace" in body and "+  name: kserve" in body
    deploy(cluster, phases, NS, opts())
    fewer = {p: list(v) for p, v in phases.items()}
    dropped = fewer["custom-resources"].pop()
    [pruned] = diff(cluster, fewer, NS, NS)
    assert (pruned.action, pruned.ref) == ("prune", str(Ref.of(dropped)))
    body = pruned.diff[3:]
    assert body and all(line.startswith("-") for line in body)
    assert f"-  name: {dropped['metadata']['name']}" in body


def test_a_secret_value_never_shows_but_its_change_does(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    created = diff(cluster, _with(phases, secret(SECRET_VALUE)), NS, NS)
    shown = _text(created)
    assert SECRET_VALUE not in shown and f"AWS_SECRET_ACCESS_KEY: '{MASK}'" in shown
    deploy(cluster, _with(phases, secret(SECRET_VALUE)), NS, opts())
    assert diff(cluster, _with(phases, secret(SECRET_VALUE)), NS, NS) == []
    [d] = diff(cluster, _with(phases, secret(NEW_SECRET_VALUE)), NS, NS)
    assert (d.action, d.fields) == ("change", ["data.AWS_SECRET_ACCESS_KEY"])
    shown = _text([d])
    assert SECRET_VALUE not in shown and NEW_SECRET_VALUE not in shown
    assert f"-  AWS_SECRET_ACCESS_KEY: '{MASK} (before)'" in d.diff
    assert f"+  AWS_SECRET_ACCESS_KEY: '{MASK} (after)'" in d.diff
    assert "QUtJQQ==" not in shown, "an unchanged value is masked too"


def test_masking_covers_string_data_and_kubectl_last_applied() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{x}"}},
        "stringData": {"password": "hunter2"},
    }
    before, after = masked(live, {**live, "stringData": {"password": "hunter3"}})
    assert before is not None and after is not None
    assert before["stringData"] == {"password": f"{MASK} (before)"}
    assert after["stringData"] == {"password": f"{MASK} (after)"}
    assert before["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": MASK}
    assert live["stringData"] == {"password": "hunter2"}, "the objects themselves are not changed"


def test_an_injected_ca_bundle_is_no_difference(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    hook = phases["webhooks"][0]
    injected = {
        "apiVersion": hook["apiVersion"],
        "kind": hook["kind"],
        "metadata": {"name": hook["metadata"]["name"]},
        "webhooks": [{"name": w["name"], "clientConfig": {"caBundle": "LS0tQ0E="}} for w in hook["webhooks"]],
    }
    cluster.apply(injected, manager="cert-manager-cainjector")
    changed = {**hook, "webhooks": [{**hook["webhooks"][0], "timeoutSeconds": 7}, *hook["webhooks"][1:]]}
    [d] = diff(cluster, _with(phases, changed), NS, NS)
    assert "+  timeoutSeconds: 7" in d.diff
    assert "caBundle" not in "\n".join(d.diff)


def test_a_replace_says_why_and_shows_the_field(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    binding = next(o for o in phases["cluster"] if o["kind"] == "ClusterRoleBinding")
    moved = {**binding, "roleRef": {**binding["roleRef"], "name": "kserve-other-role"}}
    [d] = diff(cluster, _with(phases, moved), NS, NS)
    assert d.summary() == (
        f"replace {Ref.of(binding)}: roleRef cannot change in place (deleted and created again)"
    )
    assert "+  name: kserve-other-role" in d.diff
    assert f"-  name: {binding['roleRef']['name']}" in d.diff


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert use_colour(_Tty(), {})
    assert not use_colour(_Tty(), {"NO_COLOR": "1"})
    assert not use_colour(io.StringIO(), {})
    d = ObjectDiff(
        "ConfigMap/kserve/x", "change", ["data.a"], ["--- live/x", "+++ merged/x", "@@ -1 +1 @@", "-a", "+b"]
    )
    plain = lines([d])
    assert not any("\x1b[" in line for line in plain)
    shown = lines([d], colour=True)
    assert shown[4] == "\x1b[31m-a\x1b[0m" and shown[5] == "\x1b[32m+b\x1b[0m"
    assert shown[0] == plain[0]


def test_undeploy_dry_run_lists_what_it_would_delete_and_deletes_nothing(
    phases: dict[str, list[Obj]],
) -> None:
    from installer.cluster.dryrun import DryRunCluster
    from installer.cluster.undeploy import undeploy
    from installer.errors import UserDataError
    from tests.test_deploy_orchestration import isvc

    cluster = FakeCluster(finalize_after=3)
    deploy(cluster, phases, NS, opts())
    before = {k: json.dumps(v, sort_keys=True) for k, v in cluster.objects.items()}
    cluster.calls.clear()
    would = undeploy(DryRunCluster(cluster), NS)
    assert {verb for verb, _ in cluster.calls} <= {"get", "list", "dry-run-delete", "dry-run"}
    assert {k: json.dumps(v, sort_keys=True) for k, v in cluster.objects.items()} == before
    assert set(would) == {str(Ref.of(o)) for p in phases.values() for o in p}
    assert would[-1].startswith("CustomResourceDefinition/") or would[-1].startswith("Namespace/")
    cluster.apply(isvc(), manager="user")
    with pytest.raises(UserDataError, match="InferenceService/models/sklearn-iris"):
        undeploy(DryRunCluster(cluster), NS)  # refused as the real one would be
    assert undeploy(cluster, NS, force=True) == would


def test_a_change_the_server_would_refuse_is_shown_over_the_live_object() -> None:
    from installer.cluster.diff import overlaid

    live = {"spec": {"containers": [{"name": "m", "image": "a", "imagePullPolicy": "IfNotPresent"}], "x": 1}}
    wanted = {"spec": {"containers": [{"name": "m", "image": "b"}]}}
    assert overlaid(live, wanted) == {
        "spec": {"containers": [{"name": "m", "image": "b", "imagePullPolicy": "IfNotPresent"}], "x": 1}
    }, "defaults the server filled in do not show as removed"
    assert overlaid({"l": [1, 2]}, {"l": [3]}) == {"l": [3]}
