"""Publishing tables from notebooks: disclosure-controlled, collected into ``tables.xlsx``.

A notebook calls :func:`publish_table` for every table it shows; the table is protected by
:func:`kyodo_analysis.evaluation.disclosure.protect_table`, written as one small JSON record
into ``<output_dir>/tables/`` and returned for display, so what the page shows is exactly what
is published. After all notebooks have run, the batch runner collects the records
(:func:`collect_tables`), writes them to ``tables.xlsx`` (:func:`write_tables_xlsx`, one sheet
per table, Japanese headers, a 目次 sheet first) and audits them (:func:`audit_tables`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from kyodo_analysis.evaluation.disclosure import (
    TOTAL_LABELS,
    AuditFinding,
    DisclosureError,
    DisclosureSpec,
    audit_record,
    find_personal_data,
    mask_free_text,
    protect_table,
)
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = [
    "COUNT_HEADER_RE",
    "TABLES_DIR",
    "TableRecord",
    "audit_formulas",
    "audit_links",
    "audit_pages",
    "audit_tables",
    "cell_conflicts",
    "collect_tables",
    "publish_table",
    "publish_tabulation",
    "publish_text",
    "publish_view",
    "read_tables_xlsx",
    "write_tables_xlsx",
]

#: Sub-folder of a notebook's ``output_dir`` holding its published table records.
TABLES_DIR = "tables"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class TableRecord:
    """One published table: where it came from, its cells as published, and its layout."""

    name: str
    title: str
    notebook: str
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    spec: dict | None
    notes: tuple[str, ...] = ()
    link: dict | None = None
    groups: tuple[dict, ...] = ()
    keys: tuple[tuple, ...] = ()
    number: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([list(r) for r in self.rows], columns=list(self.columns))

    @property
    def key(self) -> str:
        """Unique name across a report set: ``<notebook>/<table>``."""
        return f"{self.notebook}/{self.name}"

    def digest(self) -> str:
        """sha256 of the published header and cells (what reproduction compares)."""
        blob = json.dumps([list(self.columns), [list(r) for r in self.rows]], ensure_ascii=False,
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _plain(value: object, *, keep_float: bool = False) -> object:
    """A JSON-safe cell: ints stay ints, missing becomes ``None``, everything else text;
    whole floats become ints unless ``keep_float`` (a percentage of 50.0 stays 50.0)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return int(value) if float(value).is_integer() and not keep_float else float(value)
    return str(value)


def _threshold(study, threshold: int | None) -> int:
    if threshold is not None:
        return int(threshold)
    if study is not None:
        return int(study.suppression_threshold)
    return DEFAULT_OPTIONS.suppression_threshold


def _write_record(record: dict, output_dir: str | Path | None) -> None:
    if not output_dir:
        return  # interactive use: protect and show, publish nothing
    out = Path(output_dir)
    if not out.parent.is_dir():
        # Never recreate a tree that is gone: a kernel orphaned by a killed run must not
        # rebuild the run's deleted build folder.
        raise DisclosureError(f"output_dir {out} cannot be created: {out.parent} does not exist")
    folder = out / TABLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['name']}.json"
    if path.exists():
        raise DisclosureError(f"table {record['name']!r} was already published by this notebook")
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


def publish_table(table: pd.DataFrame, name: str, *, output_dir: str | Path | None,
                  title: str | None = None, study=None, threshold: int | None = None,
                  count_columns: Sequence[str] = ("n",), derived: Mapping[str, str] | None = None,
                  label_column: str | None = "回答", total_labels: Sequence[str] = TOTAL_LABELS,
                  total_column: str | None = None, additive: bool = True,
                  also_suppress: Sequence[tuple[object, str]] = (),
                  link: Mapping[str, object] | None = None,
                  notes: Sequence[str] = (), number: str | None = None) -> pd.DataFrame:
    """Protect a publication table and publish it into the report's ``tables.xlsx``.

    Parameters
    ----------
    table
        The table as it should appear (Japanese headers), with unweighted counts in
        ``count_columns`` and a total row labelled e.g. 「回答者数（n）」.
    name
        Short ASCII name, unique within the notebook run (``"q1"``, ``"q3_by_age"``).
    output_dir
        The notebook's ``output_dir`` parameter; empty or ``None`` publishes nothing (the
        protected table is still returned, so notebooks behave the same interactively).
    title
        Japanese title for the 目次 sheet.
    study
        The study; its ``suppression_threshold`` is used unless ``threshold`` is given.
    count_columns, derived, label_column, total_labels, total_column, additive
        The table's layout, see :func:`~kyodo_analysis.evaluation.disclosure.protect_table`.
        Pass ``additive=False`` for multiple-response questions.
    also_suppress
        Extra ``(row label, count column)`` cells to suppress (a linked table's pattern).
    link
        Declares the table one member of a set that adds up across tables, so the audit can
        check the set as a whole: ``{"group": ..., "member": ..., "column": <member's count
        column>, "total_column": <the set's total column>, "additive": bool}`` (04_district:
        one district's column of the level's district × answer table, the city as total).
    notes
        Footnotes kept with the table (e.g. 「参考値」).
    number
        The table's number on its page (「表2-1」, from :class:`~kyodo_analysis.views.page.Counter`).

    Returns
    -------
    DataFrame
        The protected table (suppressed cells are ``"x"``), for display.

    Raises
    ------
    DisclosureError
        On a bad name, a name published twice, or a layout that does not fit the table.
    """
    if not _NAME_RE.fullmatch(name):
        raise DisclosureError(f"table name {name!r} must be ASCII letters, digits, '_', '-', '.'")
    protected = protect_table(table, threshold=_threshold(study, threshold),
                              count_columns=count_columns, derived=derived,
                              label_column=label_column, total_labels=total_labels,
                              total_column=total_column, additive=additive,
                              also_suppress=also_suppress)
    shown = protected.table
    record = {"name": name, "title": title or name, "number": number,
              "columns": [str(c) for c in shown.columns],
              "rows": [[_plain(v) for v in row] for row in shown.itertuples(index=False)],
              "spec": protected.spec.to_dict(), "notes": list(notes),
              "link": dict(link) if link else None}
    _write_record(record, output_dir)
    return shown


def publish_view(table: pd.DataFrame, name: str, *, output_dir: str | Path | None,
                 title: str, study=None, question: str | None = None,
                 groups: Sequence[Mapping] = (), keys: Sequence[Sequence] = (),
                 marks: pd.DataFrame | None = None, notes: Sequence[str] = (),
                 number: str | None = None) -> pd.DataFrame:
    """Publish a table whose groups are already protected (a view of
    :mod:`kyodo_analysis.views`): tabulations, district pages, cross-tabulations.

    The record keeps, beside the cells, where each group's base is (``groups``: dimension,
    group, parent and the ``row``/``column`` of its base cell) so that the audit reads every
    base from the published cells and runs the differencing attack across the whole set, and
    semantic ``keys`` (``[row, column, key]``) naming what each cell estimates, so that a test
    can check that the same estimate has the same value everywhere.

    Raises
    ------
    DisclosureError
        On a bad name or a name published twice.
    """
    if not _NAME_RE.fullmatch(name):
        raise DisclosureError(f"table name {name!r} must be ASCII letters, digits, '_', '-', '.'")
    from kyodo_analysis.options import DisplayOptions

    opts = DisplayOptions.for_study(study) if study is not None else DEFAULT_OPTIONS
    sensitive = bool(question and study is not None and question in study.codebook
                     and study.codebook[question].sensitive)
    record = {"name": name, "title": title, "number": number,
              "columns": [str(c) for c in table.columns],
              "rows": [[_plain(v, keep_float=True) for v in row]
                       for row in table.itertuples(index=False)],
              "spec": {"kind": "groups", "min_base": opts.min_base, "question": question,
                       "sensitive": sensitive},
              "groups": [dict(g) for g in groups], "keys": [list(k) for k in keys],
              "marks": ([[str(v) for v in row] for row in marks.itertuples(index=False)]
                        if marks is not None else None),
              "notes": list(notes), "link": None}
    _write_record(record, output_dir)
    return table


def publish_tabulation(tabulation: pd.DataFrame, name: str, *, output_dir: str | Path | None,
                       study=None, title: str | None = None,
                       options: DisplayOptions | None = None) -> pd.DataFrame:
    """Publish a 単純集計 (from :func:`~kyodo_analysis.viz.tables.single_tabulation` or
    :func:`~kyodo_analysis.viz.tables.weighted_tabulation`) in its municipal layout.

    The % and its interval go with their row's count: a suppressed count hides them too.
    Multiple-response tables are not additive (respondents choose several options).
    """
    from kyodo_analysis.viz.tables import tabulation_table

    shown = tabulation_table(tabulation, options) if options else tabulation_table(tabulation)
    derived = {c: "n" for c in shown.columns if c not in ("回答", "n")}
    return publish_table(shown, name, output_dir=output_dir, study=study,
                         title=title or tabulation.attrs.get("text"), derived=derived,
                         additive=not tabulation.attrs.get("multiple", False))


def publish_text(answers: pd.Series | Sequence[str], name: str, *, output_dir: str | Path | None,
                 title: str | None = None, study=None, allow: bool | None = None,
                 names: Sequence[str] = (), column: str = "自由記述") -> pd.DataFrame:
    """Publish free-text answers, masked, only where the study explicitly allows it.

    Free text is refused unless ``allow=True`` is passed or study.yaml says
    ``disclosure: {allow_free_text: true}``; allowed text is masked with
    :func:`~kyodo_analysis.evaluation.disclosure.mask_free_text` using ``names`` plus the
    study's ``disclosure: {mask_names: [...]}``. Blank answers are dropped.

    Returns
    -------
    DataFrame
        One column ``column`` of masked answers, for display.

    Raises
    ------
    DisclosureError
        When free text is not allowed for this study.
    """
    conf = study.settings.disclosure if study is not None else None
    if allow is None:
        allow = bool(conf and conf.allow_free_text)
    if not allow:
        raise DisclosureError(f"free text {name!r} is not allowed in reports: set "
                              "disclosure: {allow_free_text: true} in study.yaml to publish it masked")
    all_names = [*names, *(conf.mask_names if conf else [])]
    texts = [mask_free_text(str(t), names=all_names) for t in answers if str(t).strip()]
    shown = pd.DataFrame({column: texts})
    record = {"name": name, "title": title or name, "columns": [column],
              "rows": [[t] for t in texts], "spec": None, "notes": ["自由記述（個人情報はマスク済み）"],
              "free_text": True}
    if not _NAME_RE.fullmatch(name):
        raise DisclosureError(f"table name {name!r} must be ASCII letters, digits, '_', '-', '.'")
    _write_record(record, output_dir)
    return shown


def collect_tables(root: Path, *, order: Sequence[str] = ()) -> list[TableRecord]:
    """Read every table record under ``root/<notebook>/tables/*.json``.

    Notebooks come in the order of ``order`` (run ids; others after, by name), each
    notebook's tables in the order it published them.
    """
    rank = {name: i for i, name in enumerate(order)}
    paths = sorted(Path(root).glob(f"*/{TABLES_DIR}/*.json"),
                   key=lambda p: (rank.get(p.parent.parent.name, len(rank)), p.parent.parent.name,
                                  p.stat().st_mtime_ns, p.name))
    records = []
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        records.append(TableRecord(
            name=doc["name"], title=doc.get("title", doc["name"]), notebook=path.parent.parent.name,
            columns=tuple(doc["columns"]), rows=tuple(tuple(r) for r in doc["rows"]),
            spec=doc.get("spec") if not doc.get("free_text") else {"free_text": True},
            notes=tuple(doc.get("notes", ())), link=doc.get("link"),
            groups=tuple(doc.get("groups") or ()), keys=tuple(tuple(k) for k in doc.get("keys") or ()),
            number=doc.get("number")))
    return records


def write_tables_xlsx(records: Sequence[TableRecord], path: Path, *,
                      notebook_titles: Mapping[str, str] | None = None, study=None,
                      fiscal_year: int | None = None) -> Path:
    """Write the published tables to one workbook (:func:`kyodo_analysis.views.excel.write_workbook`):
    a linked 目次, then one numbered, annotated, print-ready sheet per table."""
    from kyodo_analysis.views.excel import write_workbook

    return write_workbook(records, path, study=study, fiscal_year=fiscal_year,
                          notebook_titles=notebook_titles)


def read_tables_xlsx(path: Path) -> dict[str, pd.DataFrame]:
    """Read ``tables.xlsx`` back as ``{"<notebook>/<table>": DataFrame}`` using the 目次."""
    from kyodo_analysis.views.excel import read_workbook

    return read_workbook(path)


def _xlsx_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _plain(value)


def audit_tables(records: Sequence[TableRecord], *, xlsx: Path | None = None,
                 threshold: int | None = None, study=None) -> list[AuditFinding]:
    """Audit every published table; with ``xlsx`` the workbook's cells are what is checked.

    A table published without disclosure control, a small cell left visible, a lone
    suppressed cell in a line with a visible total, an unmasked e-mail address or phone number,
    or a table whose threshold is lower than the study's ``threshold`` is a finding.
    """
    sheets = read_tables_xlsx(xlsx) if xlsx is not None else {}
    findings: list[AuditFinding] = audit_formulas(xlsx) if xlsx is not None else []
    group_bases: list[dict] = []
    for r in records:
        columns, rows = list(r.columns), [list(x) for x in r.rows]
        if r.key in sheets:
            frame = sheets[r.key]
            columns = [str(c) for c in frame.columns]
            rows = [[_xlsx_cell(v) for v in row] for row in frame.itertuples(index=False)]
        elif xlsx is not None:
            findings.append(AuditFinding(r.key, "missing", None, None, "not in tables.xlsx"))
        spec = r.spec
        if spec and spec.get("free_text"):
            findings += audit_record(r.key, columns, rows, DisclosureSpec(count_columns=(),
                                                                          derived=(), label_column=None))
            continue
        if spec is not None and spec.get("kind") == "groups":
            found, seen = _audit_groups(r, columns, rows, threshold=threshold, study=study)
            findings += found
            group_bases += seen
            continue
        if spec is not None and threshold is not None and int(spec["threshold"]) < threshold:
            findings.append(AuditFinding(r.key, "threshold", None, None,
                                         f"protected with {spec['threshold']} < study's {threshold}"))
            spec = {**spec, "threshold": threshold}
        findings += audit_record(r.key, columns, rows, spec)
    from kyodo_analysis.evaluation.disclosure import differencing_findings

    floor = max([threshold or 0, *[int((r.spec or {}).get("min_base") or 0) for r in records]]) or \
        DEFAULT_OPTIONS.min_base
    return findings + audit_links(records) + differencing_findings(group_bases, min_base=floor)


def audit_formulas(xlsx: Path) -> list[AuditFinding]:
    """Every cell of the workbook that Excel would evaluate (a formula, an array formula, a
    data-table formula): published cells are values, so each is a finding, named by sheet
    and cell, never an exception."""
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    findings = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or type(cell.value).__name__ in (
                        "ArrayFormula", "DataTableFormula"):
                    findings.append(AuditFinding(
                        f"{ws.title}!{cell.coordinate}", "formula", cell.row - 1,
                        cell.column_letter, "a formula in a published cell (written as text "
                        "it would be harmless): " + str(cell.value)[:80]))
    return findings


#: Headers and row labels of group bases: a visible one below the minimum base is a finding
#: whatever the table declares.
BASE_HEADERS = ("回答者数（n）", "回答者数(n)", "人数", "基数", "回答者数")


def _audit_groups(r: TableRecord, columns: list[str], rows: list[list], *,
                  threshold: int | None, study) -> tuple[list[AuditFinding], list[dict]]:
    """Audit one group-protected table from its published cells."""
    spec = r.spec or {}
    min_base = max(int(spec.get("min_base") or 0), threshold or 0) or DEFAULT_OPTIONS.min_base
    findings: list[AuditFinding] = []
    question = spec.get("question")
    sensitive = bool(question and study is not None and question in study.codebook
                     and study.codebook[question].sensitive)

    def small(v) -> bool:
        return (isinstance(v, int | float) and not isinstance(v, bool)
                and 0 < v < min_base)

    for j, h in enumerate(columns):  # base columns, whatever the table declares
        if h in BASE_HEADERS or (sensitive and COUNT_HEADER_RE.match(h)):
            for i, row in enumerate(rows):
                if j < len(row) and small(row[j]):
                    findings.append(AuditFinding(r.key, "small group", i, h,
                                                 f"n={row[j]:g} is below {min_base}"))
    for i, row in enumerate(rows):  # base rows
        if row and str(row[0]) in BASE_HEADERS:
            for j, v in enumerate(row[1:], start=1):
                if small(v):
                    findings.append(AuditFinding(r.key, "small group", i, columns[j],
                                                 f"n={v:g} is below {min_base}"))
    seen = []
    for g in r.groups:
        try:
            i, j = int(g["row"]), columns.index(g["column"])
            base = rows[i][j]
        except (KeyError, ValueError, IndexError, TypeError):
            findings.append(AuditFinding(r.key, "layout", None, None,
                                         f"group {g.get('group')!r}: base cell not found"))
            continue
        if _is_hidden(base):
            cells = (rows[i][1:] if g.get("axis", "row") == "row"
                     else [row[j] for row in rows if row and str(row[0]) not in BASE_HEADERS])
            if any(not _is_hidden(c) and c is not None for c in cells):
                findings.append(AuditFinding(r.key, "hidden group shown", i, g["column"],
                                             f"{g['group']} is hidden but some of its cells are not"))
        seen.append({"table": r.key, "question": question or r.key,
                     "dimension": g.get("dimension") or "", "group": g["group"],
                     "parent_dimension": g.get("parent_dimension"), "parent": g.get("parent"),
                     "base": base})
    return findings, seen


def _is_hidden(value: object) -> bool:
    return isinstance(value, str) and value.strip() == "x"


def audit_links(records: Sequence[TableRecord]) -> list[AuditFinding]:
    """Audit sets of linked tables (``link`` in :func:`publish_table`) as one table.

    For an additive set - members that partition the total, e.g. the 中学校区 pages of one
    question - a row (answer) where exactly one member's count is suppressed while the total
    is visible could be recovered by subtracting the other pages from the city figure.
    """
    groups: dict[str, list[TableRecord]] = {}
    for r in records:
        if r.link and r.link.get("additive"):
            groups.setdefault(str(r.link["group"]), []).append(r)
    findings = []
    for group, members in groups.items():
        hidden: dict[str, list[str]] = {}
        total_visible: dict[str, bool] = {}
        for r in members:
            label_col = (r.spec or {}).get("label_column") or r.columns[0]
            li, ci = r.columns.index(label_col), r.columns.index(r.link["column"])
            ti = r.columns.index(r.link["total_column"])
            for row in r.rows:
                if row[li] in TOTAL_LABELS:
                    continue
                if isinstance(row[ci], str) and row[ci].strip() == "x":
                    hidden.setdefault(row[li], []).append(str(r.link.get("member", r.key)))
                total_visible[row[li]] = not isinstance(row[ti], str)
        for answer, who in hidden.items():
            if len(who) == 1 and total_visible.get(answer):
                findings.append(AuditFinding(group, "linked secondary suppression", None, None,
                                             f"{answer!r} is suppressed only for {who[0]}: the "
                                             "other tables and the total reveal it"))
    return findings


#: Headers of count columns in tables shown on report pages (「n」, 「地区 n」, 「回答者数（n）」).
COUNT_HEADER_RE = re.compile(r"^(?:n|.*\s+n|回答者数（n）|回答者数\(n\))$")


class _TableText(HTMLParser):
    """Collect the text of every table cell of a page: tables → rows → cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._depth = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._depth += 1
            self.tables.append([])
        elif tag == "tr" and self._depth:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._depth and self.tables[-1]:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._depth:
            self._depth -= 1
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def audit_pages(pages: Sequence[Path], *, threshold: int) -> list[AuditFinding]:
    """Scan the tables shown on report pages for visible counts below ``threshold``.

    Catches tables a notebook displays without publishing them through
    :func:`publish_table`: in any table, a column headed like a count (「n」, 「地区 n」) whose
    cell holds a whole number ``0 < n < threshold`` is a finding, as is an e-mail address or
    phone number anywhere in a table.
    """
    findings: list[AuditFinding] = []
    for page in pages:
        parser = _TableText()
        parser.feed(Path(page).read_text(encoding="utf-8"))
        for k, table in enumerate(parser.tables, start=1):
            if not table:
                continue
            header = table[0]
            # group bases (a column headed 回答者数（n）/人数/基数, a row labelled 回答者数（n）):
            # answer counts of a non-sensitive question may be small, a group may not
            counts = [j for j, h in enumerate(header) if h in BASE_HEADERS]
            for i, row in enumerate(table[1:], start=1):
                base_row = bool(row) and row[0] in BASE_HEADERS
                for j in (range(1, len(row)) if base_row else counts):
                    cell = row[j].replace(",", "") if j < len(row) else ""
                    if cell.isdigit() and 0 < int(cell) < threshold:
                        label = row[0] if row else ""
                        findings.append(AuditFinding(f"{Path(page).name} table {k}", "small cell",
                                                     i - 1, header[j] if j < len(header) else None,
                                                     f"n={cell} ({label}) shown unsuppressed"))
                for j, cell in enumerate(row):
                    found = find_personal_data(cell)
                    if found:
                        findings.append(AuditFinding(f"{Path(page).name} table {k}", "personal data",
                                                     i - 1, header[j] if j < len(header) else None,
                                                     f"unmasked {found[0]!r}"))
    return findings


def cell_conflicts(records: Sequence[TableRecord], *, xlsx: Path | None = None
                   ) -> dict[str, set[object]]:
    """Cells that estimate the same thing (same key) but are published with different values.

    Every table of :func:`publish_view` names what each cell estimates (question, domain,
    answer, measure); the values are read from the published cells (the workbook's, with
    ``xlsx``). Hidden cells (「x」) are left out. Returns ``{key: {values}}`` for each key with
    more than one value; empty when every cell agrees across pages and sheets.
    """
    sheets = read_tables_xlsx(xlsx) if xlsx is not None else {}
    seen: dict[str, set[object]] = {}
    for r in records:
        columns, rows = list(r.columns), [list(x) for x in r.rows]
        if r.key in sheets:
            frame = sheets[r.key]
            columns = [str(c) for c in frame.columns]
            rows = [[_xlsx_cell(v) for v in row] for row in frame.itertuples(index=False)]
        for i, col, key in r.keys:
            try:
                v = rows[int(i)][columns.index(col)]
            except (ValueError, IndexError):
                continue
            if v is None or _is_hidden(v):
                continue
            seen.setdefault(str(key), set()).add(float(v) if isinstance(v, int | float) else v)
    return {k: v for k, v in seen.items() if len(v) > 1}
