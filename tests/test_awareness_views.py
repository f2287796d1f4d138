"""Awareness views: the diverging bars put negative answers left of zero and centre the
neutral answer; the tables are Japanese and hide small groups."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.views.awareness import diverging_likert_chart, profile_view


def _dist() -> pd.DataFrame:
    rows = []
    shares = {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.15, 5: 0.15, 6: 0.1}
    for code, est in shares.items():
        rows.append({"item": "a", "text": "項目a", "code": code, "answer": f"回答{code}",
                     "score": {1: 2, 2: 1, 3: 0, 4: -1, 5: -2}.get(code, np.nan),
                     "dont_know": code == 6, "estimate": est})
    return pd.DataFrame(rows)


def test_diverging_geometry():
    fig = diverging_likert_chart(_dist())
    ax = fig.axes[0]
    bars = {}
    for container in ax.containers:
        bars[container.get_label()] = container.patches[0]
    neutral = bars["回答3"]
    assert neutral.get_x() == pytest.approx(-15.0) and neutral.get_width() == pytest.approx(30.0)
    assert bars["回答2"].get_x() == pytest.approx(15.0)           # positive right of the half
    assert bars["回答1"].get_x() == pytest.approx(35.0)
    neg = bars["回答4"]
    assert max(neg.get_x(), neg.get_x() + neg.get_width()) == pytest.approx(-15.0)
    assert min(neg.get_x(), neg.get_x() + neg.get_width()) == pytest.approx(-30.0)
    far = bars["回答5"]
    assert min(far.get_x(), far.get_x() + far.get_width()) == pytest.approx(-45.0)
    assert bars["回答6"].get_x() > 45.0                            # わからない apart, on the right


def test_profile_hides_small_groups():
    prof = pd.DataFrame([
        {"dimension": "性別", "group": "男性", "segment": 1, "estimate": 0.4, "n": 50, "shown": True},
        {"dimension": "性別", "group": "男性", "segment": 2, "estimate": 0.6, "n": 50, "shown": True},
        {"dimension": "性別", "group": "回答しない", "segment": 1, "estimate": 0.5, "n": 3, "shown": False},
        {"dimension": "性別", "group": "回答しない", "segment": 2, "estimate": 0.5, "n": 3, "shown": False},
    ])
    out = profile_view(prof)
    assert out.loc[0, "類型1（%）"] == 40.0 and out.loc[1, "類型1（%）"] == "x"
    assert out.loc[1, "回答者数（n）"] == "x"
