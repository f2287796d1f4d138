"""Trends, forecasts and progress outlook of the plan indicators (orchestration).

Fits the models of :mod:`kyodo_analysis.stats.trends` to each indicator's history and turns
them into forecasts, probabilities of reaching each target and a status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm as _norm

from kyodo_analysis.errors import ConfigError, EstimationError
from kyodo_analysis.evaluation.compute import indicator_history
from kyodo_analysis.evaluation.registry import CITY, IndicatorRegistry, load_registry

__all__ = ["IndicatorTrends", "activity_trend_summary", "activity_trend_table",
           "indicator_trends", "its_table"]

# ======================================================================================
# trends, forecasts and status
# ======================================================================================
@dataclass(frozen=True, eq=False)
class IndicatorTrends:
    """Trends, forecasts and progress status of the plan indicators.

    Attributes
    ----------
    models : pandas.DataFrame
        One row per indicator: the trend model and its key estimates (see
        :func:`indicator_trends`).
    forecasts : pandas.DataFrame
        One row per indicator × target year: forecast with CI and prediction interval,
        ``prob_reach``, ``status`` (on track / at risk / off track), ``status_label``
        (順調 / 要注意 / 遅れ) and ``reason`` (one sentence).
    history : pandas.DataFrame
        The city-level series the models were fitted to (:func:`indicator_history`).
    fits : dict
        Indicator id -> the fitted :class:`~kyodo_analysis.stats.trends.CountTrendFit` or
        :class:`~kyodo_analysis.stats.trends.SurveyTrendResult` (the latter for the final
        target year).
    """

    models: pd.DataFrame
    forecasts: pd.DataFrame
    history: pd.DataFrame
    fits: Mapping[str, Any] = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The forecasts table (one row per indicator × target year)."""
        return self.forecasts

    def status_table(self, *, target_year: int | None = None) -> pd.DataFrame:
        """Forecasts with Japanese column names, optionally for one target year."""
        fc = self.forecasts if target_year is None else \
            self.forecasts[self.forecasts["target_year"] == target_year]
        cols = {"indicator_id": "指標番号", "name": "指標名", "unit": "単位",
                "latest_year": "直近年度", "latest": "直近値", "grade_text": "評価（直近年度）",
                "target_year": "目標年度", "target": "目標値", "estimate": "予測値",
                "pi_low": "95%予測区間（下限）", "pi_high": "95%予測区間（上限）",
                "prob_reach": "目標到達確率（傾向モデルによる）", "status_label": "見通し",
                "reason_ja": "判定理由", "warning": "注意"}
        for c in cols:
            if c not in fc:
                fc = fc.assign(**{c: ""})
        return fc[list(cols)].rename(columns=cols).reset_index(drop=True)


def activity_trend_table(
    activity: pd.DataFrame,
    *,
    series: Sequence[str] | None = None,
    plan_start: int | None,
    covid_years: Sequence[int] = (),
    through: int | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Interrupted time series (ITS) fits, Mann–Kendall and Sen for activity series.

    For each series × domain of the long activity table,
    :func:`~kyodo_analysis.stats.trends.fit_count_trend` (log-linear count model with a
    COVID term and a level and slope change at ``plan_start``; Poisson or negative binomial
    after an overdispersion pre-test), :func:`~kyodo_analysis.stats.trends.mann_kendall` and
    :func:`~kyodo_analysis.stats.trends.sens_slope` over the whole series.

    Parameters
    ----------
    activity : pandas.DataFrame
        Long table ``series, domain, fiscal_year, value`` (:meth:`Study.activity`).
    series : sequence of str, optional
        Series to fit (default all).
    plan_start, covid_years : int, sequence of int
        Passed to ``fit_count_trend``: the study's ``plan.start`` and ``plan.disrupted_years``
        (:attr:`Study.plan`). Without a plan start no ITS model is fitted (``error`` says so).
    through : int, optional
        Last fiscal year used.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per series × domain: ``series, domain, n_years, family, level_change,
        level_change_low, level_change_high`` (log scale: ``b3``), ``level_change_rr``
        (``exp(b3)``), ``slope_change, slope_change_low, slope_change_high`` (log scale,
        ``b4``), ``slope_change_rr``, ``plan_p`` (joint test of both), ``mk_tau, mk_p,
        mk_trend, sen_slope, sen_low, sen_high`` and ``error`` (why a fit failed, else "").

    Notes
    -----
    On 200 simulated FY2012-FY2025 series without a plan effect (negative binomial,
    alpha 0.02, mean about 200, COVID dip) the joint plan test at 5% rejected 6.5%
    (tests/test_indicators.py); see :func:`~kyodo_analysis.stats.trends.fit_count_trend`
    for the full simulation grid.
    """

    data = activity if series is None else activity[activity["series"].isin(series)]
    if through is not None:
        data = data[data["fiscal_year"] <= through]
    rows = []
    for (name, dom), part in data.groupby(["series", "domain"], sort=False):
        y = part.set_index("fiscal_year")["value"].sort_index()
        summ = _count_summary(y, plan_start, covid_years, level)
        summ.pop("fit")
        rows.append({"series": name, "domain": dom, "n_years": len(y), **summ})
    return pd.DataFrame(rows)


def activity_trend_summary(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`activity_trend_table` laid out for publication (Japanese columns, rounded).

    The level change is the multiplicative jump of the expected count at the plan start,
    the slope change the multiplicative change of the annual growth factor (both with 95%
    intervals), ``p`` the joint test of both; 傾向 is the Mann–Kendall verdict and the Sen
    slope in units per year over the whole series.
    """
    trend_ja = {"increasing": "増加", "decreasing": "減少", "no trend": "傾向なし"}
    rows = []
    for _, r in table.iterrows():
        ok = not r.get("error")
        rows.append({
            "系列": r["series"], "区分": r["domain"], "年数": r["n_years"],
            "モデル": {"negbin": "負の二項", "poisson": "ポアソン"}.get(r["family"], "-"),
            "計画開始時の水準（倍）": f"{np.exp(r['level_change']):.2f}（{np.exp(r['level_change_low']):.2f}"
            f"～{np.exp(r['level_change_high']):.2f}）" if ok else "-",
            "伸び率の変化（倍/年）": f"{np.exp(r['slope_change']):.3f}（"
            f"{np.exp(r['slope_change_low']):.3f}～{np.exp(r['slope_change_high']):.3f}）"
            if ok else "-",
            "計画効果のp値": f"{r['plan_p']:.3f}" if ok else "-",
            "傾向（MK）": trend_ja.get(r.get("mk_trend"), "-"),
            "Sen傾き（/年）": f"{r['sen_slope']:+.1f}" if pd.notna(r.get("sen_slope")) else "-",
            "注記": r.get("error") or "",
        })
    return pd.DataFrame(rows)


def _count_summary(y: pd.Series, plan_start: int | None, covid_years: Sequence[int],
                   level: float) -> dict[str, Any]:
    from kyodo_analysis.stats.trends import fit_count_trend, mann_kendall, sens_slope

    out: dict[str, Any] = {}
    try:
        if plan_start is None:
            raise EstimationError("the study declares no plan start (plan.start in study.yaml): "
                                  "no before/after model is fitted")
        fit = fit_count_trend(y, plan_start=plan_start, covid_years=covid_years, level=level)
        coefs = fit.coefficients.set_index("term")
        out.update(family=fit.family, fit=fit)
        for term in ("level_change", "slope_change"):
            out[term] = float(coefs.loc[term, "estimate"])
            out[f"{term}_low"] = float(coefs.loc[term, "ci_low"])
            out[f"{term}_high"] = float(coefs.loc[term, "ci_high"])
            out[f"{term}_rr"] = float(np.exp(coefs.loc[term, "estimate"]))
        out["plan_p"] = float(fit.plan_test["p"])
        out["error"] = ""
    except EstimationError as exc:
        out.update(family="", fit=None, plan_p=np.nan, error=str(exc))
    try:
        mk = mann_kendall(y.to_numpy(dtype=float))
        sen = sens_slope(y, level=level)
        out.update(mk_tau=mk.tau, mk_p=mk.p, mk_trend=mk.trend, sen_slope=sen.estimate,
                   sen_low=sen.ci_low, sen_high=sen.ci_high)
    except EstimationError as exc:
        out["error"] = (out.get("error") or "") + str(exc)
    return out


def indicator_trends(
    study: Any,
    *,
    registry: IndicatorRegistry | None = None,
    through: int | None = None,
    level: float = 0.95,
    plan_start: int | None = None,
    covid_years: Sequence[int] | None = None,
    on_track: float = 0.7,
    off_track: float = 0.3,
    n_sim: int = 20_000,
    seed: int = 0,
    history: pd.DataFrame | None = None,
    results: pd.DataFrame | None = None,
) -> IndicatorTrends:
    """Trend, forecast to each target year, probability of reaching it, and status.

    * Activity indicators: the interrupted time series count model
      (:func:`~kyodo_analysis.stats.trends.fit_count_trend`, COVID term and plan-start
      segment) with simulated prediction intervals
      (:func:`~kyodo_analysis.stats.trends.forecast`) and the predictive probability that
      the count of the target year meets the target
      (:func:`~kyodo_analysis.stats.trends.probability_of_reaching`); Mann–Kendall and Sen
      describe the whole series.
    * Survey indicators: inverse-variance weighted trend of the city-level design-based
      estimates across waves on the logit scale
      (:func:`~kyodo_analysis.stats.trends.survey_trend`); the prediction interval and
      ``prob_reach`` are for the survey estimate of the target year.

    The outlook (見通し) is :func:`~kyodo_analysis.evaluation.status.outlook` of
    ``prob_reach`` (順調 ≥ ``on_track`` > 要注意 ≥ ``off_track`` > 遅れ), reconciled with
    the grade of the evaluated year (``results``, computed if not given): the forecasts
    carry ``grade`` and ``grade_text`` (as on the indicator page) and the reason says where
    the grade and the outlook point different ways. The probability is conditional on the
    trend model. A model that cannot be fitted gives a row with ``status`` "-" and the
    reason.

    Survey indicators with waves in the study's disrupted years (``plan.disrupted_years``)
    also get an adjusted reading fitted without those waves when three or more remain
    (``estimate_adj, pi_low_adj, pi_high_adj, prob_reach_adj``).

    Parameters
    ----------
    study : Study
    registry : IndicatorRegistry, optional
    through : int, optional
        Last fiscal year of data used (default: all).
    level : float, default 0.95
        Interval level.
    plan_start, covid_years
        Segments of the count model; default the study's ``plan.start`` and
        ``plan.disrupted_years``.
    on_track, off_track : float
        Status thresholds.
    n_sim, seed : int
        Simulation size and seed of the count forecasts (reproducible).
    history : pandas.DataFrame, optional
        A precomputed :func:`indicator_history` (city level) to reuse.

    Returns
    -------
    IndicatorTrends

    Examples
    --------
    >>> tr = indicator_trends(ka.open_study(), through=2025)  # doctest: +SKIP
    >>> tr.status_table(target_year=2026)  # doctest: +SKIP
    """
    from kyodo_analysis.evaluation.compute import compute_indicators
    from kyodo_analysis.evaluation.formatting import grade_text
    from kyodo_analysis.evaluation.status import outlook
    from kyodo_analysis.stats.trends import (
        forecast,
        mann_kendall,
        probability_of_reaching,
        sens_slope,
        survey_trend,
    )

    registry = load_registry(study) if registry is None else registry
    plan_start = study.plan.start if plan_start is None else plan_start
    covid_years = study.plan.disrupted_years if covid_years is None else covid_years
    if history is None:
        history = indicator_history(study, registry=registry, through=through, level=level)
    elif through is not None:
        history = history[history["fiscal_year"] <= through]
    history = history[history["domain"] == CITY]
    evaluated = through if through is not None else (max(study.fiscal_years)
                                                     if study.fiscal_years else None)
    if results is None and evaluated is not None:
        try:
            results = compute_indicators(study, evaluated, registry=registry, level=level)
        except (EstimationError, ConfigError):
            results = None
    grades = {} if results is None else {
        r["indicator_id"]: r for _, r in results[results["domain"] == CITY].iterrows()}
    disrupted = set(covid_years)
    models, fc_rows, fits = [], [], {}
    for ind in registry:
        h = history[history["indicator_id"] == ind.id].dropna(subset=["estimate"])
        h = h.sort_values("fiscal_year")
        base = {"indicator_id": ind.id, "name": ind.name, "policy": ind.policy,
                "kind": ind.kind, "unit": ind.unit}
        latest_year = int(h["fiscal_year"].iloc[-1]) if len(h) else None
        latest = float(h["estimate"].iloc[-1]) if len(h) else np.nan
        model: dict[str, Any] = {**base, "first_year": int(h["fiscal_year"].iloc[0])
                                 if len(h) else None, "last_year": latest_year,
                                 "n_points": len(h)}
        per_year: dict[int, dict[str, Any]] = {}
        error = ""
        try:
            if ind.kind == "activity":
                y = h.set_index("fiscal_year")["estimate"]
                summ = _count_summary(y, plan_start, covid_years, level)
                fit = summ.pop("fit")
                error = summ.pop("error")
                model.update(method="ITS count model", **summ)
                if fit is None:
                    raise EstimationError(error)
                fits[ind.id] = fit
                fc = forecast(fit, ind.target_years, level=level, n_sim=n_sim, seed=seed)
                for (year, target), (_, f) in zip(ind.targets, fc.iterrows(), strict=True):
                    prob = probability_of_reaching(fit, target, year, direction=ind.direction,
                                                   n_sim=n_sim, seed=seed)
                    per_year[year] = {"estimate": f["estimate"], "ci_low": f["ci_low"],
                                      "ci_high": f["ci_high"], "pi_low": f["pi_low"],
                                      "pi_high": f["pi_high"], "prob_reach": prob}
            else:
                p = h.set_index("fiscal_year")["estimate"] / 100
                se = h.set_index("fiscal_year")["se"] / 100
                mk = mann_kendall(p.to_numpy(dtype=float))
                sen = sens_slope(100 * p, level=level)
                model.update(method="survey trend (WLS, logit)", mk_tau=mk.tau, mk_p=mk.p,
                             mk_trend=mk.trend, sen_slope=sen.estimate, sen_low=sen.ci_low,
                             sen_high=sen.ci_high)
                keep = [y for y in p.index if y not in disrupted]
                adjust = len(keep) >= 3 and len(keep) < len(p)
                for year, target in ind.targets:
                    res = survey_trend(p, se, forecast_years=[year], target=target / 100,
                                       direction=ind.direction, level=level)
                    f = res.forecasts.iloc[0]
                    per_year[year] = {k: 100 * float(f[k]) for k in
                                      ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")}
                    per_year[year]["prob_reach"] = float(f["prob_reach"])
                    if adjust:
                        adj = survey_trend(p.loc[keep], se.loc[keep], forecast_years=[year],
                                           target=target / 100, direction=ind.direction,
                                           level=level).forecasts.iloc[0]
                        per_year[year].update(
                            estimate_adj=100 * float(adj["estimate"]),
                            pi_low_adj=100 * float(adj["pi_low"]),
                            pi_high_adj=100 * float(adj["pi_high"]),
                            prob_reach_adj=float(adj["prob_reach"]))
                    fits[ind.id] = res
                # the same WLS fit in points per year at the latest level (delta method):
                # slope, interval and p-value of one sentence come from one model
                q = float(p.iloc[-1])
                k = 100 * q * (1 - q)
                zc = float(_norm.ppf(0.5 + level / 2))
                model.update(slope_logit=res.slope, slope_se=res.slope_se, slope_p=res.slope_p,
                             dispersion=res.dispersion, slope_points=k * res.slope,
                             slope_points_low=k * (res.slope - zc * res.slope_se),
                             slope_points_high=k * (res.slope + zc * res.slope_se))
        except EstimationError as exc:
            error = str(exc)
        model["error"] = error
        models.append(model)
        g_row = grades.get(ind.id)
        for year, target in ind.targets:
            got = per_year.get(year)
            row = {**base, "direction": ind.direction, "latest_year": latest_year,
                   "latest": latest, "target_year": year, "target": target,
                   "grade": "-" if g_row is None else g_row["grade"],
                   "grade_text": "-" if g_row is None else grade_text(g_row),
                   "estimate_adj": np.nan, "pi_low_adj": np.nan, "pi_high_adj": np.nan,
                   "prob_reach_adj": np.nan}
            if got is None:
                row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, pi_low=np.nan,
                           pi_high=np.nan, prob_reach=np.nan, status="-", status_label="-",
                           reason=f"予測できません（{error}）",
                           reason_ja=f"予測できません（{error}）", warning="")
            else:
                current = g_row is not None and int(g_row["target_year"]) == year
                o = outlook(got["prob_reach"], grade=g_row, is_current_target=current,
                            pi=(got["pi_low"], got["pi_high"]), target=target, unit=ind.unit,
                            on_track=on_track, off_track=off_track)
                if pd.notna(got.get("prob_reach_adj", np.nan)):
                    o["reason_ja"] += (f"活動が妨げられた年度の調査を除いた傾向では目標到達確率は"
                                       f"{100 * got['prob_reach_adj']:.0f}%です。")
                row.update(got, **o)
            fc_rows.append(row)
    return IndicatorTrends(models=pd.DataFrame(models), forecasts=pd.DataFrame(fc_rows),
                           history=history.reset_index(drop=True), fits=fits)



def its_table(
    activity: pd.DataFrame,
    *,
    plan_start: int | None,
    disrupted: Sequence[int] = (),
    through: int | None = None,
    level: float = 0.95,
    multiplicity: str = "holm",
) -> pd.DataFrame:
    """Segmented-regression ITS (:func:`kyodo_analysis.stats.its.segmented_regression`) of
    every city-wide activity series, for publication (Japanese columns).

    The family of plan-effect tests (one per series) is adjusted by ``multiplicity``
    (Holm by default; stated in the 注記). A test that is not significant shows the minimum
    detectable level change instead of 「有意差なし」.
    """
    from kyodo_analysis.evaluation.grading import adjust_p
    from kyodo_analysis.stats.its import segmented_regression

    data = activity[activity["domain"] == CITY]
    if through is not None:
        data = data[data["fiscal_year"] <= through]
    rows = []
    for name, part in data.groupby("series", sort=False):
        y = part.set_index("fiscal_year")["value"].sort_index()
        try:
            if plan_start is None:
                raise EstimationError("計画開始年度（plan.start）が未設定です")
            fit = segmented_regression(y, start=plan_start, disrupted=disrupted, level=level)
            rows.append({"series": name, "fit": fit, "p": fit.plan_p, "error": ""})
        except EstimationError as exc:
            rows.append({"series": name, "fit": None, "p": np.nan, "error": str(exc)})
    p_adj = adjust_p([r["p"] for r in rows], multiplicity) if rows else []
    out = []
    for r, pa in zip(rows, p_adj, strict=True):
        fit = r["fit"]
        if fit is None:
            out.append({"系列": r["series"], "注記": r["error"]})
            continue
        lv, sl = fit.term("level_change"), fit.term("slope_change")
        sig = pa < 1 - level
        verdict = ("計画開始後の変化あり" if sig else
                   f"判別できない（検出できる最小の水準変化 ×{np.exp(fit.mde_level):.2f}）")
        out.append({
            "系列": r["series"], "年数": fit.n,
            "水準の変化（倍）": f"{np.exp(lv['estimate']):.2f}（{np.exp(lv['ci_low']):.2f}"
                          f"～{np.exp(lv['ci_high']):.2f}）",
            "伸び率の変化（倍/年）": f"{np.exp(sl['estimate']):.3f}（{np.exp(sl['ci_low']):.3f}"
                             f"～{np.exp(sl['ci_high']):.3f}）",
            "p値（調整後）": f"{pa:.3f}", "判定": verdict,
            "自己相関（DW）": f"{fit.durbin_watson:.2f}", "AR(1)係数": f"{fit.rho:.2f}",
            "過分散": f"{fit.dispersion:.1f}" if np.isfinite(fit.dispersion) else "-",
            "注記": "／".join(fit.notes),
        })
    return pd.DataFrame(out)
