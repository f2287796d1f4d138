"""Benchmark: everything the awareness page (notebook 07) computes, on one demo wave.

On the demo study's FY2025 wave (about 1,560 respondents, raked design), times each step
the page runs, with the page's own calls — Likert distributions and summaries of every
declared scale, reliability (alpha linearised, omega with 50 Rao–Wu bootstrap replicates
shared by the scales, raking redone in each), parallel analysis and the factor model, the
importance–satisfaction map (both definitions, and the previous wave's map with the
movement between them), the drivers (a survey-weighted logit and its average marginal
effects per outcome) and the segments (k-means over the k range, stability across seeds and
bootstrap) with their profiles by attribute and district — and their total. The design of
the wave itself is built once beforehand (every page shares it); the previous wave's design
is part of the page.

The issue's target is under 10 s for all of it on one wave. Each step is printed in
wall-clock and in CPU seconds of the process (all threads): on a machine shared with other
load, CPU time is the steadier figure and what the target compares against; the load
average is printed beside the figures. The first steps pay for imports (scikit-learn,
formulaic); a second pass (``--repeat 2``) shows the steady state.

Run: ``python benchmarks/bench_awareness.py [--study path/to/study.yaml] [--fiscal-year 2025]
[--repeat 1]`` (without ``--study`` a demo study is generated into a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kyodo_analysis.evaluation import awareness as aw
from kyodo_analysis.evaluation.importance import importance_satisfaction, movement
from kyodo_analysis.study import Study

TARGET = 10.0


def page_steps(study: Study, fy: int, design) -> dict:
    """The page's computations, one callable per section (as notebooks/_generate.py c07)."""
    cb = study.codebook
    spec = cb.awareness
    earlier = [y for y in study.fiscal_years if y < fy]

    def is_map() -> None:
        now = {d: importance_satisfaction(design, cb, spec.pairs, definition=d)
               for d in ("mean", "share")}
        if earlier:
            before = importance_satisfaction(study.design(earlier[-1]), cb, spec.pairs,
                                             definition="mean")
            movement(before, now["mean"])

    def segments() -> None:
        sg = aw.segments_section(design, cb, spec)
        dims = ([(a.name, a.column) for a in study.attributes]
                + [(lv.name, lv.column) for lv in study.district_levels])
        if dims:
            aw.segment_profiles(design, cb, sg, dims)

    return {
        "likert": lambda: [aw.likert_section(design, cb, g) for g in spec.groups],
        "reliability": lambda: aw.reliability_table(design, cb, spec),
        "factors": lambda: aw.factor_section(design, cb, max(spec.groups,
                                                              key=lambda g: len(g.items))),
        "importance_satisfaction": is_map,
        "drivers": lambda: aw.drivers(design, cb, spec),
        "segments": segments,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", default=None)
    ap.add_argument("--fiscal-year", type=int, default=2025)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.study is None:
            from kyodo_analysis.demo.generate import generate_demo

            path = generate_demo(Path(tmp) / "demo").study_file
        else:
            path = Path(args.study)
        study = Study.from_yaml(path)
        study.import_waves()
        design = study.design(args.fiscal_year)
        steps = page_steps(study, args.fiscal_year, design)
        for rep in range(1, args.repeat + 1):
            wall = cpu = 0.0
            print(f"pass {rep}, load average {os.getloadavg()[0]:.2f} "
                  f"on {os.cpu_count()} cores")
            print(f"{'step':<26}{'wall s':>9}{'cpu s':>9}")
            for name, fn in steps.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                dw, dc = time.perf_counter() - t0, time.process_time() - c0
                wall += dw
                cpu += dc
                print(f"{name:<26}{dw:>9.2f}{dc:>9.2f}")
            verdict = "met" if cpu < TARGET else "NOT met"
            print(f"{'total':<26}{wall:>9.2f}{cpu:>9.2f}   (target < {TARGET:.0f} s: {verdict} "
                  f"in CPU time; load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
