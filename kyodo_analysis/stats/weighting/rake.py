"""Raking (iterative proportional fitting) to one-way population margins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

import numpy as np
import pandas as pd

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats._calibration import RakingStep
from kyodo_analysis.stats.calibrated import CollapsedCells, WeightedDesign, WeightingStep
from kyodo_analysis.stats.design import SurveyDesign
from kyodo_analysis.stats.replicate import ReplicateDesign
from kyodo_analysis.stats.weighting._common import (
    as_margin,
    check_complete,
    check_design,
    collapse_adjacent,
    combine_codes,
    distinct_codes,
    margin_table,
    positions,
    reweight,
    split_radix,
)

__all__ = ["rake"]


@overload
def rake(
    design: ReplicateDesign,
    margins: Mapping[str, Any],
    *,
    max_iter: int = ...,
    tol: float = ...,
    min_cell: int | None = ...,
    collapse: Sequence[str] = ...,
) -> ReplicateDesign: ...
@overload
def rake(
    design: SurveyDesign,
    margins: Mapping[str, Any],
    *,
    max_iter: int = ...,
    tol: float = ...,
    min_cell: int | None = ...,
    collapse: Sequence[str] = ...,
) -> WeightedDesign: ...
def rake(
    design: SurveyDesign | ReplicateDesign,
    margins: Mapping[str, Any],
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    min_cell: int | None = None,
    collapse: Sequence[str] = (),
) -> WeightedDesign | ReplicateDesign:
    r"""Rake the weights to one-way population margins (iterative proportional fitting).

    Starting from the design's weights ``d_i``, each sweep post-stratifies to every margin
    in turn (Deming & Stephan 1940); the result is the raking-ratio calibration estimator
    ``w_i = d_i exp(x_i' lambda)`` of Deville & Särndal (1992) with ``x_i`` the level
    indicators of all margins. The iteration runs on the table of weighted counts over the
    cross-classification of the margin variables. The variance uses backfitted raking
    residuals (R ``rake`` + ``svyrecvar``; Lumley 2010, sec. 7.3).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design (possibly already weighted; raking then starts from its weights). A
        replicate design is raked once per replicate (R ``rake`` of a ``svyrep.design``):
        every replicate's weights are raked to the same margins, to the same tolerance.
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
    WeightedDesign or ReplicateDesign
        A ``WeightedDesign`` for a linearisation design, a ``ReplicateDesign`` with raked
        full-sample and replicate weights for a replicate design.

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
    ``design``: the demo's FY2025 design (register sex 1/2, 中学校区 1-5 as ``stratum``):

    >>> sizes = {1: 18476, 2: 19067, 3: 25109, 4: 24267, 5: 11989}
    >>> raked = rake(design, {"reg_sex": {1: 48000, 2: 50908}, "stratum": sizes})
    >>> by_sex = raked.mean("q3_1", by="reg_sex", na_rm=True)
    >>> print(by_sex[["reg_sex", "estimate", "se"]].round(4).to_string(index=False))
     reg_sex  estimate     se
           1    0.3571 0.0180
           2    0.3753 0.0167
    """
    def again(d: Any) -> Any:
        return rake(d, margins, max_iter=max_iter, tol=tol, min_cell=min_cell, collapse=collapse)

    if isinstance(design, ReplicateDesign):
        return reweight(design, again)
    design = check_design(design)
    if not margins:
        raise WeightingError("rake needs at least one margin")
    if min_cell is not None and not collapse:
        raise WeightingError("min_cell needs collapse=[columns whose levels may be merged]")
    unknown_collapse = [c for c in collapse if c not in margins]
    if unknown_collapse:
        raise WeightingError(f"collapse column(s) {unknown_collapse} are not margins")
    w0 = np.asarray(design._w, dtype=float)  # read only here (no copy)
    active, all_active = design._nonzero_weights()
    cols = list(margins)
    # 1. rows -> codes of their distinct values (one hashing pass per column), then the
    #    cross-classification of those codes; everything after works on the cell table
    row_codes_l, uniques_l = [], []
    design._prefetch_codes(cols)
    for col in cols:
        complete = check_complete(design, col, "margin")
        rc, uniq = distinct_codes(design, col)
        if not complete:  # missing values only on rows outside the design (checked)
            rc = np.where(rc < 0, 0, rc)
            if len(uniq) == 0:
                uniq = pd.Index([None])
        row_codes_l.append(rc)
        uniques_l.append(np.asarray(uniq, dtype=object))
    usizes = [max(len(u), 1) for u in uniques_l]
    # the cross-classification depends on the columns only: kept with the design's codes
    cache = design._code_cache()
    cells_key = ("cells", *cols)
    if cells_key not in cache:
        cache[cells_key] = combine_codes(row_codes_l, usizes)
    cell, present, rows_per_cell = cache[cells_key]
    del row_codes_l
    n_cells = len(present)
    cell_ucodes = split_radix(present, usizes)
    n_cell = rows_per_cell if all_active else np.bincount(cell[active], minlength=n_cells)
    tab = np.bincount(cell, weights=w0, minlength=n_cells)
    # 2. margins: level of each cell, collapsing and checks on the cell table
    cell_codes: list[np.ndarray] = []
    targets_l: list[np.ndarray] = []
    levels_l: list[list[Any]] = []
    collapsed: list[CollapsedCells] = []
    for col, uniq, ucodes in zip(cols, uniques_l, cell_ucodes, strict=True):
        m = as_margin(col, margins[col])
        lookup = positions(m.index, uniq)
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
            groups, recs = collapse_adjacent(col, levels, n_lev, min_cell)
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
    w = f.take(cell)
    w *= w0
    if not all_active:
        w[~active] = 0.0
    after = [np.bincount(cc, weights=tab * f, minlength=s) for cc, s in zip(cell_codes, sizes, strict=True)]
    n_by = [np.bincount(cc, weights=n_cell, minlength=s) for cc, s in zip(cell_codes, sizes, strict=True)]
    table = margin_table(cols, levels_l, targets_l, before, after, n_by)
    opts: list[tuple[str, Any]] = [("tol", tol)]
    if min_cell is not None:
        opts.append(("min_cell", min_cell))
    def final(wf: np.ndarray) -> np.ndarray:
        by_cell = np.bincount(cell, weights=wf, minlength=n_cells)
        return np.concatenate(
            [np.bincount(cc, weights=by_cell, minlength=s) for cc, s in zip(cell_codes, sizes, strict=True)]
        )

    record = WeightingStep(
        "rake", tuple(cols), tuple(opts), iterations, converged, rel, table, tuple(collapsed), final, again
    )
    cal = RakingStep(cell, tuple(cell_codes), tuple(sizes), w)
    return WeightedDesign._from(design, w, cal, record)


