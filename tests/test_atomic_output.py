"""An interrupted `render --output-dir` leaves the old tree or the new one, never a mix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _as_in_a_terminal() -> None:
    # A job started in the background inherits SIGINT as ignored (and Python then installs no
    # KeyboardInterrupt handler); Ctrl-C in a terminal has the default disposition. Restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def render_cmd(out: Path, upstream: Path, namespace: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "installer",
        "-q",
        "render",
        "--mirror",
        str(upstream),
        "--version",
        "v0.15.2",
        "--set",
        f"kserve.namespace={namespace}",
        "--output-dir",
        str(out),
        "--force",
    ]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_render_leaves_old_or_new(sig: signal.Signals, tmp_path: Path, upstream: Path) -> None:
    env = {
        **os.environ,
        "INSTALLER_CACHE_DIR": str(tmp_path / "cache"),
        "INSTALLER_BUILD_DIR": str(tmp_path / "b"),
    }
    out = tmp_path / "gitops"
    subprocess.run(render_cmd(out, upstream, "old-ns"), env=env, cwd=REPO, check=True)
    old = snapshot(out)
    reference = tmp_path / "reference"
    subprocess.run(render_cmd(reference, upstream, "new-ns"), env=env, cwd=REPO, check=True)
    new = snapshot(reference)
    assert old != new
    outcomes = set()
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5):
        subprocess.run(render_cmd(out, upstream, "old-ns"), env=env, cwd=REPO, check=True)
        proc = subprocess.Popen(
            render_cmd(out, upstream, "new-ns"),
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_as_in_a_terminal,
        )
        time.sleep(delay)
        proc.send_signal(sig)
        proc.wait()
        now = snapshot(out)
        assert now in (old, new), f"mixed tree after {sig.name} at {delay}s"
        outcomes.add("new" if now == new else "old")
    assert "old" in outcomes, "some interruption must have hit before the swap"
