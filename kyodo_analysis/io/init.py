"""Drafting a study from a city's exports (``kyodo init``).

Given one export per wave (xlsx, CSV in CP932 or UTF-8, SPSS), :func:`draft_study` reads each
file as :func:`~kyodo_analysis.io.readers.read_table` does (title rows skipped, multi-row
headers and merged cells read, footnotes set apart) and guesses, column by column:

* the question id, from the question number (問1 → ``q1``, 問5(1) / 問5① / 問5-1 → ``q5_1``,
  問3's option columns → ``q3`` with options, F1 → ``f1``, 問3付問 / 問3SQ → ``q3sq``; SPSS
  names Q1, Q5_2, F1 likewise), else from an obvious header text (性別 → ``sex``), else
  ``col_N``;
* the question text (the header's text level, or the SPSS variable label);
* the type (id, date, single, likert, multiple in columns or in one cell, numeric, text,
  demographic) from the answers;
* the categories and their order: a known answer scale (``templates/scales.yaml``), else the
  workbook's コード表 sheet, else SPSS value labels, else labels with numbers in numeric order
  (年代, 居住年数), else the order first seen;
* variant spellings of one answer (東浜中学校区, 東浜中, 東浜) as proposed ``aliases``;
* each wave's fiscal year (a 調査年度 column, the title rows, the file name).

:func:`write_study` writes ``codebook.yaml``, ``study.yaml`` and ``indicators.yaml`` as YAML text
with a ``# 要確認:`` comment on every guess (so the comments survive), never overwriting a file
unless asked. Everything written loads with ``yaml.safe_load``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kyodo_analysis import yamlio
from kyodo_analysis.errors import InputError, KyodoError
from kyodo_analysis.io.readers import RawTable, read_table

__all__ = ["DraftQuestion", "StudyDraft", "draft_study", "load_scales", "question_id",
           "write_study"]

_CIRCLED = {chr(0x2460 + k): f"({k + 1})" for k in range(20)}
_BINARY = {"0", "1", "○", "〇", "◯", "●", "✓", "✔", "レ", "v", "true", "false", "×"}
_DELIMITED = re.compile(r"^\d+(?:\s*[、,，;；/／・\s]\s*\d+)+$")
_CODE_LIST = re.compile(r"^\d+(?:\s*[、,，;；/／・\s]\s*\d+)*$")
_SPLIT = re.compile(r"[、,，;；/／・\s]+")
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_ERA_DATE = re.compile(r"^(令和|平成|昭和|[RHS])\s*(元|\d{1,2})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*"
                       r"(\d{1,2})\s*日?$", re.IGNORECASE)
_WEST_DATE = re.compile(r"^(\d{4})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?"
                        r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_MISSING_LABELS = {"無回答", "不明", "無記入", "回答なし", "未回答", "無効", "無効回答"}
_NA_LABELS = {"非該当", "該当なし(非該当)"}
_EXCLUSIVE = re.compile(r"^(特にない|特になし|該当なし|いずれもない|どれもない|なし|ない|"
                        r"参加していない|わからない|特に何もしていない)")
_ID_WORDS = re.compile(r"^(回答者ID|回答者番号|回答ID|整理番号|調査票番号|通し番号|管理番号|"
                       r"ID|No\.?|NO\.?|No|番号|SampleID|サンプル番号|連番)$", re.IGNORECASE)
_FY_WORDS = re.compile(r"^(調査年度|年度|調査年|FY|fiscal_?year)$", re.IGNORECASE)
_FY_VALUE = re.compile(r"^((令和|平成)\s*(元|\d{1,2})|R\s*\d{1,2}|FY\s*\d{4}|\d{4})\s*年度$|^FY\s*\d{4}$",
                       re.IGNORECASE)
#: Header text → id, only where the meaning is unmistakable.
_OBVIOUS = [
    (re.compile(r"^(あなたの)?(性別)"), "sex"),
    (re.compile(r"^(あなたの)?(年代)"), "age_group"),
    (re.compile(r"^(あなたの)?(満)?(年齢)"), "age"),
    (re.compile(r"^(あなたの)?(ご)?(職業)"), "job"),
    (re.compile(r"^(居住年数|在住年数|住んでいる年数)|(住んで|お住まいになって)(何年|どのくらい)"),
     "years_lived"),
    (re.compile(r"(小学校区|中学校区|校区|居住地区|お住まいの地区|^地区|^地域$|居住地域)"), "district"),
    (re.compile(r"^(家族構成|世帯構成)"), "household"),
    (re.compile(r"^(回答日|記入日|回答年月日|受付日|回収日)"), "answer_date"),
]
#: Attributes of the sampling frame carried into the export (抽出区分, 台帳性別): design variables.
_DESIGN_HINT = re.compile(r"(抽出|台帳|層別|stratum|strata|ウェイト|ウエイト|weight)", re.IGNORECASE)
_DESIGN_IDS = [(re.compile(r"性別|sex", re.I), "frame_sex"),
               (re.compile(r"年代|年齢|age", re.I), "frame_age"),
               (re.compile(r"区|地区|地域|stratum|strata", re.I), "frame_area")]
_DEMOGRAPHIC_HINT = re.compile(r"(性別|年代|年齢|職業|居住年数|在住年数|地区|校区|居住地|家族構成|"
                               r"世帯|住まい)")
_NUMERIC_HINT = re.compile(r"(年齢|人数|歳|年数|回数|金額|時間|（年）|\(年\)|（人）|\(人\)|（回）|"
                           r"\(回\)|（円）|\(円\)|何年|何人|何回)")
_SUFFIXES = ("小学校区", "中学校区", "学校区", "小学校", "中学校", "校区", "学区", "地区", "地域",
             "小", "中")


# --------------------------------------------------------------------------- small helpers


def _fold(value: object) -> str:
    """NFKC-fold and trim a cell (circled numbers kept as "(1)"); blanks become ""."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, np.floating):
        return _fold(float(value))
    text = "".join(_CIRCLED.get(ch, ch) for ch in str(value))
    return unicodedata.normalize("NFKC", text).strip()


def _number(text: str) -> float | None:
    t = text.replace("−", "-").replace(" ", "")
    if not _NUMBER.match(t):
        return None
    return float(t.replace(",", ""))


def _parse_date(value: object) -> _dt.date | None:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if not isinstance(value, str):
        return None
    t = _fold(value)
    m = _ERA_DATE.match(t)
    if m:
        from kyodo_analysis.calendar import to_western_year

        try:
            year = to_western_year(m.group(1), 1 if m.group(2) == "元" else int(m.group(2)))
            return _dt.date(year, int(m.group(3)), int(m.group(4)))
        except ValueError:
            return None
    m = _WEST_DATE.match(t)
    if m:
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


def _strip_suffix(label: str) -> str:
    key = label.replace(" ", "")
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= 2:
            return key[: -len(suffix)]
    return key


_QNUM = re.compile(r"^[【\[(]?\s*(?:問|設問|質問|Q)\s*(\d+)\s*[】\])]?\s*(.*)$", re.IGNORECASE)
_FNUM = re.compile(r"^[【\[(]?\s*F\s*(\d+)\s*[】\])]?\s*(.*)$", re.IGNORECASE)
_SQNUM = re.compile(r"^[【\[(]?\s*(?:付問|SQ)\s*(\d*)\s*[】\])]?\s*(.*)$", re.IGNORECASE)
_SUB = re.compile(r"^(?:\((\d+)\)|[-_ー－.・]\s*(\d+)|(\d+)\)|\s+(\d+)(?=\s|$))\s*(.*)$")
_SQ_TAIL = re.compile(r"^[-_]?\s*(?:付問|SQ)\s*(\d*)\s*(.*)$", re.IGNORECASE)
_LEADING_SUB = re.compile(r"^(?:\((\d+)\)|(\d+)[).．.、]|(\d+)\s)\s*(.*)$")


def question_id(cell: str, *, previous: str | None = None) -> tuple[str, str] | None:
    """The id a question-number cell stands for, and the text after the number.

    ``問1`` → ``q1``; ``問5(1)``, ``問5①``, ``問5-1``, ``Q5_1`` → ``q5_1``; ``問3付問``,
    ``問3SQ``, ``Q3SQ`` → ``q3sq`` (``q3sq2`` for a second one); ``F1`` → ``f1``; a bare ``付問``
    or ``SQ`` after question ``previous`` → ``<previous>sq``. ``None`` when the cell does not start
    with a question number.

    Examples
    --------
    >>> question_id("問5①") == ("q5_1", "")
    True
    >>> question_id("問3付問 参加した活動の満足度")
    ('q3sq', '参加した活動の満足度')
    """
    t = _fold(cell)
    m = _QNUM.match(t)
    prefix = "q"
    if not m:
        m = _FNUM.match(t)
        prefix = "f"
    if m:
        base, rest = f"{prefix}{int(m.group(1))}", m.group(2).strip()
        sq = _SQ_TAIL.match(rest)
        if sq and rest:
            k = sq.group(1)
            return base + "sq" + (k if k and k != "1" else ""), sq.group(2).strip()
        sub = _SUB.match(rest)
        if sub and rest:
            k = next(g for g in sub.groups()[:4] if g)
            return f"{base}_{int(k)}", sub.group(5).strip()
        return base, rest.lstrip(".．:：、 ").strip()
    m = _SQNUM.match(t)
    if m and previous and t.upper().startswith(("SQ", "付問", "[SQ", "(SQ", "【SQ", "【付問",
                                                 "(付問", "[付問")):
        k = m.group(1)
        return f"{previous}sq" + (k if k and k != "1" else ""), m.group(2).strip()
    return None


def _sub_number(text: str) -> tuple[int | None, str]:
    """A leading item number of a lower header cell: "(1) 近所" → (1, "近所")."""
    t = _fold(text)
    m = _LEADING_SUB.match(t)
    if not m:
        return None, text.strip()
    k = next(g for g in m.groups()[:3] if g)
    return int(k), m.group(4).strip()


def load_scales(path: str | Path | None = None) -> dict[str, dict]:
    """The known answer scales (``templates/scales.yaml``, or ``path``)."""
    if path is None:
        text = resources.files("kyodo_analysis.templates").joinpath("scales.yaml").read_text(
            encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return yamlio.safe_load(text)["scales"]


def _load_plan(path: str | Path | None = None) -> dict:
    if path is None:
        text = resources.files("kyodo_analysis.templates").joinpath("plan.yaml").read_text(
            encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return yamlio.safe_load(text)


# --------------------------------------------------------------------------- the draft


@dataclass
class DraftQuestion:
    """One question as guessed from the files."""

    id: str
    type: str
    text: str = ""
    columns: list[str] = field(default_factory=list)
    codes: dict[int, str] = field(default_factory=dict)
    missing: dict[int, str] = field(default_factory=dict)
    options: list[dict] = field(default_factory=list)
    layout: str | None = None
    range: tuple[float, float] | None = None
    scale: str | None = None
    aliases: dict[str, list[str]] = field(default_factory=dict)
    waves: set = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    confidence: str = "high"
    order: str = ""
    number: str | None = None
    basis: str = ""
    inherits_missing: bool | None = None  # False: write an empty ``missing`` to opt out
    seen: set = field(default_factory=set)
    matched: str | None = None  # the known scale the answers matched (also when partial)

    def flag(self, note: str, confidence: str | None = None) -> None:
        if note not in self.notes:
            self.notes.append(note)
        rank = {"high": 2, "medium": 1, "low": 0}
        if confidence and rank[confidence] < rank[self.confidence]:
            self.confidence = confidence

    def add_columns(self, names) -> None:
        for n in names:
            if n and n not in self.columns:
                self.columns.append(n)


@dataclass
class WaveDraft:
    file: Path
    fiscal_year: int | None
    fiscal_year_source: str
    format: str
    sheet: str | None
    header_rows: tuple[int, ...]
    encoding: str | None
    rows: int
    footnotes: tuple[tuple[int, str], ...]


@dataclass
class StudyDraft:
    """What ``kyodo init`` inferred: the codebook's questions, the waves and what is left."""

    slug: str
    title: str
    questions: list[DraftQuestion]
    waves: list[WaveDraft]
    id_columns: list[str] = field(default_factory=list)
    fiscal_year_columns: list[str] = field(default_factory=list)
    scales: dict[str, dict] = field(default_factory=dict)
    missing_codes: dict[int, str] = field(default_factory=dict)
    not_applicable: list[int] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


@dataclass
class _Column:
    name: str
    levels: tuple[str, ...]
    values: pd.Series
    labels: dict | None  # SPSS value labels
    file: int

    @property
    def header_texts(self) -> list[str]:
        return [lv for lv in self.levels if lv]


@dataclass
class _Source:
    """One file as read, with what is known about it."""

    path: Path
    raw: RawTable
    code_table: dict[str, dict[int, str]]
    fiscal_year: int | None
    fy_source: str


# --------------------------------------------------------------------------- reading files


def _pick_sheet(path: Path) -> tuple[str | None, str | None]:
    """(data sheet, code table sheet) of a workbook."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a broken file
        raise InputError(f"cannot open Excel workbook: {exc}", file=str(path)) from None
    try:
        names = wb.sheetnames
        sizes = {ws.title: (ws.max_row or 0) * (ws.max_column or 0) for ws in wb.worksheets}
    finally:
        wb.close()
    code_sheet = next((n for n in names if re.search(r"(コード|code|選択肢|凡例)", n, re.I)), None)
    data_sheet = next((n for n in names if n != code_sheet
                       and re.search(r"(回答|データ|data|集計|入力|raw)", n, re.I)), None)
    if data_sheet is None:  # else the largest sheet (a cover sheet 表紙 is small)
        others = [n for n in names if n != code_sheet] or names
        data_sheet = max(others, key=lambda n: sizes.get(n, 0)) if others else None
    return data_sheet, code_sheet


def _read_code_table(path: Path, sheet: str) -> dict[str, dict[int, str]]:
    """A コード表 sheet: (question, code, label) rows → {question id or number: {code: label}}.

    The question column is found by its header (設問, 問, 質問, 項目, 変数) and forward-filled
    (a question's number is often written once above its codes); code and label columns by
    コード/番号/値 and 選択肢/ラベル/内容/回答.
    """
    try:
        table = read_table(path, sheet=sheet, require_header=True)
    except KyodoError:
        return {}
    cols = list(table.data.columns)

    def find(pattern: str, *taken: str | None) -> str | None:
        return next((c for c in cols if c not in taken and re.search(pattern, _fold(c), re.I)),
                    None)

    q_col = find(r"(設問|問|質問|項目|変数|question|var)")
    l_col = find(r"(選択肢|ラベル|内容|回答|label|カテゴリ)", q_col)
    c_col = find(r"(コード|番号|値|code|value|no)", q_col, l_col)
    if not (q_col and c_col and l_col) or len({q_col, c_col, l_col}) < 3:
        return {}
    out: dict[str, dict[int, str]] = {}
    current = None
    for q, c, lab in zip(table.data[q_col], table.data[c_col], table.data[l_col], strict=True):
        qt = _fold(q)
        if qt:
            parsed = question_id(qt)
            current = parsed[0] if parsed else qt
        code = _number(_fold(c))
        label = _fold(lab)
        if current and code is not None and code.is_integer() and label:
            out.setdefault(current, {})[int(code)] = label
    return out


def _fiscal_year(raw: RawTable, path: Path) -> tuple[int | None, str]:
    """A wave's fiscal year: from a 調査年度 column, the title rows, the file name or the
    dates in the file; with where it came from."""
    from kyodo_analysis.calendar import parse_fiscal_year

    for name, levels in raw.header_levels.items():
        if any(_FY_WORDS.match(_fold(lv)) for lv in levels):
            years = Counter()
            for v in raw.data[name].dropna().head(2000):
                try:
                    years[parse_fiscal_year(_fold(v))] += 1
                except ValueError:
                    pass
            if years:
                return years.most_common(1)[0][0], f"column {name}"
    for line in raw.title:
        fy = _fy_in_text(line, title=True)
        if fy:
            return fy, "title rows"
    fy = _fy_in_text(path.stem, title=False)
    if fy:
        return fy, "file name"
    return None, ""


_FY_TEXT = [
    (re.compile(r"(令和|平成)\s*(元|\d{1,2})\s*年度"), "era"),
    (re.compile(r"FY\s*(\d{4})", re.I), "west"),
    (re.compile(r"(\d{4})\s*年度"), "west"),
    (re.compile(r"(?<![A-Za-z])(R|H)\s*(\d{1,2})(?!\d)", re.I), "era_abbrev"),
    (re.compile(r"(令和|平成)\s*(元|\d{1,2})(?!\d)"), "era"),
    (re.compile(r"(?<!\d)(20\d{2})(?!\d)"), "west"),
]


def _fy_in_text(text: str, *, title: bool) -> int | None:
    from kyodo_analysis.calendar import to_western_year

    t = _fold(text)
    for pattern, kind in _FY_TEXT:
        if title and kind == "era_abbrev":
            continue
        m = pattern.search(t)
        if not m:
            continue
        if kind == "west":
            return int(m.group(1))
        n = 1 if m.group(2) == "元" else int(m.group(2))
        try:
            return to_western_year(m.group(1), n)
        except ValueError:
            continue
    return None


def _read_source(path: Path) -> _Source:
    fmt = path.suffix.lower()
    code_table: dict[str, dict[int, str]] = {}
    if fmt in {".xlsx", ".xlsm"}:
        sheet, code_sheet = _pick_sheet(path)
        raw = read_table(path, sheet=sheet, require_header=True)
        if code_sheet:
            code_table = _read_code_table(path, code_sheet)
    else:
        raw = read_table(path, require_header=True)
    fy, source = _fiscal_year(raw, path)
    return _Source(path, raw, code_table, fy, source)


# --------------------------------------------------------------------------- classifying


@dataclass
class _Profile:
    """What a column's answers look like."""

    n: int  # non-blank cells
    distinct: list[str]  # folded distinct values, first-seen order
    counts: Counter
    numbers: bool  # every non-blank cell is a number
    integers: bool
    dates: float  # share of cells that are dates
    binary: bool
    delimited: float  # share of cells like "1、3"
    code_lists: bool  # every cell a number or list of numbers
    mean_len: float
    unique: bool  # every non-blank value different, no blanks


def _profile(values: pd.Series, labels: dict | None) -> _Profile:
    """Describe a column's answers, working once per distinct cell value (a million rows of a
    handful of answers cost a handful of checks)."""
    missing_codes = {k for k, v in (labels or {}).items()
                     if _fold(v) in _MISSING_LABELS | _NA_LABELS}
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    per_unique = np.bincount(codes[codes >= 0], minlength=len(uniques))
    counts: Counter = Counter()
    dates = 0
    for u, c in zip(uniques, per_unique, strict=True):
        f = _fold(u)
        if not f:
            continue
        counts[f] += int(c)
        if not isinstance(u, (int, float, np.integer, np.floating)) and _parse_date(u) is not None:
            dates += int(c)
    blanks = len(values) - sum(counts.values())
    distinct = list(counts)
    n = sum(counts.values())
    nums = {d: _number(d) for d in distinct}
    numbers = bool(distinct) and all(x is not None for x in nums.values())
    integers = numbers and all(float(x).is_integer() for x in nums.values())
    core = {d for d in distinct if not (nums[d] is not None and nums[d] in missing_codes)}
    binary = bool(core) and all(d.casefold() in _BINARY for d in core) and len(core) <= 2
    delimited = sum(c for d, c in counts.items() if _DELIMITED.match(d)) / n if n else 0.0
    code_lists = bool(distinct) and all(_CODE_LIST.match(d) for d in distinct)
    mean_len = (sum(len(d) * c for d, c in counts.items()) / n) if n else 0.0
    return _Profile(n, distinct, counts, numbers, integers, dates / n if n else 0.0, binary,
                    delimited, code_lists, mean_len, blanks == 0 and n > 1 and len(distinct) == n)


def _match_scale(labels: list[str], scales: dict[str, dict]) -> tuple[str, dict[str, str]] | None:
    """The known scale whose labels (or their variants) cover every label, and the map of each
    label to the scale's spelling. The smallest covering scale wins."""
    best = None
    for name, sc in scales.items():
        spell = {_fold(lab): lab for lab in sc["labels"]}
        for lab, variants in (sc.get("variants") or {}).items():
            spell.update({_fold(v): lab for v in variants})
        if len(labels) < 2 or not all(_fold(x) in spell for x in labels):
            continue
        mapping = {x: spell[_fold(x)] for x in labels}
        if len(set(mapping.values())) < len(mapping):
            continue
        size = len(sc["labels"])
        if best is None or size < best[0]:
            best = (size, name, mapping)
    return (best[1], best[2]) if best else None


def _leading_number(label: str) -> tuple[float, int] | None:
    m = re.match(r"^\D{0,4}?(\d+(?:\.\d+)?)", _fold(label))
    if not m:
        return None
    t = _fold(label)
    rank = 0 if "未満" in t and not re.search(r"\d+\D*[～~\-]\s*\d", t) else 1
    if "以上" in t or "以降" in t:
        rank = 2
    return float(m.group(1)), rank


def _aliases(labels: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Cluster labels that are variant spellings (same after removing spaces and 地区/小学校区
    -like suffixes): canonical labels in first-seen order and {canonical: [variants]}."""
    groups: dict[str, list[str]] = {}
    for lab in labels:
        groups.setdefault(_strip_suffix(lab), []).append(lab)
    canon, aliases = [], {}
    for key, members in groups.items():
        if len(members) == 1:
            canon.append(members[0])
            continue
        label = key  # the name without 小学校区/地区-like suffixes and spaces
        canon.append(label)
        others = [m for m in members if m != label]
        if others:
            aliases[label] = others
    return canon, aliases


def _categories(q: DraftQuestion, prof: _Profile, labels: dict | None,
                code_table: dict[int, str] | None, scales: dict[str, dict]) -> None:
    """Codes and labels of a single-choice question, with where the order came from."""
    words = [d for d in prof.distinct if _number(d) is None]
    coded = [d for d in prof.distinct if _number(d) is not None]
    if labels:  # SPSS value labels: the file's own codes
        for k, v in labels.items():
            code, lab = int(k), str(v).strip()
            if _fold(lab) in _MISSING_LABELS:
                q.missing[code] = lab
            elif _fold(lab) in _NA_LABELS:
                q.missing[code] = lab
            else:
                q.codes[code] = lab
        q.order = "SPSS value labels"
    elif code_table:
        q.codes = dict(sorted(code_table.items()))
        q.order = "コード表"
    if q.codes:
        known = {_fold(v) for v in {**q.codes, **q.missing}.values()}
        extra = [w for w in words if _fold(w) not in known]
        unknown_codes = [c for c in coded if float(c).is_integer()
                         and int(float(c)) not in q.codes and int(float(c)) not in q.missing]
        if extra:
            _add_words(q, extra, prof, scales)
        if unknown_codes:
            q.flag(f"codes {', '.join(unknown_codes)} in the file have no label", "low")
        _scale_of_codes(q, scales)
        return
    if not words:
        codes = sorted({int(float(c)) for c in coded if float(c).is_integer()})
        codes = _conventional_missing(q, codes)
        q.codes = {c: f"選択肢{c}" for c in codes}
        q.order = "codes without labels"
        q.flag("the file holds codes without labels: write each code's label (選択肢N are "
               "placeholders)", "low")
        return
    _add_words(q, words, prof, scales)
    if coded:
        q.flag(f"the file mixes words and codes ({', '.join(coded[:5])}): check the codes", "low")


def _conventional_missing(q: DraftQuestion, codes: list[int]) -> list[int]:
    """Codes 9/99/999 (and 8/98 beside them) far above the others read as 無回答 (非該当), as
    municipal files usually code them; they become missing codes, flagged."""
    for miss, na in ((9, 8), (99, 98), (999, 998)):
        if miss in codes:
            rest = [c for c in codes if c not in (miss, na)]
            if rest and max(rest) < na - 1:
                q.missing[miss] = "無回答"
                if na in codes:
                    q.missing[na] = "非該当"
                q.flag(f"code {miss}" + (f" and {na}" if na in codes else "") + " taken for "
                       "無回答" + ("/非該当" if na in codes else "") + " (the usual convention)",
                       "medium")
                return rest
    return codes


def _add_words(q: DraftQuestion, words: list[str], prof: _Profile, scales) -> None:
    """Categories from answers written as words."""
    missing = [w for w in words if _fold(w) in _MISSING_LABELS | _NA_LABELS]
    words = [w for w in words if w not in missing]
    canon, aliases = _aliases(words)
    q.seen |= set(canon)
    if aliases:
        q.aliases.update(aliases)
        q.flag("variant spellings grouped as aliases: " + "; ".join(
            f"{k} ← {', '.join(v)}" for k, v in aliases.items()), "medium")
    start = max(q.codes, default=0) + 1
    known = {_fold(v) for v in q.codes.values()}
    new = [c for c in canon if _fold(c) not in known]
    if not q.codes:
        match = _match_scale(new, scales)
        if match:
            name, mapping = match
            sc = scales[name]
            used = set(mapping.values())
            kept = [lab for lab in sc["labels"]
                    if lab in used or lab not in (sc.get("optional") or ())]
            q.codes = {i + 1: lab for i, lab in enumerate(kept)}
            if len(kept) < len(sc["labels"]):
                name = None  # a partial scale is not the scale's codes any more
            for seen, lab in mapping.items():
                if seen != lab:
                    q.aliases.setdefault(lab, []).append(seen)
            q.order = f"known scale {match[0]}"
            q.scale = name
            q.matched = match[0]
            cover = len(new) / len(sc["labels"])
            if cover < 0.6:
                q.flag(f"matched scale {match[0]} from {len(new)} of its {len(sc['labels'])} "
                       "labels", "medium")
            new = []
        elif all(_leading_number(c) for c in new) and len(new) >= 2:
            new = sorted(new, key=lambda c: (_leading_number(c)[0], _leading_number(c)[1]))
            q.order = "numbers in the labels"
            q.flag("categories ordered by the numbers in their labels", "medium")
        else:
            q.order = "first seen"
            q.flag("category order is the order first seen in the file: put them in the "
                   "questionnaire's order", "low")
    elif new:
        q.flag(f"labels not in the {q.order}: {', '.join(new)} (added at the end)", "low")
    for c in new:
        q.codes[start] = c
        start += 1
    for m in missing:
        code = 9 if max(q.codes, default=0) < 9 else 99
        q.missing[code] = m
        q.flag(f"「{m}」 written in the file: made missing code {code}", "medium")


def _scale_of_codes(q: DraftQuestion, scales) -> None:
    """A labelled question whose labels are a known scale in the scale's order."""
    labels = [q.codes[k] for k in sorted(q.codes)]
    match = _match_scale(labels, scales)
    if match:
        name, mapping = match
        q.matched = name
        if [mapping[x] for x in labels] == scales[name]["labels"]:
            q.scale = name


def _classify(col_id: str, text: str, prof: _Profile, labels: dict | None,
              code_table: dict[int, str] | None, scales: dict[str, dict],
              is_datetime: bool) -> DraftQuestion:
    q = DraftQuestion(col_id, "single", text)
    hint = " ".join([col_id, text])
    if prof.n == 0:
        q.type = "text"
        q.flag("every cell is blank: type unknown", "low")
        return q
    if is_datetime or prof.dates >= 0.8:
        q.type = "date"
        q.basis = "dates (和暦, 西暦 or Excel dates)"
        if prof.dates < 1 and not is_datetime:
            q.flag(f"{prof.dates:.0%} of the cells read as dates", "medium")
        return q
    if prof.numbers and not labels and not code_table:
        many = len(prof.distinct) > 15 or not prof.integers
        if many or (_NUMERIC_HINT.search(hint) and len(prof.distinct) > 10):
            q.type = "numeric"
            q.basis = (f"{len(prof.distinct)} different numbers" if many
                       else "numbers, and the header asks for a quantity")
            vals = [_number(d) for d in prof.distinct]
            lo, hi = min(vals), max(vals)
            q.range = (float(np.floor(lo)), float(np.ceil(hi)))
            q.flag(f"range [{q.range[0]:g}, {q.range[1]:g}] is the range seen in the file: "
                   "widen it to what is valid", "medium")
            return q
    if (prof.delimited >= 0.02 and prof.code_lists) and not labels:
        q.type = "multiple"
        q.layout = "delimited"
        q.basis = "several numbers in one cell"
        codes = sorted({int(x) for d in prof.distinct for x in _SPLIT.split(d) if x})
        table = code_table or {}
        q.options = [{"code": c, "label": table.get(c, f"選択肢{c}")} for c in codes]
        q.order = "コード表" if table else "codes without labels"
        q.flag(f"multiple answers written in one cell (「{_example(prof, _DELIMITED)}」)",
               "medium")
        if not table:
            q.flag("option labels unknown: write each option's label", "low")
        return q
    texty = not prof.numbers
    sentences = sum(1 for d in prof.distinct if d.endswith(("。", "!", "?")) or len(d) >= 20)
    if texty and not labels and not code_table and len(prof.distinct) > 5 \
            and sentences >= 0.5 * len(prof.distinct) \
            and not _match_scale([d for d in prof.distinct if _number(d) is None], scales):
        q.type = "text"
        q.basis = "sentences"
        return q
    if texty and len(prof.distinct) > 15 and (len(prof.distinct) > 0.5 * prof.n
                                              or prof.mean_len >= 15):
        q.type = "text"
        q.basis = f"{len(prof.distinct)} different answers"
        if prof.mean_len < 8:
            q.flag("many different short answers: free text or an unlisted code?", "medium")
        return q
    if len(prof.distinct) > 30 and not labels:
        q.type = "text"
        q.flag(f"{len(prof.distinct)} different answers: taken as free text", "low")
        return q
    _categories(q, prof, labels, code_table, scales)
    q.basis = f"{len(q.codes)} categories"
    kind = scales[q.matched].get("type") if q.matched else None
    if _DESIGN_HINT.search(" ".join([col_id, text or ""])):
        q.type = "design"
        q.flag("taken as a design variable (an attribute of the sampling frame) from its header",
               "medium")
    elif q.scale and kind == "likert":
        q.type = "likert"
    elif (kind == "demographic" or col_id.startswith("f")
          or (_DEMOGRAPHIC_HINT.search(text or "") and not col_id.startswith("q"))):
        q.type = "demographic"
    if q.type == "demographic" and not col_id.startswith("f") and not q.matched:
        q.flag("taken as an attribute (demographic) from its header", "medium")
    return q


def _example(prof: _Profile, pattern) -> str:
    return next((d for d in prof.distinct if pattern.match(d)), prof.distinct[0])


# --------------------------------------------------------------------------- grouping columns


@dataclass
class _Item:
    """A question found in one file: one column, or several under one question number (MR
    option columns, or sub-items 問5(1), 問5(2)…)."""

    columns: list[_Column]
    ids: list[str | None]  # per column, from its number cell
    texts: list[str]  # per column, its header text without the number
    number: str | None = None
    group_text: str = ""

    @property
    def base(self) -> str | None:
        return self.ids[0].split("_")[0] if self.ids[0] else None


def _split_levels(col: _Column, previous: str | None) -> tuple[str | None, str | None, str]:
    """(question id from a number, the number cell, text) of a column's header."""
    levels = col.header_texts
    for i, lv in enumerate(levels):
        parsed = question_id(lv, previous=previous)
        if parsed:
            qid, rest = parsed
            others = [x for j, x in enumerate(levels) if j != i]
            return qid, lv, " ".join([rest, *others]).strip()
    return None, None, " ".join(levels)


def _stat_name(col: _Column, previous: str | None) -> tuple[str | None, str | None, str]:
    """An SPSS/Stata variable: id from its name (Q1, Q5_2, F1, Q3SQ), text from its label."""
    label = col.levels[1] if len(col.levels) > 1 else ""
    parsed = question_id(col.name, previous=previous)
    if parsed:
        return parsed[0], col.name, label
    return None, None, label or col.name


def _text_key(text: str) -> str:
    """Question text folded for matching across files (markers such as （付問） dropped)."""
    t = _fold(text)
    t = re.sub(r"^[(\[【]\s*(付問|SQ|必須|複数回答|MA|SA)\s*[)\]】]\s*", "", t, flags=re.I)
    return re.sub(r"\s+", "", t)


def _prefix(text: str) -> str:
    """The group part of a header like 「防災の備え：非常食の備蓄」."""
    m = re.match(r"^(.{2,40}?)[：:](.+)$", text or "")
    return m.group(1).strip() if m else ""


def _after_prefix(text: str) -> str:
    return re.split(r"[：:]", text, maxsplit=1)[-1].strip() if _prefix(text) else text


def _items(src: _Source, stat: bool) -> list[_Item]:
    """Group a file's columns into questions: consecutive columns under one question number
    (the same number cell, or numbers with a sub-item suffix such as Q3_1, Q3_2), and
    consecutive columns without numbers whose headers share a 「group：item」 prefix."""
    raw = src.raw
    items: list[_Item] = []
    previous = None
    for name in raw.data.columns:
        col = _Column(name, raw.header_levels.get(name, (name,)), raw.data[name],
                      raw.value_labels.get(name), 0)
        qid, number, text = (_stat_name if stat else _split_levels)(col, previous)
        if qid and qid.startswith("q") and "sq" not in qid:
            previous = qid.split("_")[0]
        last = items[-1] if items else None
        if last and qid and last.ids[-1] and "sq" not in qid and "sq" not in last.ids[-1] \
                and qid.split("_")[0] == last.base and (
                    number == last.number or ("_" in qid and "_" in last.ids[-1])):
            last.columns.append(col)
            last.ids.append(qid)
            last.texts.append(text)
            continue
        if last and not qid and not last.ids[-1] and _prefix(text) \
                and _prefix(text) == _prefix(last.texts[-1]):
            last.columns.append(col)
            last.ids.append(None)
            last.texts.append(text)
            last.group_text = _prefix(text)
            continue
        items.append(_Item([col], [qid], [text], number))
    return items


def _sub_items(item: _Item) -> list[tuple[str | None, str]]:
    """(id, text) of each column of a group that is not a multiple-response question."""
    out = []
    for k, (qid, text) in enumerate(zip(item.ids, item.texts, strict=True)):
        sub, rest = _sub_number(text)
        if qid and "_" not in qid and len(item.columns) > 1:
            qid = f"{qid}_{sub or k + 1}"
        out.append((qid, rest if sub else text))
    return out


# --------------------------------------------------------------------------- the whole study


def _obvious_id(text: str) -> str | None:
    t = _fold(text)
    if _DESIGN_HINT.search(t):
        return next((qid for pattern, qid in _DESIGN_IDS if pattern.search(t)), None)
    for pattern, qid in _OBVIOUS:
        if pattern.search(t):
            return qid
    return None


def _richness(src: _Source) -> int:
    """How much a file says about its questions: numbered columns, value labels, code table."""
    numbered = sum(1 for name, lv in src.raw.header_levels.items()
                   if question_id(name) or any(question_id(x) for x in lv))
    return 2 * numbered + 3 * len(src.raw.value_labels) + len(src.code_table)


def _looks_like_ids(col: _Column) -> bool:
    """A first column whose values are all filled in, all different and short: respondent ids."""
    if pd.api.types.is_datetime64_any_dtype(col.values):
        return False
    prof = _profile(col.values, col.labels)
    return prof.unique and prof.n >= 10 and prof.mean_len <= 20 and prof.dates < 0.5


def _is_fy_column(col: _Column) -> bool:
    if any(_FY_WORDS.match(_fold(x)) for x in col.header_texts):
        return True
    values = {_fold(v) for v in col.values.head(500).dropna()} - {""}
    return 0 < len(values) <= 5 and all(_FY_VALUE.match(v) for v in values)


def _binary_values(col: _Column) -> bool:
    prof = _profile(col.values, col.labels)
    return prof.binary or prof.n == 0


def draft_study(files: list[str | Path], *, name: str | None = None, title: str | None = None,
                scales_file: str | Path | None = None) -> StudyDraft:
    """Guess a codebook and study configuration from a city's exports, one file per wave.

    Parameters
    ----------
    files
        The exports (xlsx, csv, sav/dta), one per wave.
    name, title
        The study's slug and title; by default from the first file's name and title rows.
    scales_file
        Known answer scales (default ``kyodo_analysis/templates/scales.yaml``).

    Raises
    ------
    InputError
        A file is missing or unreadable, or no header was found in it (the message names the
        file and what was looked for).
    """
    scales = load_scales(scales_file)
    sources = [_read_source(Path(f)) for f in files]
    # Files whose columns carry question numbers and value labels name the questions; files
    # with text headers only are matched to them (the waves keep the order given).
    ranked = sorted(sources, key=lambda s: -_richness(s))
    questions: dict[str, DraftQuestion] = {}
    by_text: dict[str, str] = {}
    by_options: dict[frozenset, str] = {}
    by_obvious: dict[str, str] = {}
    id_columns: list[str] = []
    fy_columns: list[str] = []
    todo: list[str] = []

    def new_id(base: str) -> str:
        qid, k = base, 2
        while qid in questions:
            qid = f"{base}_{k}"
            k += 1
        return qid

    for src in ranked:
        stat = src.raw.format in {"sav", "dta"}
        fy = src.fiscal_year
        counter = 0  # col_N names the N-th column of its file
        for position, item in enumerate(_items(src, stat)):
            counter += len(item.columns)
            first = item.columns[0]
            single = len(item.columns) == 1
            header_text = item.texts[0] or " ".join(first.header_texts)
            if single and not (item.ids[0] or "").startswith(("q", "f")) and (
                    _ID_WORDS.match(_fold(header_text)) or _ID_WORDS.match(_fold(first.name))):
                id_columns += [first.name] if first.name not in id_columns else []
                continue
            if single and position == 0 and not item.ids[0] and _looks_like_ids(first):
                id_columns += [first.name] if first.name not in id_columns else []
                todo.append(f"codebook.yaml: id column {first.name} taken from its values "
                            "(unique in every row): check")
                continue
            if single and _is_fy_column(first):
                fy_columns += [first.name] if first.name not in fy_columns else []
                continue
            if not single and all(_binary_values(c) for c in item.columns):
                _merge_mr(item, src, stat, questions, by_options, new_id, fy, counter)
                continue
            for k, (col, (qid, text)) in enumerate(zip(item.columns, _sub_items(item),
                                                       strict=True)):
                from_number = qid is not None
                text_key = _text_key(text)
                short_key = _text_key(_after_prefix(text))
                existing = None
                if qid and qid in questions:
                    existing = questions[qid]
                elif text_key and text_key in by_text:
                    existing = questions[by_text[text_key]]
                elif short_key and short_key in by_text:
                    existing = questions[by_text[short_key]]
                obvious = _obvious_id(text) or (None if from_number else _obvious_id(col.name))
                if existing is None and obvious and obvious in by_obvious:
                    existing = questions[by_obvious[obvious]]
                if existing is None and not qid:
                    qid = obvious
                    if qid and qid in questions:
                        existing = questions[qid]
                if existing is None and not qid:
                    qid = f"col_{counter - len(item.columns) + k + 1}"
                table = None
                if qid:
                    table = src.code_table.get(qid) or src.code_table.get(qid.split("_")[0])
                prof = _profile(col.values, col.labels)
                is_dt = pd.api.types.is_datetime64_any_dtype(col.values)
                guess = _classify(existing.id if existing else qid, text, prof, col.labels,
                                  table, scales, is_dt)
                if existing is None:
                    guess.id = new_id(qid)
                    guess.number = item.number
                    questions[guess.id] = guess
                    target = guess
                    if not from_number and guess.id.startswith("col_"):
                        guess.flag(f"no question number in the header: id {guess.id} made up",
                                   "low")
                    elif not from_number:
                        guess.flag(f"id {guess.id} from the header text", "medium")
                else:
                    target = existing
                    _reconcile(target, guess, src.path, scales)
                target.add_columns([col.name])
                if single and item.number and item.number != col.name:
                    # the number alone still finds the column when a later wave rewords it
                    target.add_columns([item.number])
                if fy is not None:
                    target.waves.add(fy)
                for key in (text_key, short_key):
                    if key:
                        by_text.setdefault(key, target.id)
                if obvious:
                    by_obvious.setdefault(obvious, target.id)

    qlist = list(questions.values())
    waves = [WaveDraft(s.path, s.fiscal_year, s.fy_source, s.raw.format, s.raw.sheet,
                       s.raw.header_rows, s.raw.encoding, len(s.raw.data), s.raw.footnotes)
             for s in sources]
    years = [w.fiscal_year for w in waves]
    all_years = {y for y in years if y is not None}
    for q in qlist:
        if q.waves == all_years or len(sources) == 1:
            q.waves = set()
    draft = StudyDraft(slug=name or _slug(sources[0].path.stem),
                       title=title or _title(sources[0]), questions=qlist, waves=waves,
                       id_columns=id_columns, fiscal_year_columns=fy_columns)
    likert_scales = {q.scale for q in qlist if q.type == "likert" and q.scale}
    draft.scales = {n: scales[n] for n in sorted(likert_scales) if scales[n].get("scores")}
    for q in qlist:
        if q.type != "likert" or q.scale not in draft.scales:
            q.scale = None
    na_codes = sorted({c for q in qlist for c, lab in q.missing.items()
                       if _fold(lab) in _NA_LABELS})
    draft.not_applicable = na_codes
    _hoist_missing(draft)
    _todo(draft, todo)
    draft.todo = todo
    return draft


def _merge_mr(item: _Item, src: _Source, stat: bool, questions, by_options, new_id, fy,
              counter) -> None:
    """A multiple-response question stored as one 0/1 column per option."""
    options = []
    shared = ""
    for k, (col, qid, text) in enumerate(zip(item.columns, item.ids, item.texts, strict=True)):
        label = _after_prefix(text) if (item.group_text or stat) else text
        parts = [x for x in col.header_texts if x != item.number]
        if not stat and len(parts) >= 2:  # 問番号 / 設問文 / 選択肢: the option is the last level
            label, shared = parts[-1], " ".join(parts[:-1])
        sub, rest = _sub_number(label)
        code = int(qid.rsplit("_", 1)[-1]) if qid and "_" in qid else (sub or k + 1)
        options.append({"code": code, "label": (rest if sub else label) or col.name,
                        "columns": [col.name]})
    key = frozenset(_fold(o["label"]) for o in options)
    qid = item.base
    existing = questions.get(qid) if qid else None
    if existing is None and key in by_options:
        existing = questions[by_options[key]]
    if existing is None:
        text = item.group_text or shared or (_prefix(item.texts[0]) if stat else "")
        q = DraftQuestion(new_id(qid or f"col_{counter - len(item.columns) + 1}"), "multiple",
                          text, layout="columns")
        q.options = options
        q.number = item.number
        q.order = "header order"
        for o in options:
            if _EXCLUSIVE.match(_fold(o["label"])):
                o["exclusive"] = True
                q.flag(f"「{o['label']}」 taken as exclusive (chosen alone)", "medium")
        q.basis = f"{len(options)} columns of 0/1 under one question"
        marks = {_fold(v) for c in item.columns for v in c.values.head(2000)} - {"", "0", "1"}
        if marks:
            q.flag(f"options are marked with {'/'.join(sorted(marks))} rather than 1: recode to "
                   "0/1 or check the validator reads them", "medium")
        if not text:
            q.flag("question text not in the header: write it", "medium")
        if not qid:
            q.flag(f"no question number in the header: id {q.id} made up", "low")
        questions[q.id] = q
        by_options[key] = q.id
        if fy is not None:
            q.waves.add(fy)
        return
    if fy is not None:
        existing.waves.add(fy)
    if existing.type != "multiple":
        existing.flag(f"{src.path.name} stores it as {len(options)} 0/1 columns", "low")
        return
    if existing.layout == "delimited":
        existing.flag(f"{src.path.name} stores it as 0/1 columns "
                      f"({', '.join(o['columns'][0] for o in options)}), another file in one "
                      "cell: the codebook has one layout per question", "low")
        labels = {o["code"]: o["label"] for o in options}
        for o in existing.options:
            if o["label"].startswith("選択肢") and o["code"] in labels:
                o["label"] = labels[o["code"]]
        return
    by_label = {_fold(o["label"]): o for o in existing.options}
    by_code = {o["code"]: o for o in existing.options}
    for o in options:
        target = by_label.get(_fold(o["label"])) or by_code.get(o["code"])
        if target is None:
            existing.options.append(o)
            existing.flag(f"option 「{o['label']}」 only in {src.path.name}", "medium")
        else:
            target["columns"] = list(dict.fromkeys(target["columns"] + o["columns"]))
            if target["label"] in target["columns"] and o["label"] not in o["columns"]:
                target["label"] = o["label"]  # a real label instead of the column name
    text = item.group_text or (_prefix(item.texts[0]) if stat else "")
    if not existing.text and text:
        existing.text = text
        existing.notes = [n for n in existing.notes if "question text" not in n]
        _recount_confidence(existing)


def _reconcile(target: DraftQuestion, guess: DraftQuestion, path: Path, scales: dict) -> None:
    """Merge what another file says about a question already drafted."""
    if not target.text and guess.text:
        target.text = guess.text
    if target.type == "multiple" and target.layout == "delimited":
        labels = {o["code"]: o["label"] for o in guess.options} if guess.options else {}
        for o in target.options:
            if o["label"].startswith("選択肢") and o["code"] in labels:
                o["label"] = labels[o["code"]]
        return
    if guess.type != target.type and {guess.type, target.type} - {"single", "likert",
                                                                   "demographic"}:
        target.flag(f"{path.name} looks like type {guess.type}", "low")
        return
    if not target.codes:
        return
    authoritative = {"SPSS value labels", "コード表"}
    if guess.order in authoritative and target.order not in authoritative and guess.codes:
        old_seen, old_aliases = target.seen, target.aliases
        target.codes, target.order = dict(guess.codes), guess.order
        target.missing.update(guess.missing)
        target.aliases = {k: list(v) for k, v in guess.aliases.items()}
        target.notes = [n for n in target.notes if "order" not in n and "scale" not in n
                        and "placeholders" not in n]
        target.scale = None
        _scale_of_codes(target, scales)
        for lab, al in old_aliases.items():
            target.aliases.setdefault(lab, [])
            target.aliases[lab] += [a for a in al if a not in target.aliases[lab]]
        guess = DraftQuestion(target.id, target.type, codes={i + 1: lab for i, lab in
                                                             enumerate(sorted(old_seen))})
        guess.order = "words"
        if target.scale and scales[target.scale].get("type") == "likert" and target.type == "single":
            target.type = "likert"
        _recount_confidence(target)
    placeholder = all(v.startswith("選択肢") for v in target.codes.values())
    if placeholder and guess.codes and not all(v.startswith("選択肢") for v in guess.codes.values()):
        target.codes, target.order, target.scale = guess.codes, guess.order, guess.scale
        target.missing.update(guess.missing)
        target.notes = [n for n in target.notes if "placeholders" not in n]
        if guess.type == "likert" and target.type == "single":
            target.type = "likert"
        _recount_confidence(target)
        return
    known = {_fold(v): k for k, v in target.codes.items()}
    alias_of = {_fold(a): lab for lab, al in target.aliases.items() for a in al}
    for code, label in guess.codes.items():
        f = _fold(label)
        if f in known or f in alias_of or label.startswith("選択肢"):
            if f in known and known[f] != code and guess.order in {"SPSS value labels", "コード表"}:
                target.flag(f"{path.name} codes 「{label}」 as {code}, here {known[f]}", "low")
            continue
        key = _strip_suffix(label)
        canon = next((v for v in target.codes.values() if _strip_suffix(v) == key), None)
        if canon:
            target.aliases.setdefault(canon, []).append(label)
            continue
        nxt = max(target.codes) + 1
        target.codes[nxt] = label
        target.flag(f"「{label}」 only in {path.name} (added as {nxt})", "medium")
    for code, label in guess.missing.items():
        target.missing.setdefault(code, label)
    for lab, al in guess.aliases.items():
        bucket = target.aliases.setdefault(lab, [])
        bucket += [a for a in al if a not in bucket]


def _recount_confidence(q: DraftQuestion) -> None:
    q.confidence = "high"
    for n in q.notes:
        if "made up" in n or "no label" in n or "placeholders" in n:
            q.confidence = "low"
        elif q.confidence == "high":
            q.confidence = "medium"


def _hoist_missing(draft: StudyDraft) -> None:
    """Missing codes shared by the coded questions become the codebook's ``missing_codes``.

    A question keeps its own ``missing`` when it differs; a question whose substantive codes
    would clash with the shared ones gets an explicit empty ``missing`` (written as ``{}``).
    """
    coded = [q for q in draft.questions if q.codes]
    maps = Counter(tuple(sorted(q.missing.items())) for q in coded if q.missing)
    if not maps:
        return
    common, count = maps.most_common(1)[0]
    if count < 2:
        return
    draft.missing_codes = dict(common)
    for q in coded:
        if dict(q.missing) == draft.missing_codes:
            q.missing = {}
            q.inherits_missing = True
        elif not q.missing and set(q.codes) & set(draft.missing_codes):
            q.missing = {}
            q.inherits_missing = False


def _slug(stem: str) -> str:
    s = re.sub(r"[^a-z0-9_-]+", "-", _fold(stem).lower()).strip("-_")[:64].strip("-_")
    return s or "survey"


def _title(src: _Source) -> str:
    if src.raw.title:
        return src.raw.title[0]
    return src.path.stem


def _todo(draft: StudyDraft, todo: list[str]) -> None:
    if not draft.id_columns:
        todo.append("codebook.yaml: no respondent id column recognised: fill in id.columns")
    for w in draft.waves:
        if w.fiscal_year is None:
            todo.append(f"study.yaml: fiscal year of {w.file.name} not found (no 調査年度 "
                        "column, none in the title rows or the file name): fill it in")
    seen = Counter(w.fiscal_year for w in draft.waves if w.fiscal_year is not None)
    for fy, n in seen.items():
        if n > 1:
            todo.append(f"study.yaml: {n} files for fiscal year {fy}: one file per wave")
    for q in draft.questions:
        if q.confidence == "low":
            todo.append(f"codebook.yaml: {q.id}: " + "; ".join(
                n for n in q.notes) if q.notes else f"codebook.yaml: {q.id}")
    todo.append("indicators.yaml: choose indicators, baselines and targets (none are invented)")


# --------------------------------------------------------------------------- writing YAML


def _scalar(value: object) -> str:
    """A YAML scalar that reads back as ``value`` (plain when safe, else double-quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value)) if not float(value).is_integer() else str(int(value))
    text = str(value)
    if text and not re.search(r"[:#{}\[\],&*!|>'\"%@`?\n\r\t\\]", text) and \
            text == text.strip() and not text.startswith(("-", "~", "=")):
        try:
            if yamlio.safe_load(f"k: {text}") == {"k": text} and \
                    yamlio.safe_load(f"{{k: {text}}}") == {"k": text}:
                return text
        except yaml.YAMLError:
            pass
    return _NON_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}",
                              json.dumps(text, ensure_ascii=False))


# Characters YAML does not allow in a stream even inside quotes (escaped as \uXXXX instead).
# Line breaks other than \n (NEL, LS, PS) are escaped too: YAML folds them into spaces.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd"
                            "\U00010000-\U0010ffff]|[\ufeff\u2028\u2029]")


def _flow(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def codebook_yaml(draft: StudyDraft, sources: list[str]) -> str:
    """The draft codebook as YAML text, every guess under a ``# 要確認:`` comment."""
    out = [
        f"# 下書き: kyodo init が {', '.join(sources)} から推定した codebook です。",
        "# 「要確認」の行を確かめ、直してから取り込みに使ってください。",
        "# Draft written by `kyodo init`: check every line marked 要確認 before importing.",
        f"codebook: {_scalar(draft.title)}",
    ]
    if draft.id_columns:
        out.append(f"id: {{columns: {_flow(draft.id_columns)}}}")
    else:
        out.append("# 要確認: 回答者IDの列が見つかりません。列名を書いてください。")
        out.append("id: {columns: []}")
    if draft.fiscal_year_columns:
        out.append(f"fiscal_year: {{columns: {_flow(draft.fiscal_year_columns)}}}")
    if draft.missing_codes:
        out.append(f"missing_codes: {_flow(draft.missing_codes)}")
    if draft.not_applicable:
        out.append("# 要確認: 非該当のコード（SPSSの値ラベルから）")
        out.append(f"not_applicable: {_flow(draft.not_applicable)}")
    if draft.scales:
        out.append("scales:")
        for name, sc in draft.scales.items():
            codes = {i + 1: lab for i, lab in enumerate(sc["labels"])}
            scores = {i + 1: s for i, s in enumerate(sc["scores"])}
            out.append(f"  {name}:")
            out.append(f"    codes: {_flow(codes)}")
            out.append(f"    scores: {_flow(scores)}")
    out.append("questions:")
    for q in draft.questions:
        out.append("")
        out.append(f"  # 要確認: {q.id} は推定です（確からしさ {q.confidence}）: type {q.type}"
                   + (f" from {q.basis}" if q.basis else "")
                   + (f"; categories in the order of {q.order}" if q.order else ""))
        for note in q.notes:
            out.append(f"  # 要確認: {_comment(note)}")
        out.append(f"  - id: {_scalar(q.id)}")
        if q.type != "multiple" or q.layout == "delimited":
            out.append(f"    columns: {_flow(q.columns)}")
        out.append(f"    text: {_scalar(q.text)}")
        out.append(f"    type: {q.type}")
        if q.type == "multiple":
            out.append(f"    layout: {q.layout or 'columns'}")
            out.append("    options:")
            for o in q.options:
                item = {"code": o["code"], "label": o["label"]}
                if q.layout != "delimited":
                    item["columns"] = o.get("columns", [])
                if o.get("exclusive"):
                    item["exclusive"] = True
                out.append(f"      - {_flow(item)}")
        if q.scale and q.type == "likert":
            out.append(f"    scale: {q.scale}")
            out.append(f"    codes: {_flow(q.codes)}")
        elif q.codes and q.type in {"single", "likert", "demographic", "design"}:
            out.append(f"    codes: {_flow(q.codes)}")
        if q.missing or q.inherits_missing is False:
            out.append(f"    missing: {_flow(q.missing)}")
        if q.aliases:
            out.append("    # 要確認: 表記ゆれの候補（ラベル: [ファイル上の別の書き方]）")
            out.append(f"    aliases: {_flow(q.aliases)}")
        if q.range:
            out.append(f"    range: {_flow(list(q.range))}")
        if q.waves:
            out.append(f"    waves: {_flow(sorted(q.waves))}")
    out += _derived_example(draft)
    text = "\n".join(out) + "\n"
    yamlio.safe_load(text)  # what is written always loads
    return text


def _derived_example(draft: StudyDraft) -> list[str]:
    """A commented ``derived`` recode of a numeric age into 年代, when there is one."""
    age = next((q for q in draft.questions if q.type == "numeric" and q.range
                and (q.id in {"age", "f_age"} or "年齢" in q.text)), None)
    if age is None or age.range[1] < 40:
        return []
    lo = int(age.range[0])
    codes, bins = {}, {}
    start, k = lo, 1
    while start < 70:
        end = (start // 10) * 10 + 9
        codes[k] = f"{start}～{end}歳"
        bins[k] = [start, end]
        start, k = end + 1, k + 1
    codes[k], bins[k] = "70歳以上", [70, max(120, int(age.range[1]))]
    item = {"id": "age_group", "from": age.id, "text": "年代", "type": "demographic",
            "codes": codes, "bins": bins}
    return ["", f"# 要確認: {age.id}（年齢）から年代を作る例です。使うときは # を外してください。",
            "# derived:", f"#   - {_flow(item)}"]


def _plan_block(plan: dict) -> list[str]:
    """The plan's structure for study.yaml's ``plan:`` (its keys as the template has them)."""
    out = ["# 評価する計画の施策体系（templates/plan.yaml から写したもの）。計画に合わせて直してください。",
           "plan:"]
    for key in ("name", "start", "end", "midterm"):
        if plan.get(key) is not None:
            out.append(f"  {key}: {_scalar(plan[key])}")
    out.append("  policies:")
    for p in plan.get("policies") or []:
        measures = [{"id": str(m["id"]), "name": m["name"]} for m in p.get("measures") or []]
        out.append(f"    - {_flow({'id': p['id'], 'name': p['name'], 'measures': measures})}")
    return out


def study_yaml(draft: StudyDraft, out_dir: Path, plan_file: str | Path | None = None) -> str:
    out = [
        "# 下書き: kyodo init が作成した study.yaml です。要確認の行を確かめてください。",
        f"study: {_scalar(draft.slug)}",
        f"title: {_scalar(draft.title)}",
        "codebook: codebook.yaml",
        "indicators: indicators.yaml",
        "waves:",
    ]
    for w in draft.waves:
        rel = _relative(w.file, out_dir)
        item: dict = {"fiscal_year": w.fiscal_year, "file": rel}
        if w.sheet:
            item["sheet"] = w.sheet
        if w.header_rows:
            item["header_rows"] = list(w.header_rows)
        if w.encoding and w.format == "csv":
            item["encoding"] = w.encoding
        if w.fiscal_year is None:
            out.append(f"  # 要確認: {w.file.name} の調査年度が分かりません。fiscal_year を書いてください。")
        else:
            out.append(f"  # fiscal_year {w.fiscal_year}: {w.fiscal_year_source} から"
                       + ("（要確認）" if w.fiscal_year_source == "file name" else ""))
        if w.footnotes:
            out.append(f"  # 注記行 {len(w.footnotes)} 行はデータから除きます（行 "
                       f"{', '.join(str(r) for r, _ in w.footnotes)}）")
        out.append(f"  - {_flow(item)}")
    out += _plan_block(_load_plan(plan_file))
    text = "\n".join(out) + "\n"
    yamlio.safe_load(text)
    return text


def _relative(path: Path, out_dir: Path) -> str:
    import os

    try:
        return Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def indicators_yaml(draft: StudyDraft, plan_file: str | Path | None = None) -> str:
    """An empty indicator list with a commented template laid out by the plan's policies."""
    plan = _load_plan(plan_file)
    q = next((x for x in draft.questions if x.type in {"single", "likert"} and x.codes), None)
    qid = q.id if q else "<設問ID>"
    levels = sorted(q.codes)[:2] if q else [1, 2]
    year = min((w.fiscal_year for w in draft.waves if w.fiscal_year), default=None)
    out = [
        f"# 指標の下書き: {plan.get('name') or '計画'}（{plan.get('start', '')}～{plan.get('end', '')}）"
        "の推進施策・個別施策ごと。施策の名前は study.yaml の plan: にあります。",
        "# 計画自体には数値目標がありません。指標・基準値・目標値は調査ごとに決めて書いてください。",
        "# Indicators are left empty: nothing is invented. Uncomment and adapt the examples.",
        "indicators: []",
    ]
    for p in plan["policies"]:
        out.append("")
        out.append(f"# ── 推進施策{p['id']} {p['name']}")
        for m in p["measures"]:
            actions = f"（取組: {'、'.join(m['actions'])}）" if m.get("actions") else ""
            out.append(f"#   個別施策{p['id']}-{m['id']} {m['name']}{actions}")
            example = {"id": f"{p['id'].lower()}_{m['id']}_example", "name": "（指標名）",
                       "policy": p["id"], "measure": str(m["id"]),
                       "source": {"type": "survey", "question": qid, "levels": levels},
                       "unit": "%", "direction": "higher",
                       "baseline": {"fiscal_year": year, "value": None}, "targets": {}}
            out.append(f"#   - {_flow(example)}")
    text = "\n".join(out) + "\n"
    yamlio.safe_load(text)
    return text


def write_study(draft: StudyDraft, out_dir: str | Path, *, force: bool = False,
                plan_file: str | Path | None = None) -> list[Path]:
    """Write ``codebook.yaml``, ``study.yaml`` and ``indicators.yaml`` into ``out_dir``.

    Raises
    ------
    FileExistsError
        One of the files exists and ``force`` is not given (nothing is written).
    """
    out = Path(out_dir)
    targets = {name: out / name for name in ("codebook.yaml", "study.yaml", "indicators.yaml")}
    if not force:
        for path in targets.values():
            if path.exists():
                raise FileExistsError(str(path))
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "codebook.yaml": codebook_yaml(draft, [w.file.name for w in draft.waves]),
        "study.yaml": study_yaml(draft, out, plan_file),
        "indicators.yaml": indicators_yaml(draft, plan_file),
    }
    for name, text in texts.items():
        targets[name].write_text(text, encoding="utf-8")
    return list(targets.values())


def describe(draft: StudyDraft) -> list[str]:
    """Lines saying what was inferred (per question: id, type, categories, confidence) and what
    is left to fill in."""
    lines = []
    for w in draft.waves:
        fy = w.fiscal_year if w.fiscal_year is not None else "?"
        lines.append(f"{w.file.name}: fiscal year {fy}"
                     + (f" ({w.fiscal_year_source})" if w.fiscal_year_source else "")
                     + f", header rows {list(w.header_rows)}, {w.rows} rows"
                     + (f", sheet {w.sheet}" if w.sheet else "")
                     + (f", encoding {w.encoding}" if w.encoding else "")
                     + (f", {len(w.footnotes)} footnote rows set apart" if w.footnotes else ""))
    lines.append(f"id columns: {', '.join(draft.id_columns) or '(none found)'}")
    for q in draft.questions:
        if q.type == "multiple":
            cats = "/".join(o["label"] for o in q.options)
            kind = f"multiple ({q.layout})"
        elif q.codes:
            cats = "/".join(q.codes[k] for k in sorted(q.codes))
            kind = q.type
        elif q.range:
            cats = f"{q.range[0]:g}–{q.range[1]:g}"
            kind = q.type
        else:
            cats, kind = "", q.type
        if len(cats) > 60:
            cats = cats[:57] + "..."
        lines.append(f"  {q.id:<12} {kind:<22} {q.confidence:<6} {cats}")
    return lines
