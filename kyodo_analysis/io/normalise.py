"""Normalisation of cell values as Japanese municipal files write them.

Full-width digits and letters become half-width (Unicode NFKC), stray spaces (including the
ideographic space U+3000) are trimmed, numbers written with thousands separators or full-width
minus signs become numbers. Work is done once per *distinct* value of a column (via
``pandas.factorize``), so a million-row column holding a handful of codes costs a handful of
conversions.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["factorize", "normalise_cell", "normalise_strings", "parse_number"]

_MINUS = str.maketrans({"−": "-", "－": "-", "‐": "-", "―": "-", "–": "-"})
_NUMBER_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


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
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    if not isinstance(uniques, np.ndarray):
        uniques = uniques.to_numpy(dtype=object, na_value=None)
    return codes, list(uniques)


def normalise_strings(values: pd.Series) -> np.ndarray:
    """:func:`normalise_cell` for a whole column of mostly distinct strings (ids), vectorised
    with Arrow's NFKC and whitespace trim; missing cells become ``""``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype.kind in "iuf":  # numbers: reuse the per-value rules (few distinct values)
        codes, uniques = factorize(values)
        return np.array([normalise_cell(u) for u in uniques] + [""], dtype=object)[codes]
    arr = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.string(),
                   from_pandas=True)
    folded = pc.utf8_trim_whitespace(pc.utf8_normalize(arr, form="NFKC"))
    return folded.fill_null("").to_numpy(zero_copy_only=False).astype(object)
