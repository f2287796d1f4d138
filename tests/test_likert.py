"""Likert items: distributions, box shares and mean scores (hand-computed known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.stats import SurveyDesign
from kyodo_analysis.stats.likert import item_scores, likert_distribution, likert_summary

CODES = {1: "満足", 2: "やや満足", 3: "どちらともいえない", 4: "やや不満", 5: "不満", 6: "わからない"}


def _book(**extra) -> Codebook:
    return Codebook.from_dict({
        "missing_codes": {9: "無回答"},
        "scales": {"s5": {"codes": CODES, "scores": {1: 2, 2: 1, 3: 0, 4: -1, 5: -2},
                          "dont_know": [6]}},
        "questions": [{"id": "a", "type": "likert", "scale": "s5", **extra}],
    })


def _data() -> pd.DataFrame:
    # answers: 1,1,2,3,4,5,6(わからない),9(無回答); weights 1..8
    return pd.DataFrame({"a": [1, 1, 2, 3, 4, 5, 6, 9], "w": np.arange(1.0, 9.0)})


def test_scores_exclude_dont_know_and_missing_and_reverse():
    q = _book()["a"]
    s = item_scores(_data(), q)
    np.testing.assert_array_equal(s[:6], [2, 2, 1, 0, -1, -2])
    assert np.isnan(s[6]) and np.isnan(s[7])
    np.testing.assert_array_equal(item_scores(_data(), q, reverse=True)[:6], [-2, -2, -1, 0, 1, 2])


def test_distribution_base_includes_dont_know_not_missing():
    q = _book()["a"]
    d = SurveyDesign(_data(), weights="w")
    out = likert_distribution(d, [q])
    # substantive answers rows 0..6, weights 1..7, total 28
    expected = {1: 3 / 28, 2: 3 / 28, 3: 4 / 28, 4: 5 / 28, 5: 6 / 28, 6: 7 / 28}
    got = dict(zip(out["code"], out["estimate"], strict=True))
    assert got == pytest.approx(expected, rel=1e-12)
    assert list(out["code"]) == [1, 2, 3, 4, 5, 6]  # わからない last
    assert (out["base"] == 7).all() and (out["n_missing"] == 1).all()
    assert out["dont_know"].tolist() == [False] * 5 + [True]


def test_summary_boxes_and_mean_by_hand():
    q = _book()["a"]
    d = SurveyDesign(_data(), weights="w")
    r = likert_summary(d, [q]).iloc[0]
    w = np.arange(1.0, 7.0)
    s = np.array([2, 2, 1, 0, -1, -2])
    assert r["n"] == 6 and r["n_dont_know"] == 1 and r["n_missing"] == 1
    assert r["top2"] == pytest.approx((1 + 2 + 3) / 21, rel=1e-12)
    assert r["bottom2"] == pytest.approx((5 + 6) / 21, rel=1e-12)
    mean = np.sum(w * s) / w.sum()
    assert r["mean"] == pytest.approx(mean, rel=1e-12)
    # with-replacement linearised variance of a ratio mean over the 6 scored rows (n = 8 rows
    # in the design, domain-style: n/(n-1) with all 8 rows, zero scores outside the domain)
    z = np.zeros(8)
    z[:6] = w * (s - mean) / w.sum()
    var = 8 / 7 * np.sum((z - z.mean()) ** 2)
    assert r["mean_se"] == pytest.approx(np.sqrt(var), rel=1e-10)


def test_codebook_rejects_bad_dont_know_and_reverse():
    with pytest.raises(ConfigError, match="dont_know"):
        _book(dont_know=[7])
    with pytest.raises(ConfigError, match="reverse"):
        _book(reverse="yes")
    with pytest.raises(ConfigError, match="revers"):
        _book(reversed=True)  # typo: did-you-mean
    assert _book(reverse=True)["a"].reverse
    assert _book()["a"].dont_know == (6,)


def test_intervals_are_those_of_design_proportion():
    q = _book()["a"]
    data = pd.concat([_data()] * 5, ignore_index=True).assign(h=lambda d: d.index % 3)
    d = SurveyDesign(data, weights="w", strata="h")
    dist = likert_distribution(d, [q]).set_index("code")
    ind = np.where(data["a"].isin(list(q.codes)), (data["a"] == 2).astype(float), np.nan)
    ref = d.assign(x=ind).proportion("x", success=1.0, na_rm=True).iloc[0]
    for k in ("estimate", "se", "ci_low", "ci_high", "df"):
        assert dist.loc[2, k] == pytest.approx(ref[k], rel=1e-10)
    summ = likert_summary(d, [q]).iloc[0]
    top = np.where(~data["a"].isin([6, 9]), data["a"].isin([1, 2]).astype(float), np.nan)
    ref = d.assign(x=top).proportion("x", success=1.0, na_rm=True).iloc[0]
    assert summ["top2_low"] == pytest.approx(ref["ci_low"], rel=1e-10)
    assert summ["top2_high"] == pytest.approx(ref["ci_high"], rel=1e-10)
