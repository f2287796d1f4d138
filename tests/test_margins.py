"""Survey-weighted logit against R svyglm (tests/fixtures/r/psych_reference.R) and average
marginal effects: by hand, against replicate weights, and on synthetic data with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from psych_support import psych_items, psych_record

from kyodo_analysis.stats import SurveyDesign, svyglm
from kyodo_analysis.stats.margins import average_marginal_effects


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return psych_items(keyed=False)


def test_svyglm_logit_matches_r(data):
    ref = psych_record("svyglm(y ~ a1 + b1 + factor(stratum), design = d, "
                       "family = quasibinomial())")
    d = SurveyDesign(data, weights="w", strata="stratum")
    fit = svyglm(d, "y ~ a1 + b1 + C(stratum)", family="quasibinomial")
    np.testing.assert_allclose(fit.coefficients["estimate"], ref["estimate"], rtol=1e-8)
    np.testing.assert_allclose(fit.coefficients["se"], ref["se"], rtol=1e-8)


def test_ame_point_by_hand(data):
    d = SurveyDesign(data.assign(hi=(data["a1"] >= 4).astype(float)), weights="w")
    out = average_marginal_effects(d, "y ~ hi + b1").set_index("term")
    beta = svyglm(d, "y ~ hi + b1", family="quasibinomial").coefficients["estimate"].to_numpy()
    w = data["w"].to_numpy()
    b1 = data["b1"].to_numpy(float)
    p1 = 1 / (1 + np.exp(-(beta[0] + beta[1] + beta[2] * b1)))
    p0 = 1 / (1 + np.exp(-(beta[0] + beta[2] * b1)))
    assert out.loc["hi", "binary"]
    assert out.loc["hi", "estimate"] == pytest.approx(np.sum(w * (p1 - p0)) / w.sum(), rel=1e-12)
    p = 1 / (1 + np.exp(-(beta[0] + beta[1] * d.data["hi"] + beta[2] * b1)))
    assert out.loc["b1", "estimate"] == pytest.approx(
        np.sum(w * beta[2] * p * (1 - p)) / w.sum(), rel=1e-12)


def test_ame_linearised_se_agrees_with_jackknife(data):
    d = SurveyDesign(data.assign(hi=(data["a1"] >= 4).astype(float)), weights="w",
                     strata="stratum")
    lin = average_marginal_effects(d, "y ~ hi + b1").set_index("term")
    jk = average_marginal_effects(d.to_replicate("JKn"), "y ~ hi + b1").set_index("term")
    np.testing.assert_allclose(jk["estimate"], lin["estimate"], rtol=1e-12)
    np.testing.assert_allclose(jk["se"], lin["se"], rtol=0.03)


def test_ame_recovers_a_known_difference():
    # true model: P(y) = 0.2 without x, 0.5 with x (a 30-point difference), SRS n = 4000
    rng = np.random.default_rng(11)
    n = 4000
    x = (rng.random(n) < 0.4).astype(float)
    y = (rng.random(n) < np.where(x == 1, 0.5, 0.2)).astype(float)
    d = SurveyDesign(pd.DataFrame({"x": x, "y": y}))
    r = average_marginal_effects(d, "y ~ x").iloc[0]
    assert r["ci_low"] < 0.30 < r["ci_high"]
    # a saturated model's AME is the difference of the two weighted shares
    assert r["estimate"] == pytest.approx(y[x == 1].mean() - y[x == 0].mean(), rel=1e-8)
