"""kyodo init: drafting a study from a city's exports (tests/municipal writes them)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from municipal import DISTRICTS, QUESTIONS, make_exports

from kyodo_analysis.cli import main
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.io.init import _fy_in_text, _scalar, draft_study, question_id, write_study
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import validate

#: The shipped plan template (by path from this file: a test elsewhere may change the directory).
PLAN_TEMPLATE = Path(__file__).resolve().parents[1] / "kyodo_analysis" / "templates" / "plan.yaml"


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return make_exports(tmp_path_factory.mktemp("exports"), seed=11)


def _init(files, out: Path, *extra: str):
    args = ["init", "--from", *map(str, files), "--out", str(out), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _load(out: Path) -> tuple[dict, dict, dict]:
    return tuple(yaml.safe_load((out / n).read_text(encoding="utf-8"))
                 for n in ("codebook.yaml", "study.yaml", "indicators.yaml"))


def _labels(q: dict) -> list[str]:
    if q["type"] == "multiple":
        return [o["label"] for o in q["options"]]
    return [q["codes"][k] for k in sorted(q["codes"])]


@pytest.fixture(scope="module")
def from_xlsx(exports, tmp_path_factory):
    out = tmp_path_factory.mktemp("init_xlsx") / "study"
    result = _init([exports["xlsx"]], out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_every_question_of_the_xlsx_gets_its_id_type_and_categories(from_xlsx):
    out, _ = from_xlsx
    codebook, _, _ = _load(out)
    by_id = {q["id"]: q for q in codebook["questions"]}
    assert codebook["id"] == {"columns": ["整理番号"]}
    assert list(by_id) == [q["id"] for q in QUESTIONS]
    unordered = {"q5sq", "f3"}  # words without a known scale or code table: order first seen
    for spec in QUESTIONS:
        q = by_id[spec["id"]]
        assert q["type"] == spec["type"], spec["id"]
        if "labels" not in spec:
            continue
        if spec["id"] in unordered:
            assert sorted(_labels(q)) == sorted(spec["labels"]), spec["id"]
        else:
            assert _labels(q) == spec["labels"], spec["id"]
    assert by_id["q3"]["layout"] == "columns" and by_id["q4"]["layout"] == "delimited"
    assert [o.get("exclusive", False) for o in by_id["q3"]["options"]] == [False] * 4 + [True]
    assert by_id["q2_1"]["text"] == "近所づきあいがある"
    assert by_id["q6"]["range"][0] == 0
    # likert questions come with their scale, and the scale block is written
    assert by_id["q1"]["scale"] == "satisfaction5" and by_id["q2_1"]["scale"] == "agree5"
    assert codebook["scales"]["agree5"]["scores"] == {1: 2, 2: 1, 3: 0, 4: -1, 5: -2}


def test_district_variants_become_aliases_and_guesses_are_flagged(from_xlsx, exports):
    out, output = from_xlsx
    codebook, _, _ = _load(out)
    f3 = next(q for q in codebook["questions"] if q["id"] == "f3")
    raw = read_table(exports["xlsx"])
    seen = {unicodedata.normalize("NFKC", str(v)).strip() for v in raw.data["F3 お住まいの地区"].dropna()}
    spelled = {lab for lab in f3["codes"].values()} | {a for al in f3["aliases"].values() for a in al}
    assert seen <= spelled and set(f3["aliases"]) == set(DISTRICTS)
    text = (out / "codebook.yaml").read_text(encoding="utf-8")
    block = text[text.index("# 要確認: f3 は推定です"):]
    assert "要確認: variant spellings" in block and "要確認: category order" in block
    assert "aliases" in output or "f3" in output  # the summary names what is left
    # every drafted question says it is a guess, and on what it rests
    assert len(re.findall(r"^  # 要確認: \S+ は推定です", text, re.M)) == len(codebook["questions"])


def test_study_and_indicator_files(from_xlsx, exports):
    out, output = from_xlsx
    _, study, indicators = _load(out)
    assert study["codebook"] == "codebook.yaml" and study["indicators"] == "indicators.yaml"
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", study["study"])
    (wave,) = study["waves"]
    assert wave["fiscal_year"] == exports["fiscal_year"]
    assert (out / wave["file"]).resolve() == Path(exports["xlsx"]).resolve()
    assert wave["sheet"] == "回答データ" and wave["header_rows"] == [4, 5]
    assert indicators == {"indicators": []}
    text = (out / "indicators.yaml").read_text(encoding="utf-8")
    plan = yaml.safe_load(PLAN_TEMPLATE.read_text(encoding="utf-8"))
    assert len(re.findall(r"^# ── 推進施策", text, re.M)) == len(plan["policies"]) == 5
    measures = re.findall(r"^#   個別施策", text, re.M)
    assert len(measures) == sum(len(p["measures"]) for p in plan["policies"]) == 9
    # the commented examples are valid YAML once uncommented, with no invented target
    examples = [yaml.safe_load(line[len("#   - "):]) for line in text.splitlines()
                if line.startswith("#   - ")]
    assert len(examples) == 9 and all(e["targets"] == {} and e["baseline"]["value"] is None
                                      for e in examples)
    assert "left to fill in" in output and "q5sq" in output


def test_spss_export_gives_the_files_own_codes(exports, tmp_path):
    draft = draft_study([exports["sav"]])
    by_id = {q.id: q for q in draft.questions}
    for spec in QUESTIONS:
        q = by_id[spec["id"]]
        assert q.type == spec["type"], spec["id"]
        if "labels" in spec and spec["type"] != "multiple":
            assert [q.codes[k] for k in sorted(q.codes)] == spec["labels"], spec["id"]
    # 9 = 無回答 is shared: written once as missing_codes; 99 for the district stays its own
    assert draft.missing_codes == {9: "無回答"}
    assert by_id["q1"].missing == {} and by_id["f3"].missing == {99: "無回答"}
    assert by_id["q5sq"].missing == {9: "無回答", 8: "非該当"}
    assert draft.not_applicable == [8]
    assert by_id["q4"].layout == "columns"
    assert [o["label"] for o in by_id["q4"].options] == next(
        s["labels"] for s in QUESTIONS if s["id"] == "q4")
    write_study(draft, tmp_path / "s")
    doc = yaml.safe_load((tmp_path / "s" / "codebook.yaml").read_text(encoding="utf-8"))
    doc["questions"] = [q for q in doc["questions"] if q["type"] != "date"]  # a NEW type
    book = Codebook.from_dict(doc)
    assert book["q1"].missing == {9: "無回答"} and book["f3"].missing == {99: "無回答"}


def test_csv_with_question_text_header(exports):
    draft = draft_study([exports["csv"]])
    by_column = {(q.columns or q.options[0]["columns"])[0]: q for q in draft.questions}
    for spec in QUESTIONS:
        if spec["csv"]:
            q = by_column[spec["csv"]]
            if q.codes and all(v.startswith("選択肢") for v in q.codes.values()):
                # codes without labels: a likert scale cannot be told from the numbers alone
                assert q.type == "single" and any("placeholders" in n for n in q.notes)
                assert len(q.codes) == len(spec["labels"])
            else:
                assert q.type == spec["type"], spec["id"]
    ids = {q.id for q in draft.questions}
    assert {"sex", "age_group", "district", "answer_date"} <= ids  # obvious ones by name
    mr = [q for q in draft.questions if q.type == "multiple" and q.layout == "columns"]
    assert [o["label"] for o in mr[0].options] == next(
        s["labels"] for s in QUESTIONS if s["id"] == "q3")
    assert draft.waves[0].encoding == "cp932" and draft.waves[0].fiscal_year == 2024


def test_several_waves_share_one_codebook(exports, tmp_path):
    r5 = tmp_path / "survey_R5.csv"
    r5.write_bytes(Path(exports["csv"]).read_bytes())
    out = tmp_path / "study"
    result = _init([exports["xlsx"], r5, exports["sav"]], out)
    assert result.exit_code == 0, result.output
    codebook, study, _ = _load(out)
    assert [w["fiscal_year"] for w in study["waves"]] == [2024, 2023, 2024]
    assert study["waves"][1]["encoding"] == "cp932" and study["waves"][1]["header_rows"] == [1]
    by_id = {q["id"]: q for q in codebook["questions"]}
    assert list(by_id) == [q["id"] for q in QUESTIONS]  # the CSV's columns joined by their text
    assert {"問1", "Q1", "お住まいの地域は住みやすいと感じますか"} <= set(by_id["q1"]["columns"])
    assert {"問2 (3) 地域の行事に参加したい", "地域のつながり：地域の行事に参加したい", "Q2_3"} \
        == set(by_id["q2_3"]["columns"])
    # the SPSS file defines the codes: the xlsx's first-seen district order gives way to it
    assert _labels(by_id["f3"]) == DISTRICTS
    assert "one file per wave" in result.output
    assert set(codebook["id"]["columns"]) == {"整理番号", "ID"}


def test_draft_codebook_reads_the_export_it_came_from(from_xlsx, exports):
    """End to end: the drafted codebook validates the xlsx and gives the hand-coded answers.

    Keys other engineers add at the same time (the date type, district aliases) are left out
    here so the check runs on the codebook and validator of this branch.
    """
    out, _ = from_xlsx
    doc, _, _ = _load(out)
    doc["questions"] = [q for q in doc["questions"] if q["type"] != "date" and q["id"] != "f3"]
    codebook = Codebook.from_dict(doc)
    raw = read_table(exports["xlsx"], known_headers=set(codebook.header_aliases()))
    result = validate(raw, codebook)
    clean = exports["clean"]
    assert result.read == len(clean) and result.n_quarantined == 0
    got = result.accepted.set_index("id")
    want = clean.set_index("id").loc[got.index]
    for col in ["q3_1", "q3_5", "q4_1", "q4_3", "q4_6"]:
        a = got[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        assert np.array_equal(a, want[col].to_numpy(dtype=float), equal_nan=True), col
    labels = {s["id"]: s["labels"] for s in QUESTIONS if "labels" in s}
    for col in ["q1", "q2_1", "q2_2", "q2_3", "q5", "q5sq", "f1", "f2"]:
        codes = codebook[col].codes  # compared by label: first-seen codes need not be 1..n
        a = [None if pd.isna(v) else codes[int(v)] for v in got[col]]
        b = [None if pd.isna(v) else labels[col][int(v) - 1] for v in want[col]]
        assert a == b, col
    share = got["q1"].isin([1, 2]).sum() / got["q1"].notna().sum()
    assert share == pytest.approx(((clean["q1"] <= 2).sum()) / clean["q1"].notna().sum())


def test_existing_files_are_kept_without_force(exports, tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "study.yaml").write_text("study: mine\n", encoding="utf-8")
    result = _init([exports["xlsx"]], out)
    assert result.exit_code == 1
    assert "study.yaml exists" in result.output and "--force" in result.output
    assert (out / "study.yaml").read_text(encoding="utf-8") == "study: mine\n"
    assert not (out / "codebook.yaml").exists()  # nothing written when one file is in the way
    result = _init([exports["xlsx"]], out, "--force", "--name", "minatono", "--title", "試験")
    assert result.exit_code == 0, result.output
    _, study, _ = _load(out)
    assert study["study"] == "minatono" and study["title"] == "試験"


def test_a_file_without_header_is_rejected_naming_it(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("1,2,3\n4,5,6\n7,8,9\n", encoding="utf-8")
    result = _init([path], tmp_path / "out")
    assert result.exit_code == 2
    assert "no header row found in the first 30 rows" in result.output
    assert str(path) in result.output and not (tmp_path / "out").exists()
    bad = _init([path], tmp_path / "out", "--name", "Not A Slug")
    assert bad.exit_code == 2


@pytest.mark.parametrize(("cell", "expected"), [
    ("問1", "q1"), ("問 12", "q12"), ("問5(1)", "q5_1"), ("問5（2）", "q5_2"), ("問5①", "q5_1"),
    ("問5-3", "q5_3"), ("Q5_2", "q5_2"), ("問3付問", "q3sq"), ("問3SQ", "q3sq"), ("Q3SQ2", "q3sq2"),
    ("F1", "f1"), ("Ｆ２", "f2"), ("【問2】", "q2"), ("性別", None), ("No.", None),
])
def test_question_ids_from_numbers(cell, expected):
    got = question_id(cell)
    assert (got[0] if got else None) == expected
    assert question_id("付問", previous="q4")[0] == "q4sq"


@pytest.mark.parametrize(("text", "title", "year"), [
    ("令和6年度 市民意識調査", True, 2024), ("survey_R6", False, 2024), ("minatono_FY2023", False, 2023),
    ("2025_export", False, 2025), ("平成30年度調査", True, 2018), ("回答データ", True, None),
    ("調査期間 令和6年7月", True, 2024),
])
def test_fiscal_year_from_titles_and_file_names(text, title, year):
    assert _fy_in_text(text, title=title) == year


@given(st.text(max_size=30))
def test_yaml_scalars_read_back(text):
    value = _scalar(text)
    assert yaml.safe_load(f"k: {value}") == {"k": text}
    assert yaml.safe_load(f"{{k: [{value}]}}") == {"k": [text]}


def test_study_from_hand_made_csv_with_title_rows(tmp_path):
    """A small CSV unlike the generator's: title rows, 問 numbers in one header row, an age
    column of numbers, yes/no answers, 年代 with ranges and a footnote."""
    rng = np.random.default_rng(3)
    n = 60
    ages = rng.integers(18, 90, n)
    rows = [f"{i + 1},{['はい', 'いいえ'][i % 2]},{a},{['18～29歳', '30～39歳', '70歳以上'][i % 3]},"
            f"{'1、2' if i % 4 == 0 else '3'}" for i, a in enumerate(ages)]
    text = ("令和7年度 ○○町 住民アンケート\n\nNo.,問1 回答,問2 年齢,問3 年代,問4 利用施設\n"
            + "\n".join(rows) + "\n注）問4は複数回答\n")
    path = tmp_path / "choson.csv"
    path.write_bytes(text.encode("cp932"))
    draft = draft_study([path])
    by_id = {q.id: q for q in draft.questions}
    assert draft.id_columns == ["No."] and draft.waves[0].fiscal_year == 2025
    unnamed = path.with_name("unnamed.csv")
    unnamed.write_bytes(text.replace("No.,", "番号A,").replace("\n1,", "\nX1,").encode("cp932"))
    assert draft_study([unnamed]).id_columns == ["番号A"]  # unique values in the first column
    assert draft.waves[0].header_rows == (3,) and len(draft.waves[0].footnotes) == 1
    assert by_id["q1"].codes == {1: "はい", 2: "いいえ"}
    assert by_id["q2"].type == "numeric"
    assert list(by_id["q3"].codes.values()) == ["18～29歳", "30～39歳", "40～49歳", "50～59歳",
                                                "60～69歳", "70歳以上"]
    assert by_id["q4"].type == "multiple" and by_id["q4"].layout == "delimited"
    assert [o["code"] for o in by_id["q4"].options] == [1, 2, 3]
    frame = pd.read_csv(path, encoding="cp932", skiprows=2, skipfooter=1, engine="python")
    assert draft.waves[0].rows == len(frame)


def test_demo_exports_give_back_the_demo_codebook(demo_dir, tmp_path):
    """Another layout (one-row headers 問3_1, design columns, SPSS names): the draft made from the
    demo's raw waves has the hand-written codebook's questions and codes, and reads every wave
    as the hand-written one does."""
    study = yaml.safe_load((demo_dir / "study.yaml").read_text(encoding="utf-8"))
    files = [demo_dir / w["file"] for w in study["waves"]]
    draft = draft_study(files)
    write_study(draft, tmp_path / "draft")
    mine = Codebook.from_yaml(tmp_path / "draft" / "codebook.yaml")
    ref = Codebook.from_yaml(demo_dir / "codebook.yaml")
    # init names sampling-frame columns by what they are; the demo chose its own names
    ours = {"stratum": "frame_area", "reg_sex": "frame_sex", "reg_age": "frame_age"}
    ids = [ours.get(q.id, q.id) for q in ref.questions]
    assert [q.id for q in mine] == ids[-3:] + ids[:-3]
    for q in ref:
        got = mine[ours.get(q.id, q.id)]
        assert got.codes == q.codes, q.id
        assert got.type == q.type or {got.type, q.type} == {"single", "likert"}, q.id
        assert [o.label for o in got.options] == [o.label for o in q.options], q.id
    assert [w.fiscal_year for w in draft.waves] == [w["fiscal_year"] for w in study["waves"]]
    draft_study_file = yaml.safe_load((tmp_path / "draft" / "study.yaml").read_text(encoding="utf-8"))
    for wave, spec in zip(draft_study_file["waves"], study["waves"], strict=True):
        path = (tmp_path / "draft" / wave["file"]).resolve()
        counts = []
        for book in (mine, ref):
            raw = read_table(path, sheet=wave.get("sheet"), header_rows=wave.get("header_rows") or None,
                             encoding=wave.get("encoding"), known_headers=set(book.header_aliases()),
                             text_columns=book.text_headers())
            res = validate(raw, book, fiscal_year=spec["fiscal_year"])
            counts.append((res.read, res.n_accepted, res.n_quarantined))
        assert counts[0] == counts[1], wave["file"]


def test_three_row_header_gives_question_text_and_option_labels(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["令和6年度 ○○市 市民意識調査"])
    ws.append(["回答者ID", "問1", "問2", None, None, "F1"])
    ws.append([None, "地域に愛着がありますか", "参加した活動（複数回答）", None, None, "性別"])
    ws.append([None, None, "自治会", "清掃活動", "特にない", None])
    for rng in ("A2:A4", "C2:E2", "C3:E3", "B3:B4", "F3:F4"):
        ws.merge_cells(rng)
    for i in range(30):
        ws.append([f"R{i:03d}", ["ある", "ない"][i % 2], i % 2, 1 - i % 2, 0, ["男性", "女性"][i % 3 % 2]])
    wb.save(tmp_path / "three.xlsx")
    draft = draft_study([tmp_path / "three.xlsx"])
    by_id = {q.id: q for q in draft.questions}
    assert list(by_id) == ["q1", "q2", "f1"] and draft.id_columns == ["回答者ID"]
    assert by_id["q1"].text == "地域に愛着がありますか" and by_id["q1"].codes == {1: "ある", 2: "ない"}
    assert by_id["q2"].text == "参加した活動（複数回答）"
    assert [o["label"] for o in by_id["q2"].options] == ["自治会", "清掃活動", "特にない"]
    assert by_id["q2"].options[2].get("exclusive") is True
    assert by_id["f1"].codes == {1: "男性", 2: "女性"} and by_id["f1"].type == "demographic"
    assert draft.waves[0].header_rows == (2, 3, 4) and draft.waves[0].fiscal_year == 2024


def test_generator_is_seeded_and_writes_the_sampling_list_and_margins(exports, tmp_path):
    again = make_exports(tmp_path / "again", seed=11)
    pd.testing.assert_frame_equal(again["clean"], exports["clean"])
    other = make_exports(tmp_path / "other", seed=12)
    assert not other["clean"]["q1"].equals(exports["clean"]["q1"])
    frame = pd.read_csv(exports["sampling_list"], encoding="cp932")
    assert list(frame.columns) == ["整理番号", "中学校区", "性別", "年齢"]
    assert set(exports["clean"]["id"]) <= set(frame["整理番号"]) and frame["整理番号"].is_unique
    assert set(frame["中学校区"]) == set(DISTRICTS) and frame["年齢"].min() >= 18
    margins = pd.read_csv(exports["margins"], encoding="cp932")
    assert list(margins.columns) == ["地区", "性別", "年代", "人口"]
    assert margins.groupby("地区")["人口"].sum().gt(10000).all()
    # respondents' 年代 and district agree with the sampling list they were drawn from
    merged = exports["clean"].merge(frame, left_on="id", right_on="整理番号")
    assert (merged["f2"] == np.clip(merged["年齢"] // 10, 1, 8)).all()
    known = merged["f3"].notna()
    assert (merged.loc[known, "f3"].map(lambda c: DISTRICTS[int(c) - 1])
            == merged.loc[known, "中学校区"]).all()


def test_code_table_sheet_names_codes_of_an_export_with_q_names(tmp_path):
    """Another layout: the コード表 is the first sheet, the data sheet has Q-names over a text
    row, options are marked ○, a bare SQ follows its question, codes sit in the cells."""
    from openpyxl import Workbook

    rng = np.random.default_rng(5)
    wb = Workbook()
    codes = wb.active
    codes.title = "コード表"
    codes.append(["設問番号", "値", "内容"])
    for k, lab in enumerate(["よく利用する", "ときどき利用する", "利用しない"], 1):
        codes.append(["Q1" if k == 1 else None, k, lab])
    for k, lab in enumerate(["駅前", "山手", "海岸"], 1):
        codes.append(["Q4" if k == 1 else None, k, lab])
    ws = wb.create_sheet("データ")
    ws.append(["No.", "Q1", "Q2_1", "Q2_2", "Q2_3", "Q3", "SQ", "Q4", "年齢"])
    ws.append([None, "図書館の利用", "買い物", "通院", "通勤", "満足度", "不満の理由", "地区", None])
    for i in range(50):
        ws.append([i + 1, int(rng.integers(1, 4)), "○" if i % 2 else None, "○" if i % 3 else None,
                   None if i % 5 else "○", ["満足", "やや満足", "やや不満", "不満"][i % 4],
                   "駐車場が狭い" if i % 4 > 1 else None, int(rng.integers(1, 4)),
                   int(rng.integers(18, 90))])
    wb.save(tmp_path / "town_2023.xlsx")
    draft = draft_study([tmp_path / "town_2023.xlsx"])
    by_id = {q.id: q for q in draft.questions}
    assert list(by_id) == ["q1", "q2", "q3", "q3sq", "q4", "age"]
    assert by_id["q1"].codes == {1: "よく利用する", 2: "ときどき利用する", 3: "利用しない"}
    assert by_id["q4"].codes == {1: "駅前", 2: "山手", 3: "海岸"} and by_id["q4"].order == "コード表"
    assert [o["label"] for o in by_id["q2"].options] == ["買い物", "通院", "通勤"]
    assert any("○" in n for n in by_id["q2"].notes)
    assert by_id["q3"].type == "likert" and by_id["age"].type == "numeric"
    assert draft.waves[0].sheet == "データ" and draft.waves[0].fiscal_year == 2023
    write_study(draft, tmp_path / "s")
    text = (tmp_path / "s" / "codebook.yaml").read_text(encoding="utf-8")
    example = next(line for line in text.splitlines() if line.startswith("#   - {id: age_group"))
    derived = yaml.safe_load(example[len("#   - "):])  # a commented proposal, valid once uncommented
    assert derived["from"] == "age" and derived["bins"][1][0] == by_id["age"].range[0]
    assert derived["codes"][max(derived["codes"])] == "70歳以上"


def test_codes_9_and_8_without_labels_are_taken_for_missing(tmp_path):
    lines = ["ID,問1,問2"] + [f"{i + 1},{[1, 2, 3, 9][i % 4]},{[1, 2, 8, 9, 10][i % 5]}"
                              for i in range(40)]
    path = tmp_path / "codes.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    by_id = {q.id: q for q in draft_study([path]).questions}
    assert sorted(by_id["q1"].codes) == [1, 2, 3] and by_id["q1"].missing == {9: "無回答"}
    assert sorted(by_id["q2"].codes) == [1, 2, 8, 9, 10] and by_id["q2"].missing == {}


def test_unknown_fiscal_year_is_a_placeholder_and_a_note(tmp_path):
    path = tmp_path / "anketo.csv"
    path.write_text("ID,問1\n" + "".join(f"{i},{1 + i % 2}\n" for i in range(1, 30)), encoding="utf-8")
    out = tmp_path / "study"
    result = _init([path], out)
    assert result.exit_code == 0, result.output
    _, study, _ = _load(out)
    assert study["waves"][0]["fiscal_year"] is None
    assert "fiscal year of anketo.csv not found" in result.output
    assert "要確認: anketo.csv の調査年度が分かりません" in (out / "study.yaml").read_text(encoding="utf-8")


def test_data_sheet_is_found_behind_a_cover_sheet_and_xls_is_explained(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "表紙"
    wb.active.append(["令和5年度 市民アンケート"])
    ws = wb.create_sheet("Sheet2")
    ws.append(["ID", "問1", "問2"])
    for i in range(20):
        ws.append([i + 1, ["はい", "いいえ"][i % 2], i % 3 + 1])
    wb.save(tmp_path / "book.xlsx")
    draft = draft_study([tmp_path / "book.xlsx"])
    assert draft.waves[0].sheet == "Sheet2" and [q.id for q in draft.questions] == ["q1", "q2"]
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    result = _init([tmp_path / "old.xls"], tmp_path / "out")
    assert result.exit_code == 2 and "save it as .xlsx" in result.output


def test_study_yaml_carries_the_plan_and_fits_the_typed_schema(from_xlsx):
    out, _ = from_xlsx
    _, study, _ = _load(out)
    plan = yaml.safe_load(PLAN_TEMPLATE.read_text(encoding="utf-8"))
    assert [p["id"] for p in study["plan"]["policies"]] == [p["id"] for p in plan["policies"]]
    assert study["plan"]["policies"][0]["measures"][0] == {"id": "1", "name": plan["policies"][0]
                                                           ["measures"][0]["name"]}
    schema = pytest.importorskip("kyodo_analysis.config.study")  # the typed schema, once merged
    config = schema.StudyConfig.model_validate(study)
    assert config.waves[0].header_rows == [4, 5]
