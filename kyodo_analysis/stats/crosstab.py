"""Design-based two-way tables and tests of independence (R ``svychisq``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats import _dist

if TYPE_CHECKING:
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["CrosstabResult", "crosstab"]


@dataclass(frozen=True)
class CrosstabResult:
    """Weighted two-way table and the test of independence.

    Attributes
    ----------
    table : pandas.DataFrame
        Estimated population counts (weighted totals), rows x columns.
    proportions : pandas.DataFrame
        Cell proportions of the total.
    test : pandas.DataFrame
        One row: ``statistic``, ``ndf``, ``ddf`` (``df`` for ``"Chisq"``), ``p_value``,
        ``method``.
    """

    table: pd.DataFrame
    proportions: pd.DataFrame
    test: pd.DataFrame


def _factor(design: _BaseDesign, col: str) -> tuple[np.ndarray, list[object]]:
    """Codes of ``col`` over the levels present among rows with non-zero weight (R drops
    the other rows of a subset before tabulating); other rows get ``-1``."""
    if col not in design.data.columns:
        raise EstimationError(f"column {col!r} not in the data")
    s = design.data[col]
    active, _ = design._nonzero_weights()
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = sorted(pd.unique(s[active & s.notna().to_numpy()]))
        codes = pd.Categorical(s, categories=levels).codes.astype(np.int64)
        return codes, list(levels)
    # the design's cached codes (sorted distinct values), restricted to the active rows
    all_codes, uniques = design._column_codes(col)
    seen = np.bincount(all_codes[active & (all_codes >= 0)], minlength=len(uniques)) > 0
    remap = np.append(np.where(seen, np.cumsum(seen) - 1, -1), -1)  # code -1 (missing) -> -1
    return remap[all_codes], list(np.asarray(uniques)[seen])


def crosstab(
    design: _BaseDesign,
    row: str,
    col: str,
    *,
    statistic: Literal["F", "Chisq", "Wald", "adjWald"] = "F",
) -> CrosstabResult:
    r"""Weighted table of ``row`` by ``col`` with a design-based test of independence.

    * ``"F"``: Rao & Scott (1984) second-order correction: ``F = X^2 / tr(Delta)`` on
      ``d0 = tr(Delta)^2 / tr(Delta^2)`` and ``d0 * nu`` degrees of freedom (non-integer),
      ``X^2`` the Pearson statistic of the weighted table rescaled to the sample size,
      ``Delta`` the generalised design effect matrix of the interaction contrasts and
      ``nu`` the design degrees of freedom (first-stage units minus strata). As R
      ``svychisq(statistic="F")``.
    * ``"Chisq"``: first-order correction: ``X^2 / mean(diag(Delta))`` referred to
      chi-square on ``(r-1)(c-1)`` df; the reported ``statistic`` is ``X^2`` as in R.
    * ``"Wald"`` / ``"adjWald"``: Wald test of the ``(r-1)(c-1)`` interaction residuals of
      the estimated totals (Koch et al. 1975), ``F = W / ((r-1)(c-1))`` on ``nu`` df, or the
      adjusted ``W (nu - k + 1) / (k nu)`` on ``(k, nu - k + 1)`` df.

    Rows with a missing ``row`` or ``col`` are excluded domain-style.

    Returns
    -------
    CrosstabResult
    """
    if statistic not in ("F", "Chisq", "Wald", "adjWald"):
        raise EstimationError(f"unknown statistic {statistic!r}")
    design._prefetch_codes([row, col])
    rc, rlev = _factor(design, row)
    cc, clev = _factor(design, col)
    nr, nc = len(rlev), len(clev)
    if nr < 2 or nc < 2:
        raise EstimationError(f"crosstab needs at least two levels in {row!r} and {col!r}")
    drop = (rc < 0) | (cc < 0)
    cell = np.where(drop, -1, rc + nr * cc)  # R interaction(): first factor fastest
    mm = (cell[:, None] == np.arange(nr * nc)[None, :]).astype(float)
    mm[drop] = np.nan
    # R: nu = PSUs - strata of the design (rows outside a subset are not in it) and the
    # Pearson statistic uses the table rescaled to the number of rows in the design
    nu = design.degf()
    n = int(design._nonzero_weights()[0].sum())
    totals_est, _ = design._linear_cov(mm, drop, "total")
    tab = totals_est.reshape(nc, nr).T
    table = pd.DataFrame(tab, index=pd.Index(rlev, name=row), columns=pd.Index(clev, name=col))
    props = table / tab.sum()
    # Pearson X^2 on the table rescaled to the number of rows (R: svytable(Ntotal = N))
    scaled = tab * n / tab.sum()
    expct = np.outer(scaled.sum(axis=1), scaled.sum(axis=0)) / scaled.sum()
    x2 = float(np.sum((scaled - expct) ** 2 / expct))
    k = (nr - 1) * (nc - 1)
    if statistic in ("F", "Chisq"):
        p_hat, v = design._linear_cov(mm, drop, "mean")
        mf_r = np.tile(np.arange(nr), nc)
        mf_c = np.repeat(np.arange(nc), nr)
        x1 = np.column_stack(
            [np.ones(nr * nc)]
            + [(mf_r == i).astype(float) for i in range(1, nr)]
            + [(mf_c == j).astype(float) for j in range(1, nc)]
        )
        x12 = np.column_stack(
            [((mf_r == i) & (mf_c == j)).astype(float) for j in range(1, nc) for i in range(1, nr)]
        )
        q, _ = np.linalg.qr(x1)
        cmat = x12 - q @ (q.T @ x12)
        idiag = np.where(p_hat == 0, 0.0, 1.0 / np.where(p_hat == 0, 1.0, p_hat))
        denom = cmat.T @ (idiag[:, None] / n * cmat)
        numr = cmat.T @ (idiag[:, None] * v * idiag[None, :]) @ cmat
        delta = np.linalg.solve(denom, numr)
        tr = float(np.trace(delta))
        d0 = tr**2 / float(np.trace(delta @ delta))
        if statistic == "F":
            f = x2 / tr
            test = {
                "statistic": f,
                "ndf": d0,
                "ddf": d0 * nu,
                "p_value": float(_dist.f_sf(f, d0, d0 * nu)),
                "method": "Pearson's X^2: Rao & Scott adjustment (F)",
            }
        else:
            test = {
                "statistic": x2,
                "df": float(k),
                "p_value": float(_dist.chi2_sf(x2 / np.mean(np.diag(delta)), k)),
                "method": "Pearson's X^2: Rao & Scott adjustment (first order)",
            }
    else:
        ones = np.ones((len(rc), 1))
        rmat = (rc[:, None] == np.arange(nr)[None, :]).astype(float)
        cmat_ = (cc[:, None] == np.arange(nc)[None, :]).astype(float)
        allx = np.column_stack([mm, rmat, cmat_, ones])
        allx[drop] = np.nan
        cells, vcells = design._linear_cov(allx, drop, "total")
        tot = cells[-1]
        rt = cells[nr * nc : nr * nc + nr]
        ct = cells[nr * nc + nr : nr * nc + nr + nc]
        mf_r = np.tile(np.arange(nr), nc)
        mf_c = np.repeat(np.arange(nc), nr)
        jr = -(mf_r[:, None] == np.arange(nr)[None, :]).astype(float) * (ct[mf_c] / tot)[:, None]
        jc = -(mf_c[:, None] == np.arange(nc)[None, :]).astype(float) * (rt[mf_r] / tot)[:, None]
        jt = (rt[mf_r] * ct[mf_c] / tot**2)[:, None]
        jcb = np.column_stack([np.eye(nr * nc), jr, jc, jt])
        y = cells[: nr * nc] - rt[mf_r] * ct[mf_c] / tot
        vv = jcb @ vcells @ jcb.T
        use = (mf_r > 0) & (mf_c > 0)
        w = float(y[use] @ np.linalg.solve(vv[np.ix_(use, use)], y[use]))
        if statistic == "Wald":
            stat, ndf, ddf = w / k, float(k), nu
        else:
            ndf = float(k)
            ddf = nu - ndf + 1
            stat = w * ddf / (ndf * nu)
        test = {
            "statistic": stat,
            "ndf": ndf,
            "ddf": ddf,
            "p_value": float(_dist.f_sf(stat, ndf, ddf)),
            "method": "Design-based Wald test of association"
            + (" (adjusted)" if statistic == "adjWald" else ""),
        }
    return CrosstabResult(table=table, proportions=props, test=pd.DataFrame([test]))
