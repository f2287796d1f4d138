"""Logic model view (ロジックモデル): each policy's activities and outputs beside its outcomes.

Japanese municipalities and the national EBPM guidance draw a logic model as
input → activity → output → outcome. Here each registry indicator carries its ``stage``
(activity statistics default to *output*, survey shares to *outcome*), and
:func:`logic_model` lines them up per policy with the latest value, the change since the
baseline, the trend and the progress status, so that a committee can read whether the
outputs grew where the outcomes moved. It shows association over time, not a causal effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kyodo_analysis.evaluation.formatting import grade_text
from kyodo_analysis.evaluation.indicators import (
    IndicatorRegistry,
    compute_indicators,
    load_registry,
)

__all__ = ["STAGE_LABELS", "logic_model", "logic_model_table", "output_outcome_by_domain",
           "output_outcome_pairs"]

#: Logic model stages and their Japanese labels, in reading order.
STAGE_LABELS: dict[str, str] = {
    "input": "投入（インプット）",
    "activity": "活動",
    "output": "産出（アウトプット）",
    "outcome": "成果（アウトカム）",
}


def _trend_text(model: pd.Series | None, effect: pd.Series | None) -> str:
    if model is None or model.get("error"):
        return "-"
    if model["kind"] == "activity":
        # the plan effect as tested once for the report (plan_effects: AR(1) ITS, Holm family)
        if effect is None or effect["fit"] is None:
            return "-"
        lv = effect["fit"].term("level_change")
        pa = effect["p_adj"]
        p = "p<0.001" if pa < 0.001 else f"p={pa:.3f}"
        # the interval is the level change's; the verdict and p are the joint test of the
        # level and slope changes after the report's adjustment: the sentence says so
        return (f"計画開始後 水準×{np.exp(lv['estimate']):.2f}（{np.exp(lv['ci_low']):.2f}～"
                f"{np.exp(lv['ci_high']):.2f}）、{effect['verdict']}（水準と伸び率の変化の同時検定、"
                f"多重比較の調整後 {p}）")
    if pd.isna(model.get("slope_points")):
        return "-"
    sig = "有意" if model.get("slope_significant", model["slope_p"] < 0.05) else "判別できない"
    # slope, interval and p-value all from the same weighted trend fit
    return (f"年{model['slope_points']:+.1f}ポイント（95%信頼区間 {model['slope_points_low']:+.1f}"
            f"～{model['slope_points_high']:+.1f}、傾向{sig}, p={model['slope_p']:.3f}）")


def _effect_of(indicator_id: str, series: Sequence[str],
               effects: pd.DataFrame | None) -> pd.Series | None:
    """The row of :func:`plan_effects` for an activity indicator (its series or its sum)."""
    if effects is None or effects.empty:
        return None
    key = series[0] if len(series) == 1 else indicator_id
    hit = effects[effects["key"] == key]
    return hit.iloc[0] if len(hit) else None


def logic_model(results: pd.DataFrame, trends: Any = None, *,
                target_year: int | None = None, effects: pd.DataFrame | None = None,
                registry: IndicatorRegistry | None = None) -> pd.DataFrame:
    """Indicators per policy and logic-model stage, with value, change, trend and status.

    Parameters
    ----------
    results : pandas.DataFrame
        City-level output of :func:`~kyodo_analysis.evaluation.indicators.compute_indicators`.
    trends : IndicatorTrends, optional
        Output of :func:`~kyodo_analysis.evaluation.indicators.indicator_trends`; adds the
        trend summary and the status.
    effects, registry : optional
        :func:`~kyodo_analysis.evaluation.trends.plan_effects` of the report and the
        registry: an activity indicator's trend is its plan effect as tested there (the same
        adjusted p value and verdict as the ITS table).
    target_year : int, optional
        Target year whose status is shown (default: each row's ``target_year``).

    Returns
    -------
    pandas.DataFrame
        One row per indicator ordered by policy and stage: ``policy, policy_name, stage,
        stage_label, indicator_id, name, kind, unit, baseline, estimate, ci_low, ci_high,
        change_baseline, change_baseline_significant, grade, grade_text (as on 02 and 03),
        trend, status_label`` (見通し of the row's target year, as on 03).
    """
    city = results[results["domain"] == "市全体"]
    sources = {} if registry is None else {i.id: tuple(i.source.series) for i in registry
                                            if i.kind == "activity"}
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
            "grade": r["grade"], "grade_text": grade_text(r),
            "trend": _trend_text(models.get(r["indicator_id"]), _effect_of(
                r["indicator_id"], sources.get(r["indicator_id"], ()), effects)),
            "status_label": status,
        })
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    pol = {p: i for i, p in enumerate(pd.unique(out["policy"]))}  # registry (plan) order
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
            "評価": r["grade_text"], "傾向": r["trend"], "見通し": r["status_label"],
        })
    return pd.DataFrame(rows)


def output_outcome_pairs(registry: IndicatorRegistry,
                         series_levels: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(output id, outcome id, district level)`` for every activity indicator whose series
    are all published by one district level (``Study.activity_levels()``), paired with each
    survey indicator of the same policy."""
    pairs = []
    for out in registry:
        if out.kind != "activity":
            continue
        levels = {series_levels.get(name) for name in out.source.series}
        if len(levels) != 1 or None in levels:
            continue
        level = levels.pop()
        pairs += [(out.id, c.id, level) for c in registry
                  if c.kind == "survey" and c.policy == out.policy]
    return pairs


def output_outcome_by_domain(
    study: Any,
    fiscal_year: int,
    *,
    output: str,
    outcome: str,
    domain: str,
    registry: IndicatorRegistry | None = None,
    reference_years: tuple[int, int] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """An output's growth beside an outcome's change, domain by domain (e.g. 中学校区).

    Where an activity series is published by domain (workshops by 中学校区), the logic
    model can be read across domains: did the outcome rise more where the output grew more?
    The output's change is the ratio of the count in ``fiscal_year`` to the count in the
    indicator's baseline year, or to the mean count over ``reference_years`` (first, last;
    e.g. ``(2017, 2019)`` when the baseline year was depressed by COVID-19); the outcome's
    change is its design-based change since the baseline wave in that domain, with its
    confidence interval. Five or so domains are few:
    read the result as a description, not as an estimate of the effect.

    Parameters
    ----------
    study : Study
    fiscal_year : int
    output, outcome : str
        Indicator ids of an activity indicator published by ``domain`` and of a survey
        indicator.
    domain : str
        A district level of the study (``districts`` in study.yaml) that the output is
        published by (``activity.by_district``).
    registry : IndicatorRegistry, optional
    reference_years : tuple of int, optional
        Years whose mean count is the output's reference (default: its baseline year).
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per domain: ``domain, output_baseline, output, output_ratio,
        outcome_baseline_year, outcome, outcome_change, outcome_change_low,
        outcome_change_high, outcome_change_significant, n``; ``attrs`` hold the two
        indicator names and the Spearman correlation of ``output_ratio`` and
        ``outcome_change``.

    Raises
    ------
    EstimationError
        If the output is not published by ``domain``.
    """
    from scipy import stats

    from kyodo_analysis.errors import EstimationError

    registry = load_registry(study) if registry is None else registry
    out_ind, oc_ind = registry[output], registry[outcome]
    reg = registry.select(ids=[output, outcome])
    now = compute_indicators(study, fiscal_year, registry=reg, domain=domain, level=level)
    o = now[now["indicator_id"] == output].set_index("domain")
    if o.empty:
        raise EstimationError(f"indicator {output} has no series published by {domain}")
    base = o["estimate"] - o["change_baseline"]
    ref_label = f"{out_ind.baseline.fiscal_year}年度"
    if reference_years is not None:
        first, last = reference_years
        act = study.activity()
        act = act[act["series"].isin(out_ind.source.series)
                  & act["fiscal_year"].between(first, last)]
        per_year = act.groupby(["domain", "fiscal_year"])["value"].sum()
        base = per_year.groupby(level="domain").mean().reindex(o.index)
        ref_label = f"{first}～{last}年度平均"
    c = now[now["indicator_id"] == outcome].set_index("domain")
    from kyodo_analysis.stats import _dist

    z = _dist.norm_ppf((1 + level) / 2)
    table = pd.DataFrame({
        "domain": o.index,
        "output_baseline": base.to_numpy(),
        "output": o["estimate"].to_numpy(),
        "output_ratio": (o["estimate"] / base).to_numpy(),
    })
    table["outcome_baseline_year"] = oc_ind.baseline.fiscal_year
    table["outcome"] = table["domain"].map(c["estimate"])
    table["outcome_change"] = table["domain"].map(c["change_baseline"])
    se = table["domain"].map(c["change_baseline_se"])
    table["outcome_change_low"] = table["outcome_change"] - z * se
    table["outcome_change_high"] = table["outcome_change"] + z * se
    table["outcome_change_significant"] = table["domain"].map(
        c["change_baseline_significant"]).astype("boolean")
    table["n"] = table["domain"].map(c["n"]).astype("Int64")
    ok = table[["output_ratio", "outcome_change"]].dropna()
    rho = float(stats.spearmanr(ok["output_ratio"], ok["outcome_change"])[0]) \
        if len(ok) >= 3 else float("nan")
    table.attrs.update(output_name=out_ind.name, outcome_name=oc_ind.name, spearman=rho,
                       fiscal_year=fiscal_year, reference=ref_label)
    return table
