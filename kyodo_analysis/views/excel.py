"""The committee's workbook (``tables.xlsx``): one sheet per published table, ready to hand out.

Layout of a table sheet (openpyxl): row 1 表番号 and title, row 2 source and fiscal year,
row 4 the header (frozen), the cells from row 5, then the notes (base, weighting, interval,
symbol legend). Numbers are stored as numbers with display formats (``#,##0`` for counts,
``0.0`` for percentages, ``0.000`` for p values); an interval is two numeric columns. A text
cell that begins with ``=``, ``+``, ``-``, ``@``, tab or CR is stored as text (never a formula).
The 目次 sheet links to every table; pages are A4 with the header repeated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

__all__ = ["HEADER_ROW", "LEGEND", "csv_safe", "csv_unsafe", "read_workbook", "write_workbook"]

#: 1-based row of the header of every table sheet.
HEADER_ROW = 4
LEGEND = ("記号: x = 秘匿（回答者数が少ない区分、または他の表との差し引きで少人数の回答が分かる区分）、"
          "- = 該当なし、▲▼ = 他の回答者との差が有意")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(cell, value: str) -> None:
    cell.value = value
    if value.startswith(_FORMULA_START):
        cell.data_type = "s"  # stored as text, never evaluated
        cell.quotePrefix = True


def csv_safe(value: object) -> object:
    """A cell for a published CSV: text that a spreadsheet would read as a formula (beginning
    with ``=``, ``+``, ``-``, ``@``, tab or CR) gets a leading ``'`` (OWASP CSV injection);
    numbers and other text are returned unchanged. Every CSV a run publishes writes its text
    cells through this, as ``tables.xlsx`` writes them as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_unsafe(value: object) -> object:
    """The text :func:`csv_safe` was given: a leading ``'`` before ``=``, ``+``, ``-``, ``@``,
    tab or CR removed again (for reading back a CSV this package wrote; a text that itself
    began with ``'=`` would lose its ``'``)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _number_format(header: str, value: float | int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return "#,##0"
    if "p値" in header:
        return '[<0.001]"<0.001";0.000'  # never 0.000
    return "0.0"


def _width(values: Sequence[object]) -> float:
    def w(v: object) -> int:
        s = "" if v is None else str(v)
        return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)

    return min(60, max(8, *(w(v) + 2 for v in values)))


def write_workbook(records: Sequence, path: Path, *, study=None, fiscal_year: int | None = None,
                   notebook_titles: Mapping[str, str] | None = None) -> Path:
    """Write every published table record to ``path`` (see the module docstring)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.page import PageMargins

    from kyodo_analysis.calendar import fiscal_year_label

    titles = dict(notebook_titles or {})
    wb = Workbook()
    toc = wb.active
    toc.title = "目次"
    toc.append(["シート", "表番号", "報告書", "表題", "表ID", "注記", "ページ内の表番号"])
    source = study.title if study is not None else ""
    fy = fiscal_year_label(fiscal_year) if fiscal_year else ""
    weighted = bool(study is not None and study.weighted)
    for k, r in enumerate(records, start=1):
        sheet = f"T{k:03d}"
        number = f"表{k}"  # one sequence for the workbook; the page's own number in the 目次
        on_page = getattr(r, "number", None) or ""
        page = titles.get(r.notebook, r.notebook)
        ws = wb.create_sheet(sheet)
        ws["A1"] = f"{number}　{r.title}"
        ws["A1"].font = Font(bold=True, size=12)
        ws["A2"] = f"出典: {source}　{fy}　（{page}）"
        for j, h in enumerate(r.columns, start=1):
            c = ws.cell(row=HEADER_ROW, column=j)
            _safe_text(c, str(h))
            c.font = Font(bold=True)
            c.alignment = Alignment(horizontal="left" if j == 1 else "center", wrap_text=True)
        for i, row in enumerate(r.rows, start=HEADER_ROW + 1):
            for j, v in enumerate(row, start=1):
                c = ws.cell(row=i, column=j)
                if isinstance(v, bool) or v is None:
                    c.value = v
                elif isinstance(v, int | float):
                    c.value = v
                    c.number_format = _number_format(str(r.columns[j - 1]), v)
                    c.alignment = Alignment(horizontal="right")
                else:
                    _safe_text(c, str(v))
                    c.alignment = Alignment(horizontal="left" if j == 1 else "right")
        last = HEADER_ROW + len(r.rows) + 2
        notes = [*r.notes,
                 "割合（%）は重み付けした推定値です。" if weighted else "割合（%）は回答者の単純集計です。",
                 LEGEND]
        for t, note in enumerate(dict.fromkeys(n for n in notes if n)):
            _safe_text(ws.cell(row=last + t, column=1), f"注: {note}" if t == 0 else f"　 {note}")
        for j, h in enumerate(r.columns, start=1):
            letter = ws.cell(row=HEADER_ROW, column=j).column_letter
            ws.column_dimensions[letter].width = _width([h, *(row[j - 1] for row in r.rows)])
        ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=2)
        ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape" if len(r.columns) > 7 else "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        ws.oddFooter.center.text = "&P / &N"
        ws["A3"] = "目次へ戻る"
        ws["A3"].hyperlink = "#'目次'!A1"
        ws["A3"].font = Font(color="0563C1", underline="single")
        toc.append([sheet, number, page, r.title, r.key, "／".join(r.notes), on_page])
        link = toc.cell(row=toc.max_row, column=1)
        link.hyperlink = f"#'{sheet}'!A1"
        link.font = Font(color="0563C1", underline="single")
        for col in (3, 4, 6):
            cell = toc.cell(row=toc.max_row, column=col)
            if isinstance(cell.value, str):
                _safe_text(cell, cell.value)
    for col, width in zip("ABCDEFG", (8, 8, 24, 60, 28, 40, 14), strict=True):
        toc.column_dimensions[col].width = width
    toc.freeze_panes = "A2"
    toc.page_setup.paperSize = toc.PAPERSIZE_A4
    wb.save(path)
    return path


def read_workbook(path: Path) -> dict[str, pd.DataFrame]:
    """Read the tables back as ``{"<notebook>/<table>": DataFrame}`` (cells as stored)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    toc = wb["目次"]
    out = {}
    for sheet, key in ((r[0], r[4]) for r in toc.iter_rows(min_row=2, values_only=True)):
        ws = wb[sheet]
        header = [c.value for c in ws[HEADER_ROW]]
        rows = []
        for row in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True):
            if all(v is None for v in row):
                break
            rows.append(list(row[: len(header)]))
        out[key] = pd.DataFrame(rows, columns=[str(h) for h in header], dtype=object)
    return out
