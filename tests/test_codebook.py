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


# ----------------------------------------------------------------------------- new keys

SCHOOL = {"id": "f3", "columns": ["小学校区"], "text": "校区", "type": "demographic",
          "codes": {1: "花園", 2: "板山", 3: "乙川"}}


def _with(question: dict | None = None, **top) -> dict:
    doc = copy.deepcopy(GOOD)
    doc["questions"] = [q for q in doc["questions"] if q["id"] != "f3"]
    doc["questions"].append(copy.deepcopy(question or SCHOOL))
    doc.update(copy.deepcopy(top))
    return doc


def test_aliases_are_folded_and_resolved_by_label_or_code():
    cb = Codebook.from_dict(_with({**SCHOOL, "aliases": {"板山": ["板山小学校区", "板山 小"],
                                                         3: "乙川小", "無回答": ["不明"]}}))
    assert cb["f3"].aliases == {"板山小学校区": 2, "板山小": 2, "乙川小": 3, "不明": 9}
    assert cb["f3"].lookup()["板山"] == 2 and cb["f3"].lookup()["無回答"] == 9


@pytest.mark.parametrize(("aliases", "key", "names"), [
    # the same spelling under two labels
    ({"板山": ["板山小"], "花園": ["板山 小"]}, "questions[2] (f3).aliases.花園", ["板山", "花園"]),
    # an alias that is another label of the question (after folding: trailing space)
    ({"板山": ["花園 "]}, "questions[2] (f3).aliases.板山", ["板山", "花園"]),
    # a key that is no label or code
    ({"青山": ["青山小"]}, "questions[2] (f3).aliases.青山", ["青山"]),
    ({7: ["七"]}, "questions[2] (f3).aliases.7", ["7"]),
])
def test_alias_conflicts_name_the_key_and_both_labels(aliases, key, names):
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(_with({**SCHOOL, "aliases": aliases}), source="cb.yaml")
    assert err.value.key == key
    for name in names:
        assert name in str(err.value)


def test_waves_are_parsed_as_fiscal_years():
    cb = Codebook.from_dict(_with({**SCHOOL, "waves": ["令和6年度", 2025, "FY2023"]}))
    assert cb["f3"].waves == (2023, 2024, 2025)
    assert cb["f3"].asked_in(2024) and not cb["f3"].asked_in(2022) and cb["f3"].asked_in(None)
    assert cb["q1"].waves is None and cb["q1"].asked_in(1999)
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(_with({**SCHOOL, "waves": ["来年"]}))
    assert err.value.key == "questions[2] (f3).waves"


def test_not_applicable_declaration():
    cb = Codebook.from_dict(_with(not_applicable=[9]))
    assert cb["q1"].not_applicable == (9,) and cb["f3"].not_applicable == (9,)
    no_key = Codebook.from_dict(_with())
    assert no_key["q1"].not_applicable == ()  # GOOD has no 非該当 label and no declaration
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(_with(not_applicable=[8]))
    assert err.value.key == "not_applicable"
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(_with({**SCHOOL, "not_applicable": [3]}))
    assert err.value.key == "questions[2] (f3).not_applicable"


AGE = {"id": "age", "columns": ["年齢"], "text": "年齢", "type": "numeric"}
BANDS = {"id": "age_group", "from": "age", "codes": {1: "18～29歳", 2: "30～39歳", 6: "70歳以上"},
         "bins": {1: [18, 29], 2: [30, 39], 6: [70, None]}}
TO_AREA = {"id": "area", "from": "f3", "codes": {1: "青山", 2: "その他"},
           "map": {1: ["花園", 2], 2: [3]}}


def _derived(*entries) -> dict:
    doc = _with()
    doc["questions"].append(copy.deepcopy(AGE))
    doc["derived"] = copy.deepcopy(list(entries))
    return doc


def test_derived_variables_load():
    cb = Codebook.from_dict(_derived(BANDS, TO_AREA))
    assert cb["age_group"].derivation.bins == ((1, 18.0, 29.0), (2, 30.0, 39.0), (6, 70.0, None))
    assert cb["area"].derivation.mapping == {1: 1, 2: 1, 3: 2}
    assert cb["area"].type == "demographic" and cb["area"].missing == {9: "無回答"}
    assert [q.id for q in cb.derived] == ["age_group", "area"]


@pytest.mark.parametrize(("entry", "key", "words"), [
    ({**BANDS, "from": "nope"}, "derived[0] (age_group).from", "unknown source"),
    ({**BANDS, "id": "q1"}, "derived[0] (q1)", "already the id of a question"),
    ({**BANDS, "bins": {1: [18, 30], 2: [30, 39]}}, "derived[0] (age_group).bins", "overlap"),
    ({**BANDS, "bins": {1: [18, None], 6: [70, None]}}, "derived[0] (age_group).bins", "overlap"),
    ({**BANDS, "bins": {1: [None, 29], 2: [None, 10]}}, "derived[0] (age_group).bins", "overlap"),
    ({**BANDS, "bins": {5: [18, 29]}}, "derived[0] (age_group).bins.5", "not in the derived"),
    ({**BANDS, "bins": {1: [40, 29]}}, "derived[0] (age_group).bins.1", "low > high"),
    ({**TO_AREA, "map": {1: [4]}}, "derived[0] (area).map.1", "not a code or label"),
    ({**TO_AREA, "map": {1: ["青山"]}}, "derived[0] (area).map.1", "not a code or label"),
    ({**TO_AREA, "map": {1: [1], 2: [1]}}, "derived[0] (area).map.2", "mapped to both"),
    ({**TO_AREA, "bins": {1: [1, 2]}}, "derived[0] (area)", "exactly one of"),
    ({**TO_AREA, "from": "q2"}, "derived[0] (area).from", "multiple"),
])
def test_malformed_derived_variables_name_the_key(entry, key, words):
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(_derived(entry), source="cb.yaml")
    assert err.value.key == key
    assert words in str(err.value)


def test_date_type_and_text_headers():
    doc = _with()
    doc["questions"].append({"id": "day", "columns": ["回答日"], "type": "date"})
    cb = Codebook.from_dict(doc)
    assert cb["day"].type == "date" and "回答日" in cb.text_headers()


@pytest.mark.parametrize("edit, key, suggestion", [
    (lambda d: d.update(misssing_codes={}), "misssing_codes", "missing_codes"),
    (lambda d: d["questions"][0].update(colums=["問1"]), "questions[0].colums", "columns"),
    (lambda d: d["scales"]["agree"].update(scroes={}), "scales.agree.scroes", "scores"),
    (lambda d: d["questions"][1]["options"][0].update(exclusiv=True),
     "questions[1] (q2).options[0].exclusiv", "exclusive"),
    (lambda d: d["id"].update(column=["ID"]), "id.column", "columns"),
])
def test_a_misspelt_key_is_an_error_with_a_suggestion(edit, key, suggestion):
    """A typo is never silently ignored: the key path and the closest known key are named."""
    doc = copy.deepcopy(GOOD)
    edit(doc)
    with pytest.raises(ConfigError) as err:
        Codebook.from_dict(doc, source="codebook.yaml")
    assert err.value.key == key
    assert f"did you mean {suggestion!r}" in err.value.message and err.value.file == "codebook.yaml"
