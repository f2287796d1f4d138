"""Figures and tables of the awareness page (notebook 07): diverging Likert bars, the
importance–satisfaction map and Japanese tables of reliability, factors, drivers, segments.

Figures use the house style of :mod:`kyodo_analysis.views.figures` (call ``use_style`` first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions
from kyodo_analysis.views.figures import DIVERGING5, PALETTE, _wrap

__all__ = ["diverging_likert_chart", "importance_satisfaction_chart"]


def _diverging_colours(n_pos: int, n_neg: int, neutral: bool) -> tuple[list, list, str]:
    # from the centre outwards: light to dark
    pos = list(DIVERGING5[:2][::-1]) + [DIVERGING5[0]] * max(n_pos - 2, 0)
    neg = list(DIVERGING5[3:]) + [DIVERGING5[4]] * max(n_neg - 2, 0)
    if n_pos == 1:
        pos = [DIVERGING5[0]]
    if n_neg == 1:
        neg = [DIVERGING5[4]]
    return pos, neg, DIVERGING5[2] if neutral else ""


def diverging_likert_chart(dist: pd.DataFrame, *, title: str = "",
                           options: DisplayOptions = DEFAULT_OPTIONS):
    """Diverging stacked bars: negative answers left of zero, positive right, the neutral
    answer centred on zero; わからない as a separate grey bar on the right margin.

    ``dist`` is :func:`kyodo_analysis.stats.likert.likert_distribution` (shares of the
    substantive answers, so each bar, わからない included, adds to 100%).
    """
    import matplotlib.pyplot as plt

    items = list(dict.fromkeys(dist["item"]))
    first = dist[dist["item"] == items[0]]
    scored = first[~first["dont_know"]].sort_values("score", ascending=False)
    pos = scored[scored["score"] > 0]
    neg = scored[scored["score"] < 0].sort_values("score", ascending=False)
    mid = scored[scored["score"] == 0]
    pcol, ncol, mcol = _diverging_colours(len(pos), len(neg), not mid.empty)
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(items) + 1.8))
    y = np.arange(len(items))[::-1]

    def share(code: int) -> np.ndarray:
        out = []
        for it in items:
            rows = dist[(dist["item"] == it) & (dist["code"] == code)]
            out.append(100 * float(rows["estimate"].iloc[0]) if len(rows) else 0.0)
        return np.array(out)

    half = share(int(mid["code"].iloc[0])) / 2 if not mid.empty else np.zeros(len(items))
    if not mid.empty:
        ax.barh(y, 2 * half, left=-half, color=mcol, label=str(mid["answer"].iloc[0]),
                edgecolor="white", linewidth=0.5)
    left = half.copy()
    for colour, (_, r) in zip(pcol, pos.sort_values("score").iterrows(), strict=False):
        v = share(int(r["code"]))
        ax.barh(y, v, left=left, color=colour, label=str(r["answer"]), edgecolor="white",
                linewidth=0.5)
        left += v
    right_end = left.max(initial=0)
    right = -half.copy()
    for colour, (_, r) in zip(ncol, neg.iterrows(), strict=False):
        v = share(int(r["code"]))
        ax.barh(y, -v, left=right, color=colour, label=str(r["answer"]), edgecolor="white",
                linewidth=0.5)
        right -= v
    dk = first[first["dont_know"]]
    lim = max(right_end, -right.min(initial=0), 10) * 1.1
    for _, r in dk.iterrows():
        v = share(int(r["code"]))
        ax.barh(y, v, left=lim, color="#BDBDBD", label=str(r["answer"]), edgecolor="white")
        for yi, vi in zip(y, v, strict=True):
            ax.text(lim + vi + 1, yi, f"{vi:.{options.decimals}f}", va="center", fontsize=8)
        lim += v.max(initial=0) + 8
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [_wrap(str(dist[dist["item"] == it]["text"].iloc[0]), 22) for it in items])
    ax.set_xlabel("%（左：否定的、右：肯定的。中間の回答は0を中心に左右へ半分ずつ）")
    ticks = ax.get_xticks()
    ax.set_xticks(ticks, [f"{abs(t):.0f}" for t in ticks])
    ax.grid(False)
    ax.legend(ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False, fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    fig.tight_layout()
    return fig


def importance_satisfaction_chart(points: pd.DataFrame, *, x_label: str = "満足度",
                                  y_label: str = "重要度", title: str = "",
                                  previous: pd.DataFrame | None = None):
    """The 重要度・満足度 map: one point per item with its 95% confidence ellipse (from the
    design covariance of the two estimates), quadrants split at the means of all items, and
    arrows from the previous wave's positions (``previous``, same ``label`` column).

    ``points`` is :func:`kyodo_analysis.evaluation.importance.importance_satisfaction`'s
    ``points`` frame (``label, x, y, var_x, var_y, cov_xy``).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse
    from scipy import stats

    fig, ax = plt.subplots(figsize=(7.5, 6.0))
    chi = stats.chi2.ppf(0.95, 2)
    for i, (_, r) in enumerate(points.iterrows()):
        colour = PALETTE[i % len(PALETTE)]
        cov = np.array([[r["var_x"], r["cov_xy"]], [r["cov_xy"], r["var_y"]]])
        vals, vecs = np.linalg.eigh(cov)
        angle = float(np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1])))
        w, h = 2 * np.sqrt(chi * np.clip(vals[::-1], 0, None))
        ax.add_patch(Ellipse((r["x"], r["y"]), w, h, angle=angle, facecolor=colour, alpha=0.18,
                             edgecolor=colour))
        ax.plot(r["x"], r["y"], "o", color=colour)
        ax.annotate(_wrap(str(r["label"]), 14), (r["x"], r["y"]), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
        if previous is not None:
            prev = previous[previous["label"] == r["label"]]
            if len(prev):
                ax.annotate("", xy=(r["x"], r["y"]),
                            xytext=(float(prev["x"].iloc[0]), float(prev["y"].iloc[0])),
                            arrowprops={"arrowstyle": "->", "color": colour, "alpha": 0.8})
    ax.axvline(points["x"].mean(), color="grey", linestyle="--", linewidth=0.8)
    ax.axhline(points["y"].mean(), color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, alpha=0.3)
    ax.autoscale_view()
    ax.set_title(title, loc="left", fontsize=11)
    fig.tight_layout()
    return fig
