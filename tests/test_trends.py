"""Tests for kyodo_analysis.stats.trends: known-truth simulations and hand-computed cases.

The Monte Carlo checks use fixed seeds, so they are deterministic; the acceptance bands
are binomial bands around the nominal rate wide enough for any reasonable seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats.trends import (
    CountTrendFit,
    forecast,
    mann_kendall,
    probability_of_reaching,
    sens_slope,
    survey_trend,
)

YEARS = np.arange(2012, 2026)          # observed FY2012-FY2025
ALL_YEARS = np.arange(2012, 2032)      # including the future FY2026-FY2031
PLAN_START = 2022
COVID = (2020, 2021)


def fit_count_trend(series, **options) -> CountTrendFit:
    """The count model with this module's simulated plan start and COVID years as defaults."""
    from kyodo_analysis.stats.trends import fit_count_trend as fit

    return fit(series, **{"plan_start": PLAN_START, "covid_years": COVID, **options})


def its_mean(years: np.ndarray, *, base: float = 200.0, trend: float = 0.03,
             covid: float = -0.35, level: float = 0.0, slope: float = 0.0) -> np.ndarray:
    """Expected counts from the ITS model with t = year - plan start."""
    t = (years - PLAN_START).astype(float)
    post = (years >= PLAN_START).astype(float)
    eta = (np.log(base) + trend * t + covid * np.isin(years, COVID)
           + level * post + slope * t * post)
    return np.exp(eta)


def draw_counts(rng: np.random.Generator, mu: np.ndarray, alpha: float) -> np.ndarray:
    """Poisson (alpha = 0) or NB2 counts with variance mu + alpha mu^2 (gamma-Poisson)."""
    if alpha == 0:
        return rng.poisson(mu)
    return rng.poisson(rng.gamma(1.0 / alpha, mu * alpha))


# ================================================================== Monte Carlo studies
@dataclass
class EffectStudy:
    """Series simulated with a known plan effect, fitted on FY2012-FY2025."""

    level_cover: float
    slope_cover: float
    level_sign_ok: float
    slope_sign_ok: float
    share_nb: float
    pi_cover_2026: float
    pi_cover_2031: float
    mean_prob: float
    hit_rate: float
    level_bias_z: float   # (mean log-estimate - truth) / Monte Carlo SE
    slope_bias_z: float


TRUE_LEVEL, TRUE_SLOPE = math.log(1.15), math.log(1.05)


def run_effect_study(alpha: float, n_rep: int, seed: int) -> EffectStudy:
    rng = np.random.default_rng(seed)
    mu_all = its_mean(ALL_YEARS, level=TRUE_LEVEL, slope=TRUE_SLOPE)
    target_2031 = float(np.round(mu_all[-1]))
    obs = ALL_YEARS <= 2025
    lc = sc = ls = ss = nb = c26 = c31 = 0
    probs, hits, log_lvl, log_slp = [], [], [], []
    for rep in range(n_rep):
        y_all = draw_counts(rng, mu_all, alpha)
        fit = fit_count_trend(pd.Series(y_all[obs], index=YEARS))
        lvl, slp = fit.level_change, fit.slope_change
        lc += lvl.ci_low <= math.exp(TRUE_LEVEL) <= lvl.ci_high
        sc += slp.ci_low <= math.exp(TRUE_SLOPE) <= slp.ci_high
        ls += lvl.estimate > 1
        log_lvl.append(math.log(lvl.estimate))
        log_slp.append(math.log(slp.estimate))
        ss += slp.estimate > 1
        nb += fit.family == "negbin"
        fc = forecast(fit, [2026, 2031], n_sim=2000, seed=rep)
        y26, y31 = y_all[ALL_YEARS == 2026][0], y_all[-1]
        c26 += fc["pi_low"].iloc[0] <= y26 <= fc["pi_high"].iloc[0]
        c31 += fc["pi_low"].iloc[1] <= y31 <= fc["pi_high"].iloc[1]
        probs.append(probability_of_reaching(fit, target_2031, 2031, n_sim=2000, seed=rep))
        hits.append(y31 >= target_2031)
    n = float(n_rep)
    def bias_z(est: list[float], truth: float) -> float:
        return float((np.mean(est) - truth) / (np.std(est, ddof=1) / math.sqrt(n_rep)))

    return EffectStudy(lc / n, sc / n, ls / n, ss / n, nb / n, c26 / n, c31 / n,
                       float(np.mean(probs)), float(np.mean(hits)),
                       bias_z(log_lvl, TRUE_LEVEL), bias_z(log_slp, TRUE_SLOPE))


@pytest.fixture(scope="module")
def effect_poisson() -> EffectStudy:
    return run_effect_study(alpha=0.0, n_rep=200, seed=101)


@pytest.fixture(scope="module")
def effect_nb() -> EffectStudy:
    return run_effect_study(alpha=0.05, n_rep=200, seed=202)


@dataclass
class NullStudy:
    """Series simulated without a plan effect: false detections of the joint plan test."""

    auto_rate: float
    naive_poisson_rate: float
    share_nb: float


def run_null_study(alpha: float, n_rep: int, seed: int, *, naive: bool) -> NullStudy:
    rng = np.random.default_rng(seed)
    mu = its_mean(YEARS)
    auto = pois = nb = 0
    for _ in range(n_rep):
        y = pd.Series(draw_counts(rng, mu, alpha), index=YEARS)
        fit = fit_count_trend(y)
        auto += fit.plan_test["p"] < 0.05
        nb += fit.family == "negbin"
        if naive:
            pois += fit_count_trend(y, family="poisson").plan_test["p"] < 0.05
    n = float(n_rep)
    return NullStudy(auto / n, pois / n if naive else float("nan"), nb / n)


class TestITSKnownTruth:
    def test_single_series_recovers_effect(self) -> None:
        rng = np.random.default_rng(7)
        mu = its_mean(YEARS, level=math.log(1.3), slope=math.log(1.08))
        fit = fit_count_trend(pd.Series(rng.poisson(mu), index=YEARS))
        assert fit.family == "poisson"
        assert fit.level_change.estimate > 1 and fit.slope_change.estimate > 1
        assert fit.level_change.ci_low <= 1.3 <= fit.level_change.ci_high
        assert fit.slope_change.ci_low <= 1.08 <= fit.slope_change.ci_high
        assert fit.plan_test["p"] < 0.05

    def test_ci_coverage_poisson(self, effect_poisson: EffectStudy) -> None:
        # 200 series, true level RR 1.15 and slope RR 1.05; binomial sd of a 95%
        # coverage over 200 reps is 1.5 points: accept 90%-99%.
        s = effect_poisson
        assert 0.90 <= s.level_cover <= 0.99, s
        assert 0.90 <= s.slope_cover <= 0.99, s
        assert s.level_sign_ok >= 0.9 and s.slope_sign_ok >= 0.9, s
        assert abs(s.level_bias_z) < 3.5 and abs(s.slope_bias_z) < 3.5, s

    def test_ci_coverage_negative_binomial(self, effect_nb: EffectStudy) -> None:
        s = effect_nb
        assert s.share_nb >= 0.95, s
        assert 0.90 <= s.level_cover <= 0.99, s
        assert 0.90 <= s.slope_cover <= 0.99, s
        # With a coefficient of variation of ~0.25 and 14 points the effect is not always
        # detected (the right sign in about two thirds of series), but the estimates are
        # centred on the truth.
        assert s.level_sign_ok > 0.5 and s.slope_sign_ok > 0.5, s
        assert abs(s.level_bias_z) < 3.5 and abs(s.slope_bias_z) < 3.5, s

    def test_forecast_interval_coverage(
        self, effect_poisson: EffectStudy, effect_nb: EffectStudy
    ) -> None:
        for s in (effect_poisson, effect_nb):
            assert 0.90 <= s.pi_cover_2026 <= 0.99, s
            assert 0.90 <= s.pi_cover_2031 <= 0.99, s

    def test_probability_of_reaching_calibrated(
        self, effect_poisson: EffectStudy, effect_nb: EffectStudy
    ) -> None:
        # Target = true expected FY2031 count; the mean predicted probability should match
        # the share of simulated futures that reach it (binomial sd ~0.035).
        for s in (effect_poisson, effect_nb):
            assert abs(s.mean_prob - s.hit_rate) < 0.10, s

    def test_false_detection_poisson(self) -> None:
        # The auto rule sends ~20% of Poisson series to the NB model, whose F test is
        # conservative, so the long-run rate is ~3.8% (3000 reps); 600 reps keep the
        # binomial sd at ~0.8 points inside the 2%-9% band.
        s = run_null_study(alpha=0.0, n_rep=600, seed=303, naive=False)
        assert 0.02 <= s.auto_rate <= 0.09, s

    def test_false_detection_overdispersed(self) -> None:
        # NB2 with alpha = 0.05 (coefficient of variation ~ 0.25 on top of Poisson noise).
        s = run_null_study(alpha=0.05, n_rep=300, seed=404, naive=True)
        assert s.share_nb >= 0.95, s                 # auto detects the overdispersion
        assert 0.02 <= s.auto_rate <= 0.09, s        # and keeps the nominal rate
        assert s.naive_poisson_rate > 0.20, s        # whereas naive Poisson over-rejects


@pytest.mark.slow
class TestITSKnownTruthSlow:
    """Larger Monte Carlo runs of the false-detection checks, with tighter bands."""

    def test_false_detection_poisson_large(self) -> None:
        s = run_null_study(alpha=0.0, n_rep=2000, seed=505, naive=False)
        assert 0.025 <= s.auto_rate <= 0.065, s   # long-run rate ~3.8-4.8%

    def test_false_detection_weak_overdispersion_large(self) -> None:
        # alpha = 0.003 at ~200 counts: variance ~1.6 x Poisson, hard to detect with 14
        # points; the liberal pre-test still keeps the rate well below naive Poisson's.
        s = run_null_study(alpha=0.003, n_rep=1000, seed=606, naive=True)
        assert s.auto_rate <= 0.09, s
        assert s.naive_poisson_rate > s.auto_rate, s


# ================================================================== fit_count_trend API
def example_series() -> pd.Series:
    return pd.Series(
        [120, 125, 131, 136, 140, 147, 152, 158, 110, 118, 175, 186, 199, 210],
        index=range(2012, 2026),
    )


class TestFitCountTrend:
    def test_coefficient_table(self) -> None:
        fit = fit_count_trend(example_series())
        assert isinstance(fit, CountTrendFit)
        assert list(fit.coefficients.columns) == [
            "term", "estimate", "se", "statistic", "ci_low", "ci_high", "p"
        ]
        assert fit.coefficients["term"].tolist() == [
            "intercept", "trend", "covid", "level_change", "slope_change"
        ]
        frame = fit.to_frame()
        assert {"scale", "family"} <= set(frame.columns)
        rr = frame[frame["scale"] == "rate_ratio"].set_index("term")
        assert rr.loc["level_change", "estimate"] == pytest.approx(fit.level_change.estimate)
        assert fit.summary_frame().shape == (14, 3)

    def test_matches_statsmodels_poisson(self) -> None:
        y = example_series()
        fit = fit_count_trend(y, family="poisson")
        t = (y.index.to_numpy() - 2022).astype(float)
        post = (t >= 0).astype(float)
        x = np.column_stack([np.ones(14), t, np.isin(y.index, COVID), post, t * post])
        ref = sm.GLM(y.to_numpy(), x.astype(float), family=sm.families.Poisson()).fit()
        np.testing.assert_allclose(fit.params, ref.params, rtol=1e-6)
        np.testing.assert_allclose(fit.coefficients["se"], ref.bse, rtol=1e-6)
        assert fit.plan_test["distribution"] == "chi2"

    def test_negbin_uses_t_and_f(self) -> None:
        rng = np.random.default_rng(5)
        y = pd.Series(draw_counts(rng, its_mean(YEARS), 0.1), index=YEARS)
        fit = fit_count_trend(y, family="negbin")
        assert fit.family == "negbin" and fit.inference == "t"
        assert fit.plan_test["distribution"] == "F" and fit.plan_test["df2"] == 9
        assert fit.alpha > 0
        # moment equation: Pearson chi-square at alpha_hat equals the residual df
        mu = fit.fitted
        pearson = np.sum((fit.observed - mu) ** 2 / (mu * (1 + fit.alpha * mu)))
        assert pearson == pytest.approx(fit.df_resid, rel=1e-4)
        assert "requested" in fit.family_reason

    def test_auto_reason_mentions_test(self) -> None:
        fit = fit_count_trend(example_series())
        assert "Pearson X2/df" in fit.family_reason
        assert fit.cameron_trivedi[2] >= 0

    def test_fiscal_year_labels_as_index(self) -> None:
        y = example_series()
        labelled = y.copy()
        labelled.index = [f"FY{v}" for v in y.index]
        a = fit_count_trend(labelled)
        b = fit_count_trend(y.to_numpy(), years=list(y.index))
        np.testing.assert_allclose(a.params, b.params)
        reversed_ = fit_count_trend(y.iloc[::-1])
        np.testing.assert_allclose(reversed_.params, a.params)

    def test_covid_term_dropped_when_absent(self) -> None:
        y = example_series().drop([2020, 2021])
        fit = fit_count_trend(y)
        assert "covid" not in fit.terms
        assert fit.covid_years == ()

    @pytest.mark.parametrize(
        ("series", "kwargs", "fragment"),
        [
            (example_series().astype(float).mask(example_series().index == 2015), {},
             "missing"),
            (example_series() - 200, {}, "non-negative"),
            (example_series() + 0.5, {}, "integer"),
            (example_series(), {"family": "quasi"}, "family"),
            (example_series(), {"plan_start": 2025}, "at least 2 years from plan_start"),
            (example_series().loc[2019:], {}, "pre-plan"),
            (example_series().to_numpy(), {}, "years is required"),
            (example_series(), {"level": 95}, "level"),
            (pd.Series([0] * 14, index=range(2012, 2026)), {}, "all zeros"),
            (pd.Series(example_series().to_numpy()), {}, "western fiscal years"),
        ],
    )
    def test_invalid_input(self, series: object, kwargs: dict, fragment: str) -> None:
        with pytest.raises(EstimationError, match=fragment):
            fit_count_trend(series, **kwargs)

    def test_duplicate_years(self) -> None:
        with pytest.raises(EstimationError, match="repeat"):
            fit_count_trend([1, 2, 3], years=[2020, 2020, 2021])


class TestForecastAPI:
    def test_deterministic_given_seed(self) -> None:
        fit = fit_count_trend(example_series())
        a = forecast(fit, [2026, 2031], n_sim=3000, seed=11)
        b = forecast(fit, [2026, 2031], n_sim=3000, seed=11)
        c = forecast(fit, [2026, 2031], n_sim=3000, seed=12)
        pd.testing.assert_frame_equal(a, b)
        assert not a.equals(c)

    def test_interval_ordering(self) -> None:
        fc = forecast(fit_count_trend(example_series()), [2026, 2031], n_sim=3000)
        assert (fc["pi_low"] <= fc["ci_low"]).all() and (fc["ci_high"] <= fc["pi_high"]).all()
        assert (fc["ci_low"] <= fc["estimate"]).all() and (fc["estimate"] <= fc["ci_high"]).all()
        # the 2031 interval is wider than the 2026 one (further from the data)
        width = fc["pi_high"] - fc["pi_low"]
        assert width.iloc[1] > width.iloc[0]

    def test_probability_bounds_and_direction(self) -> None:
        fit = fit_count_trend(example_series())
        assert probability_of_reaching(fit, 0, 2031, n_sim=2000) == 1.0
        assert probability_of_reaching(fit, 10**7, 2031, n_sim=2000) == 0.0
        # P(Y >= 250) + P(Y <= 249) = 1 on the same draws (same seed)
        hi = probability_of_reaching(fit, 250, 2031, n_sim=4000, seed=3)
        lo = probability_of_reaching(fit, 249, 2031, direction="lower", n_sim=4000, seed=3)
        assert hi + lo == pytest.approx(1.0)

    def test_invalid(self) -> None:
        fit = fit_count_trend(example_series())
        with pytest.raises(EstimationError, match="fit"):
            forecast("fit", [2026])  # type: ignore[arg-type]
        with pytest.raises(EstimationError, match="n_sim"):
            forecast(fit, [2026], n_sim=10)
        with pytest.raises(EstimationError, match="direction"):
            probability_of_reaching(fit, 100, 2031, direction="up")  # type: ignore[arg-type]
        with pytest.raises(EstimationError, match="target"):
            probability_of_reaching(fit, float("nan"), 2031)
        with pytest.raises(EstimationError, match="years"):
            forecast(fit, ["next year"])


# ================================================================== Mann-Kendall / Sen
class TestMannKendall:
    @pytest.mark.parametrize("n", [3, 5, 10, 14])
    def test_strictly_increasing(self, n: int) -> None:
        r = mann_kendall(np.arange(1, n + 1))
        assert r.s == n * (n - 1) / 2
        assert r.var_s == pytest.approx(n * (n - 1) * (2 * n + 5) / 18)
        assert r.tau == 1.0
        r_down = mann_kendall(np.arange(n, 0, -1))
        assert r_down.s == -n * (n - 1) / 2 and r_down.tau == -1.0

    def test_hand_computed_with_ties(self) -> None:
        # x = [3, 1, 2, 2, 5]: of the 10 pairs, 6 increase, 3 decrease, 1 is tied -> S = 3.
        # One tie group of size t = 2: sum t(t-1)(2t+5) = 2*1*9 = 18, so
        # Var(S) = (5*4*15 - 18) / 18 = 282/18 = 15.666...; with the continuity correction
        # Z = (3 - 1) / sqrt(15.667) = 0.50529.
        r = mann_kendall([3, 1, 2, 2, 5])
        assert r.s == 3
        assert r.var_s == pytest.approx(282 / 18)
        assert r.z == pytest.approx(2 / math.sqrt(282 / 18))
        assert r.p == pytest.approx(2 * stats.norm.sf(2 / math.sqrt(282 / 18)))
        assert r.trend == "no trend"

    def test_hand_computed_two_tie_groups(self) -> None:
        # x = [1, 2, 2, 3, 3, 3, 4]: non-decreasing, 21 pairs of which 1 + 3 are tied -> S=17.
        # Ties: t=2 and t=3 -> 2*1*9 + 3*2*11 = 84; Var(S) = (7*6*19 - 84)/18 = 714/18.
        r = mann_kendall([1, 2, 2, 3, 3, 3, 4])
        assert r.s == 17
        assert r.var_s == pytest.approx(714 / 18)
        # tau-b = S / sqrt(n0 (n0 - n1)) with n0 = 21, n1 = 1 + 3 = 4
        assert r.tau == pytest.approx(17 / math.sqrt(21 * 17))

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.integers(min_value=0, max_value=6), min_size=4, max_size=25))
    def test_agrees_with_scipy_kendalltau(self, values: list[int]) -> None:
        # Without the continuity correction, the MK z test is Kendall's tau test of the
        # values against time, whose asymptotic p-value scipy computes with the same
        # tie-corrected variance.
        if len(set(values)) < 2:
            return
        r = mann_kendall(values, continuity=False)
        ref = stats.kendalltau(np.arange(len(values)), values, method="asymptotic")
        assert r.tau == pytest.approx(ref.statistic, abs=1e-12)
        assert r.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)

    def test_one_sided(self) -> None:
        x = [2, 1, 4, 3, 6, 5, 8, 7]
        two = mann_kendall(x)
        inc = mann_kendall(x, alternative="increasing")
        dec = mann_kendall(x, alternative="decreasing")
        assert inc.p == pytest.approx(two.p / 2)
        assert dec.p == pytest.approx(1 - two.p / 2)

    @staticmethod
    def hamed_rao_ratio_reference(x: np.ndarray, alpha: float = 0.05) -> float:
        """Loop-by-loop transcription of Hamed & Rao (1998), eqs. for n/n*_s."""
        n = len(x)
        slopes = [(x[j] - x[i]) / (j - i) for i in range(n) for j in range(i + 1, n)]
        b = float(np.median(slopes))
        ranks = stats.rankdata([x[i] - b * i for i in range(n)])
        m = ranks.mean()
        denom = sum((r - m) ** 2 for r in ranks)
        bound = stats.norm.ppf(1 - alpha / 2) / math.sqrt(n)
        total = 0.0
        for k in range(1, n):
            r_k = sum((ranks[i] - m) * (ranks[i + k] - m) for i in range(n - k)) / denom
            if abs(r_k) > bound:
                total += (n - k) * (n - k - 1) * (n - k - 2) * r_k
        return 1 + 2 * total / (n * (n - 1) * (n - 2))

    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_hamed_rao_matches_reference(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        t = np.arange(20)
        x = 0.2 * t + np.cumsum(rng.normal(size=20))  # random walk: persistent
        std = mann_kendall(x)
        hr = mann_kendall(x, correction="hamed-rao")
        assert hr.n_ratio == pytest.approx(self.hamed_rao_ratio_reference(x))
        assert hr.var_s == pytest.approx(std.var_s * hr.n_ratio)
        assert hr.s == std.s

    def test_hamed_rao_exact_line_has_no_correction(self) -> None:
        # Sen-detrended residuals are all zero: no autocorrelation to correct for.
        hr = mann_kendall(np.arange(10.0) * 3 + 1, correction="hamed-rao")
        assert hr.n_ratio == 1.0

    def test_hamed_rao_inflates_variance_for_persistent_series(self) -> None:
        # Slow oscillation around a trend: detrended ranks are strongly autocorrelated.
        t = np.arange(24)
        x = 0.1 * t + np.sin(2 * np.pi * t / 12) * 3
        std = mann_kendall(x)
        hr = mann_kendall(x, correction="hamed-rao")
        assert hr.n_ratio > 1
        assert hr.var_s == pytest.approx(std.var_s * hr.n_ratio)
        assert hr.p > std.p

    def test_hamed_rao_reduces_false_trends_under_ar1(self) -> None:
        rng = np.random.default_rng(9)
        n, reps, rho = 30, 300, 0.6
        rej_std = rej_hr = 0
        for _ in range(reps):
            e = rng.normal(size=n)
            x = np.empty(n)
            x[0] = e[0]
            for i in range(1, n):
                x[i] = rho * x[i - 1] + e[i]
            rej_std += mann_kendall(x).p < 0.05
            rej_hr += mann_kendall(x, correction="hamed-rao").p < 0.05
        assert rej_std / reps > 0.12      # the standard test over-rejects under AR(1)
        assert rej_hr < rej_std

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=3, max_size=20))
    def test_property_antisymmetry(self, values: list[float]) -> None:
        # Reversing the sign of the data reverses S, tau and z, and keeps the p-value.
        a = mann_kendall(values)
        b = mann_kendall([-v for v in values])
        assert b.s == -a.s and b.var_s == pytest.approx(a.var_s)
        assert b.p == pytest.approx(a.p)

    def test_invalid(self) -> None:
        with pytest.raises(EstimationError, match="at least 3"):
            mann_kendall([1, 2])
        with pytest.raises(EstimationError, match="missing"):
            mann_kendall([1, np.nan, 3, 4])
        with pytest.raises(EstimationError, match="alternative"):
            mann_kendall([1, 2, 3], alternative="up")  # type: ignore[arg-type]
        with pytest.raises(EstimationError, match="correction"):
            mann_kendall([1, 2, 3], correction="yue")  # type: ignore[arg-type]


class TestSensSlope:
    def test_exact_line(self) -> None:
        years = np.arange(2012, 2026)
        r = sens_slope(2.0 * (years - 2012) + 1.0, years)
        assert r.estimate == 2.0 and r.ci_low == 2.0 and r.ci_high == 2.0
        assert r.intercept == pytest.approx(1.0 - 2.0 * 2012)

    def test_hand_computed(self) -> None:
        # values 10, 12, 11, 15, 16 in FY2021-2025. The 10 pairwise slopes, sorted:
        # -1, 0.5, 1, 4/3, 1.5, 1.5, 5/3, 2, 2.5, 4 -> median (1.5 + 1.5)/2 = 1.5.
        y, yrs = [10, 12, 11, 15, 16], [2021, 2022, 2023, 2024, 2025]
        slopes = [-1, 0.5, 1, 4 / 3, 1.5, 1.5, 5 / 3, 2, 2.5, 4]
        r = sens_slope(y, yrs)
        assert r.estimate == 1.5 and r.n_pairs == 10
        assert r.estimate == pytest.approx(stats.theilslopes(y, yrs).slope)
        # 95%: C = 1.96 * sqrt(16.667) = 8.0017, M1 = 0.999 -> clipped to rank 1 (-1),
        # M2 + 1 = 10.0008 -> clipped to rank 10 (4).
        assert (r.ci_low, r.ci_high) == (-1.0, 4.0)
        # 80%: C = 1.2816 * 4.0825 = 5.232, M1 = 2.384, M2 + 1 = 8.616: interpolate between
        # the 2nd and 3rd (0.5, 1) and the 8th and 9th (2, 2.5) smallest slopes.
        r80 = sens_slope(y, yrs, level=0.80)
        c = stats.norm.ppf(0.90) * math.sqrt(5 * 4 * 15 / 18)
        m1, m2p1 = (10 - c) / 2, (10 + c) / 2 + 1
        assert r80.ci_low == pytest.approx(slopes[1] + (m1 - 2) * (slopes[2] - slopes[1]))
        assert r80.ci_high == pytest.approx(slopes[7] + (m2p1 - 8) * (slopes[8] - slopes[7]))
        assert r80.ci_low == pytest.approx(0.692, abs=1e-3)
        assert r80.ci_high == pytest.approx(2.308, abs=1e-3)

    def test_series_with_fiscal_year_index(self) -> None:
        s = pd.Series([10, 12, 11, 15, 16], index=[2021, 2022, 2023, 2024, 2025])
        assert sens_slope(s).estimate == 1.5
        # unequal spacing: a gap year halves the slope between its neighbours
        assert sens_slope([0.0, 1.0, 3.0], [2020, 2021, 2023]).estimate == 1.0

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(st.integers(min_value=0, max_value=500), min_size=3, max_size=15),
        st.floats(min_value=0.1, max_value=10), st.floats(min_value=-5, max_value=5),
    )
    def test_property_equivariance(self, values: list[int], a: float, b: float) -> None:
        # slope(a*y + b*t + c) = a*slope(y) + b for a > 0 (pairwise slopes are mapped by
        # the same increasing affine function). The CI limits follow for b = 0 only: the
        # CI ranks use the tie-corrected Var(S), and adding b*t can break ties in y.
        years = np.arange(2012, 2012 + len(values))
        y = np.asarray(values, dtype=float)
        r = sens_slope(y, years)
        r2 = sens_slope(a * y + b * (years - 2012) + 7.0, years)
        assert r2.estimate == pytest.approx(a * r.estimate + b, abs=1e-8)
        r3 = sens_slope(a * y + 7.0, years)
        assert r3.ci_low == pytest.approx(a * r.ci_low, abs=1e-8)
        assert r3.ci_high == pytest.approx(a * r.ci_high, abs=1e-8)

    def test_ci_coverage(self) -> None:
        rng = np.random.default_rng(21)
        years = np.arange(2012, 2026)
        cover = 0
        reps = 300
        for _ in range(reps):
            y = 50 + 1.5 * (years - 2012) + rng.normal(scale=3.0, size=len(years))
            r = sens_slope(y, years)
            cover += r.ci_low <= 1.5 <= r.ci_high
        assert 0.90 <= cover / reps <= 0.99

    def test_invalid(self) -> None:
        with pytest.raises(EstimationError, match="years"):
            sens_slope([1, 2, 3], [2020, 2021])
        with pytest.raises(EstimationError, match="level"):
            sens_slope([1, 2, 3], level=1.5)


# ================================================================== survey_trend
class TestSurveyTrend:
    years = np.array([2021, 2022, 2023, 2024, 2025])

    def test_exact_linear_proportion_scale(self) -> None:
        p = 0.30 + 0.02 * (self.years - 2021)
        r = survey_trend(p, [0.01] * 5, self.years, scale="proportion", target=0.40)
        assert r.slope == pytest.approx(0.02)
        assert r.chi2 == pytest.approx(0.0, abs=1e-20)
        assert r.dispersion == 1.0 and r.inference == "normal"
        fc = r.forecasts.set_index("year")
        assert fc.loc[2026, "estimate"] == pytest.approx(0.40)
        assert fc.loc[2031, "estimate"] == pytest.approx(0.50)
        # FY2026 is predicted exactly on the target: probability one half.
        assert fc.loc[2026, "prob_reach"] == pytest.approx(0.5)

    def test_matches_statsmodels_wls(self) -> None:
        p = np.array([0.31, 0.30, 0.35, 0.34, 0.39])
        se = np.array([0.010, 0.015, 0.012, 0.011, 0.02])
        x = sm.add_constant((self.years - 2021).astype(float))
        ref = sm.WLS(p, x, weights=1 / se**2).fit()
        est = survey_trend(p, se, self.years, scale="proportion", dispersion="estimated")
        fixed = survey_trend(p, se, self.years, scale="proportion", dispersion="fixed")
        assert est.slope == pytest.approx(ref.params[1])
        assert est.slope_se == pytest.approx(ref.bse[1])
        assert est.slope_p == pytest.approx(ref.pvalues[1])      # t(n-2) inference
        assert fixed.slope_se == pytest.approx(ref.bse[1] / math.sqrt(ref.scale))
        assert est.chi2 == pytest.approx(ref.ssr)

    def test_inverse_variance_weights(self) -> None:
        # A wave measured with a huge SE barely moves the line.
        p = np.array([0.30, 0.32, 0.90, 0.36, 0.38])
        se = np.array([0.01, 0.01, 10.0, 0.01, 0.01])
        r = survey_trend(p, se, self.years, scale="proportion", dispersion="fixed")
        assert r.slope == pytest.approx(0.02, abs=1e-4)

    def test_logit_scale_stays_in_unit_interval(self) -> None:
        p = np.array([0.80, 0.85, 0.88, 0.91, 0.93])
        r = survey_trend(p, [0.01] * 5, self.years, forecast_years=[2031, 2040])
        assert (r.forecasts[["pi_low", "pi_high", "estimate"]] < 1).all().all()
        lin = survey_trend(p, [0.01] * 5, self.years, scale="proportion",
                           forecast_years=[2040])
        assert lin.forecasts["estimate"].iloc[0] > 1  # the linear scale can overshoot

    def test_series_inputs_are_aligned_by_year(self) -> None:
        est = pd.Series([0.30, 0.32, 0.33, 0.36, 0.37], index=self.years)
        ses = pd.Series([0.01, 0.012, 0.011, 0.013, 0.014], index=self.years)
        a = survey_trend(est, ses)
        b = survey_trend(est, ses.iloc[::-1])
        c = survey_trend(est.to_numpy(), ses.to_numpy(), self.years)
        assert a.slope == pytest.approx(b.slope) == pytest.approx(c.slope)
        frame = a.to_frame()
        assert frame["term"].tolist() == ["intercept", "slope", "forecast_FY2026",
                                          "forecast_FY2031"]

    def test_prediction_interval_and_probability_calibrated(self) -> None:
        # Truth: logit-linear rise from 35% by 0.08 per year on the logit scale, waves of
        # n = 1000 respondents (SE = sqrt(p(1-p)/n)). Check the 95% PI covers the FY2026
        # survey estimate and that prob_reach is calibrated for a target at the truth.
        rng = np.random.default_rng(31)
        yrs = np.arange(2021, 2027)
        truth = 1 / (1 + np.exp(-(np.log(0.35 / 0.65) + 0.08 * (yrs - 2021))))
        n_resp, reps = 1000, 500
        target = float(truth[-1])
        cover, probs, hits = 0, [], []
        for _ in range(reps):
            p_hat = rng.binomial(n_resp, truth) / n_resp
            se = np.sqrt(p_hat * (1 - p_hat) / n_resp)
            r = survey_trend(p_hat[:5], se[:5], yrs[:5], forecast_years=[2026],
                             target=target, future_se=float(se[5]))
            fc = r.forecasts.iloc[0]
            cover += fc["pi_low"] <= p_hat[5] <= fc["pi_high"]
            probs.append(fc["prob_reach"])
            hits.append(p_hat[5] >= target)
        assert 0.92 <= cover / reps <= 0.995
        assert abs(np.mean(probs) - np.mean(hits)) < 0.08

    def test_slope_test_size(self) -> None:
        # No trend: the slope test rejects at about the nominal rate (dispersion="fixed"
        # is exact here since the only error is sampling error with known SE).
        rng = np.random.default_rng(41)
        reps, rej = 500, 0
        se = np.full(5, 0.015)
        for _ in range(reps):
            p = 0.4 + rng.normal(scale=0.015, size=5)
            rej += survey_trend(p, se, self.years, scale="proportion",
                                dispersion="fixed").slope_p < 0.05
        assert 0.025 <= rej / reps <= 0.08

    @pytest.mark.parametrize(
        ("args", "kwargs", "fragment"),
        [
            (([30.0, 32.0, 33.0], [1.0] * 3, [2021, 2022, 2023]), {}, "percentages"),
            (([0.3, 0.32, 0.33], [0.01, 0.0, 0.01], [2021, 2022, 2023]), {}, "ses"),
            (([0.3, 0.32], [0.01] * 2, [2021, 2022]), {}, "at least 3"),
            (([0.3, 0.32, 0.33], [0.01] * 3, [2021, 2022]), {}, "years"),
            (([0.3, 0.32, 0.33], [0.01] * 3), {}, "years is required"),
            (([0.0, 0.32, 0.33], [0.01] * 3, [2021, 2022, 2023]), {}, "logit"),
            (([0.3, 0.32, 0.33], [0.01] * 3, [2021, 2022, 2023]), {"target": 45}, "target"),
            (([0.3, 0.32, 0.33], [0.01] * 3, [2021, 2022, 2023]), {"scale": "log"}, "scale"),
            (([0.3, 0.32, 0.33], [0.01] * 3, [2021, 2022, 2023]), {"dispersion": "x"},
             "dispersion"),
        ],
    )
    def test_invalid(self, args: tuple, kwargs: dict, fragment: str) -> None:
        with pytest.raises(EstimationError, match=fragment):
            survey_trend(*args, **kwargs)
