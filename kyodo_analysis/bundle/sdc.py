"""Statistical disclosure control of microdata: k-anonymity, l-diversity, individual risk,
global recoding and local suppression, computed as R ``sdcMicro`` defines them (own code).

Key variables (quasi-identifiers) are categorical codes. A missing key value (``NA``) is a
*wildcard*: it matches every value of that key, as in sdcMicro's ``freqCalc`` after local
suppression. The sample frequency of record *i* is therefore

    f_i = #{ j : for every key v, x_iv == x_jv or x_iv is NA or x_jv is NA }

and its estimated population frequency ``F_i`` is the sum of the design weights of the same
records. A record violates k-anonymity when ``f_i < k``.

Local suppression (sdcMicro ``localSuppression`` with an importance vector) sets key values of
violating records to ``NA``, least important key first, until ``f_i >= k``; keys marked as
protected (design variables the survey weights depend on) are never suppressed. Global
recoding (``globalRecode``) merges categories of a key before suppression.

Individual risk follows Benedetti & Franconi (1998) as used by sdcMicro ``indivRisk``: with
``p = f/F``, ``r = p/(1-p) log(1/p)`` for ``f = 1``, ``r = p/(1-p)^2 (p log p + 1 - p)`` for
``f = 2`` and the approximation ``r = p/(f - (1-p))`` for ``f >= 3``; ``r = 1/f`` when
``F = f`` (the sample is the population of that key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "SuppressionResult",
    "global_recode",
    "individual_risk",
    "key_frequencies",
    "l_diversity",
    "local_suppression",
]

def _key_matrix(data: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """Keys as a float matrix with NaN for missing (wildcards)."""
    cols = []
    for k in keys:
        col = pd.to_numeric(data[k], errors="coerce").astype("Float64")
        cols.append(col.to_numpy(dtype=float, na_value=np.nan))
    return np.column_stack(cols) if cols else np.empty((len(data), 0))


def _dense(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered 0..m-1 (same order), and m."""
    values, inverse = np.unique(codes, return_inverse=True)
    return inverse.reshape(-1), len(values)


def _match_counts(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f, F): per row, the number (and weight sum) of rows matching it with NA wildcards.

    Grouped by key, not compared pair by pair: rows are split by their pattern of missing
    keys (few patterns); a row ``i`` of pattern ``a`` matches a row ``j`` of pattern ``b``
    exactly when they agree on the keys both have, so for each pair of patterns the rows of
    ``b`` are counted per value of those keys and the counts looked up for the rows of ``a``.
    Without missing keys this is one group-by over the key.
    """
    n, v = x.shape
    f = np.zeros(n)
    big_f = np.zeros(n)
    if n == 0:
        return f, big_f
    na = np.isnan(x)
    ranks = np.zeros((n, v), dtype=np.int64)
    sizes = []
    for c in range(v):
        ok = ~na[:, c]
        m = 1
        if ok.any():
            ranks[ok, c], m = _dense(x[ok, c])
        sizes.append(m)
    patterns, which = np.unique(na, axis=0, return_inverse=True)
    which = which.reshape(-1)
    members = [np.flatnonzero(which == p) for p in range(len(patterns))]
    for a, rows_a in enumerate(members):
        for b, rows_b in enumerate(members):
            rows = np.concatenate([rows_a, rows_b])
            code, size = np.zeros(len(rows), dtype=np.int64), 1
            for c in np.flatnonzero(~patterns[a] & ~patterns[b]):  # the keys both rows have
                code, size = code * sizes[c] + ranks[rows, c], size * sizes[c]
                if size > 4 * n:  # keep the combined code small: renumber the combinations
                    code, size = _dense(code)
            code_a, code_b = code[:len(rows_a)], code[len(rows_a):]
            f[rows_a] += np.bincount(code_b, minlength=size)[code_a]
            big_f[rows_a] += np.bincount(code_b, weights=weights[rows_b], minlength=size)[code_a]
    return f, big_f


def key_frequencies(data: pd.DataFrame, keys: Sequence[str],
                    weights: Sequence[float] | None = None) -> pd.DataFrame:
    """Per record: ``fk`` (sample frequency of its key) and ``Fk`` (weighted), with NA as
    wildcard; sdcMicro ``freqCalc(..., keyVars, w)`` ``fk``/``Fk``."""
    w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float)
    f, big_f = _match_counts(_key_matrix(data, keys), w)
    return pd.DataFrame({"fk": f.astype(int), "Fk": big_f}, index=data.index)


def individual_risk(fk: Sequence[float], Fk: Sequence[float]) -> np.ndarray:
    """Individual re-identification risk of each record (see the module docstring)."""
    f, big_f = np.asarray(fk, float), np.asarray(Fk, float)
    out = 1.0 / np.where(f > 0, f, 1.0)  # F <= f: the sample holds the key's population
    est = (big_f > f) & (f > 0)
    p, fe = f[est] / big_f[est], f[est]  # 0 < p < 1
    r = np.where(fe == 1, p / (1 - p) * np.log(1 / p),
                 np.where(fe == 2, p / (1 - p) ** 2 * (p * np.log(p) + 1 - p),
                          p / (fe - (1 - p))))
    out[est] = np.clip(r, 0.0, 1.0)
    return out


def l_diversity(data: pd.DataFrame, keys: Sequence[str], sensitive: str) -> pd.Series:
    """Per record: the number of distinct non-missing values of ``sensitive`` among the
    records sharing its key exactly (sdcMicro ``ldiversity``, distinct l)."""
    if not keys:
        return pd.Series(data[sensitive].nunique(dropna=True), index=data.index)
    groups = data.groupby(list(keys), dropna=False, sort=False)[sensitive]
    return groups.transform("nunique").astype(int)


def global_recode(data: pd.DataFrame, recode: Mapping[str, Mapping[int, Sequence[int]]]
                  ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Merge categories: ``{column: {new_code: [old codes]}}``; returns the recoded frame and
    the number of values changed per column."""
    out = data.copy()
    changed = {}
    for column, groups in recode.items():
        mapping = {int(old): int(new) for new, olds in groups.items() for old in olds}
        before = out[column]
        after = before.map(lambda v, m=mapping: m.get(int(v), int(v)) if pd.notna(v) else v)
        after = after.astype(before.dtype)
        changed[column] = int((before.fillna(-1) != after.fillna(-1)).sum())
        out[column] = after
    return out, changed


@dataclass
class SuppressionResult:
    """What local suppression did: the data, the suppressed cells and remaining violations."""

    data: pd.DataFrame
    suppressed: dict[str, int] = field(default_factory=dict)
    records_changed: int = 0
    violations_before: int = 0
    violations_after: int = 0
    changed_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def local_suppression(data: pd.DataFrame, keys: Sequence[str], *, k: int = 5,
                      importance: Sequence[str] | None = None,
                      protected: Sequence[str] = (), max_rounds: int = 50) -> SuppressionResult:
    """Suppress key values (set them missing) until every record has ``fk >= k``.

    ``importance`` orders the keys from most to least important (default: ``keys`` order);
    the least important is suppressed first. For each violating record the least important
    key whose suppression alone brings it to ``k`` is suppressed; if none does, the least
    important remaining key is suppressed and the record is examined again. ``protected``
    keys are never suppressed, so records whose protected keys alone are rarer than ``k``
    remain violations (``violations_after``).
    """
    order = list(importance or keys)
    order += [c for c in keys if c not in order]
    suppressible = [c for c in reversed(order) if c in keys and c not in protected]
    x = _key_matrix(data, keys)
    col = {c: i for i, c in enumerate(keys)}
    ones = np.ones(len(data))
    f, _ = _match_counts(x, ones)
    before = int((f < k).sum())
    original_na = np.isnan(x)
    # one row per key (contiguous), updated as values are suppressed
    xt, has = np.ascontiguousarray(x.T), ~np.ascontiguousarray(original_na.T)

    def trials(i: int, open_keys: list[str]) -> tuple[int, dict[str, int]]:
        """Frequency of record i's key now, and with each open key suppressed."""
        # where a record differs from record i (a missing value on either side matches)
        miss = (xt != xt[:, i, None]) & has & has[:, i, None]
        misses = miss.sum(axis=0, dtype=np.int32)
        now = int(np.count_nonzero(misses == 0))
        only = np.count_nonzero(miss[:, misses == 1], axis=1)  # differing in that key alone
        return now, {c: now + int(only[col[c]]) for c in open_keys}

    for _ in range(max_rounds):
        f, _ = _match_counts(xt.T, ones)
        todo = np.flatnonzero(f < k)
        if not len(todo):
            break
        progress = False
        for i in todo:
            while True:
                open_keys = [c for c in suppressible if has[col[c], i]]
                now, after = trials(i, open_keys)
                if now >= k or not open_keys:
                    break
                fixed = next((c for c in open_keys if after[c] >= k), None)
                v = col[fixed or open_keys[0]]
                xt[v, i], has[v, i] = np.nan, False
                progress = True
                if fixed:
                    break
        if not progress:
            break
    f, _ = _match_counts(xt.T, ones)
    out = data.copy()
    suppressed = {}
    new_na = ~has.T & ~original_na
    for c, v in col.items():
        suppressed[c] = int(new_na[:, v].sum())
        if suppressed[c]:
            values = out[c].copy()
            values[new_na[:, v]] = pd.NA
            out[c] = values
    rows = new_na.any(axis=1)
    return SuppressionResult(out, suppressed, int(rows.sum()), before, int((f < k).sum()), rows)
