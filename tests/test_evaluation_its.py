"""Segmented-regression ITS (kyodo_analysis.stats.its): hand checks and an AR(1) null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from kyodo_analysis.demo.truth import ar1_null_series as _series
from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats.its import segmented_regression

YEARS = np.arange(2012, 2026)


def test_without_autocorrelation_it_is_ordinary_least_squares():
    y = _series(np.random.default_rng(1), 0.0)
    fit = segmented_regression(y, start=2022, disrupted=[2020, 2021], autocorrelation="none")
    t = YEARS - YEARS[0]
    post = (YEARS >= 2022).astype(float)
    x = np.column_stack([np.ones(14), t, np.isin(YEARS, [2020, 2021]), post,
                         (YEARS - 2022) * post])
    ref = sm.OLS(np.log(y.to_numpy()), x).fit()
    np.testing.assert_allclose(fit.coefficients["estimate"], ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.coefficients["se"], ref.bse, rtol=1e-10)
    f = ref.f_test(np.eye(5)[3:])
    assert fit.plan_p == pytest.approx(float(f.pvalue))
    assert fit.durbin_watson == pytest.approx(float(sm.stats.durbin_watson(ref.resid)))
    assert fit.rho == 0.0


def test_a_large_plan_effect_is_detected_and_checks_are_reported():
    y = _series(np.random.default_rng(2), 0.3, sd=0.03, effect=(0.4, 0.08))
    fit = segmented_regression(y, start=2022, disrupted=[2020, 2021])
    assert fit.plan_p < 0.05
    lv = fit.term("level_change")
    assert lv["ci_low"] < 0.4 < lv["ci_high"] or abs(lv["estimate"] - 0.4) < 0.15
    row = fit.to_frame().iloc[0]
    assert {"durbin_watson", "ljung_box_p", "dispersion", "mde_level", "rho"} <= set(row.index)
    assert row["mde_level"] > 0


def test_too_short_series_is_an_estimation_error():
    with pytest.raises(EstimationError, match="at least 8 years"):
        segmented_regression(pd.Series([1, 2, 3, 4, 5], index=range(2019, 2024)), start=2022)


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_false_detections_under_an_ar1_null_stay_at_most_7_percent(rho):
    """1,000 series without a plan effect with AR(1) noise (fixed seed): the joint plan test
    at 5% rejects at most 7% (OLS rejects about 22% at rho = 0.5)."""
    rng = np.random.default_rng(20260 + int(10 * rho))
    rejections = [segmented_regression(_series(rng, rho), start=2022,
                                       disrupted=[2020, 2021]).plan_p < 0.05
                  for _ in range(1000)]
    assert np.mean(rejections) <= 0.07
