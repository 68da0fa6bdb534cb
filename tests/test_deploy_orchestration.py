"""Deploy, prune, undeploy and diff orchestration on real rendered objects, against a fake API
server (tests/fake_cluster.py). What only a real server decides is tested in test_cluster.py."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from installer import params
from installer.cluster.client import Ref
from installer.cluster.deploy import DeployOptions, deploy
from installer.cluster.diff import diff
from installer.cluster.inventory import INVENTORY, read_inventory
from installer.cluster.prerequisites import CERT_MANAGER_CONTROLLER_LABELS
from installer.cluster.progress import LineProgress
from installer.cluster.prune import prune_set
from installer.cluster.undeploy import undeploy
from installer.errors import ClusterError, ConflictError, UserDataError, WaitTimeoutError
from installer.lock import Lock
from installer.objects import Obj
from installer.phases import PHASES
from installer.render import render
from installer.sources import FetchSettings
from tests.fake_cluster import FakeCluster

NS = "kserve"


@pytest.fixture(scope="module")
def phases(lock: Lock, upstream: Path, session_env: Path) -> dict[str, list[Obj]]:
    p = params.resolve(lock=lock, flags={"kserve.version": ("--version", "v0.15.2")})
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
        match=r"admission webhook clusterservingruntime.kserve-webhook-server.validator did not answer within 0.2s",
    ):
        deploy(cluster, phases, NS, opts(timeout=0.2))
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
    assert tried == {str(Ref.of(custom[0]))}, tried


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
        deploy(cluster, phases, NS, opts(timeout=0.1))
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
    cluster = FakeCluster()
    deploy(cluster, {"crds": phases["crds"]}, NS, opts())
    before = dict(cluster.objects)
    deploy(cluster, {p: v for p, v in phases.items() if p != "custom-resources"}, NS, opts(dry_run=True))
    assert cluster.objects == before


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
    assert (deleted and deleted[-1].startswith("CustomResourceDefinition/")) or any(
        "CustomResourceDefinition" in d for d in deleted
    )
    crd_positions = [i for i, d in enumerate(deleted) if d.startswith("CustomResourceDefinition/")]
    other_positions = [
        i for i, d in enumerate(deleted) if not d.startswith(("CustomResourceDefinition/", "Namespace/"))
    ]
    assert min(crd_positions) > max(other_positions), "CRDs are deleted last"
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
        lock=lock,
        set_args=["modelmesh.userNamespaces=team-a"],
        flags={"kserve.version": ("--version", "v0.15.2"), "kserve.deploymentMode": ("--mode", "ModelMesh")},
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
    p = params.resolve(
        lock=lock,
        flags={"kserve.version": ("--version", "v0.15.2"), "kserve.deploymentMode": ("--mode", "ModelMesh")},
    )
    fewer = render(p, lock, FetchSettings(mirror=str(upstream))).phases
    changes = deploy(cluster, fewer, NS, opts(mode="ModelMesh"))
    assert [c for c in changes.pruned if "team-a" in c] == [f"{Ref('v1', 'Namespace', 'team-a')} (labels)"]
    team = cluster.get(Ref("v1", "Namespace", "team-a"))
    assert team is not None and "modelmesh-enabled" not in (team["metadata"].get("labels") or {})


# ------------------------------------------------------------------ progress and status


def test_progress_lines_follow_the_phases_and_quiet_says_nothing(phases: dict[str, list[Obj]]) -> None:
    from installer.cluster.progress import LineProgress, QuietProgress

    lines: list[str] = []
    deploy(FakeCluster(), phases, NS, opts(), LineProgress(lines.append))
    started = [line.split(":", 1)[0] for line in lines if ": applying " in line]
    assert started == [p for p in PHASES if phases.get(p)]
    assert f"crds: applying {len(phases['crds'])} objects" in lines
    quiet = QuietProgress()
    deploy(FakeCluster(), phases, NS, opts(), quiet)  # nothing to capture: it must simply not fail


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
        deploy(cluster, phases, NS, opts(timeout=0.2))
    report = status(cluster, NS)
    missing = len(report.missing)
    assert missing == len(phases["custom-resources"]) > SHOWN_MISSING
    lines = report.lines()
    assert "parameters digest none: the last deploy did not finish (deploy again)" in lines
    assert sum(line.startswith("  missing ") for line in lines) == SHOWN_MISSING
    assert f"  and {missing - SHOWN_MISSING} more missing (-o json lists them all)" in lines
    assert len(report.to_dict()["missing"]) == missing


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
    p = params.resolve(lock=lock, values_files=[values], flags={"kserve.version": ("--version", "v0.15.2")})
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
    from installer.cluster.progress import QuietProgress, for_terminal

    cli._setup_logging(global_quiet, False)
    try:
        progress = for_terminal(cli._quiet(command_quiet))
        assert isinstance(progress, QuietProgress) is silent
    finally:
        cli._setup_logging(False, False)
