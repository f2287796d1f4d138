"""Taylor-linearisation variance engine for multistage stratified designs (private).

The estimator of the variance of a vector of estimated totals ``t = sum_i z_i`` (``z_i``
being weighted scores / influence values) is the recursive multistage estimator of
Lumley (2010, sec. 2.2 and appendix C), the default of R ``survey::svyrecvar``:

    V = sum_h s_h * sum_{g in h} (T_g - Tbar_h)(T_g - Tbar_h)'            (first stage)
      + sum_g (n_h / N_h) * [the same expression one stage down inside g]  (later stages)

with ``T_g`` the total of the scores in unit ``g``, ``n_h`` the number of sampled units in
stratum ``h``, ``N_h`` its population size (``inf`` without fpc),
``s_h = (1 - n_h/N_h) * n_h / (n_h - 1)``. Later stages are only added when an fpc is
given (with replacement at the first stage they are absorbed into the first-stage term).

Everything is vectorised: unit totals are grouped sums (``np.bincount``), stratum means a
sparse indicator product; no Python loop runs over rows, units or strata.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from kyodo_analysis.errors import EstimationError

LONELY_OPTIONS = ("fail", "certainty", "remove", "adjust", "average")


@dataclass(frozen=True)
class Stage:
    """One sampling stage: units, their strata and the stratum sample/population sizes."""

    unit: np.ndarray  # (n,) int code of the stage unit of every row (globally unique)
    n_units: int
    unit_stratum: np.ndarray  # (n_units,) stratum code of each unit
    n_strata: int
    stratum_labels: tuple[object, ...]  # printable label of each stratum (for error messages)
    n_sampled: np.ndarray  # (n_strata,) number of sampled units (R's sampsize)
    popsize: np.ndarray  # (n_strata,) population size (inf: with replacement)
    stratum_parent: np.ndarray  # (n_strata,) unit code one stage up (all 0 at stage 1)
    unit_parent: np.ndarray  # (n_units,) unit code one stage up (all 0 at stage 1)

    @functools.cached_property
    def stratum_indicator(self) -> sparse.csr_matrix:
        """(strata x units) indicator of each unit's stratum (built once per stage)."""
        return _indicator(self.unit_stratum, self.n_strata)


def factorize_columns(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Integer codes of the interaction of several columns (NaN is a level of its own)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64)
    if len(columns) == 1:
        col = frame[columns[0]]
        if pd.api.types.is_integer_dtype(col.dtype) and not isinstance(
            col.dtype, pd.CategoricalDtype
        ):
            v = col.to_numpy(dtype=np.int64)
            lo, hi = (int(v.min()), int(v.max())) if len(v) else (0, 0)
            if hi - lo <= 4 * len(v) + 1024:
                # dense integer labels: an O(n) remap without hashing (codes in sorted order)
                present = np.bincount(v - lo, minlength=hi - lo + 1) > 0
                remap = np.cumsum(present) - 1
                return np.asarray(remap[v - lo].astype(np.int64))
        return np.asarray(pd.factorize(col, use_na_sentinel=False)[0].astype(np.int64))
    codes = np.zeros(len(frame), dtype=np.int64)
    for col in columns:
        c, uniques = pd.factorize(frame[col], use_na_sentinel=False)
        codes = codes * (len(uniques) + 1) + c.astype(np.int64)
        codes = pd.factorize(codes)[0].astype(np.int64)
    return codes


def combine_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Codes of the interaction of two integer code vectors (order of first appearance)."""
    nb = int(b.max()) + 1 if len(b) else 1
    return np.asarray(pd.factorize(a.astype(np.int64) * nb + b.astype(np.int64))[0].astype(np.int64))


def first_by_group(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Value of ``values`` at one row of each group (the last one; callers only use this
    for quantities that are constant within groups, or check that they are)."""
    out = np.empty(n_groups, dtype=values.dtype)
    out[codes] = values
    return out


def build_stages(
    frame: pd.DataFrame,
    psu: list[str],
    strata: list[str],
    fpc: list[str],
    nest: bool,
) -> list[Stage]:
    """Translate column names into :class:`Stage` objects, following R ``svydesign``.

    Stage ``k > 1`` units are nested in the stage ``k-1`` units; stage ``k > 1`` strata are
    the interaction of the stage-``k`` strata column (or the last one given) with the
    stage ``k-1`` unit; fpc values all <= 1 are sampling fractions, otherwise population
    sizes.
    """
    n = len(frame)
    n_stages = max(len(psu), 1)
    if len(fpc) > n_stages:
        raise EstimationError(
            f"fpc has {len(fpc)} columns but the design has {n_stages} stage(s) of units"
        )
    ids: list[np.ndarray] = []
    for k in range(n_stages):
        if psu:
            code = factorize_columns(frame, [psu[k]])
        else:
            code = np.arange(n, dtype=np.int64)
        if k > 0:
            code = combine_codes(ids[k - 1], code)
        ids.append(code)
    strata_codes: list[np.ndarray] = []
    if strata:
        for k in range(n_stages):
            strata_codes.append(factorize_columns(frame, [strata[min(k, len(strata) - 1)]]))
    else:
        strata_codes = [np.zeros(n, dtype=np.int64) for _ in range(n_stages)]
    if nest and strata:
        for k in range(n_stages):
            # R: ids[, i] <- interaction(strata[, 1:min(i, NS)], ids[, i])
            s = strata_codes[0]
            for j in range(1, min(k + 1, len(strata))):
                s = combine_codes(s, strata_codes[j])
            ids[k] = combine_codes(s, ids[k])
    if strata and not nest and psu:
        # every first-stage unit must lie in exactly one stratum (R: check.strata); rows
        # as units (no psu) lie in one stratum each by construction
        first = first_by_group(ids[0], strata_codes[0], int(ids[0].max()) + 1)
        clash = first[ids[0]] != strata_codes[0]
        if clash.any():
            row = int(np.flatnonzero(clash)[0])
            label = frame[psu[0]].iloc[row] if psu else row
            raise EstimationError(
                f"PSU {label!r} of column {psu[0] if psu else '(rows)'!r} appears in more than "
                "one stratum; PSU labels are reused across strata: pass nest=True"
            )
    fpc_values: list[np.ndarray] = []
    for col in fpc:
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        if np.isnan(v).any():
            raise EstimationError(f"fpc column {col!r} has {int(np.isnan(v).sum())} missing values")
        fpc_values.append(v)
    if fpc_values:
        allv = np.concatenate(fpc_values)
        is_popsize = bool((allv > 1).any())
        if is_popsize and not (allv >= 1).all():
            raise EstimationError("fpc must be all population sizes (>= 1) or all fractions (<= 1)")
    stages: list[Stage] = []
    for k in range(n_stages):
        unit = ids[k]  # dense codes 0..G-1 already
        n_units = int(unit.max()) + 1
        if k == 0:
            parent_unit_row = np.zeros(n, dtype=np.int64)
            s_row = strata_codes[0]
        else:
            parent_unit_row = stages[k - 1].unit
            s_row = combine_codes(strata_codes[k], parent_unit_row)
        n_strata = int(s_row.max()) + 1
        unit_stratum = first_by_group(unit, s_row, n_units)
        # a unit in two strata at the same stage is a nesting error (rows as units: none)
        if psu and (unit_stratum[unit] != s_row).any():
            raise EstimationError(f"stage {k + 1} units are not nested in strata; pass nest=True")
        n_sampled = np.bincount(unit_stratum, minlength=n_strata).astype(float)
        if k < len(fpc_values):
            per_row = fpc_values[k]
            first = first_by_group(s_row, per_row, n_strata)
            if not np.allclose(per_row, first[s_row], rtol=0, atol=0):
                col = fpc[k]
                raise EstimationError(
                    f"fpc column {col!r} varies within a stratum at stage {k + 1}"
                )
            popsize = first.copy() if is_popsize else n_sampled / first
            if (popsize < n_sampled - 1e-9).any():
                raise EstimationError(
                    f"fpc column {fpc[k]!r} implies more than 100% sampling in some stratum"
                )
        else:
            popsize = np.full(n_strata, np.inf)
        if k == 0 and strata:
            lab_rows = first_by_group(s_row, np.arange(n), n_strata)
            labels = tuple(frame[strata[0]].take(lab_rows).tolist())
        elif k == 0:
            labels = ("(unstratified)",) * n_strata
        else:
            # e.g. "E, dnum=152": the stage-k stratum label and the enclosing units
            lab_rows = first_by_group(s_row, np.arange(n), n_strata)
            parts = []
            if strata:
                parts.append(
                    frame[strata[min(k, len(strata) - 1)]].take(lab_rows).to_numpy().astype(str)
                )
            for j in range(k):
                vals = frame[psu[j]].take(lab_rows).to_numpy().astype(str)
                parts.append(np.char.add(f"{psu[j]}=", vals))
            joined = parts[0]
            for extra in parts[1:]:
                joined = np.char.add(np.char.add(joined, ", "), extra)
            labels = tuple(joined.tolist())
        stratum_parent = first_by_group(s_row, parent_unit_row, n_strata)
        unit_parent = first_by_group(unit, parent_unit_row, n_units)
        stages.append(
            Stage(
                unit=unit,
                n_units=n_units,
                unit_stratum=unit_stratum,
                n_strata=n_strata,
                stratum_labels=labels,
                n_sampled=n_sampled,
                popsize=popsize,
                stratum_parent=stratum_parent,
                unit_parent=unit_parent,
            )
        )
    return stages


def grouped_totals(
    codes: np.ndarray, n_groups: int, x: np.ndarray, dom: np.ndarray | None, n_dom: int
) -> np.ndarray:
    """Totals of the columns of ``x`` by group and domain: array ``(n_groups, n_dom * p)``.

    Column ``d * p + j`` holds the totals of ``x[:, j]`` over the rows of domain ``d``;
    rows with ``dom == -1`` are ignored.
    """
    p = x.shape[1]
    if dom is None or (n_dom == 1 and (dom >= 0).all()):
        out = np.empty((n_groups, p))
        for j in range(p):
            out[:, j] = np.bincount(codes, weights=x[:, j], minlength=n_groups)
        return out
    if dom.min(initial=0) < 0:
        keep = dom >= 0
        key = codes[keep] * n_dom + dom[keep]
        xk = x[keep]
    else:
        key = codes * n_dom + dom
        xk = x
    out = np.empty((n_groups, n_dom, p))
    for j in range(p):
        out[:, :, j] = np.bincount(key, weights=xk[:, j], minlength=n_groups * n_dom).reshape(
            n_groups, n_dom
        )
    return out.reshape(n_groups, n_dom * p)


def _indicator(codes: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    m = len(codes)
    return sparse.csr_matrix((np.ones(m), (codes, np.arange(m))), shape=(n_groups, m))


def stages_used(stages: list[Stage]) -> int:
    """Number of stages entering the variance: all of them when the first stage has an fpc
    (R ``multistage``), otherwise only the first (ultimate cluster, with replacement)."""
    if len(stages) > 1 and np.isfinite(stages[0].popsize).any():
        return len(stages)
    return 1


def multistage_vcov(
    stages: list[Stage],
    x: np.ndarray,
    dom: np.ndarray | None = None,
    n_dom: int = 1,
    *,
    lonely_psu: str = "fail",
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance matrix of the estimated totals of row-level score columns.

    Parameters
    ----------
    stages : list of Stage
        The design stages.
    x : ndarray, shape (n, p)
        Weighted scores (already multiplied by the sampling weights).
    dom, n_dom : domain code of each row (``-1``: no domain) and the number of domains;
        the result has ``n_dom * p`` columns ordered domain-major.
    lonely_psu : str
        Treatment of strata with a single sampled unit, as R ``survey.lonely.psu``.
    active : ndarray of bool, optional
        Rows taking part in the estimate (non-zero weight, in a domain); used only to decide
        whether a lonely stratum is actually met (R drops the other rows before checking).
    """
    if x.ndim == 1:
        x = x[:, None]
    last = stages[stages_used(stages) - 1]
    t_last = grouped_totals(last.unit, last.n_units, x, dom, n_dom)
    if active is None:
        met = np.ones(last.n_units, dtype=bool)
    else:
        met = np.bincount(last.unit[active], minlength=last.n_units) > 0
    return unit_vcov(stages, t_last, met, lonely_psu=lonely_psu)


def unit_vcov(
    stages: list[Stage],
    t_last: np.ndarray,
    met_last: np.ndarray,
    *,
    lonely_psu: str = "fail",
) -> np.ndarray:
    """Multistage covariance from score totals of the units of the last stage used.

    Parameters
    ----------
    stages : list of Stage
    t_last : ndarray, shape (G, q)
        Score totals of each unit of stage ``stages_used(stages)``.
    met_last : ndarray of bool, shape (G,)
        Units with at least one row taking part (decides which lonely strata are met).
    lonely_psu : str
        As R ``survey.lonely.psu``.
    """
    n_use = stages_used(stages)
    q = t_last.shape[1]
    totals: list[np.ndarray] = [np.empty(0)] * n_use
    met_units: list[np.ndarray] = [np.empty(0, dtype=bool)] * n_use
    totals[n_use - 1] = t_last
    met_units[n_use - 1] = met_last
    for k in range(n_use - 2, -1, -1):
        child = stages[k + 1]
        ind = _indicator(child.unit_parent, stages[k].n_units)
        totals[k] = ind @ totals[k + 1]
        met_units[k] = (ind @ met_units[k + 1].astype(float)) > 0
    v = np.zeros((q, q))
    # multiplier of each stage-k stratum: product of n_h/N_h of its ancestors' strata
    mult_unit_prev = np.ones(1)  # per unit of the previous stage
    for k in range(n_use):
        st = stages[k]
        t = totals[k]
        parent_met = np.array([met_units[0].any()]) if k == 0 else met_units[k - 1]
        mult_h = mult_unit_prev[st.stratum_parent] if k > 0 else np.ones(st.n_strata)
        sw = stratum_weights(st, k, met_units[k], parent_met, mult_h, lonely_psu)
        if sw is None:
            return np.full((q, q), np.nan)
        c_h, uncentred = sw
        centre = (st.stratum_indicator @ t) / st.n_sampled[:, None]
        centre[uncentred] = 0.0
        dev = t - centre[st.unit_stratum]
        c_g = c_h[st.unit_stratum]
        v += dev.T @ (dev * c_g[:, None])
        if k + 1 < n_use:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio_h = np.where(np.isinf(st.popsize), 0.0, st.n_sampled / st.popsize)
            mult_unit_prev = mult_h[st.unit_stratum] * ratio_h[st.unit_stratum]
    return v


def stratum_weights(
    st: Stage,
    k: int,
    met_units: np.ndarray,
    parent_met: np.ndarray,
    mult_h: np.ndarray,
    lonely_psu: str,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-stratum multiplier ``c_h`` of the centred cross-products at stage ``k`` and the
    strata whose units are not centred (R ``adjust`` for lonely PSUs).

    ``c_h = (1 - f_h) n_h / (n_h - 1) * mult_h`` (``f_h`` for a single unit), zero for
    self-representing strata; lonely strata follow ``lonely_psu``. Returns ``None`` when
    R's ``average`` rule yields NaN (a unit whose strata are all lonely).
    """
    n_h = st.n_sampled
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(np.isinf(st.popsize), 1.0, (st.popsize - n_h) / st.popsize)
        scale = np.where(n_h > 1, f * n_h / np.maximum(n_h - 1, 1), f)
    selfrep = f < 1e-7
    lonely = (n_h == 1) & ~selfrep
    if lonely.any():
        met = np.bincount(st.unit_stratum, weights=met_units, minlength=st.n_strata) > 0
        lonely_met = lonely & met
        if lonely_psu == "fail" and lonely_met.any():
            h = int(np.flatnonzero(lonely_met)[0])
            raise EstimationError(
                f"Stratum {st.stratum_labels[h]!r} has only one PSU at stage {k + 1} "
                "(lonely PSU); choose lonely_psu='certainty', 'remove', 'adjust' or 'average'"
            )
    c_h = np.where(selfrep, 0.0, scale) * mult_h
    uncentred = lonely if lonely_psu == "adjust" else np.zeros(st.n_strata, dtype=bool)
    if lonely_psu == "average" and lonely.any():
        # R: sum over the non-lonely strata, scaled by nstrat / nokstrat (per parent unit)
        n_par = int(st.stratum_parent.max()) + 1
        nstrat = np.bincount(st.stratum_parent, minlength=n_par)
        nok = np.bincount(st.stratum_parent, weights=(~lonely).astype(float), minlength=n_par)
        with np.errstate(divide="ignore", invalid="ignore"):
            fac = nstrat / nok
        # R: a unit whose strata are all lonely gives 0 * n/0 = NaN, and so does V
        if ((nok == 0) & (nstrat > 0) & parent_met[:n_par]).any():
            return None
        c_h = np.where(lonely, 0.0, c_h * fac[st.stratum_parent])
    elif lonely_psu in ("certainty", "remove"):
        c_h = np.where(lonely, 0.0, c_h)
    return c_h, uncentred


def df_from_presence(stages: list[Stage], present: np.ndarray) -> np.ndarray:
    """R ``degf`` per domain from a (first-stage units x domains) presence matrix."""
    st = stages[0]
    pres = present > 0
    n_psu = pres.sum(axis=0)
    s_count = st.stratum_indicator @ pres.astype(float)
    n_str = (np.asarray(s_count) > 0).sum(axis=0)
    return np.asarray((n_psu - n_str).astype(float))


def design_df(
    stages: list[Stage], active: np.ndarray, dom: np.ndarray | None = None, n_dom: int = 1
) -> np.ndarray:
    """R ``degf``: first-stage units minus strata among the active rows, per domain."""
    st = stages[0]
    if dom is None:
        dom = np.zeros(len(active), dtype=np.int64)
    keep = active & (dom >= 0)
    if keep.all():
        key = st.unit * n_dom + dom
    else:
        key = st.unit[keep] * n_dom + dom[keep]
    u_present = np.bincount(key, minlength=st.n_units * n_dom).reshape(st.n_units, n_dom) > 0
    n_psu = u_present.sum(axis=0)
    # strata present: any present unit of the stratum
    s_count = st.stratum_indicator @ u_present.astype(float)
    n_str = (np.asarray(s_count) > 0).sum(axis=0)
    return np.asarray((n_psu - n_str).astype(float))
