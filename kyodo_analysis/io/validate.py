"""Validation of a survey file against its codebook, with a quarantine for rejected rows.

File-level problems (no recognisable header, a required column missing, no data rows) raise
:class:`~kyodo_analysis.errors.InputError` and nothing is accepted. Row-level problems send the
row to the quarantine with the file, the row number as a spreadsheet shows it, the column, the
value, the rule and a Japanese message; every other row is accepted. Counts always reconcile:
``read == accepted + quarantined``.

Rules
-----
``missing_id``, ``duplicate_id``
    Every row needs a respondent id, and ids are unique (all rows sharing an id are
    quarantined: which one is right is for a person to decide).
``not_a_code``
    A cell that is neither a number nor a label of the question (labels such as
    「ある程度知っている」 are mapped to their codes).
``out_of_range``
    A code that is neither a substantive nor a missing code of the question; for numeric
    questions, a value outside the codebook's ``range``.
``required``
    A design variable (stratum, register attributes) left blank.
``mr_value``, ``mr_exclusive``, ``mr_max``
    A multiple-response cell that is not 0/1 (or, in delimited layout, names an unknown
    option); an exclusive option (「参加していない」) chosen with others; more options chosen
    than ``max_choices``.
``skip_rule``
    A question answered although its ``asked_if`` condition excludes the respondent, or marked
    非該当 although the condition includes them.
``short_row``
    A CSV line with fewer fields than the header (a truncated line): its blanks are not
    answers.
``formula``
    An Excel cell holding a formula: formulas are not evaluated (paste values instead).
``not_a_year``, ``wave_mismatch``
    The survey-year column (e.g. 調査年度 「令和７年度」) is unreadable, or names another fiscal
    year than the wave being imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kyodo_analysis.codebook import Codebook, Question
from kyodo_analysis.errors import InputError
from kyodo_analysis.io.normalise import factorize, normalise_cell, normalise_strings, parse_number
from kyodo_analysis.io.readers import RawTable

__all__ = ["QUARANTINE_COLUMNS", "ValidationResult", "validate"]

QUARANTINE_COLUMNS = ["file", "row", "column", "value", "rule", "message"]
NOT_APPLICABLE = 8
_DELIMS = re.compile(r"[,、，;；/／\s]+")


@dataclass(frozen=True)
class ValidationResult:
    """What validation made of one file.

    Attributes
    ----------
    accepted
        Accepted rows in canonical columns (``id``, then question ids; codes as nullable
        integers, free text as strings) plus ``_row``, the spreadsheet row number.
    quarantine
        One record per problem: ``file, row, column, value, rule, message``.
    quarantined_rows
        The raw cells of every quarantined row, as read, with ``_row``: nothing is lost.
    """

    file: str
    encoding: str | None
    read: int
    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    quarantined_rows: pd.DataFrame
    unknown_columns: tuple[str, ...] = ()
    header_map: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None

    @property
    def n_accepted(self) -> int:
        return len(self.accepted)

    @property
    def n_quarantined(self) -> int:
        return len(self.quarantined_rows)

    def summary(self) -> dict:
        """The counts and problems as a JSON-ready mapping (the ``--report-json`` format)."""
        errors = self.quarantine.astype({"row": int}).to_dict(orient="records")
        return {
            "file": self.file,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "read": self.read,
            "accepted": self.n_accepted,
            "quarantined": self.n_quarantined,
            "rules": self.quarantine["rule"].value_counts().sort_index().to_dict(),
            "unknown_columns": list(self.unknown_columns),
            "errors": [{k: e[k] for k in ("row", "column", "value", "rule", "message")}
                       for e in errors],
        }

    def to_json(self) -> str:
        return json.dumps(self.summary(), ensure_ascii=False, indent=2, default=str)


def _column_layout(codebook: Codebook) -> list[tuple[str, Question, str]]:
    """(canonical column, question, kind) for every column the codebook expects."""
    out = []
    for q in codebook:
        if q.is_multiple:
            if q.layout == "delimited":
                out.append((q.id, q, "mr_delimited"))
            else:
                out += [(oid, q, "mr") for oid in q.option_ids]
        elif q.type == "text":
            out.append((q.id, q, "text"))
        elif q.type == "numeric":
            out.append((q.id, q, "number"))
        else:
            out.append((q.id, q, "code"))
    return out


def map_header(columns: list[str], codebook: Codebook, *, file: str) -> tuple[dict[str, str], list[str]]:
    """Map raw headers to canonical ids; raise :class:`InputError` for file-level problems."""
    aliases = {normalise_cell(k).casefold(): v for k, v in codebook.header_aliases().items()}
    mapping, unknown, seen = {}, [], {}
    for c in columns:
        canon = aliases.get(normalise_cell(c).casefold())
        if canon is None:
            unknown.append(c)
            continue
        if canon in seen:
            raise InputError(f"two columns mean the same question {canon!r}: "
                             f"{seen[canon]!r} and {c!r}", file=file, column=c)
        seen[canon] = c
        mapping[c] = canon
    if not mapping:
        raise InputError("the header matches no column of the codebook "
                         f"({codebook.title or codebook.source}); first columns: "
                         f"{', '.join(map(str, columns[:5]))}", file=file)
    expected = ["id"] + [col for col, _, _ in _column_layout(codebook)]
    missing = [c for c in expected if c not in seen]
    if missing:
        names = _expected_names(codebook, missing[0])
        raise InputError(f"required column missing: {missing[0]} (expected a header named "
                         f"{' or '.join(names)}); {len(missing)} missing in all",
                         file=file, column=missing[0])
    return mapping, unknown


def _expected_names(codebook: Codebook, canon: str) -> list[str]:
    return [k for k, v in codebook.header_aliases().items() if v == canon]


def validate(raw: RawTable, codebook: Codebook, *, fiscal_year: int | None = None,
             strict: bool = False) -> ValidationResult:
    """Validate a raw table against ``codebook``; see the module docstring for the rules.

    Parameters
    ----------
    raw
        What :func:`~kyodo_analysis.io.readers.read_table` returned.
    codebook
        The survey's codebook.
    fiscal_year
        The wave's fiscal year; rows whose survey-year column says otherwise are quarantined.
    strict
        Reject the whole file (raise :class:`InputError`) on any row-level problem.

    Raises
    ------
    InputError
        A file-level problem, or (with ``strict``) any row-level problem.
    """
    file = raw.file
    data = raw.data
    mapping, unknown = map_header([str(c) for c in data.columns], codebook, file=file)
    if len(data) == 0:
        raise InputError("the file has a header but no data rows", file=file)
    header_of = {v: k for k, v in mapping.items()}
    rows = raw.row_numbers.to_numpy()
    n = len(data)
    problems: list[pd.DataFrame] = []
    out: dict[str, object] = {}

    def report(mask: np.ndarray, column: str, values, rule: str, message) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        if isinstance(values, _Lazy):
            vals = values.take(idx)
        elif np.isscalar(values):
            vals = [values] * idx.size
        else:
            vals = np.asarray(values, dtype=object)[idx]
        msgs = [message(v) for v in vals] if callable(message) else [message] * idx.size
        problems.append(pd.DataFrame({"_pos": idx, "file": file, "row": rows[idx],
                                      "column": column, "value": [str(v) for v in vals],
                                      "rule": rule, "message": msgs}))

    # Respondent id.
    id_col = header_of["id"]
    ids = normalise_strings(data[id_col])
    blank = ids == ""
    report(blank, id_col, ids, "missing_id", f"{id_col}: 回答者IDがありません")
    dup = pd.Series(ids).duplicated(keep=False).to_numpy() & ~blank
    report(dup, id_col, ids, "duplicate_id", lambda v: f"{id_col}: 回答者ID「{v}」が重複しています")
    out["id"] = ids

    if raw.short_rows is not None and raw.short_rows.any():
        last = str(data.columns[-1])
        report(raw.short_rows, last, "", "short_row",
               "行の項目数が見出しより少なくなっています（途中で切れた行）")

    if "fiscal_year" in header_of:
        _check_fiscal_year(data[header_of["fiscal_year"]], header_of["fiscal_year"],
                           fiscal_year, report)

    layout = _column_layout(codebook)
    for col, q, kind in layout:
        header = header_of[col]
        series = data[header]
        if kind == "text":
            codes, uniques = factorize(series)
            text_u = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
            out[col] = text_u[codes]
            continue
        if kind == "mr_delimited":
            _expand_delimited(series, q, header, out, report)
            continue
        vals_u, rules_u, raw_u, codes = _parse_column(series, q, kind)
        for r, msg in _RULE_MESSAGES[kind].items():
            hit_u = rules_u == r
            if hit_u.any():
                report(hit_u[codes], header, _Lazy(raw_u, codes), r,
                       lambda v, m=msg, h=header, qq=q: m(h, v, qq))
        out[col] = vals_u[codes]

    # Multiple-response consistency.
    for q in codebook:
        if not q.is_multiple:
            continue
        picked = [np.asarray(out[oid]) == 1 for oid in q.option_ids]
        chosen = np.sum(picked, axis=0, dtype=np.int64)
        for opt, oid, hit in zip(q.options, q.option_ids, picked, strict=True):
            if opt.exclusive:
                clash = hit & (chosen > 1)
                report(clash, header_of.get(oid, q.id), "1", "mr_exclusive",
                       f"{q.id}: 「{opt.label}」と他の選択肢が同時に選ばれています")
        if q.max_choices is not None:
            over = chosen > q.max_choices
            report(over, q.id, chosen.astype(int), "mr_max",
                   lambda v, qq=q: f"{qq.id}: 選択数 {v} が上限 {qq.max_choices} を超えています")

    # Skip rules.
    for q in codebook:
        if not q.asked_if or q.id not in out:
            continue
        cond_col, equals = q.asked_if["column"], q.asked_if["equals"]
        cond = np.asarray(out[cond_col], dtype=float)
        answer = np.asarray(out[q.id], dtype=float)
        known = ~np.isnan(cond)
        asked = known & (cond == float(equals))
        not_asked = known & (cond != float(equals))
        substantive = np.isin(answer, list(q.codes))
        header = header_of[q.id]
        report(not_asked & substantive, header, answer, "skip_rule",
               lambda v, h=header, c=cond_col, e=equals: (
                   f"{h}: 非該当のはずの設問に回答「{int(v)}」があります（条件: {c} = {e}）"))
        report(asked & (answer == NOT_APPLICABLE), header, answer, "skip_rule",
               lambda v, h=header, c=cond_col, e=equals: (
                   f"{h}: 回答対象（{c} = {e}）なのに非該当コードです"))

    quarantine = (pd.concat(problems, ignore_index=True) if problems
                  else pd.DataFrame(columns=["_pos", *QUARANTINE_COLUMNS]))
    quarantine = quarantine.sort_values(["_pos", "column"], kind="stable")
    bad_pos = np.unique(quarantine["_pos"].to_numpy(dtype=int))
    keep = np.ones(n, dtype=bool)
    keep[bad_pos] = False
    if strict and bad_pos.size:
        first = quarantine.iloc[0]
        raise InputError(f"strict mode: {bad_pos.size} of {n} rows have problems; first: "
                         f"{first['message']} [{first['rule']}]", file=file,
                         row=int(first["row"]), column=str(first["column"]),
                         value=first["value"])

    accepted = _typed_frame(out, layout, keep)
    accepted.insert(0, "_row", rows[keep])
    quarantined_rows = data.iloc[bad_pos].astype(object).copy()
    quarantined_rows.insert(0, "_row", rows[bad_pos])
    return ValidationResult(
        file=file, encoding=raw.encoding, read=n, accepted=accepted.reset_index(drop=True),
        quarantine=quarantine.drop(columns="_pos").reset_index(drop=True),
        quarantined_rows=quarantined_rows.reset_index(drop=True),
        unknown_columns=tuple(unknown), header_map=mapping, delimiter=raw.delimiter,
    )


def _parse_column(series: pd.Series, q: Question, kind: str):
    """Per distinct value: the parsed code, the rule it breaks (or ``None``) and its raw text;
    plus the codes mapping rows to distinct values."""
    codes, uniques = factorize(series)
    labels = {normalise_cell(v): k for k, v in {**q.codes, **q.missing}.items()}
    allowed = set(q.codes) | set(q.missing)
    # Codes fit float32 exactly (integers below 2**24) at half the memory of float64.
    vals = np.full(len(uniques) + 1, np.nan, dtype=np.float64 if kind == "number" else np.float32)
    rules = np.full(len(uniques) + 1, None, dtype=object)
    texts = np.array([normalise_cell(u) for u in uniques] + [""], dtype=object)
    for i, text in enumerate(texts[:-1]):
        if text == "":
            continue
        number = parse_number(text)
        if kind == "mr":
            if number in (0.0, 1.0):
                vals[i] = number
            else:
                rules[i] = "mr_value"
            continue
        if kind == "number":
            if number is None:
                rules[i] = "not_a_code"
            elif number in allowed:
                vals[i] = number
            elif q.range is not None and not (q.range[0] <= number <= q.range[1]):
                rules[i] = "out_of_range"
            else:
                vals[i] = number
            continue
        if text.startswith("="):
            rules[i] = "formula"
        elif number is None:
            if text in labels:
                vals[i] = labels[text]
            else:
                rules[i] = "not_a_code"
        elif number.is_integer() and int(number) in allowed:
            vals[i] = number
        else:
            rules[i] = "out_of_range"
    if kind == "code" and q.type == "design":
        rules[-1] = "required"
    raw_text = np.array([("" if isinstance(u, float) and np.isnan(u) else str(u))
                         for u in uniques] + [""], dtype=object)
    return vals, rules, raw_text, codes


class _Lazy:
    """Per-row values kept as (distinct values, codes) until a few rows are asked for."""

    def __init__(self, uniques: np.ndarray, codes: np.ndarray) -> None:
        self.uniques, self.codes = uniques, codes

    def take(self, idx: np.ndarray) -> np.ndarray:
        return self.uniques[self.codes[idx]]


def _allowed_text(q: Question) -> str:
    return ", ".join(str(c) for c in sorted({*q.codes, *q.missing}))


_RULE_MESSAGES = {
    "code": {
        "not_a_code": lambda h, v, q: f"{h}: 値「{v}」はコードでも選択肢の名前でもありません",
        "out_of_range": lambda h, v, q: (f"{h}: 値「{v}」はコード表にありません"
                                         f"（有効な値: {_allowed_text(q)}）"),
        "required": lambda h, v, q: f"{h}: 抽出時の属性が空欄です",
        "formula": lambda h, v, q: f"{h}: 数式「{v}」は評価しません（値として貼り付けてください）",
    },
    "mr": {
        "mr_value": lambda h, v, q: f"{h}: 複数回答の値「{v}」は 0 か 1 ではありません",
    },
    "number": {
        "not_a_code": lambda h, v, q: f"{h}: 値「{v}」は数値ではありません",
        "out_of_range": lambda h, v, q: f"{h}: 値「{v}」は範囲 {q.range[0]}～{q.range[1]} の外です",
    },
}


def _check_fiscal_year(series: pd.Series, header: str, expected: int | None, report) -> None:
    from kyodo_analysis.calendar import fiscal_year_label, parse_fiscal_year

    codes, uniques = factorize(series)
    years = np.full(len(uniques) + 1, np.nan)
    for i, u in enumerate(uniques):
        try:
            years[i] = parse_fiscal_year(normalise_cell(u))
        except ValueError:
            years[i] = -1
    per_row = years[codes]
    raw_text = _Lazy(np.array([str(u) for u in uniques] + [""], dtype=object), codes)
    report(per_row == -1, header, raw_text, "not_a_year",
           lambda v: f"{header}: 「{v}」は年度として読めません")
    if expected is not None:
        label = fiscal_year_label(expected, style="era")
        report((per_row > 0) & (per_row != expected), header, raw_text, "wave_mismatch",
               lambda v: f"{header}: 「{v}」は取り込み中の{label}と異なります")


def _expand_delimited(series: pd.Series, q: Question, header: str, out: dict, report) -> None:
    """A multiple-response answer written in one cell ("1,3,5" or 「1、3」) → 0/1 columns."""
    codes, uniques = factorize(series)
    known = {o.code for o in q.options}
    n_u = len(uniques) + 1
    matrix = np.zeros((n_u, len(q.options)), dtype=np.float32)
    matrix[-1, :] = np.nan
    bad = np.zeros(n_u, dtype=bool)
    for i, u in enumerate(uniques):
        text = normalise_cell(u)
        if text == "":
            matrix[i, :] = np.nan
            continue
        parts = [p for p in _DELIMS.split(text) if p]
        nums = [parse_number(p) for p in parts]
        if any(x is None or not float(x).is_integer() or int(x) not in known for x in nums):
            bad[i] = True
            matrix[i, :] = np.nan
            continue
        for x in nums:
            matrix[i, [o.code for o in q.options].index(int(x))] = 1
    raw_text = _Lazy(np.array([str(u) for u in uniques] + [""], dtype=object), codes)
    report(bad[codes], header, raw_text, "mr_value",
           lambda v: f"{header}: 複数回答「{v}」に選択肢にない番号があります")
    rows = matrix[codes]
    for j, oid in enumerate(q.option_ids):
        out[oid] = rows[:, j]


def _typed_frame(out: dict, layout, keep: np.ndarray) -> pd.DataFrame:
    """Accepted values with their final types: id and text as strings, codes as Int32
    (the store's INTEGER; readers get Int64 back from :meth:`Store.load_wave`).

    Consumes ``out`` column by column, so the working arrays and the result are not both held
    in full at once.
    """
    columns = {"id": pd.array(np.asarray(out.pop("id"), dtype=object)[keep], dtype="string")}
    everything = bool(keep.all())
    for col, q, kind in layout:
        targets = q.option_ids if kind == "mr_delimited" else [col]
        for c in targets:
            values = np.asarray(out.pop(c))
            if not everything:
                values = values[keep]
            if kind == "text":
                columns[c] = pd.array(values.astype(object), dtype="string")
                continue
            missing = np.isnan(values)
            values = np.nan_to_num(values, copy=False, nan=0.0)  # arrays here are ours
            if kind == "number":
                columns[c] = pd.arrays.FloatingArray(values.astype(np.float64), missing)
            else:
                columns[c] = pd.arrays.IntegerArray(values.astype(np.int32), missing)
    return pd.DataFrame(columns, copy=False)
