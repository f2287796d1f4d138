"""属性別クロス集計: every question by a district level or an attribute, from the design.

A table has one row per group (and 全体 first): its unweighted base (回答者数（n）) and the
weighted % of each answer (:func:`~kyodo_analysis.views.tables.tabulate`, the one tabulation
path). Groups are protected as groups (:func:`~kyodo_analysis.evaluation.disclosure.hidden_groups`):
a group under the study's minimum base, or one that differencing against an enclosing group
would reveal, is shown as 「x」 on every page and sheet alike (:func:`protected_groups` is the
one decision every view calls).

Each table carries a Rao–Scott test of independence (second-order F, R ``svychisq``) and marks
the cells that differ from the rest of the sample: group against the other respondents,
Wald test of the difference of two domain means (domains treated as independent samples),
Bonferroni-adjusted over the cells of the table at the 5% level (▲ higher, ▼ lower).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kyodo_analysis.codebook import Question
from kyodo_analysis.evaluation.disclosure import hidden_groups
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions
from kyodo_analysis.views.tables import (
    BASE_LABEL,
    _category_indicators,
    domain_codes,
    rounded,
    sensitive_cells,
    tabulate,
)

__all__ = [
    "CITY",
    "MARK_RULE",
    "Crosstab",
    "crosstab",
    "dimensions",
    "format_p",
    "group_parents",
    "protected_groups",
]

#: Name of the whole sample in tables and group records.
CITY = "全体"
MARK_RULE = ("▲▼は、その区分とそれ以外の回答者との差が統計的に有意（Bonferroni 補正後 5%水準、"
             "表内のセル数で補正）であることを示します（▲高い、▼低い）。")


def dimensions(study) -> list[tuple[str, str]]:
    """``(name, column)`` of every district level and attribute of the study, in study order."""
    out = [(lv.name, lv.column) for lv in study.district_levels]
    out += [(a.name, a.column) for a in study.attributes if a.name not in dict(out)]
    return out


def group_parents(study, dimension: str) -> tuple[str | None, dict[str, str | None]]:
    """The parent level of a district level and each district's parent (``within``)."""
    levels = {lv.name: lv for lv in study.district_levels}
    lv = levels.get(dimension)
    if lv is None or not lv.parent:
        return None, {}
    return lv.parent, {d: study.parent_of(dimension, d) for d in study.districts(dimension)}


def _bases(design, study, question: Question, dimension: str) -> tuple[dict[str, int], int]:
    column = study.domain_column(dimension)
    applies = ~np.isnan(_category_indicators(design.data, question).to_numpy()[:, 0])
    groups = domain_codes(design.data, column, study.codebook)
    counts = groups[applies].value_counts()
    order = (study.districts(dimension) if dimension in {lv.name for lv in study.district_levels}
             else list(study.codebook[column].codes.values()))
    return {g: int(counts.get(g, 0)) for g in order}, int(applies.sum())


def protected_groups(design, study, question: Question, dimension: str, *,
                     options: DisplayOptions = DEFAULT_OPTIONS) -> set[str]:
    """The groups of ``dimension`` that no page or sheet shows for ``question``.

    Under the minimum base, or recoverable by differencing: the city minus the shown groups,
    and for a nested level each parent district (when the parent itself is shown) minus its
    shown children.
    """
    bases, city = _bases(design, study, question, dimension)
    partitions: list[tuple[int | None, list[str]]] = [(city, list(bases))]
    parent_level, parents = group_parents(study, dimension)
    if parent_level:
        parent_bases, _ = _bases(design, study, question, parent_level)
        parent_hidden = protected_groups(design, study, question, parent_level, options=options)
        for p in dict.fromkeys(v for v in parents.values() if v):
            children = [c for c, q in parents.items() if q == p]
            partitions.append((None if p in parent_hidden else parent_bases.get(p), children))
    present = {g: n for g, n in bases.items() if n > 0}
    return hidden_groups(present, min_base=options.min_base, partitions=partitions)


@dataclass(frozen=True)
class Crosstab:
    """One protected cross-tabulation, ready to publish."""

    table: pd.DataFrame          # 区分, 回答者数（n）, one % column per answer ("x": hidden)
    marks: pd.DataFrame          # same shape: "▲", "▼" or ""
    test: dict                   # statistic, ndf, ddf, p_value (Rao–Scott F); {} if none
    groups: list[dict]           # group records for the audit (dimension, group, parent, row)
    question: Question
    dimension: str


def format_p(p: float | None) -> str:
    """p-value in Japanese report style: 「p < 0.001」 or 「p = 0.034」."""
    if p is None or not np.isfinite(p):
        return "-"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _test(design, question: Question, column: str) -> dict:
    if question.is_multiple:
        return {}
    try:
        res = design.assign(_row=design.data[question.id].where(
            design.data[question.id].isin(list(question.codes))).astype("float"),
            _col=design.data[column].where(design.data[column].isin(
                list(design.data[column].dropna().unique()))).astype("float")
        ).crosstab("_row", "_col", statistic="F")
        t = res.test.iloc[0]
        return {"statistic": float(t["statistic"]), "ndf": float(t.get("ndf", np.nan)),
                "ddf": float(t.get("ddf", np.nan)), "p_value": float(t["p_value"])}
    except Exception:  # a degenerate table (one answer, one group): no test
        return {}


def crosstab(design, study, question: Question, dimension: str, *,
             options: DisplayOptions = DEFAULT_OPTIONS, marks: bool = True) -> Crosstab:
    """Question × groups of ``dimension`` (a district level or attribute of the study)."""
    from kyodo_analysis.stats import compare_independent

    column = study.domain_column(dimension)
    cb = study.codebook
    whole = tabulate(design, question, options=options)
    by = tabulate(design, question, by=column, codebook=cb, options=options)
    hidden = protected_groups(design, study, question, dimension, options=options)
    labels = [str(v) for v in whole["label"]]
    bases, _ = _bases(design, study, question, dimension)
    rows, mark_rows, group_recs = [], [], []
    def cells(part: pd.DataFrame) -> list:
        values = [rounded(v, options) for v in part["percent"]]
        if question.sensitive:
            for j in sensitive_cells(part["n"].astype(int).tolist(),
                                     threshold=options.suppression_threshold,
                                     additive=not question.is_multiple):
                values[j] = "x"
        return values

    rows.append([CITY, int(whole.attrs["base"]), *cells(whole)])
    mark_rows.append([""] * (len(labels) + 2))
    parent_level, parents = group_parents(study, dimension)
    group_recs.append({"dimension": "", "group": "市全体", "parent_dimension": None,
                       "parent": None, "row": 0})
    groups = [g for g, n in bases.items() if n > 0]
    n_cells = max(1, len(groups) * len(labels))
    data = design.data
    gcol = domain_codes(data, column, cb)
    indicators = _category_indicators(data, question) if marks and len(groups) > 1 else None
    for g in groups:
        i = len(rows)
        group_recs.append({"dimension": dimension, "group": g,
                           "parent_dimension": parent_level if parents.get(g) else None,
                           "parent": parents.get(g), "row": i})
        if g in hidden:
            rows.append([g, "x", *["x"] * len(labels)])
            mark_rows.append([""] * (len(labels) + 2))
            continue
        part = by[by["group"] == g]
        rows.append([g, int(part["base"].iloc[0]), *cells(part)])
        m = [""] * (len(labels) + 2)
        if indicators is not None:
            inside = (gcol == g).map({True: "in", False: "out"})
            est = design.assign(**dict(indicators), _in=inside).multi_response(
                list(indicators.columns), by="_in")
            a = est[est["_in"] == "in"].reset_index(drop=True)[["estimate", "se", "df"]]
            b = est[est["_in"] == "out"].reset_index(drop=True)[["estimate", "se", "df"]]
            if len(a) == len(b) == len(labels):
                diff = compare_independent(a, b)
                for j, (d, p) in enumerate(zip(diff["estimate"], diff["p_value"], strict=True)):
                    if np.isfinite(p) and p * n_cells < 0.05 and rows[-1][j + 2] != "x":
                        m[j + 2] = "▲" if d > 0 else "▼"
        mark_rows.append(m)
    columns = ["区分", BASE_LABEL, *labels]
    table = pd.DataFrame(rows, columns=columns, dtype=object)
    return Crosstab(table, pd.DataFrame(mark_rows, columns=columns), _test(design, question, column),
                    group_recs, question, dimension)
