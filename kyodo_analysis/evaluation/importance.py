"""The 重要度・満足度 map (importance–satisfaction analysis) with design-based uncertainty.

Items are declared as importance/satisfaction pairs in the codebook
(``awareness.importance_satisfaction.pairs``). Two municipal definitions:

* ``"mean"``: each axis is the mean score of the answers on the scale's scores
  (+2 … −2), わからない and 無回答 left out;
* ``"share"``: importance is the share choosing the top two answers (「重要」「やや重要」),
  satisfaction is the share satisfied (top two) minus the share dissatisfied (bottom two).

Both are ratio means ``sum w v / sum w 1[scored]`` of a per-respondent value ``v`` (the score;
the 0/1 top-two indicator; +1/0/−1), so every point and the joint covariance of all points
come from one call of the design's estimator core (linearised, or replicate weights): each
point carries the covariance of its two coordinates (the confidence ellipse) and every
point's covariance with every other (for the priority index).

Quadrants split at the means of all items. 改善要望度 (priority): each item's coordinates
standardised across items, ``z = (x - mean) / sd`` (sd with divisor ``m - 1``); distance
``d = |z|``; angle ``theta`` between ``z`` and the direction of high importance and low
satisfaction ``(-1, 1)/sqrt 2``; priority ``d (90 - theta) / 90`` (``theta`` in degrees):
``d`` on that diagonal, ``-d`` opposite. Its standard error is the delta method over the
joint covariance (numerical gradient).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats import _dist
from kyodo_analysis.stats._threads import single_threaded
from kyodo_analysis.stats.likert import item_scores, scored_codes

if TYPE_CHECKING:
    from kyodo_analysis.codebook import Codebook, Question
    from kyodo_analysis.config.awareness import ISPair

__all__ = ["ISMap", "importance_satisfaction", "movement", "priority_index"]

Definition = Literal["mean", "share"]

#: Axis labels of the two definitions (x: satisfaction, y: importance).
AXIS_LABELS = {
    "mean": ("満足度（平均評点）", "重要度（平均評点）"),
    "share": ("満足度（「満足」－「不満」の割合、ポイント）", "重要度（「重要」の割合、%）"),
}
QUADRANTS = {(False, True): "重点改善（重要度高・満足度低）",
             (True, True): "維持（重要度高・満足度高）",
             (False, False): "改善（重要度低・満足度低）",
             (True, False): "現状維持（重要度低・満足度高）"}


def _values(data: pd.DataFrame, q: Question, role: str, definition: Definition) -> np.ndarray:
    s = item_scores(data, q)
    if definition == "mean":
        return s
    mapping = scored_codes(q)
    by_score = sorted(mapping, key=lambda c: mapping[c])
    codes = pd.to_numeric(data[q.id], errors="coerce").to_numpy()
    top = np.isin(codes, by_score[-2:]).astype(float)
    if role == "importance":
        return np.where(np.isnan(s), np.nan, 100 * top)
    bottom = np.isin(codes, by_score[:2]).astype(float)
    return np.where(np.isnan(s), np.nan, 100 * (top - bottom))


def priority_index(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance, angle (degrees) and 改善要望度 of items at satisfaction ``x``, importance
    ``y`` (see the module docstring)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2:
        raise EstimationError("the priority index needs at least two items")
    zx = (x - x.mean()) / x.std(ddof=1)
    zy = (y - y.mean()) / y.std(ddof=1)
    d = np.hypot(zx, zy)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (-zx + zy) / np.sqrt(2) / d
    theta = np.degrees(np.arccos(np.clip(np.where(d > 0, cos, 1.0), -1, 1)))
    return d, theta, d * (90 - theta) / 90


@dataclass(frozen=True)
class ISMap:
    """Points of the map (``points``: ``label, importance_item, satisfaction_item, x, y,
    se_x, se_y, cov_xy, x_low, x_high, y_low, y_high, n_x, n_y, quadrant, distance, angle,
    priority, priority_se, rank``), the joint covariance of ``(x_1, y_1, x_2, …)`` and the
    definition used."""

    points: pd.DataFrame
    cov: np.ndarray
    definition: str
    x_label: str
    y_label: str


@single_threaded
def importance_satisfaction(design, codebook: Codebook, pairs: Sequence[ISPair], *,
                            definition: Definition = "mean", level: float = 0.95) -> ISMap:
    """The importance–satisfaction map of ``pairs`` with design-based uncertainty.

    Parameters
    ----------
    design : SurveyDesign, WeightedDesign or ReplicateDesign
    codebook : Codebook
    pairs : sequence of ISPair
        From ``codebook.awareness.pairs``.
    definition : {"mean", "share"}
    level : float

    Returns
    -------
    ISMap
    """
    if definition not in AXIS_LABELS:
        raise EstimationError(f"definition must be 'mean' or 'share', got {definition!r}")
    if len(pairs) < 2:
        raise EstimationError("the map needs at least two importance/satisfaction pairs")
    data = design.data
    nums, dens, counts = [], [], []
    for p in pairs:
        for role, qid in (("satisfaction", p.satisfaction), ("importance", p.importance)):
            v = _values(data, codebook[qid], role, definition)
            ok = ~np.isnan(v)
            nums.append(np.where(ok, v, 0.0))
            dens.append(ok.astype(float))
            counts.append(int((ok & (design.weights != 0)).sum()))
    k = len(nums)
    xx = np.column_stack(nums + dens)

    def g(t: np.ndarray) -> np.ndarray:
        return np.asarray(t[..., :k] / t[..., k:])

    def jac(t: np.ndarray) -> np.ndarray:
        out = np.zeros((t.shape[0], k, 2 * k))
        idx = np.arange(k)
        out[:, idx, idx] = 1 / t[:, k:]
        out[:, idx, k + idx] = -t[:, :k] / t[:, k:] ** 2
        return out

    est, cov, _, _, _, _ = design._smooth(xx, np.zeros(len(data), dtype=bool),
                                          design._domains(None), g, jac, k)
    e = est[0]
    x, y = e[0::2], e[1::2]
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    crit = _dist.norm_ppf((1 + level) / 2)
    d, theta, prio = priority_index(x, y)

    def prio_of(v: np.ndarray) -> np.ndarray:
        return priority_index(v[0::2], v[1::2])[2]

    grad = np.empty((len(pairs), k))
    step = 1e-6 * np.maximum(np.abs(e), 1.0)
    for j in range(k):
        up, down = e.copy(), e.copy()
        up[j] += step[j]
        down[j] -= step[j]
        grad[:, j] = (prio_of(up) - prio_of(down)) / (2 * step[j])
    prio_se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", grad, cov, grad), 0, None))
    points = pd.DataFrame({
        "label": [p.label for p in pairs],
        "importance_item": [p.importance for p in pairs],
        "satisfaction_item": [p.satisfaction for p in pairs],
        "x": x, "y": y, "se_x": se[0::2], "se_y": se[1::2],
        "cov_xy": [cov[2 * i, 2 * i + 1] for i in range(len(pairs))],
        "x_low": x - crit * se[0::2], "x_high": x + crit * se[0::2],
        "y_low": y - crit * se[1::2], "y_high": y + crit * se[1::2],
        "n_x": counts[0::2], "n_y": counts[1::2],
    })
    points["var_x"] = points["se_x"] ** 2
    points["var_y"] = points["se_y"] ** 2
    points["quadrant"] = [QUADRANTS[(bool(a >= x.mean()), bool(b >= y.mean()))]
                          for a, b in zip(x, y, strict=True)]
    points["distance"] = d
    points["angle"] = theta
    points["priority"] = prio
    points["priority_se"] = prio_se
    points["rank"] = points["priority"].rank(ascending=False, method="min").astype(int)
    xl, yl = AXIS_LABELS[definition]
    return ISMap(points, cov, definition, xl, yl)


@single_threaded
def movement(previous: ISMap, current: ISMap, *, level: float = 0.95) -> pd.DataFrame:
    """Change of each item between two waves (independent samples): ``label, dx, dy`` with
    standard errors ``sqrt(se_prev^2 + se_cur^2)`` and intervals."""
    a = previous.points.set_index("label")
    b = current.points.set_index("label")
    common = [lab for lab in b.index if lab in a.index]
    crit = _dist.norm_ppf((1 + level) / 2)
    out = pd.DataFrame({"label": common})
    for ax in ("x", "y"):
        diff = b.loc[common, ax].to_numpy() - a.loc[common, ax].to_numpy()
        se = np.hypot(b.loc[common, f"se_{ax}"].to_numpy(), a.loc[common, f"se_{ax}"].to_numpy())
        out[f"d{ax}"] = diff
        out[f"d{ax}_se"] = se
        out[f"d{ax}_low"] = diff - crit * se
        out[f"d{ax}_high"] = diff + crit * se
    return out
