"""Quantiles and tail probabilities of the t, normal, chi-square, F and beta distributions.

The special functions ``scipy.stats`` itself evaluates for these (``t.ppf`` is ``stdtrit``,
``f.sf`` is ``fdtrc``, ...), taken from ``scipy.special`` alone: importing ``scipy.stats``
costs about a second of start-up in every notebook kernel and ``kyodo`` command, and the
estimators need nothing else from it. Arguments broadcast as NumPy ufuncs do; an invalid
parameter (a non-positive df) gives NaN, and a scalar argument a NumPy scalar, as
``scipy.stats`` does; the values are bit-for-bit those of ``scipy.stats``, its rules at the
edges of the support included (tests/test_dist.py).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from scipy import special

#: What the functions return: a NumPy scalar for scalar arguments, else an array.
Real = np.float64 | np.ndarray

__all__ = ["beta_ppf", "chi2_sf", "f_sf", "norm_cdf", "norm_ppf", "norm_sf", "t_ppf", "t_sf"]


def t_ppf(q: object, df: object) -> Real:
    """Student t quantile (``scipy.stats.t.ppf``)."""
    # stdtrit gives +inf at q = 0; scipy.stats' boundary rule gives the lower end, -inf
    value = special.stdtrit(df, q)
    return cast(Real, np.where((np.asarray(q) == 0) & (np.asarray(df) > 0), -np.inf, value)[()])


def t_sf(x: Any, df: object) -> Real:
    """Student t upper tail ``P(T > x)`` (``scipy.stats.t.sf``)."""
    return cast(Real, special.stdtr(df, np.negative(x)))


def norm_ppf(q: object) -> Real:
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    return cast(Real, special.ndtri(q))


def norm_cdf(x: object) -> Real:
    """Standard normal distribution function (``scipy.stats.norm.cdf``)."""
    return cast(Real, special.ndtr(x))


def norm_sf(x: Any) -> Real:
    """Standard normal upper tail (``scipy.stats.norm.sf``)."""
    return cast(Real, special.ndtr(np.negative(x)))


def chi2_sf(x: object, df: object) -> Real:
    """Chi-square upper tail (``scipy.stats.chi2.sf``)."""
    # below the support the tail is 1, as scipy.stats says (chdtrc gives NaN there)
    value = special.chdtrc(df, x)
    return cast(Real, np.where((np.asarray(x) < 0) & (np.asarray(df) > 0), 1.0, value)[()])


def f_sf(x: object, dfn: object, dfd: object) -> Real:
    """F upper tail (``scipy.stats.f.sf``)."""
    value = special.fdtrc(dfn, dfd, x)  # NaN below the support, where scipy.stats says 1
    valid = (np.asarray(dfn) > 0) & (np.asarray(dfd) > 0)
    return cast(Real, np.where((np.asarray(x) < 0) & valid, 1.0, value)[()])


def beta_ppf(q: object, a: object, b: object) -> Real:
    """Beta quantile (``scipy.stats.beta.ppf``; the inverse regularised incomplete beta)."""
    return cast(Real, special.betaincinv(a, b, q))
