"""Study content and data on a page are text, never markup: checked in headless Chromium.

Every payload of :data:`browser.PAYLOADS` goes into every place a page shows study content or
data (title, notice, headings, paragraphs, notes, table titles, table cells and headers, free
text) and the page is executed, exported and opened in Chromium: no script runs (no console
line at all, no dialog: each payload would log before alerting), no element carries an event
handler or a ``javascript:`` link, and each payload shows literally as text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import CHROMIUM, PAYLOADS, hostile_study, open_page, parse
from report_support import ROOT  # noqa: F401  (sets PYTHONPATH for the kernels)

from kyodo_analysis.reporting.runner import execute_notebook, export_html
from kyodo_analysis.views.page import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")

PAGE = '''
from types import SimpleNamespace
import pandas as pd
from IPython.display import display
from kyodo_analysis.views import page, tables
from kyodo_analysis.reporting.publish import publish_text

study = SimpleNamespace(title=payloads[0], notice=" ".join(payloads), demo=True,
                        settings=SimpleNamespace(disclosure=None))
display(page.Report(study, 2025).header(payloads[1]))
for p in payloads:
    display(page.heading(p, 2))
    display(page.paragraph(p))
    display(page.paragraph(p, bold=True))
    display(page.note(p))
    display(page.table_heading(p, p))
display(page.notes(payloads))
table = pd.DataFrame({"回答": list(payloads), payloads[1]: [12.5] * len(payloads),
                      payloads[0]: list(payloads)})
display(tables.styled(table))
display(tables.styled(table, marks=pd.DataFrame("▲", index=table.index, columns=table.columns)))
display(tables.styled(publish_text(pd.Series(payloads), "free", output_dir=None, allow=True)))
'''


@pytest.mark.slow
def test_no_payload_runs_and_each_shows_as_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("payloads = []")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(PAGE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "hostile.ipynb"
    nbformat.write(nb, source)
    result = execute_notebook(source, tmp_path / "out.ipynb", {"payloads": list(PAYLOADS)})
    assert result.ok, result.error
    html = export_html(tmp_path / "out.ipynb", tmp_path / "hostile.html", title=PAYLOADS[0])
    assert CONTENT_SECURITY_POLICY in html.read_text(encoding="utf-8")

    dom, console = open_page(html, tmp_path)
    assert dom, "chromium produced no DOM"
    assert console == [], console
    parsed = parse(dom)
    assert parsed.scripts == 0
    assert parsed.handlers == [] and parsed.js_links == []
    text = "".join(parsed.text)
    for p in PAYLOADS:
        assert text.count(p) >= 8, (p, text.count(p))  # headings, notes, cells, free text ...


@pytest.mark.slow
def test_the_policy_blocks_a_script_that_got_through(tmp_path):
    """The second line of defence: were a script ever written unescaped, the browser refuses it."""
    page = tmp_path / "leak.html"
    page.write_text("<!DOCTYPE html><html><head></head><body><p>ok</p>"
                    + PAYLOADS[0] + PAYLOADS[1] + "</body></html>", encoding="utf-8")
    from kyodo_analysis.reporting.runner import _self_contained

    page.write_text(_self_contained(page.read_text(encoding="utf-8")), encoding="utf-8")
    _, console = open_page(page, tmp_path)
    assert not any("XSS-" in line and "Content Security Policy" not in line for line in console)
    assert any("Content Security Policy" in line for line in console)


@pytest.mark.slow
def test_a_hostile_study_reports_as_text_everywhere(demo_dir, tmp_path):
    """End to end: payloads in the study's own configuration, a real report run, every page and
    the index opened in Chromium, tables.xlsx re-read; the run is clean and becomes latest."""
    from openpyxl import load_workbook

    from kyodo_analysis.reporting.report import run_report
    from kyodo_analysis.study import Study

    study = Study.from_yaml(hostile_study(demo_dir, tmp_path / "hostile"))
    result = run_report(study, 2025, out_root=tmp_path / "reports", jobs=2)
    assert result.ok, [r.error for r in result.notebooks if not r.ok] + list(map(str, result.findings))
    latest = result.directory.parent / "latest"
    assert latest.resolve() == result.directory.resolve()
    pages = sorted(result.directory.glob("*.html"))
    assert {p.name for p in pages} == {"01_overview.html", "02_indicators.html", "index.html"}
    for page in pages:
        dom, console = open_page(page, tmp_path)
        assert console == [], (page.name, console)
        parsed = parse(dom)
        assert parsed.scripts == 0 and parsed.handlers == [] and parsed.js_links == [], page.name
        text = "".join(parsed.text)
        assert all(p in text for p in PAYLOADS), page.name
    wb = load_workbook(result.tables)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(PAYLOADS[4] in str(c.value) for c in cells)  # the formula payload, as text
