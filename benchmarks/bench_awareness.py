"""Benchmark: everything of the awareness page (notebook 07) on one demo wave.

On the demo study's FY2025 wave (about 1,560 respondents, raked design), times each step
the page runs — Likert distributions and summaries of every declared scale, reliability
(alpha linearised, omega with 50 Rao–Wu bootstrap replicates shared by the scales), parallel
analysis and the factor model, the importance–satisfaction map (both definitions), the
drivers (a survey-weighted logit and its average marginal effects per outcome) and the
segments (k-means over the k range, stability across seeds and bootstrap) — and their
total. The issue's target is under 10 s for all of it on one wave (one core, unloaded).

Run: ``python benchmarks/bench_awareness.py [--study path/to/study.yaml] [--fiscal-year 2025]``
(without ``--study`` a demo study is generated into a temporary folder).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kyodo_analysis.evaluation import awareness as aw
from kyodo_analysis.evaluation.importance import importance_satisfaction
from kyodo_analysis.study import Study


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", default=None)
    ap.add_argument("--fiscal-year", type=int, default=2025)
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
        cb = study.codebook
        spec = cb.awareness
        steps = {
            "likert": lambda: [aw.likert_section(design, cb, g) for g in spec.groups],
            "reliability": lambda: aw.reliability_table(design, cb, spec),
            "factors": lambda: aw.factor_section(design, cb, max(spec.groups,
                                                                  key=lambda g: len(g.items))),
            "importance_satisfaction": lambda: [importance_satisfaction(design, cb, spec.pairs,
                                                                        definition=d)
                                                for d in ("mean", "share")],
            "drivers": lambda: aw.drivers(design, cb, spec),
            "segments": lambda: aw.segments_section(design, cb, spec),
        }
        total = 0.0
        print(f"{'step':<26}{'seconds':>9}")
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            total += dt
            print(f"{name:<26}{dt:>9.2f}")
        print(f"{'total':<26}{total:>9.2f}   (target < 10 s)")


if __name__ == "__main__":
    main()
