"""Calibration to population totals (GREG with linear, raking or logit distance)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats._calibration import GregStep
from kyodo_analysis.stats.calibrated import WeightedDesign, WeightingStep
from kyodo_analysis.stats.design import SurveyDesign
from kyodo_analysis.stats.replicate import ReplicateDesign
from kyodo_analysis.stats.weighting._common import as_margin, check_design, column, reweight

__all__ = ["CalibrationMethod", "calibrate"]

CalibrationMethod = Literal["linear", "raking", "logit"]


def _model_matrix(
    design: SurveyDesign, cols: list[str]
) -> tuple[np.ndarray, list[str], dict[str, tuple[list[Any], list[str]]]]:
    """Intercept + treatment-coded factors + numeric columns (R ``model.matrix``)."""
    n = len(design)
    parts = [np.ones((n, 1))]
    names = ["(Intercept)"]
    factors: dict[str, tuple[list[Any], list[str]]] = {}
    for c in cols:
        s = column(design, c, "calibration")
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            cat = s.astype("category")
            levels = list(cat.cat.categories)
            codes = cat.cat.codes.to_numpy()
            dummies = (codes[:, None] == np.arange(1, len(levels))[None, :]).astype(float)
            parts.append(dummies)
            nm = [f"{c}{lev}" for lev in levels[1:]]
            names += nm
            factors[c] = (levels, nm)
        else:
            parts.append(s.astype(float).to_numpy(na_value=0.0)[:, None])
            names.append(c)
    return np.hstack(parts), names, factors


def _totals_vector(
    names: list[str],
    factors: dict[str, tuple[list[Any], list[str]]],
    cols: list[str],
    totals: Mapping[str, Any] | pd.Series,
) -> np.ndarray:
    tot = dict(totals.items()) if isinstance(totals, pd.Series) else dict(totals)
    if all(k in names for k in tot) and len(tot) == len(names):
        return np.array([float(tot[k]) for k in names])
    out: dict[str, float] = {}
    pop_n = tot.get("(Intercept)")
    for c in cols:
        if c not in tot:
            raise WeightingError(f"calibration totals lack the auxiliary {c!r}")
        if c in factors:
            levels, nm = factors[c]
            m = as_margin(c, tot[c])
            absent = [lev for lev in levels if lev not in m.index]
            if absent:
                raise WeightingError(f"calibration totals for {c!r} lack level(s) {absent[:5]!r} present in the data")
            extra = [lev for lev in m.index if lev not in levels and m[lev] > 0]
            if extra:
                raise WeightingError(
                    f"calibration totals for {c!r}: populated level(s) {extra[:5]!r} have no sample rows"
                )
            for lev, name in zip(levels[1:], nm, strict=True):
                out[name] = float(m[lev])
            n_here = float(m.sum())
            if pop_n is not None and abs(n_here - float(pop_n)) > 1e-9 * abs(float(pop_n)):
                raise WeightingError(
                    f"calibration totals: margin {c!r} sums to {n_here:.10g}, not the "
                    f"population size {float(pop_n):.10g}"
                )
            pop_n = n_here
        else:
            out[c] = float(tot[c])
    if pop_n is None:
        raise WeightingError(
            "calibration totals need the population size: give '(Intercept)' or a categorical "
            "auxiliary with all its level counts"
        )
    out["(Intercept)"] = float(pop_n)
    return np.array([out[k] for k in names])


def _calfun(
    method: str, lower: float, upper: float
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``F(u) - 1`` and ``F'(u)`` of the calibration distance (Deville & Särndal 1992)."""
    if method == "linear":

        def fm1(u: np.ndarray) -> np.ndarray:
            return np.asarray(np.minimum(np.maximum(u + 1, lower), upper) - 1)

        def df(u: np.ndarray) -> np.ndarray:
            return ((u < upper - 1) & (u > lower - 1)).astype(float)

        return fm1, df
    if method == "raking":
        return (lambda u: np.expm1(u)), (lambda u: np.exp(u))
    if method == "logit":
        if not (np.isfinite(lower) and np.isfinite(upper)):
            raise WeightingError("logit calibration needs finite bounds (lower < 1 < upper)")
        if not lower < 1 < upper:
            raise WeightingError(f"logit bounds must satisfy lower < 1 < upper, got {lower, upper}")
        a = (upper - lower) / ((upper - 1) * (1 - lower))

        # far from the solution exp() overflows; the Newton step is then halved (as grake)
        def fm1(u: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore", invalid="ignore"):
                e = np.exp(a * u)
                return (lower * (upper - 1) + upper * (1 - lower) * e) / (upper - 1 + (1 - lower) * e) - 1

        def df(u: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore", invalid="ignore"):
                e = np.exp(a * u)
                den = upper - 1 + (1 - lower) * e
                num = lower * (upper - 1) + upper * (1 - lower) * e
                return upper * (1 - lower) * e * a / den - num * ((1 - lower) * e * a) / den**2

        return fm1, df
    raise WeightingError(f"unknown calibration method {method!r}; use 'linear', 'raking' or 'logit'")


@overload
def calibrate(
    design: ReplicateDesign,
    totals: Mapping[str, Any] | pd.Series,
    *,
    aux: str | Sequence[str] | None = ...,
    method: CalibrationMethod = ...,
    bounds: tuple[float, float] | None = ...,
    max_iter: int = ...,
    tol: float = ...,
) -> ReplicateDesign: ...
@overload
def calibrate(
    design: SurveyDesign,
    totals: Mapping[str, Any] | pd.Series,
    *,
    aux: str | Sequence[str] | None = ...,
    method: CalibrationMethod = ...,
    bounds: tuple[float, float] | None = ...,
    max_iter: int = ...,
    tol: float = ...,
) -> WeightedDesign: ...
def calibrate(
    design: SurveyDesign | ReplicateDesign,
    totals: Mapping[str, Any] | pd.Series,
    *,
    aux: str | Sequence[str] | None = None,
    method: CalibrationMethod = "linear",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> WeightedDesign | ReplicateDesign:
    r"""Calibrate the weights to population totals of auxiliaries (GREG; R ``calibrate``).

    Finds ``w_i = d_i F(x_i' lambda)`` with ``sum_i w_i x_i = T_x`` (Deville & Särndal
    1992), ``x_i`` the model row (intercept, treatment-coded factors, numeric columns).
    ``method="linear"`` is the GREG estimator (``F(u) = 1 + u``; with ``bounds`` the
    truncated linear distance), ``"raking"`` the exponential distance
    (``F(u) = exp(u)``), ``"logit"`` the logit distance with ``L < g < U`` (bounds
    required). The equations are solved by Newton's method as R ``grake`` (including its
    rescaling of the weights when all ``T / \hat T`` exceed 20, which changes how bounds
    are read, as in R). The variance uses the residuals of the weighted regression of the
    scores on ``x`` (Lumley 2010, sec. 7.4).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        A replicate design is calibrated once per replicate, each replicate starting from
        its own weights (R ``calibrate`` of a ``svyrep.design``).
    totals : mapping or Series
        Either ``{column: total}`` for numeric and ``{column: {level: count}}`` for
        categorical auxiliaries (all levels; ``"(Intercept)"`` gives the population size
        if there is no categorical auxiliary), or R's named vector of model-matrix totals
        (``"(Intercept)"``, ``"stypeH"``, ``"api99"``, ...; then ``aux=`` is needed).
    aux : str or list of str, optional
        Auxiliary columns, or a formula string ``"~ a + b"`` (main effects only).
        Categorical columns enter as factors, numeric ones as they are. Default: the keys
        of ``totals`` other than ``"(Intercept)"``, which must then be columns.
    method : {"linear", "raking", "logit"}
        Calibration distance (R ``calfun``).
    bounds : (lower, upper), optional
        Bounds on the g-weights ``w_i / d_i`` (R ``bounds``).
    max_iter : int
        Maximum Newton iterations (R ``maxit``).
    tol : float
        Convergence on ``max |T - \hat T_w| / (1 + |T|)`` (R ``epsilon``).

    Returns
    -------
    WeightedDesign or ReplicateDesign

    Raises
    ------
    WeightingError
        Missing totals or levels, inconsistent population sizes, bad bounds, or no
        convergence (with the achieved misfit).

    Examples
    --------
    ``design``: the demo's FY2025 design; calibrated to a sex split of its frame (98,908):

    >>> d = design.assign(sex=design.data["reg_sex"].map({1: "男性", 2: "女性"}))
    >>> cal = calibrate(d, {"sex": {"男性": 48000, "女性": 50908}})
    >>> print(cal.mean("q3_1", na_rm=True)[["estimate", "se"]].round(4).to_string(index=False))
     estimate     se
       0.3664 0.0123
    """
    def again(d: Any) -> Any:
        return calibrate(d, totals, aux=aux, method=method, bounds=bounds, max_iter=max_iter, tol=tol)

    if isinstance(design, ReplicateDesign):
        return reweight(design, again)
    design = check_design(design)
    if aux is None:
        cols = [str(k) for k in totals.keys() if k != "(Intercept)"]
        absent = [c for c in cols if c not in design.data.columns]
        if absent:
            raise WeightingError(
                f"calibration totals name {absent[:5]!r}, which are not columns: give the auxiliary "
                "columns with aux= (needed with R-style model-matrix totals such as 'stypeH')"
            )
    elif isinstance(aux, str):
        text = aux.strip().lstrip("~")
        cols = [t.strip() for t in text.split("+") if t.strip()]
    else:
        cols = list(aux)
    x, names, factors = _model_matrix(design, cols)
    pop = _totals_vector(names, factors, cols, totals)
    lower, upper = (-np.inf, np.inf) if bounds is None else (float(bounds[0]), float(bounds[1]))
    ww = design._w.astype(float)
    fm1, dfun = _calfun(method, lower, upper)
    sample_total = x.T @ ww
    keep = ~((sample_total == 0) & (pop == 0) & np.all(x == 0, axis=0))
    x, pop, sample_total = x[:, keep], pop[keep], sample_total[keep]
    names = [nm for nm, k in zip(names, keep, strict=True) if k]
    iters = 1
    if method == "linear" and bounds is None:
        tmat = x.T @ (x * ww[:, None])
        g = 1 + x @ np.linalg.solve(tmat, pop - sample_total)
        misfit = pop - x.T @ (ww * g)
        achieved = float(np.max(np.abs(misfit) / (1 + np.abs(pop))))
    else:
        scales = pop / sample_total
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = float(np.mean(scales)) if np.min(scales) > 20 else None
        wk = ww * scale if scale is not None else ww
        st = sample_total * scale if scale is not None else sample_total
        eta = np.zeros(x.shape[1])
        xeta = x @ eta
        deriv = dfun(xeta)
        achieved = np.inf
        while True:
            tmat = x.T @ (x * (wk * deriv)[:, None])
            misfit = pop - st - x.T @ (wk * fm1(xeta))
            deta = np.linalg.pinv(tmat, rcond=256 * np.finfo(float).eps) @ misfit
            eta = eta + deta
            xeta = x @ eta
            g = 1 + fm1(xeta)
            deriv = dfun(xeta)
            while iters < max_iter and not (np.isfinite(g).all() and np.isfinite(deriv).all()):
                iters += 1
                deta = deta / 2
                eta = eta - deta
                xeta = x @ eta
                g = 1 + fm1(xeta)
                deriv = dfun(xeta)
            misfit = pop - st - x.T @ (wk * fm1(xeta))
            achieved = float(np.max(np.abs(misfit) / (1 + np.abs(pop))))
            if achieved < tol:
                break
            iters += 1
            if iters > max_iter:
                worst = names[int(np.argmax(np.abs(misfit) / (1 + np.abs(pop))))]
                raise WeightingError(
                    f"calibration ({method}, bounds={bounds}) did not converge in {max_iter} "
                    f"iterations: total {worst!r} still off by a relative {achieved:.2e}; the "
                    "bounds may be too tight for these totals"
                )
        if scale is not None:
            g = g * scale
    w = ww * g
    before_t = sample_total
    after_t = x.T @ w
    table = pd.DataFrame(
        {
            "variable": pd.Series(names, dtype=object),
            "level": pd.Series([None] * len(names), dtype=object),
            "target": pop,
            "before": before_t,
            "after": after_t,
            "n": np.full(len(names), int((ww != 0).sum()), dtype=np.int64),
        }
    )
    opts: list[tuple[str, Any]] = [("method", method)]
    if bounds is not None:
        opts.append(("bounds", (lower, upper)))
    record = WeightingStep(
        "calibrate", tuple(cols), tuple(opts), iters, True, achieved, table, (), lambda wf: x.T @ wf, again
    )
    cal = GregStep(np.arange(len(w)), x, ww, w, len(w))
    return WeightedDesign._from(design, w, cal, record)


