"""Normalisation of cell values as Japanese municipal files write them.

Full-width digits and letters become half-width (Unicode NFKC), stray spaces (including the
ideographic space U+3000) are trimmed, numbers written with thousands separators or full-width
minus signs become numbers. Work is done once per *distinct* value of a column (via
``pandas.factorize``), so a million-row column holding a handful of codes costs a handful of
conversions.

Labels are compared folded (:func:`fold_label`), and dates are read in the forms municipal
files write them (:func:`parse_date`).
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["factorize", "fold_label", "normalise_cell", "normalise_strings", "parse_date",
           "parse_number"]

_MINUS = str.maketrans({"−": "-", "－": "-", "‐": "-", "―": "-", "–": "-"})
_NUMBER_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_SPACE_RE = re.compile(r"\s+")
# 2025/7/5, 2025-07-05, 2025.7.5, 2025年7月5日 (a time of day after it is ignored)
_WESTERN_RE = re.compile(r"^(\d{4})\s*(?:[/.\-]|年)\s*(\d{1,2})\s*(?:[/.\-]|月)\s*(\d{1,2})\s*日?"
                         r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
# 令和7年7月5日, 令和元年5月1日, R7.7.12, R7/7/12, H31.4.30
_ERA_DATE_RE = re.compile(r"^(令和|平成|昭和|[RHS])\s*(元|\d{1,2})\s*(?:[/.\-]|年)\s*(\d{1,2})\s*"
                          r"(?:[/.\-]|月)\s*(\d{1,2})\s*日?$", re.IGNORECASE)
_WEEKDAY_RE = re.compile(r"\s*\([月火水木金土日]\)$")  # 2025年7月5日(土)
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")  # 20250705
#: Excel serial numbers taken for dates: 1901-01-01 to 2099-12-31.
EXCEL_SERIAL_RANGE = (367, 73050)
_EXCEL_EPOCH = _dt.date(1899, 12, 30)


def normalise_cell(value: object) -> str:
    """NFKC-fold and trim one cell; a missing value becomes the empty string.

    NFKC turns 「１２」 into "12", 「ＡＢ」 into "AB" and U+3000 into a space; kanji and kana
    stay as they are (half-width katakana become full-width, as a reader expects).
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def fold_label(value: object) -> str:
    """A label (or cell) as labels are compared: NFKC, trimmed, case-folded, with every space
    removed, so that 「板山 」, 「板山　」 and 「板 山」 are the same spelling."""
    return _SPACE_RE.sub("", normalise_cell(value)).casefold()


def parse_date(value: object) -> _dt.date:
    """A calendar date from a cell as municipal files write it.

    Accepts ``datetime``/``date`` objects (openpyxl's reading of date cells), Excel serial
    numbers in :data:`EXCEL_SERIAL_RANGE`, 20250705, 2025/7/5, 2025-07-05, 2025.7.5,
    2025年7月5日 (a time of day or a weekday 「(土)」 after it is ignored), and Japanese-era
    dates 令和7年7月5日, 令和元年5月1日, R7.7.12, R7/7/12, H31.4.30; full-width digits are
    folded first.

    Raises
    ------
    ValueError
        The value is blank or not a date (also an impossible one such as 令和7年2月30日).
    """
    from kyodo_analysis.calendar import to_western_year

    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ValueError("blank date")
        return value.date()
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValueError("blank date")
        return pd.Timestamp(value).date()
    text = _WEEKDAY_RE.sub("", normalise_cell(value).replace("（", "(").replace("）", ")"))
    if not text:
        raise ValueError("blank date")
    try:
        m = _COMPACT_RE.match(text)
        if m:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        number = parse_number(text)
        if number is not None:
            low, high = EXCEL_SERIAL_RANGE
            if not low <= number <= high:
                raise ValueError(f"{text} is outside the range of Excel date serials")
            return _EXCEL_EPOCH + _dt.timedelta(days=int(number))
        m = _WESTERN_RE.match(text)
        if m:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _ERA_DATE_RE.match(text)
        if m:
            n = 1 if m.group(2) == "元" else int(m.group(2))
            return _dt.date(to_western_year(m.group(1), n), int(m.group(3)), int(m.group(4)))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a date: {value!r} ({exc})") from None
    raise ValueError(f"not a date: {value!r}")


def parse_number(text: str) -> float | None:
    """A number from normalised text ("1,234", "-3", "−3", "2.5"); ``None`` if it is not one."""
    t = text.translate(_MINUS).replace(" ", "")
    if not _NUMBER_RE.match(t):
        return None
    return float(t.replace(",", ""))


def factorize(values: pd.Series) -> tuple[np.ndarray, list]:
    """Codes into the distinct values of a column; missing cells get code ``len(uniques)``.

    Mapping a per-unique result array ``r`` (with one extra slot appended for "missing") back
    to rows is then ``r[codes]``.
    """
    counted = _counted_factorize(values)
    if counted is not None:
        return counted
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    if not isinstance(uniques, np.ndarray):
        uniques = uniques.to_numpy(dtype=object, na_value=None)
    return codes, list(uniques)


def _counted_factorize(values: pd.Series) -> tuple[np.ndarray, list] | None:
    """:func:`factorize` without hashing for a column of integers in a compact range (codes,
    answer scales, years as read_csv gives them): the distinct values are every integer
    from the smallest to the largest (those that do not occur are never indexed), so the
    codes are the values less the smallest; ``None`` for any other column."""
    dtype = values.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iu" or len(values) == 0:
        return None
    v = values.to_numpy()
    lo, hi = int(v.min()), int(v.max())
    if hi - lo >= min(len(v), 1 << 16):
        return None
    # one pass; exact modulo 2**64 whatever the type, and the differences are small
    codes = np.subtract(v, np.array(lo).astype(dtype), dtype=np.intp, casting="unsafe")
    steps = np.arange(hi - lo + 1, dtype=np.uint64 if dtype.kind == "u" else np.int64)
    return codes, list((steps + steps.dtype.type(lo)).astype(dtype))


def normalise_strings(values: pd.Series) -> np.ndarray:
    """:func:`normalise_cell` for a whole column of mostly distinct strings (ids), vectorised
    with Arrow's NFKC and whitespace trim; missing cells become ``""``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype.kind in "iuf":  # numbers: reuse the per-value rules (few distinct values)
        codes, uniques = factorize(values)
        return np.array([normalise_cell(u) for u in uniques] + [""], dtype=object)[codes]
    try:
        arr = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.string(),
                       from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        # Mixed cells (an Excel id column holding numbers and text): value by value.
        codes, uniques = factorize(values)
        return np.array([normalise_cell(u) for u in uniques] + [""], dtype=object)[codes]
    folded = pc.utf8_trim_whitespace(pc.utf8_normalize(arr, form="NFKC"))
    return folded.fill_null("").to_numpy(zero_copy_only=False).astype(object)
