#!/usr/bin/env python3
"""Render benchmark: cold and warm `installer render` against `kubectl kustomize`.

    python benchmarks/render.py [--runs 3] [--mirror ../shared/upstream] [--version V] [--mode M]
    python benchmarks/render.py --table            # every locked version: upstream bytes vs time
    python benchmarks/render.py --source v0.20.0   # a source build against kustomize of its tree

Each measurement is a separate process (what a user or a deploy job pays), timed by wall clock;
peak RSS is the child's ru_maxrss from wait4. Cold = empty download cache, pre-build and caches;
warm = the same caches after one render. The reference is `kubectl kustomize` on the
kustomization the installer emits for the same parameters (same input, same output objects).
Figures are medians of --runs; the targets (issue 17) are printed with pass or fail.

--table renders every locked version and prints its upstream bytes (the release assets the
pre-build parses) against the cold and warm times, with the time per MB, to show how the cost
grows with the input. --source V times a cold render of the source build `kserve.source=V`
against `kubectl kustomize config/overlays/all` of the same tarball, extracted, then a warm
render of it against a warm render of the release V.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from installer.locations import default_lock_path  # noqa: E402
from installer.lock import load_lock  # noqa: E402
from installer.sources import mirrored  # noqa: E402

UNITS = " (median wall time, peak RSS, median CPU seconds)"
TARGETS = {"warm": 0.10, "cold": 0.30, "rss": 0.40}  # of kubectl kustomize: time, time, peak RSS


@dataclass
class Runs:
    """Wall seconds, CPU seconds (user + system, the child and its children) and peak RSS (MB)."""

    times: list[float]
    cpu: list[float]
    rss: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def peak(self) -> int:
        return max(self.rss)


def run(cmd: list[str], env: dict[str, str], into: Runs | None = None) -> Runs:
    """One child process (its output discarded), measured into ``into`` (or a new Runs)."""
    out = into if into is not None else Runs([], [], [])
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    out.times.append(elapsed)
    out.cpu.append(usage.ru_utime + usage.ru_stime)
    out.rss.append(usage.ru_maxrss // 1024)
    return out


def rounds(n: int, jobs: list[tuple[list[str], Callable[[], dict[str, str]]]]) -> list[Runs]:
    """``n`` rounds, each running every job once, interleaved: a machine whose load changes
    during the benchmark slows the installer and the reference alike."""
    out = [Runs([], [], []) for _ in jobs]
    for _ in range(n):
        for (cmd, env), runs in zip(jobs, out, strict=True):
            run(cmd, env(), runs)
    return out


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        kubectl = shutil.which("kubectl")
        if not kubectl:
            sys.exit("kubectl is needed for the reference measurement")
        self.kubectl = kubectl
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "INSTALLER_"))}
        self.count = 0

    def render_cmd(self, version: str | None, *extra: str) -> list[str]:
        cmd = [sys.executable, "-m", "installer", "-q", "render", "--mirror", self.args.mirror]
        cmd += ["--mode", self.args.mode, *(["--version", version] if version else []), *extra]
        return cmd

    def caches(self, name: str) -> dict[str, str]:
        return {
            **self.base_env,
            "INSTALLER_CACHE_DIR": str(self.root / name / "cache"),
            "INSTALLER_BUILD_DIR": str(self.root / name / "built"),
        }

    def fresh(self) -> str:
        self.count += 1
        return f"c{self.count}"

    def prepare(self, version: str | None, *extra: str) -> tuple[list[str], str, Path]:
        """The render command, a warm cache (one render done) and the kustomization it emits."""
        cmd = self.render_cmd(version, *extra)
        warm = self.fresh()
        dest = self.root / warm / "emitted"
        run([*cmd, "--emit-kustomization", str(dest)], self.caches(warm))
        return cmd, warm, dest

    def measure(self, cmd: list[str], warm: str, reference: Path) -> tuple[Runs, Runs, Runs]:
        """Cold (empty caches each time), warm, and kubectl kustomize of ``reference``, interleaved."""
        cold_runs, warm_runs, ref_runs = rounds(
            self.args.runs,
            [
                (cmd, lambda: self.caches(self.fresh())),
                (cmd, lambda: self.caches(warm)),
                ([self.kubectl, "kustomize", str(reference)], lambda: self.base_env),
            ],
        )
        return cold_runs, warm_runs, ref_runs


def verdict(value: float, limit: float) -> str:
    return f"{'pass' if value <= limit else 'FAIL'} (<= {limit:.2f}x)"


def row(what: str, runs: Runs, k: float) -> str:
    return (
        f"  {what:32s} {runs.median:7.3f} s  {runs.median / k:5.2f}x kustomize"
        f"  {runs.peak:5d} MB  cpu {runs.cpu_median:6.2f} s"
    )


def one_version(bench: Bench, version: str | None) -> None:
    cmd, warm_name, emitted = bench.prepare(version)
    cold, warm, ref = bench.measure(cmd, warm_name, emitted)
    k = ref.median
    label = version or "default"
    print(f"version={label} mode={bench.args.mode} runs={bench.args.runs}" + UNITS)
    print(row("installer render, cold", cold, k))
    print(row("installer render, warm", warm, k))
    print(row("kubectl kustomize (emitted)", ref, k))
    rss = max(cold.peak, warm.peak) / ref.peak
    print("targets:")
    print(f"  warm render   {warm.median / k:6.3f}x  {verdict(warm.median / k, TARGETS['warm'])}")
    print(f"  cold render   {cold.median / k:6.3f}x  {verdict(cold.median / k, TARGETS['cold'])}")
    print(f"  peak RSS      {rss:6.3f}x  {verdict(rss, TARGETS['rss'])}")
    kc = ref.cpu_median
    print(f"  (CPU time of kustomize's: cold {cold.cpu_median / kc:.3f}x, warm {warm.cpu_median / kc:.3f}x)")
    named = [("cold", cold), ("warm", warm), ("kustomize", ref)]
    print("  runs (s): " + "; ".join(f"{n} {' '.join(f'{t:.2f}' for t in r.times)}" for n, r in named))


def upstream_bytes(version: str, mirror: str) -> int:
    """Bytes of the release assets the pre-build parses for ``version``."""
    lock = load_lock(default_lock_path())
    return sum(Path(mirrored(a.url, mirror)).stat().st_size for a in lock.assets("kserve", version))


def table(bench: Bench) -> None:
    versions = load_lock(default_lock_path()).versions("kserve")
    print(f"mode={bench.args.mode} runs={bench.args.runs} (median wall time; ms/MB: per MB of upstream YAML)")
    head = f"  {'version':9s} {'upstream MB':>11s} {'cold s':>7s} {'cold ms/MB':>10s} {'warm s':>7s}"
    head += f" {'warm ms/MB':>10s} {'kustomize s':>11s} {'cold x':>6s} {'warm x':>6s}"
    print(head + f" {'cold cpu s':>10s} {'ms/MB':>5s} {'warm cpu s':>10s} {'ms/MB':>5s} {'kust. cpu s':>11s}")
    for version in versions:
        mb = upstream_bytes(version, bench.args.mirror) / 1e6
        cold, warm, ref = bench.measure(*bench.prepare(version))
        c, w, k = cold.median, warm.median, ref.median
        print(
            f"  {version:9s} {mb:11.2f} {c:7.3f} {1000 * c / mb:10.0f} {w:7.3f}"
            f" {1000 * w / mb:10.0f} {k:11.3f} {c / k:6.2f} {w / k:6.2f}"
            f" {cold.cpu_median:10.3f} {1000 * cold.cpu_median / mb:5.0f}"
            f" {warm.cpu_median:10.3f} {1000 * warm.cpu_median / mb:5.0f} {ref.cpu_median:11.3f}"
        )


def source(bench: Bench, version: str) -> None:
    """Cold source build against kustomize of the extracted tree; warm source vs warm release."""
    lock = load_lock(default_lock_path())
    src = lock.source(version)
    if src is None:
        sys.exit(f"no source {version} in the lock (installer lock list)")
    tree = bench.root / "source-tree"
    with tarfile.open(mirrored(src.url, bench.args.mirror)) as tar:
        tar.extractall(tree, filter="data")
    (top,) = list(tree.iterdir())
    cmd, warm_name, _ = bench.prepare(version, "--set", f"kserve.source={version}")
    cold, warm, ref = bench.measure(cmd, warm_name, top / "config" / "overlays" / "all")
    release_cmd, release_name, _ = bench.prepare(version)
    (release_warm,) = rounds(bench.args.runs, [(release_cmd, lambda: bench.caches(release_name))])
    k = ref.median
    print(f"source={version} mode={bench.args.mode} runs={bench.args.runs}" + UNITS)
    print(row("installer render, source, cold", cold, k))
    print(row("installer render, source, warm", warm, k))
    print(row("installer render, release, warm", release_warm, k))
    print(row("kubectl kustomize overlays/all", ref, k))
    print(f"  warm source render / warm release render: {warm.median / release_warm.median:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mirror", default=str(REPO.parent / "shared" / "upstream"))
    ap.add_argument("--version", default=None, help="KServe version (default: the lock's default)")
    ap.add_argument("--mode", default="RawDeployment")
    ap.add_argument("--table", action="store_true", help="every locked version: upstream bytes vs time")
    ap.add_argument("--source", metavar="VERSION", help="a source build (kserve.source=VERSION)")
    args = ap.parse_args()
    args.mirror = str(Path(args.mirror).resolve())

    # An installed package has compiled bytecode (pip compiles on install); an editable checkout
    # under PYTHONDONTWRITEBYTECODE would recompile every module on every start. Measure the former.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "installer")], check=True)

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        bench = Bench(args, Path(tmp))
        if args.table:
            table(bench)
        elif args.source:
            source(bench, args.source)
        else:
            one_version(bench, args.version)


if __name__ == "__main__":
    main()
