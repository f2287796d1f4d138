"""Readers for the file formats a city receives survey data in.

One reader per format, all returning a :class:`RawTable`: the cells as read (no recoding), the
encoding and delimiter that were used (never guessed silently), and the spreadsheet row number
of every data row, so that later stages can name the row a user sees in Excel.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kyodo_analysis.errors import InputError

__all__ = ["RawTable", "detect_delimiter", "detect_encoding", "read_table"]

_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".sav": "sav", ".zsav": "sav", ".dta": "dta"}
_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon"}
#: How many leading rows of a sheet are searched for the header row.
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file.

    Attributes
    ----------
    data
        The cells: text for CSV (numbers where pandas parsed a whole column as numbers), native
        values for Excel and statistical formats.
    row_numbers
        For each data row, its 1-based row number in the file as a spreadsheet shows it.
    short_rows
        For CSV, rows that had fewer fields than the header (a truncated line).
    formula_cells
        For Excel, (row position, column) of cells holding a formula: formulas are not
        evaluated, their text is what ``data`` holds.
    """

    data: pd.DataFrame
    file: str
    format: str
    encoding: str | None
    row_numbers: pd.Series
    value_labels: dict[str, dict] = field(default_factory=dict)
    delimiter: str | None = None
    header_row: int = 1
    short_rows: np.ndarray | None = None


def detect_encoding(blob: bytes, *, file: str = "", verify: bool = True) -> str:
    """Say which encoding a CSV file is in: ``utf-8-sig`` (BOM), ``utf-8`` or ``cp932``.

    UTF-8 is tried first because valid UTF-8 Japanese text is almost never valid CP932 by
    accident and vice versa. A file that is UTF-8 for a while and then not is a mix of
    encodings and is rejected naming the line; so is a file that is neither. With
    ``verify=False`` a file that is not UTF-8 is taken for CP932 without decoding it whole (the
    caller's parser decodes it anyway and reports a bad byte).
    """
    if blob.startswith(codecs.BOM_UTF8):
        bad = _first_undecodable(blob, "utf-8", start=3)
        if bad is not None:
            raise _mixed(blob, bad, file)
        return "utf-8-sig"
    first_bad = _first_undecodable(blob, "utf-8")
    if first_bad is None:
        return "utf-8"
    if any(b >= 0x80 for b in blob[:first_bad]):
        raise _mixed(blob, first_bad, file)
    if not verify:
        return "cp932"
    bad = _first_undecodable(blob, "cp932")
    if bad is None:
        return "cp932"
    line = blob[:bad].count(b"\n") + 1
    raise InputError("file is neither UTF-8 nor CP932 (Shift_JIS)", file=file, row=line,
                     value=blob[bad: bad + 4].hex(" "))


def _first_undecodable(blob: bytes, encoding: str, *, start: int = 0,
                       chunk: int = 1 << 20) -> int | None:
    """Byte offset of the first byte ``encoding`` cannot decode, or ``None``.

    Decodes chunk by chunk and throws the text away, so checking a large file costs no more
    memory than one chunk.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    for pos in range(start, len(blob), chunk):
        piece = blob[pos: pos + chunk]
        try:
            decoder.decode(piece, final=pos + chunk >= len(blob))
        except UnicodeDecodeError:
            # Re-decode from the last line start (a line feed never sits inside a multi-byte
            # character) in one go, for the exact offset.
            line_start = max(blob.rfind(b"\n", start, pos) + 1, start)
            try:
                blob[line_start: pos + chunk].decode(encoding)
            except UnicodeDecodeError as exc:
                return line_start + exc.start
            return pos  # pragma: no cover - the one-shot decode always fails too
    return None


def _mixed(blob: bytes, pos: int, file: str) -> InputError:
    line = blob[:pos].count(b"\n") + 1
    return InputError("mixed encodings: the file is UTF-8 up to this line and not after it "
                      "(re-save the whole file in one encoding)", file=file, row=line,
                      value=blob[pos: pos + 4].hex(" "))


def detect_delimiter(header_line: str) -> str:
    """The delimiter of a CSV file from its header line: comma, else tab, else semicolon."""
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    if counts[","]:
        return ","
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_table(path: str | Path, *, format: str | None = None, encoding: str | None = None,
               sheet: str | int | None = None, header_row: int | None = None,
               text_columns: set[str] | None = None,
               known_headers: set[str] | None = None) -> RawTable:
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
        that holds the column headers. Without ``header_row`` the header is the first row
        whose cells are mostly ``known_headers`` (title rows above it are skipped), or row 1.
    text_columns
        For CSV: headers to keep as text (ids, free text). Given this, other columns are
        parsed by pandas' C parser (fast; blanks become NaN) and only columns that do not
        parse as numbers stay text; without it every cell is read as text.
    known_headers
        Header names the caller expects (a codebook's aliases), used to find the header row.

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
        return _read_xlsx(path, sheet, header_row, known_headers)
    if fmt in {"sav", "dta"}:
        return _read_stat(path, fmt)
    raise InputError(f"unknown file format {fmt!r}", file=name)


def _read_csv(path: Path, encoding: str | None, text_columns: set[str] | None) -> RawTable:
    blob = path.read_bytes()
    if not blob.strip():
        raise InputError("file has no header line", file=str(path))
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}", file=str(path)) from None
    enc = encoding or detect_encoding(blob, file=str(path), verify=False)
    newline = blob.find(b"\n")
    try:
        first_line = blob[: newline if newline >= 0 else len(blob)].decode(enc).lstrip("\ufeff")
    except UnicodeDecodeError:
        raise _undecodable(blob, enc, str(path), guessed=encoding is None) from None
    delimiter = detect_delimiter(first_line)
    fields = _fields(blob, enc, delimiter)
    del blob  # pandas reads the file itself: the bytes need not stay in memory while it parses
    options = {"dtype": str, "keep_default_na": False, "na_values": []}
    if text_columns is not None:
        options = {"dtype": dict.fromkeys(text_columns, str), "keep_default_na": False,
                   "na_values": [""]}
    try:
        data = pd.read_csv(path, sep=delimiter, encoding=enc, encoding_errors="strict", **options)
    except UnicodeDecodeError:
        raise _undecodable(path.read_bytes(), enc, str(path), guessed=encoding is None) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"malformed CSV: {exc}", file=str(path)) from None
    # The field count of every data line (pandas fills missing trailing fields with blanks).
    short = (fields[1:] < len(data.columns) if len(fields) == len(data) + 1
             else np.zeros(len(data), dtype=bool))
    rows = pd.Series(np.arange(2, len(data) + 2), index=data.index, name="row")
    return RawTable(data, str(path), "csv", enc, rows, delimiter=delimiter, short_rows=short)


def _undecodable(blob: bytes, encoding: str, file: str, *, guessed: bool) -> InputError:
    """The error for a file with a byte its encoding cannot decode, naming the line."""
    bad = _first_undecodable(blob, encoding) or 0
    line = blob[:bad].count(b"\n") + 1
    message = ("file is neither UTF-8 nor CP932 (Shift_JIS)" if guessed
               else f"file is not valid {encoding}")
    return InputError(message, file=file, row=line, value=blob[bad: bad + 4].hex(" "))


def _fields(blob: bytes, encoding: str, delimiter: str) -> np.ndarray:
    """Number of fields of every non-blank line, header first.

    Without quote characters the delimiters of every line are counted on the raw bytes with
    numpy: delimiters, quotes and line feeds are ASCII bytes that never occur inside a
    multi-byte UTF-8 or CP932 character. With quotes (fields may then contain delimiters or
    line breaks) Python's csv module counts the fields.
    """
    if b'"' not in blob:
        return _fields_per_line(np.frombuffer(blob, dtype=np.uint8), ord(delimiter))
    import csv

    try:
        text = blob.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError:
        return np.zeros(0, dtype=int)  # the parser reports the bad byte
    return np.array([len(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r],
                    dtype=int)


def _fields_per_line(codes: np.ndarray, delimiter: int, chunk: int = 1 << 24) -> np.ndarray:
    """Number of fields on every non-blank line of a byte buffer without quotes.

    Counts delimiters with a running sum taken in chunks, so that the temporary arrays stay
    small (tens of MiB) whatever the file size.
    """
    newlines = np.flatnonzero(codes == 0x0A)
    ends = np.append(newlines, len(codes))
    running_at_end = np.empty(len(ends), dtype=np.int64)
    carry, done = 0, 0
    for start in range(0, len(codes), chunk):
        # int32 within a chunk (a chunk holds < 2**31 bytes): several times faster than int64
        hits = (codes[start: start + chunk] == delimiter).view(np.uint8)
        running = np.cumsum(hits, dtype=np.int32)
        upto = np.searchsorted(ends, start + len(running), side="left")
        if upto > done:
            running_at_end[done:upto] = running[ends[done:upto] - start] + carry
        done, carry = upto, carry + int(running[-1])
    running_at_end[done:] = carry
    delims = np.diff(np.concatenate([[0], running_at_end]))
    starts = np.concatenate([[0], newlines + 1])
    has_cr = (ends > starts) & (codes[np.maximum(ends - 1, 0)] == 0x0D)
    nonblank = (ends - starts - has_cr) > 0  # pandas skips blank lines
    return delims[nonblank] + 1


def _read_xlsx(path: Path, sheet: str | int | None, header_row: int | None,
               known_headers: set[str] | None) -> RawTable:
    """Read a sheet with openpyxl; formulas are kept as their text ("=A1+1"), not evaluated."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many unrelated types for a broken file
        raise InputError(f"cannot open Excel workbook: {exc}", file=str(path)) from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            ws = wb.worksheets[sheet]
        else:
            if sheet not in wb.sheetnames:
                raise InputError(f"no sheet named {sheet!r}; sheets: {', '.join(wb.sheetnames)}",
                                 file=str(path))
            ws = wb[sheet]
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise InputError("the sheet is empty", file=str(path))
    if header_row is None:
        header_row = _find_header_row(rows, known_headers)
    if header_row > len(rows):
        raise InputError(f"header row {header_row} is beyond the last row {len(rows)}",
                         file=str(path))
    header = ["" if h is None else str(h).strip() for h in rows[header_row - 1]]
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    body = [r[:width] + (None,) * (width - len(r)) for r in rows[header_row:]]
    numbers = np.arange(header_row + 1, header_row + 1 + len(body))
    keep = np.array([any(v is not None and str(v).strip() != "" for v in r) for r in body],
                    dtype=bool)
    names = [h if h else f"(空欄の見出し{j + 1}列目)" for j, h in enumerate(header)]
    data = pd.DataFrame([r for r, k in zip(body, keep, strict=True) if k], columns=names,
                        dtype=object)
    return RawTable(data, str(path), "xlsx", None,
                    pd.Series(numbers[keep], name="row"), header_row=header_row)


def _find_header_row(rows: list[tuple], known: set[str] | None) -> int:
    if not known:
        return 1
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [str(v).strip() for v in row if v is not None and str(v).strip()]
        if len(cells) >= 2 and sum(c in known for c in cells) >= max(2, len(cells) // 2):
            return i + 1
    return 1


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
