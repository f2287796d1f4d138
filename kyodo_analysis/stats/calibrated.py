"""Calibrated designs: the variance engine of weighted designs and their diagnostics.

:class:`WeightedDesign` is a :class:`~kyodo_analysis.stats.design.SurveyDesign` whose
weights were calibrated by a method of :mod:`kyodo_analysis.stats.weighting` and which
remembers how, so that every estimator of the engine (means, totals, ratios, proportions,
quantiles, GLMs, by domain) computes its linearised variance from the *calibration
residuals* of its scores rather than the scores themselves (Deville & Särndal 1992;
Särndal, Swensson & Wretman 1992, ch. 6; Lumley 2010, ch. 7), as R ``svyrecvar``: for a
statistic with weighted scores ``z_i``

* post-stratification / linear calibration on model matrix ``X`` (``w0`` weights before,
  ``w`` after, ``g = w / w0``): ``e_i = z_i - w_i x_i' B`` with
  ``B = (sum_i w0_i x_i x_i')^+ sum_i x_i z_i / g_i`` (for post-strata ``e_i = z_i - w_i
  Z_c / N_c``, ``Z_c`` the cell total of the scores and ``N_c`` the population count);
* raking: ten sweeps of backfitting over the margins of ``e_i / w_i`` (unweighted level
  means), as R does;

and the design variance of ``sum_i e_i`` replaces that of ``sum_i z_i``. Several steps are
applied in the order the weights were built; trimming changes the weights but, like
``trimWeights``, keeps the earlier calibration records as they were. The residualisation
itself lives in :mod:`kyodo_analysis.stats._calibration`.

This module knows no weighting algorithm: each method builds its
:class:`WeightingStep` record (including how to recompute its margins with other weights)
and a calibration record, and calls :meth:`WeightedDesign._from`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats._calibration import (
    CalibrationStep,
    element_vcov,
    residualise,
)
from kyodo_analysis.stats._linearize import multistage_vcov
from kyodo_analysis.stats.design import SurveyDesign, _BaseDesign

if TYPE_CHECKING:
    from kyodo_analysis.stats.replicate import ReplicateDesign

__all__ = [
    "CollapsedCells",
    "WeightedDesign",
    "WeightingReport",
    "WeightingStep",
    "weighting_report",
]

# ---------------------------------------------------------------- result records
@dataclass(frozen=True)
class CollapsedCells:
    """Levels of one variable merged because their sample cells were too small."""

    variable: str
    levels: tuple[Any, ...]
    label: str
    n_sample: int
    min_cell: int


@dataclass(frozen=True)
class WeightingStep:
    """One weighting step: what was done, to which targets, and how it went.

    ``margins`` is tidy: ``variable, level, target, before, after, n`` (weighted totals
    with the weights before and after this step; ``n`` the sample rows).
    """

    method: str
    variables: tuple[str, ...]
    options: tuple[tuple[str, Any], ...]
    iterations: int
    converged: bool
    max_rel_error: float
    margins: pd.DataFrame = field(repr=False, compare=False)
    collapsed: tuple[CollapsedCells, ...] = ()
    final_margins: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False, compare=False)
    """The step's margins (rows of ``margins``) recomputed with other weights."""
    replay: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    """The step applied again to another design (used to re-weight replicate designs)."""

    def describe(self) -> str:
        """One line saying what the step did."""
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options)
        args = ", ".join([*self.variables, *([opts] if opts else [])])
        text = f"{self.method}({args})"
        if self.method in ("rake", "calibrate"):
            text += f": {self.iterations} iteration(s), max relative error {self.max_rel_error:.1e}"
        for c in self.collapsed:
            text += f"; collapsed {c.variable} {list(c.levels)} -> {c.label!r} (n={c.n_sample})"
        return text


@dataclass(frozen=True)
class WeightingReport:
    """Diagnostics of a weighted design (tidy tables).

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per weight vector (``design`` weights before any step and ``final``):
        ``n, sum, min, p01, p05, p25, median, p75, p95, p99, max, max_min_ratio, cv,
        deff_kish, n_eff``. Kish (1965): ``deff = n sum w^2 / (sum w)^2 = 1 + cv^2``
        (population cv), ``n_eff = n / deff``.
    margins : pandas.DataFrame
        ``step, method, variable, level, target, before, after, final, n`` where ``final``
        uses the design's final weights (differs from ``after`` when a later step, e.g.
        trimming, moved the weights).
    steps : pandas.DataFrame
        ``step, method, variables, iterations, converged, max_rel_error, description``.
    collapsed : pandas.DataFrame
        ``step, variable, levels, label, n_sample, min_cell``.
    """

    summary: pd.DataFrame
    margins: pd.DataFrame
    steps: pd.DataFrame
    collapsed: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The weight summary table."""
        return self.summary.copy()


# ---------------------------------------------------------------- the design
class WeightedDesign(SurveyDesign):
    """A :class:`SurveyDesign` with calibrated weights whose variance accounts for them.

    Built by :func:`poststratify`, :func:`rake`, :func:`calibrate` and :func:`trim`; not
    meant to be constructed directly. All estimators of ``SurveyDesign`` work unchanged:
    their scores are replaced by calibration residuals before the design variance
    (R ``svyrecvar`` with ``postStrata``).

    Attributes
    ----------
    weights : numpy.ndarray
        The final weights, aligned with :attr:`data`.
    weighting_steps : tuple of WeightingStep
        What was done, in order.
    design_weights : numpy.ndarray
        The weights of the design before the first weighting step.
    """

    _cal_steps: tuple[CalibrationStep, ...]
    _history: tuple[WeightingStep, ...]
    _design_w: np.ndarray

    @classmethod
    def _from(
        cls,
        design: SurveyDesign,
        w: np.ndarray,
        cal_step: CalibrationStep | None,
        record: WeightingStep,
    ) -> WeightedDesign:
        new = object.__new__(cls)
        new.__dict__.update(design.__dict__)
        prev_cal: tuple[CalibrationStep, ...] = getattr(design, "_cal_steps", ())
        prev_hist: tuple[WeightingStep, ...] = getattr(design, "_history", ())
        design_w = design.__dict__.get("_design_w")
        # weights arrays are never changed in place: the design's own array is kept, not copied
        new._design_w = design_w if design_w is not None else design._w
        new._cal_steps = (*prev_cal, cal_step) if cal_step is not None else prev_cal
        new._history = (*prev_hist, record)
        new._w = w
        return new

    @property
    def weighting_steps(self) -> tuple[WeightingStep, ...]:
        """The weighting steps, in order."""
        return self._history

    @property
    def design_weights(self) -> np.ndarray:
        """Weights before the first weighting step."""
        return self._design_w.copy()

    def describe_weighting(self) -> str:
        """The weighting steps as readable text, one numbered line per step."""
        return "\n".join(f"{i}. {s.describe()}" for i, s in enumerate(self._history, 1))

    def weighting_report(self) -> WeightingReport:
        """Diagnostics; see :func:`weighting_report`."""
        return weighting_report(self)

    def __repr__(self) -> str:
        base = super().__repr__().removeprefix("SurveyDesign(").removesuffix(")")
        methods = " -> ".join(s.method for s in self._history)
        return f"WeightedDesign({base}, weighting={methods})"

    # ------------------------------------------------------------ engine hooks
    # SurveyDesign's grouped pass sums rows into unit totals before any score exists; the
    # calibration residuals need the per-row scores, so weighted designs take the generic
    # path, which hands them to _smooth_vcov below.
    _smooth = _BaseDesign._smooth

    def _with_weights(self, w: np.ndarray) -> WeightedDesign:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._w = w
        return new

    def _smooth_vcov(
        self,
        x: np.ndarray,
        dom: np.ndarray,
        n_dom: int,
        g: Callable[[np.ndarray], np.ndarray],
        jac: Callable[[np.ndarray], np.ndarray],
        totals: np.ndarray,
    ) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            j = jac(totals)  # (n_dom, k, p)
        inside = dom >= 0
        k = j.shape[1]
        # z[i] = J[dom_i] x[i]: one product per domain over its rows (rows in no domain stay 0)
        z = np.zeros((len(x), k))
        rows = np.flatnonzero(inside)
        order = rows[np.argsort(dom[rows], kind="stable")]
        bounds = np.searchsorted(dom[order], np.arange(n_dom + 1))
        for d in np.flatnonzero(np.diff(bounds)):
            r = order[bounds[d] : bounds[d + 1]]
            z[r] = x[r] @ j[d].T
        z *= np.where(inside, self._w, 0.0)[:, None]
        fast = self._element_plan()
        if fast is not None:
            row_stratum, n_strata, c_h, n_h = fast
            v = element_vcov(
                self._cal_steps[0],
                z,
                np.where(inside, dom, -1),
                n_dom,
                row_stratum,
                n_strata,
                c_h,
                n_h,
            )
            if v is not None:
                return v
        # one column per (domain, statistic), domain-major as multistage_vcov orders them
        if n_dom == 1:
            zz = z
        else:
            zz = np.zeros((len(x), n_dom * k))
            rows = np.flatnonzero(inside)
            for a in range(k):
                zz[rows, dom[rows] * k + a] = z[rows, a]
        zz = residualise(self._cal_steps, zz)
        active = self._nonzero_weights()[0] & inside
        return multistage_vcov(self._stages, zz, None, 1, lonely_psu=self.lonely_psu, active=active)

    def _element_plan(self) -> tuple[np.ndarray, int, np.ndarray, np.ndarray] | None:
        """Stratum of each row and the variance factors when the fast path applies.

        It applies to one calibration step on a design whose variance uses one stage of
        units that are the rows themselves (stratified element sampling, with or without
        fpc) and has no stratum with a single unit (lonely-PSU rules stay with the engine).
        """
        if len(self._cal_steps) != 1:
            return None
        stages = self._stages
        recurse = len(stages) > 1 and bool(np.isfinite(stages[0].popsize).any())
        st = stages[0]
        if recurse or st.n_units != len(self._frame):
            return None
        n_h = st.n_sampled.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.isinf(st.popsize), 1.0, (st.popsize - n_h) / st.popsize)
        selfrep = f < 1e-7
        if ((n_h == 1) & ~selfrep).any():
            return None
        scale = np.where(n_h > 1, f * n_h / np.maximum(n_h - 1, 1), f)
        c_h = np.where(selfrep, 0.0, scale)
        return st.unit_stratum[st.unit], st.n_strata, c_h, n_h

    def scores_vcov(self, z: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Design covariance of the totals of weighted scores, after calibration residuals.

        Parameters
        ----------
        z : ndarray, shape (n, k)
            Scores already multiplied by the (calibrated) weights.
        active : ndarray of bool, optional
            Rows taking part; default non-zero weight.

        Returns
        -------
        ndarray, shape (k, k)
        """
        if active is None:
            active, _ = self._nonzero_weights()
        zz = residualise(self._cal_steps, np.asarray(z, dtype=float).reshape(len(self), -1))
        return multistage_vcov(self._stages, zz, None, 1, lonely_psu=self.lonely_psu, active=active)

    def to_replicate(self, type: str = "auto", **kwargs: Any) -> ReplicateDesign:
        """Replicate-weight version of the weighted design, every replicate re-weighted.

        The design before weighting is converted to replicate weights
        (:func:`kyodo_analysis.stats.replicate.to_replicate`) and each weighting step is
        applied again, in order, to the full-sample weights and to every replicate, as R
        does for ``rake``/``postStratify``/``calibrate`` of a ``svyrep.design`` (Lumley
        2010, sec. 7.5). A later :meth:`subset` is kept.

        Parameters
        ----------
        type : str
            Replication method; see :func:`kyodo_analysis.stats.replicate.to_replicate`.
        **kwargs
            ``replicates``, ``rho``, ``mse``, ``seed``.

        Returns
        -------
        ReplicateDesign

        Examples
        --------
        >>> import kyodo_analysis as ka
        >>> raked = ka.open_study().design(2025)
        >>> jk = raked.to_replicate("JKn")
        >>> bool(abs(jk.weights.sum() - raked.weights.sum()) < 1e-6 * raked.weights.sum())
        True
        """
        from kyodo_analysis.stats.replicate import to_replicate

        base = SurveyDesign._with_weights(self, self._design_w)
        for attr in ("_cal_steps", "_history", "_design_w"):
            base.__dict__.pop(attr, None)
        rep: Any = to_replicate(base, type, **kwargs)
        for step in self._history:
            if step.replay is None:
                raise WeightingError(f"weighting step {step.describe()!r} cannot be replayed on replicates")
            rep = step.replay(rep)
        outside = (self._w == 0) & (rep.weights != 0)
        if outside.any():
            rep = rep._with_weights(np.where(outside, 0.0, rep.weights))
        result: ReplicateDesign = rep
        return result




# ---------------------------------------------------------------- diagnostics
def _weight_summary(label: str, w: np.ndarray) -> dict[str, Any]:
    w = w[w != 0]
    n = len(w)
    s = float(w.sum())
    q = np.quantile(w, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]) if n else [np.nan] * 7
    deff = n * float(np.sum(w**2)) / s**2 if n else np.nan
    return {
        "weights": label,
        "n": n,
        "sum": s,
        "min": float(w.min()) if n else np.nan,
        "p01": q[0],
        "p05": q[1],
        "p25": q[2],
        "median": q[3],
        "p75": q[4],
        "p95": q[5],
        "p99": q[6],
        "max": float(w.max()) if n else np.nan,
        "max_min_ratio": float(w.max() / w.min()) if n else np.nan,
        "cv": float(np.std(w) / np.mean(w)) if n else np.nan,
        "deff_kish": deff,
        "n_eff": n / deff if n else np.nan,
    }


def weighting_report(design: SurveyDesign) -> WeightingReport:
    r"""Diagnostics of the weights of a (weighted) design.

    Kish's (1965) design effect due to unequal weighting
    ``deff_w = n sum w_i^2 / (sum w_i)^2 = 1 + cv^2`` and effective sample size
    ``n / deff_w``; weight range and quantiles; each step's margins against its targets
    (before, after the step, and with the final weights); iterations; collapsed cells.

    Parameters
    ----------
    design : SurveyDesign
        A weighted design (an unweighted one gives only the summary).

    Returns
    -------
    WeightingReport

    Examples
    --------
    ``raked``: the demo's FY2025 design raked as its study.yaml says (``ka.open_study().design(2025)``).

    >>> s = weighting_report(raked).summary
    >>> print(s[["weights", "n", "sum", "max_min_ratio", "deff_kish"]].round(3).to_string(index=False))
    weights    n     sum  max_min_ratio  deff_kish
     design 1564 98908.0          1.249      1.005
      final 1564 98908.0          3.035      1.096
    """
    if not isinstance(design, SurveyDesign):
        raise WeightingError(f"weighting_report needs a SurveyDesign, not {type(design).__name__}")
    history: tuple[WeightingStep, ...] = getattr(design, "_history", ())
    rows = [_weight_summary("final", design._w)]
    if isinstance(design, WeightedDesign):
        rows.insert(0, _weight_summary("design", design._design_w))
    summary = pd.DataFrame(rows)
    frames = []
    for i, st in enumerate(history, 1):
        m = st.margins.copy()
        m.insert(0, "method", st.method)
        m.insert(0, "step", i)
        m["final"] = _final_margin(design, st)
        frames.append(m)
    margins = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["step", "method", "variable", "level", "target", "before", "after", "n", "final"])
    )
    steps = pd.DataFrame(
        {
            "step": range(1, len(history) + 1),
            "method": [s.method for s in history],
            "variables": [", ".join(s.variables) for s in history],
            "iterations": [s.iterations for s in history],
            "converged": [s.converged for s in history],
            "max_rel_error": [s.max_rel_error for s in history],
            "description": [s.describe() for s in history],
        }
    )
    coll = [
        {
            "step": i,
            "variable": c.variable,
            "levels": c.levels,
            "label": c.label,
            "n_sample": c.n_sample,
            "min_cell": c.min_cell,
        }
        for i, s in enumerate(history, 1)
        for c in s.collapsed
    ]
    collapsed = pd.DataFrame(coll, columns=["step", "variable", "levels", "label", "n_sample", "min_cell"])
    return WeightingReport(summary, margins, steps, collapsed)


def _final_margin(design: SurveyDesign, st: WeightingStep) -> np.ndarray:
    """The step's margins recomputed with the design's final weights."""
    if st.final_margins is None:
        return np.full(len(st.margins), np.nan)
    return np.asarray(st.final_margins(design._w), dtype=float)
