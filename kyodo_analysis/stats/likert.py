"""Likert items: weighted answer distributions, top-2 / bottom-2 box shares and mean scores.

Conventions (declared in the codebook, never guessed from labels):

* 無回答 (the question's missing codes, and blanks) is outside every base and counted in
  ``n_missing``.
* わからない (the question's or its scale's ``dont_know`` codes) is an answer: it is a row of
  the distribution (base: every substantive answer, わからない included) but it has no
  position on the scale, so box shares and the mean score use the *scored* base (answers
  that are neither missing nor わからない). ``n_dont_know`` says how many were set aside.
* Scores: the scale's ``scores`` (e.g. the municipal +2 … −2), otherwise the codes
  themselves. The top-2 box is the two scored answers with the highest scores, the
  bottom-2 box the two lowest.

Every share is the design-based mean of a 0/1 indicator over its base (``design.mean`` of
all of an item's indicators in one pass: linearised standard error), with the interval
``design.proportion`` gives (``method="logit"``: R ``svyciprop``, ``t(degf)``; or
``"wald"``); the mean score is ``design.mean`` (Hájek, linearised; normal-quantile interval as
R ``confint(svymean)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError

if TYPE_CHECKING:
    from kyodo_analysis.codebook import Question
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["item_scores", "likert_distribution", "likert_summary", "scored_codes"]


def scored_codes(question: Question) -> dict[int, float]:
    """Code -> score of the answers that have a position on the scale (わからない excluded)."""
    if question.type not in {"likert", "single"} or not question.codes:
        raise EstimationError(f"question {question.id!r} is not a likert or single-answer item")
    scores = question.scores or {c: float(c) for c in question.codes}
    return {c: float(scores[c]) for c in question.codes
            if c not in question.dont_know and c in scores}


def item_scores(data: pd.DataFrame, question: Question, *, reverse: bool = False) -> np.ndarray:
    """Scores of one item for every row (NaN for 無回答, わからない and unknown codes).

    ``reverse=True`` mirrors the scores about the middle of the scale
    (``min + max - score``), for reverse-keyed items.
    """
    if question.id not in data.columns:
        raise EstimationError(f"column {question.id!r} (question {question.id}) not in the data")
    mapping = scored_codes(question)
    codes = pd.to_numeric(data[question.id], errors="coerce")
    out = codes.map(mapping).to_numpy(dtype=float, na_value=np.nan)
    if reverse:
        lo, hi = min(mapping.values()), max(mapping.values())
        out = lo + hi - out
    return np.asarray(out, dtype=float)


def _codes(data: pd.DataFrame, question: Question) -> pd.Series:
    return pd.to_numeric(data[question.id], errors="coerce")


def _share_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, method: str,
                    level: float) -> tuple[np.ndarray, np.ndarray]:
    """Interval of a share as ``design.proportion`` gives it: ``"logit"`` (R ``svyciprop``
    default, ``t(df)`` quantile), ``"wald"`` (clipped to [0, 1])."""
    from kyodo_analysis.stats import _dist

    t = np.where(np.isinf(df), _dist.norm_ppf((1 + level) / 2),
                 _dist.t_ppf((1 + level) / 2, np.where(df > 0, df, np.nan)))
    if method == "wald":
        return np.clip(p - t * se, 0, 1), np.clip(p + t * se, 0, 1)
    if method != "logit":
        raise EstimationError(f"interval method {method!r}: likert shares support "
                              "'logit' and 'wald'")
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(p / (1 - p))
        half = t * se / (p * (1 - p))
        lo, hi = 1 / (1 + np.exp(-(eta - half))), 1 / (1 + np.exp(-(eta + half)))
    edge = (p <= 0) | (p >= 1)
    return np.where(edge, p, lo), np.where(edge, p, hi)


def likert_distribution(design: _BaseDesign, questions: Sequence[Question], *,
                        method: str = "logit", level: float = 0.95) -> pd.DataFrame:
    """Weighted distribution of each item's answers with intervals.

    Returns
    -------
    pandas.DataFrame
        One row per item and answer (scale order, わからない last among the answers):
        ``item, text, code, answer, score, dont_know, estimate, se, ci_low, ci_high, df,
        n, base, n_missing`` (``estimate`` a share 0–1 of the substantive answers,
        ``n`` the unweighted count of the answer, ``base`` the unweighted base).
    """
    rows = []
    for q in questions:
        codes = _codes(design.data, q)
        valid = codes.isin(list(q.codes))
        mapping = scored_codes(q)
        order = [c for c in q.codes if c not in q.dont_know] + list(q.dont_know)
        n_missing = int(((~valid) & (design.weights != 0)).sum())
        base = int((valid & (design.weights != 0)).sum())
        cols = {f"_lk{i}": np.where(valid, (codes == c).astype(float), np.nan)
                for i, c in enumerate(order)}
        est = design.assign(**cols).mean(list(cols), na_rm=True, level=level)
        p, se, df = (est[k].to_numpy(dtype=float) for k in ("estimate", "se", "df"))
        lo, hi = _share_interval(p, se, df, method, level)
        for i, c in enumerate(order):
            rows.append({"item": q.id, "text": q.text, "code": c, "answer": q.codes[c],
                         "score": mapping.get(c, np.nan), "dont_know": c in q.dont_know,
                         "estimate": p[i], "se": se[i], "ci_low": lo[i], "ci_high": hi[i],
                         "df": df[i], "n": int(((codes == c) & (design.weights != 0)).sum()),
                         "base": base, "n_missing": n_missing})
    return pd.DataFrame(rows)


def likert_summary(design: _BaseDesign, questions: Sequence[Question], *,
                   method: str = "logit", level: float = 0.95) -> pd.DataFrame:
    """Top-2 box, bottom-2 box and mean score of each item, with design-based intervals.

    Returns
    -------
    pandas.DataFrame
        One row per item: ``item, text, n, n_dont_know, n_missing`` and for each of
        ``top2``, ``bottom2`` (shares 0–1) and ``mean`` (score) the columns ``<x>``,
        ``<x>_se``, ``<x>_low``, ``<x>_high``.
    """
    rows = []
    for q in questions:
        mapping = scored_codes(q)
        if len(mapping) < 4:
            raise EstimationError(f"question {q.id!r}: top-2/bottom-2 boxes need at least four "
                                  f"scored answers, it has {len(mapping)}")
        by_score = sorted(mapping, key=lambda c: mapping[c])
        codes = _codes(design.data, q)
        score = item_scores(design.data, q)
        scored = ~np.isnan(score)
        active = design.weights != 0
        top = np.where(scored, codes.isin(by_score[-2:]).astype(float), np.nan)
        bottom = np.where(scored, codes.isin(by_score[:2]).astype(float), np.nan)
        d = design.assign(_top=top, _bottom=bottom, _score=score)
        row: dict[str, Any] = {
            "item": q.id, "text": q.text, "n": int((scored & active).sum()),
            "n_dont_know": int((codes.isin(list(q.dont_know)).to_numpy() & active).sum()),
            "n_missing": int((~codes.isin(list(q.codes)).to_numpy() & active).sum()),
        }
        est = d.mean(["_top", "_bottom", "_score"], na_rm=True, level=level)
        p, se, df = (est[k].to_numpy(dtype=float) for k in ("estimate", "se", "df"))
        lo, hi = _share_interval(p[:2], se[:2], df[:2], method, level)
        for i, name in enumerate(("top2", "bottom2")):
            row.update({name: p[i], f"{name}_se": se[i], f"{name}_low": lo[i],
                        f"{name}_high": hi[i]})
        row.update({"mean": p[2], "mean_se": se[2], "mean_low": est["ci_low"].iloc[2],
                    "mean_high": est["ci_high"].iloc[2]})
        rows.append(row)
    return pd.DataFrame(rows)
