"""Ingestion: the bad-input corpus, random corruptions, the store's transactions."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyodo_analysis.cli import main
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import InputError
from kyodo_analysis.io.normalise import normalise_cell
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.sampling import read_sampling_list
from kyodo_analysis.io.validate import validate
from kyodo_analysis.store import Store

CORPUS = Path(__file__).parent / "fixtures" / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))["cases"]
CODEBOOK_FILE = Path(__file__).resolve().parents[1] / "kyodo_analysis" / "demo" / "codebook.yaml"
CODEBOOK = Codebook.from_yaml(CODEBOOK_FILE)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert {c["exit"] for c in CASES} == {0, 1, 2}


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_input_corpus(case, tmp_path):
    codebook_file = CORPUS / case["codebook"] if "codebook" in case else CODEBOOK_FILE
    args = ["validate", str(CORPUS / case["file"]), "--codebook", str(codebook_file),
            "--report-json", str(tmp_path / "r.json")]
    if "header_row" in case:
        args += ["--header-row", str(case["header_row"])]
    sampling = case.get("sampling_list")
    if sampling:
        args += ["--sampling-list", str(CORPUS / sampling["file"]), "--sampling-id", sampling["id"]]
        for column in sampling["columns"]:
            args += ["--sampling-column", column]
    if "wave" in case:  # the survey-year check needs the wave: use import into a scratch store
        args = ["import", *args[1:], "--wave", str(case["wave"]), "--db", str(tmp_path / "s.db")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == case["exit"], result.output
    if case["exit"] == 2:
        assert case["message"] in result.output
        assert "kyodo: rejected:" in result.output
        assert not (tmp_path / "s.db").exists() or _rows_in(tmp_path / "s.db") == 0
        if "row" in case:
            assert f"row {case['row']}" in result.output
        return
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["read"] == report["accepted"] + report["quarantined"]
    if case["exit"] == 0:
        assert report["quarantined"] == 0 and report["errors"] == []
    for key in ("encoding", "delimiter", "accepted", "quarantined"):
        if key in case:
            assert report[key] == case[key]
    if "unknown" in case:
        assert case["unknown"] in report["unknown_columns"]
    if "rule" in case:
        hits = [e for e in report["errors"] if e["rule"] == case["rule"]]
        assert hits, report["errors"]
        first = hits[0]
        for key in ("row", "column", "value"):
            if key in case:
                assert first[key] == case[key], (key, first)
        assert first["message"]  # a Japanese-readable message
    if "check" in case:
        codebook = Codebook.from_yaml(codebook_file)
        raw = read_table(CORPUS / case["file"], text_columns=codebook.text_headers(),
                         known_headers=set(codebook.header_aliases()))
        listed = None
        if sampling:
            columns = dict(c.split("=") for c in sampling["columns"])
            listed = read_sampling_list(CORPUS / sampling["file"], codebook,
                                        id_column=sampling["id"], columns=columns)
        accepted = validate(raw, codebook, fiscal_year=case.get("wave"),
                            sampling_list=listed).accepted
        check = case["check"]
        assert accepted.loc[accepted["_row"] == check["row"], check["column"]].item() == check["value"]


def _rows_in(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM responses").fetchone()[0]


def test_normalisation_gives_the_same_values_as_the_clean_file():
    def load(name):
        raw = read_table(CORPUS / name, text_columns=CODEBOOK.text_headers(),
                         known_headers=set(CODEBOOK.header_aliases()))
        return validate(raw, CODEBOOK).accepted.drop(columns="_row")

    clean = load("valid_cp932.csv")
    for variant in ("fullwidth_digits.csv", "stray_spaces.csv", "valid_utf8_bom.csv",
                    "tab_separated.csv", "excel_title_rows.xlsx", "spss_valid.sav",
                    "stata_valid.dta", "lf_line_endings.csv"):
        pd.testing.assert_frame_equal(load(variant), clean, obj=variant)


def test_strict_mode_rejects_the_whole_file(tmp_path):
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["import", str(CORPUS / "out_of_range_code.csv"),
                                       "--codebook", str(CODEBOOK_FILE), "--wave", "FY2025",
                                       "--db", str(db), "--strict"])
    assert result.exit_code == 2
    assert "strict mode" in result.output and "row 7" in result.output
    assert not db.exists()


# ----------------------------------------------------------------------------- property test

_BASE = (CORPUS / "valid_utf8.csv").read_text(encoding="utf-8")
_HEADER, *_ROWS = list(csv.reader(io.StringIO(_BASE)))
_CODE_COLUMNS = [i for i, h in enumerate(_HEADER) if h not in ("回答者ID", "調査年度", "問7")]
_GARBAGE = st.sampled_from(["7", "x", "-1", "2.5", "", "１", "=A1", "99", " 3 ", "知らない", "0"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(_ROWS) - 1), st.sampled_from(_CODE_COLUMNS),
                          _GARBAGE), max_size=8))
def test_random_corruptions_lose_nothing(tmp_path, edits):
    """Whatever cells are corrupted: read = accepted + quarantined, and the accepted rows are
    exactly the rows of the clean file that were left alone or still valid."""
    rows = [list(r) for r in _ROWS]
    for i, j, value in edits:
        rows[i][j] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([_HEADER, *rows])
    path = tmp_path / "corrupt.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    raw = read_table(path, text_columns=CODEBOOK.text_headers(),
                     known_headers=set(CODEBOOK.header_aliases()))
    result = validate(raw, CODEBOOK)
    assert result.read == len(rows) == result.n_accepted + result.n_quarantined
    assert set(result.accepted["_row"]).isdisjoint(set(result.quarantined_rows["_row"]))
    clean_raw = read_table(CORPUS / "valid_utf8.csv", text_columns=CODEBOOK.text_headers())
    clean = validate(clean_raw, CODEBOOK).accepted.set_index("_row")
    touched = {i + 2 for i, _, _ in edits}
    untouched = clean.index.difference(touched)
    accepted = result.accepted.set_index("_row")
    # Untouched rows are accepted exactly as in the clean file.
    assert set(untouched) <= set(accepted.index) | set(result.quarantined_rows["_row"])
    kept = accepted.index.intersection(untouched)
    pd.testing.assert_frame_equal(accepted.loc[kept], clean.loc[kept])
    # Quarantined rows keep their raw cells: nothing of a rejected row is lost.
    for _, q in result.quarantined_rows.iterrows():
        original = rows[int(q["_row"]) - 2]
        assert [normalise_cell(v) for v in q.drop("_row")] == [normalise_cell(v) for v in original]
    assert set(result.quarantine["row"]) == set(result.quarantined_rows["_row"])


# ----------------------------------------------------------------------------- the store


def test_imports_are_idempotent_and_replace_needs_a_flag(demo_study, tmp_path):
    db = tmp_path / "store.duckdb"
    r25 = demo_study.read_wave(2025)
    with Store(db) as store:
        first = store.import_wave(r25, study="s", fiscal_year=2025, codebook=demo_study.codebook)
        again = store.import_wave(r25, study="s", fiscal_year=2025, codebook=demo_study.codebook)
        assert (first.status, again.status) == ("imported", "unchanged")
        assert again.import_id == first.import_id
        other = demo_study.read_wave(2024)
        with pytest.raises(InputError, match="--replace"):
            store.import_wave(other, study="s", fiscal_year=2025, codebook=demo_study.codebook)
        replaced = store.import_wave(other, study="s", fiscal_year=2025,
                                     codebook=demo_study.codebook, replace=True)
        assert replaced.status == "replaced"
        n = store.con.execute("SELECT count(*) FROM responses WHERE study='s'").fetchone()[0]
        assert n == other.n_accepted
        assert store.con.execute("SELECT count(*) FROM imports").fetchone()[0] == 2


def test_provenance_and_quarantine_are_stored(tmp_path):
    raw = read_table(CORPUS / "several_problems.csv", text_columns=CODEBOOK.text_headers())
    result = validate(raw, CODEBOOK)
    with Store(tmp_path / "s.duckdb") as store:
        store.import_wave(result, study="s", fiscal_year=2025, codebook=CODEBOOK)
        prov = store.con.execute("SELECT file_name, sha256, encoding, codebook_sha256, n_read, "
                                 "n_accepted, n_quarantined FROM imports").fetchone()
        assert prov[0] == "several_problems.csv" and len(prov[1]) == 64 and prov[2] == "cp932"
        assert prov[3] == CODEBOOK.sha256
        assert prov[4] == prov[5] + prov[6] and prov[6] == 2
        q = store.quarantine("s", 2025)
        assert sorted(q["rule"]) == ["not_a_code", "out_of_range"]
        rows = store.con.execute("SELECT source_row, record FROM quarantined_rows ORDER BY 1").fetchall()
        assert [r[0] for r in rows] == [2, 11]
        assert json.loads(rows[0][1])["問1"] == "7"


def test_a_failure_inside_the_transaction_leaves_the_store_unchanged(demo_study, tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        store.import_wave(demo_study.read_wave(2024), study="s", fiscal_year=2024,
                          codebook=demo_study.codebook)
    before = _snapshot(db)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "_insert_quarantine", fail)
    with Store(db) as store, pytest.raises(RuntimeError):
        store.import_wave(demo_study.read_wave(2025), study="s", fiscal_year=2025,
                          codebook=demo_study.codebook)
    assert _snapshot(db) == before


def _snapshot(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("imports", "waves", "responses", "quarantine")}


def test_a_killed_import_leaves_the_store_unchanged(demo_study, tmp_path):
    """SIGKILL in the middle of the import transaction: the store reopens as it was."""
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        store.import_wave(demo_study.read_wave(2024), study="s", fiscal_year=2024,
                          codebook=demo_study.codebook)
    before = _snapshot(db)
    flag = tmp_path / "inside"
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import time
        from pathlib import Path
        from kyodo_analysis.store import Store
        from kyodo_analysis.study import Study

        original = Store._insert_quarantine

        def slow(self, *args, **kwargs):
            original(self, *args, **kwargs)
            Path({str(flag)!r}).write_text("x")
            time.sleep(120)

        Store._insert_quarantine = slow
        study = Study.from_yaml({str(demo_study.path)!r})
        with Store({str(db)!r}) as store:
            store.import_wave(study.read_wave(2025), study="s", fiscal_year=2025,
                              codebook=study.codebook)
    """), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(driver)])
    try:
        deadline = time.time() + 120
        while not flag.exists():
            assert proc.poll() is None, "driver ended before reaching the transaction"
            assert time.time() < deadline
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _snapshot(db) == before


def test_status_lists_waves_and_series(demo_study):
    result = CliRunner().invoke(main, ["status", "--db", str(demo_study.store_path)])
    assert result.exit_code == 0, result.output
    for fy in demo_study.fiscal_years:
        assert str(fy) in result.output
    assert "登録団体数" in result.output and "ワークショップ参加者数" in result.output
    missing = CliRunner().invoke(main, ["status", "--db", "/nonexistent/x.duckdb"])
    assert missing.exit_code == 1


def test_every_demo_wave_reconciles(demo_study):
    fieldwork = demo_study.fieldwork().groupby("fiscal_year")["returned"].sum()
    with Store(demo_study.store_path, read_only=True) as store:
        status = store.status().set_index("fiscal_year")
    for fy in demo_study.fiscal_years:
        row = status.loc[fy]
        assert row["n_read"] == row["n_accepted"] + row["n_quarantined"] == fieldwork[fy]


@pytest.mark.slow
def test_a_million_row_file_reconciles(tmp_path):
    """1,000,000 rows with 0.1% corrupted cells: every row is accounted for."""
    rows = np.array(_ROWS, dtype=object)
    reps = 1_000_000 // len(rows) + 1
    big = np.tile(rows, (reps, 1))[:1_000_000]
    big[:, 0] = [f"{i:07d}" for i in range(1_000_000)]
    rng = np.random.default_rng(1)
    bad = rng.choice(1_000_000, size=1000, replace=False)
    big[bad, _HEADER.index("問1")] = "7"
    frame = pd.DataFrame(big, columns=_HEADER)
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False, encoding="cp932")
    raw = read_table(path, text_columns=CODEBOOK.text_headers())
    result = validate(raw, CODEBOOK)
    assert result.read == 1_000_000
    assert result.n_quarantined == 1000 and result.n_accepted == 999_000
    assert sorted(result.quarantine["row"]) == sorted(bad + 2)


LAYOUT_CODEBOOK = Codebook.from_dict({
    "id": {"columns": ["ID"]},
    "missing_codes": {9: "無回答"},
    "questions": [
        {"id": "q3", "columns": ["問3"], "text": "参加した活動", "type": "multiple",
         "layout": "delimited", "max_choices": 2,
         "options": [{"code": 1, "label": "自治区"}, {"code": 2, "label": "NPO"},
                     {"code": 3, "label": "イベント"}, {"code": 6, "label": "なし", "exclusive": True}]},
        {"id": "age", "columns": ["年齢"], "text": "年齢", "type": "numeric", "range": [18, 110]},
    ],
})


def test_delimited_multiple_response_numeric_range_and_max_choices(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("ID,問3,年齢\n1,\"1,3\",40\n2,1、2、3,50\n3,６,１２０\n4,2;6,30\n5,7,35\n6,,２０\n",
                    encoding="utf-8")
    result = validate(read_table(path, text_columns=LAYOUT_CODEBOOK.text_headers()),
                      LAYOUT_CODEBOOK)
    assert result.read == 6 == result.n_accepted + result.n_quarantined
    rules = dict(zip(result.quarantine["row"], result.quarantine["rule"], strict=False))
    assert rules == {3: "mr_max", 4: "out_of_range", 5: "mr_exclusive", 6: "mr_value"}
    ok = result.accepted.set_index("_row")
    assert ok.loc[2, ["q3_1", "q3_2", "q3_3", "q3_6"]].tolist() == [1, 0, 1, 0]
    assert ok.loc[2, "age"] == 40
    assert ok.loc[7, ["q3_1", "q3_6"]].isna().all() and ok.loc[7, "age"] == 20  # blank = 無回答


def test_population_margins_are_stored(demo_study):
    with Store(demo_study.store_path, read_only=True) as store:
        pop = store.population_status()
    margins = demo_study.population_margins()
    assert pop.loc[0, "cells"] == len(margins) and pop.loc[0, "total"] == margins["人口"].sum()


def test_a_changed_wave_file_is_not_analysed_silently(tmp_path):
    """A report must not read rows imported from an older version of a wave's file."""
    from kyodo_analysis.demo.generate import generate_demo
    from kyodo_analysis.errors import ConfigError
    from kyodo_analysis.study import Study

    study = Study.from_yaml(generate_demo(tmp_path / "d", seed=3).study_file)
    study.ensure_imported()
    study.ensure_imported()  # unchanged files: nothing to do
    wave = study.wave(2025).file
    wave.write_bytes(wave.read_bytes().replace(b"\r\n", b"\n"))  # same data, another file
    with pytest.raises(ConfigError, match="--replace"):
        Study.from_yaml(study.path).ensure_imported()
