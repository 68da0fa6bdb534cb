#!/usr/bin/env python3
"""Render benchmark: cold and warm `installer render` against `kubectl kustomize`, one run.

    python benchmarks/render.py [--runs 5] [--mirror ../shared/upstream] [--version V] [--mode M]

Each measurement is a separate process (what a user or a deploy job pays), timed by wall clock;
peak RSS is the child's ru_maxrss from wait4. Cold = empty download cache, pre-build and caches;
warm = the same caches after one render. The reference is `kubectl kustomize` on the
kustomization the installer emits for the same parameters (same input, same output objects).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one child process; its output is discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return elapsed, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mirror", default=str(REPO.parent / "shared" / "upstream"))
    ap.add_argument("--version", default=None, help="KServe version (default: the lock's default)")
    ap.add_argument("--mode", default="RawDeployment")
    args = ap.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        sys.exit("kubectl is needed for the reference measurement")

    render = [sys.executable, "-m", "installer", "-q", "render", "--mirror", args.mirror, "--mode", args.mode]
    if args.version:
        render += ["--version", args.version]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "INSTALLER_"))}

    # An installed package has compiled bytecode (pip compiles on install); an editable checkout
    # under PYTHONDONTWRITEBYTECODE would recompile every module on every start. Measure the former.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "installer")], check=True)

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        root = Path(tmp)
        cold, cold_rss = [], []
        for i in range(args.runs):
            env = {
                **base_env,
                "INSTALLER_CACHE_DIR": str(root / f"cold{i}"),
                "INSTALLER_BUILD_DIR": str(root / f"cb{i}"),
            }
            t, rss = run(render, env)
            cold.append(t)
            cold_rss.append(rss)
        warm_env = {
            **base_env,
            "INSTALLER_CACHE_DIR": str(root / "warm"),
            "INSTALLER_BUILD_DIR": str(root / "wb"),
        }
        run([*render, "--emit-kustomization", str(root / "emitted")], warm_env)
        warm, warm_rss = [], []
        for _ in range(args.runs):
            t, rss = run(render, warm_env)
            warm.append(t)
            warm_rss.append(rss)
        ref, ref_rss = [], []
        for _ in range(args.runs):
            t, rss = run([kubectl, "kustomize", str(root / "emitted")], base_env)
            ref.append(t)
            ref_rss.append(rss)

    k = statistics.median(ref)
    rows = [
        ("installer render, cold", statistics.median(cold), max(cold_rss)),
        ("installer render, warm", statistics.median(warm), max(warm_rss)),
        ("kubectl kustomize (emitted)", k, max(ref_rss)),
    ]
    print(
        f"version={args.version or 'default'} mode={args.mode} runs={args.runs} (median wall time, peak RSS)"
    )
    for name, t, rss in rows:
        print(f"  {name:30s} {t:7.3f} s  {t / k:5.2f}x kustomize  {rss:5d} MB")
    print("targets: warm <= 0.10x, cold <= 0.50x, peak RSS <= 150 MB")


if __name__ == "__main__":
    main()
