"""Display and publication options in one place (rounding, suppression, small-base caution)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_OPTIONS", "DisplayOptions"]


@dataclass(frozen=True)
class DisplayOptions:
    """How published tables and figures look.

    Attributes
    ----------
    decimals
        Decimal places of percentages (municipal convention: one).
    suppression_threshold
        Cells whose unweighted base is below this are suppressed in published tables.
    small_base
        Bases below this are flagged as 参考値 (reference only).
    font_family
        Matplotlib font family for Japanese text (bundled by matplotlib-fontja).
    """

    decimals: int = 1
    suppression_threshold: int = 10
    small_base: int = 30
    font_family: str = "IPAexGothic"


DEFAULT_OPTIONS = DisplayOptions()
