"""The 重要度・満足度 map: points, joint covariance, quadrants and the priority index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.evaluation.importance import importance_satisfaction, movement, priority_index
from kyodo_analysis.stats import SurveyDesign

S5 = {1: "満足", 2: "やや満足", 3: "どちらともいえない", 4: "やや不満", 5: "不満"}
I5 = {1: "重要", 2: "やや重要", 3: "どちらともいえない", 4: "あまり重要でない", 5: "重要でない"}
SC = {1: 2, 2: 1, 3: 0, 4: -1, 5: -2}


def _book() -> Codebook:
    qs = []
    for k in (1, 2, 3):
        qs += [{"id": f"s{k}", "type": "likert", "scale": "sat"},
               {"id": f"i{k}", "type": "likert", "scale": "imp"}]
    return Codebook.from_dict({
        "missing_codes": {9: "無回答"},
        "scales": {"sat": {"codes": S5, "scores": SC}, "imp": {"codes": I5, "scores": SC}},
        "questions": qs,
        "awareness": {"importance_satisfaction": {"pairs": [
            {"label": f"項目{k}", "importance": f"i{k}", "satisfaction": f"s{k}"} for k in (1, 2, 3)]}},
    })


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 300
    d = pd.DataFrame({f"{p}{k}": rng.integers(1, 6, n) for k in (1, 2, 3) for p in "si"})
    d["s2"] = np.where(rng.random(n) < 0.1, 9, d["s2"])  # 無回答
    d["w"] = rng.uniform(0.5, 2, n)
    d["h"] = rng.integers(1, 4, n)
    return d


def test_points_and_covariance_match_the_design_means(data):
    book = _book()
    d = SurveyDesign(data, weights="w", strata="h")
    m = importance_satisfaction(d, book, book.awareness.pairs)
    p = m.points.set_index("label")
    score = {c: data[c].map(SC) for c in data.columns if c[0] in "si"}
    d2 = d.assign(**score)
    ref = d2.mean("s2", na_rm=True).iloc[0]
    assert p.loc["項目2", "x"] == pytest.approx(ref["estimate"], rel=1e-12)
    assert p.loc["項目2", "se_x"] == pytest.approx(ref["se"], rel=1e-10)
    # joint covariance of two items without missing answers = the design covariance of means
    _, cov = d2._linear_cov(np.column_stack([score["s1"], score["i1"]]),
                            np.zeros(len(data), bool), "mean")
    assert p.loc["項目1", "cov_xy"] == pytest.approx(cov[0, 1], rel=1e-10)
    assert p.loc["項目2", "n_x"] == int((data["s2"] != 9).sum())


def test_share_definition_by_hand(data):
    book = _book()
    d = SurveyDesign(data, weights="w")
    p = importance_satisfaction(d, book, book.awareness.pairs, definition="share").points
    w = data["w"].to_numpy()
    imp = np.isin(data["i1"], [1, 2])
    sat = np.isin(data["s1"], [1, 2]).astype(float) - np.isin(data["s1"], [4, 5])
    assert p["y"].iloc[0] == pytest.approx(100 * np.sum(w * imp) / w.sum(), rel=1e-12)
    assert p["x"].iloc[0] == pytest.approx(100 * np.sum(w * sat) / w.sum(), rel=1e-12)


def test_priority_index_by_hand():
    # three items: standardised coordinates and the angle to (-1, 1)/sqrt2
    x = np.array([0.0, 1.0, 2.0])   # satisfaction
    y = np.array([2.0, 1.0, 0.0])   # importance
    d, theta, prio = priority_index(x, y)
    np.testing.assert_allclose(d, [np.sqrt(2), 0, np.sqrt(2)], atol=1e-12)
    assert theta[0] == pytest.approx(0.0, abs=1e-6) and theta[2] == pytest.approx(180.0)
    np.testing.assert_allclose(prio[[0, 2]], [np.sqrt(2), -np.sqrt(2)], atol=1e-9)


def test_quadrants_rank_and_movement(data):
    book = _book()
    d = SurveyDesign(data, weights="w")
    m = importance_satisfaction(d, book, book.awareness.pairs)
    assert set(m.points["quadrant"]) <= {"重点改善（重要度高・満足度低）", "維持（重要度高・満足度高）",
                                         "改善（重要度低・満足度低）", "現状維持（重要度低・満足度高）"}
    assert sorted(m.points["rank"]) == [1, 2, 3]
    assert (m.points["priority_se"] > 0).all()
    mv = movement(m, m)
    assert np.allclose(mv["dx"], 0) and (mv["dx_se"] > 0).all()
