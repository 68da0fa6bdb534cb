"""The documentation's examples run as written: docs/cli.md and docs/gitops.md are tests too.

In those pages a fenced block is
- ``sh``: run, command by command, from a sandbox directory that has the upstream mirror at
  ``../shared/upstream`` and this repository's ``hack/``; every command must exit 0 unless its
  trailing comment says ``# exit N`` (or ``# exit N or M``);
- ``sh cluster``: the same, with ``KUBECONFIG`` set to the test API server
  (``INSTALLER_TEST_KUBECONFIG``); skipped, with that reason, without one;
- ``yaml file=NAME``: written as NAME into the sandbox first, for the commands to read;
- anything else (``text``, ``yaml``): shown, not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, UPSTREAM

DOCS = ["docs/cli.md", "docs/gitops.md"]
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
EXPECT = re.compile(r"#\s*exit\s+(?P<codes>\d+(?:\s+or\s+\d+)*)")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    info: str
    body: str

    @property
    def words(self) -> list[str]:
        return self.info.split()


def blocks(doc: str) -> list[Block]:
    text = (REPO / doc).read_text()
    return [
        Block(doc, text.count("\n", 0, m.start()) + 1, m.group("info").strip(), m.group("body"))
        for m in FENCE.finditer(text)
    ]


def commands(body: str) -> list[str]:
    """Logical lines: continuations joined, blank lines and comment lines dropped."""
    out: list[str] = []
    pending = ""
    for raw in body.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        if line.strip() and not line.strip().startswith("#"):
            out.append(line.strip())
    return out


def script(body: str) -> str:
    """Bash that runs each command and stops at the first one whose exit code is not expected."""
    lines = ["set -o pipefail"]
    for n, cmd in enumerate(commands(body), 1):
        m = EXPECT.search(cmd)
        codes = m.group("codes").split(" or ") if m else ["0"]
        codes = [c.strip() for c in codes if c.strip()]
        lines.append(f"{cmd} > /dev/null")
        lines.append(
            f'rc=$?; case $rc in {"|".join(codes)}) ;; *) echo "command {n} exited $rc: {cmd!r}" >&2; exit 99;; esac'
        )
    return "\n".join(lines) + "\n"


def runnable(kind: str) -> list[Block]:
    return [
        b
        for doc in DOCS
        for b in blocks(doc)
        if b.words[:1] == ["sh"] and (b.words[1:] == [kind] or (kind == "" and len(b.words) == 1))
    ]


def sandbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "sandbox" / "work"
    work.mkdir(parents=True)
    (tmp_path / "sandbox" / "shared").mkdir()
    (tmp_path / "sandbox" / "shared" / "upstream").symlink_to(UPSTREAM)
    (work / "hack").symlink_to(REPO / "hack")
    for doc in DOCS:
        for b in blocks(doc):
            name = next((w.split("=", 1)[1] for w in b.words if w.startswith("file=")), None)
            if b.words[:1] == ["yaml"] and name:
                (work / name).write_text(b.body)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "INSTALLER_MIRROR", "AWS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return work, env


def run_block(block: Block, tmp_path: Path, extra: dict[str, str] | None = None) -> None:
    work, env = sandbox(tmp_path)
    proc = subprocess.run(
        ["bash", "-c", script(block.body)],
        cwd=work,
        env={**env, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"{block.doc}:{block.line}: {proc.stderr[-2000:]}"


def _id(b: Block) -> str:
    return f"{b.doc}:{b.line}"


def test_the_pages_have_runnable_examples() -> None:
    assert len(runnable("")) >= 6
    assert all(commands(b.body) for b in runnable(""))


@pytest.mark.parametrize("block", runnable(""), ids=_id)
def test_example(block: Block, tmp_path: Path) -> None:
    run_block(block, tmp_path)


@pytest.mark.cluster
@pytest.mark.parametrize("block", runnable("cluster"), ids=_id)
def test_cluster_example(block: Block, tmp_path: Path) -> None:
    kubeconfig = os.environ.get("INSTALLER_TEST_KUBECONFIG")
    if not kubeconfig:
        pytest.skip("INSTALLER_TEST_KUBECONFIG is not set: no real API server to run the example against")
    run_block(block, tmp_path, {"KUBECONFIG": kubeconfig})


def test_a_failing_example_fails_the_test(tmp_path: Path) -> None:
    """The harness itself: an unexpected exit code stops the block and names the command."""
    bad = Block("docs/x.md", 1, "sh", "true\ninstaller render --version v9.9.9   # no exit comment\n")
    with pytest.raises(AssertionError, match=r"command 2 exited 2"):
        run_block(bad, tmp_path)
    allowed = Block("docs/x.md", 1, "sh", "installer render --version v9.9.9   # exit 2\n")
    run_block(allowed, tmp_path / "again")
