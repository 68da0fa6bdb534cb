#!/usr/bin/env python3
"""Deploy benchmark against a real API server: `installer deploy` and an identical redeploy
against `kubectl apply --server-side -f` of the same rendered file, one run.

    python benchmarks/deploy.py --kubeconfig KUBECONFIG [--version v0.20.0] [--runs 3]
                                [--mirror ../shared/upstream]

Every measurement starts from a cluster without KServe (the previous install undeployed and its
CRDs gone), is a separate process (what a user pays), and is timed by wall clock. The installer
runs with --no-wait --skip-checks (a bare API server runs no pods and no cert-manager); kubectl
applies the installer's own render of the same parameters, in the same (phase) order, and is run
again until it exits 0, as upstream's install scripts do (its first run fails on custom resources
whose CRD the server has not established yet): the reference is the sum of those runs. Each
reference measurement starts kubectl with an empty discovery cache (``--cache-dir``), as on a
cluster it has not seen KServe on: a cache left by the previous measurement would already name
the KServe kinds, and kubectl would then not wait for discovery to learn them. Caches are
warm for both: the render is part of the installer's time, not the download. Peak RSS is the
installer's process (its children included), from wait4.
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


TARGET_FIRST = 0.5  # issue 17: first deploy <= 0.5x kubectl apply --server-side (until exit 0)
TARGET_AGAIN = 0.05  # identical redeploy <= 0.05x of the same


def timed(cmd: list[str], env: dict[str, str], check: bool = True) -> tuple[float, int, str, float]:
    """Wall seconds, exit code, output and peak RSS in MB of one process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text = (out.read() + err.read()).decode(errors="replace")  # stdout first: the summary
    rss_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    if check and proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{text[-2000:]}")
    return elapsed, proc.returncode, text, rss_mb


def until_success(cmd: list[str], env: dict[str, str], limit: int = 10) -> tuple[float, int]:
    """Run ``cmd`` until it exits 0 (at most ``limit`` times): total seconds and runs."""
    total = 0.0
    for run in range(1, limit + 1):
        seconds, code, text, _ = timed(cmd, env, check=False)
        total += seconds
        if code == 0:
            return total, run
    sys.exit(f"kubectl still fails after {limit} runs: {text[-1000:]}")


def wait_gone(kubectl: list[str], env: dict[str, str], what: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([*kubectl, "get", *what, "-o", "name"], capture_output=True, text=True, env=env)
        if not out.stdout.strip():
            return
        time.sleep(0.5)
    sys.exit(f"{' '.join(what)} still there after {timeout:g}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=os.environ.get("INSTALLER_TEST_KUBECONFIG"), required=False)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mirror", default=str(REPO.parent / "shared" / "upstream"))
    ap.add_argument("--mode", default="RawDeployment")
    ap.add_argument("--version", default=None, help="a locked KServe version (default: the lock's default)")
    args = ap.parse_args()
    if not args.kubeconfig:
        sys.exit("needs a real API server: --kubeconfig or INSTALLER_TEST_KUBECONFIG")
    kubectl_bin = shutil.which("kubectl")
    if not kubectl_bin:
        sys.exit("kubectl is needed for the reference measurement")
    kubectl = [kubectl_bin, "--kubeconfig", args.kubeconfig]
    env = {**os.environ}
    work = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    env.update(INSTALLER_CACHE_DIR=str(work / "cache"), INSTALLER_BUILD_DIR=str(work / "built"))
    installer = [sys.executable, "-m", "installer", "-q"]
    common = ["--mirror", args.mirror, "--mode", args.mode, "--set", "kserve.namespace=bench-kserve"]
    if args.version:
        common += ["--version", args.version]
    cluster = ["--kubeconfig", args.kubeconfig]
    try:
        rendered = work / "rendered.yaml"
        render = [*installer, "render", *common]
        rendered.write_text(
            subprocess.run(render, capture_output=True, text=True, env=env, cwd=REPO, check=True).stdout
        )

        def clean() -> None:
            subprocess.run(
                [*installer, "undeploy", "--namespace", "bench-kserve", "--force", *cluster],
                capture_output=True,
                env=env,
                cwd=REPO,
            )
            subprocess.run(
                [*kubectl, "delete", "-f", str(rendered), "--ignore-not-found", "--wait=false"],
                capture_output=True,
                env=env,
            )
            wait_gone(kubectl, env, ["crd", "inferenceservices.serving.kserve.io", "--ignore-not-found"])
            wait_gone(kubectl, env, ["namespace", "bench-kserve", "--ignore-not-found"])

        deploy = [*installer, "deploy", "--no-wait", "--skip-checks", "--timeout", "60", *common, *cluster]
        first: list[float] = []
        again: list[float] = []
        ref: list[float] = []
        ref_again: list[float] = []
        ref_runs: list[int] = []
        rss: list[float] = []
        for _ in range(args.runs):
            clean()
            seconds, _, _, peak = timed(deploy, env)
            first.append(seconds)
            rss.append(peak)
            seconds, _, out, peak = timed(deploy, env)
            if not out.lstrip().startswith("0 changed"):
                sys.exit(f"the identical redeploy changed something: {out[:300]}")
            again.append(seconds)
            rss.append(peak)
            clean()
            cache = Path(tempfile.mkdtemp(prefix="kubectl-cache-", dir=work))
            apply = [
                *kubectl,
                "--cache-dir",
                str(cache),
                "apply",
                "--server-side",
                "--field-manager",
                "bench",
            ]
            apply += ["-f", str(rendered)]
            seconds, runs = until_success(apply, env)
            ref.append(seconds)
            ref_runs.append(runs)
            ref_again.append(timed(apply, env)[0])
        clean()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    d, r, k, k2 = (statistics.median(x) for x in (first, again, ref, ref_again))
    version = args.version or "default version"
    print(f"deploy benchmark ({version}, {args.mode}, median of {args.runs}, server {args.kubeconfig})")
    tries = "/".join(map(str, ref_runs))
    print(f"  installer deploy (first)      {d:6.2f} s {d / k:5.2f}x kubectl {_verdict(d / k, TARGET_FIRST)}")
    print(f"  installer deploy (identical)  {r:6.2f} s {r / k:5.2f}x kubectl {_verdict(r / k, TARGET_AGAIN)}")
    print(f"  kubectl apply --server-side   {k:6.2f} s (until exit 0: {tries} runs)")
    print(f"  kubectl apply, again          {k2:6.2f} s (the identical redeploy is {r / k2:.2f}x of it)")
    print(f"  installer peak RSS            {max(rss):6.0f} MB")
    print(f"  runs (s): first {_each(first)}; identical {_each(again)}; kubectl {_each(ref)}")


def _each(seconds: list[float]) -> str:
    """Every run, so that a median can be read against its spread."""
    return " ".join(f"{s:.2f}" for s in seconds)


def _verdict(ratio: float, target: float) -> str:
    return f"target <= {target:g}x: {'met' if ratio <= target else 'NOT met'}"


if __name__ == "__main__":
    main()
