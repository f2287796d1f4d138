"""Calibration records and the residualisation of scores (private).

A calibrated design remembers, for each weighting step, what it needs to replace the
per-unit scores by their calibration residuals before the design variance is computed
(Deville & Särndal 1992; Lumley 2010, ch. 7). Two kinds of record exist, as in R
``survey``'s ``svyrecvar``:

* :class:`GregStep` (post-stratification and ``calibrate``): with ``X`` the model matrix,
  ``w0`` the weights before and ``w`` after the step, and ``g = w / w0``, the score matrix
  ``Z`` becomes ``Z - w * (X B)`` with ``B = (X' diag(w0) X)^+ X' (Z / g)``; this is the
  residual of the regression of ``Z / w`` on ``X`` with weights ``w0 g^2`` rescaled back.
* :class:`RakingStep` (``rake``): ten sweeps of backfitting over the margins,
  ``Z <- Z - w * ave(Z / w | margin level)`` with unweighted level means, as R does.

Rows share a model row when they share a cell (the cross-classification of the weighting
variables), so every computation runs on the table of cells, not on the rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import sparse

RAKING_SWEEPS = 10  # R survey: svyrecvar backfits a raking step ten times


def _cell_sums(cell: np.ndarray, n_cells: int, x: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Per-cell column sums of ``x`` (times ``scale`` per row, if given).

    One sparse product (cells x rows indicator, holding ``scale``) for all columns: the sums
    run over each cell's rows in row order, as ``np.bincount`` does, and no rows x columns
    temporary is formed.
    """
    n = len(cell)
    ind = sparse.csr_matrix((np.ones(n) if scale is None else scale, (cell, np.arange(n))), shape=(n_cells, n))
    return np.asarray(ind @ x, dtype=float)


def _inverse(v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(v != 0, 1.0 / np.where(v != 0, v, 1.0), 0.0)


def _subtract_fit(z: np.ndarray, w: np.ndarray, fit: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``z - w * fit[cell]`` column by column (no n x q temporaries)."""
    out = np.array(z, dtype=float, copy=True, order="F")
    for j in range(out.shape[1]):
        out[:, j] -= w * fit[cell, j]
    return out


def _greg_fit(xcell: np.ndarray | None, sums: np.ndarray, w0: np.ndarray) -> np.ndarray:
    """Fitted cell values ``X B`` with ``B = (X' W0 X)^+ X' S`` (S: cell sums of Z / g).

    Solved as the least-squares problem ``sqrt(W0) X B = S / sqrt(W0)`` (orthogonal
    factorisation, as R's ``qr.resid``, not the normal equations). With cell indicators
    (post-stratification) the fit is ``S_c / W0_c``.
    """
    pos = w0 > 0
    if xcell is None:
        out = np.zeros_like(sums)
        out[pos] = sums[pos] / w0[pos, None]
        return out
    root = np.sqrt(w0[pos])
    b = np.linalg.lstsq(xcell[pos] * root[:, None], sums[pos] / root[:, None], rcond=None)[0]
    return np.asarray(xcell @ b)


@dataclass(frozen=True, eq=False)
class GregStep:
    """Linear calibration residuals (post-stratification is the indicator-model case)."""

    cell: np.ndarray  # (n,) cell of each row
    xcell: np.ndarray | None  # (n_cells, p) model row of each cell; None: cell indicators
    w_before: np.ndarray  # (n,)
    w_after: np.ndarray  # (n,)
    n_cells: int

    def residualise(self, z: np.ndarray) -> np.ndarray:
        n_cells = self.n_cells
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(self.w_before > 0, self.w_after / self.w_before, 1.0)
        s = _cell_sums(self.cell, n_cells, z, _inverse(g))  # (cells, q): sum of z / g
        w0 = np.bincount(self.cell, weights=self.w_before, minlength=n_cells)
        fit = _greg_fit(self.xcell, s, w0)  # (cells, q)
        return _subtract_fit(z, self.w_after, fit, self.cell)


@dataclass(frozen=True, eq=False)
class RakingStep:
    """Backfitted raking residuals (R ``svyrecvar`` on a ``raking`` record)."""

    cell: np.ndarray  # (n,) cell of each row (cross-classification of all margins)
    cell_codes: tuple[np.ndarray, ...]  # per margin: level code of each cell
    n_levels: tuple[int, ...]
    w_after: np.ndarray  # (n,)

    def residualise(self, z: np.ndarray) -> np.ndarray:
        n_cells = len(self.cell_codes[0])
        # rem[c] = sum over the rows of cell c of the current Z / w
        rem = _cell_sums(self.cell, n_cells, z, _inverse(self.w_after))
        return _subtract_fit(z, self.w_after, self.backfit(rem), self.cell)

    @functools.cached_property
    def _margins(self) -> tuple[np.ndarray, tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]]:
        """Rows per cell, and per margin: level codes of the cells, the levels x cells
        indicator and the rows per level (computed once per step)."""
        n_cells = len(self.cell_codes[0])
        n_cell = np.bincount(self.cell, minlength=n_cells).astype(float)
        margins = []
        for codes, n_lev in zip(self.cell_codes, self.n_levels, strict=True):
            indicator = np.zeros((n_lev, n_cells))
            indicator[codes, np.arange(n_cells)] = 1.0
            margins.append((codes, indicator, indicator @ n_cell))
        return n_cell, tuple(margins)

    def backfit(self, rem: np.ndarray) -> np.ndarray:
        """R's sweeps over the margins, on the cell sums ``rem`` (cells x q) of ``Z / w``:
        the per-cell total subtracted from ``Z / w`` per row (``rem`` is not changed)."""
        n_cell, margins = self._margins
        rem = np.array(rem, dtype=float, copy=True)
        shift = np.zeros_like(rem)
        for _ in range(RAKING_SWEEPS):
            for codes, indicator, n_l in margins:
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean_l = np.where(n_l[:, None] > 0, (indicator @ rem) / n_l[:, None], 0.0)
                shift += mean_l[codes]
                rem -= n_cell[:, None] * mean_l[codes]
        return shift


CalibrationStep = GregStep | RakingStep


def cell_shift(step: CalibrationStep, z: np.ndarray, dom: np.ndarray, n_dom: int) -> np.ndarray:
    """Per-cell fit ``S`` (cells x n_dom*k) with residuals ``e = Z - w * S[cell]``.

    ``Z`` is the domain-scattered score matrix (column ``d*k + a`` holds ``z[:, a]`` on the
    rows of domain ``d``), given compactly as ``z`` (n, k) and ``dom`` (-1: no domain).
    Only the cell sums of ``Z`` are needed, so ``Z`` is never built.
    """
    k = z.shape[1]
    q = n_dom * k
    inside = dom >= 0
    if isinstance(step, GregStep):
        n_cells = step.n_cells
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(step.w_before > 0, step.w_after / step.w_before, 1.0)
        scale = _inverse(g)
    else:
        n_cells = len(step.cell_codes[0])
        scale = _inverse(step.w_after)
    key = step.cell[inside] * n_dom + dom[inside]
    sums = np.empty((n_cells, n_dom, k))
    for a in range(k):
        sums[:, :, a] = np.bincount(key, weights=(z[:, a] * scale)[inside], minlength=n_cells * n_dom).reshape(
            n_cells, n_dom
        )
    sums2 = sums.reshape(n_cells, q)
    if isinstance(step, GregStep):
        w0 = np.bincount(step.cell, weights=step.w_before, minlength=n_cells)
        return _greg_fit(step.xcell, sums2, w0)
    return step.backfit(sums2)


def element_vcov(
    step: CalibrationStep,
    z: np.ndarray,
    dom: np.ndarray,
    n_dom: int,
    row_stratum: np.ndarray,
    n_strata: int,
    c_h: np.ndarray,
    n_h: np.ndarray,
) -> np.ndarray | None:
    """Stratified element-sample variance of the calibration residual totals.

    For designs whose units are the rows (one stage, no clusters), with ``e_i = Z_i -
    w_i S_c`` the residuals of row ``i`` in cell ``c``:
    ``V = sum_h c_h (sum_{i in h} e_i e_i' - t_h t_h' / n_h)``, ``t_h = sum_{i in h} e_i``.
    The sums of products expand into sums over (stratum, cell, domain) groups of ``z z'``,
    ``z w`` and ``w^2``, so no n x (domains x statistics) matrix is formed. Returns None
    when a variance is so small against the terms it is computed from that rounding could
    reach a relative 1e-8 of its standard error.
    """
    k = z.shape[1]
    q = n_dom * k
    shift = cell_shift(step, z, dom, n_dom)  # (C, q)
    n_cells = shift.shape[0]
    w = step.w_after
    inside = dom >= 0
    zi, hi, di, ci = z[inside], row_stratum[inside], dom[inside], step.cell[inside]
    wi = w[inside]
    # sum z_a z_b by (h, d): one cross-product per (stratum, domain) group of rows
    hd = hi * n_dom + di
    products = np.zeros((n_strata * n_dom, k, k))
    order = np.argsort(hd, kind="stable")
    bounds = np.searchsorted(hd[order], np.arange(n_strata * n_dom + 1))
    for g in np.flatnonzero(np.diff(bounds)):
        block = zi[order[bounds[g] : bounds[g + 1]]]
        products[g] = block.T @ block
    zz = products.reshape(n_strata, n_dom, k, k)
    # sum z_a by (h, d) and sum z_a w by (h, c, d)
    zt = np.empty((n_strata, n_dom, k))
    hcd = (hi * n_cells + ci) * n_dom + di
    zw = np.empty((n_strata, n_cells, n_dom, k))
    for a in range(k):
        zt[:, :, a] = np.bincount(hd, weights=zi[:, a], minlength=n_strata * n_dom).reshape(n_strata, n_dom)
        zw[:, :, :, a] = np.bincount(hcd, weights=zi[:, a] * wi, minlength=n_strata * n_cells * n_dom).reshape(
            n_strata, n_cells, n_dom
        )
    hc = row_stratum * n_cells + step.cell
    w1 = np.bincount(hc, weights=w, minlength=n_strata * n_cells).reshape(n_strata, n_cells)
    w2 = np.bincount(hc, weights=w * w, minlength=n_strata * n_cells).reshape(n_strata, n_cells)
    v = np.zeros((q, q))
    size = np.zeros(q)  # magnitude of the summed terms of each variance (rounding bound)
    for h in range(n_strata):
        if c_h[h] == 0:
            continue
        sq = np.zeros((q, q))
        for d in range(n_dom):
            sq[d * k : (d + 1) * k, d * k : (d + 1) * k] = zz[h, d]
        cross = zw[h].reshape(n_cells, q).T @ shift  # (q, q): sum_i Z_i w_i S_c'
        ss = shift.T @ (shift * w2[h][:, None])
        t = zt[h].reshape(q) - w1[h] @ shift
        tt = np.outer(t, t) / n_h[h]
        v += c_h[h] * (sq - cross - cross.T + ss - tt)
        size += c_h[h] * (np.diag(sq) + 2 * np.abs(np.diag(cross)) + np.diag(ss) + np.diag(tt))
    # the expansion subtracts large sums; where they cancel to (near) zero variance, e.g.
    # the total of a calibration variable, it cannot be trusted: the caller falls back to
    # the residuals row by row
    if np.any(np.diag(v) < 1e-7 * size):
        return None
    return v


def residualise(steps: tuple[CalibrationStep, ...], z: np.ndarray) -> np.ndarray:
    """Apply the steps' residualisation in the order the weights were calibrated."""
    for st in steps:
        z = st.residualise(z)
    return z
