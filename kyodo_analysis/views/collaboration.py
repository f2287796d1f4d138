"""Pictures and tables of collaborative projects (協働プロセスの可視化), in the house style.

Every function takes the outputs of :mod:`kyodo_analysis.collaboration.measures` (or the
register itself) and returns a matplotlib ``Figure`` or a display table with Japanese headers.
Call :func:`kyodo_analysis.views.figures.use_style` first (the notebooks do).

Names of partners whose type is private (``collaboration.private_types``, by default 市民:
individual citizens) are never drawn or published: they appear as 「市民（個人）」.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kyodo_analysis.calendar import fiscal_year_label
from kyodo_analysis.collaboration.measures import FUNNEL, build_network
from kyodo_analysis.collaboration.register import STAGES, Register
from kyodo_analysis.views.figures import PALETTE

__all__ = [
    "LABEL_TOP_K",
    "flow_chart",
    "flow_table",
    "funnel_chart",
    "funnel_table",
    "label_overlaps",
    "missing_notes",
    "network_chart",
    "partner_table",
    "plan_tree_chart",
    "plan_tree_table",
    "project_gap_table",
    "register_year",
    "review_chart",
    "review_table",
    "stage_table",
    "timeline_chart",
    "type_colours",
    "yearly_table",
]

#: Partners labelled in the network by default: the most connected ones.
LABEL_TOP_K = 12
_STAGE_COLOURS = dict(zip(STAGES, ["#999999", "#56B4E9", "#E69F00", "#009E73", "#0072B2",
                                   "#CC79A7"], strict=True))


def type_colours(types: Sequence[str]) -> dict[str, str]:
    """One colour per partner type, in the order of the study's list."""
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}


def private_label(ptype: str) -> str:
    return f"{ptype}（個人）"


def missing_notes(register: Register, reviews) -> list[str]:
    """What the register lacks for some pictures, as sentences for the page."""
    out = []
    if not register.stages_present:
        out.append("段階の日付（相談日～振り返り日）が台帳に記入されていないため、事業の経過と段階ごとの日数は示せません。")
    else:
        absent = [s for s in STAGES if s not in register.stages_present]
        if absent:
            out.append(f"台帳に日付のない段階があります（{'・'.join(absent)}）。その段階は図表から除いています。")
    if reviews is None:
        out.append("振り返りシート（双方の評価）が設定されていないため、評価の比較は示せません: study.yaml の "
                   "collaboration.reviews に振り返りシートのファイルを追加してください。")
    elif reviews.scores.empty:
        out.append("振り返りシートに評点がないため、評価の比較は示せません。")
    return out


def register_year(register: Register, fiscal_year: int) -> int | None:
    """The register year a report for ``fiscal_year`` shows: that year if projects run in
    it, else the latest earlier year with projects (``None`` when there is none)."""
    years = [y for y in register.fiscal_years() if y <= fiscal_year]
    return years[-1] if years else None


# ----------------------------------------------------------------------------- tables
def flow_table(fl: pd.DataFrame, policy_names: dict[str, str] | None = None) -> pd.DataFrame:
    names = policy_names or {}
    return pd.DataFrame({"相手方の種別": fl["type"], "協働の形態": fl["form"],
                         "推進施策": [f"{p} {names.get(p, '')}".strip() for p in fl["policy"]],
                         "組の数": fl["links"].astype("int64")})


def project_gap_table(gaps: pd.DataFrame, register: Register, *, top: int = 15) -> pd.DataFrame:
    """Projects whose two sides disagree most: for each project (and year) the item with the
    largest absolute gap, the largest first."""
    g = gaps.dropna(subset=["gap"]).assign(abs_gap=lambda d: d["gap"].abs())
    if g.empty:
        return pd.DataFrame(columns=["事業名", "年度", "評価項目", "行政", "市民側", "差（市民側－行政）"])
    best = (g.sort_values(["abs_gap", "item"], ascending=[False, True], kind="stable")
            .groupby(["project_id", "fiscal_year"], sort=False).head(1)
            .sort_values(["abs_gap", "project_id"], ascending=[False, True], kind="stable").head(top))
    names = register.projects.set_index("project_id")["name"]
    return pd.DataFrame({"事業名": best["project_id"].map(names).to_numpy(),
                         "年度": [fiscal_year_label(int(y), style="era") for y in best["fiscal_year"]],
                         "評価項目": best["item"].to_numpy(),
                         "行政": best["city"].astype("int64").to_numpy(),
                         "市民側": best["partner"].astype("int64").to_numpy(),
                         "差（市民側－行政）": best["gap"].astype("int64").to_numpy()})


def yearly_table(yearly: pd.DataFrame) -> pd.DataFrame:
    """Yearly measures with Japanese headers (shares in %, one decimal)."""
    return pd.DataFrame({
        "年度": [fiscal_year_label(int(y), style="era") for y in yearly["fiscal_year"]],
        "事業数": yearly["projects"].astype("int64"),
        "相手方の数": yearly["partners"].astype("int64"),
        "1事業あたりの相手方": yearly["partners_per_project"].round(2),
        "市以外が主導する事業の割合（%）": (100 * yearly["non_city_lead"]).round(1),
        "市以外の相手方が2者以上の事業の割合（%）": (100 * yearly["two_non_city"]).round(1),
        "新たな相手方": yearly["new_partners"].map(lambda v: "-" if pd.isna(v) else int(v)),
    })


def plan_tree_table(tree: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"推進施策": [f"{p} {n}" for p, n in zip(tree["policy"], tree["policy_name"],
                                                              strict=True)],
                         "個別施策": [f"{m} {n}".strip() for m, n in zip(tree["measure"],
                                                                       tree["measure_name"],
                                                                       strict=True)],
                         "事業数": tree["projects"].astype("int64")})


def partner_table(degrees: pd.DataFrame, *, private_types: Sequence[str] = (),
                  top: int | None = 20) -> pd.DataFrame:
    """Partners by number of projects; private types as one row per type (「市民（個人）」 with
    the number of people and their projects)."""
    public = degrees[~degrees["type"].isin(private_types)]
    if top is not None:
        public = public.head(top)
    rows = [{"相手方": p, "種別": t, "事業数": int(n)} for p, t, n in
            zip(public["partner"], public["type"], public["projects"], strict=True)]
    for t in private_types:
        part = degrees[degrees["type"] == t]
        if len(part):
            rows.append({"相手方": f"{private_label(t)} {len(part)}名", "種別": t,
                         "事業数": int(part["projects"].sum())})
    return pd.DataFrame(rows, columns=["相手方", "種別", "事業数"])


def stage_table(medians: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"段階": [f"{a}→{b}" for a, b in zip(medians["from"], medians["to"],
                                                           strict=True)],
                         "事業数": medians["projects"].astype("int64"),
                         "日数の中央値": medians["median_days"].round(1)})


def funnel_table(fun: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"開始年度": [fiscal_year_label(int(y), style="era") for y in fun["start_fy"]],
                        "事業数": fun["projects"].astype("int64")})
    for step in FUNNEL:
        out[step] = fun[step].astype("int64")
    for col in [c for c in fun.columns if c.endswith("（日）")]:
        out[f"{col[:-3]}の日数（中央値）"] = fun[col].round(1)
    return out


def review_table(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"評価項目": summary["item"],
                         "双方が評価した事業数": summary["pairs"].astype("int64"),
                         "行政の平均": summary["city"].round(2),
                         "市民側の平均": summary["partner"].round(2),
                         "差（市民側－行政）": summary["gap"].round(2),
                         "差の大きさの平均": summary["abs_gap"].round(2)})


# ----------------------------------------------------------------------------- network
def label_overlaps(texts, renderer=None) -> int:
    """Number of pairs of the given matplotlib text artists whose boxes overlap."""
    if not texts:
        return 0
    fig = texts[0].figure
    renderer = renderer or fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    return sum(1 for a, b in itertools.combinations(boxes, 2) if a.overlaps(b))


def network_chart(register: Register, *, types: Sequence[str], fiscal_year: int | None = None,
                  city_as_one: str | None = None, private_types: Sequence[str] = (),
                  top_k: int = LABEL_TOP_K, title: str = "", seed: int = 1):
    """Partners and projects as a network (networkx spring layout, seeded).

    Partner nodes are coloured by type and sized by their number of projects; projects are
    small grey points. Only the ``top_k`` most connected partners are labelled, and a label
    that would overlap one already placed (a more connected partner's) is left out, so no two
    labels overlap; the figure's ``labels`` attribute says how many were drawn and left out.
    Private partners are never labelled.
    """
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D

    g = build_network(register, fiscal_year=fiscal_year, city_as_one=city_as_one)
    fig, ax = plt.subplots(figsize=(8.5, 7.0))
    ax.set_axis_off()
    if g.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "事業がありません", ha="center", va="center", transform=ax.transAxes)
        fig.labels = {"drawn": 0, "skipped": 0}
        return fig
    pos = nx.spring_layout(g, seed=seed, k=1.6 / np.sqrt(g.number_of_nodes()), iterations=200)
    colours = type_colours(types)
    nx.draw_networkx_edges(g, pos, ax=ax, edge_color="#BBBBBB", width=0.6)
    projects = [n for n, a in g.nodes(data=True) if a["kind"] == "project"]
    nx.draw_networkx_nodes(g, pos, nodelist=projects, ax=ax, node_size=14, node_color="#666666",
                           node_shape="s")
    partners = sorted((n for n, a in g.nodes(data=True) if a["kind"] == "partner"),
                      key=lambda n: (-g.nodes[n]["projects"], n[1]))
    sizes = [40 + 45 * g.nodes[n]["projects"] for n in partners]
    nx.draw_networkx_nodes(g, pos, nodelist=partners, ax=ax, node_size=sizes,
                           node_color=[colours.get(g.nodes[n]["type"], "#999999") for n in partners],
                           edgecolors="white", linewidths=0.8)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed, skipped = [], 0
    for n in [n for n in partners if g.nodes[n]["type"] not in private_types][:top_k]:
        radius = np.sqrt(40 + 45 * g.nodes[n]["projects"]) / 2
        t = ax.annotate(n[1], pos[n], xytext=(radius + 2, 0), textcoords="offset points",
                        fontsize=8, ha="left", va="center",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.75})
        box = t.get_window_extent(renderer)
        if any(box.overlaps(p.get_window_extent(renderer)) for p in placed):
            t.remove()
            skipped += 1
            continue
        placed.append(t)
    handles = [Line2D([], [], marker="o", ls="", color=c, markersize=8, label=t)
               for t, c in colours.items() if any(g.nodes[n]["type"] == t for n in partners)]
    handles.append(Line2D([], [], marker="s", ls="", color="#666666", markersize=5, label="事業"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
              fontsize=8, title="相手方の種別", title_fontsize=9)
    ax.set_title(title or "協働のネットワーク", loc="left", fontsize=11)
    fig.labels = {"drawn": len(placed), "skipped": skipped, "top_k": top_k,
                  "partners": len(partners)}
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- flows
def _ribbon(ax, x0, y0a, y0b, x1, y1a, y1b, colour, alpha=0.45):
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    xm = (x0 + x1) / 2
    verts = [(x0, y0a), (xm, y0a), (xm, y1a), (x1, y1a), (x1, y1b), (xm, y1b), (xm, y0b),
             (x0, y0b), (x0, y0a)]
    codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO, Path.CURVE4,
             Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
    ax.add_patch(PathPatch(Path(verts, codes), fc=colour, ec="none", alpha=alpha))


def flow_chart(flows: pd.DataFrame, *, types: Sequence[str], forms: Sequence[str],
               policies: Sequence[str], policy_names: dict[str, str] | None = None,
               title: str = ""):
    """An alluvial chart: partner type → form of collaboration → 推進施策, ribbons coloured by
    partner type, widths proportional to the partner links (see
    :func:`~kyodo_analysis.collaboration.measures.flows`); each node shows its count."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(9.0, 6.0))
    ax.set_axis_off()
    total = int(flows["links"].sum()) if len(flows) else 0
    if total == 0:
        ax.text(0.5, 0.5, "市以外の相手方との協働がありません", ha="center", va="center",
                transform=ax.transAxes)
        return fig
    colours = type_colours(types)
    names = policy_names or {}
    columns = [("type", [t for t in types if t in set(flows["type"])]),
               ("form", [f for f in forms if f in set(flows["form"])]),
               ("policy", [p for p in policies if p in set(flows["policy"])])]
    xs, width, gap = [0.0, 1.0, 2.0], 0.06, 0.025 * total
    tops: dict[tuple[str, str], float] = {}
    for (key, values), x in zip(columns, xs, strict=True):
        sums = flows.groupby(key)["links"].sum()
        height = total + gap * (len(values) - 1)
        y = height
        for v in values:
            h = float(sums[v])
            colour = colours.get(v, "#777777") if key == "type" else "#555555"
            ax.add_patch(Rectangle((x - width / 2, y - h), width, h, fc=colour, ec="white"))
            label = f"{v} {names.get(v, '')}".strip() if key == "policy" else v
            ha, dx = ("right", -width) if key == "type" else ("left", width)
            ax.text(x + dx, y - h / 2, f"{label}（{int(h)}）", ha=ha, va="center", fontsize=8)
            tops[(key, v)] = y
            y -= h + gap
    # ribbons: order inside each node so that ribbons leave and arrive in a stable order
    out_cursor = dict(tops)
    in_cursor = dict(tops)
    order = {k: {v: i for i, v in enumerate(vals)} for k, vals in columns}
    f = flows.assign(_t=flows["type"].map(order["type"]), _f=flows["form"].map(order["form"]),
                     _p=flows["policy"].map(order["policy"]))
    out_form = {k: v for k, v in tops.items() if k[0] == "form"}
    # ribbons type -> form, then form -> policy: each stacks down its left and right columns
    for (left, right, keys, x0, x1, out) in (
            ("type", "form", ["_t", "_f", "_p"], xs[0], xs[1], out_cursor),
            ("form", "policy", ["_f", "_p", "_t"], xs[1], xs[2], out_form)):
        for r in f.sort_values(keys).itertuples(index=False):
            h, c = float(r.links), colours.get(r.type, "#777777")
            a, b = (left, getattr(r, left)), (right, getattr(r, right))
            a0, b0 = out[a], in_cursor[b]
            _ribbon(ax, x0 + width / 2, a0, a0 - h, x1 - width / 2, b0, b0 - h, c)
            out[a] -= h
            in_cursor[b] -= h
    for x, head in zip(xs, ["相手方の種別", "協働の形態", "推進施策"], strict=True):
        ax.text(x, total + gap * 8 + total * 0.04, head, ha="center", va="bottom", fontsize=10)
    ax.set_xlim(-0.75, 2.9)
    ax.set_ylim(-gap, total + gap * 8 + total * 0.1)
    ax.set_title(title or "相手方の種別 → 協働の形態 → 推進施策", loc="left", fontsize=11)
    fig.text(0.01, 0.01, f"帯の幅は相手方（市を除く）と事業の組の数（計{total}）。", fontsize=8)
    return fig


# ----------------------------------------------------------------------------- process
def timeline_chart(register: Register, *, fiscal_year: int | None = None, max_projects: int = 40,
                   title: str = ""):
    """Each project's dated stages on one line (projects by first date; at most
    ``max_projects``, the figure's ``shown`` attribute says how many of how many)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    p = register.projects if fiscal_year is None else register.active_in(fiscal_year)
    dated = p[p[list(STAGES)].notna().any(axis=1)].copy()
    dated["_first"] = dated[list(STAGES)].min(axis=1)
    dated = dated.sort_values(["_first", "project_id"])
    shown = dated.head(max_projects)
    fig, ax = plt.subplots(figsize=(9.0, 0.22 * max(len(shown), 4) + 1.8))
    fig.shown = (len(shown), len(dated))
    if shown.empty:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "段階の日付が記入された事業がありません", ha="center", va="center",
                transform=ax.transAxes)
        return fig
    y = np.arange(len(shown))[::-1]
    for yi, (_, r) in zip(y, shown.iterrows(), strict=True):
        dates = [r[s] for s in STAGES if pd.notna(r[s])]
        ax.plot([min(dates), max(dates)], [yi, yi], color="#CCCCCC", lw=1.5, zorder=1)
        for s in STAGES:
            if pd.notna(r[s]):
                ax.scatter([r[s]], [yi], color=_STAGE_COLOURS[s], s=18, zorder=2)
    ax.set_yticks(y, [f"{i} {str(n)[:16]}" for i, n in zip(shown["project_id"], shown["name"], strict=True)],
                  fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=[Line2D([], [], marker="o", ls="", color=c, label=s)
                       for s, c in _STAGE_COLOURS.items() if s in register.stages_present],
              loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=6, frameon=False, fontsize=8)
    ax.set_title(title or "事業の経過（段階の日付）", loc="left", fontsize=11)
    fig.tight_layout()
    return fig


def funnel_chart(fun: pd.DataFrame, *, title: str = ""):
    """Per start year, projects reaching 相談 → マッチング → 実施開始 → 振り返り (bars), with the
    median days between steps written between the bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    years = list(fun["start_fy"])
    x = np.arange(len(years))
    w = 0.8 / len(FUNNEL)
    colours = [_STAGE_COLOURS[s] for s in FUNNEL]
    for j, step in enumerate(FUNNEL):
        vals = fun[step].to_numpy()
        ax.bar(x - 0.4 + w * (j + 0.5), vals, width=w * 0.95, color=colours[j], label=step)
        for xi, v in zip(x, vals, strict=True):
            ax.text(xi - 0.4 + w * (j + 0.5), v, f"{int(v)}", ha="center", va="bottom", fontsize=7)
    top = float(fun[list(FUNNEL)].to_numpy().max()) if len(fun) else 1.0
    for i in range(len(fun)):
        parts = []
        for a, b in itertools.pairwise(FUNNEL):
            v = fun.iloc[i][f"{a}→{b}（日）"]
            parts.append("-" if pd.isna(v) else f"{v:g}")
        ax.text(x[i], top * 1.12, "日数 " + "／".join(parts), ha="center", fontsize=7,
                color="#444444")
    ax.set_xticks(x, [fiscal_year_label(int(y), style="era") for y in years])
    ax.set_ylim(0, top * 1.25 + 1)
    ax.set_ylabel("事業数")
    ax.grid(axis="y", alpha=0.3)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False, fontsize=8)
    ax.set_title(title or "段階に進んだ事業数（開始年度別）", loc="left", fontsize=11)
    fig.text(0.01, -0.03, "日数: 相談→マッチング／マッチング→実施開始／実施開始→振り返りの中央値（日）",
             fontsize=7)
    fig.tight_layout()
    return fig


def plan_tree_chart(tree: pd.DataFrame, *, title: str = ""):
    """The plan tree: one bar per 個別施策, grouped under its 推進施策, with the number of
    projects; a measure without projects is marked 「事業なし」."""
    import matplotlib.pyplot as plt

    labels = [f"{p}-{m} {n}" if m else f"{p} {pn}" for p, m, n, pn in
              zip(tree["policy"], tree["measure"], tree["measure_name"], tree["policy_name"],
                  strict=True)]
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(tree) + 1.5))
    y = np.arange(len(tree))[::-1]
    policies = list(dict.fromkeys(tree["policy"]))
    colours = [PALETTE[policies.index(p) % len(PALETTE)] for p in tree["policy"]]
    vals = tree["projects"].to_numpy()
    ax.barh(y, vals, color=colours)
    for yi, v in zip(y, vals, strict=True):
        ax.text(v + 0.2, yi, f"{int(v)}" if v else "0（事業なし）", va="center", fontsize=8,
                color="#B2182B" if v == 0 else "black")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, max(float(vals.max()) if len(vals) else 1.0, 1.0) * 1.2 + 1)
    ax.set_xlabel("事業数")
    from matplotlib.patches import Patch

    names = dict(zip(tree["policy"], tree["policy_name"], strict=False))
    ax.legend(handles=[Patch(color=PALETTE[i % len(PALETTE)], label=f"{p} {names[p]}")
                       for i, p in enumerate(policies)],
              loc="lower right", frameon=True, framealpha=0.9, fontsize=8, title="推進施策",
              title_fontsize=8)
    ax.set_title(title or "施策体系と事業数", loc="left", fontsize=11)
    fig.tight_layout()
    return fig


def review_chart(summary: pd.DataFrame, *, title: str = ""):
    """Mean scores per item, city side against citizen side (dumbbells), over projects scored
    by both sides; the gap is written at the right."""
    import matplotlib.pyplot as plt

    s = summary.dropna(subset=["city", "partner"])
    fig, ax = plt.subplots(figsize=(8.0, 0.5 * max(len(s), 2) + 1.6))
    y = np.arange(len(s))[::-1]
    for yi, c, p in zip(y, s["city"], s["partner"], strict=True):
        ax.plot([c, p], [yi, yi], color="#BBBBBB", lw=2, zorder=1)
    ax.scatter(s["city"], y, color=PALETTE[0], s=50, label="行政", zorder=2)
    ax.scatter(s["partner"], y, color=PALETTE[1], s=50, marker="D", label="市民側", zorder=2)
    for yi, gp, n in zip(y, s["gap"], s["pairs"], strict=True):
        ax.text(5.15, yi, f"差 {gp:+.2f}（{int(n)}件）", va="center", fontsize=8)
    ax.set_yticks(y, list(s["item"]))
    ax.set_xlim(1, 5.9)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_xlabel("平均評点（1～5）")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=8)
    ax.set_title(title or "振り返りの評点（行政と市民側）", loc="left", fontsize=11)
    fig.tight_layout()
    return fig
