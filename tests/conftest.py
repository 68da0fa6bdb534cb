"""Shared fixtures: the real upstream mirror, isolated caches, a mirror HTTP server, the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from installer.lock import Lock, load_lock
from tests.mirror_server import MirrorServer, serve

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = Path(os.environ.get("INSTALLER_TEST_UPSTREAM", REPO.parent / "shared" / "upstream"))
LOCK_PATH = REPO / "kserve-built" / "sources.lock.yaml"
# Every KServe version the committed lock pins: the tests of every stage cover each of them.
LOCKED_VERSIONS = load_lock(LOCK_PATH).versions("kserve")


_SANDBOX = Path(tempfile.mkdtemp(prefix="installer-tests-"))
_CHECKOUT_BEFORE: set[str] = set()


def _checkout_state() -> set[str]:
    """What tests could leave in the checkout: pre-built trees, hubctl's work directory, and a
    changed lock file (each file of kserve-built/ counts with the digest of its content)."""
    built = REPO / "kserve-built"
    state = {
        f"{p.name} (sha256 {hashlib.sha256(p.read_bytes()).hexdigest()[:12]})" if p.is_file() else p.name
        for p in built.iterdir()
    }
    return state | ({".installer"} if (REPO / ".installer").exists() else set())


def pytest_configure(config: pytest.Config) -> None:
    """Every test runs with a temporary HOME and cache: nothing may reach the user's home or the
    checkout. Pre-built trees and downloads go to one session directory (shared, for speed);
    tests that need their own set INSTALLER_CACHE_DIR / INSTALLER_BUILD_DIR themselves."""
    if not (UPSTREAM / "github.com").is_dir():
        raise pytest.UsageError(
            f"the upstream mirror is missing at {UPSTREAM}: tests read real release assets from it "
            "(set INSTALLER_TEST_UPSTREAM to its path)"
        )
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("INSTALLER_CACHE_DIR", "cache"),
        ("INSTALLER_BUILD_DIR", "built"),
    ):
        os.environ[var] = str(_SANDBOX / sub)
    (_SANDBOX / "home").mkdir(exist_ok=True)
    _CHECKOUT_BEFORE.update(_checkout_state())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test wrote into the checkout (a pre-built tree, hubctl's .installer/)."""
    new = sorted(_checkout_state() - _CHECKOUT_BEFORE)
    shutil.rmtree(_SANDBOX, ignore_errors=True)
    if new:
        print(f"\nerror: tests wrote into the checkout: {', '.join(new)}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _work_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test works in a directory of its own (the CLI's children too: see run_cli)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)


@pytest.fixture(scope="session")
def upstream() -> Path:
    return UPSTREAM


@pytest.fixture(scope="session")
def lock() -> Lock:
    return load_lock(LOCK_PATH)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh cache and build directories for one test; hubctl variables removed."""
    monkeypatch.setenv("INSTALLER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("INSTALLER_BUILD_DIR", str(tmp_path / "built"))
    for var in ("HUB_COMPONENT", "INSTALLER_MIRROR", "NAMESPACE", "DEPLOYMENT_MODE", "KSERVE_VERSION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def cli_env(tmp_path: Path, upstream: Path) -> dict[str, str]:
    """Environment for a CLI run with caches of its own and the mirror."""
    return {
        "INSTALLER_CACHE_DIR": str(tmp_path / "cache"),
        "INSTALLER_BUILD_DIR": str(tmp_path / "built"),
        "INSTALLER_MIRROR": str(upstream),
    }


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig for an API server that is not there (a port nothing listens on)."""
    from tests import fake_apiserver

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return fake_apiserver.kubeconfig(f"https://127.0.0.1:{port}", tmp_path / "unreachable-kubeconfig")


@pytest.fixture(scope="session")
def shared_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache and pre-build for the whole session: pre-building is slow, and tests only read it."""
    return tmp_path_factory.mktemp("shared-build")


@pytest.fixture(scope="session")
def source_trees(upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The mirror's KServe source trees, extracted once (kubectl builds them from disk)."""
    from tests.source_tarballs import extract

    dest = tmp_path_factory.mktemp("kserve-sources")
    return {v: extract(v, upstream, dest) for v in ("v0.18.1", "v0.20.0")}


@pytest.fixture
def mirror_http(upstream: Path) -> Iterator[MirrorServer]:
    with serve(upstream) as server:
        yield server


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Result:
    """Run the real console entry point in a child process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "INSTALLER_MIRROR"))}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "installer", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or Path.cwd(),
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Cache and pre-build shared by the in-process render tests of a session."""
    root = tmp_path_factory.mktemp("render-session")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSTALLER_CACHE_DIR", str(root / "cache"))
        mp.setenv("INSTALLER_BUILD_DIR", str(root / "built"))
        for var in ("HUB_COMPONENT", "INSTALLER_MIRROR"):
            mp.delenv(var, raising=False)
        yield root


CREDENTIALS_FILE = Path(__file__).resolve().parent / "data" / "s3-credentials.env"
ETCD_CREDENTIALS_FILE = Path(__file__).resolve().parent / "data" / "etcd-credentials.env"


def full_parameters(version: str, mode: str, lock: Lock) -> list[str]:
    """--set arguments touching every parameter (kustomize.resources: the lock's own assets, pinned)
    but kserve.source, which replaces the release assets as kustomize.resources does (the two
    exclude each other): tests/test_sourcebuild.py renders these with kserve.source instead of
    kustomize.resources. The optional parts are set to what they default to, so that these
    renders keep every object (tests/test_parts.py leaves them out)."""
    resources = ",".join(f"{a.url}#sha256={a.sha256}" for a in lock.assets("kserve", version))
    return [
        "modelNamespaces=models,team-b",
        "runtimes.scope=namespace",
        "mesh.sidecarInjection=true",
        f"bucket.credentialsFile={CREDENTIALS_FILE}",
        "kserve.namespace=ml-serving",
        f"kserve.version={version}",
        f"kserve.deploymentMode={mode}",
        "ingress.class=nginx",
        "ingress.protocol=https",
        "ingress.hosts=models.example.com,alt.example.com",
        "ingress.domainTemplate={{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}",
        "bucket.endpoint=http://minio.minio:9000",
        "bucket.region=eu-west-1",
        "bucket.verifySsl=true",
        "knative.namespace=kn-serving",
        "knative.ingressGateway=kn-ingress",
        "knative.localGateway=kn-local",
        "istio.namespace=mesh",
        "istio.ingressService=mesh-ingress",
        "istio.localGatewayService=mesh-local",
        f"kustomize.resources={resources}",
        "images.registry=registry.local:5000/mirror",
        "images.tag=v9-custom",
        "kserve.llmisvc.enabled=true",
        "kserve.localmodel.enabled=true",
        "modelmesh.namespace=mm-test",
        "modelmesh.scope=cluster",
        "modelmesh.kserveController=true",
        "modelmesh.quickstart=false",
        "modelmesh.userNamespaces=team-a,team-c",
        "modelmesh.etcd.endpoints=http://etcd-0.db:2379,http://etcd-1.db:2379",
        "modelmesh.etcd.rootPrefix=mm",
        f"modelmesh.etcd.credentialsFile={ETCD_CREDENTIALS_FILE}",
        "modelmesh.storage.key=s3-models",
        "modelmesh.storage.defaultBucket=models",
        "modelmesh.config.podsPerRuntime=1",
        "modelmesh.config.restProxy=false",
        "modelmesh.config.scaleToZero=false",
        "modelmesh.config.scaleToZeroGracePeriodSeconds=30",
        "modelmesh.config.metrics=false",
        "modelmesh.config.serviceAccountName=mm-runtime",
    ]
