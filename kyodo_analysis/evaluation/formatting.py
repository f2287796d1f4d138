"""Japanese publication tables of the plan indicators (column names, rounding, marks)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = ["JA_COLUMNS", "dashboard_table", "domain_table", "to_japanese"]

#: Japanese column names for publication (:func:`to_japanese`).
JA_COLUMNS: dict[str, str] = {
    "indicator_id": "指標番号", "name": "指標名", "policy": "推進施策", "policy_name": "推進施策名",
    "measure": "個別施策", "measure_name": "個別施策名", "kind": "データ", "stage": "段階",
    "unit": "単位", "direction": "方向", "fiscal_year": "年度", "domain_type": "集計区分",
    "domain": "区分", "estimate": "実績値", "se": "標準誤差", "ci_low": "95%信頼区間（下限）",
    "ci_high": "95%信頼区間（上限）", "df": "自由度", "n": "基数（n）", "base": "基数の定義",
    "small_base": "参考値", "baseline_year": "基準年度", "baseline": "基準値",
    "target_year": "目標年度", "target": "目標値", "final_target": "最終目標値",
    "target_used": "評価に用いた目標値", "achievement_rate": "達成率",
    "grade": "評価", "grade_label": "評価区分", "grade_basis": "評価の根拠",
    "change_baseline": "基準値からの変化", "change_baseline_se": "基準値からの変化（標準誤差）",
    "change_baseline_p": "基準値からの変化（p値）",
    "change_baseline_significant": "基準値からの有意な変化", "previous_year": "前回年度",
    "change_previous": "前回からの変化", "change_previous_se": "前回からの変化（標準誤差）",
    "change_previous_p": "前回からの変化（p値）",
    "change_previous_significant": "前回からの有意な変化", "note": "注記",
}


def to_japanese(table: pd.DataFrame) -> pd.DataFrame:
    """Rename the columns of :func:`compute_indicators` (or its subsets) to Japanese."""
    return table.rename(columns=JA_COLUMNS)


def _fmt(value: Any, decimals: int, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def _mark(sig: Any) -> str:
    if sig is None or sig is pd.NA or (isinstance(sig, float) and math.isnan(sig)):
        return ""
    return "＊" if bool(sig) else ""


def domain_table(results: pd.DataFrame, *, options: DisplayOptions = DEFAULT_OPTIONS
                 ) -> pd.DataFrame:
    """Survey indicators by the domains of one type, one column per domain (estimate in %,
    ``＊`` on a base under ``options.small_base``: 参考値)."""
    shown = [f"{v:.{options.decimals}f}{'＊' if small else ''}"
             for v, small in zip(results["estimate"], results["small_base"], strict=True)]
    wide = results.assign(_shown=shown).pivot_table(
        index=["indicator_id", "name"], columns="domain", values="_shown", aggfunc="first",
        sort=False)
    wide = wide[list(dict.fromkeys(results["domain"]))].reset_index()
    wide.columns.name = None
    return wide.rename(columns={"indicator_id": "指標番号", "name": "指標名"})


def dashboard_table(results: pd.DataFrame, *, policy: str | None = None,
                    options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """The indicator dashboard for publication: one row per indicator (city level).

    Values are rounded (percentages to ``options.decimals``), the interval shown as
    ``下限～上限``, changes in points with ``＊`` marking a change significant at the
    table's level (survey indicators only), the achievement rate in %, the grade as
    ``"B 改善"`` and 参考値 notes.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`compute_indicators`.
    policy : str, optional
        Keep one policy (I–V).
    options : DisplayOptions
        Rounding.

    Returns
    -------
    pandas.DataFrame
        Japanese columns, strings ready for :func:`kyodo_analysis.viz.tables.styled`.
    """
    rows = results if policy is None else results[results["policy"] == policy]
    d = options.decimals
    out = []
    for _, r in rows.iterrows():
        dec = d if r["unit"] == "%" else 0
        ci = ("-" if pd.isna(r["ci_low"]) else
              f"{r['ci_low']:.{dec}f}～{r['ci_high']:.{dec}f}")
        out.append({
            "推進施策": r["policy"], "指標番号": r["indicator_id"], "指標名": r["name"],
            "区分": r["domain"], "単位": r["unit"],
            "基準値": f"{_fmt(r['baseline'], dec)}（{r['baseline_year']}）",
            "実績値": _fmt(r["estimate"], dec), "95%信頼区間": ci,
            "n": "-" if pd.isna(r["n"]) else f"{int(r['n']):,}",
            "前回比": _fmt(r["change_previous"], dec, True) + _mark(
                r["change_previous_significant"]),
            "基準値比": _fmt(r["change_baseline"], dec, True) + _mark(
                r["change_baseline_significant"]),
            "目標値": f"{_fmt(r['target'], dec)}（{r['target_year']}）",
            "達成率": "-" if pd.isna(r["achievement_rate"])
            else f"{100 * r['achievement_rate']:.0f}%",
            "評価": f"{r['grade']} {r['grade_label']}",
            "注記": r["note"],
        })
    return pd.DataFrame(out)


