"""Any real study reaches a complete report: nothing in the package assumes the demo."""

from __future__ import annotations

import re
import shutil
from html import unescape

import pytest
from report_support import kyodo


def _notes(page) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [unescape(m) for m in re.findall(r'<p style="background:#f4f6f8[^"]*">(.*?)</p>', text)]


@pytest.mark.slow
def test_a_study_with_only_waves_and_a_codebook_gets_every_page(demo_dir, tmp_path):
    """No weighting, fieldwork, indicators, activity statistics, districts or plan: every page
    is still complete and each missing section says what to add to study.yaml."""
    root = tmp_path / "minimal"
    root.mkdir()
    shutil.copy(demo_dir / "codebook.yaml", root / "codebook.yaml")
    shutil.copytree(demo_dir / "raw", root / "raw")
    (root / "study.yaml").write_text(
        "study: minimal\ntitle: 最小の調査\ncodebook: codebook.yaml\nwaves:\n"
        "  - {fiscal_year: R6, file: raw/survey_FY2024.sav}\n"
        "  - {fiscal_year: 令和7年度, file: raw/survey_FY2025.csv}\n", encoding="utf-8")
    proc = kyodo("report", "--study", str(root / "study.yaml"), "--out", str(tmp_path / "out"),
                 "--fiscal-year", "FY2025")
    assert proc.returncode == 0, proc.stderr[-3000:]
    latest = tmp_path / "out" / "minimal" / "FY2025" / "latest"
    pages = {p.stem: p for p in latest.glob("*.html") if p.stem != "index"}
    assert set(pages) == {"01_overview", "02_indicators", "03_trends", "04_district",
                          "05_comparison", "06_crosstabs"}
    index = (latest / "index.html").read_text(encoding="utf-8")
    assert index.count(">完了<") == 6 and "失敗" not in index
    assert any("fieldwork:" in n for n in _notes(pages["01_overview"]))
    assert any("design.weighting" in n for n in _notes(pages["01_overview"]))
    assert any("indicators:" in n for n in _notes(pages["02_indicators"]))
    assert any("activity:" in n for n in _notes(pages["03_trends"]))
    assert any("districts" in n for n in _notes(pages["04_district"]))
    assert "Traceback" not in "".join(p.read_text(encoding="utf-8") for p in pages.values())
