"""Where the API server is and who we are to it: a kubeconfig, or the pod's service account.

Written here rather than taken from the kubernetes client: importing that package costs ~0.4 s
of CPU (it loads every generated model), a third of an identical redeploy, and the installer
needs only the part that turns a kubeconfig into a URL, TLS files and a credential. lightkube's
loader is lighter but comes with its own HTTP stack (httpx), for the same few fields.

What is understood, as kubectl reads it:

- files: ``--kubeconfig``, else every file of ``KUBECONFIG`` (merged, the first file that names
  an entry wins), else ``~/.kube/config``; when neither ``--kubeconfig`` nor ``--context`` is
  given and the process runs in a pod, the pod's service account comes first (as before);
- cluster: ``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
  ``tls-server-name``, ``proxy-url``;
- user: ``client-certificate(-data)`` and ``client-key(-data)``, ``token``, ``tokenFile``,
  ``username``/``password``, ``exec`` plugins (``client.authentication.k8s.io``; run once per
  process: a run is short), and ``auth-provider`` entries that hold an ``id-token`` or
  ``access-token``. Anything else is one error naming it.

Certificate and key data given inline are written to a private temporary directory (TLS
libraries read files), removed when the process ends.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from installer.errors import ClusterError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
EXEC_TIMEOUT = 60.0


@dataclass(frozen=True)
class Endpoint:
    """One API server and the credentials to use with it."""

    server: str
    ca_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def load(kubeconfig: Path | None = None, context: str | None = None) -> Endpoint:
    """The endpoint of ``context`` (or the current one); ClusterError saying what is unusable."""
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        in_pod = _in_cluster()
        if in_pod is not None:
            return in_pod
    paths = [kubeconfig] if kubeconfig is not None else _default_paths()
    where = f" {kubeconfig}" if kubeconfig else ""
    try:
        config = _merged(paths)
        return _endpoint(config, context, paths[0].parent if paths else Path.cwd())
    except ClusterError as exc:
        raise ClusterError(f"no usable kubeconfig{where}: {exc.message}") from None


def _default_paths() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _merged(paths: list[Path]) -> dict[str, Any]:
    """The kubeconfig files as one, the first file naming an entry (or the current context) winning."""
    import yaml

    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    found = False
    for path in paths:
        if not path.is_file():
            continue
        found = True
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ClusterError(f"cannot read {path}: {' '.join(str(exc).split())[:200]}") from None
        if not isinstance(data, dict):
            raise ClusterError(f"{path} is not a kubeconfig (not a mapping)")
        merged["current-context"] = merged["current-context"] or str(data.get("current-context") or "")
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in data.get(section) or []:
                if isinstance(entry, dict) and "name" in entry:
                    body = dict(entry.get(inner) or {})
                    body["__dir__"] = path.parent  # relative file paths are relative to their file
                    merged[section].setdefault(str(entry["name"]), body)
    if not found:
        raise ClusterError(f"no kubeconfig file ({', '.join(str(p) for p in paths)})")
    return merged


def _endpoint(config: dict[str, Any], context: str | None, base: Path) -> Endpoint:
    name = context or config["current-context"]
    if not name:
        raise ClusterError("no current-context is set and no --context given")
    ctx = config["contexts"].get(name)
    if ctx is None:
        raise ClusterError(f"context {name!r} is not in the kubeconfig")
    cluster = config["clusters"].get(str(ctx.get("cluster") or ""))
    if cluster is None or not cluster.get("server"):
        raise ClusterError(f"context {name!r} names no cluster with a server")
    user = config["users"].get(str(ctx.get("user") or ""), {})
    headers = _user_headers(user)
    cert = _file_or_data(user, "client-certificate")
    key = _file_or_data(user, "client-key")
    exec_cert, exec_key = _exec_tls(user, headers)
    return Endpoint(
        server=str(cluster["server"]).rstrip("/"),
        ca_file=_file_or_data(cluster, "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        proxy_url=cluster.get("proxy-url"),
        cert_file=cert or exec_cert,
        key_file=key or exec_key,
        headers=headers,
    )


def _user_headers(user: dict[str, Any]) -> dict[str, str]:
    if user.get("token"):
        return {"Authorization": f"Bearer {user['token']}"}
    if user.get("tokenFile"):
        token = _relative(user, str(user["tokenFile"])).read_text().strip()
        return {"Authorization": f"Bearer {token}"}
    if user.get("username") and user.get("password"):
        pair = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    provider = user.get("auth-provider")
    if isinstance(provider, dict):
        settings = provider.get("config") or {}
        token = str(settings.get("id-token") or settings.get("access-token") or "")
        if not token:
            raise ClusterError(
                f"auth-provider {provider.get('name')!r} holds no id-token or access-token "
                "(log in with its tool first, or use an exec plugin)"
            )
        return {"Authorization": f"Bearer {token}"}
    return {}


def _exec_tls(user: dict[str, Any], headers: dict[str, str]) -> tuple[str | None, str | None]:
    """Run an exec credential plugin: its token goes into ``headers``, a client certificate is
    returned as files."""
    spec = user.get("exec")
    if not isinstance(spec, dict):
        return None, None
    status = _run_exec(spec)
    if status.get("token"):
        headers["Authorization"] = f"Bearer {status['token']}"
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if cert and key:
        return _private_file(str(cert).encode()), _private_file(str(key).encode())
    if not status.get("token"):
        raise ClusterError(f"exec plugin {spec.get('command')!r} returned neither a token nor a certificate")
    return None, None


def _run_exec(spec: dict[str, Any]) -> dict[str, Any]:
    import json

    api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1")
    info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    env = {**os.environ, "KUBERNETES_EXEC_INFO": json.dumps(info)}
    env.update({str(e["name"]): str(e["value"]) for e in spec.get("env") or [] if "name" in e})
    command = str(spec.get("command") or "")
    try:
        done = subprocess.run(  # noqa: S603 - the user's own kubeconfig names the plugin, as for kubectl
            [command, *map(str, spec.get("args") or [])],
            capture_output=True,
            env=env,
            timeout=EXEC_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"exec plugin {command!r} could not run: {exc}") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.decode(errors="replace").split())[:200]
        raise ClusterError(f"exec plugin {command!r} exited {done.returncode}: {said}")
    try:
        status = json.loads(done.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise ClusterError(f"exec plugin {command!r} did not print an ExecCredential") from None
    return dict(status)


def _file_or_data(section: dict[str, Any], name: str) -> str | None:
    """The path of ``name`` (relative to its kubeconfig), or of ``name-data`` written out."""
    data = section.get(f"{name}-data")
    if data:
        try:
            return _private_file(base64.b64decode(str(data), validate=True))
        except ValueError:
            raise ClusterError(f"{name}-data is not base64") from None
    if section.get(name):
        path = _relative(section, str(section[name]))
        if not path.is_file():
            raise ClusterError(f"{name} {path}: no such file")
        return str(path)
    return None


def _relative(section: dict[str, Any], path: str) -> Path:
    resolved = Path(path).expanduser()
    return resolved if resolved.is_absolute() else Path(section.get("__dir__") or ".") / resolved


_PRIVATE: list[str] = []


def _private_file(data: bytes) -> str:
    """``data`` in a file only this user can read, removed at exit."""
    if not _PRIVATE:
        _PRIVATE.append(tempfile.mkdtemp(prefix="installer-tls-"))
        atexit.register(shutil.rmtree, _PRIVATE[0], True)
    fd, path = tempfile.mkstemp(dir=_PRIVATE[0])
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def _in_cluster() -> Endpoint | None:
    """The pod's service account, when it is mounted."""
    token = SERVICE_ACCOUNT / "token"
    if not token.is_file():
        return None
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    ca = SERVICE_ACCOUNT / "ca.crt"
    return Endpoint(
        server=f"https://{host}:{port}",
        ca_file=str(ca) if ca.is_file() else None,
        headers={"Authorization": f"Bearer {token.read_text().strip()}"},
    )
