"""The register of collaborative projects (協働事業台帳): reading, validation and quarantine.

Layout (one row per project; the header may sit under title rows, CSV in UTF-8 or CP932)::

    事業ID | 事業名 | 開始年度 | 終了年度 | 施策 | 協働の形態 | 相手方 | 相談日 | マッチング日 |
    企画日 | 実施開始日 | 実施終了日 | 振り返り日 | 参加者数 | 事業費 | 助成区分 | <district levels>

``相手方`` lists every partner of the project in one cell, each as 「名前（種別）」 separated
by 「、」「,」「;」 or a line break, the lead partner (主導・提案した主体) first::

    NPO法人あおぞら（NPO法人）、市民協働課（行政）

``施策`` is a policy and measure of the study's plan (``plan.policies``) written
``<policy id>-<measure id>`` (「III-1」, 「Ⅲ-1」 and 「III－1」 are the same), or the policy id alone
for a policy without measures. ``年度`` may stand for ``開始年度``; ``終了年度`` blank means a
one-year project. Stage dates are optional and may be written as any date
:func:`~kyodo_analysis.io.normalise.parse_date` reads (令和7年5月1日, R7.5.1, 2025/5/1, Excel
dates). A column named after a district level of the study (``中学校区``, ``小学校区`` ...)
holds the district a local project belongs to (blank: city-wide).

Rows whose 事業ID is 「入力例」 (the template's example row) are skipped.

Rules (row-level, the row goes to the quarantine with file, row, column, value, rule and a
Japanese message; ``read == accepted + quarantined``):

``missing_id``, ``duplicate_id``
    Every project needs an id, unique across the register's files.
``missing_name``
    A project without a name.
``not_a_year``, ``year_order``
    An unreadable fiscal year, or an end year before the start year.
``unknown_measure``
    A 施策 code that is not a policy/measure of the study's plan.
``unknown_form``
    A form of collaboration not in ``collaboration.forms``.
``no_partner``, ``partner_format``, ``unknown_partner_type``
    No partner; a partner written without 「（種別）」; a type not in
    ``collaboration.partner_types``.
``duplicate_partner``
    The same partner named twice in one project.
``not_a_date``, ``stage_order``
    An unreadable stage date; a stage dated before an earlier stage (相談 ≤ マッチング ≤ 企画 ≤
    実施開始 ≤ 実施終了 ≤ 振り返り, blanks skipped).
``not_a_number``
    Participants or budget that is not a non-negative number.
``unknown_grant``
    A grant category not in ``collaboration.grant_categories`` (when the study lists them).
``unknown_district``
    A district that is not a district of its level in the study.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.errors import InputError
from kyodo_analysis.io.normalise import fold_label, normalise_cell, parse_date, parse_number
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import QUARANTINE_COLUMNS

__all__ = [
    "COLUMNS",
    "EXAMPLE_ID",
    "STAGES",
    "Register",
    "RegisterRules",
    "combine_registers",
    "measure_codes",
    "parse_partners",
    "read_register",
    "validate_register",
]

#: The 事業ID of a template's example row (入力例): such rows are skipped, not read.
EXAMPLE_ID = "入力例"
#: Stages of a collaborative project, in order (stage -> its column header).
STAGES: tuple[str, ...] = ("相談", "マッチング", "企画", "実施開始", "実施終了", "振り返り")

#: Canonical field -> header names accepted for it (compared folded).
COLUMNS: dict[str, tuple[str, ...]] = {
    "project_id": ("事業ID", "事業番号", "事業コード"),
    "name": ("事業名", "事業の名称"),
    "start_fy": ("開始年度", "年度"),
    "end_fy": ("終了年度",),
    "measure_code": ("施策", "施策コード", "個別施策"),
    "form": ("協働の形態", "形態"),
    "partners": ("相手方", "協働の主体", "主体"),
    "participants": ("参加者数",),
    "budget": ("事業費", "予算", "事業費（円）"),
    "grant": ("助成区分",),
    **{f"stage:{s}": (f"{s}日", s) for s in STAGES},
}
_REQUIRED = ("project_id", "name", "start_fy", "measure_code", "form", "partners")
_PARTNER_SPLIT = re.compile(r"[、,;；\n]+")
_PARTNER_RE = re.compile(r"^(.+?)\s*[（(]\s*([^（）()]+?)\s*[）)]$")
_DASH = str.maketrans({"－": "-", "‐": "-", "―": "-", "–": "-", "ー": "-", "—": "-", "_": "-",
                       "・": "-", ".": "-"})


@dataclass(frozen=True)
class RegisterRules:
    """What a register is checked against: the study's plan, lists and districts."""

    measures: Mapping[str, tuple[str, str]]
    partner_types: Sequence[str]
    forms: Sequence[str]
    city_types: Sequence[str] = ()
    grant_categories: Sequence[str] = ()
    districts: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Register:
    """A register read and checked.

    Attributes
    ----------
    projects
        Accepted projects, one row each: ``project_id, name, start_fy, end_fy, policy,
        measure, measure_code, form, lead, lead_type, n_partners, participants, budget,
        grant``, one date column per stage (:data:`STAGES`, ``datetime64``), one column per
        district level present in the file, ``file`` and ``_row`` (the spreadsheet row).
    partners
        One row per partner of an accepted project: ``project_id, partner, type, lead,
        position`` (the lead is the first partner listed).
    quarantine
        One record per problem: ``file, row, column, value, rule, message``.
    quarantined_rows
        The raw cells of every quarantined row with ``file`` and ``_row``: nothing is lost.
    read
        Data rows read from the file(s).
    """

    files: tuple[str, ...]
    read: int
    projects: pd.DataFrame
    partners: pd.DataFrame
    quarantine: pd.DataFrame
    quarantined_rows: pd.DataFrame
    city_types: tuple[str, ...] = ()
    district_levels: tuple[str, ...] = ()

    @property
    def n_accepted(self) -> int:
        return len(self.projects)

    @property
    def n_quarantined(self) -> int:
        return len(self.quarantined_rows)

    @property
    def stages_present(self) -> tuple[str, ...]:
        """Stages with at least one date in the register."""
        return tuple(s for s in STAGES if self.projects[s].notna().any())

    def active_in(self, fiscal_year: int) -> pd.DataFrame:
        """Projects running in ``fiscal_year`` (start ≤ year ≤ end)."""
        p = self.projects
        return p[(p["start_fy"] <= fiscal_year) & (p["end_fy"] >= fiscal_year)]

    def fiscal_years(self) -> list[int]:
        """Every fiscal year some project runs in, in order."""
        years: set[int] = set()
        for a, b in zip(self.projects["start_fy"], self.projects["end_fy"], strict=True):
            years.update(range(int(a), int(b) + 1))
        return sorted(years)

    def summary(self) -> dict:
        """Counts and problems as a JSON-ready mapping."""
        return {"files": list(self.files), "read": self.read, "accepted": self.n_accepted,
                "quarantined": self.n_quarantined,
                "rules": self.quarantine["rule"].value_counts().sort_index().to_dict(),
                "errors": self.quarantine.astype({"row": int}).to_dict(orient="records")}


def measure_codes(policies: Sequence) -> dict[str, tuple[str, str]]:
    """Folded 施策 code -> (policy id, measure id) for a plan's ``policies``
    (``[{id, name, measures: [{id, name}]}]``, dicts or config objects); a policy without
    measures is its own code with measure ``""``."""
    out: dict[str, tuple[str, str]] = {}
    for p in policies:
        pid = str(_get(p, "id"))
        measures = _get(p, "measures") or []
        if not measures:
            out[_fold_code(pid)] = (pid, "")
        for m in measures:
            mid = str(_get(m, "id"))
            out[_fold_code(f"{pid}-{mid}")] = (pid, mid)
    return out


def _get(obj, key: str):
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key)


def _fold_code(text: object) -> str:
    """A 施策 code as compared: NFKC (Ⅲ -> III, full-width digits), dashes unified, no
    spaces, upper case."""
    t = unicodedata.normalize("NFKC", normalise_cell(text)).translate(_DASH)
    return re.sub(r"\s+", "", t).upper()


def parse_partners(cell: object) -> list[tuple[str, str | None]]:
    """「名前（種別）、名前（種別）」 -> ``[(name, type), ...]``; a partner written without a
    type gets ``None``. Full-width brackets and commas are accepted."""
    text = str(cell) if cell is not None and not (isinstance(cell, float) and np.isnan(cell)) else ""
    out = []
    for part in _PARTNER_SPLIT.split(text):
        part = unicodedata.normalize("NFKC", part).strip()
        if not part:
            continue
        m = _PARTNER_RE.match(part)
        out.append((m.group(1).strip(), m.group(2).strip()) if m else (part, None))
    return out


def _blank(value: object) -> bool:
    return normalise_cell(value) == ""


def _find_columns(columns: Sequence[str], extra: Sequence[str]) -> dict[str, str]:
    """Canonical field (and district level) -> the file's header."""
    folded = {fold_label(c): c for c in columns}
    found = {}
    for key, names in COLUMNS.items():
        for name in names:
            if fold_label(name) in folded:
                found[key] = folded[fold_label(name)]
                break
    for level in extra:
        if fold_label(level) in folded:
            found[f"district:{level}"] = folded[fold_label(level)]
    return found


def read_register(path: str | Path, rules: RegisterRules, *, sheet: str | int | None = None,
                  encoding: str | None = None) -> Register:
    """Read a register file (CSV or Excel) and validate it with :func:`validate_register`.

    Raises
    ------
    InputError
        The file cannot be read, has no header with the required columns, or no rows.
    """
    known = {n for names in COLUMNS.values() for n in names} | set(rules.districts)
    raw = read_table(path, sheet=sheet, encoding=encoding, known_headers=known)
    return validate_register(raw.data, rules, file=raw.file, rows=raw.row_numbers.to_numpy())


def validate_register(data: pd.DataFrame, rules: RegisterRules, *, file: str = "",
                      rows: Sequence[int] | None = None) -> Register:
    """Validate a register table (the cells as read) against ``rules``; see the module
    docstring for the layout and the rules."""
    columns = [str(c) for c in data.columns]
    where = _find_columns(columns, list(rules.districts))
    missing = [k for k in _REQUIRED if k not in where]
    if missing:
        raise InputError(f"register column missing: {COLUMNS[missing[0]][0]} (accepted headers: "
                         f"{', '.join(COLUMNS[missing[0]])}); columns found: "
                         f"{', '.join(columns[:10])}", file=file, column=COLUMNS[missing[0]][0])
    rows = np.asarray(rows if rows is not None else np.arange(2, len(data) + 2))
    example = np.array([normalise_cell(v) == EXAMPLE_ID for v in data[where["project_id"]]],
                       dtype=bool)
    data, rows = data[~example].reset_index(drop=True), rows[~example]
    if len(data) == 0:
        raise InputError("the register has a header but no rows", file=file)
    problems: list[dict] = []
    bad = np.zeros(len(data), dtype=bool)

    def report(i: int, key: str, value: object, rule: str, message: str) -> None:
        bad[i] = True
        problems.append({"file": file, "row": int(rows[i]), "column": where.get(key, key),
                         "value": normalise_cell(value), "rule": rule, "message": message})

    types, forms = list(rules.partner_types), list(rules.forms)
    type_of = {fold_label(t): t for t in types}
    form_of = {fold_label(f): f for f in forms}
    grant_of = {fold_label(g): g for g in rules.grant_categories}
    district_of = {lv: {fold_label(d): d for d in ds} for lv, ds in rules.districts.items()}
    ids = [normalise_cell(v) for v in data[where["project_id"]]]
    counts = pd.Series([i for i in ids if i]).value_counts()
    records, partner_rows = [], []
    for i in range(len(data)):
        row = data.iloc[i]
        cell = {k: row[h] for k, h in where.items()}
        rec: dict = {"project_id": ids[i], "file": file, "_row": int(rows[i])}
        if not ids[i]:
            report(i, "project_id", "", "missing_id", "事業IDがありません")
        elif counts.get(ids[i], 0) > 1:
            report(i, "project_id", ids[i], "duplicate_id", f"事業ID「{ids[i]}」が重複しています")
        rec["name"] = normalise_cell(cell["name"])
        if not rec["name"]:
            report(i, "name", "", "missing_name", "事業名がありません")
        # fiscal years
        years = {}
        for key in ("start_fy", "end_fy"):
            v = cell.get(key)
            if v is None or _blank(v):
                years[key] = None
                continue
            try:
                years[key] = parse_fiscal_year(normalise_cell(v))
            except ValueError:
                report(i, key, v, "not_a_year", f"{where[key]}: 年度として読めません（例: 令和7年度、2025、R7）")
                years[key] = None
        if years["start_fy"] is None and not bad[i] and "start_fy" in where:
            report(i, "start_fy", "", "not_a_year", f"{where['start_fy']}: 年度がありません")
        start = years["start_fy"]
        end = years["end_fy"] if years["end_fy"] is not None else start
        if start is not None and end is not None and end < start:
            report(i, "end_fy", cell.get("end_fy"), "year_order",
                   f"{where['end_fy']}: 終了年度が開始年度（{start}）より前です")
        rec["start_fy"], rec["end_fy"] = start, end
        # plan measure
        code = _fold_code(cell["measure_code"])
        if code not in rules.measures:
            report(i, "measure_code", cell["measure_code"], "unknown_measure",
                   f"{where['measure_code']}: 施策「{normalise_cell(cell['measure_code'])}」は計画の施策にありません"
                   f"（{', '.join(_shown_codes(rules.measures))}）")
            rec["policy"], rec["measure"] = None, None
        else:
            rec["policy"], rec["measure"] = rules.measures[code]
        rec["measure_code"] = (f"{rec['policy']}-{rec['measure']}" if rec.get("measure")
                               else rec.get("policy"))
        # form
        form = form_of.get(fold_label(cell["form"]))
        if form is None:
            report(i, "form", cell["form"], "unknown_form",
                   f"{where['form']}: 協働の形態「{normalise_cell(cell['form'])}」は"
                   f"一覧（{'、'.join(forms)}）にありません")
        rec["form"] = form
        # partners
        partners = parse_partners(cell["partners"])
        if not partners:
            report(i, "partners", "", "no_partner", f"{where['partners']}: 相手方がありません")
        shown = []
        for pos, (name, ptype) in enumerate(partners):
            if ptype is None:
                report(i, "partners", name, "partner_format",
                       f"{where['partners']}: 「{name}」に種別がありません（「名前（種別）」の形で書いてください）")
                continue
            t = type_of.get(fold_label(ptype))
            if t is None:
                report(i, "partners", f"{name}（{ptype}）", "unknown_partner_type",
                       f"{where['partners']}: 種別「{ptype}」は一覧（{'、'.join(types)}）にありません")
                continue
            shown.append((name, t, pos))
        names = [n for n, _, _ in shown]
        dup_names = sorted({n for n in names if names.count(n) > 1})
        if dup_names:
            report(i, "partners", dup_names[0], "duplicate_partner",
                   f"{where['partners']}: 相手方「{dup_names[0]}」が2回書かれています")
        for name, t, pos in shown:
            partner_rows.append({"project_id": ids[i], "partner": name, "type": t,
                                 "lead": pos == 0, "position": pos, "_i": i})
        rec["lead"] = shown[0][0] if shown and shown[0][2] == 0 else None
        rec["lead_type"] = shown[0][1] if shown and shown[0][2] == 0 else None
        rec["n_partners"] = len(shown)
        # stages
        last: tuple[str, _dt.date] | None = None
        for stage in STAGES:
            key = f"stage:{stage}"
            v = cell.get(key)
            rec[stage] = pd.NaT
            if v is None or _blank(v):
                continue
            try:
                d = parse_date(v)
            except ValueError:
                report(i, key, v, "not_a_date", f"{where[key]}: 日付として読めません（例: 令和7年5月1日、2025/5/1）")
                continue
            rec[stage] = pd.Timestamp(d)
            if last is not None and d < last[1]:
                report(i, key, v, "stage_order",
                       f"{where[key]}: {stage}（{d.isoformat()}）が{last[0]}（{last[1].isoformat()}）より前です")
            last = (stage, d)
        # numbers
        for key in ("participants", "budget"):
            v = cell.get(key)
            rec[key] = np.nan
            if v is None or _blank(v):
                continue
            number = v if isinstance(v, (int, float)) and not isinstance(v, bool) else \
                parse_number(re.sub(r"(人|円|名)$", "", normalise_cell(v)))
            if number is None or number < 0:
                report(i, key, v, "not_a_number", f"{where[key]}: 0以上の数として読めません")
                continue
            rec[key] = float(number)
        # grant
        g = cell.get("grant")
        rec["grant"] = None
        if g is not None and not _blank(g):
            if grant_of:
                rec["grant"] = grant_of.get(fold_label(g))
                if rec["grant"] is None:
                    report(i, "grant", g, "unknown_grant",
                           f"{where['grant']}: 助成区分「{normalise_cell(g)}」は"
                           f"一覧（{'、'.join(rules.grant_categories)}）にありません")
            else:
                rec["grant"] = normalise_cell(g)
        # districts
        for level, lookup in district_of.items():
            key = f"district:{level}"
            if key not in where:
                continue
            v = cell.get(key)
            rec[level] = None
            if v is None or _blank(v):
                continue
            rec[level] = lookup.get(fold_label(v))
            if rec[level] is None:
                report(i, key, v, "unknown_district",
                       f"{where[key]}: 「{normalise_cell(v)}」は{level}にありません")
        records.append(rec)
    levels = tuple(lv for lv in rules.districts if f"district:{lv}" in where)
    projects = pd.DataFrame(records)
    keep = ~bad
    accepted = projects[keep].reset_index(drop=True)
    accepted = _typed(accepted, levels)
    partners = pd.DataFrame(partner_rows, columns=["project_id", "partner", "type", "lead",
                                                   "position", "_i"])
    partners = partners[partners["_i"].map(lambda j: keep[j]).astype(bool)].drop(columns="_i")
    quarantined = data[bad].copy()
    quarantined.insert(0, "_row", rows[bad])
    quarantined.insert(0, "file", file)
    return Register(files=(file,), read=len(data), projects=accepted,
                    partners=partners.reset_index(drop=True),
                    quarantine=pd.DataFrame(problems, columns=QUARANTINE_COLUMNS),
                    quarantined_rows=quarantined.reset_index(drop=True),
                    city_types=tuple(rules.city_types), district_levels=levels)


def _shown_codes(measures: Mapping[str, tuple[str, str]]) -> list[str]:
    return [f"{p}-{m}" if m else p for p, m in measures.values()]


_PROJECT_COLUMNS = ["project_id", "name", "start_fy", "end_fy", "policy", "measure",
                    "measure_code", "form", "lead", "lead_type", "n_partners", "participants",
                    "budget", "grant", *STAGES]


def _typed(projects: pd.DataFrame, levels: Sequence[str]) -> pd.DataFrame:
    for col in _PROJECT_COLUMNS:
        if col not in projects.columns:
            projects[col] = pd.Series(dtype=object)
    out = projects[[*_PROJECT_COLUMNS, *levels, "file", "_row"]].copy()
    for col in ("start_fy", "end_fy", "n_partners", "_row"):
        out[col] = out[col].astype("int64")
    for col in ("participants", "budget"):
        out[col] = out[col].astype("float64")
    for stage in STAGES:
        out[stage] = pd.to_datetime(out[stage])
    return out


def combine_registers(parts: Sequence[Register]) -> Register:
    """Several register files as one register; a project id in two files sends both rows to
    the quarantine (``duplicate_id``)."""
    if len(parts) == 1:
        return parts[0]
    projects = pd.concat([p.projects for p in parts], ignore_index=True)
    dup = projects["project_id"].duplicated(keep=False)
    problems = [p.quarantine for p in parts]
    q_rows = [p.quarantined_rows for p in parts]
    if dup.any():
        d = projects[dup]
        problems.append(pd.DataFrame({"file": d["file"], "row": d["_row"], "column": "事業ID",
                                      "value": d["project_id"], "rule": "duplicate_id",
                                      "message": [f"事業ID「{v}」が別のファイルにもあります"
                                                  for v in d["project_id"]]}))
        q_rows.append(d.rename(columns={}).astype(object))
    keep_ids = set(projects.loc[~dup, "project_id"])
    partners = pd.concat([p.partners for p in parts], ignore_index=True)
    levels = tuple(dict.fromkeys(lv for p in parts for lv in p.district_levels))
    return Register(files=tuple(f for p in parts for f in p.files), read=sum(p.read for p in parts),
                    projects=projects[~dup].reset_index(drop=True),
                    partners=partners[partners["project_id"].isin(keep_ids)].reset_index(drop=True),
                    quarantine=pd.concat(problems, ignore_index=True),
                    quarantined_rows=pd.concat(q_rows, ignore_index=True),
                    city_types=parts[0].city_types, district_levels=levels)
