"""Any real study reaches a complete report: nothing in the package assumes the demo."""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
import yaml
from report_support import kyodo

from kyodo_analysis.study import Study


def _notes(page) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [unescape(m) for m in re.findall(r'<p style="background:#f4f6f8[^"]*">(.*?)</p>', text)]


@pytest.mark.slow
def test_a_study_with_only_waves_and_a_codebook_gets_every_page(demo_dir, tmp_path):
    """No weighting, fieldwork, indicators, activity statistics, districts or plan: every page
    is still complete and each missing section says what to add to study.yaml."""
    root = tmp_path / "minimal"
    root.mkdir()
    shutil.copy(demo_dir / "codebook.yaml", root / "codebook.yaml")
    shutil.copytree(demo_dir / "raw", root / "raw")
    (root / "study.yaml").write_text(
        "study: minimal\ntitle: 最小の調査\ncodebook: codebook.yaml\nwaves:\n"
        "  - {fiscal_year: R6, file: raw/survey_FY2024.sav}\n"
        "  - {fiscal_year: 令和7年度, file: raw/survey_FY2025.csv}\n", encoding="utf-8")
    proc = kyodo("report", "--study", str(root / "study.yaml"), "--out", str(tmp_path / "out"),
                 "--fiscal-year", "FY2025")
    assert proc.returncode == 0, proc.stderr[-3000:]
    latest = tmp_path / "out" / "minimal" / "FY2025" / "latest"
    pages = {p.stem: p for p in latest.glob("*.html") if p.stem != "index"}
    assert set(pages) == {"01_overview", "02_indicators", "03_trends", "04_district",
                          "05_comparison", "06_collaboration", "07_awareness",
                          "08_crosstabs"}
    index = (latest / "index.html").read_text(encoding="utf-8")
    assert index.count(">完了<") == 8 and "失敗" not in index
    assert any("fieldwork:" in n for n in _notes(pages["01_overview"]))
    assert any("design.weighting" in n for n in _notes(pages["01_overview"]))
    assert any("indicators:" in n for n in _notes(pages["02_indicators"]))
    assert any("activity:" in n for n in _notes(pages["03_trends"]))
    assert any("districts" in n for n in _notes(pages["04_district"]))
    assert any("collaboration:" in n for n in _notes(pages["06_collaboration"]))
    assert "Traceback" not in "".join(p.read_text(encoding="utf-8") for p in pages.values())


# ------------------------------------------------------------------ municipal exports, end to end
@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    from municipal import make_exports

    return make_exports(tmp_path_factory.mktemp("exports"))


def _init_import(exports, kind: str, root) -> Path:
    proc = kyodo("init", "--from", str(exports[kind]), "--out", str(root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = root / "study.yaml"
    proc = kyodo("import", "--study", str(study))
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: some rows quarantined, with reasons
    return study


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["xlsx", "csv", "sav"])
def test_init_import_report_on_a_municipal_export(exports, tmp_path, kind):
    """A city's export (merged two-row header and footnotes; a CP932 CSV headed by question
    text; SPSS with value labels) is initialised, imported and gives a design with no Python
    edited; the xlsx goes on to a complete report."""
    study = _init_import(exports, kind, tmp_path / "study")
    s = Study.from_yaml(study)
    data = s.load_wave(exports["fiscal_year"])
    assert len(data) == len(exports["clean"])  # footnote rows are not respondents
    assert len(s.design(exports["fiscal_year"]).data) == len(data)
    if kind != "xlsx":
        # after the import the report path does not depend on the file format: one full
        # report (the xlsx, the hardest header) keeps the CI within its time budget
        return
    proc = kyodo("report", "--study", str(study), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    latest = tmp_path / "out" / s.name / f"FY{exports['fiscal_year']}" / "latest"
    index = (latest / "index.html").read_text(encoding="utf-8")
    assert index.count(">完了<") == 8 and "失敗" not in index


def _label_shares(design, codebook, qid: str) -> dict[str, float]:
    q = codebook[qid]
    out = {}
    for code, label in q.codes.items():
        y = (design.data[qid] == code).astype(float).where(design.data[qid].isin(list(q.codes)))
        out[label] = float(design.assign(_y=y).mean("_y", na_rm=True)["estimate"].iloc[0])
    return out


@pytest.mark.slow
def test_aliases_sampling_list_and_weighting_in_yaml_only_equal_the_hand_coded_data(exports, tmp_path):
    """After init, the city adds in YAML only: a sampling list joined by 整理番号 (register
    district, sex, age), an age-band recode, population margins and raking. The weighted
    estimates then equal those of the same respondents hand-coded and raked directly."""
    from municipal import AGE10, DISTRICTS, QUESTIONS

    from kyodo_analysis.stats import SurveyDesign, rake

    root = tmp_path / "study"
    proc = kyodo("init", "--from", str(exports["xlsx"]), "--out", str(root))
    assert proc.returncode == 0, proc.stderr
    cb_doc = yaml.safe_load((root / "codebook.yaml").read_text(encoding="utf-8"))
    cb_doc["questions"] += [
        {"id": "reg_area", "text": "抽出時の地区", "type": "design",
         "codes": {k + 1: d for k, d in enumerate(DISTRICTS)}},
        {"id": "reg_sex", "text": "抽出時の性別", "type": "design", "codes": {1: "男性", 2: "女性"}},
        {"id": "reg_age", "text": "抽出時の年齢", "type": "numeric", "range": [18, 120]},
    ]
    bins = {1: [18, 19], **{k + 1: [10 * (k + 1), 10 * (k + 1) + 9] for k in range(1, 7)},
            8: [80, None]}
    cb_doc["derived"] = [{"id": "reg_age_group", "from": "reg_age", "type": "design", "text": "抽出時の年代",
                          "codes": {k + 1: a for k, a in enumerate(AGE10)}, "bins": bins}]
    (root / "codebook.yaml").write_text(yaml.safe_dump(cb_doc, allow_unicode=True), encoding="utf-8")
    doc = yaml.safe_load((root / "study.yaml").read_text(encoding="utf-8"))
    doc["sampling_list"] = {"id_column": "整理番号",
                            "columns": {"中学校区": "reg_area", "性別": "reg_sex", "年齢": "reg_age"}}
    doc["waves"][0]["sampling_list"] = str(exports["sampling_list"])
    doc["population"] = {"file": str(exports["margins"]), "encoding": "cp932"}
    doc["design"] = {"weighting": {"method": "rake", "margins": {
        "reg_area": "地区", "reg_sex": "性別", "reg_age_group": "年代"}}}
    doc["districts"] = [{"name": "地区", "column": "reg_area", "source": "register"}]
    doc["attributes"] = [{"name": "性別", "column": "reg_sex"}, {"name": "年代", "column": "reg_age_group"}]
    (root / "study.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                                     encoding="utf-8")
    proc = kyodo("import", "--study", str(root / "study.yaml"))
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    s = Study.from_yaml(root / "study.yaml")
    fy = exports["fiscal_year"]
    ours = s.design(fy)
    assert s.weighted and len(ours.data) == len(exports["clean"])

    # the same respondents coded by hand, joined to the list and raked to the same margins
    frame = exports["frame"].rename(columns={"整理番号": "id"})
    hand = exports["clean"].merge(frame, on="id", how="left", validate="one_to_one")
    band = pd.cut(hand["年齢"], [0, 19, 29, 39, 49, 59, 69, 79, 200], labels=AGE10)
    pop = pd.read_csv(exports["margins"], encoding="cp932")
    targets = {c: pop.groupby(c, sort=False)["人口"].sum() for c in ("地区", "性別", "年代")}
    cols = {"地区": pd.Categorical(hand["中学校区"], categories=list(targets["地区"].index)),
            "性別": pd.Categorical(hand["性別"], categories=list(targets["性別"].index)),
            "年代": pd.Categorical(band.astype(str), categories=list(targets["年代"].index))}
    theirs = rake(SurveyDesign(hand.assign(**cols)), targets)
    labels = next(q for q in QUESTIONS if q["id"] == "q5")["labels"]
    hand_shares = {}
    for k, label in enumerate(labels, start=1):
        y = (hand["q5"] == k).astype(float).where(hand["q5"].notna())
        hand_shares[label] = float(theirs.assign(_y=y).mean("_y", na_rm=True)["estimate"].iloc[0])
    assert _label_shares(ours, s.codebook, "q5") == pytest.approx(hand_shares, abs=1e-10)
    assert ours.weights.sum() == pytest.approx(pop["人口"].sum(), rel=1e-9)


@pytest.mark.slow
def test_import_by_study_and_a_changed_sampling_list_is_stale(exports, tmp_path):
    """kyodo import --study imports every wave into the study's own store; a report then
    refuses a wave whose sampling list changed since, naming what to re-import."""
    from kyodo_analysis.errors import ConfigError

    root = tmp_path / "study"
    assert kyodo("init", "--from", str(exports["csv"]), "--out", str(root)).returncode == 0
    cb = yaml.safe_load((root / "codebook.yaml").read_text(encoding="utf-8"))
    cb["questions"].append({"id": "reg_sex", "text": "抽出時の性別", "type": "design",
                            "codes": {1: "男性", 2: "女性"}})
    (root / "codebook.yaml").write_text(yaml.safe_dump(cb, allow_unicode=True), encoding="utf-8")
    listed = root / "meibo.csv"
    shutil.copy(exports["sampling_list"], listed)
    doc = yaml.safe_load((root / "study.yaml").read_text(encoding="utf-8"))
    doc["sampling_list"] = {"id_column": "整理番号", "columns": {"性別": "reg_sex"}}
    doc["waves"][0]["sampling_list"] = "meibo.csv"
    (root / "study.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    proc = kyodo("import", "--study", str(root / "study.yaml"))
    assert proc.returncode in (0, 1), proc.stderr
    s = Study.from_yaml(root / "study.yaml")
    assert f"store: {s.store_path}" in proc.stdout and s.store_path.is_file()
    data = s.load_wave(exports["fiscal_year"])
    frame = exports["frame"].set_index("整理番号")["性別"]
    assert (data["reg_sex"].map({1: "男性", 2: "女性"}).to_numpy()
            == frame.reindex(data["id"]).to_numpy()).all()
    s.ensure_imported()  # unchanged: nothing to do
    listed.write_bytes(listed.read_bytes().replace(b"\r\n", b"\n") + b"\n")
    with pytest.raises(ConfigError, match="sampling list"):
        Study.from_yaml(root / "study.yaml").ensure_imported()
