"""Progress outlook (見通し) of a plan indicator towards a target year, reconciled with its grade.

Two readings of one indicator appear in a report: the **grade** of the evaluated year
(:mod:`kyodo_analysis.evaluation.grading`: S/A/B/C/D/H, on the estimate against the
baseline and the current target) and the **outlook** for a target year (this module:
順調 / 要注意 / 遅れ, on the predictive probability that the target year's value meets the
target *if the fitted trend model holds*). They answer different questions, so they carry
different names (評価 and 見通し); :func:`outlook` states, in the same sentence, where they
point in different directions, so the pages never contradict each other silently.

This module holds ``track_status`` (moved here from ``stats.trends``: statistics do not know
about plan vocabulary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError

__all__ = ["STATUS_LABELS", "TrackStatus", "outlook", "track_status", "wide_interval"]

#: Status code -> (Japanese label, English label).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "on track": ("順調", "on track"),
    "at risk": ("要注意", "at risk"),
    "off track": ("遅れ", "off track"),
}


@dataclass(frozen=True)
class TrackStatus:
    """Outlook from a probability of reaching the target.

    Attributes
    ----------
    status : str
        "on track", "at risk" or "off track".
    label_ja, label_en : str
        順調 / 要注意 / 遅れ and the English label.
    probability : float
        The probability that was classified.
    reason : str
        One sentence in Japanese followed by the same sentence in English.
    """

    status: str
    label_ja: str
    label_en: str
    probability: float
    reason: str

    def to_frame(self) -> pd.DataFrame:
        """One-row table."""
        return pd.DataFrame([self.__dict__])


def track_status(prob_reach: float, *, on_track: float = 0.7,
                 off_track: float = 0.3) -> TrackStatus:
    """Classify an outlook: 順調 (``p >= on_track``) / 要注意 / 遅れ (``p < off_track``).

    The probability is conditional on the trend model (it is not the chance that the plan
    succeeds); the reason says so.

    Raises
    ------
    EstimationError
        If ``prob_reach`` is not in [0, 1] or the thresholds are not ordered.

    Examples
    --------
    >>> track_status(0.82).label_ja
    '順調'
    >>> track_status(0.5).status
    'at risk'
    """
    if isinstance(prob_reach, bool) or not isinstance(prob_reach, (int, float, np.number)):
        raise EstimationError(f"prob_reach must be a probability, got {prob_reach!r}")
    p = float(prob_reach)
    if not 0.0 <= p <= 1.0:
        raise EstimationError(f"prob_reach must be between 0 and 1, got {prob_reach!r}")
    for name, value in (("on_track", on_track), ("off_track", off_track)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise EstimationError(f"{name} must be strictly between 0 and 1, got {value!r}")
    if off_track > on_track:
        raise EstimationError(
            f"off_track must not exceed on_track, got off_track={off_track!r} and "
            f"on_track={on_track!r}")
    pct = f"{100 * p:.0f}%"
    cond = "（傾向が続くと仮定した場合）"
    if p >= on_track:
        status = "on track"
        ja = f"目標到達確率{cond}は{pct}で{on_track:.0%}以上のため順調としました。"
        en = f"The model-based probability of reaching the target is {pct} (>= {on_track:.0%})."
    elif p < off_track:
        status = "off track"
        ja = f"目標到達確率{cond}は{pct}で{off_track:.0%}未満のため遅れとしました。"
        en = f"The model-based probability of reaching the target is {pct} (< {off_track:.0%})."
    else:
        status = "at risk"
        ja = (f"目標到達確率{cond}は{pct}で{off_track:.0%}以上{on_track:.0%}未満のため"
              "要注意としました。")
        en = (f"The model-based probability of reaching the target is {pct}, between "
              f"{off_track:.0%} and {on_track:.0%}.")
    ja_label, en_label = STATUS_LABELS[status]
    return TrackStatus(status=status, label_ja=ja_label, label_en=en_label, probability=p,
                       reason=f"{ja} / {en}")


def wide_interval(low: float, high: float, target: float, unit: str) -> bool:
    """Whether a prediction interval is too wide to say much: wider than the target itself
    for counts (e.g. 5〜433件 for a target of 60), or than 20 points for percentages."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return False
    if unit == "%":
        return high - low > 20
    return high - low > abs(target)


def outlook(
    prob_reach: float,
    *,
    grade: Mapping[str, Any] | None = None,
    is_current_target: bool = False,
    pi: tuple[float, float] | None = None,
    target: float | None = None,
    unit: str = "",
    on_track: float = 0.7,
    off_track: float = 0.3,
) -> dict[str, Any]:
    """The outlook of one indicator × target year, reconciled with the current grade.

    Parameters
    ----------
    prob_reach : float
        Predictive probability (parameter uncertainty and the noise of the target year's
        value included) that the target is met, under the trend model.
    grade : mapping, optional
        The indicator's row of :func:`~kyodo_analysis.evaluation.compute.compute_indicators`
        (``grade``, ``grade_label``, ``target_year``) for the evaluated year.
    is_current_target : bool
        Whether this target year is the one the grade was computed against.
    pi : (float, float), optional
        The prediction interval shown beside the probability.
    target : float, optional
    unit : str

    Returns
    -------
    dict
        ``status, status_label, reason_ja, warning``: the status comes from the
        probability; ``reason_ja`` adds the grade and, where they point different ways, why.
    """
    st = track_status(prob_reach, on_track=on_track, off_track=off_track)
    reason = st.reason.split(" / ")[0]
    warning = ""
    if pi is not None and target is not None and wide_interval(pi[0], pi[1], target, unit):
        warning = ("予測区間が非常に広く、この見通しからはほとんど何も言えません"
                   "（データの年数が少ない、またはばらつきが大きいため）。")
    if grade is not None and is_current_target:
        g = str(grade.get("grade", "-"))
        label = str(grade.get("grade_label", ""))
        if g == "S" and st.status != "on track":
            reason += (f"現時点の評価は{g} {label}（目標値を上回っています）ですが、"
                       "傾向を延ばすと目標年度に下回る可能性があります。")
        elif g == "D" and st.status == "on track":
            reason += (f"現時点の評価は{g} {label}ですが、長期の傾向を延ばすと目標年度には"
                       "到達する見込みです。")
        elif g == "H":
            reason += ("現時点の評価は H 判定保留（基準値からの変化を標本誤差と区別できない）"
                       "です。見通しは傾向モデルに基づく参考です。")
        elif g not in ("-", ""):
            reason += f"現時点の評価は{g} {label}です。"
    return {"status": st.status, "status_label": st.label_ja, "reason_ja": reason,
            "reason": st.reason, "warning": warning}
