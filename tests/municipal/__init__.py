"""A test export generator: one fictional city's survey written three ways, as cities send them.

Separate from the demo generator on purpose (its own city, question numbering, layout and
district names), so that tests of header detection and ``kyodo init`` are not tuned to the
demo's files.

The city is みなと野市 (fictional), 18+ residents in five 中学校区-like districts
(東浜, 西浜, 北丘, 南台, 中央). The survey 「まちづくり市民アンケート」 asks:

======== ====================================================== ==============================
id       question                                               how the xlsx writes it
======== ====================================================== ==============================
(id)     整理番号                                               "MN0001" (merged over 2 rows)
answer_date 回答日                                              令和6年7月5日 / R6.7.12 / Excel date
q1       お住まいの地域の住みやすさ (満足…不満, 5; likert)     words
q2_1-3   問2 (1)–(3) 地域のつながり (そう思う…そう思わない)    codes 1–5, labels in コード表
q3       防災の備え (5 options, 「特にない」 exclusive)          separate 0/1 columns under 問3
q4       情報の入手方法 (6 options)                              one cell 「1、３」
q5       地域防災計画の認知 (よく知っている…知らない)          words
q5sq     付問: どこで知ったか (asked if q5 in 1–3)               words, no known scale
q6       居住年数（年）                                          numbers
q7       自由記述                                                text
f1       性別 (男性/女性/回答しない)                             words
f2       年代 (10歳代…80歳以上)                                  「30歳代」
f3       居住地区 (5 districts)                                  variant spellings, trailing spaces
======== ====================================================== ==============================

Blank cells are 無回答. The xlsx has three title rows, a two-row header (rows 4–5) with merged
question numbers, two footnote rows under a blank row, and a コード表 sheet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DISTRICTS", "QUESTIONS", "make_exports"]

CITY = "みなと野市"
FISCAL_YEAR = 2024
DISTRICTS = ["東浜", "西浜", "北丘", "南台", "中央"]
#: How the survey's district answers are spelled besides the plain name (with 小-/中学校区 forms).
_VARIANTS = {d: [d, f"{d}中学校区", f"{d}中", f"{d} ", f"{d}中学校区　"] for d in DISTRICTS}
SEX = ["男性", "女性", "回答しない"]
AGE10 = ["10歳代", "20歳代", "30歳代", "40歳代", "50歳代", "60歳代", "70歳代", "80歳以上"]
SATISFACTION = ["満足", "やや満足", "どちらともいえない", "やや不満", "不満"]
AGREE = ["そう思う", "ややそう思う", "どちらともいえない", "あまりそう思わない", "そう思わない"]
AWARENESS = ["よく知っている", "ある程度知っている", "聞いたことがある", "知らない"]
Q2_ITEMS = ["近所づきあいがある", "災害のときに助け合える", "地域の行事に参加したい"]
Q3_OPTIONS = ["非常食の備蓄", "避難場所の確認", "家具の固定", "防災訓練への参加", "特にない"]
Q4_OPTIONS = ["市の広報紙", "市のホームページ", "SNS", "回覧板", "テレビ・ラジオ", "その他"]
Q5SQ = ["広報紙", "説明会・訓練", "家族・知人", "その他"]
_COMMENTS = [
    "避難所の場所をもっと知らせてほしい。",
    "地域の行事が少なくなって寂しい。",
    "若い人が参加しやすい活動を増やしてほしい",
    "防災訓練の日程を早めに知らせてください。",
    "高齢者の見守りが心配です。",
    "公園の清掃活動に参加したいが情報がない。",
    "回覧板だけでは情報が届かない世帯がある。",
    "自治会の役員の負担が大きいと思います。",
    "子どもが安心して遊べる場所がほしい。",
    "特にありません。",
]

#: Each question of the survey: id, type, labels in code order (codes 1..n), the xlsx's header
#: cells (upper, lower) and the CSV's header (question text). Tests compare ``kyodo init``'s
#: draft with this.
QUESTIONS: list[dict] = [
    {"id": "answer_date", "type": "date", "xlsx": ("回答日", None), "csv": "回答日"},
    {"id": "q1", "type": "likert", "labels": SATISFACTION,
     "xlsx": ("問1", "お住まいの地域は住みやすいと感じますか"),
     "csv": "お住まいの地域は住みやすいと感じますか"},
    *({"id": f"q2_{k + 1}", "type": "likert", "labels": AGREE,
       "xlsx": ("問2", f"({k + 1}) {item}"), "csv": f"地域のつながり：{item}"}
      for k, item in enumerate(Q2_ITEMS)),
    {"id": "q3", "type": "multiple", "layout": "columns", "labels": Q3_OPTIONS,
     "xlsx": ("問3", None), "csv": None},
    {"id": "q4", "type": "multiple", "layout": "delimited", "labels": Q4_OPTIONS,
     "xlsx": ("問4", "市の情報を何から入手していますか（あてはまるものすべて）"),
     "csv": "市の情報を何から入手していますか（あてはまるものすべて）"},
    {"id": "q5", "type": "single", "labels": AWARENESS,
     "xlsx": ("問5", "市の地域防災計画を知っていますか"), "csv": "市の地域防災計画を知っていますか"},
    {"id": "q5sq", "type": "single", "labels": Q5SQ,
     "xlsx": ("問5付問", "どこで知りましたか"), "csv": "（付問）どこで知りましたか"},
    {"id": "q6", "type": "numeric", "xlsx": ("問6", "現在の地域に住んで何年になりますか（年）"),
     "csv": "現在の地域に住んで何年になりますか（年）"},
    {"id": "q7", "type": "text", "xlsx": ("問7", "まちづくりへのご意見（自由記述）"),
     "csv": "まちづくりへのご意見（自由記述）"},
    {"id": "f1", "type": "demographic", "labels": SEX, "xlsx": ("F1", "性別"), "csv": "性別"},
    {"id": "f2", "type": "demographic", "labels": AGE10, "xlsx": ("F2", "年代"), "csv": "年代"},
    {"id": "f3", "type": "demographic", "labels": DISTRICTS, "xlsx": ("F3", "お住まいの地区"),
     "csv": "お住まいの地区"},
]


def _age_group(age: np.ndarray) -> np.ndarray:
    """Code of AGE10 (1 = 10歳代 … 8 = 80歳以上)."""
    return np.clip(age // 10, 1, 8).astype(int)


def _population(rng: np.random.Generator) -> pd.DataFrame:
    """Population margins: residents 18+ by district × sex × age group."""
    rows = []
    sizes = {"東浜": 21000, "西浜": 17500, "北丘": 12800, "南台": 15400, "中央": 24300}
    age_share = np.array([0.03, 0.12, 0.13, 0.16, 0.16, 0.15, 0.15, 0.10])
    for d, size in sizes.items():
        for s in ("男性", "女性"):
            share = age_share * rng.uniform(0.9, 1.1, len(age_share))
            share /= share.sum()
            for g, p in zip(AGE10, share, strict=True):
                rows.append({"地区": d, "性別": s, "年代": g, "人口": round(size / 2 * p)})
    return pd.DataFrame(rows)


def _sample(rng: np.random.Generator, population: pd.DataFrame, per_district: int) -> pd.DataFrame:
    """発送名簿: a stratified simple random sample of ``per_district`` residents per district."""
    out = []
    for d, grp in population.groupby("地区", sort=False):
        p = grp["人口"].to_numpy(float) / grp["人口"].sum()
        cells = rng.choice(len(grp), size=per_district, p=p)
        for c in cells:
            cell = grp.iloc[c]
            g = AGE10.index(cell["年代"]) + 1
            lo, hi = (18, 19) if g == 1 else (80, 95) if g == 8 else (g * 10, g * 10 + 9)
            out.append({"中学校区": d, "性別": cell["性別"], "年齢": int(rng.integers(lo, hi + 1))})
    frame = pd.DataFrame(out).sample(frac=1.0, random_state=int(rng.integers(1 << 31)))
    frame.insert(0, "整理番号", [f"MN{i + 1:04d}" for i in range(len(frame))])
    return frame.reset_index(drop=True)


def _pick(rng: np.random.Generator, n: int, probs, blank: float) -> np.ndarray:
    """Codes 1..len(probs) drawn per respondent; 0 (無回答) with probability ``blank``."""
    probs = np.asarray(probs, float) / np.sum(probs)
    codes = rng.choice(len(probs), size=n, p=probs) + 1
    codes[rng.random(n) < blank] = 0
    return codes


def _answers(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """The clean, hand-coded answers of the respondents (codes; NaN = 無回答)."""
    age = frame["年齢"].to_numpy()
    propensity = 0.35 + 0.005 * (age - 18)
    responded = rng.random(len(frame)) < propensity
    resp = frame[responded].reset_index(drop=True)
    n = len(resp)
    age = resp["年齢"].to_numpy()
    old = age >= 60
    clean = pd.DataFrame({"id": resp["整理番号"]})
    start = dt.date(FISCAL_YEAR, 7, 1)
    clean["answer_date"] = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 20, n)]
    q1 = np.where(old, _pick(rng, n, [3, 4, 2, 1, 1], 0.02), _pick(rng, n, [2, 3, 3, 2, 1], 0.02))
    clean["q1"] = q1
    for k in range(3):
        clean[f"q2_{k + 1}"] = _pick(rng, n, [2 + k, 3, 2, 2, 1], 0.04)
    mr3 = rng.random((n, 4)) < np.array([0.45, 0.55, 0.25, 0.2])
    none3 = ~mr3.any(axis=1)
    q3 = np.column_stack([mr3, none3]).astype(float)
    q3[rng.random(n) < 0.03] = np.nan
    for k in range(5):
        clean[f"q3_{k + 1}"] = q3[:, k]
    mr4 = rng.random((n, 6)) < np.array([0.6, 0.3, 0.25, 0.4, 0.35, 0.05])
    mr4[~mr4.any(axis=1), 0] = True
    q4 = mr4.astype(float)
    q4[rng.random(n) < 0.03] = np.nan
    for k in range(6):
        clean[f"q4_{k + 1}"] = q4[:, k]
    q5 = _pick(rng, n, [1, 3, 3, 3], 0.02)
    clean["q5"] = q5
    sq = _pick(rng, n, [5, 2, 2, 1], 0.05)
    clean["q5sq"] = np.where(np.isin(q5, [1, 2, 3]), sq, 0)
    clean["q6"] = np.minimum(rng.integers(0, 60, n), age - 1)
    clean.loc[rng.random(n) < 0.03, "q6"] = np.nan
    comment = rng.random(n) < 0.35
    clean["q7"] = [(_comment(rng) if c else "") for c in comment]
    sex = resp["性別"].map({"男性": 1, "女性": 2}).to_numpy(dtype=int, copy=True)
    sex[rng.random(n) < 0.03] = 3
    clean["f1"] = sex
    clean["f2"] = _age_group(age)
    clean["f3"] = resp["中学校区"].map({d: i + 1 for i, d in enumerate(DISTRICTS)}).to_numpy()
    f3 = clean["f3"].to_numpy(float)
    f3[rng.random(n) < 0.02] = np.nan
    clean["f3"] = f3
    for c in ["q1", "q2_1", "q2_2", "q2_3", "q5", "q5sq"]:
        clean[c] = clean[c].replace(0, np.nan)
    return clean


def _comment(rng: np.random.Generator) -> str:
    """A free-text answer: one or two sentences, so that answers are varied as real ones are."""
    first = _COMMENTS[int(rng.integers(len(_COMMENTS)))]
    if rng.random() < 0.6:
        return first
    second = _COMMENTS[int(rng.integers(len(_COMMENTS)))].rstrip("。") + "。"
    return first.rstrip("。") + "。" + second


def _label(labels: list[str], code) -> str | None:
    return None if pd.isna(code) else labels[int(code) - 1]


def _era_date(rng: np.random.Generator, d: dt.date):
    """A date as a city clerk types it: 令和6年7月5日, R6.7.12 or a real Excel date."""
    style = int(rng.integers(3))
    era = d.year - 2018
    if style == 0:
        return f"令和{era}年{d.month}月{d.day}日"
    if style == 1:
        return f"R{era}.{d.month}.{d.day}"
    return dt.datetime(d.year, d.month, d.day)


def _zen(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def _write_xlsx(path: Path, clean: pd.DataFrame, rng: np.random.Generator) -> dict:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "回答データ"
    ws.append([f"令和6年度 {CITY} まちづくり市民アンケート 回答データ"])
    ws.append(["調査期間：令和6年7月1日～7月20日　郵送配布・郵送回収"])
    ws.append([])
    upper, lower, merges = ["整理番号", "回答日"], [None, None], [(1, 1), (2, 2)]
    col = 3
    for q in QUESTIONS[1:]:
        if q["id"] == "q3":
            upper += ["問3"] + [None] * (len(Q3_OPTIONS) - 1)
            lower += Q3_OPTIONS
            merges.append((col, col + len(Q3_OPTIONS) - 1))
            col += len(Q3_OPTIONS)
            continue
        up, low = q["xlsx"]
        if q["id"].startswith("q2_"):
            if q["id"] == "q2_1":
                upper += ["問2", None, None]
                merges.append((col, col + 2))
            lower.append(low)
            col += 1
            continue
        upper.append(up)
        lower.append(low)
        col += 1
    ws.append(upper)
    ws.append(lower)
    for c0, c1 in merges:
        if c0 == c1:  # vertical: the id and date cells span both header rows
            ws.merge_cells(start_row=4, start_column=c0, end_row=5, end_column=c1)
        else:
            ws.merge_cells(start_row=4, start_column=c0, end_row=4, end_column=c1)
    for r in clean.itertuples(index=False):
        rec = r._asdict()
        row = [rec["id"], _era_date(rng, rec["answer_date"]), _label(SATISFACTION, rec["q1"])]
        row += [None if pd.isna(rec[f"q2_{k}"]) else int(rec[f"q2_{k}"]) for k in (1, 2, 3)]
        row += [None if pd.isna(rec[f"q3_{k}"]) else int(rec[f"q3_{k}"]) for k in range(1, 6)]
        picked = [str(k) for k in range(1, 7) if rec[f"q4_{k}"] == 1]
        cell = "、".join(picked) if picked else None
        if cell and rng.random() < 0.3:
            cell = _zen(cell)
        row.append(cell)
        row += [_label(AWARENESS, rec["q5"]), _label(Q5SQ, rec["q5sq"])]
        row.append(None if pd.isna(rec["q6"]) else int(rec["q6"]))
        row.append(rec["q7"] or None)
        row += [_label(SEX, rec["f1"]), _label(AGE10, rec["f2"])]
        d = _label(DISTRICTS, rec["f3"])
        row.append(None if d is None else str(rng.choice(_VARIANTS[d])))
        ws.append(row)
        if isinstance(row[1], dt.datetime):
            ws.cell(row=ws.max_row, column=2).number_format = "yyyy/m/d"
    ws.append([])
    ws.append(["※ 無回答は空欄としています。"])
    ws.append(["注）問3は該当する項目に1、該当しない項目に0を入力。問4は番号を「、」区切りで入力。"])
    ws.column_dimensions[get_column_letter(1)].width = 10
    codes = wb.create_sheet("コード表")
    codes.append(["設問", "コード", "選択肢"])
    for k, label in enumerate(AGREE, start=1):
        codes.append(["問2", k, label])
    for k, label in enumerate(Q4_OPTIONS, start=1):
        codes.append(["問4", k, label])
    wb.save(path)
    return {"sheet": "回答データ", "header_rows": [4, 5], "footnotes": 2, "title_rows": 2}


def _write_csv(path: Path, clean: pd.DataFrame) -> dict:
    """A web-form style export: one header row of question text, codes, CP932."""
    out = pd.DataFrame({"整理番号": clean["id"],
                        "回答日": [f"{d.year}/{d.month}/{d.day}" for d in clean["answer_date"]]})
    for q in QUESTIONS[1:]:
        qid = q["id"]
        if qid == "q3":
            for k, label in enumerate(Q3_OPTIONS, start=1):
                out[f"防災の備え：{label}"] = clean[f"q3_{k}"].astype("Int64")
        elif qid == "q4":
            out[q["csv"]] = [
                ",".join(str(k) for k in range(1, 7) if r[f"q4_{k}"] == 1)
                for r in clean[[f"q4_{k}" for k in range(1, 7)]].to_dict("records")]
        elif qid == "q7":
            out[q["csv"]] = clean["q7"]
        elif qid == "f3":
            out[q["csv"]] = [_label(DISTRICTS, v) or "" for v in clean["f3"]]
        elif qid in ("f1", "f2", "q1", "q5"):
            out[q["csv"]] = [_label(q["labels"], v) or "" for v in clean[qid]]
        else:
            out[q["csv"]] = clean[qid].astype("Int64")
    out.to_csv(path, index=False, encoding="cp932", lineterminator="\r\n")
    return {"header_rows": [1], "encoding": "cp932"}


def _write_sav(path: Path, clean: pd.DataFrame) -> dict:
    """An SPSS file: ASCII names, question text as variable labels, 9/99 = 無回答."""
    import pyreadstat

    # dates as date objects: SPSS DATE11 (pyreadstat writes second-resolution datetimes wrongly)
    data = pd.DataFrame({"ID": clean["id"], "KAITOBI": pd.Series(list(clean["answer_date"]),
                                                                 dtype=object)})
    labels = {"ID": "整理番号", "KAITOBI": "回答日"}
    value_labels = {}
    for q in QUESTIONS[1:]:
        qid = q["id"]
        if qid in ("q3", "q4"):
            opts = Q3_OPTIONS if qid == "q3" else Q4_OPTIONS
            title = "防災の備え" if qid == "q3" else "情報の入手方法"
            for k, label in enumerate(opts, start=1):
                name = f"{qid.upper()}_{k}"
                data[name] = clean[f"{qid}_{k}"].fillna(9)
                labels[name] = f"{title}：{label}"
                value_labels[name] = {0: "非選択", 1: "選択", 9: "無回答"}
            continue
        name = qid.upper()
        if qid == "q7":
            data[name] = clean[qid]
        elif qid == "q6":
            data[name] = clean[qid].astype(float)
        else:
            miss = 99 if qid == "f3" else 9
            data[name] = clean[qid].fillna(miss).astype(float)
            value_labels[name] = {**{k + 1: v for k, v in enumerate(q["labels"])}, miss: "無回答"}
            if qid == "q5sq":
                data.loc[~clean["q5"].isin([1, 2, 3]) & clean["q5sq"].isna(), name] = 8
                value_labels[name][8] = "非該当"
        labels[name] = q["xlsx"][1] or q["xlsx"][0]
    pyreadstat.write_sav(data, str(path), column_labels=labels,
                         variable_value_labels=value_labels,
                         file_label=f"R6 {CITY} 市民アンケート")
    return {}


def make_exports(out_dir: str | Path, seed: int = 20240701) -> dict:
    """Write one survey wave of みなと野市 three ways, plus its sampling list and margins.

    Parameters
    ----------
    out_dir
        Folder to write into (created).
    seed
        Random seed; the same seed gives the same respondents and answers.

    Returns
    -------
    dict
        ``xlsx``, ``csv``, ``sav``: paths of (a) the municipal Excel export (title rows, merged
        two-row header, words and codes, 和暦 dates, district variants, footnotes, a コード表
        sheet), (b) a CP932 CSV whose header is the question text, (c) an SPSS file with value
        labels; ``sampling_list`` (発送名簿: 整理番号, 中学校区, 性別, 年齢; CP932 CSV),
        ``margins`` (population by 地区 × 性別 × 年代; CP932 CSV); ``clean``: the respondents'
        answers hand-coded (``id`` then question ids; codes 1..n in the order of
        :data:`QUESTIONS`' labels, MR options as ``q3_1``… 0/1, NaN for 無回答 and, in q5sq,
        for 非該当); ``frame``: the sampling list as a DataFrame; ``layout``: per file, the
        header rows and sheet a reader should find; ``fiscal_year``: 2024.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    population = _population(rng)
    frame = _sample(rng, population, per_district=160)
    clean = _answers(rng, frame)
    paths = {"xlsx": out / "minatono_R6_kaitou.xlsx", "csv": out / "minatono_R6_web.csv",
             "sav": out / "minatono_R6.sav"}
    layout = {"xlsx": _write_xlsx(paths["xlsx"], clean, rng),
              "csv": _write_csv(paths["csv"], clean), "sav": _write_sav(paths["sav"], clean)}
    frame.to_csv(out / "hassou_meibo.csv", index=False, encoding="cp932")
    population.to_csv(out / "population_margins.csv", index=False, encoding="cp932")
    return {**paths, "sampling_list": out / "hassou_meibo.csv",
            "margins": out / "population_margins.csv", "clean": clean, "frame": frame,
            "layout": layout, "fiscal_year": FISCAL_YEAR}
