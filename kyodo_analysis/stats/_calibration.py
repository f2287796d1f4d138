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

from dataclasses import dataclass

import numpy as np

RAKING_SWEEPS = 10  # R survey: svyrecvar backfits a raking step ten times


def _cell_sums(
    cell: np.ndarray, n_cells: int, x: np.ndarray, scale: np.ndarray | None = None
) -> np.ndarray:
    """Per-cell column sums of ``x`` (times ``scale`` per row, if given)."""
    out = np.empty((n_cells, x.shape[1]))
    for j in range(x.shape[1]):
        col = x[:, j] if scale is None else x[:, j] * scale
        out[:, j] = np.bincount(cell, weights=col, minlength=n_cells)
    return out


def _inverse(v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(v != 0, 1.0 / np.where(v != 0, v, 1.0), 0.0)


def _subtract_fit(z: np.ndarray, w: np.ndarray, fit: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``z - w * fit[cell]`` column by column (no n x q temporaries)."""
    out = np.array(z, dtype=float, copy=True, order="F")
    for j in range(out.shape[1]):
        out[:, j] -= w * fit[cell, j]
    return out


@dataclass(frozen=True, eq=False)
class GregStep:
    """Linear calibration residuals (post-stratification is the indicator-model case)."""

    cell: np.ndarray  # (n,) cell of each row
    xcell: np.ndarray  # (n_cells, p) model row of each cell
    w_before: np.ndarray  # (n,)
    w_after: np.ndarray  # (n,)

    def residualise(self, z: np.ndarray) -> np.ndarray:
        n_cells = self.xcell.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(self.w_before > 0, self.w_after / self.w_before, 1.0)
        s = _cell_sums(self.cell, n_cells, z, _inverse(g))  # (cells, q): sum of z / g
        w0 = np.bincount(self.cell, weights=self.w_before, minlength=n_cells)
        # B = (X' W0 X)^+ X' S as the least-squares solution of sqrt(W0) X B = S / sqrt(W0)
        # (orthogonal factorisation, as R's qr.resid, rather than the normal equations)
        pos = w0 > 0
        root = np.sqrt(w0[pos])
        b = np.linalg.lstsq(self.xcell[pos] * root[:, None], s[pos] / root[:, None], rcond=None)[0]
        fit = self.xcell @ b  # (cells, q)
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
        n_cell = np.bincount(self.cell, minlength=n_cells).astype(float)
        shift = np.zeros_like(rem)  # per cell, the total subtracted from Z / w per row
        for _ in range(RAKING_SWEEPS):
            for codes, n_lev in zip(self.cell_codes, self.n_levels, strict=True):
                n_l = np.bincount(codes, weights=n_cell, minlength=n_lev)
                tot = _cell_sums(codes, n_lev, rem)
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean_l = np.where(n_l[:, None] > 0, tot / n_l[:, None], 0.0)
                shift += mean_l[codes]
                rem -= n_cell[:, None] * mean_l[codes]
        return _subtract_fit(z, self.w_after, shift, self.cell)


CalibrationStep = GregStep | RakingStep


def residualise(steps: tuple[CalibrationStep, ...], z: np.ndarray) -> np.ndarray:
    """Apply the steps' residualisation in the order the weights were calibrated."""
    for st in steps:
        z = st.residualise(z)
    return z
