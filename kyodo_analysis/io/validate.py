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
    A multiple-response cell that is not 0/1, a mark (「○」 chosen, 「×」 not) or the option's
    own label (or, in delimited layout, names an unknown option); an exclusive option
    (「参加していない」) chosen with others; more options chosen than ``max_choices``.
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
``not_a_date``
    A cell of a ``date`` question that is no date (see
    :func:`~kyodo_analysis.io.normalise.parse_date`), e.g. 令和7年2月30日.
``not_derivable``
    A substantive source value that no bin or map entry of a derived variable covers (a
    source 無回答/非該当 or blank just makes the derived value missing).
``not_in_sampling_list``
    With a sampling list (発送名簿): a respondent whose id is not on it.
``control_character``
    A respondent id holding a control character (NUL, ESC, DEL, ...: none of them is typed
    into an id), or a free-text answer holding one other than tab and line breaks. The
    quarantine shows the character as ``\\x00``.

Cells are matched to labels and aliases after :func:`~kyodo_analysis.io.normalise.fold_label`;
a question not asked in the wave (``waves:``) needs no column and its values are missing;
derived variables (``derived:``) are computed from the accepted values and returned as
ordinary columns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kyodo_analysis.codebook import Codebook, Option, Question
from kyodo_analysis.errors import InputError
from kyodo_analysis.io.normalise import (
    factorize,
    fold_label,
    normalise_cell,
    normalise_strings,
    parse_date,
    parse_number,
)
from kyodo_analysis.io.readers import RawTable

if TYPE_CHECKING:
    from kyodo_analysis.io.sampling import SamplingList

__all__ = ["QUARANTINE_COLUMNS", "ValidationResult", "parse_column", "validate"]

QUARANTINE_COLUMNS = ["file", "row", "column", "value", "rule", "message"]
# Between the answers of a multiple response written in one cell (after NFKC: 「，」 is ",").
# 「・」 and spaces also separate answers, but may sit inside a label: see _split_answers.
_DELIMS = re.compile(r"[,、;/|]+")
_WEAK_DELIMS = re.compile(r"([・\s]+)")
# A code written before its label: 「1.よく知っている」「2：女性」「3)板山」「(4)その他」.
_CODE_LABEL_RE = re.compile(r"^[(\[]?(\d+)\s*[.:)\]、．]\s*(.+)$")
# Marks for a chosen (or not chosen) option in its own column, as typed or exported.
_MR_MARKS = {"○": 1.0, "◯": 1.0, "●": 1.0, "◎": 1.0, "✓": 1.0, "✔": 1.0, "レ": 1.0,
             "true": 1.0, "×": 0.0, "✕": 0.0, "false": 0.0}
# A number written with its unit in a numeric question (「45歳」「３回」「12.5%」).
#: C0 and C1 control characters and DEL; free text keeps tab, LF and CR (line breaks in a cell).
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UNIT_RE = re.compile(r"^(.*?\d)\s*(歳|才|人|回|件|円|年|か月|ヶ月|カ月|日|時間|分|%)$")


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
    sampling_list: str | None = None
    sampling_list_sha256: str | None = None

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
            "sampling_list": self.sampling_list,
            "errors": [{k: e[k] for k in ("row", "column", "value", "rule", "message")}
                       for e in errors],
        }

    def to_json(self) -> str:
        return json.dumps(self.summary(), ensure_ascii=False, indent=2, default=str)


def _column_layout(codebook: Codebook) -> list[tuple[str, Question, str]]:
    """(canonical column, question, kind) for every column the codebook expects in a file
    (derived variables are computed, not read)."""
    out = []
    for q in codebook:
        if q.is_derived:
            continue
        if q.is_multiple:
            if q.layout == "delimited":
                out.append((q.id, q, "mr_delimited"))
            else:
                out += [(oid, q, "mr") for oid in q.option_ids]
        elif q.type == "text":
            out.append((q.id, q, "text"))
        elif q.type == "numeric":
            out.append((q.id, q, "number"))
        elif q.type == "date":
            out.append((q.id, q, "date"))
        else:
            out.append((q.id, q, "code"))
    return out


def map_header(columns: list[str], codebook: Codebook, *, file: str,
               fiscal_year: int | None = None,
               provided: frozenset[str] = frozenset()) -> tuple[dict[str, str], list[str]]:
    """Map raw headers to canonical ids; raise :class:`InputError` for file-level problems.

    Columns of questions not asked in ``fiscal_year`` and of questions ``provided`` by a
    sampling list are not required; if present they are listed as unknown (ignored).
    """
    aliases = {normalise_cell(k).casefold(): v for k, v in codebook.header_aliases().items()}
    skipped = {col for col, q, _ in _column_layout(codebook)
               if not q.asked_in(fiscal_year) or q.id in provided}
    mapping, unknown, seen = {}, [], {}
    for c in columns:
        canon = aliases.get(normalise_cell(c).casefold())
        if canon is None or canon in skipped:
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
    optional = ({col for col, q, _ in _column_layout(codebook) if q.waves is not None}
                if fiscal_year is None else set())
    expected = ["id"] + [col for col, _, _ in _column_layout(codebook)
                         if col not in skipped and col not in optional]
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
             strict: bool = False, sampling_list: SamplingList | None = None) -> ValidationResult:
    """Validate a raw table against ``codebook``; see the module docstring for the rules.

    Parameters
    ----------
    raw
        What :func:`~kyodo_analysis.io.readers.read_table` returned.
    codebook
        The survey's codebook.
    fiscal_year
        The wave's fiscal year; rows whose survey-year column says otherwise are quarantined,
        and questions whose ``waves`` do not include it are not expected.
    strict
        Reject the whole file (raise :class:`InputError`) on any row-level problem.
    sampling_list
        The wave's sampling list (:func:`~kyodo_analysis.io.sampling.read_sampling_list`):
        its columns fill their questions for every respondent, found by id; a respondent not
        on the list is quarantined (``not_in_sampling_list``).

    Raises
    ------
    InputError
        A file-level problem, or (with ``strict``) any row-level problem.
    """
    file = raw.file
    data = raw.data
    provided = frozenset(sampling_list.columns.values()) if sampling_list is not None else frozenset()
    mapping, unknown = map_header([str(c) for c in data.columns], codebook, file=file,
                                  fiscal_year=fiscal_year, provided=provided)
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
    id_list = ids.tolist()
    if len(set(id_list)) == len(id_list):  # the usual case, told by one set of the ids
        dup = np.zeros(n, dtype=bool)
    else:
        dup = pd.Series(ids, dtype=object).duplicated(keep=False).to_numpy() & ~blank
    report(dup, id_col, ids, "duplicate_id", lambda v: f"{id_col}: 回答者ID「{v}」が重複しています")
    ctrl = _has_control(ids, _ID_CONTROL)
    if ctrl.any():  # shown with their control characters written out, for those rows only
        report(ctrl, id_col, _Lazy(np.array([_visible(v) for v in ids[ctrl]], dtype=object),
                                   np.cumsum(ctrl) - 1), "control_character",
               lambda v: f"{id_col}: 回答者ID「{v}」に制御文字が含まれています")
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
        header = header_of.get(col)
        if header is None:  # not asked in this wave, or filled from the sampling list below
            for c in (q.option_ids if kind == "mr_delimited" else [col]):
                out[c] = (np.full(n, "", dtype=object) if kind == "text"
                          else np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
                          if kind == "date" else np.full(n, np.nan, dtype=np.float32))
            continue
        series = data[header]
        if kind == "text":
            codes, uniques = factorize(series)
            text_u = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
            out[col] = text_u[codes]
            bad_u = _has_control(text_u, _TEXT_CONTROL)
            if bad_u.any():
                shown_u = np.array([_visible(t) for t in text_u], dtype=object)
                report(bad_u[codes], header, shown_u[codes], "control_character",
                       lambda v, h=header: f"{h}: 自由記述「{v}」に制御文字が含まれています")
            continue
        if kind == "mr_delimited":
            _expand_delimited(series, q, header, out, report)
            continue
        option = q.options[q.option_ids.index(col)] if kind == "mr" else None
        vals_u, rules_u, raw_u, codes = parse_column(series, q, kind, option=option)
        for r, msg in _RULE_MESSAGES[kind].items():
            hit_u = rules_u == r
            if hit_u.any():
                report(hit_u[codes], header, _Lazy(raw_u, codes), r,
                       lambda v, m=msg, h=header, qq=q: m(h, v, qq))
        out[col] = vals_u[codes]

    if sampling_list is not None:
        _join_sampling_list(sampling_list, codebook, ids, blank, id_col, out, report)

    # Derived variables, in codebook order (one may be derived from an earlier one).
    for q in codebook.derived:
        source = codebook[q.derivation.source]
        out[q.id] = _derive(np.asarray(out[source.id], dtype=np.float64), q, source,
                            header_of.get(source.id, source.id), report)
    layout += [(q.id, q, "code") for q in codebook.derived]

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
        if not q.asked_if or q.id not in out or q.id not in header_of:
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
        report(asked & np.isin(answer, list(q.not_applicable)), header, answer, "skip_rule",
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
        sampling_list=sampling_list.file if sampling_list is not None else None,
        sampling_list_sha256=sampling_list.sha256 if sampling_list is not None else None,
    )


def _has_control(values, pattern: re.Pattern) -> np.ndarray:
    """Which strings of ``values`` hold a character ``pattern`` (a one-character class) matches.

    One search over the joined text first: a one-character class matches the joined text
    exactly where it matches one of the strings, so the usual clean column costs one pass.
    """
    try:
        joined = "".join(values)
        texts = values
    except TypeError:  # not all strings
        texts = [str(v) for v in values]
        joined = "".join(texts)
    if pattern.search(joined) is None:
        return np.zeros(len(texts), dtype=bool)
    return np.fromiter((bool(pattern.search(t)) for t in texts), dtype=bool, count=len(texts))


def _visible(text: object) -> str:
    """``text`` with each control character written as ``\\xNN`` (for the quarantine)."""
    return _ID_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def parse_column(series: pd.Series, q: Question, kind: str, *, option: Option | None = None):
    """Per distinct value of a column: the parsed value, the rule it breaks (or ``None``) and
    its raw text; plus the codes mapping rows to distinct values (the last slot is "blank").

    ``kind`` is ``"code"`` (codes, labels and aliases), ``"number"``, ``"mr"`` (0/1, a mark
    such as 「○」, or the ``option``'s own label) or ``"date"`` (values as ``datetime64[D]``).
    """
    codes, uniques = factorize(series)
    lookup = q.lookup()
    allowed = set(q.codes) | set(q.missing)
    if kind == "date":
        vals = np.full(len(uniques) + 1, np.datetime64("NaT"), dtype="datetime64[D]")
    else:
        # Codes fit float32 exactly (integers below 2**24) at half the memory of float64.
        vals = np.full(len(uniques) + 1, np.nan,
                       dtype=np.float64 if kind == "number" else np.float32)
    rules = np.full(len(uniques) + 1, None, dtype=object)
    texts = np.array([normalise_cell(u) for u in uniques] + [""], dtype=object)
    for i, text in enumerate(texts[:-1]):
        if text == "":
            continue
        if kind == "date":
            if text.startswith("="):
                rules[i] = "formula"
                continue
            try:
                vals[i] = np.datetime64(parse_date(uniques[i]), "D")
            except ValueError:
                # A missing code or label (9, 無回答) is just missing.
                if fold_label(text) not in lookup and parse_number(text) not in q.missing:
                    rules[i] = "not_a_date"
            continue
        number = parse_number(text)
        if kind == "mr":
            folded = fold_label(text)
            if number in (0.0, 1.0):
                vals[i] = number
            elif folded in _MR_MARKS:
                vals[i] = _MR_MARKS[folded]
            elif option is not None and folded == fold_label(option.label):
                vals[i] = 1.0
            elif (number is not None and number in q.missing) or (
                    folded in lookup and lookup[folded] in q.missing):
                pass  # 無回答 written into every option column (SPSS exports): left missing
            else:
                rules[i] = "mr_value"
            continue
        if kind == "number":
            if number is None and (m := _UNIT_RE.match(text)):
                number = parse_number(m.group(1))  # 「45歳」「3回」: the number and its unit
            if number is None:
                folded = fold_label(text)
                if folded in lookup and lookup[folded] in q.missing:
                    vals[i] = lookup[folded]
                else:
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
            code = _labelled_code(text, lookup)
            if code is not None:
                vals[i] = code
            else:
                rules[i] = "not_a_code"
        elif number.is_integer() and int(number) in allowed:
            vals[i] = number
        elif fold_label(text) in lookup:  # an alias written with digits (「1年目」 is not one)
            vals[i] = lookup[fold_label(text)]
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
    "date": {
        "not_a_date": lambda h, v, q: f"{h}: 値「{v}」は日付として読めません",
        "formula": lambda h, v, q: f"{h}: 数式「{v}」は評価しません（値として貼り付けてください）",
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


def _labelled_code(text: str, lookup: dict[str, int]) -> int | None:
    """The code of a label or alias, also written after its code as some exports do
    (「1.よく知っている」「2：女性」「3)板山」); ``None`` if the text is neither, or if the
    code and the label disagree."""
    folded = fold_label(text)
    if folded in lookup:
        return lookup[folded]
    m = _CODE_LABEL_RE.match(text)
    if m and fold_label(m.group(2)) in lookup:
        code = lookup[fold_label(m.group(2))]
        return code if code == int(m.group(1)) else None
    return None


def _answer_code(text: str, lookup: dict[str, int], known: set[int]) -> int | None:
    code = _labelled_code(text, lookup)
    if code is not None:
        return code
    number = None if re.search(r"\s", text.strip()) else parse_number(text)
    if number is not None and number.is_integer() and int(number) in known:
        return int(number)
    return None


def _split_answers(text: str, lookup: dict[str, int], known: set[int]) -> list[int] | None:
    """The option codes of one multiple-response cell, or ``None`` if a part is unknown.

    Parts are separated by 「,」「、」「;」「/」; a part is a label (or alias) or a code. A part
    that is neither is split further at 「・」 and spaces, joining adjacent pieces greedily into
    the longest label, so 「自治区・町内会・ボランティア」 is two answers when 「自治区・町内会」
    is a label, and 「１・３」 and 「1 3」 are two codes.
    """
    found: list[int] = []
    for part in _DELIMS.split(text):
        part = part.strip()
        if not part:
            continue
        code = _answer_code(part, lookup, known)
        if code is not None:
            found.append(code)
            continue
        pieces = _WEAK_DELIMS.split(part)  # [piece, sep, piece, sep, ...]
        words = pieces[::2]
        i = 0
        while i < len(words):
            for j in range(len(words), i, -1):
                joined = "".join(pieces[2 * i: 2 * j - 1])
                code = _answer_code(joined, lookup, known) if joined.strip() else -1
                if code is not None:
                    break
            else:
                return None
            if code != -1:
                found.append(code)
            i = j
    return found


def _expand_delimited(series: pd.Series, q: Question, header: str, out: dict, report) -> None:
    """A multiple-response answer written in one cell (「1、３」「1,3」「１・３」「1 3」 or
    labels 「自治区・町内会、ボランティア」) → 0/1 columns; a cell holding a missing code or
    label (「無回答」) is missing."""
    codes, uniques = factorize(series)
    option_codes = [o.code for o in q.options]
    known = set(option_codes)
    lookup = q.lookup()
    missing_lookup = {fold_label(v): k for k, v in q.missing.items()}
    n_u = len(uniques) + 1
    matrix = np.zeros((n_u, len(q.options)), dtype=np.float32)
    matrix[-1, :] = np.nan
    bad = np.zeros(n_u, dtype=bool)
    for i, u in enumerate(uniques):
        text = normalise_cell(u)
        number = parse_number(text)
        if (text == "" or fold_label(text) in missing_lookup
                or (number is not None and number in q.missing and number not in known)):
            matrix[i, :] = np.nan
            continue
        found = _split_answers(text, lookup, known)
        if found is None or not found:
            bad[i] = True
            matrix[i, :] = np.nan
            continue
        for x in found:
            matrix[i, option_codes.index(x)] = 1
    raw_text = _Lazy(np.array([str(u) for u in uniques] + [""], dtype=object), codes)
    report(bad[codes], header, raw_text, "mr_value",
           lambda v: f"{header}: 複数回答「{v}」に選択肢にない番号があります")
    rows = matrix[codes]
    for j, oid in enumerate(q.option_ids):
        out[oid] = rows[:, j]


def _join_sampling_list(sampling: SamplingList, codebook: Codebook, ids: np.ndarray,
                        blank: np.ndarray, id_col: str, out: dict, report) -> None:
    """Fill the list's questions for every respondent found on it; quarantine the others."""
    pos = sampling.positions(ids)
    absent = (pos < 0) & ~blank
    name = sampling.name
    report(absent, id_col, ids, "not_in_sampling_list",
           lambda v: f"{id_col}: 回答者ID「{v}」が発送名簿（{name}）にありません")
    found = pos >= 0
    for list_col, qid in sampling.columns.items():
        values = np.full(len(ids), np.nan, dtype=np.float64)
        values[found] = sampling.values[qid][pos[found]]
        out[qid] = values
        if codebook[qid].type == "design":
            report(found & np.isnan(values), list_col, "", "required",
                   lambda v, c=list_col: f"{c}: 発送名簿（{name}）の抽出時の属性が空欄です")


def _derive(source: np.ndarray, q: Question, src: Question, header: str, report) -> np.ndarray:
    """A derived variable's codes from its source values (see the module docstring)."""
    d = q.derivation
    out = np.full(len(source), np.nan, dtype=np.float32)
    covered = np.zeros(len(source), dtype=bool)
    if d.bins:
        in_range = (np.zeros(len(source), dtype=bool) if src.range is None
                    else (source >= src.range[0]) & (source <= src.range[1]))
        is_missing = np.isin(source, list(src.missing)) & ~in_range
        for code, low, high in d.bins:
            hit = ~np.isnan(source) & ~is_missing
            if low is not None:
                hit &= source >= low
            if high is not None:
                hit &= source <= high
            out[hit] = code
            covered |= hit
    else:
        for src_code, code in d.mapping.items():
            hit = source == src_code
            out[hit] = code
            covered |= hit
        is_missing = np.isin(source, list(src.missing)) & ~covered
    # A source 無回答/非該当 stays 無回答/非該当 when the derived variable has that label.
    by_label = {label: code for code, label in q.missing.items()}
    for src_code, label in src.missing.items():
        if label in by_label:
            out[is_missing & (source == src_code)] = by_label[label]
    stray = ~np.isnan(source) & ~covered & ~is_missing
    report(stray, header, source, "not_derivable",
           lambda v: (f"{header}: 値「{v:g}」は{q.id}（{q.text or q.id}）のどの区分にも"
                      "当たりません"))
    return out


def _typed_frame(out: dict, layout, keep: np.ndarray) -> pd.DataFrame:
    """Accepted values with their final types: id and text as strings, codes as Int32
    (the store's INTEGER; readers get Int64 back from :meth:`Store.load_wave`), dates as
    ``datetime64[ns]``.

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
            if kind == "date":
                columns[c] = pd.Series(values.astype("datetime64[ns]"))
                continue
            missing = np.isnan(values)
            values = np.nan_to_num(values, copy=False, nan=0.0)  # arrays here are ours
            if kind == "number":
                columns[c] = pd.arrays.FloatingArray(values.astype(np.float64), missing)
            else:
                columns[c] = pd.arrays.IntegerArray(values.astype(np.int32), missing)
    return pd.DataFrame(columns, copy=False)
