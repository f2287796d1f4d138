"""Disclosure control for published tables and free text, in one place.

Every table a report publishes goes through :func:`protect_table`; the finished report set is
then checked by :func:`audit_record` (via :func:`kyodo_analysis.reporting.publish.audit_tables`)
so that a table which slipped past protection fails the run instead of being published.

Rules (Japanese statistical convention):

* **Primary suppression**: a count cell whose unweighted count is below the study's
  ``suppression_threshold`` (study.yaml, default 10) is shown as ``"x"``; so are the cells
  derived from it (its %). Zero cells disclose nobody and stay visible unless
  ``suppress_zeros=True``.
* **Secondary (complementary) suppression**: in a line of cells that adds up to a visible
  total, a single suppressed cell could be recovered by subtraction, so the smallest other
  visible cell of that line is suppressed too (the total itself when no other cell is left).
  Lines are columns against a total row and, with ``total_column``, rows against a total
  column; the pass repeats until no line has exactly one suppressed cell.
* **Free text** never appears unless explicitly allowed, and then through
  :func:`mask_free_text`: e-mail addresses, Japanese phone numbers and personal names
  (「〇〇さん」-style honorifics, 「（山田）」-style bracketed names and a configurable list)
  are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kyodo_analysis.errors import DisclosureError

__all__ = [
    "SUPPRESSED",
    "AuditFinding",
    "DisclosureError",
    "DisclosureSpec",
    "ProtectedTable",
    "audit_record",
    "differencing_findings",
    "find_personal_data",
    "hidden_groups",
    "mask_free_text",
    "protect_table",
]

#: How a suppressed cell is shown (Japanese official statistics use 「x」).
SUPPRESSED = "x"

#: Labels that mark a total row in the house's publication tables.
TOTAL_LABELS = ("回答者数（n）", "合計", "計", "総数")


@dataclass(frozen=True)
class DisclosureSpec:
    """How a published table is laid out, so that protection and audit read it the same way.

    Attributes
    ----------
    threshold
        Unweighted counts below this (and above zero) are suppressed.
    count_columns
        Columns holding unweighted counts.
    derived
        Column → the count column it is computed from (e.g. ``{"%": "n"}``); suppressed with it.
    label_column
        Column naming each row; rows whose label is in ``total_labels`` are totals.
    total_labels
        Labels of total rows.
    total_column
        Count column that is the sum of the other count columns of its row, if any.
    additive
        Whether the data rows add up to the total row (``False`` for multiple-response
        questions, whose options may sum to more than the base).
    suppress_zeros
        Whether zero counts are suppressed as well.
    """

    threshold: int = 10
    count_columns: tuple[str, ...] = ("n",)
    derived: tuple[tuple[str, str], ...] = (("%", "n"),)
    label_column: str | None = "回答"
    total_labels: tuple[str, ...] = TOTAL_LABELS
    total_column: str | None = None
    additive: bool = True
    suppress_zeros: bool = False

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "count_columns": list(self.count_columns),
                "derived": [list(p) for p in self.derived], "label_column": self.label_column,
                "total_labels": list(self.total_labels), "total_column": self.total_column,
                "additive": self.additive, "suppress_zeros": self.suppress_zeros}

    @classmethod
    def from_dict(cls, d: Mapping) -> DisclosureSpec:
        return cls(threshold=int(d["threshold"]), count_columns=tuple(d["count_columns"]),
                   derived=tuple(tuple(p) for p in d.get("derived", ())),
                   label_column=d.get("label_column"),
                   total_labels=tuple(d.get("total_labels", TOTAL_LABELS)),
                   total_column=d.get("total_column"), additive=bool(d.get("additive", True)),
                   suppress_zeros=bool(d.get("suppress_zeros", False)))


@dataclass(frozen=True)
class ProtectedTable:
    """A table after suppression, with the cells that were suppressed and why.

    ``primary`` and ``secondary`` hold ``(row position, column name)`` pairs.
    """

    table: pd.DataFrame
    spec: DisclosureSpec
    primary: tuple[tuple[int, str], ...] = ()
    secondary: tuple[tuple[int, str], ...] = ()

    @property
    def suppressed(self) -> tuple[tuple[int, str], ...]:
        return self.primary + self.secondary


@dataclass(frozen=True)
class AuditFinding:
    """One published cell (or text) that breaks a disclosure rule."""

    table: str
    rule: str
    row: int | None
    column: str | None
    detail: str

    def __str__(self) -> str:
        where = f"row {self.row + 1}, column {self.column!r}" if self.row is not None else "table"
        return f"table {self.table!r}, {where}: {self.rule}: {self.detail}"


def _number(value: object) -> float | None:
    """A visible count as a float; ``None`` for suppressed, blank or text cells."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return None if pd.isna(value) else float(value)
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def _is_suppressed(value: object) -> bool:
    return isinstance(value, str) and value.strip() == SUPPRESSED


def _layout(columns: Sequence[str], labels: Sequence[object], spec: DisclosureSpec
            ) -> tuple[list[str], np.ndarray]:
    missing = [c for c in spec.count_columns if c not in columns]
    missing += [d for d, _ in spec.derived if d not in columns]
    if missing:
        raise DisclosureError(f"columns named in the disclosure spec are missing: {missing}")
    is_total = np.array([str(lab) in spec.total_labels for lab in labels], dtype=bool)
    return list(spec.count_columns), is_total


def _secondary_lines(n_rows: int, cols: list[str], is_total_row: np.ndarray,
                     spec: DisclosureSpec) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """Lines of cells (as (row, col) indices) that add up to a total: (cells, total cells)."""
    if not spec.additive:
        return []
    lines = []
    data_rows = [i for i in range(n_rows) if not is_total_row[i]]
    total_rows = [i for i in range(n_rows) if is_total_row[i]]
    tcol = cols.index(spec.total_column) if spec.total_column in cols else None
    if total_rows:
        for j in range(len(cols)):
            lines.append(([(i, j) for i in data_rows], [(t, j) for t in total_rows]))
    if tcol is not None:
        data_cols = [j for j in range(len(cols)) if j != tcol]
        for i in range(n_rows):
            lines.append(([(i, j) for j in data_cols], [(i, tcol)]))
    return lines


def protect_table(table: pd.DataFrame, *, threshold: int = 10,
                  count_columns: Sequence[str] = ("n",),
                  derived: Mapping[str, str] | None = None,
                  label_column: str | None = "回答",
                  total_labels: Sequence[str] = TOTAL_LABELS,
                  total_column: str | None = None,
                  additive: bool = True,
                  suppress_zeros: bool = False,
                  also_suppress: Sequence[tuple[object, str]] = ()) -> ProtectedTable:
    """Suppress small cells of a publication table (primary and secondary suppression).

    Parameters
    ----------
    table
        A publication table, e.g. from :func:`kyodo_analysis.viz.tables.tabulation_table`:
        one row per answer plus a total row, count columns holding unweighted counts.
    threshold
        Counts ``0 < n < threshold`` are suppressed (the study's ``suppression_threshold``).
    count_columns, derived, label_column, total_labels, total_column, additive, suppress_zeros
        The table's layout; see :class:`DisclosureSpec`. ``derived`` defaults to
        ``{"%": "n"}`` when the table has a ``%`` column and ``n`` is a count column.
    also_suppress
        ``(row label, count column)`` cells to suppress as well, before secondary suppression:
        the pattern a linked table imposes (e.g. a district's cells suppressed in the
        district × answer crosstab, so that pages of single districts cannot be added up
        against the city total). Reported with the secondary cells.

    Returns
    -------
    ProtectedTable
        ``table`` is a copy with suppressed cells set to ``"x"`` (object columns where
        needed); ``primary``/``secondary`` list the suppressed cells.

    Raises
    ------
    DisclosureError
        If a column named in the layout is missing.

    Examples
    --------
    >>> t = pd.DataFrame({"回答": ["はい", "いいえ", "回答者数（n）"], "n": [25, 4, 29]})
    >>> protect_table(t, derived={}).table["n"].tolist()
    ['x', 'x', 29]
    """
    if derived is None:
        derived = {"%": "n"} if "%" in table.columns and "n" in count_columns else {}
    spec = DisclosureSpec(threshold=int(threshold), count_columns=tuple(count_columns),
                          derived=tuple(derived.items()), label_column=label_column,
                          total_labels=tuple(total_labels), total_column=total_column,
                          additive=additive, suppress_zeros=suppress_zeros)
    if label_column is not None and label_column not in table.columns:
        raise DisclosureError(f"label column {label_column!r} is missing from the table")
    labels = table[label_column].tolist() if label_column else [""] * len(table)
    cols, is_total = _layout(list(table.columns), labels, spec)
    values = np.array([[_number(v) for v in table[c]] for c in cols], dtype=float).T
    values = values.reshape(len(table), len(cols))
    visible = ~np.isnan(values)
    small = visible & (values < spec.threshold) & ((values > 0) | spec.suppress_zeros)
    mask = small.copy()
    secondary = np.zeros_like(mask)
    for label, col in also_suppress:
        rows = [i for i, lab in enumerate(labels) if lab == label]
        if col not in cols or not rows:
            raise DisclosureError(f"cannot suppress ({label!r}, {col!r}): no such row or count column")
        for i in rows:
            if visible[i, cols.index(col)] and not mask[i, cols.index(col)]:
                mask[i, cols.index(col)] = secondary[i, cols.index(col)] = True
    lines = _secondary_lines(len(table), cols, is_total, spec)
    changed = True
    while changed:
        changed = False
        for cells, totals in lines:
            if not any(visible[t] and not mask[t] for t in totals):
                continue  # the total is hidden: nothing to subtract from
            hidden = [c for c in cells if mask[c]]
            if len(hidden) != 1:
                continue
            candidates = [c for c in cells if visible[c] and not mask[c]]
            if candidates:
                # Prefer a non-zero cell: hiding a known-empty cell protects little.
                pick = min(candidates, key=lambda c: (values[c] == 0, values[c]))
            else:
                pick = next(t for t in totals if visible[t] and not mask[t])
            mask[pick] = secondary[pick] = True
            changed = True
    out = table.copy()
    for j, col in enumerate(cols):
        rows = np.flatnonzero(mask[:, j])
        if len(rows):
            out[col] = out[col].astype(object)
            out.iloc[rows, out.columns.get_loc(col)] = SUPPRESSED
        for dcol, source in spec.derived:
            if source == col and len(rows):
                out[dcol] = out[dcol].astype(object)
                out.iloc[rows, out.columns.get_loc(dcol)] = SUPPRESSED
    primary = tuple((int(i), cols[j]) for i, j in zip(*np.nonzero(small), strict=True))
    second = tuple((int(i), cols[j]) for i, j in zip(*np.nonzero(secondary), strict=True))
    return ProtectedTable(out, spec, primary, second)


# --- free text -------------------------------------------------------------------------------

_D = "[0-9０-９]"
_SEP = "[-‐－ー−―]"
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+[@＠][A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
#: Japanese phone numbers: 090-1234-5678, 0569-00-0000, 0569(00)0000, (0569)21-3111, 09012345678
#: (full-width digits and dashes too).
PHONE_RE = re.compile(
    rf"(?<![0-9０-９]){_D}{{2,5}}(?:{_SEP}|[(（]){_D}{{1,4}}(?:{_SEP}|[)）]){_D}{{3,4}}(?![0-9０-９])"
    rf"|[(（][0０]{_D}{{1,4}}[)）]\s?{_D}{{1,4}}{_SEP}{_D}{{3,4}}(?![0-9０-９])"
    rf"|(?<![0-9０-９])[0０]{_D}{{9,10}}(?![0-9０-９])")
_NAME_CHARS = "[一-龥々〆ヵヶァ-ヴー]"
HONORIFIC_RE = re.compile(rf"({_NAME_CHARS}{{1,8}}|[ぁ-ゖ]{{2,4}})(さん|さま|様|氏|君|くん|ちゃん)")
BRACKET_NAME_RE = re.compile(rf"[（(]\s*{_NAME_CHARS}{{1,5}}\s*[）)]")
#: Words before an honorific that are not names (「皆さん」「お客様」…).
NOT_NAMES = frozenset({"皆", "みな", "みんな", "皆様", "お客", "客", "利用者", "市民", "住民",
                       "職員", "担当者", "参加者", "区長", "会長", "先生", "お年寄り", "子供", "子ども",
                       "若い人", "高齢者", "地域の皆", "お互い"})
NAME_MASK = "〇〇"
EMAIL_MASK = "〔メールアドレス〕"
PHONE_MASK = "〔電話番号〕"


def mask_free_text(text: str, *, names: Iterable[str] = ()) -> str:
    """Mask personal data in one free-text answer.

    E-mail addresses become 「〔メールアドレス〕」, phone numbers 「〔電話番号〕」, a name before an
    honorific (「山田さん」→「〇〇さん」), a bracketed name (「（山田）」→「（〇〇）」) and every
    string in ``names`` become 「〇〇」.

    Examples
    --------
    >>> mask_free_text("詳しくは090-1234-5678（山田）まで")
    '詳しくは〔電話番号〕（〇〇）まで'
    >>> mask_free_text("半田太郎さんに連絡 taro@example.jp")
    '〇〇さんに連絡 〔メールアドレス〕'
    """
    if not isinstance(text, str):
        return text
    out = EMAIL_RE.sub(EMAIL_MASK, text)
    out = PHONE_RE.sub(PHONE_MASK, out)
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        out = out.replace(name, NAME_MASK)
    out = HONORIFIC_RE.sub(
        lambda m: m.group(0) if m.group(1) in NOT_NAMES or m.group(1) == NAME_MASK
        else NAME_MASK + m.group(2), out)
    return BRACKET_NAME_RE.sub(lambda m: m.group(0)[0] + NAME_MASK + m.group(0)[-1], out)


def find_personal_data(text: str) -> list[str]:
    """E-mail addresses and phone numbers found in ``text`` (what the audit refuses to publish)."""
    if not isinstance(text, str):
        return []
    return EMAIL_RE.findall(text) + PHONE_RE.findall(text)


# --- audit -----------------------------------------------------------------------------------

def audit_record(name: str, columns: Sequence[str], rows: Sequence[Sequence[object]],
                 spec: DisclosureSpec | Mapping | None) -> list[AuditFinding]:
    """Check one table exactly as published; return the cells that break a rule.

    Parameters
    ----------
    name
        The table's name (used in findings).
    columns, rows
        The published header and cells (``"x"`` marks a suppressed cell).
    spec
        The layout the table was protected with; ``None`` means it never went through
        :func:`protect_table`, which is itself a finding.

    Returns
    -------
    list of AuditFinding
        Empty when the table is fit to publish.
    """
    findings: list[AuditFinding] = []
    columns = list(columns)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            found = find_personal_data(cell) if isinstance(cell, str) else []
            if found:
                findings.append(AuditFinding(name, "personal data", i, columns[j],
                                             f"unmasked {found[0]!r}"))
    if spec is None:
        findings.append(AuditFinding(name, "not disclosure-controlled", None, None,
                                     "published without protect_table"))
        return findings
    if not isinstance(spec, DisclosureSpec):
        spec = DisclosureSpec.from_dict(spec)
    try:
        cols, is_total = _layout(columns, [
            r[columns.index(spec.label_column)] if spec.label_column in columns else ""
            for r in rows], spec)
    except DisclosureError as exc:
        return [*findings, AuditFinding(name, "layout", None, None, str(exc))]
    idx = [columns.index(c) for c in cols]
    cells = [[row[k] for k in idx] for row in rows]
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            v = _number(cell)
            if v is not None and v < spec.threshold and (v > 0 or spec.suppress_zeros):
                findings.append(AuditFinding(name, "small cell", i, cols[j],
                                             f"n={cell:g} is below the threshold {spec.threshold}"
                                             if isinstance(cell, int | float)
                                             else f"n={cell} is below the threshold {spec.threshold}"))
        for dcol, source in spec.derived:
            j = cols.index(source)
            if _is_suppressed(row[j]) and not _is_suppressed(rows[i][columns.index(dcol)]):
                findings.append(AuditFinding(name, "derived cell", i, dcol,
                                             f"shows {rows[i][columns.index(dcol)]!r} although "
                                             f"{source!r} is suppressed"))
    mask = np.array([[_is_suppressed(c) for c in row] for row in cells], dtype=bool)
    visible = np.array([[_number(c) is not None for c in row] for row in cells], dtype=bool)
    if mask.size:
        for line, totals in _secondary_lines(len(rows), cols, is_total, spec):
            if any(visible[t] for t in totals) and sum(mask[c] for c in line) == 1:
                i, j = next(c for c in line if mask[c])
                findings.append(AuditFinding(name, "secondary suppression", i, cols[j],
                                             "the only suppressed cell of a line with a visible "
                                             "total can be recovered by subtraction"))
    return findings



# ------------------------------------------------------------------------------ groups
#
# Opinion tables by district or attribute identify nobody; a *small group of people* does (a
# row with a tiny base whose answers are then known). The rules below protect groups:
#
# * a group whose base is below ``min_base`` is not shown (every cell of its row or column
#   is 「x」); 無回答 is an answer like any other and never forces a substantive cell to go;
# * a group can also be recovered by differencing published bases: an enclosing group (the
#   city, a 中学校区) minus the groups shown inside it leaves the hidden ones plus the
#   respondents in no group (attribute left blank). When that residual is between 1 and
#   ``min_base - 1`` people, the smallest shown member is hidden too (complementary
#   suppression), until every residual is 0 or at least ``min_base``.
#
# Cell-level suppression (:func:`protect_table`) is kept for questions marked
# ``sensitive: true`` in the codebook.


def hidden_groups(bases: Mapping[str, int], *, min_base: int,
                  partitions: Sequence[tuple[int | None, Sequence[str]]] = ()) -> set[str]:
    """Groups to hide: those under ``min_base`` and those differencing would reveal.

    Parameters
    ----------
    bases
        Unweighted base of every group that would be shown.
    min_base
        Smallest group shown.
    partitions
        ``(published base of the enclosing group, member groups)``: the city and all groups
        of a level or attribute; a parent district and its children. An enclosing base of
        ``None`` (not published) makes no constraint.

    Returns
    -------
    set of str
        The groups to show as 「x」.

    Examples
    --------
    >>> sorted(hidden_groups({"a": 40, "b": 7, "c": 30}, min_base=10, partitions=[(77, ["a", "b", "c"])]))
    ['b', 'c']
    """
    hidden = {g for g, n in bases.items() if n < min_base}
    changed = True
    while changed:
        changed = False
        for total, members in partitions:
            if total is None:
                continue
            shown = [g for g in members if g in bases and g not in hidden]
            residual = total - sum(bases[g] for g in shown)
            if 0 < residual < min_base and shown:
                hidden.add(min(shown, key=lambda g: (bases[g], g)))
                changed = True
    return hidden


def differencing_findings(groups: Sequence[Mapping], *, min_base: int) -> list[AuditFinding]:
    """Run the differencing attack on published group bases; every recovered small group is
    a finding.

    ``groups`` are ``{"table", "question", "dimension", "group", "parent_dimension",
    "parent", "base"}`` as read from the published tables (``base`` an int when shown,
    anything else when hidden). For every question and enclosing group (the city
    ``("", "市全体")`` or a parent district) shown somewhere, its base minus the bases of the
    groups shown inside it must be 0 or at least ``min_base``; and no shown group may be
    smaller than ``min_base``.
    """
    findings: list[AuditFinding] = []
    shown: dict[tuple[str, str, str], int] = {}
    members: dict[tuple[str, str, str, str], set[str]] = {}
    for g in groups:
        base = g.get("base")
        key = (g["question"], g["dimension"], g["group"])
        if isinstance(base, int | float) and not isinstance(base, bool):
            if 0 < base < min_base:
                findings.append(AuditFinding(g["table"], "small group", None, g["group"],
                                             f"{g['dimension']} {g['group']}: n={base:g} is "
                                             f"below {min_base}"))
            shown[key] = int(base)
        members.setdefault((g["question"], g.get("parent_dimension") or "",
                            g.get("parent") or "市全体", g["dimension"]), set()).add(g["group"])
    for (question, pdim, parent, dim), names in members.items():
        total = shown.get((question, pdim, parent))
        if total is None:
            continue
        visible = [shown[(question, dim, n)] for n in names if (question, dim, n) in shown]
        residual = total - sum(visible)
        if 0 < residual < min_base:
            findings.append(AuditFinding(
                f"{question}", "differencing", None, f"{pdim or '市全体'} {parent}",
                f"{parent} (n={total}) minus the {dim} groups shown inside it leaves "
                f"{residual} people (< {min_base})"))
    return findings
