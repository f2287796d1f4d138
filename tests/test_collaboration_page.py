"""The 06_collaboration page: run through the report machinery on the demo (its tables in
tables.xlsx, the disclosure audit passed), rendered in headless Chromium, and the page a study
without a register gets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from report_support import small_study

from kyodo_analysis.reporting.publish import read_tables_xlsx
from kyodo_analysis.reporting.report import run_report
from kyodo_analysis.reporting.suite import DEFAULT_SUITE, NotebookSpec
from kyodo_analysis.study import Study

pytestmark = pytest.mark.slow

SPEC = NotebookSpec("06_collaboration", "協働プロセスの可視化")


def test_the_suite_has_the_page_after_the_comparison():
    stems = [s.stem for s in DEFAULT_SUITE]
    assert stems.index("06_collaboration") == stems.index("05_comparison") + 1
    assert DEFAULT_SUITE[stems.index("06_collaboration")].title == "協働プロセスの可視化"


@pytest.fixture(scope="module")
def page_run(demo_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("collab")
    return run_report(demo_study, 2025, out_root=out, jobs=1, suite=[SPEC])


def test_the_page_publishes_its_tables(page_run):
    result = page_run
    assert result.ok, [n.describe() for n in result.notebooks if not n.ok]
    tables = read_tables_xlsx(result.tables)
    names = {k.split("/", 1)[1] for k in tables if k.startswith("06_collaboration/")}
    assert {"collab_yearly", "collab_partners", "collab_flows", "collab_funnel", "collab_stages",
            "collab_plan_tree", "collab_reviews", "collab_review_projects"} <= names
    yearly = tables["06_collaboration/collab_yearly"]
    assert list(yearly["年度"]) == ["令和4年度", "令和5年度", "令和6年度", "令和7年度"]
    tree = tables["06_collaboration/collab_plan_tree"]
    assert (tree["事業数"] == 0).any()                         # the gap in the plan shows
    html = (result.directory / "06_collaboration.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/png') == 7     # 2 networks, flows, timeline,
    assert "協働のネットワーク" in html and "事業のない個別施策" in html   # funnel, tree, reviews
    assert "振り返りのコメント" in html and "示しません" in html    # free text not allowed
    assert "090-1234-5678" not in html


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
def test_the_page_renders_in_headless_chromium(page_run, tmp_path):
    import base64

    pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    from test_report import _devtools

    errors, facts = _devtools(tmp_path / "chrome", (page_run.directory / "06_collaboration.html").as_uri())
    assert facts["loaded"] and errors == [], errors
    assert facts["overflow"] <= 0, f"scrolls horizontally by {facts['overflow']}px"
    text = facts["text"]
    for words in ("協働プロセスの可視化", "年度別の協働の状況", "相手方の種別", "協働の形態",
                  "施策体系と事業数", "行政の平均", "市民側の平均", "デモデータ"):
        assert words in text, words
    shot = base64.b64decode(facts["screenshot"])
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    shutil.rmtree(tmp_path / "chrome", ignore_errors=True)


def test_a_study_without_a_register_gets_a_page_saying_what_to_add(demo_dir, tmp_path):
    path = small_study(demo_dir, tmp_path / "study", pages={})
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.pop("collaboration")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    study = Study.from_yaml(path)
    study.import_waves()
    result = run_report(study, 2025, out_root=tmp_path / "out", jobs=1, suite=[SPEC])
    assert result.ok, [n.describe() for n in result.notebooks if not n.ok]
    html = (result.directory / "06_collaboration.html").read_text(encoding="utf-8")
    assert "協働事業台帳が設定されていません" in html and 'src="data:image/png' not in html
