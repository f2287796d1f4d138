"""Monte Carlo: the importance–satisfaction map's intervals cover the true item means at
about 95% over demo-like samples (a synthetic Handa population from the demo generator,
stratified samples by 中学校区 of the demo's size, fpc)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.demo import spec
from kyodo_analysis.demo.generate import make_population, simulate_answers
from kyodo_analysis.evaluation.importance import importance_satisfaction
from kyodo_analysis.stats import SurveyDesign


@pytest.mark.slow
def test_is_map_intervals_cover_true_means():
    from importlib import resources

    cb = Codebook.from_yaml(str(resources.files("kyodo_analysis.demo").joinpath("codebook.yaml")))
    pairs = cb.awareness.pairs
    rng = np.random.default_rng(7)
    adults = make_population(rng)
    adults = adults[adults["age"] >= 18].reset_index(drop=True)
    answers = simulate_answers(adults, 2025, rng)
    pop = pd.concat([adults[["jhs"]], answers], axis=1)
    truth = []
    for p in pairs:
        for qid in (p.satisfaction, p.importance):
            truth.append(pop[qid].map(cb[qid].scores).mean())
    truth = np.array(truth)
    sizes = pop.groupby("jhs").size()
    n_h = (sizes / sizes.sum() * spec.SAMPLE_SIZE * 0.5).round().astype(int)  # ~50% response
    hits, total = 0, 0
    for _ in range(300):
        idx = np.concatenate([rng.choice(np.flatnonzero(pop["jhs"].to_numpy() == h), n, replace=False)
                              for h, n in n_h.items()])
        sample = pop.loc[idx].assign(N=lambda d: d["jhs"].map(sizes).astype(float))
        m = importance_satisfaction(SurveyDesign(sample, strata="jhs", fpc="N"), cb, pairs)
        pts = m.points
        low = np.ravel(np.column_stack([pts["x_low"], pts["y_low"]]))
        high = np.ravel(np.column_stack([pts["x_high"], pts["y_high"]]))
        hits += int(((low <= truth) & (truth <= high)).sum())
        total += len(truth)
    coverage = hits / total
    assert 0.93 <= coverage <= 0.97, coverage
