"""Cell values as real municipal exports write them: aliases, words for codes, questions that
change between waves, derived variables, dates and multiple responses in one cell.

Every expected value below is worked out by hand from the cells written in the test.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import InputError
from kyodo_analysis.io.normalise import fold_label, parse_date
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import validate
from kyodo_analysis.store import Store
from kyodo_analysis.viz.tables import single_tabulation

DOC = {
    "codebook": "values",
    "id": {"columns": ["ID"]},
    "missing_codes": {9: "無回答", 8: "非該当"},
    "not_applicable": [8],
    "questions": [
        {"id": "f3", "columns": ["小学校区"], "text": "校区", "type": "demographic",
         "codes": {1: "花園", 2: "板山", 3: "乙川東"}, "missing": {99: "無回答"},
         "aliases": {"板山": ["板山小学校区", "板山小"], 2: ["いたやま"], "無回答": ["不明"]}},
        {"id": "q1", "columns": ["問1"], "text": "認知", "type": "single",
         "codes": {1: "知っている", 2: "知らない"}},
        {"id": "q2", "columns": ["問2"], "text": "新設問", "type": "single",
         "codes": {1: "はい", 2: "いいえ"}, "waves": [2025]},
        {"id": "q3", "columns": ["問3"], "text": "参加", "type": "multiple", "layout": "delimited",
         "options": [{"code": 1, "label": "自治区・町内会"}, {"code": 2, "label": "ボランティア"},
                     {"code": 3, "label": "NPO・市民活動団体"},
                     {"code": 4, "label": "参加していない", "exclusive": True}]},
        {"id": "age", "columns": ["年齢"], "text": "年齢", "type": "numeric", "range": [18, 110]},
        {"id": "f2", "columns": ["年代"], "text": "年代", "type": "demographic",
         "codes": {1: "10歳代", 2: "20歳代", 3: "30歳代", 4: "40歳以上"}},
        {"id": "answered", "columns": ["回答日"], "text": "回答日", "type": "date"},
    ],
    "derived": [
        {"id": "age_group", "from": "age", "text": "年代（年齢から）",
         "codes": {1: "18～29歳", 2: "30～39歳", 3: "40～69歳", 6: "70歳以上"},
         "bins": {1: [18, 29], 2: [30, 39], 3: [40, 69], 6: [70, None]}},
        {"id": "age2", "from": "f2", "codes": {1: "18～29歳", 2: "30歳以上"},
         "map": {1: ["10歳代", "20歳代"], 2: [3, 4]}},
    ],
}
CB = Codebook.from_dict(DOC)
HEADER = ["ID", "小学校区", "問1", "問2", "問3", "年齢", "年代", "回答日"]
BASE = {"小学校区": "花園", "問1": "1", "問2": "1", "問3": "1", "年齢": "45", "年代": "4",
        "回答日": "2025/7/5"}


def run(tmp_path, rows: list[dict], *, header=HEADER, codebook=CB, fiscal_year=None,
        name="w.csv"):
    """Write rows (dicts of header -> cell, BASE filling the rest) as UTF-8 CSV, validate."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for i, r in enumerate(rows):
        cells = {"ID": str(i + 1), **BASE, **r}
        writer.writerow([cells.get(h, "") for h in header])
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    raw = read_table(path, text_columns=codebook.text_headers(),
                     known_headers=set(codebook.header_aliases()))
    result = validate(raw, codebook, fiscal_year=fiscal_year)
    assert result.read == len(rows) == result.n_accepted + result.n_quarantined
    return result


def rules_by_row(result) -> dict[int, str]:
    return dict(zip(result.quarantine["row"], result.quarantine["rule"], strict=True))


# ----------------------------------------------------------------------------- aliases, words


def test_fold_label():
    assert fold_label("板山 ") == fold_label("板山\u3000") == fold_label(" 板 山") == "板山"
    assert fold_label("ＮＰＯ") == "npo" and fold_label(None) == ""


def test_aliases_labels_and_missing_words_become_codes(tmp_path):
    cells = ["板山小学校区", "板山小", "板山", "板山 ", "板山\u3000小", "いたやま", "花園",
             "２", "乙川 東", "不明", "無回答", "", "99", "板山中"]
    result = run(tmp_path, [{"小学校区": c} for c in cells])
    assert rules_by_row(result) == {15: "not_a_code"}  # 板山中 is no spelling of any 校区
    got = result.accepted.set_index("_row")["f3"]
    assert got.tolist() == [2, 2, 2, 2, 2, 2, 1, 2, 3, 99, 99, pd.NA, 99]


def test_single_choice_label_words_and_no_answer(tmp_path):
    result = run(tmp_path, [{"問1": c} for c in ["知っている", "知らない ", "ｼｯﾃｲﾙ", "無回答",
                                                 "非該当", ""]])
    # ｼｯﾃｲﾙ (half-width kana) is not a label: NFKC makes it シッテイル, not 知っている.
    assert rules_by_row(result) == {4: "not_a_code"}
    assert result.accepted["q1"].tolist() == [1, 2, 9, 8, pd.NA]


def test_codes_written_before_their_labels(tmp_path):
    cells = ["1.知っている", "2：知らない", "(2) 知らない", "１．知っている", "1.知らない", "3.知らない"]
    result = run(tmp_path, [{"問1": c} for c in cells])
    # 1.知らない: code and label disagree; 3 is no code: both are left to a person.
    assert rules_by_row(result) == {6: "not_a_code", 7: "not_a_code"}
    assert result.accepted["q1"].tolist() == [1, 2, 2, 1]


# ----------------------------------------------------------------------------- waves


def test_a_question_not_asked_in_the_wave_needs_no_column(tmp_path):
    header = [h for h in HEADER if h != "問2"]
    result = run(tmp_path, [{}, {}], header=header, fiscal_year=2024)
    assert result.accepted["q2"].isna().all() and result.n_quarantined == 0
    # Asked in 2025: the column is required again.
    with pytest.raises(InputError, match="required column missing: q2"):
        run(tmp_path, [{}], header=header, fiscal_year=2025)
    # Without a fiscal year the question is optional either way.
    assert run(tmp_path, [{}], header=header).accepted["q2"].isna().all()


def test_a_column_present_in_a_wave_that_did_not_ask_it_is_unknown(tmp_path):
    result = run(tmp_path, [{"問2": "x"}], fiscal_year=2024)  # "x" would be not_a_code
    assert result.n_quarantined == 0
    assert "問2" in result.unknown_columns
    assert result.accepted["q2"].isna().all()
    asked = run(tmp_path, [{"問2": "x"}], fiscal_year=2025)
    assert rules_by_row(asked) == {2: "not_a_code"}


# ----------------------------------------------------------------------------- derived


def test_bins_are_closed_intervals_with_open_ends(tmp_path):
    ages = ["18", "29", "30", "39", "40", "69", "70", "110", "", "無回答", "29.5", "17"]
    result = run(tmp_path, [{"年齢": a} for a in ages])
    # 29.5 falls between the bins [18, 29] and [30, 39]; 17 is outside the question's range.
    assert rules_by_row(result) == {12: "not_derivable", 13: "out_of_range"}
    ok = result.accepted.set_index("_row")
    assert ok["age_group"].tolist() == [1, 1, 2, 2, 3, 3, 6, 6, pd.NA, 9]
    assert ok.loc[11, "age"] == 9  # 無回答 read as its code; the derived variable keeps 無回答
    assert "age_group" in result.quarantine.loc[0, "message"]


def test_ages_written_with_their_unit(tmp_path):
    result = run(tmp_path, [{"年齢": a} for a in ["45歳", "３０才", "70 歳", "歳", "45年生まれ"]])
    assert rules_by_row(result) == {5: "not_a_code", 6: "not_a_code"}
    assert result.accepted["age"].tolist() == [45.0, 30.0, 70.0]
    assert result.accepted["age_group"].tolist() == [3, 2, 6]


def test_map_by_source_labels_and_codes(tmp_path):
    result = run(tmp_path, [{"年代": c} for c in ["1", "20歳代", "3", "40歳以上", "", "無回答"]])
    assert result.n_quarantined == 0
    assert result.accepted["age2"].tolist() == [1, 1, 2, 2, pd.NA, 9]


def test_an_unmapped_substantive_code_is_quarantined_and_missing_codes_are_not(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["derived"][1]["map"] = {1: [1, 2], 2: [3]}  # 40歳以上 (4) left out
    cb = Codebook.from_dict(doc)
    result = run(tmp_path, [{"年代": "4"}, {"年代": "9"}, {"年代": "8"}, {"年代": "2"}],
                 codebook=cb)
    assert rules_by_row(result) == {2: "not_derivable"}
    assert result.accepted["age2"].tolist() == [9, 8, 1]


def test_derived_variables_are_questions_of_the_codebook():
    q = CB["age_group"]
    assert q.is_derived and q.type == "demographic" and q.derivation.source == "age"
    assert q.label(6) == "70歳以上" and q.missing == {9: "無回答", 8: "非該当"}
    assert "age_group" not in CB.header_aliases().values()
    assert [d.id for d in CB.derived] == ["age_group", "age2"]
    assert CB["age2"].derivation.mapping == {1: 1, 2: 1, 3: 2, 4: 2}


def test_derived_columns_tabulate_like_questions(tmp_path):
    result = run(tmp_path, [{"年齢": a} for a in ["20", "25", "35", "75"]])
    table = single_tabulation(result.accepted, CB["age_group"])
    assert dict(zip(table["label"], table["n"], strict=True)) == {
        "18～29歳": 2, "30～39歳": 1, "40～69歳": 0, "70歳以上": 1, "無回答": 0}


# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(("cell", "expected"), [
    ("令和7年7月5日", dt.date(2025, 7, 5)),
    ("令和元年5月1日", dt.date(2019, 5, 1)),
    ("R7.7.12", dt.date(2025, 7, 12)),
    ("R7/7/12", dt.date(2025, 7, 12)),
    ("r7.7.12", dt.date(2025, 7, 12)),
    ("H31.4.30", dt.date(2019, 4, 30)),
    ("平成31年4月30日", dt.date(2019, 4, 30)),
    ("昭和64年1月7日", dt.date(1989, 1, 7)),
    ("2025/7/5", dt.date(2025, 7, 5)),
    ("2025-07-05", dt.date(2025, 7, 5)),
    ("2025.7.5", dt.date(2025, 7, 5)),
    ("2025年7月5日", dt.date(2025, 7, 5)),
    ("２０２５年７月５日", dt.date(2025, 7, 5)),
    ("令和７年７月５日（土）", dt.date(2025, 7, 5)),
    ("2025/07/05 0:00:00", dt.date(2025, 7, 5)),
    ("20250705", dt.date(2025, 7, 5)),
    # Excel serials: day 1 is 1900-01-01 and Excel counts a 29 February 1900, so serial n
    # is 1899-12-30 + n days from March 1900 on; 45658 is 2025-01-01 (=DATE(2025,1,1)).
    (45658, dt.date(2025, 1, 1)),
    ("45843", dt.date(2025, 7, 5)),
    (45843.75, dt.date(2025, 7, 5)),
    (dt.datetime(2025, 7, 5, 14, 30), dt.date(2025, 7, 5)),
    (dt.date(2025, 7, 5), dt.date(2025, 7, 5)),
    (pd.Timestamp("2025-07-05"), dt.date(2025, 7, 5)),
])
def test_parse_date(cell, expected):
    assert parse_date(cell) == expected


@pytest.mark.parametrize("cell", ["令和7年2月30日", "2025/2/29", "2025/13/1", "R7.7", "来週",
                                  "平成0年1月1日", "25/7/5", 12, 99999, "", None, "大正5年1月1日"])
def test_not_a_date(cell):
    with pytest.raises(ValueError):
        parse_date(cell)


def test_date_cells_in_a_file(tmp_path):
    cells = ["令和7年7月5日", "R7.7.12", "2025-07-05", "45843", "令和7年2月30日", "", "無回答",
             "9"]
    result = run(tmp_path, [{"回答日": c} for c in cells])
    assert rules_by_row(result) == {6: "not_a_date"}
    q = result.quarantine.iloc[0]
    assert (q["column"], q["value"]) == ("回答日", "令和7年2月30日") and "日付" in q["message"]
    got = result.accepted["answered"]
    assert str(got.dtype).startswith("datetime64")
    assert got.tolist()[:4] == [pd.Timestamp("2025-07-05"), pd.Timestamp("2025-07-12"),
                                pd.Timestamp("2025-07-05"), pd.Timestamp("2025-07-05")]
    assert got.iloc[4:].isna().all()


def test_excel_date_cells(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for i, value in enumerate([dt.datetime(2025, 7, 5), dt.date(2024, 12, 1), 45843, "R7.7.12",
                               "令和7年2月30日"]):
        ws.append([str(i + 1), "花園", 1, 1, "1", 45, 4, value])
    wb.save(tmp_path / "w.xlsx")
    raw = read_table(tmp_path / "w.xlsx", known_headers=set(CB.header_aliases()))
    result = validate(raw, CB)
    assert rules_by_row(result) == {6: "not_a_date"}
    assert result.accepted["answered"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-07-05", "2024-12-01", "2025-07-05", "2025-07-12"]


# ----------------------------------------------------------------------------- multiple response


def test_multiple_response_in_one_cell(tmp_path):
    cells = ["1、３", "1,3", "１・３", "1 3", "１，３", "自治区・町内会、ボランティア",
             "自治区・町内会・ボランティア", "NPO・市民活動団体", "ボランティア NPO・市民活動団体",
             "4", "", "無回答", "1、7", "参加していない・ボランティア", "自治会"]
    result = run(tmp_path, [{"問3": c} for c in cells])
    assert rules_by_row(result) == {14: "mr_value", 15: "mr_exclusive", 16: "mr_value"}
    got = result.accepted[["q3_1", "q3_2", "q3_3", "q3_4"]].astype("Float64")
    expected = [[1, 0, 1, 0]] * 5 + [[1, 1, 0, 0]] * 2 + [[0, 0, 1, 0], [0, 1, 1, 0],
                                                          [0, 0, 0, 1]]
    assert got.iloc[:10].to_numpy(dtype=float).tolist() == expected
    assert got.iloc[10:].isna().all().all()  # blank and 無回答: every option missing


# ----------------------------------------------------------------------------- 非該当


def test_not_applicable_is_declared_not_hard_coded(tmp_path):
    data = pd.DataFrame({"q1": pd.array([1, 2, 8, 8, 9], dtype="Int64")})
    assert single_tabulation(data, CB["q1"]).attrs["base"] == 3  # 8 declared: out of base
    doc = copy.deepcopy(DOC)
    doc["not_applicable"] = []
    assert single_tabulation(data, Codebook.from_dict(doc)["q1"]).attrs["base"] == 5
    doc["not_applicable"] = [9]  # a study whose 9 means 非該当: only the one 9 leaves the base
    assert single_tabulation(data, Codebook.from_dict(doc)["q1"]).attrs["base"] == 4
    doc["questions"][1]["not_applicable"] = []  # per question, over the top level
    assert single_tabulation(data, Codebook.from_dict(doc)["q1"]).attrs["base"] == 5
    del doc["not_applicable"]  # no key at all: codes labelled 非該当 (older codebooks)
    doc["questions"][1].pop("not_applicable")
    assert Codebook.from_dict(doc)["q1"].not_applicable == (8,)


def test_skip_rule_uses_the_declared_not_applicable_code(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["missing_codes"] = {9: "無回答", 7: "対象外"}
    doc["not_applicable"] = [7]
    doc["questions"][2]["asked_if"] = {"column": "q1", "equals": 1}
    cb = Codebook.from_dict(doc)
    result = run(tmp_path, [{"問1": "1", "問2": "7"}, {"問1": "2", "問2": "7"},
                            {"問1": "1", "問2": "8"}], codebook=cb)
    assert rules_by_row(result) == {2: "skip_rule", 4: "out_of_range"}


# ----------------------------------------------------------------------------- the store


def test_store_round_trip_of_derived_and_date_columns(tmp_path):
    result = run(tmp_path, [{"年齢": "25", "回答日": "R7.7.12"}, {"年齢": "75", "回答日": ""},
                            {"年代": "2"}])
    with Store(tmp_path / "s.duckdb") as store:
        store.import_wave(result, study="s", fiscal_year=2025, codebook=CB)
        types = dict(store.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'responses'").fetchall())
        back = store.load_wave("s", 2025, CB)
    assert types["answered"] == "DATE" and types["age_group"] == "INTEGER"
    assert back["age_group"].tolist() == [1, 6, 3] and back["age2"].tolist() == [2, 2, 1]
    assert back["answered"].dtype == np.dtype("datetime64[ns]")
    assert back["answered"].tolist()[0] == pd.Timestamp("2025-07-12")
    assert pd.isna(back["answered"].iloc[1])
    assert back["q2"].dtype == "Int64"


def test_ids_typed_as_numbers_and_text_in_one_excel_column():
    from kyodo_analysis.io.normalise import normalise_strings

    mixed = pd.Series([1, "０００２", None, 3.0, " A-4 "], dtype=object)
    assert normalise_strings(mixed).tolist() == ["1", "0002", "", "3", "A-4"]


def test_option_columns_marked_with_circles_or_labels(tmp_path):
    cb = Codebook.from_dict({
        "id": {"columns": ["ID"]}, "missing_codes": {9: "無回答"},
        "questions": [{"id": "q3", "text": "参加", "type": "multiple", "options": [
            {"code": 1, "label": "自治区・町内会", "columns": ["問3_1"]},
            {"code": 2, "label": "ボランティア", "columns": ["問3_2"]}]}],
    })
    path = tmp_path / "mr.csv"
    path.write_text("ID,問3_1,問3_2\n1,○,\n2,自治区・町内会,ボランティア\n3,×,●\n4,TRUE,FALSE\n"
                    "5,ボランティア,\n6,△,1\n", encoding="utf-8")
    result = validate(read_table(path, text_columns=cb.text_headers()), cb)
    # Row 6: 「ボランティア」 is the label of the other option; row 7: △ is no mark we know.
    assert rules_by_row(result) == {6: "mr_value", 7: "mr_value"}
    got = result.accepted[["q3_1", "q3_2"]].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(got, [[1, np.nan], [1, 1], [0, 1], [1, 0]], equal_nan=True)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["int8", "int16", "int64", "uint8", "uint64", "float64"]),
       st.lists(st.integers(-300, 300), min_size=1, max_size=60), st.booleans())
def test_factorize_maps_every_cell_back_to_its_value(dtype, ints, blanks):
    """``factorize`` (counting for compact integers, hashing otherwise): ``uniques[codes]`` is
    the column again and missing cells take the slot after the values (what parse_column
    and the checks read back)."""
    from kyodo_analysis.io.normalise import factorize

    info = np.iinfo(dtype) if dtype != "float64" else None
    values = np.array([min(max(v, info.min), info.max) for v in ints] if info else ints, dtype=dtype)
    if dtype == "uint64":
        values = values + np.uint64(2**64 - 400)  # near the top: differences stay exact
    series = pd.Series(values)
    if blanks and dtype == "float64":
        series[::3] = np.nan
    codes, uniques = factorize(series)
    assert len(codes) == len(series)
    back = [uniques[c] if c < len(uniques) else None for c in codes]
    want = [None if pd.isna(v) else v for v in series.tolist()]
    assert back == want
    assert all(c == len(uniques) for c, v in zip(codes, want, strict=True) if v is None)
