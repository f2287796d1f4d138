"""k-anonymity, l-diversity, individual risk, recoding and local suppression on a hand-made
data set whose violations are known (R sdcMicro is not packaged by Debian here, so every
expected figure is a hand calculation written beside it)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kyodo_analysis.bundle import sdc

KEYS = ["sex", "age"]


def hand_made() -> pd.DataFrame:
    # key (sex, age): (1,1) x4, (1,2) x3, (2,1) x3, (2,2) x1, (2,3) x1  -> 12 records
    rows = [(1, 1)] * 4 + [(1, 2)] * 3 + [(2, 1)] * 3 + [(2, 2), (2, 3)]
    frame = pd.DataFrame(rows, columns=KEYS).astype("Int64")
    # sensitive item: constant within (1,1) (l = 1), two values elsewhere
    frame["s"] = pd.array([1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 1, 2], dtype="Int64")
    return frame


def test_frequencies_and_violations_by_hand() -> None:
    freq = sdc.key_frequencies(hand_made(), KEYS, weights=[10.0] * 12)
    assert freq["fk"].tolist() == [4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 1, 1]
    assert freq["Fk"].tolist() == [40.0] * 4 + [30.0] * 6 + [10.0, 10.0]
    assert int((freq["fk"] < 3).sum()) == 2  # k = 3: the two records (2,2) and (2,3)
    assert int((freq["fk"] < 5).sum()) == 12  # k = 5: every record


def test_missing_key_is_a_wildcard() -> None:
    data = hand_made()
    data.loc[10, "age"] = pd.NA  # (2, NA) matches every sex-2 record: 3 + 1 + 1 = 5
    freq = sdc.key_frequencies(data, KEYS)
    assert freq.loc[10, "fk"] == 5
    assert freq.loc[7, "fk"] == 4  # a (2,1) record: its three and the wildcard
    assert freq.loc[11, "fk"] == 2  # (2,3): itself and the wildcard


def test_local_suppression_least_important_first() -> None:
    res = sdc.local_suppression(hand_made(), KEYS, k=3, importance=["sex", "age"])
    # (2,2): suppressing age gives (2,NA), matching the 5 sex-2 records -> fixed;
    # (2,3): then matches itself and (2,NA) = 2 < 3; suppressing age -> 5 -> fixed.
    assert res.violations_before == 2
    assert res.violations_after == 0
    assert res.suppressed == {"sex": 0, "age": 2}
    assert res.records_changed == 2
    assert res.data["age"].isna().tolist() == [False] * 10 + [True, True]
    assert res.data["sex"].tolist() == hand_made()["sex"].tolist()
    assert (sdc.key_frequencies(res.data, KEYS)["fk"] >= 3).all()


def test_protected_key_is_never_suppressed() -> None:
    res = sdc.local_suppression(hand_made(), KEYS, k=3, importance=["sex", "age"],
                                protected=["age"])
    # (2,2): sex suppressed -> (NA,2) matches (1,2) x3 and itself = 4 -> fixed.
    # (2,3): (NA,3) matches only itself: no age-3 record elsewhere -> remains a violation.
    assert res.suppressed == {"sex": 2, "age": 0}
    assert res.violations_after == 1
    assert res.data["age"].notna().all()


def test_global_recode_then_suppression() -> None:
    recoded, changed = sdc.global_recode(hand_made(), {"age": {2: [2, 3]}})
    assert changed == {"age": 1}  # only the one age-3 record changes (3 -> 2)
    # after recoding: (1,1) x4, (1,2) x3, (2,1) x3, (2,2) x2 -> two violations at k = 3
    freq = sdc.key_frequencies(recoded, KEYS)
    assert int((freq["fk"] < 3).sum()) == 2


def test_individual_risk_formulas_by_hand() -> None:
    # p = f / F = 0.1 for every record (weight 10)
    r1 = 0.1 / 0.9 * math.log(10)                         # f = 1: 0.255842...
    r2 = 0.1 / 0.9 ** 2 * (0.1 * math.log(0.1) + 0.9)     # f = 2: 0.082684...
    r3 = 0.1 / (3 - 0.9)                                   # f = 3: 0.047619...
    got = sdc.individual_risk([1, 2, 3], [10, 20, 30])
    assert got == pytest.approx([r1, r2, r3], rel=1e-12)
    assert got[0] == pytest.approx(0.2558427881, abs=1e-9)
    # the sample is the whole population of the key: risk 1/f
    assert sdc.individual_risk([1, 4], [1, 4]).tolist() == [1.0, 0.25]


def test_l_diversity_by_hand() -> None:
    data = hand_made()
    ell = sdc.l_diversity(data, KEYS, "s")
    # (1,1): s = 1,1,1,1 -> l = 1; (1,2): 1,2,2 -> 2; (2,1): 1,2,2 -> 2; (2,2): 1; (2,3): 2 -> 1
    assert ell.tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1]
    assert int((ell < 2).sum()) == 6


def test_suppression_reaches_k_on_random_data() -> None:
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"a": rng.integers(1, 4, 300), "b": rng.integers(1, 8, 300),
                         "c": rng.integers(1, 6, 300)}).astype("Int64")
    res = sdc.local_suppression(data, ["a", "b", "c"], k=5, importance=["a", "b", "c"],
                                protected=["a"])
    assert res.violations_before > 0
    assert res.violations_after == 0
    assert res.suppressed["a"] == 0
    assert (sdc.key_frequencies(res.data, ["a", "b", "c"])["fk"] >= 5).all()


def test_compare_records_cell_by_cell() -> None:
    from kyodo_analysis.bundle.reproduce import compare_records

    published = {"nb/a": {"columns": ["回答", "n", "%"], "rows": [["男性", 10, 50.0],
                                                                  ["女性", 10, 50.0]]},
                 "nb/b": {"columns": ["x"], "rows": [[1]]},
                 "nb/gone": {"columns": ["x"], "rows": []}}
    new = {"nb/a": {"columns": ["回答", "n", "%"], "rows": [["男性", 9, 47.4], ["女性", 10, 52.6]]},
           "nb/b": {"columns": ["x"], "rows": [[1.0]]},
           "nb/extra": {"columns": ["x"], "rows": []}}
    got = {t.key: t for t in compare_records(published, new)}
    assert got["nb/b"].status == "identical"  # 1 and 1.0 are the same cell value
    assert got["nb/gone"].status == "missing"
    assert got["nb/extra"].status == "new"
    a = got["nb/a"]
    assert a.status == "differs"
    assert [(c.row, c.label, c.column, c.published, c.bundle) for c in a.cells] == [
        (0, "男性", "n", 10, 9), (0, "男性", "%", 50.0, 47.4), (1, "女性", "%", 50.0, 52.6)]
    assert not a.explained


def test_codebook_quasi_identifier_flag() -> None:
    from kyodo_analysis.codebook import Codebook
    from kyodo_analysis.errors import ConfigError

    doc = {"codebook": "t", "id": {"columns": ["ID"]},
           "questions": [{"id": "f1", "columns": ["性別"], "text": "性別", "type": "demographic",
                          "codes": {1: "男性", 2: "女性"}, "quasi_identifier": True},
                         {"id": "q1", "columns": ["問1"], "text": "問1", "type": "single",
                          "codes": {1: "はい", 2: "いいえ"}}]}
    cb = Codebook.from_dict(doc)
    assert cb["f1"].quasi_identifier and not cb["q1"].quasi_identifier
    doc["questions"][0]["quasi_identifier"] = "yes"
    with pytest.raises(ConfigError, match="quasi_identifier"):
        Codebook.from_dict(doc)


def test_bundle_config_block() -> None:
    from pydantic import ValidationError

    from kyodo_analysis.config.study import BundleConfig

    conf = BundleConfig.model_validate({"k": 3, "recode": {"f4": {"10年以上": [3, 4]}}})
    assert conf.k == 3 and conf.l == 2 and conf.dates == "month"
    with pytest.raises(ValidationError):
        BundleConfig.model_validate({"k": 1})
    with pytest.raises(ValidationError):
        BundleConfig.model_validate({"kk": 5})


def test_design_cells_below_k_and_why_they_stay() -> None:
    """Records whose design cell (strata x weighting margins, never suppressed) is rarer than
    k: counted, their other keys all suppressed, and the final weight (one value per cell,
    as raking gives) found to show the cell, so suppressing it would hide nothing."""
    from kyodo_analysis.bundle.build import design_cells

    data = hand_made()  # design cell = sex: 7 records of sex 1, 5 of sex 2
    data.loc[11, "sex"] = 3  # a cell of one record
    weights = data["sex"].map({1: 10.0, 2: 12.0, 3: 40.0}).to_numpy()
    anonymised = data.assign(age=data["age"].where(data.index != 11))
    got = design_cells(data, anonymised, weights, KEYS, ["sex"], k=3)
    assert got["design_cells_below_k"] == 1
    d = got["design_cells"]
    assert (d["cells"], d["records"], d["sample_sizes"]) == (1, 1, [1])
    assert d["population_estimates"] == [40.0]
    assert d["risk_max"] == pytest.approx(1 / 40 / (1 - 1 / 40) * math.log(40), rel=1e-5)
    assert d["other_keys_suppressed"] and d["weight_identifies_cell"]
    # a weight shared with another cell does not show the cell; an unsuppressed key is seen
    weights[11] = 10.0
    got = design_cells(data, data, weights, KEYS, ["sex"], k=3)["design_cells"]
    assert not got["weight_identifies_cell"] and not got["other_keys_suppressed"]
    assert design_cells(data, data, weights, KEYS, [], k=3) == {"design_cells_below_k": 0}


def test_explain_gives_no_cause_but_the_anonymisation(tmp_path) -> None:
    """The bundle's rows are shuffled, but the record order is no cause a difference may
    claim (resampling and clustering put the records in a canonical order first: a table
    naming a bootstrap or k-means that differs is a real difference); a table showing an
    anonymised variable is explained by it."""
    from types import SimpleNamespace

    from kyodo_analysis.bundle.reproduce import compare_records, explain

    study = SimpleNamespace(
        description={"fiscal_year": 2025, "anonymisation": {"2025": {"free_text_dropped": ["q9"]}}},
        bundle=tmp_path, codebook={}, district_levels=[], attributes=[])
    published = {"nb/boot": {"title": "安定性", "columns": ["x"], "rows": [[0.837]],
                             "notes": ["ブートストラップ標本による分類の一致度"]},
                 "nb/km": {"title": "類型", "columns": ["x"], "rows": [[0.179]],
                           "notes": ["重み付き k-means 法"]},
                 "nb/text": {"title": "自由記述", "columns": ["x"], "rows": [[3]],
                             "free_text": True}}
    new = {"nb/boot": {"columns": ["x"], "rows": [[0.929]]},
           "nb/km": {"columns": ["x"], "rows": [[0.176]]},
           "nb/text": {"columns": ["x"], "rows": [[0]]}}
    got = {t.key: t for t in explain(study, compare_records(published, new), published, {})}
    assert not got["nb/boot"].explained and not got["nb/km"].explained
    assert got["nb/text"].causes == ("q9（q9）: free text removed in FY2025",)
