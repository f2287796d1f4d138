"""manifest.json and `kyodo reproduce`: inputs checked by hash, tables compared."""

from __future__ import annotations

import json

import pytest
from report_support import kyodo, small_study

from kyodo_analysis.errors import ReportError
from kyodo_analysis.reporting.manifest import input_files, load_manifest, verify_inputs
from kyodo_analysis.reporting.report import compare_tables, run_report
from kyodo_analysis.study import Study


@pytest.fixture(scope="module")
def small_run(demo_dir, tmp_path_factory):
    """The real notebooks on a copy of the demo study cut to one 中学校区 with one 小学校区."""
    root = tmp_path_factory.mktemp("manifest")
    study = Study.from_yaml(small_study(demo_dir, root / "study"))
    result = run_report(study, 2025, out_root=root / "out", jobs=2)
    assert result.ok, [n.describe() for n in result.notebooks if not n.ok]
    return study, result


def test_the_manifest_records_inputs_parameters_and_tables(small_run):
    study, result = small_run
    doc = load_manifest(result.manifest)
    assert [n["id"] for n in doc["notebooks"]] == ["01_overview", "02_indicators", "03_trends",
                                                  "04_district-1-1", "04_district-2-1",
                                                  "05_comparison", "06_collaboration", "07_awareness",
                                                  "08_crosstabs"]
    assert doc["notebooks"][4]["parameters"]["district"] == "有脇"
    assert {i.path: i.sha256 for i in input_files(study)} == {
        i["path"]: i["sha256"] for i in doc["inputs"]}
    per = {}
    for key in doc["tables"]:
        per[key.split("/")[0]] = per.get(key.split("/")[0], 0) + 1
    # 01_overview: every question (26), response rates and 3 weighting tables; 04_district:
    # q1-q4 twice; 05_comparison: the questions asked in several waves; 08_crosstabs: the 21
    # single/rating/multiple questions by 2 district levels and 4 attributes
    assert per["01_overview"] == 26 + 4 and per["04_district-1-1"] == per["04_district-2-1"] == 4
    assert per["05_comparison"] >= 4 and per["08_crosstabs"] == 21 * 6
    assert per["07_awareness"] >= 10
    assert [lv["pages"] for lv in doc["study"]["config"]["districts"]] == [["亀崎"], ["有脇"]]
    assert verify_inputs(doc) == study.path


@pytest.mark.slow
def test_reproduce_an_unchanged_run_gives_identical_tables(small_run):
    _, result = small_run
    proc = kyodo("reproduce", str(result.manifest), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    n = len(load_manifest(result.manifest)["tables"])
    assert f"tables identical: {n} of {n}" in proc.stdout


def test_table_comparison():
    old = {"a/q1": "1", "a/q2": "2", "b/q1": "3"}
    new = {"a/q1": "1", "a/q2": "9", "c/q1": "4"}
    assert compare_tables(old, new) == (("a/q1",), ("a/q2",), ("b/q1",), ("c/q1",))


def test_reproduce_refuses_a_changed_input(small_run, tmp_path):
    study, result = small_run
    doc = json.loads(result.manifest.read_text(encoding="utf-8"))
    wave = study.root / "raw" / "survey_FY2025.csv"
    original = wave.read_bytes()
    try:
        wave.write_bytes(original + b"\n")
        proc = kyodo("reproduce", str(result.manifest))
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert lines == [f"kyodo: error: input changed since the run: {wave} "
                         "(sha256 differs from the manifest)"]
        with pytest.raises(ReportError, match=r"survey_FY2025\.csv"):
            verify_inputs(doc)
    finally:
        wave.write_bytes(original)
    assert kyodo("reproduce", str(result.manifest.parent / "nope.json")).returncode == 1
