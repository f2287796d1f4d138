"""Average marginal effects of a design-based logistic regression, with design-based SEs.

For a fitted logit ``p_i = expit(x_i' b)`` (:func:`kyodo_analysis.stats.glm.svyglm`), the
average marginal effect of a predictor is the weighted mean over the rows used,

* 0/1 predictor ``j``: ``AME_j = sum w_i [p_i(x_ij = 1) - p_i(x_ij = 0)] / sum w_i`` (the
  difference in the predicted share if everyone had it versus no one);
* numeric predictor: ``AME_j = sum w_i b_j p_i (1 - p_i) / sum w_i`` (per unit).

Variance (linearisation design): the AME is a smooth function of the weighted totals and of
``b``, so its influence value is ``u_i = w_i (h_i - AME) / W + G' e_i``, ``G = dAME/db`` and
``e_i = A^-1 x_i w_i (y_i - p_i)`` the influence of ``b`` (``A = X' W V X``: the sandwich
svyglm uses); ``var = design.scores_vcov(u)`` (strata, PSUs, fpc, calibration). A replicate
design refits the model and recomputes the AME with every replicate's weights (Lumley 2010,
ch. 5; Stata ``margins`` with ``vce(linearized)`` gives the same linearisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats import _dist
from kyodo_analysis.stats.glm import _irls, svyglm

if TYPE_CHECKING:
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["average_marginal_effects"]


def _expit(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


def _ame(x: np.ndarray, beta: np.ndarray, w: np.ndarray, cols: list[int],
         binary: list[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AMEs, their gradient in beta (k, p) and the per-row contributions h (n, k)."""
    wt = w.sum()
    h = np.empty((len(x), len(cols)))
    grad = np.empty((len(cols), len(beta)))
    for a, (j, isbin) in enumerate(zip(cols, binary, strict=True)):
        if isbin:
            x1, x0 = x.copy(), x.copy()
            x1[:, j], x0[:, j] = 1.0, 0.0
            p1, p0 = _expit(x1 @ beta), _expit(x0 @ beta)
            h[:, a] = p1 - p0
            grad[a] = (w * p1 * (1 - p1)) @ x1 / wt - (w * p0 * (1 - p0)) @ x0 / wt
        else:
            p = _expit(x @ beta)
            d = p * (1 - p)
            h[:, a] = beta[j] * d
            grad[a] = beta[j] * (w * d * (1 - 2 * p)) @ x / wt
            grad[a, j] += (w * d).sum() / wt
    return (w @ h) / wt, grad, h


def average_marginal_effects(design: _BaseDesign, formula: str,
                             variables: Sequence[str] | None = None, *,
                             level: float = 0.95) -> pd.DataFrame:
    """Average marginal effects of the terms ``variables`` of a survey-weighted logit.

    Parameters
    ----------
    design : SurveyDesign, WeightedDesign or ReplicateDesign
    formula : str
        As :func:`svyglm` (``y ~ a + b``), fitted with ``family="quasibinomial"``.
    variables : sequence of str, optional
        Model-matrix columns (terms) whose AMEs are wanted; default every term but the
        intercept. A term whose column holds only 0 and 1 is treated as binary.

    Returns
    -------
    pandas.DataFrame
        ``term, binary, estimate, se, ci_low, ci_high, coef, coef_se, n`` (estimates as
        probability differences, 0–1).
    """
    import formulaic

    fit = svyglm(design, formula, family="quasibinomial")
    mm = formulaic.model_matrix(formula, design.data, na_action="ignore")
    xv = np.asarray(mm.rhs, dtype=float)
    yv = np.asarray(mm.lhs, dtype=float).reshape(-1)
    terms = list(mm.rhs.columns)
    if variables is None:
        variables = [t for t in terms if t != "Intercept"]
    missing = [v for v in variables if v not in terms]
    if missing:
        raise EstimationError(f"terms {missing} are not in the model {formula!r} "
                              f"(terms: {terms})")
    cols = [terms.index(v) for v in variables]
    w0 = design.weights
    active = (w0 != 0) & ~np.isnan(yv) & ~np.isnan(xv).any(axis=1)
    x, y, w = xv[active], yv[active], w0[active]
    binary = [bool(np.isin(np.unique(x[:, j]), [0.0, 1.0]).all()) for j in cols]
    beta = fit.coefficients["estimate"].to_numpy()
    est, grad, h = _ame(x, beta, w, cols, binary)
    if design._is_replicate:
        rw = design.repweights  # type: ignore[attr-defined]
        mean_w = w0[w0 != 0].mean()
        thetas = []
        for r in range(rw.shape[1]):
            wr = rw[:, r]
            keep = active & (wr != 0)
            b, _ = _irls(xv[keep], yv[keep], wr[keep] / mean_w, "binomial")
            thetas.append(_ame(xv[keep], b, wr[keep], cols, binary)[0])
        cov = design._combine(np.vstack(thetas), est)  # type: ignore[attr-defined]
    else:
        p = _expit(x @ beta)
        a_mat = x.T @ (x * (w * p * (1 - p))[:, None])
        infl = np.linalg.solve(a_mat, (x * (w * (y - p))[:, None]).T).T  # (n, p)
        u = np.zeros((len(w0), len(cols)))
        u[active] = w[:, None] * (h - est) / w.sum() + infl @ grad.T
        cov = design.scores_vcov(u, active)  # type: ignore[attr-defined]
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    crit = _dist.norm_ppf((1 + level) / 2)
    coefs = fit.coefficients
    return pd.DataFrame({
        "term": list(variables), "binary": binary, "estimate": est, "se": se,
        "ci_low": est - crit * se, "ci_high": est + crit * se,
        "coef": coefs.loc[list(variables), "estimate"].to_numpy(),
        "coef_se": coefs.loc[list(variables), "se"].to_numpy(), "n": int(active.sum()),
    })
