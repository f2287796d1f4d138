"""Weighting methods, one module each, and the registry that chooses them by name.

Every method has the same signature, ``method(design, targets, **options)``, takes a
:class:`~kyodo_analysis.stats.design.SurveyDesign` (returns a
:class:`~kyodo_analysis.stats.calibrated.WeightedDesign`, whose variance uses the
calibration residuals) or a :class:`~kyodo_analysis.stats.replicate.ReplicateDesign`
(returns a ``ReplicateDesign`` with every replicate re-weighted, as R does):

=====================  ===================================  ===============================
name                   function                             ``targets``
=====================  ===================================  ===============================
``rake``               :func:`rake`                         ``{column: {level: count}}``
``poststratify``       :func:`poststratify`                 cell counts (``by=`` option)
``calibrate``          :func:`calibrate`                    totals (``method=`` option)
``calibrate_linear``   :func:`calibrate`, linear distance   totals
``calibrate_raking``   :func:`calibrate`, raking distance   totals
``calibrate_logit``    :func:`calibrate`, logit distance    totals (``bounds=`` required)
``trim``               :func:`trim`                         ``(lower, upper)``
=====================  ===================================  ===============================

:func:`apply_weighting` runs a method by name and, with ``trim=(lower, upper)``, trims the
result (how ``Study.design`` applies the ``design.weighting`` section of ``study.yaml``).

Adding a method: write ``stats/weighting/<name>.py`` with a function
``fn(design, targets, *, ...) -> WeightedDesign`` that builds its
:class:`~kyodo_analysis.stats.calibrated.WeightingStep` (with ``final_margins`` and
``replay``) and calibration record, dispatches replicate designs through
``_common.reweight``, and add it to :data:`WEIGHTING_METHODS` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, overload

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats.calibrated import (
    CollapsedCells,
    WeightedDesign,
    WeightingReport,
    WeightingStep,
    weighting_report,
)
from kyodo_analysis.stats.design import SurveyDesign
from kyodo_analysis.stats.replicate import ReplicateDesign
from kyodo_analysis.stats.weighting.calibrate import CalibrationMethod, calibrate
from kyodo_analysis.stats.weighting.poststratify import poststratify
from kyodo_analysis.stats.weighting.rake import rake
from kyodo_analysis.stats.weighting.trim import trim
from kyodo_analysis.stats.weighting.trim import trim as _trim_weights

__all__ = [
    "WEIGHTING_METHODS",
    "CalibrationMethod",
    "CollapsedCells",
    "WeightedDesign",
    "WeightingMethod",
    "WeightingReport",
    "WeightingStep",
    "apply_weighting",
    "calibrate",
    "get_method",
    "poststratify",
    "rake",
    "trim",
    "weighting_report",
]


WeightingMethod = Callable[..., WeightedDesign | ReplicateDesign]
"""``method(design, targets, **options)``: the signature every registered method has (its
keyword options differ from method to method)."""


def _calibration(method: CalibrationMethod) -> WeightingMethod:
    def fn(design: SurveyDesign | ReplicateDesign, targets: Any, /, **options: Any) -> WeightedDesign | ReplicateDesign:
        if "method" in options:
            raise WeightingError(f"calibrate_{method} fixes method={method!r}; use 'calibrate' to choose it")
        return calibrate(design, targets, method=method, **options)

    fn.__name__ = f"calibrate_{method}"
    fn.__doc__ = f"``calibrate(design, targets, method={method!r}, **options)``."
    return fn


def _trim(design: SurveyDesign | ReplicateDesign, targets: Any, /, **options: Any) -> WeightedDesign | ReplicateDesign:
    """``trim(design, lower, upper, **options)`` with ``targets = (lower, upper)``."""
    lower, upper = _bounds(targets)
    return trim(design, lower, upper, **options)


def _bounds(targets: Any) -> tuple[float | None, float | None]:
    if targets is None:
        return None, None
    try:
        lower, upper = targets
    except (TypeError, ValueError):
        raise WeightingError(f"trim targets must be (lower, upper), got {targets!r}") from None
    return (None if lower is None else float(lower)), (None if upper is None else float(upper))


WEIGHTING_METHODS: Mapping[str, WeightingMethod] = MappingProxyType(
    {
        "rake": rake,
        "poststratify": poststratify,
        "calibrate": calibrate,
        "calibrate_linear": _calibration("linear"),
        "calibrate_raking": _calibration("raking"),
        "calibrate_logit": _calibration("logit"),
        "trim": _trim,
    }
)
"""Name -> ``method(design, targets, **options)`` (read-only)."""


def get_method(name: str) -> WeightingMethod:
    """The weighting method registered under ``name``.

    Raises
    ------
    WeightingError
        Unknown name (the message lists the known ones).
    """
    try:
        return WEIGHTING_METHODS[name]
    except KeyError:
        raise WeightingError(
            f"unknown weighting method {name!r}; choose from {sorted(WEIGHTING_METHODS)}"
        ) from None


@overload
def apply_weighting(
    design: ReplicateDesign, method: str, targets: Any, *, trim: Any = ..., trim_strict: bool = ..., **options: Any
) -> ReplicateDesign: ...
@overload
def apply_weighting(
    design: SurveyDesign, method: str, targets: Any, *, trim: Any = ..., trim_strict: bool = ..., **options: Any
) -> WeightedDesign: ...
def apply_weighting(
    design: SurveyDesign | ReplicateDesign,
    method: str,
    targets: Any,
    *,
    trim: Any = None,
    trim_strict: bool = False,
    **options: Any,
) -> WeightedDesign | ReplicateDesign:
    """Apply a weighting method by name, then optionally trim (balance-style registry).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    method : str
        A name of :data:`WEIGHTING_METHODS`: ``"rake"``, ``"poststratify"``,
        ``"calibrate"`` (``method=`` option), ``"calibrate_linear"``,
        ``"calibrate_raking"``, ``"calibrate_logit"`` or ``"trim"``.
    targets
        The method's targets: ``{column: margin}`` (rake), cell counts (poststratify),
        totals (calibrate), ``(lower, upper)`` (trim).
    trim : (lower, upper), optional
        Trim the weighted result to these bounds (R ``trimWeights``); either may be None.
    trim_strict : bool
        Repeat the trimming until no weight is outside the bounds.
    **options
        Keyword options of the method (e.g. ``tol=``, ``by=``, ``bounds=``).

    Returns
    -------
    WeightedDesign or ReplicateDesign

    Raises
    ------
    WeightingError
        Unknown method name, or any error of the method itself.

    Examples
    --------
    >>> import kyodo_analysis as ka
    >>> from kyodo_analysis.stats.weighting import apply_weighting
    >>> design = ka.open_study().design(2025, weighted=False)
    >>> sizes = design.data.groupby("stratum").size() * 60.0
    >>> ps = apply_weighting(design, "poststratify", sizes, by="stratum", trim=(None, 80.0))
    >>> [step.method for step in ps.weighting_steps]
    ['poststratify', 'trim']
    """
    fn = get_method(method)
    out = fn(design, targets, **options)
    if trim is not None:
        lower, upper = _bounds(trim)
        out = _trim_weights(out, lower, upper, strict=trim_strict)
    return out

