#!/usr/bin/env python3
"""Deploy benchmark against a real API server: `installer deploy` and an identical redeploy
against `kubectl apply --server-side -f` of the same rendered file, one run.

    python benchmarks/deploy.py --kubeconfig KUBECONFIG [--runs 3] [--mirror ../shared/upstream]

Every measurement starts from a cluster without KServe (the previous install undeployed and its
CRDs gone), is a separate process (what a user pays), and is timed by wall clock. The installer
runs with --no-wait --skip-checks (a bare API server runs no pods and no cert-manager); kubectl
applies the installer's own render of the same parameters, in the same (phase) order. Caches are
warm for both: the render is part of the installer's time, not the download.
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


def timed(cmd: list[str], env: dict[str, str], check: bool = True) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, proc.returncode, proc.stdout + proc.stderr


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
        ref_failures = 0
        for _ in range(args.runs):
            clean()
            first.append(timed(deploy, env)[0])
            seconds, _, out = timed(deploy, env)
            if not out.lstrip().startswith("0 changed"):
                sys.exit(f"the identical redeploy changed something: {out[:300]}")
            again.append(seconds)
            clean()
            apply = [*kubectl, "apply", "--server-side", "--field-manager", "bench", "-f", str(rendered)]
            seconds, code, _ = timed(apply, env, check=False)
            ref_failures += code != 0  # custom resources before their CRD is discovered: kubectl gives up
            ref.append(seconds)
            ref_again.append(timed(apply, env, check=False)[0])
        clean()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    d, r, k, k2 = (statistics.median(x) for x in (first, again, ref, ref_again))
    print(f"deploy benchmark ({args.mode}, median of {args.runs}, server {args.kubeconfig})")
    print(f"  installer deploy (first)       {d:6.2f} s   {d / k:5.2f}x kubectl")
    print(f"  installer deploy (identical)   {r:6.2f} s   {r / k:5.2f}x kubectl first apply")
    print(f"  kubectl apply --server-side    {k:6.2f} s   (exit non-zero in {ref_failures}/{args.runs} runs)")
    print(f"  kubectl apply, again           {k2:6.2f} s")
    print("  targets: deploy <= 1.0x, identical redeploy <= 0.3x")


if __name__ == "__main__":
    main()
