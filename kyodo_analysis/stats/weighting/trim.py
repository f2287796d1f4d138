"""Weight trimming with redistribution of the excess (R ``trimWeights``)."""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import pandas as pd

from kyodo_analysis.errors import WeightingError
from kyodo_analysis.stats.calibrated import WeightedDesign, WeightingStep
from kyodo_analysis.stats.design import SurveyDesign
from kyodo_analysis.stats.replicate import ReplicateDesign
from kyodo_analysis.stats.weighting._common import check_design, reweight

__all__ = ["trim"]


@overload
def trim(
    design: ReplicateDesign, lower: float | None = ..., upper: float | None = ..., *, strict: bool = ...
) -> ReplicateDesign: ...
@overload
def trim(
    design: SurveyDesign, lower: float | None = ..., upper: float | None = ..., *, strict: bool = ...
) -> WeightedDesign: ...
def trim(
    design: SurveyDesign | ReplicateDesign,
    lower: float | None = None,
    upper: float | None = None,
    *,
    strict: bool = False,
) -> WeightedDesign | ReplicateDesign:
    r"""Trim weights to ``[lower, upper]`` and share the excess equally (R ``trimWeights``).

    Weights outside the bounds are set to the bound; the total trimmed amount
    ``sum_i (w_i - w_i^trim)`` is added in equal parts to the weights that were inside,
    which keeps the weight total. With ``strict=True`` this is repeated until no weight is
    outside (the redistribution may push some over the bound again). Calibration records
    of earlier steps are kept unchanged, as in R, so the variance still uses their
    residuals.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        For a replicate design the full-sample weights and every replicate's weights are
        trimmed to the same bounds.
    lower, upper : float, optional
        Bounds on the weights (default unbounded).
    strict : bool
        Repeat until every weight is within the bounds.

    Returns
    -------
    WeightedDesign or ReplicateDesign

    Raises
    ------
    WeightingError
        ``lower > upper`` or bounds that cannot hold the weight total.

    Examples
    --------
    ``raked``: the demo's FY2025 design raked as its study.yaml says.

    >>> cap = 1.2 * raked.weights.mean()
    >>> trimmed = trim(raked, upper=cap, strict=True)
    >>> bool(trimmed.weights.max() <= cap + 1e-9), round(float(trimmed.weights.sum() / raked.weights.sum()), 12)
    (True, 1.0)
    """
    def again(d: Any) -> Any:
        return trim(d, lower, upper, strict=strict)

    if isinstance(design, ReplicateDesign):
        return reweight(design, again)
    design = check_design(design)
    lo = -np.inf if lower is None else float(lower)
    hi = np.inf if upper is None else float(upper)
    if lo > hi:
        raise WeightingError(f"trim: lower={lo} is above upper={hi}")
    w = design._w.astype(float).copy()
    n_trimmed = 0
    rounds = 0
    # a weight equal to a bound up to rounding (e.g. a bound taken from the weights'
    # quantiles) is not trimmed: R decides such ties by the last bit of its arithmetic
    slack_lo = 1e-12 * abs(lo) if np.isfinite(lo) else 0.0
    slack_hi = 1e-12 * abs(hi) if np.isfinite(hi) else 0.0
    while True:
        outside = (w < lo - slack_lo) | (w > hi + slack_hi)
        if not outside.any():
            break
        if outside.all():
            raise WeightingError(f"trim: every weight is outside [{lo}, {hi}]; nothing left to take the excess")
        rounds += 1
        n_trimmed += int(outside.sum())
        new = np.clip(w, lo, hi)
        excess = float(np.sum(w - new))
        new[~outside] += excess / int((~outside).sum())
        w = new
        if not strict:
            break
        if rounds > 10_000:
            raise WeightingError(
                f"trim(strict=True) did not settle: bounds [{lo}, {hi}] cannot hold the "
                f"weight total {w.sum():.6g} over {len(w)} rows"
            )
    old = design._w
    table = pd.DataFrame(
        {
            "variable": ["weight total"],
            "level": pd.Series([None], dtype=object),
            "target": [float(old.sum())],
            "before": [float(old.sum())],
            "after": [float(w.sum())],
            "n": [len(w)],
        }
    )
    opts: list[tuple[str, Any]] = [
        ("lower", lower),
        ("upper", upper),
        ("strict", strict),
        ("weights_trimmed", n_trimmed),
    ]
    record = WeightingStep(
        "trim", (), tuple(opts), rounds, True, 0.0, table, (), lambda wf: np.array([float(wf.sum())]), again
    )
    return WeightedDesign._from(design, w, None, record)


