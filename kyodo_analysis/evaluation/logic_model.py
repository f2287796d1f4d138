"""Logic model view (ロジックモデル): each policy's activities and outputs beside its outcomes.

Japanese municipalities and the national EBPM guidance draw a logic model as
input → activity → output → outcome. Here each registry indicator carries its ``stage``
(activity statistics default to *output*, survey shares to *outcome*), and
:func:`logic_model` lines them up per policy with the latest value, the change since the
baseline, the trend and the progress status, so that a committee can read whether the
outputs grew where the outcomes moved. It shows association over time, not a causal effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kyodo_analysis.evaluation.indicators import PLAN_POLICIES

__all__ = ["STAGE_LABELS", "logic_model", "logic_model_table"]

#: Logic model stages and their Japanese labels, in reading order.
STAGE_LABELS: dict[str, str] = {
    "input": "投入（インプット）",
    "activity": "活動",
    "output": "産出（アウトプット）",
    "outcome": "成果（アウトカム）",
}


def _trend_text(model: pd.Series | None) -> str:
    if model is None or model.get("error"):
        return "-"
    if model["kind"] == "activity":
        if pd.isna(model.get("slope_change_rr")):
            return "-"
        sig = "有意" if model["plan_p"] < 0.05 else "有意差なし"
        return (f"計画開始後 水準×{model['level_change_rr']:.2f}・伸び×"
                f"{model['slope_change_rr']:.2f}/年（{sig}, p={model['plan_p']:.3f}）")
    sig = "有意" if model["slope_p"] < 0.05 else "有意差なし"
    return f"年{model['sen_slope']:+.1f}ポイント（傾向{sig}, p={model['slope_p']:.3f}）"


def logic_model(results: pd.DataFrame, trends: Any = None, *,
                target_year: int | None = None) -> pd.DataFrame:
    """Indicators per policy and logic-model stage, with value, change, trend and status.

    Parameters
    ----------
    results : pandas.DataFrame
        City-level output of :func:`~kyodo_analysis.evaluation.indicators.compute_indicators`.
    trends : IndicatorTrends, optional
        Output of :func:`~kyodo_analysis.evaluation.indicators.indicator_trends`; adds the
        trend summary and the status.
    target_year : int, optional
        Target year whose status is shown (default: each row's ``target_year``).

    Returns
    -------
    pandas.DataFrame
        One row per indicator ordered by policy and stage: ``policy, policy_name, stage,
        stage_label, indicator_id, name, kind, unit, baseline, estimate, ci_low, ci_high,
        change_baseline, change_baseline_significant, grade, trend, status_label``.
    """
    city = results[results["domain"] == "市全体"]
    models = {} if trends is None else {r["indicator_id"]: r for _, r in
                                        trends.models.iterrows()}
    rows = []
    for _, r in city.iterrows():
        status = "-"
        if trends is not None:
            ty = target_year or r["target_year"]
            fc = trends.forecasts[(trends.forecasts["indicator_id"] == r["indicator_id"])
                                  & (trends.forecasts["target_year"] == ty)]
            if len(fc):
                status = fc["status_label"].iloc[0]
        rows.append({
            "policy": r["policy"], "policy_name": r["policy_name"], "stage": r["stage"],
            "stage_label": STAGE_LABELS[r["stage"]], "indicator_id": r["indicator_id"],
            "name": r["name"], "kind": r["kind"], "unit": r["unit"],
            "baseline": r["baseline"], "estimate": r["estimate"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"], "change_baseline": r["change_baseline"],
            "change_baseline_significant": r["change_baseline_significant"],
            "grade": r["grade"], "trend": _trend_text(models.get(r["indicator_id"])),
            "status_label": status,
        })
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    pol = {p: i for i, p in enumerate(PLAN_POLICIES)}
    stg = {s: i for i, s in enumerate(STAGE_LABELS)}
    key = out["policy"].map(pol) * 10 + out["stage"].map(stg)
    return out.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def logic_model_table(model: pd.DataFrame, *, decimals: int = 1) -> pd.DataFrame:
    """:func:`logic_model` laid out for publication (Japanese columns, rounded values)."""
    def num(v: Any, unit: str, signed: bool = False) -> str:
        if pd.isna(v):
            return "-"
        d = decimals if unit == "%" else 0
        return f"{v:+.{d}f}" if signed else f"{v:.{d}f}"

    rows = []
    for _, r in model.iterrows():
        sig = r["change_baseline_significant"]
        mark = "＊" if (sig is not pd.NA and not pd.isna(sig) and bool(sig)) else ""
        rows.append({
            "推進施策": f"{r['policy']} {r['policy_name']}", "段階": r["stage_label"],
            "指標": f"{r['indicator_id']} {r['name']}", "単位": r["unit"],
            "基準値": num(r["baseline"], r["unit"]), "実績値": num(r["estimate"], r["unit"]),
            "基準値比": num(r["change_baseline"], r["unit"], True) + mark,
            "評価": r["grade"], "傾向": r["trend"], "進捗": r["status_label"],
        })
    return pd.DataFrame(rows)
