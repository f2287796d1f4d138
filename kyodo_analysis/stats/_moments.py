"""Design-based inference for any smooth function of weighted item moments.

Reliability coefficients, correlations and factor-analytic summaries are functions of the
weighted means and second moments of the items, i.e. of the weighted totals
``T = (sum w x_j, sum w x_j x_k (j <= k), sum w)``. :func:`moment_statistic` evaluates the
statistic at ``T`` and passes it with a numerical Jacobian to the design's one estimator
core (``_smooth``): a linearisation design gets the Taylor (delta-method) variance
``J V(T) J'`` from the multistage estimator (calibration residuals included for a weighted
design); a replicate design recomputes the statistic from every replicate's totals (no
linearisation). Rows with any item missing are outside the domain (listwise deletion,
domain-style: their PSU and stratum stay in the design).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError

if TYPE_CHECKING:
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["moment_statistic", "weighted_covariance"]


def _moment_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, p = x.shape
    ju, ku = np.triu_indices(p)
    cols = np.empty((n, p + len(ju) + 1), order="F")
    cols[:, :p] = x
    cols[:, p:p + len(ju)] = x[:, ju] * x[:, ku]
    cols[:, -1] = 1.0
    return cols, ju, ku


def _cov_from_totals(t: np.ndarray, p: int, ju: np.ndarray, ku: np.ndarray) -> np.ndarray:
    """Weighted covariance matrix (divisor sum of weights) from one vector of totals."""
    w = t[-1]
    mu = t[:p] / w
    m2 = np.empty((p, p))
    m2[ju, ku] = t[p:p + len(ju)] / w
    m2[ku, ju] = m2[ju, ku]
    return np.asarray(m2 - np.outer(mu, mu))


def weighted_covariance(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted covariance of the columns of ``x`` (divisor ``sum w``; complete rows)."""
    keep = ~np.isnan(x).any(axis=1) & (w != 0)
    cols, ju, ku = _moment_columns(x[keep])
    return _cov_from_totals(w[keep] @ cols, x.shape[1], ju, ku)


def moment_statistic(design: _BaseDesign, x: np.ndarray,
                     stat: Callable[[np.ndarray], np.ndarray], names: Sequence[str], *,
                     level: float = 0.95, rel_step: float = 1e-5) -> pd.DataFrame:
    """Estimate ``stat(cov)`` (``cov`` the weighted covariance of the columns of ``x``) with
    its design-based standard error and normal-quantile interval.

    Parameters
    ----------
    design : SurveyDesign, WeightedDesign or ReplicateDesign
    x : ndarray, shape (n, p)
        Item scores, one row per row of ``design.data``; NaN = missing.
    stat : callable
        ``(p, p)`` covariance -> ``(k,)`` vector (must be scale-aware as needed).
    names : sequence of str
        Names of the ``k`` outputs (the ``statistic`` column).
    rel_step : float
        Relative step of the central-difference Jacobian (linearisation designs).

    Returns
    -------
    pandas.DataFrame
        ``statistic, estimate, se, ci_low, ci_high, df, n``.
    """
    from kyodo_analysis.stats import _dist

    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] != len(design.data):
        raise EstimationError("item scores must have one row per row of the design")
    p = x.shape[1]
    drop = np.isnan(x).any(axis=1)
    cols, ju, ku = _moment_columns(np.where(np.isnan(x), 0.0, x))
    k = len(names)

    def one(t: np.ndarray) -> np.ndarray:
        return np.asarray(stat(_cov_from_totals(t, p, ju, ku)), dtype=float).reshape(k)

    def g(t: np.ndarray) -> np.ndarray:
        flat = t.reshape(-1, t.shape[-1])
        out = np.vstack([one(row) for row in flat])
        return out.reshape(*t.shape[:-1], k)

    def jac(t: np.ndarray) -> np.ndarray:
        out = np.empty((t.shape[0], k, t.shape[1]))
        for d in range(t.shape[0]):
            td = t[d]
            scale = np.maximum(np.abs(td), 1e-3 * abs(td[-1]))
            for j in range(t.shape[1]):
                h = rel_step * scale[j]
                up, down = td.copy(), td.copy()
                up[j] += h
                down[j] -= h
                out[d, :, j] = (one(up) - one(down)) / (2 * h)
        return out

    domains = design._domains(None)
    est, cov, df, n, _, _ = design._smooth(cols, drop, domains, g, jac, k)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    crit = _dist.norm_ppf((1 + level) / 2)
    e = est[0]
    return pd.DataFrame({"statistic": list(names), "estimate": e, "se": se,
                         "ci_low": e - crit * se, "ci_high": e + crit * se,
                         "df": float(df[0]), "n": int(n[0])})
