"""stats._dist: the distribution tails the estimators use, equal to scipy.stats bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kyodo_analysis.stats import _dist

RNG = np.random.default_rng(20261201)
Q = RNG.uniform(0.001, 0.999, 300)
X = RNG.normal(0.0, 3.0, 300)
DF = RNG.uniform(0.5, 300.0, 300)
A = RNG.uniform(0.1, 50.0, 300)
B = RNG.uniform(0.1, 50.0, 300)

CASES = {
    "t_ppf": (lambda: _dist.t_ppf(Q, DF), lambda: stats.t.ppf(Q, DF)),
    "t_sf": (lambda: _dist.t_sf(X, DF), lambda: stats.t.sf(X, DF)),
    "norm_ppf": (lambda: _dist.norm_ppf(Q), lambda: stats.norm.ppf(Q)),
    "norm_sf": (lambda: _dist.norm_sf(X), lambda: stats.norm.sf(X)),
    "norm_cdf": (lambda: _dist.norm_cdf(X), lambda: stats.norm.cdf(X)),
    "chi2_sf": (lambda: _dist.chi2_sf(3 * abs(X), DF), lambda: stats.chi2.sf(3 * abs(X), DF)),
    "f_sf": (lambda: _dist.f_sf(abs(X), DF, A), lambda: stats.f.sf(abs(X), DF, A)),
    "beta_ppf": (lambda: _dist.beta_ppf(Q, A, B), lambda: stats.beta.ppf(Q, A, B)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_values_as_scipy_stats(name):
    ours, theirs = CASES[name]
    assert np.array_equal(ours(), theirs())


def test_edges_and_scalars_as_scipy_stats():
    for df in (np.nan, -1.0, 0.0, np.inf):
        assert np.array_equal(_dist.t_ppf(0.975, df), stats.t.ppf(0.975, df), equal_nan=True)
    for q in (0.0, 1.0):
        assert _dist.t_ppf(q, 5) == stats.t.ppf(q, 5) and _dist.norm_ppf(q) == stats.norm.ppf(q)
        assert _dist.beta_ppf(q, 2, 3) == stats.beta.ppf(q, 2, 3)
    for x in (-1.0, 0.0, np.inf):
        assert _dist.chi2_sf(x, 3) == stats.chi2.sf(x, 3) and _dist.f_sf(x, 3, 4) == stats.f.sf(x, 3, 4)
        assert _dist.t_sf(-x, 5) == stats.t.sf(-x, 5) and _dist.norm_sf(x) == stats.norm.sf(x)
    value = _dist.t_sf(2.0, 10)  # a scalar in, a NumPy scalar out, usable as a float
    assert isinstance(value, np.floating) and float(value) == float(stats.t.sf(2.0, 10))
    assert np.array_equal(_dist.norm_sf([0.0, 1.96]), stats.norm.sf([0.0, 1.96]))
