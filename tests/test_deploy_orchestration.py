"""Deploy, prune, undeploy and diff orchestration on real rendered objects, against a fake API
server (tests/fake_cluster.py). What only a real server decides is tested in test_cluster.py."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from installer import jsonio, params
from installer.cluster.client import Ref
from installer.cluster.deploy import DeployOptions, deploy
from installer.cluster.diff import diff
from installer.cluster.inventory import INVENTORY, read_inventory
from installer.cluster.prerequisites import CERT_MANAGER_CONTROLLER_LABELS
from installer.cluster.progress import LineProgress
from installer.cluster.prune import prune_set
from installer.cluster.undeploy import undeploy
from installer.errors import ClusterError, ConflictError, InvalidError, UserDataError, WaitTimeoutError
from installer.lock import Lock
from installer.objects import Obj
from installer.params import ParameterOptions
from installer.phases import PHASES
from installer.render import render
from installer.sources import FetchSettings
from tests.fake_cluster import FakeCluster

NS = "kserve"


@pytest.fixture(scope="module")
def phases(lock: Lock, upstream: Path, session_env: Path) -> dict[str, list[Obj]]:
    p = params.resolve(lock, ParameterOptions(version="v0.15.2"))
    return render(p, lock, FetchSettings(mirror=str(upstream))).phases


def opts(**kw: object) -> DeployOptions:
    base: dict[str, object] = {
        "instance": NS,
        "version": "v0.15.2",
        "mode": "RawDeployment",
        "interval": 0.0,
        "timeout": 5.0,
    }
    base.setdefault("sleep", lambda s: None)
    base.update(kw)
    return DeployOptions(**base)  # type: ignore[arg-type]


def simulated(**kw: object) -> DeployOptions:
    """Options whose waits run on a simulated clock (each sleep advances it): a short timeout
    that a loaded machine cannot turn into a different failure."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += max(seconds, 0.01)

    return opts(interval=0.5, sleep=sleep, clock=lambda: now[0], **kw)


def isvc(name: str = "sklearn-iris", namespace: str = "models") -> Obj:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://x"}}},
    }


def test_phases_apply_in_order_and_crds_are_established_first(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster(establish_after=3)
    changes = deploy(cluster, phases, NS, opts())
    assert changes.changed == sum(len(v) for v in phases.values()) and not changes.unchanged
    applied = [ref for verb, ref in cluster.calls if verb == "apply" and INVENTORY not in ref]
    position = {ref: i for i, ref in enumerate(applied)}
    for earlier, later in itertools.pairwise(PHASES):
        a = [position[str(Ref.of(o))] for o in phases[earlier]]
        b = [position[str(Ref.of(o))] for o in phases[later]]
        if a and b:
            assert max(a) < min(b), f"{earlier} must be applied before {later}"
    assert cluster.pending == {}, "every CRD was waited for until Established"


def test_crds_are_waited_for_after_rbac_and_before_the_controllers(phases: dict[str, list[Obj]]) -> None:
    """The server takes seconds to establish KServe's large CRDs: the phases that do not need
    their kinds served are applied meanwhile, the controllers only once every CRD is Established."""
    cluster = FakeCluster(establish_after=3)
    deploy(cluster, phases, NS, opts())
    crds = {str(Ref.of(o)) for o in phases["crds"] if o["kind"] == "CustomResourceDefinition"}
    last_crd_apply = max(i for i, (verb, ref) in enumerate(cluster.calls) if verb == "apply" and ref in crds)
    polls = [
        i
        for i, (verb, ref) in enumerate(cluster.calls)
        if verb == "get" and ref in crds and i > last_crd_apply
    ]
    applied = {ref: i for i, (verb, ref) in enumerate(cluster.calls) if verb == "apply"}
    rbac = [applied[str(Ref.of(o))] for o in phases["cluster"] + phases["namespaced"]]
    controllers = [applied[str(Ref.of(o))] for o in phases["workloads"]]
    assert polls and max(rbac) < min(polls) and max(polls) < min(controllers)
    assert ("watch", "CustomResourceDefinition") in cluster.calls
    assert cluster.pending == {}


def test_crds_are_polled_when_the_watch_breaks(phases: dict[str, list[Obj]]) -> None:
    class NoWatch(FakeCluster):
        def watch_crds(self, *args: object, **kwargs: object) -> Iterator[Obj]:
            raise ClusterError("watch CustomResourceDefinition: the connection broke")

    cluster = NoWatch(establish_after=3)
    changes = deploy(cluster, phases, NS, opts())
    assert changes.changed == sum(len(v) for v in phases.values()) and cluster.pending == {}
    inv = read_inventory(cluster, NS)
    assert inv is not None and all(inv.versions.get(Ref.of(o).key) for o in phases["crds"])


class _TimesOut(FakeCluster):
    """Answers 504 (the API server's own request deadline) to the first ``times`` applies of the
    InferenceService CRD, as a busy kube-apiserver does with KServe's large CRDs."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def apply(self, obj: Obj, *, manager: str = "", **kw: Any) -> Obj:
        if obj["metadata"]["name"] == "inferenceservices.serving.kserve.io" and self.times > 0:
            self.times -= 1
            raise ClusterError(
                f"apply {Ref.of(obj)}: HTTP 504 Timeout: request did not complete within requested timeout",
                504,
                "Timeout",
            )
        return super().apply(obj, **kw, **({"manager": manager} if manager else {}))


def test_an_apply_the_server_timed_out_is_sent_again(phases: dict[str, list[Obj]]) -> None:
    cluster = _TimesOut(times=2)
    changes = deploy(cluster, phases, NS, opts())
    assert cluster.times == 0 and changes.changed == sum(len(v) for v in phases.values())


def test_an_apply_that_keeps_timing_out_fails_naming_it(phases: dict[str, list[Obj]]) -> None:
    cluster = _TimesOut(times=3)
    with pytest.raises(ClusterError, match=r"^apply .*inferenceservices.serving.kserve.io: HTTP 504 Timeout"):
        deploy(cluster, phases, NS, opts())
    assert cluster.times == 0, "sent three times: the first and two retries"


def test_second_deploy_changes_nothing(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    again = deploy(cluster, phases, NS, opts())
    assert again.changed == 0 and again.summary().startswith("0 changed")


def test_custom_resources_are_retried_while_the_webhook_is_unreachable(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster(webhook_failures=5)
    deploy(cluster, phases, NS, opts())
    assert cluster.webhook_failures == 0
    runtimes = [o for o in phases["custom-resources"] if o["kind"] == "ClusterServingRuntime"]
    assert all(cluster.get(Ref.of(o)) for o in runtimes)


def test_webhook_that_never_answers_fails_with_its_name(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster(webhook_failures=10**9)
    with pytest.raises(
        ClusterError,
        match=r"admission webhook clusterservingruntime.kserve-webhook-server.validator did not answer within 2s",
    ):
        deploy(cluster, phases, NS, simulated(timeout=2.0))
    # What it applied before failing is recorded: undeploy finds and removes all of it.
    inv = read_inventory(cluster, NS)
    assert inv is not None
    assert {str(r) for r in inv.refs} == {str(Ref.of(o)) for p in PHASES for o in phases.get(p) or []}
    undeploy(cluster, NS, force=True)
    assert list(cluster.objects) == [], "nothing of the failed deploy is left behind"


def test_webhook_timeout_is_one_deadline_for_the_phase(phases: dict[str, list[Obj]]) -> None:
    """Twenty runtimes behind one dead webhook wait one timeout, not one each; after the first
    gives up, the objects not yet tried are not tried at all."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    cluster = FakeCluster(webhook_failures=10**9)
    custom = phases["custom-resources"]
    custom_refs = {str(Ref.of(o)) for o in custom}
    assert len(custom) >= 10
    first_try: list[float] = []
    real_apply = cluster.apply

    def apply(obj: Obj, **kw: Any) -> Obj:
        if str(Ref.of(obj)) in custom_refs and not first_try:
            first_try.append(now[0])
        return real_apply(obj, **kw)

    cluster.apply = apply  # type: ignore[method-assign]
    with pytest.raises(ClusterError, match="did not answer within 30s"):
        deploy(
            cluster,
            phases,
            NS,
            opts(timeout=30.0, interval=1.0, concurrency=1, sleep=sleep, clock=lambda: now[0]),
        )
    waited = now[0] - first_try[0]
    assert 30.0 <= waited < 31.0, f"waited {waited:g}s of simulated time for a 30s timeout"
    tried = {ref for verb, ref in cluster.calls if verb == "apply"} & custom_refs
    largest = max(custom, key=lambda o: len(jsonio.canonical(o)))
    assert tried == {str(Ref.of(largest))}, tried


def _cert_manager(
    cluster: FakeCluster, name: str = "cert-manager", labels: dict[str, str] | None = None
) -> None:
    cluster.objects[("apps", "Deployment", "cert-manager", name)] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "cert-manager",
            "labels": labels or {},
            "resourceVersion": "1",
        },
    }


def _certificate_secrets(phases: dict[str, list[Obj]]) -> list[Ref]:
    return [
        Ref("v1", "Secret", o["spec"]["secretName"], o["metadata"]["namespace"])
        for o in phases["certificates"]
        if o["kind"] == "Certificate"
    ]


def test_controllers_wait_for_the_certificate_secrets_cert_manager_issues(
    phases: dict[str, list[Obj]],
) -> None:
    cluster = FakeCluster(issue_after=3)
    _cert_manager(cluster, "cm-release-controller", CERT_MANAGER_CONTROLLER_LABELS)
    secrets = _certificate_secrets(phases)
    assert secrets
    deploy(cluster, phases, NS, opts())
    calls = list(cluster.calls)
    assert all(cluster.get(s) for s in secrets), "issued by the fake cert-manager"
    secret_names = {str(s) for s in secrets}
    workloads = {str(Ref.of(o)) for o in phases["workloads"]}
    first_workload = next(i for i, (verb, ref) in enumerate(calls) if verb == "apply" and ref in workloads)
    last_secret_read = max(i for i, (verb, ref) in enumerate(calls) if verb == "get" and ref in secret_names)
    assert last_secret_read < first_workload, "the controllers come after their certificate is issued"


def test_a_certificate_never_issued_is_named_before_any_controller_is_applied(
    phases: dict[str, list[Obj]],
) -> None:
    cluster = FakeCluster(issue_after=10**9)
    _cert_manager(cluster)
    cert = next(o for o in phases["certificates"] if o["kind"] == "Certificate")
    with pytest.raises(
        WaitTimeoutError,
        match=(
            rf"waiting for Secret {NS}/{cert['spec']['secretName']} of Certificate "
            rf"{NS}/{cert['metadata']['name']}: cert-manager \(cert-manager/cert-manager\) has not issued it"
        ),
    ):
        deploy(cluster, phases, NS, simulated(timeout=2.0))
    workloads = {str(Ref.of(o)) for o in phases["workloads"]}
    assert not [ref for verb, ref in cluster.calls if verb == "apply" and ref in workloads]


def test_without_cert_manager_deploy_says_it_does_not_wait(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    lines: list[str] = []
    deploy(cluster, phases, NS, opts(), LineProgress(lines.append))
    assert any(
        line.startswith("cert-manager's controller is not on this cluster: not waiting") for line in lines
    )
    secrets = {str(s) for s in _certificate_secrets(phases)}
    assert not [ref for verb, ref in cluster.calls if verb == "get" and ref in secrets]


def test_prune_removes_what_the_new_render_dropped(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    dropped = phases["custom-resources"][0]
    smaller = {p: [o for o in objs if o is not dropped] for p, objs in phases.items()}
    changes = deploy(cluster, smaller, NS, opts())
    assert changes.pruned == [str(Ref.of(dropped))]
    assert cluster.get(Ref.of(dropped)) is None
    inv = read_inventory(cluster, NS)
    assert inv is not None and Ref.of(dropped) not in inv.refs


def test_prune_set_is_reverse_apply_order() -> None:
    a, b, c = (
        Ref("v1", "Namespace", "x"),
        Ref("v1", "ConfigMap", "c", "x"),
        Ref("apps/v1", "Deployment", "d", "x"),
    )
    assert prune_set([a, b, c], [b]) == [c, a]


def test_dry_run_changes_nothing(phases: dict[str, list[Obj]]) -> None:
    """A dry run asks the server about every object (server-side dry run), reports what it
    would do, and leaves every object, its resourceVersion and the inventory as they were."""
    import copy

    cluster = FakeCluster()
    deploy(cluster, {"crds": phases["crds"]}, NS, opts())
    before = copy.deepcopy(dict(cluster.objects))
    rv = cluster.rv
    cluster.calls.clear()
    rest = {p: v for p, v in phases.items() if p != "custom-resources"}
    changes = deploy(cluster, rest, NS, opts(dry_run=True))
    assert dict(cluster.objects) == before and cluster.rv == rv
    sent = {ref for verb, ref in cluster.calls if verb == "dry-run"}
    wanted = {str(Ref.of(o)) for p, objs in rest.items() if p != "crds" for o in objs}
    assert wanted <= sent, "every object went to the server as a dry run"
    assert not [c for c in cluster.calls if c[0] in ("apply", "delete", "update", "patch-status")]
    assert sorted(changes.created) == sorted(wanted)


def test_conflicts_name_the_object_and_force_takes_ownership(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    (cm,) = [
        o
        for o in phases["namespaced"]
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "inferenceservice-config"
    ]
    edited = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": cm["metadata"]["name"], "namespace": NS},
        "data": {"deploy": '{"defaultDeploymentMode": "Serverless"}'},
    }
    cluster.apply(edited, manager="kubectl-edit", force=True)
    with pytest.raises(ConflictError, match="ConfigMap/kserve/inferenceservice-config"):
        deploy(cluster, phases, NS, opts())
    deploy(cluster, phases, NS, opts(force_conflicts=True))
    assert cluster.get(Ref.of(cm))["data"]["deploy"] == cm["data"]["deploy"]  # type: ignore[index]


def test_injected_ca_bundle_survives_redeploy_and_diff_is_empty(phases: dict[str, list[Obj]]) -> None:
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
    again = deploy(cluster, phases, NS, opts())
    live = cluster.get(Ref.of(hook))
    assert live is not None and all(w["clientConfig"].get("caBundle") == "LS0tQ0E=" for w in live["webhooks"])
    assert again.changed == 0
    assert diff(cluster, phases, NS, NS) == []


def test_diff_reports_changes_creations_and_prunes(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    assert {d.action for d in diff(cluster, {"crds": phases["crds"]}, NS, NS)} == {"create"}
    deploy(cluster, phases, NS, opts())
    changed = {p: list(v) for p, v in phases.items()}
    cm_index = next(i for i, o in enumerate(changed["namespaced"]) if o["kind"] == "ConfigMap")
    cm = changed["namespaced"][cm_index]
    changed["namespaced"][cm_index] = {
        **cm,
        "data": {**cm["data"], "deploy": '{"defaultDeploymentMode": "Serverless"}'},
    }
    dropped = changed["custom-resources"].pop()
    result = {(d.action, d.ref): d.fields for d in diff(cluster, changed, NS, NS)}
    assert result[("change", str(Ref.of(cm)))] == ["data.deploy"]
    assert ("prune", str(Ref.of(dropped))) in result
    assert len(result) == 2


def test_undeploy_refuses_while_inference_services_exist(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    cluster.apply(isvc(), manager="user")
    with pytest.raises(UserDataError, match="InferenceService/models/sklearn-iris"):
        undeploy(cluster, NS)
    assert cluster.get(Ref("apps/v1", "Deployment", "kserve-controller-manager", NS)) is not None, (
        "nothing deleted"
    )
    deleted = undeploy(cluster, NS, force=True)
    assert deleted[-1].startswith("CustomResourceDefinition/"), deleted[-3:]
    crd_positions = [i for i, d in enumerate(deleted) if d.startswith("CustomResourceDefinition/")]
    other_positions = [
        i for i, d in enumerate(deleted) if not d.startswith(("CustomResourceDefinition/", "Namespace/"))
    ]
    assert crd_positions and other_positions
    assert min(crd_positions) > max(other_positions), "CRDs are deleted last"
    assert cluster.get(Ref("serving.kserve.io/v1beta1", "InferenceService", "sklearn-iris", "models")) is None
    assert read_inventory(cluster, NS) is None
    assert undeploy(cluster, NS) == [], "a second undeploy is fine"


def test_undeploy_treats_missing_objects_as_deleted(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    gone = phases["workloads"][0]
    assert cluster.delete(Ref.of(gone))
    deleted = undeploy(cluster, NS)
    assert str(Ref.of(gone)) not in deleted
    assert [k for k in cluster.objects if k[1] != "Namespace"] == []


def test_undeploy_keeps_a_namespace_it_did_not_create(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    cluster.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"team": "ml"}}},
        manager="admin",
    )
    deploy(cluster, phases, NS, opts())
    labelled = cluster.get(Ref("v1", "Namespace", NS))
    assert (
        labelled is not None
        and labelled["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kserve-installer"
    )
    undeploy(cluster, NS)
    kept = cluster.get(Ref("v1", "Namespace", NS))
    assert kept is not None
    assert kept["metadata"]["labels"] == {"team": "ml"}, "our labels are taken back, the owner's stay"


# ------------------------------------------------------------------ ModelMesh


@pytest.fixture(scope="module")
def mm_phases(lock: Lock, upstream: Path, session_env: Path) -> dict[str, list[Obj]]:
    p = params.resolve(
        lock,
        ParameterOptions(set_args=["modelmesh.userNamespaces=team-a"], version="v0.15.2", mode="ModelMesh"),
    )
    return render(p, lock, FetchSettings(mirror=str(upstream))).phases


def _namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def test_user_namespace_must_exist_and_nothing_is_applied_otherwise(mm_phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    with pytest.raises(
        ClusterError, match="Namespace/team-a does not exist and the installer does not create it"
    ):
        deploy(cluster, mm_phases, NS, opts(mode="ModelMesh"))
    assert not [c for c in cluster.calls if c[0] == "apply"]


def test_user_namespaces_get_only_the_label_and_keep_existing(mm_phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    cluster.apply(_namespace("team-a", {"owner": "team-a"}), manager="kubectl")
    deploy(cluster, mm_phases, NS, opts(mode="ModelMesh"))
    team = cluster.get(Ref("v1", "Namespace", "team-a"))
    assert team is not None
    assert team["metadata"]["labels"] == {"owner": "team-a", "modelmesh-enabled": "true"}
    inv = read_inventory(cluster, NS)
    assert inv is not None
    assert Ref("v1", "Namespace", "team-a") in inv.labels_only
    assert "team-a" not in {r.name for r in inv.refs if r.kind == "Namespace"}
    assert set(inv.created_namespaces) == {"kserve", "modelmesh-serving"}
    assert deploy(cluster, mm_phases, NS, opts(mode="ModelMesh")).changed == 0

    # A Predictor is user data: undeploy refuses while one exists.
    predictor = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "Predictor",
        "metadata": {"name": "example-mnist", "namespace": "team-a"},
        "spec": {"modelType": {"name": "onnx"}, "path": "onnx/mnist.onnx"},
    }
    cluster.apply(predictor, manager="kubectl")
    with pytest.raises(UserDataError, match="Predictor/team-a/example-mnist"):
        undeploy(cluster, NS)
    cluster.delete(Ref.of(predictor))
    undeploy(cluster, NS)
    team = cluster.get(Ref("v1", "Namespace", "team-a"))
    assert team is not None, "a user namespace is never deleted"
    assert team["metadata"]["labels"] == {"owner": "team-a"}
    assert cluster.get(Ref("v1", "Namespace", "modelmesh-serving")) is None
    assert cluster.get(Ref("apps/v1", "Deployment", "modelmesh-controller", "modelmesh-serving")) is None


def test_dropping_a_user_namespace_removes_only_its_label(
    mm_phases: dict[str, list[Obj]], lock: Lock, upstream: Path, session_env: Path
) -> None:
    cluster = FakeCluster()
    cluster.apply(_namespace("team-a"), manager="kubectl")
    deploy(cluster, mm_phases, NS, opts(mode="ModelMesh"))
    p = params.resolve(lock, ParameterOptions(version="v0.15.2", mode="ModelMesh"))
    fewer = render(p, lock, FetchSettings(mirror=str(upstream))).phases
    changes = deploy(cluster, fewer, NS, opts(mode="ModelMesh"))
    assert [c for c in changes.pruned if "team-a" in c] == [f"{Ref('v1', 'Namespace', 'team-a')} (labels)"]
    team = cluster.get(Ref("v1", "Namespace", "team-a"))
    assert team is not None and "modelmesh-enabled" not in (team["metadata"].get("labels") or {})


# ------------------------------------------------------------------ progress and status


def test_progress_lines_follow_the_phases_and_quiet_says_nothing(
    phases: dict[str, list[Obj]], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from installer.cluster.progress import LineProgress, QuietProgress, for_terminal

    lines: list[str] = []
    deploy(FakeCluster(), phases, NS, opts(), LineProgress(lines.append))
    started = [line.split(":", 1)[0] for line in lines if ": applying " in line]
    assert started == [p for p in PHASES if phases.get(p)]
    assert f"crds: applying {len(phases['crds'])} objects" in lines
    assert any(line.startswith("waiting for") and "CRDs to be Established" in line for line in lines)
    capsys.readouterr()
    quiet = for_terminal(quiet=True)
    assert isinstance(quiet, QuietProgress)
    with caplog.at_level("DEBUG"):
        changes = deploy(FakeCluster(), phases, NS, opts(), quiet)
    assert changes.changed == sum(len(v) for v in phases.values()), "quiet, not idle"
    out, err = capsys.readouterr()
    assert (out, err) == ("", ""), "--quiet prints nothing"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("installer")] == []


def test_rich_progress_on_a_terminal(phases: dict[str, list[Obj]]) -> None:
    import io

    from installer.cluster.progress import RichProgress, for_terminal

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    progress = for_terminal(stream=out)
    assert isinstance(progress, RichProgress)
    with progress:
        deploy(FakeCluster(), phases, NS, opts(), progress)
    shown = out.getvalue()
    for phase in (p for p in PHASES if phases.get(p)):
        assert phase in shown
    assert f"{len(phases['workloads'])}/{len(phases['workloads'])}" in shown


def test_status_reports_inventory_and_readiness(phases: dict[str, list[Obj]]) -> None:
    from installer.cluster.status import status

    cluster = FakeCluster()
    assert not status(cluster, NS).installed
    deploy(cluster, phases, NS, opts())
    st = status(cluster, NS)
    assert st.installed and st.version == "v0.15.2" and st.mode == "RawDeployment"
    assert sum(st.objects.values()) == sum(len(v) for v in phases.values())
    assert st.missing == []
    assert st.workloads and not any(w.ready for w in st.workloads)  # nothing runs them here
    assert st.webhooks and not st.ready
    # Make everything ready the way a cluster would: available replicas, endpoints, injected CA.
    for obj in list(cluster.objects.values()):
        if obj["kind"] == "Deployment":
            obj["status"] = {"availableReplicas": 1, "updatedReplicas": 1, "observedGeneration": 1}
            obj["metadata"]["generation"] = 1
        if obj["kind"] == "DaemonSet":
            obj["status"] = {
                "desiredNumberScheduled": 1,
                "numberReady": 1,
                "updatedNumberScheduled": 1,
                "observedGeneration": 1,
            }
        if obj["kind"] in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for hook in obj["webhooks"]:
                hook["clientConfig"]["caBundle"] = "LS0tCg=="
                svc = hook["clientConfig"]["service"]
                cluster.objects[("", "Endpoints", svc["namespace"], svc["name"])] = {
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {"name": svc["name"], "namespace": svc["namespace"]},
                    "subsets": [{"addresses": [{"ip": "10.0.0.5"}]}],
                }
    ready = status(cluster, NS)
    assert ready.ready, ready.lines()
    assert ready.to_dict()["ready"] is True
    cluster.delete(Ref("v1", "ConfigMap", "inferenceservice-config", NS))
    assert status(cluster, NS).missing == [str(Ref("v1", "ConfigMap", "inferenceservice-config", NS))]


def test_status_after_a_failed_deploy_says_so_and_counts_what_it_does_not_list(
    phases: dict[str, list[Obj]],
) -> None:
    from installer.cluster.status import SHOWN_MISSING, status

    cluster = FakeCluster(webhook_failures=10**9)
    with pytest.raises(ClusterError):
        deploy(cluster, phases, NS, simulated(timeout=2.0))
    report = status(cluster, NS)
    missing = len(report.missing)
    assert missing == len(phases["custom-resources"]) > SHOWN_MISSING
    lines = report.lines()
    assert "parameters digest none: the last deploy did not finish (deploy again)" in lines
    assert sum(line.startswith("  missing ") for line in lines) == SHOWN_MISSING
    assert f"  and {missing - SHOWN_MISSING} more missing (-o json lists them all)" in lines
    assert len(report.to_dict()["missing"]) == missing


def test_creates_are_answered_with_metadata_only_and_changes_in_full(phases: dict[str, list[Obj]]) -> None:
    """A create's answer is read for its resourceVersion only: asked for as metadata, it spares
    the server encoding KServe's 0.8 MB CRDs while it establishes them. A change is answered in
    full: what it changed is read from it."""
    cluster = FakeCluster(establish_after=3)
    deploy(cluster, phases, NS, opts())
    everything = {str(Ref.of(o)) for p in phases.values() for o in p}
    assert set(cluster.metadata_answers) == everything
    assert cluster.pending == {}, "the CRD wait works from metadata-only answers"
    key = ("", "ConfigMap", NS, "inferenceservice-config")
    assert read_inventory(cluster, NS) is not None
    cluster.metadata_answers.clear()
    changed = copy.deepcopy(phases)
    configmap = next(
        o for o in changed["namespaced"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == key[3]
    )
    configmap["data"]["deploy"] = '{"defaultDeploymentMode": "Serverless"}'
    changes = deploy(cluster, changed, NS, opts())
    assert changes.configured == [str(Ref.of(configmap))]
    assert cluster.metadata_answers == []
    assert "Serverless" in cluster.objects[key]["data"]["deploy"]


def test_identical_redeploy_sends_nothing_and_drift_is_repaired(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    deploy(cluster, phases, NS, opts())  # the CRDs' status changed after the first: recorded now
    cluster.calls.clear()
    changes = deploy(cluster, phases, NS, opts())
    assert changes.changed == 0
    applies = [ref for verb, ref in cluster.calls if verb == "apply" and INVENTORY not in ref]
    assert applies == [], "nothing changed since the last deploy: nothing is sent"
    gets = [ref for verb, ref in cluster.calls if verb == "get" and INVENTORY not in ref]
    assert len(gets) <= 3, gets  # the namespaces' existence, nothing per object
    # Someone edits a field we set: the next deploy sees the new resourceVersion and repairs it.
    key = ("", "ConfigMap", NS, "inferenceservice-config")
    cluster.objects[key]["data"]["deploy"] = '{"defaultDeploymentMode": "Serverless"}'
    cluster.objects[key]["metadata"]["resourceVersion"] = "edited"
    repaired = deploy(cluster, phases, NS, opts())
    assert repaired.configured == [str(Ref("v1", "ConfigMap", "inferenceservice-config", NS))]
    assert "RawDeployment" in cluster.objects[key]["data"]["deploy"]


# ------------------------------------------------------------------ model namespaces


def test_model_namespaces_created_kept_and_never_created(
    lock: Lock, upstream: Path, session_env: Path
) -> None:
    values = session_env / "model-namespaces.yaml"
    values.write_text("modelNamespaces:\n- fresh\n- existing\n- name: theirs\n  create: false\n")
    p = params.resolve(lock, ParameterOptions(values_files=[values], version="v0.15.2"))
    mn_phases = render(p, lock, FetchSettings(mirror=str(upstream))).phases
    cluster = FakeCluster()
    with pytest.raises(ClusterError, match="Namespace/theirs does not exist"):
        deploy(cluster, mn_phases, NS, opts())
    assert not [c for c in cluster.calls if c[0] == "apply"], "nothing half applied"
    cluster.apply(_namespace("theirs", {"team": "t"}), manager="kubectl")
    cluster.apply(_namespace("existing"), manager="kubectl")
    deploy(cluster, mn_phases, NS, opts())
    inv = read_inventory(cluster, NS)
    assert inv is not None and set(inv.created_namespaces) == {"kserve", "fresh"}
    theirs = cluster.get(Ref("v1", "Namespace", "theirs"))
    assert theirs is not None and theirs["metadata"]["labels"] == {"team": "t"}, "not even labelled"
    assert cluster.get(Ref("v1", "ServiceAccount", "kserve-s3", "theirs")) is not None
    undeploy(cluster, NS)
    assert cluster.get(Ref("v1", "Namespace", "fresh")) is None
    for kept in ("existing", "theirs"):
        assert cluster.get(Ref("v1", "Namespace", kept)) is not None, kept
        assert cluster.get(Ref("v1", "ServiceAccount", "kserve-s3", kept)) is None


@pytest.mark.parametrize(
    ("global_quiet", "command_quiet", "silent"),
    [(False, False, False), (True, False, True), (False, True, True), (True, True, True)],
)
def test_global_and_command_quiet_both_silence_progress(
    global_quiet: bool, command_quiet: bool, silent: bool
) -> None:
    """`installer -q deploy` and `installer deploy -q` mean the same thing to a user."""
    from installer import cli
    from installer.cli_options import quiet_progress
    from installer.cluster.progress import QuietProgress, for_terminal

    cli._setup_logging(global_quiet, False)
    try:
        progress = for_terminal(quiet_progress(command_quiet))
        assert isinstance(progress, QuietProgress) is silent
    finally:
        cli._setup_logging(False, False)


# ------------------------------------------------------------------ upgrades and downgrades


@pytest.fixture(scope="module")
def versions(lock: Lock, upstream: Path, session_env: Path) -> dict[str, dict[str, list[Obj]]]:
    """The rendered phases of the locked versions the upgrade tests move between."""
    out = {}
    for version in ("v0.16.0", "v0.18.1", "v0.20.0"):
        p = params.resolve(lock, ParameterOptions(version=version))
        out[version] = render(p, lock, FetchSettings(mirror=str(upstream))).phases
    return out


def _find(phases: dict[str, list[Obj]], kind: str, name: str) -> Obj:
    return next(
        o for objs in phases.values() for o in objs if o["kind"] == kind and o["metadata"]["name"] == name
    )


def _with(phases: dict[str, list[Obj]], changed: Obj) -> dict[str, list[Obj]]:
    """``phases`` with the object of ``changed``'s identity replaced by it."""
    key = Ref.of(changed).key
    return {p: [changed if Ref.of(o).key == key else o for o in objs] for p, objs in phases.items()}


def test_an_immutable_change_replaces_the_object_and_says_so(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    binding = next(o for o in phases["cluster"] if o["kind"] == "ClusterRoleBinding")
    moved = {**binding, "roleRef": {**binding["roleRef"], "name": "kserve-other-role"}}
    changed = _with(phases, moved)
    # dry run and diff say "replace" and change nothing
    before = cluster.get(Ref.of(binding))
    planned = deploy(cluster, changed, NS, opts(dry_run=True))
    assert planned.replaced == [str(Ref.of(binding))] and cluster.get(Ref.of(binding)) == before
    assert [(d.action, d.fields) for d in diff(cluster, changed, NS, NS)] == [("replace", ["roleRef"])]
    lines: list[str] = []
    cluster.calls.clear()
    changes = deploy(cluster, changed, NS, opts(), LineProgress(lines.append))
    assert changes.replaced == [str(Ref.of(binding))] and "1 replaced" in changes.summary()
    assert f"replacing {Ref.of(binding)}: roleRef cannot change in place" in lines
    live = cluster.get(Ref.of(binding))
    assert live is not None and live["roleRef"]["name"] == "kserve-other-role"
    verbs = [verb for verb, ref in cluster.calls if ref == str(Ref.of(binding)) and verb != "get"]
    assert verbs == ["apply", "delete", "apply"], "refused, deleted, created"
    assert deploy(cluster, changed, NS, opts()).changed == 0


def test_a_deployment_selector_change_replaces_it(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    workload = phases["workloads"][0]
    labels = {"control-plane": "renamed"}
    spec = workload["spec"]
    moved = {
        **workload,
        "spec": {
            **spec,
            "selector": {"matchLabels": labels},
            "template": {**spec["template"], "metadata": {**spec["template"]["metadata"], "labels": labels}},
        },
    }
    changes = deploy(cluster, _with(phases, moved), NS, opts())
    assert changes.replaced == [str(Ref.of(workload))]
    assert cluster.get(Ref.of(workload))["spec"]["selector"]["matchLabels"] == labels  # type: ignore[index]


def test_a_crd_is_never_replaced(phases: dict[str, list[Obj]]) -> None:
    """A scope change is refused before anything is applied; forced, the server refuses it and
    the CRD (and every object of it) stays."""
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    crd = next(
        o
        for o in phases["crds"]
        if o["kind"] == "CustomResourceDefinition" and o["spec"]["scope"] == "Namespaced"
    )
    flipped = _with(phases, {**crd, "spec": {**crd["spec"], "scope": "Cluster"}})
    cluster.calls.clear()
    with pytest.raises(
        ClusterError,
        match=rf"CRD {crd['metadata']['name']}: its scope would change from Namespaced to Cluster",
    ):
        deploy(cluster, flipped, NS, opts())
    assert not [c for c in cluster.calls if c[0] in ("apply", "delete")], "nothing applied"
    with pytest.raises(ClusterError, match="is never deleted to be replaced"):
        deploy(cluster, flipped, NS, opts(force_crd_upgrade=True))
    assert ("delete", str(Ref.of(crd))) not in cluster.calls
    assert cluster.get(Ref.of(crd))["spec"]["scope"] == "Namespaced"  # type: ignore[index]


def _llm_config(name: str, version: str = "v1alpha1") -> Obj:
    return {
        "apiVersion": f"serving.kserve.io/{version}",
        "kind": "LLMInferenceServiceConfig",
        "metadata": {"name": name, "namespace": NS},
        "spec": {},
    }


CONFIGS_CRD = Ref(
    "apiextensions.k8s.io/v1", "CustomResourceDefinition", "llminferenceserviceconfigs.serving.kserve.io"
)


def test_upgrade_across_a_conversion_webhook_needs_no_webhook(
    versions: dict[str, dict[str, list[Obj]]],
) -> None:
    """v0.16 -> v0.18: the LLM configs' storage moves v1alpha1 -> v1alpha2 under the llmisvc
    conversion webhook, which no pod serves during the upgrade. Ours are created again in
    v1alpha2 (deleted before the CRD changes), the binding whose roleRef changed is replaced,
    and the configs come after the controller and the webhooks that serve them."""
    cluster = FakeCluster(conversion_failures=10**9)
    deploy(cluster, versions["v0.16.0"], NS, opts(version="v0.16.0"))
    ours = {
        str(Ref.of(o))
        for o in versions["v0.16.0"]["custom-resources"]
        if o["kind"] == "LLMInferenceServiceConfig"
    }
    assert ours
    cluster.calls.clear()
    lines: list[str] = []
    changes = deploy(cluster, versions["v0.18.1"], NS, opts(version="v0.18.1"), LineProgress(lines.append))
    binding = str(Ref("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "llmisvc-manager-rolebinding"))
    assert sorted(changes.replaced) == sorted({binding} | ours)
    assert any(
        line.startswith(
            "CRD llminferenceserviceconfigs.serving.kserve.io: storage moves from v1alpha1 to v1alpha2; re-creating 8 objects of ours"
        )
        for line in lines
    )
    deleted = [i for i, (verb, ref) in enumerate(cluster.calls) if verb == "delete" and ref in ours]
    crd_applied = cluster.calls.index(("apply", str(CONFIGS_CRD)))
    assert deleted and max(deleted) < crd_applied, "ours go before the CRD moves its storage"
    first_config = min(i for i, (verb, ref) in enumerate(cluster.calls) if verb == "apply" and ref in ours)
    served_by = [
        str(Ref("apps/v1", "Deployment", "llmisvc-controller-manager", NS)),
        str(Ref("v1", "Service", "llmisvc-webhook-server-service", NS)),
        *(str(Ref.of(o)) for o in versions["v0.18.1"]["webhooks"]),
    ]
    for ref in served_by:
        assert cluster.calls.index(("apply", ref)) < first_config, f"{ref} before the objects it converts"
    crd = cluster.get(CONFIGS_CRD)
    assert crd is not None and crd["status"]["storedVersions"] == ["v1alpha1", "v1alpha2"]
    assert deploy(cluster, versions["v0.18.1"], NS, opts(version="v0.18.1")).changed == 0


def test_objects_that_need_converting_wait_for_the_conversion_webhook(
    versions: dict[str, dict[str, list[Obj]]],
) -> None:
    """An object of ours still stored in the old version (its CRD upgraded by someone else) is
    applied once the conversion webhook answers, retried until then; one line names it when it
    never does."""

    def stranded(failures: int) -> FakeCluster:
        cluster = FakeCluster(conversion_failures=failures)
        deploy(cluster, versions["v0.16.0"], NS, opts(version="v0.16.0"))
        new_crd = next(o for o in versions["v0.18.1"]["crds"] if Ref.of(o).key == CONFIGS_CRD.key)
        cluster.apply(new_crd, manager="someone-else", force=True)  # storage is v1alpha2 now
        return cluster

    cluster = stranded(failures=3)
    deploy(cluster, versions["v0.18.1"], NS, opts(version="v0.18.1"))
    assert cluster.conversion_failures == 0, "it was retried until the webhook answered"
    with pytest.raises(
        ClusterError,
        match=r"apply LLMInferenceServiceConfig/kserve/\S+: conversion webhook of CRD "
        r"llminferenceserviceconfigs.serving.kserve.io \(service kserve/llmisvc-webhook-server-service\) "
        r"did not answer within 2s",
    ):
        deploy(stranded(failures=10**9), versions["v0.18.1"], NS, simulated(version="v0.18.1", timeout=2.0))


def test_downgrade_drops_a_stored_version_only_when_nothing_but_ours_is_stored(
    versions: dict[str, dict[str, list[Obj]]],
) -> None:
    """v0.20 -> v0.16: v0.16's LLM CRDs lack v1alpha2, which storedVersions lists. With only
    our objects, the storage moves back and storedVersions is trimmed; with a user's object the
    downgrade is refused before anything is applied, unless --force-crd-upgrade, which rewrites
    it in the remaining version."""
    cluster = FakeCluster()
    deploy(cluster, versions["v0.20.0"], NS, opts(version="v0.20.0"))
    user = _llm_config("users-own", "v1alpha2")
    cluster.apply(user, manager="user")
    cluster.calls.clear()
    with pytest.raises(
        ClusterError,
        match=r"refusing to upgrade: CRD llminferenceserviceconfigs.serving.kserve.io: this version drops "
        r"v1alpha2, which status.storedVersions still lists, and 1 objects the installer did not apply may be "
        r"stored in it \(LLMInferenceServiceConfig/kserve/users-own\).* nothing was applied \(--force-crd-upgrade overrides\)",
    ):
        deploy(cluster, versions["v0.16.0"], NS, opts(version="v0.16.0"))
    assert not [c for c in cluster.calls if c[0] in ("apply", "delete", "update", "patch-status")]
    with pytest.raises(ClusterError, match="refusing to upgrade"):
        diff(cluster, versions["v0.16.0"], NS, NS)

    forced = deploy(cluster, versions["v0.16.0"], NS, opts(version="v0.16.0", force_crd_upgrade=True))
    assert ("update", str(Ref.of(user))) in cluster.calls, "the user's object rewritten, not deleted"
    kept = cluster.get(Ref("serving.kserve.io/v1alpha1", "LLMInferenceServiceConfig", "users-own", NS))
    assert kept is not None and cluster.stored_at[Ref.of(user).key] == "v1alpha1"
    crd = cluster.get(CONFIGS_CRD)
    assert crd is not None and crd["status"]["storedVersions"] == ["v1alpha1"]
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1alpha1"]
    binding = str(Ref("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "llmisvc-manager-rolebinding"))
    configs = {
        str(Ref.of(o))
        for o in versions["v0.16.0"]["custom-resources"]
        if o["kind"] == "LLMInferenceServiceConfig"
    }
    assert sorted(forced.replaced) == sorted({binding} | configs), "the roleRef changes back; ours re-created"

    clean = FakeCluster()
    deploy(clean, versions["v0.20.0"], NS, opts(version="v0.20.0"))
    down = deploy(clean, versions["v0.16.0"], NS, opts(version="v0.16.0"))
    assert (clean.get(CONFIGS_CRD) or {})["status"]["storedVersions"] == ["v1alpha1"]
    configs = {
        str(Ref.of(o))
        for o in versions["v0.16.0"]["custom-resources"]
        if o["kind"] == "LLMInferenceServiceConfig"
    }
    assert sorted(down.replaced) == sorted({binding} | configs)
    newer = {
        str(Ref.of(o))
        for o in versions["v0.20.0"]["custom-resources"]
        if o["kind"] == "LLMInferenceServiceConfig"
    }
    assert newer - configs and newer - configs <= set(down.pruned), "v0.20's extra configs count as pruned"
    assert diff(clean, versions["v0.16.0"], NS, NS) == []


def test_a_failing_deployment_ends_the_wait_at_once(phases: dict[str, list[Obj]]) -> None:
    """kube-controller-manager reports ReplicaFailure when a quota forbids the pods: --wait
    fails with that message at once, not after --timeout."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def quota_forbids_pods(obj: Obj) -> None:
        if obj["kind"] == "Deployment":
            obj["status"] = {
                "conditions": [
                    {
                        "type": "ReplicaFailure",
                        "status": "True",
                        "reason": "FailedCreate",
                        "message": 'pods "x" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0',
                    }
                ]
            }

    cluster = FakeCluster(establish_after=0)  # no simulated time spent on CRDs
    cluster.controllers.append(quota_forbids_pods)
    with pytest.raises(
        ClusterError,
        match=r"waiting for \d+ workloads to be ready: Deployment/kserve/\S+: ReplicaFailure \(FailedCreate\): pods \"x\" is forbidden: exceeded quota",
    ):
        deploy(
            cluster,
            phases,
            NS,
            opts(wait=True, timeout=300.0, interval=1.0, sleep=sleep, clock=lambda: now[0]),
        )
    assert now[0] < 1.0, f"waited {now[0]:g}s of a 300s timeout"


def test_a_crash_looping_pod_fails_the_wait_with_its_reason(phases: dict[str, list[Obj]]) -> None:
    from installer.cluster.readiness import deployment

    pod = {
        "metadata": {
            "name": "kserve-controller-manager-abc",
            "labels": {"control-plane": "kserve-controller-manager"},
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "manager",
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
                }
            ]
        },
    }
    state = deployment({"metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {}}, [pod])
    assert state.failing
    assert (
        state.message
        == "pod kserve-controller-manager-abc: container manager: CrashLoopBackOff: back-off 5m0s"
    )


def test_undeploy_waits_until_deleted_objects_are_gone(phases: dict[str, list[Obj]]) -> None:
    from installer.cluster.undeploy import UndeployWait
    from installer.cluster.waits import Clock

    cluster = FakeCluster(finalize_after=3)
    deploy(cluster, phases, NS, opts())
    lines: list[str] = []
    undeploy(
        cluster,
        NS,
        progress=LineProgress(lines.append),
        wait=UndeployWait(True, Clock(300, 0, lambda s: None)),
    )
    assert any(line.startswith("waiting up to 300s for ") and "Namespace/kserve" in line for line in lines), (
        lines
    )
    assert dict(cluster.objects) == {}, "every CRD and the namespace finalized before undeploy returned"
    assert deploy(cluster, phases, NS, opts()).created, "a deploy right after works"


def test_undeploy_timeout_names_what_is_still_terminating(phases: dict[str, list[Obj]]) -> None:
    from installer.cluster.undeploy import UndeployWait
    from installer.cluster.waits import Clock

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    cluster = FakeCluster(finalize_after=10**9)
    deploy(cluster, phases, NS, opts())
    with pytest.raises(
        ClusterError,
        match=r"timed out after 30s waiting for deleted objects to be finalized; still terminating: Namespace/kserve, CustomResourceDefinition/",
    ):
        undeploy(cluster, NS, wait=UndeployWait(True, Clock(30, 1.0, sleep, lambda: now[0])))
    # --no-wait returns at once; a deploy into the terminating namespace says why it cannot.
    cluster = FakeCluster(finalize_after=10**9)
    deploy(cluster, phases, NS, opts())
    undeploy(cluster, NS, wait=UndeployWait(False))
    cluster.calls.clear()
    with pytest.raises(ClusterError, match="Namespace kserve is still being deleted"):
        deploy(cluster, phases, NS, opts())
    assert not [c for c in cluster.calls if c[0] == "apply"], "nothing applied"


def test_status_reports_what_it_cannot_read_and_the_rest(versions: dict[str, dict[str, list[Obj]]]) -> None:
    """After a v0.18 deploy that stopped at objects a conversion webhook must convert (the
    issue's case), status names each of them and why, and reports the rest as usual."""
    from installer.cluster.status import status

    cluster = FakeCluster(conversion_failures=10**9)
    deploy(cluster, versions["v0.16.0"], NS, opts(version="v0.16.0"))
    new_crd = next(o for o in versions["v0.18.1"]["crds"] if Ref.of(o).key == CONFIGS_CRD.key)
    cluster.apply(new_crd, manager="someone-else", force=True)  # ours now need converting
    with pytest.raises(ClusterError, match="conversion webhook of CRD llminferenceserviceconfigs"):
        deploy(cluster, versions["v0.18.1"], NS, simulated(version="v0.18.1", timeout=2.0))
    report = status(cluster, NS)
    assert report.installed and report.version == "v0.18.1" and not report.ready
    unreadable = {u.object: u.reason for u in report.unreadable}
    configs = {
        str(Ref.of(o))
        for o in versions["v0.18.1"]["custom-resources"]
        if o["kind"] == "LLMInferenceServiceConfig"
    }
    stored_before = {
        str(Ref.of(o))
        for o in versions["v0.16.0"]["custom-resources"]
        if o["kind"] == "LLMInferenceServiceConfig"
    }
    assert set(unreadable) == configs & stored_before
    assert all(
        r.startswith(
            "conversion webhook for serving.kserve.io/v1alpha1, Kind=LLMInferenceServiceConfig is not answering"
        )
        for r in unreadable.values()
    )
    assert report.workloads and report.webhooks, "everything else as usual"
    assert report.to_dict()["unreadable"][0]["reason"].startswith("conversion webhook")
    assert any(line.startswith("  cannot read LLMInferenceServiceConfig/kserve/") for line in report.lines())


# ------------------------------------------------------------------ ApplySet inventory


def test_inventory_is_an_applyset(phases: dict[str, list[Obj]]) -> None:
    import base64
    import hashlib

    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    parent = cluster.get(Ref("v1", "ConfigMap", INVENTORY, NS))
    assert parent is not None
    # kubectl: "applyset-" + base64url(sha256("<name>.<namespace>.<kind>.<group>")) + "-v1"
    digest = hashlib.sha256(f"{INVENTORY}.{NS}.ConfigMap.".encode()).digest()
    expected = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == expected
    annotations = parent["metadata"]["annotations"]
    assert annotations["applyset.kubernetes.io/tooling"].startswith("kserve-installer/")
    inv = read_inventory(cluster, NS)
    assert inv is not None
    kinds = {f"{r.key.kind}.{r.key.group}" if r.key.group else r.key.kind for r in inv.refs}
    assert annotations["applyset.kubernetes.io/contains-group-kinds"] == ",".join(sorted(kinds))
    members = {
        str(key)
        for key, o in cluster.objects.items()
        if (o["metadata"].get("labels") or {}).get("applyset.kubernetes.io/part-of") == expected
    }
    assert members == {str(r) for r in inv.refs}


def test_an_inventory_of_the_previous_format_is_migrated(phases: dict[str, list[Obj]]) -> None:
    """What main wrote before ApplySets: a ConfigMap with objects, digests and resourceVersions
    keyed Kind/namespace/name, and members without the part-of label."""
    from installer import jsonio

    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    inv = read_inventory(cluster, NS)
    assert inv is not None
    extra = Ref("v1", "ConfigMap", "left-from-before", NS)
    cluster.apply({**extra.stub(), "data": {"a": "1"}}, manager="kserve-installer")
    old_refs = [*inv.refs, extra]
    for o in cluster.objects.values():
        (o["metadata"].get("labels") or {}).pop("applyset.kubernetes.io/part-of", None)
    # Bodies were digested without the label then.
    old_digests = {str(Ref.of(o).key): "0123456789abcdef" for p in phases.values() for o in p}
    cluster.objects[("", "ConfigMap", NS, INVENTORY)] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": INVENTORY,
            "namespace": NS,
            "resourceVersion": "1",
            "labels": {"installer.kserve.io/instance": NS},
        },
        "data": {
            "objects": jsonio.dumps([r.to_dict() for r in old_refs]).decode(),
            "version": "v0.15.2",
            "mode": "RawDeployment",
            "parametersDigest": "x",
            "createdNamespaces": jsonio.dumps(["kserve"]).decode(),
            "labelsOnly": "[]",
            "digests": jsonio.dumps(old_digests).decode(),
            "resourceVersions": jsonio.dumps({str(k): v for k, v in inv.versions.items()}).decode(),
        },
    }
    old = read_inventory(cluster, NS)
    assert old is not None and old.format == "" and set(old.digests) == set(inv.digests), "old keys matched"
    assert old.versions == inv.versions
    changes = deploy(cluster, phases, NS, opts())
    assert changes.pruned == [str(extra)], "what only the old inventory lists is pruned"
    migrated = read_inventory(cluster, NS)
    assert migrated is not None and migrated.format == "applyset-v1"
    assert {str(r) for r in migrated.refs} == {str(r) for r in inv.refs}
    labelled = [
        o
        for o in cluster.objects.values()
        if "applyset.kubernetes.io/part-of" in (o["metadata"].get("labels") or {})
    ]
    assert len(labelled) == len(inv.refs)
    assert deploy(cluster, phases, NS, opts()).changed == 0


def test_structure_of_the_cluster_side() -> None:
    """Issue 15's limits: no file over 500 lines, no function over 60 lines."""
    import ast

    root = Path(__file__).resolve().parents[1] / "installer" / "cluster"
    for path in sorted(root.glob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) <= 500, f"{path.name}: {len(text.splitlines())} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 60, f"{path.name}:{node.lineno} {node.name}: {length} lines"


def _changed_runtime_crd(phases: dict[str, list[Obj]], crd_too: bool) -> dict[str, list[Obj]]:
    """``phases`` with every ClusterServingRuntime changed, and its CRD too with ``crd_too``."""
    out = copy.deepcopy(phases)
    for o in out["custom-resources"]:
        if o["kind"] == "ClusterServingRuntime":
            o["metadata"].setdefault("annotations", {})["example.com/changed"] = "yes"
    if crd_too:
        for o in out["crds"]:
            if o["metadata"]["name"] == "clusterservingruntimes.serving.kserve.io":
                o["metadata"].setdefault("labels", {})["example.com/changed"] = "yes"
    return out


def test_a_refusal_right_after_the_crd_changed_is_retried(phases: dict[str, list[Obj]]) -> None:
    """The server takes up a changed CRD's schema a moment after the update (seen in a v0.18.1 to
    v0.20.0 upgrade): its custom resources refused as invalid meanwhile are applied again."""
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    cluster.stale_schema["ClusterServingRuntime"] = 3
    lines: list[str] = []
    changes = deploy(
        cluster, _changed_runtime_crd(phases, crd_too=True), NS, opts(), LineProgress(lines.append)
    )
    assert cluster.stale_schema["ClusterServingRuntime"] == 0
    assert "CustomResourceDefinition/clusterservingruntimes.serving.kserve.io" in changes.configured
    assert any("refused as invalid right after its CRD changed" in line for line in lines)


def test_a_refusal_when_the_crd_did_not_change_fails_at_once(phases: dict[str, list[Obj]]) -> None:
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    cluster.stale_schema["ClusterServingRuntime"] = 1
    with pytest.raises(InvalidError, match=r'ClusterServingRuntime.serving.kserve.io "[^"]+" is invalid'):
        deploy(cluster, _changed_runtime_crd(phases, crd_too=False), NS, opts())
    assert cluster.stale_schema["ClusterServingRuntime"] == 0, "tried once, not retried"


def test_a_refusal_that_outlasts_the_settling_time_is_reported(phases: dict[str, list[Obj]]) -> None:
    from installer.cluster.apply import SCHEMA_SETTLE_SECONDS

    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts())
    cluster.stale_schema["ClusterServingRuntime"] = 10**9
    with pytest.raises(InvalidError, match=r"is invalid: spec\.containers\[0\]\.name"):
        deploy(cluster, _changed_runtime_crd(phases, crd_too=True), NS, simulated(timeout=600.0))
    tries = 10**9 - cluster.stale_schema["ClusterServingRuntime"]
    assert 2 < tries < SCHEMA_SETTLE_SECONDS, "retried with back-off, then given up well before --timeout"


def test_objects_in_a_namespace_the_deploy_creates_are_not_read_first(phases: dict[str, list[Obj]]) -> None:
    """Nothing can be in a namespace that did not exist when the deploy began: its objects are
    applied without a read first (a round trip each); in a namespace that existed, they are read."""
    in_ns = {
        str(Ref.of(o))
        for p in PHASES
        for o in phases.get(p) or []
        if (o["metadata"].get("namespace") == NS and "/" not in str(o["apiVersion"]).replace("apps/", ""))
    }
    assert len(in_ns) >= 5
    cluster = FakeCluster()
    changes = deploy(cluster, phases, NS, opts())
    read = {ref for verb, ref in cluster.calls if verb == "get"}
    assert not in_ns & read, sorted(in_ns & read)
    assert in_ns <= set(changes.created)

    cluster = FakeCluster()
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    changes = deploy(cluster, phases, NS, opts())
    read = {ref for verb, ref in cluster.calls if verb == "get"}
    assert in_ns <= read, sorted(in_ns - read)
    assert in_ns <= set(changes.created)


def test_a_phase_starts_its_largest_objects_first(phases: dict[str, list[Obj]]) -> None:
    """One at a time, the CRDs go largest first; what the deploy records keeps the render's order."""
    cluster = FakeCluster()
    deploy(cluster, phases, NS, opts(concurrency=1))
    crds = {str(Ref.of(o)): o for o in phases["crds"]}
    applied = [ref for verb, ref in cluster.calls if verb == "apply" and ref in crds]
    sizes = [len(jsonio.dumps(crds[ref])) for ref in applied]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1], sizes
    assert applied != list(crds), "the render's order is not largest first, or this shows nothing"
    inventory = read_inventory(cluster, NS)
    assert inventory is not None
    recorded = [str(r) for r in inventory.refs if str(r) in crds]
    assert recorded == list(crds)


def _first_custom_resource(phases: dict[str, list[Obj]]) -> str:
    return str(Ref.of(phases["custom-resources"][0]))


def test_a_kind_is_read_as_soon_as_its_crd_is_established(phases: dict[str, list[Obj]]) -> None:
    """The server builds what serves a kind at its first request: the first object of each kind
    the deploy applies is read once its CRD is Established (in the background), then read and
    applied by its phase as any other."""
    first = _first_custom_resource(phases)
    second = str(Ref.of(phases["custom-resources"][1]))
    cluster = FakeCluster(establish_after=0)  # the watch sees each CRD Established
    deploy(cluster, phases, NS, opts())
    deadline = time.monotonic() + 10
    while [c for c in cluster.calls if c == ("get", first)].__len__() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cluster.calls.count(("get", first)) == 2, "read early once, and by its phase"
    assert cluster.calls.count(("get", second)) == 1
    assert cluster.calls.index(("get", first)) < cluster.calls.index(("get", second))


def test_an_early_read_waits_for_discovery_and_gives_up_when_the_deploy_ends() -> None:
    """A kind is in discovery a moment after its CRD is Established: the early read asks until
    it is, and stops asking once the deploy is over."""
    import threading

    from installer.cluster.deploy import DISCOVERY_POLL, _first_read
    from installer.cluster.run import ChangeSet, Run

    cluster = FakeCluster()
    run = Run(cluster, opts(interval=0.01), LineProgress(lambda line: None), ChangeSet(), "id")
    ref = Ref("example.com/v1", "Widget", "w", NS)
    finished = threading.Event()
    reader = threading.Thread(target=_first_read, args=(run, ref, finished))
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive() and ("get", str(ref)) not in cluster.calls
    asked = cluster.calls.count(("discover", "Widget"))
    assert 3 <= asked <= 0.5 / DISCOVERY_POLL + 2, f"discovery asked again and again, paced: {asked}"
    finished.set()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert ("get", str(ref)) not in cluster.calls
