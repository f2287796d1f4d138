"""Ingestion benchmark: read, validate and import a 1,000,000-row survey file.

Side by side, each task in a fresh process (time, and peak RSS above the process's own RSS
after imports, from Linux's VmHWM after resetting it):

- ``pandas.read_csv``: the bare read an analyst would start from (numbers inferred);
- ``read_csv + to_sql``: that read plus ``DataFrame.to_sql`` into SQLite (the usual "import");
- ``kyodo validate``: kyodo's reader (encoding detection, short-line check) and validation;
- ``kyodo import``: validation plus the transactional DuckDB import.

Wall-clock seconds and CPU seconds of the process (all threads, DuckDB's included) are both
printed: the gap between them for the import is time spent waiting (disk writes), which
other load on the machine inflates.

Usage: ``python benchmarks/bench_ingest.py [--rows N] [--xlsx-rows N]``. Files are built from
the demo's FY2025 wave with 0.1% of cells corrupted, in CP932 as Excel writes them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODEBOOK = ROOT / "kyodo_analysis" / "demo" / "codebook.yaml"

TASKS = {
    "pandas.read_csv": """
import pandas as pd
frame = pd.read_csv(PATH, encoding="cp932")
EXTRA["in_memory_mb"] = frame.memory_usage(deep=True).sum() / 2**20
""",
    "read_csv + to_sql (sqlite)": """
import sqlite3, pandas as pd
frame = pd.read_csv(PATH, encoding="cp932")
with sqlite3.connect(TMP + "/base.sqlite") as con:
    frame.to_sql("responses", con, index=False, if_exists="replace")
""",
    "kyodo validate": """
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import validate
cb = Codebook.from_yaml(CODEBOOK)
result = validate(read_table(PATH, text_columns=cb.text_headers()), cb)
EXTRA["accepted"], EXTRA["quarantined"] = result.n_accepted, result.n_quarantined
""",
    "kyodo validate + import (duckdb)": """
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import validate
from kyodo_analysis.store import Store
cb = Codebook.from_yaml(CODEBOOK)
result = validate(read_table(PATH, text_columns=cb.text_headers(),
                             known_headers=set(cb.header_aliases())), cb)
with Store(TMP + "/kyodo.duckdb") as store:
    store.import_wave(result, study="bench", fiscal_year=2025, codebook=cb, replace=True)
""",
}

RUNNER = """
import json, sys, time
PATH, TMP, CODEBOOK = sys.argv[1], sys.argv[2], sys.argv[3]
EXTRA = {{}}
import pandas, numpy, duckdb, openpyxl, pyarrow, pyarrow.compute  # imports are not measured
import kyodo_analysis.io.validate, kyodo_analysis.store

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

with open("/proc/self/clear_refs", "w") as f:  # reset the peak-RSS mark (VmHWM) to now
    f.write("5")
base = status("VmRSS")
t0, c0 = time.perf_counter(), time.process_time()
{body}
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"seconds": elapsed, "cpu_seconds": cpu, "peak_mb": status("VmHWM") - base, **EXTRA}}))
"""


def build_file(rows: int, out: Path, *, xlsx: bool = False) -> Path:
    import numpy as np
    import pandas as pd

    from kyodo_analysis.demo.generate import generate_demo

    with tempfile.TemporaryDirectory() as tmp:
        study = generate_demo(Path(tmp) / "demo")
        wave = pd.read_csv(study.root / "raw" / "survey_FY2025.csv", encoding="utf-8-sig",
                           dtype=str, keep_default_na=False)
    reps = rows // len(wave) + 1
    big = pd.DataFrame(np.tile(wave.to_numpy(), (reps, 1))[:rows], columns=wave.columns)
    big["回答者ID"] = np.char.add("R", np.arange(rows).astype(str))
    rng = np.random.default_rng(7)
    bad = rng.choice(rows, size=rows // 1000, replace=False)
    big.loc[bad, "問1"] = "7"
    if xlsx:
        path = out / "big.xlsx"
        big.to_excel(path, index=False, engine="openpyxl")
    else:
        path = out / "big.csv"
        big.to_csv(path, index=False, encoding="cp932", lineterminator="\r\n")
    return path


def run_task(name: str, body: str, path: Path, tmp: Path) -> dict:
    code = RUNNER.format(body=body)
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(tmp), str(CODEBOOK)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=0,
                        help="also time an xlsx file of this many rows (slow to build)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = [("csv", build_file(args.rows, tmp))]
        if args.xlsx_rows:
            files.append(("xlsx", build_file(args.xlsx_rows, tmp, xlsx=True)))
        for kind, path in files:
            size = path.stat().st_size / 2**20
            print(f"\n{kind}: {path.name}, {size:.0f} MiB")
            tasks = TASKS if kind == "csv" else {
                "pandas.read_excel": "import pandas as pd\nframe = pd.read_excel(PATH)\n"
                                     "EXTRA['in_memory_mb'] = frame.memory_usage(deep=True).sum() / 2**20\n",
                "kyodo validate + import (duckdb)": TASKS["kyodo validate + import (duckdb)"],
            }
            results = {name: run_task(name, body, path, tmp) for name, body in tasks.items()}
            base = next(iter(results.values()))
            print(f"{'task':36} {'seconds':>8} {'x base':>7} {'cpu s':>7} {'x base':>7} "
                  f"{'peak MiB':>9} {'x data':>7}")
            for name, r in results.items():
                print(f"{name:36} {r['seconds']:8.2f} {r['seconds'] / base['seconds']:7.2f} "
                      f"{r['cpu_seconds']:7.2f} {r['cpu_seconds'] / base['cpu_seconds']:7.2f} "
                      f"{r['peak_mb']:9.0f} {r['peak_mb'] / base['in_memory_mb']:7.2f}")
            print(f"(in-memory size of the data as pandas reads it: {base['in_memory_mb']:.0f} MiB)")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
