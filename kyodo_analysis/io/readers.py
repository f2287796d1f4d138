"""Readers for the file formats a city receives survey data in.

One reader per format, all returning a :class:`RawTable`: the cells as read (no recoding), the
encoding and delimiter that were used (never guessed silently), and the spreadsheet row number
of every data row, so that later stages can name the row a user sees in Excel.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kyodo_analysis.errors import InputError
from kyodo_analysis.io.header import (
    HEADER_SEARCH_ROWS,
    HeaderSpec,
    column_names,
    detect_header,
    header_levels,
    trailing_notes,
)

__all__ = ["MAX_CELLS", "MAX_INPUT_BYTES", "RawTable", "detect_delimiter", "detect_encoding",
           "read_table"]

#: The largest file read (bytes on disk for CSV/SPSS/Stata, the declared uncompressed size of
#: an Excel workbook): above a 1,000,000-row file of the demo's columns, far above any municipal
#: survey, and low enough that reading it stays within the project's 6 GiB memory goal.
MAX_INPUT_BYTES = 256 << 20
#: The largest sheet read, in cells (rows × columns as the sheet declares or holds them).
MAX_CELLS = 20_000_000

_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".sav": "sav", ".zsav": "sav", ".dta": "dta"}
_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon"}
#: Rows looked at below the header search window when detecting the header and at the end of
#: a table when looking for footnotes.
_PREFIX_ROWS = HEADER_SEARCH_ROWS + 30
_TAIL_ROWS = 40


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
    header_row
        The 1-based row number of the (lowest) header row.
    header_rows
        The 1-based row numbers of every header row, top first (``(4, 5)`` for a two-row
        header under title rows); ``()`` for SPSS and Stata files, whose names are their own.
    header_levels
        Each column's header cells, top level first, merged cells filled in
        (``{"問3 自治区・町内会": ("問3", "自治区・町内会")}``).
    footnotes
        ``(row, text)`` of the note rows found under the data (「※ 無回答は空欄」): they are not
        in ``data``.
    title
        The text of the non-blank rows above the header (title rows).
    sheet
        For Excel, the name of the sheet read.
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
    header_rows: tuple[int, ...] = (1,)
    header_levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    footnotes: tuple[tuple[int, str], ...] = ()
    title: tuple[str, ...] = ()
    sheet: str | None = None


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
               header_rows: int | Sequence[int] | None = None,
               text_columns: set[str] | None = None,
               known_headers: set[str] | None = None,
               require_header: bool = False) -> RawTable:
    """Read a survey or statistics table from CSV, Excel, SPSS or Stata.

    Parameters
    ----------
    path
        The file.
    format
        ``"csv"``, ``"xlsx"``, ``"sav"`` or ``"dta"``; by default from the file extension.
    encoding
        For CSV: the encoding to use; by default detected (and reported in the result).
    sheet
        For Excel: the sheet (name or 0-based index; default the first).
    header_rows, header_row
        For CSV and Excel: the 1-based row(s) holding the column headers, top first
        (``[4, 5]`` for a two-row header under three title rows; an int is one row;
        ``header_row`` is the older spelling of one row). By default the header is found
        (:func:`kyodo_analysis.io.header.detect_header`): title rows above it are skipped, a
        second header row of question numbers or merged cells is recognised, and merged
        cells are filled in; when nothing looks like a header, row 1 is taken (or, with
        ``require_header``, :class:`InputError` is raised).
    text_columns
        For CSV: headers to keep as text (ids, free text). Given this, other columns are
        parsed by pandas' C parser (fast; blanks become NaN) and only columns that do not
        parse as numbers stay text; without it every cell is read as text.
    known_headers
        Header names the caller expects (a codebook's column names). They help find the
        header row, and name the columns: a column whose joined header (levels joined by a
        space) or exactly one of whose header levels is a known name takes that name;
        otherwise its name is its levels joined by a space.
    require_header
        Raise :class:`InputError` when no header is found instead of taking row 1.

    Returns
    -------
    RawTable
        The data rows (footnote rows under the data excluded and listed in ``footnotes``),
        with ``header_rows``, ``header_levels`` and ``title`` saying where the header was.

    Raises
    ------
    InputError
        The file is missing, empty, unreadable or in an unknown format; no header was found
        and ``require_header`` was given.
    """
    path = Path(path)
    name = str(path)
    fmt = format or _FORMATS.get(path.suffix.lower())
    if fmt is None and path.suffix.lower() == ".xls":
        raise InputError("Excel 97-2003 workbooks (.xls) are not read: open the file in Excel "
                         "and save it as .xlsx", file=name)
    if fmt is None:
        raise InputError(f"unknown file format {path.suffix!r}; expected one of "
                         f"{sorted(set(_FORMATS.values()))}", file=name)
    if not path.is_file():
        raise InputError("file not found", file=name)
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=name)
    _check_size(path, fmt)
    rows = _header_rows_arg(header_rows, header_row, name)
    try:
        if fmt == "csv":
            return _read_csv(path, encoding, text_columns, rows, known_headers, require_header)
        if fmt == "xlsx":
            return _read_xlsx(path, sheet, rows, known_headers, require_header)
        if fmt in {"sav", "dta"}:
            return _read_stat(path, fmt)
    except MemoryError:
        # Below the size limit but still more than this machine can hold (e.g. one line of
        # hundreds of megabytes): a sentence, not a traceback.
        raise InputError("not enough memory to read the file: it is far larger than a survey "
                         "file (split it, or remove empty rows and columns)", file=name) from None
    raise InputError(f"unknown file format {fmt!r}", file=name)


def _too_large(what: str, size: float, limit: float, file: str) -> InputError:
    return InputError(f"the file is too large to read: {what} {size:,.0f} exceeds the limit of "
                      f"{limit:,.0f} (split it, or remove empty rows and columns)", file=file)


def _check_size(path: Path, fmt: str) -> None:
    """Refuse, before reading, a file above :data:`MAX_INPUT_BYTES` (for a workbook: its
    sheets' declared uncompressed size, so a small zip that inflates to gigabytes is refused)."""
    name = str(path)
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise _too_large("size in bytes", size, MAX_INPUT_BYTES, name)
    if fmt != "xlsx":
        return
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            inflated = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip: openpyxl's own message says so
    if inflated > MAX_INPUT_BYTES:
        raise _too_large("uncompressed size in bytes", inflated, MAX_INPUT_BYTES, name)


def _sheet_rows(ws, file: str) -> list[tuple]:
    """The sheet's rows, refused when it declares or holds more than :data:`MAX_CELLS` cells.

    The declared dimension is checked first (a sheet claiming 1,048,576 × 16,384 is refused
    at once); the count while reading guards a sheet whose dimension is missing or false.
    """
    declared_rows, declared_cols = ws.max_row or 0, ws.max_column or 0
    if declared_rows * declared_cols > MAX_CELLS:
        raise _too_large(f"the sheet spans {declared_rows:,} rows × {declared_cols:,} columns, "
                         "cells", declared_rows * declared_cols, MAX_CELLS, file)
    rows, cells = [], 0
    for row in ws.iter_rows(values_only=True):
        cells += len(row)
        if cells > MAX_CELLS:
            raise _too_large("cells", cells, MAX_CELLS, file)
        rows.append(tuple(row))
    return rows


def _header_rows_arg(header_rows, header_row, file: str) -> tuple[int, ...] | None:
    if header_rows is None and header_row is None:
        return None
    value = header_rows if header_rows is not None else header_row
    rows = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if (not rows or any(not isinstance(r, (int, np.integer)) or isinstance(r, bool) or r < 1
                        for r in rows) or list(rows) != sorted(set(rows))):
        raise InputError(f"header rows must be increasing row numbers from 1, got {value!r}",
                         file=file)
    return tuple(int(r) for r in rows)


def _no_header(file: str) -> InputError:
    return InputError(f"no header row found in the first {HEADER_SEARCH_ROWS} rows: looked for "
                      "a row of column names (mostly text, two or more cells) above rows of "
                      "answers; give the header rows explicitly (header_rows)", file=file)


def _resolve_header(prefix: list[list], header_rows: tuple[int, ...] | None, merges,
                    known: set[str] | None, require: bool, file: str) -> HeaderSpec:
    if header_rows is not None:
        title = tuple(" ".join(str(v).strip() for v in r if v is not None and str(v).strip())
                      for r in prefix[: header_rows[0] - 1])
        return HeaderSpec(header_rows, tuple(t for t in title if t))
    spec = detect_header(prefix, merges=merges, known=known)
    if spec is None:
        if require:
            raise _no_header(file)
        return HeaderSpec((1,), (), confident=False)
    return spec


def _csv_prefix(blob: bytes, enc: str, delimiter: str | None) -> tuple[list[list[str]], str]:
    """The first rows of a CSV file, indexed by physical line (blank lines as ``[]``), and the
    delimiter (from the first line that has one)."""
    import csv

    cut = 0
    for _ in range(_PREFIX_ROWS):
        nxt = blob.find(b"\n", cut)
        if nxt < 0:
            cut = len(blob)
            break
        cut = nxt + 1
    text = blob[:cut].decode(enc, errors="replace").lstrip("\ufeff")
    if delimiter is None:
        delimiter = ","
        for line in text.splitlines():
            if any(d in line for d in _DELIMITERS):
                delimiter = detect_delimiter(line)
                break
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    last_line = 0
    try:
        for record in reader:
            start = last_line + 1
            while len(rows) < start - 1:
                rows.append([])
            rows.append(record)
            last_line = reader.line_num
    except csv.Error:
        pass
    return rows, delimiter


def _read_csv(path: Path, encoding: str | None, text_columns: set[str] | None,
              header_rows: tuple[int, ...] | None, known: set[str] | None,
              require: bool) -> RawTable:
    blob = path.read_bytes()
    if not blob or blob.isspace():  # as ``not blob.strip()``, without copying the file
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
    delimiter = detect_delimiter(first_line) if any(d in first_line for d in _DELIMITERS) else None
    prefix, delimiter = _csv_prefix(blob, enc, delimiter)
    spec = _resolve_header(prefix, header_rows, (), known, require, str(path))
    plain = spec.rows == (1,)
    # Short lines (pandas fills missing trailing fields with blanks) are found from the field
    # count of every line; on a plain file without quotes first from the delimiter count
    # alone (pandas refuses a line longer than the header, so the count is the header's
    # times the lines exactly when no line is short), per line only when it falls short.
    counted = plain and b'"' not in blob
    fields = None if counted else _fields(blob, enc, delimiter)
    n_delims = blob.count(delimiter.encode(enc)) if counted else -1
    del blob  # pandas reads the file itself: the bytes need not stay in memory while it parses
    if plain:
        options = {"dtype": str, "keep_default_na": False, "na_values": []}
        if text_columns is not None:
            options = {"dtype": dict.fromkeys(text_columns, str), "keep_default_na": False,
                       "na_values": [""]}
        levels = None
    else:
        lv = header_levels(prefix, spec.rows)
        width = max([len(lv)] + [len(r) for r in prefix[spec.data_start - 1:]])
        lv = lv + [()] * (width - len(lv))
        names = column_names(lv, known=known)
        levels = dict(zip(names, lv, strict=True))
        options = {"dtype": str, "keep_default_na": False, "na_values": []}
        if text_columns is not None:
            options = {"dtype": {n: str for n in names if n in text_columns},
                       "keep_default_na": False, "na_values": [""]}
        options.update(header=None, names=names, skiprows=spec.data_start - 1, index_col=False)
    try:
        data = pd.read_csv(path, sep=delimiter, encoding=enc, encoding_errors="strict", **options)
    except UnicodeDecodeError:
        raise _undecodable(path.read_bytes(), enc, str(path), guessed=encoding is None) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"malformed CSV: {exc}", file=str(path)) from None
    except pd.errors.EmptyDataError:
        data = pd.DataFrame(columns=options.get("names", []), dtype=object)
    if levels is None:
        levels = {str(c): (str(c),) for c in data.columns}
    # The field count of every data line (pandas fills missing trailing fields with blanks).
    skip = 1 if plain else sum(1 for r in prefix[: spec.data_start - 1] if r)
    if fields is None and n_delims != (len(data) + skip) * (len(data.columns) - 1):
        fields = _fields(path.read_bytes(), enc, delimiter)
    short = (fields[skip:] < len(data.columns) if fields is not None and len(fields) == len(data) + skip
             else np.zeros(len(data), dtype=bool))
    start = spec.data_start
    rows = pd.Series(np.arange(start, len(data) + start), index=data.index, name="row")
    data, rows, short, notes = _drop_footnotes(data, rows, short)
    if notes and text_columns is not None:
        for c in data.columns:
            if c not in text_columns and data[c].dtype == object:
                try:
                    data[c] = pd.to_numeric(data[c])
                except (ValueError, TypeError):
                    pass
    return RawTable(data, str(path), "csv", enc, rows, delimiter=delimiter, short_rows=short,
                    header_row=spec.rows[-1], header_rows=spec.rows, header_levels=levels,
                    footnotes=notes, title=spec.title)


def _drop_footnotes(data: pd.DataFrame, rows: pd.Series, short: np.ndarray | None):
    """Split footnote rows (and blank rows around them) off the end of ``data``."""
    n = len(data)
    if n == 0 or len(data.columns) == 0:
        return data, rows, short, ()
    tail_start = max(0, n - _TAIL_ROWS)
    tail = list(data.iloc[tail_start:].itertuples(index=False, name=None))
    ref = data.iloc[max(0, tail_start - 200): tail_start, 0].tolist()
    k = trailing_notes(tail, first_column_values=ref)
    if k == 0:
        return data, rows, short, ()
    k = min(k, n)
    cut = n - k
    notes = []
    for row_no, cells in zip(rows.iloc[cut:].tolist(), tail[len(tail) - k:], strict=True):
        text = " ".join(str(v).strip() for v in cells
                        if v is not None and not (isinstance(v, float) and v != v)
                        and str(v).strip())
        if text:
            notes.append((int(row_no), text))
    data = data.iloc[:cut]
    rows = rows.iloc[:cut]
    if short is not None:
        short = short[:cut]
    return data, rows, short, tuple(notes)


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

    Delimiters are counted per line by ``np.add.reduceat`` over runs of whole lines of about
    ``chunk`` bytes (one compare and one summing pass, no running sum), so that the
    temporary arrays stay small (tens of MiB) whatever the file size.
    """
    newlines = np.flatnonzero(codes == 0x0A)
    ends = np.append(newlines, len(codes))
    starts = np.concatenate([[0], newlines + 1])
    delims = np.zeros(len(ends), dtype=np.int64)
    first, n_lines = 0, len(ends)
    while first < n_lines:
        lo = int(starts[first])
        # lines [first, last): as many whole lines as fit in the chunk, at least one
        last = max(first + 1, int(np.searchsorted(starts, lo + chunk, side="right")) - 1)
        hi = int(ends[last - 1])
        if hi > lo:
            idx = starts[first:last] - lo
            hits = (codes[lo:hi] == delimiter).view(np.uint8)
            k = int(np.searchsorted(idx, hi - lo))  # a line starting at the end is empty
            # int32 sums are several times faster than int64 (a run holds < 2**31 bytes)
            delims[first: first + k] = np.add.reduceat(
                hits, idx[:k], dtype=np.int32 if hi - lo < 2**31 else np.int64)
        first = last
    has_cr = (ends > starts) & (codes[np.maximum(ends - 1, 0)] == 0x0D)
    nonblank = (ends - starts - has_cr) > 0  # pandas skips blank lines
    return delims[nonblank] + 1


def _read_xlsx(path: Path, sheet: str | int | None, header_rows: tuple[int, ...] | None,
               known_headers: set[str] | None, require: bool) -> RawTable:
    """Read a sheet with openpyxl; formulas are kept as their text ("=A1+1"), not evaluated.

    The sheet is read in read-only mode (bounded memory); merged cells, which read-only mode
    does not report, are parsed from the sheet's XML (:func:`_merged_ranges`).
    """
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many unrelated types for a broken file
        raise InputError(f"cannot open Excel workbook: {exc}", file=str(path)) from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            if not -len(wb.worksheets) <= sheet < len(wb.worksheets):
                raise InputError(f"no sheet number {sheet}; the workbook has "
                                 f"{len(wb.worksheets)} sheets", file=str(path))
            ws = wb.worksheets[sheet]
        else:
            if sheet not in wb.sheetnames:
                raise InputError(f"no sheet named {sheet!r}; sheets: {', '.join(wb.sheetnames)}",
                                 file=str(path))
            ws = wb[sheet]
        rows = _sheet_rows(ws, str(path))
        merges = _merged_ranges(ws)
        title = ws.title
    finally:
        wb.close()
    if not rows:
        raise InputError("the sheet is empty", file=str(path))
    spec = _resolve_header(rows[: _PREFIX_ROWS], header_rows, merges, known_headers, require,
                           str(path))
    if spec.rows[-1] > len(rows):
        raise InputError(f"header row {spec.rows[-1]} is beyond the last row {len(rows)}",
                         file=str(path))
    lv = header_levels(rows, spec.rows, merges=merges)
    width = len(lv)
    names = column_names(lv, known=known_headers)
    start = spec.data_start
    body = [r[:width] + (None,) * (width - len(r)) for r in rows[start - 1:]]
    numbers = np.arange(start, start + len(body))
    keep = np.array([any(v is not None and str(v).strip() != "" for v in r) for r in body],
                    dtype=bool)
    data = pd.DataFrame([r for r, k in zip(body, keep, strict=True) if k], columns=names,
                        dtype=object)
    row_numbers = pd.Series(numbers[keep], name="row")
    data, row_numbers, _, notes = _drop_footnotes(data, row_numbers, None)
    return RawTable(data, str(path), "xlsx", None, row_numbers, header_row=spec.rows[-1],
                    header_rows=spec.rows, header_levels=dict(zip(names, lv, strict=True)),
                    footnotes=notes, title=spec.title, sheet=title)


_MERGE_RE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?\"")


def _merged_ranges(ws) -> list[tuple[int, int, int, int]]:
    """Merged ranges of a read-only worksheet as ``(min_row, min_col, max_row, max_col)``.

    Read-only worksheets do not parse ``<mergeCells>``, which Excel writes after the cell
    data; the sheet's XML is streamed in chunks and the ranges picked out, so memory stays
    bounded whatever the sheet's size. Ranges starting below the header search window are
    dropped. An unreadable part gives no ranges (the header is then read without them).
    """
    try:
        source = ws.parent._archive.open(ws._worksheet_path)
    except Exception:  # not a read-only sheet from a zip archive: no merge information
        return list(_merges_of_loaded(ws))
    out = []
    tail = b""
    with source:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            buf = tail + chunk
            last = buf.rfind(b"<")
            scan, tail = (buf[:last], buf[last:]) if last > 0 else (buf, b"")
            out += _merges_in(scan)
        out += _merges_in(tail)
    return out


def _merges_in(xml: bytes) -> list[tuple[int, int, int, int]]:
    from openpyxl.utils import column_index_from_string

    out = []
    for m in _MERGE_RE.finditer(xml):
        c0, r0 = m.group(1).decode(), int(m.group(2))
        c1, r1 = (m.group(3) or m.group(1)).decode(), int(m.group(4) or m.group(2))
        if r0 <= _PREFIX_ROWS:
            out.append((r0, column_index_from_string(c0), r1, column_index_from_string(c1)))
    return out


def _merges_of_loaded(ws):
    for rng in getattr(getattr(ws, "merged_cells", None), "ranges", ()):
        yield (rng.min_row, rng.min_col, rng.max_row, rng.max_col)


def _read_stat(path: Path, fmt: str) -> RawTable:
    """Read SPSS or Stata with pyreadstat: names are the variables' own; ``header_levels``
    holds (name, variable label) where a label exists."""
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    try:
        data, meta = reader(str(path))
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputError(f"cannot read {fmt} file: {exc}", file=str(path)) from None
    rows = pd.Series(range(1, len(data) + 1), index=data.index, name="row")
    labels = dict(zip(meta.column_names, meta.column_labels or [None] * len(meta.column_names),
                      strict=False))
    levels = {c: (c, labels[c]) if labels.get(c) and labels[c] != c else (c,)
              for c in data.columns}
    return RawTable(data, str(path), fmt, meta.file_encoding, rows,
                    dict(meta.variable_value_labels), header_rows=(), header_levels=levels,
                    title=(meta.file_label,) if getattr(meta, "file_label", None) else ())
