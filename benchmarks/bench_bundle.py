"""Partner-bundle benchmark: bundling the demo study (target < 20 s) and reproducing every
published table from the bundle (target < 3 min on 2 cores, environment creation included).

Steps: generate the demo study, publish its report (not timed), ``kyodo bundle`` (timed), then
``kyodo reproduce bundle.zip`` in a fresh folder (timed). By default the environment is created
from the bundle's lock (``python3 -m venv`` + ``pip install --require-hashes``: needs the
package index); ``--reuse-python`` runs in this interpreter instead (no network).

Usage: ``python benchmarks/bench_bundle.py [--jobs N] [--reuse-python] [--reports DIR]``
(``--reports`` reuses a published demo run under DIR instead of publishing one).
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

from kyodo_analysis.bundle import build_bundle  # noqa: E402
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
        print(f"bundling: {bundling:.1f} s wall, {cpu1.user - cpu0.user:.1f} s CPU "
              f"(target < 20 s) -> {'ok' if bundling < 20 else 'SLOW'}")
        cmd = [sys.executable, "-m", "kyodo_analysis.cli", "reproduce", str(result.path),
               "--workdir", str(work / "partner"), "-j", str(args.jobs)]
        if args.reuse_python:
            cmd += ["--python", "current"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        reproducing = time.perf_counter() - t0
        summary = [line for line in done.stdout.splitlines() if line.startswith("tables identical")]
        print(f"reproducing: {reproducing:.1f} s (target < 180 s) -> "
              f"{'ok' if reproducing < 180 else 'SLOW'}; exit {done.returncode}; "
              f"{summary[-1] if summary else done.stderr.strip()[-300:]}")
        return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
