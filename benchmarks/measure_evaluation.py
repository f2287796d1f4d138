"""Measurement: the evaluation against the demo's known truth, on seeds the suite never uses.

Not a timing benchmark (``make bench`` does not run it) and not a test: it prints the four
figures the evaluation issue asks for, over several fresh demo studies, for the closing
note and docs/evaluation.md —

1. **coverage** of the 95% intervals of the survey indicators (city, 中学校区, 小学校区,
   every wave), and a back-test of the forecasts (trends fitted on early years, 95%
   prediction intervals checked against the later years' published values);
2. **grade agreement**: every city indicator-year after the baseline (survey and activity)
   graded like the truth under the same rule; H 判定保留 counted apart, with whether its
   range holds the truth's grade;
3. **status agreement**: every city indicator × target year, the outlook (見通し) evaluated
   on all data beside the outlook of an analyst who knew the true process
   (:func:`kyodo_analysis.demo.truth.status_agreement`);
4. **false detections** of the ITS plan test at 5% under an AR(1) null (ρ = 0, 0.5, 0.8).

Why a script and not a slow test: seven seeds take about 7 minutes on a loaded 2-core
machine, over the CI budget; tests/test_evaluation_truth.py keeps assertion tests of 1–3 on
three other seeds (7101–7103). The default seeds here, 7201–7207, are used nowhere else.

Run: ``python benchmarks/measure_evaluation.py [--seeds 7201-7207] [--work DIR]
[--its-series 2000]`` (``--work`` keeps the generated studies between runs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from kyodo_analysis.demo import spec
from kyodo_analysis.demo import truth as dt
from kyodo_analysis.evaluation.compute import indicator_history
from kyodo_analysis.evaluation.registry import CITY, load_registry
from kyodo_analysis.evaluation.trends import indicator_trends
from kyodo_analysis.stats.its import segmented_regression
from kyodo_analysis.stats.trends import fit_count_trend, forecast, survey_trend
from kyodo_analysis.study import Study


def seeds_arg(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def back_test(study: Study) -> pd.DataFrame:
    """Survey: fitted on the waves before the last, the last wave's city estimate inside the
    95% prediction interval? Activity: the count model fitted up to two years before the
    last, the last two counts inside their 95% prediction intervals?"""
    reg = load_registry(study)
    hist = indicator_history(study, registry=reg)
    hist = hist[hist["domain"] == CITY]
    last = max(study.fiscal_years)
    rows = []
    for ind in reg:
        h = hist[hist["indicator_id"] == ind.id].set_index("fiscal_year").sort_index()
        if ind.kind == "survey":
            early = h[h.index < last]
            f = survey_trend(early["estimate"] / 100, early["se"] / 100,
                             forecast_years=[last]).forecasts.iloc[0]
            obs = h.loc[last, "estimate"] / 100
            rows.append({"kind": "survey", "indicator_id": ind.id, "year": last,
                         "covered": f["pi_low"] <= obs <= f["pi_high"]})
        else:
            y = h["estimate"]
            cut = last - 2
            fit = fit_count_trend(y[y.index <= cut], plan_start=study.plan.start,
                                  covid_years=study.plan.disrupted_years)
            fc = forecast(fit, [cut + 1, cut + 2], n_sim=5000, seed=0)
            for _, f in fc.iterrows():
                obs = y.loc[int(f["year"])]
                rows.append({"kind": "activity", "indicator_id": ind.id, "year": int(f["year"]),
                             "covered": f["pi_low"] <= obs <= f["pi_high"]})
    return pd.DataFrame(rows)


def its_null(seeds: list[int], n_series: int) -> dict[float, float]:
    out = {}
    for rho in (0.0, 0.5, 0.8):
        rng = np.random.default_rng([seeds[0], int(10 * rho)])
        rej = [segmented_regression(dt.ar1_null_series(rng, rho), start=spec.PLAN_START,
                                    disrupted=spec.COVID_YEARS).plan_p < 0.05
               for _ in range(n_series)]
        out[rho] = float(np.mean(rej))
    return out


def grade_report(g: pd.DataFrame) -> None:
    """Grades against the truth's grade: given grades, H, and every statement (H's range)."""
    g = g.copy()
    g["agree"] = g["grade"] == g["truth_grade"]
    g["consistent"] = g.apply(dt.consistent, axis=1)
    for kind, part in [("all", g), *g.groupby("kind")]:
        given = part[part["grade"] != "H"]
        print(f"2. grades, {kind}: {len(part)} city indicator-years; given {len(given)}, "
              f"agree {int(given['agree'].sum())}"
              f" ({pct(given['agree'].mean()) if len(given) else '-'}); "
              f"H {int((part['grade'] == 'H').sum())}; all statements consistent "
              f"{int(part['consistent'].sum())}/{len(part)} ({pct(part['consistent'].mean())})")


def status_report(s: pd.DataFrame) -> None:
    """Outlook against the truth: equal to the truth's status under the same rule; claims
    (順調 / 遅れ) against whether the true value reaches the target; the rest held."""
    s = s.copy()
    s["agree"] = s["status"] == s["truth_status"]
    s["right"] = (s["status"] == "on track") == s["truth_reached"]
    for kind, part in [("all", s), *s.groupby("kind")]:
        c = part[part["status"].isin(["on track", "off track"])]
        print(f"3. status, {kind}: {len(part)} indicator × target years; equal to the truth's status "
              f"(same rule on the true process) {int(part['agree'].sum())} ({pct(part['agree'].mean())}); "
              f"claims 順調/遅れ {len(c)}, right about reaching {int(c['right'].sum())}"
              f" ({pct(c['right'].mean()) if len(c) else '-'}); not claimed {len(part) - len(c)}")
    print("   status × truth_status:")
    print(pd.crosstab(s["status"], s["truth_status"], margins=True).to_string())


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("7201-7207"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--its-series", type=int, default=2000)
    ap.add_argument("--parts", default="coverage,grades,status,its",
                    help="comma-separated subset of coverage, grades, status, its")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.work or tmp)
        cov, bt, grades, status = [], [], [], []
        for seed in args.seeds:
            study = dt.open_seed(root, seed)
            reg = load_registry(study)
            if "coverage" in parts:
                cov.append(dt.coverage(study, reg).assign(seed=seed))
                bt.append(back_test(study).assign(seed=seed))
            if "grades" in parts:
                grades.append(dt.grade_agreement(study, reg, kinds=("survey", "activity"))
                              .assign(seed=seed))
            if "status" in parts:
                tr = indicator_trends(study, registry=reg)
                status.append(dt.status_agreement(study, seed, tr, reg).assign(seed=seed))
            print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print(f"seeds {args.seeds[0]}–{args.seeds[-1]} ({len(args.seeds)})")
    if cov:
        cov_df, bt_df = pd.concat(cov), pd.concat(bt)
        print(f"1. 95% CI coverage (survey, city + districts, all waves): "
              f"{pct(cov_df['covered'].mean())} of {len(cov_df)}")
        for kind, part in bt_df.groupby("kind"):
            print(f"   back-test 95% PI coverage, {kind}: {pct(part['covered'].mean())} "
                  f"of {len(part)}")
    if grades:
        g = pd.concat(grades)
        if args.work:
            g.to_csv(Path(args.work) / "grades.csv", index=False)
        grade_report(g)
    if status:
        s = pd.concat(status)
        if args.work:
            s.to_csv(Path(args.work) / "status.csv", index=False)
        status_report(s)
    if "its" in parts:
        null = its_null(args.seeds, args.its_series)
        print(f"4. ITS false detections at 5%, AR(1) null, {args.its_series} series each: "
              + ", ".join(f"rho={r}: {pct(v)}" for r, v in null.items()))
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
