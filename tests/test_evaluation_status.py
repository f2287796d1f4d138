"""Outlook (見通し) of plan indicators: thresholds and reconciliation with the grade."""

from __future__ import annotations

import pytest

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.evaluation.status import outlook, track_status, wide_interval


def test_thresholds_and_labels():
    assert [track_status(p).label_ja for p in (0.7, 0.69, 0.3, 0.29)] == [
        "順調", "要注意", "要注意", "遅れ"]
    assert "傾向が続くと仮定した場合" in track_status(0.5).reason
    assert track_status(0.5, on_track=0.5, off_track=0.5).status == "on track"
    with pytest.raises(EstimationError):
        track_status(1.2)
    with pytest.raises(EstimationError):
        track_status(0.5, on_track=0.4, off_track=0.6)


def test_an_s_grade_with_a_weak_outlook_says_why():
    o = outlook(0.52, grade={"grade": "S", "grade_label": "目標達成"}, is_current_target=True)
    assert o["status_label"] == "要注意"
    assert "現時点の評価はS 目標達成" in o["reason_ja"] and "下回る可能性" in o["reason_ja"]
    o = outlook(0.9, grade={"grade": "D", "grade_label": "悪化"}, is_current_target=True)
    assert "到達する見込み" in o["reason_ja"]
    # a later target year does not repeat the current grade
    assert "現時点" not in outlook(0.9, grade={"grade": "D", "grade_label": "悪化"})["reason_ja"]


def test_wide_prediction_intervals_are_flagged():
    assert wide_interval(5, 433, 60, "件") and not wide_interval(50, 70, 60, "件")
    assert wide_interval(30, 55, 50, "%") and not wide_interval(45, 60, 50, "%")
    o = outlook(0.6, pi=(5, 433), target=60, unit="件")
    assert "予測区間が非常に広く" in o["warning"]
