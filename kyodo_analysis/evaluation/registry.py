"""The plan's indicator registry (``indicators.yaml``): schema, parsing and checks.

Each indicator is tied to one of the plan's promotion policies (推進施策) and one of its
measures (個別施策), with a data source, a baseline (基準値) and targets (目標値) by fiscal
year, and the grading rule it is graded with (:mod:`kyodo_analysis.evaluation.grading`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from kyodo_analysis import yamlio
from kyodo_analysis.config.base import unknown_key_message
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.evaluation.grading import GradingRule

__all__ = ["CITY", "ActivitySource", "Baseline", "Indicator", "IndicatorRegistry",
           "SurveySource", "load_registry"]

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
            doc = yamlio.safe_load(path.read_text(encoding="utf-8-sig"))
        except (yamlio.YAMLError, UnicodeDecodeError) as exc:
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
            first = sorted(map(str, unknown))[0]
            raise ConfigError(unknown_key_message(first, ["indicators", "grading", "demo"]),
                              file=file, key=first)
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
                    series = set(_indicator_series(study)["series"].unique())
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
            raise _fail(file, f"{key}.{k}", unknown_key_message(k, sorted(known)))
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
        raise _fail(file, key, "must be a mapping with a type (survey, activity or register)")
    kind = src.get("type")
    if kind == "survey":
        for k in src:
            if k not in ("type", "question", "statistic", "levels", "domain"):
                raise _fail(file, f"{key}.{k}", unknown_key_message(
                    k, ["type", "question", "statistic", "levels", "domain"]))
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
                raise _fail(file, f"{key}.{k}", unknown_key_message(k, ["type", "series"]))
        series = src.get("series")
        names = series if isinstance(series, list) else [series]
        if not names or any(not isinstance(s, str) or not s for s in names):
            raise _fail(file, f"{key}.series", "must name an activity series or list several "
                                               f"to add up, got {series!r}")
        return ActivitySource(tuple(names))
    if kind == "register":
        return _register_source(src, key, file)
    raise _fail(file, f"{key}.type", f"must be 'survey', 'activity' or 'register', got {kind!r}")


def _register_source(src: Mapping, key: str, file: str | None) -> ActivitySource:
    """``{type: register, measure: projects, policy: III}``: a yearly series of the study's
    collaboration register (see
    :func:`kyodo_analysis.collaboration.measures.register_series`), graded like an activity
    series."""
    from kyodo_analysis.collaboration.measures import REGISTER_MEASURES, register_series_name

    for k in src:
        if k not in ("type", "measure", "policy"):
            raise _fail(file, f"{key}.{k}", "unknown register source key; expected measure, "
                                            "policy")
    measure = src.get("measure")
    if measure not in REGISTER_MEASURES:
        raise _fail(file, f"{key}.measure", f"must be one of {', '.join(REGISTER_MEASURES)}, "
                                            f"got {measure!r}")
    policy = src.get("policy")
    if policy is not None and measure != "projects":
        raise _fail(file, f"{key}.policy", "only the measure 'projects' is counted per policy")
    return ActivitySource((register_series_name(measure, None if policy is None else str(policy)),))


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
            # or: {type: register, measure: projects, policy: III}  (the collaboration
            #     register: projects, partners, two_non_city_share, non_city_lead_share,
            #     mean_review_score; graded like an activity series)
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


def _indicator_series(study: Any) -> pd.DataFrame:
    """The series activity-type indicators read: the study's activity statistics plus its
    collaboration register's yearly series (``Study.indicator_series``); a study object with
    only ``activity()`` gives its activity statistics."""
    series = getattr(study, "indicator_series", None)
    return series() if callable(series) else study.activity()
