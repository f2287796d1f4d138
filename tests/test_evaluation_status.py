"""Outlook (見通し) of plan indicators: the interval rule, the disrupted-years check and the
reconciliation with the grade."""

from __future__ import annotations

import pytest

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.evaluation.status import (
    STATUS_LABELS,
    describe_ja,
    outlook,
    track_status,
    wide_interval,
)


@pytest.mark.parametrize(("p", "status"), [
    (1.0, "on track"), (0.975, "on track"), (0.9749, "uncertain"), (0.5, "uncertain"),
    (0.0251, "uncertain"), (0.025, "off track"), (0.0, "off track")])
def test_a_claim_needs_the_whole_prediction_interval_on_one_side(p, status):
    r = track_status(p)
    assert r.status == status
    assert (r.label_ja, r.label_en) == STATUS_LABELS[status]


def test_the_level_sets_the_interval_and_errors_name_the_argument():
    assert track_status(0.96, level=0.9).status == "on track"      # 90%: 5% in each tail
    assert track_status(0.96).status == "uncertain"
    with pytest.raises(EstimationError, match="prob_reach"):
        track_status(1.2)
    with pytest.raises(EstimationError, match="prob_reach"):
        track_status(True)
    with pytest.raises(EstimationError, match="level"):
        track_status(0.5, level=1.0)


def test_reasons_are_bilingual_and_conditional_on_the_trend_model():
    r = track_status(0.82)
    assert "82%" in r.reason and "傾向が続くと仮定した場合" in r.reason
    assert "見通し保留" in r.reason and "straddles" in r.reason
    assert "99%超" in track_status(0.999).reason and "over 99%" in track_status(0.999).reason
    assert "全体が目標値に届かない" in track_status(0.001).reason
    text = describe_ja()
    assert "97.5%" in text and "2.5%" in text and "見通し保留" in text
    assert "計画が成功する確率ではありません" in text


def test_a_claim_that_depends_on_the_disrupted_years_is_held():
    o = outlook(0.99, prob_adjusted=0.4)
    assert o["status"] == "uncertain" and o["status_label"] == "見通し保留"
    assert "40%" in o["reason_ja"] and "見通しが分かれる" in o["reason_ja"]
    assert outlook(0.01, prob_adjusted=0.5)["status_label"] == "見通し保留"
    # a wider interval from fewer waves is no evidence against the claim
    o = outlook(0.99, prob_adjusted=0.8)
    assert o["status_label"] == "順調" and "見通しが分かれる" not in o["reason_ja"]
    assert "80%" in o["reason_ja"]
    assert outlook(0.01, prob_adjusted=0.3)["status_label"] == "遅れ"
    assert outlook(0.99, prob_adjusted=float("nan"))["status_label"] == "順調"


def test_the_outlook_says_why_when_it_points_away_from_the_grade():
    s = {"grade": "S", "grade_label": "目標達成"}
    o = outlook(0.52, grade=s, is_current_target=True)
    assert o["status_label"] == "見通し保留"
    assert "現時点の評価はS 目標達成" in o["reason_ja"] and "否定できません" in o["reason_ja"]
    o = outlook(0.01, grade=s, is_current_target=True)
    assert o["status_label"] == "遅れ" and "下回る見込み" in o["reason_ja"]
    o = outlook(0.99, grade={"grade": "D", "grade_label": "悪化"}, is_current_target=True)
    assert "到達する見込み" in o["reason_ja"]
    o = outlook(0.99, grade={"grade": "H", "grade_label": "判定保留"}, is_current_target=True)
    assert "判別できています" in o["reason_ja"]
    o = outlook(0.6, grade={"grade": "H", "grade_label": "判定保留"}, is_current_target=True)
    assert "評価も H 判定保留" in o["reason_ja"]
    # a later target year does not repeat the current grade
    assert "現時点" not in outlook(0.99, grade={"grade": "D", "grade_label": "悪化"})["reason_ja"]


def test_wide_prediction_intervals_are_flagged():
    assert wide_interval(5, 433, 60, "件") and not wide_interval(50, 70, 60, "件")
    assert wide_interval(30, 55, 50, "%") and not wide_interval(45, 60, 50, "%")
    o = outlook(0.6, pi=(5, 433), target=60, unit="件")
    assert "予測区間が非常に広く" in o["warning"]
