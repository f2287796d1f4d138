"""What drives awareness and participation: the computations of the awareness page (07).

Everything comes from the codebook's ``awareness:`` block (:mod:`kyodo_analysis.config.awareness`)
and the study's design; nothing here knows a question id. Each function returns tidy
frames (estimates 0–1 or scores, with ``se``/``ci_low``/``ci_high``); the Japanese tables
are in :mod:`kyodo_analysis.views.awareness`. The page's functions run with BLAS and OpenMP
held to one thread (:mod:`kyodo_analysis.stats._threads`): their matrices are small, and
threads only contend with the report's other workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kyodo_analysis.stats._threads import single_threaded
from kyodo_analysis.stats.factor import FactorResult, factor_analysis, parallel_analysis
from kyodo_analysis.stats.likert import likert_distribution, likert_summary
from kyodo_analysis.stats.margins import average_marginal_effects
from kyodo_analysis.stats.reliability import item_frame, reliability
from kyodo_analysis.stats.segments import SegmentResult, canonical_rows, segment

if TYPE_CHECKING:
    from kyodo_analysis.codebook import Codebook
    from kyodo_analysis.config.awareness import AwarenessSpec, ItemGroup

__all__ = [
    "DriverResult",
    "FactorSection",
    "drivers",
    "factor_section",
    "group_items",
    "likert_section",
    "missing_declarations",
    "reliability_table",
    "segment_profiles",
    "segments_section",
]


def missing_declarations(codebook: Codebook) -> dict[str, str]:
    """Sections of the page that cannot be estimated, with the sentence saying what to add."""
    spec = codebook.awareness
    add = "codebook.yaml の awareness に"
    out = {}
    if spec is None or not spec.groups:
        out["groups"] = (f"尺度（項目のまとまり）が定義されていないため、分布・信頼性・因子構造は"
                         f"推定できません（{add} groups を追加してください）。")
    if spec is None or len(spec.pairs) < 2:
        out["importance_satisfaction"] = (
            f"重要度・満足度の対になる設問が2組以上定義されていないため、重要度・満足度分析は"
            f"推定できません（{add} importance_satisfaction.pairs を追加してください）。")
    if spec is None or not spec.outcomes or not spec.predictors:
        out["drivers"] = (f"参加の要因分析の目的変数と説明変数が定義されていないため、推定できません"
                          f"（{add} drivers.outcomes と drivers.predictors を追加してください）。")
    if spec is None or spec.segments is None:
        out["segments"] = (f"類型化（セグメント）に使う項目が定義されていないため、推定できません"
                           f"（{add} segments を追加してください）。")
    return out


def group_items(codebook: Codebook, group: ItemGroup, fiscal_year: int | None = None) -> list:
    """The group's questions asked in ``fiscal_year``."""
    return [codebook[q] for q in group.items if codebook[q].asked_in(fiscal_year)]


@single_threaded
def likert_section(design, codebook: Codebook, group: ItemGroup, *, method: str = "logit",
                   level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distribution and summary (top-2, bottom-2, mean score) of a group's items."""
    qs = [codebook[q] for q in group.items]
    return (likert_distribution(design, qs, method=method, level=level),
            likert_summary(design, qs, method=method, level=level))


@single_threaded
def reliability_table(design, codebook: Codebook, spec: AwarenessSpec, *,
                      level: float = 0.95, replicates: int = 50) -> pd.DataFrame:
    """Alpha and omega of every group (omega with ``min(3, items // 3)`` group factors, at
    least 1): ``group, label, items, statistic, estimate, se, ci_low, ci_high, n, variance``."""
    rows = []
    rep = design
    if not design._is_replicate:
        # the bootstrap draws respondents in a canonical order (by every group's items, then
        # weight), so the intervals do not depend on the order of the records in the file
        items = item_frame(design.data, [codebook[q] for g in spec.groups for q in g.items])
        rank = np.empty(len(items), dtype=np.int64)
        rank[canonical_rows(items.to_numpy(dtype=float), design.weights)] = np.arange(len(items))
        rep = design.to_replicate("bootstrap", replicates=replicates, seed=0, order=rank)
    for g in spec.groups:
        qs = [codebook[q] for q in g.items]
        nf = max(1, min(3, len(qs) // 3))
        res = reliability(design, item_frame(design.data, qs), n_factors=nf, level=level,
                          omega=len(qs) >= 3, omega_design=rep)
        t = res.summary.assign(group=g.id, label=g.label, items=len(qs), variance=res.variance)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


@dataclass(frozen=True)
class FactorSection:
    """Parallel analysis and the factor model of one group."""

    parallel: pd.DataFrame
    n_factors: int
    result: FactorResult


@single_threaded
def factor_section(design, codebook: Codebook, group: ItemGroup, *,
                   n_factors: int | None = None, seed: int = 0) -> FactorSection:
    """Parallel analysis then minres/oblimin EFA of a group's items on weighted correlations."""
    qs = [codebook[q] for q in group.items]
    scores = item_frame(design.data, qs)
    table, n_pa, _ = parallel_analysis(scores, list(scores.columns), weights=design.weights,
                                       seed=seed)
    k = n_factors or min(n_pa, len(qs) - 1)
    res = factor_analysis(scores, list(scores.columns), k, weights=design.weights)
    return FactorSection(table, k, res)


def _indicator(data: pd.DataFrame, codebook: Codebook, qid: str,
               codes: tuple[int, ...]) -> np.ndarray:
    v = pd.to_numeric(data[qid], errors="coerce")
    if qid in codebook:
        valid = v.isin(list(codebook[qid].codes))
    else:  # an option of a multiple-response question (0/1, NaN = 無回答)
        valid = v.notna()
    return np.where(valid, v.isin(list(codes)).astype(float), np.nan)


def _group_score(design, codebook: Codebook, group: ItemGroup) -> np.ndarray:
    """Mean item score (reverse-keyed mirrored) of rows answering at least half the items,
    standardised with the weighted mean and SD."""
    x = item_frame(design.data, [codebook[q] for q in group.items]).to_numpy(dtype=float)
    answered = (~np.isnan(x)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        m = np.where(answered * 2 >= x.shape[1], np.nanmean(np.where(answered[:, None] > 0, x,
                                                                     0.0), axis=1), np.nan)
    w = design.weights
    ok = ~np.isnan(m) & (w != 0)
    mu = np.average(m[ok], weights=w[ok])
    sd = np.sqrt(np.average((m[ok] - mu) ** 2, weights=w[ok]))
    return np.asarray((m - mu) / sd)


@dataclass(frozen=True)
class DriverResult:
    """Average marginal effects (``outcome, predictor, binary, estimate, se, ci_low,
    ci_high, coef, coef_se, n``) and the plain-language statements."""

    effects: pd.DataFrame
    statements: pd.DataFrame
    formula: str


@single_threaded
def drivers(design, codebook: Codebook, spec: AwarenessSpec, *,
            level: float = 0.95) -> DriverResult:
    """Survey-weighted logit of each outcome on every predictor; AMEs with intervals."""
    cols = {}
    labels = {}
    for i, p in enumerate(spec.predictors):
        name = f"x{i + 1}"
        labels[name] = p
        if p.group is not None:
            cols[name] = _group_score(design, codebook, spec.group(p.group))
        else:
            assert p.question is not None
            cols[name] = _indicator(design.data, codebook, p.question, p.codes)
    rows = []
    rhs = " + ".join(cols)
    for j, o in enumerate(spec.outcomes):
        yname = f"y{j + 1}"
        d = design.assign(**cols, **{yname: _indicator(design.data, codebook, o.question,
                                                      o.codes)})
        ame = average_marginal_effects(d, f"{yname} ~ {rhs}", level=level)
        ame.insert(0, "outcome", o.label)
        ame.insert(1, "predictor", [labels[t].label for t in ame["term"]])
        ame["kind"] = ["score" if labels[t].group else "indicator" for t in ame["term"]]
        rows.append(ame.drop(columns="term"))
    effects = pd.concat(rows, ignore_index=True)
    return DriverResult(effects, plain_statements(effects, level=level), f"y ~ {rhs}")


def plain_statements(effects: pd.DataFrame, *, level: float = 0.95, decimals: int = 1
                     ) -> pd.DataFrame:
    """「関心がある人はない人より参加率が◯ポイント高い」: one sentence per effect."""
    pct = f"{round(100 * level)}%"
    out = []
    for _, r in effects.iterrows():
        pts = 100 * r["estimate"]
        size = f"{abs(pts):.{decimals}f}ポイント{'高い' if pts >= 0 else '低い'}"
        if r["kind"] == "score":
            who = f"「{r['predictor']}」が1標準偏差高い人は、平均的な人より"
        else:
            who = f"「{r['predictor']}」人は、そうでない人より"
        ci = (f"（{pct}信頼区間 {100 * r['ci_low']:.{decimals}f}～"
              f"{100 * r['ci_high']:.{decimals}f}ポイント）")
        clear = r["ci_low"] > 0 or r["ci_high"] < 0
        tail = "" if clear else "。ただし誤差の範囲内で、差があるとはいえません"
        out.append({"outcome": r["outcome"], "predictor": r["predictor"],
                    "statement": f"{who}「{r['outcome']}」割合が{size}{ci}{tail}。",
                    "clear": clear})
    return pd.DataFrame(out)


@single_threaded
def segments_section(design, codebook: Codebook, spec: AwarenessSpec, *,
                     n_boot: int = 10) -> SegmentResult:
    """Segments on the declared group's items (k range and seed from the codebook)."""
    assert spec.segments is not None
    g = spec.group(spec.segments.group)
    scores = item_frame(design.data, [codebook[q] for q in g.items])
    return segment(design, scores, k_range=spec.segments.k, seed=spec.segments.seed,
                   n_boot=n_boot)


@single_threaded
def segment_profiles(design, codebook: Codebook, result: SegmentResult,
                     dimensions: list[tuple[str, str]], *, level: float = 0.95,
                     min_base: int = 10) -> pd.DataFrame:
    """Share of each segment within each group of each dimension (attribute or district):
    ``dimension, group, segment, estimate, se, ci_low, ci_high, n``; groups with fewer than
    ``min_base`` classified respondents are left out (``shown=False``)."""
    d = design.assign(_segment=result.labels.to_numpy())
    rows = []
    for dim, column in dimensions:
        q = codebook[column] if column in codebook else None
        v = pd.to_numeric(d.data[column], errors="coerce")
        valid = v.isin(list(q.codes)) if q is not None else v.notna()
        dd = d.assign(_group=np.where(valid, v, np.nan))
        n = (pd.DataFrame({"g": dd.data["_group"], "s": result.labels.to_numpy()})
             .dropna().groupby("g").size())
        for j in range(1, result.k + 1):
            dj = dd.assign(_in=np.where(result.labels.isna(), np.nan,
                                        (result.labels == j).astype(float)))
            est = dj.mean("_in", by="_group", na_rm=True, level=level)
            for _, r in est.iterrows():
                g = r["_group"]
                if pd.isna(g):
                    continue
                label = q.codes.get(int(g), str(g)) if q is not None else str(g)
                rows.append({"dimension": dim, "group": label, "segment": j,
                             "estimate": r["estimate"], "se": r["se"],
                             "ci_low": max(r["ci_low"], 0.0), "ci_high": min(r["ci_high"], 1.0),
                             "n": int(n.get(g, 0)), "shown": int(n.get(g, 0)) >= min_base})
    return pd.DataFrame(rows)
