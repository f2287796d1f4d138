"""Generate notebooks 01_overview, 04_district, 05_comparison, 06_collaboration and 08_crosstabs
(outputs cleared).

Run from the project root: ``python notebooks/_generate.py``. The notebooks call the views
(:mod:`kyodo_analysis.views`); edit this file, not the notebooks, and rerun it.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
import copy

PARAMS = '''# Parameters: papermill and `kyodo report` override these.
# study: path to study.yaml (empty: the demo study, generated if missing)
study = ""
# fiscal_year: the wave to report: 2025, "FY2025", "令和7年度" or "R7" (empty: the latest wave)
fiscal_year = ""
# output_dir: folder where published tables go (empty: publish nothing)
output_dir = ""
# chapter: this page's chapter in the printed report (empty: tables numbered 表1, 表2, ...)
chapter = ""'''

def nb(cells, path, template):
    old = nbformat.read(template, as_version=4)
    out = new_notebook(metadata=old.metadata)
    for i, c in enumerate(cells):
        c.id = f"cell-{i}"  # stable ids: regenerating changes only what changed
        out.cells.append(c)
    out.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(out, path)

SETUP = '''import matplotlib.pyplot as plt
from IPython.display import display

from kyodo_analysis.options import DisplayOptions
from kyodo_analysis.reporting.publish import publish_view
from kyodo_analysis.views import comparison, crosstabs, figures, page, tables

figures.use_style()
r = page.open_report(study, fiscal_year)
s, fy, cb = r.study, r.fiscal_year, r.study.codebook
opts = DisplayOptions.for_study(s)
num = page.Counter(chapter)
'''

# ---------------------------------------------------------------- 01
c01 = [new_code_cell(PARAMS),
 new_code_cell(SETUP + '''design = s.design(fy)
display(r.header("調査結果の概要（単純集計）"))'''),
 new_markdown_cell("## 調査の概要\n\n回収状況（発送数・回収数・回収率）を抽出時の属性別に示します。"),
 new_code_cell('''if s.settings.fieldwork is None:
    display(r.missing("fieldwork"))
else:
    number = num.table()
    display(page.table_heading(number, "回収状況"))
    rr = tables.response_rate_table(s.fieldwork(), fy, options=opts)
    display(tables.styled(publish_view(rr, "response_rates", output_dir=output_dir, study=s,
                                       title="回収状況", number=number,
                                       notes=["発送数・回収数は抽出時の台帳の属性による。"]), opts))'''),
 new_markdown_cell("## 重み付け"),
 new_code_cell('''sentence, footnote = tables.weighting_sentence(s, design)
if not s.weighted:
    display(r.missing("weighting"))
else:
    display(page.paragraph(sentence))
    published = []
    if s.headline.figures:
        published.append(("weighting_effect", "重み付けによる主な割合の変化",
                          tables.weighting_comparison(design, cb, s.headline.figures, opts),
                          ["基数（n）は有効回答者数（無回答を除く）です。", opts.interval_note]))
    summary, margins = tables.weighting_tables(design.weighting_report())
    published.append(("weights", "重みの分布", summary, [footnote]))
    published.append(("weighting_margins", "重み付け前後の構成", margins, [footnote]))
    for name, title, table, notes in published:
        number = num.table()
        display(page.table_heading(number, title))
        display(tables.styled(publish_view(table, name, output_dir=output_dir, study=s, title=title,
                                           number=number, notes=notes), opts))
        display(page.notes(notes))'''),
 new_markdown_cell("## 主な設問と全設問の単純集計"),
 new_code_cell('''questions = tables.codebook_questions(cb, fiscal_year=fy)
first = [cb[qid] for qid in s.headline.questions if tables.asked_in(cb[qid], fy)]
ordered = first + [q for q in questions if q.id not in s.headline.questions]
if not first:
    display(page.note("主な設問（study.yaml の headline.questions）が指定されていないため、"
                      "全設問の単純集計を示します。"))
for q in ordered:
    t = tables.tabulate(design, q, options=opts)
    shown = tables.protect_sensitive(tables.tabulation_table(t, opts), t, q, options=opts)
    groups, keys = comparison.tabulation_keys(q, shown, opts)
    notes = [tables.base_note(multiple=q.is_multiple, weighted=s.weighted, options=opts),
             tables.zero_width_note(t)]
    number = num.table()
    title = f"{q.id.upper()}　{q.text}"
    display(page.table_heading(number, title))
    display(tables.styled(publish_view(shown, q.id, output_dir=output_dir, study=s, title=title,
                                       question=q.id, groups=groups, keys=keys,
                                       notes=[n for n in notes if n], number=number), opts))
    display(page.notes(notes))
    if q.id in s.headline.questions:
        drawn = t.assign(percent=[v if c != "x" else float("nan") for v, c in zip(t["percent"], shown["%"])])
        fig = figures.bar_chart(drawn, err=(drawn["ci_low"].where(drawn["percent"].notna()),
                                            drawn["ci_high"].where(drawn["percent"].notna())),
                                title=f"{num.figure()}　{q.id.upper()}")
        plt.show()'''),
 new_markdown_cell("## 評定尺度の設問"),
 new_code_cell('''groups = tables.likert_groups(cb, fiscal_year=fy)
if not groups:
    display(page.note("同じ尺度で続けて尋ねた設問群はありません。"))
for title, items in groups:
    if any(q.sensitive for q in items.values()):
        display(page.note(f"{title}には秘匿の対象となる設問があるため、図は示しません（表を参照）。"))
        continue
    tabs = {label: tables.tabulate(design, q, options=opts) for label, q in items.items()}
    fig = figures.likert_chart(tabs, title=f"{num.figure()}　{title}（n={len(design.data):,}）")
    plt.show()'''),
]
nb(c01, "notebooks/01_overview.ipynb", "notebooks/01_overview.ipynb")

# ---------------------------------------------------------------- 04
c04 = [new_code_cell(PARAMS + '''
# level, district: a district level of the study (study.yaml `districts`) and a district in it
# (empty: the first district of the first level)
level = ""
district = ""'''),
 new_code_cell(SETUP + '''units = s.district_units()
if units and not district:
    level, district = units[0]
display(r.header(f"地区別集計：{district}（{level}）" if units else "地区別集計"))
if not units:
    display(r.missing("districts"))
else:
    design = s.design(fy)'''),
 new_markdown_cell("## 地区と市全体の比較\n\n地区の割合と市全体の割合を並べます。回答者数が少ない地区は、個人の回答が推測されないよう「x」（秘匿）としています。"),
 new_code_cell('''questions = ([cb[q] for q in s.headline.questions] if s.headline.questions
             else tables.codebook_questions(cb, types=("single", "likert", "multiple")))
for q in (q for q in questions if units and tables.asked_in(q, fy)):
    pt = comparison.district_table(design, s, q, level=level, district=district, options=opts)
    number = num.table()
    title = f"{district}（{level}）{q.id.upper()}　{q.text}"
    notes = [tables.base_note(multiple=q.is_multiple, weighted=s.weighted, options=opts)]
    if pt.facts["hidden"]:
        notes.append(f"x: 回答者数が{opts.min_base}人未満、または他の表との差し引きで少人数の回答が分かる区分のため秘匿しています。")
    if pt.facts["zero_width"]:
        notes.append("※割合が0%または100%の区分は信頼区間の幅が0になっています（標本のばらつきから区間を推定できないため）。")
    if pt.facts["small"] and not pt.facts["hidden"]:
        notes.append(f"※回答者数が{opts.small_base}人未満（n={pt.facts['base']:,}）のため、割合は参考値です。")
    display(page.table_heading(number, title))
    display(tables.styled(publish_view(pt.table, q.id, output_dir=output_dir, study=s, title=title,
                                       question=q.id, groups=pt.groups, keys=pt.keys,
                                       notes=notes, number=number), opts))
    display(page.notes(notes))
    fig = figures.comparison_bars(pt.table, district=district, title=f"{num.figure()}　{q.id.upper()}（{district}）")
    plt.show()'''),
]
nb(c04, "notebooks/04_district.ipynb", "notebooks/04_district.ipynb")

# ---------------------------------------------------------------- 05
c05 = [new_code_cell(PARAMS),
 new_code_cell(SETUP + '''display(r.header("経年比較"))
designs = {y: s.design(y) for y in s.fiscal_years if y <= fy}'''),
 new_markdown_cell("今回の調査を前回調査および基準となる調査（比較できる最初の調査）と比べます。差はポイントで、調査ごとに独立な標本として検定しています（差の95%信頼区間と、設問ごとにホルム法で多重比較を調整した p 値。有意な差に▲▼）。設問の文言や選択肢を変えた設問は、変更前の調査とは比較していません。"),
 new_code_cell('''done = 0
for q in tables.codebook_questions(cb, types=("single", "likert", "multiple"), fiscal_year=fy):
    waves, change = comparison.comparable_waves(s, q, fy)
    title = f"{q.id.upper()}　{q.text}"
    if len(waves) < 2:
        if change:
            display(page.heading(title, 4))
            display(page.note(change))
        continue
    table, keys, series = comparison.wave_table(s, q, fy, designs=designs, options=opts)
    number = num.table()
    notes = [tables.base_note(multiple=q.is_multiple, weighted=s.weighted, options=opts),
             "差の検定: 2つの調査を独立な標本として、差÷標準誤差による z 検定（p < 0.001 は 0.000 と表示せず p < 0.001 と記載）。",
             comparison.WAVE_MARK_RULE, change]
    display(page.table_heading(number, title))
    display(tables.styled(publish_view(table, q.id, output_dir=output_dir, study=s, title=title,
                                       question=q.id, keys=keys, notes=[n for n in notes if n],
                                       number=number), opts))
    display(page.notes(notes))
    fig = figures.wave_chart(series, title=f"{num.figure()}　{q.id.upper()}の推移")
    plt.show()
    done += 1
if not done:
    display(page.note("2回以上の調査で尋ねた設問がないため、経年比較はありません。"))'''),
]
nb(c05, "notebooks/05_comparison.ipynb", "notebooks/05_comparison.ipynb")

# ---------------------------------------------------------------- 06
c06 = [new_code_cell(PARAMS),
 new_code_cell(SETUP + '''design = s.design(fy)
display(r.header("属性別クロス集計"))
dims = crosstabs.dimensions(s)
if not dims:
    display(page.note("属性別の集計には study.yaml に attributes または districts が必要です。"))'''),
 new_markdown_cell("すべての設問を、調査が定める属性・地区ごとに集計します。各行の回答者数（n）と重み付けした割合（%）を示し、属性と回答の関連を Rao–Scott 検定で確かめます。"),
 new_code_cell('''questions = tables.codebook_questions(cb, types=("single", "likert", "multiple"), fiscal_year=fy)
for k, (dim, column) in enumerate(dims, start=1):
    display(page.heading(f"{dim}別", 2))
    for q in questions:
        marked = q.id in s.headline.questions or not s.headline.questions
        x = crosstabs.crosstab(design, s, q, dim, options=opts, marks=marked)
        number = num.table()
        title = f"{dim}別 {q.id.upper()}　{q.text}"
        test = (f"Rao–Scott 検定: F = {x.test['statistic']:.2f}、{crosstabs.format_p(x.test['p_value'])}"
                if x.test else "複数回答のため独立性の検定はしていません。")
        notes = [tables.base_note(multiple=q.is_multiple, weighted=s.weighted, options=opts),
                 f"{dim}が無回答の方はこの表の行に含みません。",
                 f"x: 回答者数が{opts.min_base}人未満、または他の表との差し引きで少人数の回答が分かる区分のため秘匿しています。",
                 test, crosstabs.MARK_RULE if marked else ""]
        notes = [n for n in notes if n]
        groups = [{**g, "column": tables.BASE_LABEL, "axis": "row"} for g in x.groups]
        keys = [[g["row"], tables.BASE_LABEL, comparison.cell_key(q.id, g["dimension"], g["group"] if g["dimension"] else "全体", "", "n")]
                for g in x.groups]
        for g in x.groups:
            for label in x.table.columns[2:]:
                keys.append([g["row"], label, comparison.cell_key(q.id, g["dimension"], g["group"] if g["dimension"] else "全体", label)])
        display(page.table_heading(number, title))
        display(tables.styled(publish_view(x.table, f"{q.id}_d{k}", output_dir=output_dir, study=s,
                                           title=title, question=q.id, groups=groups, keys=keys,
                                           marks=x.marks, notes=notes, number=number), opts,
                              marks=x.marks))
        display(page.notes(notes))'''),
]
nb(c06, "notebooks/08_crosstabs.ipynb", "notebooks/05_comparison.ipynb")

# ---------------------------------------------------------------- 06 collaboration (協働プロセスの可視化)
COLLAB_SETUP = SETUP + '''from kyodo_analysis.calendar import fiscal_year_label
from kyodo_analysis.collaboration import measures
from kyodo_analysis.reporting.publish import publish_text
from kyodo_analysis.views import collaboration as vc

display(r.header("協働プロセスの可視化"))
collab = s.collaboration()
if collab is None:
    display(r.missing("collaboration"))
else:
    reg, reviews, conf = collab.register, collab.reviews, s.settings.collaboration
    year = vc.register_year(reg, fy)
    names = {p.id: p.name for p in s.plan.policies}
    city_as_one = "市（行政）" if conf.merge_city else None

def show_table(table, name, title, notes=()):
    number = num.table()
    display(page.table_heading(number, title))
    display(tables.styled(publish_view(table, name, output_dir=output_dir, study=s, title=title,
                                       number=number, notes=list(notes)), opts))
    if notes:
        display(page.notes(notes))
'''
c06c = [new_code_cell(PARAMS),
 new_code_cell(COLLAB_SETUP),
 new_markdown_cell("協働事業台帳（事業ごとの相手方・協働の形態・計画の施策・段階の日付）と、事業ごとに行政と市民側の双方が記入した振り返りシートから、誰と誰がどのように協働し、事業がどこまで進んだかを示します。"),
 new_code_cell('''if collab is not None:
    display(page.paragraph(f"事業台帳: {reg.read:,}件を読み込み、{reg.n_accepted:,}件を受け付け、{reg.n_quarantined:,}件を保留しました（保留の理由は下表）。"))
    if reviews is not None:
        display(page.paragraph(f"振り返りシート: {reviews.read:,}件を読み込み、{reviews.n_accepted:,}件を受け付け、{reviews.n_quarantined:,}件を保留しました。"))
    problems = [q for q in (reg.quarantine, reviews.quarantine if reviews is not None else None) if q is not None and len(q)]
    if problems:
        import pandas as pd
        q = pd.concat(problems, ignore_index=True)
        # the rule, not the value: a rejected cell may hold a person's name (the full record is
        # Register.quarantine, for the staff who correct the file)
        q = q.assign(ファイル=q["file"].map(lambda f: f.rsplit("/", 1)[-1]))
        display(tables.styled(q.rename(columns={"row": "行", "column": "列", "rule": "規則"})[["ファイル", "行", "列", "規則"]], opts))
    for line in vc.missing_notes(reg, reviews):
        display(page.note(line))
    if year is None:
        display(page.note("この年度までに実施された事業が台帳にありません。"))'''),
 new_markdown_cell("## 年度別の協働の状況\n\n各年度に実施中の事業（開始年度～終了年度）について、相手方の数、市以外が主導する事業（台帳で最初に書かれた相手方が市の部署でない事業）の割合、市以外の相手方が2者以上の事業の割合、前年度までに一度も登場しなかった相手方の数を示します。"),
 new_code_cell('''if collab is not None and year is not None:
    yearly = measures.yearly_measures(reg)
    yearly = yearly[yearly["fiscal_year"] <= year]
    show_table(vc.yearly_table(yearly), "collab_yearly", "年度別の協働の状況",
               ["台帳の最初の年度は、それ以前の相手方が分からないため「新たな相手方」を「-」としています。"])'''),
 new_markdown_cell("## 協働のネットワーク\n\n丸は相手方（色は種別、大きさは関わった事業の数）、小さな四角は事業です。線は事業の相手方であることを表します。"),
 new_code_cell('''if collab is not None and year is not None:
    years = reg.fiscal_years()
    shown_years = [y for y in dict.fromkeys([years[0], year])]
    for y in shown_years:
        fig = vc.network_chart(reg, types=conf.partner_types, fiscal_year=y, city_as_one=city_as_one,
                               private_types=conf.private_types,
                               title=f"{num.figure()}　協働のネットワーク（{fiscal_year_label(y, style='era')}に実施中の事業）")
        plt.show()
        display(page.notes([f"名前を示すのは関わった事業の多い上位{fig.labels['top_k']}の相手方のうち、ラベルが重ならないもの（{fig.labels['drawn']}件。重なるため省いたもの {fig.labels['skipped']}件）です。",
                            (f"市の部署は「{city_as_one}」として1つにまとめています。" if city_as_one else "市の部署は部署ごとに示しています。")
                            + f"{'・'.join(conf.private_types)}（個人）の名前は示しません。"]))
    degrees = measures.partner_degrees(reg, fiscal_year=year)
    show_table(vc.partner_table(degrees, private_types=conf.private_types), "collab_partners",
               f"関わった事業の多い相手方（{fiscal_year_label(year, style='era')}、上位20）",
               ["事業数は、その年度に実施中の事業のうち相手方として名前がある事業の数です。"])'''),
 new_markdown_cell("## 協働の形と計画の施策\n\n市以外の相手方と事業の組を単位に、相手方の種別から協働の形態、計画の推進施策への流れを示します。"),
 new_code_cell('''if collab is not None and year is not None:
    fl = measures.flows(reg, fiscal_year=year)
    fig = vc.flow_chart(fl, types=conf.partner_types, forms=conf.forms, policies=list(names), policy_names=names,
                        title=f"{num.figure()}　相手方の種別 → 協働の形態 → 推進施策（{fiscal_year_label(year, style='era')}）")
    plt.show()
    show_table(vc.flow_table(fl, names), "collab_flows", "相手方の種別・協働の形態・推進施策の組の数",
               ["市の部署との組は数えていません。"])'''),
 new_markdown_cell("## 事業の進み方\n\n相談 → マッチング → 企画 → 実施 → 振り返りの各段階に進んだ事業の数と、段階の間の日数（中央値）です。"),
 new_code_cell('''if collab is not None and year is not None and reg.stages_present:
    fig = vc.timeline_chart(reg, fiscal_year=year, title=f"{num.figure()}　事業の経過（{fiscal_year_label(year, style='era')}に実施中の事業）")
    plt.show()
    if fig.shown[0] < fig.shown[1]:
        display(page.note(f"最初の段階の日付が早い{fig.shown[0]}件を示しています（全{fig.shown[1]}件）。"))
    fun = measures.funnel(reg)
    fun = fun[fun["start_fy"] <= year]
    fig = vc.funnel_chart(fun, title=f"{num.figure()}　段階に進んだ事業数（開始年度別）")
    plt.show()
    show_table(vc.funnel_table(fun), "collab_funnel", "段階に進んだ事業数と日数（開始年度別）",
               ["日数は、両方の段階に日付がある事業の中央値です。"])
    show_table(vc.stage_table(measures.stage_medians(reg)), "collab_stages", "段階の間の日数（全年度）",
               ["日付が記入されていない段階は数えていません。"])'''),
 new_markdown_cell("## 施策体系と事業数\n\n計画のすべての個別施策について、実施中の事業の数を示します。事業のない施策は「0（事業なし）」と表示します。"),
 new_code_cell('''if collab is not None and year is not None:
    tree = measures.plan_tree(reg, s.plan.policies, fiscal_year=year)
    fig = vc.plan_tree_chart(tree, title=f"{num.figure()}　施策体系と事業数（{fiscal_year_label(year, style='era')}）")
    plt.show()
    show_table(vc.plan_tree_table(tree), "collab_plan_tree", "施策体系と事業数")
    gaps = tree[tree["projects"] == 0]
    if len(gaps):
        display(page.note("事業のない個別施策: " + "、".join(f"{p}-{m} {n}" for p, m, n in zip(gaps["policy"], gaps["measure"], gaps["measure_name"]))))'''),
 new_markdown_cell("## 振り返り（行政と市民側の評価）\n\n同じ事業について行政と市民側がそれぞれ1～5で評価した項目を比べます。差は「市民側－行政」で、双方が評価した事業だけで計算しています。"),
 new_code_cell('''if collab is not None and year is not None and reviews is not None and not reviews.scores.empty:
    summary = measures.review_summary(reviews)
    fig = vc.review_chart(summary, title=f"{num.figure()}　振り返りの評点（全年度、行政と市民側）")
    plt.show()
    show_table(vc.review_table(summary), "collab_reviews", "振り返りの評点（項目別）",
               ["差は市民側の評点から行政の評点を引いた値の平均です。"])
    top = measures.largest_disagreements(reviews, k=3)
    display(page.paragraph("評価の差が大きい項目: " + "、".join(f"{i}（差の大きさ {v:.2f}）" for i, v in zip(top["item"], top["abs_gap"]))))
    show_table(vc.project_gap_table(measures.project_gaps(reviews), reg), "collab_review_projects",
               "双方の評価の差が大きい事業（上位15）", ["事業ごとに差の最も大きい項目を示しています。"])
    comments = reviews.comments
    if comments.empty:
        display(page.note("振り返りシートにコメントはありません。"))
    elif s.settings.disclosure.allow_free_text:
        shown = publish_text(comments["comment"], "collab_comments", output_dir=output_dir, study=s,
                             title="振り返りのコメント", column="コメント")
        display(tables.styled(shown, opts))
    else:
        display(page.note(f"振り返りのコメント（{len(comments):,}件）は、自由記述を公表しない設定（study.yaml の disclosure.allow_free_text）のため示しません。"))'''),
]
nb(c06c, "notebooks/06_collaboration.ipynb", "notebooks/05_comparison.ipynb")

# ---------------------------------------------------------------- 07 (issue #16)
SETUP07 = '''import matplotlib.pyplot as plt
from IPython.display import display

from kyodo_analysis.evaluation import awareness as aw
from kyodo_analysis.evaluation.importance import importance_satisfaction, movement
from kyodo_analysis.options import DisplayOptions
from kyodo_analysis.reporting.publish import publish_view
from kyodo_analysis.views import awareness as av
from kyodo_analysis.views import figures, page, tables

figures.use_style()
r = page.open_report(study, fiscal_year)
s, fy, cb = r.study, r.fiscal_year, r.study.codebook
opts = DisplayOptions.for_study(s)
num = page.Counter(chapter)
spec = cb.awareness
missing = aw.missing_declarations(cb)
labels = {q.id: q.text for q in cb}


def show(table, name, title, notes=()):
    number = num.table()
    display(page.table_heading(number, title))
    display(tables.styled(publish_view(table, name, output_dir=output_dir, study=s, title=title,
                                       number=number, notes=list(notes)), opts))
    if notes:
        display(page.notes(list(notes)))
'''
c07 = [new_code_cell(PARAMS),
 new_code_cell(SETUP07 + '''design = s.design(fy)
display(r.header("協働への意識と参加の要因"))
display(page.paragraph("意識をたずねた設問を尺度としてまとめ、その信頼性と因子構造、施策の重要度と満足度、"
                       "活動への参加を左右する要因、回答者の類型を、標本設計と重み付けを反映して推定します。"
                       "すべての推定値に95%信頼区間を付けています。"))'''),
 new_markdown_cell("## 意識の回答分布"),
 new_code_cell('''if "groups" in missing:
    display(page.note(missing["groups"]))
else:
    for g in spec.groups:
        qs = aw.group_items(cb, g, fy)
        if len(qs) < len(g.items):
            display(page.note(f"{g.label}: この年度に尋ねていない項目があるため省略します。"))
            continue
        dist, summary = aw.likert_section(design, cb, g, method=opts.interval)
        fig = av.diverging_likert_chart(dist, title=f"{num.figure()}　{g.label}", options=opts)
        plt.show()
        show(av.likert_summary_table(summary, options=opts), f"likert_{g.id}", f"{g.label}：肯定・否定の割合と平均評点",
             [tables.base_note(multiple=False, weighted=s.weighted, options=opts),
              "平均評点は「そう思う」などの肯定を +2、否定を −2 とした平均です。「わからない」と無回答は平均評点と割合の基数に含みません（人数を別に示します）。",
              opts.interval_note])'''),
 new_markdown_cell("## 尺度の信頼性"),
 new_code_cell('''if "groups" in missing:
    display(page.note(missing["groups"]))
else:
    rel = aw.reliability_table(design, cb, spec)
    show(av.reliability_view(rel), "reliability", "尺度の信頼性（α係数・ω係数）",
         ["α係数は項目間の共分散から、ω係数は因子分析（最小残差法・オブリミン回転、シュミット–リーマン変換）から求めた値です。逆転項目は codebook の reverse により向きをそろえています。",
          "信頼区間: α係数はテイラー線形化、ω係数はブートストラップ複製ウェイト（Rao–Wu、50複製、重み付けを各複製でやり直し）による標準誤差から求めた正規近似の95%区間です。"])'''),
 new_markdown_cell("## 因子構造"),
 new_code_cell('''if "groups" in missing:
    display(page.note(missing["groups"]))
else:
    g = max(spec.groups, key=lambda g: len(g.items))
    fsec = aw.factor_section(design, cb, g)
    show(av.parallel_view(fsec.parallel), "parallel", f"{g.label}：平行分析",
         [f"観測データの固有値が乱数データの固有値を上回る数から、因子数を{fsec.n_factors}としました（Horn の平行分析、乱数データ20組の平均）。"])
    show(av.loadings_view(fsec.result, labels), "loadings", f"{g.label}：因子負荷量",
         ["重み付きの相関行列を最小残差法で因子分析し、オブリミン回転した値（パターン行列）です。"])
    phi = fsec.result.phi.round(3)
    phi.columns = [f"因子{i + 1}" for i in range(phi.shape[1])]
    phi.insert(0, "因子", list(phi.columns))
    show(phi.reset_index(drop=True), "factor_correlations", f"{g.label}：因子間相関")'''),
 new_markdown_cell("## 重要度・満足度分析"),
 new_code_cell('''if "importance_satisfaction" in missing:
    display(page.note(missing["importance_satisfaction"]))
else:
    for definition, what in (("mean", "平均評点"), ("share", "割合")):
        m = importance_satisfaction(design, cb, spec.pairs, definition=definition)
        previous = None
        earlier = [y for y in s.fiscal_years if y < fy]
        if earlier and definition == "mean":
            asked = all(cb[q].asked_in(earlier[-1]) for p in spec.pairs for q in (p.importance, p.satisfaction))
            previous = (importance_satisfaction(s.design(earlier[-1]), cb, spec.pairs, definition=definition)
                        if asked else None)
        fig = av.importance_satisfaction_chart(m.points, x_label=m.x_label, y_label=m.y_label,
                                               previous=previous.points if previous is not None else None,
                                               title=f"{num.figure()}　重要度・満足度（{what}）")
        plt.show()
        show(av.is_view(m.points, label=spec.is_label), f"is_{definition}", f"重要度・満足度（{what}）",
             ["象限は全項目の平均で分けています。楕円と区間は標本設計に基づく95%信頼領域です。",
              "改善要望度: 各項目の座標を項目間で標準化し、平均からの距離に、重要度が高く満足度が低い方向（45°）との角度による補正 (90−角度)/90 を掛けた値です。"])
        if previous is not None:
            show(av.movement_view(movement(previous, m)), "is_movement",
                 f"重要度・満足度の変化（{earlier[-1]}年度から）", ["2つの調査を独立な標本とした差の95%信頼区間です。"])'''),
 new_markdown_cell("## 参加の要因"),
 new_code_cell('''if "drivers" in missing:
    display(page.note(missing["drivers"]))
else:
    dr = aw.drivers(design, cb, spec)
    for sentence in dr.statements["statement"]:
        display(page.paragraph(sentence))
    show(av.drivers_view(dr.effects, options=opts), "drivers", "参加の要因（平均限界効果）",
         ["重み付きロジスティック回帰（すべての要因を同時に投入）から求めた平均限界効果です。該当／非該当の要因は、全員が該当する場合と該当しない場合の参加率の差、得点の要因は1標準偏差高い場合の差（ポイント）です。",
          "標準誤差はテイラー線形化（標本設計・重み付けを反映）。要因のいずれかが無回答の方は除いています。"])'''),
 new_markdown_cell("## 回答者の類型"),
 new_code_cell('''if "segments" in missing:
    display(page.note(missing["segments"]))
else:
    sg = aw.segments_section(design, cb, spec)
    views = av.segment_views(sg, labels, options=opts)
    show(views["criterion"], "segments_k", "類型の数の選び方",
         ["重み付き k-means 法（項目を標準化）。平均シルエットが最大の類型数を採用しました。"])
    show(views["stability"], "segments_stability", "類型の安定性",
         ["採用した分類と、初期値を変えた分類・ブートストラップ標本による分類の一致度（修正ランド指数、1で完全一致）です。"])
    show(views["shares"], "segments_shares", "類型の構成比", [opts.interval_note])
    show(views["centres"], "segments_centres", "類型ごとの項目の平均（標準化得点）")
    dims = [(a.name, a.column) for a in s.attributes] + [(lv.name, lv.column) for lv in s.district_levels]
    if dims:
        prof = aw.segment_profiles(design, cb, sg, dims, min_base=opts.min_base)
        show(av.profile_view(prof, options=opts), "segments_profile", "属性・地区別の類型の構成比",
             [f"x: 回答者数が{opts.min_base}人未満の区分です。"])'''),
]
nb(c07, "notebooks/07_awareness.ipynb", "notebooks/05_comparison.ipynb")
