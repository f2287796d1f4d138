"""Two-sided project reviews (協働事業評価書 / ふりかえりシート): reading and summaries.

Layout (one row per project, fiscal year and side)::

    事業ID | 年度 | 立場 | <one column per review item> | コメント

``立場`` is the side that filled the sheet: 「行政」 (also 市, 市役所, 担当課) or 「市民側」 (also
相手方, 団体, 市民, 協働先). Every review item of the study (``collaboration.review_items``,
by default 目的の共有, 役割分担, 対等性, 情報共有, 相乗効果, 成果, 継続の意向) is a column scored
1–5 (5 = よくできた); a blank is an item not scored. ``年度`` may be left blank when the
project runs in one year only.

Rules: ``missing_id``; ``unknown_project`` (an id not in the accepted register);
``unknown_side``; ``not_a_year``; ``score_range`` (a score that is not a whole number 1–5);
``duplicate_review`` (two sheets for the same project, year and side: both quarantined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.collaboration.register import EXAMPLE_ID, Register
from kyodo_analysis.errors import InputError
from kyodo_analysis.io.normalise import fold_label, normalise_cell, parse_number
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import QUARANTINE_COLUMNS

__all__ = ["CITY_SIDE", "PARTNER_SIDE", "SIDES", "Reviews", "combine_reviews", "read_reviews",
           "validate_reviews"]

CITY_SIDE = "行政"
PARTNER_SIDE = "市民側"
SIDES = (CITY_SIDE, PARTNER_SIDE)
_SIDE_ALIASES = {CITY_SIDE: ("行政", "市", "市役所", "担当課", "行政側", "市側"),
                 PARTNER_SIDE: ("市民側", "相手方", "団体", "市民", "協働先", "団体側")}
_ID_HEADERS = ("事業ID", "事業番号", "事業コード")
_YEAR_HEADERS = ("年度", "評価年度")
_SIDE_HEADERS = ("立場", "評価者", "記入者")
_COMMENT_HEADERS = ("コメント", "意見", "自由記述", "所感")


@dataclass(frozen=True)
class Reviews:
    """Reviews read and checked.

    Attributes
    ----------
    scores
        Long form: ``project_id, fiscal_year, side, item, score`` (scored items only).
    comments
        ``project_id, fiscal_year, side, comment`` (non-blank comments only; raw text, to be
        published only through the study's disclosure rules).
    items
        The review items, in order.
    """

    files: tuple[str, ...]
    read: int
    items: tuple[str, ...]
    scores: pd.DataFrame
    comments: pd.DataFrame
    quarantine: pd.DataFrame
    quarantined_rows: pd.DataFrame

    @property
    def n_accepted(self) -> int:
        return self.read - len(self.quarantined_rows)

    @property
    def n_quarantined(self) -> int:
        return len(self.quarantined_rows)


def _find(columns: Sequence[str], names: Sequence[str]) -> str | None:
    folded = {fold_label(c): c for c in columns}
    for n in names:
        if fold_label(n) in folded:
            return folded[fold_label(n)]
    return None


def read_reviews(path: str | Path, register: Register, items: Sequence[str], *,
                 sheet: str | int | None = None, encoding: str | None = None) -> Reviews:
    """Read a review sheet (CSV or Excel) and validate it against the accepted register."""
    known = {*_ID_HEADERS, *_YEAR_HEADERS, *_SIDE_HEADERS, *_COMMENT_HEADERS, *items}
    raw = read_table(path, sheet=sheet, encoding=encoding, known_headers=known)
    return validate_reviews(raw.data, register, items, file=raw.file,
                            rows=raw.row_numbers.to_numpy())


def validate_reviews(data: pd.DataFrame, register: Register, items: Sequence[str], *,
                     file: str = "", rows: Sequence[int] | None = None) -> Reviews:
    """Validate review rows (cells as read); see the module docstring."""
    columns = [str(c) for c in data.columns]
    id_col, side_col = _find(columns, _ID_HEADERS), _find(columns, _SIDE_HEADERS)
    year_col, comment_col = _find(columns, _YEAR_HEADERS), _find(columns, _COMMENT_HEADERS)
    for col, names in ((id_col, _ID_HEADERS), (side_col, _SIDE_HEADERS)):
        if col is None:
            raise InputError(f"review column missing: {names[0]} (accepted: {', '.join(names)})",
                             file=file, column=names[0])
    item_cols = {item: _find(columns, [item]) for item in items}
    absent = [i for i, c in item_cols.items() if c is None]
    if len(absent) == len(items):
        raise InputError(f"the review sheet has none of the review items ({'、'.join(items)})",
                         file=file)
    if len(data) == 0:
        raise InputError("the review sheet has a header but no rows", file=file)
    rows = np.asarray(rows if rows is not None else np.arange(2, len(data) + 2))
    example = np.array([normalise_cell(v) == EXAMPLE_ID for v in data[id_col]], dtype=bool)
    data, rows = data[~example].reset_index(drop=True), rows[~example]
    if len(data) == 0:
        raise InputError("the review sheet has a header but no rows", file=file)
    projects = register.projects.set_index("project_id")
    side_of = {fold_label(a): side for side, names in _SIDE_ALIASES.items() for a in names}
    problems: list[dict] = []
    bad = np.zeros(len(data), dtype=bool)
    score_rows, comment_rows, keys = [], [], []

    def report(i, column, value, rule, message):
        bad[i] = True
        problems.append({"file": file, "row": int(rows[i]), "column": column,
                         "value": normalise_cell(value), "rule": rule, "message": message})

    for i in range(len(data)):
        row = data.iloc[i]
        pid = normalise_cell(row[id_col])
        fy = None
        if not pid:
            report(i, id_col, "", "missing_id", "事業IDがありません")
        elif pid not in projects.index:
            report(i, id_col, pid, "unknown_project",
                   f"事業ID「{pid}」は事業台帳（受け付けた事業）にありません")
        side = side_of.get(fold_label(row[side_col]))
        if side is None:
            report(i, side_col, row[side_col], "unknown_side",
                   f"{side_col}: 「{normalise_cell(row[side_col])}」は"
                   f"{CITY_SIDE}・{PARTNER_SIDE}のどちらでもありません")
        if year_col is not None and normalise_cell(row[year_col]):
            try:
                fy = parse_fiscal_year(normalise_cell(row[year_col]))
            except ValueError:
                report(i, year_col, row[year_col], "not_a_year", f"{year_col}: 年度として読めません")
        elif pid in projects.index:
            fy = int(projects.loc[pid, "end_fy"])
        for item, col in item_cols.items():
            if col is None:
                continue
            v = row[col]
            text = normalise_cell(v)
            if not text:
                continue
            number = parse_number(text)
            if number is None or number not in (1, 2, 3, 4, 5):
                report(i, col, v, "score_range", f"{col}: 評点は1～5の整数で記入してください")
                continue
            score_rows.append({"project_id": pid, "fiscal_year": fy, "side": side,
                               "item": item, "score": int(number), "_i": i})
        if comment_col is not None and normalise_cell(row[comment_col]):
            comment_rows.append({"project_id": pid, "fiscal_year": fy, "side": side,
                                 "comment": str(row[comment_col]).strip(), "_i": i})
        keys.append((pid, fy, side))
    seen = pd.Series([str(k) for k in keys])
    dup = seen.duplicated(keep=False).to_numpy()
    for i in np.flatnonzero(dup & ~bad):
        report(i, id_col, keys[i][0], "duplicate_review",
               f"事業ID「{keys[i][0]}」の{keys[i][1]}年度・{keys[i][2]}の評価が2件あります")
    scores = pd.DataFrame(score_rows, columns=["project_id", "fiscal_year", "side", "item",
                                               "score", "_i"])
    comments = pd.DataFrame(comment_rows, columns=["project_id", "fiscal_year", "side",
                                                   "comment", "_i"])
    keep = ~bad
    scores = scores[scores["_i"].map(lambda j: keep[j]).astype(bool)].drop(columns="_i")
    comments = comments[comments["_i"].map(lambda j: keep[j]).astype(bool)].drop(columns="_i")
    scores = scores.astype({"fiscal_year": "int64", "score": "int64"}) if len(scores) else scores
    quarantined = data[bad].copy()
    quarantined.insert(0, "_row", rows[bad])
    quarantined.insert(0, "file", file)
    return Reviews(files=(file,), read=len(data), items=tuple(items),
                   scores=scores.reset_index(drop=True), comments=comments.reset_index(drop=True),
                   quarantine=pd.DataFrame(problems, columns=QUARANTINE_COLUMNS),
                   quarantined_rows=quarantined.reset_index(drop=True))


def combine_reviews(parts: Sequence[Reviews]) -> Reviews:
    """Several review files as one."""
    if len(parts) == 1:
        return parts[0]
    return Reviews(files=tuple(f for p in parts for f in p.files), read=sum(p.read for p in parts),
                   items=parts[0].items,
                   scores=pd.concat([p.scores for p in parts], ignore_index=True),
                   comments=pd.concat([p.comments for p in parts], ignore_index=True),
                   quarantine=pd.concat([p.quarantine for p in parts], ignore_index=True),
                   quarantined_rows=pd.concat([p.quarantined_rows for p in parts],
                                              ignore_index=True))
