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
