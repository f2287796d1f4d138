"""Readers for the file formats a city receives survey data in.

One reader per format, all returning a :class:`RawTable`: the cells as read (no recoding),
with the encoding that was used and the spreadsheet row number of every data row, so that
later stages can name the row a user sees in Excel.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kyodo_analysis.errors import InputError

__all__ = ["RawTable", "detect_encoding", "read_table"]

_FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".sav": "sav",
            ".zsav": "sav", ".dta": "dta"}


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file.

    ``data`` holds strings for text formats and native values for binary ones; ``row_numbers``
    gives, for each data row, its 1-based row number in the file as a spreadsheet shows it.
    """

    data: pd.DataFrame
    file: str
    format: str
    encoding: str | None
    row_numbers: pd.Series
    value_labels: dict[str, dict]


def detect_encoding(blob: bytes, *, file: str = "") -> str:
    """Say which encoding a CSV file is in: ``utf-8-sig`` (BOM), ``utf-8`` or ``cp932``.

    UTF-8 is tried first because valid UTF-8 Japanese text is almost never valid CP932 by
    accident and vice versa; a file that is neither raises :class:`InputError`.
    """
    if blob.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        blob.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        blob.decode("cp932")
        return "cp932"
    except UnicodeDecodeError as exc:
        line = blob[: exc.start].count(b"\n") + 1
        raise InputError("file is neither UTF-8 nor CP932 (Shift_JIS)", file=file, row=line,
                         value=blob[exc.start: exc.start + 4].hex(" ")) from None


def read_table(path: str | Path, *, format: str | None = None, encoding: str | None = None,
               sheet: str | int | None = None, header_row: int | None = None,
               text_columns: set[str] | None = None) -> RawTable:
    """Read a survey or statistics table from CSV, Excel, SPSS or Stata.

    Parameters
    ----------
    path
        The file.
    format
        ``"csv"``, ``"xlsx"``, ``"sav"`` or ``"dta"``; by default from the file extension.
    encoding
        For CSV: the encoding to use; by default detected (and reported in the result).
    sheet, header_row
        For Excel: the sheet (name or 0-based index; default the first) and the 1-based row
        that holds the column headers (default 1; title rows above it are skipped).
    text_columns
        For CSV: headers to keep as text (ids, free text). Given this, other columns are
        parsed by pandas' C parser (fast; blanks become NaN) and only columns that do not
        parse as numbers stay text; without it every cell is read as text.

    Raises
    ------
    InputError
        The file is missing, empty, unreadable or in an unknown format.
    """
    path = Path(path)
    name = str(path)
    fmt = format or _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"unknown file format {path.suffix!r}; expected one of "
                         f"{sorted(set(_FORMATS.values()))}", file=name)
    if not path.is_file():
        raise InputError("file not found", file=name)
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=name)
    if fmt == "csv":
        return _read_csv(path, encoding, text_columns)
    if fmt == "xlsx":
        return _read_xlsx(path, sheet, header_row or 1)
    if fmt in {"sav", "dta"}:
        return _read_stat(path, fmt)
    raise InputError(f"unknown file format {fmt!r}", file=name)


def _read_csv(path: Path, encoding: str | None, text_columns: set[str] | None) -> RawTable:
    blob = path.read_bytes()
    enc = encoding or detect_encoding(blob, file=str(path))
    try:
        blob.decode(enc)
    except UnicodeDecodeError as exc:
        line = blob[: exc.start].count(b"\n") + 1
        raise InputError(f"file is not valid {enc}", file=str(path), row=line) from None
    options = {"dtype": str, "keep_default_na": False, "na_values": []}
    if text_columns is not None:
        options = {"dtype": dict.fromkeys(text_columns, str), "keep_default_na": False,
                   "na_values": [""]}
    try:
        data = pd.read_csv(io.BytesIO(blob), encoding=enc, **options)
    except pd.errors.EmptyDataError:
        raise InputError("file has no header line", file=str(path)) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"malformed CSV: {exc}", file=str(path)) from None
    rows = pd.Series(range(2, len(data) + 2), index=data.index, name="row")
    return RawTable(data, str(path), "csv", enc, rows, {})


def _read_xlsx(path: Path, sheet: str | int | None, header_row: int) -> RawTable:
    try:
        data = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0,
                             header=header_row - 1, engine="openpyxl")
    except ValueError as exc:
        raise InputError(f"cannot read sheet: {exc}", file=str(path)) from None
    data = data.dropna(how="all")
    rows = pd.Series(data.index + header_row + 1, index=data.index, name="row")
    return RawTable(data.reset_index(drop=True), str(path), "xlsx", None,
                    rows.reset_index(drop=True), {})


def _read_stat(path: Path, fmt: str) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    try:
        data, meta = reader(str(path))
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputError(f"cannot read {fmt} file: {exc}", file=str(path)) from None
    rows = pd.Series(range(1, len(data) + 1), index=data.index, name="row")
    return RawTable(data, str(path), fmt, meta.file_encoding, rows,
                    dict(meta.variable_value_labels))
