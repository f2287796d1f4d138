"""Tests of kyodo_analysis.stats.weighting.

Reference values: tests/fixtures/r/weighting.json, produced by tests/fixtures/r/weighting.R
(R 4.1, survey 4.1.1); every record stores the R design call, the weighting call and, for
each estimate, the R estimator call. The tests never call R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats.design import SurveyDesign
from kyodo_analysis.stats.weighting import (
    WEIGHTING_METHODS,
    WeightedDesign,
    apply_weighting,
    calibrate,
    get_method,
    poststratify,
    rake,
    trim,
    weighting_report,
)

FIX = Path(__file__).parent / "fixtures" / "r"
REF = json.loads((FIX / "weighting.json").read_text())
TARGETS = REF["targets"]

# relative tolerance against R; SEs that are zero in exact arithmetic (e.g. the total of a
# calibration variable) are compared on the scale of their estimate
RTOL = 1e-8
ZERO_SE_SCALE = 1e-9


def _api(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / f"api{name}.csv")


DESIGNS = {
    # svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
    "strat": lambda: SurveyDesign(_api("strat"), strata="stype", weights="pw", fpc="fpc"),
    # svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
    "clus1": lambda: SurveyDesign(_api("clus1"), psu="dnum", weights="pw", fpc="fpc"),
    # svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
    "clus2": lambda: SurveyDesign(_api("clus2"), psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]),
}

RAKE3 = {"stype": TARGETS["stype"], "sch.wide": TARGETS["sch.wide"], "awards": TARGETS["awards"]}
RAKE2 = {"stype": TARGETS["stype"], "sch.wide": TARGETS["sch.wide"]}
CAL = TARGETS["calibrate"]  # R names: (Intercept), stypeH, stypeM, api99


def _weigh(design: SurveyDesign, rec: dict) -> WeightedDesign:
    """Our equivalent of rec['weighting_call'] (the R call is beside each branch)."""
    name = rec["weighting"]
    tb = [float(x) for x in rec.get("trim_bounds", [])]
    if name == "ps_stype":  # postStratify(d0, ~stype, pop_stype)
        return poststratify(design, TARGETS["stype"], by="stype")
    if name == "ps_stype_sw":  # postStratify(d0, ~stype + sch.wide, pop_st_sw)
        return poststratify(design, pd.DataFrame(TARGETS["stype_sch.wide"]), by=["stype", "sch.wide"])
    if name == "rake":  # rake(d0, list(~stype, ~sch.wide, ~awards), ..., epsilon = 1e-14)
        return rake(design, RAKE3, tol=1e-14, max_iter=1000)
    if name == "cal_linear":  # calibrate(d0, ~stype + api99, cal_tot)
        return calibrate(design, CAL, aux="~stype + api99")
    if name == "cal_bounded":  # calibrate(..., bounds = c(0.6, 1.5))
        return calibrate(design, CAL, aux="~stype + api99", bounds=(0.6, 1.5), max_iter=200, tol=1e-13)
    if name == "cal_raking":  # calibrate(..., calfun = 'raking')
        return calibrate(design, CAL, aux="~stype + api99", method="raking", max_iter=200, tol=1e-13)
    if name == "cal_logit":  # calibrate(..., calfun = 'logit', bounds = c(0.5, 2.5))
        return calibrate(design, CAL, aux="~stype + api99", method="logit", bounds=(0.5, 2.5), max_iter=200, tol=1e-13)
    if name == "ps_then_rake":  # rake(postStratify(d0, ~stype, ...), list(~sch.wide, ~awards), ...)
        ps = poststratify(design, TARGETS["stype"], by="stype")
        return rake(ps, {"sch.wide": TARGETS["sch.wide"], "awards": TARGETS["awards"]}, tol=1e-14, max_iter=1000)
    if name == "cal_then_ps":  # postStratify(calibrate(d0, ~stype + api99, cal_tot), ~sch.wide, pop_sw)
        return poststratify(calibrate(design, CAL, aux="~stype + api99"), TARGETS["sch.wide"], by="sch.wide")
    if name == "ps_trim":  # trimWeights(postStratify(d0, ~stype, pop_stype), lower=, upper=)
        return trim(poststratify(design, TARGETS["stype"], by="stype"), tb[0], tb[1])
    if name == "rake_trim_strict":  # trimWeights(rake(d0, 2 margins), upper =, strict = TRUE)
        return trim(rake(design, RAKE2, tol=1e-14, max_iter=1000), upper=tb[1], strict=True)
    raise AssertionError(name)


def _estimate(d: WeightedDesign, call: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Our equivalent of the R estimator call (R's svyby orders the first factor fastest)."""
    if call == "svymean(~api00, d)":
        r = d.mean("api00")
    elif call == "svytotal(~enroll, d, na.rm = TRUE)":
        r = d.total("enroll", na_rm=True)
    elif call == "svymean(~api00 + api99, d)":
        r = d.mean(["api00", "api99"])
    elif call == "svymean(~sch.wide, d)":
        r = d.mean("sch.wide")
    elif call == "svytotal(~stype, d)":
        r = d.total("stype")
    elif call == "svyratio(~api00, ~api99, d)":
        r = d.ratio("api00", "api99")
    elif call == "svyby(~api00, ~comp.imp, d, svymean)":
        r = d.mean("api00", by="comp.imp")
    elif call == "svyby(~enroll, ~stype, d, svytotal, na.rm = TRUE)":
        r = d.total("enroll", by="stype", na_rm=True)
    elif call == "svyby(~api00, ~awards + sch.wide, d, svymean)":
        r = d.mean("api00", by=["awards", "sch.wide"]).sort_values(["sch.wide", "awards"])
    elif call == "svyciprop(~I(sch.wide == 'Yes'), d, method = 'logit')":
        r = d.proportion("sch.wide", success="Yes", method="logit")
    elif call == "svyquantile(~api00, d, c(0.25, 0.5))":
        r = d.quantile("api00", [0.25, 0.5])
    elif call == "svyby(~I(sch.wide == 'Yes'), ~comp.imp, d, svyciprop, vartype = c('se', 'ci'))":
        r = d.proportion("sch.wide", success="Yes", by="comp.imp", method="logit")
    elif call == "svyglm(api00 ~ ell + meals, d)":
        c = d.glm("api00 ~ ell + meals").coefficients
        return c["estimate"].to_numpy(), c["se"].to_numpy(), c
    else:
        raise AssertionError(call)
    return r["estimate"].to_numpy(), r["se"].to_numpy(), r


OK_RECORDS = [r for r in REF["records"] if "error" not in r]
# R's trimWeights(strict = TRUE) recursion overflows its C stack on clus2 (R's failure, not
# a refusal of the data), so that record has no reference values and is not compared.
ERROR_RECORDS = [r for r in REF["records"] if "error" in r and "C stack" not in r["error"]]


@pytest.mark.parametrize("rec", OK_RECORDS, ids=[r["name"] for r in OK_RECORDS])
def test_weights_estimates_and_ses_match_r(rec: dict) -> None:
    d = _weigh(DESIGNS[rec["design"]](), rec)
    np.testing.assert_allclose(d.weights, rec["weights"], rtol=RTOL)
    for res in rec["results"]:
        est, se, table = _estimate(d, res["call"])
        r_est, r_se = np.array(res["estimate"]), np.array(res["se"])
        np.testing.assert_allclose(est, r_est, rtol=RTOL, err_msg=res["call"])
        tol = RTOL * np.abs(r_se) + ZERO_SE_SCALE * np.abs(r_est)
        assert np.all(np.abs(se - r_se) <= tol), (res["call"], se, r_se)
        if "ci_low" in res:
            np.testing.assert_allclose(table["ci_low"], res["ci_low"], rtol=RTOL)
            np.testing.assert_allclose(table["ci_high"], res["ci_high"], rtol=RTOL)


@pytest.mark.parametrize("rec", ERROR_RECORDS, ids=[r["name"] for r in ERROR_RECORDS])
def test_r_refusals_are_refused(rec: dict) -> None:
    with pytest.raises(WeightingError, match="did not converge"):
        _weigh(DESIGNS[rec["design"]](), rec)


# ------------------------------------------------------------------ hand-computed cases
def _toy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "g": ["a", "a", "a", "b", "b", "c", "c", "c", "c"],
            "h": ["x", "y", "x", "y", "x", "y", "y", "x", "x"],
            "y": [1.0, 3.0, 2.0, 7.0, 5.0, 4.0, 6.0, 8.0, 2.0],
            "w": [2.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0],
        }
    )


def test_poststratified_mean_and_se_by_hand() -> None:
    df = _toy()
    pop = {"a": 30.0, "b": 10.0, "c": 20.0}
    d = poststratify(SurveyDesign(df, weights="w"), pop, by="g")
    n_c = df.groupby("g").size()
    w = df["g"].map(lambda c: pop[c] / n_c[c]).to_numpy()
    np.testing.assert_allclose(d.weights, w)
    ybar_c = df.groupby("g")["y"].mean()
    mean = sum(pop[c] * ybar_c[c] for c in pop) / 60.0
    # residual scores e_i = w_i (y_i - ybar_c) / N; with-replacement variance n/(n-1) sum e^2
    e = w * (df["y"].to_numpy() - df["g"].map(ybar_c).to_numpy()) / 60.0
    n = len(df)
    se = np.sqrt(n / (n - 1) * np.sum((e - e.mean()) ** 2))
    r = d.mean("y")
    assert r["estimate"].iloc[0] == pytest.approx(mean, rel=1e-12)
    assert r["se"].iloc[0] == pytest.approx(se, rel=1e-12)


def test_trim_redistributes_equally_by_hand() -> None:
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "w": [1.0, 2.0, 3.0, 10.0]})
    d = trim(SurveyDesign(df, weights="w"), upper=6.0)
    # excess 4 shared equally by the three untrimmed weights (R trimWeights)
    np.testing.assert_allclose(d.weights, [1 + 4 / 3, 2 + 4 / 3, 3 + 4 / 3, 6.0])
    strict = trim(SurveyDesign(df, weights="w"), upper=4.0, strict=True)
    assert strict.weights.max() <= 4.0 * (1 + 1e-11)  # ties within rounding are kept
    assert strict.weights.sum() == pytest.approx(16.0)


def test_linear_calibration_by_hand() -> None:
    df = _toy()
    d = calibrate(SurveyDesign(df, weights="w"), {"(Intercept)": 40.0, "y": 200.0}, aux=["y"])
    x = np.column_stack([np.ones(len(df)), df["y"]])
    w0 = df["w"].to_numpy()
    lam = np.linalg.solve(x.T @ (x * w0[:, None]), np.array([40.0, 200.0]) - x.T @ w0)
    np.testing.assert_allclose(d.weights, w0 * (1 + x @ lam), rtol=1e-12)
    assert d.total("y")["estimate"].iloc[0] == pytest.approx(200.0)
    # the calibration variable's total has no sampling error left
    assert d.total("y")["se"].iloc[0] == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------ properties
cells = st.lists(
    st.tuples(st.sampled_from("abc"), st.sampled_from("xy"), st.floats(0.5, 20)),
    min_size=12,
    max_size=60,
)


def _frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["g", "h", "w"])
    df["y"] = np.arange(len(df)) % 7 + df["w"]
    return df


@settings(max_examples=40, deadline=None)
@given(cells, st.floats(1.0, 1000.0))
def test_poststratified_weights_reproduce_cell_totals(rows: list, scale: float) -> None:
    df = _frame(rows)
    present = df.groupby(["g", "h"]).size().index
    pop = {k: scale * (i + 1) for i, k in enumerate(present)}
    d = poststratify(SurveyDesign(df, weights="w"), pop, by=["g", "h"])
    got = pd.Series(d.weights).groupby([df["g"], df["h"]]).sum()
    for k, v in pop.items():
        assert got[k] == pytest.approx(v, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(cells, st.floats(0.01, 100.0))
def test_raking_reproduces_margins_and_is_scale_invariant(rows: list, c: float) -> None:
    df = _frame(rows)
    # raking to arbitrary margins needs a full cross-classification (no empty cells)
    assume(df["g"].nunique() >= 2 and df["h"].nunique() >= 2)
    assume(df.groupby(["g", "h"]).ngroups == df["g"].nunique() * df["h"].nunique())
    g_levels = sorted(df["g"].unique())
    h_levels = sorted(df["h"].unique())
    margins = {
        "g": {lev: 100.0 * (i + 1) for i, lev in enumerate(g_levels)},
        "h": {lev: 0.0 for lev in h_levels},
    }
    total = sum(margins["g"].values())
    for i, lev in enumerate(h_levels):
        margins["h"][lev] = total * (0.3 if i == 0 else 0.7 / (len(h_levels) - 1))
    d = SurveyDesign(df, weights="w")
    r = rake(d, margins, tol=1e-12, max_iter=2000)
    for col, m in margins.items():
        got = pd.Series(r.weights).groupby(df[col]).sum()
        for lev, t in m.items():
            assert got[lev] == pytest.approx(t, rel=1e-9)
    df2 = df.assign(w=df["w"] * c)
    r2 = rake(SurveyDesign(df2, weights="w"), margins, tol=1e-12, max_iter=2000)
    np.testing.assert_allclose(r2.weights, r.weights, rtol=1e-8)
    np.testing.assert_allclose(r2.mean("y")["se"], r.mean("y")["se"], rtol=1e-7)


@settings(max_examples=30, deadline=None)
@given(cells)
def test_calibration_is_idempotent(rows: list) -> None:
    df = _frame(rows)
    levels = sorted(df["g"].unique())
    totals = {"g": {lev: 50.0 + 10 * i for i, lev in enumerate(levels)}, "y": 900.0}
    d1 = calibrate(SurveyDesign(df, weights="w"), totals, aux=["g", "y"])
    d2 = calibrate(d1, totals, aux=["g", "y"])
    np.testing.assert_allclose(d2.weights, d1.weights, rtol=1e-9)


# ------------------------------------------------------------------ failure paths
def _strat() -> SurveyDesign:
    return DESIGNS["strat"]()


def test_level_missing_from_margin() -> None:
    with pytest.raises(WeightingError, match=r"'stype'.*\['M'\]"):
        rake(_strat(), {"stype": {"E": 4421, "H": 755}})


def test_empty_sample_cell_for_populated_level() -> None:
    margins = {"stype": {**TARGETS["stype"], "K": 10}}
    with pytest.raises(WeightingError, match=r"margin 'stype': level 'K'.*empty sample cell"):
        rake(_strat(), margins)


def test_inconsistent_margin_totals() -> None:
    margins = {"stype": TARGETS["stype"], "sch.wide": {"No": 1000, "Yes": 5000}}
    with pytest.raises(WeightingError, match=r"inconsistent totals.*'sch.wide'"):
        rake(_strat(), margins)


def test_populated_sample_level_with_zero_target() -> None:
    with pytest.raises(WeightingError, match=r"level 'H' has \d+ sample row\(s\) but a population"):
        rake(_strat(), {"stype": {"E": 5000, "H": 0, "M": 1194}})


def test_incompatible_margins_do_not_converge() -> None:
    # a only with x, b only with y: the margins ask for 10/90 and 50/50 at once
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "h": ["x", "x", "y", "y"], "w": 1.0})
    with pytest.raises(WeightingError, match=r"did not converge.*margin '(g|h)' level"):
        rake(SurveyDesign(df, weights="w"), {"g": {"a": 10, "b": 90}, "h": {"x": 50, "y": 50}})


def test_poststratify_errors_name_the_cell() -> None:
    with pytest.raises(WeightingError, match=r"level\(s\) \['M'\]"):
        poststratify(_strat(), {"E": 1, "H": 2}, by="stype")
    with pytest.raises(WeightingError, match=r"cell \('K',\).*empty sample cell"):
        poststratify(_strat(), {**TARGETS["stype"], "K": 3}, by="stype")


def test_calibration_errors() -> None:
    with pytest.raises(WeightingError, match="lack the auxiliary 'api99'"):
        calibrate(_strat(), {"stype": TARGETS["stype"]}, aux=["stype", "api99"])
    with pytest.raises(WeightingError, match="finite bounds"):
        calibrate(_strat(), CAL, aux="~stype + api99", method="logit")
    with pytest.raises(WeightingError, match="did not converge"):
        calibrate(_strat(), CAL, aux="~stype + api99", bounds=(0.99, 1.01))


def test_weighted_to_replicate_reweights_every_replicate() -> None:
    ps = poststratify(_strat(), TARGETS["stype"], by="stype")
    rep = ps.to_replicate("JKn")
    np.testing.assert_allclose(rep.weights, ps.weights, rtol=1e-12)
    # every replicate reproduces the post-stratum counts
    codes = ps.data["stype"].to_numpy()
    for r in range(rep.repweights.shape[1]):
        got = pd.Series(rep.repweights[:, r]).groupby(codes).sum()
        np.testing.assert_allclose(got.reindex(list(TARGETS["stype"])), list(TARGETS["stype"].values()), rtol=1e-12)
    assert [s.method for s in rep.weighting_steps] == ["poststratify"]


# ------------------------------------------------------------------ collapsing, report
def test_sparse_levels_are_collapsed_and_reported() -> None:
    df = pd.DataFrame(
        {
            "age": ["18-29"] * 2 + ["30-39"] * 30 + ["40-49"] * 40 + ["50+"] * 1,
            "sex": (["M", "F"] * 40)[:73],
            "w": 1.0,
        }
    )
    margins = {
        "age": {"18-29": 100, "30-39": 300, "40-49": 400, "50+": 200},
        "sex": {"M": 480, "F": 520},
    }
    r = rake(SurveyDesign(df, weights="w"), margins, min_cell=5, collapse=["age"])
    rep = weighting_report(r)
    assert set(rep.collapsed["label"]) == {"18-29+30-39", "40-49+50+"}
    assert "collapsed age" in r.describe_weighting()
    got = pd.Series(r.weights).groupby(df["age"].isin(["18-29", "30-39"])).sum()
    assert got[True] == pytest.approx(400)
    with pytest.raises(WeightingError, match=r"empty sample cell|sample rows"):
        rake(SurveyDesign(df.iloc[2:], weights="w"), margins)


def test_weighting_report_contents() -> None:
    d = trim(rake(_strat(), RAKE3, tol=1e-12), upper=60)
    rep = d.weighting_report()
    w = d.weights
    final = rep.summary.set_index("weights").loc["final"]
    assert final["deff_kish"] == pytest.approx(len(w) * np.sum(w**2) / np.sum(w) ** 2)
    assert final["n_eff"] == pytest.approx(len(w) / final["deff_kish"])
    assert final["max"] <= 60 + 1e-9
    assert list(rep.steps["method"]) == ["rake", "trim"]
    m = rep.margins[rep.margins["method"] == "rake"]
    np.testing.assert_allclose(m["after"], m["target"], rtol=1e-10)
    assert set(m["variable"]) == set(RAKE3)
    assert "rake(stype, sch.wide, awards" in d.describe_weighting()
    assert isinstance(rep.to_frame(), pd.DataFrame)


def test_registry_and_domains_keep_the_calibration() -> None:
    assert set(WEIGHTING_METHODS) == {
        "poststratify", "rake", "calibrate", "calibrate_linear", "calibrate_raking", "calibrate_logit", "trim"
    }
    a = apply_weighting(_strat(), "rake", RAKE3, tol=1e-12)
    b = rake(_strat(), RAKE3, tol=1e-12)
    np.testing.assert_allclose(a.weights, b.weights)
    assert get_method("rake") is rake
    c = apply_weighting(_strat(), "calibrate_logit", CAL, aux="~stype + api99", bounds=(0.5, 2.5), tol=1e-12)
    c2 = calibrate(_strat(), CAL, aux="~stype + api99", method="logit", bounds=(0.5, 2.5), tol=1e-12)
    np.testing.assert_allclose(c.weights, c2.weights)
    t = apply_weighting(_strat(), "poststratify", pd.DataFrame(TARGETS["stype_sch.wide"]), trim=(None, 40.0))
    assert [st.method for st in t.weighting_steps] == ["poststratify", "trim"]
    assert t.weights.max() <= 40.0 + 1e-9
    with pytest.raises(WeightingError, match="say which columns form the post-strata"):
        apply_weighting(_strat(), "poststratify", TARGETS["stype"])
    sub = b.subset(b.data["comp.imp"] == "Yes")
    assert isinstance(sub, WeightedDesign)
    by = b.mean("api00", by="comp.imp")
    np.testing.assert_allclose(sub.mean("api00")["se"].iloc[0], by["se"].iloc[1], rtol=1e-12)
    with pytest.raises(WeightingError, match="unknown weighting method"):
        apply_weighting(_strat(), "ipf", RAKE3)


# ------------------------------------------------------------------ nonresponse bias (demo)
def _coverage(reps: int, seed: int) -> tuple[float, float, float, float]:
    """Coverage of 95% CIs for awareness (q1 in {1, 2}) over repeated surveys of the demo.

    The finite population and its FY2025 answers are fixed; each replicate draws the
    stratified sample (proportional allocation by 中学校区, as the generator) and unit
    nonresponse from the generator's response model (register age group, sex, district).
    Item nonresponse is left out: the question is whether weighting removes the *unit*
    nonresponse bias. Estimates: the design-weighted mean (N_h / r_h within 中学校区, as
    ``Study.design``) and the same design raked to the one-way register margins of
    中学校区, sex and age group (labels as in population_margins.csv).
    """
    from kyodo_analysis.demo import spec
    from kyodo_analysis.demo.generate import (
        _allocate,
        _logistic,
        make_population,
        simulate_answers,
    )

    rng = np.random.default_rng(seed)
    pop = make_population(rng)
    adults = pop[pop["age"] >= 18].reset_index(drop=True)
    y = simulate_answers(adults, 2025, rng)["q1"].isin([1, 2]).to_numpy().astype(float)
    truth = y.mean()
    strata = list(spec.DISTRICTS)
    jhs = adults["jhs"].to_numpy()
    sex = adults["sex"].to_numpy()
    ag = adults["age_group"].to_numpy()
    sizes = adults.groupby("jhs", sort=False).size().reindex(strata)
    alloc = _allocate(sizes, spec.SAMPLE_SIZE)
    sex_lab = np.array(["", "男性", "女性"], dtype=object)
    age_lab = np.array(["", *(g for g, _ in spec.AGE_GROUPS)], dtype=object)
    margins = {
        "stratum": sizes.to_dict(),
        "reg_sex": pd.Series(sex_lab[sex]).value_counts().to_dict(),
        "reg_age": pd.Series(age_lab[ag]).value_counts().to_dict(),
    }
    p_resp = _logistic(
        spec.RESPONSE_INTERCEPT
        + np.array(spec.RESPONSE_AGE)[ag - 1]
        + spec.RESPONSE_MALE * (sex == 1)
        + pd.Series(jhs).map(spec.RESPONSE_DISTRICT).to_numpy()
    )
    pos = {s: np.flatnonzero(jhs == s) for s in strata}
    n_h = sizes.astype(float).to_dict()
    hit_w = hit_u = 0
    bias_w = bias_u = 0.0
    for _ in range(reps):
        idx = np.concatenate([rng.choice(pos[s], size=alloc[s], replace=False) for s in strata])
        idx = idx[rng.random(len(idx)) < p_resp[idx]]
        frame = pd.DataFrame(
            {"stratum": jhs[idx], "reg_sex": sex_lab[sex[idx]], "reg_age": age_lab[ag[idx]], "y": y[idx]}
        )
        frame["N_h"] = frame["stratum"].map(n_h)
        d = SurveyDesign(frame, strata="stratum", fpc="N_h")
        w = rake(d, margins).mean("y").iloc[0]
        u = d.mean("y").iloc[0]
        hit_w += bool(w["ci_low"] <= truth <= w["ci_high"])
        hit_u += bool(u["ci_low"] <= truth <= u["ci_high"])
        bias_w += (w["estimate"] - truth) / reps
        bias_u += (u["estimate"] - truth) / reps
    return hit_w / reps, hit_u / reps, bias_w, bias_u


def test_raking_removes_nonresponse_bias_fast() -> None:
    # 300 replicates: the coverage estimate has a binomial SE of about 1.3 points, so the
    # fast check asks for >= 92%; the long run (2,000 replicates) asks for >= 93.5%.
    # Measured: 93.0% here; 94.7% in the long run; 94.05% over 4,000 replicates (seed 99).
    cov_w, cov_u, bias_w, bias_u = _coverage(300, seed=5)
    assert cov_w >= 0.92, (cov_w, bias_w)
    assert cov_u < 0.6, (cov_u, bias_u)
    assert abs(bias_w) < 0.003 < abs(bias_u)


@pytest.mark.slow
def test_raking_removes_nonresponse_bias_long() -> None:
    cov_w, cov_u, bias_w, bias_u = _coverage(2000, seed=11)
    assert 0.935 <= cov_w <= 0.965, (cov_w, bias_w)
    assert cov_u < 0.6, (cov_u, bias_u)
    assert abs(bias_w) < 0.0015


def test_methods_on_the_design_delegate() -> None:
    d = _strat()
    np.testing.assert_allclose(d.rake(RAKE3, tol=1e-12).weights, rake(d, RAKE3, tol=1e-12).weights)
    np.testing.assert_allclose(
        d.poststratify(TARGETS["stype"], by="stype").weights,
        poststratify(d, TARGETS["stype"], by="stype").weights,
    )
    np.testing.assert_allclose(
        d.calibrate(CAL, aux="~stype + api99").weights, calibrate(d, CAL, aux="~stype + api99").weights
    )
    chained = d.poststratify(TARGETS["stype"], by="stype").trim(upper=40.0)
    assert [s.method for s in chained.weighting_steps] == ["poststratify", "trim"]


def test_demo_wave_raked_to_register_margins(demo_study, demo_dir) -> None:
    """The demo's FY2025 wave raked to the resident-register margins (codes -> labels)."""
    fy = 2025
    data = demo_study.load_wave(fy)
    cb = demo_study.codebook
    cols = {"stratum": "中学校区", "reg_sex": "性別", "reg_age": "年代"}
    labelled = data.assign(**{f"{c}_label": data[c].map(cb[c].codes) for c in cols})
    # awareness: q1 in {1, 2} among valid answers (1-4; 9 = no answer, excluded domain-style)
    q1 = labelled["q1"]
    valid = q1.isin([1, 2, 3, 4]).to_numpy(dtype=bool)
    labelled["aware"] = np.where(valid, q1.isin([1, 2]).to_numpy(dtype=bool), np.nan)
    d = demo_study.design(fy, data=labelled, weighted=False)
    pm = demo_study.population_margins()
    margins = {f"{c}_label": pm.groupby(p)["人口"].sum() for c, p in cols.items()}
    raked = rake(d, margins)
    for c, m in margins.items():
        got = pd.Series(raked.weights).groupby(labelled[c].to_numpy()).sum()
        np.testing.assert_allclose(got.reindex(m.index), m.to_numpy(), rtol=1e-9)
    est_r = raked.subset(valid).mean("aware", na_rm=True).iloc[0]
    est_u = d.subset(valid).mean("aware", na_rm=True).iloc[0]
    truth = pd.read_csv(demo_dir / "truth" / "truth_indicators.csv")
    t = truth.query("fiscal_year == @fy and domain_type == 'city' and indicator == 'awareness_top2'")
    t = float(t["value"].iloc[0])
    assert abs(est_r["estimate"] - t) < 2.5 * est_r["se"]
    assert abs(est_u["estimate"] - t) > abs(est_r["estimate"] - t)
    rep = raked.weighting_report()
    assert rep.summary.loc[rep.summary["weights"] == "final", "deff_kish"].iloc[0] > 1


def test_poststratify_collapses_sparse_levels() -> None:
    df = pd.DataFrame(
        {
            "age": ["y"] * 2 + ["m"] * 20 + ["o"] * 20,
            "sex": (["M", "F"] * 21),
            "w": 1.0,
        }
    )
    pop = pd.DataFrame(
        {
            "age": ["y", "y", "m", "m", "o", "o"],
            "sex": ["M", "F"] * 3,
            "N": [50.0, 50.0, 200.0, 210.0, 150.0, 160.0],
        }
    )
    d = poststratify(SurveyDesign(df, weights="w"), pop, by=["age", "sex"], min_cell=3, collapse=["age"])
    coll = weighting_report(d).collapsed
    assert list(coll["label"]) == ["y+m"] and list(coll["variable"]) == ["age"]
    young_mid_m = (df["age"].isin(["y", "m"]) & (df["sex"] == "M")).to_numpy()
    assert d.weights[young_mid_m].sum() == pytest.approx(250.0)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("rake", {}),
        ("calibrate_linear", {}),
        ("calibrate_raking", {}),
        ("calibrate_logit", {"bounds": (0.3, 3.0)}),
        ("poststratify", {}),
    ],
)
def test_study_style_weighting_by_name(demo_study, method, options) -> None:
    """What Study.design does with design.weighting: margins from the population file,
    the method chosen by name, optional trimming (see docs/architecture.md)."""
    d = demo_study.design(2025, weighted=False)
    pm = demo_study.population_margins()
    cb = demo_study.codebook
    cols = {"stratum": "中学校区", "reg_sex": "性別"}
    count = pm.columns[-1]
    columns, margins = {}, {}
    for col, pop_col in cols.items():
        target = pm.groupby(pop_col, sort=False)[count].sum()
        labels = d.data[col].map(cb[col].codes)
        columns[pop_col] = pd.Categorical(labels, categories=list(target.index))
        margins[pop_col] = target
    labelled = d.assign(**columns)
    if method == "poststratify":
        targets = pm.groupby(list(cols.values()), sort=False)[count].sum().reset_index()
        options = {"by": list(cols.values()), "count": count}
    else:
        targets = margins
    w = apply_weighting(labelled, method, targets, trim=(None, 1.5 * labelled.weights.mean() * 1.1), **options)
    assert [s.method for s in w.weighting_steps][-1] == "trim"
    first = w.weighting_steps[0]
    assert first.method == method.split("_")[0]
    rep = w.weighting_report().margins
    assert np.isfinite(rep["final"]).all()
    np.testing.assert_allclose(w.weights.sum(), float(pm[count].sum()), rtol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["男性", "女性", "20代", "a", "A", "1", ""]), st.integers(0, 3),
                          st.booleans(), st.floats(0, 3)), max_size=8),
       st.lists(st.one_of(st.sampled_from(["男性", "女性", "20代", "a", "1"]), st.integers(0, 3)), max_size=8),
       st.booleans())
def test_margin_levels_are_matched_as_pandas_matches_them(levels, values, text_only):
    """``positions`` (a dictionary for text levels) gives pandas.Index.get_indexer's answer,
    and refuses what pandas refuses (duplicated levels with non-unique matching)."""
    from kyodo_analysis.stats.weighting._common import positions

    if text_only:
        levels = [str(v) for v in levels]
        values = [str(v) for v in values]
    try:
        want = pd.Index(levels).get_indexer(pd.Index(values))
    except Exception as exc:  # whatever pandas raises, positions raises too
        with pytest.raises(type(exc)):
            positions(pd.Index(levels, dtype=object), np.asarray(values, dtype=object))
        return
    got = positions(pd.Index(levels, dtype=object), np.asarray(values, dtype=object))
    assert got.tolist() == list(want)
