"""District views for the 04_district notebook: select a district, set it beside the city.

Kept apart from the notebook so that the notebook stays thin and the logic is tested. When the
design-based estimation engine lands, :func:`district_comparison` takes its weighted shares
through the ``weights`` argument (the ``n`` columns stay unweighted counts, which is what
disclosure control needs).
"""

from __future__ import annotations

import pandas as pd

from kyodo_analysis.codebook import Question
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions
from kyodo_analysis.viz.tables import format_percent, single_tabulation

__all__ = [
    "DISTRICT_COLUMNS",
    "comparison_chart",
    "district_comparison",
    "district_mask",
    "small_base_note",
]

#: Which data column identifies each district level (the codebook gives the code → name map).
DISTRICT_COLUMNS = {"中学校区": "stratum", "小学校区": "f3"}


def district_mask(data: pd.DataFrame, study, *, level: str, district: str) -> pd.Series:
    """Rows of ``data`` living in ``district`` at ``level`` (中学校区 or 小学校区).

    中学校区 come from the register (``stratum``, the sampling stratum) and are known for every
    respondent; 小学校区 are self-reported (``f3``), so respondents who left it blank (99) belong
    to no 小学校区.

    Raises
    ------
    ConfigError
        For an unknown level or a district name the codebook does not know.
    """
    if level not in DISTRICT_COLUMNS:
        raise ConfigError(f"level must be one of {list(DISTRICT_COLUMNS)}, not {level!r}",
                          key="level")
    column = DISTRICT_COLUMNS[level]
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
    here = single_tabulation(data[mask.to_numpy()], question, weights=weights, options=options)
    city = single_tabulation(data, question, weights=weights, options=options)
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
