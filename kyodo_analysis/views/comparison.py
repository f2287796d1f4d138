"""Comparisons: a district beside the city (04_district) and 経年比較, this wave against the
previous and the baseline wave (05_comparison), both from the design.

Every share comes from :func:`~kyodo_analysis.views.tables.tabulate` (the one tabulation path),
so a district's % on its page is the same number as in the cross-tabulation by district.
Wave differences are differences of two independent samples
(:func:`~kyodo_analysis.stats.compare_independent`: ``se = sqrt(se_a^2 + se_b^2)``, Wald z
test) in ポイント.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kyodo_analysis.calendar import fiscal_year_label
from kyodo_analysis.codebook import Question
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions
from kyodo_analysis.views.crosstabs import CITY, group_parents, protected_groups
from kyodo_analysis.views.tables import (
    BASE_LABEL,
    ci_headers,
    rounded,
    sensitive_cells,
    tabulate,
)

__all__ = [
    "WAVE_MARK_RULE",
    "PageTable",
    "cell_key",
    "comparable_waves",
    "district_table",
    "tabulation_keys",
    "wave_table",
]


#: The multiplicity rule of 経年比較, stated under every table of 05_comparison.
WAVE_MARK_RULE = ("▲▼は、前回（または基準）の調査との差が統計的に有意であることを示します（▲増加、▼減少）。"
                  "p値はひとつの設問の選択肢をひとつの検定の族としてホルム法で調整した値で、5%水準で判定しています。"
                  "有意でない差は「変化なし」ではなく、標本誤差の範囲内で変化を判別できないことを意味します。")


def cell_key(question: str, dimension: str, group: str, answer: str, measure: str = "%") -> str:
    """What a published cell estimates: the key of the "same cell, same value" check."""
    return f"{question}|{dimension or '市全体'}|{group}|{answer}|{measure}"


@dataclass(frozen=True)
class PageTable:
    """A protected table with what its publication record needs."""

    table: pd.DataFrame
    groups: list[dict]
    keys: list[list]
    facts: dict


def tabulation_keys(question: Question, shown: pd.DataFrame, options: DisplayOptions
                    ) -> tuple[list[dict], list[list]]:
    """Group record and cell keys of a city-wide 単純集計 (tabulation_table layout)."""
    lo_h, hi_h = ci_headers(options)
    keys = []
    for i, label in enumerate(shown["回答"]):
        if label == BASE_LABEL:
            keys.append([i, "n", cell_key(question.id, "", CITY, "", "n")])
            continue
        keys.append([i, "%", cell_key(question.id, "", CITY, label)])
        if lo_h in shown:
            keys += [[i, lo_h, cell_key(question.id, "", CITY, label, "lo")],
                     [i, hi_h, cell_key(question.id, "", CITY, label, "hi")]]
    groups = [{"dimension": "", "group": "市全体", "parent_dimension": None, "parent": None,
               "row": len(shown) - 1, "column": "n", "axis": "column"}]
    return groups, keys


def district_table(design, study, question: Question, *, level: str, district: str,
                   options: DisplayOptions = DEFAULT_OPTIONS) -> PageTable:
    """One district beside the city: 回答, the district's % and interval, the city's % and
    interval; the last row holds both bases. A protected district shows 「x」 throughout."""
    from kyodo_analysis.errors import ConfigError

    column = study.district_level(level).column
    if district not in study.districts(level):
        raise ConfigError(f"unknown {level} {district!r}; the study has {study.districts(level)}",
                          key="district")
    city = tabulate(design, question, options=options)
    by = tabulate(design, question, by=column, codebook=study.codebook, options=options)
    here = by[by["group"] == district]
    hidden = district in protected_groups(design, study, question, level, options=options)
    lo_h, hi_h = ci_headers(options)
    d_pct, d_lo, d_hi = f"{district} %", f"{district} {lo_h}", f"{district} {hi_h}"
    c_pct, c_lo, c_hi = "市全体 %", f"市全体 {lo_h}", f"市全体 {hi_h}"
    rows, keys = [], []
    labels = [str(v) for v in city["label"]]
    hide_here: set[int] = set()
    hide_city: set[int] = set()
    if question.sensitive:
        def small(part):
            return sensitive_cells(part["n"].astype(int).tolist(),
                                   threshold=options.suppression_threshold,
                                   additive=not question.is_multiple)
        hide_city = small(city)
        hide_here = small(here) if not here.empty else set()
    for i, label in enumerate(labels):
        if hidden or here.empty:
            d = ["x", "x", "x"]
        else:
            r = here.iloc[i]
            d = [rounded(r["percent"], options), rounded(r["ci_low"], options),
                 rounded(r["ci_high"], options)]
        if i in hide_here:
            d = ["x", "x", "x"]
        c = city.iloc[i]
        cv = ([rounded(c["percent"], options), rounded(c["ci_low"], options),
               rounded(c["ci_high"], options)] if i not in hide_city else ["x", "x", "x"])
        rows.append([label, *d, *cv])
        keys += [[i, d_pct, cell_key(question.id, level, district, label)],
                 [i, d_lo, cell_key(question.id, level, district, label, "lo")],
                 [i, d_hi, cell_key(question.id, level, district, label, "hi")],
                 [i, c_pct, cell_key(question.id, "", CITY, label)],
                 [i, c_lo, cell_key(question.id, "", CITY, label, "lo")],
                 [i, c_hi, cell_key(question.id, "", CITY, label, "hi")]]
    base = 0 if here.empty else int(here["base"].iloc[0])
    n = len(rows)
    rows.append([BASE_LABEL, "x" if hidden else base, "x" if hidden else None,
                 "x" if hidden else None, int(city.attrs["base"]), None, None])
    keys += [[n, d_pct, cell_key(question.id, level, district, "", "n")],
             [n, c_pct, cell_key(question.id, "", CITY, "", "n")]]
    table = pd.DataFrame(rows, columns=["回答", d_pct, d_lo, d_hi, c_pct, c_lo, c_hi], dtype=object)
    parent_level, parents = group_parents(study, level)
    groups = [{"dimension": level, "group": district, "parent_dimension":
               parent_level if parents.get(district) else None, "parent": parents.get(district),
               "row": n, "column": d_pct, "axis": "column"},
              {"dimension": "", "group": "市全体", "parent_dimension": None, "parent": None,
               "row": n, "column": c_pct, "axis": "column"}]
    zero = any(isinstance(r[k], float) and r[k] == r[k + 1] for r in rows[:-1] for k in (2, 5))
    facts = {"base": base, "hidden": hidden, "city_base": int(city.attrs["base"]),
             "zero_width": zero,
             "multiple": question.is_multiple, "small": (not hidden) and base < options.small_base}
    return PageTable(table, groups, keys, facts)


def comparable_waves(study, question: Question, fiscal_year: int) -> tuple[list[int], str | None]:
    """Waves this question can be compared over (asked, and since ``comparable_from``), and a
    note when earlier waves are excluded because the wording or categories changed."""
    waves = [fy for fy in study.fiscal_years if fy <= fiscal_year
             and (not getattr(question, "waves", None) or fy in question.waves)]
    start = getattr(question, "comparable_from", None)
    note = None
    if start and any(fy < start for fy in waves):
        note = (f"{fiscal_year_label(start)}に設問の文言または選択肢を変更したため、"
                "それ以前の調査とは比較していません。")
        waves = [fy for fy in waves if fy >= start]
    return waves, note


def wave_table(study, question: Question, fiscal_year: int, *, designs: dict,
               options: DisplayOptions = DEFAULT_OPTIONS) -> tuple[pd.DataFrame, list[list], pd.DataFrame]:
    """経年比較 of one question: this wave against the previous and the baseline (first
    comparable) wave. Returns the publication table (one row per answer: this wave's %, the
    other wave's %, difference in ポイント with its interval, its p value adjusted by Holm over
    the answers of the table (one family per question and comparison; :data:`WAVE_MARK_RULE`)
    and ▲▼ where the adjusted p is under ``1 - level``, for each comparison), its cell keys,
    and the long series of every comparable wave (for the chart).
    """
    from kyodo_analysis.evaluation.grading import adjust_p
    from kyodo_analysis.stats import compare_independent

    waves, _ = comparable_waves(study, question, fiscal_year)
    tabs = {fy: tabulate(designs[fy], question, options=options) for fy in waves}
    now = tabs[fiscal_year]
    labels = [str(v) for v in now["label"]]
    columns = ["回答", f"{fiscal_year_label(fiscal_year, style='era')} %"]
    hide: set[int] = set()
    if question.sensitive:  # a cell small in any compared wave is hidden in all of them
        for t in tabs.values():
            hide |= sensitive_cells(t["n"].astype(int).tolist(),
                                    threshold=options.suppression_threshold,
                                    additive=not question.is_multiple)

    def shown(values) -> list:
        return ["x" if i in hide else rounded(v, options) for i, v in enumerate(values)]

    data = {"回答": labels, columns[1]: shown(now["percent"])}
    keys = [[i, columns[1], cell_key(question.id, "", CITY, label)] for i, label in enumerate(labels)]
    others = []
    prev = [fy for fy in waves if fy < fiscal_year]
    if prev:
        others.append(("前回", prev[-1]))
        if prev[0] != prev[-1]:
            others.append(("基準", prev[0]))
    for tag, fy in others:
        old = tabs[fy]
        diff = compare_independent(pd.DataFrame({"estimate": now["percent"], "se": now["se"]}),
                                   pd.DataFrame({"estimate": old["percent"], "se": old["se"]}),
                                   level=options.level)
        era = fiscal_year_label(fy, style="era")
        pc = f"{tag}（{era}）%"
        data[pc] = shown(old["percent"])
        data[f"{tag}との差（ポイント）"] = shown(diff["estimate"])
        data[f"{tag}との差 下限"] = shown(diff["ci_low"])
        data[f"{tag}との差 上限"] = shown(diff["ci_high"])
        # one family per question and comparison: the answers of this table (Holm)
        p_adj = adjust_p(diff["p_value"].to_numpy(dtype=float), "holm")
        data[f"{tag}との差 p値（Holm調整後）"] = [
            "x" if i in hide else None if not np.isfinite(p) else float(f"{p:.4g}")
            for i, p in enumerate(p_adj)]
        data[f"{tag}との差 判定"] = [
            "x" if i in hide else "" if not (np.isfinite(p) and p < 1 - options.level)
            else "▲" if d > 0 else "▼" for i, (p, d) in enumerate(zip(p_adj, diff["estimate"],
                                                                      strict=True))]
        keys += [[i, pc, f"{question.id}|FY{fy}|{CITY}|{label}|%"] for i, label in enumerate(labels)]
    series = pd.concat([t.assign(fiscal_year=fy) for fy, t in tabs.items()], ignore_index=True)
    series = series[~series["label"].isin([labels[i] for i in hide])]  # charts show no hidden cell
    return pd.DataFrame(data, dtype=object), keys, series
