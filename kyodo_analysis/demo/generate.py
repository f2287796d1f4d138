"""Generate the synthetic Handa-like demo study.

One call, :func:`generate_demo`, writes a complete study folder: raw survey files in the
formats a city receives (CP932 and UTF-8-SIG CSV, xlsx with a title row, SPSS .sav),
population margins, fieldwork counts, activity statistics, the codebook, indicators and
study configuration, and the *known truth* (finite-population values of the indicators and
the parameters of every simulated series), so that estimators can be tested against it.

Everything is drawn from one ``numpy.random.Generator`` seeded by ``seed``; the same seed gives
byte-identical files (timestamps inside xlsx and sav files are fixed).
"""

from __future__ import annotations

import functools
import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kyodo_analysis import yamlio
from kyodo_analysis.calendar import era_year, fiscal_year_label, parse_fiscal_year
from kyodo_analysis.demo import spec
from kyodo_analysis.demo.spec import DEFAULT_SEED
from kyodo_analysis.demo.truth import series_mu, truth_values
from kyodo_analysis.errors import ConfigError

#: File that marks a folder as written by ``kyodo demo`` (only such a folder is replaced).
MARKER = ".kyodo-demo"

__all__ = ["DEFAULT_SEED", "DemoStudy", "generate_demo", "make_population", "simulate_answers"]

_FIXED_TIME = (2026, 4, 1, 9, 0, 0)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ordinal(rng: np.random.Generator, eta: np.ndarray, cuts: list[float]) -> np.ndarray:
    """Draw from a cumulative-logit model: P(Y <= k) = logistic(cuts[k] + eta); codes 1..K."""
    cum = _logistic(np.asarray(cuts)[None, :] + eta[:, None])
    u = rng.random(len(eta))
    return 1 + (u[:, None] > cum).sum(axis=1)


def make_population(rng: np.random.Generator) -> pd.DataFrame:
    """Residents of all ages with district, sex, age and the latent traits the answers need."""
    scale = spec.TOTAL_POPULATION / sum(p for p, _ in spec.DISTRICTS.values())
    bands = np.array(spec.AGE_BANDS)
    base = np.array(spec.AGE_BAND_SHARES) / sum(spec.AGE_BAND_SHARES)
    mids = bands + 2.5
    frames = []
    for jhs, (pop, parts) in spec.DISTRICTS.items():
        shares = base * np.exp(spec.AGE_TILT[jhs] * (mids - 45.0) / 40.0)
        shares /= shares.sum()
        for elem, share in parts.items():
            n = round(pop * scale * share)
            band = rng.choice(len(bands), size=n, p=shares)
            width = np.where(band == len(bands) - 1, 15, 5)
            age = bands[band] + np.floor(rng.random(n) * width).astype(int)
            frames.append(pd.DataFrame({"jhs": jhs, "elem": elem, "age": age}))
    pop = pd.concat(frames, ignore_index=True)
    age = pop["age"].to_numpy()
    p_female = np.select([age >= 85, age >= 75, age >= 60], [0.68, 0.60, 0.52], 0.49)
    n = len(pop)
    pop["sex"] = np.where(rng.random(n) < p_female, 2, 1)
    lower = np.array([lo for _, lo in spec.AGE_GROUPS])
    pop["age_group"] = np.where(age >= 18, np.searchsorted(lower, age, side="right"), 0)
    # Years of residence: the young have moved in more recently.
    p_long = np.clip(0.15 + 0.011 * (age - 18), 0.1, 0.85)
    tenure = np.where(rng.random(n) < p_long, 4, rng.choice([1, 2, 3], size=n, p=[0.4, 0.3, 0.3]))
    pop["tenure"] = tenure
    pop["occupation"] = _occupation(rng, age, pop["sex"].to_numpy())
    pop["civic"] = rng.normal(size=n)  # latent civic-mindedness
    return pop


def _occupation(rng: np.random.Generator, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Occupation codes 1–7 (codebook f5) with age- and sex-typical shares."""
    probs = np.empty((len(age), 7))
    young, working, old = age < 23, (age >= 23) & (age < 65), age >= 65
    probs[young] = [0.25, 0.02, 0.18, 0.50, 0.01, 0.02, 0.02]
    probs[working & (sex == 1)] = [0.72, 0.10, 0.06, 0.0, 0.01, 0.06, 0.05]
    probs[working & (sex == 2)] = [0.40, 0.05, 0.28, 0.0, 0.18, 0.05, 0.04]
    probs[old] = [0.06, 0.08, 0.12, 0.0, 0.17, 0.52, 0.05]
    u = rng.random(len(age))
    return 1 + (u[:, None] > probs.cumsum(axis=1)).sum(axis=1).clip(max=6)


def simulate_answers(adults: pd.DataFrame, fy: int, rng: np.random.Generator) -> pd.DataFrame:
    """True answers of every adult for fiscal year ``fy`` (no item nonresponse)."""
    n = len(adults)
    ag = adults["age_group"].to_numpy() - 1
    civic = adults["civic"].to_numpy()
    female = (adults["sex"].to_numpy() == 2).astype(float)
    long_res = (adults["tenure"].to_numpy() == 4).astype(float)
    growth = adults["jhs"].map(spec.WORKSHOP_GROWTH).to_numpy()
    after = max(fy - (spec.PLAN_START - 1), 0)
    covid = {2020: -0.35, 2021: -0.3, 2022: -0.1}.get(fy, 0.0)

    age_aware = np.array([-0.9, -0.5, -0.1, 0.2, 0.5, 0.6])[ag]
    plan = spec.AWARENESS_SLOPE_PER_GROWTH * growth * after
    eta = age_aware + 0.1 * female + 0.3 * long_res + 0.9 * civic + 0.02 * (fy - 2021) + plan
    out = {"q1": _ordinal(rng, eta, [-2.6, -0.45, 1.15])}

    eta_int = 0.6 * age_aware + 0.8 * civic + 0.05 * female + 0.6 * plan
    out["q2"] = _ordinal(rng, eta_int, [-1.9, 0.2, 1.5])

    age_civic = np.array([-1.6, -0.8, -0.2, 0.3, 0.7, 0.9])[ag]
    part_base = {1: -0.9, 2: -2.1, 3: -3.4, 4: -3.0, 5: -2.1}
    part_age = {1: 1.0, 2: 0.5, 3: 0.4, 4: 0.3, 5: 0.3}
    part_plan = {1: 0.0, 2: 0.5, 3: 0.6, 4: 1.2, 5: 0.7}
    any_part = np.zeros(n, dtype=bool)
    for k in range(1, 6):
        lin = (part_base[k] + part_age[k] * age_civic + 0.8 * civic + covid
               + part_plan[k] * plan)
        chosen = rng.random(n) < _logistic(lin)
        out[f"q3_{k}"] = chosen.astype(int)
        any_part |= chosen
    out["q3_6"] = (~any_part).astype(int)
    sq = _ordinal(rng, 0.5 + 0.3 * civic, [-1.4, 1.2, 2.6])
    out["q3sq"] = np.where(any_part, sq, 8)

    s = 0.7 * eta_int + rng.normal(scale=0.8, size=n)
    intent = np.select([s > 1.4, s > 0.1, s > -0.9], [2, 3, 6], 4)
    intent = np.where((ag == 5) & (rng.random(n) < 0.25), 5, intent)
    current = any_part & (rng.random(n) < 0.55)
    out["q4"] = np.where(current, 1, intent)

    sat_base = [0.1, 0.0, -0.2, 0.15, -0.35]
    sat_plan = [0.10, 0.08, 0.05, 0.06, 0.12]
    imp_base = [0.9, 1.0, 0.8, 1.1, 0.6]
    for k in range(5):
        eta_s = sat_base[k] + 0.3 * civic + sat_plan[k] * after + 0.1 * (ag >= 4)
        out[f"q5_{k + 1}"] = _ordinal(rng, eta_s, [-3.2, -1.3, 1.4, 3.0])
        eta_i = imp_base[k] + 0.35 * civic + 0.15 * ag / 5
        out[f"q6_{k + 1}"] = _ordinal(rng, eta_i, [-1.0, 1.0, 3.0, 4.2])
    return pd.DataFrame(out, index=adults.index)


_COMMENTS = [
    "協働という言葉をもっと市民に知ってもらう工夫が必要だと思う。",
    "自治区の役員の高齢化が進んでいて、若い世代の参加が少ない。",
    "ワークショップに参加して、地域の課題を考えるきっかけになった。",
    "市民活動団体の情報がどこにあるのかわかりにくい。",
    "まちづくりひろばをもっと気軽に使えるようにしてほしい。",
    "子育て中でも参加できる時間帯の講座を増やしてほしい。",
    "助成金の申請手続きが複雑なので簡単にしてほしい。",
    "外国籍の市民も参加しやすい仕組みがあるとよい。",
    "大学や企業と連携した取組が増えるとよいと思う。",
    "仕事が忙しく、活動に参加する余裕がない。",
    "ごんの秋まつりのようなイベントをもっと広報してほしい。",
    "防災の取組を地域でもっと一緒に進めたい。",
    "SNSで活動の情報を発信してほしい。",
    "市の取組の成果がわかるように公表してほしい。",
    "ボランティアをしてみたいが、どこに相談すればよいかわからない。",
    "高齢者の見守り活動に協力したい。",
    "特になし。",
]
# A few comments carry personal details, as real free text does; reports must mask them.
_COMMENTS_PERSONAL = [
    "詳しくは090-1234-5678（山田）までご連絡ください。",
    "意見交換会に呼んでください。連絡先 hanako.demo@example.jp",
    "半田太郎さんの活動をもっと紹介してほしい。電話0569-00-0000",
]


def _observe(answers: pd.DataFrame, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """What respondents write down: item nonresponse (無回答), self-reports and free text."""
    obs = answers.copy()
    n = len(obs)
    ag = frame["age_group"].to_numpy()
    p_nr = 0.015 + 0.025 * (ag == 6)
    for col in ["q1", "q2", "q4", *[f"q5_{k}" for k in range(1, 6)],
                *[f"q6_{k}" for k in range(1, 6)]]:
        obs[col] = np.where(rng.random(n) < p_nr, 9, obs[col].to_numpy())
    mr_cols = [f"q3_{k}" for k in range(1, 7)]
    mr_missing = rng.random(n) < p_nr
    obs[mr_cols] = obs[mr_cols].astype("Int64")
    obs.loc[mr_missing, mr_cols] = pd.NA
    sq = obs["q3sq"].to_numpy()
    obs["q3sq"] = np.where(mr_missing, 8, np.where((sq != 8) & (rng.random(n) < p_nr), 9, sq))

    sex = frame["sex"].to_numpy()
    obs["f1"] = np.select([rng.random(n) < 0.01, rng.random(n) < 0.01], [9, 3], sex)
    obs["f2"] = np.where(rng.random(n) < 0.01, 9, ag)
    elem_code = frame["elem"].map({e: i + 1 for i, e in enumerate(spec.ELEMENTARY)}).to_numpy()
    obs["f3"] = np.where(rng.random(n) < 0.03, 99, elem_code)
    obs["f4"] = np.where(rng.random(n) < 0.02, 9, frame["tenure"].to_numpy())
    obs["f5"] = np.where(rng.random(n) < 0.02, 9, frame["occupation"].to_numpy())

    writes = rng.random(n) < 0.22
    personal = rng.random(n) < 0.04
    pick = rng.integers(0, len(_COMMENTS), size=n)
    pick_p = rng.integers(0, len(_COMMENTS_PERSONAL), size=n)
    text = np.where(personal, np.array(_COMMENTS_PERSONAL)[pick_p], np.array(_COMMENTS)[pick])
    obs["q7"] = np.where(writes, text, "")
    return obs


def _allocate(sizes: pd.Series, total: int) -> pd.Series:
    """Proportional allocation rounded by largest remainder, so the parts add up to ``total``."""
    exact = sizes / sizes.sum() * total
    alloc = np.floor(exact).astype(int)
    short = total - int(alloc.sum())
    order = np.argsort(-(exact - alloc).to_numpy(), kind="stable")
    alloc.iloc[order[:short]] += 1
    return alloc


@dataclass(frozen=True)
class DemoStudy:
    """Where a generated demo study lives."""

    root: Path

    @property
    def study_file(self) -> Path:
        return self.root / "study.yaml"


def generate_demo(out_dir: str | Path, *, seed: int = DEFAULT_SEED) -> DemoStudy:
    """Write the synthetic Handa demo study to ``out_dir`` and return where it is.

    The folder is built next to ``out_dir`` and renamed into place at the end, so an
    interrupted run never leaves a half-written study behind.
    """
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    _check_replaceable(out)
    _check_replaceable(tmp)
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "raw").mkdir(parents=True)
    (tmp / MARKER).write_text(f"generated by kyodo demo (seed {seed})\n", encoding="utf-8")
    (tmp / "truth").mkdir()
    rng = np.random.default_rng(seed)

    pop = make_population(rng)
    adults = pop[pop["age"] >= 18].reset_index(drop=True)
    _write_population(tmp, pop, adults)

    strata = list(spec.DISTRICTS)
    frame_sizes = adults.groupby("jhs", sort=False).size().reindex(strata)
    alloc = _allocate(frame_sizes, spec.SAMPLE_SIZE)
    truth_rows, fieldwork = [], []
    for fy in spec.FISCAL_YEARS:
        answers = simulate_answers(adults, fy, rng)
        truth_rows.append(_truth(adults, answers, fy))
        idx = np.concatenate([
            rng.choice(np.flatnonzero(adults["jhs"].to_numpy() == s), size=alloc[s], replace=False)
            for s in strata
        ])
        sampled = adults.loc[idx]
        lin = (spec.RESPONSE_INTERCEPT
               + np.array(spec.RESPONSE_AGE)[sampled["age_group"].to_numpy() - 1]
               + spec.RESPONSE_MALE * (sampled["sex"].to_numpy() == 1)
               + sampled["jhs"].map(spec.RESPONSE_DISTRICT).to_numpy())
        responded = rng.random(len(sampled)) < _logistic(lin)
        fieldwork.append(sampled.assign(responded=responded.astype(int), fiscal_year=fy))
        resp = sampled[responded]
        order = rng.permutation(len(resp))  # returned questionnaires arrive in no order
        resp = resp.iloc[order]
        obs = _observe(answers.loc[resp.index], resp, rng)
        obs = obs.join(attitude_answers(resp, fy, seed))
        _write_wave(tmp / "raw", fy, _raw_wave(resp, obs, fy))

    truth = pd.concat(truth_rows, ignore_index=True)
    truth.to_csv(tmp / "truth" / "truth_indicators.csv", index=False, float_format="%.10g")
    _write_fieldwork(tmp, pd.concat(fieldwork), frame_sizes)
    series_truth = _write_activity(tmp, rng)
    _write_collaboration(tmp, seed)
    _write_truth_json(tmp, seed, series_truth)
    _write_attitude_truth(tmp)
    _write_config(tmp, truth, frame_sizes)

    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return DemoStudy(out)


def _check_replaceable(folder: Path) -> None:
    """Refuse to replace a folder that ``kyodo demo`` did not make (no :data:`MARKER` in it)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder; choose another --out")
    if (folder / MARKER).is_file() or not any(folder.iterdir()):
        return
    raise ConfigError(f"{folder} holds files that kyodo demo did not create (no {MARKER} "
                      "marker); it will not replace them: choose another --out or empty it")


# ----------------------------------------------------------------------------- writers


def _write_population(root: Path, pop: pd.DataFrame, adults: pd.DataFrame) -> None:
    labels = dict(enumerate((g for g, _ in spec.AGE_GROUPS), start=1))
    margins = (adults.groupby(["jhs", "elem", "sex", "age_group"], sort=False).size()
               .rename("人口").reset_index())
    margins["性別"] = margins["sex"].map({1: "男性", 2: "女性"})
    margins["年代"] = margins["age_group"].map(labels)
    order = {e: i for i, e in enumerate(spec.ELEMENTARY)}
    margins = margins.sort_values(["elem", "sex", "age_group"], key=lambda s: s.map(order)
                                  if s.name == "elem" else s)
    margins = margins.rename(columns={"jhs": "中学校区", "elem": "小学校区"})
    margins[["中学校区", "小学校区", "性別", "年代", "人口"]].to_csv(
        root / "population_margins.csv", index=False, encoding="utf-8")
    totals = pop.groupby(["jhs", "elem"], sort=False).size().rename("総人口").reset_index()
    totals = totals.rename(columns={"jhs": "中学校区", "elem": "小学校区"})
    totals.to_csv(root / "population_total.csv", index=False, encoding="utf-8")


def _truth(adults: pd.DataFrame, answers: pd.DataFrame, fy: int) -> pd.DataFrame:
    """Finite-population values of the headline indicators, city-wide and by district."""
    values = truth_values(answers)
    rows = []
    for domain_type, key in [("city", None), ("中学校区", "jhs"), ("小学校区", "elem")]:
        grouped = values.groupby(adults[key], sort=False) if key else None
        means = grouped.mean() if grouped is not None else values.mean().to_frame("市全体").T
        counts = grouped.size() if grouped is not None else pd.Series({"市全体": len(values)})
        long = means.stack().rename("value").reset_index()
        long.columns = ["domain", "indicator", "value"]
        long["N"] = long["domain"].map(counts)
        long.insert(0, "domain_type", domain_type)
        rows.append(long)
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "fiscal_year", fy)
    return out


def _raw_wave(resp: pd.DataFrame, obs: pd.DataFrame, fy: int) -> pd.DataFrame:
    """Assemble one wave's response file with the codebook's canonical ids as columns."""
    era = fiscal_year_label(fy, style="era")
    ids = [f"{fy % 100:02d}{i:04d}" for i in range(1, len(resp) + 1)]
    raw = pd.DataFrame({"id": ids, "survey_year": era}, index=resp.index)
    raw["stratum"] = resp["jhs"].map({d: i + 1 for i, d in enumerate(spec.DISTRICTS)})
    raw["reg_sex"] = resp["sex"]
    raw["reg_age"] = resp["age_group"]
    cols = ["q1", "q2", *[f"q3_{k}" for k in range(1, 7)], "q3sq", "q4",
            *[f"q5_{k}" for k in range(1, 6)], *[f"q6_{k}" for k in range(1, 6)],
            *ATTITUDE_ITEMS, "q7", "f1", "f2", "f3", "f4", "f5"]
    return pd.concat([raw, obs[cols]], axis=1).reset_index(drop=True)


@functools.cache
def _codebook_doc() -> dict:
    """The shipped demo codebook as parsed YAML (read once; callers must not modify it)."""
    return yamlio.safe_load(resources.files("kyodo_analysis.demo").joinpath("codebook.yaml")
                          .read_text(encoding="utf-8"))


def _header_map(style: str) -> dict[str, str]:
    """Raw-file header of each canonical column: Japanese (CSV/xlsx) or ASCII (SPSS)."""
    cb = _codebook_doc()
    pick = 0 if style == "ja" else 1
    names = {"id": cb["id"]["columns"][pick], "survey_year": "調査年度" if pick == 0 else "FY"}
    for q in cb["questions"]:
        if q["type"] == "multiple":
            for opt in q["options"]:
                names[f"{q['id']}_{opt['code']}"] = opt["columns"][pick]
        else:
            names[q["id"]] = q["columns"][pick]
    return names


def _write_wave(raw_dir: Path, fy: int, wave: pd.DataFrame) -> None:
    fmt, encoding = spec.WAVE_FORMATS[fy]
    stem = raw_dir / f"survey_FY{fy}"
    if fmt == "csv":
        data = wave.rename(columns=_header_map("ja"))
        data.to_csv(stem.with_suffix(".csv"), index=False, encoding=encoding, lineterminator="\r\n")
    elif fmt == "xlsx":
        _write_xlsx(stem.with_suffix(".xlsx"), wave.rename(columns=_header_map("ja")), fy)
    elif fmt == "sav":
        _write_sav(stem.with_suffix(".sav"), wave.rename(columns=_header_map("ascii")), fy)
    else:  # pragma: no cover - spec is fixed
        raise ValueError(fmt)


def _write_xlsx(path: Path, data: pd.DataFrame, fy: int) -> None:
    """An Excel workbook as a contractor delivers it: a title row, a blank row, then the table."""
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "回答データ"
    ws.append([f"{fiscal_year_label(fy, style='era')} 半田市市民意識調査 回答データ（デモデータ）"])
    ws.append([])
    ws.append(list(data.columns))
    for row in data.itertuples(index=False):
        ws.append([None if pd.isna(v) else (int(v) if isinstance(v, (np.integer,)) else v)
                   for v in row])
    wb.properties.creator = "kyodo_analysis demo"
    wb.properties.created = dt.datetime(*_FIXED_TIME)
    wb.properties.modified = dt.datetime(*_FIXED_TIME)
    buffer = io.BytesIO()
    wb.save(buffer)
    _rezip_fixed_time(buffer.getvalue(), path)


def _rezip_fixed_time(blob: bytes, path: Path) -> None:
    """Rewrite an xlsx container with fixed timestamps, for byte-identical output.

    openpyxl stamps the save time into docProps/core.xml and into every zip member.
    """
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*_FIXED_TIME)
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(),
                                 content)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, content)


def _write_sav(path: Path, data: pd.DataFrame, fy: int) -> None:
    """SPSS file with ASCII variable names, Japanese variable and value labels."""
    import pyreadstat

    cb = _codebook_doc()
    ascii_names = _header_map("ascii")
    canonical = {v: k for k, v in ascii_names.items()}
    labels, value_labels = {}, {}
    scales = cb["scales"]
    for q in cb["questions"]:
        codes = q.get("codes") or scales.get(q.get("scale"), {}).get("codes")
        missing = q.get("missing", cb["missing_codes"])
        if q["type"] == "multiple":
            for opt in q["options"]:
                name = ascii_names[f"{q['id']}_{opt['code']}"]
                labels[name] = f"{q['text']}：{opt['label']}"
                value_labels[name] = {0: "選択なし", 1: "選択"}
            continue
        name = ascii_names[q["id"]]
        labels[name] = q["text"]
        if codes:
            value_labels[name] = {**{int(k): v for k, v in codes.items()},
                                  **{int(k): v for k, v in missing.items()}}
    data = data.copy()
    for name in data.columns:
        if canonical.get(name, "").startswith("q3_"):
            data[name] = data[name].astype("float64")
    pyreadstat.write_sav(
        data, str(path), file_label=f"{fiscal_year_label(fy, style='era')} 市民意識調査（デモ）",
        column_labels=[labels.get(c) for c in data.columns], variable_value_labels=value_labels,
    )
    _fix_sav_timestamp(path)


def _fix_sav_timestamp(path: Path) -> None:
    """Overwrite the creation date and time of an SPSS system file header.

    The header is fixed-layout: after 92 bytes come the creation date (9 bytes, "dd mmm yy")
    and time (8 bytes, "hh:mm:ss").
    """
    blob = bytearray(path.read_bytes())
    if blob[:4] not in (b"$FL2", b"$FL3"):  # pragma: no cover - pyreadstat always writes these
        raise ValueError(f"{path} is not an SPSS system file")
    blob[92:109] = b"01 Apr 2609:00:00"
    path.write_bytes(bytes(blob))


def _write_fieldwork(root: Path, sampled: pd.DataFrame, frame_sizes: pd.Series) -> None:
    """Sample sizes and returns by register attributes: what a response-rate table needs."""
    labels = dict(enumerate((g for g, _ in spec.AGE_GROUPS), start=1))
    counts = (sampled.groupby(["fiscal_year", "jhs", "sex", "age_group"], sort=False)["responded"]
              .agg(["size", "sum"]).reset_index())
    counts = counts.sort_values(["fiscal_year", "jhs", "sex", "age_group"],
                                key=lambda s: s.map(list(spec.DISTRICTS).index)
                                if s.name == "jhs" else s)
    out = pd.DataFrame({
        "年度": counts["fiscal_year"].map(lambda y: fiscal_year_label(y, style="era")),
        "中学校区": counts["jhs"],
        "性別": counts["sex"].map({1: "男性", 2: "女性"}),
        "年代": counts["age_group"].map(labels),
        "発送数": counts["size"],
        "回収数": counts["sum"],
    })
    out.to_csv(root / "fieldwork.csv", index=False, encoding="utf-8-sig")
    frame = pd.DataFrame({"中学校区": frame_sizes.index, "母集団数": frame_sizes.to_numpy()})
    frame.to_csv(root / "frame_sizes.csv", index=False, encoding="utf-8")


#: Activity series: name -> (Japanese label, policy, log baseline at FY2012, yearly trend,
#: COVID effect, plan level change, plan slope change, NB overdispersion alpha (0 = Poisson)).
_SERIES: dict[str, tuple[str, str, float, float, float, float, float, float]] = {
    "registered_groups": ("登録団体数", "II", np.log(158), 0.020, -0.05, 0.03, 0.015, 0.0),
    "grants_hajimete": ("助成件数（はじめの一歩）", "IV", np.log(3.0), 0.0, -0.4, 0.10, 0.0, 0.0),
    "grants_stepup": ("助成件数（ステップアップ）", "IV", np.log(2.8), 0.0, -0.4, 0.10, 0.0, 0.0),
    "grants_collabo": ("助成件数（コラボレーション）", "IV", np.log(2.2), 0.0, -0.4, 0.15, 0.0, 0.0),
    "grants_challenge": ("助成件数（チャレンジ）", "IV", np.log(2.4), 0.0, -0.4, 0.10, 0.0, 0.0),
    "collab_projects": ("協働事業数", "III", np.log(18), 0.010, -0.30, 0.20, 0.050, 0.0),
    "training_participants": ("研修・講座参加者数", "I", np.log(250), 0.010, -0.70, 0.25, 0.040,
                              0.02),
    "matching_cases": ("マッチング件数", "III", np.log(20), 0.010, -0.20, 0.40, 0.080, 0.0),
    "consultation_cases": ("相談件数", "IV", np.log(300), 0.015, -0.30, 0.10, 0.030, 0.01),
}
#: Workshop participants per 中学校区 at FY2012 (before growth).
_WORKSHOP_BASE = {"青山": 70.0, "成岩": 75.0, "半田": 110.0, "乙川": 95.0, "亀崎": 45.0}


def _counts(rng: np.random.Generator, mu: np.ndarray, alpha: float) -> np.ndarray:
    """Poisson counts, or negative binomial (NB2, variance mu + alpha mu^2) when alpha > 0."""
    if alpha > 0:
        mu = rng.gamma(shape=1 / alpha, scale=alpha * mu)
    return rng.poisson(mu)


def _write_activity(root: Path, rng: np.random.Generator) -> dict[str, dict]:
    years = np.array(spec.ACTIVITY_YEARS)
    table = pd.DataFrame({"年度": [fiscal_year_label(y, style="era") for y in years]})
    truth: dict[str, dict] = {}
    for name, (label, policy, b0, b1, bc, b3, b4, alpha) in _SERIES.items():
        params = {"intercept": b0, "trend": b1, "covid": bc, "plan_level": b3,
                  "plan_slope": b4, "nb_alpha": alpha}
        mu = series_mu(params, years)
        table[label] = _counts(rng, mu, alpha)
        truth[name] = {"label": label, "policy": policy, **params,
                       "mu": dict(zip(map(int, years), mu.round(6).tolist(), strict=True))}
    long = []
    for jhs, base in _WORKSHOP_BASE.items():
        g = spec.WORKSHOP_GROWTH[jhs]
        params = {"intercept": np.log(base), "trend": 0.01, "covid": -0.6,
                  "plan_level": 0.10 * g, "plan_slope": 0.12 * g, "nb_alpha": 0.01}
        counts = _counts(rng, series_mu(params, years), 0.01)
        long.append(pd.DataFrame({"年度": table["年度"], "中学校区": jhs, "参加者数": counts}))
        truth[f"workshop_participants:{jhs}"] = {
            "label": f"ワークショップ参加者数（{jhs}）", "policy": "I", **params}
    ws = pd.concat(long, ignore_index=True)
    table.insert(1, "ワークショップ参加者数", ws.groupby("年度", sort=False)["参加者数"].sum().to_numpy())
    table.to_csv(root / "activity_statistics.csv", index=False, encoding="cp932",
                 lineterminator="\r\n")
    ws.to_csv(root / "workshop_by_district.csv", index=False, encoding="cp932",
              lineterminator="\r\n")
    return truth


def _write_truth_json(root: Path, seed: int, series: dict[str, dict]) -> None:
    truth = {
        "note": "Known truth of the synthetic demo study (デモデータ). Not Handa City data.",
        "seed": seed,
        "plan_start": spec.PLAN_START,
        "awareness_effect": {
            "description": "Yearly rise of the awareness logit after FY2021 = "
                           "slope_per_growth x workshop growth of the 中学校区",
            "slope_per_growth": spec.AWARENESS_SLOPE_PER_GROWTH,
            "workshop_growth": spec.WORKSHOP_GROWTH,
        },
        "response_model": {
            "intercept": spec.RESPONSE_INTERCEPT, "age_group": spec.RESPONSE_AGE,
            "male": spec.RESPONSE_MALE, "district": spec.RESPONSE_DISTRICT,
        },
        "activity_series": series,
    }
    text = json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True)
    (root / "truth" / "truth.json").write_text(text + "\n", encoding="utf-8")


def _write_config(root: Path, truth: pd.DataFrame, frame_sizes: pd.Series) -> None:
    shutil.copyfile(resources.files("kyodo_analysis.demo").joinpath("codebook.yaml"),
                    root / "codebook.yaml")
    city = truth[(truth["domain_type"] == "city") & (truth["fiscal_year"] == 2021)]
    base = dict(zip(city["indicator"], city["value"], strict=True))
    activity = pd.read_csv(root / "activity_statistics.csv", encoding="cp932")
    activity["fiscal_year"] = activity.iloc[:, 0].map(parse_fiscal_year)
    indicators = _demo_indicators(base, activity)
    (root / "indicators.yaml").write_text(
        "# 指標（デモ用の例示値）: baselines and targets are illustrative demo values, not the\n"
        "# city's. Baselines are the FY2021 synthetic population values, rounded.\n"
        + yaml.safe_dump(indicators, allow_unicode=True, sort_keys=False), encoding="utf-8")
    waves = []
    for fy in spec.FISCAL_YEARS:
        fmt, encoding = spec.WAVE_FORMATS[fy]
        wave = {"fiscal_year": fy, "file": f"raw/survey_FY{fy}.{fmt}", "format": fmt}
        if encoding:
            wave["encoding"] = encoding
        if fmt == "xlsx":
            wave.update(sheet="回答データ", header_row=3)
        waves.append(wave)
    study = {
        "study": "handa-demo",
        "title": "半田市 市民意識調査・市民活動統計（デモデータ）",
        "demo": True,
        "notice": spec.SYNTHETIC_NOTICE,
        "codebook": "codebook.yaml",
        "indicators": "indicators.yaml",
        "population": "population_margins.csv",
        "fieldwork": "fieldwork.csv",
        "activity": {"file": "activity_statistics.csv", "encoding": "cp932",
                     "by_district": [{"file": "workshop_by_district.csv", "encoding": "cp932",
                                      "series": "ワークショップ参加者数", "level": "中学校区"}]},
        "design": {"strata": "stratum", "frame_sizes": "frame_sizes.csv",
                   # Raking: data column (register attribute) -> population_margins column.
                   "weighting": {"method": "rake",
                                 "margins": {"stratum": "中学校区", "reg_sex": "性別",
                                             "reg_age": "年代"}}},
        "suppression_threshold": 10,
        # 中学校区 come from the register (the sampling stratum); 小学校区 are self-reported.
        "districts": [
            {"name": "中学校区", "column": "stratum", "source": "register"},
            {"name": "小学校区", "column": "f3", "parent": "中学校区",
             "within": {jhs: list(parts) for jhs, (_, parts) in spec.DISTRICTS.items()}},
        ],
        "attributes": [
            {"name": "性別", "column": "reg_sex"},
            {"name": "年代", "column": "reg_age"},
            {"name": "居住年数", "column": "f4"},
            {"name": "職業", "column": "f5"},
        ],
        "headline": {
            "questions": ["q1", "q2", "q3", "q4"],
            "figures": [
                {"label": "「協働」を知っている（よく＋ある程度）", "question": "q1", "codes": [1, 2]},
                {"label": "地域活動・市民活動に関心がある", "question": "q2", "codes": [1, 2]},
                {"label": "この1年間に活動に参加した", "question": "q3_6", "codes": [0]},
                {"label": "今後参加したい（参加中を含む）", "question": "q4", "codes": [1, 2, 3]},
            ],
        },
        "plan": _plan_config(),
        "collaboration": _collaboration_config(),
        "waves": waves,
    }
    (root / "study.yaml").write_text(
        "# Study configuration of the synthetic demo (デモデータ); generated by `kyodo demo`.\n"
        + yaml.safe_dump(study, allow_unicode=True, sort_keys=False), encoding="utf-8")
    readme = ("このフォルダのデータはすべて kyodo_analysis が生成した合成データ（デモデータ）です。\n"
              "実在の半田市の調査結果・統計ではありません。\n"
              f"母集団の18歳以上人口: {int(frame_sizes.sum()):,}人\n")
    (root / "README.txt").write_text(readme, encoding="utf-8")


def _plan_config() -> dict:
    """The plan block of the demo's study.yaml: the plan's structure from the shipped template,
    the demo's plan years, and the years COVID-19 disrupted activity."""
    plan = yamlio.safe_load(resources.files("kyodo_analysis.templates").joinpath("plan.yaml")
                          .read_text(encoding="utf-8"))
    return {**plan, "disrupted_years": list(spec.COVID_YEARS),
            "reference_years": list(spec.REFERENCE_YEARS)}


def _demo_indicators(base: dict[str, float], activity: pd.DataFrame | None = None) -> dict:
    """The demo's indicators.yaml: every policy (I–V) of the plan, survey and activity
    indicators, one "lower is better". Illustrative values (デモ用の例示値), not the city's.

    Survey baselines are the FY2021 synthetic population values (``truth`` names the row of
    truth_indicators.csv); activity baselines
    are the FY2021 counts of the generated statistics, and their targets are set from the
    pre-COVID FY2019 level (the evaluation warns that FY2021 is a disrupted year and shows
    the reading against the reference years).
    """
    def pct(key: str) -> float:
        return round(100 * base[key], 1)

    def survey(ind_id, name, policy, measure, question, levels, key, up26, up31, *,
               direction="higher"):
        b = pct(key)
        sign = 1 if direction == "higher" else -1
        out = {"id": ind_id, "name": name, "policy": policy, "measure": measure,
               "source": {"type": "survey", "question": question, "statistic": "share",
                          "levels": levels},
               "unit": "%", "direction": direction,
               "baseline": {"fiscal_year": 2021, "value": b},
               "targets": {2026: round(b + sign * up26, 1), 2031: round(b + sign * up31, 1)},
               "truth": key}
        return out

    def count(series: str | list[str], year: int) -> int:
        names = [series] if isinstance(series, str) else series
        if activity is None:
            return 0
        row = activity[activity["fiscal_year"] == year]
        return int(sum(row[n].iloc[0] for n in names))

    def act(ind_id, name, policy, measure, series, unit, f26, f31):
        pre = count(series, 2019)
        return {"id": ind_id, "name": name, "policy": policy, "measure": measure,
                "source": {"type": "activity", "series": series}, "unit": unit,
                "direction": "higher",
                "baseline": {"fiscal_year": 2021, "value": count(series, 2021)},
                "targets": {2026: round(pre * f26), 2031: round(pre * f31)}}

    grants = [label for label, *_ in _SERIES.values() if label.startswith("助成件数")]
    return {
        "demo": True,
        "grading": {"no_change_band": 0.10},
        "indicators": [
            survey("I-1", "「協働」を知っている市民の割合", "I", "1", "q1", [1, 2],
                   "awareness_top2", 12.0, 20.0),
            survey("I-2", "講座・ワークショップに参加した市民の割合", "I", "1", "q3_4", [1],
                   "participation_workshop", 5.4, 10.0),
            act("I-3", "ワークショップ参加者数", "I", "1", "ワークショップ参加者数", "人",
                1.5, 2.0),
            act("I-4", "研修・講座参加者数", "I", "2", "研修・講座参加者数", "人", 1.3, 1.5),
            survey("II-1", "地域活動・市民活動に関心がある市民の割合", "II", "1", "q2", [1, 2],
                   "interest_top2", 6.0, 12.0),
            survey("II-2", "市民活動の情報や交流の場に満足している市民の割合", "II", "1", "q5_2",
                   [1, 2], "satisfied_top2_2", 6.0, 12.0),
            act("II-3", "市民活動センター登録団体数", "II", "2", "登録団体数", "団体", 1.15, 1.3),
            act("III-1", "マッチング件数", "III", "1", "マッチング件数", "件", 2.0, 3.0),
            act("III-2", "協働事業数", "III", "2", "協働事業数", "件", 1.3, 1.6),
            survey("III-3", "市民・団体・行政の連携に満足している市民の割合", "III", "2", "q5_3",
                   [1, 2], "satisfied_top2_3", 6.0, 10.0),
            act("IV-1", "市民活動助成件数（4区分計）", "IV", "1", grants, "件", 1.2, 1.4),
            act("IV-2", "相談件数", "IV", "1", "相談件数", "件", 1.3, 1.5),
            survey("IV-3", "地域活動・市民活動に参加した市民の割合", "IV", "1", "q3_6", [0],
                   "participation_any", 10.0, 15.0),
            survey("V-1", "協働の取組の見える化に満足している市民の割合", "V", "1", "q5_5", [1, 2],
                   "satisfied_top2_5", 8.0, 15.0),
            survey("V-2", "今後、市民活動に参加したい市民の割合", "V", "2", "q4", [1, 2, 3],
                   "intention_top3", 8.0, 12.0),
            survey("V-3", "市民活動に参加したいとは思わない市民の割合", "V", "2", "q4", [4],
                   "intention_none", 4.0, 6.0, direction="lower"),
        ],
    }


# ----------------------------------------------------------------------------- collaboration
#: File names of the demo's collaboration register and review sheet.
COLLAB_REGISTER = "collaboration_register.csv"
COLLAB_REVIEWS = "collaboration_reviews.csv"
#: Years the demo register covers (the plan's years up to the latest wave).
_COLLAB_YEARS = (2022, 2023, 2024, 2025)
_GRANT_PREFIX = "助成件数（"
_CITY_DEPARTMENTS = ["市民協働課", "生涯学習課", "子育て支援課", "防災危機管理課", "高齢介護課",
                     "商工観光課", "環境課", "学校教育課"]
_NPOS = ["NPO法人まちねっと", "NPO法人こどもの森", "NPO法人ささえあいネット", "NPO法人みどりの会",
         "NPO法人多文化ひろば", "NPO法人スポーツクラブ結", "NPO法人子ども食堂つなぐ",
         "NPO法人ゆめ工房", "NPO法人防災ボランティア隊", "NPO法人はなみずき"]
_GROUPS = ["子育てサークルひだまり", "読み聞かせの会おはなし", "ごみゼロの会", "ふれあい体操クラブ",
           "多文化交流サロン", "山車まつり保存会", "里山を守る会", "シニア見守り隊", "写真サークル光",
           "外国籍市民の会", "朗読ボランティア", "まちかど音楽会", "料理教室なかま", "若者の居場所づくり",
           "防犯パトロール隊", "花いっぱいの会", "歴史を学ぶ会", "ボードゲーム交流会"]
_BUSINESSES = ["株式会社ちた印刷", "みなと信用金庫", "駅前商店街振興組合", "株式会社みなと物流",
               "蔵のまち醸造", "コミュニティFMはんだ"]
_SCHOOLS = ["A大学", "B高等学校", "C中学校", "D専門学校"]
_TITLES = ["子ども食堂", "防災訓練", "多文化共生講座", "見守り活動", "環境美化", "まちづくりワークショップ",
           "子育てサロン", "健康体操教室", "地域の歴史講座", "若者交流会", "情報発信講座", "担い手養成講座",
           "協働フォーラム", "マッチング交流会", "地域の祭り", "図書館ボランティア"]
#: 施策 codes by weight: II-1 is rare and V-1 has none, so the plan tree shows gaps.
_MEASURE_WEIGHTS = {"I-1": 4, "I-2": 3, "II-1": 0.3, "II-2": 2, "III-1": 4, "III-2": 3,
                    "IV-1": 1, "V-2": 0.5}
_FORMS_NONGRANT = {"委託": 3, "共催": 4, "事業協力・協定": 3, "実行委員会・協議会": 2, "後援": 1,
                   "情報交換": 1}
_REVIEW_ITEMS = ["目的の共有", "役割分担", "対等性", "情報共有", "相乗効果", "成果", "継続の意向"]
#: Mean review score by side and item (city side higher on 対等性 and 情報共有: the gap the
#: demo's review pictures should show).
_REVIEW_MEANS = {"行政": [4.1, 3.9, 4.0, 3.9, 3.8, 3.7, 4.2],
                 "市民側": [4.0, 3.6, 3.1, 3.0, 3.7, 3.8, 4.1]}
_REVIEW_COMMENTS = ["役割分担を最初に話し合えたのがよかった。", "情報共有の頻度をもっと増やしたい。",
                    "市の手続きに時間がかかった。", "参加者が想定より多く、次年度も続けたい。",
                    "対等な立場で意見を言いにくい場面があった。", "他の団体とつながるきっかけになった。",
                    "事務局の負担が大きかった。"]
_REVIEW_PERSONAL = "詳細は担当の山田（090-1234-5678）まで。"


def _collab_counts(root: Path) -> dict[int, dict[str, int]]:
    """The activity statistics the register must match, by fiscal year: 協働事業数,
    マッチング件数 and the grants by category."""
    table = pd.read_csv(root / "activity_statistics.csv", encoding="cp932")
    table["fy"] = table.iloc[:, 0].map(parse_fiscal_year)
    out = {}
    for y in _COLLAB_YEARS:
        row = table[table["fy"] == y].iloc[0]
        out[y] = {c: int(row[c]) for c in table.columns
                  if c in ("協働事業数", "マッチング件数") or c.startswith(_GRANT_PREFIX)}
    return out


def _fy_date(rng: np.random.Generator, fy: int, low: int, high: int) -> pd.Timestamp:
    """A date ``low``..``high`` days after 1 April of ``fy``."""
    return pd.Timestamp(fy, 4, 1) + pd.Timedelta(days=int(rng.integers(low, high + 1)))


def _pick_weighted(rng: np.random.Generator, weights: dict) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _collab_register(rng: np.random.Generator, counts: dict[int, dict[str, int]]) -> pd.DataFrame:
    """The demo register: per fiscal year exactly 協働事業数 implemented projects without a
    grant running in the year (about a third continue from the year before), one grant
    project per 助成件数 of each category, and as many dated matchings as マッチング件数
    (projects that stalled after マッチング make up the difference); a few consultations never
    went further. Partners are drawn with preferential attachment, so a few groups become hubs.
    """
    orgs = ([(n, "NPO法人") for n in _NPOS] + [(n, "市民活動団体") for n in _GROUPS]
            + [(f"{e}自治区", "自治区・町内会") for e in spec.ELEMENTARY]
            + [(f"{j}まちづくり協議会", "まちづくり協議会") for j in spec.DISTRICTS]
            + [(n, "事業者") for n in _BUSINESSES] + [(n, "教育機関") for n in _SCHOOLS])
    degree = dict.fromkeys(orgs, 0)
    parent = {e: j for j, (_, parts) in spec.DISTRICTS.items() for e in parts}
    citizens = 0
    projects: list[dict] = []

    def partners_for(n_other: int, lead_city: bool) -> list[tuple[str, str]]:
        nonlocal citizens
        w = np.array([1.0 + degree[o] for o in orgs])
        chosen = [orgs[i] for i in rng.choice(len(orgs), size=n_other, replace=False, p=w / w.sum())]
        for o in chosen:
            degree[o] += 1
        if rng.random() < 0.12:
            citizens += 1
            chosen.append((f"市民ボランティア{citizens}", "市民"))
        dept = (_CITY_DEPARTMENTS[int(rng.choice(len(_CITY_DEPARTMENTS),
                                                  p=np.array([6, 2, 2, 1.5, 1.5, 1, 1, 1]) / 16))],
                "行政")
        return [dept, *chosen] if lead_city else [*chosen, dept]

    def new_project(fy: int, *, form: str, measure: str, grant: str | None, n_other: int,
                    lead_city: bool, stage: str, matched: bool) -> dict:
        partners = partners_for(n_other, lead_city)
        consult = _fy_date(rng, fy, 0, 170)
        rec = {"fy": fy, "end": fy, "form": form, "measure": measure, "grant": grant,
               "partners": partners, "相談": consult, "stage": stage,
               "title": _TITLES[int(rng.integers(len(_TITLES)))]}
        match = consult + pd.Timedelta(days=int(rng.integers(7, 60)))
        rec["マッチング"] = match if matched else None
        base = match if matched else consult
        if stage in ("implemented",):
            rec["企画"] = base + pd.Timedelta(days=int(rng.integers(7, 45)))
            rec["実施開始"] = rec["企画"] + pd.Timedelta(days=int(rng.integers(10, 60)))
        local = [p for p, t in partners if t in ("自治区・町内会", "まちづくり協議会")]
        rec["中学校区"] = rec["小学校区"] = None
        if local:
            name = local[0]
            if name.endswith("自治区"):
                rec["小学校区"] = name.removesuffix("自治区")
                rec["中学校区"] = parent[rec["小学校区"]]
            else:
                rec["中学校区"] = name.removesuffix("まちづくり協議会")
        return rec

    running_prev: list[dict] = []
    for y in _COLLAB_YEARS:
        c = counts[y]
        lead_city_p = 0.55 - 0.07 * (y - _COLLAB_YEARS[0])   # the plan moves the lead to citizens
        pool = [running_prev[i] for i in rng.permutation(len(running_prev))]
        cont = pool[: round(0.35 * len(pool))]
        cont = cont[: c["協働事業数"]]
        for p in cont:
            p["end"] = y
        n_new = c["協働事業数"] - len(cont)
        grants = [(k[len(_GRANT_PREFIX):-1], v) for k, v in c.items() if k.startswith(_GRANT_PREFIX)]
        n_grants = sum(v for _, v in grants)
        matched_budget = c["マッチング件数"]
        year: list[dict] = []
        for i in range(n_new):
            year.append(new_project(y, form=_pick_weighted(rng, _FORMS_NONGRANT),
                                    measure=_pick_weighted(rng, _MEASURE_WEIGHTS), grant=None,
                                    n_other=int(rng.choice([1, 1, 2, 2, 3])),
                                    lead_city=rng.random() < lead_city_p, stage="implemented",
                                    matched=i < matched_budget))
        matched_budget -= min(n_new, matched_budget)
        for k, (category, n) in enumerate(g for g in grants for _ in range(g[1])):
            del n
            year.append(new_project(y, form="補助・助成", measure="IV-1", grant=category,
                                    n_other=1, lead_city=False, stage="implemented",
                                    matched=k < matched_budget))
        matched_budget -= min(n_grants, matched_budget)
        for _ in range(matched_budget):   # matched, then stalled before 企画
            year.append(new_project(y, form=_pick_weighted(rng, _FORMS_NONGRANT),
                                    measure=_pick_weighted(rng, _MEASURE_WEIGHTS), grant=None,
                                    n_other=1, lead_city=False, stage="stalled", matched=True))
        for _ in range(int(rng.integers(3, 7))):   # consultations that went no further
            year.append(new_project(y, form=_pick_weighted(rng, _FORMS_NONGRANT),
                                    measure=_pick_weighted(rng, _MEASURE_WEIGHTS), grant=None,
                                    n_other=1, lead_city=False, stage="consulted", matched=False))
        projects += year
        running_prev = cont + [p for p in year if p["stage"] == "implemented" and p["grant"] is None]
    rows = []
    last_day = pd.Timestamp(_COLLAB_YEARS[-1] + 1, 3, 31)
    for k, p in enumerate(projects, start=1):
        end_of_fy = pd.Timestamp(p["end"] + 1, 3, 31)
        finish = review = None
        if "実施開始" in p:
            low = max((end_of_fy - pd.Timedelta(days=330) - p["実施開始"]).days, 30)
            span = int(rng.integers(low, max(low + 1, (end_of_fy - p["実施開始"]).days - 20)))
            finish = p["実施開始"] + pd.Timedelta(days=span)
            if rng.random() < 0.8:
                review = finish + pd.Timedelta(days=int(rng.integers(5, 20)))
        if finish is not None and finish > last_day - pd.Timedelta(days=120) \
                and p["end"] == _COLLAB_YEARS[-1] and rng.random() < 0.5:
            finish = review = None   # still running when the register was exported
        era = p["fy"] % 2 == 0   # half the years written in 和暦, as a city's sheet is

        def fmt(d, era=era):
            if d is None or pd.isna(d):
                return ""
            if era:
                e, n = era_year(d.year)
                return f"{e}{n}年{d.month}月{d.day}日"
            return f"{d.year}/{d.month}/{d.day}"

        partners = "、".join(f"{n}（{t}）" for n, t in p["partners"])
        kind = "助成" if p["grant"] else p["form"]
        implemented = "実施開始" in p
        rows.append({
            "事業ID": f"K{p['fy'] % 100:02d}-{k:03d}",
            "事業名": f"{p['title']}（{kind}）",
            "開始年度": fiscal_year_label(p["fy"], style="era"),
            "終了年度": fiscal_year_label(p["end"], style="era") if p["end"] != p["fy"] else "",
            "施策": p["measure"],
            "協働の形態": p["form"],
            "相手方": partners,
            "相談日": fmt(p["相談"]), "マッチング日": fmt(p.get("マッチング")),
            "企画日": fmt(p.get("企画")), "実施開始日": fmt(p.get("実施開始")),
            "実施終了日": fmt(finish), "振り返り日": fmt(review),
            "参加者数": int(rng.poisson(60 if p["grant"] else 120)) if implemented else "",
            "事業費": (int(rng.integers(5, 50)) * 10_000 if p["grant"]
                    else int(rng.integers(10, 300)) * 10_000) if implemented else "",
            "助成区分": p["grant"] or "",
            "中学校区": p["中学校区"] or "",
            "小学校区": p["小学校区"] or "",
        })
    return pd.DataFrame(rows)


def _collab_reviews(rng: np.random.Generator, register: pd.DataFrame) -> pd.DataFrame:
    """Both sides' review of every project with a 振り返り date (one side missing for about
    one in ten), scores around :data:`_REVIEW_MEANS`."""
    rows = []
    for r in register[register["振り返り日"] != ""].itertuples(index=False):
        year = r.終了年度 or r.開始年度
        sides = ["行政", "市民側"]
        if rng.random() < 0.1:
            sides = [sides[int(rng.integers(2))]]
        for side in sides:
            scores = np.clip(np.rint(np.array(_REVIEW_MEANS[side]) + rng.normal(0, 0.7, 7)), 1, 5)
            comment = ""
            if rng.random() < 0.4:
                comment = _REVIEW_COMMENTS[int(rng.integers(len(_REVIEW_COMMENTS)))]
                if rng.random() < 0.05:
                    comment += _REVIEW_PERSONAL
            rows.append({"事業ID": r.事業ID, "年度": year, "立場": side,
                         **dict(zip(_REVIEW_ITEMS, scores.astype(int).tolist(), strict=True)),
                         "コメント": comment})
    return pd.DataFrame(rows)


def _write_collaboration(root: Path, seed: int) -> None:
    """Write the demo register (CP932 CSV under a title row) and review sheet (UTF-8 CSV)
    from their own random stream, so the other demo files do not change with them."""
    rng = np.random.default_rng([seed, 15])
    register = _collab_register(rng, _collab_counts(root))
    text = "協働事業台帳（デモデータ・合成）\r\n" + register.to_csv(index=False, lineterminator="\r\n")
    (root / COLLAB_REGISTER).write_bytes(text.encode("cp932"))
    _collab_reviews(rng, register).to_csv(root / COLLAB_REVIEWS, index=False,
                                          encoding="utf-8-sig")


def _collaboration_config() -> dict:
    """The demo's ``collaboration:`` block of study.yaml."""
    return {"register": {"file": COLLAB_REGISTER, "encoding": "cp932"},
            "reviews": COLLAB_REVIEWS,
            "grant_categories": [label[len(_GRANT_PREFIX):-1] for label, *_ in _SERIES.values()
                                 if label.startswith(_GRANT_PREFIX)]}
# ----------------------------------------------------------------- attitudes (issue #16)
#: Attitude items (協働への態度) and their true model: two correlated factors built on the
#: latent civic-mindedness that already drives interest, participation, satisfaction and
#: importance: engagement ``F1 = 0.8 civic + 0.6 e1`` and trust in the city
#: ``F2 = 0.4 civic + sqrt(0.84) e2`` (corr(F1, F2) = 0.32). Item ``k`` answers
#: ``y* = loading F + sqrt(1 - loading^2) e`` cut at :data:`ATTITUDE_CUTS` into the five codes
#: of the agree5 scale (1 = そう思う); q8_3 is reverse-keyed (negative loading). A share of
#: respondents answers わからない (code 6) or leaves the item blank (9, 無回答).
ATTITUDE_ITEMS = ["q8_1", "q8_2", "q8_3", "q8_4", "q8_5", "q8_6"]
ATTITUDE_MODEL = {
    "q8_1": ("engagement", 0.80), "q8_2": ("engagement", 0.70), "q8_3": ("engagement", -0.60),
    "q8_4": ("trust", 0.80), "q8_5": ("trust", 0.70), "q8_6": ("trust", 0.65),
}
ATTITUDE_FACTORS = {"engagement": 0.8, "trust": 0.4}  # loading of civic on each factor
ATTITUDE_CUTS = [-1.2, -0.4, 0.5, 1.3]  # on y* (higher y* = more agreement)
ATTITUDE_DONT_KNOW = 0.03
ATTITUDE_NONRESPONSE = 0.02


def attitude_answers(resp: pd.DataFrame, fy: int, seed: int) -> pd.DataFrame:
    """Answers of respondents ``resp`` (with their latent ``civic``) to the attitude items.

    Drawn from a generator of its own, seeded from the study seed and the fiscal year, so
    every other variable of the demo keeps its random draws.
    """
    rng = np.random.default_rng([seed, fy, 16])
    civic = resp["civic"].to_numpy()
    n = len(civic)
    factors = {name: load * civic + np.sqrt(1 - load**2) * rng.standard_normal(n)
               for name, load in ATTITUDE_FACTORS.items()}
    out = {}
    for item, (factor, load) in ATTITUDE_MODEL.items():
        ystar = load * factors[factor] + np.sqrt(1 - load**2) * rng.standard_normal(n)
        code = 5 - np.searchsorted(ATTITUDE_CUTS, ystar)  # 1 = そう思う … 5 = そう思わない
        u = rng.random(n)
        out[item] = np.where(u < ATTITUDE_NONRESPONSE, 9,
                             np.where(u < ATTITUDE_NONRESPONSE + ATTITUDE_DONT_KNOW, 6, code))
    return pd.DataFrame(out, index=resp.index)


def _write_attitude_truth(root: Path) -> None:
    truth = {
        "note": "Known truth of the demo's attitude items (synthetic). civic is the latent "
                "trait that drives awareness (q1), interest (q2), participation (q3, +0.8 on "
                "the logit of every activity), satisfaction (q5, +0.3) and importance (q6, "
                "+0.35).",
        "factors": {name: {"civic_loading": load} for name, load in ATTITUDE_FACTORS.items()},
        "factor_correlation": ATTITUDE_FACTORS["engagement"] * ATTITUDE_FACTORS["trust"],
        "items": {item: {"factor": f, "loading": load, "reverse_keyed": load < 0}
                  for item, (f, load) in ATTITUDE_MODEL.items()},
        "cuts": ATTITUDE_CUTS,
        "dont_know_share": ATTITUDE_DONT_KNOW,
        "nonresponse_share": ATTITUDE_NONRESPONSE,
        "driver_signs": {"interest (q2 top 2)": "+", "engagement score": "+",
                         "trust score": "+ (through civic)"},
    }
    text = json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True)
    (root / "truth" / "attitude_model.json").write_text(text + "\n", encoding="utf-8")
