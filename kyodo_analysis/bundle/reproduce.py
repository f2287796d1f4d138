"""Reproduce a bundle's published run on the bundle and compare every table cell by cell.

``kyodo reproduce bundle.zip`` unpacks the bundle (refusing paths that leave its folder),
checks every file's sha256, creates the environment from the lock (or uses ``--python``) and,
in that environment, runs the notebooks of the published run on the bundle's anonymised data
(:func:`run_bundle`). Each published table is then compared cell by cell with the rerun
(:func:`compare_records`); a differing table is explained when it shows a variable the
anonymisation changed (a suppressed or recoded quasi-identifier, removed free text): the
comparison names the variable, how many values were changed and why. The bundle's rows are
shuffled; the package's resampling and clustering put the records in a canonical order
first (:func:`kyodo_analysis.stats.segments.canonical_rows`), so the order is not a cause.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kyodo_analysis.bundle.study import BundleStudy, open_bundle

__all__ = ["BundleReproduceResult", "CellDifference", "TableComparison", "compare_records",
           "explain", "run_bundle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellDifference:
    row: int
    label: str
    column: str
    published: object
    bundle: object

    def __str__(self) -> str:
        return (f"row {self.row + 1} ({self.label}), column {self.column}: published "
                f"{self.published!r}, bundle {self.bundle!r}")


@dataclass(frozen=True)
class TableComparison:
    """One published table against its rerun."""

    key: str
    status: str  # identical | differs | missing | new
    cells: tuple[CellDifference, ...] = ()
    shape: str | None = None
    causes: tuple[str, ...] = ()

    @property
    def explained(self) -> bool:
        return self.status == "identical" or bool(self.causes)


@dataclass
class BundleReproduceResult:
    """The comparison of every published table; ``directory`` holds the rerun's executed
    notebooks and tables when it was kept (``out_root``)."""

    tables: list[TableComparison] = field(default_factory=list)
    directory: Path | None = None
    notebooks_failed: tuple[str, ...] = ()
    notebooks_run: int = 0
    notebook_runs: int = 0
    seconds: float | None = None  # of rerunning the notebooks

    @property
    def identical(self) -> list[TableComparison]:
        return [t for t in self.tables if t.status == "identical"]

    @property
    def published(self) -> int:
        return sum(t.status != "new" for t in self.tables)

    @property
    def unexplained(self) -> list[TableComparison]:
        return [t for t in self.tables if t.status != "identical" and not t.explained]

    @property
    def ok(self) -> bool:
        return not self.notebooks_failed and not self.unexplained

    def lines(self, *, max_cells: int = 20) -> list[str]:
        out = []
        if self.notebook_runs:
            took = f" in {self.seconds:.1f} s" if self.seconds is not None else ""
            out.append(f"notebook runs rerun: {self.notebooks_run} of {self.notebook_runs} "
                       f"(those that published tables){took}")
        for t in self.tables:
            if t.status == "identical":
                continue
            why = ("; ".join(t.causes) if t.causes else
                   "NOT explained by the anonymisation")
            out.append(f"  {t.status}: {t.key} — {why}")
            if t.shape:
                out.append(f"    {t.shape}")
            for c in t.cells[:max_cells]:
                out.append(f"    {c}")
            if len(t.cells) > max_cells:
                out.append(f"    ... and {len(t.cells) - max_cells} more cells")
        out.append(f"tables identical: {len(self.identical)} of {self.published}")
        return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return float(a) == float(b)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return a == b
    return a == b


def compare_records(published: Mapping[str, Mapping], new: Mapping[str, Mapping]
                    ) -> list[TableComparison]:
    """Cell-by-cell comparison of tables ``{key: {columns, rows}}``."""
    out = []
    for key, old in published.items():
        if key not in new:
            out.append(TableComparison(key, "missing"))
            continue
        cur = new[key]
        cols_old, cols_new = list(old["columns"]), list(cur["columns"])
        rows_old, rows_new = old["rows"], cur["rows"]
        cells = []
        shape = None
        if cols_old != cols_new:
            shape = f"columns differ: published {cols_old}, bundle {cols_new}"
        if len(rows_old) != len(rows_new):
            shape = ((shape + "; ") if shape else "") + (
                f"rows differ: published {len(rows_old)}, bundle {len(rows_new)}")
        common = [c for c in cols_old if c in cols_new]
        for i, (ro, rn) in enumerate(zip(rows_old, rows_new, strict=False)):
            label = str(ro[0]) if ro else ""
            for c in common:
                a, b = ro[cols_old.index(c)], rn[cols_new.index(c)]
                if not _same(a, b):
                    cells.append(CellDifference(i, label, c, a, b))
        status = "identical" if not cells and shape is None else "differs"
        out.append(TableComparison(key, status, tuple(cells), shape))
    out += [TableComparison(key, "new") for key in new if key not in published]
    return out


def _signatures(study: BundleStudy, column: str) -> set[str]:
    """Strings that show a table depends on ``column``: its domain names, its question text,
    and its code labels that no other question uses."""
    cb = study.codebook
    sig: set[str] = set()
    sig |= {lv.name for lv in study.district_levels if lv.column == column}
    sig |= {a.name for a in study.attributes if a.column == column}
    if column in cb:
        q = cb[column]
        if q.text:
            sig.add(q.text)
        others = {label for other in cb if other.id != column
                  for label in list(other.codes.values()) + [o.label for o in other.options]}
        sig |= {label for label in q.codes.values() if label not in others and len(label) > 1}
    return sig


def explain(study: BundleStudy, comparisons: Sequence[TableComparison],
            published: Mapping[str, Mapping], runs: Mapping[str, Mapping]
            ) -> list[TableComparison]:
    """Attach causes to differing tables from the bundle's anonymisation record."""
    desc = study.description
    fy = str(desc["fiscal_year"])
    changes = desc.get("anonymisation", {})
    k = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        k = json.loads((study.bundle / "disclosure" / "risk_report.json").read_text(
            encoding="utf-8"))["k"]
    reasons: dict[str, list[str]] = {}
    for year, ch in changes.items():
        for column, n in ch.get("suppressed", {}).items():
            reasons.setdefault(column, []).append(
                f"{n} values suppressed in FY{year} for k-anonymity (k={k})")
        for column, n in ch.get("recoded", {}).items():
            labels = ch.get("recode_labels", {}).get(column, {})
            reasons.setdefault(column, []).append(
                f"{n} values recoded in FY{year} (global recoding: {', '.join(labels)})")
        for column in ch.get("free_text_dropped", []):
            reasons.setdefault(column, []).append(f"free text removed in FY{year}")
    sigs = {c: _signatures(study, c) for c in reasons}
    names = {c: (study.codebook[c].text if c in study.codebook else c) for c in reasons}
    out = []
    for t in comparisons:
        if t.status == "identical":
            out.append(t)
            continue
        table = published.get(t.key, {})
        notebook = t.key.split("/", 1)[0]
        words = [str(table.get("title", "")), *map(str, table.get("columns", [])),
                 *(str(c) for r in table.get("rows", []) for c in r if isinstance(c, str)),
                 *(str(v) for v in (runs.get(notebook, {}).get("parameters") or {}).values())]
        text = "\n".join(words)
        causes = []
        for column, sig in sigs.items():
            if any(s and s in text for s in sig) or (
                    table.get("free_text") and column in changes.get(fy, {}).get(
                        "free_text_dropped", [])):
                causes.append(f"{column}（{names[column]}）: " + "; ".join(reasons[column]))
        out.append(TableComparison(t.key, t.status, t.cells, t.shape, tuple(causes)))
    return out


def _rerun(source: Path, output: Path, parameters: dict, *, cwd: Path, timeout: int):
    """One notebook in a pool worker: executed, tables written, no page (see run_bundle)."""
    from kyodo_analysis.reporting.runner import execute_notebook

    Path(parameters["output_dir"]).mkdir(parents=True, exist_ok=True)
    return execute_notebook(source, output, parameters, cwd=cwd, timeout=timeout,
                            keep_kernel=True)


def run_bundle(root: Path, *, out_root: Path | None = None, jobs: int | None = None,
               timeout: int | None = None, progress: bool = False) -> BundleReproduceResult:
    """Run the published notebooks on the bundle in this interpreter and compare the tables.

    Only the notebook runs that published a table are rerun (a run without tables has
    nothing to compare), in parallel in the report runner's process pool
    (:func:`~kyodo_analysis.reporting.batch.open_executor`, ``jobs`` workers, each keeping its
    kernel from page to page, longest first), and only their tables are made: no pages,
    workbook or PDF. The executed notebooks and their tables go
    to ``out_root`` (default: a temporary folder, removed).
    """
    from kyodo_analysis.reporting.batch import default_jobs, open_executor
    from kyodo_analysis.reporting.publish import collect_tables
    from kyodo_analysis.reporting.report import longest_first, manifest_seconds
    from kyodo_analysis.reporting.runner import NotebookResult

    study = open_bundle(root)
    root = study.bundle
    params = json.loads((root / "notebooks" / "parameters.json").read_text(encoding="utf-8"))
    study_file = str(study.path.resolve())
    manifest = json.loads((root / "published" / "manifest.json").read_text(encoding="utf-8"))
    timeout = timeout or int(manifest.get("executor", {}).get("timeout") or 600)
    published = json.loads((root / "published" / "tables.json").read_text(encoding="utf-8"))
    with_tables = {t["notebook"] for t in published.values()}
    runs = [r for r in params["runs"] if r["id"] in with_tables]
    nb_dir = (root / "notebooks").resolve()
    results: list = []
    with contextlib.ExitStack() as stack:
        out = out_root
        if out is None:
            out = stack.enter_context(tempfile.TemporaryDirectory(prefix="kyodo-bundle-run-"))
        out = Path(out).resolve()
        (out / "ipynb").mkdir(parents=True, exist_ok=True)
        workers = max(1, min(jobs or default_jobs(), len(runs)))
        t0 = time.perf_counter()
        # longest first, by the published run's durations, as the report runner starts them
        order = longest_first([(r["id"], r["parameters"]) for r in runs],
                              manifest_seconds(manifest))
        with open_executor(jobs=workers) as pool:
            started = {i: pool.submit(
                _rerun, nb_dir / f"{runs[i]['notebook']}.ipynb",
                out / "ipynb" / f"{runs[i]['id']}.ipynb",
                {**runs[i]["parameters"], "study": study_file,
                 "output_dir": str(out / "outputs" / runs[i]["id"])},
                cwd=nb_dir, timeout=timeout) for i in order}
            for i, r in enumerate(runs):  # results in suite order
                fut = started[i]
                try:
                    res = fut.result()
                except Exception as exc:  # the worker died: the notebook failed
                    res = NotebookResult(r["id"], out / "ipynb" / f"{r['id']}.ipynb", False,
                                         f"worker failed: {type(exc).__name__}: {exc}",
                                         status="error")
                (log.info if res.ok else log.error)("run %s: %s", r["id"], res.describe())
                results.append((r["id"], res))
        seconds = time.perf_counter() - t0
        records = collect_tables(out / "outputs", order=[r["id"] for r in runs])
        new = {r.key: {"columns": list(r.columns), "rows": [list(x) for x in r.rows]}
               for r in records}
    comparisons = compare_records(published, new)
    comparisons = explain(study, comparisons, published, {r["id"]: r for r in params["runs"]})
    failed = tuple(i for i, res in results if not res.ok)
    return BundleReproduceResult(comparisons, out if out_root is not None else None, failed,
                                 len(runs), len(params["runs"]), seconds)
