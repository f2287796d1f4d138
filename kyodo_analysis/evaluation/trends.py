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

from kyodo_analysis.errors import ConfigError, EstimationError
from kyodo_analysis.evaluation.compute import indicator_history
from kyodo_analysis.evaluation.registry import CITY, IndicatorRegistry, load_registry

__all__ = ["IndicatorTrends", "indicator_trends", "its_table", "plan_effects"]

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
        ``prob_reach``, ``status`` (on track / uncertain / off track), ``status_label``
        (順調 / 見通し保留 / 遅れ) and ``reason`` (Japanese / English).
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


def _count_summary(y: pd.Series, plan_start: int | None, covid_years: Sequence[int],
                   level: float) -> dict[str, Any]:
    """The count model used for the forecasts, and Mann–Kendall / Sen over the whole series.

    The plan effect itself is not read from this model: its errors are taken as independent,
    which over-detects under autocorrelation; :func:`plan_effects` is the one test of it."""
    from kyodo_analysis.stats.trends import fit_count_trend, mann_kendall, sens_slope

    out: dict[str, Any] = {}
    try:
        if plan_start is None:
            raise EstimationError("the study declares no plan start (plan.start in study.yaml): "
                                  "no before/after model is fitted")
        fit = fit_count_trend(y, plan_start=plan_start, covid_years=covid_years, level=level)
        out.update(family=fit.family, fit=fit, error="")
    except EstimationError as exc:
        out.update(family="", fit=None, error=str(exc))
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
    ``prob_reach``: 順調 / 遅れ when the whole prediction interval at ``level`` meets /
    misses the target, otherwise 見通し保留 (also when the fit without the disrupted years
    disagrees), reconciled with the grade of the evaluated year (``results``, computed if not given): the forecasts
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
        Interval level, also the level of the outlook's evidence rule
        (:func:`~kyodo_analysis.evaluation.status.track_status`).
    plan_start, covid_years
        Segments of the count model; default the study's ``plan.start`` and
        ``plan.disrupted_years``.
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
                # slope, interval and p-value of one sentence come from one model, and the
                # interval is the fit's own (t when over-dispersed), so it excludes 0
                # exactly when p < 1 - level
                q = float(p.iloc[-1])
                k = 100 * q * (1 - q)
                ci = res.coefficients.set_index("term").loc["slope"]
                model.update(slope_logit=res.slope, slope_se=res.slope_se, slope_p=res.slope_p,
                             slope_significant=bool(res.slope_p < 1 - level),
                             dispersion=res.dispersion, slope_points=k * res.slope,
                             slope_points_low=k * float(ci["ci_low"]),
                             slope_points_high=k * float(ci["ci_high"]))
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
                            level=level, prob_adjusted=got.get("prob_reach_adj"))
                row.update(got, **o)
            fc_rows.append(row)
    return IndicatorTrends(models=pd.DataFrame(models), forecasts=pd.DataFrame(fc_rows),
                           history=history.reset_index(drop=True), fits=fits)



#: Yearly mean count under which the log-linear ITS is said to have little power.
SMALL_COUNT = 10


def plan_effects(
    activity: pd.DataFrame,
    registry: IndicatorRegistry | None = None,
    *,
    plan_start: int | None,
    disrupted: Sequence[int] = (),
    through: int | None = None,
    level: float = 0.95,
    multiplicity: str = "holm",
) -> pd.DataFrame:
    """The plan effect (計画開始前後の変化) of every city-wide activity quantity, tested once.

    One family of tests for the whole report: every city-wide activity series, plus every
    activity indicator of ``registry`` that adds several series up (its yearly sum). Each is
    fitted by :func:`kyodo_analysis.stats.its.segmented_regression` (log counts, a level and
    slope change at ``plan_start``, a level for each ``disrupted`` year, AR(1) errors with
    Durbin–Watson and Ljung–Box checks), and the joint plan tests are adjusted together by
    ``multiplicity`` (Holm by default). The ITS table and the logic model both read this
    frame, so one quantity has one verdict on every page. A test that is not significant
    is reported with the minimum detectable level change, never as 「効果なし」.

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``key`` (series name, or the indicator id for a sum),
        ``label``, ``kind`` ("series" | "indicator"), ``series`` (tuple of series), ``fit``
        (:class:`~kyodo_analysis.stats.its.ITSResult` or None), ``n``, ``p``, ``p_adj``,
        ``significant``, ``verdict`` (Japanese), ``notes`` (the fit's checks, and a warning
        when the yearly mean is under ``SMALL_COUNT``), ``mk_trend``, ``sen_slope``,
        ``error``.
    """
    from kyodo_analysis.evaluation.grading import adjust_p
    from kyodo_analysis.stats.its import segmented_regression
    from kyodo_analysis.stats.trends import mann_kendall, sens_slope

    data = activity[activity["domain"] == CITY]
    if through is not None:
        data = data[data["fiscal_year"] <= through]
    quantities: list[tuple[str, str, str, tuple[str, ...]]] = [
        (str(name), str(name), "series", (str(name),)) for name in pd.unique(data["series"])]
    for ind in registry or ():
        if ind.kind == "activity" and len(ind.source.series) > 1:
            quantities.append((ind.id, f"{ind.id} {ind.name}", "indicator", tuple(ind.source.series)))
    rows = []
    for key, label, kind, names in quantities:
        part = data[data["series"].isin(names)]
        counts = part.groupby("fiscal_year")["series"].nunique()
        y = part.groupby("fiscal_year")["value"].sum()[counts == len(names)].sort_index()
        row: dict[str, Any] = {"key": key, "label": label, "kind": kind, "series": names,
                               "fit": None, "n": len(y), "p": np.nan, "error": "", "notes": (),
                               "mk_trend": "", "sen_slope": np.nan}
        try:
            if plan_start is None:
                raise EstimationError("計画開始年度（plan.start）が未設定です")
            fit = segmented_regression(y, start=plan_start, disrupted=disrupted, level=level)
            row.update(fit=fit, p=fit.plan_p)
            row["notes"] = tuple(fit.notes) + (
                (f"年平均{y.mean():.1f}件と少なく、対数の回帰では小さな変化は検出できません",)
                if y.mean() < SMALL_COUNT else ())
        except EstimationError as exc:
            row["error"] = str(exc)
        if len(y) >= 3:
            row["mk_trend"] = mann_kendall(y.to_numpy(dtype=float)).trend
            row["sen_slope"] = sens_slope(y, level=level).estimate
        rows.append(row)
    out = pd.DataFrame(rows, columns=["key", "label", "kind", "series", "fit", "n", "p",
                                      "error", "notes", "mk_trend", "sen_slope"])
    out["p_adj"] = adjust_p(out["p"].to_numpy(dtype=float), multiplicity) if len(out) else []
    out["significant"] = out["p_adj"] < 1 - level
    out["verdict"] = [_plan_verdict(f, sig) for f, sig in zip(out["fit"], out["significant"],
                                                                strict=True)]
    out.attrs.update(multiplicity=multiplicity, level=level, family_size=int(out["p"].notna().sum()))
    return out


def _plan_verdict(fit: Any, significant: bool) -> str:
    if fit is None:
        return "-"
    if significant:
        return "計画開始後の変化あり"
    return f"判別できない（検出できる最小の水準変化 ×{np.exp(fit.mde_level):.2f}）"


def its_table(effects: pd.DataFrame) -> pd.DataFrame:
    """:func:`plan_effects` laid out for publication (Japanese columns, one row per quantity).

    The level change is the multiplicative jump at the plan start, the slope change the
    multiplicative change of the yearly growth, both with intervals; the p value is the
    joint test after the family's adjustment (stated in the 注記); 傾向 is the Mann–Kendall
    verdict and the Sen slope (units per year) over the whole series, descriptive only.
    """
    trend_ja = {"increasing": "増加", "decreasing": "減少", "no trend": "傾向なし"}
    out = []
    for _, r in effects.iterrows():
        fit = r["fit"]
        desc = {"傾向（MK）": trend_ja.get(r["mk_trend"], "-"),
                "Sen傾き（/年）": f"{r['sen_slope']:+.1f}" if pd.notna(r["sen_slope"]) else "-"}
        if fit is None:
            out.append({"系列": r["label"], "年数": r["n"], **desc, "注記": r["error"]})
            continue
        lv, sl = fit.term("level_change"), fit.term("slope_change")
        pa = r["p_adj"]
        out.append({
            "系列": r["label"], "年数": fit.n,
            "水準の変化（倍）": f"{np.exp(lv['estimate']):.2f}（{np.exp(lv['ci_low']):.2f}"
                          f"～{np.exp(lv['ci_high']):.2f}）",
            "伸び率の変化（倍/年）": f"{np.exp(sl['estimate']):.3f}（{np.exp(sl['ci_low']):.3f}"
                             f"～{np.exp(sl['ci_high']):.3f}）",
            "p値（調整後）": "<0.001" if pa < 0.001 else f"{pa:.3f}", "判定": r["verdict"],
            "自己相関（DW）": f"{fit.durbin_watson:.2f}", "AR(1)係数": f"{fit.rho:.2f}",
            "過分散": f"{fit.dispersion:.1f}" if np.isfinite(fit.dispersion) else "-",
            **desc,
            "注記": "／".join(r["notes"]),
        })
    return pd.DataFrame(out)
