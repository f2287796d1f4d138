"""What the register and the reviews say: pure functions, DataFrame in, tidy DataFrame out.

Definitions (stated once, used by every table and picture):

* A project **runs in** fiscal year *y* when 開始年度 ≤ *y* ≤ 終了年度; yearly measures count
  the projects running in the year. The funnel and stage durations group projects by their
  **start** year (the year the process began).
* The **degree** of a partner is the number of distinct projects it is a partner of.
* A **flow** unit is one partner link of a project with a partner that is not the city
  (``city_types``): partner type → form of collaboration → 推進施策. A project with two
  citizen-side partners of the same type contributes two units.
* **Stage days** are calendar days between consecutive stages both dated for a project
  (相談→マッチング, マッチング→企画, 企画→実施開始, 実施開始→実施終了, 実施終了→振り返り);
  the funnel's days are between its steps (相談→マッチング→実施開始→振り返り). Medians are
  over the projects that have both dates.
* A **review gap** is the citizen side's score minus the city side's score for the same
  project, year and item; only pairs scored by both sides enter gaps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kyodo_analysis.collaboration.register import STAGES, Register
from kyodo_analysis.collaboration.reviews import CITY_SIDE, PARTNER_SIDE, Reviews

__all__ = [
    "FUNNEL",
    "REGISTER_MEASURES",
    "build_network",
    "flows",
    "funnel",
    "largest_disagreements",
    "network_nodes",
    "partner_degrees",
    "plan_tree",
    "project_gaps",
    "register_series",
    "register_series_name",
    "review_summary",
    "stage_days",
    "stage_medians",
    "yearly_measures",
]

#: The steps of the yearly funnel.
FUNNEL: tuple[str, ...] = ("相談", "マッチング", "実施開始", "振り返り")


def _projects(register: Register, fiscal_year: int | None) -> pd.DataFrame:
    return register.projects if fiscal_year is None else register.active_in(fiscal_year)


def _links(register: Register, fiscal_year: int | None = None) -> pd.DataFrame:
    ids = set(_projects(register, fiscal_year)["project_id"])
    return register.partners[register.partners["project_id"].isin(ids)]


def partner_degrees(register: Register, *, fiscal_year: int | None = None) -> pd.DataFrame:
    """Each partner's degree: ``partner, type, projects`` (most projects first, then name)."""
    links = _links(register, fiscal_year)
    out = (links.groupby(["partner", "type"], sort=False)["project_id"].nunique()
           .rename("projects").reset_index())
    return out.sort_values(["projects", "partner"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def flows(register: Register, *, fiscal_year: int | None = None) -> pd.DataFrame:
    """Partner links by ``type → form → policy`` (city partners left out): ``type, form,
    policy, links``, in the order of the study's lists."""
    links = _links(register, fiscal_year)
    links = links[~links["type"].isin(register.city_types)]
    info = register.projects.set_index("project_id")[["form", "policy"]]
    joined = links.join(info, on="project_id")
    out = joined.groupby(["type", "form", "policy"], sort=False).size().rename("links")
    return out.reset_index().sort_values(["type", "form", "policy"], kind="stable",
                                         ignore_index=True)


def stage_days(register: Register) -> pd.DataFrame:
    """Days between consecutive stages of each project: ``project_id, start_fy, from, to,
    days`` (pairs with both dates only)."""
    p = register.projects
    parts = []
    for a, b in itertools.pairwise(STAGES):
        both = p[p[a].notna() & p[b].notna()]
        parts.append(pd.DataFrame({"project_id": both["project_id"], "start_fy": both["start_fy"],
                                   "from": a, "to": b,
                                   "days": (both[b] - both[a]).dt.days.astype("int64")}))
    return pd.concat(parts, ignore_index=True)


def stage_medians(register: Register, *, by_year: bool = False) -> pd.DataFrame:
    """Median days between consecutive stages: ``[start_fy,] from, to, projects,
    median_days`` (every stage pair listed, ``projects`` 0 and the median missing where no
    project has both dates)."""
    days = stage_days(register)
    keys = (["start_fy"] if by_year else []) + ["from", "to"]
    pairs = pd.DataFrame({"from": STAGES[:-1], "to": STAGES[1:]})
    if by_year:
        years = sorted(register.projects["start_fy"].unique())
        pairs = pd.DataFrame([(y, a, b) for y in years for a, b in zip(pairs["from"], pairs["to"],
                                                                        strict=True)],
                             columns=keys)
    stats = days.groupby(keys, sort=False)["days"].agg(projects="size", median_days="median")
    out = pairs.join(stats, on=keys)
    out["projects"] = out["projects"].fillna(0).astype("int64")
    return out


def funnel(register: Register) -> pd.DataFrame:
    """The yearly funnel by start year: one row per year with the projects that reached each
    step (:data:`FUNNEL`) and the median days between consecutive steps (columns
    ``<a>→<b>（日）``)."""
    p = register.projects
    rows = []
    for year, g in p.groupby("start_fy", sort=True):
        row: dict = {"start_fy": int(year), "projects": len(g)}
        for step in FUNNEL:
            row[step] = int(g[step].notna().sum())
        for a, b in itertools.pairwise(FUNNEL):
            both = g[g[a].notna() & g[b].notna()]
            row[f"{a}→{b}（日）"] = (float((both[b] - both[a]).dt.days.median()) if len(both)
                                   else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def plan_tree(register: Register, policies: Sequence, *,
              fiscal_year: int | None = None) -> pd.DataFrame:
    """Projects per 推進施策 and 個別施策, every measure of the plan listed (0 where none):
    ``policy, policy_name, measure, measure_name, projects``."""
    p = _projects(register, fiscal_year)
    counts = p.groupby(["policy", "measure"]).size()
    rows = []
    for pol in policies:
        pid, pname = _attr(pol, "id"), _attr(pol, "name")
        measures = _attr(pol, "measures") or []
        for m in (measures or [None]):
            mid = _attr(m, "id") if m is not None else ""
            rows.append({"policy": str(pid), "policy_name": pname, "measure": str(mid),
                         "measure_name": _attr(m, "name") if m is not None else "",
                         "projects": int(counts.get((str(pid), str(mid)), 0))})
    return pd.DataFrame(rows)


def _attr(obj, key):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key)


def yearly_measures(register: Register) -> pd.DataFrame:
    """Per fiscal year (projects running in it): ``fiscal_year, projects, partners`` (distinct),
    ``partners_per_project`` (mean number of partners), ``non_city_lead`` (share of projects
    whose lead, the first partner listed, is not the city), ``two_non_city`` (share with two or
    more non-city partners), ``new_partners`` (partners in no earlier year of the register;
    missing for the register's first year, whose history is unknown)."""
    rows, seen = [], set()
    for i, y in enumerate(register.fiscal_years()):
        p = register.active_in(y)
        links = register.partners[register.partners["project_id"].isin(set(p["project_id"]))]
        non_city = links[~links["type"].isin(register.city_types)]
        per = non_city.groupby("project_id")["partner"].nunique().reindex(p["project_id"],
                                                                           fill_value=0)
        names = set(links["partner"])
        rows.append({
            "fiscal_year": int(y), "projects": len(p), "partners": len(names),
            "partners_per_project": float(p["n_partners"].mean()) if len(p) else np.nan,
            "non_city_lead": (float((~p["lead_type"].isin(register.city_types)).mean())
                              if len(p) else np.nan),
            "two_non_city": float((per >= 2).mean()) if len(p) else np.nan,
            "new_partners": float(len(names - seen)) if i else np.nan,
        })
        seen |= names
    return pd.DataFrame(rows)


def network_nodes(register: Register, *, fiscal_year: int | None = None,
                  city_as_one: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Partner nodes and partner–project edges of the collaboration network.

    ``city_as_one`` (a label such as 「市（行政）」) merges every city-type partner into one
    node. Returns ``(nodes, edges)``: nodes ``partner, type, projects``; edges ``partner,
    project_id``.
    """
    links = _links(register, fiscal_year)[["project_id", "partner", "type"]].copy()
    if city_as_one:
        city = links["type"].isin(register.city_types)
        links.loc[city, "partner"] = city_as_one
        links = links.drop_duplicates(["project_id", "partner"])
    nodes = (links.groupby(["partner", "type"], sort=False)["project_id"].nunique()
             .rename("projects").reset_index())
    return nodes, links[["partner", "project_id"]].reset_index(drop=True)


def build_network(register: Register, *, fiscal_year: int | None = None,
                  city_as_one: str | None = None):
    """A bipartite :class:`networkx.Graph`: partner nodes (``kind="partner"``, ``type``,
    ``projects``) and project nodes (``kind="project"``, ``name``, ``policy``), an edge for
    each partner of a project."""
    import networkx as nx

    nodes, edges = network_nodes(register, fiscal_year=fiscal_year, city_as_one=city_as_one)
    g = nx.Graph()
    for r in nodes.itertuples(index=False):
        g.add_node(("partner", r.partner), kind="partner", label=r.partner, type=r.type,
                   projects=int(r.projects))
    info = register.projects.set_index("project_id")
    for pid in dict.fromkeys(edges["project_id"]):
        g.add_node(("project", pid), kind="project", label=str(info.loc[pid, "name"]),
                   policy=info.loc[pid, "policy"])
    g.add_edges_from((("partner", a), ("project", b)) for a, b in
                     zip(edges["partner"], edges["project_id"], strict=True))
    return g


# ----------------------------------------------------------------------------- reviews
def _paired(reviews: Reviews) -> pd.DataFrame:
    wide = reviews.scores.pivot_table(index=["project_id", "fiscal_year", "item"],
                                      columns="side", values="score", aggfunc="first")
    for side in (CITY_SIDE, PARTNER_SIDE):
        if side not in wide.columns:
            wide[side] = np.nan
    wide = wide[[CITY_SIDE, PARTNER_SIDE]].reset_index()
    wide.columns.name = None
    return wide


def project_gaps(reviews: Reviews) -> pd.DataFrame:
    """Per project, year and item: ``city, partner, gap`` (partner − city; missing when a
    side did not score it)."""
    w = _paired(reviews).rename(columns={CITY_SIDE: "city", PARTNER_SIDE: "partner"})
    w["gap"] = w["partner"] - w["city"]
    order = {item: k for k, item in enumerate(reviews.items)}
    return w.sort_values(["project_id", "fiscal_year", "item"], key=lambda s: s.map(order)
                         if s.name == "item" else s, kind="stable", ignore_index=True)


def review_summary(reviews: Reviews, *, fiscal_year: int | None = None) -> pd.DataFrame:
    """Per item over projects scored by both sides: ``item, pairs, city, partner, gap,
    abs_gap`` (means; gap = partner − city), in the study's item order."""
    g = project_gaps(reviews)
    if fiscal_year is not None:
        g = g[g["fiscal_year"] == fiscal_year]
    g = g.dropna(subset=["gap"])
    stats = g.groupby("item").agg(pairs=("gap", "size"), city=("city", "mean"),
                                  partner=("partner", "mean"), gap=("gap", "mean"),
                                  abs_gap=("gap", lambda s: s.abs().mean()))
    out = stats.reindex(list(reviews.items)).reset_index()
    out["pairs"] = out["pairs"].fillna(0).astype("int64")
    return out


def largest_disagreements(reviews: Reviews, *, k: int = 3,
                          fiscal_year: int | None = None) -> pd.DataFrame:
    """The ``k`` items on which the two sides disagree most (largest mean absolute gap)."""
    s = review_summary(reviews, fiscal_year=fiscal_year).dropna(subset=["abs_gap"])
    return s.sort_values(["abs_gap", "item"], ascending=[False, True],
                         kind="stable").head(k).reset_index(drop=True)


# ----------------------------------------------------------------------------- indicator series
#: Register measures an indicator can name (indicators.yaml ``source: {type: register,
#: measure: ...}``) -> the Japanese label of the yearly series.
REGISTER_MEASURES: dict[str, str] = {
    "projects": "事業数",
    "partners": "相手方の数",
    "two_non_city_share": "市以外の相手方が2者以上の事業の割合（%）",
    "non_city_lead_share": "市以外が主導する事業の割合（%）",
    "mean_review_score": "振り返りの平均評点",
}
_SERIES_PREFIX = "協働事業台帳: "


def register_series_name(measure: str, policy: str | None = None) -> str:
    """The name of a register series in the study's activity statistics
    (「協働事業台帳: 事業数（推進施策III）」)."""
    label = REGISTER_MEASURES[measure]
    return f"{_SERIES_PREFIX}{label}" + (f"（推進施策{policy}）" if policy else "")


def register_series(register: Register, reviews: Reviews | None, policies: Sequence,
                    *, city: str) -> pd.DataFrame:
    """Yearly series of the register, in the long form of activity statistics
    (``series, domain, fiscal_year, value``; domain ``city``), for indicators: projects running
    in the year (in all and per 推進施策), distinct partners, the shares of
    :func:`yearly_measures` in %, and the mean review score (both sides, every item) of the
    reviews of the year."""
    yearly = yearly_measures(register)
    rows = []
    for r in yearly.itertuples(index=False):
        y = int(r.fiscal_year)
        rows += [(register_series_name("projects"), y, float(r.projects)),
                 (register_series_name("partners"), y, float(r.partners)),
                 (register_series_name("two_non_city_share"), y, 100 * r.two_non_city),
                 (register_series_name("non_city_lead_share"), y, 100 * r.non_city_lead)]
        running = register.active_in(y)
        for pol in policies:
            pid = str(_attr(pol, "id"))
            rows.append((register_series_name("projects", pid), y,
                         float((running["policy"] == pid).sum())))
    if reviews is not None and not reviews.scores.empty:
        means = reviews.scores.groupby("fiscal_year")["score"].mean()
        rows += [(register_series_name("mean_review_score"), int(y), float(v))
                 for y, v in means.items()]
    out = pd.DataFrame(rows, columns=["series", "fiscal_year", "value"])
    out.insert(1, "domain", city)
    return out
