"""Disclosure control: primary and secondary suppression, the audit, free-text masking."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from kyodo_analysis.evaluation.disclosure import (
    DisclosureError,
    audit_record,
    find_personal_data,
    mask_free_text,
    protect_table,
)
from kyodo_analysis.reporting.publish import (
    audit_tables,
    collect_tables,
    publish_table,
    publish_text,
    write_tables_xlsx,
)


def tab(counts: dict[str, int]) -> pd.DataFrame:
    base = sum(counts.values())
    rows = [(k, v, f"{100 * v / base:.1f}") for k, v in counts.items()]
    rows.append(("回答者数（n）", base, "100.0"))
    return pd.DataFrame(rows, columns=["回答", "n", "%"])


def test_a_small_cell_is_suppressed_with_its_percent():
    t = tab({"はい": 40, "いいえ": 30, "わからない": 4, "無回答": 0})
    p = protect_table(t, threshold=10)
    assert p.table.loc[2, "n"] == "x" and p.table.loc[2, "%"] == "x"
    assert p.primary == ((2, "n"),)
    # 4 alone could be recovered as 74 - 40 - 30 - 0: the smallest other non-zero cell goes too
    assert p.secondary == ((1, "n"),)
    assert p.table.loc[1, "n"] == "x" and p.table.loc[1, "%"] == "x"
    assert p.table.loc[3, "n"] == 0  # a zero identifies nobody and stays visible
    assert p.table.loc[4, "n"] == 74
    assert audit_record("t", list(p.table.columns), p.table.values.tolist(), p.spec) == []


def test_two_small_cells_need_no_secondary_suppression():
    p = protect_table(tab({"a": 50, "b": 3, "c": 5, "d": 20}), threshold=10)
    assert p.primary == ((1, "n"), (2, "n")) and p.secondary == ()


def test_multiple_response_tables_are_not_additive():
    t = tab({"a": 50, "b": 3, "c": 20})
    t.loc[3, "n"] = 60  # base: respondents, fewer than the sum of options
    p = protect_table(t, threshold=10, additive=False)
    assert p.primary == ((1, "n"),) and p.secondary == ()


def test_secondary_suppression_in_a_two_way_table_hand_checked():
    # Rows: districts, columns: answers with a row total 計 and a column total row 合計.
    t = pd.DataFrame({
        "地区": ["A", "B", "C", "合計"],
        "はい": [20, 4, 30, 54],
        "いいえ": [15, 25, 12, 52],
        "計": [35, 29, 42, 106],
    })
    p = protect_table(t, threshold=10, count_columns=["はい", "いいえ", "計"], derived={},
                      label_column="地区", total_column="計")
    # Primary: B/はい = 4. Columns are checked first, then rows, until nothing changes:
    # column はい has only B hidden under a visible 合計 -> hide its smallest other cell A/はい (20);
    # row A then has only A/はい hidden under a visible 計 -> hide A/いいえ (15);
    # row B has only B/はい hidden -> hide B/いいえ (25). Second pass: every line holds 0 or 2
    # hidden cells. Check by hand: A/はい + B/はい = 54 - 30 = 24, A/いいえ + B/いいえ = 52 - 12 = 40,
    # A/はい + A/いいえ = 35, B/はい + B/いいえ = 29 leave one free unknown: B/はい can be 0..24.
    shown = p.table.set_index("地区")
    assert p.primary == ((1, "はい"),)
    assert set(p.secondary) == {(0, "はい"), (0, "いいえ"), (1, "いいえ")}
    assert shown.loc["合計", "はい"] == 54 and shown.loc["B", "計"] == 29
    assert audit_record("t", list(p.table.columns), p.table.values.tolist(), p.spec) == []


def test_an_unsuppressed_small_cell_fails_the_audit():
    t = tab({"はい": 40, "いいえ": 3})
    spec = protect_table(t).spec
    findings = audit_record("q1", list(t.columns), t.values.tolist(), spec)
    assert [f.rule for f in findings] == ["small cell"]
    assert "row 2" in str(findings[0]) and "'n'" in str(findings[0]) and "n=3" in str(findings[0])


def test_the_audit_catches_lone_suppression_derived_cells_and_uncontrolled_tables():
    t = tab({"はい": 40, "いいえ": 3, "無回答": 12})
    t = t.astype(object)
    t.loc[1, "n"] = "x"  # % left visible, and no complementary cell
    rules = {f.rule for f in audit_record("q", list(t.columns), t.values.tolist(),
                                          protect_table(tab({"a": 1})).spec)}
    assert rules == {"derived cell", "secondary suppression"}
    assert [f.rule for f in audit_record("q", ["回答"], [["a"]], None)] == ["not disclosure-controlled"]


@pytest.mark.parametrize(("text", "expected"), [
    ("詳しくは090-1234-5678（山田）までご連絡ください。", "詳しくは〔電話番号〕（〇〇）までご連絡ください。"),
    ("半田太郎さんの活動を紹介してほしい。電話0569-00-0000", "〇〇さんの活動を紹介してほしい。電話〔電話番号〕"),
    ("連絡先 hanako.demo@example.jp まで", "連絡先 〔メールアドレス〕 まで"),
    ("固定電話は（0569）21-3111です", "固定電話は〔電話番号〕です"),
    ("０９０－１２３４－５６７８に電話を", "〔電話番号〕に電話を"),
    ("携帯 09012345678", "携帯 〔電話番号〕"),
    ("地域の皆さんと協力したい", "地域の皆さんと協力したい"),
    ("鈴木会長にお世話になった", "〇〇会長にお世話になった"),
    ("令和7年度は2025-11-28に開催", "令和7年度は2025-11-28に開催"),
])
def test_free_text_masking(text, expected):
    assert mask_free_text(text, names=["鈴木"]) == expected
    assert find_personal_data(mask_free_text(text, names=["鈴木"])) == []


def test_free_text_is_refused_unless_allowed(demo_study, tmp_path):
    answers = ["意見交換会に呼んでください。連絡先 hanako.demo@example.jp", "", "山田さんに感謝"]
    with pytest.raises(DisclosureError, match="not allowed"):
        publish_text(answers, "q7", output_dir=tmp_path, study=demo_study)
    shown = publish_text(answers, "q7", output_dir=tmp_path / "nb", study=demo_study, allow=True)
    assert shown["自由記述"].tolist() == ["意見交換会に呼んでください。連絡先 〔メールアドレス〕", "〇〇さんに感謝"]
    assert audit_tables(collect_tables(tmp_path)) == []


def test_published_tables_are_audited_as_they_appear_in_the_workbook(tmp_path):
    out = tmp_path / "runs" / "nb1"
    out.parent.mkdir()
    shown = publish_table(tab({"はい": 40, "いいえ": 30, "わからない": 4}), "q1", output_dir=out,
                          title="問1", threshold=10)
    assert shown.loc[2, "n"] == "x"
    record = json.loads((out / "tables" / "q1.json").read_text(encoding="utf-8"))
    assert record["rows"][2] == ["わからない", "x", "x"]
    with pytest.raises(DisclosureError, match="already published"):
        publish_table(tab({"a": 20}), "q1", output_dir=out)
    records = collect_tables(tmp_path / "runs")
    xlsx = write_tables_xlsx(records, tmp_path / "tables.xlsx", notebook_titles={"nb1": "報告書1"})
    assert audit_tables(records, xlsx=xlsx, threshold=10) == []
    # A stricter study threshold than the table was protected with is a finding.
    assert {f.rule for f in audit_tables(records, xlsx=xlsx, threshold=50)} >= {"threshold"}
    # Tamper with the workbook: put the true count back into a suppressed cell.
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["目次", "T001"] and wb["目次"]["D2"].value == "問1"
    assert [c.value for c in wb["T001"][4]][:3] == ["回答", "n", "%"]  # header on row 4
    wb["T001"]["B7"] = 4
    wb.save(xlsx)
    findings = audit_tables(records, xlsx=xlsx, threshold=10)
    assert {f.rule for f in findings} == {"small cell", "secondary suppression"}
    assert any(f.rule == "small cell" and f.row == 2 and f.column == "n" for f in findings)


def test_cells_imposed_by_a_linked_table_are_suppressed_and_completed():
    t = tab({"はい": 40, "いいえ": 30, "わからない": 20})
    p = protect_table(t, threshold=10, also_suppress=[("いいえ", "n")])
    assert p.primary == () and p.secondary == ((1, "n"), (2, "n"))  # 30 imposed, then 20 to pair it
    with pytest.raises(DisclosureError, match="cannot suppress"):
        protect_table(t, also_suppress=[("どれでもない", "n")])


def test_linked_tables_are_audited_together():
    from kyodo_analysis.reporting.publish import TableRecord, audit_links

    def page(member, rows, additive=True):
        return TableRecord("q1", "", member, ("回答", "地区 n", "市全体 n"), tuple(rows),
                           {"label_column": "回答"}, link={"group": "中学校区/q1", "member": member,
                                                         "column": "地区 n", "total_column": "市全体 n",
                                                         "additive": additive})
    a = page("A", [("はい", "x", 30), ("いいえ", "x", 40), ("回答者数（n）", 20, 70)])
    b = page("B", [("はい", 25, 30), ("いいえ", 25, 40), ("回答者数（n）", 50, 70)])
    found = audit_links([a, b])
    assert {(f.table, f.rule) for f in found} == {("中学校区/q1", "linked secondary suppression")}
    assert len(found) == 2  # はい and いいえ: A's cell is the only hidden one in each row
    assert audit_links([page("A", a.rows, False), page("B", b.rows, False)]) == []


def test_tables_shown_on_pages_are_scanned(tmp_path):
    """A page table is read as shown: a group base (回答者数（n）row, 人数 column) under the
    threshold is found; a small answer count of a non-sensitive question is not a group."""
    import pandas as pd

    from kyodo_analysis.reporting.publish import audit_pages
    from kyodo_analysis.views.tables import styled

    raw = tab({"はい": 40, "いいえ": 4})
    page = tmp_path / "page.html"
    page.write_text("<html><body>" + styled(raw).to_html() + "</body></html>", encoding="utf-8")
    assert audit_pages([page], threshold=10) == []
    groups = pd.DataFrame({"区分": ["全体", "A"], "人数": [1200, 4]})
    page.write_text(styled(groups).to_html(), encoding="utf-8")
    found = audit_pages([page], threshold=10)
    assert [(f.table, f.rule, f.column) for f in found] == [("page.html table 1", "small cell", "人数")]
    assert "n=4 (A)" in found[0].detail


def test_publishing_never_recreates_a_removed_run_folder(tmp_path):
    gone = tmp_path / "build-removed" / "outputs" / "nb"
    with pytest.raises(DisclosureError, match="does not exist"):
        publish_table(tab({"a": 20}), "t", output_dir=gone)
    assert not (tmp_path / "build-removed").exists()
    publish_table(tab({"a": 20}), "t", output_dir=tmp_path / "nb")  # one new level is fine
    assert (tmp_path / "nb" / "tables" / "t.json").is_file()
