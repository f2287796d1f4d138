"""Finding the header of a municipal export: title rows, multi-row headers, footnotes.

A city's export rarely starts with one row of column names. Typical sheets have title rows
(「令和6年度 市民意識調査 集計用データ」), a blank row, a two-row header whose upper row holds
the question numbers (問1, 問3 merged over its option columns) and whose lower row holds the
question text or option labels, then the answers, then footnote rows (「※ 無回答は空欄」).

The functions here work on the first rows of a table as plain tuples of cell values, so the same
logic serves CSV and Excel, reading and ``kyodo init``:

:func:`detect_header`
    Which rows are the header (1-based, as a spreadsheet shows them), each column's header cells
    (merged cells filled in) and the title rows above.
:func:`trailing_notes`
    How many rows at the end of a table are footnotes (and blank rows around them).

Heuristics (and their limits) are documented on each function.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["HEADER_SEARCH_ROWS", "HeaderSpec", "column_names", "detect_header", "header_levels",
           "is_question_number", "trailing_notes"]

#: How many leading rows are searched for the header.
HEADER_SEARCH_ROWS = 30
#: How many rows below a candidate header are looked at to decide whether they are answers.
_LOOKAHEAD = 20

_NUMBERISH = re.compile(r"^[+-]?[\d,]*\.?\d+$")
# 問1, 問 1, 問1(2), 問5①, 問5-1, Q1, Q5_2, F1, SQ1, 付問1, 問3付問, 問3SQ, 【問1】
_QNUM = re.compile(
    r"^[【\[(]?\s*(?:問|設問|質問|付問|Q|SQ|F|Ｑ|Ｆ)\s*\d+", re.IGNORECASE)
_NOTE_MARKS = ("※", "注", "(注", "＊", "*", "備考", "出典", "資料")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def _raw(value: object) -> str:
    """A header cell as written (trimmed, not folded): names keep their full-width forms."""
    t = _text(value)
    if not t or not isinstance(value, str):
        return t
    return value.strip().replace("\n", " ").replace("\r", "")


def _is_texty(value: object) -> bool:
    """A cell that reads as words: not a number, not a date, not blank."""
    if value is None or isinstance(value, (int, float, _dt.date, _dt.datetime, _dt.time)):
        return False
    t = _text(value)
    return bool(t) and not _NUMBERISH.match(t.replace(" ", ""))


def is_question_number(text: str) -> bool:
    """Whether a header cell starts with a question number (問1, Q3, F2, SQ1, 付問1)."""
    return bool(_QNUM.match(_text(text)))


@dataclass(frozen=True)
class HeaderSpec:
    """Where the header of a table is.

    Attributes
    ----------
    rows
        The 1-based row numbers of the header rows, top first (``(4, 5)`` for a two-row
        header under three title rows).
    title
        The text of the non-blank rows above the header (title rows), top first.
    confident
        ``False`` when no row looked like a header and row 1 was taken for want of better.
    """

    rows: tuple[int, ...]
    title: tuple[str, ...] = ()
    confident: bool = True

    @property
    def data_start(self) -> int:
        """1-based row number of the first row below the header."""
        return self.rows[-1] + 1


def _trim(row: Sequence[object]) -> list[object]:
    out = list(row)
    while out and _text(out[-1]) == "":
        out.pop()
    return out


@dataclass
class _RowStats:
    nonempty: int
    texty: int
    qnums: int
    cells: list[str]

    @property
    def text_share(self) -> float:
        return self.texty / self.nonempty if self.nonempty else 0.0


def _stats(row: Sequence[object]) -> _RowStats:
    cells = [_text(v) for v in row]
    nonempty = sum(1 for c in cells if c)
    texty = sum(1 for v in row if _is_texty(v))
    qnums = sum(1 for c in cells if c and is_question_number(c))
    return _RowStats(nonempty, texty, qnums, cells)


def _recurrence(rows: list[list[str]], i: int) -> float | None:
    """Share of the non-blank cells of row ``i`` whose value occurs again in the same column
    in the rows below (answers recur, column names do not); ``None`` with too few rows below."""
    below = rows[i + 1: i + 1 + _LOOKAHEAD]
    below = [r for r in below if any(r)]
    if len(below) < 3:
        return None
    cells = [(j, c) for j, c in enumerate(rows[i]) if c]
    if not cells:
        return None
    hits = sum(1 for j, c in cells if any(j < len(r) and r[j] == c for r in below))
    return hits / len(cells)


def detect_header(rows: Sequence[Sequence[object]], *,
                  merges: Iterable[tuple[int, int, int, int]] = (),
                  known: set[str] | None = None,
                  search: int = HEADER_SEARCH_ROWS) -> HeaderSpec | None:
    """Find the header rows at the top of a table.

    Parameters
    ----------
    rows
        The first rows of the table (at least ``search`` rows plus some data rows when the
        file has them), cells as read.
    merges
        Merged ranges as ``(min_row, min_col, max_row, max_col)``, 1-based and inclusive
        (Excel's merged cells); used to recognise an upper header row of merged question
        numbers.
    known
        Header names the caller expects (a codebook's column names): a row where at least
        half the cells (and two or more) are known is the header.
    search
        How many leading rows may hold the header.

    Returns
    -------
    HeaderSpec or None
        ``None`` when no row looks like a header (no row of at least two text cells followed
        by rows that do not look like more column names).

    Notes
    -----
    The lowest header row is the first row that (a) has at least two non-blank cells, most of
    them text (not numbers or dates), covering at least 40% of the table's width together with
    the row above when that row is also a header row, and (b) is followed by rows that do not
    look like column names: rows with fewer text cells, or whose values recur down the columns
    (answers repeat, column names do not). A row directly above it is a second (upper) header
    level when it is mostly text and either holds merged cells spanning several columns, or
    mostly question numbers (問1, Q2, F1), or is blank where the lower row has text. Rows above
    the header are title rows.

    A third header row on top (問番号 / 設問文 / 選択肢) is recognised when it holds merged
    cells or question numbers over the two rows found.

    Limits: a file of two or three rows whose answers are all words can be mistaken for a
    two-row header when the first row holds question numbers; a title row of three or more
    separate cells directly above a one-row header is taken for an upper header level only
    if it also holds question numbers or merges.
    """
    window = [_trim(r) for r in rows[: search + _LOOKAHEAD]]
    if not window:
        return None
    width = max((len(r) for r in window), default=0)
    if width == 0:
        return None
    texts = [[_text(v) for v in r] for r in window]
    stats = [_stats(r) for r in window]
    merges = list(merges)
    limit = min(search, len(window))

    def title_of(top: int) -> tuple[str, ...]:
        return tuple(" ".join(_raw(v) for v in window[k] if _raw(v)) for k in range(top)
                     if any(texts[k]))

    def levels_from(up: int, low: int) -> HeaderSpec:
        """A two-row header (0-based rows), or three rows when the row above ``up`` is itself
        a level over it (merged cells or question numbers: 問番号 / 設問文 / 選択肢)."""
        top = up
        if top > 0 and _is_upper_level(top - 1, top, stats, texts, merges, strict=True):
            top -= 1
        return HeaderSpec(tuple(range(top + 1, low + 2)), title_of(top))

    if known:
        folded = {_text(k).casefold() for k in known}
        for i in range(limit):
            cells = [c.casefold() for c in texts[i] if c]
            hits = sum(c in folded for c in cells)
            if len(cells) >= 2 and hits >= max(2, len(cells) // 2):
                if i > 0 and _is_upper_level(i - 1, i, stats, texts, merges):
                    return levels_from(i - 1, i)
                if (i + 1 < len(window) and _is_upper_level(i, i + 1, stats, texts, merges)
                        and _looks_like_header(i + 1, stats, texts)):
                    return levels_from(i, i + 1)
                return HeaderSpec((i + 1,), title_of(i))

    for i in range(limit):
        s = stats[i]
        if s.nonempty < 2 or s.text_share < 0.6:
            continue
        upper = i > 0 and _is_upper_level(i - 1, i, stats, texts, merges)
        if not upper and i + 1 < len(window) and _is_upper_level(i, i + 1, stats, texts, merges) \
                and _looks_like_header(i + 1, stats, texts) and _followed_by_data(i + 1, stats, texts):
            # i is the upper level of a two-row header whose lower row comes next
            return levels_from(i, i + 1)
        covered = _coverage([i - 1, i] if upper else [i], texts, merges)
        if covered < 0.4 * width:
            continue
        if not _followed_by_data(i, stats, texts):
            continue
        if upper:
            return levels_from(i - 1, i)
        return HeaderSpec((i + 1,), title_of(i))
    return None


def _coverage(idx: list[int], texts: list[list[str]], merges) -> int:
    cols = set()
    for i in idx:
        cols |= {j for j, c in enumerate(texts[i]) if c}
        for r0, c0, r1, c1 in merges:
            if r0 - 1 <= i <= r1 - 1:
                cols |= set(range(c0 - 1, c1))
    return len(cols)


def _looks_like_header(i: int, stats, texts) -> bool:
    s = stats[i]
    if s.nonempty < 1 or s.text_share < 0.6:
        return False
    rec = _recurrence(texts, i)
    return rec is None or rec < 0.3


def _followed_by_data(i: int, stats, texts) -> bool:
    """Whether the rows after row ``i`` look like answers rather than more column names."""
    nxt = next((k for k in range(i + 1, len(texts)) if any(texts[k])), None)
    if nxt is None:
        return False
    s = stats[nxt]
    if s.text_share < 0.6:
        return True
    # a number under a column name is an answer (a header row has names, not amounts)
    head, row = texts[i], texts[nxt]
    if any(j < len(row) and row[j] and _NUMBERISH.match(row[j].replace(" ", ""))
           and not _NUMBERISH.match(head[j].replace(" ", "")) for j in range(len(head)) if head[j]):
        return True
    rec = _recurrence(texts, nxt)
    if rec is not None:
        return rec >= 0.3
    # Too few rows to tell: the next row is data unless it reads like question text.
    return s.qnums == 0 and not _reads_like_questions(texts[nxt])


def _reads_like_questions(cells: list[str]) -> bool:
    filled = [c for c in cells if c]
    wordy = sum(1 for c in filled if len(c) >= 12 or c.endswith(("か", "か。", "?", "？")))
    return bool(filled) and wordy >= 0.5 * len(filled)


def _is_upper_level(up: int, low: int, stats, texts, merges, *, strict: bool = False) -> bool:
    """Whether row ``up`` is an upper header level over row ``low`` (0-based); ``strict``
    accepts only merged cells or question numbers as evidence."""
    su, sl = stats[up], stats[low]
    if su.nonempty < 2 or su.text_share < 0.6 or sl.nonempty < 1 or sl.text_share < 0.6:
        return False
    spans = [m for m in merges if m[0] - 1 <= up <= m[2] - 1 and m[3] > m[1]]
    if spans:
        return True
    if su.qnums >= max(1, su.nonempty // 2) and sl.qnums < su.qnums:
        return True
    if strict:
        return False
    upper, lower = texts[up], texts[low]
    gaps = [j for j in range(len(lower)) if lower[j] and (j >= len(upper) or not upper[j])]
    # blanks in the upper row over text in the lower one: the upper cells span columns
    left_filled = [j for j in gaps if any(upper[k] for k in range(min(j, len(upper))))]
    spread = su.nonempty >= max(2.0, 0.25 * (sl.nonempty + len(gaps)))
    return spread and len(left_filled) >= 1 and su.nonempty < sl.nonempty + len(gaps)


def header_levels(rows: Sequence[Sequence[object]], header_rows: Sequence[int], *,
                  merges: Iterable[tuple[int, int, int, int]] = (),
                  fill_blanks: bool | None = None) -> list[tuple[str, ...]]:
    """Each column's header cells, top level first, merged cells filled in.

    ``rows`` are the table's rows from row 1; ``header_rows`` 1-based. A merged range gives
    its value to every cell it covers. Without merge information (CSV, or a sheet without
    merged cells in the header; ``fill_blanks=None``), a blank upper-level cell takes the value
    on its left when the lower level has text that is not itself a question number: this is how
    a merged question number over option columns looks once saved as CSV.
    """
    grid = [[_raw(v) for v in rows[r - 1]] if r - 1 < len(rows) else [] for r in header_rows]
    width = max((len(_trim(rows[r - 1])) for r in header_rows if r - 1 < len(rows)), default=0)
    grid = [g + [""] * (width - len(g)) for g in grid]
    grid = [g[:width] for g in grid]
    merges = list(merges)
    in_header = [m for m in merges if any(m[0] <= r <= m[2] for r in header_rows)]
    for r0, c0, r1, c1 in in_header:
        top_value = ""
        if r0 in header_rows:
            top_value = grid[header_rows.index(r0)][c0 - 1] if c0 - 1 < width else ""
        for li, r in enumerate(header_rows):
            if r0 <= r <= r1:
                for c in range(c0 - 1, min(c1, width)):
                    if not grid[li][c]:
                        grid[li][c] = top_value
    if fill_blanks is None:
        fill_blanks = not in_header
    if fill_blanks and len(header_rows) > 1:
        for li in range(len(header_rows) - 1):
            carry = ""
            for c in range(width):
                below = grid[li + 1][c] if li + 1 < len(grid) else ""
                if grid[li][c]:
                    carry = grid[li][c]
                elif carry and below and not is_question_number(below):
                    grid[li][c] = carry
                else:
                    carry = ""
    out = []
    for c in range(width):
        levels: list[str] = []
        for g in grid:
            v = g[c]
            if v and (not levels or levels[-1] != v):
                levels.append(v)
        out.append(tuple(levels))
    return out


def column_names(levels: Sequence[tuple[str, ...]], *, known: set[str] | None = None) -> list[str]:
    """Column names from header levels: a known name when the joined header or exactly one level
    is known, else the levels joined by a space; blank headers and clashes made unique."""
    folded = {_text(k).casefold(): k for k in (known or ())}
    names = []
    for j, lv in enumerate(levels):
        joined = " ".join(lv)
        name = joined
        if folded:
            key = _text(joined).casefold()  # known names and headers compared NFKC-folded
            if key in folded:
                name = folded[key]
            else:
                hits = [folded[_text(x).casefold()] for x in lv if _text(x).casefold() in folded]
                if len(hits) == 1:
                    name = hits[0]
        names.append(name or f"(空欄の見出し{j + 1}列目)")
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    out, used = [], set()
    for j, n in enumerate(names):
        if counts[n] > 1:
            n = " ".join(levels[j]) or n
        base, k = n, 2
        while n in used:
            n = f"{base} ({k})"
            k += 1
        used.add(n)
        out.append(n)
    return out


def trailing_notes(tail: Sequence[Sequence[object]], *, first_column_values: Sequence[object] = ()
                   ) -> int:
    """How many rows at the end of ``tail`` are footnotes or blank rows around footnotes.

    A note row starts with a note mark (※, 注, （注）, *, 備考, 出典) in its first non-blank cell,
    or has text in the first column only that reads like a note (a sentence, ten characters or
    more, a 「項目：内容」 remark, or 単位/出典/資料/調査/集計…) and does not resemble the first
    column's values above it (a respondent who left every question blank has their id there, and ids
    look like the other ids). Only a run of note and blank rows at the very end counts, and
    only when it holds at least one note: trailing blank rows alone are left to the caller.

    ``first_column_values`` are some of the first column's values above the tail (to compare
    with); without them a first-column-only cell is a note when it is not a number.
    """
    ref = [_text(v) for v in first_column_values if _text(v)]
    # rows with answers are respondents: their first cells show what ids look like
    ref += [_text(r[0]) for r in tail if len(r) and _text(r[0])
            and sum(1 for v in r if _text(v)) >= 2]
    ref_len = max((len(v) for v in ref), default=0)
    ref_numeric = bool(ref) and all(_NUMBERISH.match(v) for v in ref)
    n, notes = 0, 0
    for row in reversed(tail):
        cells = [_text(v) for v in row]
        filled = [(j, c) for j, c in enumerate(cells) if c]
        if not filled:
            n += 1
            continue
        j0, first = filled[0]
        if first.startswith(_NOTE_MARKS) or first.startswith("（注"):
            n += 1
            notes += 1
            continue
        if len(filled) == 1 and j0 == 0 and _is_texty(row[0]) and _reads_like_note(first):
            looks_like_id = (not ref_numeric and ref and len(first) <= max(ref_len, 1) * 1.5
                             and _same_shape(first, ref))
            if not looks_like_id:
                n += 1
                notes += 1
                continue
        break
    return n if notes else 0


def _reads_like_note(text: str) -> bool:
    """Text that reads as a note rather than a name: a sentence, a labelled remark, or long."""
    return (len(text) >= 10 or text.endswith(("。", ".")) or any(c in text for c in "：:=＝")
            or text.startswith(("単位", "出典", "資料", "調査", "集計", "回答", "n=", "N=")))


def _same_shape(value: str, ref: list[str]) -> bool:
    """Whether ``value`` is written like the reference values (same kinds of characters)."""
    def shape(s: str) -> str:
        return re.sub(r"[A-Za-z]+", "A", re.sub(r"\d+", "9", s))
    shapes = {shape(r) for r in ref[:200]}
    return shape(value) in shapes
