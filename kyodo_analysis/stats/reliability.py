"""Reliability of a multi-item scale: Cronbach's alpha and McDonald's omega, weighted, with
design-based intervals.

Formulas (``C`` the weighted covariance of the ``p`` items, ``R`` their correlations, both
over complete rows; reverse-keyed items are mirrored first, ``min + max - x``):

* raw alpha ``p/(p-1) (1 - tr C / 1'C1)``; standardised alpha ``p rbar / (1 + (p-1) rbar)``,
  ``rbar`` the mean off-diagonal correlation (psych ``alpha``: ``raw_alpha``, ``std.alpha``);
* item–rest correlation: the correlation of the item with the sum of the other items
  (psych ``r.drop``); alpha if item deleted: raw alpha of the other items;
* omega (psych ``omega``, Schmid–Leiman): a minres factor analysis of ``R`` with
  ``n_factors`` factors, rotated as psych's ``schmid`` does (varimax, then oblimin from the
  identity on the varimax loadings), a general factor from the factor correlations
  (one-factor minres of ``Phi``; with two factors both general loadings are
  ``sqrt(phi_12)``, psych's ``option="equal"``); ``omega_h = (sum g)^2 / 1'R1`` with ``g``
  the items' general-factor loadings and ``omega_t = 1 - sum(u2) / 1'R1``.

Weights: every moment is a weighted moment (the design's weights), so with equal weights
the values are psych's. Intervals: each coefficient is a smooth function of weighted moment
totals (:func:`kyodo_analysis.stats._moments.moment_statistic`); a linearisation design
gives Taylor-linearised standard errors (numerical Jacobian, the design's strata, PSUs,
fpc and calibration), a replicate design (``design.to_replicate("JKn")`` or
``"bootstrap"``) recomputes the coefficient with every replicate's weights. Intervals are
normal (estimate ± z se). Alpha and the item statistics are closed-form and linearised (or
replicated, on a replicate design); omega's rotation is iterative, so its interval always
comes from replicate weights: the design's own, or a Rao–Wu bootstrap of a linearisation
design (``to_replicate("bootstrap")``, weighting steps redone in every replicate).
``ReliabilityResult.variance`` says which was used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats._moments import moment_statistic, weighted_covariance
from kyodo_analysis.stats.factor import cov_to_corr, fit_factors, oblimin_rotation, varimax
from kyodo_analysis.stats.likert import item_scores

if TYPE_CHECKING:
    from kyodo_analysis.codebook import Question
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["ReliabilityResult", "alpha_stats", "item_frame", "omega_stats", "reliability"]


def item_frame(data: pd.DataFrame, questions: Sequence[Question]) -> pd.DataFrame:
    """Item scores (scale scores, reverse-keyed items mirrored as the codebook declares)."""
    return pd.DataFrame({q.id: item_scores(data, q, reverse=q.reverse) for q in questions},
                        index=data.index)


def _raw_alpha(c: np.ndarray) -> float:
    p = c.shape[0]
    return float(p / (p - 1) * (1 - np.trace(c) / c.sum()))


def _std_alpha(r: np.ndarray) -> float:
    p = r.shape[0]
    rbar = (r.sum() - p) / (p * (p - 1))
    return float(p * rbar / (1 + (p - 1) * rbar))


def alpha_stats(c: np.ndarray) -> dict[str, np.ndarray | float]:
    """Alpha (raw, standardised), item–rest correlations and alpha if item deleted."""
    p = c.shape[0]
    if p < 2:
        raise EstimationError("alpha needs at least two items")
    r = cov_to_corr(c)
    rows = c.sum(axis=1)
    total = c.sum()
    rest_var = total - 2 * rows + np.diag(c)
    r_drop = (rows - np.diag(c)) / np.sqrt(np.diag(c) * rest_var)
    keep = [np.delete(np.arange(p), j) for j in range(p)]
    drop = np.array([_raw_alpha(c[np.ix_(k, k)]) if p > 2 else np.nan for k in keep])
    std_drop = np.array([_std_alpha(r[np.ix_(k, k)]) if p > 2 else np.nan for k in keep])
    return {"raw_alpha": _raw_alpha(c), "std_alpha": _std_alpha(r), "r_drop": r_drop,
            "alpha_drop": drop, "std_alpha_drop": std_drop}


def omega_stats(r: np.ndarray, n_factors: int = 3) -> tuple[float, float]:
    """``(omega_h, omega_t)`` of correlation matrix ``r`` by Schmid–Leiman (see module),
    with psych's rotation path and tolerance (``stats::varimax``, then GPArotation
    ``oblimin`` with ``eps=1e-5`` from the identity). Agrees with psych to 1e-10 once psych's
    minres optim is converged; psych's default stopping rule (L-BFGS-B, ``factr = 1e7``)
    leaves its own omega_h about 1e-6 off (``tests/test_reliability.py``)."""
    return _omega(r, n_factors)[:2]


def _omega(r: np.ndarray, n_factors: int, *, ref: np.ndarray | None = None,
           start: np.ndarray | None = None, eps: float = 1e-5
           ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """omega_h, omega_t, the unrotated loadings and the rotation matrix. ``ref``: loadings
    whose column signs the unrotated loadings follow (eigenvector signs are arbitrary), so
    that a warm ``start`` rotation applies."""
    psi0 = None if ref is None else np.clip(1 - np.sum(ref**2, axis=1), 0.005, 1.0)
    load, _ = fit_factors(r, n_factors, start=psi0,
                          bounded="psych" if ref is None else "iterate")
    if ref is not None:
        sign = np.sign(np.sum(load * ref, axis=0))
        load = load * np.where(sign == 0, 1, sign)
    h2 = np.sum(load**2, axis=1)
    vt = float(r.sum())
    tmat = np.eye(n_factors)
    if n_factors == 1:
        g = load[:, 0]
    else:
        if start is None:
            # psych's schmid: varimax (stats::varimax) of the minres loadings, then oblimin
            # (GPArotation) from the identity on the varimax loadings; as both stop at a
            # tolerance, the path matters: T = T_varimax T_oblimin for the unrotated loadings
            vload, tvar = varimax(load)
            pattern, tobl = oblimin_rotation(vload, eps=eps)
            tmat = tvar @ tobl
        else:
            pattern, tmat = oblimin_rotation(load, start=start, eps=eps)
        # columns signed to positive sums (the general factor's loadings then share a sign)
        sign = np.sign(pattern.sum(axis=0))
        sign[sign == 0] = 1
        pattern = pattern * sign
        phi = (tmat.T @ tmat) * np.outer(sign, sign)
        if n_factors == 2:
            gl = np.full(2, np.sqrt(max(phi[0, 1], 0.0)))
        else:
            gload, _ = fit_factors(phi, 1, bounded="psych" if ref is None else "iterate")
            gl = gload[:, 0]
        g = pattern @ gl
    return float(g.sum() ** 2 / vt), float(1 - np.sum(1 - h2) / vt), load, tmat


@dataclass(frozen=True)
class ReliabilityResult:
    """Scale reliability with design-based intervals.

    ``summary``: ``statistic`` (raw_alpha, std_alpha, omega_h, omega_t), ``estimate, se,
    ci_low, ci_high, df, n``; ``items``: ``item, r_drop, r_drop_se, alpha_drop,
    alpha_drop_se``; ``variance``: how the intervals were computed.
    """

    summary: pd.DataFrame
    items: pd.DataFrame
    variance: str


def reliability(design: _BaseDesign, scores: pd.DataFrame, *, n_factors: int = 3,
                level: float = 0.95, omega: bool = True, replicates: int = 100,
                seed: int = 0, omega_design: _BaseDesign | None = None) -> ReliabilityResult:
    """Weighted alpha and omega of the items in ``scores`` with design-based intervals.

    Parameters
    ----------
    design : SurveyDesign, WeightedDesign or ReplicateDesign
    scores : DataFrame
        Item scores aligned with ``design.data`` (e.g. :func:`item_frame`); reverse-keyed
        items already mirrored. Rows with any missing item are left out (domain-style).
    n_factors : int
        Group factors of the omega model (psych's default 3; fewer for few items).
    omega : bool
        Also estimate omega (a factor analysis per replicate).
    replicates, seed : int
        Rao–Wu bootstrap replicates for omega's interval when ``design`` is a linearisation
        design (``design.to_replicate("bootstrap", replicates=, seed=)``).
    omega_design : ReplicateDesign, optional
        Replicate version of ``design`` to use for omega instead (build it once when
        several scales share a design).

    Examples
    --------
    ``design``: the demo's FY2025 design; the first scale its codebook declares:

    >>> from kyodo_analysis.stats.reliability import item_frame, reliability
    >>> cb = ka.open_study().codebook
    >>> qs = [cb[q] for q in cb.awareness.groups[0].items]
    >>> res = reliability(design, item_frame(design.data, qs), omega=False)
    >>> print(res.summary[["statistic", "estimate", "se"]].round(3).to_string(index=False))
    statistic  estimate    se
    raw_alpha     0.693 0.014
    std_alpha     0.693 0.014
    """
    x = scores.to_numpy(dtype=float)
    p = x.shape[1]
    if p < 2:
        raise EstimationError("reliability needs at least two items")
    if omega and not 1 <= n_factors < p:
        raise EstimationError(f"omega with {n_factors} factors needs more than {n_factors} "
                              f"items; got {p}")

    def a_stat(c: np.ndarray) -> np.ndarray:
        a = alpha_stats(c)
        return np.concatenate([[a["raw_alpha"], a["std_alpha"]], a["r_drop"], a["alpha_drop"]])

    names = (["raw_alpha", "std_alpha"] + [f"r_drop:{c}" for c in scores.columns]
             + [f"alpha_drop:{c}" for c in scores.columns])
    est = moment_statistic(design, x, a_stat, names, level=level)
    how = _variance_label(design, "alpha")
    if omega:
        # omega involves an iterative rotation: its interval comes from replicate weights
        # (the design's own, or a Rao–Wu bootstrap of it), each replicate rotated from the
        # full-sample solution; the point estimate is psych's (rotation from the identity)
        rep = (omega_design if omega_design is not None
               else design if design._is_replicate
               else design.to_replicate(  # type: ignore[attr-defined]
                   "bootstrap", replicates=replicates, seed=seed))
        keep = ~np.isnan(x).any(axis=1) & (design.weights != 0)
        r0 = cov_to_corr(weighted_covariance(x[keep], design.weights[keep]))
        oh, ot, ref, t0 = _omega(r0, n_factors)

        def o_stat(c: np.ndarray) -> np.ndarray:
            return np.array(_omega(cov_to_corr(c), n_factors, ref=ref, start=t0)[:2])

        om = moment_statistic(rep, x, o_stat, ["omega_h", "omega_t"], level=level)
        shift = np.array([oh, ot]) - om["estimate"].to_numpy()
        om["estimate"] += shift
        om["ci_low"] += shift
        om["ci_high"] += shift
        how += "; omega: " + _variance_label(rep, "omega")
        est = pd.concat([est, om], ignore_index=True)
    summary = est[~est["statistic"].str.contains(":")].reset_index(drop=True)
    by = est.set_index("statistic")
    items = pd.DataFrame({
        "item": list(scores.columns),
        "r_drop": [by.loc[f"r_drop:{c}", "estimate"] for c in scores.columns],
        "r_drop_se": [by.loc[f"r_drop:{c}", "se"] for c in scores.columns],
        "alpha_drop": [by.loc[f"alpha_drop:{c}", "estimate"] for c in scores.columns],
        "alpha_drop_se": [by.loc[f"alpha_drop:{c}", "se"] for c in scores.columns],
    })
    return ReliabilityResult(summary, items, how)


def _variance_label(design: _BaseDesign, what: str) -> str:
    if design._is_replicate:
        return (f"{what}: replicate weights ({getattr(design, 'type', '')}, "
                f"{design.repweights.shape[1]} replicates)")  # type: ignore[attr-defined]
    return f"{what}: Taylor linearisation (numerical Jacobian)"


def point_alpha(x: np.ndarray, w: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """Alpha statistics of a score matrix with optional weights (no intervals)."""
    w = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    return alpha_stats(weighted_covariance(np.asarray(x, dtype=float), w))
