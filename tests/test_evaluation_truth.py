"""Evaluation against the demo's known truth, on seeds used nowhere else in the suite.

Each seed is a fresh synthetic population, sample and activity statistics
(:func:`kyodo_analysis.demo.generate.generate_demo`); ``truth/truth_indicators.csv`` holds
the finite-population value of every survey indicator by year and domain. The checks:

* 95% intervals of the survey indicators (city, 中学校区, 小学校区; every wave) cover the
  truth 93–97% of the time;
* the grade of every city indicator-year agrees with the grade the truth gets under the same
  rule (true value against the true baseline-year value, exact), whenever a grade is given;
  H 判定保留 makes no claim and is counted separately;
* no district row is graded against a city target;
* a back-test: trends fitted on the early waves cover the later wave with their 95%
  prediction interval;
* the outlook's claims (順調 / 遅れ) say what the true value of the target year does.

The comparisons live in :mod:`kyodo_analysis.demo.truth`, shared with
benchmarks/measure_evaluation.py (all four figures over seeds 7201–7207).
Seeds 7101–7103 are used only here (the suite's other demos use DEFAULT_SEED, +1, 1, 3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.demo.truth import consistent, coverage, grade_agreement, open_seed
from kyodo_analysis.evaluation.compute import compute_indicators, indicator_history
from kyodo_analysis.evaluation.registry import load_registry

SEEDS = (7101, 7102, 7103)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    return [open_seed(root, s) for s in SEEDS]


@pytest.mark.slow
def test_95_percent_intervals_cover_the_truth_93_to_97_percent(seeds):
    cov = pd.concat([coverage(s) for s in seeds], ignore_index=True)
    assert len(cov) > 1500
    rate = cov["covered"].mean()
    assert 0.93 <= rate <= 0.97, (rate, len(cov))


@pytest.mark.slow
def test_grades_agree_with_the_truths_grade(seeds):
    g = pd.concat([grade_agreement(s) for s in seeds], ignore_index=True)
    assert len(g) >= 90
    given = g[g["grade"] != "H"]
    # every grade given agrees with the truth's grade in at least 90% of cases
    if len(given):
        assert (given["grade"] == given["truth_grade"]).mean() >= 0.90, given
    # and every statement, H's range included, agrees with the truth at least 90% of times
    agree = g.apply(consistent, axis=1).mean()
    assert agree >= 0.90, agree


@pytest.mark.slow
def test_no_district_is_graded_against_city_targets(seeds):
    s = seeds[0]
    for level in s.district_levels:
        d = compute_indicators(s, max(s.fiscal_years), domain=level.name)
        assert d["grade"].eq("-").all() and d["target"].isna().all()


@pytest.mark.slow
def test_back_test_prediction_intervals_cover_the_later_wave(seeds):
    """Fit the survey trends on the waves before the last, predict the last wave's estimate:
    the 95% prediction interval should hold it about 95% of the time (here: at least 85%
    of the city indicator × seed cases, a loose floor for 3 × 9 cases)."""
    from kyodo_analysis.stats.trends import survey_trend

    hits = []
    for s in seeds:
        reg = load_registry(s).select(kind="survey")
        last = max(s.fiscal_years)
        hist = indicator_history(s, registry=reg)
        early = hist[hist["fiscal_year"] < last]
        for ind in reg:
            h = early[(early["indicator_id"] == ind.id) & (early["domain"] == "市全体")]
            h = h.set_index("fiscal_year").sort_index()
            res = survey_trend(h["estimate"] / 100, h["se"] / 100, forecast_years=[last])
            f = res.forecasts.iloc[0]
            obs = hist[(hist["indicator_id"] == ind.id) & (hist["fiscal_year"] == last)
                       & (hist["domain"] == "市全体")]["estimate"].item() / 100
            hits.append(f["pi_low"] <= obs <= f["pi_high"])
    rate = float(np.mean(hits))
    assert rate >= 0.85, (rate, len(hits))


def test_the_truth_of_a_future_year_is_the_generators_model(demo_dir):
    """The truth the outlook is checked against: the generator's own population and answer
    model in a year without a wave (a fresh draw, so within sampling noise of the finite
    population, about 0.15 points), and the generator's expected counts."""
    import json

    from kyodo_analysis.demo.spec import DEFAULT_SEED
    from kyodo_analysis.demo.truth import activity_components, projected_survey_truth, series_mu

    truth = pd.read_csv(demo_dir / "truth" / "truth_indicators.csv")
    city = truth[(truth["domain_type"] == "city") & (truth["fiscal_year"] == 2025)]
    again = projected_survey_truth(DEFAULT_SEED, [2025]).set_index("indicator")["value"]
    diff = 100 * city.set_index("indicator")["value"] - again.reindex(city["indicator"])
    assert diff.abs().max() < 1.0 and len(diff) >= 20
    series = json.loads((demo_dir / "truth" / "truth.json").read_text(encoding="utf-8"))
    for s in series["activity_series"].values():
        if "mu" in s:
            years = [int(y) for y in s["mu"]]
            np.testing.assert_allclose(series_mu(s, years), list(s["mu"].values()), atol=1e-6)
    assert len(activity_components(series, "ワークショップ参加者数")) == 5


@pytest.mark.slow
def test_outlook_claims_are_right_about_reaching_the_target(seeds):
    """On one unused seed, every outlook that claims 順調 or 遅れ says what the true value of
    the target year does (at least 90% of the claims), and the rest is 見通し保留."""
    from kyodo_analysis.demo.truth import status_agreement

    s = status_agreement(seeds[0], SEEDS[0])
    assert len(s) >= 28
    claims = s[s["status"].isin(["on track", "off track"])]
    assert set(s["status"]) <= {"on track", "off track", "uncertain"}
    right = (claims["status"] == "on track") == claims["truth_reached"]
    assert len(claims) == 0 or right.mean() >= 0.9, claims
