"""The typed study schema: every key validated once, errors naming file, key path and value."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from kyodo_analysis.cli import main
from kyodo_analysis.config import StudyConfig, json_schema, load_study_config
from kyodo_analysis.demo.generate import MARKER, generate_demo
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.study import Study


def _write(folder, doc: dict):
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture()
def demo_doc(demo_dir) -> dict:
    return yaml.safe_load((demo_dir / "study.yaml").read_text(encoding="utf-8"))


def _copy(demo_dir, tmp_path, edit) -> Study:
    dest = tmp_path / "study"
    shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns("kyodo.duckdb*"))
    doc = yaml.safe_load((dest / "study.yaml").read_text(encoding="utf-8"))
    edit(doc)
    return Study.from_yaml(_write(dest, doc))


def test_the_demo_study_parses_into_typed_objects(demo_study):
    cfg = demo_study.settings
    assert isinstance(cfg, StudyConfig)
    assert [lv.name for lv in demo_study.district_levels] == ["中学校区", "小学校区"]
    assert demo_study.domain_column("小学校区") == "f3"
    assert demo_study.plan.start == 2022 and demo_study.plan.disrupted_years == [2020, 2021]
    assert demo_study.districts("小学校区")[:2] == ["花園", "板山"]
    assert demo_study.parent_of("小学校区", "有脇") == "亀崎"
    assert len(demo_study.district_units()) == 5 + 13


@pytest.mark.parametrize("edit, key, words", [
    (lambda d: d.update(suppresion_threshold=20), "suppresion_threshold",
     "did you mean 'suppression_threshold'"),
    (lambda d: d["design"]["weighting"].update(margns={}), "design.weighting.margns",
     "did you mean 'margins'"),
    (lambda d: d["waves"][1].update(fiscal_year="令和X年度"), "waves[1].fiscal_year",
     "fiscal year such as"),
    (lambda d: d.pop("codebook"), "codebook", "required"),
    (lambda d: d.update(study="../../x"), "study", "lower-case ASCII"),
    (lambda d: d["districts"][1].update(parent="町内会"), "(top level)", "not a declared level"),
    (lambda d: d["waves"].append(dict(d["waves"][0])), "(top level)", "two waves for fiscal year"),
    (lambda d: d["waves"][0].update(header_rows=[4, 6]), "waves[0].header_rows", "consecutive"),
    (lambda d: d["plan"].update(start="令和9年度", end="令和4年度"), "plan", "before its start"),
])
def test_bad_study_files_name_the_key_path(demo_doc, tmp_path, edit, key, words):
    edit(demo_doc)
    path = _write(tmp_path, demo_doc)
    with pytest.raises(ConfigError) as err:
        load_study_config(path)
    assert err.value.key == key
    assert words in err.value.message
    assert str(path) in str(err.value)


@pytest.mark.parametrize("edit, key", [
    (lambda d: d["districts"][0].update(column="chiku"), "districts[0].column"),
    (lambda d: d["attributes"].append({"name": "世帯", "column": "household"}), "attributes[4].column"),
    (lambda d: d["headline"]["questions"].append("q99"), "headline.questions[4]"),
    (lambda d: d["design"]["weighting"]["margins"].update(reg_income="所得"),
     "design.weighting.margins.reg_income"),
    (lambda d: d["districts"][1]["within"]["亀崎"].append("北浜"), "districts[1].within.亀崎"),
])
def test_names_are_checked_against_the_codebook(demo_dir, tmp_path, edit, key):
    with pytest.raises(ConfigError) as err:
        _copy(demo_dir, tmp_path, edit)
    assert err.value.key == key


def test_fiscal_years_are_read_in_every_form(demo_dir, tmp_path):
    def edit(doc):
        doc["waves"][4]["fiscal_year"] = "令和7年度"
        doc["waves"][3]["fiscal_year"] = "R6"
        doc["plan"]["start"] = "FY2022"

    study = _copy(demo_dir, tmp_path, edit)
    assert study.fiscal_years == [2021, 2022, 2023, 2024, 2025]
    assert study.plan.start == 2022
    assert study.wave("FY2025") is study.wave("令和7年度") is study.wave(2025)
    with pytest.raises(ConfigError, match="no wave for fiscal year 2026"):
        study.wave("R8")


def test_a_study_with_nothing_optional_says_what_each_section_needs(demo_dir, tmp_path):
    def edit(doc):
        for key in ("indicators", "population", "fieldwork", "activity", "design", "plan"):
            doc.pop(key)
        doc["districts"] = []

    study = _copy(demo_dir, tmp_path, edit)
    assert not study.weighted
    assert set(study.missing_inputs()) == {"fieldwork", "weighting", "indicators", "activity",
                                            "districts", "plan"}
    assert "fieldwork:" in study.missing_inputs()["fieldwork"]
    assert study.district_units() == []
    with pytest.raises(ConfigError, match="add activity"):
        study.activity()


def test_frame_sizes_may_be_written_inline(demo_dir, tmp_path):
    sizes = {"青山": 18476, "成岩": 19067, "半田": 25109, "乙川": 24267, "亀崎": 11989}
    study = _copy(demo_dir, tmp_path, lambda d: d["design"].update(frame_sizes=sizes))
    assert study.frame_sizes() == {k: float(v) for k, v in sizes.items()}


def test_kyodo_schema_prints_a_json_schema():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == json.loads(json.dumps(json_schema()))
    assert {"study", "codebook", "waves"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    assert "districts" in schema["properties"] and "plan" in schema["properties"]


def test_kyodo_demo_refuses_a_folder_it_did_not_make(tmp_path):
    theirs = tmp_path / "mine"
    theirs.mkdir()
    (theirs / "important.xlsx").write_bytes(b"keep me")
    result = CliRunner().invoke(main, ["demo", "--out", str(theirs)])
    assert result.exit_code == 1 and "did not create" in result.output
    assert (theirs / "important.xlsx").read_bytes() == b"keep me"
    # its own folder is replaced on request (the marker says it made it)
    made = generate_demo(tmp_path / "demo").root
    assert (made / MARKER).is_file()
    (made / "stale.txt").write_text("x", encoding="utf-8")
    assert CliRunner().invoke(main, ["demo", "--out", str(made)]).exit_code == 0
    assert not (made / "stale.txt").exists() and (made / "study.yaml").is_file()


def test_kyodo_status_reads_the_store_of_the_study_it_is_given(demo_study):
    result = CliRunner().invoke(main, ["status", "--study", str(demo_study.path)])
    assert result.exit_code == 0, result.output
    assert f"study: handa-demo ({demo_study.path})" in result.output
    assert str(demo_study.store_path) in result.output and "2025" in result.output


@pytest.mark.parametrize("edit, key", [
    (lambda d: d.update(study="../../etc"), "study"),
    (lambda d: d.update(study="/tmp/x"), "study"),
    (lambda d: d.update(study="a/b"), "study"),
    (lambda d: d.update(study="..."), "study"),
    (lambda d: d.update(report={"notebooks": [{"stem": "../../x"}]}), "report.notebooks[0].stem"),
    (lambda d: d.update(report={"notebooks": [{"stem": "/abs/01"}]}), "report.notebooks[0].stem"),
])
def test_names_used_in_paths_cannot_leave_the_output_folder(demo_doc, tmp_path, edit, key):
    edit(demo_doc)
    with pytest.raises(ConfigError) as err:
        load_study_config(_write(tmp_path, demo_doc))
    assert err.value.key == key


@pytest.mark.parametrize("weighting", [
    {"method": "rake"},
    {"method": "poststratify"},
    {"method": "linear"},
    {"method": "raking"},
    {"method": "logit", "bounds": [0.3, 3.0]},
    {"method": "rake", "trim": [None, 100.0]},
])
def test_the_weighting_method_is_chosen_by_name_in_study_yaml(demo_dir, tmp_path, weighting):
    margins = {"stratum": "中学校区", "reg_sex": "性別", "reg_age": "年代"}
    study = _copy(demo_dir, tmp_path, lambda d: d["design"].update(
        weighting={**weighting, "margins": margins}))
    study.import_waves()
    d = study.design(2025)
    pop = study.population_margins()
    step = d.weighting_steps[0].method
    assert step == {"linear": "calibrate", "raking": "calibrate", "logit": "calibrate"}.get(
        weighting["method"], weighting["method"])
    if "trim" in weighting:
        assert d.weighting_steps[-1].method == "trim"
        assert d.weights.max() == pytest.approx(100.0)  # the bound binds: raked weights exceed it
        return
    assert d.weights.sum() == pytest.approx(pop["人口"].sum(), rel=1e-9)
    for col, pop_col in margins.items():  # every margin met (poststratify: the joint cells)
        got = pd.Series(d.weights, index=d.data.index).groupby(
            d.data[col].map(study.codebook[col].codes)).sum()
        want = pop.groupby(pop_col)["人口"].sum()
        assert got.reindex(want.index).to_numpy() == pytest.approx(want.to_numpy(), rel=1e-6)


def test_logit_weighting_needs_bounds(demo_doc, tmp_path):
    demo_doc["design"]["weighting"]["method"] = "logit"
    with pytest.raises(ConfigError, match="bounds") as err:
        load_study_config(_write(tmp_path, demo_doc))
    assert err.value.key == "design.weighting"


def test_a_waves_design_is_built_once_per_store_state(demo_study, monkeypatch):
    first = demo_study.design(2025)
    assert demo_study.design("令和7年度") is first  # the same wave however the year is written
    assert demo_study.design(2025, weighted=False) is not first
    assert demo_study.design(2024) is not first
    # a re-import changes the store file, and with it the design
    monkeypatch.setattr(type(demo_study), "_data_stamp", lambda self, fy: (0, 1))
    rebuilt = demo_study.design(2025)
    assert rebuilt is not first
    assert np.allclose(rebuilt.weights, first.weights)
