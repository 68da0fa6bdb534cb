"""A busy or broken API server (tests/fake_apiserver.py): throttling is waited out as the server
asks, a response cut off or a server that goes away is one error line naming the call.

The one-line errors of each fault through the CLI are in the bad-input catalogue
(tests/test_bad_inputs.py); an API server that stops in the middle of a deploy on a real server,
and the deploy after it converging, is in tests/test_cluster.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from installer import operations
from installer.cli_options import ClusterOptions
from installer.cluster.client import Ref
from installer.errors import ClusterError
from tests import fake_apiserver
from tests.conftest import run_cli

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "x", "namespace": "kserve"},
    "data": {"a": "b"},
}


def _connect(api: str, tmp_path: Path) -> object:
    return operations.connect(ClusterOptions(kubeconfig=fake_apiserver.kubeconfig(api, tmp_path / "kc")))


def test_a_throttled_apply_waits_for_retry_after_then_succeeds(tmp_path: Path) -> None:
    requests: list[str] = []
    with fake_apiserver.serve("throttle-once", requests) as api:
        cluster = _connect(api, tmp_path)
        start = time.monotonic()
        applied = cluster.apply(CM)  # type: ignore[attr-defined]
        elapsed = time.monotonic() - start
    path = "/api/v1/namespaces/kserve/configmaps/x"
    assert applied["data"] == {"a": "b"}
    assert requests.count(f"PATCH {path}") == 2, requests
    assert elapsed >= 0.9, "the second try waited for the server's Retry-After: 1"


def test_a_throttled_read_waits_then_succeeds_through_the_cli(tmp_path: Path) -> None:
    requests: list[str] = []
    with fake_apiserver.serve("throttle-once", requests) as api:
        kc = fake_apiserver.kubeconfig(api, tmp_path / "kc")
        res = run_cli("undeploy", "--kubeconfig", str(kc), env={"INSTALLER_CACHE_DIR": str(tmp_path / "c")})
    assert res.code == 0 and res.stdout == "deleted 0 objects\n", res.stderr
    assert requests.count("GET /api/v1/namespaces/kserve/configmaps/kserve-installer-inventory") == 2


def test_throttled_for_good_is_one_error_saying_so(tmp_path: Path) -> None:
    requests: list[str] = []
    with fake_apiserver.serve("throttle", requests) as api:
        cluster = _connect(api, tmp_path)
        with pytest.raises(ClusterError, match=r"HTTP 429 .*still throttled after 5 retries") as err:
            cluster.get(Ref("v1", "ConfigMap", "x", "kserve"))  # type: ignore[attr-defined]
    assert err.value.code == 429
    assert requests.count("GET /api/v1/namespaces/kserve/configmaps/x") == 6


def test_a_list_cut_off_mid_response_names_the_call(tmp_path: Path) -> None:
    with fake_apiserver.serve("drop") as api:
        cluster = _connect(api, tmp_path)
        with pytest.raises(
            ClusterError, match=r"^list Deployment: the connection to http://127\.0\.0\.1:\d+ broke"
        ):
            cluster.list("apps/v1", "Deployment")  # type: ignore[attr-defined]
        assert cluster.get(Ref("v1", "ConfigMap", "x", "kserve")) is None  # type: ignore[attr-defined]


def test_a_server_that_stops_fails_the_call_it_was_answering(tmp_path: Path) -> None:
    with fake_apiserver.serve("stop-after-1") as api:
        cluster = _connect(api, tmp_path)
        cluster.apply(CM)  # type: ignore[attr-defined]
        with pytest.raises(ClusterError, match=r"^apply ConfigMap/kserve/y: "):
            cluster.apply({**CM, "metadata": {"name": "y", "namespace": "kserve"}})  # type: ignore[attr-defined]
        with pytest.raises(ClusterError, match="ConfigMap/kserve/x"):
            cluster.get(Ref("v1", "ConfigMap", "x", "kserve"))  # type: ignore[attr-defined]


def test_discovery_is_asked_of_the_server_each_run_not_read_from_a_shared_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kubernetes client's default kept discovery in ``$TMPDIR/osrcp-<md5(server URL)>.json``,
    shared by every process and user: a file left by another run (another cluster at the same
    URL, or a server that now fails discovery) was read instead of asking the server. Each
    connection asks, once per group version it uses."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where that shared file would go
    requests: list[str] = []
    with fake_apiserver.serve("accept", requests) as api:
        for _ in range(2):
            cluster = _connect(api, tmp_path)
            for name in ("a", "b"):
                assert cluster.get(Ref("v1", "ConfigMap", name, "kserve")) is None  # type: ignore[attr-defined]
            assert cluster.list("apps/v1", "Deployment") == []  # type: ignore[attr-defined]
    assert requests.count("GET /api/v1") == 2, requests
    assert requests.count("GET /apis/apps/v1") == 2, requests
    assert "GET /apis" not in requests, "no discovery of groups the run does not use"
    assert not list(tmp_path.glob("osrcp-*.json")), "nothing left in the shared temporary directory"


def test_writes_leave_the_field_check_to_the_render(tmp_path: Path) -> None:
    """Every write asks the server not to check for unknown or duplicate fields
    (``fieldValidation=Ignore``): the render validated each object against its schema, and the
    server's default (Warn) parses each body a second time, strictly, for warnings the installer
    never showed: 8% of the server's CPU in applying v0.20.0's CRDs."""
    queries: list[str] = []
    with fake_apiserver.serve("accept", queries=queries) as api:
        cluster = _connect(api, tmp_path)
        cluster.apply(CM)  # type: ignore[attr-defined]
        cluster.apply(CM, metadata_only=True)  # type: ignore[attr-defined]
        cluster.update({**CM, "metadata": {**CM["metadata"], "resourceVersion": "1"}})  # type: ignore[attr-defined,dict-item]
    writes = [q for q in queries if q.startswith(("PATCH", "PUT"))]
    assert len(writes) == 3, queries
    for write in writes:
        assert "fieldValidation=Ignore" in write and "fieldManager=kserve-installer" in write, write
