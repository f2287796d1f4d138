"""Views: one tabulation path, one interval, group protection, same cell same value."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kyodo_analysis.errors import KyodoError
from kyodo_analysis.evaluation.disclosure import differencing_findings, hidden_groups
from kyodo_analysis.options import DisplayOptions
from kyodo_analysis.reporting.publish import (
    audit_tables,
    cell_conflicts,
    collect_tables,
    publish_view,
)
from kyodo_analysis.views import comparison, crosstabs, tables


@pytest.fixture(scope="module")
def ctx(demo_study):
    s = demo_study
    return s, s.design(max(s.fiscal_years)), DisplayOptions.for_study(s)


def test_the_interval_is_r_svyciprop_logit(ctx):
    s, design, opts = ctx
    q = s.codebook[s.headline.questions[0]]
    t = tables.tabulate(design, q, options=opts)
    code = int(t["code"].iloc[0])
    ref = design.assign(_y=(design.data[q.id] == code).astype(float)).proportion(
        "_y", success=1.0, method="logit")
    assert t["percent"].iloc[0] == pytest.approx(100 * ref["estimate"].iloc[0], rel=1e-9)
    assert t["ci_low"].iloc[0] == pytest.approx(100 * ref["ci_low"].iloc[0], rel=1e-6)
    assert t["ci_high"].iloc[0] == pytest.approx(100 * ref["ci_high"].iloc[0], rel=1e-6)


def test_interval_methods_and_zero_width():
    lo, hi = tables.interval([0.0, 0.5], [0.0, 0.05], [np.inf, np.inf], method="wald")
    assert lo[0] == hi[0] == 0.0
    assert lo[1] == pytest.approx(0.5 - 1.959964 * 0.05, rel=1e-5)
    with pytest.raises(KyodoError, match="nope"):
        tables.interval([0.5], [0.1], [10], method="nope")


def test_study_yaml_chooses_the_interval(demo_study):
    opts = DisplayOptions.for_study(demo_study)
    assert (opts.interval, opts.level, opts.min_base) == ("logit", 0.95, demo_study.suppression_threshold)


def test_district_page_and_crosstab_publish_the_same_numbers(ctx):
    s, design, opts = ctx
    level = s.district_levels[0].name
    q = s.codebook[s.headline.questions[0]]
    x = crosstabs.crosstab(design, s, q, level, options=opts, marks=False)
    for district in s.districts(level):
        pt = comparison.district_table(design, s, q, level=level, district=district, options=opts)
        row = x.table[x.table["区分"] == district].iloc[0]
        for label in x.table.columns[2:]:
            page_value = pt.table.loc[pt.table["回答"] == label, f"{district} %"].iloc[0]
            assert page_value == row[label]


def test_no_answer_never_hides_a_substantive_category(ctx):
    s, design, opts = ctx
    level = s.district_levels[0].name
    q = s.codebook[s.headline.questions[0]]
    x = crosstabs.crosstab(design, s, q, level, options=opts, marks=False)
    shown = x.table.iloc[1:]
    # top level of register districts: every district is big enough, nothing is hidden
    assert not (shown == "x").any().any()
    no_answer = shown["無回答"].astype(float)
    assert (no_answer < 5).any()  # small 無回答 shares stay visible beside everything else


def test_hidden_groups_rules():
    assert hidden_groups({"a": 40, "b": 9}, min_base=10) == {"b"}
    # the city minus the shown groups leaves 3 people (blank attribute): hide the smallest
    assert hidden_groups({"a": 40, "b": 30}, min_base=10, partitions=[(73, ["a", "b"])]) == {"b"}
    assert hidden_groups({"a": 40, "b": 30}, min_base=10, partitions=[(70, ["a", "b"])]) == set()


def test_nested_levels_leave_no_small_residual(ctx):
    s, design, opts = ctx
    nested = [lv for lv in s.district_levels if lv.parent]
    if not nested:
        pytest.skip("no nested district level")
    lv = nested[0]
    q = s.codebook[s.headline.questions[0]]
    child = crosstabs.crosstab(design, s, q, lv.name, options=opts, marks=False)
    parent = crosstabs.crosstab(design, s, q, lv.parent, options=opts, marks=False)
    groups = []
    for x, name in ((child, "c"), (parent, "p")):
        for g in x.groups:
            groups.append({"table": name, "question": q.id, "dimension": g["dimension"],
                           "group": g["group"], "parent_dimension": g["parent_dimension"],
                           "parent": g["parent"], "base": x.table.iloc[g["row"], 1]})
    assert differencing_findings(groups, min_base=opts.min_base) == []
    # the attack finds what protection prevented: show every child again
    bases, _ = crosstabs._bases(design, s, q, lv.name)
    leaked = [{**g, "base": bases[g["group"]]} if g["table"] == "c" and g["dimension"] else g
              for g in groups]
    assert any(f.rule in ("differencing", "small group")
               for f in differencing_findings(leaked, min_base=opts.min_base))


def _record(tmp_path, name, table, **kw):
    publish_view(table, name, output_dir=tmp_path / "nb", title=name, **kw)


def test_same_cell_different_value_is_caught(tmp_path):
    import pandas as pd

    t = pd.DataFrame({"回答": ["a", "回答者数（n）"], "%": [10.0, 100]})
    _record(tmp_path, "one", t, keys=[[0, "%", "q|市全体|全体|a|%"]])
    _record(tmp_path, "two", t.assign(**{"%": [10.1, 100]}), keys=[[0, "%", "q|市全体|全体|a|%"]])
    records = collect_tables(tmp_path)
    assert set(cell_conflicts(records)) == {"q|市全体|全体|a|%"}


def test_the_audit_reads_bases_from_the_published_cells(tmp_path):
    import pandas as pd

    # a group of 4 published under an undeclared 人数 column, with no group records at all
    t = pd.DataFrame({"区分": ["全体", "A"], "人数": [120, 4], "はい": [50.0, 25.0]})
    _record(tmp_path, "t", t, question=None)
    findings = audit_tables(collect_tables(tmp_path), threshold=10)
    assert any(f.rule == "small group" for f in findings)


def test_records_carry_groups_and_keys(tmp_path, ctx):
    s, design, opts = ctx
    q = s.codebook[s.headline.questions[0]]
    shown = tables.tabulation_table(tables.tabulate(design, q, options=opts), opts)
    groups, keys = comparison.tabulation_keys(q, shown, opts)
    publish_view(shown, q.id, output_dir=tmp_path / "nb", title="t", study=s, question=q.id,
                 groups=groups, keys=keys)
    doc = json.loads((tmp_path / "nb" / "tables" / f"{q.id}.json").read_text(encoding="utf-8"))
    assert isinstance(doc["rows"][0][2], float)  # % stored as a number
    assert doc["groups"][0]["column"] == "n"
    assert audit_tables(collect_tables(tmp_path), threshold=10, study=s) == []


def test_the_workbook_stores_numbers_with_formats_and_links(tmp_path):
    import pandas as pd
    from openpyxl import load_workbook

    from kyodo_analysis.reporting.publish import read_tables_xlsx, write_tables_xlsx

    t = pd.DataFrame({"回答": ["=cmd()", "いいえ", "回答者数（n）"], "n": [1200, 34, 1234],
                      "%": [97.2, 2.8, 100.0], "95%信頼区間 下限": [96.1, 2.0, None],
                      "95%信頼区間 上限": [98.0, 3.9, None]})
    _record(tmp_path, "q1", t, notes=["基数は回答者数"], number="表1")
    records = collect_tables(tmp_path)
    path = write_tables_xlsx(records, tmp_path / "tables.xlsx", notebook_titles={"nb": "概要"})
    wb = load_workbook(path)
    toc, ws = wb["目次"], wb["T001"]
    link = toc["A2"].hyperlink
    assert link.location == "'T001'!A1" or "T001" in str(link.target or link.location)
    assert ws["A1"].value.startswith("表1")
    header = [c.value for c in ws[4]]
    assert header[:3] == ["回答", "n", "%"]
    assert ws["B5"].value == 1200 and ws["B5"].number_format == "#,##0"
    assert isinstance(ws["C5"].value, float) and ws["C5"].number_format == "0.0"
    assert isinstance(ws["D5"].value, float)  # the interval is two numeric columns
    assert ws["A5"].data_type == "s" and ws["A5"].value == "=cmd()"  # text, not a formula
    assert ws.freeze_panes == "B5"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert any("基数は回答者数" in str(c.value) for c in ws["A"])
    back = read_tables_xlsx(path)["nb/q1"]
    assert back["%"].tolist() == [97.2, 2.8, 100.0]


def test_whole_percentages_stay_decimals(tmp_path):
    import pandas as pd

    _record(tmp_path, "w", pd.DataFrame({"回答": ["a"], "n": [12], "%": [50.0]}))
    r = collect_tables(tmp_path)[0]
    assert isinstance(r.rows[0][1], int) and isinstance(r.rows[0][2], float)


def test_an_unknown_district_is_an_error_naming_it(ctx):
    from kyodo_analysis.errors import ConfigError

    s, design, opts = ctx
    level = s.district_levels[-1].name
    with pytest.raises(ConfigError, match="どこか"):
        comparison.district_table(design, s, s.codebook[s.headline.questions[0]], level=level,
                                  district="どこか", options=opts)


def test_sensitive_questions_hide_small_cells_everywhere(ctx):
    """Only a question marked sensitive loses single cells: 1-9 people, plus one more cell
    where a single hidden share could be recovered as 100 minus the others."""
    from dataclasses import replace as dc_replace

    s, design, opts = ctx
    assert tables.sensitive_cells([40, 5, 30], threshold=10, additive=True) == {1, 2}
    assert tables.sensitive_cells([40, 5, 3], threshold=10, additive=True) == {1, 2}
    assert tables.sensitive_cells([40, 5, 30], threshold=10, additive=False) == {1}
    level = s.district_levels[0].name
    q = s.codebook[s.headline.questions[0]]
    plain = crosstabs.crosstab(design, s, q, level, options=opts, marks=False)
    secret = crosstabs.crosstab(design, s, dc_replace(q, sensitive=True), level, options=opts,
                                marks=False)
    assert not (plain.table == "x").any().any()
    hidden = (secret.table == "x")
    assert hidden.any().any() and hidden.iloc[0].sum() == 0  # the city row keeps every cell
    district = secret.table.loc[hidden.any(axis=1), "区分"].iloc[0]
    pt = comparison.district_table(design, s, dc_replace(q, sensitive=True), level=level,
                                   district=district, options=opts)
    assert (pt.table[f"{district} %"] == "x").sum() >= 2


def test_wave_comparison_adjusts_each_question_by_holm_and_marks_by_the_adjusted_p(demo_study):
    """経年比較: differences are this wave minus the other from the one tabulation path, the
    p values are Holm over the answers of the table (R p.adjust(p, "holm")), and ▲▼ mark
    exactly the differences whose adjusted p is under 5%, by their sign."""
    from kyodo_analysis.stats import compare_independent

    q = demo_study.codebook["q1"]
    fy = max(demo_study.fiscal_years)
    designs = {y: demo_study.design(y) for y in demo_study.fiscal_years}
    table, _keys, _series = comparison.wave_table(demo_study, q, fy, designs=designs)
    waves, _ = comparison.comparable_waves(demo_study, q, fy)
    now = tables.tabulate(designs[fy], q)
    prev = tables.tabulate(designs[[w for w in waves if w < fy][-1]], q)
    diff = compare_independent(now[["percent", "se"]].set_axis(["estimate", "se"], axis=1),
                               prev[["percent", "se"]].set_axis(["estimate", "se"], axis=1))
    p = diff["p_value"].to_numpy()
    m, order = len(p), np.argsort(p)
    holm = np.empty(m)
    holm[order] = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    np.testing.assert_allclose(table["前回との差 p値（Holm調整後）"].astype(float), holm, rtol=1e-3)
    marks = ["" if h >= 0.05 else "▲" if d > 0 else "▼" for h, d in zip(holm, diff["estimate"], strict=True)]
    assert list(table["前回との差 判定"]) == marks
    assert "▲" in marks or "▼" in marks or (holm >= 0.05).all()
    # the rule is stated for the page
    assert "ホルム法" in comparison.WAVE_MARK_RULE


def test_differencing_covers_attributes_against_the_city_total():
    """An attribute table (性別) whose shown groups leave 3 people of the city base (those who
    did not state it) is a finding; the same table leaving 0 or 12 is not. Partitions by two
    different attributes are never subtracted from each other: without a published
    cross-classification no group is isolated that way."""
    def groups(unstated):
        city = {"table": "t", "question": "q", "dimension": "", "group": "市全体",
                "parent_dimension": "", "parent": "", "base": 200 + unstated}
        sex = [{"table": "t", "question": "q", "dimension": "性別", "group": g,
                "parent_dimension": "", "parent": "", "base": n}
               for g, n in (("男性", 90), ("女性", 110))]
        age = [{"table": "t", "question": "q", "dimension": "年代", "group": g,
                "parent_dimension": "", "parent": "", "base": n}
               for g, n in (("39歳以下", 60), ("40-64歳", 80), ("65歳以上", 60 + unstated))]
        return [city, *sex, *age]

    found = differencing_findings(groups(3), min_base=10)
    assert [f.rule for f in found] == ["differencing"] and "性別" in found[0].detail
    assert differencing_findings(groups(0), min_base=10) == []
    assert differencing_findings(groups(12), min_base=10) == []
