"""The catalogue of bad inputs and faults, each through the real CLI in a child process.

Every case must: exit with its code (2 bad usage or parameters, 1 failure outside), print exactly
one line on stderr that names the culprit, print no traceback, leave the output directory
absent, and (unless the fault is in the sources themselves) fetch nothing and apply nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import fake_apiserver
from tests.conftest import REPO, run_cli
from tests.mirror_server import MirrorServer, serve
from tests.source_tarballs import ARCHIVE, Edits, regular, symlink, top_of, variant
from tests.test_cli_params import CASES as PARAMETER_CASES

KSERVE = "github.com/kserve/kserve/releases/download"
V13 = f"{KSERVE}/v0.13.1/kserve.yaml"


@dataclass
class Ctx:
    """What a case may use: its own directory, the real mirror, a faulty HTTP mirror."""

    tmp: Path
    upstream: Path
    http: MirrorServer
    env: dict[str, str] = field(default_factory=dict)
    api: str = ""

    def path(self, name: str) -> Path:
        return self.tmp / name


@dataclass
class Case:
    kind: str
    name: str
    args: Callable[[Ctx], list[str]]
    code: int
    culprit: Callable[[Ctx], str]
    setup: Callable[[Ctx], object] = lambda c: None  # its return value is ignored
    fetches: bool = False  # the fault is in the sources: downloads are expected
    api: str = ""  # run a stand-in API server in this mode


def _const(text: str) -> Callable[[Ctx], str]:
    return lambda c: text


def _write(name: str, data: bytes) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        if name.endswith("/"):
            c.path(name).mkdir()
        else:
            c.path(name).parent.mkdir(parents=True, exist_ok=True)
            c.path(name).write_bytes(data)

    return setup


def _param_case(case: tuple[str, list[str], dict[str, bytes], dict[str, str], str]) -> Case:
    name, args, files, env, culprit = case

    def setup(c: Ctx) -> None:
        for fname, data in files.items():
            _write(fname, data)(c)
        c.env.update(env)

    return Case(
        "parameters" if not files else "values files",
        name,
        lambda c: [a.replace("{d}", str(c.tmp)) for a in args],
        2,
        _const(culprit),
        setup,
    )


def _dir_mirror(mutate: Callable[[bytes], bytes]) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        for v in ("v0.13.1",):
            for f in ("kserve.yaml", "kserve-cluster-resources.yaml"):
                src = c.upstream / KSERVE / v / f
                dest = c.path("mirror") / KSERVE / v / f
                dest.parent.mkdir(parents=True, exist_ok=True)
                data = src.read_bytes()
                dest.write_bytes(mutate(data) if f == "kserve.yaml" else data)

    return setup


def _flip(data: bytes) -> bytes:
    return data[:100] + bytes([data[100] ^ 1]) + data[101:]


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


BAD_NAME_YAML = b"""\
apiVersion: v1
kind: ConfigMap
metadata: {name: inferenceservice-config, namespace: kserve}
data:
  deploy: '{"defaultDeploymentMode": "Serverless"}'
  ingress: '{"ingressGateway": "knative-serving/knative-ingress-gateway"}'
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ../../etc/x, namespace: kserve}
data: {a: b}
"""


SOURCE = "v0.20.0"
BASE = "config/base/kustomization.yaml"


def _source_case(
    name: str, culprit: str, edits: Edits | None = None, extra: list[tuple[str, str | None]] | None = None
) -> Case:
    """A source build from a tarball made at run time from the mirror's v0.20.0 source, served by
    the faulty mirror and pinned inline (URL#sha256): the fault is in the tree, not the bytes."""
    file = f"example.com/src/{name.replace(' ', '-')}.tar.gz"
    top = top_of(SOURCE)

    def setup(c: Ctx) -> None:
        members = [
            symlink(f"{top}/{p}", t) if t else regular(f"{top}/{p}", b"kind: x\n") for p, t in extra or []
        ]
        variant(c.upstream, SOURCE, c.http.root / file, edits, members)

    def args(c: Ctx) -> list[str]:
        sha = hashlib.sha256((c.http.root / file).read_bytes()).hexdigest()
        spec = f"kserve.source=https://{file}#sha256={sha}"
        return ["--mirror", c.http.url, "--set", spec, "--set", f"kserve.version={SOURCE}"]

    return Case("source builds", name, args, 1, _const(culprit), setup, fetches=True)


def _tampered_source(c: Ctx) -> None:
    path = c.http.root / ARCHIVE / f"{SOURCE}.tar.gz"
    path.write_bytes(_flip(path.read_bytes()))


SOURCE_CASES: list[Case] = [
    _source_case(
        "no config",
        f"no-config.tar.gz: entryPoints[0]: {top_of(SOURCE)}/config/crd/full is missing: the tarball has no config/",
        {"config/": None},
    ),
    _source_case(
        "a cycle",
        "kustomize: config/base/kustomization.yaml: cycle: config/overlays/all -> config/base -> config/overlays/all",
        {BASE: lambda text: text.replace("resources:\n", "resources:\n- ../overlays/all\n", 1)},
    ),
    _source_case(
        "a missing resource",
        "a-missing-resource.tar.gz: entryPoints[1]: kustomize: config/base/kustomization.yaml: resource gone.yaml not found",
        {BASE: lambda text: text.replace("resources:\n", "resources:\n- gone.yaml\n", 1)},
    ),
    _source_case(
        "an unsupported kustomize field",
        "kustomize: config/base/kustomization.yaml: unsupported field 'namePrefix'",
        {BASE: lambda text: text + "namePrefix: site-\n"},
    ),
    _source_case(
        "a path escaping the prefix",
        f"a-path-escaping-the-prefix.tar.gz: member '{top_of(SOURCE)}/../escape.yaml' escapes the archive's top directory",
        extra=[("../escape.yaml", None)],
    ),
    _source_case(
        "a symlink",
        f"a-symlink.tar.gz: {top_of(SOURCE)}/config/base/passwd.yaml is a symlink (to '/etc/passwd')",
        extra=[("config/base/passwd.yaml", "/etc/passwd")],
    ),
    Case(
        "source builds",
        "a tampered tarball",
        lambda c: ["--mirror", c.http.url, "--set", f"kserve.source={SOURCE}"],
        1,
        lambda c: f"sha256 mismatch for {c.http.url.rstrip('/')}/{ARCHIVE}/{SOURCE}.tar.gz",
        _tampered_source,
        fetches=True,
    ),
    Case(
        "parameters",
        "a source beside kustomize.resources",
        lambda c: ["--set", f"kserve.source={SOURCE}", "--set", "kustomize.resources=https://e.com/k.yaml"],
        2,
        _const("kserve.source: cannot be combined with kustomize.resources"),
    ),
    Case(
        "parameters",
        "a source the lock does not have",
        lambda c: ["--set", "kserve.source=v9.9.9"],
        2,
        _const("kserve.source: 'v9.9.9' is neither a source in the lock"),
    ),
    Case(
        "parameters",
        "a source URL without digest",
        lambda c: [
            "--set",
            "kserve.source=https://github.com/kserve/kserve/archive/0123456789abcdef0123456789abcdef01234567.tar.gz",
        ],
        2,
        _const("has no digest"),
    ),
    Case(
        "parameters",
        "a kserve.version that is not the source's",
        lambda c: ["--set", f"kserve.source={SOURCE}", "--version", "v0.18.1"],
        2,
        _const("kserve.version: v0.18.1 (from --version) is not the version of source v0.20.0"),
    ),
]


CATALOGUE: list[Case] = (
    [_param_case(p) for p in PARAMETER_CASES]
    + SOURCE_CASES
    + [
        # -- more parameters and flags
        Case("parameters", "retries out of range", lambda c: ["--retries", "99"], 2, _const("--retries")),
        Case(
            "parameters",
            "conflicting output flags",
            lambda c: ["--emit-kustomization", str(c.path("out"))],
            2,
            _const("different directories"),
        ),
        Case(
            "parameters",
            "credentials file missing",
            lambda c: [
                "--set",
                "modelNamespaces=models",
                "--set",
                f"bucket.credentialsFile={c.path('creds')}",
            ],
            2,
            _const("bucket.credentialsFile"),
        ),
        Case(
            "parameters",
            "credentials file without the secret key",
            lambda c: [
                "--set",
                "modelNamespaces=models",
                "--set",
                f"bucket.credentialsFile={c.path('creds')}",
            ],
            2,
            _const("AWS_SECRET_ACCESS_KEY"),
            _write("creds", b"AWS_ACCESS_KEY_ID=AKIAXXXX\n"),
        ),
        Case(
            "parameters",
            "only one AWS variable",
            lambda c: ["--set", "modelNamespaces=models"],
            2,
            _const("AWS_SECRET_ACCESS_KEY"),
            lambda c: c.env.update({"AWS_ACCESS_KEY_ID": "AKIAONLY"}),
        ),
        Case(
            "parameters",
            "bad model namespace",
            lambda c: ["--set", "modelNamespaces=Models_1"],
            2,
            _const("modelNamespaces[0]"),
        ),
        # -- values files beyond the parameter catalogue
        Case(
            "values files",
            "billion laughs alias bomb",
            lambda c: ["-f", str(c.path("v.yaml"))],
            2,
            _const("aliases are not allowed"),
            _write(
                "v.yaml",
                b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\ningress:\n  hosts: [*c, *c, *c, *c]\n",
            ),
        ),
        Case(
            "values files",
            "50 MB values file",
            lambda c: ["-f", str(c.path("big.yaml"))],
            2,
            _const("big.yaml"),
            _write("big.yaml", b"# padding\n" * (5 * 1024 * 1024)),
        ),
        # -- sources
        Case(
            "sources",
            "tampered asset",
            lambda c: ["--version", "v0.13.1", "--mirror", str(c.path("mirror"))],
            1,
            _const("sha256 mismatch"),
            _dir_mirror(_flip),
            fetches=True,
        ),
        Case(
            "sources",
            "truncated asset",
            lambda c: ["--version", "v0.13.1", "--mirror", str(c.path("mirror"))],
            1,
            _const("sha256 mismatch"),
            _dir_mirror(lambda d: d[: len(d) // 2]),
            fetches=True,
        ),
        Case(
            "sources",
            "404 from the mirror",
            lambda c: ["--version", "v0.13.1", "--mirror", c.http.url],
            1,
            _const("HTTP 404"),
            lambda c: c.http.fault_always("/" + V13, 404),
            fetches=True,
        ),
        Case(
            "sources",
            "500 forever",
            lambda c: ["--version", "v0.13.1", "--mirror", c.http.url, "--retries", "1"],
            1,
            _const("HTTP 500"),
            lambda c: c.http.fault_always("/" + V13, 500),
            fetches=True,
        ),
        Case(
            "sources",
            "connection refused",
            lambda c: ["--mirror", f"http://127.0.0.1:{_free_port()}", "--retries", "0"],
            1,
            _const("refused the connection"),
            fetches=True,
        ),
        Case(
            "sources",
            "slow server beyond the timeout",
            lambda c: [
                "--version",
                "v0.13.1",
                "--mirror",
                c.http.url,
                "--retries",
                "0",
                "--fetch-timeout",
                "0.5",
            ],
            1,
            _const("no answer within 0.5s"),
            lambda c: c.http.fault_always("/" + V13, "hang"),
            fetches=True,
        ),
        Case(
            "sources",
            "mirror directory missing",
            lambda c: ["--mirror", str(c.path("nowhere"))],
            2,
            _const("--mirror"),
        ),
        Case(
            "sources",
            "resource URL without digest",
            lambda c: ["--set", "kustomize.resources=https://example.com/kserve.yaml"],
            2,
            _const("has no digest"),
        ),
        Case(
            "sources",
            "file:// resource",
            lambda c: ["--set", "kustomize.resources=file:///etc/passwd"],
            2,
            _const("kustomize.resources[0]"),
        ),
        Case(
            "sources",
            "relative path escaping the mirror",
            lambda c: ["--set", "kustomize.resources=../../../etc/passwd"],
            2,
            _const("kustomize.resources[0]"),
        ),
        Case(
            "sources",
            "URL path escaping the mirror",
            lambda c: [
                "--allow-unpinned",
                "--set",
                "kustomize.resources=https://example.com/a/%2e%2e/%2e%2e/etc/passwd",
            ],
            2,
            _const("escapes the mirror"),
        ),
        # -- output
        Case(
            "output",
            "--output-dir names a file",
            lambda c: [],
            2,
            _const("not a directory"),
            _write("out", b"x"),
        ),
        Case(
            "output",
            "--output-dir names a non-empty directory",
            lambda c: [],
            2,
            _const("not empty"),
            _write("out/keep", b"x"),
        ),
        Case(
            "output",
            "--output-dir in an unwritable place",
            lambda c: ["--output-dir", "/proc/kserve-installer-out"],
            2,
            _const("cannot write"),
        ),
        # -- objects
        Case(
            "objects",
            "object name escaping the output tree",
            lambda c: [
                "--mirror",
                c.http.url,
                "--set",
                "kustomize.resources=https://example.com/evil.yaml#sha256="
                + hashlib.sha256(BAD_NAME_YAML).hexdigest(),
            ],
            2,
            _const("../../etc/x"),
            lambda c: _place(c, "example.com/evil.yaml", BAD_NAME_YAML),
            fetches=True,
        ),
        # -- cluster
        Case(
            "cluster",
            "kubeconfig file missing",
            lambda c: ["deploy", "--kubeconfig", str(c.path("nope"))],
            2,
            _const("--kubeconfig"),
        ),
        Case(
            "cluster",
            "kubeconfig without contexts",
            lambda c: ["deploy", "--kubeconfig", str(c.path("kc"))],
            1,
            _const("no usable kubeconfig"),
            _write("kc", b"apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"),
        ),
        Case(
            "cluster",
            "unreachable API server",
            lambda c: ["deploy", "--kubeconfig", str(c.path("kc"))],
            1,
            _const("cannot reach the API server"),
            lambda c: fake_apiserver.kubeconfig(f"http://127.0.0.1:{_free_port()}", c.path("kc")),
        ),
        Case(
            "cluster",
            "prerequisites missing",
            lambda c: ["deploy", "--kubeconfig", str(c.path("kc"))],
            1,
            _const("needs: cert-manager CRD"),
            api="conflict",
        ),
        Case(
            "cluster",
            "forbidden",
            lambda c: ["deploy", "--skip-checks", "--kubeconfig", str(c.path("kc"))],
            1,
            _const("forbidden"),
            api="forbidden",
            fetches=True,
        ),
        Case(
            "cluster",
            "conflict with another field manager",
            lambda c: ["deploy", "--skip-checks", "--kubeconfig", str(c.path("kc"))],
            1,
            # the first object refused: a phase starts its largest objects first
            _const('conflict with "kubectl-edit"'),
            api="conflict",
            fetches=True,
        ),
        Case(
            "cluster",
            "diff against an unreachable API server (an error, not a difference: exit 2 as kubectl diff)",
            lambda c: ["diff", "--kubeconfig", str(c.path("kc"))],
            2,
            _const("cannot reach the API server"),
            lambda c: fake_apiserver.kubeconfig(f"http://127.0.0.1:{_free_port()}", c.path("kc")),
        ),
        Case(
            "cluster",
            "--dry-run=client (what the server accepts only the server can say)",
            lambda c: ["deploy", "--dry-run=client", "--kubeconfig", str(c.path("kc"))],
            2,
            _const("client has no meaning here"),
            lambda c: fake_apiserver.kubeconfig(f"http://127.0.0.1:{_free_port()}", c.path("kc")),
        ),
        Case(
            "cluster",
            "-n that is no namespace name",
            lambda c: ["deploy", "-n", "Not_A_Namespace", "--kubeconfig", str(c.path("kc"))],
            2,
            _const("kserve.namespace: 'Not_A_Namespace' is not a DNS-1123 label"),
            lambda c: fake_apiserver.kubeconfig(f"http://127.0.0.1:{_free_port()}", c.path("kc")),
        ),
        # -- combinations that cannot work: refused in the parameter stage, before any fetch or write
        Case(
            "parameters",
            "ModelMesh quickstart beside external etcd endpoints",
            lambda c: [
                "--mode",
                "ModelMesh",
                "--set",
                "modelmesh.quickstart=true",
                "--set",
                "modelmesh.etcd.endpoints=http://etcd.db:2379",
            ],
            2,
            _const("modelmesh.etcd.endpoints: cannot be combined with modelmesh.quickstart"),
        ),
        Case(
            "parameters",
            "ModelMesh user namespaces with a namespace-scoped controller",
            lambda c: [
                "--mode",
                "ModelMesh",
                "--set",
                "modelmesh.scope=namespace",
                "--set",
                "modelmesh.userNamespaces=team-a",
            ],
            2,
            _const("modelmesh.userNamespaces: needs modelmesh.scope=cluster"),
        ),
        Case(
            "parameters",
            "namespace-scoped runtimes without model namespaces (nothing would serve)",
            lambda c: ["--set", "runtimes.scope=namespace"],
            2,
            _const("runtimes.scope"),
        ),
        Case(
            "values files",
            "one parameter in two spellings",
            lambda c: ["-f", str(c.path("two.yaml"))],
            2,
            _const("kserve.namespace: given twice"),
            _write("two.yaml", b"kserve.namespace: a\nkserve:\n  namespace: b\n"),
        ),
        Case("output", "-o that is no format", lambda c: ["-o", "tree"], 2, _const("--output-dir tree")),
    ]
)


def _kc(c: Ctx) -> list[str]:
    return ["--kubeconfig", str(c.path("kc"))]


def _unreachable(c: Ctx) -> None:
    fake_apiserver.kubeconfig(f"http://127.0.0.1:{_free_port()}", c.path("kc"))


def _own_lock(c: Ctx) -> None:
    """A copy of the lock for `lock add` cases: a refusal must leave it as it was."""
    shutil.copy(REPO / "kserve-built" / "sources.lock.yaml", c.path("lock.yaml"))
    c.env["INSTALLER_LOCK"] = str(c.path("lock.yaml"))


def _flag(name: str, args: list[str], culprit: str, setup: Callable[[Ctx], object] = _unreachable) -> Case:
    """A flag given a value it cannot take: refused by the command line, before any connection."""
    return Case(
        "flags", name, lambda c: [*args, *(_kc(c) if args[0] != "lock" else [])], 2, _const(culprit), setup
    )


# Newer flags, each misused: exit 2 before anything is fetched, connected to or written.
FLAG_CASES: list[Case] = [
    _flag(
        "--force-crd-upgrade with a value",
        ["deploy", "--force-crd-upgrade=yes"],
        "'--force-crd-upgrade' does not take a value",
    ),
    _flag(
        "deploy --concurrency 0", ["deploy", "--concurrency", "0"], "'--concurrency': 0 is not in the range"
    ),
    _flag(
        "undeploy --timeout 0", ["undeploy", "--timeout", "0"], "'--timeout': 0.0 is not in the range x>=1"
    ),
    _flag("undeploy --timeout that is no number", ["undeploy", "--timeout", "soon"], "'--timeout': 'soon'"),
    _flag("undeploy --wait with a value", ["undeploy", "--wait=yes"], "'--wait' does not take a value"),
    _flag(
        "undeploy --no-wait with a value", ["undeploy", "--no-wait=1"], "'--no-wait' does not take a value"
    ),
    _flag("undeploy --dry-run=client", ["undeploy", "--dry-run=client"], "client has no meaning here"),
    _flag(
        "deploy --dry-run=sever (a typo)", ["deploy", "--dry-run=sever"], "'sever' is not one of server, none"
    ),
    _flag("diff --dry-run (diff is always one)", ["diff", "--dry-run"], "No such option '--dry-run'"),
    _flag("diff -o yaml", ["diff", "-o", "yaml"], "'-o' / '--output': 'yaml' is not one of 'text', 'json'"),
    _flag("status -o table", ["status", "-o", "table"], "'table' is not one of 'text', 'json'"),
    _flag("lock list -o xml", ["lock", "list", "-o", "xml"], "'xml' is not one of"),
    _flag(
        "lock add --source that is no URL",
        ["lock", "add", "--source", "not-a-url"],
        "--source: 'not-a-url' is not an http(s) URL",
        _own_lock,
    ),
    _flag(
        "lock add --source without a release tag",
        ["lock", "add", "--source", "https://example.com/x.tar.gz"],
        "--source https://example.com/x.tar.gz: the URL names no KServe release tag",
        _own_lock,
    ),
    _flag(
        "lock add --entry-point escaping the tarball",
        [
            "lock",
            "add",
            "--source",
            f"https://github.com/kserve/kserve/archive/refs/tags/{SOURCE}.tar.gz",
            "--entry-point",
            "../etc",
        ],
        "--entry-point: '../etc' must be a relative path inside the tarball",
        _own_lock,
    ),
    _flag(
        "lock add --name without --source",
        ["lock", "add", "--version", SOURCE, "--name", "x"],
        "--name goes with --source",
        _own_lock,
    ),
    Case(
        "flags",
        "render --fleet without --output-dir",
        lambda c: ["render", "--fleet", str(c.path("fleet.yaml"))],
        2,
        _const("--fleet writes a tree: give it --output-dir DIR"),
        _write("fleet.yaml", b"clusters: []\n"),
    ),
    Case(
        "flags",
        "render --fleet with -o json",
        lambda c: ["render", "--fleet", str(c.path("fleet.yaml")), "-o", "json"],
        2,
        _const("--fleet writes a tree, not -o json"),
        _write("fleet.yaml", b"clusters: []\n"),
    ),
    Case(
        "flags",
        "render --fleet of a missing file",
        lambda c: ["--fleet", str(c.path("fleet.yaml"))],
        2,
        _const("fleet.yaml: fleet file not found"),
    ),
    Case(
        "flags",
        "render --fleet of a list",
        lambda c: ["--fleet", str(c.path("fleet.yaml"))],
        2,
        _const("a fleet file must be a mapping, got list"),
        _write("fleet.yaml", b"- a\n- b\n"),
    ),
]

# A busy or broken API server (tests/fake_apiserver.py): exit 1, one line naming the call.
FAULT_CASES: list[Case] = [
    Case(
        "cluster",
        "429 with Retry-After, for good",
        lambda c: ["undeploy", *_kc(c)],
        1,
        _const(
            "HTTP 429 TooManyRequests: too many requests, please try again later (still throttled after 5 retries"
        ),
        api="throttle",
    ),
    Case(
        "cluster",
        "500 from the API server",
        lambda c: ["undeploy", *_kc(c)],
        1,
        _const("ConfigMap/kserve/kserve-installer-inventory: HTTP 500 InternalError"),
        api="error-500",
    ),
    Case(
        "cluster",
        "503 from the API server",
        lambda c: ["status", *_kc(c)],
        1,
        _const("ConfigMap/kserve/kserve-installer-inventory: HTTP 503 ServiceUnavailable"),
        api="error-503",
    ),
    Case(
        "cluster",
        "a list dropped mid-response",
        lambda c: ["check", *_kc(c)],
        1,
        _const("list Deployment: the connection to http://127.0.0.1:"),
        api="drop",
    ),
    Case(
        "cluster",
        "discovery dropped mid-response",
        lambda c: ["undeploy", *_kc(c)],
        1,
        _const("API discovery failed at http://127.0.0.1:"),
        api="drop-discovery",
    ),
    Case(
        "cluster",
        "the API server stops in the middle of a phase",
        lambda c: ["deploy", "--skip-checks", *_kc(c)],
        1,
        # the call that met the stop, a read or an apply of one of the CRDs in flight, named
        lambda c: "CustomResourceDefinition/",
        api="stop-after-3",
        fetches=True,
    ),
    Case(
        "cluster",
        "diff against a server that keeps failing (an error: exit 2)",
        lambda c: ["diff", *_kc(c)],
        2,
        _const("HTTP 500 InternalError"),
        api="error-500",
        fetches=True,
    ),
]


def _place(c: Ctx, rel: str, data: bytes) -> None:
    dest = c.http.root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


@pytest.fixture
def scratch_mirror(tmp_path: Path, upstream: Path) -> Path:
    """A copy of the mirror the case may add files to."""
    root = tmp_path / "http-mirror"
    shutil.copytree(upstream / "github.com", root / "github.com")
    return root


CATALOGUE += FLAG_CASES + FAULT_CASES
COMMANDS = ("render", "deploy", "diff", "undeploy", "status", "check", "lock")
MIRRORED = ("render", "deploy", "diff", "undeploy", "status", "check")


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the scratch mirror, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "http-mirror"
    }


@pytest.mark.parametrize("case", CATALOGUE, ids=[f"{c.kind}: {c.name}" for c in CATALOGUE])
def test_bad_input(case: Case, tmp_path: Path, upstream: Path, scratch_mirror: Path) -> None:
    with serve(scratch_mirror) as http:
        c = Ctx(tmp_path, upstream, http)
        case.setup(c)
        out = c.path("out")
        args = case.args(c)
        if args and args[0] in COMMANDS:
            command, rest = args[0], args[1:]
        else:
            command, rest = "render", ["--output-dir", str(out), *args]
        if command in MIRRORED and "--mirror" not in rest:
            rest += ["--mirror", str(upstream)]
        env = {
            "INSTALLER_CACHE_DIR": str(c.path("cache")),
            "INSTALLER_BUILD_DIR": str(c.path("built")),
            **c.env,
        }
        before = (
            sorted(p.name for p in out.iterdir())
            if out.is_dir()
            else (out.read_bytes() if out.exists() else None)
        )
        if case.api:
            with fake_apiserver.serve(case.api) as api:
                fake_apiserver.kubeconfig(api, c.path("kc"))
                files = _files(tmp_path)
                res = run_cli(command, *rest, env=env)
        else:
            files = _files(tmp_path)
            res = run_cli(command, *rest, env=env)
        lines = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
        assert res.code == case.code, res.stderr
        assert len(lines) == 1, res.stderr
        assert lines[-1] == res.stderr.strip().splitlines()[-1], "the error is the last line"
        assert case.culprit(c) in lines[0], lines[0]
        assert "Traceback" not in res.stderr + res.stdout
        if command == "render":
            assert res.stdout == ""
            after = (
                sorted(p.name for p in out.iterdir())
                if out.is_dir()
                else (out.read_bytes() if out.exists() else None)
            )
            assert after == before, "the output is unchanged"
            assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no temporary tree left"
        # Parameters that passed may be remembered as passing (cache/validated); nothing else.
        written = {
            k: v
            for k, v in _files(tmp_path).items()
            if files.get(k) != v and not k.startswith("cache/validated/")
        }
        if not case.fetches:
            assert http.requests == [], "nothing may be fetched"
            assert not (c.path("cache") / "sha256").exists()
            assert not written, f"nothing may be written: {sorted(written)[:5]}"
        else:
            assert {Path(k).parts[0] for k in written} <= {"cache", "built"}, sorted(written)[:5]
        if case.kind == "parameters" or case.kind == "values files":
            assert not c.path("built").exists()
            assert not c.path("cache").exists(), "a refused parameter set writes nothing, not even a cache"
        if case.kind == "source builds":
            _nothing_extracted(c)


def _nothing_extracted(c: Ctx) -> None:
    """A refused source leaves no build and nothing unpacked: besides the verified tarball in the
    cache (and the parameter set that passed), no file was written anywhere."""
    written = {p.relative_to(c.tmp).parts[0] for p in c.tmp.rglob("*") if p.is_file()}
    assert written <= {"cache", "http-mirror"}, written
    cached = [p.relative_to(c.path("cache")).parts for p in c.path("cache").rglob("*") if p.is_file()]
    assert all(parts[0] in ("sha256", "validated") for parts in cached), cached


def test_the_catalogue_keeps_what_it_must_cover() -> None:
    """Issue 19 item 9: at least 80 cases, among them these faults (a case renamed or dropped
    must be replaced, not lost)."""
    names = {c.name for c in CATALOGUE}
    required = {
        "no config",
        "a cycle",
        "a missing resource",
        "an unsupported kustomize field",
        "a path escaping the prefix",
        "a symlink",
        "a tampered tarball",
        "429 with Retry-After, for good",
        "500 from the API server",
        "503 from the API server",
        "a list dropped mid-response",
        "the API server stops in the middle of a phase",
    }
    assert len(CATALOGUE) >= 80 and len(names) == len(CATALOGUE), "names are unique"
    assert required <= names, sorted(required - names)
    flags = " ".join(" ".join(c.name.split()) for c in FLAG_CASES)
    for flag in (
        "--force-crd-upgrade",
        "--wait",
        "--no-wait",
        "--timeout",
        "--dry-run",
        "-o",
        "--fleet",
        "--source",
    ):
        assert flag in flags, flag
