"""Display and publication options in one place (rounding, intervals, disclosure, fonts).

Every published percentage takes its interval method and level from here, and every table
its minimum group size: :meth:`DisplayOptions.for_study` reads them from study.yaml
(``report:`` and ``disclosure:``), so the choice is made once per study.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["DEFAULT_OPTIONS", "INTERVAL_NOTES", "DisplayOptions"]

IntervalMethod = Literal["logit", "wald", "asin"]

#: How each interval method is described on the pages (Japanese, one sentence).
INTERVAL_NOTES = {
    "logit": "信頼区間はロジット変換による区間（R survey パッケージ svyciprop の既定の方法）です。",
    "wald": "信頼区間は推定値±t値×標準誤差（0～100%の範囲に切り詰め）です。",
    "asin": "信頼区間は逆正弦変換による区間です。",
}


@dataclass(frozen=True)
class DisplayOptions:
    """How published tables and figures are computed and look.

    Attributes
    ----------
    decimals
        Decimal places of percentages (municipal convention: one).
    suppression_threshold
        Cells of a *sensitive* question whose unweighted count is below this are suppressed.
    min_base
        A group (row or column base) smaller than this is not shown (「x」).
    small_base
        Bases below this are flagged as 参考値 (reference only).
    interval
        Interval method of every published share (``logit``: R ``svyciprop`` default).
    level
        Confidence level of every interval.
    font_family
        Matplotlib font family for Japanese text (bundled by matplotlib-fontja).
    """

    decimals: int = 1
    suppression_threshold: int = 10
    min_base: int = 10
    small_base: int = 30
    interval: IntervalMethod = "logit"
    level: float = 0.95
    font_family: str = "IPAexGothic"

    @classmethod
    def for_study(cls, study) -> DisplayOptions:
        """The options study.yaml sets (``report:``, ``disclosure:``, ``suppression_threshold``)."""
        cfg = study.settings
        report = cfg.report
        out = replace(DEFAULT_OPTIONS, suppression_threshold=int(cfg.suppression_threshold),
                      min_base=int(cfg.disclosure.min_base or cfg.suppression_threshold))
        if report is not None:
            out = replace(out, decimals=report.decimals, small_base=report.small_base,
                          interval=report.interval, level=report.confidence_level)
        return out

    @property
    def level_label(self) -> str:
        """``"95%"`` for the column headers of intervals."""
        return f"{100 * self.level:g}%"

    @property
    def interval_note(self) -> str:
        return INTERVAL_NOTES[self.interval]


DEFAULT_OPTIONS = DisplayOptions()
