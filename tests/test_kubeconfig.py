"""Reading a kubeconfig as kubectl does (installer/cluster/kubeconfig.py): merged files, contexts,
inline certificates, exec plugins, the pod's service account; one error line for what is unusable.

TLS and a token against a real API server are exercised by every cluster test (tests/test_cluster.py
connects with a certificate-authority file and a token); the requests a stand-in server sees are
in tests/test_cluster_faults.py."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path

import pytest

from installer.cluster import kubeconfig
from installer.errors import ClusterError
from tests import fake_apiserver


def _config(
    path: Path, current: str, clusters: dict[str, dict[str, object]], users: dict[str, dict[str, object]]
) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in clusters],
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_kubeconfig_files_merge_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _config(tmp_path / "a", "one", {"one": {"server": "https://one:6443/"}}, {"one": {"token": "t1"}})
    second = _config(
        tmp_path / "b",
        "two",
        {"one": {"server": "https://shadowed"}, "two": {"server": "https://two"}},
        {"one": {"token": "shadowed"}, "two": {"token": "t2"}},
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    one = kubeconfig.load()
    assert (one.server, one.headers) == ("https://one:6443", {"Authorization": "Bearer t1"})
    two = kubeconfig.load(context="two")
    assert (two.server, two.headers) == ("https://two", {"Authorization": "Bearer t2"})


def test_inline_certificates_are_private_files(tmp_path: Path) -> None:
    ca, cert, key = b"CA PEM\n", b"CERT PEM\n", b"KEY PEM\n"
    cfg = _config(
        tmp_path / "kc",
        "c",
        {"c": {"server": "https://x", "certificate-authority-data": base64.b64encode(ca).decode()}},
        {
            "c": {
                "client-certificate-data": base64.b64encode(cert).decode(),
                "client-key-data": base64.b64encode(key).decode(),
            }
        },
    )
    ep = kubeconfig.load(cfg)
    assert ep.ca_file and ep.cert_file and ep.key_file
    assert [Path(p).read_bytes() for p in (ep.ca_file, ep.cert_file, ep.key_file)] == [ca, cert, key]
    assert stat.S_IMODE(Path(ep.key_file).stat().st_mode) == 0o600
    assert ep.headers == {}


def test_relative_paths_are_relative_to_their_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("CA")
    (tmp_path / "token").write_text("from-file\n")
    cfg = _config(
        tmp_path / "kc",
        "c",
        {"c": {"server": "https://x", "certificate-authority": "pki/ca.crt"}},
        {"c": {"tokenFile": "token"}},
    )
    ep = kubeconfig.load(cfg)
    assert ep.ca_file == str(tmp_path / "pki" / "ca.crt")
    assert ep.headers == {"Authorization": "Bearer from-file"}


@pytest.mark.parametrize(
    ("cluster", "user", "context", "says"),
    [
        ({"server": "https://x"}, {}, "nope", "context 'nope' is not in the kubeconfig"),
        ({}, {}, None, "context 'c' names no cluster with a server"),
        (
            {"server": "https://x", "certificate-authority": "missing.crt"},
            {},
            None,
            "missing.crt: no such file",
        ),
        ({"server": "https://x", "certificate-authority-data": "%%%"}, {}, None, "is not base64"),
        (
            {"server": "https://x"},
            {"auth-provider": {"name": "gcp", "config": {}}},
            None,
            "auth-provider 'gcp'",
        ),
    ],
)
def test_unusable_kubeconfig_is_one_error_naming_it(
    tmp_path: Path, cluster: dict[str, object], user: dict[str, object], context: str | None, says: str
) -> None:
    cfg = _config(tmp_path / "kc", "c", {"c": cluster}, {"c": user})
    with pytest.raises(ClusterError) as err:
        kubeconfig.load(cfg, context)
    assert err.value.message.startswith(f"no usable kubeconfig {cfg}: ") and says in err.value.message
    assert "\n" not in err.value.message


def _plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "plugin.py"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n{body}\n")
    script.chmod(0o755)
    return script


def test_exec_plugin_token_reaches_the_server(tmp_path: Path) -> None:
    """The plugin is run with KUBERNETES_EXEC_INFO and its env, and its token is what the server
    is sent (a stand-in server records the Authorization header)."""
    plugin = _plugin(
        tmp_path,
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['kind'] == 'ExecCredential' and os.environ['REGION'] == 'eu'\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',"
        " 'status': {'token': 'from-plugin'}}))",
    )
    seen: list[str] = []
    with fake_apiserver.serve("accept", headers=seen) as api:
        exec_spec = {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "env": [{"name": "REGION", "value": "eu"}],
        }
        cfg = _config(tmp_path / "kc", "c", {"c": {"server": api}}, {"c": {"exec": exec_spec}})
        from installer.cluster.kube import connect

        connect(cfg)
    assert seen and set(seen) == {"Bearer from-plugin"}


def test_exec_plugin_failure_is_one_line(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "print('login expired', file=sys.stderr); sys.exit(3)")
    cfg = _config(
        tmp_path / "kc", "c", {"c": {"server": "https://x"}}, {"c": {"exec": {"command": str(plugin)}}}
    )
    with pytest.raises(ClusterError, match=r"exec plugin .*plugin\.py' exited 3: login expired$"):
        kubeconfig.load(cfg)


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("CA")
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    ep = kubeconfig.load()
    assert ep.server == "https://10.0.0.1:443" and ep.ca_file == str(tmp_path / "ca.crt")
    assert ep.headers == {"Authorization": "Bearer sa-token"}
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    assert kubeconfig.load().server == "https://[fd00::1]:443"
