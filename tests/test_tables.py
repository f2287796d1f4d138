"""Single tabulations against hand-computed cases."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.viz.tables import (
    format_percent,
    response_rate_table,
    single_tabulation,
    tabulation_table,
)

CB = Codebook.from_dict({
    "missing_codes": {9: "無回答", 8: "非該当"},
    "questions": [
        {"id": "q1", "text": "認知", "type": "single", "codes": {1: "知っている", 2: "知らない"}},
        {"id": "q2", "text": "付問", "type": "single", "codes": {1: "満足", 2: "不満"}},
        {"id": "q3", "text": "参加", "type": "multiple",
         "options": [{"code": 1, "label": "自治区"}, {"code": 2, "label": "NPO"},
                     {"code": 3, "label": "なし", "exclusive": True}]},
    ],
})

DATA = pd.DataFrame({
    "q1": pd.array([1, 1, 2, 9, None, 1], dtype="Int64"),
    "q2": pd.array([1, 2, 8, 8, 9, 1], dtype="Int64"),
    "q3_1": pd.array([1, 1, 0, None, 0, 0], dtype="Int64"),
    "q3_2": pd.array([1, 0, 0, None, 0, 0], dtype="Int64"),
    "q3_3": pd.array([0, 0, 1, None, 1, 1], dtype="Int64"),
    "w": [1.0, 1.0, 2.0, 1.0, 1.0, 4.0],
})


def test_single_choice_keeps_no_answer_in_the_base():
    t = single_tabulation(DATA, CB["q1"])
    assert t["label"].tolist() == ["知っている", "知らない", "無回答"]
    assert t["n"].tolist() == [3, 1, 2]  # code 9 and a blank cell are both 無回答
    assert t.attrs["base"] == 6
    assert t["percent"].tolist() == pytest.approx([50.0, 100 / 6, 100 / 3])


def test_not_applicable_leaves_the_base():
    t = single_tabulation(DATA, CB["q2"])
    assert t.attrs["base"] == 4
    assert t["n"].tolist() == [2, 1, 1]
    assert t["percent"].tolist() == pytest.approx([50.0, 25.0, 25.0])


def test_multiple_response_percent_of_respondents_may_exceed_100():
    t = single_tabulation(DATA, CB["q3"])
    assert t["label"].tolist() == ["自治区", "NPO", "なし", "無回答"]
    assert t["n"].tolist() == [2, 1, 3, 1]
    assert t.attrs["base"] == 6 and t.attrs["multiple"]
    assert t["percent"].sum() > 100
    shown = tabulation_table(t)
    assert shown.iloc[-1].tolist() == ["回答者数（n）", 6, None]  # no 100% for multiple answers


def test_weighted_shares_keep_unweighted_n():
    t = single_tabulation(DATA, CB["q1"], weights="w")
    assert t["n"].tolist() == [3, 1, 2]
    assert t["percent"].tolist() == pytest.approx([600 / 10, 200 / 10, 200 / 10])


def test_publication_table_rounds_to_one_decimal():
    shown = tabulation_table(single_tabulation(DATA, CB["q1"]))
    assert shown["%"].tolist() == [50.0, 16.7, 33.3, 100.0]  # numbers, rounded
    assert shown["n"].tolist() == [3, 1, 2, 6]


@given(st.lists(st.sampled_from([1, 2, 9]), min_size=1, max_size=50))
def test_single_choice_counts_reconcile_with_the_base(codes):
    data = pd.DataFrame({"q1": pd.array(codes, dtype="Int64")})
    t = single_tabulation(data, CB["q1"])
    assert t["n"].sum() == t.attrs["base"] == len(codes)
    assert t["percent"].sum() == pytest.approx(100.0)


def test_format_percent():
    assert format_percent(12.345) == "12.3"
    assert format_percent(float("nan")) == "-"


def test_response_rate_table(demo_study):
    fw = demo_study.fieldwork()
    table = response_rate_table(fw, 2025)
    total = table.iloc[0]
    assert total["区分"] == "全体" and total["発送数"] == 3000
    wave = fw[fw["fiscal_year"] == 2025]
    assert total["回収数"] == wave["returned"].sum()
    assert total["回収率（%）"] == round(100 * wave["returned"].sum() / 3000, 1)  # a number
    assert set(table.loc[table["区分"] == "年代", "属性"]) == set(wave["年代"])
    # every attribute column of the file, in file order (the study does not list them)
    assert list(dict.fromkeys(table["区分"])) == ["全体", "中学校区", "性別", "年代"]


def test_weighted_tabulation_with_equal_weights_matches_the_textbook_srs_formula():
    """No strata, no clusters, equal weights: p is the plain share and its linearised SE is
    sqrt(p (1 - p) / (n - 1)) (with-replacement SRS of n respondents)."""
    import numpy as np

    from kyodo_analysis.stats import SurveyDesign
    from kyodo_analysis.views.tables import interval, weighted_tabulation

    t = weighted_tabulation(SurveyDesign(DATA), CB["q1"])
    n = 6
    for row, p in zip(t.itertuples(), [3 / 6, 1 / 6, 2 / 6], strict=True):
        assert row.percent == pytest.approx(100 * p)
        assert row.se == pytest.approx(100 * np.sqrt(p * (1 - p) / (n - 1)))
        # the study's one interval (default: logit, t with the design's n - 1 df, as svyciprop)
        lo, hi = interval(p, row.se / 100, n - 1, method="logit")
        assert (row.ci_low, row.ci_high) == pytest.approx((100 * lo, 100 * hi), abs=1e-9)
    assert t["n"].tolist() == [3, 1, 2]


def test_weighted_tabulation_keeps_not_applicable_out_of_the_base_and_uses_weights():
    from kyodo_analysis.stats import SurveyDesign
    from kyodo_analysis.viz.tables import weighted_tabulation

    t = weighted_tabulation(SurveyDesign(DATA, weights="w"), CB["q2"])
    # base: rows 0, 1, 4, 5 (codes 1, 2, 9, 1) with weights 1, 1, 1, 4
    assert t["percent"].tolist() == pytest.approx([500 / 7, 100 / 7, 100 / 7])
    assert t.attrs["base"] == 4
    shown = tabulation_table(t)
    assert list(shown.columns) == ["回答", "n", "%", "95%信頼区間 下限", "95%信頼区間 上限"]
    assert all(isinstance(v, float) for v in shown["95%信頼区間 下限"].iloc[:-1])
    mr = weighted_tabulation(SurveyDesign(DATA, weights="w"), CB["q3"])
    assert mr["percent"].sum() > 100
    assert mr["percent"].tolist()[:3] == pytest.approx([200 / 10, 100 / 10, 700 / 10])


def test_weighting_comparison_and_diagnostics_on_the_demo(demo_study):
    """The raked demo wave: the table shows the plain respondent share and the weighted
    estimate, and the weighted margins hit the register targets."""
    import numpy as np

    from kyodo_analysis.viz.tables import weighting_comparison, weighting_tables

    design = demo_study.design(2025)
    table = weighting_comparison(design, demo_study.codebook, demo_study.headline.figures)
    data = design.data
    q1 = data["q1"].to_numpy(dtype=float, na_value=np.nan)
    valid = np.isin(q1, [1, 2, 3, 4])
    raw = 100 * np.isin(q1[valid], [1, 2]).mean()
    first = table.iloc[0]
    assert first["回答者の単純割合（%）"] == round(raw, 1) and first["n"] == valid.sum()
    w = np.asarray(design.weights)[valid]
    weighted = 100 * (w * np.isin(q1[valid], [1, 2])).sum() / w.sum()
    assert first["重み付け推定値（%）"] == round(weighted, 1)
    # Older residents answer more and know 協働 better: weighting lowers the share.
    assert float(first["差（ポイント）"]) < 0
    summary, margins = weighting_tables(design.weighting_report())
    assert (margins["母集団（目標）"] == margins["重み付け後"]).all()
    assert float(summary.loc[1, "Kishの設計効果"]) > 1
