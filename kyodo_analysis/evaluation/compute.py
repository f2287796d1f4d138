"""Computing plan indicators (成果指標) for a fiscal year and a domain, with grades.

The registry (``indicators.yaml``) lists the Citizen Challenge Collaboration Plan's key
performance indicators, each tied to one of the plan's five promotion policies (推進施策
I–V) and one of its individual measures (個別施策), with a data source, a baseline (基準値)
and targets (目標値) by fiscal year. This module

* parses and validates the registry (:func:`load_registry`, :class:`IndicatorRegistry`),
* computes every indicator for a fiscal year and a domain (:func:`compute_indicators`):
  survey indicators as design-based estimates from :meth:`Study.design` with confidence
  intervals, activity indicators from the activity statistics, the achievement rate and
  grade (:func:`kyodo_analysis.evaluation.grading.grade`), and the change since the baseline
  and since the previous wave with a test for independent samples,
* fits trends and forecasts (:func:`indicator_trends`): interrupted time series count
  models with Mann–Kendall and Sen for activity series, inverse-variance weighted trends for
  survey indicators, the probability of reaching each target and the status
  順調 / 見通し保留 / 遅れ.

Base of survey indicators (集計の基数)
--------------------------------------
A survey indicator is the share of respondents giving one of the listed answers among those
who gave a **valid answer** to the question: 無回答 (no answer) and 非該当 (not asked) are
excluded from the base, and so are codes outside the codebook. For a multiple-response
option the base is every respondent who ticked at least one option of the question. This
differs from the 単純集計 tables (:func:`kyodo_analysis.viz.tables.single_tabulation`), which
keep 無回答 in the base as municipal reports do; the output's ``base`` column says so. In
domain tables, respondents whose domain attribute is missing (e.g. 小学校区 無回答) are left
out, so domain bases do not add up to the city's.

Estimates are percentages (0–100) with the design's degrees of freedom; the interval is the
logit interval of :meth:`SurveyDesign.proportion`. Designs always come from
:meth:`Study.design`, so weighting added there applies here without change. Bases under
``DisplayOptions.small_base`` (30) are flagged 参考値.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.evaluation.grading import GRADE_LABELS, GradingRule, adjust_p, grade
from kyodo_analysis.evaluation.registry import (
    CITY,
    Indicator,
    IndicatorRegistry,
    SurveySource,
    _valid_codes,
    load_registry,
)
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = ["compute_indicators", "indicator_history"]

# ======================================================================================
# computation
# ======================================================================================
def _indicator_column(data: pd.DataFrame, codebook: Any, src: SurveySource) -> np.ndarray:
    """1.0 / 0.0 for a valid answer in / not in the levels, NaN outside the base."""
    codes = _valid_codes(codebook, src.question)
    values = data[src.question].to_numpy(dtype=float, na_value=np.nan)
    valid = np.isin(values, list(codes))
    y = np.where(valid, np.isin(values, list(src.levels)).astype(float), np.nan)
    if src.subpopulation:
        col, keep = src.subpopulation
        inside = np.isin(data[col].to_numpy(dtype=float, na_value=np.nan), list(keep))
        y = np.where(inside, y, np.nan)
    return y


def _domain_column(study: Any, domain: str) -> str | None:
    """The data column of a domain type (``None`` for the city as a whole)."""
    return None if domain == CITY else study.domain_column(domain)


def _domain_labels(data: pd.DataFrame, study: Any, domain: str) -> pd.Series | None:
    col = _domain_column(study, domain)
    if col is None:
        return None
    if col not in data.columns:
        raise EstimationError(f"domain {domain!r}: column {col!r} is not in the survey data")
    codebook = study.codebook
    labels = codebook[col].codes if col in codebook else {}
    order = list(labels.values())
    mapped = data[col].map(lambda c: labels.get(int(c)) if pd.notna(c) else None)
    return pd.Series(pd.Categorical(mapped, categories=order), index=data.index)


def _survey_wave(study: Any, fiscal_year: int, indicators: Sequence[Indicator],
                 domain: str, level: float) -> pd.DataFrame:
    """Design-based estimates (%) of the survey indicators for one wave and domain type."""
    cb = study.codebook
    data = study.load_wave(fiscal_year)
    cols = {}
    for ind in indicators:
        cols[f"_ind_{ind.id}"] = _indicator_column(data, cb, ind.source)
    frame = data.assign(**cols)
    labels = _domain_labels(frame, study, domain)
    if labels is not None:
        frame["_domain"] = labels.astype(object).where(labels.notna(), None)
    design = study.design(fiscal_year, data=frame)
    rows = []
    for ind in indicators:
        col = f"_ind_{ind.id}"
        if not np.isfinite(frame[col].to_numpy()).any():
            continue
        est = design.proportion(col, success=1.0, na_rm=True, level=level,
                                by="_domain" if labels is not None else None)
        est = est.rename(columns={"_domain": "domain"}) if labels is not None else \
            est.assign(domain=CITY)
        for c in ("estimate", "se", "ci_low", "ci_high"):
            est[c] = 100 * est[c].astype(float)
        est["domain"] = est["domain"].astype(object)
        rows.append(est.assign(indicator_id=ind.id))
    if not rows:
        return pd.DataFrame(columns=["indicator_id", "domain", "estimate", "se", "ci_low",
                                     "ci_high", "df", "n"])
    out = pd.concat(rows, ignore_index=True)
    return out[["indicator_id", "domain", "estimate", "se", "ci_low", "ci_high", "df", "n"]]


def _activity_values(activity: pd.DataFrame, ind: Indicator, domain: str) -> pd.DataFrame:
    """Sum of the indicator's series by (domain, fiscal_year); a domain type other than the
    city keeps only series published by that domain (e.g. workshops by 中学校区)."""
    sub = activity[activity["series"].isin(ind.source.series)]
    if domain == CITY:
        sub = sub[sub["domain"] == CITY]
    else:
        sub = sub[sub["domain"] != CITY]
    if sub.empty:
        return pd.DataFrame(columns=["domain", "fiscal_year", "estimate"])
    wide = sub.pivot_table(index=["domain", "fiscal_year"], columns="series", values="value",
                           aggfunc="sum")
    complete = wide.reindex(columns=list(ind.source.series))
    total = complete.sum(axis=1, min_count=len(ind.source.series))
    return total.rename("estimate").reset_index()


def _sort(table: pd.DataFrame, registry: IndicatorRegistry, study: Any,
          domain: str) -> pd.DataFrame:
    """Registry order, then the codebook order of the domain labels."""
    ind_order = {i.id: k for k, i in enumerate(registry)}
    codebook = study.codebook
    col = _domain_column(study, domain)
    labels = list(codebook[col].codes.values()) if col and col in codebook else []
    dom_order = {d: k for k, d in enumerate([CITY, *labels])}
    key = table["indicator_id"].map(ind_order) * 10_000 + table["domain"].map(
        lambda d: dom_order.get(d, 9_999))
    return table.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def _compare(cur: pd.DataFrame, ref: pd.DataFrame, level: float) -> pd.DataFrame:
    """Change cur - ref by (indicator_id, domain): the independent-samples z test of
    :func:`kyodo_analysis.stats.compare_independent`. An :class:`EstimationError` is kept in
    the ``error`` column (shown on the page), never turned into a silent missing value."""
    from kyodo_analysis.stats import compare_independent

    keys = ["indicator_id", "domain"]
    cols = [*keys, "change", "change_se", "change_p", "error"]
    if cur.empty or ref.empty:
        return pd.DataFrame(columns=cols)
    a = cur[[*keys, "estimate", "se"]].astype({"domain": object})
    b = ref[[*keys, "estimate", "se"]].astype({"domain": object})
    try:
        got = compare_independent(a, b, level=level)
    except EstimationError as exc:
        return a[keys].assign(change=np.nan, change_se=np.nan, change_p=np.nan,
                              error=f"変化の検定ができません: {exc}")
    got = got.rename(columns={"estimate": "change", "se": "change_se", "p_value": "change_p"})
    got["error"] = ""
    return got[cols]


def _reference_level(vals: pd.DataFrame, years: Sequence[int]) -> pd.Series:
    """Mean activity count over the reference years, by domain (NaN if a year is missing)."""
    ref = vals[vals["fiscal_year"].isin(list(years))]
    if ref.empty or ref["fiscal_year"].nunique() < len(set(years)):
        return pd.Series(dtype=float)
    return ref.groupby("domain")["estimate"].mean()


def compute_indicators(
    study: Any,
    fiscal_year: int,
    *,
    registry: IndicatorRegistry | None = None,
    domain: str = CITY,
    level: float | None = None,
    rule: GradingRule | None = None,
    options: DisplayOptions = DEFAULT_OPTIONS,
) -> pd.DataFrame:
    """Every indicator of the registry for one fiscal year and one domain type, graded.

    Survey indicators are design-based estimates from ``study.design(fiscal_year)`` (see the
    module docstring for the base); activity indicators are the published counts (summed
    when an indicator adds several series).

    **One baseline per indicator.** A survey indicator's baseline is, by the rule's
    ``baseline`` option, the baseline wave's estimate in the same domain with its standard
    error (``wave``, the default, when the study has a wave in the baseline year) or the
    registry value taken as exact (``registry``). The same value gives the achievement rate
    and the test of the change (``baseline_used``, ``baseline_source``); the registry value
    is kept in ``baseline`` for reference. In the baseline year itself the row is not graded
    (基準年度). Activity indicators use the registry value.

    **Grades** (:func:`~kyodo_analysis.evaluation.grading.grade`): one evidence rule for
    every grade; the family of the survey indicators' change-from-baseline tests of the table
    (city: one row per indicator; a domain: every indicator × group) is adjusted by the
    rule's ``multiplicity`` (``change_baseline_p_adj``). Domain rows
    (districts, attributes) are **not graded**: the plan sets no district targets, so they
    show the change from the domain's own baseline estimate only.

    **Disrupted baseline years.** When an activity indicator's baseline year is one of the
    study's ``plan.disrupted_years``, the row carries a warning and an alternative reading
    against the mean of ``plan.reference_years`` (``reference_baseline``,
    ``achievement_rate_reference``, ``grade_reference``).

    Parameters
    ----------
    study : Study
    fiscal_year : int
    registry : IndicatorRegistry, optional
        Defaults to the study's registry (:func:`load_registry`).
    domain : str, default "市全体"
        "市全体", a district level or attribute name of the study, or a codebook column.
    level : float, optional
        Confidence level; default the registry rule's ``level`` (0.95).
    rule : GradingRule, optional
        Overrides every indicator's own rule.
    options : DisplayOptions
        ``small_base`` sets the 参考値 threshold.

    Returns
    -------
    pandas.DataFrame
        One row per indicator × domain (columns in ``_COLUMNS``; :func:`to_japanese`
        renames them). ``error`` says why a value or test could not be computed.

    Raises
    ------
    EstimationError
        For an unknown domain; ConfigError for a fiscal year without a wave when the
        registry has survey indicators.
    """
    registry = load_registry(study) if registry is None else registry
    family_rule = rule or registry.rule
    level = family_rule.level if level is None else level
    if not 0 < level < 1:
        raise EstimationError(f"level must be strictly between 0 and 1, got {level!r}")
    fiscal_year = int(fiscal_year)
    alpha = 1 - level
    survey = [i for i in registry if i.kind == "survey"]
    activity_inds = [i for i in registry if i.kind == "activity"]
    waves = [w for w in study.fiscal_years if w <= fiscal_year]
    plan = getattr(study, "plan", None)
    disrupted = set(getattr(plan, "disrupted_years", None) or [])
    reference_years = list(getattr(plan, "reference_years", None) or [])
    parts = []
    if survey:
        cur = _survey_wave(study, fiscal_year, survey, domain, level)
        prev_year = max((w for w in waves if w < fiscal_year), default=None)
        cur = cur.assign(previous_year=prev_year)
        if prev_year is not None:
            prev = _survey_wave(study, prev_year, survey, domain, level)
            cur = cur.merge(_compare(cur, prev, level).drop(columns="error"),
                            on=["indicator_id", "domain"], how="left").rename(columns={
                                "change": "change_previous", "change_se": "change_previous_se",
                                "change_p": "change_previous_p"})
        base_cache: dict[int, pd.DataFrame] = {}
        changes = []
        for ind in survey:
            rows = cur[cur["indicator_id"] == ind.id]
            by = ind.baseline.fiscal_year
            use_rule = rule or ind.rule
            from_wave = use_rule.baseline == "wave" and by in study.fiscal_years \
                and by <= fiscal_year
            if from_wave:
                if by not in base_cache:
                    base_cache[by] = (cur if by == fiscal_year else
                                      _survey_wave(study, by, survey, domain, level))
                ref = base_cache[by]
                ref = ref[ref["indicator_id"] == ind.id]
                source = "wave"
            else:
                ref = rows[["indicator_id", "domain"]].assign(estimate=ind.baseline.value,
                                                              se=0.0)
                source = "registry"
            ch = _compare(rows, ref, level)
            ch = ch.merge(ref[["indicator_id", "domain", "estimate", "se"]].rename(
                columns={"estimate": "baseline_used", "se": "baseline_se"}),
                on=["indicator_id", "domain"], how="left")
            ch["baseline_source"] = source
            if by == fiscal_year:
                ch["error"] = ""
            changes.append(ch)
        ch = pd.concat(changes, ignore_index=True).rename(columns={
            "change": "change_baseline", "change_se": "change_baseline_se",
            "change_p": "change_baseline_p"})
        cur = cur.merge(ch, on=["indicator_id", "domain"], how="left")
        parts.append(cur)
    if activity_inds:
        act = _indicator_series(study)
        for ind in activity_inds:
            vals = _activity_values(act, ind, domain)
            if vals.empty:
                continue
            now = vals[vals["fiscal_year"] == fiscal_year]
            row = now.assign(indicator_id=ind.id, se=np.nan, ci_low=np.nan, ci_high=np.nan,
                             df=np.nan, n=pd.NA).drop(columns="fiscal_year")
            earlier = vals[vals["fiscal_year"] < fiscal_year]
            prev_year = int(earlier["fiscal_year"].max()) if len(earlier) else None
            row["previous_year"] = prev_year
            if prev_year is not None:
                prev = earlier[earlier["fiscal_year"] == prev_year].set_index("domain")["estimate"]
                row["change_previous"] = row["estimate"] - row["domain"].map(prev)
            base = vals[vals["fiscal_year"] == ind.baseline.fiscal_year].set_index("domain")[
                "estimate"]
            if domain == CITY:
                row["baseline_used"] = ind.baseline.value
                row["baseline_source"] = "registry"
            else:
                row["baseline_used"] = row["domain"].map(base)
                row["baseline_source"] = "data"
            row["baseline_se"] = 0.0
            row["change_baseline"] = row["estimate"] - row["baseline_used"]
            row["error"] = ""
            if ind.baseline.fiscal_year in disrupted and reference_years:
                row["reference_baseline"] = row["domain"].map(_reference_level(
                    vals, reference_years))
            parts.append(row)
    if not parts:
        raise EstimationError(f"no indicator has a value for fiscal year {fiscal_year}")
    out = pd.concat([p.astype({"domain": object}) for p in parts], ignore_index=True)
    for c in ("change_baseline", "change_baseline_se", "change_baseline_p", "change_previous",
              "change_previous_se", "change_previous_p", "previous_year", "baseline_used",
              "baseline_se", "reference_baseline"):
        if c not in out:
            out[c] = np.nan
    for c in ("error", "baseline_source"):
        out[c] = out[c].fillna("") if c in out else ""
    out["change_baseline_se"] = out["change_baseline_se"].astype(float)
    by_id = {i.id: i for i in registry}
    out = _sort(out, registry, study, domain)
    kinds = out["indicator_id"].map(lambda i: by_id[i].kind)
    is_survey = (kinds == "survey").to_numpy()
    is_base_year = out["indicator_id"].map(
        lambda i: by_id[i].baseline.fiscal_year == fiscal_year).to_numpy()

    # the family of tests: the survey indicators' changes from baseline in this table (at
    # the city level one row per indicator; by domain every indicator × group of the table),
    # so ＊ means the same thing, "significant after the family adjustment", on every table
    p_base = out["change_baseline_p"].astype(float).where(is_survey & ~is_base_year)
    out["change_baseline_p_adj"] = adjust_p(p_base.to_numpy(), family_rule.multiplicity)

    def significant(p: pd.Series) -> pd.Series:
        vals = [pd.NA if not s or pd.isna(v) else bool(v < alpha)
                for s, v in zip(is_survey, p.astype(float), strict=True)]
        return pd.Series(pd.array(vals, dtype="boolean"), index=p.index)

    out["change_baseline_significant"] = significant(out["change_baseline_p_adj"])
    out["change_previous_significant"] = significant(out["change_previous_p"])

    graded = []
    for _, r in out.iterrows():
        ind = by_id[r["indicator_id"]]
        t_year, t_val = ind.target_for(fiscal_year)
        use_rule = rule or ind.rule
        blank = {"target_year": t_year, "target": t_val, "final_target": ind.targets[-1][1],
                 "target_used": np.nan, "achievement_rate": np.nan, "rate_low": np.nan,
                 "rate_high": np.nan, "mdc": np.nan, "grade": "-", "grade_range": "",
                 "grade_label": GRADE_LABELS["-"][0], "achievement_rate_reference": np.nan,
                 "grade_reference": ""}
        if domain != CITY:
            blank.update(target=np.nan, final_target=np.nan,
                         grade_basis="地区・属性別の目標は定められていないため評価しません"
                                     "（その区分の基準値からの変化のみ示します）")
            graded.append(blank)
            continue
        if ind.baseline.fiscal_year == fiscal_year:
            blank["grade_basis"] = "基準年度のため評価しません"
            graded.append(blank)
            continue
        if r["error"]:
            blank["grade_basis"] = r["error"]
            graded.append(blank)
            continue
        sig = r["change_baseline_significant"]
        kw = {"direction": ind.direction, "rule": use_rule,
              "year": max(fiscal_year, ind.baseline.fiscal_year),
              "baseline_year": ind.baseline.fiscal_year, "target_year": t_year}
        if ind.kind == "survey":
            kw.update(significant=None if pd.isna(sig) else bool(sig),
                      change_se=float(r["change_baseline_se"]))
        g = grade(float(r["estimate"]), float(r["baseline_used"]), t_val, **kw).iloc[0]
        row = {**blank, "target_used": g["target_used"],
               "achievement_rate": g["achievement_rate"], "rate_low": g["rate_low"],
               "rate_high": g["rate_high"], "mdc": g["mdc"], "grade": g["grade"],
               "grade_range": g["grade_range"],
               "grade_label": g["label_ja"], "grade_basis": g["basis"]}
        if pd.notna(r["reference_baseline"]):
            alt = grade(float(r["estimate"]), float(r["reference_baseline"]), t_val,
                        **kw).iloc[0]
            row.update(achievement_rate_reference=alt["achievement_rate"],
                       grade_reference=alt["grade"])
        graded.append(row)
    out = pd.concat([out, pd.DataFrame(graded, index=out.index)], axis=1)
    n = pd.to_numeric(out["n"], errors="coerce")
    out["small_base"] = (n < options.small_base).fillna(False).astype(bool)
    out["base"] = [
        "有効回答（無回答・非該当を除く）" if s else "活動統計（実数）" for s in is_survey]
    notes = []
    for _, r in out.iterrows():
        parts_note = []
        if r["small_base"]:
            parts_note.append(f"参考値（n<{options.small_base}）")
        if pd.notna(r["reference_baseline"]):
            parts_note.append(
                f"基準年度{by_id[r['indicator_id']].baseline.fiscal_year}は活動が妨げられた年度です。"
                f"平常年度（{'・'.join(map(str, reference_years))}）の平均"
                f"{r['reference_baseline']:.0f}を基準にすると達成率"
                f"{100 * r['achievement_rate_reference']:.0f}%・評価{r['grade_reference']}")
        if r["error"]:
            parts_note.append(str(r["error"]))
        notes.append("／".join(parts_note))
    out["note"] = notes
    out["baseline_disrupted"] = out["indicator_id"].map(
        lambda i: by_id[i].baseline.fiscal_year in disrupted)
    meta = pd.DataFrame([{"name": by_id[i].name, "policy": by_id[i].policy,
                          "policy_name": by_id[i].policy_name, "measure": by_id[i].measure,
                          "measure_name": by_id[i].measure_name, "kind": by_id[i].kind,
                          "stage": by_id[i].stage, "unit": by_id[i].unit,
                          "direction": by_id[i].direction,
                          "baseline_year": by_id[i].baseline.fiscal_year,
                          "baseline": by_id[i].baseline.value} for i in out["indicator_id"]],
                        index=out.index)
    out = pd.concat([out, meta], axis=1)
    out["fiscal_year"] = fiscal_year
    out["domain_type"] = domain
    out["n"] = pd.array(n, dtype="Int64")
    out["previous_year"] = pd.array(pd.to_numeric(out["previous_year"]), dtype="Int64")
    return out[_COLUMNS]


_COLUMNS = [
    "indicator_id", "name", "policy", "policy_name", "measure", "measure_name", "kind",
    "stage", "unit", "direction", "fiscal_year", "domain_type", "domain", "estimate", "se",
    "ci_low", "ci_high", "df", "n", "base", "small_base", "baseline_year", "baseline",
    "baseline_source", "baseline_used", "baseline_se", "baseline_disrupted",
    "reference_baseline", "target_year", "target", "final_target", "target_used",
    "achievement_rate", "rate_low", "rate_high", "mdc", "grade", "grade_range", "grade_label",
    "grade_basis",
    "achievement_rate_reference", "grade_reference", "change_baseline", "change_baseline_se",
    "change_baseline_p", "change_baseline_p_adj", "change_baseline_significant",
    "previous_year", "change_previous", "change_previous_se", "change_previous_p",
    "change_previous_significant", "note", "error",
]


def indicator_history(
    study: Any,
    *,
    registry: IndicatorRegistry | None = None,
    through: int | None = None,
    domain: str = CITY,
    level: float = 0.95,
) -> pd.DataFrame:
    """Every indicator in every year with data up to ``through``.

    Survey indicators: one row per wave with the design-based estimate and interval;
    activity indicators: one row per fiscal year of the activity statistics (no interval).

    Returns
    -------
    pandas.DataFrame
        ``indicator_id, kind, fiscal_year, domain, estimate, se, ci_low, ci_high, df, n``.
    """
    registry = load_registry(study) if registry is None else registry
    survey = [i for i in registry if i.kind == "survey"]
    parts = []
    for fy in study.fiscal_years:
        if through is not None and fy > through:
            continue
        if survey:
            parts.append(_survey_wave(study, fy, survey, domain, level).assign(
                fiscal_year=fy, kind="survey"))
    acts = [i for i in registry if i.kind == "activity"]
    if acts:
        act = _indicator_series(study)
        for ind in acts:
            vals = _activity_values(act, ind, domain)
            if through is not None:
                vals = vals[vals["fiscal_year"] <= through]
            parts.append(vals.assign(indicator_id=ind.id, kind="activity", se=np.nan,
                                     ci_low=np.nan, ci_high=np.nan, df=np.nan, n=pd.NA))
    cols = ["indicator_id", "kind", "fiscal_year", "domain", "estimate", "se", "ci_low",
            "ci_high", "df", "n"]
    out = pd.concat([p.astype({"domain": object}) for p in parts if len(p)],
                    ignore_index=True)[cols]
    out = out.sort_values("fiscal_year", kind="stable")
    out = _sort(out, registry, study, domain)
    out["n"] = pd.array(pd.to_numeric(out["n"], errors="coerce"), dtype="Int64")
    out["fiscal_year"] = out["fiscal_year"].astype(int)
    return out


def _indicator_series(study: Any) -> pd.DataFrame:
    """The series activity-type indicators read: the study's activity statistics plus its
    collaboration register's yearly series (``Study.indicator_series``); a study object with
    only ``activity()`` gives its activity statistics."""
    series = getattr(study, "indicator_series", None)
    return series() if callable(series) else study.activity()
