"""The evaluation checked against the demo's known truth (shared by tests and benchmarks).

A demo study is generated from a seed (:func:`~kyodo_analysis.demo.generate.generate_demo`)
and writes what is true: the finite-population value of every survey indicator in each wave
year (``truth/truth_indicators.csv``) and the parameters of every simulated activity series
(``truth/truth.json``). This module compares the evaluation's output with that truth:

* :func:`coverage`: do the 95% intervals of the survey indicators hold the truth?
* :func:`grade_agreement`: is the grade of each city indicator-year the grade the truth gets
  under the same rule?
* :func:`status_agreement`: is the outlook (見通し) for each target year the outlook of an
  analyst who knew the true process? The truth of a *future* year is built here: the survey
  population's answers in that year (:func:`projected_survey_truth`, the same population
  and answer model as the generator) and the expected counts of the activity series
  (:func:`series_mu`, the generator's formula).
* :func:`ar1_null_series`: activity-like series with AR(1) noise and no plan effect, for the
  false-detection rate of the ITS.

It knows the demo's layout (years, plan start, disrupted years) and lives in ``demo/`` for
that reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from kyodo_analysis.demo import spec

__all__ = [
    "ORDER",
    "activity_components",
    "ar1_null_series",
    "consistent",
    "coverage",
    "grade_agreement",
    "open_seed",
    "projected_survey_truth",
    "series_mu",
    "status_agreement",
    "truth_table",
    "truth_values",
]

#: Grades from worst to best (for the ranges of H 判定保留).
ORDER = "DCBAS"


# ----------------------------------------------------------------------------- the truth
def truth_values(answers: pd.DataFrame) -> pd.DataFrame:
    """Per-person 0/1 (or score) values of the headline indicators, named as in
    ``truth_indicators.csv``, from the true answers of :func:`simulate_answers`."""
    return pd.DataFrame({
        "awareness_top2": answers["q1"].isin([1, 2]),
        "interest_top2": answers["q2"].isin([1, 2]),
        "participation_any": answers["q3_6"] == 0,
        "participation_workshop": answers["q3_4"] == 1,
        "participation_volunteer": answers["q3_2"] == 1,
        "intention_top3": answers["q4"].isin([1, 2, 3]),
        "intention_none": answers["q4"] == 4,
        **{f"satisfaction_score_{k}": 3 - answers[f"q5_{k}"] for k in range(1, 6)},
        **{f"importance_score_{k}": 3 - answers[f"q6_{k}"] for k in range(1, 6)},
        **{f"satisfied_top2_{k}": answers[f"q5_{k}"].isin([1, 2]) for k in range(1, 6)},
    }).astype(float)


def truth_table(study: Any) -> pd.DataFrame:
    """``truth_indicators.csv`` of a demo study, values in percent."""
    t = pd.read_csv(Path(study.root) / "truth" / "truth_indicators.csv")
    t["value"] = 100 * t["value"]
    return t


def projected_survey_truth(seed: int, years: Iterable[int]) -> pd.DataFrame:
    """City-wide true values (percent) of the survey indicators in years without a wave.

    The generator's population is rebuilt from ``seed`` (it is the first thing drawn) and
    its answers in each year are drawn from the generator's answer model with a stream of
    their own (``default_rng([seed, year])``), so the waves' files are not disturbed. The
    value is a finite-population share, as in the waves' truth: another draw differs by
    about 0.15 points.

    Returns
    -------
    pandas.DataFrame
        ``fiscal_year, indicator, value``.
    """
    from kyodo_analysis.demo.generate import make_population, simulate_answers

    pop = make_population(np.random.default_rng(seed))
    adults = pop[pop["age"] >= 18].reset_index(drop=True)
    rows = []
    for fy in years:
        answers = simulate_answers(adults, int(fy), np.random.default_rng([seed, int(fy)]))
        means = truth_values(answers).mean()
        rows += [{"fiscal_year": int(fy), "indicator": k, "value": 100 * float(v)}
                 for k, v in means.items()]
    return pd.DataFrame(rows)


def series_mu(params: dict[str, Any], years: Sequence[int] | np.ndarray) -> np.ndarray:
    """Expected count of one simulated activity series in ``years`` (the generator's model):
    ``exp(intercept + trend t + covid D + plan_level P + plan_slope (year - start) P)``,
    ``t`` = years since the first activity year."""
    yrs = np.asarray(years)
    t = yrs - spec.ACTIVITY_YEARS[0]
    covid = np.isin(yrs, spec.COVID_YEARS).astype(float)
    post = (yrs >= spec.PLAN_START).astype(float)
    since = (yrs - spec.PLAN_START) * post
    return np.exp(params["intercept"] + params["trend"] * t + params["covid"] * covid
                  + params["plan_level"] * post + params["plan_slope"] * since)


def activity_components(truth: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """The simulated series an activity column is made of: the series of that label, or
    (the workshop total) every series labelled ``label（district）``."""
    series = truth["activity_series"].values()
    exact = [s for s in series if s["label"] == label]
    return exact or [s for s in series if s["label"].startswith(label + "（")]


def _true_count_probability(parts: list[dict[str, Any]], year: int, target: float,
                            direction: str, rng: np.random.Generator,
                            n_sim: int = 20_000) -> float:
    """P(the target year's count meets the target) when the process is known: the sum of
    the parts' Poisson / NB2 counts at their true expected values."""
    total = np.zeros(n_sim)
    for p in parts:
        mu = float(series_mu(p, [year])[0])
        a = float(p.get("nb_alpha", 0.0))
        lam = rng.gamma(1 / a, a * mu, size=n_sim) if a > 0 else np.full(n_sim, mu)
        total += rng.poisson(lam)
    hit = total >= target if direction == "higher" else total <= target
    return float(hit.mean())


# ----------------------------------------------------------------------------- the checks
def coverage(study: Any, registry: Any = None) -> pd.DataFrame:
    """One row per survey indicator × wave × domain (city and every district level):
    estimate, interval, truth and ``covered``."""
    from kyodo_analysis.evaluation.compute import indicator_history
    from kyodo_analysis.evaluation.registry import load_registry

    registry = registry or load_registry(study)
    key = {i.id: i.truth for i in registry if i.kind == "survey" and i.truth}
    truth = truth_table(study)
    truth["domain_type"] = truth["domain_type"].replace({"city": "市全体"})
    rows = []
    for level in ["市全体", *(lv.name for lv in study.district_levels)]:
        h = indicator_history(study, registry=registry, domain=level)
        h = h[h["indicator_id"].isin(key)].assign(
            indicator=lambda d: d["indicator_id"].map(key), domain_type=level)
        rows.append(h.merge(truth, on=["fiscal_year", "domain_type", "domain", "indicator"]))
    out = pd.concat(rows, ignore_index=True)
    out["covered"] = (out["ci_low"] <= out["value"]) & (out["value"] <= out["ci_high"])
    return out


def grade_agreement(study: Any, registry: Any = None, years: Sequence[int] | None = None,
                    rule: Any = None, kinds: Sequence[str] = ("survey",)) -> pd.DataFrame:
    """City indicator-years: the estimated grade beside the truth's grade.

    The truth's grade uses the same rule on exact values. Survey: the true value of the year
    against the true value of the baseline year and the registry target. Activity: the
    count is a census, so its truth is the published count against the registry baseline
    (the check is that the grade is the rule's grade of the exact values)."""
    from kyodo_analysis.evaluation.compute import compute_indicators
    from kyodo_analysis.evaluation.grading import grade
    from kyodo_analysis.evaluation.registry import load_registry

    registry = registry or load_registry(study)
    truth = truth_table(study)
    city = truth[truth["domain_type"] == "city"].set_index(["indicator", "fiscal_year"])["value"]
    years = years or [y for y in study.fiscal_years if y > min(study.fiscal_years)]
    rows = []
    for fy in years:
        res = compute_indicators(study, fy, registry=registry, rule=rule)
        for _, r in res[res["kind"].isin(kinds)].iterrows():
            ind = registry[r["indicator_id"]]
            if r["grade"] == "-" or (ind.kind == "survey" and not ind.truth):
                continue
            t_year, t_val = ind.target_for(fy)
            if ind.kind == "survey":
                actual = city[(ind.truth, fy)]
                base = city[(ind.truth, ind.baseline.fiscal_year)]
            else:
                actual, base = r["estimate"], ind.baseline.value
            true = grade(actual, base, t_val, direction=ind.direction,
                         rule=rule or ind.rule, year=fy,
                         baseline_year=ind.baseline.fiscal_year, target_year=t_year)
            rows.append({"indicator_id": ind.id, "kind": ind.kind, "fiscal_year": fy,
                         "grade": r["grade"], "grade_range": r["grade_range"],
                         "truth_grade": true["grade"].item()})
    return pd.DataFrame(rows)


def consistent(row: pd.Series) -> bool:
    """The estimated grade agrees with the truth's: the same grade, or for H the truth's
    grade inside the range of bands the interval spans (e.g. B〜S)."""
    if row["grade"] != "H":
        return bool(row["grade"] == row["truth_grade"])
    rng = row["grade_range"]
    if not isinstance(rng, str) or not rng:
        return True     # held without an interval: no claim is made
    lo, hi = rng.split("〜") if "〜" in rng else (rng, rng)
    return ORDER.index(lo) <= ORDER.index(row["truth_grade"]) <= ORDER.index(hi)


def status_agreement(study: Any, seed: int, trends: Any = None, registry: Any = None,
                     *, level: float = 0.95) -> pd.DataFrame:
    """City indicators × target years: the outlook beside what is true.

    Three readings of the truth:

    * ``truth_reached``: the true value of the target year meets the target (survey: the
      population's value, :func:`projected_survey_truth`; activity: the series' true
      expected count). An outlook of 順調 or 遅れ is right when it says the same.
    * ``truth_prob``: what an analyst who knew the process would give as the probability
      that the target year's *published* value meets the target: survey, the survey
      estimate with the latest wave's standard error around the true value; activity, the
      Poisson / NB2 count at the true expected value.
    * ``truth_status``: ``truth_prob`` classified by the report's rule
      (:func:`~kyodo_analysis.evaluation.status.track_status` at ``level``), and
      ``truth_status_70_30``: by the former thresholds (順調 ≥ 70% > 要注意 ≥ 30% > 遅れ),
      kept to compare with earlier measurements.

    Returns
    -------
    pandas.DataFrame
        ``indicator_id, kind, target_year, target, estimate, pi_low, pi_high, prob_reach,
        status, truth_value, truth_reached, truth_prob, truth_status, truth_status_70_30``.
    """
    from kyodo_analysis.evaluation.registry import CITY, load_registry
    from kyodo_analysis.evaluation.status import track_status
    from kyodo_analysis.evaluation.trends import indicator_trends

    registry = registry or load_registry(study)
    trends = trends if trends is not None else indicator_trends(study, registry=registry)
    truth = json.loads((Path(study.root) / "truth" / "truth.json").read_text(encoding="utf-8"))
    fc = trends.forecasts
    years = sorted(set(fc["target_year"]))
    survey = projected_survey_truth(seed, years).set_index(["indicator", "fiscal_year"])
    hist = trends.history[trends.history["domain"] == CITY]
    rng = np.random.default_rng([seed, 1])
    rows = []
    for _, f in fc.iterrows():
        ind = registry[f["indicator_id"]]
        year, target = int(f["target_year"]), float(f["target"])
        if ind.kind == "survey":
            if not ind.truth:
                continue
            value = float(survey.loc[(ind.truth, year), "value"])
            h = hist[hist["indicator_id"] == ind.id].sort_values("fiscal_year")
            se = float(h["se"].iloc[-1])
            z = (value - target) / se
            prob = float(norm.cdf(z) if ind.direction == "higher" else norm.sf(z))
        else:
            parts = [c for label in ind.source.series for c in activity_components(truth, label)]
            value = float(sum(series_mu(p, [year])[0] for p in parts))
            prob = _true_count_probability(parts, year, target, ind.direction, rng)
        reached = value >= target if ind.direction == "higher" else value <= target
        rows.append({"indicator_id": ind.id, "kind": ind.kind, "target_year": year,
                     "target": target, "estimate": f["estimate"], "pi_low": f["pi_low"],
                     "pi_high": f["pi_high"], "prob_reach": f["prob_reach"],
                     "status": f["status"], "truth_value": value, "truth_reached": reached,
                     "truth_prob": prob,
                     "truth_status": track_status(prob, level=level).status,
                     "truth_status_70_30": ("on track" if prob >= 0.7 else "off track"
                                            if prob < 0.3 else "at risk")})
    return pd.DataFrame(rows)


def ar1_null_series(rng: np.random.Generator, rho: float, *, sd: float = 0.08,
                    effect: tuple[float, float] = (0.0, 0.0)) -> pd.Series:
    """A yearly activity-like series over the demo's activity years: log-linear trend, a
    drop in the disrupted years, AR(1) noise (``rho``, innovation ``sd`` on the log scale)
    and a plan effect ``(level change, slope change)`` from the plan start (none by
    default)."""
    years = np.asarray(spec.ACTIVITY_YEARS)
    n = len(years)
    e = np.zeros(n)
    e[0] = rng.normal(0, sd / np.sqrt(1 - rho**2))
    for i in range(1, n):
        e[i] = rho * e[i - 1] + rng.normal(0, sd)
    post = (years >= spec.PLAN_START).astype(float)
    logmu = (5 + 0.02 * (years - years[0]) - 0.3 * np.isin(years, spec.COVID_YEARS)
             + effect[0] * post + effect[1] * (years - spec.PLAN_START) * post + e)
    return pd.Series(np.exp(logmu), index=years)


def open_seed(root: Path, seed: int):
    """The demo study generated with ``seed`` under ``root/seed<seed>`` (generated once, then
    reused), every wave imported: what the truth checks and the evaluation measurement read."""
    from kyodo_analysis.demo.generate import generate_demo
    from kyodo_analysis.study import Study

    folder = Path(root) / f"seed{seed}"
    if not (folder / "study.yaml").exists():
        generate_demo(folder, seed=seed)
    study = Study.from_yaml(folder / "study.yaml")
    study.import_waves()
    return study
