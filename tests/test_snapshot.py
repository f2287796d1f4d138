"""One version of the data per report: a wave replaced while a report runs does not reach it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import nbformat
import pytest
from report_support import kyodo, small_study

from kyodo_analysis.reporting.publish import collect_tables
from kyodo_analysis.reporting.report import _StoreHold, run_report
from kyodo_analysis.reporting.suite import NotebookSpec
from kyodo_analysis.store import Store
from kyodo_analysis.study import Study

COUNT = '''
import pathlib, time
import pandas as pd
from kyodo_analysis.study import open_study
from kyodo_analysis.reporting.publish import publish_table
gate = pathlib.Path(study).parent / "gate"
while wait and not gate.exists():  # the second page waits until the test has tried --replace
    time.sleep(0.2)
s = open_study(study)
n = len(s.load_wave(int(fiscal_year)))
publish_table(pd.DataFrame({"回答": ["全体", "回答者数（n）"], "n": [n, n]}), "n",
              output_dir=output_dir, threshold=10)
'''


def _count_notebook(path: Path, *, wait: bool) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(f'study = ""\nfiscal_year = 2025\noutput_dir = ""\n'
                                       f"wait = {wait}")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(COUNT)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _shorter_wave(study: Study, dest: Path, drop: int) -> Path:
    """The FY2025 file without its last ``drop`` respondents (another version of the wave)."""
    source = study.wave(2025).file
    lines = source.read_bytes().splitlines(keepends=True)
    dest.write_bytes(b"".join(lines[:-drop]))
    return dest


def test_the_store_is_held_read_only_for_a_run(demo_dir, tmp_path):
    study = Study.from_yaml(small_study(demo_dir, tmp_path / "s"))
    study.import_waves()
    hold = _StoreHold(study)
    try:
        assert hold.imports and all(isinstance(i, int) for i in hold.imports.values())
        with Store(study.store_path, read_only=True) as store:  # other readers are welcome
            assert store.wave_imports(study.name) == hold.imports
        shorter = _shorter_wave(study, tmp_path / "short.csv", 200)
        busy = kyodo("import", str(shorter), "--study", str(study.path), "--wave", "2025",
                     "--db", str(study.store_path), "--replace")
        assert busy.returncode == 1, busy.stderr
        assert "is in use" in busy.stderr and "try again" in busy.stderr
        assert "rejected" not in busy.stderr
    finally:
        hold.close()
    with Store(study.store_path, read_only=True) as store:
        assert store.wave_imports(study.name) == hold.imports  # nothing was replaced


@pytest.mark.slow
def test_a_wave_replaced_mid_run_does_not_reach_the_published_tables(demo_dir, tmp_path):
    study_file = small_study(demo_dir, tmp_path / "s")
    study = Study.from_yaml(study_file)
    study.import_waves()
    before = len(study.load_wave(2025))
    nbs = tmp_path / "nb"
    nbs.mkdir()
    _count_notebook(nbs / "first.ipynb", wait=False)
    _count_notebook(nbs / "second.ipynb", wait=True)
    shorter = _shorter_wave(study, tmp_path / "short.csv", 200)
    out = tmp_path / "reports"
    box: list = []
    runner = threading.Thread(target=lambda: box.append(run_report(
        study, 2025, out_root=out, notebook_dir=nbs, jobs=2,
        suite=[NotebookSpec("first", "一"), NotebookSpec("second", "二")])))
    runner.start()
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("*/FY2025/.build-*/outputs/first/tables/n.json")):
            assert time.monotonic() < deadline and runner.is_alive(), "first page never published"
            time.sleep(0.3)
        replace = kyodo("import", str(shorter), "--study", str(study_file), "--wave", "2025",
                        "--db", str(study.store_path), "--replace")
    finally:
        (study_file.parent / "gate").touch()
        runner.join(300)
    result = box[0]
    assert result.ok, [r.error for r in result.notebooks if not r.ok]
    assert replace.returncode == 1 and "in use" in replace.stderr  # refused, not half-applied
    counts = {r.notebook: r.rows[0][1] for r in collect_tables(result.directory / "outputs")}
    assert counts == {"first": before, "second": before}
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    with Store(study.store_path, read_only=True) as store:
        assert manifest["store"]["wave_imports"] == {
            str(fy): i for fy, i in store.wave_imports(study.name).items()}
    # After the run the replacement goes through, and the next run reads the new version.
    again = kyodo("import", str(shorter), "--study", str(study_file), "--wave", "2025",
                  "--db", str(study.store_path), "--replace")
    assert again.returncode == 0, again.stderr
    assert len(Study.from_yaml(study_file).load_wave(2025)) == before - 200


def test_an_import_while_another_holds_the_store_is_exit_1_not_rejected(demo_dir, tmp_path):
    study = Study.from_yaml(small_study(demo_dir, tmp_path / "s"))
    with Store(study.store_path):  # another import in progress (the writer's lock)
        busy = kyodo("import", "--study", str(study.path))
    assert busy.returncode == 1, busy.stderr
    assert "is in use" in busy.stderr and "try again" in busy.stderr
    assert "rejected" not in busy.stderr
