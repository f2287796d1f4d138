"""Segments: known clusters recovered, k chosen by silhouette, stable, shares by design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.stats import SurveyDesign
from kyodo_analysis.stats.segments import segment


def _clusters(seed: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[1.5, 1.5, 1.5, 1.0], [-1.5, -1.0, -1.5, -1.0], [1.5, -1.5, 0.0, 0.0]])
    truth = rng.choice(3, size=600, p=[0.5, 0.3, 0.2])
    x = centres[truth] + rng.normal(scale=0.5, size=(600, 4))
    d = pd.DataFrame(x, columns=["i1", "i2", "i3", "i4"])
    d["w"] = rng.uniform(0.5, 2.0, 600)
    return d, truth


@pytest.mark.slow
def test_three_planted_segments_recovered_and_stable():
    from sklearn.metrics import adjusted_rand_score

    d, truth = _clusters()
    res = segment(SurveyDesign(d, weights="w"), d[["i1", "i2", "i3", "i4"]], k_range=(2, 5))
    assert res.k == 3
    assert adjusted_rand_score(truth, res.labels.to_numpy()) > 0.95
    assert res.stability["ari"].min() > 0.9
    w = d["w"].to_numpy()
    # weighted shares, by hand
    for _, r in res.shares.iterrows():
        share = w[res.labels.to_numpy() == r["segment"]].sum() / w.sum()
        assert r["estimate"] == pytest.approx(share, rel=1e-12)
        assert r["ci_low"] < r["estimate"] < r["ci_high"]
    # segment 1 is the most positive one
    assert res.centres.mean(axis=1).is_monotonic_decreasing


def test_missing_items_are_not_classified():
    d, _ = _clusters()
    d.loc[:9, "i2"] = np.nan
    res = segment(SurveyDesign(d, weights="w"), d[["i1", "i2", "i3", "i4"]], k_range=(2, 4),
                  n_boot=2, n_seeds=2)
    assert res.labels.iloc[:10].isna().all() and res.labels.iloc[10:].notna().all()
    assert res.shares["estimate"].sum() == pytest.approx(1.0)
