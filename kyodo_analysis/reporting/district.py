"""District views for the 04_district notebook: select a district, set it beside the city.

Kept apart from the notebook so that the notebook stays thin and the logic is tested. District
levels and their data columns come from the study (``districts`` in study.yaml).
:func:`district_comparison` takes weighted shares through the ``weights`` argument (the ``n``
columns stay unweighted counts, which is what disclosure control needs).
"""

from __future__ import annotations

import pandas as pd

from kyodo_analysis.codebook import Question
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions
from kyodo_analysis.viz.tables import format_percent, single_tabulation

__all__ = [
    "comparison_chart",
    "covers_everyone",
    "crosstab_percentages",
    "district_comparison",
    "district_crosstab",
    "district_mask",
    "linked_suppression",
    "publish_district_crosstab",
    "publish_district_table",
    "small_base_note",
]

def district_mask(data: pd.DataFrame, study, *, level: str, district: str) -> pd.Series:
    """Rows of ``data`` living in ``district`` at ``level`` (a district level of the study).

    A level from the register (e.g. the sampling stratum) is known for every respondent; a
    self-reported level is not, so respondents who left it blank belong to no district.

    Raises
    ------
    ConfigError
        For an unknown level or a district name the codebook does not know.
    """
    column = study.district_level(level).column
    codes = {label: code for code, label in study.codebook[column].codes.items()}
    if district not in codes:
        raise ConfigError(f"unknown {level} {district!r}; the codebook has {list(codes)}",
                          key="district")
    return (data[column] == codes[district]).fillna(False).astype(bool)


def district_comparison(data: pd.DataFrame, question: Question, mask: pd.Series, *,
                        weights: str | None = None,
                        options: DisplayOptions = DEFAULT_OPTIONS) -> tuple[pd.DataFrame, dict]:
    """The district's single tabulation beside the city's: 回答, 地区 n, 地区 %, 市全体 n, 市全体 %.

    Returns
    -------
    (DataFrame, dict)
        The publication table (last row 「回答者数（n）」 holds the bases) and facts about it:
        ``base`` (district n), ``city_base``, ``multiple`` and ``small`` (base under
        ``options.small_base``: show as 参考値).
    """
    here = single_tabulation(data[mask.to_numpy()], question, weights=weights)
    city = single_tabulation(data, question, weights=weights)
    multiple = bool(question.is_multiple)

    def pct(values: pd.Series) -> list[str]:
        return [format_percent(v, options) for v in values]

    table = pd.DataFrame({"回答": here["label"], "地区 n": here["n"].astype(int),
                          "地区 %": pct(here["percent"]), "市全体 n": city["n"].astype(int),
                          "市全体 %": pct(city["percent"])})
    total = "-" if multiple else format_percent(100.0, options)
    table.loc[len(table)] = ["回答者数（n）", here.attrs["base"], total if here.attrs["base"] else "-",
                             city.attrs["base"], total]
    facts = {"base": int(here.attrs["base"]), "city_base": int(city.attrs["base"]),
             "multiple": multiple, "small": here.attrs["base"] < options.small_base}
    return table, facts


def small_base_note(base: int, *, options: DisplayOptions = DEFAULT_OPTIONS) -> str | None:
    """The 参考値 caution for a base under ``options.small_base``, else ``None``."""
    if base < options.small_base:
        return (f"※回答者数が{options.small_base}人未満（n={base}）のため、割合は参考値です。")
    return None


def comparison_chart(shown: pd.DataFrame, *, title: str = "", district: str = "地区"):
    """Grouped bars of a *protected* comparison table: the district beside the city.

    Draws only what the table publishes: a suppressed share (「x」) gets no bar, just an
    「x」 mark, so the figure cannot reveal what the table hides. Returns the ``Figure``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    body = shown[shown["回答"] != "回答者数（n）"]
    here = pd.to_numeric(body["地区 %"], errors="coerce").to_numpy(dtype=float)
    city = pd.to_numeric(body["市全体 %"], errors="coerce").to_numpy(dtype=float)
    y = np.arange(len(body))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.45 * len(body)))
    ax.barh(y + 0.2, np.nan_to_num(here), height=0.4, label=district)
    ax.barh(y - 0.2, np.nan_to_num(city), height=0.4, label="市全体")
    for yi, v in zip(y, here, strict=True):
        if np.isnan(v):
            ax.text(0.5, yi + 0.2, "x", va="center", fontsize=9)
    ax.set_yticks(y, [str(v) for v in body["回答"]])
    ax.set_xlabel("%")
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(loc="lower right", frameon=False)
    return fig


def district_crosstab(data: pd.DataFrame, study, question: Question, *, level: str) -> pd.DataFrame:
    """Counts of one question by district: 地区 × answers, with 計 and 合計.

    Rows are the districts of ``level`` in study.yaml order plus a 合計 row; columns are the
    answers (無回答 included), then 計 (the district's base). Respondents without a district
    at this level (小学校区 left blank) are in no row, so 合計 is the sum of the rows shown.
    For a single-answer question the table adds up both ways (protect it with
    ``total_column="計"``); for a multiple-response question only down the columns.
    """
    names = study.districts(level)
    labels: list[str] | None = None
    rows = []
    for name in names:
        t = single_tabulation(data[district_mask(data, study, level=level, district=name).to_numpy()],
                              question)
        labels = labels or [str(v) for v in t["label"]]
        rows.append([name, *t["n"].astype(int).tolist(), int(t.attrs["base"])])
    table = pd.DataFrame(rows, columns=["地区", *(labels or []), "計"])
    total = ["合計", *table.iloc[:, 1:].sum().astype(int).tolist()]
    table.loc[len(table)] = total
    return table


def crosstab_percentages(shown: pd.DataFrame, *, label_column: str = "地区", total_column: str = "計",
                         options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """Row percentages of a *protected* crosstab; a suppressed count stays 「x」.

    Computed from the published counts only, so it reveals nothing the counts table hides.
    """
    out = pd.DataFrame({label_column: shown[label_column]})
    for col in shown.columns:
        if col in (label_column, total_column):
            continue
        values = []
        for v, base in zip(shown[col], shown[total_column], strict=True):
            if isinstance(v, str) or isinstance(base, str) or not base:
                values.append("x" if isinstance(v, str) or isinstance(base, str) else "-")
            else:
                values.append(format_percent(100 * v / base, options))
        out[col] = values
    out["回答者数（n）"] = shown[total_column]
    return out


def linked_suppression(data: pd.DataFrame, study, question: Question, *, level: str,
                       district: str, column: str = "地区 n") -> list[tuple[str, str]]:
    """Cells of ``district``'s page that the level's district × answer table suppresses.

    Each 04_district page shows one district beside the city. Put side by side, the pages of
    one level form the district × answer table, whose columns add up to the city figures (for
    中学校区 exactly). Suppressing on each page alone could leave a single hidden district in a
    row and the city total would give it away, so every page takes its pattern from the
    protected level table. Returns ``(answer label, column)`` pairs for ``also_suppress``.
    """
    from kyodo_analysis.evaluation.disclosure import protect_table

    table = district_crosstab(data, study, question, level=level)
    counts = [c for c in table.columns if c != "地区"]
    protected = protect_table(table, threshold=study.suppression_threshold, count_columns=counts,
                              derived={}, label_column="地区",
                              total_column=None if question.is_multiple else "計")
    row = protected.table[protected.table["地区"] == district]
    if row.empty:
        raise ConfigError(f"{district!r} is not a {level} of the study", key="district")
    return [(label, column) for label in counts[:-1]
            if isinstance(row.iloc[0][label], str) and row.iloc[0][label] == "x"]


def publish_district_table(data: pd.DataFrame, study, question: Question, mask: pd.Series, *,
                           level: str, district: str, output_dir, weights: str | None = None,
                           options: DisplayOptions = DEFAULT_OPTIONS
                           ) -> tuple[pd.DataFrame, dict, str | None]:
    """The 04_district table of one question, disclosure-controlled and published.

    Returns ``(table as shown, facts from district_comparison, 参考値 note or None)``.
    """
    from kyodo_analysis.reporting.publish import publish_table

    table, facts = district_comparison(data, question, mask, weights=weights, options=options)
    note = small_base_note(facts["base"], options=options)
    shown = publish_table(
        table, question.id, output_dir=output_dir, study=study,
        title=f"{district}（{level}）{question.id.upper()} {question.text}",
        count_columns=["地区 n", "市全体 n"], derived={"地区 %": "地区 n", "市全体 %": "市全体 n"},
        additive=not facts["multiple"],
        also_suppress=linked_suppression(data, study, question, level=level, district=district),
        link={"group": f"{level}/{question.id}", "member": district, "column": "地区 n",
              "total_column": "市全体 n", "additive": covers_everyone(data, study, level=level)},
        notes=[note] if note else [])
    return shown, facts, note


def publish_district_crosstab(data: pd.DataFrame, study, question: Question, *, level: str,
                              output_dir, options: DisplayOptions = DEFAULT_OPTIONS
                              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 05_comparison table of one question at one level, protected and published.

    Returns ``(counts as shown, row percentages computed from them)``.
    """
    from kyodo_analysis.reporting.publish import publish_table

    table = district_crosstab(data, study, question, level=level)
    counts = [c for c in table.columns if c != "地区"]
    tag = f"l{[lv.name for lv in study.district_levels].index(level) + 1}"
    shown = publish_table(
        table, f"{question.id}_{tag}", output_dir=output_dir, study=study,
        title=f"{level}別 {question.id.upper()} {question.text}", count_columns=counts,
        derived={}, label_column="地区", total_column=None if question.is_multiple else "計")
    return shown, crosstab_percentages(shown, options=options)


def covers_everyone(data: pd.DataFrame, study, *, level: str) -> bool:
    """Whether the study's districts of ``level`` together hold every respondent.

    Only then do the district pages add up to the city figures (a level from the register
    does; a self-reported level does not while some respondents leave it blank, nor does a
    level with pages for only some of its districts).
    """
    names = study.districts(level)
    if {d for lv, d in study.district_units() if lv == level} != set(names):
        return False  # pages for only some districts: the pages do not add up to the city
    covered = pd.Series(False, index=data.index)
    for name in names:
        covered |= district_mask(data, study, level=level, district=name)
    return bool(covered.all())
