"""The plan-evaluation notebooks (02_indicators, 03_trends) execute under papermill on the demo."""

from __future__ import annotations

import nbformat
import pytest

from kyodo_analysis.paths import notebook_dir, project_root
from kyodo_analysis.reporting.publish import collect_tables
from kyodo_analysis.reporting.runner import execute_notebook


def _outputs(path) -> tuple[str, int]:
    nb = nbformat.read(path, as_version=4)
    text, images = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for o in cell.outputs:
            data = o.get("data", {})
            text.append(o.get("text", "") + str(data.get("text/html", ""))
                        + str(data.get("text/markdown", "")))
            images += "image/png" in data
    return "".join(text), images


@pytest.mark.parametrize("name, must_show, min_images", [
    ("02_indicators", ["令和7（2025）年度", "デモデータ", "推進施策I", "達成率", "95%信頼区間",
                       "年代別", "評価の方法", "判定保留", "最小検出変化", "ホルム法"], 6),
    ("03_trends", ["デモデータ", "目標到達確率", "順調", "伸び率の変化", "産出（アウトプット）",
                   "傾向モデル", "評価（直近年度）", "調整後"], 10),
])
def test_evaluation_notebook_executes_on_the_demo(tmp_path, demo_study, name, must_show,
                                                   min_images, monkeypatch):
    # the kernel must import this checkout's package (a worktree, or an editable install
    # elsewhere), as the test process does
    monkeypatch.setenv("PYTHONPATH", str(project_root()))
    out = tmp_path / f"{name}.ipynb"
    extra = tmp_path / "extra"
    result = execute_notebook(notebook_dir() / f"{name}.ipynb", out,
                              {"study": str(demo_study.path), "fiscal_year": 2025,
                               "output_dir": str(extra)})
    assert result.ok, result.error
    text, images = _outputs(out)
    for phrase in must_show:
        assert phrase in text, phrase
    assert "Traceback" not in text
    assert images >= min_images
    # tables reach tables.xlsx through publish_table, never as loose CSV files
    assert not any(extra.glob("*.csv"))
    assert any((extra / "tables").glob("*.json"))


def test_02_03_and_the_excel_table_agree_on_every_grade(tmp_path, demo_study, monkeypatch):
    """Every indicator has one grade on 02 (summary and per-policy tables), on 03 (each target
    year's outlook table) and in tables.xlsx as written from those published tables and read
    back; the workbook's 見通し is the outlook computed for the same year."""
    from kyodo_analysis.evaluation.indicators import indicator_trends, load_registry
    from kyodo_analysis.views.excel import read_workbook, write_workbook

    monkeypatch.setenv("PYTHONPATH", str(project_root()))
    params = {"study": str(demo_study.path), "fiscal_year": 2025}
    for name in ("02_indicators", "03_trends"):
        result = execute_notebook(notebook_dir() / f"{name}.ipynb", tmp_path / f"{name}.ipynb",
                                  {**params, "output_dir": str(tmp_path / name)})
        assert result.ok, result.error
    recs = collect_tables(tmp_path)
    book = read_workbook(write_workbook(recs, tmp_path / "tables.xlsx", study=demo_study,
                                        fiscal_year=2025))
    ids = {i.id for i in load_registry(demo_study)}
    for where in ({r.key: r.to_frame() for r in recs}, book):
        policy = {k: t for k, t in where.items() if k.startswith("02_indicators/evaluation_")}
        grades02 = {}
        for t in policy.values():
            grades02.update(zip(t["指標番号"], t["評価"], strict=True))
        assert set(grades02) == ids
        summary = where["02_indicators/grades"]
        assert dict(zip(summary["指標番号"], summary["評価"], strict=True)) == grades02
        outlook = {k: t for k, t in where.items() if k.startswith("03_trends/outlook_FY")}
        assert outlook
        for t in outlook.values():
            assert dict(zip(t["指標番号"], t["評価（直近年度）"], strict=True)) == grades02
    fc = indicator_trends(demo_study, through=2025).forecasts
    for key, t in book.items():
        if key.startswith("03_trends/outlook_FY"):
            year = int(key.removeprefix("03_trends/outlook_FY"))
            want = fc[fc["target_year"] == year].set_index("indicator_id")["status_label"]
            assert dict(zip(t["指標番号"], t["見通し"], strict=True)) == want.to_dict()
