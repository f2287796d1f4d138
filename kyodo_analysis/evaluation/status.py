"""Progress outlook (見通し) of a plan indicator towards a target year, reconciled with its grade.

Two readings of one indicator appear in a report: the **grade** of the evaluated year
(:mod:`kyodo_analysis.evaluation.grading`: S/A/B/C/D/H, on the estimate against the
baseline and the current target) and the **outlook** for a target year (this module). They
answer different questions, so they carry different names (評価 and 見通し), but they follow
the same evidence rule: a claim is made only when the interval at the stated level lies on
one side.

* 順調 (on track): the whole prediction interval of the target year's value meets the
  target, i.e. the predictive probability of reaching it is at least ``1 - (1 - level)/2``
  (97.5% at the default level);
* 遅れ (off track): the whole interval misses it (probability at most 2.5%);
* 見通し保留 (uncertain): the interval straddles the target — like H 判定保留 for the
  grade, the data cannot yet tell; the probability is shown beside it.

The probability comes from the predictive distribution of the trend model (parameter
uncertainty and the noise of the target year's value included) and is conditional on that
model: it is not the chance that the plan succeeds. When the study has disrupted years and
the trend fitted without them points the other way, the outlook is 見通し保留 and says why.
:func:`outlook` states, in the same sentence, where the grade and the outlook point
different ways, so the pages never contradict each other silently.

Measured on seven demo seeds against the known truth: docs/evaluation.md, §6.

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

__all__ = ["STATUS_LABELS", "TrackStatus", "describe_ja", "outlook", "track_status",
           "wide_interval"]

#: Status code -> (Japanese label, English label).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "on track": ("順調", "on track"),
    "uncertain": ("見通し保留", "uncertain"),
    "off track": ("遅れ", "off track"),
}


@dataclass(frozen=True)
class TrackStatus:
    """Outlook from a probability of reaching the target.

    Attributes
    ----------
    status : str
        "on track", "uncertain" or "off track".
    label_ja, label_en : str
        順調 / 見通し保留 / 遅れ and the English label.
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


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.5 <= level < 1:
        raise EstimationError(f"level must be a number in [0.5, 1), got {level!r}")
    return float(level)


def track_status(prob_reach: float, *, level: float = 0.95) -> TrackStatus:
    """Classify an outlook by the prediction interval at ``level``: 順調 when the whole
    interval meets the target (``p >= 1 - (1 - level)/2``), 遅れ when it misses it
    (``p <= (1 - level)/2``), otherwise 見通し保留.

    The probability is conditional on the trend model (it is not the chance that the plan
    succeeds); the reason says so.

    Raises
    ------
    EstimationError
        If ``prob_reach`` is not in [0, 1] or ``level`` not in [0.5, 1).

    Examples
    --------
    >>> track_status(0.99).label_ja
    '順調'
    >>> track_status(0.82).status
    'uncertain'
    >>> track_status(0.01).label_ja
    '遅れ'
    """
    if isinstance(prob_reach, bool) or not isinstance(prob_reach, (int, float, np.number)):
        raise EstimationError(f"prob_reach must be a probability, got {prob_reach!r}")
    p = float(prob_reach)
    if not 0.0 <= p <= 1.0:
        raise EstimationError(f"prob_reach must be between 0 and 1, got {prob_reach!r}")
    lv = _check_level(level)
    tail = (1 - lv) / 2
    pct = f"{100 * p:.0f}%" if 0.005 <= p <= 0.995 else ("99%超" if p > 0.995 else "1%未満")
    pct_en = {"99%超": "over 99%", "1%未満": "under 1%"}.get(pct, pct)
    cond = "（傾向が続くと仮定した場合）"
    band = f"{lv:.0%}予測区間"
    if p >= 1 - tail:
        status = "on track"
        ja = f"目標到達確率{cond}は{pct}で、{band}の全体が目標値を満たすため順調としました。"
        en = (f"The model-based probability of reaching the target is {pct_en}: the whole "
              f"{lv:.0%} prediction interval meets the target.")
    elif p <= tail:
        status = "off track"
        ja = f"目標到達確率{cond}は{pct}で、{band}の全体が目標値に届かないため遅れとしました。"
        en = (f"The model-based probability of reaching the target is {pct_en}: the whole "
              f"{lv:.0%} prediction interval misses the target.")
    else:
        status = "uncertain"
        ja = (f"目標到達確率{cond}は{pct}で、{band}が目標値をまたぐため、届くかどうかはまだ"
              "判別できません（見通し保留）。")
        en = (f"The model-based probability of reaching the target is {pct_en}; the "
              f"{lv:.0%} prediction interval straddles the target, so it cannot be told yet.")
    ja_label, en_label = STATUS_LABELS[status]
    return TrackStatus(status=status, label_ja=ja_label, label_en=en_label, probability=p,
                       reason=f"{ja} / {en}")


def describe_ja(level: float = 0.95) -> str:
    """The outlook rule in one paragraph of Japanese, for the report page."""
    lv = _check_level(level)
    tail = (1 - lv) / 2
    return ("「見通し」は、傾向が続くと仮定したときに目標年度の値が目標値に届く確率（目標到達確率）と、"
            f"その計算に用いた{lv:.0%}予測区間から決めます（傾向モデルのパラメータの不確かさと目標年度の調査誤差・件数のばらつきを含む"
            f"予測分布による）。予測区間の全体が目標値を満たす（確率{1 - tail:.1%}以上）ときは「順調」、"
            f"全体が届かない（{tail:.1%}以下）ときは「遅れ」、区間が目標値をまたぐときは、評価の「判定保留」と同じく"
            "「見通し保留」（まだ判別できない）とします。活動が妨げられた年度の調査を除くと予測値が目標値の反対側になる"
            "指標も「見通し保留」とします。この確率は傾向モデルが正しいことを前提にしたもので、計画が成功する確率ではありません。")


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
    level: float = 0.95,
    prob_adjusted: float | None = None,
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
    level : float, default 0.95
        Level of the prediction interval (:func:`track_status`).
    prob_adjusted : float, optional
        The same probability from the trend fitted without the disrupted years. When it
        points the other way (its forecast on the other side of the target: at most 50% for
        a 順調, at least 50% for a 遅れ), the outlook is 見通し保留: a claim must not depend on
        whether the disrupted years are counted. A merely wider interval (fewer waves) does
        not undo a claim.

    Returns
    -------
    dict
        ``status, status_label, reason_ja, reason, warning``: the status comes from the
        probability; ``reason_ja`` adds the grade and, where they point different ways, why.

    Examples
    --------
    >>> outlook(0.99, prob_adjusted=0.4)["status_label"]
    '見通し保留'
    >>> outlook(0.99, prob_adjusted=0.6)["status_label"]
    '順調'
    """
    st = track_status(prob_reach, level=level)
    status, label = st.status, st.label_ja
    reason, reason_en = st.reason.split(" / ")
    if prob_adjusted is not None and np.isfinite(prob_adjusted):
        pa = float(prob_adjusted)
        reason += f"活動が妨げられた年度の調査を除いた傾向では目標到達確率は{100 * pa:.0f}%です。"
        # fewer waves give a wider interval, which is no evidence against a claim; a trend
        # that points the other way (its forecast on the other side of the target) is
        if (status == "on track" and pa <= 0.5) or (status == "off track" and pa >= 0.5):
            status, label = "uncertain", STATUS_LABELS["uncertain"][0]
            reason += ("その年度を除くと予測値が目標値の反対側になり、見通しが分かれるため、"
                       "見通し保留としました。")
            reason_en += (" Without the disrupted years the forecast falls on the other side "
                          "of the target, so it is held as uncertain.")
    warning = ""
    if pi is not None and target is not None and wide_interval(pi[0], pi[1], target, unit):
        warning = ("予測区間が非常に広く、この見通しからはほとんど何も言えません"
                   "（データの年数が少ない、またはばらつきが大きいため）。")
    if grade is not None and is_current_target:
        g = str(grade.get("grade", "-"))
        glabel = str(grade.get("grade_label", ""))
        now = f"現時点の評価は{g} {glabel}"
        if g == "S" and status == "off track":
            reason += (f"{now}（目標値を上回っています）ですが、傾向を延ばすと目標年度には"
                       "下回る見込みです（評価は今の値、見通しは傾向によります）。")
        elif g == "S" and status == "uncertain":
            reason += (f"{now}（目標値を上回っています）ですが、傾向を延ばすと目標年度に"
                       "下回る可能性を否定できません。")
        elif g == "D" and status == "on track":
            reason += (f"{now}ですが、傾向を延ばすと目標年度には到達する見込みです"
                       "（評価は基準値との比較、見通しはすべての年度の傾向によります）。")
        elif g == "H" and status != "uncertain":
            reason += ("現時点の評価は H 判定保留（基準値からの変化を標本誤差と区別できない）"
                       "ですが、見通しはすべての年度の傾向をまとめて見るため判別できています。")
        elif g == "H":
            reason += ("現時点の評価も H 判定保留（基準値からの変化を標本誤差と区別できない）"
                       "です。")
        elif g not in ("-", ""):
            reason += f"{now}です。"
    return {"status": status, "status_label": label, "reason_ja": reason,
            "reason": f"{reason} / {reason_en}", "warning": warning}
