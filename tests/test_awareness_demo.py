"""On the demo, the attitude factors and the drivers' signs recover the generator's truth
(truth/attitude_model.json); a codebook without declarations gets statements, not errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.evaluation import awareness as aw


@pytest.fixture(scope="module")
def wave(demo_study):
    return demo_study.design(2025), demo_study.codebook


def test_factor_structure_recovers_truth(wave, demo_dir):
    design, cb = wave
    truth = json.loads((demo_dir / "truth" / "attitude_model.json").read_text(encoding="utf-8"))
    group = next(g for g in cb.awareness.groups if set(g.items) == set(truth["items"]))
    sec = aw.factor_section(design, cb, group)
    assert sec.n_factors == 2
    load = sec.result.loadings
    # every item loads mainly on one factor, the items of one true factor on the same one
    main = {item: int(np.argmax(np.abs(load.loc[item].to_numpy()))) for item in load.index}
    by_truth: dict[str, set[int]] = {}
    for item, spec in truth["items"].items():
        by_truth.setdefault(spec["factor"], set()).add(main[item])
    assert all(len(v) == 1 for v in by_truth.values())
    assert len({next(iter(v)) for v in by_truth.values()}) == 2
    # reverse-keyed item mirrored by the codebook: its loading is positive like the others
    for item in load.index:
        assert load.loc[item].abs().max() == pytest.approx(abs(truth["items"][item]["loading"]),
                                                           abs=0.2)
        assert load.loc[item].iloc[main[item]] > 0.4
    phi = sec.result.phi.to_numpy()[0, 1]
    assert phi == pytest.approx(truth["factor_correlation"], abs=0.12)


def test_drivers_signs_recover_truth(wave):
    design, cb = wave
    res = aw.drivers(design, cb, cb.awareness)
    any_part = res.effects[res.effects["outcome"] == cb.awareness.outcomes[0].label]
    eff = any_part.set_index("predictor")
    # participation's logit rises with civic-mindedness, which drives interest and engagement
    assert eff.loc["参加への意欲（得点）", "ci_low"] > 0
    assert eff.loc["地域活動・市民活動に関心がある", "estimate"] > 0
    assert res.statements["statement"].str.contains("ポイント").all()


def test_no_declarations_means_statements():
    cb = Codebook.from_dict({"questions": [{"id": "q1", "type": "single",
                                            "codes": {1: "はい", 2: "いいえ"}}]})
    missing = aw.missing_declarations(cb)
    assert set(missing) == {"groups", "importance_satisfaction", "drivers", "segments"}
    assert all("codebook.yaml" in v for v in missing.values())
