"""Build a study's report for one fiscal year: run the notebooks, export HTML, publish atomically."""

from __future__ import annotations

import datetime as dt
import html
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kyodo_analysis import paths
from kyodo_analysis.calendar import fiscal_year_label
from kyodo_analysis.errors import ReportError
from kyodo_analysis.reporting.runner import NotebookResult, execute_notebook, export_html
from kyodo_analysis.study import Study

__all__ = ["NOTEBOOKS", "ReportResult", "run_report"]

#: The report's notebooks, in the order the index lists them: (file stem, Japanese title).
NOTEBOOKS: list[tuple[str, str]] = [("01_overview", "調査結果の概要（単純集計）")]


@dataclass(frozen=True)
class ReportResult:
    """Where a report was published and how each notebook fared."""

    directory: Path
    index: Path
    notebooks: tuple[NotebookResult, ...]

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.notebooks)


def run_report(study: Study, fiscal_year: int, *, out_root: Path = Path("reports"),
               notebook_dir: Path | None = None, timeout: int = 600) -> ReportResult:
    """Run every report notebook for ``fiscal_year`` and publish to
    ``<out_root>/<study>/FY<year>/``.

    The report is built in a temporary sibling directory and swapped into place only when
    complete, so an interrupted run leaves the previous report untouched.
    """
    study.wave(fiscal_year)  # fail early, with the study's own message, on an unknown year
    study.import_waves()  # idempotent: files already in the store are skipped
    notebook_dir = Path(notebook_dir or paths.notebook_dir())
    target = Path(out_root) / study.name / f"FY{fiscal_year}"
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".FY{fiscal_year}-", dir=target.parent))
    build.chmod(0o755)  # mkdtemp makes it private; a published report is readable by all
    try:
        results = []
        for stem, title in NOTEBOOKS:
            source = notebook_dir / f"{stem}.ipynb"
            if not source.is_file():
                raise ReportError(f"notebook not found: {source}")
            params = {"study": str(study.path.resolve()), "fiscal_year": fiscal_year,
                      "output_dir": str(build.resolve())}
            result = execute_notebook(source, build / f"{stem}.ipynb", params,
                                      cwd=notebook_dir, timeout=timeout)
            if result.ipynb.is_file():
                export_html(result.ipynb, build / f"{stem}.html", title=title)
            results.append(result)
        started = dt.datetime.now(dt.UTC)
        (build / "index.html").write_text(_index_html(study, fiscal_year, results, started),
                                          encoding="utf-8")
        _swap_into_place(build, target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return ReportResult(target, target / "index.html", tuple(
        NotebookResult(r.name, target / r.ipynb.name, r.ok, r.error, r.failed_cell)
        for r in results))


def _swap_into_place(build: Path, target: Path) -> None:
    """Replace ``target`` by ``build`` with renames only (each atomic on one file system)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{build.name}")
        target.rename(old)
    build.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _index_html(study: Study, fy: int, results: list[NotebookResult], when: dt.datetime) -> str:
    titles = dict(NOTEBOOKS)
    items = []
    for r in results:
        status = "完了" if r.ok else f"失敗: {html.escape(r.error or '')}"
        items.append(f'<li><a href="{html.escape(r.name)}.html">{html.escape(titles[r.name])}</a>'
                     f' <span class="{"ok" if r.ok else "failed"}">（{status}）</span></li>')
    banner = (f'<p class="demo">デモデータ: {html.escape(study.notice or "")}</p>'
              if study.demo else "")
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(study.title)} {fiscal_year_label(fy)}</title>
<style>
body {{ font-family: "Hiragino Sans", "Noto Sans JP", "IPAexGothic", "Yu Gothic", sans-serif;
       max-width: 52rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.7; color: #222; }}
.demo {{ background: #fff3cd; border: 1px solid #e0c36a; padding: .6rem 1rem; }}
.ok {{ color: #2e7d32; }} .failed {{ color: #b71c1c; }}
footer {{ color: #666; font-size: .85rem; margin-top: 2rem; }}
</style>
</head>
<body>
<h1>{html.escape(study.title)}</h1>
<p>{fiscal_year_label(fy)}　報告書</p>
{banner}
<ul>
{chr(10).join(items)}
</ul>
<footer>作成: kyodo_analysis {when:%Y-%m-%d %H:%M} UTC</footer>
</body>
</html>
"""
