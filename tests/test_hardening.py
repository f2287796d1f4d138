"""Hostile and unlucky inputs end in one sentence, never a traceback (issue 13)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from kyodo_analysis.cli import main
from kyodo_analysis.io import readers

CODEBOOK_FILE = Path(__file__).resolve().parents[1] / "kyodo_analysis" / "demo" / "codebook.yaml"


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(path), "--codebook", str(CODEBOOK_FILE)])
    return result.exit_code, result.output


def _rewrite_sheet(path: Path, edit) -> None:
    """Rewrite sheet1.xml of a small workbook with ``edit(xml) -> xml``."""
    with zipfile.ZipFile(path) as z:
        items = {i.filename: z.read(i.filename) for i in z.infolist()}
    items["xl/worksheets/sheet1.xml"] = edit(items["xl/worksheets/sheet1.xml"].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in items.items():
            z.writestr(name, blob)


def _small_workbook(path: Path) -> Path:
    wb = Workbook()
    wb.active.append(["回答者ID", "問1"])
    wb.active.append(["250001", 1])
    wb.save(path)
    return path


def test_a_two_gib_sparse_csv_is_refused_before_reading(tmp_path):
    path = tmp_path / "sparse.csv"
    with path.open("wb") as f:
        f.write("回答者ID,問1\n250001,1\n".encode())
        f.truncate(2 << 30)  # sparse: no disk used
    code, out = _validate(path)
    assert code == 2, out
    assert "kyodo: rejected: the file is too large to read" in out
    assert "2,147,483,648" in out and "Traceback" not in out


def test_a_sheet_declaring_a_million_rows_by_16384_columns_is_refused(tmp_path):
    path = _small_workbook(tmp_path / "wide.xlsx")
    _rewrite_sheet(path, lambda xml: re.sub(
        r'<dimension ref="[^"]*" ?/>', '<dimension ref="A1:XFD1048576"/>', xml).replace(
        "</sheetData>", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'))
    code, out = _validate(path)
    assert code == 2, out
    assert "1,048,576 rows × 16,384 columns" in out and "too large" in out


def test_a_sheet_without_dimension_is_counted_while_read(tmp_path, monkeypatch):
    """No <dimension>: openpyxl pads rows to the widest; the count stops it at the limit."""
    path = _small_workbook(tmp_path / "nodim.xlsx")
    rows = "".join(f'<row r="{r}"><c r="Z{r}"><v>1</v></c></row>' for r in range(3, 200))
    _rewrite_sheet(path, lambda xml: re.sub(r'<dimension ref="[^"]*" ?/>', "", xml).replace(
        "</sheetData>", rows + "</sheetData>"))
    monkeypatch.setattr(readers, "MAX_CELLS", 1000)  # 199 rows × 26 columns = 5,174 cells
    code, out = _validate(path)
    assert code == 2, out
    assert "too large" in out and "cells" in out


def test_a_zip_bomb_is_refused_by_its_inflated_size(tmp_path, monkeypatch):
    """A workbook of ~100 kB whose sheet inflates to 64 MB, above a 32 MB limit."""
    path = _small_workbook(tmp_path / "bomb.xlsx")
    filler = '<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>' + "x" * 200 + "</t></is></c></row>"
    with zipfile.ZipFile(path) as z:
        items = {i.filename: z.read(i.filename) for i in z.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in items.items():
            if name != "xl/worksheets/sheet1.xml":
                z.writestr(name, blob)
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            head, tail = items["xl/worksheets/sheet1.xml"].decode().split("</sheetData>")
            sheet.write(head.encode())
            chunk = "".join(filler.format(r=r) for r in range(3, 1003)).encode()
            for _ in range((64 << 20) // len(chunk) + 1):
                sheet.write(chunk)
            sheet.write(("</sheetData>" + tail).encode())
    assert path.stat().st_size < 2 << 20
    monkeypatch.setattr(readers, "MAX_INPUT_BYTES", 32 << 20)
    code, out = _validate(path)
    assert code == 2, out
    assert "uncompressed size" in out and "too large" in out


def test_running_out_of_memory_while_reading_is_a_sentence(tmp_path, monkeypatch):
    path = tmp_path / "ok.csv"
    path.write_text("回答者ID,問1\n250001,1\n", encoding="utf-8")

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(readers, "_read_csv", exhausted)
    code, out = _validate(path)
    assert code == 2, out
    assert "not enough memory to read the file" in out and "Traceback" not in out


# --- nothing left running after kill -9 of the report -------------------------------------------

def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status and "\nState:\tX" not in status


def _survivors(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if _running(p)]
        if not alive:
            return []
        time.sleep(0.2)
    return [p for p in pids if _running(p)]


def _kill_all(pids: list[int]) -> None:
    for p in pids:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)


POOL_SCRIPT = """
import os, sys, time
from kyodo_analysis.reporting.batch import open_executor
with open_executor(jobs=2) as ex:
    pids = set()
    while len(pids) < 2:  # both workers started (and past their initializer)
        pids |= {f.result() for f in [ex.submit(os.getpid) for _ in range(4)]}
    busy = [ex.submit(time.sleep, 600) for _ in range(2)]
    print("ready", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_pool_workers_and_resource_tracker_die_with_a_killed_parent(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    parent = subprocess.Popen([sys.executable, "-c", POOL_SCRIPT], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert parent.stdout.readline().strip() == "ready"
        below = _descendants(parent.pid)
        assert len(below) >= 3  # two workers and the resource tracker
    finally:
        parent.kill()
        parent.wait()
    left = _survivors(below, 10)
    _kill_all(left)
    assert left == [], [Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in left]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_kill_9_of_a_running_report_leaves_no_worker_nor_kernel(demo_study, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    report = subprocess.Popen(
        [sys.executable, "-m", "kyodo_analysis.cli", "report", "--study", str(demo_study.path),
         "--fiscal-year", "2025", "--out", str(tmp_path / "reports"), "--jobs", "2",
         "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    below: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            below = _descendants(report.pid)
            if any(b"ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes()
                   for p in below if _running(p)):
                break
            time.sleep(0.5)
        else:
            pytest.fail("no kernel started within two minutes")
    finally:
        report.kill()
        report.wait()
    left = _survivors(below, 8)
    _kill_all(left)
    assert left == []


# --- no live formula from data in tables.xlsx ---------------------------------------------------

FORMULAS = ('=HYPERLINK("http://example.invalid/","click")', "=cmd|' /C calc'!A0", "+1+1",
            "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1")


def test_text_from_data_is_never_a_formula_in_tables_xlsx(tmp_path):
    from openpyxl import load_workbook

    from kyodo_analysis.reporting.publish import (
        audit_tables,
        collect_tables,
        publish_table,
        publish_text,
        write_tables_xlsx,
    )

    out = tmp_path / "run" / "01_page"
    out.parent.mkdir()
    labels = list(FORMULAS)
    table = pd.DataFrame({"回答": [*labels, "回答者数（n）"],
                          "n": [20] * len(labels) + [20 * len(labels)],
                          "割合（%）": [round(100 / len(labels), 1)] * len(labels) + [100.0]})
    publish_table(table, "q1", output_dir=out, title=FORMULAS[0], threshold=10)
    publish_text(pd.Series(FORMULAS), "free", output_dir=out, allow=True, title=FORMULAS[1])
    records = collect_tables(tmp_path / "run")
    xlsx = write_tables_xlsx(records, tmp_path / "tables.xlsx",
                             notebook_titles={"01_page": FORMULAS[2]})

    wb = load_workbook(xlsx)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    shown = {c.value for c in cells if isinstance(c.value, str)}
    for f in FORMULAS:  # every payload is there as the text it was (XML reads CR as LF)
        assert f.replace("\r", "\n") in shown, f
    findings = audit_tables(records, xlsx=xlsx, threshold=10)
    assert [f for f in findings if f.rule == "formula"] == []


def test_the_audit_reports_a_formula_in_the_workbook_and_does_not_crash(tmp_path):
    from openpyxl import Workbook as _Workbook

    from kyodo_analysis.reporting.publish import audit_formulas

    wb = _Workbook()
    wb.active["A1"] = "表"
    wb.active["B5"] = '=HYPERLINK("http://example.invalid/")'
    wb.save(tmp_path / "t.xlsx")
    findings = audit_formulas(tmp_path / "t.xlsx")
    assert [(f.table, f.rule) for f in findings] == [("Sheet!B5", "formula")]


# --- paths stay inside --out --------------------------------------------------------------------

TRAVERSALS = ("../../x", "..", "/tmp/kyodo-outside", "a/b", "a\\b", "x\n", "", "~root", "x" * 300)


@pytest.fixture()
def study_copy(demo_dir, tmp_path):
    import shutil

    dest = tmp_path / "study"
    shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns("*.duckdb*"))
    return dest


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_study_name_that_is_not_a_plain_name_is_refused(study_copy, name):
    import yaml

    from kyodo_analysis.errors import ConfigError
    from kyodo_analysis.study import Study

    path = study_copy / "study.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["study"] = name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Study.from_yaml(path)
    assert err.value.key == "study"


@pytest.mark.parametrize("stem", ["../../x", "/tmp/x", "a/b", "x\n", ".."])
def test_a_notebook_stem_that_is_not_a_plain_name_is_refused(study_copy, stem):
    import yaml

    from kyodo_analysis.errors import ConfigError
    from kyodo_analysis.study import Study

    path = study_copy / "study.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["report"] = {"notebooks": [{"stem": stem, "title": "x"}]}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError):
        Study.from_yaml(path)


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", "a\\b", "x\n", ""])
def test_a_table_name_that_is_not_a_plain_name_is_refused(tmp_path, name):
    from kyodo_analysis.errors import DisclosureError
    from kyodo_analysis.reporting.publish import publish_table, publish_text

    (tmp_path / "run").mkdir()
    table = pd.DataFrame({"回答": ["はい", "回答者数（n）"], "n": [40, 40]})
    with pytest.raises(DisclosureError):
        publish_table(table, name, output_dir=tmp_path / "run" / "page", threshold=10)
    with pytest.raises(DisclosureError):
        publish_text(["よい"], name, output_dir=tmp_path / "run" / "page", allow=True)
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.parametrize("run_id", ["../../x", "/tmp/kyodo-outside", "a/b", "..", "x\n"])
def test_a_report_never_writes_outside_out(demo_study, tmp_path, run_id):
    from kyodo_analysis.errors import ReportError
    from kyodo_analysis.reporting.report import run_report

    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(ReportError):
        run_report(demo_study, 2025, out_root=out, run_id=run_id, suite=[])
    assert [p for p in tmp_path.rglob("*") if not p.is_relative_to(out)] == [out.parent]
    assert not Path("/tmp/kyodo-outside").exists()


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", "X", "x\n"])
def test_init_refuses_a_name_that_is_not_a_slug(tmp_path, name):
    source = Path(__file__).parent / "fixtures" / "bad_inputs" / "valid_utf8.csv"
    result = CliRunner().invoke(main, ["init", "--from", str(source), "--out", str(tmp_path / "d"),
                                       "--name", name])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "d").exists()


# --- a typo is an error, with a did-you-mean ----------------------------------------------------

def _typo(doc: dict, where: str, key: str) -> None:
    """Add ``key: 1`` to the mapping at ``where`` ("" top level, "a.0.b" a nested path)."""
    target = doc
    for part in filter(None, where.split(".")):
        target = target[int(part)] if part.isdigit() else target[part]
    target[key] = 1 if key != "suppresion_threshold" else 20


@pytest.mark.parametrize(("file", "where", "key", "meant"), [
    ("study.yaml", "", "suppresion_threshold", "suppression_threshold"),
    ("study.yaml", "design", "stratta", "strata"),
    ("study.yaml", "design.weighting", "methd", "method"),
    ("study.yaml", "districts.0", "colum", "column"),
    ("study.yaml", "waves.0", "fiscal_yaer", "fiscal_year"),
    ("codebook.yaml", "", "missing_code", "missing_codes"),
    ("codebook.yaml", "questions.0", "txt", "text"),
    ("indicators.yaml", "", "indicatorz", "indicators"),
    ("indicators.yaml", "indicators.0", "unti", "unit"),
    ("indicators.yaml", "indicators.0.source", "statisitc", "statistic"),
    ("indicators.yaml", "grading", "no_change_bnd", "no_change_band"),
])
def test_an_unknown_key_is_an_error_with_a_did_you_mean(study_copy, file, where, key, meant):
    import yaml

    from kyodo_analysis.errors import ConfigError
    from kyodo_analysis.evaluation.registry import load_registry
    from kyodo_analysis.study import Study

    path = study_copy / file
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    _typo(doc, where, key)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_registry(Study.from_yaml(study_copy / "study.yaml"))
    message = str(err.value)
    assert f"unknown key {key!r}" in message and f"did you mean {meant!r}?" in message
    assert err.value.key.endswith(key)


def test_csv_cells_that_a_spreadsheet_would_evaluate_are_quoted():
    from kyodo_analysis.views.excel import csv_safe

    for f in FORMULAS:
        assert csv_safe(f) == "'" + f
    assert csv_safe("よく知っている") == "よく知っている"
    assert csv_safe(-2.5) == -2.5 and csv_safe(3) == 3 and csv_safe(None) is None
