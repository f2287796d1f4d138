"""The kyodo command: exit codes and one-line reasons."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from report_support import kyodo, small_study


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # This checkout's package, not whatever the venv's `kyodo` console script imports.
    return kyodo(*args, cwd=cwd)


def test_help_and_version():
    proc = run("--help")
    assert proc.returncode == 0
    assert "demo" in proc.stdout and "report" in proc.stdout
    assert run("report", "--help").returncode == 0
    assert run("--version").returncode == 0


def test_usage_errors_exit_2():
    assert run("report", "--no-such-option").returncode == 2
    assert run("no-such-command").returncode == 2


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kyodo: error: "), proc.stderr
    return lines[0]


def test_missing_study_is_a_one_line_failure(tmp_path):
    line = _one_line_error(run("report", "--study", str(tmp_path / "nope.yaml")))
    assert "study file not found" in line and "nope.yaml" in line


def test_unknown_fiscal_year_is_a_one_line_failure(demo_study, tmp_path):
    line = _one_line_error(run("report", "--study", str(demo_study.path), "--fiscal-year", "1999",
                               "--out", str(tmp_path)))
    assert "no wave for fiscal year 1999" in line
    line = _one_line_error(run("report", "--study", str(demo_study.path), "--fiscal-year", "来年",
                               "--out", str(tmp_path)))
    assert "not a fiscal year" in line


def test_demo_writes_a_study(tmp_path):
    proc = run("demo", "--out", str(tmp_path / "d"), "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "d" / "study.yaml").is_file()


@pytest.mark.parametrize("cwd_name", ["elsewhere"])
def test_report_publishes_index_and_notebook_html_from_any_directory(demo_dir, tmp_path, cwd_name):
    """Cron runs from anywhere: relative paths are the caller's, notebooks are the project's."""
    # one 中学校区 and one 小学校区, the overview and the district page: the paths under test
    # are the same for every page, and the whole set is run by test_report
    study = small_study(demo_dir, tmp_path / "study", notebooks=[
        {"stem": "01_overview"}, {"stem": "04_district", "scope": "district"}])
    cwd = tmp_path / cwd_name
    cwd.mkdir()
    proc = run("report", "--study", str(study), "--fiscal-year", "令和6年度", "--out", "out", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    fy = cwd / "out" / "handa-demo" / "FY2024"
    target = fy / "latest"
    index = (target / "index.html").read_text(encoding="utf-8")
    assert "デモデータ" in index and 'href="01_overview.html"' in index
    assert 'href="04_district-1-1.html"' in index and 'href="04_district-2-1.html"' in index
    assert (target / "01_overview.html").is_file() and (target / "ipynb" / "01_overview.ipynb").is_file()
    assert (target / "tables.xlsx").is_file() and (target / "manifest.json").is_file()
    assert str(target.resolve() / "index.html") in proc.stdout
    assert not [p for p in fy.iterdir() if p.name.startswith(".")]
    logs = list((cwd / "out" / "handa-demo" / "logs").glob("*.log"))
    assert len(logs) == 1 and target.resolve().name in logs[0].name
    assert "disclosure audit passed" in logs[0].read_text(encoding="utf-8")


def test_report_and_reproduce_help():
    text = run("report", "--help").stdout
    for option in ("--jobs", "--scheduler", "--timeout", "--progress", "--notebook-dir"):
        assert option in text
    assert run("reproduce", "--help").returncode == 0
    assert run("reproduce").returncode == 2  # the manifest argument is required


def test_a_busy_store_is_exit_1_try_again_not_a_rejected_file(demo_dir, tmp_path):
    """Another process holding the store (an import in progress) is not a bad file."""
    import duckdb

    store = tmp_path / "busy.duckdb"
    con = duckdb.connect(str(store))  # this test process holds the write lock
    try:
        proc = run("import", str(demo_dir / "raw" / "survey_FY2025.csv"), "--codebook",
                   str(demo_dir / "codebook.yaml"), "--wave", "FY2025", "--db", str(store))
    finally:
        con.close()
    assert proc.returncode == 1, proc.stderr
    assert "in use" in proc.stderr and "try again" in proc.stderr and "rejected" not in proc.stderr
    ok = run("import", str(demo_dir / "raw" / "survey_FY2025.csv"), "--codebook",
             str(demo_dir / "codebook.yaml"), "--wave", "FY2025", "--db", str(store))
    assert ok.returncode == 0 and "imported" in ok.stdout
