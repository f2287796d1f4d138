"""Publishing a report set: complete or not at all; the full demo set; the index in a browser."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from report_support import ROOT, notebook_dir, small_study

from kyodo_analysis.reporting import report as report_mod
from kyodo_analysis.reporting.publish import read_tables_xlsx
from kyodo_analysis.reporting.report import run_report
from kyodo_analysis.reporting.suite import NotebookSpec

TINY = [NotebookSpec("tiny", "小さな表")]


def _fy_dir(out: Path) -> Path:
    return out / "handa-demo" / "FY2025"


def test_a_crashing_run_leaves_the_previous_report_and_latest_intact(demo_study, tmp_path,
                                                                     monkeypatch):
    nbs = notebook_dir(tmp_path / "nb", "tiny", "broken")
    first = run_report(demo_study, 2025, out_root=tmp_path, notebook_dir=nbs, suite=TINY)
    assert first.ok and first.latest
    latest = _fy_dir(tmp_path) / "latest"
    assert latest.resolve() == first.directory.resolve()
    before = first.index.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. the run was interrupted while writing tables.xlsx

    monkeypatch.setattr(report_mod, "write_tables_xlsx", crash)
    with pytest.raises(KeyboardInterrupt):
        run_report(demo_study, 2025, out_root=tmp_path, notebook_dir=nbs, suite=TINY,
                   run_id="20990101T000000Z-1")
    assert first.index.read_bytes() == before
    assert latest.resolve() == first.directory.resolve()
    assert sorted(p.name for p in _fy_dir(tmp_path).iterdir()) == [first.run_id, "latest"]
    # A run that completes with a failed notebook is published but does not become latest.
    monkeypatch.undo()
    bad = run_report(demo_study, 2025, out_root=tmp_path, notebook_dir=nbs,
                     suite=[*TINY, NotebookSpec("broken", "壊れた")])
    assert not bad.ok and not bad.latest and bad.index.is_file()
    assert latest.resolve() == first.directory.resolve()


def test_a_killed_run_leaves_the_previous_report_intact(demo_dir, demo_study, tmp_path):
    nbs = notebook_dir(tmp_path / "nb", "tiny", "slow")
    study = small_study(demo_dir, tmp_path / "study",
                        notebooks=[{"stem": "tiny"}, {"stem": "slow"}])
    first = run_report(demo_study, 2025, out_root=tmp_path / "out", notebook_dir=nbs, suite=TINY)
    fy = _fy_dir(tmp_path / "out")
    before = first.index.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kyodo_analysis.cli", "report", "--study", str(study),
         "--out", str(tmp_path / "out"), "--notebook-dir", str(nbs), "--jobs", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(fy.glob(".build-*/ipynb/slow.ipynb")):
            time.sleep(0.2)
        assert list(fy.glob(".build-*")), "the run never started building"
        time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its workers and their kernels
        proc.wait(timeout=30)
    assert (fy / "latest").resolve() == first.directory.resolve()
    assert first.index.read_bytes() == before
    assert sorted(p.name for p in fy.iterdir() if not p.name.startswith(".")) == sorted(
        [first.run_id, "latest"])
    assert list(fy.glob(".build-*"))  # the killed run's unfinished build, never published
    # The next run clears the dead run's hidden build folder.
    second = run_report(demo_study, 2025, out_root=tmp_path / "out", notebook_dir=nbs, suite=TINY)
    assert second.ok and not list(fy.glob(".build-*"))
    assert (fy / "latest").resolve() == second.directory.resolve()


def test_a_terminated_run_cleans_up_and_says_so(demo_dir, tmp_path):
    """SIGTERM (e.g. `timeout` in a crontab): exit 143, nothing half-built left, logged."""
    nbs = notebook_dir(tmp_path / "nb", "slow")
    study = small_study(demo_dir, tmp_path / "study", notebooks=[{"stem": "slow"}])
    fy = _fy_dir(tmp_path / "out")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kyodo_analysis.cli", "report", "--study", str(study),
         "--out", str(tmp_path / "out"), "--notebook-dir", str(nbs), "--jobs", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(fy.glob(".build-*/ipynb/slow.ipynb")):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # the CLI only, as `timeout` does
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the orphaned worker and kernel, if any
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM and "terminated by signal 15" in err
    assert not list(fy.glob(".build-*")) and not (fy / "latest").exists()
    log = next((tmp_path / "out" / "handa-demo" / "logs").glob("*.log")).read_text(encoding="utf-8")
    assert "terminated by signal 15; nothing was published" in log


def test_an_unsuppressed_table_fails_the_audit_and_the_run(demo_study, tmp_path):
    nbs = notebook_dir(tmp_path / "nb", "tiny", "leaky")
    result = run_report(demo_study, 2025, out_root=tmp_path, notebook_dir=nbs,
                        suite=[*TINY, NotebookSpec("leaky", "漏れ")])
    assert all(n.ok for n in result.notebooks) and not result.ok and not result.latest
    assert [(f.table, f.rule, f.row, f.column) for f in result.findings] == [
        ("leaky/leak", "small cell", 1, "n")]
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["audit"]["passed"] is False and manifest["status"] == "failed"
    assert "秘匿チェック" in result.index.read_text(encoding="utf-8")


# --- the full demo report set, run once for the tests below ------------------------------------

@pytest.fixture(scope="module")
def full_run(demo_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    began = time.monotonic()
    result = run_report(demo_study, 2025, out_root=out, jobs=2)
    return result, time.monotonic() - began


@pytest.mark.slow
def test_the_demo_report_set(full_run, demo_study):
    result, _seconds = full_run
    assert result.ok, [n.describe() for n in result.notebooks if not n.ok]
    ids = [n.name for n in result.notebooks]
    assert ids[0] == "01_overview" and len([i for i in ids if i.startswith("04_district-")]) == 18
    assert "05_comparison" in ids and "08_crosstabs" in ids
    # Every page publishes its tables through disclosure control: the only warnings are files
    # other chapters wrote beside their records, which are withheld from the run folder.
    assert all(w.rule == "unaudited file" for w in result.warnings), result.warnings
    for n in result.notebooks:
        assert n.html.is_file() and n.ipynb.is_file()
        assert "import kyodo_analysis" not in n.html.read_text(encoding="utf-8")[:200000]
    district_page = (result.directory / "04_district-2-13.html").read_text(encoding="utf-8")
    assert "有脇（小学校区）" in district_page and "data:image/png;base64" in district_page
    assert "デモデータ" in district_page
    tables = read_tables_xlsx(result.tables)
    assert "04_district-1-1/q1" in tables and "08_crosstabs/q1_d1" in tables
    assert "05_comparison/q1" in tables and "01_overview/response_rates" in tables
    q1 = tables["04_district-1-1/q1"]
    assert list(q1.columns)[:2] == ["回答", "青山 %"] and isinstance(q1.iloc[0, 1], float)
    assert not [p for p in result.directory.rglob("*.csv")]  # unaudited files are withheld
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    inputs = {i["path"] for i in manifest["inputs"]}
    assert {"study.yaml", "codebook.yaml", "population_margins.csv", "activity_statistics.csv",
            "raw/survey_FY2025.csv", "raw/survey_FY2024.sav"} <= inputs
    assert manifest["environment"]["packages"]["pandas"] == pd.__version__
    assert manifest["environment"]["python"] and "commit" in manifest["git"]
    assert manifest["started"] <= manifest["finished"] and manifest["audit"]["passed"]
    if Path("/usr/bin/chromium").exists():
        assert manifest["pdf"]["file"] == "report.pdf" and manifest["pdf"]["seconds"] > 0
        assert (result.directory / "report.pdf").is_file()
    assert all(n["status"] == "ok" for n in manifest["notebooks"])
    district_runs = {n["id"]: n for n in manifest["notebooks"]}
    assert district_runs["04_district-1-1"]["parameters"] == {
        "study": str(demo_study.path.resolve()), "fiscal_year": 2025, "district": "青山",
        "level": "中学校区"}
    latest = result.directory.parent / "latest"
    assert latest.is_symlink() and latest.resolve() == result.directory.resolve()
    # Speed is measured in benchmarks/bench_report.py, never asserted in a test.


def _devtools(user_dir: Path, url: str) -> tuple[list[str], dict]:
    """Load ``url`` in headless Chromium; return (console errors, page facts)."""
    import websocket

    proc = subprocess.Popen(
        ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={user_dir}", "--remote-debugging-port=0",
         "--remote-allow-origins=*", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = user_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (port_file.is_file() and port_file.read_text()):
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                         suppress_origin=True)
        errors: list[str] = []
        counter = iter(range(1, 10000))

        def call(method: str, **params) -> dict:
            msg_id = next(counter)
            ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                note(msg)
                if msg.get("id") == msg_id:
                    return msg

        def note(msg: dict) -> None:
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(str(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(params["entry"].get("text", ""))

        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            call(method)
        call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        loaded = False
        while time.monotonic() < deadline and not loaded:
            msg = json.loads(ws.recv())
            note(msg)
            loaded = msg.get("method") == "Page.loadEventFired"
        time.sleep(0.5)
        expr = ("JSON.stringify({title: document.title, text: document.body.innerText, "
                "links: Array.from(document.querySelectorAll('a[href]'))"
                ".map(a => a.getAttribute('href')), "
                "overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth})")
        value = call("Runtime.evaluate", expression=expr, returnByValue=True)
        shot = call("Page.captureScreenshot", format="png")
        ws.close()
        facts = json.loads(value["result"]["result"]["value"])
        facts["screenshot"] = shot.get("result", {}).get("data", "")
        facts["loaded"] = loaded
        return errors, facts
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_the_same_cell_has_the_same_value_everywhere(full_run):
    """Every (question, domain, answer, measure) published on several pages and sheets has
    one value; and the differencing attack on every published group base recovers nobody."""
    from kyodo_analysis.evaluation.disclosure import differencing_findings
    from kyodo_analysis.reporting.publish import _audit_groups, cell_conflicts, collect_tables

    result, _ = full_run
    records = collect_tables(result.directory / "outputs")
    assert cell_conflicts(records, xlsx=result.tables) == {}
    keys = [k for r in records for _, _, k in r.keys]
    assert len(keys) - len(set(keys)) > 100  # the check had shared cells to compare
    groups = []
    for r in records:
        if (r.spec or {}).get("kind") == "groups":
            groups += _audit_groups(r, list(r.columns), [list(x) for x in r.rows],
                                    threshold=10, study=None)[1]
    assert len({(g["dimension"], g["group"]) for g in groups}) > 20
    assert differencing_findings(groups, min_base=10) == []
    # the protection is what makes it pass: publish a hidden group's true base and it fails
    hidden = next(g for g in groups if g["base"] == "x" and g["parent"])
    total = next(g["base"] for g in groups if g["question"] == hidden["question"]
                 and g["dimension"] == hidden["parent_dimension"] and g["group"] == hidden["parent"]
                 and isinstance(g["base"], int))
    shown = {g["group"]: g["base"] for g in groups if g["question"] == hidden["question"]
             and g["dimension"] == hidden["dimension"] and g["parent"] == hidden["parent"]
             and isinstance(g["base"], int)}
    # its true base as the parent's published base leaves it, minus 3 respondents left blank
    leaked = [{**g, "base": total - sum(shown.values()) - 3} if g is hidden else g for g in groups]
    assert any(f.rule == "differencing" for f in differencing_findings(leaked, min_base=10))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
def test_the_index_loads_in_headless_chromium(full_run, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    result, _ = full_run
    index = result.directory.parent / "latest" / "index.html"
    errors, facts = _devtools(tmp_path / "chrome", index.as_uri())
    assert facts["loaded"] and errors == [], errors
    assert "デモデータ" in facts["text"] and "令和7（2025）年度" in facts["text"]
    # the grades on the front page come with the rule that gave them (same sentences as 02)
    assert "評価の方法" in facts["text"] and "H 判定保留" in facts["text"]
    pdf = (result.directory / "report.pdf").is_file()
    assert len(facts["links"]) == 2 + pdf + 2 * len(result.notebooks)  # xlsx, manifest, html + ipynb
    for href in facts["links"]:
        assert (index.parent / unquote(href)).is_file(), href
    shutil.rmtree(tmp_path / "chrome", ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
@pytest.mark.parametrize("page", ["index", "01_overview", "02_indicators", "03_trends",
                                  "04_district-2-13", "05_comparison", "06_collaboration",
                                  "08_crosstabs"])
def test_every_page_type_renders_without_errors_or_overflow(full_run, tmp_path, page):
    import base64

    pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    result, _ = full_run
    errors, facts = _devtools(tmp_path / "chrome", (result.directory / f"{page}.html").as_uri())
    assert facts["loaded"] and errors == [], errors
    assert facts["overflow"] <= 0, f"{page} scrolls horizontally by {facts['overflow']}px"
    shot = base64.b64decode(facts["screenshot"])
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    shutil.rmtree(tmp_path / "chrome", ignore_errors=True)
