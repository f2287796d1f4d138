"""Notebooks: committed clean, parameterised, and executable by papermill on the demo study."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kyodo_analysis.paths import notebook_dir
from kyodo_analysis.reporting.runner import execute_notebook, export_html

NOTEBOOKS = sorted(notebook_dir().glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name == "01_overview.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: clear them before committing")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_have_a_parameters_cell_first(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", [])
    assert "study" in first.source and "fiscal_year" in first.source


def test_overview_executes_with_papermill_and_exports_html(tmp_path, demo_study):
    out = tmp_path / "01_overview.ipynb"
    result = execute_notebook(notebook_dir() / "01_overview.ipynb", out,
                              {"study": str(demo_study.path), "fiscal_year": "令和5年度"})
    assert result.ok, result.error
    nb = nbformat.read(out, as_version=4)
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/html", ""))
                   + str(o.get("data", {}).get("text/markdown", ""))
                   for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "令和5（2023）年度" in text and "デモデータ" in text
    assert sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs) >= 3
    html = export_html(out, tmp_path / "01_overview.html")
    body = html.read_text(encoding="utf-8")
    assert "data:image/png;base64" in body
    assert "import kyodo_analysis" not in body  # code cells are hidden


def test_overview_runs_with_the_plain_papermill_cli(tmp_path, demo_study):
    out = tmp_path / "out.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    proc = subprocess.run(
        [str(papermill), str(notebook_dir() / "01_overview.ipynb"), str(out),
         "-p", "study", str(demo_study.path), "-p", "fiscal_year", "FY2024", "-k", "python3",
         "--cwd", str(notebook_dir())],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "fiscal_year = \"FY2024\"" in injected[0].source
    assert "令和6（2024）年度" in str(nb.cells)  # the notebook read FY2024 as the 2024 wave


def test_a_failing_notebook_is_reported_with_its_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print('before')"),
                nbformat.v4.new_code_cell("raise ValueError('broken on purpose')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "broken.ipynb"
    nbformat.write(nb, src)
    result = execute_notebook(src, tmp_path / "broken-out.ipynb", {"x": 2})
    assert not result.ok
    assert "ValueError: broken on purpose" in result.error
    assert result.failed_cell is not None
    assert (tmp_path / "broken-out.ipynb").is_file()  # partial output kept
