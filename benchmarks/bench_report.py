"""Report benchmark: the full demo report set via the batch runner vs. plain papermill, serially.

Side by side, on the demo study's latest wave (city notebooks plus one ``04_district`` run per
中学校区 and 小学校区):

- ``papermill CLI, one after another``: what an analyst would script by hand - the ``papermill``
  command once per notebook run with the same parameters (execution only: no HTML, no
  tables.xlsx, no audit, no manifest);
- ``kyodo batch runner``: :func:`kyodo_analysis.reporting.report.run_report` with a local process
  pool, *including* HTML export, tables.xlsx, the disclosure audit, manifest and publishing.

Usage: ``python benchmarks/bench_report.py [--jobs N] [--fiscal-year FY] [--repeat K]``.
Prints wall-clock seconds and the speed-up (target: >= 1.7x on 2 cores, whole set < 2 min).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kyodo_analysis.demo.generate import generate_demo  # noqa: E402
from kyodo_analysis.demo.spec import DEFAULT_SEED  # noqa: E402
from kyodo_analysis.paths import notebook_dir  # noqa: E402
from kyodo_analysis.reporting.batch import default_jobs  # noqa: E402
from kyodo_analysis.reporting.report import run_report  # noqa: E402
from kyodo_analysis.reporting.suite import plan_runs, suite_for  # noqa: E402
from kyodo_analysis.study import Study  # noqa: E402


def serial_papermill(study: Study, fy: int, work: Path) -> float:
    """Run every notebook of the set with the papermill CLI, one after another."""
    runs = plan_runs(suite_for(study), study, notebook_dir=notebook_dir(),
                     base={"study": str(study.path.resolve()), "fiscal_year": fy})
    papermill = Path(sys.executable).with_name("papermill")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    began = time.perf_counter()
    for r in runs:
        out_dir = work / r.id
        out_dir.mkdir(parents=True)
        args = [str(papermill), str(notebook_dir() / f"{r.stem}.ipynb"), str(out_dir / "out.ipynb"),
                "-k", "python3", "--cwd", str(notebook_dir()), "--no-progress-bar"]
        for key, value in {**r.parameters, "output_dir": str(out_dir)}.items():
            args += ["-p", key, str(value)]
        proc = subprocess.run(args, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"papermill failed on {r.id}: {proc.stderr[-1000:]}")
    return time.perf_counter() - began


def batch(study: Study, fy: int, work: Path, jobs: int) -> tuple[float, int]:
    began = time.perf_counter()
    result = run_report(study, fy, out_root=work, jobs=jobs)
    seconds = time.perf_counter() - began
    if not result.ok:
        raise SystemExit(f"batch run failed: {[n.describe() for n in result.failed]}")
    return seconds, len(result.notebooks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--fiscal-year", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyodo-bench-report-") as tmp:
        tmp = Path(tmp)
        study = Study.from_yaml(generate_demo(tmp / "study", seed=DEFAULT_SEED).root / "study.yaml")
        if hasattr(study, "ensure_imported"):
            study.ensure_imported()
        fy = args.fiscal_year or max(study.fiscal_years)
        serial, parallel, n = [], [], 0
        for i in range(args.repeat):
            serial.append(serial_papermill(study, fy, tmp / f"serial{i}"))
            seconds, n = batch(study, fy, tmp / f"batch{i}", args.jobs)
            parallel.append(seconds)
        s, p = statistics.median(serial), statistics.median(parallel)
        print(f"demo report set: {n} notebook runs, FY{fy}, {os.cpu_count()} CPUs, "
              f"batch jobs={args.jobs}, median of {args.repeat}")
        print(f"  papermill CLI, one after another (execution only): {s:7.1f} s")
        print(f"  kyodo batch runner (execution + HTML + xlsx + audit): {p:7.1f} s")
        print(f"  speed-up: {s / p:.2f}x  (target >= 1.7x; whole set < 120 s: "
              f"{'yes' if p < 120 else 'no'})")


if __name__ == "__main__":
    main()
