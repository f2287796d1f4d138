"""Publishing a report: complete or not at all."""

from __future__ import annotations

import pytest

from kyodo_analysis.reporting import report as report_mod
from kyodo_analysis.reporting.report import run_report


def test_failed_run_keeps_the_previous_report(demo_study, tmp_path, monkeypatch):
    first = run_report(demo_study, 2025, out_root=tmp_path)
    assert first.ok
    before = first.index.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. the run was killed while exporting HTML

    monkeypatch.setattr(report_mod, "export_html", crash)
    with pytest.raises(KeyboardInterrupt):
        run_report(demo_study, 2025, out_root=tmp_path)
    assert first.index.read_bytes() == before
    leftovers = [p.name for p in (tmp_path / "handa-demo").iterdir() if p.name != "FY2025"]
    assert leftovers == []


def test_a_failing_notebook_still_publishes_and_says_so(demo_study, tmp_path, monkeypatch):
    broken = tmp_path / "nb"
    broken.mkdir()
    (broken / "01_overview.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "execution_count": null, "id": "p", '
        '"metadata": {"tags": ["parameters"]}, "outputs": [], "source": "study = \\"\\""}, '
        '{"cell_type": "code", "execution_count": null, "id": "b", "metadata": {}, "outputs": [], '
        '"source": "1/0"}], "metadata": {"kernelspec": {"name": "python3", "language": "python", '
        '"display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}', encoding="utf-8")
    result = run_report(demo_study, 2025, out_root=tmp_path, notebook_dir=broken)
    assert not result.ok
    assert "ZeroDivisionError" in result.notebooks[0].error
    assert "失敗" in result.index.read_text(encoding="utf-8")
