"""Figures and tables of the awareness page (notebook 07): diverging Likert bars, the
importance–satisfaction map and Japanese tables of reliability, factors, drivers, segments.

Figures use the house style of :mod:`kyodo_analysis.views.figures` (call ``use_style`` first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions
from kyodo_analysis.views.figures import DIVERGING5, PALETTE, _wrap

__all__ = ["diverging_likert_chart", "drivers_view", "importance_satisfaction_chart", "is_view",
           "likert_summary_table", "loadings_view", "movement_view", "parallel_view",
           "profile_view", "reliability_view", "segment_views"]


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


# ------------------------------------------------------------------------------ tables
def _r(v: float, d: int) -> float:
    return float(np.round(v, d)) if v is not None and np.isfinite(v) else np.nan


def likert_summary_table(summary: pd.DataFrame, *, options: DisplayOptions = DEFAULT_OPTIONS
                         ) -> pd.DataFrame:
    """項目ごとの上位2区分・下位2区分の割合（%）と平均評点（+2～−2）, with intervals."""
    d = options.decimals
    return pd.DataFrame({
        "項目": summary["text"],
        "回答者数（n）": summary["n"],
        "肯定（上位2区分, %）": [_r(100 * v, d) for v in summary["top2"]],
        "下限": [_r(100 * v, d) for v in summary["top2_low"]],
        "上限": [_r(100 * v, d) for v in summary["top2_high"]],
        "否定（下位2区分, %）": [_r(100 * v, d) for v in summary["bottom2"]],
        "平均評点": [_r(v, 2) for v in summary["mean"]],
        "平均評点の下限": [_r(v, 2) for v in summary["mean_low"]],
        "平均評点の上限": [_r(v, 2) for v in summary["mean_high"]],
        "わからない（人）": summary["n_dont_know"],
        "無回答（人）": summary["n_missing"],
    })


_STAT_LABELS = {"raw_alpha": "α係数（素点）", "std_alpha": "α係数（標準化）",
                "omega_h": "ω（階層）", "omega_t": "ω（全体）"}


def reliability_view(table: pd.DataFrame) -> pd.DataFrame:
    """尺度ごとの信頼性係数と95%信頼区間."""
    return pd.DataFrame({
        "尺度": table["label"], "項目数": table["items"],
        "指標": table["statistic"].map(_STAT_LABELS),
        "推定値": table["estimate"].round(3), "下限": table["ci_low"].round(3),
        "上限": table["ci_high"].round(3), "回答者数（n）": table["n"],
    })


def loadings_view(result, labels: dict[str, str]) -> pd.DataFrame:
    """因子負荷量（パターン）と共通性."""
    load = result.loadings.round(3)
    load.columns = [f"因子{i + 1}" for i in range(load.shape[1])]
    out = load.assign(共通性=result.communalities.round(3).to_numpy())
    out.insert(0, "項目", [labels.get(i, i) for i in result.loadings.index])
    return out.reset_index(drop=True)


def parallel_view(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"順位": table["position"],
                         "固有値（観測・因子）": table["observed_fa"].round(3),
                         "固有値（乱数・因子）": table["simulated_fa"].round(3),
                         "固有値（観測・主成分）": table["observed_pc"].round(3),
                         "固有値（乱数・主成分）": table["simulated_pc"].round(3)})


def is_view(points: pd.DataFrame, *, label: str = "項目") -> pd.DataFrame:
    """重要度・満足度の表：座標と95%信頼区間、象限、改善要望度と順位."""
    return pd.DataFrame({
        label: points["label"],
        "満足度": points["x"].round(2), "満足度の下限": points["x_low"].round(2),
        "満足度の上限": points["x_high"].round(2),
        "重要度": points["y"].round(2), "重要度の下限": points["y_low"].round(2),
        "重要度の上限": points["y_high"].round(2),
        "象限": points["quadrant"], "改善要望度": points["priority"].round(2),
        "改善要望度の標準誤差": points["priority_se"].round(2), "順位": points["rank"],
        "回答者数（満足度）": points["n_x"], "回答者数（重要度）": points["n_y"],
    })


def movement_view(mv: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"項目": mv["label"], "満足度の変化": mv["dx"].round(2),
                         "下限": mv["dx_low"].round(2), "上限": mv["dx_high"].round(2),
                         "重要度の変化": mv["dy"].round(2), "重要度の変化の下限": mv["dy_low"].round(2),
                         "重要度の変化の上限": mv["dy_high"].round(2)})


def drivers_view(effects: pd.DataFrame, *, options: DisplayOptions = DEFAULT_OPTIONS
                 ) -> pd.DataFrame:
    """平均限界効果（ポイント）と95%信頼区間."""
    d = options.decimals
    return pd.DataFrame({
        "参加の種類": effects["outcome"], "要因": effects["predictor"],
        "種類": effects["kind"].map({"indicator": "該当／非該当", "score": "得点（1標準偏差）"}),
        "差（ポイント）": [_r(100 * v, d) for v in effects["estimate"]],
        "下限": [_r(100 * v, d) for v in effects["ci_low"]],
        "上限": [_r(100 * v, d) for v in effects["ci_high"]],
        "回帰係数": effects["coef"].round(3), "回帰係数の標準誤差": effects["coef_se"].round(3),
        "回答者数（n）": effects["n"],
    })


def segment_views(result, labels: dict[str, str], *,
                  options: DisplayOptions = DEFAULT_OPTIONS) -> dict[str, pd.DataFrame]:
    """Segment tables: 基準（k とシルエット）, 安定性, 構成比, 各類型の特徴."""
    d = options.decimals
    crit = pd.DataFrame({"類型の数": result.criterion["k"],
                         "平均シルエット": result.criterion["silhouette"].round(3),
                         "採用": np.where(result.criterion["k"] == result.k, "○", "")})
    stab = (result.stability.groupby("kind")["ari"].agg(["mean", "min", "size"]).reset_index())
    stab = pd.DataFrame({"確認方法": stab["kind"].map({"seed": "乱数の初期値を変える",
                                                    "bootstrap": "ブートストラップ標本"}),
                         "回数": stab["size"], "修正ランド指数（平均）": stab["mean"].round(3),
                         "修正ランド指数（最小）": stab["min"].round(3)})
    shares = pd.DataFrame({"類型": [f"類型{j}" for j in result.shares["segment"]],
                           "構成比（%）": [_r(100 * v, d) for v in result.shares["estimate"]],
                           "下限": [_r(100 * v, d) for v in result.shares["ci_low"]],
                           "上限": [_r(100 * v, d) for v in result.shares["ci_high"]],
                           "回答者数（n）": result.shares["n"]})
    centres = result.centres.round(2).T
    centres.columns = [f"類型{j}" for j in centres.columns]
    centres.insert(0, "項目", [labels.get(i, i) for i in centres.index])
    return {"criterion": crit, "stability": stab, "shares": shares,
            "centres": centres.reset_index(drop=True)}


def profile_view(profiles: pd.DataFrame, *, options: DisplayOptions = DEFAULT_OPTIONS
                 ) -> pd.DataFrame:
    """属性・地区ごとの類型の構成比（%）; 基数が小さい区分は x."""
    d = options.decimals
    wide = profiles.pivot_table(index=["dimension", "group"], columns="segment",
                                values="estimate", sort=False)
    n = profiles.groupby(["dimension", "group"], sort=False)["n"].first()
    shown = profiles.groupby(["dimension", "group"], sort=False)["shown"].first()
    out = pd.DataFrame({"区分": [a for a, _ in wide.index], "グループ": [b for _, b in wide.index]})
    for j in wide.columns:
        out[f"類型{j}（%）"] = [(_r(100 * v, d) if ok else "x")
                              for v, ok in zip(wide[j], shown, strict=True)]
    out["回答者数（n）"] = [int(v) if ok else "x" for v, ok in zip(n, shown, strict=True)]
    return out
