"""Partner-bundle benchmark: bundling the demo study (target < 20 s) and reproducing every
published table from the bundle (target < 3 min on 2 cores, environment creation included).

Steps: generate the demo study, publish its report (not timed), ``kyodo bundle`` (timed), then
``kyodo reproduce bundle.zip`` in a fresh folder (timed). By default the environment is created
from the bundle's lock: ``python3 -m venv --without-pip``, then uv (pinned in the lock, taken
from the local wheel cache) runs ``uv pip install --require-hashes --no-deps --no-index`` from
the cache, after the wheels the cache lacks are downloaded into it (needs the package index);
pip is the fallback. The figure says whether the wheel cache was complete and whether uv's
cache of unpacked wheels (the wheel cache's ``.uv`` folder: a second environment links instead
of unpacking) was there; the lines below it give the seconds of verifying the files and of
making the environment, and which installer made it. ``--reuse-python`` runs in this
interpreter instead (no environment is made). The machine's load average is printed beside
each figure: on a shared machine wall time follows the load, CPU time much less.

Usage: ``python benchmarks/bench_bundle.py [--jobs N] [--reuse-python] [--wheels DIR]
[--study study.yaml --reports DIR] [--differences]`` (``--reports`` reuses a published demo run under DIR
instead of publishing one; ``--wheels`` names the wheel cache, as ``$KYODO_WHEELS``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kyodo_analysis.bundle import bootstrap, build_bundle  # noqa: E402
from kyodo_analysis.demo.generate import generate_demo  # noqa: E402
from kyodo_analysis.demo.spec import DEFAULT_SEED  # noqa: E402
from kyodo_analysis.reporting.report import run_report  # noqa: E402
from kyodo_analysis.study import open_study  # noqa: E402

FY = 2025


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reuse-python", action="store_true")
    parser.add_argument("--study", type=Path, default=None,
                        help="a generated demo study.yaml (default: generate one)")
    parser.add_argument("--reports", type=Path, default=None)
    parser.add_argument("--differences", action="store_true",
                        help="also print every differing table with its cause")
    parser.add_argument("--wheels", type=Path, default=None,
                        help="wheel cache for the environment (default: $KYODO_WHEELS or "
                             "~/.cache/kyodo/wheels)")
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        work = Path(tmp)
        study_file = args.study or generate_demo(work / "demo", seed=DEFAULT_SEED).study_file
        study = open_study(study_file)
        reports = args.reports
        if reports is None:
            reports = work / "reports"
            t0 = time.perf_counter()
            report = run_report(study, FY, out_root=reports, jobs=args.jobs)
            print(f"report (not timed): {time.perf_counter() - t0:.1f} s, ok={report.ok}")
        t0 = time.perf_counter()
        cpu0 = os.times()
        result = build_bundle(study, FY, out=work / "out" / "bundle.zip", reports_root=reports)
        cpu1 = os.times()
        bundling = time.perf_counter() - t0
        cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system
               + cpu1.children_user - cpu0.children_user
               + cpu1.children_system - cpu0.children_system)
        print(f"bundling: {bundling:.1f} s wall, {cpu:.1f} s CPU with its helper process "
              f"(target < 20 s) -> {'ok' if bundling < 20 else 'SLOW'}; load {_load()}")
        cmd = [sys.executable, "-m", "kyodo_analysis.cli", "reproduce", str(result.path),
               "--workdir", str(work / "partner"), "-j", str(args.jobs)]
        if args.reuse_python:
            cmd += ["--python", "current"]
        if args.wheels is not None:
            os.environ["KYODO_WHEELS"] = str(args.wheels)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        how = "in this interpreter"
        if not args.reuse_python:
            cache = bootstrap.wheel_cache()
            warm = cache is not None and bootstrap._cached(
                cache, bootstrap._pins(ROOT / "requirements.lock"))
            unpacked = cache is not None and (cache / ".uv").is_dir()
            how = (f"environment from the lock, wheel cache {cache} "
                   f"{'complete' if warm else 'lacking wheels: downloaded'}, uv's cache "
                   f"{'present' if unpacked else 'empty'}")
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        reproducing = time.perf_counter() - t0
        summary = [line for line in done.stdout.splitlines() if line.startswith("tables identical")]
        print(f"reproducing: {reproducing:.1f} s (target < 180 s) -> "
              f"{'ok' if reproducing < 180 else 'SLOW'}; load {_load()}; {how}; "
              f"exit {done.returncode}; "
              f"{summary[-1] if summary else done.stderr.strip()[-300:]}")
        for line in done.stdout.splitlines():
            if line.startswith(("files verified", "environment:", "notebook runs rerun")) or (
                    "NOT explained" in line) or (args.differences and line.startswith("  ")):
                print("  " + line)
        if done.returncode:
            print(done.stderr.strip()[-2000:])
        return 0 if done.returncode == 0 else 1


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
