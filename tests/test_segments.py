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


def _likert(n: int = 240, seed: int = 5) -> pd.DataFrame:
    """Five-point items with many tied rows (as survey items are), weights with ties, strata."""
    rng = np.random.default_rng(seed)
    group = rng.choice(2, size=n)
    x = np.clip(np.round(np.where(group[:, None] == 0, 2.0, 4.0)
                         + rng.normal(scale=0.9, size=(n, 3))), 1, 5)
    d = pd.DataFrame(x, columns=["i1", "i2", "i3"])
    d["w"] = rng.choice([0.8, 1.0, 1.5], size=n)
    d["stratum"] = rng.choice(3, size=n)
    d["rid"] = np.arange(n)
    d.loc[[3, 17], "i2"] = np.nan
    return d


def test_segments_do_not_depend_on_the_order_of_the_rows():
    """A partner bundle shuffles the records: every permutation of the rows gives the same
    segments, bit for bit (labels follow the records). The shares are design estimates
    summed in the file's order, so they agree to rounding only."""
    d = _likert()
    items = ["i1", "i2", "i3"]

    def run(frame: pd.DataFrame):
        res = segment(SurveyDesign(frame, strata="stratum", weights="w"), frame[items],
                      k_range=(2, 3), n_boot=3, n_seeds=2)
        return res, pd.Series(res.labels.to_numpy(), index=frame["rid"].to_numpy()).sort_index()

    base, labels = run(d)
    assert labels.isna().sum() == 2
    for seed in (1, 2, 3):
        shuffled = d.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        res, lab = run(shuffled)
        assert res.k == base.k
        np.testing.assert_array_equal(lab.to_numpy(), labels.to_numpy())
        pd.testing.assert_frame_equal(res.criterion, base.criterion, check_exact=True)
        pd.testing.assert_frame_equal(res.stability, base.stability, check_exact=True)
        pd.testing.assert_frame_equal(res.centres, base.centres, check_exact=True)
        pd.testing.assert_frame_equal(res.shares, base.shares, rtol=1e-12)


def test_canonical_rows_sort_by_the_items_then_the_weight():
    from kyodo_analysis.stats.segments import canonical_rows

    x = np.array([[2.0, 1.0], [1.0, 5.0], [2.0, 1.0], [1.0, 5.0], [2.0, 0.0]])
    w = np.array([1.0, 2.0, 0.5, 1.0, 9.0])
    assert canonical_rows(x, w).tolist() == [3, 1, 4, 2, 0]
    keep = np.array([True, True, False, True, True])
    assert canonical_rows(x, w, keep).tolist() == [3, 1, 4, 0]
