"""The R psych / survey fixtures (tests/fixtures/r/psych_reference.R) shared by
test_factor, test_reliability and test_margins (not a test module)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

FIX = Path(__file__).parent / "fixtures" / "r"
ITEMS = ["a1", "a2", "a3", "b1", "b2", "b3"]
ITEMS9 = [*ITEMS, "c1", "c2", "c3"]


def psych_items(*, keyed: bool = True) -> pd.DataFrame:
    """The synthetic items (psych_items.csv); ``keyed``: the reverse-keyed item b3 mirrored
    back (``6 - b3``, psych ``keys = "b3"``), as the R script's ``Xk`` and ``X9``."""
    d = pd.read_csv(FIX / "psych_items.csv")
    if keyed:
        d["b3"] = 6 - d["b3"]
    return d


@cache
def _records() -> tuple[dict, ...]:
    return tuple(json.loads((FIX / "psych_reference.json").read_text()))


def psych_record(call: str) -> dict:
    """The record of psych_reference.json produced by the R call ``call``."""
    return next(r for r in _records() if r["call"] == call)
