"""Achievement rates and grades for plan indicators (成果指標の達成度評価).

The Citizen Challenge Collaboration Plan sets, for each indicator, a baseline value
(基準値), a target value (目標値) for a target fiscal year, and a direction ("higher is
better" or "lower is better"). This module turns an observed value into

* an **achievement rate** (達成率) ``(actual - baseline) / (target - baseline)``, and
* a **grade** (評価区分) on a five-level scale with Japanese labels.

Grade scheme
------------
======  ==========  ==================  =====================================================
grade   label (ja)  label (en)          rule (``r`` = achievement rate, defaults in brackets)
======  ==========  ==================  =====================================================
S       目標達成     target achieved     ``r >= s_threshold`` [1.0]
A       順調         on course           ``a_threshold <= r < s_threshold`` [0.8]
B       改善         improving           ``no_change_band < r < a_threshold`` [0.10]
C       横ばい       no change           ``|r| <= no_change_band``, or change not significant
D       悪化         worsening           ``r < -no_change_band``
``-``   評価不能     not assessable      a value is missing
======  ==========  ==================  =====================================================

The "no change" band (横ばい) is expressed as a fraction of the distance between the
baseline and the target, as in the 長与町 scheme (±10% of ``|target - baseline|``).

Mid-term review (中間評価) with a prorated target follows the 多摩市 practice: the target
is interpolated linearly by fiscal year between the baseline year and the target year,
and the achievement rate is computed against that prorated target (so grade S at the
mid-term means "the prorated mid-term target is met").

Targets that are already met at baseline (維持目標)
---------------------------------------------------
When the target is not strictly better than the baseline (``target == baseline``, or
the target is already met at baseline, e.g. direction "higher" with
``target <= baseline``), the ratio is undefined or meaningless. Such an indicator is
treated as a *maintenance target*: the achievement rate is ``1.0`` if the actual value is
at least as good as the target, and ``NaN`` otherwise; the grade is S when the target is
maintained and D (悪化) when it is not — or C when the change from baseline is not
statistically significant (see below). A committee reading "1.0" therefore reads
"maintained", never a fabricated percentage.

Significance-aware grading
--------------------------
Survey indicators are estimates with sampling error. ``grade(..., significant=...)``
accepts, per indicator, whether the change from baseline is statistically significant
(e.g. from a design-based two-wave test, or :func:`change_is_significant` for two
independent waves). A change that is *not* significant is graded C
(横ばい) instead of A, B or D, because it cannot be distinguished from sampling noise.
Grade S is kept on the point estimate by default (plan targets are stated as point
values); set ``GradingRule(significance_applies_to_s=True)`` to demote a non-significant
"achievement" to C as well. ``significant=None`` (the default) means "not applicable"
(administrative counts without sampling error).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from kyodo_analysis.errors import ConfigError, EstimationError

__all__ = [
    "GRADE_LABELS",
    "GradingRule",
    "achievement_rate",
    "change_is_significant",
    "grade",
    "grade_frame",
    "prorated_target",
]

Direction = Literal["higher", "lower"]

#: Grade code -> (Japanese label, English label).
GRADE_LABELS: dict[str, tuple[str, str]] = {
    "S": ("目標達成", "target achieved"),
    "A": ("順調", "on course"),
    "B": ("改善", "improving"),
    "C": ("横ばい", "no change"),
    "D": ("悪化", "worsening"),
    "-": ("評価不能", "not assessable"),
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
    """Target prorated linearly by fiscal year (按分目標, as in 多摩市's mid-term review).

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
    count) can be given ``baseline_se=0``.

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
    se = np.sqrt(arrs["actual_se"] ** 2 + arrs["baseline_se"] ** 2)
    if (se == 0).any():
        raise EstimationError("actual_se and baseline_se are both zero; nothing to test")
    z = (arrs["actual"] - arrs["baseline"]) / se
    crit = float(stats.norm.ppf(1 - (1 - level) / 2))
    out = np.abs(z) > crit
    return bool(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------
# grading rule
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GradingRule:
    """Configurable grading rule (評価基準).

    Parameters
    ----------
    s_threshold : float, default 1.0
        Achievement rate at or above which the grade is S (目標達成).
    a_threshold : float, default 0.8
        Achievement rate at or above which the grade is A (順調); must be
        ``<= s_threshold``.
    no_change_band : float, default 0.10
        Half-width of the "no change" band (横ばい) as a fraction of
        ``|target - baseline|`` (長与町: ±10%). Must satisfy
        ``0 <= no_change_band < a_threshold``. The band is closed: a rate of exactly
        ``±no_change_band`` is C.
    prorate : bool, default False
        Grade against the target prorated linearly by fiscal year between the baseline
        year and the target year (多摩市's mid-term method). Requires ``year``,
        ``baseline_year`` and ``target_year`` in :func:`grade`.
    significance_applies_to_s : bool, default False
        If True, a non-significant change is graded C even when the point estimate
        meets the target; by default S is granted on the point estimate.

    Raises
    ------
    ConfigError
        If a value is of the wrong type or the thresholds are not ordered
        ``0 <= no_change_band < a_threshold <= s_threshold``; the error names the key.

    Examples
    --------
    >>> GradingRule.from_dict({"a_threshold": 0.7, "prorate": True}).a_threshold
    0.7
    """

    s_threshold: float = 1.0
    a_threshold: float = 0.8
    no_change_band: float = 0.10
    prorate: bool = False
    significance_applies_to_s: bool = False

    def __post_init__(self) -> None:
        for key in ("s_threshold", "a_threshold", "no_change_band"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ConfigError(f"must be a number, got {value!r}", key=key)
            if not math.isfinite(float(value)):
                raise ConfigError(f"must be finite, got {value!r}", key=key)
        for key in ("prorate", "significance_applies_to_s"):
            value = getattr(self, key)
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"must be true or false, got {value!r}", key=key)
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
        if self.no_change_band >= self.a_threshold:
            raise ConfigError(
                f"must be below a_threshold={self.a_threshold!r}, got {self.no_change_band!r}",
                key="no_change_band",
            )

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, file: str | None = None) -> GradingRule:
        """Build a rule from a mapping (e.g. the ``grading:`` block of indicators.yaml).

        Parameters
        ----------
        config : Mapping
            Keys among the dataclass fields; missing keys take the defaults.
        file : str, optional
            Configuration file name, quoted in error messages.

        Returns
        -------
        GradingRule

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
        known = {f.name for f in fields(cls)}
        for key in config:
            if key not in known:
                raise ConfigError(
                    f"unknown grading rule key; expected one of {', '.join(sorted(known))}",
                    file=file,
                    key=str(key),
                )
        try:
            return cls(**dict(config))
        except ConfigError as err:
            raise ConfigError(err.message, file=file, key=err.key) from None

    def to_dict(self) -> dict[str, Any]:
        """The rule as a plain mapping (round-trips through :meth:`from_dict`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------------------
# grade
# --------------------------------------------------------------------------------------
def grade(
    actual: Any,
    baseline: Any,
    target: Any,
    *,
    direction: Direction | Any = "higher",
    rule: GradingRule | None = None,
    significant: Any = None,
    year: int | None = None,
    baseline_year: int | Any = None,
    target_year: int | Any = None,
) -> pd.DataFrame:
    """Grade indicators on the S/A/B/C/D scale (see the module docstring for the scheme).

    Parameters
    ----------
    actual, baseline, target : float, array-like or pandas.Series
        Observed, baseline and (final) target values, broadcast together.
    direction : {"higher", "lower"} or array-like of them, default "higher"
        Whether higher or lower values are better.
    rule : GradingRule, optional
        Thresholds and options; defaults to ``GradingRule()``.
    significant : bool, array-like of bool (NaN/None allowed) or None, default None
        Whether the change from baseline is statistically significant. ``False``
        turns A, B and D into C (and S too if ``rule.significance_applies_to_s``);
        ``None``/NaN means not applicable (no sampling error).
    year, baseline_year, target_year : int or array-like of int, optional
        Fiscal years (``baseline_year`` and ``target_year`` may differ per indicator);
        required when ``rule.prorate`` is True, ignored otherwise.

    Returns
    -------
    pandas.DataFrame
        One row per indicator (index of the first Series input, else a RangeIndex) with
        columns ``actual, baseline, target, target_used`` (the prorated target if
        prorating, else ``target``), ``achievement_rate`` (against ``target_used``),
        ``maintenance`` (target already met at baseline), ``significant``, ``grade``,
        ``label_ja``, ``label_en`` and ``basis`` (a short English explanation).
        Threshold comparisons allow a 1e-9 rounding tolerance. When prorating at
        ``year == baseline_year`` the prorated target equals the baseline, so every
        indicator is treated as a maintenance target.

    Raises
    ------
    ConfigError
        If ``rule`` is not a :class:`GradingRule`.
    EstimationError
        If inputs are invalid or fiscal years are missing while prorating.

    Examples
    --------
    >>> g = grade([58.0, 51.0, 44.0], 50.0, 60.0)
    >>> g["grade"].tolist()
    ['A', 'C', 'D']
    >>> grade(45.0, 40.0, 60.0, rule=GradingRule(prorate=True),
    ...       year=2026, baseline_year=2021, target_year=2031)["grade"].item()
    'B'
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

    grades: list[str] = []
    basis: list[str] = []
    band = rule.no_change_band
    for i in range(n):
        r = rate[i]
        not_sig = sig[i] == 0.0
        if np.isnan(a[i]) or np.isnan(b[i]) or np.isnan(t[i]):
            grades.append("-")
            basis.append("missing value")
            continue
        if maintenance[i]:
            if not np.isnan(r):  # maintained
                if not_sig and rule.significance_applies_to_s:
                    g, why = "C", "maintenance target met, change not significant"
                else:
                    g, why = "S", "maintenance target met"
            elif not_sig:
                g, why = "C", "maintenance target missed, change not significant"
            else:
                g, why = "D", "maintenance target missed"
        elif r >= rule.s_threshold - _EPS:
            if not_sig and rule.significance_applies_to_s:
                g, why = "C", f"rate {r:.2f} >= {rule.s_threshold:g} but change not significant"
            else:
                g, why = "S", f"rate {r:.2f} >= {rule.s_threshold:g}"
        elif not_sig:
            g, why = "C", f"rate {r:.2f}, change not significant"
        elif r >= rule.a_threshold - _EPS:
            g, why = "A", f"{rule.a_threshold:g} <= rate {r:.2f} < {rule.s_threshold:g}"
        elif r > band + _EPS:
            g, why = "B", f"{band:g} < rate {r:.2f} < {rule.a_threshold:g}"
        elif r >= -band - _EPS:
            g, why = "C", f"|rate {r:.2f}| <= no-change band {band:g}"
        else:
            g, why = "D", f"rate {r:.2f} < -{band:g}"
        grades.append(g)
        basis.append(why)

    out = pd.DataFrame(
        {
            "actual": a,
            "baseline": b,
            "target": t,
            "target_used": t_used,
            "achievement_rate": rate,
            "maintenance": maintenance,
            "significant": pd.array(
                [pd.NA if np.isnan(s) else bool(s) for s in sig], dtype="boolean"
            ),
            "grade": grades,
            "label_ja": [GRADE_LABELS[g][0] for g in grades],
            "label_en": [GRADE_LABELS[g][1] for g in grades],
            "basis": basis,
        }
    )
    if index is not None and len(index) == n:
        out.index = index
    return out


def grade_frame(
    data: pd.DataFrame,
    actual: str = "actual",
    baseline: str = "baseline",
    target: str = "target",
    *,
    direction: str = "higher",
    significant: str | None = None,
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
    >>> grade_frame(df, direction="direction")["grade"].tolist()
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
        year=year,
        baseline_year=years_of(baseline_year, "baseline_year"),
        target_year=years_of(target_year, "target_year"),
    )
    graded.index = data.index
    added = graded.drop(columns=["actual", "baseline", "target", "significant"])
    return pd.concat([data, added], axis=1)
