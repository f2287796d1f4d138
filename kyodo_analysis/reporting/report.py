"""Build a study's report set for one fiscal year and publish it atomically.

Layout::

    <out_root>/<study>/FY<year>/<run-id>/   index.html, <run>.html per notebook run,
                                           ipynb/<run>.ipynb, tables.xlsx, manifest.json
    <out_root>/<study>/FY<year>/latest  ->  <run-id>   (newest run that completed cleanly)

A run is built in a hidden sibling folder (``.build-<run-id>-<pid>-*``) and renamed into
place when complete; ``latest`` is then swapped by renaming a fresh symlink over it. A killed
run therefore leaves earlier runs and ``latest`` untouched; its hidden folder is removed by
the next run once its process is gone. ``latest`` moves only when every notebook succeeded
and the disclosure audit passed; other runs are published under their run id for diagnosis.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import html
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from kyodo_analysis import paths
from kyodo_analysis.calendar import fiscal_year_label
from kyodo_analysis.errors import KyodoError, ReportError
from kyodo_analysis.evaluation.disclosure import AuditFinding
from kyodo_analysis.reporting import manifest as mf
from kyodo_analysis.reporting.batch import default_jobs, run_batch
from kyodo_analysis.reporting.publish import (
    TABLES_DIR,
    audit_pages,
    audit_tables,
    collect_tables,
    write_tables_xlsx,
)
from kyodo_analysis.reporting.runner import NotebookJob, NotebookResult
from kyodo_analysis.reporting.suite import NotebookSpec, PlannedRun, plan_runs, suite_for
from kyodo_analysis.study import Study, open_study
from kyodo_analysis.views.page import csp_meta

__all__ = [
    "LATEST",
    "ReportResult",
    "ReproduceResult",
    "compare_tables",
    "new_run_id",
    "reproduce",
    "run_report",
    "submission_order",
]

log = logging.getLogger(__name__)

#: Name of the pointer to the newest clean run inside ``FY<year>/``.
LATEST = "latest"


def submission_order(jobs: Sequence[NotebookJob], previous: Path) -> list[int]:
    """The order to start ``jobs`` in (indices): longest first, so that no worker is left
    running a long page alone at the end while the others wait.

    The durations are the previous complete run's (``previous``: its folder, with
    ``manifest.json``); see :func:`longest_first`. Only the start order changes: pages,
    tables and their numbers follow the suite.
    """
    seconds: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        doc = json.loads((previous / "manifest.json").read_text(encoding="utf-8"))
        seconds = manifest_seconds(doc)
    return longest_first([(j.id, j.parameters) for j in jobs], seconds)


def _kernel_policy(kind: str, fresh: bool) -> str:
    """How the run's pages got their kernels, for the manifest (see runner.execute_notebook:
    a kernel is kept only by a page run in a process's main thread)."""
    if fresh or kind == "dask":
        return "fresh per page"
    if kind == "process-pool":
        return "kept per worker, reset between pages"
    return "kept per worker where the executor runs pages in a process's main thread, else fresh"


def manifest_seconds(doc: Mapping) -> dict[str, float]:
    """Each notebook run's duration in a run's manifest, by run id."""
    return {n["id"]: float(n["seconds"]) for n in doc.get("notebooks", []) if n.get("seconds")}


def longest_first(runs: Sequence[tuple[str, Mapping]], seconds: Mapping[str, float]) -> list[int]:
    """Indices of ``runs`` (``(id, parameters)``) by decreasing duration in ``seconds``; a run
    without one counts as the longest. Without any durations, the city pages go first and the
    (many, short) district pages fill in after them."""
    if not seconds:
        return sorted(range(len(runs)), key=lambda i: ("district" in runs[i][1], i))
    longest = max(seconds.values())
    return sorted(range(len(runs)), key=lambda i: (-seconds.get(runs[i][0], longest), i))


OUTPUTS = "outputs"


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique run id: ``20261128T101500Z-<pid>``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{os.getpid()}"


@dataclass(frozen=True)
class ReportResult:
    """Where a report run was published and how it fared.

    Attributes
    ----------
    directory
        The run's folder ``<out_root>/<study>/FY<year>/<run-id>``.
    index
        Its ``index.html``.
    notebooks
        One result per notebook run, in index order.
    findings
        Disclosure-audit findings (empty when the audit passed).
    run_id, manifest, tables
        The run id, ``manifest.json`` and ``tables.xlsx``.
    latest
        Whether ``latest`` now points at this run.
    warnings
        Small counts in tables that pages show without publishing them (see
        :func:`~kyodo_analysis.reporting.publish.audit_pages`); findings instead with
        ``strict_pages=True``.
    """

    directory: Path
    index: Path
    notebooks: tuple[NotebookResult, ...]
    findings: tuple[AuditFinding, ...] = ()
    run_id: str = ""
    manifest: Path | None = None
    tables: Path | None = None
    latest: bool = False
    warnings: tuple[AuditFinding, ...] = ()

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.notebooks) and not self.findings

    @property
    def failed(self) -> tuple[NotebookResult, ...]:
        return tuple(n for n in self.notebooks if not n.ok)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_builds(folder: Path) -> None:
    """Remove hidden build folders left by runs whose process no longer exists."""
    for p in folder.glob(".build-*"):
        try:
            pid = int(p.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def _point_latest(fy_dir: Path, run_id: str) -> None:
    """Swap ``latest`` to ``run_id`` by renaming a new symlink over it (atomic on POSIX)."""
    tmp = fy_dir / f".{LATEST}-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_id, target_is_directory=True)
    os.replace(tmp, fy_dir / LATEST)


def _jobs_for(runs: Sequence[PlannedRun], build: Path, notebook_dir: Path, timeout: int,
              keep_kernels: bool = True) -> list[NotebookJob]:
    jobs = []
    for r in runs:
        out = (build / OUTPUTS / r.id).resolve()
        jobs.append(NotebookJob(
            id=r.id, source=(notebook_dir / f"{r.stem}.ipynb").resolve(),
            output=(build / "ipynb" / f"{r.id}.ipynb").resolve(),
            html=(build / f"{r.id}.html").resolve(), title=r.title,
            parameters={**r.parameters, "output_dir": str(out)}, cwd=notebook_dir.resolve(),
            timeout=timeout, keep_kernel=keep_kernels))
    (build / "ipynb").mkdir(exist_ok=True)
    return jobs


_PATH_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def _inside(root: Path, *parts: str) -> Path:
    """``root/part/...``, refused unless every part is a plain name (no separator, no ``..``)
    and the result stays under ``root``: a report never writes outside ``--out``."""
    for part in parts:
        if not _PATH_PART.fullmatch(str(part)):
            raise ReportError(f"{part!r} cannot name a folder under {root}: use letters, digits, "
                              "'-' and '_'")
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise ReportError(f"{path} is outside {root}")
    return path


class _StoreHold:
    """A read-only connection to the study's store held for a whole report run.

    DuckDB lets any number of processes read a file but none write it while one reads, so
    the notebooks (readers) all see the store as it was when the run began, and an import
    that would replace a wave meanwhile (``kyodo import --replace``) is refused as "the store
    is in use" instead of changing the data under half of the report. ``imports`` are the
    import ids of the waves as the run read them (recorded in the manifest).
    """

    def __init__(self, study) -> None:
        from kyodo_analysis.store import Store

        try:
            path = study.store_path
        except (AttributeError, KyodoError):  # a study read from files only (a partner bundle)
            path = None
        self.store = None
        self.imports: dict[int, int] = {}
        if path is not None and Path(path).is_file():
            self.store = Store(path, read_only=True)
            self.imports = self.store.wave_imports(study.name)
        self.path = str(path) if path is not None else None

    def describe(self) -> dict:
        return {"file": self.path, "held": self.store is not None,
                "wave_imports": {str(fy): i for fy, i in self.imports.items()}}

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


def _execute(study: Study, fiscal_year: int, runs: Sequence[PlannedRun], *, out_root: Path,
             notebook_dir: Path, timeout: int, jobs: int | None, scheduler: str | None,
             executor: cf.Executor | None, progress: bool, run_id: str | None,
             update_latest: bool = True, strict_pages: bool = False,
             fresh_kernels: bool = False) -> ReportResult:
    started = mf.now_iso()
    run_id = run_id or new_run_id()
    fy_dir = _inside(Path(out_root), study.name, f"FY{fiscal_year}", run_id).parent
    fy_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(fy_dir)
    if (fy_dir / run_id).exists():
        raise ReportError(f"run folder already exists: {fy_dir / run_id}")
    prepare = getattr(study, "ensure_imported", None)
    if callable(prepare):
        # Studies backed by a store import their waves once here, not in every parallel
        # notebook (one writer; the notebooks then only read).
        prepare()
    hold = _StoreHold(study)  # one version of the data for every notebook of the run
    build = Path(tempfile.mkdtemp(prefix=f".build-{run_id}-", dir=fy_dir))
    build.chmod(0o755)  # mkdtemp makes it private; a published report is readable by all
    try:
        inputs = mf.input_files(study)
        job_list = _jobs_for(runs, build, notebook_dir, timeout, keep_kernels=not fresh_kernels)
        kind = "executor" if executor is not None else ("dask" if scheduler else "process-pool")
        workers = None if executor is not None or scheduler else (jobs or default_jobs())
        log.info("run %s: %d notebook runs of %s %s on %s%s", run_id, len(job_list), study.name,
                 fiscal_year_label(fiscal_year), scheduler or kind,
                 f" ({workers} workers)" if workers else "")

        def note(result: NotebookResult) -> None:
            (log.info if result.ok else log.error)("%s", result.describe())

        order = submission_order(job_list, fy_dir / LATEST)
        finished = run_batch([job_list[i] for i in order], executor=executor, max_workers=jobs,
                             scheduler=scheduler, progress=progress, on_result=note)
        results = [r for _, r in sorted(zip(order, finished, strict=True), key=lambda p: p[0])]
        titles = {r.id: r.title for r in runs}
        records = collect_tables(build / OUTPUTS, order=[r.id for r in runs])
        xlsx = write_tables_xlsx(records, build / "tables.xlsx", notebook_titles=titles,
                                 study=study, fiscal_year=fiscal_year)
        findings = tuple(audit_tables(records, xlsx=xlsx, threshold=study.suppression_threshold,
                                      study=study))
        pages = [r.html for r in results if r.html is not None and Path(r.html).is_file()]
        shown = tuple(audit_pages(pages, threshold=study.suppression_threshold))
        shown += tuple(withhold_unaudited(build / OUTPUTS))
        if strict_pages:
            findings += shown
            shown = ()
        for f in findings:
            log.error("disclosure audit: %s", f)
        for f in shown:
            log.warning("disclosure warning (table shown on a page, not published through "
                        "publish_table): %s", f)
        log.info("published %d tables; disclosure audit %s", len(records),
                 "passed" if not findings else f"FAILED ({len(findings)} findings)")
        pdf = _print_report(study, fiscal_year, runs, results, build)
        finished = mf.now_iso()
        ok = all(r.ok for r in results) and not findings
        manifest = {
            "manifest_version": mf.MANIFEST_VERSION, "run_id": run_id,
            "status": "ok" if ok else "failed", "started": started, "finished": finished,
            "study": {"name": study.name, "title": study.title, "demo": study.demo,
                      "root": str(study.root.resolve()), "file": study.path.name,
                      "config": study.settings.model_dump(mode="json")},
            "fiscal_year": fiscal_year,
            "inputs": [i.to_dict() for i in inputs],
            "store": hold.describe(),
            "executor": {"kind": kind, "scheduler": scheduler, "jobs": workers,
                         "timeout": timeout,
                         "kernels": _kernel_policy(kind, fresh_kernels)},
            "notebooks": [_notebook_entry(run, job, res, build)
                          for run, job, res in zip(runs, job_list, results, strict=True)],
            "tables": {r.key: r.digest() for r in records},
            "pdf": pdf,
            "audit": {"passed": not findings, "findings": [str(f) for f in findings],
                      "page_warnings": [str(f) for f in shown]},
            "environment": mf.environment(),
            "git": mf.git_state(paths.project_root()),
        }
        (build / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        (build / "index.html").write_text(
            _index_html(study, fiscal_year, runs, results, findings, run_id, started,
                        finished, warnings=shown, records=records,
                        pdf=bool(pdf.get("file"))), encoding="utf-8")
        target = fy_dir / run_id
        build.rename(target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    finally:
        hold.close()
    moved = False
    if ok and update_latest:
        _point_latest(fy_dir, run_id)
        moved = True
    _remove_stale_builds(fy_dir)  # again: a killed run's orphaned kernels may have lingered
    final = tuple(_relocate(r, build, target) for r in results)
    return ReportResult(target, target / "index.html", final, findings, run_id,
                        target / "manifest.json", target / "tables.xlsx",
                        moved, shown)


def _print_report(study: Study, fy: int, runs: Sequence[PlannedRun],
                  results: Sequence[NotebookResult], build: Path) -> dict:
    """Print the city-level report to ``report.pdf`` (headless Chromium); a missing Chromium
    or a failed print is recorded in the manifest, never a failed run."""
    import time

    from kyodo_analysis.views import pdf as pdf_view

    if pdf_view.chromium() is None:
        log.warning("report.pdf not made: no headless Chromium on this machine")
        return {"file": None, "reason": "no headless Chromium"}
    chapters = [(run.parameters.get("chapter"), run.title, Path(res.ipynb))
                for run, res in zip(runs, results, strict=True)
                if run.group == "市全体" and res.ok and res.ipynb and Path(res.ipynb).is_file()]
    source = build / "report_print.html"
    source.write_text(pdf_view.report_html(chapters, title=study.title,
                                           subtitle=f"{fiscal_year_label(fy)}　報告書",
                                           notice=study.notice if study.demo else None),
                      encoding="utf-8")
    start = time.monotonic()
    try:
        out = pdf_view.print_pdf(source, build / "report.pdf")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        log.error("report.pdf not made: %s", exc)
        return {"file": None, "reason": str(exc)}
    finally:
        source.unlink(missing_ok=True)
    seconds = round(time.monotonic() - start, 1)
    log.info("report.pdf printed in %.1f s", seconds)
    return {"file": "report.pdf", "sha256": mf.sha256_file(out), "seconds": seconds,
            "chapters": [t for _, t, _ in chapters]}


def withhold_unaudited(outputs: Path) -> list[AuditFinding]:
    """Remove from the run folder every file a notebook wrote besides its table records.

    Only what went through the audit is published: a CSV or image a notebook wrote into its
    ``output_dir`` never reached :func:`publish_table`, so it is withheld (deleted from the
    build) and named in the index, where the notebook's author sees what to publish instead.
    """
    found = []
    if not outputs.is_dir():
        return found
    for path in sorted(outputs.rglob("*")):
        if path.is_file() and not (path.suffix == ".json" and path.parent.name == TABLES_DIR):
            rel = path.relative_to(outputs)
            path.unlink()
            found.append(AuditFinding(str(rel), "unaudited file", None, None,
                                      "withheld: files are published only through "
                                      "publish_table / publish_view"))
    return found


def _relocate(r: NotebookResult, build: Path, target: Path) -> NotebookResult:
    def move(p: Path | None) -> Path | None:
        if p is None:
            return None
        try:
            return target / Path(p).resolve().relative_to(build.resolve())
        except ValueError:
            return p

    return NotebookResult(r.name, move(r.ipynb), r.ok, r.error, r.failed_cell, r.cell,
                          r.cell_source, r.status, r.attempts, r.seconds, move(r.html),
                          r.parameters)


def _notebook_entry(run: PlannedRun, job: NotebookJob, res: NotebookResult, build: Path) -> dict:
    params = {k: v for k, v in res.parameters.items() if k != "output_dir"} or {
        k: v for k, v in job.parameters.items() if k != "output_dir"}
    return {"id": run.id, "notebook": run.stem, "title": run.title, "group": run.group,
            "source": str(job.source), "source_sha256": mf.sha256_file(job.source),
            "parameters": params, "status": res.status, "ok": res.ok, "error": res.error,
            "cell": res.cell, "cell_source": res.cell_source, "execution_count": res.failed_cell,
            "attempts": res.attempts, "seconds": round(res.seconds, 2),
            "html": f"{run.id}.html" if res.html else None, "ipynb": f"ipynb/{run.id}.ipynb"}


def run_report(study: Study, fiscal_year: int, *, out_root: Path = Path("reports"),
               notebook_dir: Path | None = None, timeout: int = 600, jobs: int | None = None,
               scheduler: str | None = None, executor: cf.Executor | None = None,
               progress: bool = False, run_id: str | None = None,
               suite: Sequence[NotebookSpec] | None = None,
               strict_pages: bool = False, fresh_kernels: bool = False) -> ReportResult:
    """Run the report set of ``study`` for ``fiscal_year`` in parallel and publish it.

    Parameters
    ----------
    study
        The study (its ``districts`` give the district runs).
    fiscal_year
        The wave to report.
    out_root
        Root of published reports; the run goes to ``<out_root>/<study>/FY<year>/<run-id>``.
    notebook_dir
        Folder of the notebooks (default: the project's ``notebooks/``).
    timeout
        Seconds each notebook may run.
    jobs
        Local worker processes (default: the machine's CPUs).
    scheduler
        Address of a dask.distributed scheduler to run on instead of local processes.
    executor
        A ready :class:`concurrent.futures.Executor` (e.g. a dask ``Client.get_executor()``).
    progress
        Show a progress bar on stderr.
    run_id
        Use this run id (the CLI passes the one it named the log file after).
    suite
        Notebook list (default: study.yaml ``report.notebooks`` or the house list).
    strict_pages
        Fail the audit also on small counts in tables shown on pages but not published
        through ``publish_table`` (otherwise they are warnings in the log and the index).
    fresh_kernels
        Start a kernel for every page. By default each local worker keeps its kernel for its
        next page and resets it to a fresh kernel's state in between
        (:mod:`kyodo_analysis.reporting.kernel_state`), which saves the interpreter start and
        the imports of every page; the pages' outputs are the same either way (tested).
        Notebooks run on dask or on a given executor always get fresh kernels.

    Returns
    -------
    ReportResult
        Failed notebooks and audit findings are in the result (``ok`` is ``False``); they are
        not raised, so one broken notebook does not stop the others.

    Raises
    ------
    ReportError
        When the set cannot be planned (a required notebook is missing) or published.
    """
    study.wave(fiscal_year)  # fail early, with the study's own message, on an unknown year
    notebook_dir = Path(notebook_dir or paths.notebook_dir())
    specs = tuple(suite) if suite is not None else suite_for(study)
    base = {"study": str(study.path.resolve()), "fiscal_year": fiscal_year}
    runs = plan_runs(specs, study, notebook_dir=notebook_dir, base=base)
    return _execute(study, fiscal_year, runs, out_root=out_root, notebook_dir=notebook_dir,
                    timeout=timeout, jobs=jobs, scheduler=scheduler, executor=executor,
                    progress=progress, run_id=run_id, strict_pages=strict_pages,
                    fresh_kernels=fresh_kernels)


@dataclass(frozen=True)
class ReproduceResult:
    """Outcome of rerunning a manifest: the new run and how its tables compare."""

    report: ReportResult
    identical: tuple[str, ...]
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    notebooks_changed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.report.ok and not (self.changed or self.missing or self.extra)


def reproduce(manifest_path: Path, *, out_root: Path | None = None, jobs: int | None = None,
              scheduler: str | None = None, executor: cf.Executor | None = None,
              timeout: int | None = None, progress: bool = False,
              notebook_dir: Path | None = None) -> ReproduceResult:
    """Rerun the notebooks of a manifest with the same parameters and compare the tables.

    Every input's sha256 is checked first; a changed or missing file raises
    :class:`ReportError` naming it, before anything runs. The rerun is published under
    ``out_root`` (default: a temporary folder, removed afterwards) without moving ``latest``.
    """
    doc = mf.load_manifest(manifest_path)
    study_file = mf.verify_inputs(doc)
    study = open_study(study_file)
    fy = int(doc["fiscal_year"])
    runs = [PlannedRun(n["id"], n["notebook"], n.get("title", n["id"]), dict(n["parameters"]),
                       n.get("group", "")) for n in doc["notebooks"]]
    if notebook_dir is None:
        sources = {Path(n["source"]).parent for n in doc["notebooks"]}
        notebook_dir = next(iter(sources)) if len(sources) == 1 and all(
            Path(n["source"]).is_file() for n in doc["notebooks"]) else paths.notebook_dir()
    for r in runs:
        if not (Path(notebook_dir) / f"{r.stem}.ipynb").is_file():
            raise ReportError(f"notebook not found: {Path(notebook_dir) / (r.stem + '.ipynb')}")
    changed_notebooks = tuple(
        n["id"] for n in doc["notebooks"]
        if n.get("source_sha256") and mf.sha256_file(Path(notebook_dir) / f"{n['notebook']}.ipynb")
        != n["source_sha256"])
    for run_id_ in changed_notebooks:
        log.warning("notebook of %s changed since the run: tables may differ for that reason",
                    run_id_)
    timeout = timeout or int(doc.get("executor", {}).get("timeout") or 600)
    with contextlib.ExitStack() as stack:
        root = out_root
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kyodo-reproduce-")))
        result = _execute(study, fy, runs, out_root=Path(root), notebook_dir=Path(notebook_dir),
                          timeout=timeout, jobs=jobs, scheduler=scheduler, executor=executor,
                          progress=progress, run_id=None, update_latest=False)
        new = json.loads(result.manifest.read_text(encoding="utf-8"))["tables"]
    return ReproduceResult(result, *compare_tables(doc.get("tables", {}), new),
                           notebooks_changed=changed_notebooks)


def compare_tables(old: dict[str, str], new: dict[str, str]
                   ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Compare two runs' table digests: (identical, changed, missing from new, new only)."""
    same = tuple(k for k in old if k in new and new[k] == old[k])
    changed = tuple(k for k in old if k in new and new[k] != old[k])
    missing = tuple(k for k in old if k not in new)
    extra = tuple(k for k in new if k not in old)
    return same, changed, missing, extra


_STATUS_JA = {"ok": "完了", "failed": "失敗", "timeout": "時間切れ", "error": "実行エラー"}


#: Table record that 02_indicators publishes with every indicator's grade (shown on the index).
INDICATOR_GRADES_RECORD = "02_indicators/grades"
#: Table record of 01_overview with the headline shares (weighted, valid answers).
HEADLINE_RECORD = "01_overview/weighting_effect"


def _jst(stamp: str) -> str:
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return t.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y年%m月%d日 %H:%M")


def _record_html(record, *, columns: Sequence[str] | None = None) -> str:
    from kyodo_analysis.views.tables import display_cell

    esc = html.escape
    cols = [c for c in (columns or record.columns) if c in record.columns]
    idx = [list(record.columns).index(c) for c in cols]
    head = "".join(f"<th>{esc(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{"num" if isinstance(row[j], int | float) else "txt"}">'
            f"{esc(display_cell(row[j]))}</td>" for j in idx) + "</tr>"
        for row in record.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _grading_method(study: Study) -> str:
    """「評価の方法」 under the grades: the registry's rule in the same sentences as on 02."""
    from kyodo_analysis.errors import ConfigError
    from kyodo_analysis.evaluation.registry import load_registry

    try:
        rule = load_registry(study).rule
    except ConfigError:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in rule.describe_ja())
    return f'<details open><summary>評価の方法</summary><ul class="note">{items}</ul></details>'


def _front_page(study: Study, records: Sequence) -> str:
    """Headline results and every indicator's grade, read from the published records."""
    esc = html.escape
    by_key = {r.key: r for r in records}
    parts = ["<h2>主な結果</h2>"]
    head = by_key.get(HEADLINE_RECORD)
    if head is not None:
        cols = [c for c in head.columns if c == "指標" or c.startswith("重み付け推定値")
                or "信頼区間" in c or c == "n"]
        parts.append(_record_html(head, columns=cols))
        parts.append('<p class="note">割合は重み付けした推定値、基数は有効回答者数（無回答を除く）。</p>'
                     if study.weighted else '<p class="note">基数は有効回答者数（無回答を除く）。</p>')
    else:
        shown = [by_key[f"01_overview/{q}"] for q in study.headline.questions
                 if f"01_overview/{q}" in by_key]
        for r in shown:
            parts.append(f"<h3>{esc(r.title)}</h3>" + _record_html(r, columns=["回答", "%"]))
        if not shown:
            parts.append('<p class="note">主な結果（study.yaml の headline）が指定されていません。</p>')
    parts.append("<h2>成果指標の評価</h2>")
    grades = by_key.get(INDICATOR_GRADES_RECORD)
    if grades is not None:
        parts.append(_record_html(grades))
        parts.append(_grading_method(study))
    else:
        parts.append('<p class="note">成果指標のページには評価表（表ID '
                     f"{esc(INDICATOR_GRADES_RECORD)}）がありません。</p>")
    return "\n".join(parts)


def _index_html(study: Study, fy: int, runs: Sequence[PlannedRun], results: Sequence[NotebookResult],
                findings: Sequence[AuditFinding], run_id: str,
                started: str, finished: str, *, warnings: Sequence[AuditFinding] = (),
                records: Sequence = (), pdf: bool = False) -> str:
    esc = html.escape
    front = _front_page(study, records)
    pdf_link = '報告書（PDF）: <a href="report.pdf">report.pdf</a>　' if pdf else ""
    files = ('集計表（Excel）: <a href="tables.xlsx">tables.xlsx</a>　'
             '実行記録: <a href="manifest.json">manifest.json</a>')
    credit = "　作成: kyodo_analysis"
    groups: dict[str, list[str]] = {}
    for run, res in zip(runs, results, strict=True):
        status = _STATUS_JA.get(res.status, res.status)
        if res.ok:
            mark = f'<span class="ok">{status}</span>'
        else:
            where = f"セル{res.cell}: " if res.cell else ""
            mark = f'<span class="failed">{status}（{esc(where + (res.error or ""))}）</span>'
        page = (f'<a href="{quote(run.id)}.html">{esc(run.title)}</a>' if res.html
                else esc(run.title))
        groups.setdefault(run.group, []).append(
            f"<tr><td>{page}</td><td>{mark}</td><td>{res.seconds:.0f}秒</td>"
            f'<td><a href="ipynb/{quote(run.id)}.ipynb">ipynb</a></td></tr>')
    sections = []
    order = ["市全体", *(lv.name for lv in study.district_levels)]
    for group in sorted(groups, key=lambda g: (order.index(g) if g in order else len(order), g)):
        sections.append(f"<h2>{esc(group)}</h2>\n<table>\n<thead><tr><th>報告書</th><th>状態</th>"
                        f"<th>実行時間</th><th>ノートブック</th></tr></thead>\n<tbody>\n"
                        + "\n".join(groups[group]) + "\n</tbody>\n</table>")
    ok = all(r.ok for r in results) and not findings
    note = f"（注意{len(warnings)}件、下記参照）" if warnings else ""
    overall = (f'<p class="ok">すべての集計が完了し、秘匿チェックに合格しました{note}。</p>' if ok else
               '<p class="failed">一部の集計が失敗したか、秘匿チェックに不合格です（下記参照）。'
               'この実行は最新版（latest）として公開されていません。</p>')
    audit = ""
    if findings:
        audit = ("<h2>秘匿チェックの指摘</h2>\n<ul>\n"
                 + "\n".join(f"<li>{esc(str(f))}</li>" for f in findings) + "\n</ul>")
    if warnings:
        audit += ("<h2>秘匿チェックの注意</h2>\n<p class=\"note\">次の表は公開用の秘匿処理"
                  "（publish_table）を通らずにページに表示されています。</p>\n<ul>\n"
                  + "\n".join(f"<li>{esc(str(f))}</li>" for f in warnings) + "\n</ul>")
    banner = (f'<p class="demo"><strong>デモデータ</strong>: {esc(study.notice or "")}</p>'
              if study.demo else "")
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
{csp_meta()}
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{esc(study.title)} {fiscal_year_label(fy)}</title>
<style>
body {{ font-family: "Hiragino Sans", "Noto Sans JP", "IPAexGothic", "Yu Gothic", sans-serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.7; color: #222; }}
.demo {{ background: #fff3cd; border: 1px solid #e0c36a; padding: .6rem 1rem; }}
.ok {{ color: #2e7d32; }} .failed {{ color: #b71c1c; }} .note {{ color: #555; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
footer {{ color: #666; font-size: .85rem; margin-top: 2rem; }}
</style>
</head>
<body>
<h1>{esc(study.title)}</h1>
<p>{fiscal_year_label(fy)}　報告書</p>
{banner}
{front}
{overall}
<p>{pdf_link}{files}</p>
{chr(10).join(sections)}
{audit}
<footer>実行ID {esc(run_id)}　開始 {esc(_jst(started))}　終了 {esc(_jst(finished))}（日本時間）{credit}</footer>
</body>
</html>
"""
