"""Weighting and calibration with variance that knows about it.

Post-stratification, raking, GREG calibration (linear, bounded, raking and logit
distances) and weight trimming of a :class:`~kyodo_analysis.stats.design.SurveyDesign`.
Each function returns a :class:`WeightedDesign`: a ``SurveyDesign`` whose weights are the
calibrated ones and which remembers how they were obtained, so that every estimator of the
engine (means, totals, ratios, proportions, quantiles, GLMs, by domain) computes its
linearised variance from the *calibration residuals* of its scores rather than the scores
themselves (Deville & Särndal 1992; Särndal, Swensson & Wretman 1992, ch. 6; Lumley 2010,
ch. 7). The weights, estimates and standard errors match R ``survey`` (``postStratify``,
``rake``, ``calibrate``, ``trimWeights``) to a relative 1e-8; see ``tests/test_weighting.py``
and ``tests/fixtures/r/weighting.R``.

Variance after weighting, as R ``svyrecvar``: for a statistic with weighted scores ``z_i``

* post-stratification / linear calibration on model matrix ``X`` (``w0`` weights before,
  ``w`` after, ``g = w / w0``): ``e_i = z_i - w_i x_i' B`` with
  ``B = (sum_i w0_i x_i x_i')^+ sum_i x_i z_i / g_i`` (for post-strata ``e_i = z_i - w_i
  Z_c / N_c``, ``Z_c`` the cell total of the scores and ``N_c`` the population count);
* raking: ten sweeps of backfitting over the margins of ``e_i / w_i`` (unweighted level
  means), as R does;

and the design variance of ``sum_i e_i`` replaces that of ``sum_i z_i``. Several steps are
applied in the order the weights were built. :func:`trim` changes the weights but, like
``trimWeights``, keeps the earlier calibration records as they were.

Raking iterates on the table of weighted counts over the cross-classification of the
margin variables (built once); the cell factors are mapped back to the rows at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats._calibration import (
    CalibrationStep,
    GregStep,
    RakingStep,
    element_vcov,
    residualise,
)
from kyodo_analysis.stats._linearize import multistage_vcov
from kyodo_analysis.stats.design import SurveyDesign, _BaseDesign

__all__ = [
    "WEIGHTING_METHODS",
    "CollapsedCells",
    "WeightedDesign",
    "WeightingReport",
    "WeightingStep",
    "apply_weighting",
    "calibrate",
    "poststratify",
    "rake",
    "trim",
    "weighting_report",
]

CalibrationMethod = Literal["linear", "raking", "logit"]
MarginSpec = Mapping[Any, float] | pd.Series
COUNT_NAMES = ("Freq", "count", "人口", "population", "N")


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
        new._design_w = getattr(design, "_design_w", design._w.copy())
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
        dc = np.where(inside, dom, 0)
        k, p = j.shape[1], j.shape[2]
        z = np.zeros((len(x), k))
        for a in range(k):
            for b in range(p):
                coef = j[:, a, b]
                if np.all(coef == 0):
                    continue
                z[:, a] += x[:, b] * coef[dc]
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
        active = (self._w != 0) & inside
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
            active = self._w != 0
        zz = residualise(self._cal_steps, np.asarray(z, dtype=float).reshape(len(self), -1))
        return multistage_vcov(self._stages, zz, None, 1, lonely_psu=self.lonely_psu, active=active)

    def to_replicate(self, type: str = "auto", **kwargs: Any) -> Any:
        """Not available: replicate weights would have to be recalibrated one by one."""
        raise WeightingError(
            "to_replicate() on a weighted design is not supported: convert the unweighted "
            "design to replicate weights and calibrate each replicate instead"
        )


# ---------------------------------------------------------------- helpers
def _check_design(design: Any) -> SurveyDesign:
    if not isinstance(design, SurveyDesign):
        raise WeightingError(f"weighting needs a SurveyDesign (linearisation), not {type(design).__name__}")
    return design


def _column(design: SurveyDesign, col: str, role: str) -> pd.Series:
    if col not in design.data.columns:
        raise WeightingError(f"{role} column {col!r} not in the data")
    s = design.data[col]
    if not s.hasnans:
        return s
    active = design._w != 0
    nna = int((s.isna().to_numpy() & active).sum())
    if nna:
        raise WeightingError(
            f"{role} column {col!r} has {nna} missing value(s) among the rows of the design; "
            "impute or drop them before weighting"
        )
    return s


def _as_margin(col: str, spec: Any) -> pd.Series:
    """A margin as a float Series indexed by level, in the order given."""
    if isinstance(spec, pd.DataFrame):
        value_cols = [c for c in spec.columns if c != col]
        if col in spec.columns and len(value_cols) == 1:
            s = pd.Series(spec[value_cols[0]].to_numpy(), index=spec[col].to_numpy())
        elif spec.shape[1] == 1:
            s = spec.iloc[:, 0]
        else:
            raise WeightingError(f"margin for {col!r}: a DataFrame needs the column {col!r} and one count column")
    elif isinstance(spec, pd.Series):
        s = spec
    elif isinstance(spec, Mapping):
        s = pd.Series(list(spec.values()), index=list(spec.keys()), dtype=float)
    else:
        raise WeightingError(f"margin for {col!r} must be a mapping level -> count, a Series or a DataFrame")
    s = pd.to_numeric(s, errors="coerce").astype(float)
    if s.index.has_duplicates:
        dup = s.index[s.index.duplicated()][0]
        raise WeightingError(f"margin {col!r} lists level {dup!r} more than once")
    bad = ~np.isfinite(s.to_numpy()) | (s.to_numpy() < 0)
    if bad.any():
        lev = s.index[np.flatnonzero(bad)[0]]
        raise WeightingError(f"margin {col!r}: level {lev!r} has an invalid count {s.iloc[np.flatnonzero(bad)[0]]!r}")
    return s


def _distinct_codes(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes of the rows over the column's distinct values (-1: missing) and those values.

    Categorical columns already hold the codes; other columns are hashed once.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    return pd.factorize(values, use_na_sentinel=True)


def _level_codes(values: pd.Series, levels: pd.Index, col: str, role: str) -> np.ndarray:
    # factorise the rows once (hashing), then match the few distinct values to the levels
    row_codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = pd.Index(levels).get_indexer(pd.Index(np.asarray(uniques, dtype=object)))
    lookup = np.append(lookup, -1)  # NA rows (code -1) stay -1
    codes = lookup[row_codes]
    missing = (codes < 0) & (row_codes >= 0)
    if missing.any():
        unknown = pd.unique(np.asarray(uniques, dtype=object)[lookup[:-1] < 0])
        raise WeightingError(
            f"{role} {col!r}: level(s) {list(unknown)[:5]!r} occur in the data but not in the "
            f"targets (targets have {list(levels)[:12]!r})"
        )
    return codes


def _collapse_adjacent(
    col: str, levels: list[Any], n_per_level: np.ndarray, min_cell: int
) -> tuple[list[list[Any]], list[CollapsedCells]]:
    """Merge adjacent levels (in target order) until every group has ``>= min_cell`` rows.

    The smallest group below the minimum is merged with its smaller neighbour, repeatedly.
    """
    groups = [[lev] for lev in levels]
    counts = [int(c) for c in n_per_level]
    while len(groups) > 1:
        small = [i for i, c in enumerate(counts) if c < min_cell]
        if not small:
            break
        i = min(small, key=lambda k: counts[k])
        if i == 0:
            j = 1
        elif i == len(groups) - 1:
            j = i - 1
        else:
            j = i - 1 if counts[i - 1] <= counts[i + 1] else i + 1
        a, b = sorted((i, j))
        groups[a] = groups[a] + groups[b]
        counts[a] += counts[b]
        del groups[b], counts[b]
    records = [
        CollapsedCells(col, tuple(g), "+".join(str(x) for x in g), c, min_cell)
        for g, c in zip(groups, counts, strict=True)
        if len(g) > 1
    ]
    return groups, records


def _combine(codes: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Cell of each row over the cross-classification, and each present cell's radix code."""
    size = int(np.prod(sizes))
    dtype = np.int32 if size < 2**31 else np.int64
    combined = np.asarray(codes[0], dtype=dtype).copy()
    for c, s in zip(codes[1:], sizes[1:], strict=True):
        combined *= s
        combined += c
    if size <= 50_000_000:
        present = np.flatnonzero(np.bincount(combined, minlength=size))
        remap = np.full(size, -1, dtype=np.int32 if size < 2**31 else np.int64)
        remap[present] = np.arange(len(present))
        return remap[combined], present
    present, cell = np.unique(combined, return_inverse=True)
    return cell.astype(np.int64), present


def _split_radix(present: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    out = []
    rem = present.copy()
    for s in reversed(sizes):
        out.append(rem % s)
        rem = rem // s
    return out[::-1]


def _margin_table(
    col: str,
    levels: Sequence[Any],
    target: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    n: np.ndarray,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variable": col,
            "level": pd.Series(list(levels), dtype=object),
            "target": target,
            "before": before,
            "after": after,
            "n": n.astype(np.int64),
        }
    )


# ---------------------------------------------------------------- rake
def rake(
    design: SurveyDesign,
    margins: Mapping[str, Any],
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    min_cell: int | None = None,
    collapse: Sequence[str] = (),
) -> WeightedDesign:
    r"""Rake the weights to one-way population margins (iterative proportional fitting).

    Starting from the design's weights ``d_i``, each sweep post-stratifies to every margin
    in turn (Deming & Stephan 1940); the result is the raking-ratio calibration estimator
    ``w_i = d_i exp(x_i' lambda)`` of Deville & Särndal (1992) with ``x_i`` the level
    indicators of all margins. The iteration runs on the table of weighted counts over the
    cross-classification of the margin variables. The variance uses backfitted raking
    residuals (R ``rake`` + ``svyrecvar``; Lumley 2010, sec. 7.3).

    Parameters
    ----------
    design : SurveyDesign
        The design (possibly already weighted; raking then starts from its weights).
    margins : mapping
        ``{column: counts}`` with counts a mapping level -> population count, a Series
        indexed by level, or a DataFrame with the column and one count column. Every level
        present in the data must have a count; levels with a zero count and no sample rows
        are ignored.
    max_iter : int
        Maximum number of sweeps.
    tol : float
        Convergence: every margin reproduced to a relative error below ``tol``.
    min_cell : int, optional
        With ``collapse``, adjacent levels (in the order of the margin) of those columns
        whose number of sample rows is below ``min_cell`` are merged, smallest first, and
        their targets added. Every merge is recorded in the step and in
        :func:`weighting_report`.
    collapse : sequence of str
        Columns whose levels may be collapsed (ordered variables such as age group).

    Returns
    -------
    WeightedDesign

    Raises
    ------
    WeightingError
        Names the margin and level: a level in the data missing from the margin, a level
        with a positive target but no sample rows (or no weight), a level with sample rows
        but a zero target, margins whose totals disagree, missing values in a margin
        column, or no convergence within ``max_iter`` sweeps (with the largest remaining
        discrepancy).

    Examples
    --------
    >>> raked = rake(design, {"sex": {"M": 480, "F": 520},
    ...                       "age": {"18-39": 300, "40-64": 400, "65+": 300}})  # doctest: +SKIP
    >>> raked.mean("q1", by="district")  # doctest: +SKIP
    """
    design = _check_design(design)
    if not margins:
        raise WeightingError("rake needs at least one margin")
    if min_cell is not None and not collapse:
        raise WeightingError("min_cell needs collapse=[columns whose levels may be merged]")
    unknown_collapse = [c for c in collapse if c not in margins]
    if unknown_collapse:
        raise WeightingError(f"collapse column(s) {unknown_collapse} are not margins")
    w0 = design._w.astype(float)
    active = w0 != 0
    all_active = bool(active.all())
    cols = list(margins)
    # 1. rows -> codes of their distinct values (one hashing pass per column), then the
    #    cross-classification of those codes; everything after works on the cell table
    row_codes_l, uniques_l = [], []
    for col in cols:
        values = _column(design, col, "margin")
        rc, uniq = _distinct_codes(values)
        if (rc < 0).any():  # missing values only on rows outside the design (checked)
            rc = np.where(rc < 0, 0, rc)
            if len(uniq) == 0:
                uniq = pd.Index([None])
        row_codes_l.append(rc)
        uniques_l.append(np.asarray(uniq, dtype=object))
    usizes = [max(len(u), 1) for u in uniques_l]
    cell, present = _combine(row_codes_l, usizes)
    del row_codes_l
    n_cells = len(present)
    cell_ucodes = _split_radix(present, usizes)
    if all_active:
        n_cell = np.bincount(cell, minlength=n_cells)
        tab = np.bincount(cell, weights=w0, minlength=n_cells)
    else:
        n_cell = np.bincount(cell[active], minlength=n_cells)
        tab = np.bincount(cell, weights=w0, minlength=n_cells)
    # 2. margins: level of each cell, collapsing and checks on the cell table
    cell_codes: list[np.ndarray] = []
    targets_l: list[np.ndarray] = []
    levels_l: list[list[Any]] = []
    collapsed: list[CollapsedCells] = []
    for col, uniq, ucodes in zip(cols, uniques_l, cell_ucodes, strict=True):
        m = _as_margin(col, margins[col])
        lookup = pd.Index(m.index).get_indexer(pd.Index(uniq))
        cc = lookup[ucodes]
        unknown_cells = (cc < 0) & (n_cell > 0)
        if unknown_cells.any():
            unknown = pd.unique(uniq[ucodes[unknown_cells]])
            raise WeightingError(
                f"margin {col!r}: level(s) {list(unknown)[:5]!r} occur in the data but not in "
                f"the targets (targets have {list(m.index)[:12]!r})"
            )
        cc = np.where(cc < 0, 0, cc)  # cells of rows outside the design only
        levels = list(m.index)
        target = m.to_numpy()
        n_lev = np.bincount(cc, weights=n_cell, minlength=len(levels))
        if min_cell is not None and col in collapse:
            groups, recs = _collapse_adjacent(col, levels, n_lev, min_cell)
            if recs:
                collapsed.extend(recs)
                group_of = np.empty(len(levels), dtype=np.int64)
                for gi, grp in enumerate(groups):
                    for lev in grp:
                        group_of[levels.index(lev)] = gi
                cc = group_of[cc]
                target = np.bincount(group_of, weights=target, minlength=len(groups))
                levels = ["+".join(str(x) for x in g) if len(g) > 1 else g[0] for g in groups]
                n_lev = np.bincount(cc, weights=n_cell, minlength=len(levels))
        wsum = np.bincount(cc, weights=tab, minlength=len(levels))
        for i, lev in enumerate(levels):
            if target[i] > 0 and (n_lev[i] == 0 or wsum[i] <= 0):
                raise WeightingError(
                    f"margin {col!r}: level {lev!r} has population count {target[i]:g} but "
                    f"no sample rows with positive weight (empty sample cell); collapse it "
                    f"with a neighbour (min_cell=, collapse=[{col!r}]) or merge the levels"
                )
            if target[i] == 0 and n_lev[i] > 0:
                raise WeightingError(
                    f"margin {col!r}: level {lev!r} has {int(n_lev[i])} sample row(s) but a population count of 0"
                )
        cell_codes.append(cc.astype(np.int64))
        targets_l.append(target)
        levels_l.append(levels)
    totals = np.array([t.sum() for t in targets_l])
    if np.ptp(totals) > 1e-9 * totals.max():
        detail = ", ".join(f"{c!r}: {t:.10g}" for c, t in zip(cols, totals, strict=True))
        odd = cols[int(np.argmax(np.abs(totals - totals[0])))]
        raise WeightingError(
            f"margins have inconsistent totals ({detail}); margin {odd!r} disagrees with the "
            "first, so raking cannot converge"
        )
    sizes = [len(lv) for lv in levels_l]
    before = [np.bincount(cc, weights=tab, minlength=s) for cc, s in zip(cell_codes, sizes, strict=True)]
    f = np.ones(n_cells)
    converged = False
    rel = np.inf
    iterations = 0
    worst = (0, 0)
    for sweep in range(1, max_iter + 1):
        iterations = sweep
        for cc, t, s in zip(cell_codes, targets_l, sizes, strict=True):
            cur = np.bincount(cc, weights=tab * f, minlength=s)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(cur > 0, t / cur, 1.0)
            f *= ratio[cc]
        rel = 0.0
        for mi, (cc, t, s) in enumerate(zip(cell_codes, targets_l, sizes, strict=True)):
            cur = np.bincount(cc, weights=tab * f, minlength=s)
            with np.errstate(divide="ignore", invalid="ignore"):
                err = np.where(t > 0, np.abs(cur - t) / t, 0.0)
            if err.max(initial=0) > rel:
                rel = float(err.max())
                worst = (mi, int(np.argmax(err)))
        if rel < tol:
            converged = True
            break
    if not converged:
        mi, li = worst
        cur = np.bincount(cell_codes[mi], weights=tab * f, minlength=sizes[mi])[li]
        raise WeightingError(
            f"raking did not converge in {max_iter} iterations: margin {cols[mi]!r} level "
            f"{levels_l[mi][li]!r} reaches {cur:.6g} against a target of "
            f"{targets_l[mi][li]:.6g} (relative error {rel:.2e} > tol={tol:g}); the "
            "margins are probably incompatible with empty cells of the sample's "
            "cross-classification (e.g. a level of one margin only observed together with "
            "levels of another whose targets cannot all be met); collapse levels or check "
            "the targets"
        )
    w = w0 * f[cell]
    if not all_active:
        w[~active] = 0.0
    after = [np.bincount(cc, weights=tab * f, minlength=s) for cc, s in zip(cell_codes, sizes, strict=True)]
    n_by = [np.bincount(cc, weights=n_cell, minlength=s) for cc, s in zip(cell_codes, sizes, strict=True)]
    table = pd.concat(
        [
            _margin_table(c, lv, t, b, a, n)
            for c, lv, t, b, a, n in zip(cols, levels_l, targets_l, before, after, n_by, strict=True)
        ],
        ignore_index=True,
    )
    opts: list[tuple[str, Any]] = [("tol", tol)]
    if min_cell is not None:
        opts.append(("min_cell", min_cell))
    record = WeightingStep("rake", tuple(cols), tuple(opts), iterations, converged, rel, table, tuple(collapsed))
    cal = RakingStep(cell, tuple(cell_codes), tuple(sizes), w)
    return WeightedDesign._from(design, w, cal, record)


# ---------------------------------------------------------------- poststratify
def _population_frame(by: list[str], population: Any, count: str | None) -> pd.DataFrame:
    if isinstance(population, pd.DataFrame):
        missing = [c for c in by if c not in population.columns]
        if missing:
            raise WeightingError(f"population table lacks the post-stratum column(s) {missing}")
        if count is None:
            others = [c for c in population.columns if c not in by]
            if len(others) == 1:
                count = others[0]
            else:
                found = [c for c in COUNT_NAMES if c in others]
                if not found:
                    raise WeightingError(
                        f"population table: say which column holds the counts (count=); candidates {others}"
                    )
                count = found[0]
        pop = population.groupby(by, sort=False, dropna=False)[count].sum().reset_index()
        return pop.rename(columns={count: "_N"})
    if isinstance(population, pd.Series):
        idx = population.index
        if len(by) > 1 and not isinstance(idx, pd.MultiIndex):
            raise WeightingError("population Series for several columns needs a MultiIndex")
        frame = population.rename("_N").reset_index()
        frame.columns = [*by, "_N"]
        return frame
    if isinstance(population, Mapping):
        keys = list(population.keys())
        rows = [(k,) if len(by) == 1 and not isinstance(k, tuple) else tuple(k) for k in keys]
        if any(len(r) != len(by) for r in rows):
            raise WeightingError(f"population mapping keys must be tuples of {len(by)} levels ({by})")
        frame = pd.DataFrame(rows, columns=by)
        frame["_N"] = [float(population[k]) for k in keys]
        return frame
    raise WeightingError("population must be a DataFrame, a Series or a mapping cell -> count")


def poststratify(
    design: SurveyDesign,
    by: str | Sequence[str],
    population: Any,
    *,
    count: str | None = None,
    min_cell: int | None = None,
    collapse: Sequence[str] = (),
) -> WeightedDesign:
    r"""Post-stratify the weights to population cell counts (R ``postStratify``).

    ``w_i = d_i N_c / \hat N_c`` for row ``i`` in cell ``c`` (``\hat N_c = sum_{i in c}
    d_i``); estimates are the post-stratified estimators and their variance uses the
    residuals ``e_i = z_i - w_i Z_c / N_c`` (Lumley 2010, sec. 7.2; Holt & Smith 1979).

    Parameters
    ----------
    design : SurveyDesign
    by : str or list of str
        Post-stratum column(s); cells are their cross-classification.
    population : DataFrame, Series or mapping
        Cell counts: a DataFrame with the ``by`` columns and one count column (or
        ``count=``), a Series indexed by level (MultiIndex for several columns), or a
        mapping level (tuple of levels) -> count.
    count : str, optional
        Count column of a population DataFrame.
    min_cell, collapse
        Merge adjacent levels (population order) of the ``collapse`` columns while some
        cell has fewer than ``min_cell`` sample rows; the smallest level (by its smallest
        cell) is merged with its smaller neighbour. Recorded in the diagnostics.

    Returns
    -------
    WeightedDesign

    Raises
    ------
    WeightingError
        A sample cell absent from the population (or with count 0), a populated cell with
        no sample rows (names the cell), missing values in a ``by`` column.

    Examples
    --------
    >>> ps = poststratify(design, "stype", {"E": 4421, "H": 755, "M": 1018})  # doctest: +SKIP
    """
    design = _check_design(design)
    by_l = [by] if isinstance(by, str) else list(by)
    if min_cell is not None and not collapse:
        raise WeightingError("min_cell needs collapse=[columns whose levels may be merged]")
    pop = _population_frame(by_l, population, count)
    pop["_N"] = pd.to_numeric(pop["_N"], errors="coerce").astype(float)
    if (~np.isfinite(pop["_N"].to_numpy()) | (pop["_N"].to_numpy() < 0)).any():
        raise WeightingError("population counts must be finite and non-negative")
    w0 = design._w.astype(float)
    active = w0 != 0
    series = {c: _column(design, c, "post-stratum") for c in by_l}
    level_idx: dict[str, pd.Index] = {c: pd.Index(pd.unique(pop[c].to_numpy())) for c in by_l}
    row_codes = {c: _level_codes(series[c], level_idx[c], c, "post-stratum") for c in by_l}
    pop_codes = {c: level_idx[c].get_indexer(pop[c].to_numpy()) for c in by_l}
    group_of = {c: np.arange(len(level_idx[c])) for c in by_l}
    group_labels = {c: list(level_idx[c]) for c in by_l}
    collapsed: list[CollapsedCells] = []
    if min_cell is not None:
        for c in collapse:
            if c not in by_l:
                raise WeightingError(f"collapse column {c!r} is not a post-stratum column")
            # smallest sample cell of each level of c over the other columns' combinations
            others = [o for o in by_l if o != c]
            other_code = np.zeros(len(w0), dtype=np.int64)
            for o in others:
                other_code = other_code * len(level_idx[o]) + row_codes[o]
            n_o = int(np.prod([len(level_idx[o]) for o in others])) if others else 1
            counts = np.bincount(
                row_codes[c][active] * n_o + other_code[active],
                minlength=len(level_idx[c]) * n_o,
            ).reshape(len(level_idx[c]), n_o)
            pc = np.zeros((len(level_idx[c]), n_o))
            po = np.zeros(len(pop), dtype=np.int64)
            for o in others:
                po = po * len(level_idx[o]) + pop_codes[o]
            np.add.at(pc, (pop_codes[c], po), pop["_N"].to_numpy())
            masked = np.where(pc > 0, counts, np.iinfo(np.int64).max)
            per_level = masked.min(axis=1)
            per_level = np.where(per_level == np.iinfo(np.int64).max, min_cell, per_level)
            groups, recs = _collapse_adjacent(c, list(level_idx[c]), per_level, min_cell)
            if recs:
                collapsed.extend(recs)
                g = np.empty(len(level_idx[c]), dtype=np.int64)
                for gi, grp in enumerate(groups):
                    for lev in grp:
                        g[level_idx[c].get_loc(lev)] = gi
                group_of[c] = g
                group_labels[c] = ["+".join(str(x) for x in grp) if len(grp) > 1 else grp[0] for grp in groups]
    sizes = [len(group_labels[c]) for c in by_l]
    rc = [np.where(active, group_of[c][np.clip(row_codes[c], 0, None)], 0) for c in by_l]
    radix_rows = np.zeros(len(w0), dtype=np.int64)
    for cc, s in zip(rc, sizes, strict=True):
        radix_rows = radix_rows * s + cc
    radix_pop = np.zeros(len(pop), dtype=np.int64)
    for c, s in zip(by_l, sizes, strict=True):
        radix_pop = radix_pop * s + group_of[c][pop_codes[c]]
    size = int(np.prod(sizes))
    n_pop = np.bincount(radix_pop, weights=pop["_N"].to_numpy(), minlength=size)
    cell, present = _combine([radix_rows], [size])
    n_cells = len(present)
    what = np.bincount(cell, weights=w0, minlength=n_cells)
    n_s = np.bincount(cell[active], minlength=n_cells)
    cell_pop = n_pop[present]

    def label(radix: int) -> tuple[Any, ...]:
        parts = _split_radix(np.array([radix]), sizes)
        return tuple(group_labels[c][int(p[0])] for c, p in zip(by_l, parts, strict=True))

    bad = np.flatnonzero(cell_pop <= 0)
    if len(bad):
        raise WeightingError(
            f"post-stratification on {by_l}: cell {label(int(present[bad[0]]))!r} has "
            f"{int(n_s[bad[0]])} sample row(s) but population count 0 (or no entry)"
        )
    in_sample = np.zeros(size, dtype=bool)
    in_sample[present] = True
    empty = np.flatnonzero((n_pop > 0) & ~in_sample)
    zero_w = np.flatnonzero(what <= 0)
    if len(empty) or len(zero_w):
        r = int(empty[0]) if len(empty) else int(present[zero_w[0]])
        raise WeightingError(
            f"post-stratification on {by_l}: populated cell {label(r)!r} (count "
            f"{n_pop[r]:g}) has no sample rows with positive weight (empty sample cell); "
            "use min_cell=/collapse= to merge adjacent levels"
        )
    factor = cell_pop / what
    w = np.where(active, w0 * factor[cell], 0.0)
    cell_labels = [label(int(r)) for r in present]
    table = pd.DataFrame(
        {
            "variable": " × ".join(by_l),
            "level": pd.Series([lb[0] if len(lb) == 1 else lb for lb in cell_labels], dtype=object),
            "target": cell_pop,
            "before": what,
            "after": np.bincount(cell, weights=w, minlength=n_cells),
            "n": n_s.astype(np.int64),
        }
    )
    opts: list[tuple[str, Any]] = [] if min_cell is None else [("min_cell", min_cell)]
    record = WeightingStep(
        "poststratify",
        tuple(by_l),
        tuple(opts),
        1,
        True,
        float(np.max(np.abs(table["after"] - table["target"]) / table["target"])),
        table,
        tuple(collapsed),
    )
    cal = GregStep(cell, None, w0, w, n_cells)
    return WeightedDesign._from(design, w, cal, record)


# ---------------------------------------------------------------- calibrate
def _model_matrix(
    design: SurveyDesign, cols: list[str]
) -> tuple[np.ndarray, list[str], dict[str, tuple[list[Any], list[str]]]]:
    """Intercept + treatment-coded factors + numeric columns (R ``model.matrix``)."""
    n = len(design)
    parts = [np.ones((n, 1))]
    names = ["(Intercept)"]
    factors: dict[str, tuple[list[Any], list[str]]] = {}
    for c in cols:
        s = _column(design, c, "calibration")
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
            m = _as_margin(c, tot[c])
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
            return np.minimum(np.maximum(u + 1, lower), upper) - 1

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

        def fm1(u: np.ndarray) -> np.ndarray:
            e = np.exp(a * u)
            return (lower * (upper - 1) + upper * (1 - lower) * e) / (upper - 1 + (1 - lower) * e) - 1

        def df(u: np.ndarray) -> np.ndarray:
            e = np.exp(a * u)
            den = upper - 1 + (1 - lower) * e
            num = lower * (upper - 1) + upper * (1 - lower) * e
            return upper * (1 - lower) * e * a / den - num * ((1 - lower) * e * a) / den**2

        return fm1, df
    raise WeightingError(f"unknown calibration method {method!r}; use 'linear', 'raking' or 'logit'")


def calibrate(
    design: SurveyDesign,
    aux: str | Sequence[str],
    totals: Mapping[str, Any] | pd.Series,
    *,
    method: CalibrationMethod = "linear",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> WeightedDesign:
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
    design : SurveyDesign
    aux : str or list of str
        Auxiliary columns, or a formula string ``"~ a + b"`` (main effects only).
        Categorical columns enter as factors, numeric ones as they are.
    totals : mapping or Series
        Either ``{column: total}`` for numeric and ``{column: {level: count}}`` for
        categorical auxiliaries (all levels; ``"(Intercept)"`` gives the population size
        if there is no categorical auxiliary), or R's named vector of model-matrix totals
        (``"(Intercept)"``, ``"stypeH"``, ``"api99"``, ...).
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
    WeightedDesign

    Raises
    ------
    WeightingError
        Missing totals or levels, inconsistent population sizes, bad bounds, or no
        convergence (with the achieved misfit).

    Examples
    --------
    >>> cal = calibrate(design, ["stype", "api99"],
    ...                 {"stype": {"E": 4421, "H": 755, "M": 1018}, "api99": 3914069})  # doctest: +SKIP
    """
    design = _check_design(design)
    if isinstance(aux, str):
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
    record = WeightingStep("calibrate", tuple(cols), tuple(opts), iters, True, achieved, table)
    cal = GregStep(np.arange(len(w)), x, ww, w, len(w))
    return WeightedDesign._from(design, w, cal, record)


# ---------------------------------------------------------------- trim
def trim(
    design: SurveyDesign,
    lower: float | None = None,
    upper: float | None = None,
    *,
    strict: bool = False,
) -> WeightedDesign:
    r"""Trim weights to ``[lower, upper]`` and share the excess equally (R ``trimWeights``).

    Weights outside the bounds are set to the bound; the total trimmed amount
    ``sum_i (w_i - w_i^trim)`` is added in equal parts to the weights that were inside,
    which keeps the weight total. With ``strict=True`` this is repeated until no weight is
    outside (the redistribution may push some over the bound again). Calibration records
    of earlier steps are kept unchanged, as in R, so the variance still uses their
    residuals.

    Parameters
    ----------
    design : SurveyDesign
    lower, upper : float, optional
        Bounds on the weights (default unbounded).
    strict : bool
        Repeat until every weight is within the bounds.

    Returns
    -------
    WeightedDesign

    Raises
    ------
    WeightingError
        ``lower > upper`` or bounds that cannot hold the weight total.

    Examples
    --------
    >>> trimmed = trim(raked, upper=3 * raked.weights.mean())  # doctest: +SKIP
    """
    design = _check_design(design)
    lo = -np.inf if lower is None else float(lower)
    hi = np.inf if upper is None else float(upper)
    if lo > hi:
        raise WeightingError(f"trim: lower={lo} is above upper={hi}")
    w = design._w.astype(float).copy()
    n_trimmed = 0
    rounds = 0
    # a weight equal to a bound up to rounding (e.g. a bound taken from the weights'
    # quantiles) is not trimmed: R decides such ties by the last bit of its arithmetic
    slack_lo = 1e-12 * abs(lo) if np.isfinite(lo) else 0.0
    slack_hi = 1e-12 * abs(hi) if np.isfinite(hi) else 0.0
    while True:
        outside = (w < lo - slack_lo) | (w > hi + slack_hi)
        if not outside.any():
            break
        if outside.all():
            raise WeightingError(f"trim: every weight is outside [{lo}, {hi}]; nothing left to take the excess")
        rounds += 1
        n_trimmed += int(outside.sum())
        new = np.clip(w, lo, hi)
        excess = float(np.sum(w - new))
        new[~outside] += excess / int((~outside).sum())
        w = new
        if not strict:
            break
        if rounds > 10_000:
            raise WeightingError(
                f"trim(strict=True) did not settle: bounds [{lo}, {hi}] cannot hold the "
                f"weight total {w.sum():.6g} over {len(w)} rows"
            )
    old = design._w
    table = pd.DataFrame(
        {
            "variable": ["weight total"],
            "level": pd.Series([None], dtype=object),
            "target": [float(old.sum())],
            "before": [float(old.sum())],
            "after": [float(w.sum())],
            "n": [len(w)],
        }
    )
    opts: list[tuple[str, Any]] = [
        ("lower", lower),
        ("upper", upper),
        ("strict", strict),
        ("weights_trimmed", n_trimmed),
    ]
    record = WeightingStep(
        "trim",
        (),
        tuple(opts),
        rounds,
        True,
        0.0,
        table,
    )
    return WeightedDesign._from(design, w, None, record)


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
    >>> weighting_report(raked).summary  # doctest: +SKIP
    """
    design = _check_design(design)
    history: tuple[WeightingStep, ...] = getattr(design, "_history", ())
    rows = [_weight_summary("final", design._w)]
    if history:
        rows.insert(0, _weight_summary("design", design._design_w))  # type: ignore[attr-defined]
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
    w = design._w
    frame = design.data
    out = np.full(len(st.margins), np.nan)
    if st.method == "trim":
        return np.array([float(w.sum())])
    if st.method == "rake":
        for j, (var, lev) in enumerate(zip(st.margins["variable"], st.margins["level"], strict=True)):
            rec = next((c for c in st.collapsed if c.variable == var and c.label == lev), None)
            levels = list(rec.levels) if rec is not None else [lev]
            out[j] = float(w[frame[var].isin(levels).to_numpy()].sum())
        return out
    if st.method == "poststratify":
        by = list(st.variables)
        for j, lev in enumerate(st.margins["level"]):
            key = lev if isinstance(lev, tuple) else (lev,)
            mask = np.ones(len(w), dtype=bool)
            for var, part in zip(by, key, strict=True):
                rec = next((c for c in st.collapsed if c.variable == var and c.label == part), None)
                levels = list(rec.levels) if rec is not None else [part]
                mask &= frame[var].isin(levels).to_numpy()
            out[j] = float(w[mask].sum())
        return out
    if st.method == "calibrate":
        x, names, _ = _model_matrix(design, list(st.variables))
        tot = dict(zip(names, x.T @ w, strict=True))
        return np.array([tot.get(nm, np.nan) for nm in st.margins["variable"]])
    return out


# ---------------------------------------------------------------- registry
def _rake_method(design: SurveyDesign, targets: Any, **options: Any) -> WeightedDesign:
    return rake(design, targets, **options)


def _poststratify_method(design: SurveyDesign, targets: Any, **options: Any) -> WeightedDesign:
    by = options.pop("by", None)
    if by is None:
        if isinstance(targets, pd.DataFrame):
            count = options.get("count")
            by = [c for c in targets.columns if c not in (count, *COUNT_NAMES)]
        else:
            raise WeightingError("poststratify via apply_weighting needs by=")
    return poststratify(design, by, targets, **options)


def _calibrate_method(design: SurveyDesign, targets: Any, **options: Any) -> WeightedDesign:
    aux = options.pop("aux", None)
    if aux is None:
        aux = [k for k in targets if k != "(Intercept)"]
    return calibrate(design, aux, targets, **options)


def _trim_method(design: SurveyDesign, targets: Any, **options: Any) -> WeightedDesign:
    lo, hi = (None, None) if targets is None else targets
    return trim(design, lo, hi, **options)


WEIGHTING_METHODS: Mapping[str, Callable[..., WeightedDesign]] = {
    "poststratify": _poststratify_method,
    "rake": _rake_method,
    "calibrate": _calibrate_method,
    "trim": _trim_method,
}
"""Name -> ``method(design, targets, **options)``, one signature for every method."""


def apply_weighting(design: SurveyDesign, method: str, targets: Any, **options: Any) -> WeightedDesign:
    """Apply a weighting method by name (balance-style registry).

    Parameters
    ----------
    design : SurveyDesign
    method : {"poststratify", "rake", "calibrate", "trim"}
        See :data:`WEIGHTING_METHODS`.
    targets
        Population targets: cell counts (``poststratify``, with ``by=`` unless a
        DataFrame), ``{column: margin}`` (``rake``), totals (``calibrate``, auxiliaries
        taken from the keys unless ``aux=``), ``(lower, upper)`` (``trim``).
    **options
        Keyword options of the method.

    Returns
    -------
    WeightedDesign

    Examples
    --------
    >>> apply_weighting(design, "rake", margins, tol=1e-12)  # doctest: +SKIP
    """
    try:
        fn = WEIGHTING_METHODS[method]
    except KeyError:
        raise WeightingError(f"unknown weighting method {method!r}; choose from {sorted(WEIGHTING_METHODS)}") from None
    return fn(design, targets, **options)
