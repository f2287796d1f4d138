"""What the benchmark scripts share: best-of-N timing and running an R script on a data set."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd


def as_read_csv(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` written to CSV and read back with ``pandas.read_csv``: the column types users
    get from a file (string columns as pandas' string dtype, no categoricals)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        df.to_csv(path, index=False, float_format="%.17g")
        return pd.read_csv(path)


def best_of(fn: Callable[[], object], reps: int) -> tuple[float, object]:
    """The fastest of ``reps`` calls of ``fn`` (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def best_of_cpu(fn: Callable[[], object], reps: int) -> tuple[float, float, object]:
    """The fastest of ``reps`` calls of ``fn`` in wall-clock seconds and in CPU seconds of
    this process (all its threads: a multithreaded tool is charged for every core it uses),
    and the last result. CPU time is what to compare on a machine whose other load varies
    between the runs being compared; wall time is what a user waits on an idle machine."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def run_rscript(script: str, data: pd.DataFrame,
                extra_files: Mapping[str, str] | None = None) -> dict | None:
    """Run R ``script`` with the data as a CSV path (first argument) and any extra text files
    (further arguments, in order); the script prints its results as JSON on its last line.

    Returns ``None`` when Rscript is absent or fails (the failure is printed to stderr).
    """
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        data.to_csv(csv, index=False, float_format="%.17g")
        args = [str(csv)]
        for name, text in (extra_files or {}).items():
            (Path(tmp) / name).write_text(text)
            args.append(str(Path(tmp) / name))
        (Path(tmp) / "bench.R").write_text(script)
        proc = subprocess.run(["Rscript", str(Path(tmp) / "bench.R"), *args],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print("R failed:", proc.stderr[-500:], file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])
