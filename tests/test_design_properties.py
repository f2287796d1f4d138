"""Hand-computed cases, property tests, failure paths and Monte Carlo coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats.design import SurveyDesign, compare_independent
from kyodo_analysis.stats.replicate import ReplicateDesign, to_replicate

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ hand-computed formulas
@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=3, max_size=40), st.integers(min_value=0, max_value=500))
def test_srs_equal_weights_matches_textbook(y: list[float], extra: int) -> None:
    """Equal-weight SRS: SE(mean) = sqrt((1 - n/N) s^2 / n); without fpc sqrt(s^2/n)."""
    n = len(y)
    big_n = n + extra
    df = pd.DataFrame({"y": y, "N": float(big_n)})
    s2 = np.var(y, ddof=1)
    res = SurveyDesign(df, fpc="N").mean("y").iloc[0]
    assert res["estimate"] == pytest.approx(np.mean(y), rel=1e-12, abs=1e-9)
    assert res["se"] == pytest.approx(np.sqrt((1 - n / big_n) * s2 / n), rel=1e-9, abs=1e-9)
    res_wr = SurveyDesign(df).mean("y").iloc[0]
    assert res_wr["se"] == pytest.approx(np.sqrt(s2 / n), rel=1e-9, abs=1e-9)
    assert res_wr["df"] == n - 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(finite, st.floats(0.1, 50)), min_size=4, max_size=30),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_scaling_weights(rows: list[tuple[float, float]], c: float) -> None:
    """Means and their SEs are invariant to rescaling the weights; totals scale with them."""
    df = pd.DataFrame(rows, columns=["y", "w"])
    df["psu"] = np.arange(len(df)) // 2
    df["w2"] = df["w"] * c
    a = SurveyDesign(df, weights="w", psu="psu")
    b = SurveyDesign(df, weights="w2", psu="psu")
    ma, mb = a.mean("y").iloc[0], b.mean("y").iloc[0]
    assert mb["estimate"] == pytest.approx(ma["estimate"], rel=1e-9, abs=1e-9)
    assert mb["se"] == pytest.approx(ma["se"], rel=1e-7, abs=1e-9)
    ta, tb = a.total("y").iloc[0], b.total("y").iloc[0]
    assert tb["estimate"] == pytest.approx(c * ta["estimate"], rel=1e-9, abs=1e-6)
    assert tb["se"] == pytest.approx(c * ta["se"], rel=1e-7, abs=1e-6)


def test_stratified_hand_formula() -> None:
    """V(ybar) = sum_h W_h^2 (1 - f_h) s_h^2 / n_h with W_h = N_h / N."""
    rng = np.random.default_rng(1)
    n_h = {"a": 5, "b": 8, "c": 12}
    big = {"a": 50, "b": 100, "c": 40}
    parts = []
    for h, n in n_h.items():
        parts.append(pd.DataFrame({"h": h, "y": rng.normal(size=n), "N": big[h]}))
    df = pd.concat(parts, ignore_index=True)
    res = SurveyDesign(df, strata="h", fpc="N").mean("y").iloc[0]
    tot = sum(big.values())
    est = sum(big[h] / tot * df.loc[df.h == h, "y"].mean() for h in n_h)
    var = sum(
        (big[h] / tot) ** 2 * (1 - n_h[h] / big[h]) * df.loc[df.h == h, "y"].var() / n_h[h]
        for h in n_h
    )
    assert res["estimate"] == pytest.approx(est, rel=1e-12)
    assert res["se"] == pytest.approx(np.sqrt(var), rel=1e-10)
    assert res["df"] == len(df) - 3


def test_two_stage_hand_formula() -> None:
    """Two-stage SRSWOR total: N^2(1-f1)s1^2/n + N/n * sum_i M_i^2 (1-f2i) s2i^2/m_i."""
    rng = np.random.default_rng(2)
    big_n, n = 30, 4
    m_i = [3, 4, 2, 5]
    big_m = [10, 12, 6, 20]
    rows = []
    for i in range(n):
        for _ in range(m_i[i]):
            rows.append({"c": i, "y": rng.normal(5, 2), "N1": big_n, "N2": big_m[i]})
    df = pd.DataFrame(rows)
    df["unit"] = np.arange(len(df))
    d = SurveyDesign(df, psu=["c", "unit"], fpc=["N1", "N2"])
    res = d.total("y").iloc[0]
    g = df.groupby("c")["y"]
    t_i = g.mean().to_numpy() * np.array(big_m)
    est = big_n / n * t_i.sum()
    v1 = big_n**2 * (1 - n / big_n) * np.var(t_i, ddof=1) / n
    v2 = (
        big_n
        / n
        * sum(
            big_m[i] ** 2 * (1 - m_i[i] / big_m[i]) * g.get_group(i).var() / m_i[i]
            for i in range(n)
        )
    )
    assert res["estimate"] == pytest.approx(est, rel=1e-12)
    assert res["se"] == pytest.approx(np.sqrt(v1 + v2), rel=1e-10)


# ------------------------------------------------------------------ domains and NA handling
def _clustered(seed: int = 3, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "h": rng.integers(0, 4, n),
            "c": rng.integers(0, 10, n),
            "w": rng.uniform(1, 5, n),
            "y": rng.normal(size=n),
            "b": rng.integers(0, 2, n),
            "g": rng.choice(["x", "y", "z"], n),
        }
    )


def test_by_equals_subset_and_keeps_design() -> None:
    df = _clustered()
    d = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True)
    by = d.mean("y", by="g").set_index("g")
    for lev in ["x", "y", "z"]:
        sub = d.subset(df["g"] == lev).mean("y").iloc[0]
        assert by.loc[lev, "estimate"] == pytest.approx(sub["estimate"], rel=1e-12)
        assert by.loc[lev, "se"] == pytest.approx(sub["se"], rel=1e-10)
        assert by.loc[lev, "df"] == sub["df"]
        # dropping the rows instead (the wrong way) gives a different variance in general
    dropped = SurveyDesign(df[df.g == "x"], strata="h", psu="c", weights="w", nest=True)
    assert dropped.mean("y").iloc[0]["estimate"] == pytest.approx(by.loc["x", "estimate"])


def test_na_rm_is_domain_style() -> None:
    df = _clustered()
    df.loc[df.index % 7 == 0, "y"] = np.nan
    d = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True)
    with pytest.raises(EstimationError, match=r"'y' has 58 missing"):
        d.mean("y")
    a = d.mean("y", na_rm=True).iloc[0]
    b = d.subset(df["y"].notna()).mean("y").iloc[0]
    assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-12)
    assert a["se"] == pytest.approx(b["se"], rel=1e-12)
    assert a["n"] == df["y"].notna().sum()


def test_difference_uses_joint_covariance() -> None:
    df = _clustered()
    d = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True)
    diff = d.difference("y", by="g", levels=("x", "y")).iloc[0]
    by = d.mean("y", by="g").set_index("g")
    assert diff["estimate"] == pytest.approx(by.loc["x", "estimate"] - by.loc["y", "estimate"])
    naive = np.hypot(by.loc["x", "se"], by.loc["y", "se"])
    assert diff["se"] != pytest.approx(naive, rel=1e-6)  # clusters induce a covariance
    assert 0 <= diff["p_value"] <= 1


def test_compare_independent() -> None:
    out = compare_independent({"estimate": 0.5, "se": 0.03}, {"estimate": 0.4, "se": 0.04}).iloc[0]
    assert out["estimate"] == pytest.approx(0.1)
    assert out["se"] == pytest.approx(0.05)
    assert out["z"] == pytest.approx(2.0)
    assert out["p_value"] == pytest.approx(2 * stats.norm.sf(2.0))
    assert out["ci_low"] == pytest.approx(0.1 - stats.norm.ppf(0.975) * 0.05)


def test_multi_response_base_and_totals() -> None:
    df = pd.DataFrame(
        {
            "a": [1, 0, 1, np.nan, 1, 0],
            "b": [1, 1, 0, np.nan, 1, np.nan],
            "w": [1.0, 2.0, 1.0, 5.0, 1.0, 1.0],
        }
    )
    res = SurveyDesign(df, weights="w").multi_response(["a", "b"]).set_index("option")
    # row 3 answered nothing: not in the base; row 5 missing b counts as not chosen
    assert (res["n"] == 5).all()
    assert res.loc["a", "estimate"] == pytest.approx(3 / 6)
    assert res.loc["b", "estimate"] == pytest.approx(4 / 6)
    assert res["estimate"].sum() > 1


# ------------------------------------------------------------------ replicate designs
def _two_psu_design() -> tuple[pd.DataFrame, SurveyDesign]:
    rng = np.random.default_rng(4)
    rows = []
    for h in range(6):
        for c in range(2):
            for _ in range(rng.integers(3, 7)):
                rows.append({"h": h, "c": c, "w": rng.uniform(1, 3), "y": rng.normal(h, 1)})
    df = pd.DataFrame(rows)
    return df, SurveyDesign(df, strata="h", psu="c", weights="w", nest=True)


@pytest.mark.parametrize("kind", ["BRR", "Fay"])
def test_brr_total_equals_linearised(kind: str) -> None:
    """With full orthogonal balance BRR/Fay reproduce the with-replacement variance of a total."""
    _, d = _two_psu_design()
    lin = d.total("y").iloc[0]
    rep = d.to_replicate(kind, rho=0.3).total("y").iloc[0]
    assert rep["estimate"] == pytest.approx(lin["estimate"], rel=1e-12)
    assert rep["se"] == pytest.approx(lin["se"], rel=1e-10)


def test_jk1_total_equals_linearised() -> None:
    df = _clustered()
    d = SurveyDesign(df, psu="c", weights="w")
    lin = d.total("y").iloc[0]
    rep = to_replicate(d, "JK1").total("y").iloc[0]
    assert rep["se"] == pytest.approx(lin["se"], rel=1e-10)


def test_bootstrap_runs_and_is_reasonable() -> None:
    _, d = _two_psu_design()
    rep = d.to_replicate("bootstrap", replicates=400, seed=1).mean("y").iloc[0]
    lin = d.mean("y").iloc[0]
    assert rep["estimate"] == pytest.approx(lin["estimate"])
    assert 0.6 < rep["se"] / lin["se"] < 1.4


def test_replicate_design_from_columns() -> None:
    df, d = _two_psu_design()
    rep = d.to_replicate("JKn")
    cols = [f"r{i}" for i in range(rep.repweights.shape[1])]
    df2 = pd.concat([df, pd.DataFrame(rep.repweights, columns=cols)], axis=1)
    r2 = ReplicateDesign(df2, repweights=cols, weights="w", type="JKn", rscales=rep.rscales)
    a, b = rep.mean("y", by="h"), r2.mean("y", by="h")
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-12)


# ------------------------------------------------------------------ crosstab / glm sanity
def test_crosstab_table_sums_to_weight_total() -> None:
    df = _clustered()
    d = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True)
    res = d.crosstab("g", "b")
    assert res.table.to_numpy().sum() == pytest.approx(df["w"].sum())
    assert 0 <= res.test["p_value"].iloc[0] <= 1
    assert res.test["ndf"].iloc[0] > 0


def test_glm_gaussian_point_estimates_are_wls() -> None:
    df = _clustered()
    d = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True)
    fit = d.glm("y ~ b")
    x = np.column_stack([np.ones(len(df)), df["b"]])
    w = df["w"].to_numpy()
    beta = np.linalg.solve(x.T @ (x * w[:, None]), x.T @ (w * df["y"]))
    np.testing.assert_allclose(fit.coefficients["estimate"], beta, rtol=1e-10)
    assert fit.df_residual == d.degf() + 1 - 2


# ------------------------------------------------------------------ failure paths
def test_failures() -> None:
    df = _clustered()
    with pytest.raises(EstimationError, match="lonely_psu must be"):
        SurveyDesign(df, lonely_psu="ignore")  # type: ignore[arg-type]
    with pytest.raises(EstimationError, match="nest=True"):
        SurveyDesign(df, strata="h", psu="c")
    bad = df.assign(f=np.where(df.index < 10, 0.5, 20.0))
    with pytest.raises(EstimationError, match="all population sizes"):
        SurveyDesign(bad, fpc="f")
    d = SurveyDesign(df, weights="w")
    with pytest.raises(EstimationError, match="not in the data"):
        d.mean("nope")
    with pytest.raises(EstimationError, match="categorical"):
        d.var("g")
    with pytest.raises(EstimationError, match="exactly two PSUs"):
        SurveyDesign(df, strata="h", psu="c", weights="w", nest=True).to_replicate("BRR")
    lonely = pd.DataFrame({"h": [1, 1, 2], "c": [1, 2, 3], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(EstimationError, match="Stratum 2 has only one PSU"):
        SurveyDesign(lonely, strata="h", psu="c").mean("y")
    assert (
        SurveyDesign(lonely, strata="h", psu="c", lonely_psu="certainty").mean("y")["se"].iloc[0]
        > 0
    )


# ------------------------------------------------------------------ Monte Carlo coverage
STRATA_N = np.array([20_000, 12_000, 8_000, 6_000, 4_000])
STRATA_n = np.array([100, 80, 80, 70, 70])


def _population(seed: int = 20260401) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    h = np.repeat(np.arange(5), STRATA_N)
    n = len(h)
    dom = rng.choice(["a", "b", "c"], n, p=[0.4, 0.35, 0.25])
    y = rng.gamma(2.0 + h, 10.0, n) + 5 * (dom == "b")
    p = 1 / (1 + np.exp(-(-1.0 + 0.3 * h + 0.8 * (dom == "c"))))
    b = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"h": h, "N": STRATA_N[h], "y": y, "b": b, "dom": dom})


def _coverage(reps: int, seed: int) -> dict[str, float]:
    pop = _population()
    truth_mean = pop["y"].mean()
    truth_prop = pop["b"].mean()
    truth_dom = pop.loc[pop.dom == "c", "b"].mean()
    rng = np.random.default_rng(seed)
    starts = np.concatenate([[0], np.cumsum(STRATA_N)[:-1]])
    hits = {"mean": 0, "proportion": 0, "domain_proportion": 0}
    for _ in range(reps):
        idx = np.concatenate(
            [
                s + rng.choice(big, size=small, replace=False)
                for s, big, small in zip(starts, STRATA_N, STRATA_n, strict=True)
            ]
        )
        d = SurveyDesign(pop.iloc[idx], strata="h", fpc="N")
        m = d.mean("y").iloc[0]
        hits["mean"] += m["ci_low"] <= truth_mean <= m["ci_high"]
        p = d.proportion("b", success=1).iloc[0]
        hits["proportion"] += p["ci_low"] <= truth_prop <= p["ci_high"]
        pd_ = d.proportion("b", success=1, by="dom").set_index("dom").loc["c"]
        hits["domain_proportion"] += pd_["ci_low"] <= truth_dom <= pd_["ci_high"]
    return {k: v / reps for k, v in hits.items()}


def test_monte_carlo_coverage_fast() -> None:
    """200 stratified samples: coverage must be plausible (3 Monte Carlo SEs below 95%)."""
    cov = _coverage(200, seed=11)
    for name, c in cov.items():
        assert 0.90 <= c <= 0.995, (name, c)


@pytest.mark.slow
def test_monte_carlo_coverage() -> None:
    """1500 stratified SRSWOR samples (n = 400 of N = 50,000): 95% intervals of the finite
    population mean, proportion and domain proportion cover in [93%, 97%]."""
    cov = _coverage(1500, seed=12)
    for name, c in cov.items():
        assert 0.93 <= c <= 0.97, (name, c)


def test_fpc_as_fraction_equals_population_size() -> None:
    """R accepts fpc as population sizes or as sampling fractions (all <= 1)."""
    df = _clustered()
    pop = {0: 40, 1: 55, 2: 70, 3: 35}
    df["Nc"] = df["h"].map(pop)
    n_psu = df.groupby("h")["c"].nunique()
    df["fc"] = df["h"].map(n_psu) / df["Nc"]
    a = SurveyDesign(df, strata="h", psu="c", weights="w", fpc="Nc", nest=True).mean("y")
    b = SurveyDesign(df, strata="h", psu="c", weights="w", fpc="fc", nest=True).mean("y")
    assert b["se"].iloc[0] == pytest.approx(a["se"].iloc[0], rel=1e-12)
    c = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True).mean("y")
    assert a["se"].iloc[0] < c["se"].iloc[0]


def test_compare_independent_tables() -> None:
    """Two waves' domain tables are matched on their by columns."""
    df = _clustered()
    w1 = SurveyDesign(df, strata="h", psu="c", weights="w", nest=True).mean("y", by="g")
    df2 = _clustered(seed=9)
    w2 = SurveyDesign(df2, strata="h", psu="c", weights="w", nest=True).mean("y", by="g")
    out = compare_independent(w1, w2.iloc[::-1])
    assert list(out["g"]) == ["x", "y", "z"]
    row = compare_independent(w1.iloc[1], w2.iloc[1]).iloc[0]
    assert out.loc[1, "estimate"] == pytest.approx(row["estimate"])
    assert out.loc[1, "se"] == pytest.approx(row["se"])
    assert out.loc[1, "df"] == min(w1.loc[1, "df"], w2.loc[1, "df"])
    with pytest.raises(EstimationError, match="key columns"):
        compare_independent(w1, w2.drop(columns="g"))


@pytest.mark.parametrize("lonely", ["certainty", "adjust", "average"])
def test_row_unit_lean_path_equals_dense(monkeypatch: pytest.MonkeyPatch, lonely: str) -> None:
    """The memory-lean computation for designs without PSUs gives the dense results."""
    import kyodo_analysis.stats.design as design_mod

    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame(
        {
            "h": rng.integers(0, 6, n),
            "w": rng.uniform(1, 4, n),
            "y": rng.normal(3, 2, n),
            "g": rng.integers(0, 7, n),
        }
    )
    df.loc[0, "h"] = 99  # a lonely stratum
    df["N"] = df["h"].map(df["h"].value_counts() * 3)
    df.loc[df.index % 50 == 0, "y"] = np.nan
    d = SurveyDesign(df, strata="h", weights="w", fpc="N", lonely_psu=lonely)  # type: ignore[arg-type]
    dense = (
        d.mean("y", by="g", na_rm=True, deff=True),
        d.total("y", by="g", na_rm=True),
        d.proportion("g", success=3, by="h", method="beta"),
    )
    monkeypatch.setattr(design_mod, "_DENSE_LIMIT", 0)
    lean = (
        d.mean("y", by="g", na_rm=True, deff=True),
        d.total("y", by="g", na_rm=True),
        d.proportion("g", success=3, by="h", method="beta"),
    )
    for a, b in zip(dense, lean, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    c1 = d.contrast("y", [1, -1, 0, 0, 0, 0, 0], by="g", na_rm=True)
    monkeypatch.setattr(design_mod, "_DENSE_LIMIT", 10**12)
    c2 = d.contrast("y", [1, -1, 0, 0, 0, 0, 0], by="g", na_rm=True)
    pd.testing.assert_frame_equal(c1, c2, check_exact=False, rtol=1e-9)


def test_by_on_nullable_integer_columns_matches_plain_integers():
    """Survey codes come from the store as nullable Int64: domains on them work, with or
    without missing values (rows with a missing domain label are in no domain)."""
    import numpy as np
    import pandas as pd

    from kyodo_analysis.stats import SurveyDesign

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"y": rng.normal(size=200), "g": rng.integers(1, 4, size=200),
                          "s": np.repeat([1, 2], 100)})
    plain = SurveyDesign(frame, strata="s").mean("y", by="g")
    nullable = SurveyDesign(frame.assign(g=frame["g"].astype("Int64")), strata="s").mean(
        "y", by="g")
    pd.testing.assert_frame_equal(plain.drop(columns="g"), nullable.drop(columns="g"))
    assert nullable["g"].tolist() == [1, 2, 3]
    with_na = frame.assign(g=frame["g"].astype("Int64").mask(frame.index < 10))
    got = SurveyDesign(with_na, strata="s").mean("y", by="g")
    assert got["g"].tolist() == [1, 2, 3] and got["n"].sum() == 190
