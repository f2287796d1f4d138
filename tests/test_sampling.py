"""The sampling list (発送名簿) joined to the responses by id.

Expected values are worked out by hand from the small files written in each test.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from kyodo_analysis.cli import main
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import ConfigError, InputError
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.sampling import read_sampling_list
from kyodo_analysis.io.validate import validate
from kyodo_analysis.store import Store, file_sha256
from kyodo_analysis.study import Study

CODEBOOK = {
    "codebook": "sampling",
    "id": {"columns": ["ID", "整理番号"]},
    "missing_codes": {9: "無回答"},
    "questions": [
        {"id": "q1", "columns": ["問1"], "text": "認知", "type": "single",
         "codes": {1: "知っている", 2: "知らない"}},
        {"id": "stratum", "columns": ["抽出区分"], "text": "中学校区", "type": "design",
         "codes": {1: "青山", 2: "成岩", 3: "亀崎"},
         "aliases": {"成岩": ["成岩中学校区", "成岩中"]}},
        {"id": "reg_sex", "columns": ["台帳性別"], "text": "性別", "type": "design",
         "codes": {1: "男性", 2: "女性"}, "aliases": {"男性": ["男"], "女性": ["女"]}},
        {"id": "reg_age_years", "columns": ["台帳年齢"], "text": "年齢", "type": "numeric",
         "range": [18, 110]},
    ],
    "derived": [
        {"id": "reg_age", "from": "reg_age_years", "type": "design",
         "codes": {1: "18～29歳", 2: "30～39歳", 3: "40～69歳", 4: "70歳以上"},
         "bins": {1: [18, 29], 2: [30, 39], 3: [40, 69], 4: [70, None]}},
    ],
}
LAYOUT = {"id_column": "整理番号", "columns": {"中学校区": "stratum", "性別": "reg_sex",
                                               "年齢": "reg_age_years"}}
LIST_ROWS = [  # 整理番号, 中学校区, 性別, 年齢, 氏名 (a column the join does not use)
    ("0001", "青山", "男性", "25", "半田太郎"),
    ("0002", "成岩中学校区 ", "女", "45", "半田花子"),
    ("０００３", "２", "1", "70", "岩滑一郎"),
    ("0004", "亀崎", "女性", "33", "亀崎次郎"),  # sampled, did not answer
]
RESPONSES = [  # ID, 問1: 1 and 3 written without the zeros Excel drops, 9999 not on the list
    ("1", "1"), ("0002", "2"), ("3", "知っている"), ("9999", "1"), ("", "2"),
]


def write_csv(path, header, rows, encoding="cp932"):
    path.write_bytes(("\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n")
                     .encode(encoding))
    return path


@pytest.fixture
def files(tmp_path):
    cb_file = tmp_path / "codebook.yaml"
    cb_file.write_text(yaml.safe_dump(CODEBOOK, allow_unicode=True), encoding="utf-8")
    listing = write_csv(tmp_path / "発送名簿.csv", ["整理番号", "中学校区", "性別", "年齢", "氏名"],
                        LIST_ROWS)
    answers = write_csv(tmp_path / "r7.csv", ["ID", "問1"], RESPONSES)
    return Codebook.from_yaml(cb_file), cb_file, listing, answers


def joined(codebook, listing, answers, **layout):
    sampling = read_sampling_list(listing, codebook, **{**LAYOUT, **layout})
    raw = read_table(answers, text_columns=codebook.text_headers(),
                     known_headers=set(codebook.header_aliases()))
    return validate(raw, codebook, fiscal_year=2025, sampling_list=sampling)


def test_the_list_fills_register_attributes_by_id(files):
    codebook, _, listing, answers = files
    result = joined(codebook, listing, answers)
    assert result.read == 5 == result.n_accepted + result.n_quarantined
    assert result.n_accepted == 3 and result.n_quarantined == 2
    ok = result.accepted
    assert ok["id"].tolist() == ["1", "0002", "3"]
    assert ok["stratum"].tolist() == [1, 2, 2]
    assert ok["reg_sex"].tolist() == [1, 2, 1]
    assert ok["reg_age_years"].tolist() == [25.0, 45.0, 70.0]
    assert ok["reg_age"].tolist() == [1, 3, 4]  # derived from the list's age
    assert ok["q1"].tolist() == [1, 2, 1]
    rules = dict(zip(result.quarantine["row"], result.quarantine["rule"], strict=True))
    assert rules == {5: "not_in_sampling_list", 6: "missing_id"}
    miss = result.quarantine.iloc[0]
    assert miss["value"] == "9999" and "9999" in miss["message"]
    assert "発送名簿.csv" in miss["message"]
    assert result.sampling_list == str(listing)
    assert result.sampling_list_sha256 == file_sha256(listing)


def test_the_list_is_read_from_excel_too(files, tmp_path):
    from openpyxl import Workbook

    codebook, _, _, answers = files
    wb = Workbook()
    ws = wb.active
    ws.append(["令和7年度 発送名簿"])
    ws.append(["整理番号", "中学校区", "性別", "年齢"])
    for r in LIST_ROWS:
        ws.append([int(r[0].translate(str.maketrans("０１２３", "0123"))), r[1], r[2], int(r[3])])
    wb.save(tmp_path / "list.xlsx")
    result = joined(codebook, tmp_path / "list.xlsx", answers)
    assert result.accepted["stratum"].tolist() == [1, 2, 2]
    assert result.n_quarantined == 2


def test_a_blank_register_attribute_quarantines_the_respondent(files, tmp_path):
    codebook, _, _, answers = files
    rows = [list(r) for r in LIST_ROWS]
    rows[1][1] = ""
    listing = write_csv(tmp_path / "blank.csv", ["整理番号", "中学校区", "性別", "年齢", "氏名"], rows)
    result = joined(codebook, listing, answers)
    hits = result.quarantine[result.quarantine["rule"] == "required"]
    assert hits["row"].tolist() == [3] and hits["column"].tolist() == ["中学校区"]
    assert result.read == result.n_accepted + result.n_quarantined == 5


@pytest.mark.parametrize(("edit", "row", "column", "value", "words"), [
    ((1, 0, "0001"), 2, "整理番号", "0001", "repeated (also on row 3)"),
    ((2, 0, "1"), 2, "整理番号", "0001", "repeated (also on row 4)"),  # 0001 is 1
    ((2, 0, ""), 4, "整理番号", "", "no id"),
    ((3, 1, "亀崎中"), 5, "中学校区", "亀崎中", "not valid for 'stratum'"),
    ((0, 3, "十八"), 2, "年齢", "十八", "not valid for 'reg_age_years'"),
])
def test_a_bad_list_is_a_file_level_error(files, tmp_path, edit, row, column, value, words):
    codebook, _, _, _ = files
    rows = [list(r) for r in LIST_ROWS]
    i, j, v = edit
    rows[i][j] = v
    listing = write_csv(tmp_path / "bad.csv", ["整理番号", "中学校区", "性別", "年齢", "氏名"], rows)
    with pytest.raises(InputError) as err:
        read_sampling_list(listing, codebook, **LAYOUT)
    e = err.value
    assert (e.file, e.row, e.column, e.value) == (str(listing), row, column, value)
    assert words in str(e)


def test_a_list_without_its_columns_or_a_layout_naming_no_question(files, tmp_path):
    codebook, _, listing, _ = files
    with pytest.raises(InputError, match="no column '番号'"):
        read_sampling_list(listing, codebook, id_column="番号", columns=LAYOUT["columns"])
    with pytest.raises(ConfigError, match="no question 'district'"):
        read_sampling_list(listing, codebook, id_column="整理番号", columns={"中学校区": "district"})
    with pytest.raises(ConfigError, match="cannot come from a sampling list"):
        read_sampling_list(listing, codebook, id_column="整理番号", columns={"中学校区": "reg_age"})


def test_without_the_list_its_columns_are_required(files):
    codebook, _, _, answers = files
    raw = read_table(answers, text_columns=codebook.text_headers())
    with pytest.raises(InputError, match="required column missing: stratum"):
        validate(raw, codebook)


def test_study_reads_the_list_and_the_store_records_it(files, tmp_path):
    _, cb_file, listing, answers = files
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump({
        "study": "s", "codebook": cb_file.name, "store": "s.duckdb",
        "sampling_list": LAYOUT,
        "waves": [{"fiscal_year": 2025, "file": answers.name, "sampling_list": listing.name}],
    }, allow_unicode=True), encoding="utf-8")
    study = Study.from_yaml(study_file)
    result = study.read_wave(2025)
    assert result.n_accepted == 3 and result.sampling_list == str(listing)
    first, again = study.import_waves(), study.import_waves()
    assert first[0].status == "imported" and again[0].status == "unchanged"
    with duckdb.connect(str(study.store_path), read_only=True) as con:
        name, sha = con.execute("SELECT sampling_list_name, sampling_list_sha256 "
                                "FROM imports").fetchone()
    assert (name, sha) == ("発送名簿.csv", file_sha256(listing))
    assert study.load_wave(2025)["reg_age"].tolist() == [1, 3, 4]
    # Another version of the list is another import: replacing the wave is a decision.
    write_csv(listing, ["整理番号", "中学校区", "性別", "年齢"], [r[:4] for r in LIST_ROWS])
    with pytest.raises(InputError, match="--replace"):
        Study.from_yaml(study_file).import_waves()


def test_cli_import_with_a_sampling_list(files, tmp_path):
    _, cb_file, listing, answers = files
    db = tmp_path / "cli.duckdb"
    args = ["import", str(answers), "--codebook", str(cb_file), "--wave", "令和7年度",
            "--db", str(db), "--sampling-list", str(listing), "--sampling-id", "整理番号",
            "--sampling-column", "中学校区=stratum", "--sampling-column", "性別=reg_sex",
            "--sampling-column", "年齢=reg_age_years", "--report-json", str(tmp_path / "r.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "not_in_sampling_list: 1" in result.output
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (report["read"], report["accepted"], report["quarantined"]) == (5, 3, 2)
    assert report["sampling_list"] == str(listing)
    with Store(db, read_only=True) as store:
        n = store.con.execute("SELECT count(*) FROM responses").fetchone()[0]
        strata = store.con.execute("SELECT stratum FROM responses ORDER BY source_row").fetchall()
    assert n == 3 and [s[0] for s in strata] == [1, 2, 2]
    # A bad list rejects the file: exit 2, nothing imported.
    rows = [list(r) for r in LIST_ROWS]
    rows[1][0] = "0001"
    write_csv(listing, ["整理番号", "中学校区", "性別", "年齢", "氏名"], rows)
    bad = CliRunner().invoke(main, [*args[:6], "--db", str(tmp_path / "other.duckdb"),
                                    *args[8:16]])
    assert bad.exit_code == 2 and "repeated" in bad.output and "row 2" in bad.output
    assert not (tmp_path / "other.duckdb").exists()


def test_cli_takes_the_layout_and_list_from_a_study_file(files, tmp_path):
    _, cb_file, listing, answers = files
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump({
        "study": "handa", "codebook": cb_file.name, "sampling_list": LAYOUT,
        "waves": [{"fiscal_year": 2025, "file": answers.name, "sampling_list": listing.name}],
    }, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(answers), "--study", str(study_file),
                                       "--wave", "2025"])
    assert result.exit_code == 1, result.output
    assert "read 5, accepted 3, quarantined 2" in result.output
    db = tmp_path / "s.duckdb"
    imported = CliRunner().invoke(main, ["import", str(answers), "--study", str(study_file),
                                         "--wave", "2025", "--db", str(db)])
    assert imported.exit_code == 1 and "'handa'" in imported.output, imported.output


def test_positions_match_normalised_ids(files):
    codebook, _, listing, _ = files
    sampling = read_sampling_list(listing, codebook, **LAYOUT)
    assert len(sampling) == 4
    got = sampling.positions(np.array(["0004", "4", "1", "x", "0003"], dtype=object))
    assert got.tolist() == [3, 3, 0, -1, 2]
