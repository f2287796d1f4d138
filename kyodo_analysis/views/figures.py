"""Figures with Japanese labels, in one house style.

Call :func:`use_style` once (notebooks do it in their first code cell); importing this module
changes nothing. The Japanese font is IPAexGothic, bundled by ``matplotlib-fontja``, so labels
render on any machine without system fonts.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = [
    "GRADE_COLOURS",
    "PALETTE",
    "achievement_chart",
    "bar_chart",
    "comparison_bars",
    "district_chart",
    "indicator_trend_chart",
    "likert_chart",
    "logic_model_chart",
    "output_outcome_chart",
    "use_style",
    "wave_chart",
]

#: Categorical palette (colour-blind safe, Okabe–Ito order).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]
#: Diverging palette for five-level scales, positive to negative; 無回答 in grey.
DIVERGING5 = ["#2166AC", "#92C5DE", "#E0E0E0", "#F4A582", "#B2182B"]


def use_style(options: DisplayOptions = DEFAULT_OPTIONS) -> None:
    """Register the bundled Japanese font and set the house rcParams."""
    import matplotlib as mpl
    import matplotlib_fontja

    matplotlib_fontja.japanize()
    mpl.rcParams.update({
        "font.family": options.font_family,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "x",
        "grid.alpha": 0.3,
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "figure.figsize": (7.5, 4.0),
    })


def _wrap(label: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(str(label), width)) or str(label)


def bar_chart(table: pd.DataFrame, *, title: str | None = None, ax=None, err=None,
              options: DisplayOptions = DEFAULT_OPTIONS):
    """Horizontal bars of a tabulation's ``percent`` by ``label``, largest answers on top.

    ``err`` optionally gives (lower, upper) CI bounds per row, drawn as whiskers.
    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(7.5, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    pct = table["percent"].to_numpy(dtype=float)
    xerr = None
    if err is not None:
        lo, hi = (np.asarray(e, dtype=float) for e in err)
        xerr = np.vstack([pct - lo, hi - pct])
    ax.barh(y, pct, color=PALETTE[0], xerr=xerr, capsize=3 if xerr is not None else 0)
    ends = pct if xerr is None else np.fmax(pct, np.asarray(err[1], dtype=float))
    for yi, v, end in zip(y, pct, ends, strict=True):
        if not np.isnan(v):  # right of the whisker's cap, so the whisker never crosses it
            ax.text(end + 1.2, yi, f"{v:.{options.decimals}f}%", va="center", fontsize=9)
    ax.set_yticks(y, [_wrap(label) for label in table["label"]])
    ax.set_xlim(0, max(100.0, float(np.nanmax(pct)) * 1.15) if len(pct) else 100)
    ax.set_xlabel("%")
    base = table.attrs.get("base")
    heading = title or _wrap(table.attrs.get("text", ""), 40)
    ax.set_title(f"{heading}（n={base:,}）" if base is not None else heading, loc="left",
                 fontsize=11)
    fig.tight_layout()
    return fig


def likert_chart(tables: dict[str, pd.DataFrame], *, title: str = "",
                 options: DisplayOptions = DEFAULT_OPTIONS):
    """Stacked 100% bars for several items on the same five-level scale (one bar per item).

    ``tables`` maps an item label to its tabulation (same codes in the same order). The
    categories run from the positive end on the left; 無回答 is drawn last in grey.
    """
    import matplotlib.pyplot as plt

    labels = list(tables)
    first = next(iter(tables.values()))
    cats = list(first["label"])
    colours = [*DIVERGING5[: len(cats) - 1], "#BDBDBD"]
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(labels) + 1.6))
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for j, cat in enumerate(cats):
        vals = np.array([tables[k]["percent"].iloc[j] for k in labels], dtype=float)
        ax.barh(y, vals, left=left, color=colours[j % len(colours)], label=cat,
                edgecolor="white", linewidth=0.5)
        for yi, lft, v in zip(y, left, vals, strict=True):
            if v >= 6:
                ax.text(lft + v / 2, yi, f"{v:.{options.decimals}f}", ha="center", va="center",
                        fontsize=8)
        left += vals
    ax.set_yticks(y, [_wrap(k, 22) for k in labels])
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.grid(False)
    ax.legend(ncol=min(len(cats), 6), loc="upper center", bbox_to_anchor=(0.5, -0.18),
              frameon=False, fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------ plan indicators

#: Colours of the grades S/A/B/C/D and 評価不能.
GRADE_COLOURS = {"S": "#0072B2", "A": "#56B4E9", "B": "#009E73", "C": "#999999",
                 "D": "#D55E00", "H": "#E69F00", "-": "#DDDDDD"}


def _value_label(unit: str) -> str:
    return "割合（%）" if unit == "%" else f"実数（{unit}）"


def indicator_trend_chart(history: pd.DataFrame, indicator, *, forecasts: pd.DataFrame | None
                          = None, ax=None, options: DisplayOptions = DEFAULT_OPTIONS):
    """One indicator over time: values (with the CI band for survey estimates), baseline,
    targets and the forecast with its prediction interval.

    Parameters
    ----------
    history
        Rows of :func:`~kyodo_analysis.evaluation.indicators.indicator_history` for the
        indicator (``fiscal_year, estimate, ci_low, ci_high``; city level).
    indicator
        The :class:`~kyodo_analysis.evaluation.indicators.Indicator` (name, unit, baseline,
        targets).
    forecasts
        Rows of ``IndicatorTrends.forecasts`` for the indicator (``target_year, estimate,
        pi_low, pi_high, status_label``), drawn dashed from the latest value.

    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7.5, 4.0))
    h = history.sort_values("fiscal_year")
    x = h["fiscal_year"].to_numpy(dtype=float)
    y = h["estimate"].to_numpy(dtype=float)
    if h["ci_low"].notna().any():
        ax.fill_between(x, h["ci_low"].to_numpy(dtype=float), h["ci_high"].to_numpy(dtype=float),
                        color=PALETTE[0], alpha=0.18, linewidth=0, label="95%信頼区間")
    ax.plot(x, y, marker="o", color=PALETTE[0], label="実績値")
    b = indicator.baseline
    ax.axhline(b.value, color="#666666", linestyle=":", linewidth=1)
    ax.plot([b.fiscal_year], [b.value], marker="s", mfc="white", color="#666666",
            linestyle="none", label=f"基準値（{b.fiscal_year}年度）")
    for year, value in indicator.targets:
        ax.plot([year], [value], marker="*", markersize=13, color=PALETTE[1], linestyle="none")
        ax.annotate(f"目標 {value:g}", (year, value), textcoords="offset points",
                    xytext=(6, 4), fontsize=8, color=PALETTE[5])
    ax.plot([], [], marker="*", markersize=10, color=PALETTE[1], linestyle="none",
            label="目標値")
    if forecasts is not None and len(forecasts) and len(h):
        fc = forecasts.sort_values("target_year").dropna(subset=["estimate"])
        fx = np.concatenate([[x[-1]], fc["target_year"].to_numpy(dtype=float)])
        fy = np.concatenate([[y[-1]], fc["estimate"].to_numpy(dtype=float)])
        ax.plot(fx, fy, linestyle="--", color=PALETTE[2], label="予測（傾向の延長）")
        lo = fc["pi_low"].to_numpy(dtype=float)
        hi = fc["pi_high"].to_numpy(dtype=float)
        ax.errorbar(fc["target_year"], fc["estimate"], yerr=np.vstack([fc["estimate"] - lo,
                                                                      hi - fc["estimate"]]),
                    fmt="o", color=PALETTE[2], capsize=4, label="95%予測区間")
        for _, r in fc.iterrows():
            if "status_label" in r and isinstance(r["status_label"], str):
                ax.annotate(r["status_label"], (r["target_year"], r["pi_high"]),
                            textcoords="offset points", xytext=(0, 4), ha="center",
                            fontsize=9, color=PALETTE[2])
    ax.set_title(f"{indicator.id} {indicator.name}", loc="left", fontsize=11)
    ax.set_xlabel("年度")
    ax.set_ylabel(_value_label(indicator.unit))
    ax.grid(True, axis="y", alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, frameon=False, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def achievement_chart(results: pd.DataFrame, *, title: str = "",
                      options: DisplayOptions = DEFAULT_OPTIONS):
    """Achievement rate (%) of each indicator, bars coloured by grade, grouped by policy.

    ``results`` is the city-level output of
    :func:`~kyodo_analysis.evaluation.indicators.compute_indicators`. ``＊`` after a label
    marks a survey indicator whose change since the baseline is significant. Rates are
    clipped at -50% and 200% for display (the label shows the true rate).
    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from kyodo_analysis.evaluation.grading import GRADE_LABELS

    r = results.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(r) + 1.6))
    y = np.arange(len(r))[::-1]
    rate = 100 * r["achievement_rate"].to_numpy(dtype=float)
    shown = np.clip(np.nan_to_num(rate), -50, 200)
    ax.barh(y, shown, color=[GRADE_COLOURS.get(g, "#DDDDDD") for g in r["grade"]])
    for yi, v, s, g in zip(y, rate, shown, r["grade"], strict=True):
        text = "-" if np.isnan(v) else f"{v:.0f}%"
        ax.text(max(s, 0) + 3, yi, f"{text} {g}", va="center", fontsize=8)
    labels = []
    for _, row in r.iterrows():
        sig = row["change_baseline_significant"]
        mark = "＊" if (sig is not pd.NA and not pd.isna(sig) and bool(sig)) else ""
        labels.append(f"{row['indicator_id']} {_wrap(row['name'], 20)}{mark}")
    ax.set_yticks(y, labels, fontsize=8)
    for ref in (0, 80, 100):
        ax.axvline(ref, color="#444444" if ref == 0 else "#999999",
                   linestyle="-" if ref == 0 else "--", linewidth=0.8)
    ax.set_xlim(-55, 235)
    ax.set_xlabel("達成率（%）＝（実績値−基準値）÷（目標値−基準値）")
    ax.grid(False)
    handles = [Patch(color=GRADE_COLOURS[g], label=f"{g} {GRADE_LABELS[g][0]}")
               for g in ("S", "A", "B", "C", "D", "H")]
    ax.legend(handles=handles, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.12),
              frameon=False, fontsize=8)
    ax.set_title(title or "指標の達成率と評価（＊：基準値から統計的に有意な変化）", loc="left",
                 fontsize=11)
    fig.tight_layout()
    return fig


def district_chart(results: pd.DataFrame, indicator_id: str, *, city: float | None = None,
                   title: str | None = None, options: DisplayOptions = DEFAULT_OPTIONS):
    """Estimates of one survey indicator by domain with 95% CI whiskers.

    ``results`` is a domain table of
    :func:`~kyodo_analysis.evaluation.indicators.compute_indicators` (e.g.
    ``domain="中学校区"``); ``city`` draws the city-wide value as a vertical line. Domains
    with a base under ``options.small_base`` are labelled ``*`` (参考値).
    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    r = results[results["indicator_id"] == indicator_id].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(r) + 1.5))
    y = np.arange(len(r))[::-1]
    est = r["estimate"].to_numpy(dtype=float)
    lo = r["ci_low"].to_numpy(dtype=float)
    hi = r["ci_high"].to_numpy(dtype=float)
    ax.errorbar(est, y, xerr=np.vstack([est - lo, hi - est]), fmt="o", color=PALETTE[0],
                capsize=3)
    for yi, v, h in zip(y, est, hi, strict=True):
        ax.text(h + 0.8, yi, f"{v:.{options.decimals}f}", va="center", fontsize=8)
    labels = [f"{d}（n={int(n):,}）{'*' if small else ''}" if pd.notna(n) else str(d)
              for d, n, small in zip(r["domain"], r["n"], r["small_base"], strict=True)]
    ax.set_yticks(y, labels, fontsize=9)
    if city is not None:
        ax.axvline(city, color=PALETTE[5], linestyle="--", linewidth=1,
                   label=f"市全体 {city:.{options.decimals}f}")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    unit = r["unit"].iloc[0] if len(r) else "%"
    ax.set_xlabel(_value_label(unit) + "　横線は95%信頼区間")
    name = r["name"].iloc[0] if len(r) else indicator_id
    kind = r["domain_type"].iloc[0] if len(r) else ""
    note = "　*は基数30未満（参考値）" if r["small_base"].any() else ""
    ax.set_title(title or f"{indicator_id} {name}（{kind}別）{note}", loc="left", fontsize=11)
    fig.tight_layout()
    return fig


def logic_model_chart(model: pd.DataFrame, history: pd.DataFrame, *,
                      options: DisplayOptions = DEFAULT_OPTIONS):
    """Per policy: output indicators (index, baseline year = 100) beside outcome indicators
    (survey % with 95% CI), one row of two panels per policy.

    ``model`` is :func:`~kyodo_analysis.evaluation.logic_model.logic_model`, ``history``
    :func:`~kyodo_analysis.evaluation.indicators.indicator_history` (city level).
    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    policies = list(dict.fromkeys(model["policy"]))
    fig, axes = plt.subplots(len(policies), 2, figsize=(10, 2.6 * len(policies) + 0.6),
                             squeeze=False)
    for row, pol in zip(axes, policies, strict=True):
        part = model[model["policy"] == pol]
        left, right = row
        name = part["policy_name"].iloc[0]
        for k, (_, ind) in enumerate(part[part["kind"] == "activity"].iterrows()):
            h = history[history["indicator_id"] == ind["indicator_id"]].sort_values("fiscal_year")
            base = h.loc[h["fiscal_year"] == h["fiscal_year"].min(), "estimate"]
            ref = ind["baseline"] if ind["baseline"] else float(base.iloc[0])
            left.plot(h["fiscal_year"], 100 * h["estimate"] / ref, marker=".",
                      color=PALETTE[k % len(PALETTE)],
                      label=f"{ind['indicator_id']} {_wrap(ind['name'], 14)}")
        left.axhline(100, color="#999999", linewidth=0.8, linestyle=":")
        left.set_title(f"{pol} {name}：産出（基準値=100）", loc="left", fontsize=9)
        for k, (_, ind) in enumerate(part[part["kind"] == "survey"].iterrows()):
            h = history[history["indicator_id"] == ind["indicator_id"]].sort_values("fiscal_year")
            c = PALETTE[(k + 2) % len(PALETTE)]
            right.errorbar(h["fiscal_year"], h["estimate"],
                           yerr=np.vstack([h["estimate"] - h["ci_low"],
                                           h["ci_high"] - h["estimate"]]),
                           marker="o", capsize=2, color=c,
                           label=f"{ind['indicator_id']} {_wrap(ind['name'], 14)}")
        right.set_title(f"{pol} {name}：成果（%・95%信頼区間）", loc="left", fontsize=9)
        for a in row:
            a.grid(True, axis="y", alpha=0.3)
            a.xaxis.get_major_locator().set_params(integer=True)
            if a.get_legend_handles_labels()[0]:
                a.legend(fontsize=7, frameon=False, loc="best")
            else:
                a.text(0.5, 0.5, "該当する指標なし", ha="center", va="center",
                       transform=a.transAxes, fontsize=9, color="#777777")
    for a in axes[-1]:
        a.set_xlabel("年度")
    fig.tight_layout()
    return fig


def output_outcome_chart(table: pd.DataFrame, *, options: DisplayOptions = DEFAULT_OPTIONS):
    """Output growth (x, ratio to the baseline year) against the outcome's change (y, points
    with 95% CI whiskers), one point per domain, from
    :func:`~kyodo_analysis.evaluation.logic_model.output_outcome_by_domain`.
    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    x = table["output_ratio"].to_numpy(dtype=float)
    y = table["outcome_change"].to_numpy(dtype=float)
    err = np.vstack([y - table["outcome_change_low"].to_numpy(dtype=float),
                     table["outcome_change_high"].to_numpy(dtype=float) - y])
    ax.errorbar(x, y, yerr=err, fmt="o", color=PALETTE[0], capsize=3)
    for xi, yi, d in zip(x, y, table["domain"], strict=True):
        ax.annotate(str(d), (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.axhline(0, color="#999999", linewidth=0.8)
    a = table.attrs
    ax.set_xlabel(f"{a.get('output_name', '産出')}（{a.get('reference', '基準年度')}比、倍）")
    ax.set_ylabel(f"{_wrap(a.get('outcome_name', '成果'), 16)}\n基準年度からの変化（ポイント）")
    rho = a.get("spearman")
    note = f"　順位相関 {rho:.2f}" if rho is not None and rho == rho else ""
    ax.set_title(f"産出の伸びと成果の変化（地区別）{note}", loc="left", fontsize=11)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ views of published tables

def comparison_bars(shown: pd.DataFrame, *, district: str, title: str = ""):
    """Grouped bars of a *published* district table (:func:`views.comparison.district_table`):
    the district beside the city. A hidden district (「x」) gets no bars, only a sentence, so
    the figure shows nothing the table hides. Value labels sit right of the bar end; the
    legend sits below the axes, where it covers no bar."""
    import matplotlib.pyplot as plt

    body = shown[shown["回答"] != "回答者数（n）"]
    here = pd.to_numeric(body[f"{district} %"], errors="coerce").to_numpy(dtype=float)
    city = pd.to_numeric(body["市全体 %"], errors="coerce").to_numpy(dtype=float)
    y = np.arange(len(body))[::-1]
    if np.isnan(here).all():
        fig, ax = plt.subplots(figsize=(7.5, 0.6))
        ax.text(0.5, 0.5, f"{district}は個人の回答が推測されないよう秘匿しています（表のx）", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.5 * len(body)))
    ax.barh(y + 0.2, np.nan_to_num(here), height=0.4, label=district, color=PALETTE[0])
    ax.barh(y - 0.2, np.nan_to_num(city), height=0.4, label="市全体", color=PALETTE[7])
    for yi, v in zip(y, here, strict=True):
        ax.text(v + 0.8, yi + 0.2, f"{v:.1f}", va="center", fontsize=8)
    for yi, v in zip(y, city, strict=True):
        ax.text(v + 0.8, yi - 0.2, f"{v:.1f}", va="center", fontsize=8)
    ax.set_yticks(y, [_wrap(str(v)) for v in body["回答"]])
    ax.set_xlim(0, max(100.0, float(np.nanmax([*here, *city])) * 1.15))
    ax.set_xlabel("%")
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def wave_chart(series: pd.DataFrame, *, title: str = ""):
    """Lines over every comparable wave, one per answer, with the interval as a band; the
    x axis in 令和 with the western year (「R7\\n(2025)」)."""
    import matplotlib.pyplot as plt

    from kyodo_analysis.calendar import era_year

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    years = sorted(series["fiscal_year"].unique())
    for k, (label, part) in enumerate(series.groupby("label", sort=False)):
        part = part.sort_values("fiscal_year")
        colour = PALETTE[k % len(PALETTE)]
        ax.plot(part["fiscal_year"], part["percent"], marker="o", color=colour, label=str(label))
        ax.fill_between(part["fiscal_year"], part["ci_low"], part["ci_high"], color=colour,
                        alpha=0.12, linewidth=0)

    def tick(y: int) -> str:
        era, n = era_year(int(y))
        return f"{'R' if era == '令和' else 'H' if era == '平成' else era}{n}\n({y})"

    ax.set_xticks(years, [tick(y) for y in years])
    ax.set_ylabel("%")
    ax.set_ylim(0, max(10.0, float(series["ci_high"].max()) * 1.1))
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
