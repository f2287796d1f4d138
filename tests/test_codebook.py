"""Codebook loading and validation."""

from __future__ import annotations

import copy

import pytest
import yaml

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import ConfigError

GOOD = {
    "codebook": "test",
    "id": {"columns": ["回答者ID"]},
    "missing_codes": {9: "無回答"},
    "scales": {"agree": {"codes": {1: "そう思う", 2: "そう思わない"}, "scores": {1: 1, 2: -1}}},
    "questions": [
        {"id": "q1", "columns": ["問1"], "text": "質問1", "type": "likert", "scale": "agree"},
        {"id": "q2", "text": "複数回答", "type": "multiple",
         "options": [{"code": 1, "label": "A", "columns": ["問2_1"]},
                     {"code": 2, "label": "なし", "columns": ["問2_2"], "exclusive": True}]},
        {"id": "f3", "columns": ["小学校区"], "text": "校区", "type": "demographic",
         "codes": {1: "花園", 9: "乙川"}, "missing": {99: "無回答"}},
    ],
}


def test_demo_codebook_loads(demo_study):
    cb = demo_study.codebook
    assert cb["q1"].codes[1] == "よく知っている"
    assert cb["q1"].missing[9] == "無回答"
    assert cb["q3"].option_ids == [f"q3_{k}" for k in range(1, 7)]
    assert cb["q5_1"].scores[1] == 2 and cb["q5_1"].scores[5] == -2
    assert cb["f3"].label(9) == "乙川" and cb["f3"].label(99) == "無回答"
    assert len(cb.sha256) == 64
    aliases = cb.header_aliases()
    assert aliases["問3_4"] == "q3_4" and aliases["Q3_4"] == "q3_4" and aliases["回答者ID"] == "id"


def test_scales_and_question_level_missing_codes():
    cb = Codebook.from_dict(GOOD)
    assert cb["q1"].codes == {1: "そう思う", 2: "そう思わない"}
    assert cb["q1"].scores == {1: 1.0, 2: -1.0}
    assert cb["f3"].missing == {99: "無回答"}  # 9 is 乙川 here, not 無回答
    assert cb["q2"].options[1].exclusive
    with pytest.raises(KeyError):
        cb["q1"].label(5)


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.pop("questions"), "questions"),
        (lambda d: d["questions"][0].update(type="choice"), "questions[0] (q1).type"),
        (lambda d: d["questions"][0].update(scale="nope"), "questions[0] (q1).scale"),
        (lambda d: d["questions"].append(dict(d["questions"][0])), "questions[3] (q1)"),
        (lambda d: d["questions"][1].pop("options"), "questions[1] (q2).options"),
        (lambda d: d["questions"][2].update(codes={"x": "bad"}), "questions[2] (f3).codes"),
        (lambda d: d["questions"][2].update(missing={1: "無回答"}), "questions[2] (f3)"),
        (lambda d: d["questions"][0].pop("id"), "questions[0]"),
    ],
)
def test_malformed_codebook_names_the_key(mutate, key):
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(doc, source="cb.yaml")
    assert err.value.key == key
    assert "cb.yaml" in str(err.value)


def test_unreadable_codebook_file(tmp_path):
    bad = tmp_path / "cb.yaml"
    bad.write_bytes(b"questions: [")
    with pytest.raises(ConfigError, match="YAML"):
        Codebook.from_yaml(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        Codebook.from_yaml(tmp_path / "missing.yaml")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(GOOD, allow_unicode=True), encoding="utf-8")
    assert Codebook.from_yaml(good).source == str(good)
