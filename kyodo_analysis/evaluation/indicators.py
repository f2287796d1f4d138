"""Plan indicators (成果指標): the registry, their values with uncertainty, grades and trends.

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
  順調 / 要注意 / 遅れ.

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

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from kyodo_analysis.errors import ConfigError, EstimationError
from kyodo_analysis.evaluation.grading import GRADE_LABELS, GradingRule, grade
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = [
    "JA_COLUMNS",
    "ActivitySource",
    "Baseline",
    "Indicator",
    "IndicatorRegistry",
    "IndicatorTrends",
    "SurveySource",
    "activity_trend_summary",
    "activity_trend_table",
    "compute_indicators",
    "dashboard_table",
    "domain_table",
    "indicator_history",
    "indicator_trends",
    "load_registry",
    "to_japanese",
]

CITY = "市全体"
Direction = Literal["higher", "lower"]


# ======================================================================================
# registry
# ======================================================================================
@dataclass(frozen=True)
class SurveySource:
    """A survey indicator: the share of valid answers to ``question`` that are in ``levels``.

    Attributes
    ----------
    question : str
        Codebook id of a single-answer question, or of one option column of a
        multiple-response question (``q3_4``: 0 = not ticked, 1 = ticked).
    levels : tuple of int
        Answer codes counted (e.g. ``(1, 2)`` for よく知っている + ある程度知っている).
    statistic : {"share"}
        The statistic (only shares of answers are supported).
    subpopulation : tuple of (str, tuple of int), optional
        Restrict the base to respondents whose column is in the listed codes
        (``domain:`` in the YAML), e.g. ``("reg_age", (1,))`` for residents in their 20s.
    """

    question: str
    levels: tuple[int, ...]
    statistic: str = "share"
    subpopulation: tuple[str, tuple[int, ...]] | None = None

    kind = "survey"


@dataclass(frozen=True)
class ActivitySource:
    """An activity indicator: one activity series, or the sum of several (same fiscal year)."""

    series: tuple[str, ...]

    kind = "activity"


@dataclass(frozen=True)
class Baseline:
    """Baseline (基準値): fiscal year and value."""

    fiscal_year: int
    value: float


@dataclass(frozen=True)
class Indicator:
    """One plan indicator (see :func:`load_registry` for the YAML keys)."""

    id: str
    name: str
    policy: str
    measure: str
    source: SurveySource | ActivitySource
    unit: str
    direction: Direction
    baseline: Baseline
    targets: tuple[tuple[int, float], ...]
    rule: GradingRule = field(default_factory=GradingRule)
    stage: str = "outcome"
    truth: str | None = None
    policy_name: str = ""
    measure_name: str = ""

    @property
    def kind(self) -> str:
        """"survey" or "activity"."""
        return self.source.kind

    @property
    def target_years(self) -> list[int]:
        return [y for y, _ in self.targets]

    def target(self, fiscal_year: int) -> float:
        """The target set for ``fiscal_year`` (KeyError if none)."""
        return dict(self.targets)[fiscal_year]

    def target_for(self, fiscal_year: int) -> tuple[int, float]:
        """The target an evaluation in ``fiscal_year`` is graded against: the first target
        year at or after ``fiscal_year`` (the final one once all have passed)."""
        for year, value in self.targets:
            if year >= fiscal_year:
                return year, value
        return self.targets[-1]

    def to_dict(self) -> dict[str, Any]:
        """Flat description (one row of :meth:`IndicatorRegistry.to_frame`)."""
        src = self.source
        if isinstance(src, SurveySource):
            source = f"{src.question} ∈ {list(src.levels)}"
            if src.subpopulation:
                source += f"（{src.subpopulation[0]} ∈ {list(src.subpopulation[1])} のみ）"
        else:
            source = " + ".join(src.series)
        return {
            "indicator_id": self.id, "name": self.name, "policy": self.policy,
            "policy_name": self.policy_name, "measure": self.measure,
            "measure_name": self.measure_name, "kind": self.kind, "stage": self.stage,
            "source": source, "unit": self.unit, "direction": self.direction,
            "baseline_year": self.baseline.fiscal_year, "baseline": self.baseline.value,
            **{f"target_FY{y}": v for y, v in self.targets},
        }


@dataclass(frozen=True)
class IndicatorRegistry:
    """The plan's indicators in registry order, with the global grading rule."""

    indicators: tuple[Indicator, ...]
    rule: GradingRule = field(default_factory=GradingRule)
    demo: bool = False
    file: str | None = None

    def __iter__(self) -> Iterator[Indicator]:
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)

    def __getitem__(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(f"no indicator {indicator_id!r}; the registry has "
                       f"{[i.id for i in self.indicators]}")

    def select(self, *, policy: str | None = None, kind: str | None = None,
               ids: Sequence[str] | None = None) -> IndicatorRegistry:
        """A registry with only the indicators of ``policy``, ``kind`` and/or ``ids``."""
        keep = tuple(i for i in self.indicators
                     if (policy is None or i.policy == policy)
                     and (kind is None or i.kind == kind)
                     and (ids is None or i.id in ids))
        return replace(self, indicators=keep)

    def policies(self) -> dict[str, str]:
        """Policy id -> name (from the study's plan) of the indicators, in registry order."""
        return dict.fromkeys((i.policy for i in self.indicators), "") | {
            i.policy: i.policy_name for i in self.indicators if i.policy_name}

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator: id, names, policy, measure, source, baseline, targets."""
        return pd.DataFrame([i.to_dict() for i in self.indicators])

    @classmethod
    def from_yaml(cls, path: str | Path, *, plan: Any = None) -> IndicatorRegistry:
        """Read ``indicators.yaml``; see :func:`load_registry`."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError("indicator file not found", file=str(path))
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"indicator file is not valid UTF-8 YAML: {exc}",
                              file=str(path)) from None
        return cls.from_dict(doc, file=str(path), plan=plan)

    @classmethod
    def from_dict(cls, doc: Any, *, file: str | None = None, plan: Any = None) -> IndicatorRegistry:
        """Build a registry from the parsed YAML document; see :func:`load_registry`."""
        if not isinstance(doc, Mapping):
            raise ConfigError("indicator file must be a mapping with an 'indicators' list",
                              file=file)
        unknown = set(doc) - {"indicators", "grading", "demo"}
        if unknown:
            raise ConfigError("unknown key; expected indicators, grading, demo",
                              file=file, key=str(sorted(map(str, unknown))[0]))
        items = doc.get("indicators")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ConfigError("must be a list of indicators (empty while none is defined)",
                              file=file, key="indicators")
        global_rule = doc.get("grading") or {}
        if not isinstance(global_rule, Mapping):
            raise ConfigError("must be a mapping of grading rule options", file=file,
                              key="grading")
        try:
            rule = GradingRule.from_dict(global_rule)
        except ConfigError as err:
            raise ConfigError(err.message, file=file, key=f"grading.{err.key}") from None
        out = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            ind = _parse_indicator(item, f"indicators[{i}]", file, global_rule, plan)
            if ind.id in seen:
                raise ConfigError(f"duplicate indicator id {ind.id!r}", file=file,
                                  key=f"indicators[{i}].id")
            seen.add(ind.id)
            out.append(ind)
        return cls(indicators=tuple(out), rule=rule, demo=bool(doc.get("demo", False)),
                   file=file)

    def check(self, study: Any) -> None:
        """Check that every source exists in ``study``: questions and answer codes in its
        codebook, series in its activity statistics.

        Raises
        ------
        ConfigError
            Naming the indicator's key and the missing question, code or series.
        """
        cb = study.codebook
        series: set[str] | None = None
        for i, ind in enumerate(self.indicators):
            key = f"indicators[{i}].source"
            src = ind.source
            if isinstance(src, SurveySource):
                codes = _valid_codes(cb, src.question)
                if codes is None:
                    raise ConfigError(f"indicator {ind.id}: question {src.question!r} is not "
                                      "in the codebook", file=self.file, key=f"{key}.question")
                bad = [c for c in src.levels if c not in codes]
                if bad:
                    raise ConfigError(f"indicator {ind.id}: answer codes {bad} are not valid "
                                      f"codes of {src.question} ({sorted(codes)})",
                                      file=self.file, key=f"{key}.levels")
                if src.subpopulation and _valid_codes(cb, src.subpopulation[0]) is None:
                    raise ConfigError(f"indicator {ind.id}: domain column "
                                      f"{src.subpopulation[0]!r} is not in the codebook",
                                      file=self.file, key=f"{key}.domain")
            else:
                if series is None:
                    series = set(study.activity()["series"].unique())
                missing = [s for s in src.series if s not in series]
                if missing:
                    raise ConfigError(f"indicator {ind.id}: activity series {missing} not in "
                                      f"the activity statistics ({sorted(series)})",
                                      file=self.file, key=f"{key}.series")


def _fail(file: str | None, key: str, reason: str) -> ConfigError:
    return ConfigError(reason, file=file, key=key)


def _int_year(value: Any, file: str | None, key: str) -> int:
    from kyodo_analysis.calendar import parse_fiscal_year

    if isinstance(value, bool):
        raise _fail(file, key, f"must be a fiscal year such as 2026, got {value!r}")
    try:
        return int(parse_fiscal_year(value))
    except (TypeError, ValueError):
        raise _fail(file, key, f"must be a fiscal year such as 2026, got {value!r}") from None


def _number(value: Any, file: str | None, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(file, key, f"must be a finite number, got {value!r}")
    return float(value)


def _codes(value: Any, file: str | None, key: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise _fail(file, key, f"must be an answer code or a list of codes, got {value!r}")
    return tuple(values)


def _plan_names(plan: Any, policy: str, measure: str, file: str | None,
                key: str) -> tuple[str, str]:
    """The names of ``policy`` and ``measure`` in the study's plan (study.yaml ``plan``).

    A study without declared policies accepts any policy id (names stay empty)."""
    policies = list(getattr(plan, "policies", None) or [])
    if not policies:
        return "", ""
    by_id = {p.id: p for p in policies}
    if policy not in by_id:
        raise _fail(file, f"{key}.policy", f"must be one of the plan's policies "
                                           f"{', '.join(by_id)} (study.yaml plan.policies), "
                                           f"got {policy!r}")
    measures = {m.id: m.name for m in by_id[policy].measures}
    if measures and measure not in measures:
        raise _fail(file, f"{key}.measure", f"policy {policy} has measures "
                                            f"{', '.join(measures)}, got {measure!r}")
    return by_id[policy].name, measures.get(measure, "")


def _parse_indicator(item: Any, key: str, file: str | None,
                     global_rule: Mapping[str, Any], plan: Any = None) -> Indicator:
    if not isinstance(item, Mapping):
        raise _fail(file, key, "each indicator must be a mapping")
    known = {"id", "name", "policy", "measure", "source", "unit", "direction", "baseline",
             "targets", "grading", "stage", "truth", "note"}
    for k in item:
        if k not in known:
            raise _fail(file, f"{key}.{k}", f"unknown indicator key; expected one of "
                                            f"{', '.join(sorted(known))}")
    for k in ("id", "name", "policy", "measure", "source", "unit", "baseline", "targets"):
        if k not in item or item[k] in (None, ""):
            raise _fail(file, f"{key}.{k}", "required key is missing")
    ind_id = str(item["id"])
    policy = str(item["policy"])
    measure = str(item["measure"])
    policy_name, measure_name = _plan_names(plan, policy, measure, file, key)
    direction = item.get("direction", "higher")
    if direction not in ("higher", "lower"):
        raise _fail(file, f"{key}.direction", f"must be 'higher' or 'lower', got {direction!r}")
    source = _parse_source(item["source"], f"{key}.source", file)
    unit = str(item["unit"])
    if isinstance(source, SurveySource) and unit != "%":
        raise _fail(file, f"{key}.unit", f"a survey share is in '%', got {unit!r}")
    base = item["baseline"]
    if not isinstance(base, Mapping) or "fiscal_year" not in base or "value" not in base:
        raise _fail(file, f"{key}.baseline", "must be a mapping with fiscal_year and value")
    baseline = Baseline(_int_year(base["fiscal_year"], file, f"{key}.baseline.fiscal_year"),
                        _number(base["value"], file, f"{key}.baseline.value"))
    targets_raw = item["targets"]
    if not isinstance(targets_raw, Mapping) or not targets_raw:
        raise _fail(file, f"{key}.targets", "must map fiscal years to target values, "
                                            "e.g. {2026: 50.0, 2031: 55.0}")
    targets = []
    for y, v in targets_raw.items():
        year = _int_year(y, file, f"{key}.targets")
        if year <= baseline.fiscal_year:
            raise _fail(file, f"{key}.targets.{y}", f"target year {year} must be after the "
                                                    f"baseline year {baseline.fiscal_year}")
        targets.append((year, _number(v, file, f"{key}.targets.{y}")))
    targets.sort()
    if unit == "%":
        for name, v in [("baseline.value", baseline.value), *((f"targets.{y}", t)
                                                            for y, t in targets)]:
            if not 0 <= v <= 100:
                raise _fail(file, f"{key}.{name}", f"a percentage must be within 0-100, got {v}")
    own = item.get("grading") or {}
    if not isinstance(own, Mapping):
        raise _fail(file, f"{key}.grading", "must be a mapping of grading rule options")
    try:
        rule = GradingRule.from_dict({**global_rule, **own})
    except ConfigError as err:
        raise _fail(file, f"{key}.grading.{err.key}", err.message) from None
    stage = item.get("stage") or ("output" if isinstance(source, ActivitySource) else "outcome")
    if stage not in ("input", "activity", "output", "outcome"):
        raise _fail(file, f"{key}.stage", "must be input, activity, output or outcome, "
                                          f"got {stage!r}")
    return Indicator(id=ind_id, name=str(item["name"]), policy=policy, measure=measure,
                     source=source, unit=unit, direction=direction, baseline=baseline,
                     targets=tuple(targets), rule=rule, stage=stage,
                     truth=None if item.get("truth") is None else str(item["truth"]),
                     policy_name=policy_name, measure_name=measure_name)


def _parse_source(src: Any, key: str, file: str | None) -> SurveySource | ActivitySource:
    if not isinstance(src, Mapping):
        raise _fail(file, key, "must be a mapping with a type (survey or activity)")
    kind = src.get("type")
    if kind == "survey":
        for k in src:
            if k not in ("type", "question", "statistic", "levels", "domain"):
                raise _fail(file, f"{key}.{k}", "unknown survey source key; expected question, "
                                                "statistic, levels, domain")
        if not isinstance(src.get("question"), str) or not src["question"]:
            raise _fail(file, f"{key}.question", "required: the codebook id of the question")
        statistic = src.get("statistic", "share")
        if statistic != "share":
            raise _fail(file, f"{key}.statistic",
                        f"only 'share' (share of the listed answers) is supported, got "
                        f"{statistic!r}")
        if "levels" not in src:
            raise _fail(file, f"{key}.levels", "required: the answer codes counted")
        levels = _codes(src["levels"], file, f"{key}.levels")
        sub = None
        if src.get("domain") is not None:
            dom = src["domain"]
            if not isinstance(dom, Mapping) or set(dom) != {"column", "levels"}:
                raise _fail(file, f"{key}.domain", "must be a mapping with column and levels")
            sub = (str(dom["column"]), _codes(dom["levels"], file, f"{key}.domain.levels"))
        return SurveySource(src["question"], levels, statistic, sub)
    if kind == "activity":
        for k in src:
            if k not in ("type", "series"):
                raise _fail(file, f"{key}.{k}", "unknown activity source key; expected series")
        series = src.get("series")
        names = series if isinstance(series, list) else [series]
        if not names or any(not isinstance(s, str) or not s for s in names):
            raise _fail(file, f"{key}.series", "must name an activity series or list several "
                                               f"to add up, got {series!r}")
        return ActivitySource(tuple(names))
    raise _fail(file, f"{key}.type", f"must be 'survey' or 'activity', got {kind!r}")


def load_registry(study: Any = None, *, path: str | Path | None = None,
                  check: bool = True) -> IndicatorRegistry:
    """Load a study's ``indicators.yaml`` (the ``indicators:`` entry of study.yaml).

    YAML schema::

        demo: true                     # optional: the values are illustrative
        grading: {no_change_band: 0.1} # optional global GradingRule options
        indicators:
          - id: I-1
            name: 「協働」を知っている市民の割合
            policy: I                  # 推進施策 I–V
            measure: "1"               # 個別施策 number within the policy
            source: {type: survey, question: q1, statistic: share, levels: [1, 2],
                     domain: {column: reg_age, levels: [1]}}   # domain optional
            # or: {type: activity, series: 登録団体数}  (or a list of series to add up)
            unit: "%"
            direction: higher          # or lower
            baseline: {fiscal_year: 2021, value: 45.7}
            targets: {2026: 50.7, 2031: 55.7}
            grading: {prorate: true}   # optional per-indicator override
            stage: outcome             # optional: input/activity/output/outcome (logic model)

    Parameters
    ----------
    study : Study, optional
        The study whose registry to load (and check against its codebook and series).
    path : str or Path, optional
        An indicators.yaml to read instead.
    check : bool, default True
        Check sources against the study (see :meth:`IndicatorRegistry.check`).

    Returns
    -------
    IndicatorRegistry

    Raises
    ------
    ConfigError
        Naming the file, the key (``indicators[3].targets``) and the reason.

    Examples
    --------
    >>> reg = load_registry(ka.open_study())  # doctest: +SKIP
    >>> reg["I-1"].target(2031)  # doctest: +SKIP
    55.7
    """
    if path is None:
        if study is None:
            raise ConfigError("pass a study or the path of an indicators.yaml", key="path")
        name = study.settings.indicators
        if not name:
            raise ConfigError("the study names no indicator file", file=str(study.path),
                              key="indicators")
        path = study.root / name
    registry = IndicatorRegistry.from_yaml(path, plan=study.plan if study is not None else None)
    if check and study is not None:
        registry.check(study)
    return registry


def _valid_codes(codebook: Any, column: str) -> set[int] | None:
    """Substantive codes of a question or of a multiple-response option column."""
    if column in codebook:
        q = codebook[column]
        return set(q.codes) if not q.is_multiple else None
    for q in codebook:
        if q.is_multiple and column in q.option_ids:
            return {0, 1}
    return None


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
    """Change cur - ref by (indicator_id, domain): independent samples z test."""
    from kyodo_analysis.stats import compare_independent

    keys = ["indicator_id", "domain"]
    if cur.empty or ref.empty:
        return pd.DataFrame(columns=[*keys, "change", "change_se", "change_p"])
    a = cur[[*keys, "estimate", "se"]].astype({"domain": object})
    b = ref[[*keys, "estimate", "se"]].astype({"domain": object})
    try:
        got = compare_independent(a, b, level=level)
    except EstimationError:
        return pd.DataFrame(columns=[*keys, "change", "change_se", "change_p"])
    return got.rename(columns={"estimate": "change", "se": "change_se",
                               "p_value": "change_p"})[[*keys, "change", "change_se",
                                                        "change_p"]]


def compute_indicators(
    study: Any,
    fiscal_year: int,
    *,
    registry: IndicatorRegistry | None = None,
    domain: str = CITY,
    level: float = 0.95,
    rule: GradingRule | None = None,
    options: DisplayOptions = DEFAULT_OPTIONS,
) -> pd.DataFrame:
    """Every indicator of the registry for one fiscal year and one domain type.

    Survey indicators are design-based estimates from ``study.design(fiscal_year)`` (see the
    module docstring for the base); activity indicators are the published counts (summed
    when an indicator adds several series). Each row is then graded with
    :func:`~kyodo_analysis.evaluation.grading.grade` against the indicator's baseline and
    the target of the first target year at or after ``fiscal_year``; for survey indicators
    the grade uses the significance of the change since the baseline.

    Changes: ``change_baseline`` is the estimate minus the baseline wave's estimate in the
    same domain when the baseline year is an earlier survey wave (two independent samples:
    ``z = d / sqrt(se1^2 + se0^2)``, :func:`kyodo_analysis.stats.compare_independent`), or
    minus the registry's baseline value otherwise (in the baseline year itself, or when the
    baseline predates the survey: a one-sample z test with the baseline taken as exact);
    ``change_previous`` is the change since the latest earlier wave (or year, for
    activity). Activity counts have no sampling error: their ``*_significant`` columns are
    missing (not applicable).

    Parameters
    ----------
    study : Study
        The study (its waves must be imported).
    fiscal_year : int
        Fiscal year evaluated; survey indicators need a wave in that year.
    registry : IndicatorRegistry, optional
        Defaults to the study's registry (:func:`load_registry`).
    domain : str, default "市全体"
        "市全体", a district level or attribute name of the study (``districts``,
        ``attributes`` in study.yaml) or a codebook column id. Domain rows
        are graded against the city-wide baselines and targets, for reference. Activity
        indicators appear in a domain table only if their series are published by domain.
    level : float, default 0.95
        Confidence level of intervals and tests (significance: ``p < 1 - level``).
    rule : GradingRule, optional
        Overrides every indicator's own rule.
    options : DisplayOptions
        ``small_base`` sets the 参考値 threshold.

    Returns
    -------
    pandas.DataFrame
        One row per indicator × domain with columns ``indicator_id, name, policy,
        policy_name, measure, kind, unit, direction, fiscal_year, domain_type, domain,
        estimate, se, ci_low, ci_high, df, n, base, small_base, baseline_year, baseline,
        target_year, target, final_target, achievement_rate, grade, grade_label,
        grade_basis, change_baseline, change_baseline_se, change_baseline_p,
        change_baseline_significant, previous_year, change_previous, change_previous_se,
        change_previous_p, change_previous_significant, note``. Percentages are 0–100 and
        changes in points (ポイント). :func:`to_japanese` renames the columns.

    Raises
    ------
    EstimationError
        For an unknown domain; ConfigError for a fiscal year without a wave when the
        registry has survey indicators.

    Examples
    --------
    >>> table = compute_indicators(ka.open_study(), 2025)  # doctest: +SKIP
    >>> table[["indicator_id", "estimate", "grade"]]  # doctest: +SKIP
    """
    registry = load_registry(study) if registry is None else registry
    if not 0 < level < 1:
        raise EstimationError(f"level must be strictly between 0 and 1, got {level!r}")
    fiscal_year = int(fiscal_year)
    alpha = 1 - level
    survey = [i for i in registry if i.kind == "survey"]
    activity_inds = [i for i in registry if i.kind == "activity"]
    waves = [w for w in study.fiscal_years if w <= fiscal_year]
    parts = []
    if survey:
        cur = _survey_wave(study, fiscal_year, survey, domain, level)
        prev_year = max((w for w in waves if w < fiscal_year), default=None)
        cur = cur.assign(previous_year=prev_year)
        if prev_year is not None:
            prev = _survey_wave(study, prev_year, survey, domain, level)
            cur = cur.merge(_compare(cur, prev, level), on=["indicator_id", "domain"],
                            how="left").rename(columns={"change": "change_previous",
                                                        "change_se": "change_previous_se",
                                                        "change_p": "change_previous_p"})
        base_cache: dict[int, pd.DataFrame] = {}
        changes = []
        for ind in survey:
            rows = cur[cur["indicator_id"] == ind.id]
            by = ind.baseline.fiscal_year
            if by in study.fiscal_years and by < fiscal_year:
                if by not in base_cache:
                    base_cache[by] = _survey_wave(study, by, survey, domain, level)
                ref = base_cache[by]
                ref = ref[ref["indicator_id"] == ind.id]
            else:
                ref = rows[["indicator_id", "domain"]].assign(estimate=ind.baseline.value, se=0.0)
            changes.append(_compare(rows, ref, level))
        if changes:
            ch = pd.concat(changes, ignore_index=True).rename(columns={
                "change": "change_baseline", "change_se": "change_baseline_se",
                "change_p": "change_baseline_p"})
            cur = cur.merge(ch, on=["indicator_id", "domain"], how="left")
        parts.append(cur)
    if activity_inds:
        act = study.activity()
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
                row["change_baseline"] = row["estimate"] - ind.baseline.value
            else:
                row["change_baseline"] = row["estimate"] - row["domain"].map(base)
            parts.append(row)
    if not parts:
        raise EstimationError(f"no indicator has a value for fiscal year {fiscal_year}")
    out = pd.concat([p.astype({"domain": object}) for p in parts], ignore_index=True)
    for c in ("change_baseline", "change_baseline_se", "change_baseline_p", "change_previous",
              "change_previous_se", "change_previous_p", "previous_year"):
        if c not in out:
            out[c] = np.nan
    out["change_baseline_se"] = out["change_baseline_se"].astype(float)
    by_id = {i.id: i for i in registry}
    out = _sort(out, registry, study, domain)
    kinds = out["indicator_id"].map(lambda i: by_id[i].kind)
    is_survey = (kinds == "survey").to_numpy()

    def significant(p: pd.Series) -> pd.Series:
        vals = [pd.NA if not s or pd.isna(v) else bool(v < alpha)
                for s, v in zip(is_survey, p.astype(float), strict=True)]
        return pd.Series(pd.array(vals, dtype="boolean"), index=p.index)

    out["change_baseline_significant"] = significant(out["change_baseline_p"])
    out["change_previous_significant"] = significant(out["change_previous_p"])

    graded = []
    for _, r in out.iterrows():
        ind = by_id[r["indicator_id"]]
        t_year, t_val = ind.target_for(fiscal_year)
        if domain != CITY and ind.unit != "%":
            graded.append({"target_year": t_year, "target": np.nan, "final_target": np.nan,
                           "target_used": np.nan, "achievement_rate": np.nan, "grade": "-",
                           "grade_label": GRADE_LABELS["-"][0],
                           "grade_basis": "city-wide count target does not apply to a domain"})
            continue
        use_rule = rule or ind.rule
        sig = r["change_baseline_significant"]
        g = grade(float(r["estimate"]), ind.baseline.value, t_val, direction=ind.direction,
                  rule=use_rule, significant=None if pd.isna(sig) else bool(sig),
                  year=max(fiscal_year, ind.baseline.fiscal_year),
                  baseline_year=ind.baseline.fiscal_year, target_year=t_year).iloc[0]
        graded.append({"target_year": t_year, "target": t_val,
                       "final_target": ind.targets[-1][1], "target_used": g["target_used"],
                       "achievement_rate": g["achievement_rate"], "grade": g["grade"],
                       "grade_label": g["label_ja"], "grade_basis": g["basis"]})
    out = pd.concat([out, pd.DataFrame(graded, index=out.index)], axis=1)
    n = pd.to_numeric(out["n"], errors="coerce")
    out["small_base"] = (n < options.small_base).fillna(False).astype(bool)
    out["base"] = [
        "有効回答（無回答・非該当を除く）" if s else "活動統計（実数）" for s in is_survey]
    out["note"] = np.where(out["small_base"], f"参考値（n<{options.small_base}）", "")
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
    "target_year", "target", "final_target", "target_used", "achievement_rate", "grade",
    "grade_label", "grade_basis", "change_baseline", "change_baseline_se",
    "change_baseline_p", "change_baseline_significant", "previous_year", "change_previous",
    "change_previous_se", "change_previous_p", "change_previous_significant", "note",
]

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
        act = study.activity()
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
                "latest_year": "直近年度", "latest": "直近値", "target_year": "目標年度",
                "target": "目標値", "estimate": "予測値", "pi_low": "予測区間（下限）",
                "pi_high": "予測区間（上限）", "prob_reach": "目標到達確率",
                "status_label": "進捗", "reason_ja": "判定理由"}
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

    The status is :func:`~kyodo_analysis.stats.trends.track_status` of ``prob_reach``
    (順調 ≥ ``on_track`` > 要注意 ≥ ``off_track`` > 遅れ). A model that cannot be fitted
    gives a row with ``status`` "-" and the reason.

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
    from kyodo_analysis.stats.trends import (
        forecast,
        mann_kendall,
        probability_of_reaching,
        sens_slope,
        survey_trend,
        track_status,
    )

    registry = load_registry(study) if registry is None else registry
    plan_start = study.plan.start if plan_start is None else plan_start
    covid_years = study.plan.disrupted_years if covid_years is None else covid_years
    if history is None:
        history = indicator_history(study, registry=registry, through=through, level=level)
    elif through is not None:
        history = history[history["fiscal_year"] <= through]
    history = history[history["domain"] == CITY]
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
                for year, target in ind.targets:
                    res = survey_trend(p, se, forecast_years=[year], target=target / 100,
                                       direction=ind.direction, level=level)
                    f = res.forecasts.iloc[0]
                    per_year[year] = {k: 100 * float(f[k]) for k in
                                      ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")}
                    per_year[year]["prob_reach"] = float(f["prob_reach"])
                    fits[ind.id] = res
                model.update(slope_logit=res.slope, slope_se=res.slope_se, slope_p=res.slope_p,
                             dispersion=res.dispersion)
        except EstimationError as exc:
            error = str(exc)
        model["error"] = error
        models.append(model)
        for year, target in ind.targets:
            got = per_year.get(year)
            row = {**base, "direction": ind.direction, "latest_year": latest_year,
                   "latest": latest, "target_year": year, "target": target}
            if got is None:
                row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, pi_low=np.nan,
                           pi_high=np.nan, prob_reach=np.nan, status="-", status_label="-",
                           reason=f"予測できません（{error}）", reason_ja="予測できません")
            else:
                st = track_status(got["prob_reach"], on_track=on_track, off_track=off_track)
                row.update(got, status=st.status, status_label=st.label_ja, reason=st.reason,
                           reason_ja=st.reason.split(" / ")[0])
            fc_rows.append(row)
    return IndicatorTrends(models=pd.DataFrame(models), forecasts=pd.DataFrame(fc_rows),
                           history=history.reset_index(drop=True), fits=fits)
