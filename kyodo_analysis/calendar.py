"""Japanese fiscal years and era years.

The Japanese fiscal year (年度) runs from 1 April to 31 March and is named after the
calendar year in which it starts: FY2025 (令和7年度) is April 2025 to March 2026.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

__all__ = ["ERAS", "era_year", "fiscal_year_label", "fiscal_year_of", "parse_fiscal_year", "to_western_year"]

#: Era name -> western year of its first year (元年).
ERAS: dict[str, int] = {"令和": 2019, "平成": 1989, "昭和": 1926}
_ERA_ABBREV = {"R": "令和", "H": "平成", "S": "昭和"}

_ERA_RE = re.compile(r"^(令和|平成|昭和|[RHS])\s*(元|\d{1,2})\s*(年度|年)?$", re.IGNORECASE)
_FY_RE = re.compile(r"^(?:FY)?\s*(\d{4})\s*(年度|年)?$", re.IGNORECASE)


def to_western_year(era: str, year: int) -> int:
    """Western year of ``year`` in ``era`` (``to_western_year("令和", 3) == 2021``)."""
    era = _ERA_ABBREV.get(era.upper(), era) if len(era) == 1 else era
    if era not in ERAS:
        raise ValueError(f"unknown era {era!r}; expected one of {', '.join(ERAS)}")
    if year < 1:
        raise ValueError(f"era year must be 1 or more, got {year}")
    return ERAS[era] + year - 1


def era_year(year: int) -> tuple[str, int]:
    """The (era, year-in-era) of a western year, by the era in force on 1 April of that year."""
    for era, start in sorted(ERAS.items(), key=lambda kv: -kv[1]):
        if year >= start:
            return era, year - start + 1
    raise ValueError(f"year {year} is before the supported eras")


def parse_fiscal_year(value: object) -> int:
    """Parse a fiscal year written as 2025, "FY2025", "２０２５年度", "令和7年度", "R7" or "令和元年".

    Full-width characters are folded first (NFKC). Returns the western starting year.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a fiscal year: {value!r}")
    if isinstance(value, int):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _FY_RE.match(text)
    if m:
        return int(m.group(1))
    m = _ERA_RE.match(text)
    if m:
        n = 1 if m.group(2) == "元" else int(m.group(2))
        return to_western_year(m.group(1), n)
    raise ValueError(f"not a fiscal year: {value!r}")


def fiscal_year_of(date: _dt.date) -> int:
    """Fiscal year in which ``date`` falls (January–March belong to the previous year's FY)."""
    return date.year if date.month >= 4 else date.year - 1


def fiscal_year_label(year: int, *, style: str = "both") -> str:
    """Label a fiscal year: ``"令和7年度"`` (``style="era"``), ``"FY2025"`` (``"western"``)
    or ``"令和7（2025）年度"`` (``"both"``, the style of the city's own plans)."""
    era, n = era_year(year)
    n_text = "元" if n == 1 else str(n)
    if style == "era":
        return f"{era}{n_text}年度"
    if style == "western":
        return f"FY{year}"
    if style == "both":
        return f"{era}{n_text}（{year}）年度"
    raise ValueError(f"style must be 'era', 'western' or 'both', got {style!r}")
