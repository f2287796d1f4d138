"""Design-based estimation for complex surveys (linearisation and replicate weights).

The estimators follow R ``survey`` (Lumley 2004, 2010) and are checked against it to a
relative 1e-8 in ``tests/test_design.py`` (fixtures produced by
``tests/fixtures/r/reference.R``).

Conventions (all as in R ``survey``):

* Domains (``by=`` and :meth:`SurveyDesign.subset`) keep every row of the design: rows
  outside the domain keep their PSU and stratum and contribute a zero score, so the
  number of PSUs per stratum used in the variance is that of the full design.
* The ``df`` column is R's ``degf()`` of the design restricted to the domain (number of
  first-stage units with a non-zero weight minus number of such strata), i.e. what R
  reports for ``degf(subset(design, ...))`` and uses in ``svyby(..., svyciprop)``.
* Confidence intervals of means, totals, ratios and variances use the normal quantile,
  like ``confint()`` on a ``svystat`` in R; pass ``df=`` to use a t quantile instead.
  :meth:`SurveyDesign.proportion` and :meth:`SurveyDesign.quantile` use
  ``t(degf)`` by default, like ``svyciprop`` and ``svyquantile``.

Computation: the rows are summed once into (unit x domain) totals of ``w x``; linearised
scores are applied at the unit level (``T_g J_d``, ``J_d`` the Jacobian of the estimator
at the domain totals), so all domains and their joint covariance come from one grouped
pass (``np.bincount``) and small dense algebra; designs without PSUs and many domains use
an equivalent memory-lean form.

Deliberate differences from R (documented where they occur): ``fpc`` must be constant
within a stratum (R warns and uses per-PSU values); a proportion of exactly 0 or 1 with
zero variance gets the interval ``(p, p)`` (R gives NaN or ``p`` depending on rounding);
the ``"likelihood"`` interval is solved exactly (R interpolates the profile, agreement
~1e-5) and is also given for replicate designs (R returns NaN there); ``crosstab`` on a
subset tabulates only the levels present in it (R's table keeps empty levels and returns
NaN).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats import _dist
from kyodo_analysis.stats._linearize import (
    LONELY_OPTIONS,
    Stage,
    build_stages,
    design_df,
    df_from_presence,
    multistage_vcov,
    stages_used,
    stratum_weights,
    unit_vcov,
)

if TYPE_CHECKING:
    from kyodo_analysis.stats.calibrated import WeightedDesign
    from kyodo_analysis.stats.crosstab import CrosstabResult
    from kyodo_analysis.stats.glm import SvyGLMResult
    from kyodo_analysis.stats.replicate import ReplicateDesign

__all__ = ["SurveyDesign", "compare_independent"]

ColumnSpec = str | Sequence[str] | None
DeffSpec = bool | Literal["replace"]
RESULT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "df", "n"]
# above this many (unit x domain x column) cells, designs whose units are the rows use the
# memory-lean path of SurveyDesign._smooth_row_units
_DENSE_LIMIT = 20_000_000
# from this many rows, the columns a call needs are coded in parallel threads (pyarrow's
# dictionary encoding and numpy's passes release the GIL)
_PARALLEL_CODING_ROWS = 200_000
# rows per slice of the passes that work slice by slice so that a slice stays in cache
# (string codes, several columns' codes combined)
_SLICE_ROWS = 1 << 16


def _usable_cpus() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def _as_list(spec: ColumnSpec) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    return list(spec)


class _Missing:
    """Sentinel for keyword arguments that were not passed."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class _OnesLast(np.ndarray):
    """Marker subclass: the last column is known to be all ones."""


def _ones_last(x: np.ndarray) -> bool:
    if isinstance(x, _OnesLast) and x.ndim == 2:
        return bool(x[0, -1] == 1.0)
    return bool(x[0, -1] == 1.0 and (x[:, -1] == 1.0).all()) if len(x) else False


def _with_ones(*cols: np.ndarray) -> np.ndarray:
    """Column-major ``(n, p + 1)`` array of the given columns (1-d or 2-d) and a column of
    ones (contiguous columns make the grouped sums faster)."""
    parts = [c[:, None] if c.ndim == 1 else c for c in cols]
    p = sum(c.shape[1] for c in parts)
    out = np.empty((parts[0].shape[0], p + 1), order="F")
    j = 0
    for c in parts:
        out[:, j : j + c.shape[1]] = c
        j += c.shape[1]
    out[:, p] = 1.0
    return out.view(_OnesLast)


def _quantile_crit(level: float, df: float | np.ndarray | None) -> np.ndarray:
    a = (1 + level) / 2
    if df is None:
        return np.asarray(_dist.norm_ppf(a))
    df = np.asarray(df, dtype=float)
    return np.asarray(np.where(np.isinf(df), _dist.norm_ppf(a), _dist.t_ppf(a, np.where(df > 0, df, np.nan))))


def _sorted_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a column over its distinct values in sorted order (``-1``: missing).

    The distinct values are those present (for a categorical, in category order), as
    ``pandas.factorize(col, sort=True)`` gives them. Each column type takes its cheapest
    exact route: the counting routes of :func:`_counted_route` when they apply, else
    Arrow-backed strings (what ``pandas.read_csv`` returns) by one dictionary-encoding
    pass, everything else by ``pandas.factorize``.
    """
    hit = _counted_route(col)
    if hit is not None:
        return hit
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return _arrow_string_codes(col)
    codes, uniques = pd.factorize(col, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(uniques)


def _counted_route(col: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_sorted_codes` without hashing, for the columns that allow it: categoricals
    (from their category codes), integers with a compact range (by counting) and Arrow
    strings of one UTF-8 width of at most 8 bytes (:func:`_fixed_width_codes`); ``None``
    for any other column."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical_codes(col)
    if pd.api.types.is_integer_dtype(dtype) and not col.hasnans:
        hit = _counted_codes(col.to_numpy(dtype=np.int64))
        if hit is not None:
            # a Series cast also handles nullable extension dtypes (Int64 from a store)
            return hit[0], pd.Series(hit[1]).astype(dtype).to_numpy()
        return None
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa

        arr = col.array.__arrow_array__()
        return _fixed_width_codes(arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr]))
    return None


def _counted_codes(v: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes of integers over their sorted distinct values by counting (no hashing), when
    their range is compact (at most ``4 n + 1024`` values); ``None`` otherwise."""
    n = len(v)
    lo, hi = (int(v.min()), int(v.max())) if n else (0, 0)
    if hi - lo > 4 * n + 1024:
        return None
    shifted = v - v.dtype.type(lo)
    counts = np.bincount(shifted, minlength=hi - lo + 1)
    present = np.flatnonzero(counts)
    remap = np.full(hi - lo + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return remap[shifted], present.astype(v.dtype) + v.dtype.type(lo)


def _categorical_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sorted_codes` of a categorical: its codes renumbered over the categories
    present (no hashing), slice by slice in cache; when every category occurs, a copy of
    the category codes themselves."""
    cat_codes = col.cat.codes.to_numpy()
    categories = col.cat.categories
    k = len(categories)
    n = len(cat_codes)
    # pandas sizes the code dtype so that ``codes + 1`` cannot overflow; slot 0 counts NAs
    counts = np.zeros(k + 1, dtype=np.int64)
    for a in range(0, n, _SLICE_ROWS):
        counts += np.bincount(cat_codes[a : a + _SLICE_ROWS] + 1, minlength=k + 1)
    present = np.flatnonzero(counts[1:])
    dtype = _narrow_dtype(len(present))
    if len(present) == k:  # every category present: its codes are the codes (a copy, kept)
        return cat_codes.astype(dtype, copy=True), np.asarray(categories)
    remap = np.full(k + 1, -1, dtype=dtype)  # remap[-1] (code -1, missing) stays -1
    remap[present] = np.arange(len(present))
    codes = np.empty(n, dtype=dtype)
    for a in range(0, n, _SLICE_ROWS):
        part = cat_codes[a : a + _SLICE_ROWS]
        np.take(remap, part, out=codes[a : a + len(part)], mode="wrap")  # -1 wraps to remap[k]
    return codes, np.asarray(categories[present])


def _arrow_string_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sorted_codes` of an Arrow-backed string column: one dictionary encoding of
    the Arrow data, the (few) distinct strings sorted in Python (code-point order, as
    ``pandas.factorize(sort=True)``), and one gather from the encoding's indices to ranks."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.array.__arrow_array__()
    chunked = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    encoded = pc.dictionary_encode(chunked)
    chunks = encoded.chunks
    if not chunks:
        return np.full(len(col), -1, dtype=np.int64), np.asarray([], dtype=object)
    dictionary = chunks[-1].dictionary
    if any(len(c.dictionary) != len(dictionary) for c in chunks):
        encoded = encoded.unify_dictionaries()
        chunks = encoded.chunks
        dictionary = chunks[-1].dictionary
    values = dictionary.to_pylist()
    k = len(values)
    order = sorted(range(k), key=values.__getitem__)
    rank = np.empty(k + 1, dtype=np.int64)
    rank[order] = np.arange(k)
    rank[k] = -1  # missing values
    codes = np.empty(len(col), dtype=np.int64)
    start = 0
    for c in chunks:
        idx = c.indices
        if idx.null_count:
            idx = pc.fill_null(idx, k)
        stop = start + len(idx)
        np.take(rank, idx.to_numpy(zero_copy_only=False), out=codes[start:stop])
        start = stop
    return codes, np.asarray([values[i] for i in order], dtype=object)


def _narrow_dtype(k: int) -> np.dtype:
    """The narrowest signed integer type holding the codes ``-1 .. k - 1``."""
    for t in (np.int8, np.int16, np.int32):
        if k <= np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int64)


def _equal_width_layout(chunked: Any) -> tuple[int, list[tuple[Any, int, int]]] | None:
    """UTF-8 width and (data buffer, byte offset of the first row, rows) of every non-empty
    chunk, when all strings have the same width of at most 8 bytes and none is missing;
    ``None`` otherwise."""
    import pyarrow as pa

    width = -1
    parts: list[tuple[Any, int, int]] = []
    steps: np.ndarray | None = None
    for chunk in chunked.chunks:
        m = len(chunk)
        if m == 0:
            continue
        large = pa.types.is_large_string(chunk.type)
        if chunk.null_count or not (large or pa.types.is_string(chunk.type)):
            return None
        buffers = chunk.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int64 if large else np.int32)
        offsets = offsets[chunk.offset : chunk.offset + m + 1]
        w = int(offsets[1] - offsets[0])
        if not 0 < w <= 8 or (width >= 0 and w != width):
            return None
        if steps is None or steps.dtype != offsets.dtype:
            steps = np.empty(_SLICE_ROWS, dtype=offsets.dtype)
        # every width is w when none exceeds w and they add up to m * w (the widths
        # below w would have to make up for one above): one reduction per slice
        if int(offsets[m] - offsets[0]) != m * w:
            return None
        for a in range(0, m, _SLICE_ROWS):
            b = min(a + _SLICE_ROWS, m)
            s = steps[: b - a]
            np.subtract(offsets[a + 1 : b + 1], offsets[a:b], out=s)
            if s.max() != w:
                return None
        width = w
        parts.append((buffers[2], int(offsets[0]), m))
    return (width, parts) if parts else None


def _word_dtype(width: int) -> np.dtype:
    """The unsigned little-endian integer type read for a string of ``width`` bytes."""
    return np.dtype("<u1" if width == 1 else "<u2" if width == 2 else "<u4" if width <= 4 else "<u8")


def _equal_width_words(width: int, parts: list[tuple[Any, int, int]]) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, the rows' integers) slice by slice: string ``i`` is the little-endian
    integer of :func:`_word_dtype` read at ``i * width`` of its chunk's data (one strided,
    unaligned read per row), masked to its width. When the word is exactly the width (1, 2,
    4 or 8 bytes) the slice is a read-only view of the Arrow data; otherwise it is one
    reused buffer. Either way the caller must not write into it."""
    word = _word_dtype(width)
    size = word.itemsize
    exact = size == width
    mask = word.type((1 << (8 * width)) - 1)
    buf = np.empty(_SLICE_ROWS, dtype=word)
    start = 0
    for data, lo, m in parts:
        # rows whose read stays inside the buffer; the last few are read padded
        fit = min(m, max(0, (data.size - lo - size) // width + 1))
        for a in range(0, m, _SLICE_ROWS):
            b = min(a + _SLICE_ROWS, m)
            f = max(a, min(b, fit))
            if f == b:
                rows = np.ndarray((b - a,), dtype=word, buffer=data, offset=lo + a * width, strides=(width,))
                yield start + a, rows if exact else np.bitwise_and(rows, mask, out=buf[: b - a])
                continue
            out = buf[: b - a]
            if f > a:
                rows = np.ndarray((f - a,), dtype=word, buffer=data, offset=lo + a * width, strides=(width,))
                np.bitwise_and(rows, mask, out=out[: f - a])
            tail = np.zeros((b - f, size), dtype=np.uint8)
            raw = np.frombuffer(data, dtype=np.uint8)[lo + f * width : lo + b * width]
            tail[:, :width] = raw.reshape(-1, width)
            out[f - a :] = tail.view(word)[:, 0]
            yield start + a, out
        start += m


def _lowest_bit(bits: int) -> int:
    """Position of the lowest set bit of ``bits`` (0 when none is set)."""
    return (bits & -bits).bit_length() - 1 if bits else 0


def _key_text(key: int, base: int, low: int, width: int) -> str:
    """The string of ``width`` UTF-8 bytes whose little-endian integer, XORed with ``base``
    and shifted down by ``low`` bits, is ``key``."""
    return (base ^ (key << low)).to_bytes(8, "little")[:width].decode("utf-8")


def _fixed_width_codes(chunked: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_sorted_codes` of Arrow strings that all have the same UTF-8 length of at most
    8 bytes and no missing value (男性/女性, 20代/30代, codes such as d01), without hashing.

    Every row's string is an integer (:func:`_equal_width_words`) that indexes a table of
    ranks: strings of one or two bytes as they are; longer ones XORed with the first row's,
    so that only the bits that vary between rows are left, and, when these reach 2**16 in
    the first slice of rows, shifted down past the bits that do not vary there. One pass
    over the rows, slice by slice in cache, each slice coded by one gather from the table
    straight into the (narrow) codes. The table's last slot is always unseen (-1), so a
    key beyond the table (clipped to it) is found with the keys not seen before: they are
    added, their strings decoded and the known strings sorted in Python (code-point order,
    as ``pandas.factorize(sort=True)``), and the codes so far renumbered. Keys too spread
    for a table (more than ``4 n + 1024`` or 2**20 slots) take :func:`_wide_key_codes`.
    ``None`` for any column that is not of equal widths.
    """
    layout = _equal_width_layout(chunked)
    if layout is None:
        return None
    width, parts = layout
    n = len(chunked)
    word = _word_dtype(width)
    direct = word.itemsize <= 2  # keys below 65,536 as they are: no XOR, no shift
    limit = max(min(1 << 20, 4 * n + 1024), 1 << (8 * word.itemsize) if direct else 0)
    dtype = np.dtype(np.int8)
    codes = np.empty(n, dtype=dtype)
    base = 0 if direct else -1
    low = 0 if direct else -1
    rank = np.full(1, -1, dtype=dtype)  # key -> rank; -1: not seen (always so in the last slot)
    known: dict[int, str] = {}  # key -> its string
    ordered: list[int] = []  # the known keys in the order of their strings
    key_buf = np.empty(0 if direct else _SLICE_ROWS, dtype=word)

    for a, x in _equal_width_words(width, parts):
        if not direct:
            if base < 0:
                base = int(x[0])
            x = np.bitwise_xor(x, word.type(base), out=key_buf[: len(x)])
            if low < 0:  # the first slice: keys of 65,536 or more shifted past its constant bits
                bits = int(np.bitwise_or.reduce(x))
                low = _lowest_bit(bits) if bits >= 1 << 16 else 0
            elif low and int(np.bitwise_or.reduce(x)) & ((1 << low) - 1):
                return _wide_key_codes(width, parts, n)  # a bit the first slice did not vary
            if low:
                x >>= word.type(low)
        idx = x
        if x.dtype.itemsize == 8:  # as int64 (no conversion), if no key would turn negative
            if width == 8 and not low and int(x.max()) >= limit:  # the top bit may be set
                return _wide_key_codes(width, parts, n)
            idx = x.view(np.int64)
        out = codes[a : a + len(x)]
        np.take(rank, idx, out=out, mode="clip")  # keys beyond the table land on its last slot
        if out.min(initial=0) >= 0:
            continue
        # keys not seen in the earlier rows: add them, renumber the codes so far
        unseen = x[out < 0]
        top = int(unseen.max())
        if top >= limit:
            return _wide_key_codes(width, parts, n)
        if top + 1 >= len(rank):
            rank = np.concatenate([rank, np.full(top + 2 - len(rank), -1, dtype=dtype)])
        new = np.flatnonzero(np.bincount(unseen.astype(np.int64), minlength=1))
        known.update((int(k), _key_text(int(k), base, low, width)) for k in new)
        before = ordered
        ordered = sorted(known, key=known.__getitem__)
        wider = _narrow_dtype(len(ordered))
        if wider.itemsize > dtype.itemsize:  # more values than the codes' type holds
            dtype = wider
            codes = codes.astype(dtype)
            rank = rank.astype(dtype)
            out = codes[a : a + len(x)]
        rank[ordered] = np.arange(len(ordered), dtype=dtype)
        if a and before:
            codes[:a] = rank[before][codes[:a]]
        np.take(rank, idx, out=out, mode="clip")
    return codes, np.asarray([known[k] for k in ordered], dtype=object)


def _wide_key_codes(width: int, parts: list[tuple[Any, int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_fixed_width_codes` when the keys are too spread for a table of ranks: all
    keys XORed with the first row's and shifted past the bits that never vary, then counted
    if they now span a compact range, else coded by one hashing pass."""
    keys = np.empty(n, dtype=np.uint64)
    for a, x in _equal_width_words(width, parts):
        keys[a : a + len(x)] = x
    base = int(keys[0])
    keys ^= np.uint64(base)
    bits = int(np.bitwise_or.reduce(keys))
    low = _lowest_bit(bits)
    if low:
        keys >>= np.uint64(low)
    key = keys.view(np.int64)
    hi = int(keys.max())
    if hi <= 4 * n + 1024:  # a compact range (so below 2**63): counted
        distinct = np.flatnonzero(np.bincount(key, minlength=hi + 1))
        slot = distinct
    else:
        found, distinct_keys = pd.factorize(keys)
        key[:] = found
        distinct = np.asarray(distinct_keys, dtype=np.uint64)
        slot = np.arange(len(distinct))
    values = [_key_text(int(k), base, low, width) for k in distinct]
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(int(slot[-1]) + 1, dtype=_narrow_dtype(len(order)))
    rank[slot[order]] = np.arange(len(order))
    return rank[key], np.asarray([values[i] for i in order], dtype=object)


def _radix_combine(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """``(c0 * k1 + c1) * k2 + c2 ...`` of the rows' codes ``c`` (``k``: the sizes), as int64.

    Computed slice by slice in the narrowest integer type that holds every combination
    (the codes of a column are narrow where its values are few), then widened into the
    int64 result: every column is read once and the result written once, instead of one
    pass over the whole result per operation. Missing codes (-1) give negative or wrong
    combinations: callers mark those rows themselves.
    """
    n = len(codes[0])
    out = np.empty(n, dtype=np.int64)
    work = _narrow_dtype(int(np.prod(sizes, dtype=np.float64)))
    part_buf = np.empty(min(n, _SLICE_ROWS), dtype=work)
    for a in range(0, n, _SLICE_ROWS):
        part = part_buf[: min(_SLICE_ROWS, n - a)]
        part[:] = codes[0][a : a + _SLICE_ROWS]
        for c, k in zip(codes[1:], sizes[1:], strict=True):
            part *= work.type(k)
            part += c[a : a + _SLICE_ROWS]
        out[a : a + len(part)] = part
    return out


class _Domains:
    """Domain codes for ``by`` columns (``-1`` marks rows in no domain).

    Built from the design's cached column codes (:meth:`_BaseDesign._column_codes`), so a
    column is hashed once per design whatever its type.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        by: list[str],
        codes_of: Callable[[str], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.by = by
        n_rows = len(frame)
        if not by:
            self.codes = np.zeros(n_rows, dtype=np.int64)
            self.n = 1
            self.table = pd.DataFrame(index=range(1))
            return
        missing = [c for c in by if c not in frame.columns]
        if missing:
            raise EstimationError(f"by column(s) not in the data: {missing}")
        if codes_of is None:

            def codes_of(c: str) -> tuple[np.ndarray, np.ndarray]:
                return _sorted_codes(frame[c])

        self._unit: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        parts = [codes_of(c) for c in by]
        if len(by) == 1:
            codes, uniques = parts[0]
            self.codes = codes
            self.n = len(uniques)
            self.table = pd.DataFrame({by[0]: pd.Series(uniques).astype(frame[by[0]].dtype)})
            return
        sizes = [len(u) for _, u in parts]
        size = int(np.prod(sizes))
        combined = _radix_combine([codes for codes, _ in parts], sizes)
        if any(codes.min(initial=0) < 0 for codes, _ in parts):  # a row missing in a by-column
            bad = np.zeros(n_rows, dtype=bool)
            for codes, _ in parts:
                bad |= codes < 0
            combined[bad] = size
        counts = np.bincount(combined, minlength=size + 1)
        present = np.flatnonzero(counts[:size])
        if len(present) == size and counts[size] == 0:
            self.codes = combined  # every combination present, no row missing: no renumbering
        else:
            remap = np.full(size + 1, -1, dtype=np.int64)
            remap[present] = np.arange(len(present))
            self.codes = remap[combined]
        self.n = len(present)
        table = {}
        rem = present.copy()
        for col, (_, uniques), k in zip(reversed(by), reversed(parts), reversed(sizes), strict=True):
            table[col] = np.asarray(uniques)[rem % k]
            rem = rem // k
        self.table = pd.DataFrame({col: table[col] for col in by})
        for col in by:
            self.table[col] = self.table[col].astype(frame[col].dtype)

    def unit_key(self, unit: np.ndarray, n_dom: int) -> np.ndarray:
        """``unit * n_dom + domain`` of every row (kept for the last units asked for)."""
        cached = self.__dict__.get("_unit")
        if cached is not None and cached[0] is unit:
            return np.asarray(cached[1])
        key = unit * n_dom + self.codes if n_dom > 1 else unit
        self._unit = (unit, key, None)
        return key

    def unit_counts(self, unit: np.ndarray, n_dom: int, size: int) -> np.ndarray:
        """Rows per (unit, domain) cell, all rows counted (kept with :meth:`unit_key`)."""
        key = self.unit_key(unit, n_dom)
        assert self._unit is not None
        if self._unit[2] is None:
            self._unit = (unit, key, np.bincount(key, minlength=size))
        counts = self._unit[2]
        assert counts is not None
        return counts

    def unit_weights(self, unit: np.ndarray, n_dom: int, size: int, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` per (unit, domain) cell over all rows (kept for the last units and
        weights asked for: the denominator totals of every mean on the same design)."""
        cached = self.__dict__.get("_unit_w")
        if cached is None or cached[0] is not unit or cached[1] is not w:
            totals = np.bincount(self.unit_key(unit, n_dom), weights=w, minlength=size)
            totals.flags.writeable = False
            cached = self._unit_w = (unit, w, totals)
        return np.asarray(cached[2])


class _BaseDesign:
    """Estimators shared by linearisation and replicate-weight designs."""

    _frame: pd.DataFrame
    _w: np.ndarray
    _is_replicate: bool = False

    # ------------------------------------------------------------------ hooks
    def _smooth_vcov(
        self,
        x: np.ndarray,
        dom: np.ndarray,
        n_dom: int,
        g: Callable[[np.ndarray], np.ndarray],
        jac: Callable[[np.ndarray], np.ndarray],
        totals: np.ndarray,
    ) -> np.ndarray:
        raise NotImplementedError

    def _degf(self, active: np.ndarray, dom: np.ndarray, n_dom: int) -> np.ndarray:
        raise NotImplementedError

    def _with_weights(self, w: np.ndarray) -> _BaseDesign:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    @property
    def data(self) -> pd.DataFrame:
        """The data the design was built on (all rows, including those outside a subset)."""
        return self._frame

    def assign(self, **columns: Any) -> _BaseDesign:
        """A copy of the design with columns added or replaced (R ``update.survey.design``).

        Values are aligned with :attr:`data` row by row (arrays or Series of its length, or
        scalars); the design structure, weights and any subset are unchanged.
        """
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        values = {k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in columns.items()}
        frame = self._frame
        # One concat instead of DataFrame.assign's column-by-column inserts (each of which
        # rebuilds the column index): replaced columns keep their place, new ones go last.
        added = pd.DataFrame(values, index=frame.index)
        replaced = [k for k in values if k in frame.columns]
        if replaced:
            order = [*frame.columns, *(k for k in values if k not in frame.columns)]
            new._frame = pd.concat([frame.drop(columns=replaced), added], axis=1)[order]
        else:  # new columns only (the usual case): no reordering, which copies every column
            new._frame = pd.concat([frame, added], axis=1)
        new._codes = {
            k: v
            for k, v in self._code_cache().items()
            if not (k in columns or (isinstance(k, tuple) and any(c in columns for c in k[1:])))
        }
        return new

    @property
    def weights(self) -> np.ndarray:
        """Sampling weights (zero for rows outside a :meth:`subset`)."""
        return self._w.copy()

    def __len__(self) -> int:
        return len(self._frame)

    def degf(self) -> float:
        """Design degrees of freedom, as R ``degf()``.

        Returns
        -------
        float
            First-stage units minus strata among rows with non-zero weight (linearisation),
            or the rank of the replicate weights minus one (replicate designs).

        Examples
        --------
        ``design``: the demo's FY2025 design (``ka.open_study().design(2025, weighted=False)``).

        >>> design.degf()
        1559.0
        """
        active, _ = self._nonzero_weights()
        return float(self._degf(active, np.zeros(len(active), dtype=np.int64), 1)[0])

    def subset(self, mask: Any) -> _BaseDesign:
        """Restrict estimation to a domain without dropping rows (R ``subset.survey.design``).

        Rows outside the domain get weight zero but keep their PSU and stratum, so the
        variance is the correct domain (subpopulation) variance (Lumley 2010, sec. 2.4).

        Parameters
        ----------
        mask : array-like of bool or str
            Boolean vector with one entry per row, or a column name holding one.
            Missing values count as False.

        Returns
        -------
        SurveyDesign or ReplicateDesign
            A design of the same kind with the weights of excluded rows set to zero.

        Examples
        --------
        Women (register sex 2) of the demo's FY2025 design:

        >>> women = design.subset(design.data["reg_sex"] == 2)
        >>> print(women.mean("q3_1", na_rm=True)[["estimate", "se", "n"]].round(4).to_string(index=False))
         estimate     se   n
           0.3753 0.0167 829
        """
        if isinstance(mask, str):
            mask = self._frame[mask]
        m = pd.Series(mask).to_numpy()
        if len(m) != len(self._frame):
            raise EstimationError(
                f"subset mask has {len(m)} entries, the data has {len(self._frame)} rows"
            )
        m = pd.array(m, dtype="boolean").fillna(False).to_numpy(dtype=bool)
        return self._with_weights(np.where(m, self._w, 0.0))

    def _numeric(self, col: str) -> np.ndarray:
        if col not in self._frame.columns:
            raise EstimationError(f"column {col!r} not in the data")
        s = self._frame[col]
        if pd.api.types.is_bool_dtype(s):
            return np.asarray(s.astype("float64").to_numpy())
        if not pd.api.types.is_numeric_dtype(s):
            raise EstimationError(f"column {col!r} is not numeric (dtype {s.dtype})")
        return np.asarray(s.astype("float64").to_numpy(na_value=np.nan))

    @staticmethod
    def _is_categorical(s: pd.Series) -> bool:
        return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))

    def _check_na(self, cols: list[str], values: list[np.ndarray], na_rm: bool) -> np.ndarray:
        """Rows (among those with non-zero weight) to exclude because of missing values."""
        drop = np.zeros(len(self._frame), dtype=bool)
        act = None
        for col, v in zip(cols, values, strict=True):
            if not np.isnan(v.sum()):  # one pass, no temporary: the usual case
                continue
            if act is None:
                act, _ = self._nonzero_weights()
            na = np.isnan(v) & act
            if na.any() and not na_rm:
                raise EstimationError(
                    f"column {col!r} has {int(na.sum())} missing value(s) among the rows in the "
                    "design; pass na_rm=True to exclude them (domain-style, as R na.rm=TRUE)"
                )
            drop |= na
        return drop

    def _nonzero_weights(self) -> tuple[np.ndarray, bool]:
        """The rows with a non-zero weight (read-only) and whether that is every row, kept
        with the weights they were computed from."""
        hit = self.__dict__.get("_nonzero")
        if hit is None or hit[0] is not self._w:
            nonzero = np.asarray(self._w) != 0
            nonzero.flags.writeable = False
            hit = (self._w, nonzero, bool(nonzero.all()))
            self._nonzero = hit
        return hit[1], hit[2]

    # ------------------------------------------------------------ column codes
    # The data of a design is treated as immutable (assign() makes a new design), so the
    # codes of a column, and the domains of a tuple of by-columns, are computed once and
    # shared by every design derived from this one (subsets, weighted designs, replicates).
    def _code_cache(self) -> dict[object, Any]:
        cache: dict[object, Any] | None = self.__dict__.get("_codes")
        if cache is None:
            cache = {}
            self._codes = cache
        return cache

    def _column_codes(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes of ``col`` over its sorted distinct values (``-1``: missing), cached."""
        cache = self._code_cache()
        hit = cache.get(col)
        if hit is None:
            if col not in self._frame.columns:
                raise EstimationError(f"column {col!r} not in the data")
            hit = _sorted_codes(self._frame[col])
            cache[col] = hit
        return hit

    def _prefetch_codes(self, cols: Sequence[str]) -> None:
        """Code the not yet coded ``cols`` at once (the same codes as :meth:`_column_codes`,
        which then finds them cached): those that need hashing in parallel threads on large
        data, one long call each that releases the GIL. The counting routes run in this
        thread: they take a few milliseconds per million rows, in many short numpy calls,
        and threads made them slower on a busy machine (the GIL handed back and forth)."""
        cache = self._code_cache()
        todo = [c for c in dict.fromkeys(cols) if c not in cache and c in self._frame.columns]
        if len(todo) < 2 or len(self._frame) < _PARALLEL_CODING_ROWS or _usable_cpus() < 2:
            return
        hashed = []
        for c in todo:
            hit = _counted_route(self._frame[c])
            if hit is None:
                hashed.append(c)
            else:
                cache[c] = hit
        todo = hashed
        workers = min(len(todo), _usable_cpus())
        if workers < 2:
            return
        series = [self._frame[c] for c in todo]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for col, hit in zip(todo, pool.map(_sorted_codes, series), strict=True):
                cache[col] = hit

    def _domains(self, by: ColumnSpec) -> _Domains:
        cols = _as_list(by)
        cache = self._code_cache()
        key = ("by", *cols)
        hit = cache.get(key)
        if hit is None:
            self._prefetch_codes(cols)
            hit = _Domains(self._frame, cols, self._column_codes)
            cache[key] = hit
        return hit

    def _domain_totals(
        self, x: np.ndarray, w: np.ndarray, dom: np.ndarray, n_dom: int, *, ones_last: bool = False
    ) -> np.ndarray:
        """Weighted totals of the columns of ``x`` by domain (``ones_last``: the last column
        is all ones, so its total is the weight total and needs no product)."""
        out = np.empty((n_dom, x.shape[1]))
        if dom.min(initial=0) < 0:
            keep = dom >= 0
            d, wk, xk = dom[keep], w[keep], x[keep]
        else:
            d, wk, xk = dom, w, x
        for j in range(x.shape[1]):
            col = xk[:, j]
            # a column of ones (denominators) needs no product
            wx = wk if (j == x.shape[1] - 1 and ones_last) else wk * col
            out[:, j] = np.bincount(d, weights=wx, minlength=n_dom)
        return out

    def _domain_counts(self, active: np.ndarray, dom: np.ndarray, n_dom: int) -> np.ndarray:
        if active.all() and dom.min(initial=0) >= 0:
            return np.bincount(dom, minlength=n_dom)
        keep = active & (dom >= 0)
        return np.bincount(dom[keep], minlength=n_dom)

    def _deff(
        self,
        kind: DeffSpec,
        u: np.ndarray,
        dom: np.ndarray,
        n_dom: int,
        active: np.ndarray,
        var: np.ndarray,
    ) -> np.ndarray:
        """Design effect (Kish): ``var / var_srs`` with R's ``var_srs``.

        ``u`` holds the unweighted influence values (n, k); ``var_srs`` is
        ``s_w^2(u) W^2 (W - n)/(W n)`` (SRS without replacement, ``deff=True``) or
        ``s_w^2(u) W^2 / n`` (``deff="replace"``), ``s_w^2`` the weighted variance with the
        ``n/(n-1)`` correction and ``W`` the domain weight total (R ``svymean``).
        """
        w = np.where(active & (dom >= 0), self._w, 0.0)
        ones = np.ones((len(w), 1))
        wt = self._domain_totals(ones, w, dom, n_dom)[:, 0]
        nobs = self._domain_counts(active, dom, n_dom).astype(float)
        mu = self._domain_totals(u, w, dom, n_dom) / wt[:, None]
        dev = u - mu[np.clip(dom, 0, None)]
        s2 = self._domain_totals(dev * dev, w, dom, n_dom) / wt[:, None]
        s2 = s2 * (nobs / (nobs - 1))[:, None]
        if kind == "replace":
            vsrs = s2 * (wt**2 / nobs)[:, None]
        else:
            vsrs = s2 * (wt**2 * (wt - nobs) / (wt * nobs))[:, None]
        return np.asarray(var / vsrs.reshape(var.shape))

    # ------------------------------------------------------------ estimators
    def _smooth(
        self,
        x: np.ndarray,
        drop: np.ndarray,
        domains: _Domains,
        g: Callable[[np.ndarray], np.ndarray],
        jac: Callable[[np.ndarray], np.ndarray],
        k: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Estimate a smooth function of domain totals and its covariance.

        Returns estimates (n_dom, k), covariance (n_dom*k, n_dom*k), df (n_dom,),
        n (n_dom,), domain codes (n,) after missing-value exclusion, and active rows.
        """
        dom = np.where(drop, -1, domains.codes) if drop.any() else domains.codes
        if np.isnan(x.sum(axis=0)).any():
            x = np.where(np.isnan(x), 0.0, x)
        active = self._nonzero_weights()[0] & ~drop
        totals = self._domain_totals(x, self._w, dom, domains.n, ones_last=_ones_last(x))
        with np.errstate(divide="ignore", invalid="ignore"):
            est = g(totals)
        cov = self._smooth_vcov(x, dom, domains.n, g, jac, totals)
        df = self._degf(active, dom, domains.n)
        n = self._domain_counts(active, dom, domains.n)
        return est.reshape(domains.n, k), cov, df, n, dom, active

    def _table(
        self,
        domains: _Domains,
        est: np.ndarray,
        se: np.ndarray,
        df: np.ndarray,
        n: np.ndarray,
        level: float,
        ci_df: float | np.ndarray | None,
        levels: list[Any] | None = None,
        deff: np.ndarray | None = None,
        level_name: str = "level",
    ) -> pd.DataFrame:
        n_dom, k = est.shape
        crit = _quantile_crit(level, ci_df)
        crit = np.broadcast_to(
            np.asarray(crit, dtype=float).reshape(-1, 1) if np.ndim(crit) else crit, (n_dom, k)
        )
        # one DataFrame construction (inserting column by column costs more than the estimate)
        table = domains.table if k == 1 else domains.table.iloc[np.repeat(np.arange(n_dom), k)]
        cols: dict[str, Any] = {c: table[c].array for c in table.columns}
        if levels is not None:
            cols[level_name] = pd.Series(list(levels) * n_dom).array
        e = est.ravel()
        s = se.ravel()
        cols["estimate"] = e
        cols["se"] = s
        cols["ci_low"] = e - crit.ravel() * s
        cols["ci_high"] = e + crit.ravel() * s
        cols["df"] = np.repeat(df, k)
        cols["n"] = np.repeat(n, k).astype(np.int64)
        if deff is not None:
            cols["deff"] = deff.ravel()
        return pd.DataFrame(cols)

    def _mean_parts(
        self, y: str | Sequence[str], by: ColumnSpec, na_rm: bool
    ) -> tuple[np.ndarray, np.ndarray, list[Any] | None, _Domains]:
        cols = _as_list(y)
        domains = self._domains(by)
        if (
            len(cols) == 1
            and cols[0] in self._frame.columns
            and self._is_categorical(self._frame[cols[0]])
        ):
            s = self._frame[cols[0]]
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = list(s.cat.categories)  # every category, observed or not (R factor)
                codes = s.cat.codes.to_numpy()
            else:
                codes, uniques = self._column_codes(cols[0])
                levels = list(uniques)
            x = (codes[:, None] == np.arange(len(levels))[None, :]).astype(float)
            x[codes < 0] = np.nan
            drop = self._check_na(cols, [x[:, 0]], na_rm)
            return x, drop, levels, domains
        values = [self._numeric(c) for c in cols]
        drop = self._check_na(cols, values, na_rm)
        x = values[0][:, None] if len(values) == 1 else np.column_stack(values)
        return x, drop, (cols if len(cols) > 1 else None), domains

    @staticmethod
    def _ratio_fns(
        m: int,
    ) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
        """g(T) = T[:m] / T[m] and its Jacobian."""

        def g(t: np.ndarray) -> np.ndarray:
            return np.asarray(t[..., :m] / t[..., m : m + 1])

        def jac(t: np.ndarray) -> np.ndarray:
            n_dom = t.shape[0]
            den = t[:, m]
            j = np.zeros((n_dom, m, m + 1))
            idx = np.arange(m)
            j[:, idx, idx] = (1.0 / den)[:, None]
            j[:, :, m] = -t[:, :m] / (den**2)[:, None]
            return j

        return g, jac

    def mean(
        self,
        y: str | Sequence[str],
        *,
        by: ColumnSpec = None,
        deff: DeffSpec = False,
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Weighted mean (Hájek ratio estimator) with its linearised standard error.

        ``ybar = sum_i w_i y_i / sum_i w_i``; the variance is that of the total of the
        scores ``z_i = w_i (y_i - ybar) / sum_i w_i`` (Lumley 2010, sec. 2.3), computed by the
        multistage estimator or the replicate weights.

        Parameters
        ----------
        y : str or list of str
            Numeric column(s), or one categorical column (one row per level, ``level``
            column; the estimates are then the level proportions).
        by : str or list of str, optional
            Domain columns; one row per domain (sorted), ``by`` columns first.
        deff : bool or "replace"
            Add a ``deff`` column against SRS without (``True``) or with replacement.
        na_rm : bool
            Exclude rows with a missing ``y`` domain-style (zero score, kept in the design).
        level : float
            Confidence level.
        df : float, optional
            Degrees of freedom of the t quantile for the interval; default normal (as R).

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, [``level`` or ``variable``], ``estimate, se, ci_low, ci_high, df, n``
            [, ``deff``].

        Raises
        ------
        EstimationError
            Missing values with ``na_rm=False`` (names the column and count), a lonely PSU
            with ``lonely_psu="fail"`` (names the stratum), unknown columns.

        Examples
        --------
        Share of the demo's FY2025 respondents who know 協働 (よく or ある程度), among valid
        answers (無回答 = 9 left out domain-style), overall and by 中学校区, from the raked
        design:

        >>> import kyodo_analysis as ka
        >>> design = ka.open_study().design(2025)
        >>> q1 = design.data["q1"]
        >>> d = design.assign(aware=q1.isin([1, 2]).astype(float).where(q1 != 9))
        >>> print(d.mean("aware", na_rm=True)[["estimate", "se", "n"]].round(4).to_string(index=False))
         estimate     se    n
           0.5245 0.0126 1525
        >>> print(d.mean("aware", by="stratum", na_rm=True)[["stratum", "estimate", "se"]]
        ...       .round(4).to_string(index=False))
         stratum  estimate     se
               1    0.5352 0.0305
               2    0.4669 0.0292
               3    0.5614 0.0263
               4    0.5195 0.0281
               5    0.5338 0.0362
        """
        x, drop, levels, domains = self._mean_parts(y, by, na_rm)
        m = x.shape[1]
        xx = _with_ones(x)
        g, jac = self._ratio_fns(m)
        est, cov, ddf, n, dom, active = self._smooth(xx, drop, domains, g, jac, m)
        var = np.diag(cov).reshape(domains.n, m)
        dmat = None
        if deff:
            mean_row = est[np.clip(dom, 0, None)]
            wt = self._domain_totals(
                np.ones((len(x), 1)), np.where(active, self._w, 0), dom, domains.n
            )[:, 0]
            u = (np.where(np.isnan(x), 0, x) - mean_row) / wt[np.clip(dom, 0, None)][:, None]
            dmat = self._deff(deff, u, dom, domains.n, active, var)
        name = "level" if (levels is not None and len(_as_list(y)) == 1) else "variable"
        return self._table(domains, est, np.sqrt(var), ddf, n, level, df, levels, dmat, name)

    def total(
        self,
        y: str | Sequence[str],
        *,
        by: ColumnSpec = None,
        deff: DeffSpec = False,
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Horvitz–Thompson total ``sum_i w_i y_i`` with its design-based standard error.

        Parameters
        ----------
        y, by, deff, na_rm, level, df
            As :meth:`mean` (Lumley 2010, sec. 2.2).

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, [``level``], ``estimate, se, ci_low, ci_high, df, n`` [, ``deff``].

        Examples
        --------
        Residents who took part in a neighbourhood activity (問3-1), by 中学校区 (demo FY2025):

        >>> t = design.total("q3_1", by="stratum", na_rm=True)
        >>> print(t[["stratum", "estimate", "se"]].round(0).to_string(index=False))
         stratum  estimate    se
               1    6241.0 502.0
               2    6928.0 517.0
               3    8766.0 594.0
               4    8231.0 618.0
               5    5284.0 407.0
        """
        x, drop, levels, domains = self._mean_parts(y, by, na_rm)
        m = x.shape[1]

        def g(t: np.ndarray) -> np.ndarray:
            return t

        def jac(t: np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.eye(m), (t.shape[0], m, m)).copy()

        est, cov, ddf, n, dom, active = self._smooth(x, drop, domains, g, jac, m)
        var = np.diag(cov).reshape(domains.n, m)
        dmat = None
        if deff:
            u = np.where(np.isnan(x), 0, x)
            dmat = self._deff(deff, u, dom, domains.n, active, var)
        name = "level" if (levels is not None and len(_as_list(y)) == 1) else "variable"
        return self._table(domains, est, np.sqrt(var), ddf, n, level, df, levels, dmat, name)

    def ratio(
        self,
        num: str,
        den: str,
        *,
        by: ColumnSpec = None,
        deff: DeffSpec = False,
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Ratio of totals ``R = sum w y / sum w x`` (R ``svyratio``).

        Linearised score ``z_i = w_i (y_i - R x_i) / sum_i w_i x_i`` (Lumley 2010, sec. 3.3).
        Rows where either variable is missing are excluded together with ``na_rm=True``.

        Parameters
        ----------
        num, den : str
            Numerator and denominator columns.
        by, deff, na_rm, level, df
            As :meth:`mean`.

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, ``estimate, se, ci_low, ci_high, df, n`` [, ``deff``].

        Examples
        --------
        >>> print(design.ratio("q3_1", "q3_2", na_rm=True)[["estimate", "se"]].round(4).to_string(index=False))
         estimate     se
           2.1982 0.1388
        """
        domains = self._domains(by)
        yv, xv = self._numeric(num), self._numeric(den)
        drop = self._check_na([num, den], [yv, xv], na_rm)
        xx = np.asfortranarray(np.column_stack([yv, xv]))
        g, jac = self._ratio_fns(1)
        est, cov, ddf, n, dom, active = self._smooth(xx, drop, domains, g, jac, 1)
        var = np.diag(cov).reshape(domains.n, 1)
        dmat = None
        if deff:
            r = est[np.clip(dom, 0, None), 0]
            xt = self._domain_totals(
                np.where(np.isnan(xv), 0, xv)[:, None], self._w, dom, domains.n
            )[:, 0]
            u = ((np.nan_to_num(yv) - r * np.nan_to_num(xv)) / xt[np.clip(dom, 0, None)])[:, None]
            dmat = self._deff(deff, u, dom, domains.n, active, var)
        return self._table(domains, est, np.sqrt(var), ddf, n, level, df, None, dmat)

    def var(
        self,
        y: str,
        *,
        by: ColumnSpec = None,
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Population variance of ``y`` (R ``svyvar``).

        ``s^2 = n/(n-1) * sum w (y - ybar)^2 / sum w`` with ``n`` the number of rows with
        non-zero weight. With linearisation its standard error is that of the weighted mean
        of ``n/(n-1) (y - ybar)^2`` with ``ybar`` held fixed, as R does; with replicate
        weights the whole statistic is recomputed per replicate, as R does.

        Parameters
        ----------
        y : str
            Numeric column.
        by, na_rm, level, df
            As :meth:`mean`.

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, ``estimate, se, ci_low, ci_high, df, n``.

        Examples
        --------
        >>> print(design.var("q3sq")[["estimate", "se"]].round(3).to_string(index=False))
         estimate   se
            9.726 0.08
        """
        x, drop, levels, domains = self._mean_parts(y, by, na_rm)
        if levels is not None:
            raise EstimationError(f"var() needs a numeric column, {y!r} is categorical")
        if self._is_replicate:
            return self._var_replicate(x[:, 0], drop, domains, level, df)
        base = self.mean(y, by=by, na_rm=na_rm)
        dom = np.where(drop, -1, domains.codes)
        active = self._nonzero_weights()[0] & ~drop
        nobs = self._domain_counts(active, dom, domains.n).astype(float)
        dc = np.clip(dom, 0, None)
        xbar = base["estimate"].to_numpy()[dc]
        xv = np.where(np.isnan(x[:, 0]), 0.0, x[:, 0])
        sq = (xv - xbar) ** 2 * (nobs / (nobs - 1))[dc]
        sq = np.where(drop, np.nan, sq)
        xx = _with_ones(sq)
        g, jac = self._ratio_fns(1)
        est, cov, ddf, n, _, _ = self._smooth(xx, drop, domains, g, jac, 1)
        return self._table(domains, est, np.sqrt(np.diag(cov)).reshape(-1, 1), ddf, n, level, df)

    def _var_replicate(
        self,
        xv: np.ndarray,
        drop: np.ndarray,
        domains: _Domains,
        level: float,
        df: float | None,
    ) -> pd.DataFrame:
        """Variance recomputed in full (mean included) with every replicate weight (R)."""
        dom = np.where(drop, -1, domains.codes)
        active = self._nonzero_weights()[0] & ~drop
        nobs = self._domain_counts(active, dom, domains.n).astype(float)
        c = nobs / (nobs - 1)
        xx = _with_ones(xv**2, xv)

        def g(t: np.ndarray) -> np.ndarray:
            return np.asarray(c[:, None] * (t[..., 0:1] / t[..., 2:3] - (t[..., 1:2] / t[..., 2:3]) ** 2))

        def jac(t: np.ndarray) -> np.ndarray:
            t0, t1, t2 = t[:, 0], t[:, 1], t[:, 2]
            return np.asarray(
                c[:, None] * np.stack([1 / t2, -2 * t1 / t2**2, -t0 / t2**2 + 2 * t1**2 / t2**3], 1)
            )[:, None, :]

        est, cov, ddf, n, _, _ = self._smooth(xx, drop, domains, g, jac, 1)
        return self._table(domains, est, np.sqrt(np.diag(cov)).reshape(-1, 1), ddf, n, level, df)

    def proportion(
        self,
        y: str,
        *,
        success: Any = _MISSING,
        method: Literal["logit", "likelihood", "asin", "beta", "mean", "xlogit"] = "logit",
        by: ColumnSpec = None,
        df: float | None = None,
        level: float = 0.95,
        na_rm: bool = False,
        conf_level: Any = _MISSING,
    ) -> pd.DataFrame:
        r"""Proportion of ``y == success`` with an interval as R ``svyciprop``.

        The estimate is the weighted mean of the indicator, ``se`` its linearised standard
        error. Intervals (``df`` defaults to the design degrees of freedom, R ``degf``):

        * ``"logit"``/``"xlogit"``: ``expit(logit(p) -+ t * se / (p (1-p)))`` (the Wald
          interval of an intercept-only quasibinomial ``svyglm``, which is the same);
        * ``"likelihood"``: the design-adjusted profile likelihood interval of that model
          (Rao–Scott scaled deviance, solved exactly here; R interpolates the profile);
        * ``"asin"``: ``sin^2(asin(sqrt(p)) -+ t se / (2 sqrt(p(1-p))))``;
        * ``"beta"``: Korn & Graubard (1998): Clopper–Pearson with effective sample size
          ``p(1-p)/se^2 * (t_{n-1}/t_df)^2``;
        * ``"mean"``: ``p -+ t se``.

        Parameters
        ----------
        y : str
            Column; the proportion is that of rows equal to ``success``.
        success : scalar
            Value of ``y`` counted as a success (required).
        method : str
            Interval method (see above).
        by : str or list of str, optional
            Domains.
        df : float, optional
            Degrees of freedom; default each domain's ``degf`` (``numpy.inf``: normal).
        level : float
            Confidence level, as everywhere else in the engine.
        na_rm : bool
            Exclude missing ``y`` domain-style.
        conf_level
            Removed (it was the confidence level when ``level=`` meant the success value);
            passing it raises, naming the new keywords. Kept for one release.

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, ``estimate, se, ci_low, ci_high, df, n``.

        Raises
        ------
        EstimationError
            ``success=`` missing, ``level=`` not a probability (the old meaning of
            ``level=``), the removed ``conf_level=``, or an unknown method.

        Examples
        --------
        Korn–Graubard interval for the demo's awareness share (see :meth:`mean`):

        >>> import kyodo_analysis as ka
        >>> design = ka.open_study().design(2025)
        >>> q1 = design.data["q1"]
        >>> d = design.assign(aware=q1.isin([1, 2]).astype(float).where(q1 != 9))
        >>> ci = d.proportion("aware", success=1.0, method="beta", na_rm=True)
        >>> print(ci[["estimate", "ci_low", "ci_high"]].round(4).to_string(index=False))
         estimate  ci_low  ci_high
           0.5245  0.4994   0.5495
        """
        if conf_level is not _MISSING:
            raise EstimationError(
                "proportion(conf_level=) was removed: the confidence level is now level= "
                "(as in every other estimator) and the value counted as a success is success=; "
                f"call proportion({y!r}, success=<value>, level={conf_level!r})"
            )
        if success is _MISSING:
            raise EstimationError(
                f"proportion({y!r}) needs success=<value of {y!r} counted as a success>; "
                "level= is the confidence level (it used to be the success value)"
            )
        if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
            raise EstimationError(
                f"proportion: level={level!r} is not a confidence level in (0, 1); level= is the "
                "confidence level and the value counted as a success is now success="
            )
        if y not in self._frame.columns:
            raise EstimationError(f"column {y!r} not in the data")
        s = self._frame[y]
        na = s.isna().to_numpy()
        ind = np.where(na, np.nan, (s == success).fillna(False).to_numpy(dtype=bool).astype(float))
        drop = self._check_na([y], [ind], na_rm)
        domains = self._domains(by)
        xx = _with_ones(ind)
        g, jac = self._ratio_fns(1)
        est, cov, ddf, n, dom, _ = self._smooth(xx, drop, domains, g, jac, 1)
        p = est[:, 0]
        se = np.sqrt(np.diag(cov))
        use_df = ddf if df is None else np.full(domains.n, float(df))
        crit = _quantile_crit(level, use_df)
        with np.errstate(divide="ignore", invalid="ignore"):
            if method == "mean":
                lo, hi = p - crit * se, p + crit * se
            elif method in ("logit", "xlogit"):
                eta = np.log(p / (1 - p))
                se_eta = se / (p * (1 - p))
                if method == "logit" and self._is_replicate:
                    # R fits svyglm(y ~ 1, quasibinomial): with replicate weights the
                    # variance of the intercept comes from the replicate logits
                    se_eta = self._logit_se(xx, drop, domains)
                lo = 1 / (1 + np.exp(-(eta - crit * se_eta)))
                hi = 1 / (1 + np.exp(-(eta + crit * se_eta)))
            elif method == "asin":
                eta = np.arcsin(np.sqrt(p))
                se_eta = se / (2 * np.sqrt(p * (1 - p)))
                lo = np.sin(eta - crit * se_eta) ** 2
                hi = np.sin(eta + crit * se_eta) ** 2
            elif method == "beta":
                alpha = 1 - level
                n_eff = p * (1 - p) / se**2
                nrows = self._nrow_domain(domains, dom)
                n_eff = (
                    n_eff
                    * (_dist.t_ppf(alpha / 2, nrows - 1) / _dist.t_ppf(alpha / 2, use_df)) ** 2
                )
                lo = _dist.beta_ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)
                hi = _dist.beta_ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))
            elif method == "likelihood":
                se_eta = (
                    self._logit_se(xx, drop, domains) if self._is_replicate else se / (p * (1 - p))
                )
                lo, hi = self._likelihood_ci(ind, drop, domains, p, se_eta, use_df, level)
            else:
                raise EstimationError(f"unknown proportion method {method!r}")
        # degenerate domains (p = 0 or 1, zero variance): the interval collapses to p
        # (R returns NaN or p depending on rounding noise in p)
        degenerate = ((p <= 0) | (p >= 1)) & (se <= 1e-12)
        lo = np.where(degenerate, p, lo)
        hi = np.where(degenerate, p, hi)
        out = domains.table.copy()
        out["estimate"] = p
        out["se"] = se
        out["ci_low"] = lo
        out["ci_high"] = hi
        out["df"] = use_df
        out["n"] = n.astype(np.int64)
        return out

    def _logit_se(self, xx: np.ndarray, drop: np.ndarray, domains: _Domains) -> np.ndarray:
        """Standard error of ``logit(T1/T0)`` by domain (replicate designs)."""

        def g(t: np.ndarray) -> np.ndarray:
            return np.asarray(np.log(t[..., 0:1] / (t[..., 1:2] - t[..., 0:1])))

        def jac(t: np.ndarray) -> np.ndarray:
            a, b = t[:, 0], t[:, 1]
            return np.stack([1 / a + 1 / (b - a), -1 / (b - a)], axis=1)[:, None, :]

        _, cov, *_ = self._smooth(xx, drop, domains, g, jac, 1)
        return np.sqrt(np.diag(cov))

    def _nrow_domain(self, domains: _Domains, dom: np.ndarray) -> np.ndarray:
        """Number of rows R's ``nrow(design)`` sees in each domain subset (rows in the domain)."""
        base, all_nonzero = self._nonzero_weights()
        if not domains.by and all_nonzero:
            return np.array([float(len(self._frame))])
        codes = np.where(base, domains.codes, -1)
        return np.bincount(codes[codes >= 0], minlength=domains.n).astype(float)

    def _likelihood_ci(
        self,
        ind: np.ndarray,
        drop: np.ndarray,
        domains: _Domains,
        p: np.ndarray,
        se_eta: np.ndarray,
        df: np.ndarray,
        conf_level: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Design-adjusted profile-likelihood interval of an intercept-only quasibinomial fit.

        As R ``confint.svyglm(method="likelihood")``: with ``D(eta)`` the binomial deviance
        with the weights rescaled to mean one, ``phi`` the design-based dispersion (variance
        of the Pearson residuals) and ``lambda = V_design(etahat) / V_model(etahat)``, the
        interval is ``{eta : (D(eta) - D(etahat)) / phi <= t_df^2 lambda}`` (Lumley & Scott
        2014). It is solved exactly here; R interpolates a spline through a coarse grid of
        profile points, so the two agree to about three significant digits.
        """
        from scipy.optimize import brentq

        dom = np.where(drop, -1, domains.codes)
        lo = np.full(domains.n, np.nan)
        hi = np.full(domains.n, np.nan)
        y = np.nan_to_num(ind)[:, None]
        active, _ = self._nonzero_weights()
        w_tot = self._domain_totals(np.ones((len(y), 1)), self._w, dom, domains.n)[:, 0]
        y_tot = self._domain_totals(y, self._w, dom, domains.n)[:, 0]
        n_d = self._domain_counts(active, dom, domains.n).astype(float)
        for d in range(domains.n):
            ph = p[d]
            if not 0 < ph < 1:
                continue
            # weights rescaled to mean one within the domain (R svyglm)
            sw = n_d[d]
            s1 = y_tot[d] / (w_tot[d] / n_d[d])
            # design-based dispersion of the Pearson residuals (y - p)/sqrt(p(1-p)): their
            # weighted mean is 0 and mean square 1, so svyvar gives n/(n-1). (For replicate
            # designs R's summary.svrepglm dispersion is scaled by n, which makes its
            # profile interval NaN; we use the same n/(n-1) for both kinds of design.)
            phi = n_d[d] / (n_d[d] - 1)
            naive = 1 / (sw * ph * (1 - ph))
            lam = se_eta[d] ** 2 / naive
            a = (1 - conf_level) / 2
            tq = _dist.t_ppf(a, df[d]) if np.isfinite(df[d]) else _dist.norm_ppf(a)
            target = tq**2 * lam

            def dev(eta: float, s1: float = s1, sw: float = sw) -> float:
                return float(2 * (s1 * np.logaddexp(0, -eta) + (sw - s1) * np.logaddexp(0, eta)))

            eh = np.log(ph / (1 - ph))
            d0 = dev(eh)
            step = np.sqrt(naive * phi) * (abs(tq) * np.sqrt(lam) + 1)

            def fz(eta: float, d0: float = d0, phi: float = phi, target: float = target) -> float:
                return (dev(eta) - d0) / phi - target

            a_lo = eh - step
            while fz(a_lo) < 0:
                a_lo -= step
            a_hi = eh + step
            while fz(a_hi) < 0:
                a_hi += step
            lo[d] = 1 / (1 + np.exp(-brentq(fz, a_lo, eh, xtol=1e-14)))
            hi[d] = 1 / (1 + np.exp(-brentq(fz, eh, a_hi, xtol=1e-14)))
        return lo, hi

    # ------------------------------------------------------------- quantiles
    @staticmethod
    def _sorted_cdf(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Sorted values, cumulative weights and total (rows with zero weight removed).

        R accumulates ``cumsum()``/``sum()`` in long double; so do we, so that ties such
        as ``cumw == p * W`` are decided identically.
        """
        keep = w != 0
        x, w = x[keep], w[keep]
        order = np.argsort(x, kind="stable")
        cwl = np.cumsum(w[order].astype(np.longdouble))
        total = float(cwl[-1]) if len(cwl) else np.nan
        return x[order], cwl.astype(float), total

    @staticmethod
    def _qrule_sorted(xs: np.ndarray, cw: np.ndarray, total: float, p: float, rule: str) -> float:
        """R ``qrule_math`` (inverse weighted cdf) or ``qrule_hf7`` on sorted data."""
        n = len(xs)
        if n == 0:
            return np.nan
        if rule == "hf7":
            if n < 2:
                return float(xs[0])
            pk = np.concatenate([[0.0], cw[:-1]]) / cw[n - 2]
            return float(np.interp(p, pk, xs))
        pos = int(np.searchsorted(cw, p * total, side="right"))  # count of cw <= p W
        pos = max(pos, 1)
        wlow = p - cw[pos - 1] / total
        if wlow == 0:
            return float(xs[pos - 1])
        return float(xs[min(pos, n - 1)])

    def quantile(
        self,
        y: str,
        probs: float | Sequence[float],
        *,
        rule: Literal["math", "hf7"] = "math",
        by: ColumnSpec = None,
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Quantiles with Woodruff (1952) confidence intervals (R ``svyquantile``).

        The quantile is the inverse of the weighted distribution function (``rule="math"``:
        the smallest ``x`` with ``F(x) >= p``; ``"hf7"``: linear interpolation as
        Hyndman–Fan type 7). The interval maps the interval of ``F(qhat)`` (a proportion,
        with t quantile on ``df`` = ``degf``) back through the quantile function; ``se`` is
        its width over ``2 t``, as R.

        Parameters
        ----------
        y : str
            Numeric column.
        probs : float or list of float
            Probabilities in (0, 1).
        rule : {"math", "hf7"}
            Quantile rule (R ``qrule``).
        by : str or list of str, optional
            Domains.
        na_rm : bool
            Exclude missing values domain-style.
        level : float
            Confidence level.
        df : float, optional
            Degrees of freedom (default ``degf`` of each domain).

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, ``prob``, ``estimate, se, ci_low, ci_high, df, n``.

        Examples
        --------
        >>> q = design.quantile("q3sq", [0.25, 0.5, 0.75])
        >>> print(q[["estimate", "ci_low", "ci_high"]].to_string(index=False))
         estimate  ci_low  ci_high
              2.0     2.0      3.0
              3.0     3.0      8.0
              8.0     8.0      9.0
        """
        probs_l = [float(probs)] if isinstance(probs, (int, float)) else [float(p) for p in probs]
        xv = self._numeric(y)
        drop = self._check_na([y], [xv], na_rm)
        domains = self._domains(by)
        dom = np.where(drop, -1, domains.codes)
        active = self._nonzero_weights()[0] & ~drop
        ddf = self._degf(active, dom, domains.n) if df is None else np.full(domains.n, float(df))
        nn = self._domain_counts(active, dom, domains.n)
        x0 = np.nan_to_num(xv)
        if rule not in ("math", "hf7"):
            raise EstimationError(f"unknown quantile rule {rule!r}")
        # one sort per domain (rows in domain order via a stable lexsort)
        sel_rows = np.flatnonzero(active & (dom >= 0))
        order = sel_rows[np.lexsort((x0[sel_rows], dom[sel_rows]))]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(dom[order], minlength=domains.n))])
        cdfs = []
        for d in range(domains.n):
            r = order[bounds[d] : bounds[d + 1]]
            cdfs.append(self._sorted_cdf(x0[r], self._w[r]))
        crit = np.atleast_1d(_quantile_crit(level, ddf)) * np.ones(domains.n)
        rows = []
        g, jac = self._ratio_fns(1)
        for p in probs_l:
            q = np.array([self._qrule_sorted(*cdfs[d], p, rule) for d in range(domains.n)])
            # Woodruff: interval of F(q) = mean of 1{x <= q} in each domain, in one pass
            ind = np.where(np.isnan(xv), np.nan, (x0 <= q[np.clip(dom, 0, None)]).astype(float))
            xx = _with_ones(ind)
            est, cov, *_ = self._smooth(xx, drop, domains, g, jac, 1)
            pm, pse = est[:, 0], np.sqrt(np.diag(cov))
            for d in range(domains.n):
                lo_p, hi_p = pm[d] - crit[d] * pse[d], pm[d] + crit[d] * pse[d]
                lo = (
                    np.nan
                    if (np.isnan(lo_p) or lo_p < 0)
                    else self._qrule_sorted(*cdfs[d], lo_p, rule)
                )
                hi = (
                    np.nan
                    if (np.isnan(hi_p) or hi_p > 1)
                    else self._qrule_sorted(*cdfs[d], hi_p, rule)
                )
                rows.append((d, p, q[d], (hi - lo) / (2 * crit[d]), lo, hi, ddf[d], nn[d]))
        res = pd.DataFrame(
            rows, columns=["_d", "prob", "estimate", "se", "ci_low", "ci_high", "df", "n"]
        ).sort_values("_d", kind="stable")
        out = domains.table.loc[res["_d"]].reset_index(drop=True)
        for c in res.columns[1:]:
            out[c] = res[c].to_numpy()
        out["n"] = out["n"].astype(np.int64)
        return out

    def _linear_cov(
        self, x: np.ndarray, drop: np.ndarray, kind: Literal["mean", "total"]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and covariance of the means or totals of the columns of ``x``."""
        domains = _Domains(self._frame, [])
        m = x.shape[1]
        if kind == "mean":
            xx = _with_ones(x)
            g, jac = self._ratio_fns(m)
        else:
            xx = x

            def g(t: np.ndarray) -> np.ndarray:
                return t

            def jac(t: np.ndarray) -> np.ndarray:
                return np.broadcast_to(np.eye(m), (t.shape[0], m, m)).copy()

        est, cov, *_ = self._smooth(xx, drop, domains, g, jac, m)
        return est[0], cov

    # ------------------------------------------------------- contrasts etc.
    def contrast(
        self,
        y: str,
        coefficients: dict[Any, float] | Sequence[float],
        *,
        by: ColumnSpec,
        statistic: Literal["mean", "total"] = "mean",
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Linear contrast ``sum_d c_d theta_d`` of domain estimates (R ``svycontrast`` on
        ``svyby(..., covmat=TRUE)``), with the joint linearised covariance of the domains.

        Parameters
        ----------
        y : str
            Numeric column (for a proportion pass a 0/1 column).
        coefficients : dict or sequence
            Coefficient per domain: a dict keyed by the domain value (a tuple when ``by``
            has several columns) or a sequence in the order of ``self.mean(y, by=by)``.
        by : str or list of str
            Domain columns.
        statistic : "mean" or "total"
            Which domain estimates to contrast.

        Returns
        -------
        pandas.DataFrame
            One row: ``estimate, se, ci_low, ci_high, df, n, t, p_value`` (``t`` = estimate/se;
            interval and ``p_value`` use the normal reference as R ``confint(svycontrast())``,
            or t(``df``) when ``df`` is given; the ``df`` column is the design ``degf``).

        Examples
        --------
        >>> c = design.contrast("q3_1", {1: 1, 2: -1}, by="stratum", na_rm=True)
        >>> print(c[["estimate", "se"]].round(4).to_string(index=False))
         estimate     se
          -0.0247 0.0393
        """
        cols = _as_list(y)
        x, drop, levels, domains = self._mean_parts(cols, by, na_rm)
        if levels is not None and x.shape[1] > 1:
            raise EstimationError("contrast() needs one numeric column")
        if statistic == "mean":
            xx = _with_ones(x)
            g, jac = self._ratio_fns(1)
        else:
            xx = x

            def g(t: np.ndarray) -> np.ndarray:
                return t

            def jac(t: np.ndarray) -> np.ndarray:
                return np.ones((t.shape[0], 1, 1))

        est, cov, _, n, _, _ = self._smooth(xx, drop, domains, g, jac, 1)
        if isinstance(coefficients, dict):
            keys = [
                tuple(r) if len(domains.by) > 1 else r[0]
                for r in domains.table.itertuples(index=False)
            ]
            c = np.array([float(coefficients.get(k, 0.0)) for k in keys])
            unknown = set(coefficients) - set(keys)
            if unknown:
                raise EstimationError(
                    f"contrast names unknown domain(s): {sorted(map(str, unknown))}"
                )
        else:
            c = np.asarray(coefficients, dtype=float)
            if len(c) != domains.n:
                raise EstimationError(f"{len(c)} coefficients for {domains.n} domains")
        e = float(c @ est[:, 0])
        s = float(np.sqrt(c @ cov @ c))
        full_df = self.degf() if df is None else float(df)
        crit = float(_quantile_crit(level, None if df is None else full_df))
        tstat = e / s
        # like the interval: normal reference unless df is given (R confint on svycontrast)
        pval = 2 * (
            _dist.t_sf(abs(tstat), full_df)
            if df is not None and np.isfinite(full_df)
            else _dist.norm_sf(abs(tstat))
        )
        return pd.DataFrame(
            {
                "estimate": [e],
                "se": [s],
                "ci_low": [e - crit * s],
                "ci_high": [e + crit * s],
                "df": [full_df],
                "n": [int(n[c != 0].sum())],
                "t": [tstat],
                "p_value": [pval],
            }
        )

    def difference(
        self,
        y: str,
        *,
        by: str,
        levels: tuple[Any, Any],
        statistic: Literal["mean", "total"] = "mean",
        na_rm: bool = False,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Difference ``theta[levels[0]] - theta[levels[1]]`` between two domains of ``by``.

        Both domains come from the same sample, so their covariance (shared PSUs and
        strata) enters the standard error; see :meth:`contrast`.

        Parameters
        ----------
        y : str
            Numeric (or 0/1) column.
        by : str
            Domain column.
        levels : tuple
            The two domain values ``(a, b)``; the result is ``a - b``.
        statistic : {"mean", "total"}
            Which domain estimates to compare.
        na_rm : bool
            Exclude missing values domain-style.
        level : float
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            One row: ``estimate, se, ci_low, ci_high, df, n, t, p_value``.

        Examples
        --------
        >>> d = design.difference("q3_1", by="reg_sex", levels=(2, 1), na_rm=True)
        >>> print(d[["estimate", "se"]].round(4).to_string(index=False))
         estimate     se
           0.0183 0.0246
        """
        return self.contrast(
            y,
            {levels[0]: 1.0, levels[1]: -1.0},
            by=by,
            statistic=statistic,
            na_rm=na_rm,
            level=level,
        )

    def multi_response(
        self,
        columns: Sequence[str],
        *,
        by: ColumnSpec = None,
        level: float = 0.95,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Multiple-response question: % of respondents choosing each option.

        ``columns`` are 0/1 indicators, one per option. The base is the respondents, rows
        where at least one option is not missing; within the base a missing option counts
        as not chosen. Each option's share is a ratio mean over the same base, so shares may
        sum to more than 1 (Lumley 2010, sec. 2.3 domain means).

        Parameters
        ----------
        columns : list of str
            One 0/1 column per option.
        by : str or list of str, optional
            Domains.
        level : float
            Confidence level.
        df : float, optional
            t degrees of freedom for the interval (default normal).

        Returns
        -------
        pandas.DataFrame
            ``by`` columns, ``option``, ``estimate, se, ci_low, ci_high, df, n`` (``n``: base).

        Examples
        --------
        Activities the demo's FY2025 respondents took part in (問3, one 0/1 column each):

        >>> import kyodo_analysis as ka
        >>> design = ka.open_study().design(2025)
        >>> mr = design.multi_response(["q3_1", "q3_2", "q3_3", "q3_4", "q3_5"])
        >>> print(mr[["option", "estimate", "se"]].round(4).to_string(index=False))
        option  estimate     se
          q3_1    0.3272 0.0113
          q3_2    0.1525 0.0090
          q3_3    0.0423 0.0050
          q3_4    0.0924 0.0077
          q3_5    0.1503 0.0093
        """
        cols = list(columns)
        vals = np.column_stack([self._numeric(c) for c in cols])
        bad = ~np.isin(vals, [0.0, 1.0]) & ~np.isnan(vals)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            raise EstimationError(
                f"multiple-response column {cols[j]!r} holds values other than 0/1"
            )
        base = ~np.isnan(vals).all(axis=1)
        x = np.nan_to_num(vals)
        domains = self._domains(by)
        xx = _with_ones(x)
        g, jac = self._ratio_fns(len(cols))
        est, cov, ddf, n, _, _ = self._smooth(xx, ~base, domains, g, jac, len(cols))
        se = np.sqrt(np.diag(cov)).reshape(domains.n, len(cols))
        return self._table(domains, est, se, ddf, n, level, df, cols, None, "option")

    # ------------------------------------------------ crosstab and models
    def crosstab(
        self,
        row: str,
        col: str,
        *,
        statistic: Literal["F", "Chisq", "Wald", "adjWald"] = "F",
    ) -> CrosstabResult:
        """Weighted two-way table with a design-based test of independence (R ``svychisq``).

        Parameters
        ----------
        row, col : str
            Categorical columns.
        statistic : {"F", "Chisq", "Wald", "adjWald"}
            Rao–Scott second-order F (default), first-order chi-square, or Wald tests;
            see :func:`kyodo_analysis.stats.crosstab.crosstab`.

        Returns
        -------
        CrosstabResult
            ``table`` (weighted counts), ``proportions`` and ``test`` (``statistic``,
            ``ndf``/``ddf`` or ``df``, ``p_value``).

        Examples
        --------
        Interest in civic activity (問2) by register sex, Rao–Scott F test:

        >>> import kyodo_analysis as ka
        >>> design = ka.open_study().design(2025)
        >>> test = design.crosstab("q2", "reg_sex", statistic="F").test
        >>> print(test[["statistic", "ndf", "p_value"]].round(4).to_string(index=False))
         statistic    ndf  p_value
            0.7543 3.9869   0.5546
        """
        from kyodo_analysis.stats.crosstab import crosstab

        return crosstab(self, row, col, statistic=statistic)

    def glm(
        self,
        formula: str,
        *,
        family: Literal[
            "gaussian", "binomial", "poisson", "quasibinomial", "quasipoisson"
        ] = "gaussian",
    ) -> SvyGLMResult:
        """Design-weighted GLM with sandwich variance (R ``svyglm``; Binder 1983).

        Parameters
        ----------
        formula : str
            Wilkinson formula (``formulaic``), e.g. ``"y ~ x + C(region)"``.
        family : str
            ``gaussian``, ``binomial``/``quasibinomial`` or ``poisson``/``quasipoisson``.

        Returns
        -------
        SvyGLMResult
            ``coefficients`` (``estimate, se, t, p`` by term), ``vcov``, ``df_residual``
            (``degf + 1 - p``), ``dispersion``.

        Raises
        ------
        EstimationError
            Bad formula, unknown family, non-convergence, rank deficiency.

        Examples
        --------
        >>> fit = design.glm("q3_1 ~ C(reg_sex)", family="quasibinomial")
        >>> print(fit.coefficients[["estimate", "se"]].round(4).to_string())
                         estimate      se
        term
        Intercept         -0.5885  0.0784
        C(reg_sex)[T.2]    0.0789  0.1060
        """
        from kyodo_analysis.stats.glm import svyglm

        return svyglm(self, formula, family=family)


class SurveyDesign(_BaseDesign):
    """A survey design for Taylor-linearisation inference (R ``svydesign``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    weights : str, optional
        Sampling weight column. Without it, weights are the inverse of the product of the
        stage sampling fractions implied by ``fpc``, or 1.
    strata : str or list of str, optional
        Stratum column (one per stage for multistage designs; the last is reused).
    psu : str or list of str, optional
        Cluster column(s), first stage first. Without it each row is its own unit.
    fpc : str or list of str, optional
        Finite population correction per stage: population sizes (all values >= 1) or
        sampling fractions (all <= 1), as R. Without it sampling is with replacement and
        only the first stage enters the variance (ultimate cluster).
    nest : bool
        PSU labels are only unique within strata (R ``nest=TRUE``).
    lonely_psu : {"fail", "certainty", "remove", "adjust", "average"}
        Strata with a single sampled unit, as R ``options(survey.lonely.psu=)``.

    Raises
    ------
    EstimationError
        Unknown column, missing values in design columns, inconsistent fpc, PSUs not nested.

    Examples
    --------
    The demo study's FY2025 wave is stratified by 中学校区 (``stratum``) with each stratum's
    frame size as finite population correction (:meth:`Study.design` builds it so):

    >>> import kyodo_analysis as ka
    >>> study = ka.open_study()  # the synthetic demo study
    >>> wave = study.load_wave(2025)
    >>> sizes = {1: 18476, 2: 19067, 3: 25109, 4: 24267, 5: 11989}
    >>> frame = wave.assign(N=wave["stratum"].map(sizes).astype(float))
    >>> design = SurveyDesign(frame, strata="stratum", fpc="N")
    >>> design
    SurveyDesign(1564 rows, 1564 PSUs, 5 strata, fpc, degf=1559, lonely_psu='fail')

    A two-stage cluster design names one column per stage:
    ``SurveyDesign(apiclus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])``.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        weights: str | None = None,
        strata: ColumnSpec = None,
        psu: ColumnSpec = None,
        fpc: ColumnSpec = None,
        nest: bool = False,
        lonely_psu: Literal["fail", "certainty", "remove", "adjust", "average"] = "fail",
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise EstimationError("data must be a pandas DataFrame")
        if lonely_psu not in LONELY_OPTIONS:
            raise EstimationError(f"lonely_psu must be one of {LONELY_OPTIONS}, not {lonely_psu!r}")
        psu_l, strata_l, fpc_l = _as_list(psu), _as_list(strata), _as_list(fpc)
        for c in [*psu_l, *strata_l, *fpc_l, *([weights] if weights else [])]:
            if c not in data.columns:
                raise EstimationError(f"design column {c!r} not in the data")
            nna = int(data[c].isna().sum())
            if nna:
                raise EstimationError(f"design column {c!r} has {nna} missing value(s)")
        self._frame = data.reset_index(drop=True)
        self._spec = {
            "weights": weights,
            "strata": strata_l,
            "psu": psu_l,
            "fpc": fpc_l,
            "nest": nest,
        }
        self.lonely_psu = lonely_psu
        self._stages: list[Stage] = build_stages(self._frame, psu_l, strata_l, fpc_l, nest)
        if weights is not None:
            w = pd.to_numeric(self._frame[weights]).to_numpy(dtype=float)
            if not w.flags.writeable:
                # a read-only view of the frame's block: numpy.bincount copies read-only
                # weights on every call, so the design keeps its own array
                w = w.copy()
            if (w < 0).any() or not np.isfinite(w).all():
                raise EstimationError(
                    f"weights column {weights!r} has negative or non-finite values"
                )
        else:
            w = np.ones(len(self._frame))
            for st in self._stages:
                if np.isfinite(st.popsize).any():
                    s_row = st.unit_stratum[st.unit]
                    w = w * np.where(np.isinf(st.popsize), 1.0, st.popsize / st.n_sampled)[s_row]
        self._w = w

    def __repr__(self) -> str:
        st = self._stages[0]
        spec = self._spec
        parts = [f"{len(self._frame)} rows", f"{st.n_units} PSUs", f"{st.n_strata} strata"]
        if len(self._stages) > 1:
            parts.append(f"{len(self._stages)} stages")
        parts.append("fpc" if spec["fpc"] else "with replacement")
        if (self._w == 0).any():
            parts.append(f"{int(self._nonzero_weights()[0].sum())} rows in domain")
        parts += [f"degf={self.degf():g}", f"lonely_psu={self.lonely_psu!r}"]
        return f"SurveyDesign({', '.join(parts)})"

    @property
    def stages(self) -> list[Stage]:
        """The sampling stages (internal representation)."""
        return self._stages

    def _with_weights(self, w: np.ndarray) -> SurveyDesign:
        new = object.__new__(SurveyDesign)
        new.__dict__.update(self.__dict__)
        new._w = w
        return new

    def _degf(self, active: np.ndarray, dom: np.ndarray, n_dom: int) -> np.ndarray:
        return design_df(self._stages, active, dom, n_dom)

    def _smooth(
        self,
        x: np.ndarray,
        drop: np.ndarray,
        domains: _Domains,
        g: Callable[[np.ndarray], np.ndarray],
        jac: Callable[[np.ndarray], np.ndarray],
        k: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Linearised estimate of a smooth function of domain totals, in one grouped pass.

        The rows are summed once into (unit x domain) totals of ``w x`` for the units of
        the last stage used; since the linearised score of a row is
        ``w_i x_i' J_d`` (``J_d`` the Jacobian of ``g`` at the domain totals), the score
        totals of every unit are ``T_g J_d``: no per-row score is ever formed. The
        covariance, ``degf`` and counts all come from these unit totals.
        """
        n_dom = domains.n
        any_drop = bool(drop.any())
        dom = np.where(drop, -1, domains.codes) if any_drop else domains.codes
        ones_last = _ones_last(x)
        p = x.shape[1]
        if np.isnan((x[:, : p - 1] if ones_last else x).sum(axis=0)).any():
            x = np.where(np.isnan(x), 0.0, x)
        w = self._w
        nonzero, all_nonzero = self._nonzero_weights()
        active = nonzero & ~drop if any_drop else nonzero
        n_use = stages_used(self._stages)
        last = self._stages[n_use - 1]
        n_units = last.n_units
        size = n_units * n_dom
        if n_use == 1 and not self._spec["psu"] and n_dom > 1 and size * p > _DENSE_LIMIT:
            return self._smooth_row_units(x, dom, active, n_dom, g, jac, k, ones_last)
        # every row in a domain of the by-columns: the (unit, domain) key is kept with them
        reuse = False
        if dom.min(initial=0) < 0:
            keep = dom >= 0
            key = last.unit[keep] * n_dom + dom[keep]
            wk, xk, actk = w[keep], x[keep], active[keep]
        else:
            reuse = dom is domains.codes
            key = domains.unit_key(last.unit, n_dom) if reuse else last.unit * n_dom + dom
            wk, xk, actk = w, x, active
        u = np.empty((size, p))
        for b in range(p):
            if ones_last and b == p - 1:
                u[:, b] = (domains.unit_weights(last.unit, n_dom, size, w) if reuse
                           else np.bincount(key, weights=wk, minlength=size))
            else:
                u[:, b] = np.bincount(key, weights=wk * xk[:, b], minlength=size)
        all_active = all_nonzero and not any_drop
        if reuse and all_active:
            cnt = domains.unit_counts(last.unit, n_dom, size).reshape(n_units, n_dom)
        else:
            all_active = all_active or bool(actk.all())
            cnt = np.bincount(key if all_active else key[actk], minlength=size).reshape(n_units, n_dom)
        u3 = u.reshape(n_units, n_dom, p)
        totals = u3.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            est = g(totals)
            jmat = jac(totals)  # (n_dom, k, p)
            z = np.einsum("gdp,dkp->gdk", u3, jmat).reshape(n_units, n_dom * k)
        cov = unit_vcov(self._stages, z, cnt.sum(axis=1) > 0, lonely_psu=self.lonely_psu)
        pres = cnt
        for kk in range(n_use - 1, 0, -1):
            st = self._stages[kk]
            pres = np.bincount(
                np.repeat(st.unit_parent, n_dom) * n_dom + np.tile(np.arange(n_dom), st.n_units),
                weights=pres.ravel(),
                minlength=self._stages[kk - 1].n_units * n_dom,
            ).reshape(self._stages[kk - 1].n_units, n_dom)
        df = df_from_presence(self._stages, pres)
        n = cnt.sum(axis=0)
        return est.reshape(n_dom, k), cov, df, n, dom, active

    def _smooth_row_units(
        self,
        x: np.ndarray,
        dom: np.ndarray,
        active: np.ndarray,
        n_dom: int,
        g: Callable[[np.ndarray], np.ndarray],
        jac: Callable[[np.ndarray], np.ndarray],
        k: int,
        ones_last: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Memory-lean variant of :meth:`_smooth` when every row is its own unit.

        A unit's score vector is non-zero only in its own domain's block, so
        ``sum_g c_g (z_g - M_h)(z_g - M_h)' = sum_g c_g z_g z_g' - sum_h c_h n_h M_h M_h'``
        is assembled from per-domain and per-stratum sums without the dense
        (units x domains) matrix.
        """
        st = self._stages[0]
        w = self._w
        totals = self._domain_totals(x, w, dom, n_dom, ones_last=ones_last)
        with np.errstate(divide="ignore", invalid="ignore"):
            est = g(totals)
            jmat = jac(totals)
        keep = dom >= 0
        dk = dom[keep]
        xk = x[keep]
        zk = np.zeros((len(dk), k))
        for a in range(k):
            for b in range(x.shape[1]):
                coef = jmat[:, a, b][dk]
                zk[:, a] += coef if (ones_last and b == x.shape[1] - 1) else xk[:, b] * coef
        zk *= w[keep][:, None]
        srow = st.unit_stratum[st.unit[keep]]
        met_units = np.zeros(st.n_units, dtype=bool)
        met_units[st.unit[active & keep]] = True
        sw = stratum_weights(
            st, 0, met_units, np.array([met_units.any()]), np.ones(st.n_strata), self.lonely_psu
        )
        q = n_dom * k
        if sw is None:
            cov = np.full((q, q), np.nan)
        else:
            c_h, uncentred = sw
            crow = c_h[srow]
            cov = np.zeros((q, q))
            idx = np.arange(n_dom) * k
            for a in range(k):
                for b in range(k):
                    cov[idx + a, idx + b] = np.bincount(
                        dk, weights=crow * zk[:, a] * zk[:, b], minlength=n_dom
                    )
            msum = np.empty((st.n_strata, q))
            for a in range(k):
                msum[:, a::k] = np.bincount(
                    srow * n_dom + dk, weights=zk[:, a], minlength=st.n_strata * n_dom
                ).reshape(st.n_strata, n_dom)
            m = msum / st.n_sampled[:, None]
            m[uncentred] = 0.0
            cov -= m.T @ (m * (c_h * st.n_sampled)[:, None])
        act = active & keep
        n = np.bincount(dom[act], minlength=n_dom)
        s_pres = np.bincount(
            st.unit_stratum[st.unit[act]] * n_dom + dom[act], minlength=st.n_strata * n_dom
        ).reshape(st.n_strata, n_dom)
        df = (n - (s_pres > 0).sum(axis=0)).astype(float)
        return est.reshape(n_dom, k), cov, df, n, dom, active

    def scores_vcov(self, z: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Design covariance of the totals of weighted score columns (R ``svyrecvar``).

        Parameters
        ----------
        z : ndarray, shape (n, k)
            Scores already multiplied by the sampling weights (zero outside the domain).
        active : ndarray of bool, optional
            Rows taking part (for the lonely-PSU check); default non-zero weight.

        Returns
        -------
        ndarray, shape (k, k)

        Examples
        --------
        The variance of a total is that of the weighted scores ``w_i y_i``:

        >>> import numpy as np
        >>> z = (design.weights * design.data["q3sq"].to_numpy(dtype=float))[:, None]
        >>> v = design.scores_vcov(z)
        >>> bool(np.isclose(np.sqrt(v[0, 0]), design.total("q3sq")["se"].iloc[0]))
        True
        """
        if active is None:
            active, _ = self._nonzero_weights()
        return multistage_vcov(self._stages, z, None, 1, lonely_psu=self.lonely_psu, active=active)

    # Weighting: thin delegations to kyodo_analysis.stats.weighting, which builds on this
    # module (so it is imported when called, and only named for the type checker above).
    # Each returns a WeightedDesign.
    def poststratify(self, population: Any, **options: Any) -> WeightedDesign:
        """Post-stratify to population cell counts; see :func:`.weighting.poststratify`."""
        from kyodo_analysis.stats.weighting import poststratify

        return poststratify(self, population, **options)

    def rake(self, margins: Mapping[str, Any], **options: Any) -> WeightedDesign:
        """Rake to one-way population margins; see :func:`.weighting.rake`."""
        from kyodo_analysis.stats.weighting import rake

        return rake(self, margins, **options)

    def calibrate(self, totals: Any, **options: Any) -> WeightedDesign:
        """Calibrate to population totals (GREG); see :func:`.weighting.calibrate`."""
        from kyodo_analysis.stats.weighting import calibrate

        return calibrate(self, totals, **options)

    def trim(self, lower: float | None = None, upper: float | None = None, *, strict: bool = False) -> WeightedDesign:
        """Trim weights, sharing the excess; see :func:`.weighting.trim`."""
        from kyodo_analysis.stats.weighting import trim

        return trim(self, lower, upper, strict=strict)

    def to_replicate(self, type: str = "auto", **kwargs: Any) -> ReplicateDesign:
        """Replicate-weight version of this design (R ``as.svrepdesign``).

        Parameters
        ----------
        type : {"auto", "JK1", "JKn", "bootstrap", "BRR", "Fay"}
            Replication method; see :func:`kyodo_analysis.stats.replicate.to_replicate`.
        **kwargs
            ``replicates``, ``rho``, ``mse``, ``seed``.

        Returns
        -------
        ReplicateDesign

        Examples
        --------
        >>> jk = design.to_replicate("JKn")
        >>> print(jk.mean("q3_1", na_rm=True)[["estimate", "se"]].round(4).to_string(index=False))
         estimate     se
           0.3669 0.0122
        """
        from kyodo_analysis.stats.replicate import to_replicate

        return to_replicate(self, type, **kwargs)


def compare_independent(
    a: pd.Series | pd.DataFrame | dict[str, float],
    b: pd.Series | pd.DataFrame | dict[str, float],
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    r"""Difference between estimates from two independent samples (e.g. two survey waves).

    ``d = a - b``, ``se = sqrt(se_a^2 + se_b^2)`` (independent samples have zero
    covariance), Wald z test of ``d = 0`` with the normal reference distribution and a
    normal-quantile interval. ``df`` reports ``min(df_a, df_b)`` for information.

    Parameters
    ----------
    a, b : pandas.Series, dict or pandas.DataFrame
        One result row each, with at least ``estimate`` and ``se`` (``df`` optional); or
        two result tables (e.g. ``mean(..., by=...)`` of two waves), matched on their
        ``by``/``level`` columns (every column other than the result vocabulary).
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per compared estimate: [key columns], ``estimate, se, ci_low, ci_high, df,
        z, p_value``.

    Raises
    ------
    EstimationError
        Tables whose key columns differ or that share no row.

    Examples
    --------
    >>> a = {"estimate": 0.5, "se": 0.03}
    >>> b = {"estimate": 0.4, "se": 0.04}
    >>> print(compare_independent(a, b)[["estimate", "se", "z", "p_value"]].round(4).to_string(index=False))
     estimate   se   z  p_value
          0.1 0.05 2.0   0.0455
    """
    result_cols = {"estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "t", "z", "p_value"}
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        if not (isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)):
            raise EstimationError("compare_independent: pass two rows or two tables")
        keys_a = [c for c in a.columns if c not in result_cols]
        keys_b = [c for c in b.columns if c not in result_cols]
        if keys_a != keys_b:
            raise EstimationError(f"tables have different key columns: {keys_a} vs {keys_b}")
        cols = ["estimate", "se", *(["df"] if "df" in a and "df" in b else [])]
        if keys_a:
            m = a[keys_a + cols].merge(b[keys_a + cols], on=keys_a, suffixes=("_a", "_b"))
        else:
            if len(a) != len(b):
                raise EstimationError("tables without key columns must have the same length")
            m = pd.concat(
                [
                    a[cols].add_suffix("_a").reset_index(drop=True),
                    b[cols].add_suffix("_b").reset_index(drop=True),
                ],
                axis=1,
            )
        if m.empty:
            raise EstimationError("the two tables share no domain")
        out = m[keys_a].copy() if keys_a else pd.DataFrame(index=m.index)
        ea, eb = m["estimate_a"].to_numpy(float), m["estimate_b"].to_numpy(float)
        sa, sb = m["se_a"].to_numpy(float), m["se_b"].to_numpy(float)
        dfa = m["df_a"].to_numpy(float) if "df_a" in m else np.full(len(m), np.inf)
        dfb = m["df_b"].to_numpy(float) if "df_b" in m else np.full(len(m), np.inf)
    else:
        out = pd.DataFrame(index=[0])
        ea, eb = np.array([float(a["estimate"])]), np.array([float(b["estimate"])])
        sa, sb = np.array([float(a["se"])]), np.array([float(b["se"])])
        dfa = np.array([float(a["df"]) if "df" in a else np.inf])
        dfb = np.array([float(b["df"]) if "df" in b else np.inf])
    d = ea - eb
    s = np.sqrt(sa**2 + sb**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, d / s, np.nan)
    crit = float(_dist.norm_ppf((1 + level) / 2))
    out["estimate"] = d
    out["se"] = s
    out["ci_low"] = d - crit * s
    out["ci_high"] = d + crit * s
    out["df"] = np.minimum(dfa, dfb)
    out["z"] = z
    out["p_value"] = 2 * _dist.norm_sf(np.abs(z))
    return out.reset_index(drop=True)
