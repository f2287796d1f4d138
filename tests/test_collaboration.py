"""The collaboration register: a hand-built register of 10 projects with known partners,
forms and stages, and every figure's numbers checked against values worked out by hand
(in the comments); bad input goes to the quarantine with row, column, value and reason."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kyodo_analysis.collaboration import measures as m
from kyodo_analysis.collaboration.register import (
    RegisterRules,
    measure_codes,
    parse_partners,
    read_register,
    validate_register,
)
from kyodo_analysis.collaboration.reviews import validate_reviews
from kyodo_analysis.config.study import DEFAULT_FORMS, DEFAULT_PARTNER_TYPES
from kyodo_analysis.errors import InputError

POLICIES = [
    {"id": "I", "name": "学ぶ", "measures": [{"id": "1", "name": "事例"}, {"id": "2", "name": "担い手"}]},
    {"id": "II", "name": "環境", "measures": [{"id": "1", "name": "情報"}]},
    {"id": "III", "name": "連携", "measures": [{"id": "1", "name": "マッチング"},
                                             {"id": "2", "name": "コーディネート"}]},
]
RULES = RegisterRules(measures=measure_codes(POLICIES), partner_types=DEFAULT_PARTNER_TYPES,
                      forms=DEFAULT_FORMS, city_types=("行政",),
                      districts={"中学校区": ("東", "西")})
HEADER = ["事業ID", "事業名", "開始年度", "終了年度", "施策", "協働の形態", "相手方", "相談日",
          "マッチング日", "企画日", "実施開始日", "実施終了日", "振り返り日", "中学校区"]
# id, start, end, 施策, form, partners (lead first), 相談, マッチング, 企画, 実施開始, 実施終了, 振り返り
PROJECTS = [
    ("P01", "R5", "", "I-1", "委託", "NPO法人A（NPO法人）、市民協働課（行政）",
     "2023-04-01", "2023-04-11", "2023-05-01", "2023-06-01", "2023-12-01", "2024-01-10"),
    ("P02", "令和5年度", "令和6年度", "Ⅰ－2", "共催",
     "自治区B（自治区・町内会）、NPO法人A（NPO法人）、生涯学習課（行政）",
     "令和5年5月1日", "R5.5.21", "", "2023/7/1", "", "2024-03-01"),
    ("P03", "2023", "", "II-1", "補助・助成", "団体C（市民活動団体）, 市民協働課（行政）",
     "2023-06-01", "", "", "2023-08-01", "", ""),
    ("P04", "2024", "2024", "III-1", "事業協力・協定", "市民協働課（行政）、事業者D（事業者）",
     "2024-04-01", "2024-04-21", "", "2024-06-01", "2024-09-01", "2024-10-01"),
    ("P05", "2024", "", "I-1", "委託", "NPO法人A（NPO法人）、大学E（教育機関）、市民協働課（行政）",
     "2024-05-01", "2024-05-31", "", "", "", ""),
    ("P06", "2024", "2025", "II-1", "共催",
     "団体C（市民活動団体）、自治区B（自治区・町内会）、生涯学習課（行政）", "", "", "", "", "", ""),
    ("P07", "2024", "", "I-2", "後援", "大学E（教育機関）",
     "2024-06-01", "2024-06-11", "", "2024-07-01", "", ""),
    ("P08", "2025", "", "III-1", "情報交換", "市民協働課（行政）", "2025-04-01", "", "", "", "", ""),
    ("P09", "2025", "", "I-1", "委託", "市民F（市民）、NPO法人A（NPO法人）、市民協働課（行政）",
     "2025-04-10", "2025-05-10", "2025-05-20", "2025-06-01", "", ""),
    ("P10", "2025", "", "II-1", "補助・助成",
     "NPO法人G（NPO法人）、団体C（市民活動団体）、市民協働課（行政）",
     "2025-05-01", "2025-05-16", "", "2025-07-01", "2025-11-01", "2025-12-01"),
]


def frame(rows=PROJECTS, district=""):
    return pd.DataFrame([[r[0], f"事業{r[0]}", *r[1:], district] for r in rows], columns=HEADER)


@pytest.fixture(scope="module")
def reg():
    r = validate_register(frame(), RULES, file="台帳.xlsx")
    assert r.n_quarantined == 0, r.quarantine
    return r


def test_register_reads_every_project(reg):
    assert reg.read == 10 and reg.n_accepted == 10
    p = reg.projects.set_index("project_id")
    assert p.loc["P02", "measure_code"] == "I-2"          # Ⅰ－2 folded
    assert (p.loc["P02", "start_fy"], p.loc["P02", "end_fy"]) == (2023, 2024)
    assert p.loc["P01", "end_fy"] == 2023                  # blank end = one-year project
    assert p.loc["P02", "マッチング"] == pd.Timestamp("2023-05-21")   # R5.5.21
    assert p.loc["P04", "lead"] == "市民協働課" and p.loc["P04", "lead_type"] == "行政"
    assert list(reg.fiscal_years()) == [2023, 2024, 2025]


def test_partner_degrees(reg):
    d = m.partner_degrees(reg).set_index("partner")["projects"].to_dict()
    assert d == {"市民協働課": 7, "NPO法人A": 4, "団体C": 3, "大学E": 2, "生涯学習課": 2,
                 "自治区B": 2, "NPO法人G": 1, "事業者D": 1, "市民F": 1}


def test_flows(reg):
    f = m.flows(reg)
    assert f["links"].sum() == 14                          # non-city partner links
    key = f.set_index(["type", "form", "policy"])["links"]
    assert key[("NPO法人", "委託", "I")] == 3                # P01, P05, P09
    assert key[("市民活動団体", "補助・助成", "II")] == 2      # P03, P10
    assert key[("自治区・町内会", "共催", "I")] == 1
    assert key[("自治区・町内会", "共催", "II")] == 1
    assert "行政" not in set(f["type"])


def test_stage_medians(reg):
    s = m.stage_medians(reg).set_index(["from", "to"])
    # 相談→マッチング: 10, 20, 20, 30, 10, 30, 15 days -> median 20
    assert s.loc[("相談", "マッチング"), "median_days"] == 20
    assert s.loc[("相談", "マッチング"), "projects"] == 7
    assert s.loc[("マッチング", "企画"), "median_days"] == 15      # 20, 10
    assert s.loc[("企画", "実施開始"), "median_days"] == 21.5      # 31, 12
    assert s.loc[("実施開始", "実施終了"), "median_days"] == 123   # 183, 92, 123
    assert s.loc[("実施終了", "振り返り"), "median_days"] == 30    # 40, 30, 30


def test_funnel(reg):
    f = m.funnel(reg).set_index("start_fy")
    assert f.loc[2023, ["projects", "相談", "マッチング", "実施開始", "振り返り"]].tolist() == [3, 3, 2, 3, 2]
    assert f.loc[2024, ["projects", "相談", "マッチング", "実施開始", "振り返り"]].tolist() == [4, 3, 3, 2, 1]
    assert f.loc[2025, ["projects", "相談", "マッチング", "実施開始", "振り返り"]].tolist() == [3, 3, 2, 2, 1]
    assert f.loc[2023, "相談→マッチング（日）"] == 15                 # 10, 20
    assert f.loc[2023, "マッチング→実施開始（日）"] == 46              # 51, 41
    assert f.loc[2023, "実施開始→振り返り（日）"] == 233.5             # 223, 244 (2024 is a leap year)


def test_plan_tree_lists_measures_without_projects(reg):
    t = m.plan_tree(reg, POLICIES)
    assert t.set_index(["policy", "measure"])["projects"].to_dict() == {
        ("I", "1"): 3, ("I", "2"): 2, ("II", "1"): 3, ("III", "1"): 2, ("III", "2"): 0}
    y = m.plan_tree(reg, POLICIES, fiscal_year=2025).set_index(["policy", "measure"])["projects"]
    assert y.to_dict() == {("I", "1"): 1, ("I", "2"): 0, ("II", "1"): 2, ("III", "1"): 1, ("III", "2"): 0}


def test_yearly_measures(reg):
    y = m.yearly_measures(reg).set_index("fiscal_year")
    assert y["projects"].tolist() == [3, 5, 4]
    assert y["partners"].tolist() == [5, 7, 7]
    assert y.loc[2023, "partners_per_project"] == pytest.approx(7 / 3)
    assert y.loc[2024, "partners_per_project"] == pytest.approx(2.4)
    assert y.loc[2025, "partners_per_project"] == pytest.approx(2.5)
    assert y["non_city_lead"].tolist() == pytest.approx([1.0, 0.8, 0.75])
    assert y["two_non_city"].tolist() == pytest.approx([1 / 3, 0.6, 0.75])
    assert math.isnan(y.loc[2023, "new_partners"])         # no history before the first year
    assert y.loc[2024, "new_partners"] == 2 and y.loc[2025, "new_partners"] == 2


def test_network(reg):
    g = m.build_network(reg)
    partners = [n for n, a in g.nodes(data=True) if a["kind"] == "partner"]
    assert len(partners) == 9 and g.number_of_edges() == 23   # partners listed: 2+3+2+2+3+3+1+1+3+3
    assert g.degree(("partner", "市民協働課")) == 7
    nodes, _ = m.network_nodes(reg, city_as_one="市（行政）")
    merged = nodes.set_index("partner")["projects"]
    assert merged["市（行政）"] == 9                          # every project with a city partner


ITEMS = ["目的の共有", "役割分担", "対等性"]


def reviews_frame():
    rows = [("P01", "R5", "行政", 5, 4, 4, "よかった"), ("P01", "R5", "市民側", 4, 2, 3, ""),
            ("P04", "R6", "市", 4, 4, 5, ""), ("P04", "R6", "相手方", 4, 3, 2, "連絡は山田 090-1234-5678"),
            ("P10", "R7", "行政", 3, 5, 4, ""), ("P10", "R7", "市民側", 5, "", 4, "")]
    return pd.DataFrame(rows, columns=["事業ID", "年度", "立場", *ITEMS, "コメント"])


def test_review_gaps(reg):
    rv = validate_reviews(reviews_frame(), reg, ITEMS, file="振り返り.csv")
    assert rv.n_quarantined == 0
    s = m.review_summary(rv).set_index("item")
    assert s.loc["目的の共有", "pairs"] == 3 and s.loc["役割分担", "pairs"] == 2
    assert s.loc["目的の共有", ["city", "partner", "gap", "abs_gap"]].tolist() == pytest.approx(
        [4, 13 / 3, 1 / 3, 1])
    assert s.loc["役割分担", ["city", "partner", "gap", "abs_gap"]].tolist() == pytest.approx(
        [4, 2.5, -1.5, 1.5])
    assert s.loc["対等性", ["city", "partner", "gap", "abs_gap"]].tolist() == pytest.approx(
        [13 / 3, 3, -4 / 3, 4 / 3])
    assert m.largest_disagreements(rv, k=2)["item"].tolist() == ["役割分担", "対等性"]
    g = m.project_gaps(rv)
    p10 = g[g["project_id"] == "P10"].set_index("item")
    assert p10.loc["目的の共有", "gap"] == 2 and math.isnan(p10.loc["役割分担", "gap"])
    assert len(rv.comments) == 2


def test_bad_reviews_are_quarantined(reg):
    bad = reviews_frame()
    bad.loc[6] = ["P99", "R7", "行政", 3, 3, 3, ""]
    bad.loc[7] = ["P10", "R7", "審査員", 3, 3, 3, ""]
    bad.loc[8] = ["P07", "R6", "行政", 6, 3, 3, ""]
    rv = validate_reviews(bad, reg, ITEMS, file="r.csv")
    q = rv.quarantine.set_index("rule")
    assert q.loc["unknown_project", "row"] == 8 and q.loc["unknown_project", "value"] == "P99"
    assert q.loc["unknown_side", "value"] == "審査員"
    assert q.loc["score_range", "column"] == "目的の共有" and q.loc["score_range", "value"] == "6"
    assert rv.read == 9 and rv.n_accepted + rv.n_quarantined == 9


def test_bad_rows_are_quarantined_with_row_column_value_reason():
    rows = [list(r) for r in PROJECTS]
    rows[0][3] = "VI-1"                                            # unknown 施策
    rows[1][5] = "NPO法人A（NPO）、生涯学習課（行政）"                # type not in the list
    rows[2][7], rows[2][9] = "2023-09-01", "2023-08-01"          # 相談 ... 実施開始 out of order
    rows[3][5] = "事業者D"                                         # partner without a type
    rows[4][4] = "協力"                                            # unknown form
    rows[5][0] = "P05"                                             # duplicate id
    data = frame([tuple(r) for r in rows])
    data.loc[8, "中学校区"] = "北"                                  # unknown district
    data.loc[9, "相談日"] = "令和7年2月30日"                          # not a date
    r = validate_register(data, RULES, file="台帳.csv")
    q = r.quarantine
    assert r.read == 10 and r.n_accepted + r.n_quarantined == 10
    got = {(rule, row, col) for rule, row, col in zip(q["rule"], q["row"], q["column"], strict=True)}
    assert ("unknown_measure", 2, "施策") in got
    assert ("unknown_partner_type", 3, "相手方") in got
    assert ("stage_order", 4, "実施開始日") in got
    assert ("partner_format", 5, "相手方") in got
    assert ("unknown_form", 6, "協働の形態") in got
    assert ("duplicate_id", 6, "事業ID") in got and ("duplicate_id", 7, "事業ID") in got
    assert ("unknown_district", 10, "中学校区") in got
    assert ("not_a_date", 11, "相談日") in got
    assert q.loc[q["rule"] == "unknown_measure", "value"].item() == "VI-1"
    assert "NPO" in q.loc[q["rule"] == "unknown_partner_type", "message"].item()
    assert set(r.projects["project_id"]) == {"P07", "P08"}
    assert len(r.quarantined_rows) == 8 and set(r.quarantined_rows["_row"]) == set(range(2, 12)) - {8, 9}


def test_missing_required_column_is_a_file_error():
    with pytest.raises(InputError, match="施策"):
        validate_register(frame().drop(columns="施策"), RULES, file="x.csv")


def test_parse_partners():
    assert parse_partners("A会（NPO法人）、 B課 (行政);C") == [("A会", "NPO法人"), ("B課", "行政"),
                                                             ("C", None)]


def test_cp932_csv_under_a_title_row(tmp_path):
    path = tmp_path / "台帳.csv"
    text = "協働事業台帳（令和7年度）\n" + ",".join(HEADER) + "\n" + "\n".join(
        ",".join([r[0], f"事業{r[0]}", *r[1:5], '"' + r[5] + '"', *r[6:], ""]) for r in PROJECTS)
    path.write_bytes(text.encode("cp932"))
    r = read_register(path, RULES)
    assert r.n_accepted == 10 and r.n_quarantined == 0
    assert m.partner_degrees(r)["projects"].iloc[0] == 7


def test_template_round_trip(tmp_path):
    from openpyxl import load_workbook

    from kyodo_analysis.collaboration.template import write_template

    path = write_template(tmp_path / "台帳.xlsx", policies=POLICIES,
                          partner_types=DEFAULT_PARTNER_TYPES, forms=DEFAULT_FORMS,
                          review_items=ITEMS, districts={"中学校区": ["東", "西"]})
    wb = load_workbook(path)
    assert wb.sheetnames == ["事業台帳", "振り返り", "コード表", "記入方法"]
    ws = wb["事業台帳"]
    for r in PROJECTS[:3]:
        ws.append([r[0], f"事業{r[0]}", *r[1:], None, None, None, "東"])
    wb.save(path)
    reg = read_register(path, RULES, sheet="事業台帳")
    assert reg.read == 3 and reg.n_accepted == 3               # the 入力例 row is skipped
    assert set(reg.projects["中学校区"]) == {"東"}
    from kyodo_analysis.collaboration.reviews import read_reviews

    with pytest.raises(InputError, match="no rows"):           # only the two 入力例 rows
        read_reviews(path, reg, ITEMS, sheet="振り返り")


# ----------------------------------------------------------------------------- the demo
def _activity_totals(study) -> pd.DataFrame:
    a = study.activity()
    return a[a["domain"] == "市全体"].pivot(index="fiscal_year", columns="series", values="value")


def _fy(dates: pd.Series) -> pd.Series:
    return dates.dt.year - (dates.dt.month < 4)


def test_demo_register_matches_the_activity_statistics(demo_study):
    """The demo's register reconciles with its activity statistics, year by year:
    協働事業数 = implemented projects without a grant running in the year; 助成件数（区分） =
    grant projects of that category; マッチング件数 = projects matched in the year."""
    c = demo_study.collaboration()
    reg = c.register
    assert reg.n_quarantined == 0 and c.reviews.n_quarantined == 0
    stats = _activity_totals(demo_study)
    categories = demo_study.settings.collaboration.grant_categories
    years = reg.fiscal_years()
    assert years == [2022, 2023, 2024, 2025]
    for y in years:
        run = reg.active_in(y)
        assert 30 <= len(run) <= 70
        assert (run["実施開始"].notna() & run["grant"].isna()).sum() == stats.loc[y, "協働事業数"]
        for cat in categories:
            assert (run["grant"] == cat).sum() == stats.loc[y, f"助成件数（{cat}）"], (y, cat)
        assert (_fy(reg.projects["マッチング"]) == y).sum() == stats.loc[y, "マッチング件数"]
    # every review belongs to a project with a 振り返り date; both sides for most
    reviewed = set(c.reviews.scores["project_id"])
    assert reviewed <= set(reg.projects.loc[reg.projects["振り返り"].notna(), "project_id"])
    summary = m.review_summary(c.reviews).set_index("item")
    assert summary.loc["情報共有", "gap"] < -0.5          # the gap the demo builds in
    tree = m.plan_tree(reg, demo_study.plan.policies)
    assert (tree["projects"] == 0).any()                   # a measure without projects shows


def test_study_without_collaboration_block(demo_study, tmp_path):
    import shutil

    import yaml

    from kyodo_analysis.study import Study

    doc = yaml.safe_load((demo_study.root / "study.yaml").read_text(encoding="utf-8"))
    doc.pop("collaboration")
    for f in ("codebook.yaml",):
        shutil.copy(demo_study.root / f, tmp_path / f)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    s = Study.from_yaml(tmp_path / "study.yaml")
    assert s.collaboration() is None
    assert "協働事業台帳が設定されていません" in s.missing_inputs()["collaboration"]


def test_collaboration_block_is_checked(tmp_path):
    from kyodo_analysis.config.base import parse_document
    from kyodo_analysis.config.study import CollaborationConfig
    from kyodo_analysis.errors import ConfigError

    ok = parse_document(CollaborationConfig, {"register": "a.csv", "reviews": "b.xlsx"}, file="s")
    assert ok.register_files[0].file == "a.csv" and ok.reviews[0].file == "b.xlsx"
    assert ok.review_items[0] == "目的の共有" and "行政" in ok.partner_types
    with pytest.raises(ConfigError, match="did you mean 'review_items'"):
        parse_document(CollaborationConfig, {"register": "a.csv", "review_item": []}, file="s")
    with pytest.raises(ConfigError, match="city_types"):
        parse_document(CollaborationConfig, {"register": "a.csv", "city_types": ["市役所"]},
                       file="s")


@pytest.mark.slow
def test_kyodo_init_collaboration_writes_a_template_the_reader_accepts(tmp_path):
    from openpyxl import load_workbook
    from report_support import kyodo

    from kyodo_analysis.collaboration.register import measure_codes
    from kyodo_analysis.config.base import read_yaml
    from kyodo_analysis.paths import project_root

    proc = kyodo("init", "--collaboration", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "協働事業台帳.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["事業台帳", "振り返り", "コード表", "記入方法"]
    codes = [c.value for c in wb["コード表"]["A"][1:]]
    assert codes[0].startswith("I-1") and any(c.startswith("V-2") for c in codes)
    again = kyodo("init", "--collaboration", "--out", str(tmp_path))
    assert again.returncode == 1 and "--force" in again.stderr
    assert kyodo("init", "--out", str(tmp_path)).returncode == 2      # neither --from nor --collaboration
    # the example row is skipped: a register holding only it has no rows
    plan = read_yaml(project_root() / "kyodo_analysis" / "templates" / "plan.yaml", what="plan")
    rules = RegisterRules(measures=measure_codes(plan["policies"]),
                          partner_types=DEFAULT_PARTNER_TYPES, forms=DEFAULT_FORMS)
    with pytest.raises(InputError, match="no rows"):
        read_register(path, rules, sheet="事業台帳")


# ----------------------------------------------------------------------------- pictures
@pytest.fixture()
def style():
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from kyodo_analysis.views import figures

    figures.use_style()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")   # Japanese renders
        yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_network_labels_never_overlap_and_say_how_many(reg, style):
    from kyodo_analysis.views import collaboration as vc

    fig = vc.network_chart(reg, types=DEFAULT_PARTNER_TYPES, private_types=["市民"], top_k=5)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text()]
    assert fig.labels["drawn"] == len(labels) and fig.labels["drawn"] + fig.labels["skipped"] == 5
    assert vc.label_overlaps(labels) == 0
    assert "市民F" not in {t.get_text() for t in labels}              # private: never named
    assert labels[0].get_text() == "市民協働課"                        # the most connected first
    legend = ax.get_legend()
    assert legend is not None and "NPO法人" in [t.get_text() for t in legend.get_texts()]
    # a crowded network: labels that would collide are left out, never drawn on top
    cell = "、".join(f"実行委員会メンバー団体{i}（市民活動団体）" for i in range(80))
    many = validate_register(frame([("X01", "2025", "", "I-1", "共催", cell,
                                     "", "", "", "", "", "")]), RULES)
    fig = vc.network_chart(many, types=DEFAULT_PARTNER_TYPES, top_k=80)
    fig.canvas.draw()
    labels = [t for t in fig.axes[0].texts if t.get_text()]
    assert fig.labels["skipped"] > 0 and fig.labels["drawn"] + fig.labels["skipped"] == 80
    assert vc.label_overlaps(labels) == 0


def test_flow_chart_nodes_carry_the_counts(reg, style):
    from kyodo_analysis.views import collaboration as vc

    fig = vc.flow_chart(m.flows(reg), types=DEFAULT_PARTNER_TYPES, forms=DEFAULT_FORMS,
                        policies=["I", "II", "III"], policy_names={"I": "学ぶ"})
    text = _texts(fig)
    assert "NPO法人（5）" in text and "委託（5）" in text and "I 学ぶ（8）" in text
    assert "計14" in text


def test_other_pictures_show_the_hand_counts(reg, style):
    from kyodo_analysis.views import collaboration as vc

    fig = vc.plan_tree_chart(m.plan_tree(reg, POLICIES))
    assert "0（事業なし）" in _texts(fig) and fig.axes[0].get_legend() is not None
    fig = vc.funnel_chart(m.funnel(reg))
    assert "日数 15／46／233.5" in _texts(fig) and fig.axes[0].get_legend() is not None
    fig = vc.timeline_chart(reg)
    assert fig.shown == (9, 9) and fig.axes[0].get_legend() is not None   # P06 has no dates
    rv = validate_reviews(reviews_frame(), reg, ITEMS)
    fig = vc.review_chart(m.review_summary(rv))
    assert "差 -1.50（2件）" in _texts(fig)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["行政", "市民側"]


def test_a_register_without_dates_or_reviews_says_what_is_missing(style):
    from kyodo_analysis.views import collaboration as vc

    bare = validate_register(frame([(*r[:6], "", "", "", "", "", "") for r in PROJECTS]), RULES)
    notes = vc.missing_notes(bare, None)
    assert any("段階の日付" in n for n in notes) and any("振り返りシート" in n for n in notes)
    assert m.funnel(bare)[list(m.FUNNEL)].to_numpy().sum() == 0
    assert m.stage_medians(bare)["projects"].sum() == 0
    fig = vc.timeline_chart(bare)
    assert fig.shown == (0, 0) and "段階の日付が記入された事業がありません" in _texts(fig)
    # what does not need dates still works
    assert m.partner_degrees(bare)["projects"].max() == 7
    vc.network_chart(bare, types=DEFAULT_PARTNER_TYPES)
    partial = validate_register(frame([(*r[:6], r[6], "", "", "", "", "") for r in PROJECTS]), RULES)
    assert any("マッチング・企画" in n for n in vc.missing_notes(partial, None))


def test_indicators_computed_from_the_register_are_graded(demo_study):
    """indicators.yaml can name register measures (type: register); they are computed from
    the register year by year and graded like activity series."""
    import yaml as _yaml

    from kyodo_analysis.evaluation.compute import compute_indicators
    from kyodo_analysis.evaluation.registry import IndicatorRegistry

    doc = _yaml.safe_load((demo_study.root / "indicators.yaml").read_text(encoding="utf-8"))
    reg = demo_study.collaboration().register
    yearly = m.yearly_measures(reg).set_index("fiscal_year")
    iii_2022 = int((reg.active_in(2022)["policy"] == "III").sum())
    doc["indicators"] += [
        {"id": "V-9", "name": "推進施策IIIの協働事業数", "policy": "III", "measure": "1",
         "source": {"type": "register", "measure": "projects", "policy": "III"}, "unit": "件",
         "baseline": {"fiscal_year": 2022, "value": iii_2022},
         "targets": {2026: iii_2022 + 10}},
        {"id": "V-10", "name": "市以外の相手方が2者以上の事業の割合", "policy": "V", "measure": "1",
         "source": {"type": "register", "measure": "two_non_city_share"}, "unit": "%",
         "baseline": {"fiscal_year": 2022, "value": round(100 * yearly.loc[2022, "two_non_city"], 1)},
         "targets": {2026: 60.0}},
        {"id": "V-11", "name": "振り返りの平均評点", "policy": "V", "measure": "1",
         "source": {"type": "register", "measure": "mean_review_score"}, "unit": "点",
         "baseline": {"fiscal_year": 2022, "value": 3.5}, "targets": {2026: 4.0}},
    ]
    registry = IndicatorRegistry.from_dict(doc, plan=demo_study.plan)
    registry.check(demo_study)
    got = compute_indicators(demo_study, 2025, registry=registry).set_index("indicator_id")
    assert got.loc["V-9", "estimate"] == (reg.active_in(2025)["policy"] == "III").sum()
    assert got.loc["V-10", "estimate"] == pytest.approx(100 * yearly.loc[2025, "two_non_city"])
    reviews = demo_study.collaboration().reviews.scores
    assert got.loc["V-11", "estimate"] == pytest.approx(
        reviews.loc[reviews["fiscal_year"] == 2025, "score"].mean())
    assert got.loc[["V-9", "V-10", "V-11"], "grade"].notna().all()
    with pytest.raises(Exception, match="measure"):
        IndicatorRegistry.from_dict({"indicators": [{**doc["indicators"][-1],
                                                     "source": {"type": "register", "measure": "x"}}]},
                                    plan=demo_study.plan)


def test_a_project_id_in_two_register_files_is_quarantined_in_both():
    from kyodo_analysis.collaboration.register import combine_registers

    a = validate_register(frame(PROJECTS[:3]), RULES, file="a.csv")
    b = validate_register(frame(PROJECTS[2:5]), RULES, file="b.csv")      # P03 in both
    both = combine_registers([a, b])
    assert both.read == 6 and both.n_accepted + both.n_quarantined == 6
    assert set(both.projects["project_id"]) == {"P01", "P02", "P04", "P05"}
    q = both.quarantine
    assert set(zip(q["file"], q["row"], q["rule"], strict=True)) == {
        ("a.csv", 4, "duplicate_id"), ("b.csv", 2, "duplicate_id")}
    assert "P03" not in set(both.partners["project_id"])
