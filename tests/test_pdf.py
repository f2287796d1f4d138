"""report.pdf: printed by headless Chromium, A4, Japanese text embedded."""

from __future__ import annotations

import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from kyodo_analysis.views import pdf as pdf_view

pytestmark = pytest.mark.skipif(pdf_view.chromium() is None or not shutil.which("pdftoppm"),
                                reason="needs headless Chromium and poppler-utils")


def _chapter(path, title, number="1"):
    nb = new_notebook()
    nb.cells = [new_markdown_cell(f"## {title}"),
                new_code_cell("x", outputs=[new_output("display_data", data={
                    "text/html": f"<h4>表{number}-1　協働の認知度</h4><table><tr><th>回答</th><th>%</th></tr>"
                                 "<tr><td>よく知っている</td><td>16.4</td></tr></table>"})])]
    nbformat.write(nb, path)
    return path


def test_the_report_pdf_has_pages_and_embedded_japanese_fonts(tmp_path):
    # chapter 2 failed: its number is left out, the others keep theirs (as on their pages)
    chapters = [(1, "調査結果の概要", _chapter(tmp_path / "a.ipynb", "主な設問", "1")),
                (3, "経年比較", _chapter(tmp_path / "b.ipynb", "前回との比較", "3"))]
    src = tmp_path / "report.html"
    src.write_text(pdf_view.report_html(chapters, title="市民意識調査", subtitle="令和7（2025）年度"),
                   encoding="utf-8")
    out = pdf_view.print_pdf(src, tmp_path / "report.pdf")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages == 4  # cover, contents, two chapters
    assert "(A4)" in info
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    assert "IPAexGothic" in fonts and " yes " in fonts  # embedded
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "協働の認知度" in text and "目次" in text
    assert "第1章" in text and "第3章" in text and "第2章" not in text and "表3-1" in text
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == pages
