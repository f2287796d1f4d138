"""Fiscal years and Japanese era years."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyodo_analysis.calendar import (
    era_year,
    fiscal_year_label,
    fiscal_year_of,
    parse_fiscal_year,
    to_western_year,
)


@pytest.mark.parametrize(
    ("text", "year"),
    [
        (2025, 2025),
        ("2025", 2025),
        ("FY2025", 2025),
        ("fy 2021", 2021),
        ("２０２５年度", 2025),
        ("令和7年度", 2025),
        ("令和７年度", 2025),
        ("令和元年度", 2019),
        ("令和元年", 2019),
        ("R3", 2021),
        ("Ｒ３", 2021),
        ("平成24年度", 2012),
        ("平成31年度", 2019),
        ("H30", 2018),
        (" 令和 4 年度 ", 2022),
    ],
)
def test_parse_fiscal_year_accepts_what_municipal_files_contain(text, year):
    assert parse_fiscal_year(text) == year


@pytest.mark.parametrize("bad", ["令和", "FY20", "来年度", "", "大正5年", True, "令和0年度"])
def test_parse_fiscal_year_rejects_what_it_cannot_read(bad):
    with pytest.raises(ValueError):
        parse_fiscal_year(bad)


def test_labels_in_the_city_style():
    assert fiscal_year_label(2022) == "令和4（2022）年度"
    assert fiscal_year_label(2019, style="era") == "令和元年度"
    assert fiscal_year_label(2012, style="era") == "平成24年度"
    assert fiscal_year_label(2031, style="western") == "FY2031"
    with pytest.raises(ValueError):
        fiscal_year_label(2025, style="roman")


def test_fiscal_year_starts_in_april():
    assert fiscal_year_of(dt.date(2026, 3, 31)) == 2025
    assert fiscal_year_of(dt.date(2026, 4, 1)) == 2026


@given(st.integers(min_value=1927, max_value=2100), st.sampled_from(["era", "both", "western"]))
def test_label_and_parse_round_trip(year, style):
    label = fiscal_year_label(year, style=style)
    if style == "both":
        label = label.split("（")[0] + "年度"
    assert parse_fiscal_year(label) == year


def test_era_arithmetic():
    assert to_western_year("令和", 1) == 2019
    assert to_western_year("H", 31) == 2019
    assert era_year(1989) == ("平成", 1)
    with pytest.raises(ValueError):
        to_western_year("明治", 1)
