"""Achievement rates and grades for plan indicators (成果指標の達成度評価).

The Citizen Challenge Collaboration Plan sets, for each indicator, a baseline value
(基準値), a target value (目標値) for a target fiscal year, and a direction ("higher is
better" or "lower is better"). This module turns an observed value into

* an **achievement rate** (達成率) ``(actual - baseline) / (target - baseline)``, and
* a **grade** (評価区分) on a five-level scale with Japanese labels.

Grade scheme (one rule, declared in indicators.yaml ``grading:``)
------------------------------------------------------------------
======  ==========  ======================================================================
grade   label (ja)  rule (``r`` = achievement rate, defaults of :class:`GradingRule`)
======  ==========  ======================================================================
S       目標達成     evidence and ``r >= s_threshold`` [1.0]
A       概ね達成     evidence and ``a_threshold <= r < s_threshold`` [0.8]
B       改善         evidence and ``r`` above the 横ばい band [±0.10 of the gap]
C       横ばい       evidence and ``r`` inside the band, or no evidence but the whole
                    interval of ``r`` inside the band
D       悪化         evidence and ``r`` below the band
H       判定保留     no evidence and the interval of ``r`` reaches outside the band: the
                    change cannot be told from sampling noise yet (the minimum detectable
                    change is reported)
``-``   評価対象外   a value is missing, the baseline year itself, or a row without a
                    target of its own (districts)
======  ==========  ======================================================================

*Evidence* is the same for every grade, S included: the change from the baseline is
distinguishable from zero at the rule's level (a z test on ``change_se``, or a decision
passed in after a multiplicity adjustment, :func:`adjust_p`). Administrative counts carry no
sampling error and are graded on their value. The band is a fraction of the baseline-to-
target gap (``band_unit: gap``) or a number of points (``band_unit: points``); presets are
in :data:`PRESETS`. No municipality's name is attached to the scheme: it is this report's
own, stated on the page (:meth:`GradingRule.describe_ja`).

Mid-term review with a prorated target (``prorate: true``) interpolates the target linearly
by fiscal year between the baseline year and the target year.

Targets already met at baseline (維持目標): the rate is ``1.0`` when the target is kept and
``NaN`` otherwise; the grade is S (kept) or D (missed) with evidence, H without.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from kyodo_analysis.config.base import unknown_key_message
from kyodo_analysis.errors import ConfigError, EstimationError
from kyodo_analysis.stats import _dist

__all__ = [
    "GRADE_LABELS",
    "PRESETS",
    "GradingRule",
    "achievement_rate",
    "adjust_p",
    "change_is_significant",
    "grade",
    "grade_frame",
    "minimum_detectable_change",
    "prorated_target",
]

Direction = Literal["higher", "lower"]

#: Grade code -> (Japanese label, English label).
GRADE_LABELS: dict[str, tuple[str, str]] = {
    "S": ("目標達成", "target achieved"),
    "A": ("概ね達成", "nearly achieved"),
    "B": ("改善", "improving"),
    "C": ("横ばい", "no change"),
    "D": ("悪化", "worsening"),
    "H": ("判定保留", "not yet distinguishable"),
    "-": ("評価対象外", "not graded"),
}

_DIRECTIONS = ("higher", "lower")

#: Tolerance on threshold comparisons, so that e.g. (0.31 - 0.30) / (0.40 - 0.30), which is
#: 0.0999999... in floating point, counts as exactly on the 0.10 band edge.
_EPS = 1e-9


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _as_float_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise EstimationError(f"{name} must be numeric, got {value!r}") from exc
    if np.isinf(arr).any():
        raise EstimationError(f"{name} must be finite, got {value!r}")
    return arr


def _first_index(*values: Any) -> pd.Index | None:
    for v in values:
        if isinstance(v, pd.Series):
            return v.index
    return None


def _direction_sign(direction: Any, shape: tuple[int, ...]) -> np.ndarray:
    """+1 for "higher is better", -1 for "lower is better", broadcast to ``shape``."""
    if isinstance(direction, str):
        if direction not in _DIRECTIONS:
            raise EstimationError(
                f"direction must be 'higher' or 'lower', got {direction!r}"
            )
        return np.full(shape, 1.0 if direction == "higher" else -1.0)
    values = np.asarray(direction, dtype=object)
    bad = [d for d in values.ravel() if d not in _DIRECTIONS]
    if bad:
        raise EstimationError(f"direction must be 'higher' or 'lower', got {bad[0]!r}")
    sign = np.where(values == "higher", 1.0, -1.0)
    try:
        return np.broadcast_to(sign, shape).astype(float)
    except ValueError as exc:
        raise EstimationError(
            f"direction has shape {sign.shape}, which does not match the data shape {shape}"
        ) from exc


def _broadcast(**arrays: np.ndarray) -> dict[str, np.ndarray]:
    try:
        out = np.broadcast_arrays(*arrays.values())
    except ValueError as exc:
        shapes = ", ".join(f"{k}{v.shape}" for k, v in arrays.items())
        raise EstimationError(f"inputs cannot be broadcast together: {shapes}") from exc
    return dict(zip(arrays.keys(), (np.array(a, dtype=float) for a in out), strict=True))


def _rate_core(
    actual: np.ndarray, baseline: np.ndarray, target: np.ndarray, sign: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Achievement rate and a boolean "maintenance target" mask (all arrays same shape)."""
    gap = target - baseline
    oriented_gap = sign * gap
    maintenance = oriented_gap <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (actual - baseline) / gap
    met = sign * (actual - target) >= 0
    rate = np.where(maintenance, np.where(met, 1.0, np.nan), ratio)
    missing = np.isnan(actual) | np.isnan(baseline) | np.isnan(target)
    rate = np.where(missing, np.nan, rate)
    return rate, maintenance & ~missing


# --------------------------------------------------------------------------------------
# achievement rate
# --------------------------------------------------------------------------------------
def achievement_rate(
    actual: Any,
    baseline: Any,
    target: Any,
    *,
    direction: Direction | Any = "higher",
) -> float | np.ndarray | pd.Series:
    """Achievement rate ``(actual - baseline) / (target - baseline)`` (達成率).

    Parameters
    ----------
    actual, baseline, target : float, array-like or pandas.Series
        Observed value, baseline value (基準値) and target value (目標値). Broadcast
        against each other; ``NaN`` propagates to ``NaN``.
    direction : {"higher", "lower"} or array-like of them, default "higher"
        Whether higher or lower values are better. The formula is the same in both
        cases (for "lower", ``target < baseline`` and a decrease gives a positive rate);
        the direction decides whether the target is already met at baseline and, for
        such maintenance targets, whether ``actual`` is at least as good as ``target``.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        ``0`` at the baseline, ``1`` at the target, ``> 1`` beyond it, negative when
        the indicator moved the wrong way. For a *maintenance target* (the target is
        equal to the baseline or already met at baseline) the ratio is undefined; the
        rate is then ``1.0`` if ``actual`` is at least as good as ``target`` and ``NaN``
        otherwise. A Series is returned if any input is a Series (its index is kept), a
        float for scalar inputs, otherwise an array.

    Raises
    ------
    EstimationError
        If an input is not numeric, is infinite, the shapes do not broadcast, or
        ``direction`` is not "higher"/"lower".

    Examples
    --------
    >>> achievement_rate(55.0, 50.0, 60.0)
    0.5
    >>> achievement_rate(8.0, 10.0, 6.0, direction="lower")   # fell 2 of the 4 points
    0.5
    >>> achievement_rate(62.0, 62.0, 60.0)                     # maintenance target, kept
    1.0
    """
    index = _first_index(actual, baseline, target)
    arrs = _broadcast(
        actual=_as_float_array(actual, "actual"),
        baseline=_as_float_array(baseline, "baseline"),
        target=_as_float_array(target, "target"),
    )
    shape = arrs["actual"].shape
    sign = _direction_sign(direction, shape)
    rate, _ = _rate_core(arrs["actual"], arrs["baseline"], arrs["target"], sign)
    if index is not None and rate.ndim == 1 and len(index) == rate.shape[0]:
        return pd.Series(rate, index=index, name="achievement_rate")
    if rate.ndim == 0:
        return float(rate)
    return rate


def _year_array(value: Any, name: str) -> np.ndarray:
    """Integer fiscal year(s) as an int array (scalar -> 0-d)."""
    arr = np.asarray(value, dtype=object)
    flat = arr.ravel()
    for v in flat:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise EstimationError(f"{name} must be an integer fiscal year, got {v!r}")
    return arr.astype(int)


def prorated_target(
    baseline: Any,
    target: Any,
    *,
    year: int | Any,
    baseline_year: int | Any,
    target_year: int | Any,
) -> np.ndarray | float:
    """Target prorated linearly by fiscal year (按分目標) between baseline and target year.

    ``baseline + (target - baseline) * (year - baseline_year) / (target_year - baseline_year)``,
    with the fraction capped at 1 (a year at or after the target year gets the full target).

    Parameters
    ----------
    baseline, target : float or array-like
        Baseline and final target values.
    year : int or array-like of int
        Fiscal year being evaluated.
    baseline_year, target_year : int or array-like of int
        Fiscal year of the baseline value and of the final target (per indicator if
        array-like: plans often mix FY2020 and FY2021 baselines).

    Returns
    -------
    float or numpy.ndarray
        The prorated target.

    Raises
    ------
    EstimationError
        If a year is not an integer, ``target_year <= baseline_year`` or
        ``year < baseline_year`` (for any indicator), or shapes do not broadcast.

    Examples
    --------
    >>> prorated_target(40.0, 60.0, year=2026, baseline_year=2021, target_year=2031)
    50.0
    >>> prorated_target([40.0, 10.0], [60.0, 20.0], year=2026, baseline_year=[2021, 2020],
    ...                 target_year=2031).round(3).tolist()
    [50.0, 15.455]
    """
    yr = _year_array(year, "year")
    by = _year_array(baseline_year, "baseline_year")
    ty = _year_array(target_year, "target_year")
    try:
        yr, by, ty = np.broadcast_arrays(yr, by, ty)
    except ValueError as exc:
        raise EstimationError(
            f"year, baseline_year and target_year cannot be broadcast together: shapes "
            f"{yr.shape}, {by.shape}, {ty.shape}"
        ) from exc
    bad = ty <= by
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise EstimationError(
            f"target_year must be after baseline_year, got target_year={ty.ravel()[i]} "
            f"and baseline_year={by.ravel()[i]}"
        )
    bad = yr < by
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise EstimationError(
            f"year must not be before baseline_year={by.ravel()[i]}, got year={yr.ravel()[i]}"
        )
    frac = np.minimum(1.0, (yr - by) / (ty - by))
    b = _as_float_array(baseline, "baseline")
    t = _as_float_array(target, "target")
    try:
        out = b + (t - b) * frac
    except ValueError as exc:
        raise EstimationError(
            f"baseline, target and the fiscal years cannot be broadcast together: shapes "
            f"{b.shape}, {t.shape}, {frac.shape}"
        ) from exc
    return float(out) if out.ndim == 0 else out


def change_is_significant(
    actual: Any,
    actual_se: Any,
    baseline: Any,
    baseline_se: Any,
    *,
    level: float = 0.95,
) -> np.ndarray | bool:
    """Two-sided z test of the change from baseline between two independent survey waves.

    ``z = (actual - baseline) / sqrt(actual_se**2 + baseline_se**2)``; the change is
    significant when ``|z| > z_{1-(1-level)/2}``. This assumes independent samples (a new
    random sample each wave, as in the city's citizen survey); for panel or overlapping
    samples pass a significance computed with the covariance instead. Use the result as
    ``grade(..., significant=...)``. A baseline without sampling error (an administrative
    count) can be given ``baseline_se=0``. The test is
    :func:`kyodo_analysis.stats.compare_independent` (the project's one two-sample test).

    Parameters
    ----------
    actual, actual_se : float or array-like
        Current estimate and its standard error.
    baseline, baseline_se : float or array-like
        Baseline estimate and its standard error.
    level : float, default 0.95
        Confidence level of the test (0.95 gives a 5% two-sided test).

    Returns
    -------
    bool or numpy.ndarray of bool
        ``True`` where the change is significant.

    Raises
    ------
    EstimationError
        For negative or missing SEs, both SEs zero, or ``level`` outside (0, 1).

    Examples
    --------
    >>> change_is_significant(0.45, 0.015, 0.40, 0.015)   # z = 0.05 / 0.0212 = 2.36
    True
    >>> change_is_significant(0.42, 0.015, 0.40, 0.015)   # z = 0.94
    False
    """
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise EstimationError(f"level must be strictly between 0 and 1, got {level!r}")
    arrs = _broadcast(
        actual=_as_float_array(actual, "actual"),
        actual_se=_as_float_array(actual_se, "actual_se"),
        baseline=_as_float_array(baseline, "baseline"),
        baseline_se=_as_float_array(baseline_se, "baseline_se"),
    )
    for name in ("actual", "actual_se", "baseline", "baseline_se"):
        if np.isnan(arrs[name]).any():
            raise EstimationError(f"{name} has missing values")
    for name in ("actual_se", "baseline_se"):
        if (arrs[name] < 0).any():
            raise EstimationError(f"{name} must not be negative, got {arrs[name].tolist()}")
    from kyodo_analysis.stats.design import compare_independent

    if ((arrs["actual_se"] == 0) & (arrs["baseline_se"] == 0)).any():
        raise EstimationError("actual_se and baseline_se are both zero; nothing to test")
    shape = arrs["actual"].shape
    test = compare_independent(
        pd.DataFrame({"estimate": arrs["actual"].ravel(), "se": arrs["actual_se"].ravel()}),
        pd.DataFrame({"estimate": arrs["baseline"].ravel(), "se": arrs["baseline_se"].ravel()}),
        level=level)
    out = (test["p_value"].to_numpy() < 1 - level).reshape(shape)
    return bool(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------
# grading rule
# --------------------------------------------------------------------------------------
#: Named starting points for the ``grading:`` block of indicators.yaml (``preset: points``).
PRESETS: dict[str, dict[str, Any]] = {
    # Achievement-rate bands: S >= 100%, A >= 80%, B > 10%, C within ±10% of the gap.
    "rate": {"s_threshold": 1.0, "a_threshold": 0.8, "no_change_band": 0.10,
             "band_unit": "gap"},
    # Point-difference band: C within ±1 point (indicator units) of the baseline, S/A by rate.
    "points": {"s_threshold": 1.0, "a_threshold": 0.8, "no_change_band": 1.0,
               "band_unit": "points"},
}


@dataclass(frozen=True)
class GradingRule:
    """The declared grading rule (評価基準), one for every grade and every level.

    Parameters
    ----------
    s_threshold : float, default 1.0
        Achievement rate at or above which the grade is S (目標達成).
    a_threshold : float, default 0.8
        Achievement rate at or above which the grade is A (概ね達成); ``<= s_threshold``.
    no_change_band : float, default 0.10
        Half-width of the 横ばい band: a fraction of ``|target - baseline|`` when
        ``band_unit == "gap"`` (must be below ``a_threshold``), or indicator units (points)
        when ``band_unit == "points"``. The band is closed.
    band_unit : {"gap", "points"}, default "gap"
        How ``no_change_band`` is measured.
    prorate : bool, default False
        Grade against the target prorated linearly by fiscal year (按分目標).
    level : float, default 0.95
        Confidence level of the evidence rule (tests and intervals).
    power : float, default 0.8
        Power at which the minimum detectable change (最小検出変化) is stated.
    multiplicity : {"holm", "bh", "none"}, default "holm"
        Adjustment of the family of change-from-baseline tests of one evaluation (the
        city-level survey indicators of the dashboard): Holm (family-wise error) or
        Benjamini–Hochberg (false discovery rate).
    baseline : {"wave", "registry"}, default "wave"
        The one baseline of a survey indicator: the baseline wave's estimate with its
        standard error (``wave``; the registry value is then shown for reference only) or the
        registry value taken as exact (``registry``). Used for both the rate and the test.
        A survey indicator whose baseline year has no wave uses the registry value.
    band_evidence : {"interval", "point"}, default "interval"
        ``interval``: a grade is given only when the whole interval of the achievement rate
        lies in its band (else H with the range of bands); ``point``: the band of the point
        estimate once the change is distinguishable from zero (else C when the interval
        lies in the 横ばい band, H otherwise). Both apply to every grade alike; ``interval``
        makes fewer claims and the claims it makes agree with the truth far more often
        (docs/evaluation.md).

    Raises
    ------
    ConfigError
        If a value is of the wrong type or the thresholds are not ordered; the error names
        the key.

    Examples
    --------
    >>> GradingRule.from_dict({"a_threshold": 0.7, "prorate": True}).a_threshold
    0.7
    >>> GradingRule.from_dict({"preset": "points"}).band_unit
    'points'
    """

    s_threshold: float = 1.0
    a_threshold: float = 0.8
    no_change_band: float = 0.10
    band_unit: Literal["gap", "points"] = "gap"
    prorate: bool = False
    level: float = 0.95
    power: float = 0.8
    multiplicity: Literal["holm", "bh", "none"] = "holm"
    baseline: Literal["wave", "registry"] = "wave"
    band_evidence: Literal["interval", "point"] = "interval"

    def __post_init__(self) -> None:
        for key in ("s_threshold", "a_threshold", "no_change_band", "level", "power"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ConfigError(f"must be a number, got {value!r}", key=key)
            if not math.isfinite(float(value)):
                raise ConfigError(f"must be finite, got {value!r}", key=key)
        if not isinstance(self.prorate, (bool, np.bool_)):
            raise ConfigError(f"must be true or false, got {self.prorate!r}", key="prorate")
        for key, allowed in (("band_unit", ("gap", "points")),
                             ("multiplicity", ("holm", "bh", "none")),
                             ("baseline", ("wave", "registry")),
                             ("band_evidence", ("interval", "point"))):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"must be one of {', '.join(allowed)}, got "
                                  f"{getattr(self, key)!r}", key=key)
        for key in ("level", "power"):
            if not 0 < getattr(self, key) < 1:
                raise ConfigError(f"must be strictly between 0 and 1, got "
                                  f"{getattr(self, key)!r}", key=key)
        if self.s_threshold <= 0:
            raise ConfigError(
                f"must be positive, got {self.s_threshold!r}", key="s_threshold"
            )
        if self.no_change_band < 0:
            raise ConfigError(
                f"must be 0 or more, got {self.no_change_band!r}", key="no_change_band"
            )
        if self.a_threshold > self.s_threshold:
            raise ConfigError(
                f"must not exceed s_threshold={self.s_threshold!r}, got {self.a_threshold!r}",
                key="a_threshold",
            )
        if self.band_unit == "gap" and self.no_change_band >= self.a_threshold:
            raise ConfigError(
                f"must be below a_threshold={self.a_threshold!r}, got {self.no_change_band!r}",
                key="no_change_band",
            )

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, file: str | None = None) -> GradingRule:
        """Build a rule from a mapping (the ``grading:`` block of indicators.yaml).

        ``preset`` (``rate`` or ``points``, see :data:`PRESETS`) fills the thresholds; keys
        given beside it override the preset.

        Raises
        ------
        ConfigError
            If ``config`` is not a mapping, has an unknown key, or a value is invalid;
            the error's ``key`` names the offending key.

        Examples
        --------
        >>> GradingRule.from_dict({"no_change_band": 0.05}).no_change_band
        0.05
        """
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"grading rule must be a mapping, got {type(config).__name__}", file=file
            )
        config = dict(config)
        preset = config.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise ConfigError(f"must be one of {', '.join(PRESETS)}, got {preset!r}",
                                  file=file, key="preset")
            config = {**PRESETS[preset], **config}
        known = {f.name for f in fields(cls)}
        for key in config:
            if key not in known:
                raise ConfigError(
                    unknown_key_message(key, sorted(known | {"preset"})),
                    file=file,
                    key=str(key),
                )
        try:
            return cls(**config)
        except ConfigError as err:
            raise ConfigError(err.message, file=file, key=err.key) from None

    def to_dict(self) -> dict[str, Any]:
        """The rule as a plain mapping (round-trips through :meth:`from_dict`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def describe_ja(self) -> list[str]:
        """The rule in Japanese sentences, for the 「評価の方法」 section of a report."""
        band = (f"基準値から目標値までの差の±{100 * self.no_change_band:g}%"
                if self.band_unit == "gap" else f"基準値の±{self.no_change_band:g}（指標の単位）")
        adj = {"holm": "ホルム法で多重比較を調整", "bh": "ベンジャミニ・ホッホベルク法（偽発見率）で"
               "多重比較を調整", "none": "多重比較の調整なし"}[self.multiplicity]
        base = ("基準年度の調査の推定値（標本誤差を含む）" if self.baseline == "wave"
                else "指標一覧の登録値（誤差なしとみなす）")
        return [
            f"達成率 ＝（実績値 − 基準値）÷（目標値 − 基準値）。基準値は{base}で、達成率と検定に同じ値を使います。",
            f"区分（達成率）: S 目標達成 {100 * self.s_threshold:g}%以上／A 概ね達成 "
            f"{100 * self.a_threshold:g}%以上／B 改善／C 横ばい（{band}以内）／D 悪化。",
            f"証拠の基準（すべての区分に同じ）: 市民意識調査の指標は、達成率の{100 * self.level:g}%信頼区間が"
            "ひとつの区分に収まり、かつ基準値からの変化が統計的に有意なとき（"
            f"{adj}）に、その区分で評価します（C 横ばいは信頼区間が横ばいの幅に収まることで示します）。",
            "信頼区間が複数の区分にまたがるときは「H 判定保留」とし、区間が含む区分の範囲（例: B〜S）と、"
            f"検出力{100 * self.power:g}%で検出できる最小の変化（最小検出変化）を示します。",
            "活動統計は実数（標本誤差なし）のため、達成率の区分をそのまま用います。",
        ]


# --------------------------------------------------------------------------------------
# grade
# --------------------------------------------------------------------------------------
def minimum_detectable_change(change_se: Any, *, level: float = 0.95,
                              power: float = 0.8) -> np.ndarray | float:
    """Smallest true change a two-sided test at ``level`` detects with ``power``.

    ``(z_{1-(1-level)/2} + z_{power}) * se`` (最小検出変化). For two independent waves of
    about 1,500 respondents (se of a 50% share about 1.3 points each) this is about
    ``2.80 * 1.84 = 5.2`` points.

    Examples
    --------
    >>> round(minimum_detectable_change(1.0), 3)
    2.802
    """
    se = _as_float_array(change_se, "change_se")
    k = float(_dist.norm_ppf(1 - (1 - level) / 2) + _dist.norm_ppf(power))
    out = k * se
    return float(out) if out.ndim == 0 else out


def grade(
    actual: Any,
    baseline: Any,
    target: Any,
    *,
    direction: Direction | Any = "higher",
    rule: GradingRule | None = None,
    change_se: Any = None,
    significant: Any = None,
    year: int | None = None,
    baseline_year: int | Any = None,
    target_year: int | Any = None,
) -> pd.DataFrame:
    """Grade indicators with one evidence rule for every grade (see :class:`GradingRule`).

    1. The achievement rate ``r = (actual - baseline) / (target_used - baseline)`` and its
       interval ``r ± z * change_se / |target_used - baseline|`` (``z`` at ``rule.level``).
    2. Evidence: the change ``actual - baseline`` is *distinguishable from zero* when
       ``significant`` is True (e.g. after a multiplicity adjustment), or, if
       ``significant`` is not given, when ``|change| / change_se > z``. A value without
       sampling error (``change_se`` and ``significant`` missing: administrative counts) is
       exact and graded on its band.
    3. The grade is the band (S/A/B/C/D, see the module docstring) that holds the **whole
       interval** of ``r``, given the evidence of step 2 (C needs no evidence: an interval
       inside the 横ばい band shows that nothing moved).
    4. Otherwise **H 判定保留**: the bands the interval spans are kept in ``grade_range``
       (e.g. ``"B〜S"``) and the minimum detectable change in ``mdc``. The rule is the same
       for S as for A, B, C and D.

    Maintenance targets (the target is already met at baseline): S when the change is
    exact or distinguishable and the target is met, D when distinguishable and missed,
    otherwise H.

    Parameters
    ----------
    actual, baseline, target : float, array-like or pandas.Series
        Observed, baseline and target values, broadcast together.
    direction : {"higher", "lower"} or array-like of them, default "higher"
    rule : GradingRule, optional
    change_se : float or array-like, optional
        Standard error of ``actual - baseline`` (``sqrt(se_actual^2 + se_baseline^2)`` for
        two independent waves; ``se_actual`` when the baseline is a registry value).
    significant : bool or array-like of bool/None, optional
        A decision that overrides the z test of step 2 (e.g. Holm-adjusted).
    year, baseline_year, target_year : int or array-like of int, optional
        Needed when ``rule.prorate``.

    Returns
    -------
    pandas.DataFrame
        ``actual, baseline, target, target_used, achievement_rate, rate_low, rate_high,
        maintenance, significant, mdc, grade, grade_range, label_ja, label_en, basis``.

    Examples
    --------
    >>> grade([58.0, 51.0, 44.0], 50.0, 60.0)["grade"].tolist()   # exact values
    ['A', 'C', 'D']
    >>> grade(50.5, 45.0, 50.0, significant=False)["grade"].item()  # no evidence: not S
    'H'
    >>> grade(50.5, 45.0, 50.0, change_se=1.5)["grade"].item()      # rate 1.1 ± 0.59
    'H'
    >>> grade(53.0, 45.0, 50.0, change_se=1.0)["grade"].item()      # rate 1.6 ± 0.39
    'S'
    """
    rule = GradingRule() if rule is None else rule
    if not isinstance(rule, GradingRule):
        raise ConfigError(f"rule must be a GradingRule, got {type(rule).__name__}", key="rule")
    index = _first_index(actual, baseline, target)
    arrs = _broadcast(
        actual=_as_float_array(actual, "actual"),
        baseline=_as_float_array(baseline, "baseline"),
        target=_as_float_array(target, "target"),
    )
    a = np.atleast_1d(arrs["actual"])
    b = np.atleast_1d(arrs["baseline"])
    t = np.atleast_1d(arrs["target"])
    if a.ndim != 1:
        raise EstimationError(f"grade expects one-dimensional inputs, got shape {a.shape}")
    n = a.shape[0]
    sign = _direction_sign(direction, (n,))

    if rule.prorate:
        missing = [k for k, v in (("year", year), ("baseline_year", baseline_year),
                                  ("target_year", target_year)) if v is None]
        if missing:
            raise EstimationError(
                f"rule.prorate is True but {', '.join(missing)} is missing; pass the fiscal "
                "years of the evaluation, the baseline and the target"
            )
        t_used = np.asarray(
            prorated_target(b, t, year=year, baseline_year=baseline_year,
                            target_year=target_year),
            dtype=float,
        )
        t_used = np.broadcast_to(t_used, (n,)).astype(float)
    else:
        t_used = t

    rate, maintenance = _rate_core(a, b, t_used, sign)
    if change_se is None:
        se = np.full(n, np.nan)
    else:
        se = np.broadcast_to(np.atleast_1d(_as_float_array(change_se, "change_se")),
                             (n,)).astype(float)
        if (se < 0).any():
            raise EstimationError(f"change_se must not be negative, got {se.tolist()}")
    se = np.where(se == 0, np.nan, se)
    crit = float(_dist.norm_ppf(1 - (1 - rule.level) / 2))
    gap = np.abs(t_used - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = crit * se / gap
        z = (a - b) / se
    rate_low = np.where(maintenance, np.nan, rate - half)
    rate_high = np.where(maintenance, np.nan, rate + half)
    mdc = np.asarray(minimum_detectable_change(se, level=rule.level, power=rule.power))
    mdc = np.atleast_1d(mdc).astype(float)

    if significant is None:
        sig = np.full(n, np.nan)
    else:
        sig_raw = np.asarray(significant, dtype=object)
        sig_list = []
        for v in np.broadcast_to(sig_raw, (n,)) if sig_raw.ndim else [sig_raw.item()] * n:
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                sig_list.append(np.nan)
            elif isinstance(v, (bool, np.bool_)):
                sig_list.append(1.0 if v else 0.0)
            else:
                raise EstimationError(f"significant must be True, False or None, got {v!r}")
        sig = np.asarray(sig_list, dtype=float)
    # the z test where no decision was passed and a standard error is known
    sig = np.where(np.isnan(sig) & ~np.isnan(se), (np.abs(z) > crit).astype(float), sig)

    grades: list[str] = []
    basis: list[str] = []
    ranges: list[str] = []
    s_thr, a_thr, band = rule.s_threshold, rule.a_threshold, rule.no_change_band

    def band_of(x: float, per_rate: float) -> str:
        """The band of an oriented change ``x`` (rate units for "gap", points otherwise)."""
        if abs(x) <= band + _EPS:
            return "C"
        if x < 0:
            return "D"
        r_x = x / per_rate
        if r_x >= s_thr - _EPS:
            return "S"
        if r_x >= a_thr - _EPS:
            return "A"
        return "B"

    for i in range(n):
        r = rate[i]
        if np.isnan(a[i]) or np.isnan(b[i]) or np.isnan(t[i]):
            grades.append("-")
            basis.append("missing value")
            ranges.append("")
            continue
        exact = np.isnan(sig[i]) and np.isnan(se[i])
        evident = exact or sig[i] == 1.0
        if rule.band_unit == "gap":
            per_rate = 1.0
            pos = r
            lo, hi = rate_low[i], rate_high[i]
        else:  # points, oriented so that positive is better
            per_rate = gap[i]
            pos = sign[i] * (a[i] - b[i])
            lo, hi = pos - crit * se[i], pos + crit * se[i]
        mdc_txt = "" if np.isnan(mdc[i]) else f"; minimum detectable change {mdc[i]:.1f}"
        rng_txt = ""
        if maintenance[i]:
            met = not np.isnan(r)
            if not evident:
                g, why = "H", ("maintenance target " + ("met" if met else "missed")
                               + ", change not distinguishable from zero" + mdc_txt)
            elif met:
                g, why = "S", "maintenance target met"
            else:
                g, why = "D", "maintenance target missed"
        elif np.isnan(se[i]):
            # no interval: exact values, or only a significance decision was passed
            g = band_of(pos, per_rate) if evident else "H"
            why = (f"rate {r:.2f}" + ("" if evident else
                                      ", change not distinguishable from zero" + mdc_txt))
        else:
            g_lo, g_hi = band_of(lo, per_rate), band_of(hi, per_rate)
            if rule.band_evidence == "point" and evident and g_lo != g_hi:
                g_lo = g_hi = band_of(pos, per_rate)
            if g_lo == g_hi == "C":
                g, why = "C", f"interval of the change within the no-change band ±{band:g}"
            elif g_lo == g_hi and evident:
                g, why = g_lo, (f"rate {r:.2f}, interval {lo:.2f} to {hi:.2f} within band "
                                f"{g_lo}; change significant")
            else:
                g = "H"
                rng_txt = g_lo if g_lo == g_hi else f"{g_lo}〜{g_hi}"
                why = (f"rate {r:.2f}, interval {lo:.2f} to {hi:.2f} spans {rng_txt}"
                       + ("" if evident else "; change not distinguishable from zero")
                       + mdc_txt)
        grades.append(g)
        basis.append(why)
        ranges.append(rng_txt)

    out = pd.DataFrame(
        {
            "actual": a,
            "baseline": b,
            "target": t,
            "target_used": t_used,
            "achievement_rate": rate,
            "rate_low": rate_low,
            "rate_high": rate_high,
            "maintenance": maintenance,
            "significant": pd.array(
                [pd.NA if np.isnan(s) else bool(s) for s in sig], dtype="boolean"
            ),
            "mdc": mdc,
            "grade": grades,
            "grade_range": ranges,
            "label_ja": [GRADE_LABELS[g][0] for g in grades],
            "label_en": [GRADE_LABELS[g][1] for g in grades],
            "basis": basis,
        }
    )
    if index is not None and len(index) == n:
        out.index = index
    return out


def adjust_p(p: Any, method: Literal["holm", "bh", "none"] = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values (NaN kept out of the family).

    ``holm``: Holm's step-down (family-wise error); ``bh``: Benjamini–Hochberg (false
    discovery rate); ``none``: unchanged. Same as R ``p.adjust(p, "holm" | "BH")``.

    Examples
    --------
    >>> adjust_p([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_p([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    arr = np.asarray(p, dtype=float)
    out = arr.copy()
    ok = ~np.isnan(arr)
    m = int(ok.sum())
    if method == "none" or m == 0:
        return out
    q = arr[ok]
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    else:
        raise EstimationError(f"method must be holm, bh or none, got {method!r}")
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def grade_frame(
    data: pd.DataFrame,
    actual: str = "actual",
    baseline: str = "baseline",
    target: str = "target",
    *,
    direction: str = "higher",
    significant: str | None = None,
    change_se: str | None = None,
    rule: GradingRule | None = None,
    year: int | None = None,
    baseline_year: str | int | None = None,
    target_year: str | int | None = None,
) -> pd.DataFrame:
    """Grade every row of an indicator table (one indicator per row).

    Parameters
    ----------
    data : pandas.DataFrame
        Indicator table.
    actual, baseline, target : str
        Column names of the observed, baseline and target values.
    direction : str, default "higher"
        "higher" or "lower" for all rows, or the name of a column holding them.
    significant : str, optional
        Name of a boolean column (may hold missing values) telling whether the change
        from baseline is statistically significant.
    change_se : str, optional
        Name of a column with the standard error of the change from baseline.
    rule : GradingRule, optional
        Grading rule.
    year : int, optional
        Fiscal year evaluated (needed when ``rule.prorate``).
    baseline_year, target_year : str or int, optional
        Column names holding per-row fiscal years, or one fiscal year for all rows.

    Returns
    -------
    pandas.DataFrame
        ``data`` with the columns of :func:`grade` added (``target_used,
        achievement_rate, maintenance, grade, label_ja, label_en, basis`` and, if
        ``significant`` was given, that column kept as is).

    Raises
    ------
    EstimationError
        If a named column is missing, or as :func:`grade`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"indicator": ["NPO数", "空き家率"], "actual": [58.0, 9.8],
    ...                    "baseline": [50.0, 10.0], "target": [60.0, 6.0],
    ...                    "direction": ["higher", "lower"]})
    >>> grade_frame(df, direction="direction")["grade"].tolist()   # exact values
    ['A', 'C']
    """
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"data must be a pandas DataFrame, got {type(data).__name__}")

    def column(name: str, role: str) -> pd.Series:
        if name not in data.columns:
            raise EstimationError(
                f"column {name!r} ({role}) not found in data; columns are "
                f"{', '.join(map(str, data.columns))}"
            )
        return data[name]

    def years_of(value: str | int | None, role: str) -> Any:
        if isinstance(value, str):
            return column(value, role).to_numpy()
        return value

    dir_value: Any = direction
    if direction not in _DIRECTIONS:
        dir_value = column(direction, "direction").to_numpy()
    sig = None
    if significant is not None:
        sig = column(significant, "significant").astype(object).where(
            column(significant, "significant").notna(), None
        ).to_numpy()
    graded = grade(
        column(actual, "actual").to_numpy(dtype=float, na_value=np.nan),
        column(baseline, "baseline").to_numpy(dtype=float, na_value=np.nan),
        column(target, "target").to_numpy(dtype=float, na_value=np.nan),
        direction=dir_value,
        rule=rule,
        significant=sig,
        change_se=None if change_se is None else column(change_se, "change_se").to_numpy(
            dtype=float, na_value=np.nan),
        year=year,
        baseline_year=years_of(baseline_year, "baseline_year"),
        target_year=years_of(target_year, "target_year"),
    )
    graded.index = data.index
    added = graded.drop(columns=["actual", "baseline", "target", "significant"])
    return pd.concat([data, added], axis=1)
