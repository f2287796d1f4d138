"""Partner bundles: build from a published demo run, unpack into an empty folder, reproduce
every table (identical, or the difference explained by the anonymisation), privacy audit,
path safety, tamper detection."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from kyodo_analysis.bundle import BundleError, build_bundle, open_bundle
from kyodo_analysis.bundle.package import validate_package, verify_bundle
from kyodo_analysis.bundle.study import safe_extract
from kyodo_analysis.cli import main
from kyodo_analysis.evaluation.disclosure import find_personal_data

SEED = 20260401
FY = 2025


# ------------------------------------------------------------------------------------------
# fast: archive safety and tampering
# ------------------------------------------------------------------------------------------
def make_zip(path: Path, members: dict[str | zipfile.ZipInfo, str]) -> Path:
    """A zip holding ``members`` (name or ZipInfo -> text), as an attacker would write it."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def test_safe_extract_refuses_paths_leaving_the_folder(tmp_path: Path) -> None:
    evil = make_zip(tmp_path / "evil.zip", {"b/bundle.json": "{}", "b/../../escaped.txt": "x"})
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(BundleError, match="outside"):
        safe_extract(evil, target)
    assert not (tmp_path / "escaped.txt").exists()
    assert list(target.iterdir()) == []


def test_safe_extract_refuses_absolute_paths_and_links(tmp_path: Path) -> None:
    absolute = make_zip(tmp_path / "abs.zip", {"/tmp/h17-absolute.txt": "x"})
    with pytest.raises(BundleError, match="outside"):
        safe_extract(absolute, tmp_path / "t1")
    info = zipfile.ZipInfo("b/link")
    info.external_attr = (0o120777 << 16)
    link = make_zip(tmp_path / "link.zip", {info: "/etc/passwd"})
    with pytest.raises(BundleError, match="symbolic link"):
        safe_extract(link, tmp_path / "t2")


def test_not_a_bundle(tmp_path: Path) -> None:
    plain = make_zip(tmp_path / "plain.zip", {"x.txt": "x"})
    with pytest.raises(BundleError, match="not a study bundle"):
        safe_extract(plain, tmp_path / "t")
    result = CliRunner().invoke(main, ["reproduce", str(plain), "--python", "current"])
    assert result.exit_code == 1
    assert "not a study bundle" in result.output


def test_microdata_text_cells_cannot_be_read_as_formulas(tmp_path: Path) -> None:
    """Text cells of the microdata CSV pass through views.excel.csv_safe (masked free text
    can begin with = + - @ tab or CR); numbers stay numbers; the bundle's reader gives the
    text back as it was."""
    from kyodo_analysis.bundle.build import _csv
    from kyodo_analysis.bundle.study import read_microdata
    from kyodo_analysis.codebook import Codebook

    cb = Codebook.from_dict({
        "codebook": "t", "id": {"columns": ["ID"]},
        "questions": [{"id": "t1", "columns": ["自由記述"], "text": "自由記述", "type": "text"},
                      {"id": "n1", "columns": ["数"], "text": "数", "type": "numeric"}]})
    texts = ["=HYPERLINK(\"http://x\")", "+81", "-以上", "@SUM(A1)", "\tx", "\rx", "ふつう", ""]
    data = pd.DataFrame({"id": pd.array([f"r{i:06d}" for i in range(1, 9)], dtype="string"),
                         "t1": pd.array(texts, dtype="string"),
                         "n1": pd.array([-1.5, 2, None, -3, 0, 1, 2, 3], dtype="Float64")})
    path = tmp_path / "FY2025.csv"
    _csv(data, np.full(8, 10.0), np.full(8, 100.0), path)
    cells = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert cells["t1"].tolist()[:6] == ["'" + t for t in texts[:6]]
    assert cells["t1"].tolist()[6:] == ["ふつう", ""]
    assert cells["n1"].tolist()[:2] == ["-1.5", "2.0"]  # numbers are not quoted
    back = read_microdata(path, cb)
    assert back["t1"].tolist() == texts
    assert back["n1"].tolist()[:2] == [-1.5, 2.0]


def test_bundle_needs_a_published_run(tmp_path: Path) -> None:
    from kyodo_analysis.demo.generate import generate_demo

    demo = generate_demo(tmp_path / "demo", seed=SEED)
    out = tmp_path / "out" / "b.zip"
    result = CliRunner().invoke(main, ["bundle", "--study", str(demo.study_file), "--fiscal-year",
                                       str(FY), "--out", str(out), "--reports",
                                       str(tmp_path / "reports")])
    assert result.exit_code == 1
    assert "no published run" in result.output
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


# ------------------------------------------------------------------------------------------
# slow: the demo study end to end
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The demo study, a published run (city notebooks with whole-city and by-attribute
    tables) and its bundle; nothing but the bundle in the --out folder."""
    from kyodo_analysis.demo.generate import generate_demo
    from kyodo_analysis.reporting.report import run_report
    from kyodo_analysis.reporting.suite import NotebookSpec
    from kyodo_analysis.study import open_study

    base = tmp_path_factory.mktemp("bundle")
    demo = generate_demo(base / "demo", seed=SEED)
    study = open_study(demo.study_file)
    suite = [NotebookSpec("01_overview", "調査結果の概要"), NotebookSpec("08_crosstabs", "クロス集計")]
    report = run_report(study, FY, out_root=base / "reports", jobs=2, suite=suite)
    assert report.ok, [n.describe() for n in report.notebooks]
    out_dir = base / "out"
    out_dir.mkdir()
    before = {p for p in base.rglob("*")}
    result = build_bundle(study, FY, out=out_dir / "bundle.zip", reports_root=base / "reports",
                          seed=7)
    after = {p for p in base.rglob("*")}
    return {"base": base, "study": study, "report": report, "bundle": result,
            "new_files": sorted(after - before)}


@pytest.mark.slow
def test_bundle_writes_only_its_zip(published) -> None:
    out = published["bundle"].path
    assert published["new_files"] == [out]  # the staging folder and temp zip are gone


@pytest.mark.slow
def test_bundle_is_a_valid_datapackage(published, tmp_path: Path) -> None:
    root = safe_extract(published["bundle"].path, tmp_path)
    assert validate_package(root) == []
    doc = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    listed = {r["path"] for r in doc["resources"]}
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert on_disk - listed == {"datapackage.json"}
    for needed in ("README.md", "bundle.json", "study/study.yaml", "study/codebook.yaml",
                   f"study/data/FY{FY}.csv", "disclosure/risk_report.json",
                   "disclosure/risk_report.md", "notebooks/parameters.json",
                   "notebooks/01_overview.ipynb", "published/manifest.json",
                   "published/tables.json", "environment/requirements.lock",
                   "environment/environment.yml", "reproduce.py", "Makefile"):
        assert needed in listed, needed
    assert all(r["hash"].startswith("sha256:") for r in doc["resources"])
    # a changed byte is found, naming the file
    data = root / "study" / f"data/FY{FY}.csv"
    data.write_bytes(data.read_bytes().replace(b"r000001", b"r000009", 1))
    with pytest.raises(BundleError, match=f"FY{FY}.csv"):
        verify_bundle(root)


@pytest.mark.slow
def test_k_anonymity_holds_in_the_bundle(published, tmp_path: Path) -> None:
    from kyodo_analysis.bundle import sdc
    from kyodo_analysis.bundle.build import key_variables

    risk = published["bundle"].risk
    s = open_bundle(published["bundle"].path, extract_to=tmp_path)
    keys = key_variables(published["study"])
    assert {"f1", "f2", "f3", "f4", "f5"} <= set(keys)
    for fy in s.fiscal_years:
        rep = risk["waves"][str(fy)]
        assert rep["before"]["k_violations"] > 0
        # every violation left is a record whose design cell (strata x weighting margins,
        # never suppressed) is itself smaller than k
        assert rep["after"]["k_violations"] == rep["design_cells_below_k"]
        if rep["design_cells_below_k"]:  # why they stay: see docs/bundle.md
            cells = rep["design_cells"]
            assert cells["other_keys_suppressed"] and cells["weight_identifies_cell"]
        assert rep["after"]["k_violations"] < rep["before"]["k_violations"] / 100
        data = s.load_wave(fy)
        fk = sdc.key_frequencies(data, keys)["fk"]
        cell = sdc.key_frequencies(data, ["stratum", "reg_sex", "reg_age"])["fk"]
        assert ((fk >= risk["k"]) | (cell < risk["k"])).all()
        assert int((fk < risk["k"]).sum()) == rep["after"]["k_violations"]
        # design variables the weights depend on are never suppressed
        for col in ("stratum", "reg_sex", "reg_age"):
            assert data[col].notna().all()
        assert rep["after"]["risk_max"] <= rep["before"]["risk_max"]


@pytest.mark.slow
def test_partner_design_equals_the_citys(published, tmp_path: Path) -> None:
    city = published["study"]
    s = open_bundle(published["bundle"].path, extract_to=tmp_path)
    assert s.fiscal_years == [y for y in city.fiscal_years if y <= FY]
    with pytest.raises(BundleError):
        s.read_wave(FY)
    d_city, d_bundle = city.design(FY), s.design(FY)
    assert sorted(d_bundle.weights) == pytest.approx(sorted(d_city.weights), rel=1e-12)
    assert sorted(s.final_weights(FY)) == pytest.approx(sorted(d_city.weights), rel=1e-12)
    a = d_city.mean("q1", na_rm=True)
    b = d_bundle.mean("q1", na_rm=True)
    assert b["estimate"].to_numpy() == pytest.approx(a["estimate"].to_numpy(), rel=1e-9)
    assert b["se"].to_numpy() == pytest.approx(a["se"].to_numpy(), rel=1e-9)


@pytest.mark.slow
def test_privacy_audit(published, tmp_path: Path) -> None:
    """No respondent id, free-text answer, e-mail address, phone number or exact date."""
    city = published["study"]
    root = safe_extract(published["bundle"].path, tmp_path)
    ids, answers = set(), set()
    for fy in city.fiscal_years:
        raw = city.load_wave(fy)
        ids |= set(raw["id"].astype(str))
        for q in city.codebook:
            if q.type == "text":
                answers |= {t for t in raw[q.id].astype(str) if len(t.strip()) >= 6}
    assert ids and answers
    date_re = re.compile(r"\b(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])\b"
                         r"|\d{4}年\d{1,2}月\d{1,2}日")
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix == ".gz":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(root).as_posix()
        for answer in answers:
            assert answer not in text, (rel, answer)
        if path.suffix == ".csv" and rel.startswith("study/data/"):
            cells = pd.read_csv(path, dtype=str, keep_default_na=False)
            assert not (set(cells.to_numpy().ravel()) & ids), rel
            assert not date_re.search(text), rel
            assert find_personal_data(text) == [], rel
            assert cells["id"].str.fullmatch(r"r\d{6}").all()
    # rows are not in the city's order: the register attributes' sequence differs
    s = open_bundle(root, verify=False)
    orig = city.load_wave(FY)[["stratum", "reg_sex", "reg_age"]].astype(int).to_numpy()
    mine = s.load_wave(FY)[["stratum", "reg_sex", "reg_age"]].astype(int).to_numpy()
    assert not np.array_equal(orig, mine)


@pytest.mark.slow
def test_cli_reproduces_the_bundle_zip_in_an_empty_folder(published, tmp_path: Path) -> None:
    """`kyodo reproduce bundle.zip` (one run, for the CI time budget: the CLI wraps
    safe_extract + run_bundle): every published table is compared, every difference names
    the anonymised variable behind it, and nothing is left unexplained."""
    work = tmp_path / "w"
    res = CliRunner().invoke(main, ["reproduce", str(published["bundle"].path), "--python",
                                    "current", "--workdir", str(work), "-j", "2"])
    assert res.exit_code == 0, res.output
    published_tables = json.loads(next(work.rglob("published/tables.json")).read_text(encoding="utf-8"))
    m = re.search(r"tables identical: (\d+) of (\d+)", res.output)
    assert m and int(m.group(2)) == len(published_tables) > 0 and int(m.group(1)) > 0
    assert "NOT explained" not in res.output
    differing = [line for line in res.output.splitlines() if line.startswith("  differs: ")]
    for line in differing:  # every difference names the anonymised variable
        assert re.search(r"f\d（", line), line
