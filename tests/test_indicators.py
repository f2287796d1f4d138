"""Plan indicators: registry, design-based values, grades, trends and figures, on the demo."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from kyodo_analysis.config import PlanConfig
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.evaluation.grading import GradingRule, adjust_p
from kyodo_analysis.evaluation.indicators import (
    IndicatorRegistry,
    compute_indicators,
    dashboard_table,
    indicator_history,
    indicator_trends,
    its_table,
    load_registry,
    plan_effects,
    to_japanese,
)
from kyodo_analysis.evaluation.logic_model import logic_model, logic_model_table
from kyodo_analysis.options import DisplayOptions
from kyodo_analysis.stats.its import segmented_regression
from kyodo_analysis.study import Study

#: The plan structure shipped for new studies (the policies and measures indicators refer to).
PLAN = PlanConfig.model_validate(yaml.safe_load(
    resources.files("kyodo_analysis.templates").joinpath("plan.yaml").read_text(encoding="utf-8")))


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def registry(demo_study):
    return load_registry(demo_study)


@pytest.fixture(scope="module")
def city_2025(demo_study, registry):
    return compute_indicators(demo_study, 2025, registry=registry)


@pytest.fixture(scope="module")
def history(demo_study, registry):
    return indicator_history(demo_study, registry=registry)


@pytest.fixture(scope="module")
def trends(demo_study, registry, history):
    return indicator_trends(demo_study, registry=registry, history=history, n_sim=4000)


@pytest.fixture(scope="module")
def truth(demo_dir):
    return pd.read_csv(demo_dir / "truth" / "truth_indicators.csv")


def _one(**over):
    base = {"id": "X-1", "name": "テスト指標", "policy": "I", "measure": "1",
            "source": {"type": "survey", "question": "q1", "statistic": "share",
                       "levels": [1, 2]},
            "unit": "%", "direction": "higher",
            "baseline": {"fiscal_year": 2021, "value": 40.0},
            "targets": {2026: 45.0, 2031: 50.0}}
    for k, v in over.items():
        if v is None:
            base.pop(k)
        else:
            base[k] = v
    return {"indicators": [base]}


# ------------------------------------------------------------------------------ registry
def test_demo_registry_covers_every_policy_both_sources_and_a_lower_is_better(registry, demo_study):
    assert registry.demo is True
    assert {i.policy for i in registry} == {p.id for p in demo_study.plan.policies}
    assert registry.policies()["I"] == "共に学びあい育ちあおう"  # names come from study.yaml
    assert {i.kind for i in registry} == {"survey", "activity"}
    assert any(i.direction == "lower" for i in registry)
    assert any(i.kind == "activity" and len(i.source.series) > 1 for i in registry)
    frame = registry.to_frame()
    assert frame["indicator_id"].is_unique and len(frame) == len(registry)
    assert {"target_FY2026", "target_FY2031", "measure_name"} <= set(frame.columns)
    i1 = registry["I-1"]
    assert i1.source.levels == (1, 2) and i1.target_for(2025) == (2026, i1.target(2026))
    assert i1.target_for(2027) == (2031, i1.target(2031))
    assert i1.target_for(2040) == (2031, i1.target(2031))
    assert registry.select(policy="III").to_frame()["policy"].eq("III").all()


def test_grading_rule_is_global_and_overridable_per_indicator():
    doc = _one(grading={"prorate": True})
    doc["grading"] = {"no_change_band": 0.05}
    reg = IndicatorRegistry.from_dict(doc)
    assert reg.rule == GradingRule(no_change_band=0.05)
    assert reg["X-1"].rule == GradingRule(no_change_band=0.05, prorate=True)


@pytest.mark.parametrize("over, key, words", [
    ({"id": None}, "indicators[0].id", "required"),
    ({"policy": "VI"}, "indicators[0].policy", "policies"),
    ({"measure": "3"}, "indicators[0].measure", "measures 1, 2"),
    ({"direction": "up"}, "indicators[0].direction", "higher"),
    ({"unit": "人"}, "indicators[0].unit", "%"),
    ({"colour": "red"}, "indicators[0].colour", "unknown"),
    ({"source": {"type": "web"}}, "indicators[0].source.type", "survey"),
    ({"source": {"type": "survey", "question": "q1"}}, "indicators[0].source.levels",
     "required"),
    ({"source": {"type": "survey", "question": "q1", "levels": [1],
                 "statistic": "mean"}}, "indicators[0].source.statistic", "share"),
    ({"source": {"type": "activity", "series": []}}, "indicators[0].source.series",
     "series"),
    ({"baseline": {"value": 40}}, "indicators[0].baseline", "fiscal_year"),
    ({"baseline": {"fiscal_year": 2021, "value": "四十"}}, "indicators[0].baseline.value",
     "number"),
    ({"targets": {2020: 45.0}}, "indicators[0].targets.2020", "after the baseline"),
    ({"targets": {2026: 120.0}}, "indicators[0].targets.2026", "0-100"),
    ({"targets": []}, "indicators[0].targets", "fiscal years"),
    ({"grading": {"a_threshold": 2.0}}, "indicators[0].grading.a_threshold", "s_threshold"),
    ({"stage": "impact"}, "indicators[0].stage", "outcome"),
])
def test_invalid_definitions_raise_config_error_naming_key_and_reason(over, key, words):
    with pytest.raises(ConfigError) as err:
        IndicatorRegistry.from_dict(_one(**over), file="indicators.yaml", plan=PLAN)
    assert err.value.key == key
    assert words in err.value.message
    assert "indicators.yaml" in str(err.value)


def test_registry_level_failures(tmp_path):
    assert len(IndicatorRegistry.from_dict({"indicators": []})) == 0  # none defined yet
    with pytest.raises(ConfigError, match="must be a list") as err:
        IndicatorRegistry.from_dict({"indicators": "I-1"})
    assert err.value.key == "indicators"
    doc = _one()
    doc["indicators"].append(doc["indicators"][0])
    with pytest.raises(ConfigError, match="duplicate") as err:
        IndicatorRegistry.from_dict(doc)
    assert err.value.key == "indicators[1].id"
    with pytest.raises(ConfigError) as err:
        IndicatorRegistry.from_dict({**_one(), "grading": {"bogus": 1}})
    assert err.value.key == "grading.bogus"
    with pytest.raises(ConfigError, match="not found"):
        IndicatorRegistry.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("indicators: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="YAML"):
        IndicatorRegistry.from_yaml(bad)


@pytest.mark.parametrize("source, key, words", [
    ({"type": "survey", "question": "q99", "levels": [1]}, "source.question", "codebook"),
    ({"type": "survey", "question": "q1", "levels": [7]}, "source.levels", "[7]"),
    ({"type": "survey", "question": "q3_4", "levels": [2]}, "source.levels", "[2]"),
    ({"type": "activity", "series": ["登録団体数", "存在しない件数"]}, "source.series",
     "存在しない件数"),
])
def test_sources_are_checked_against_the_study(demo_study, source, key, words):
    unit = "件" if source["type"] == "activity" else "%"
    reg = IndicatorRegistry.from_dict(_one(source=source, unit=unit))
    with pytest.raises(ConfigError) as err:
        reg.check(demo_study)
    assert err.value.key == f"indicators[0].{key}" and words in err.value.message


# ------------------------------------------------------------------------- computation
def test_survey_indicator_is_the_weighted_share_of_valid_answers(demo_study, city_2025):
    """Hand computation with the study's final (raked) weights, base = answers 1-4
    (無回答 9 excluded)."""
    design = demo_study.design(2025)
    data = design.data
    w = np.asarray(design.weights)
    q1 = data["q1"].to_numpy(dtype=float, na_value=np.nan)
    valid = np.isin(q1, [1, 2, 3, 4])
    assert (q1 == 9).sum() > 0  # there are 無回答 to exclude
    share = 100 * np.sum(w[valid] * np.isin(q1[valid], [1, 2])) / np.sum(w[valid])
    row = city_2025.set_index("indicator_id").loc["I-1"]
    assert row["estimate"] == pytest.approx(share, rel=1e-12)
    assert row["n"] == valid.sum()
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert "無回答" in row["base"]


def test_indicator_table_columns_and_japanese_names(city_2025, registry):
    assert list(city_2025["indicator_id"]) == [i.id for i in registry]
    assert city_2025["domain"].eq("市全体").all()
    survey = city_2025[city_2025["kind"] == "survey"]
    activity = city_2025[city_2025["kind"] == "activity"]
    assert survey[["se", "ci_low", "ci_high"]].notna().all().all()
    assert activity["se"].isna().all() and activity["change_baseline_significant"].isna().all()
    assert survey["change_baseline_significant"].notna().all()
    ja = to_japanese(city_2025)
    assert {"指標名", "実績値", "達成率", "評価", "基準値からの有意な変化"} <= set(ja.columns)
    dash = dashboard_table(city_2025)
    assert len(dash) == len(registry) and dash["評価"].str.match(r"^[SABCDH－] ").all()
    assert dash["基準値比"].str.endswith("＊").sum() == int(
        survey["change_baseline_significant"].sum())


def test_changes_and_their_tests_match_the_wave_estimates(demo_study, registry, history):
    fy22 = compute_indicators(demo_study, 2022, registry=registry)
    est = history.pivot_table(index="indicator_id", columns="fiscal_year", values="estimate")
    se = history.pivot_table(index="indicator_id", columns="fiscal_year", values="se")
    for _, r in fy22[fy22["kind"] == "survey"].iterrows():
        i = r["indicator_id"]
        d = est.loc[i, 2022] - est.loc[i, 2021]
        s = np.hypot(se.loc[i, 2022], se.loc[i, 2021])
        assert r["previous_year"] == 2021
        assert r["change_previous"] == pytest.approx(d)
        assert r["change_baseline"] == pytest.approx(d)  # the baseline year is a wave
        assert r["change_baseline_se"] == pytest.approx(s)
        assert r["change_baseline_p"] == pytest.approx(2 * stats.norm.sf(abs(d / s)))
        assert r["baseline_used"] == pytest.approx(est.loc[i, 2021])  # one baseline
        assert r["baseline_source"] == "wave"
        # the family (city-level survey changes from baseline) is Holm-adjusted
        assert r["change_baseline_p_adj"] >= r["change_baseline_p"]
        assert bool(r["change_baseline_significant"]) == (r["change_baseline_p_adj"] < 0.05)
    survey = fy22[fy22["kind"] == "survey"]
    np.testing.assert_allclose(survey["change_baseline_p_adj"],
                               adjust_p(survey["change_baseline_p"].to_numpy(), "holm"))
    act = fy22[fy22["indicator_id"] == "II-3"].iloc[0]
    assert act["change_baseline"] == act["estimate"] - registry["II-3"].baseline.value


def test_domains_have_ordered_labels_and_small_bases_are_flagged(demo_study, registry,
                                                                 city_2025):
    jhs = compute_indicators(demo_study, 2025, registry=registry, domain="中学校区")
    i1 = jhs[jhs["indicator_id"] == "I-1"]
    assert list(i1["domain"]) == ["青山", "成岩", "半田", "乙川", "亀崎"]
    assert i1["n"].sum() == city_2025.set_index("indicator_id").loc["I-1", "n"]
    # workshops are published by 中学校区; counts by domain are not graded on city targets
    ws = jhs[jhs["indicator_id"] == "I-3"]
    assert len(ws) == 5 and ws["grade"].eq("-").all()
    assert not jhs["indicator_id"].isin(["II-3"]).any()  # no district breakdown published
    elem = compute_indicators(demo_study, 2025, registry=registry.select(ids=["I-1"]),
                              domain="小学校区", options=DisplayOptions(small_base=100))
    assert len(elem) == 13
    small = elem["n"] < 100
    assert small.any() and (elem["small_base"] == small).all()
    assert elem.loc[small, "note"].str.contains("参考値").all()
    assert elem["n"].sum() < city_2025.set_index("indicator_id").loc["I-1", "n"]  # 無回答


def test_domain_tables_adjust_their_own_family_so_the_mark_means_one_thing(demo_study, registry):
    """＊ on a domain table means what it means on the city table: significant after the
    rule's adjustment (Holm), over the table's family (every survey indicator × group)."""
    jhs = compute_indicators(demo_study, 2025, registry=registry, domain="中学校区")
    survey = jhs[jhs["kind"] == "survey"]
    np.testing.assert_allclose(survey["change_baseline_p_adj"],
                               adjust_p(survey["change_baseline_p"].to_numpy(), "holm"))
    assert (survey["change_baseline_p_adj"] >= survey["change_baseline_p"]).all()
    sig = survey["change_baseline_significant"].astype(bool)
    assert (sig == (survey["change_baseline_p_adj"] < 0.05)).all()


class _CountsOnly:
    """A study with activity statistics only: the hand-computed grading cases."""

    fiscal_years: tuple[int, ...] = ()
    codebook = None

    def __init__(self, values: dict[str, float]):
        self._values = values

    def activity(self) -> pd.DataFrame:
        return pd.DataFrame([{"series": k, "domain": "市全体", "fiscal_year": 2025, "value": v}
                             for k, v in self._values.items()])


@pytest.mark.parametrize("actual, baseline, target, direction, rate, grade", [
    (55, 50, 60, "higher", 0.5, "B"),
    (58, 50, 60, "higher", 0.8, "A"),
    (61, 50, 60, "higher", 1.1, "S"),
    (51, 50, 60, "higher", 0.1, "C"),     # on the ±10% band edge: no change
    (44, 50, 60, "higher", -0.6, "D"),
    (8, 10, 6, "lower", 0.5, "B"),        # lower is better: fell 2 of 4
    (5, 10, 6, "lower", 1.25, "S"),
    (12, 10, 6, "lower", -0.5, "D"),
    (63, 62, 60, "higher", 1.0, "S"),     # target already met at baseline, kept
    (59, 62, 60, "higher", np.nan, "D"),  # ... and lost
    (50, 50, 50, "higher", 1.0, "S"),     # baseline equals target, kept
    (49, 50, 50, "higher", np.nan, "D"),
    (9, 10, 10, "lower", 1.0, "S"),
])
def test_achievement_rate_and_grade_hand_computed(actual, baseline, target, direction, rate,
                                                  grade):
    reg = IndicatorRegistry.from_dict(_one(
        source={"type": "activity", "series": ["A", "B"]}, unit="件", direction=direction,
        baseline={"fiscal_year": 2021, "value": baseline}, targets={2026: target}))
    out = compute_indicators(_CountsOnly({"A": actual - 1, "B": 1}), 2025, registry=reg)
    row = out.iloc[0]
    assert row["estimate"] == actual  # the two series are added
    assert row["target_year"] == 2026 and row["target"] == target
    if np.isnan(rate):
        assert np.isnan(row["achievement_rate"])
    else:
        assert row["achievement_rate"] == pytest.approx(rate)
    assert row["grade"] == grade


def test_prorated_mid_term_rule_and_non_significant_change(demo_study, registry):
    fy = compute_indicators(demo_study, 2022, registry=registry,
                            rule=GradingRule(prorate=True))
    r = fy.set_index("indicator_id").loc["I-1"]
    ind = registry["I-1"]
    # prorated from the one baseline used (the FY2021 wave estimate) towards the target
    expect = r["baseline_used"] + (ind.target(2026) - r["baseline_used"]) * 1 / 5
    assert r["target_used"] == pytest.approx(expect)
    plain = compute_indicators(demo_study, 2025, registry=registry)
    not_sig = plain[plain["change_baseline_significant"].eq(False)]
    # without evidence no grade other than C (interval inside the band) or H is given
    assert not not_sig.empty and not_sig["grade"].isin(["C", "H"]).all()
    assert (not_sig["grade"] != "H").sum() == 0 or not_sig["mdc"].notna().all()


def test_baseline_year_is_not_graded(demo_study, registry):
    fy21 = compute_indicators(demo_study, 2021, registry=registry)
    survey = fy21[fy21["kind"] == "survey"]
    assert survey["grade"].eq("-").all()
    assert survey["achievement_rate"].isna().all()


def test_no_district_row_is_graded_against_city_targets(demo_study, registry):
    for level in ("中学校区", "小学校区"):
        d = compute_indicators(demo_study, 2025, registry=registry, domain=level)
        assert d["grade"].eq("-").all(), level
        assert d["target"].isna().all() and d["achievement_rate"].isna().all()
        base = compute_indicators(demo_study, 2021, registry=registry, domain=level)
        key = ["indicator_id", "domain"]
        m = d[d["kind"] == "survey"].merge(base[[*key, "estimate"]], on=key)
        # each district's change is measured from its own baseline-wave estimate
        np.testing.assert_allclose(m["baseline_used"], m["estimate_y"])
        np.testing.assert_allclose(m["change_baseline"], m["estimate_x"] - m["estimate_y"])


# -------------------------------------------------------------- accuracy against truth
def _coverage(history, registry, truth):
    h = history[history["kind"] == "survey"].copy()
    h["truth_key"] = h["indicator_id"].map({i.id: i.truth for i in registry})
    t = truth[truth["domain_type"] == "city"]
    m = h.dropna(subset=["truth_key"]).merge(
        t, left_on=["truth_key", "fiscal_year"], right_on=["indicator", "fiscal_year"])
    m["covered"] = (m["ci_low"] <= 100 * m["value"]) & (100 * m["value"] <= m["ci_high"])
    m["bias"] = m["estimate"] - 100 * m["value"]
    return m


def test_city_cis_cover_the_truth_with_the_study_weighting(history, registry, truth):
    """Study.design rakes to 中学校区, sex and age margins: the 45 indicator x wave intervals
    of the default demo cover the truth no less often than 95% intervals would in 99.5% of
    studies (binomial lower 0.5% quantile, 38 of 45), and the mean absolute bias is under a
    point. The calibrated 93-97% check over 2,280 intervals on unused seeds is
    tests/test_evaluation_truth.py."""
    m = _coverage(history, registry, truth)
    assert len(m) == 45
    assert m["covered"].sum() >= stats.binom.ppf(0.005, 45, 0.95)
    assert m["bias"].abs().mean() < 1.0


def test_without_weighting_the_estimates_are_biased(demo_study, registry, truth, monkeypatch):
    """The stratified design alone (N_h/n_h weights) keeps the nonresponse bias: older
    residents respond more and know 協働 better, so awareness comes out too high."""
    plain = Study.design

    def unweighted(self, fiscal_year, data=None, **options):
        return plain(self, fiscal_year, data, weighted=False)

    monkeypatch.setattr(Study, "design", unweighted)
    m = _coverage(indicator_history(demo_study, registry=registry), registry, truth)
    assert m.groupby("indicator_id")["bias"].mean().loc["I-1"] > 1.5


def _effects(study, registry=None, activity=None):
    return plan_effects(study.activity() if activity is None else activity, registry,
                        plan_start=study.plan.start, disrupted=study.plan.disrupted_years)


def test_plan_changes_of_all_city_series_cover_their_truth(demo_study, demo_dir):
    """The nine city-wide series carry known level and slope changes (log scale): the AR(1)
    ITS intervals of 18 changes, at least 16 must cover (measured: all 18 on the default
    demo)."""
    truth = json.loads((demo_dir / "truth" / "truth.json").read_text(encoding="utf-8"))
    table = _effects(demo_study).set_index("key")
    covered = []
    for key, t in truth["activity_series"].items():
        if ":" in key:
            continue
        fit = table.loc[t["label"], "fit"]
        lv, sl = fit.term("level_change"), fit.term("slope_change")
        covered += [lv["ci_low"] <= t["plan_level"] <= lv["ci_high"],
                    sl["ci_low"] <= t["plan_slope"] <= sl["ci_high"]]
    assert len(covered) == 18 and sum(covered) >= 16


def test_plan_effects_are_one_family_with_sums_of_series_and_holm(demo_study, registry):
    """Every city series and every activity indicator that adds series up is one quantity;
    the adjusted p values are R's p.adjust(p, "holm") of the raw ones, and a summed
    indicator is fitted on the yearly sum of its series."""
    e = _effects(demo_study, registry)
    series = set(demo_study.activity().query("domain == '市全体'")["series"])
    sums = [i for i in registry if i.kind == "activity" and len(i.source.series) > 1]
    assert set(e.loc[e["kind"] == "series", "key"]) == series
    assert list(e.loc[e["kind"] == "indicator", "key"]) == [i.id for i in sums]
    p = e["p"].to_numpy()
    m = len(p)
    order = np.argsort(p)
    holm = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    np.testing.assert_allclose(e["p_adj"].to_numpy()[order], holm)
    ind = sums[0]
    act = demo_study.activity()
    y = act[(act["domain"] == "市全体") & act["series"].isin(ind.source.series)]
    y = y.groupby("fiscal_year")["value"].sum()
    alone = segmented_regression(y, start=demo_study.plan.start,
                                 disrupted=demo_study.plan.disrupted_years)
    assert e.set_index("key").loc[ind.id, "p"] == pytest.approx(alone.plan_p)
    # not significant is never "no effect": the verdict gives the detectable change
    quiet = e[~e["significant"]]
    assert quiet["verdict"].str.startswith("判別できない（検出できる最小の水準変化 ×").all()


def test_logic_model_states_the_same_plan_effect_as_the_its_table(demo_study, registry, city_2025,
                                                                    trends):
    """One quantity, one verdict: an activity indicator's trend in the logic model is the
    ITS row of its series (same adjusted p, same verdict)."""
    e = _effects(demo_study, registry)
    model = logic_model(city_2025, trends, effects=e, registry=registry)
    table = its_table(e).set_index("系列")
    checked = 0
    for ind in registry:
        if ind.kind != "activity":
            continue
        key = ind.source.series[0] if len(ind.source.series) == 1 else ind.id
        row = e.set_index("key").loc[key]
        text = model.set_index("indicator_id").loc[ind.id, "trend"]
        assert row["verdict"] in text
        assert table.loc[row["label"], "判定"] == row["verdict"]
        assert table.loc[row["label"], "p値（調整後）"] in text
        checked += 1
    assert checked >= 5


def test_survey_trend_sentence_states_slope_interval_and_p_of_one_fit(city_2025, trends):
    """Slope, interval and p value of a survey indicator's trend sentence come from one WLS
    fit (refitted here from the same history), and the interval excludes 0 exactly when the
    sentence says 有意."""
    from kyodo_analysis.stats.trends import survey_trend

    lm = logic_model(city_2025, trends).set_index("indicator_id")
    models = trends.models.set_index("indicator_id")
    checked = 0
    for ind_id, m in models[models["kind"] == "survey"].iterrows():
        h = trends.history[trends.history["indicator_id"] == ind_id].set_index("fiscal_year")
        fit = survey_trend(h["estimate"] / 100, h["se"] / 100, forecast_years=[2031])
        slope = fit.coefficients.set_index("term").loc["slope"]
        k = h["estimate"].iloc[-1] * (1 - h["estimate"].iloc[-1] / 100)
        text = lm.loc[ind_id, "trend"]
        assert (f"年{k * slope['estimate']:+.1f}ポイント（95%信頼区間 {k * slope['ci_low']:+.1f}"
                f"～{k * slope['ci_high']:+.1f}") in text
        assert f"p={slope['p']:.3f}" in text
        excludes_zero = slope["ci_low"] > 0 or slope["ci_high"] < 0
        assert excludes_zero == (slope["p"] < 0.05) == ("傾向有意" in text)
        assert m["slope_points_low"] == pytest.approx(k * slope["ci_low"])
        checked += 1
    assert checked >= 5


def test_false_detection_rate_without_plan_effect_stays_at_most_seven_percent():
    """200 simulated FY2012-FY2025 series (NB2 alpha 0.02, mean ~200, COVID dip, no plan
    effect) tested as one report's family: unadjusted, the plan test rejects at most 7%;
    after Holm at most one series of the 200."""
    rng = np.random.default_rng(7)
    years = np.arange(2012, 2026)
    mu = np.exp(np.log(200) + 0.01 * (years - 2012) - 0.3 * np.isin(years, [2020, 2021]))
    rows = []
    for k in range(200):
        y = rng.poisson(rng.gamma(1 / 0.02, 0.02 * mu))
        rows.append(pd.DataFrame({"series": f"s{k}", "domain": "市全体", "fiscal_year": years,
                                  "value": y}))
    table = plan_effects(pd.concat(rows, ignore_index=True), plan_start=2022,
                         disrupted=(2020, 2021))
    assert table["error"].eq("").all()
    assert (table["p"] < 0.05).mean() <= 0.07
    assert table["significant"].sum() <= 1


# ------------------------------------------------------------------------------ trends
def test_trends_forecast_each_target_with_probability_and_status(trends, registry):
    fc = trends.forecasts
    assert len(fc) == sum(len(i.targets) for i in registry)
    assert fc["prob_reach"].between(0, 1).all()
    assert set(fc["status_label"]) <= {"順調", "見通し保留", "遅れ"}
    # a claim only when the whole prediction interval lies on one side of the target
    up = fc["direction"] == "higher"
    low_side = fc["pi_low"].where(up, -fc["pi_high"]) >= fc["target"].where(up, -fc["target"])
    assert (fc.loc[fc["status"] == "on track", "prob_reach"] >= 0.975).all()
    assert low_side[fc["status"] == "on track"].all()
    assert (fc.loc[fc["status"] == "off track", "prob_reach"] <= 0.025).all()
    assert (fc["pi_low"] <= fc["estimate"]).all() and (fc["estimate"] <= fc["pi_high"]).all()
    # the outlook is conditional on the trend model and states the grade beside it
    assert fc["reason_ja"].str.contains("傾向が続くと仮定した場合").all()
    assert fc.loc[fc["target_year"] == 2026, "reason_ja"].str.contains("現時点の評価").all()
    # never contradicts the grade without saying why: an S now with a weak outlook says so
    s_weak = fc[(fc["grade"] == "S") & (fc["status"] != "on track")
                & (fc["target_year"] == 2026)]
    assert s_weak["reason_ja"].str.contains("下回る").all()
    assert trends.models["error"].eq("").all()
    act = trends.models[trends.models["kind"] == "activity"]
    assert act["family"].isin(["poisson", "negbin"]).all()
    assert act[["family", "mk_p", "sen_slope"]].notna().all().all()
    table = trends.status_table(target_year=2026)
    assert len(table) == len(registry) and "目標到達確率（傾向モデルによる）" in table.columns
    assert {"評価（直近年度）", "見通し", "95%予測区間（下限）", "注意"} <= set(table.columns)
    # lower is better: probability of being at or below the target
    v3 = fc[(fc["indicator_id"] == "V-3") & (fc["target_year"] == 2031)].iloc[0]
    assert (v3["estimate"] < v3["target"]) == (v3["prob_reach"] > 0.5)


def test_trends_use_only_data_up_to_through(demo_study, registry, history):
    tr = indicator_trends(demo_study, registry=registry.select(ids=["I-1", "II-3"]),
                          history=history, through=2023, n_sim=1000)
    assert (tr.history["fiscal_year"] <= 2023).all()
    assert tr.models.set_index("indicator_id").loc["I-1", "last_year"] == 2023


def test_logic_model_lines_up_outputs_and_outcomes_per_policy(city_2025, trends, demo_study):
    lm = logic_model(city_2025, trends)
    assert list(dict.fromkeys(lm["policy"])) == [p.id for p in demo_study.plan.policies]
    for _, part in lm.groupby("policy", sort=False):
        stages = list(part["stage"])
        assert stages == sorted(stages, key=["input", "activity", "output", "outcome"].index)
    assert lm["status_label"].isin(["順調", "見通し保留", "遅れ"]).all()
    table = logic_model_table(lm)
    assert {"推進施策", "段階", "指標", "傾向", "見通し"} <= set(table.columns)
    # one vocabulary: the grade as on 02 (dashboard) and the outlook as on 03
    ids = table["指標"].str.split(" ").str[0]
    dash = dashboard_table(city_2025)
    assert dict(zip(ids, table["評価"], strict=True)) == dict(
        zip(dash["指標番号"], dash["評価"], strict=True))
    fc = trends.forecasts.merge(city_2025[["indicator_id", "target_year"]])
    want = dict(zip(fc["indicator_id"], fc["status_label"], strict=True))
    assert dict(zip(ids, table["見通し"], strict=True)) == want


def test_figures_render(city_2025, history, trends, registry, demo_study):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kyodo_analysis.viz import figures

    figures.use_style()
    i1 = history[history["indicator_id"] == "I-1"]
    fc = trends.forecasts[trends.forecasts["indicator_id"] == "I-1"]
    figs = [
        figures.indicator_trend_chart(i1, registry["I-1"], forecasts=fc),
        figures.achievement_chart(city_2025),
        figures.district_chart(
            compute_indicators(demo_study, 2025, registry=registry.select(ids=["I-1"]),
                               domain="中学校区"), "I-1", city=55.0),
        figures.logic_model_chart(logic_model(city_2025, trends), history),
    ]
    assert all(len(f.axes) >= 1 for f in figs)
    ax = figs[0].axes[0]
    assert "協働" in ax.get_title(loc="left") and ax.get_xlim()[1] >= 2031
    plt.close("all")


def test_demo_yaml_round_trip(demo_dir):
    doc = yaml.safe_load((demo_dir / "indicators.yaml").read_text(encoding="utf-8"))
    assert IndicatorRegistry.from_dict(doc).to_frame()["indicator_id"].tolist() == [
        i["id"] for i in doc["indicators"]]


def test_output_outcome_by_district(demo_study, registry):
    """Workshops (published by 中学校区) beside awareness by 中学校区: ratios are counts over
    the FY2017-FY2019 mean; on the default demo FY2025 the rank correlation is 0.8 (the
    embedded effect: awareness rose faster where workshops grew; 5 districts are few)."""
    from kyodo_analysis.evaluation.logic_model import output_outcome_by_domain, output_outcome_pairs

    assert ("I-3", "I-1", "中学校区") in output_outcome_pairs(registry, demo_study.activity_levels())
    t = output_outcome_by_domain(demo_study, 2025, output="I-3", outcome="I-1", domain="中学校区",
                                 registry=registry, reference_years=tuple(demo_study.plan.reference_years))
    assert list(t["domain"]) == ["青山", "成岩", "半田", "乙川", "亀崎"]
    act = demo_study.activity()
    ws = act[(act["series"] == "ワークショップ参加者数") & (act["domain"] == "青山")]
    ws = ws.set_index("fiscal_year")["value"]
    row = t.iloc[0]
    assert row["output_ratio"] == pytest.approx(ws[2025] / ws.loc[2017:2019].mean())
    assert (t["outcome_change_low"] < t["outcome_change"]).all()
    assert t.attrs["spearman"] > 0


def test_unknown_domain_and_missing_registry_are_structured_errors(demo_study, registry):
    with pytest.raises(ConfigError, match="unknown domain '町内会'"):
        compute_indicators(demo_study, 2025, registry=registry.select(kind="survey"),
                           domain="町内会")
    with pytest.raises(ConfigError) as err:
        load_registry()
    assert err.value.key == "path"
    with pytest.raises(ConfigError, match="no wave for fiscal year 2026"):
        compute_indicators(demo_study, 2026, registry=registry)
