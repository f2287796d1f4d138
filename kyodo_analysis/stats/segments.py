"""Segments of respondents on attitude items: weighted k-means with a stated criterion.

* Items are standardised with their weighted means and SDs (complete rows only).
* For each ``k`` in the range, scikit-learn ``KMeans`` (``sample_weight`` = survey weights,
  ``n_init=5``, the seed given). The number of segments is the ``k`` with the largest mean
  silhouette (Rousseeuw 1987; computed on the unweighted rows, Euclidean distance).
* Stability: the adjusted Rand index (Hubert & Arabie 1985) between the chosen solution and
  (a) fits from other seeds (``n_init=1``), (b) fits on bootstrap resamples of the rows
  (drawn with probability proportional to weight) that then label every row.
* Segments are numbered by decreasing mean of the standardised items (segment 1 the most
  positive), so numbering does not depend on the seed.
* The rows are clustered in a canonical order (:func:`canonical_rows`: sorted by their items
  and weight), so the segments do not depend on the order of the records in the file (a
  partner bundle's rows are shuffled).

Weighted segment shares and profiles use the design (:meth:`SurveyDesign.proportion`,
:meth:`SurveyDesign.mean` with ``by=``), so they carry design-based intervals; a segment is a
design variable like any other column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats._threads import one_thread

if TYPE_CHECKING:
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["SegmentResult", "canonical_rows", "segment"]


@dataclass(frozen=True)
class SegmentResult:
    """Segmentation: ``labels`` (Series aligned with ``design.data``; NaN = not classified),
    ``k``, ``criterion`` (k, silhouette, inertia), ``stability`` (kind, replicate, ari),
    ``centres`` (standardised item means by segment), ``shares`` (weighted segment shares
    with intervals)."""

    labels: pd.Series
    k: int
    criterion: pd.DataFrame
    stability: pd.DataFrame
    centres: pd.DataFrame
    shares: pd.DataFrame


def canonical_rows(x: np.ndarray, w: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Positions of the rows (those in ``keep``) sorted by their values: a stable lexsort on
    the columns of ``x`` (first column first), then the weight ``w``.

    A method that draws or starts from rows by position (resampling, random starts) and runs
    on the rows in this order gives the same result for every order of the same records:
    rows it cannot tell apart (equal on every column it uses and on the weight) are the only
    ones whose relative order is kept.
    """
    pos = np.arange(len(w)) if keep is None else np.flatnonzero(keep)
    keys = [w[pos], *(x[pos, j] for j in range(x.shape[1] - 1, -1, -1))]
    return np.asarray(pos[np.lexsort(keys)])


def _order(labels: np.ndarray, z: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    means = np.array([np.average(z[labels == j].mean(axis=1), weights=w[labels == j])
                      if (labels == j).any() else -np.inf for j in range(k)])
    rank = np.empty(k, dtype=int)
    rank[np.argsort(-means, kind="stable")] = np.arange(k)
    return np.asarray(rank[labels])


def segment(design: _BaseDesign, scores: pd.DataFrame, *, k_range: tuple[int, int] = (2, 5),
            seed: int = 0, n_seeds: int = 5, n_boot: int = 10,
            level: float = 0.95) -> SegmentResult:
    """Cluster respondents on the items of ``scores`` (aligned with ``design.data``).

    Parameters
    ----------
    design : SurveyDesign, WeightedDesign or ReplicateDesign
    scores : DataFrame
        Item scores; rows with any missing item are not classified (NaN label).
    k_range : (int, int)
        Smallest and largest number of segments tried.
    seed, n_seeds, n_boot : int
        Seed of the chosen fit; other seeds and bootstrap resamples for the stability check.

    Returns
    -------
    SegmentResult
    """
    # one thread: k-means on a survey's size is fast serially, and OpenMP threads spinning
    # against the report's other worker processes slow it down a hundredfold
    with one_thread(kmeans=True):
        return _segment(design, scores, k_range=k_range, seed=seed, n_seeds=n_seeds,
                        n_boot=n_boot, level=level)


def _segment(design: _BaseDesign, scores: pd.DataFrame, *, k_range: tuple[int, int],
             seed: int, n_seeds: int, n_boot: int, level: float) -> SegmentResult:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    x = scores.to_numpy(dtype=float)
    w_all = design.weights
    keep = ~np.isnan(x).any(axis=1) & (w_all != 0)
    lo, hi = k_range
    if keep.sum() < 5 * hi:
        raise EstimationError(f"too few complete rows ({int(keep.sum())}) for {hi} segments")
    # the complete rows in a canonical order (by their items, then weight): k-means' starts
    # and the bootstrap draws pick rows by position, so every order of the same records
    # gives the same segments, bit for bit (rows equal on all of these are interchangeable)
    rows_kept = canonical_rows(x, w_all, keep)
    xk, w = x[rows_kept], w_all[rows_kept]
    mu = np.average(xk, axis=0, weights=w)
    sd = np.sqrt(np.average((xk - mu) ** 2, axis=0, weights=w))
    if (sd == 0).any():
        raise EstimationError("an item has no variation among the complete rows")
    z = (xk - mu) / sd
    rows, fits = [], {}
    for k in range(lo, hi + 1):
        km = KMeans(n_clusters=k, n_init=5, random_state=seed).fit(z, sample_weight=w)
        fits[k] = km
        rows.append({"k": k, "silhouette": float(silhouette_score(z, km.labels_)),
                     "inertia": float(km.inertia_)})
    criterion = pd.DataFrame(rows)
    k = int(criterion.loc[criterion["silhouette"].idxmax(), "k"])
    best = _order(fits[k].labels_, z, w, k)
    stab = []
    for s in range(1, n_seeds + 1):
        other = KMeans(n_clusters=k, n_init=1, random_state=seed + s).fit(z, sample_weight=w)
        stab.append({"kind": "seed", "replicate": s,
                     "ari": float(adjusted_rand_score(best, other.labels_))})
    rng = np.random.default_rng(seed)
    for b in range(n_boot):
        idx = rng.choice(len(z), size=len(z), replace=True, p=w / w.sum())
        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(z[idx])
        stab.append({"kind": "bootstrap", "replicate": b + 1,
                     "ari": float(adjusted_rand_score(best, km.predict(z)))})
    labels = np.full(len(w_all), np.nan)
    labels[rows_kept] = best + 1
    centres = pd.DataFrame([z[best == j].mean(axis=0) for j in range(k)],
                           columns=scores.columns, index=pd.Index(range(1, k + 1), name="segment"))
    d = design.assign(_segment=labels)
    shares = []
    for j in range(1, k + 1):
        r = d.proportion("_segment", success=float(j), na_rm=True, level=level).iloc[0]
        shares.append({"segment": j, "estimate": r["estimate"], "se": r["se"],
                       "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                       "n": int((labels == j).sum())})
    return SegmentResult(pd.Series(labels, index=design.data.index, name="segment"), k,
                         criterion, pd.DataFrame(stab), centres, pd.DataFrame(shares))
