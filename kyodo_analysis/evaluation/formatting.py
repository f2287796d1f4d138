"""Japanese publication tables of the plan indicators (column names, rounding, marks)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from kyodo_analysis.evaluation.grading import GRADE_LABELS
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = ["JA_COLUMNS", "SIGNIFICANT_MARK", "SMALL_BASE_MARK", "dashboard_table",
           "domain_table", "errors_table", "grade_text", "to_japanese"]

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
    "baseline_source": "基準値の種類", "baseline_used": "評価に用いた基準値",
    "baseline_se": "基準値の標準誤差", "baseline_disrupted": "基準年度が平常でない",
    "reference_baseline": "平常年度の平均（参考基準値）", "grade_range": "判定保留の範囲", "rate_low": "達成率（下限）",
    "rate_high": "達成率（上限）", "mdc": "最小検出変化",
    "achievement_rate_reference": "参考基準値での達成率", "grade_reference": "参考基準値での評価",
    "change_baseline_p_adj": "基準値からの変化（調整後p値）", "error": "計算できなかった理由",
}


def to_japanese(table: pd.DataFrame) -> pd.DataFrame:
    """Rename the columns of :func:`compute_indicators` (or its subsets) to Japanese."""
    return table.rename(columns=JA_COLUMNS)


#: Symbols used on the indicator pages, one meaning each.
SIGNIFICANT_MARK = "＊"   # change from the baseline significant after the family adjustment
SMALL_BASE_MARK = "※"    # base under DisplayOptions.small_base: 参考値


def _fmt(value: Any, decimals: int, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def _mark(sig: Any) -> str:
    if sig is None or sig is pd.NA or (isinstance(sig, float) and math.isnan(sig)):
        return ""
    return SIGNIFICANT_MARK if bool(sig) else ""


def grade_text(row: Mapping[str, Any]) -> str:
    """The grade as shown everywhere (02, 03, Excel): ``"B 改善"``, ``"H 判定保留（最小検出変化
    5.1ポイント）"`` or ``"－ 評価対象外"``."""
    g = row["grade"]
    label = GRADE_LABELS.get(g, ("", ""))[0]
    if g == "H":
        unit = "ポイント" if row.get("unit") == "%" else str(row.get("unit") or "")
        mdc = row.get("mdc")
        parts = []
        rng = row.get("grade_range")
        if isinstance(rng, str) and rng:
            parts.append(f"{rng}の範囲")
        if mdc is not None and pd.notna(mdc):
            parts.append(f"最小検出変化 {mdc:.1f}{unit}")
        extra = f"（{'、'.join(parts)}）" if parts else ""
        return f"H {label}{extra}"
    if g == "-":
        return f"－ {label}"
    return f"{g} {label}"


def domain_table(results: pd.DataFrame, *, options: DisplayOptions = DEFAULT_OPTIONS
                 ) -> pd.DataFrame:
    """Survey indicators by the domains of one type, one column per domain (estimate in %,
    ``※`` on a base under ``options.small_base``: 参考値)."""
    shown = [f"{v:.{options.decimals}f}{SMALL_BASE_MARK if small else ''}"
             for v, small in zip(results["estimate"], results["small_base"], strict=True)]
    wide = results.assign(_shown=shown).pivot_table(
        index=["indicator_id", "name"], columns="domain", values="_shown", aggfunc="first",
        sort=False)
    wide = wide[list(dict.fromkeys(results["domain"]))].reset_index()
    wide.columns.name = None
    return wide.rename(columns={"indicator_id": "指標番号", "name": "指標名"})


_SOURCE_JA = {"wave": "調査推定値", "registry": "登録値", "data": "実数"}


def dashboard_table(results: pd.DataFrame, *, policy: str | None = None,
                    options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """The indicator dashboard (evaluation table) for publication: one row per indicator.

    The baseline shown is the one used for both the rate and the test (調査推定値: the
    baseline wave's estimate; 登録値: the registry value); the change from it carries ``＊``
    when significant after the family adjustment (and nothing else uses ``＊``); the
    achievement rate is shown with its interval for survey indicators; the grade is
    :func:`grade_text`. ``n`` stays numeric (the count column of the published table).
    """
    rows = results if policy is None else results[results["policy"] == policy]
    d = options.decimals
    out = []
    for _, r in rows.iterrows():
        dec = d if r["unit"] == "%" else 0
        ci = ("-" if pd.isna(r["ci_low"]) else
              f"{r['ci_low']:.{dec}f}～{r['ci_high']:.{dec}f}")
        rate = "-" if pd.isna(r["achievement_rate"]) else f"{100 * r['achievement_rate']:.0f}%"
        if pd.notna(r.get("rate_low")) and pd.notna(r["achievement_rate"]):
            rate += f"（{100 * r['rate_low']:.0f}～{100 * r['rate_high']:.0f}%）"
        base_used = r.get("baseline_used", r["baseline"])
        out.append({
            "推進施策": r["policy"], "指標番号": r["indicator_id"], "指標名": r["name"],
            "区分": r["domain"], "単位": r["unit"],
            "基準値": f"{_fmt(base_used, dec)}（{r['baseline_year']}・"
                      f"{_SOURCE_JA.get(r.get('baseline_source'), '登録値')}）",
            "実績値": _fmt(r["estimate"], dec), "95%信頼区間": ci,
            "n": None if pd.isna(r["n"]) else int(r["n"]),
            "前回比": _fmt(r["change_previous"], dec, True),
            "基準値比": _fmt(r["change_baseline"], dec, True) + _mark(
                r["change_baseline_significant"]),
            "p値（調整後）": "-" if pd.isna(r.get("change_baseline_p_adj"))
            else f"{r['change_baseline_p_adj']:.3f}",
            "目標値": f"{_fmt(r['target'], dec)}（{r['target_year']}）",
            "達成率": rate,
            "評価": grade_text(r),
            "注記": r["note"],
        })
    return pd.DataFrame(out)


def errors_table(results: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value or test could not be computed, with the reason (shown on the page)."""
    bad = results[results["error"].astype(str) != ""]
    return bad[["indicator_id", "name", "domain", "error"]].rename(columns={
        "indicator_id": "指標番号", "name": "指標名", "domain": "区分", "error": "理由"}
    ).reset_index(drop=True)
