"""Helpers shared by the weighting methods (private).

Margins and population tables in, codes and cell tables out; the application of a step to
a replicate design (:func:`reweight`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats.calibrated import CollapsedCells, WeightedDesign
from kyodo_analysis.stats.design import SurveyDesign, _radix_combine
from kyodo_analysis.stats.replicate import ReplicateDesign

Level = TypeVar("Level")  # a margin level (any hashable value of the column)


def check_design(design: object) -> SurveyDesign:
    """The design, if it is a linearisation design (else a WeightingError)."""
    if not isinstance(design, SurveyDesign):
        raise WeightingError(
            f"weighting needs a SurveyDesign or a ReplicateDesign, not {type(design).__name__}"
        )
    return design


def _shell(design: ReplicateDesign, w: np.ndarray) -> SurveyDesign:
    """A linearisation design on the replicate design's data with weights ``w``.

    Only what the weighting algorithms read is set (data, weights, cached column codes):
    its variance is never asked for.
    """
    shell = object.__new__(SurveyDesign)
    shell.__dict__.update({k: v for k, v in design.__dict__.items() if k in ("_frame", "_codes")})
    shell._w = np.asarray(w, dtype=float)
    return shell


def reweight(
    design: SurveyDesign | ReplicateDesign, weigh: Callable[[SurveyDesign], WeightedDesign]
) -> WeightedDesign | ReplicateDesign:
    """Apply a weighting step to a design: once, or to the full sample and every replicate.

    For a :class:`ReplicateDesign` the step is applied to the full-sample weights and to
    each replicate's weights in turn (R ``rake``/``postStratify``/``calibrate`` of a
    ``svyrep.design``); the variance then comes from the re-weighted replicates.
    """
    if isinstance(design, ReplicateDesign):
        design._code_cache()  # created here so that every replicate's shell shares it
        full = weigh(_shell(design, design._w))
        rw = np.empty_like(design._rw)
        n_rep = rw.shape[1]
        for r in range(n_rep):
            try:
                rw[:, r] = weigh(_shell(design, design._rw[:, r]))._w
            except WeightingError as exc:
                raise WeightingError(f"replicate {r + 1} of {n_rep}: {exc}") from None
        return design._reweighted(full._w, rw, full.weighting_steps[-1])
    return weigh(check_design(design))


def column(design: SurveyDesign, col: str, role: str) -> pd.Series:

    if col not in design.data.columns:
        raise WeightingError(f"{role} column {col!r} not in the data")
    s = design.data[col]
    if not s.hasnans:
        return s
    active, _ = design._nonzero_weights()
    nna = int((s.isna().to_numpy() & active).sum())
    if nna:
        raise WeightingError(
            f"{role} column {col!r} has {nna} missing value(s) among the rows of the design; "
            "impute or drop them before weighting"
        )
    return s


def as_margin(col: str, spec: Any) -> pd.Series:
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
    elif isinstance(spec, Mapping):  # floats from the start: nothing to coerce
        # levels as given (an object index: no conversion to a string array for a few keys)
        s = pd.Series(list(spec.values()), index=pd.Index(list(spec.keys()), dtype=object), dtype=float)
    else:
        raise WeightingError(f"margin for {col!r} must be a mapping level -> count, a Series or a DataFrame")
    if s.dtype != np.float64 or s is spec:
        s = pd.to_numeric(s, errors="coerce").astype(float)
    if not isinstance(spec, Mapping) and s.index.has_duplicates:  # a mapping's keys are distinct
        dup = s.index[s.index.duplicated()][0]
        raise WeightingError(f"margin {col!r} lists level {dup!r} more than once")
    bad = ~np.isfinite(s.to_numpy()) | (s.to_numpy() < 0)
    if bad.any():
        lev = s.index[np.flatnonzero(bad)[0]]
        raise WeightingError(f"margin {col!r}: level {lev!r} has an invalid count {s.iloc[np.flatnonzero(bad)[0]]!r}")
    return s


def positions(levels: Sequence[Any] | np.ndarray | pd.Index, values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Position of each of ``values`` among ``levels`` (``-1``: not a level), as
    ``pandas.Index(levels).get_indexer(values)``. Text levels and values (the usual labels)
    are matched through a dictionary: for the few distinct values of a column, building
    pandas' string index and hash table costs more than the match. Anything else (numbers,
    whose matching across types pandas defines, or duplicated levels, which pandas refuses)
    goes to pandas."""
    keys = levels.tolist() if hasattr(levels, "tolist") else list(levels)
    vals = values.tolist() if hasattr(values, "tolist") else list(values)
    if all(type(k) is str for k in keys) and all(type(v) is str for v in vals):
        where = {k: i for i, k in enumerate(keys)}
        if len(where) == len(keys):
            return np.array([where.get(v, -1) for v in vals], dtype=np.int64)
    return np.asarray(pd.Index(keys).get_indexer(pd.Index(vals)))


def check_complete(design: SurveyDesign, col: str, role: str) -> bool:
    """A WeightingError if ``col`` is absent or missing on a row of the design (non-zero
    weight); whether no row at all (also outside the design) misses a value."""
    if col not in design.data.columns:
        raise WeightingError(f"{role} column {col!r} not in the data")
    cache = design._code_cache()  # kept with the codes: the data of a design do not change
    complete = cache.get(("complete", col))
    if complete is None:  # a missing value is what the codes mark -1 (cheaper to ask pandas)
        complete = cache[("complete", col)] = not design.data[col].hasnans
    if complete:
        return True
    codes, _ = design._column_codes(col)
    nna = int(np.count_nonzero((codes < 0) & design._nonzero_weights()[0]))
    if nna:
        raise WeightingError(
            f"{role} column {col!r} has {nna} missing value(s) among the rows of the design; "
            "impute or drop them before weighting"
        )
    return False


def distinct_codes(design: SurveyDesign, col: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the rows over the column's distinct values (-1: missing) and those values.

    The design's cached column codes: a column is hashed once per design, whatever its type.
    """
    return design._column_codes(col)


def level_codes(design: SurveyDesign, col: str, levels: pd.Index, role: str) -> np.ndarray:
    """Codes of the rows over ``levels`` (the design's cached codes matched to the levels)."""
    row_codes, uniques = design._column_codes(col)
    lookup = positions(levels, uniques)
    lookup = np.append(lookup, -1)  # NA rows (code -1) stay -1
    codes = lookup[row_codes]
    missing = (codes < 0) & (row_codes >= 0)
    if missing.any():
        unknown = pd.unique(np.asarray(uniques, dtype=object)[lookup[:-1] < 0])
        raise WeightingError(
            f"{role} {col!r}: level(s) {list(unknown)[:5]!r} occur in the data but not in the "
            f"targets (targets have {list(levels)[:12]!r})"
        )
    return np.asarray(codes)


def collapse_adjacent(
    col: str, levels: list[Level], n_per_level: np.ndarray, min_cell: int
) -> tuple[list[list[Level]], list[CollapsedCells]]:
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


def combine_codes(codes: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell of each row over the cross-classification, each present cell's radix code, and
    the rows of each cell.

    The cells are numbered over the present radix codes in order; when every combination
    is present (the usual case for a few margins) the radix code is the cell, with no
    renumbering pass. Codes stay int64, which ``np.bincount`` reads without a conversion.
    """
    size = int(np.prod(sizes))
    combined = np.asarray(codes[0], dtype=np.int64) if len(codes) == 1 else _radix_combine(codes, sizes)
    if size <= 50_000_000:
        counts = np.bincount(combined, minlength=size)
        present = np.flatnonzero(counts)
        if len(present) == size:
            return combined, present, counts
        remap = np.full(size, -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        return remap[combined], present, counts[present]
    present, cell, counts = np.unique(combined, return_inverse=True, return_counts=True)
    return cell.astype(np.int64), present, counts


def split_radix(present: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    out = []
    rem = present.copy()
    for s in reversed(sizes):
        out.append(rem % s)
        rem = rem // s
    return out[::-1]


def margin_table(
    cols: Sequence[str],
    levels: Sequence[Sequence[Any]],
    targets: Sequence[np.ndarray],
    before: Sequence[np.ndarray],
    after: Sequence[np.ndarray],
    n: Sequence[np.ndarray],
) -> pd.DataFrame:
    """The margins' table of a weighting step: one row per (variable, level), built at once."""
    return pd.DataFrame(
        {
            "variable": [c for c, lv in zip(cols, levels, strict=True) for _ in lv],
            "level": pd.Series([lev for lv in levels for lev in lv], dtype=object),
            "target": np.concatenate(targets),
            "before": np.concatenate(before),
            "after": np.concatenate(after),
            "n": np.concatenate(n).astype(np.int64),
        }
    )
