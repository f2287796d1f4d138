"""Readers: encodings are detected and reported, rows are numbered as a spreadsheet shows them."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyodo_analysis.errors import InputError
from kyodo_analysis.io.readers import detect_encoding, read_table

TEXT = "回答者ID,問1,自由記述\r\n1,2,協働のまちづくり\r\n2,1,半田市\r\n"


@pytest.mark.parametrize(("encoding", "expected"), [("cp932", "cp932"), ("utf-8", "utf-8"),
                                                     ("utf-8-sig", "utf-8-sig")])
def test_csv_encoding_is_detected_and_reported(tmp_path, encoding, expected):
    path = tmp_path / "wave.csv"
    path.write_bytes(TEXT.encode(encoding))
    table = read_table(path)
    assert table.encoding == expected
    assert list(table.data.columns) == ["回答者ID", "問1", "自由記述"]
    assert table.data["自由記述"].tolist() == ["協働のまちづくり", "半田市"]
    assert table.row_numbers.tolist() == [2, 3]


def test_bytes_that_are_neither_utf8_nor_cp932_name_the_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n" + b"\x85\xff,3\r\n")
    with pytest.raises(InputError) as err:
        read_table(path)
    assert err.value.row == 3 and err.value.file == str(path)
    assert detect_encoding("半田".encode("cp932")) == "cp932"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "empty"),
    ("data.json", b"{}", "unknown file format"),
])
def test_file_level_problems(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_table(path)
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "missing.csv")


def test_excel_title_rows_are_skipped_and_rows_numbered_as_in_excel(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["令和5年度 調査"])
    ws.append([])
    ws.append(["回答者ID", "問1"])
    ws.append([1, 3])
    ws.append([2, 4])
    wb.save(tmp_path / "wave.xlsx")
    table = read_table(tmp_path / "wave.xlsx", header_row=3)
    assert list(table.data.columns) == ["回答者ID", "問1"]
    assert table.row_numbers.tolist() == [4, 5]


def test_spss_value_labels_come_with_the_data(tmp_path):
    import pyreadstat

    df = pd.DataFrame({"ID": [1.0, 2.0], "Q1": [1.0, 9.0]})
    pyreadstat.write_sav(df, str(tmp_path / "w.sav"),
                         variable_value_labels={"Q1": {1: "よく知っている", 9: "無回答"}})
    table = read_table(tmp_path / "w.sav")
    assert table.format == "sav"
    assert table.value_labels["Q1"][1.0] == "よく知っている"
    assert table.data["Q1"].tolist() == [1.0, 9.0]


def test_every_demo_wave_format_reads(demo_study):
    formats = {w.format for w in demo_study.waves}
    assert formats == {"csv", "xlsx", "sav"}
    for w in demo_study.waves:
        table = read_table(w.file, format=w.format, encoding=w.encoding, sheet=w.sheet,
                           header_row=w.header_row)
        assert len(table.data) > 1000
        if w.format == "csv":
            assert table.encoding == w.encoding


@given(st.lists(st.lists(st.sampled_from(["", "1", "協働", "ab"]), min_size=1, max_size=6),
                min_size=1, max_size=30),
       st.sampled_from(["\n", "\r\n"]), st.integers(1, 64))
def test_field_counts_match_the_csv_module(lines, eol, chunk):
    """The chunked numpy count agrees with Python's csv module on any layout and chunk size."""
    import csv
    import io

    import numpy as np

    from kyodo_analysis.io.readers import _fields_per_line

    text = eol.join(",".join(cells) for cells in lines) + eol
    blob = text.encode("cp932")
    expected = [len(r) for r in csv.reader(io.StringIO(text)) if r]
    got = _fields_per_line(np.frombuffer(blob, dtype=np.uint8), ord(","), chunk=chunk)
    assert got.tolist() == expected


def test_the_first_bad_byte_is_found_across_chunk_boundaries():
    from kyodo_analysis.io.readers import _first_undecodable

    text = ("協働,1\n" * 50).encode("utf-8")
    for cut in range(len(text) - 3, len(text)):
        blob = text[:cut] + b"\xff" + text[cut:]
        for chunk in (7, 16, 64):
            assert _first_undecodable(blob, "utf-8", chunk=chunk) == cut
    assert _first_undecodable(text, "utf-8", chunk=5) is None


# --------------------------------------------------------------------------- header detection


@pytest.fixture(scope="module")
def municipal(tmp_path_factory):
    from municipal import make_exports

    return make_exports(tmp_path_factory.mktemp("municipal"), seed=7)


def test_municipal_xlsx_header_title_and_footnotes_are_found(municipal):
    table = read_table(municipal["xlsx"], require_header=True)
    layout = municipal["layout"]["xlsx"]
    assert table.header_rows == tuple(layout["header_rows"]) and table.header_row == 5
    assert len(table.title) == layout["title_rows"] and "令和6年度" in table.title[0]
    assert len(table.footnotes) == layout["footnotes"]
    assert table.footnotes[0][1].startswith("※") and table.footnotes[1][1].startswith("注）")
    # every respondent, and nothing else, is a data row; rows are numbered as Excel shows them
    assert len(table.data) == len(municipal["clean"])
    assert table.data.iloc[:, 0].tolist() == municipal["clean"]["id"].tolist()
    assert table.row_numbers.iloc[0] == 6
    assert table.footnotes[0][0] > table.row_numbers.iloc[-1] + 1  # a blank row in between
    levels = table.header_levels
    # merged cells are filled in: 問2 over its three items, 問3 over its option columns
    assert [lv for lv in levels.values() if lv[0] == "問2"] == [
        ("問2", "(1) 近所づきあいがある"), ("問2", "(2) 災害のときに助け合える"),
        ("問2", "(3) 地域の行事に参加したい")]
    assert sum(lv[0] == "問3" for lv in levels.values()) == 5
    assert levels["整理番号"] == ("整理番号",)  # merged down over both header rows
    assert "問3 非常食の備蓄" in table.data.columns
    assert table.sheet == "回答データ"


def test_municipal_csv_and_sav_headers(municipal):
    csv = read_table(municipal["csv"], require_header=True)
    assert csv.header_rows == (1,) and csv.encoding == "cp932"
    assert len(csv.data) == len(municipal["clean"]) and csv.footnotes == ()
    assert csv.data.columns[0] == "整理番号" and "性別" in csv.data.columns
    sav = read_table(municipal["sav"])
    assert sav.header_rows == () and len(sav.data) == len(municipal["clean"])
    assert sav.header_levels["Q1"] == ("Q1", "お住まいの地域は住みやすいと感じますか")


def test_explicit_header_rows_read_the_same_table(municipal):
    found = read_table(municipal["xlsx"])
    given = read_table(municipal["xlsx"], header_rows=[4, 5])
    assert list(given.data.columns) == list(found.data.columns)
    assert given.row_numbers.tolist() == found.row_numbers.tolist()
    one = read_table(municipal["xlsx"], header_row=5)
    assert one.header_rows == (5,) and one.data.columns[2] == "お住まいの地域は住みやすいと感じますか"
    with pytest.raises(InputError, match="increasing"):
        read_table(municipal["xlsx"], header_rows=[5, 4])


def _csv(tmp_path, text, name="t.csv", encoding="cp932"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_title_rows_and_footnotes(tmp_path):
    path = _csv(tmp_path, "令和6年度 市民アンケート 集計表\n\n回答者ID,問1,問2\n"
                          "1,そう思う,2\n2,そう思わない,3\n3,そう思う,1\n4,,\n\n"
                          "※ 無回答は空欄\n注）数値はコード\n")
    table = read_table(path)
    assert table.header_rows == (3,) and table.title == ("令和6年度 市民アンケート 集計表",)
    assert table.data["回答者ID"].tolist() == ["1", "2", "3", "4"]  # the all-blank respondent stays
    assert table.row_numbers.tolist() == [4, 5, 6, 7]
    assert [t for _, t in table.footnotes] == ["※ 無回答は空欄", "注）数値はコード"]
    typed = read_table(path, text_columns={"回答者ID"})
    assert len(typed.data) == 4 and typed.data["問2"].dtype.kind in "if"
    given = read_table(path, header_rows=3)
    assert given.header_rows == (3,) and given.data.equals(table.data)
    assert given.title == table.title and given.footnotes == table.footnotes


def test_csv_two_row_header_without_merges(tmp_path):
    path = _csv(tmp_path, "ID,問1,問2,,,問3\n,性別,自治会,ボランティア,NPO,年齢\n"
                          "1,1,1,0,1,34\n2,2,0,1,0,56\n3,1,1,1,0,22\n", encoding="utf-8")
    table = read_table(path)
    assert table.header_rows == (1, 2)
    assert list(table.data.columns) == ["ID", "問1 性別", "問2 自治会", "問2 ボランティア",
                                        "問2 NPO", "問3 年齢"]
    assert table.header_levels["問2 NPO"] == ("問2", "NPO")
    assert table.row_numbers.tolist() == [3, 4, 5]
    named = read_table(path, known_headers={"問1", "年齢", "問2 NPO"})
    assert list(named.data.columns) == ["ID", "問1", "問2 自治会", "問2 ボランティア", "問2 NPO",
                                        "年齢"]


def test_header_in_row_1_and_plain_csv_unchanged(tmp_path):
    path = _csv(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    table = read_table(path)
    assert table.header_rows == (1,) and list(table.data.columns) == ["a", "b", "c"]
    assert table.header_levels == {"a": ("a",), "b": ("b",), "c": ("c",)}
    assert table.footnotes == () and table.title == ()


def test_no_header_is_an_error_when_required(tmp_path):
    path = _csv(tmp_path, "1,2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(InputError, match="no header row found in the first 30 rows") as err:
        read_table(path, require_header=True)
    assert err.value.file == str(path)
    assert read_table(path).header_rows == (1,)  # reading without the requirement keeps row 1


def test_id_only_rows_are_respondents_not_footnotes(tmp_path):
    path = _csv(tmp_path, "回答者ID,問1,問2\nA001,1,2\nA002,,\nA003,,\n")
    table = read_table(path)
    assert table.data["回答者ID"].tolist() == ["A001", "A002", "A003"] and table.footnotes == ()


def test_xlsx_merges_are_read_from_the_sheet(tmp_path):
    """A merged 問3 covers its option columns and not the standalone column after them: only the
    merge information (read from the sheet XML in read-only mode) can tell them apart."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["調査結果"])
    ws.append(["ID", "問3", None, None, None])
    ws.append([None, "自治会", "NPO", "特にない", "年齢"])
    ws.merge_cells("B2:D2")
    ws.merge_cells("A2:A3")
    for i in range(5):
        ws.append([i + 1, 1, 0, 0, 30 + i])
    ws.append(["※ 0/1 で入力"])
    wb.save(tmp_path / "m.xlsx")
    table = read_table(tmp_path / "m.xlsx")
    assert table.header_rows == (2, 3) and table.title == ("調査結果",)
    assert list(table.data.columns) == ["ID", "問3 自治会", "問3 NPO", "問3 特にない", "年齢"]
    assert table.footnotes == ((9, "※ 0/1 で入力"),) and len(table.data) == 5
    # the same layout as CSV has no merges: the blank cell above 年齢 is taken as part of 問3
    csv = _csv(tmp_path, "調査結果\nID,問3,,,\n,自治会,NPO,特にない,年齢\n1,1,0,0,30\n"
                         "2,1,0,0,31\n3,0,1,0,32\n", encoding="utf-8")
    assert read_table(csv).data.columns[-1] == "問3 年齢"


def test_three_row_header_number_text_options(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["令和6年度 ○○市 市民意識調査"])
    ws.append(["回答者ID", "問1", "問2", None, None, "F1"])
    ws.append([None, "地域に愛着がありますか", "参加した活動（複数回答）", None, None, "性別"])
    ws.append([None, None, "自治会", "清掃活動", "特にない", None])
    for rng in ("A2:A4", "C2:E2", "C3:E3", "B3:B4", "F3:F4"):
        ws.merge_cells(rng)
    rows = [[f"R{i:03d}", ["ある", "ない"][i % 2], i % 2, 1 - i % 2, 0, ["男性", "女性"][i % 3 % 2]]
            for i in range(8)]
    for r in rows:
        ws.append(r)
    wb.save(tmp_path / "three.xlsx")
    table = read_table(tmp_path / "three.xlsx")
    assert table.header_rows == (2, 3, 4) and table.title == ("令和6年度 ○○市 市民意識調査",)
    assert table.header_levels["問2 参加した活動（複数回答） 清掃活動"] == (
        "問2", "参加した活動（複数回答）", "清掃活動")
    assert list(table.data.columns)[:2] == ["回答者ID", "問1 地域に愛着がありますか"]
    assert len(table.data) == 8


def test_a_last_row_with_only_a_name_is_data_not_a_note(tmp_path):
    path = _csv(tmp_path, "団体名,分野,会員数\n花の会,環境,12\n子ども食堂みなと,福祉,30\nさくら会,,\n"
                          "調査時点：令和6年4月1日\n")
    table = read_table(path)
    assert table.data["団体名"].tolist() == ["花の会", "子ども食堂みなと", "さくら会"]
    assert table.footnotes == ((5, "調査時点：令和6年4月1日"),)


def test_known_names_match_headers_whatever_the_width_of_their_characters(tmp_path):
    path = _csv(tmp_path, "調査票\nＩＤ,問１,問２\n,（あてはまるもの）,性別\n1,2,1\n2,1,2\n3,1,1\n",
                encoding="utf-8")
    table = read_table(path, known_headers={"問1 (あてはまるもの)", "性別"})
    assert list(table.data.columns) == ["ＩＤ", "問1 (あてはまるもの)", "性別"]


@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("short_at", [None, 0, 2, 4])
def test_short_lines_are_marked_whatever_route_counts_them(tmp_path, quoted, short_at):
    """A line cut short (pandas fills its missing trailing fields with blanks) is marked, and
    only that line: on a plain file without quotes from the delimiter count first (per line
    only when the count falls short), with quotes by the csv module; blank lines between
    rows are not rows."""
    rows = [["R1", "1", "2", "協働"], ["R2", "2", "1", "半田市"], ["R3", "1", "1", "x"],
            ["R4", "3", "2", "まちづくり"], ["R5", "2", "2", "y"]]
    if short_at is not None:
        rows[short_at] = rows[short_at][:2]
    def line(cells):
        return ",".join(f'"{c}"' if quoted and c.startswith("R") else c for c in cells)
    body = [line(r) for r in rows]
    body.insert(3, "")  # a blank line: skipped, not a row
    text = "回答者ID,問1,問2,自由記述\r\n" + "\r\n".join(body) + "\r\n"
    path = tmp_path / "wave.csv"
    path.write_bytes(text.encode("cp932"))
    table = read_table(path)
    assert len(table.data) == 5
    want = [i == short_at for i in range(5)]
    assert table.short_rows.tolist() == want


def test_a_line_longer_than_the_header_is_refused(tmp_path):
    """Why a delimiter count that matches the header's times the lines means no short line:
    a longer line that could make up for a short one is not read at all."""
    path = tmp_path / "wave.csv"
    path.write_bytes("回答者ID,問1\r\nR1,1\r\nR2\r\nR3,1,9,9\r\n".encode("cp932"))
    with pytest.raises(InputError, match="malformed CSV"):
        read_table(path)
