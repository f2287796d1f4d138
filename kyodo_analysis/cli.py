"""The ``kyodo`` command. Thin: parse options, call the package, print where things went.

Exit codes: 0 success; 1 the work failed (a notebook failed, bad input or configuration), with a
one-line reason on stderr; 2 the command line itself was wrong (unknown option, missing value).
``kyodo validate`` and ``kyodo import`` follow the ingestion convention instead: 0 every row
accepted; 1 accepted with quarantined rows (or the store is busy: try again); 2 file rejected,
nothing imported.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path

import click

from kyodo_analysis.demo.spec import DEFAULT_SEED
from kyodo_analysis.errors import KyodoError, StoreBusyError
from kyodo_analysis.paths import demo_study_file, project_root

DEFAULT_STUDY = demo_study_file()


def _fail(message: str) -> None:
    click.echo(f"kyodo: error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kyodo_analysis")
def main() -> None:
    """kyodo_analysis: evaluate Handa City's Citizen Challenge Collaboration Plan from
    survey data and activity statistics, and publish reproducible reports."""


@main.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=DEFAULT_STUDY.parent,
              show_default=True, help="Folder to write the demo study to (replaced only if kyodo demo made it).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Random seed; the same seed gives byte-identical files.")
def demo(out: Path, seed: int) -> None:
    """Generate the synthetic Handa-like demo study (デモデータ).

    A folder that kyodo demo did not create (no .kyodo-demo marker) is never replaced.
    """
    from kyodo_analysis.demo.generate import generate_demo

    try:
        study = generate_demo(out, seed=seed)
    except (KyodoError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"demo study written to {study.study_file}")


@main.command(name="init")
@click.option("--from", "first", type=click.Path(path_type=Path), default=None,
              metavar="FILE [FILE ...]",
              help="The city's exports (xlsx, csv, sav), one file per wave.")
@click.argument("more", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder to write codebook.yaml, study.yaml and indicators.yaml to.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--name", default=None, help="The study's slug (a-z0-9 - _); default from the file.")
@click.option("--title", default=None, help="The study's title; default from the title rows.")
@click.option("--collaboration", is_flag=True,
              help="Write the template of the collaboration register (協働事業台帳.xlsx) instead.")
@click.option("--study", "study_file", type=click.Path(path_type=Path), default=None,
              help="With --collaboration: take the plan, lists and districts from this study.yaml.")
def init(first: Path | None, more: tuple[Path, ...], out: Path, force: bool, name: str | None,
         title: str | None, collaboration: bool, study_file: Path | None) -> None:
    """Draft a study (codebook, study and indicator files) from a city's exports.

    Every guess is marked 「要確認」 in the files written. Exit code 0 when the draft was
    written, 1 when a file exists (use --force), 2 when an export cannot be read or has no
    recognisable header.
    """
    import re

    from kyodo_analysis.io.init import describe, draft_study, write_study

    if collaboration:
        _init_collaboration(out, study_file, force)
        return
    if first is None:
        raise click.UsageError("give the exports with --from FILE (or --collaboration)")

    if name is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise click.BadParameter("a slug of a-z, 0-9, - and _", param_hint="--name")
    files = [first, *more]
    try:
        draft = draft_study(files, name=name, title=title)
    except KyodoError as exc:
        click.echo(f"kyodo: rejected: {exc}", err=True)
        sys.exit(2)
    try:
        written = write_study(draft, out, force=force)
    except FileExistsError as exc:
        _fail(f"{exc} exists; use --force to overwrite it")
    for line in describe(draft):
        click.echo(line)
    click.echo("written: " + ", ".join(str(p) for p in written))
    if draft.todo:
        click.echo("left to fill in:")
        for item in draft.todo:
            click.echo(f"  - {item}")

def _init_collaboration(out: Path, study_file: Path | None, force: bool) -> None:
    """``kyodo init --collaboration``: write the register template (協働事業台帳.xlsx)."""
    from importlib import resources

    from kyodo_analysis import yamlio
    from kyodo_analysis.collaboration.template import write_template
    from kyodo_analysis.config.study import CollaborationConfig

    target = out / "協働事業台帳.xlsx"
    if target.exists() and not force:
        _fail(f"{target} exists; use --force to overwrite it")
    districts: dict = {}
    try:
        if study_file is not None:
            from kyodo_analysis.study import Study

            study = Study.from_yaml(study_file)
            policies = study.plan.policies
            conf = study.settings.collaboration or CollaborationConfig(register="協働事業台帳.xlsx")
            districts = {lv.name: study.districts(lv.name) for lv in study.district_levels}
        else:
            plan = yamlio.safe_load(resources.files("kyodo_analysis.templates").joinpath("plan.yaml")
                                  .read_text(encoding="utf-8"))
            policies = plan["policies"]
            conf = CollaborationConfig(register="協働事業台帳.xlsx")
    except KyodoError as exc:
        _fail(str(exc))
    write_template(target, policies=policies, partner_types=conf.partner_types, forms=conf.forms,
                   review_items=conf.review_items, grant_categories=conf.grant_categories,
                   districts=districts)
    click.echo(f"written: {target}")
    click.echo("add to study.yaml:")
    click.echo("  collaboration:")
    click.echo("    register: {file: 協働事業台帳.xlsx, sheet: 事業台帳}")
    click.echo("    reviews: {file: 協働事業台帳.xlsx, sheet: 振り返り}")



@contextlib.contextmanager
def _run_log(log_file: Path | None):
    """Log kyodo_analysis's progress to stderr and, when given, to ``log_file`` (UTF-8)."""
    logger = logging.getLogger("kyodo_analysis")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setFormatter(logging.Formatter("%(message)s"))
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        handlers[1].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                                   "%Y-%m-%dT%H:%M:%S%z"))
    old_level = logger.level
    logger.setLevel(logging.INFO)
    for h in handlers:
        logger.addHandler(h)
    try:
        yield logger
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
        logger.setLevel(old_level)


@contextlib.contextmanager
def _terminate_as_exit(log: logging.Logger, run_id: str):
    """Turn SIGTERM (``timeout`` in a crontab, a shutdown) into a clean exit: the unfinished
    run's folder is removed and queued notebooks are cancelled, as on Ctrl-C."""
    def handler(signum, frame):
        log.error("run %s terminated by signal %d; nothing was published", run_id, signum)
        raise SystemExit(128 + signum)

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. called from a test runner thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _progress_default(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


@main.command()
@click.option("--study", "study_file", type=click.Path(path_type=Path), default=DEFAULT_STUDY,
              show_default=True, help="The study's study.yaml. The demo study is generated "
              "when the default is asked for and missing.")
@click.option("--fiscal-year", "fiscal_year", default=None,
              help="Fiscal year to report (2025, FY2025 or 令和7年度); default the latest wave.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=project_root() / "reports",
              show_default=True, help="Root folder of published reports.")
@click.option("--timeout", type=click.IntRange(min=1), default=600, show_default=True,
              help="Seconds one notebook may run before it counts as failed.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Notebooks run in parallel on this many local processes [default: CPUs].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a dask.distributed scheduler (e.g. tcp://host:8786) instead.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr [default: when stderr is a terminal].")
@click.option("--notebook-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder of the report notebooks [default: the project's notebooks/].")
@click.option("--strict-audit", is_flag=True, default=False,
              help="Also fail on small counts in tables that pages show without publishing "
              "them through publish_table (default: a warning in the log and the index).")
@click.option("--fresh-kernels", is_flag=True, default=False,
              help="Start a new kernel for every page (default: each worker keeps its kernel "
              "for its next page, reset to a fresh kernel's state in between).")
def report(study_file: Path, fiscal_year: str | None, out: Path, timeout: int, jobs: int | None,
           scheduler: str | None, progress: bool | None, notebook_dir: Path | None,
           strict_audit: bool, fresh_kernels: bool) -> None:
    """Run the report set for one fiscal year and publish it.

    Runs the city-level notebooks and one district notebook per 中学校区 and 小学校区 in
    parallel, then publishes OUT/<study>/FY<year>/<run-id>/ (index.html, one HTML page per
    notebook, tables.xlsx, manifest.json) and points OUT/<study>/FY<year>/latest at it when
    every notebook succeeded and the disclosure audit passed. The log is written to
    OUT/<study>/logs/<run-id>.log. Exit code 0 when all is well, 1 when a notebook or the
    audit failed (or the run could not start), 2 for a wrong command line.
    """
    from kyodo_analysis.calendar import parse_fiscal_year
    from kyodo_analysis.reporting.report import new_run_id, run_report
    from kyodo_analysis.study import open_study

    try:
        if study_file == DEFAULT_STUDY and not study_file.exists():
            click.echo(f"no study at {study_file}: generating the demo study")
        study = open_study(None if study_file == DEFAULT_STUDY else study_file)
        try:
            fy = parse_fiscal_year(fiscal_year) if fiscal_year else max(study.fiscal_years)
        except ValueError as exc:
            _fail(str(exc))
        study.wave(fy)
    except KyodoError as exc:
        _fail(str(exc))
    run_id = new_run_id()
    log_file = out / study.name / "logs" / f"{run_id}.log"
    with _run_log(log_file) as log, _terminate_as_exit(log, run_id):
        try:
            result = run_report(study, fy, out_root=out, timeout=timeout, jobs=jobs,
                                scheduler=scheduler, progress=_progress_default(progress),
                                run_id=run_id, notebook_dir=notebook_dir,
                                strict_pages=strict_audit, fresh_kernels=fresh_kernels)
        except KyodoError as exc:
            log.error("run %s failed: %s", run_id, exc)
            _fail(str(exc))
        for nb in result.notebooks:
            click.echo(f"  {nb.describe()}")
        click.echo(f"report: {result.index.resolve()}")
        click.echo(f"log: {log_file.resolve()}")
        if not result.ok:
            failed = len(result.failed)
            reason = (f"{failed} of {len(result.notebooks)} notebooks failed; their partial output "
                      f"is in {result.directory}" if failed else
                      f"the disclosure audit found {len(result.findings)} problems")
            log.error("run %s: %s", run_id, reason)
            _fail(reason)
        log.info("run %s complete: %s", run_id, result.index)


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Publish the rerun under this folder (bundles: its executed notebooks and "
                   "tables) [default: a temporary folder, removed].")
@click.option("--timeout", type=click.IntRange(min=1), default=None,
              help="Seconds one notebook may run [default: as in the manifest].")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Local worker processes [default: CPUs].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a dask.distributed scheduler instead.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr [default: when stderr is a terminal].")
@click.option("--python", "python", default=None, metavar="PATH",
              help="Bundles: interpreter holding the locked packages, or 'current' for this "
                   "one [default: create a virtual environment from the bundle's lock].")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Bundles: folder to unpack the .zip into [default: a temporary folder].")
def reproduce(manifest: Path, out: Path | None, timeout: int | None, jobs: int | None,
              scheduler: str | None, progress: bool | None, python: str | None,
              workdir: Path | None) -> None:
    """Rerun a report from its manifest.json and check every published table is identical.

    Every input file's sha256 is checked first (a changed file is an error naming it). Exit
    code 0 when all tables are identical, 1 otherwise.

    MANIFEST may also be a partner bundle (a .zip made by kyodo bundle, or its unpacked
    folder): its hashes are verified, the environment is created from its lock (or --python),
    the notebooks run on its anonymised data and every published table is compared cell by
    cell; cells changed by the anonymisation are listed with the reason (exit 0 when every
    difference is explained, 1 otherwise).
    """
    if _is_bundle(manifest):
        _reproduce_bundle(manifest, out=out, timeout=timeout, jobs=jobs, progress=progress,
                          python=python, workdir=workdir)
        return
    from kyodo_analysis.reporting.report import reproduce as rerun

    with _run_log(None):
        try:
            result = rerun(manifest, out_root=out, timeout=timeout, jobs=jobs, scheduler=scheduler,
                           progress=_progress_default(progress))
        except KyodoError as exc:
            _fail(str(exc))
    for key in result.notebooks_changed:
        click.echo(f"  notebook changed since the run: {key}")
    for key in result.changed:
        click.echo(f"  changed: {key}")
    for key in result.missing:
        click.echo(f"  missing: {key}")
    for key in result.extra:
        click.echo(f"  new: {key}")
    total = len(result.identical) + len(result.changed) + len(result.missing)
    click.echo(f"tables identical: {len(result.identical)} of {total}")
    if out is not None:
        click.echo(f"rerun: {result.report.index.resolve()}")
    if not result.report.ok:
        _fail(f"{len(result.report.failed)} notebooks failed or the audit failed in the rerun")
    if not result.ok:
        _fail("the rerun's tables differ from the manifest's")


# ---- partner bundles (#17) ---------------------------------------------------------------
def _is_bundle(path: Path) -> bool:
    from kyodo_analysis.bundle.study import bundle_root

    return path.suffix.lower() == ".zip" or (path.is_dir() and bundle_root(path) is not None)


def _reproduce_bundle(path: Path, *, out: Path | None, timeout: int | None, jobs: int | None,
                      progress: bool | None, python: str | None, workdir: Path | None) -> None:
    """``kyodo reproduce bundle.zip``: see :mod:`kyodo_analysis.bundle.reproduce`."""
    import os
    import tempfile

    from kyodo_analysis.bundle import bootstrap
    from kyodo_analysis.bundle.study import bundle_root, safe_extract

    with contextlib.ExitStack() as stack:
        try:
            if path.is_file():
                target = workdir or Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="kyodo-bundle-")))
                root = safe_extract(path, target)
            else:
                root = bundle_root(path)
                if root is None:
                    _fail(f"{path} is not a study bundle")
        except KyodoError as exc:
            _fail(str(exc))
        if python not in (None, "current") and Path(python).resolve() == Path(sys.executable).resolve():
            python = "current"
        if python != "current":
            # verify, create the environment from the lock, and rerun in it
            args = [str(root)] + (["--python", python] if python else [])
            for opt, value in (("--jobs", jobs), ("--out", out), ("--timeout", timeout)):
                if value is not None:
                    args += [opt, str(Path(value).resolve()) if opt == "--out" else str(value)]
            code = bootstrap.main(args)
            if code:
                sys.exit(code)
            return
        from kyodo_analysis.bundle.reproduce import run_bundle

        with _run_log(None):
            try:
                result = run_bundle(root, out_root=out, jobs=jobs, timeout=timeout,
                                    progress=_progress_default(progress))
            except KyodoError as exc:
                _fail(str(exc))
        for line in result.lines():
            click.echo(line)
        if result.directory is not None:
            click.echo(f"rerun: {os.fspath(result.directory)}")
        if result.notebooks_failed:
            _fail(f"{len(result.notebooks_failed)} notebooks failed in the rerun: "
                  + ", ".join(result.notebooks_failed))
        if result.unexplained:
            _fail(f"{len(result.unexplained)} tables differ without a cause in the anonymisation")


@main.command(name="bundle")
@click.option("--study", "study_file", type=click.Path(path_type=Path, dir_okay=False),
              required=True, help="The study's study.yaml.")
@click.option("--fiscal-year", "fiscal_year", required=True,
              help="The published year to bundle (2025, FY2025 or 令和7年度).")
@click.option("--waves", default=None, metavar="FY[,FY...]",
              help="Waves to include [default: every wave up to the fiscal year].")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The bundle to write (.zip); written atomically, nothing else is written.")
@click.option("--run", "run_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The published run folder [default: REPORTS/<study>/FY<year>/latest].")
@click.option("--reports", "reports_root", type=click.Path(path_type=Path, file_okay=False),
              default=project_root() / "reports", show_default=True,
              help="Root folder of published reports.")
def bundle(study_file: Path, fiscal_year: str, waves: str | None, out: Path,
           run_dir: Path | None, reports_root: Path) -> None:
    """Write an anonymised study bundle for university partners.

    Anonymised microdata per wave (ids replaced, free text removed, dates coarsened,
    quasi-identifiers made k-anonymous), final weights and design variables, codebook,
    datapackage.json with the sha256 of every file, the notebooks and the published run,
    the environment lock and a disclosure-risk report. Exit code 0 when written, 1 otherwise.
    """
    from kyodo_analysis.bundle.build import build_bundle
    from kyodo_analysis.calendar import parse_fiscal_year
    from kyodo_analysis.study import open_study

    try:
        fy = parse_fiscal_year(fiscal_year)
        chosen = [parse_fiscal_year(w.strip()) for w in waves.split(",")] if waves else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with _run_log(None):
        try:
            study = open_study(study_file)
            result = build_bundle(study, fy, out=out, waves=chosen, run_dir=run_dir,
                                  reports_root=reports_root)
        except KyodoError as exc:
            _fail(str(exc))
    for year, r in result.risk["waves"].items():
        click.echo(f"FY{year}: k-anonymity violations {r['before']['k_violations']} -> "
                   f"{r['after']['k_violations']} (k={result.risk['k']}), records changed "
                   f"{r['records_changed']}, suppressed {r['suppressed'] or 'nothing'}")
    click.echo(f"bundle: {result.path.resolve()} ({result.seconds:.1f} s)")


#: The store ``kyodo import FILE`` writes to when neither --db nor a study file says where.
DEFAULT_STORE = project_root() / "data" / "kyodo.duckdb"


def _ingest_options(func):
    func = click.option("--codebook", "codebook_file", type=click.Path(path_type=Path),
                        default=None,
                        help="The survey's codebook.yaml (default: the --study file's).")(func)
    func = click.option("--sheet", default=None, help="Excel: sheet name (default the first).")(func)
    func = click.option("--header-row", type=int, default=None,
                        help="Excel: 1-based row holding the headers (default 1).")(func)
    func = click.option("--encoding", default=None,
                        help="CSV: encoding (default detected: utf-8, utf-8-sig or cp932).")(func)
    func = click.option("--strict", is_flag=True,
                        help="Reject the whole file on any row-level problem.")(func)
    func = click.option("--report-json", type=click.Path(path_type=Path), default=None,
                        help="Write {read, accepted, quarantined, encoding, errors} as JSON.")(func)
    func = click.option("--sampling-list", type=click.Path(path_type=Path), default=None,
                        help="The wave's sampling list (発送名簿) to join by respondent id.")(func)
    func = click.option("--sampling-id", default=None,
                        help="Id column of the sampling list (e.g. 整理番号).")(func)
    func = click.option("--sampling-column", multiple=True, metavar="LISTCOL=QUESTION",
                        help="A sampling-list column and the codebook question it fills, "
                             "e.g. 中学校区=stratum (repeatable).")(func)
    return func


def _study_file(study: str | None):
    """The study when ``--study`` names a study.yaml file (else it is just a name)."""
    from kyodo_analysis.study import Study

    if study and study.lower().endswith((".yaml", ".yml")) and Path(study).is_file():
        try:
            return Study.from_yaml(study)
        except KyodoError as exc:
            click.echo(f"kyodo: rejected: {exc}", err=True)
            sys.exit(2)
    return None


def _sampling_spec(study, fiscal_year, sampling_list, sampling_id, sampling_column) -> dict | None:
    """read_sampling_list arguments from the options, completed from the study file."""
    from kyodo_analysis.errors import ConfigError
    from kyodo_analysis.io.sampling import sampling_list_spec

    layout = study.settings.sampling_list if study else None
    layout = layout.model_dump() if layout else {}
    if sampling_id:
        layout["id_column"] = sampling_id
    if sampling_column:
        columns = {}
        for item in sampling_column:
            list_col, sep, qid = item.partition("=")
            if not sep or not list_col.strip() or not qid.strip():
                raise ConfigError(f"--sampling-column wants LISTCOL=QUESTION, got {item!r}")
            columns[list_col.strip()] = qid.strip()
        layout["columns"] = columns
    if sampling_list is not None:
        if not layout.get("id_column") or not layout.get("columns"):
            raise ConfigError("--sampling-list needs --sampling-id (the list's id column) and "
                              "--sampling-column LISTCOL=QUESTION (or a --study file's "
                              "sampling_list layout)")
        return sampling_list_spec(layout, {"sampling_list": str(sampling_list.resolve())},
                                  Path("."))
    if sampling_id or sampling_column:
        raise ConfigError("--sampling-id/--sampling-column need --sampling-list")
    if study is None or fiscal_year is None:
        return None
    return study.sampling_spec(fiscal_year)


def _validated(file: Path, codebook_file: Path | None, sheet, header_row, encoding, strict,
               fiscal_year: int | None = None, *, study=None, sampling_list=None,
               sampling_id=None, sampling_column=()):
    """Read and validate, or exit 2 with a one-line reason (nothing imported)."""
    from kyodo_analysis.codebook import Codebook
    from kyodo_analysis.io.readers import read_table
    from kyodo_analysis.io.sampling import read_sampling_list
    from kyodo_analysis.io.validate import validate

    try:
        if codebook_file is not None:
            codebook = Codebook.from_yaml(codebook_file)
        elif study is not None:
            codebook = study.codebook
        else:
            raise click.UsageError("give --codebook (or --study with a study.yaml file)")
        spec = _sampling_spec(study, fiscal_year, sampling_list, sampling_id, sampling_column)
        raw = read_table(file, encoding=encoding, sheet=sheet, header_row=header_row,
                         text_columns=codebook.text_headers(),
                         known_headers=set(codebook.header_aliases()))
        sampling = read_sampling_list(spec.pop("path"), codebook, **spec) if spec else None
        return codebook, validate(raw, codebook, fiscal_year=fiscal_year, strict=strict,
                                  sampling_list=sampling)
    except KyodoError as exc:
        click.echo(f"kyodo: rejected: {exc}", err=True)
        sys.exit(2)


def _summarise(result, report_json: Path | None) -> None:
    how = f"encoding: {result.encoding or 'n/a'}"
    if result.delimiter:
        how += f", delimiter: {result.delimiter!r}"
    click.echo(f"{result.file}: read {result.read}, accepted {result.n_accepted}, "
               f"quarantined {result.n_quarantined} ({how})")
    if result.sampling_list:
        click.echo(f"  joined to the sampling list {result.sampling_list}")
    for rule, count in result.summary()["rules"].items():
        click.echo(f"  {rule}: {count}")
    for rec in result.quarantine.head(10).itertuples():
        click.echo(f"  row {rec.row}, column {rec.column}: {rec.message} [{rec.rule}]")
    if result.n_quarantined and len(result.quarantine) > 10:
        click.echo(f"  ... {len(result.quarantine) - 10} more problems")
    if result.unknown_columns:
        click.echo(f"  columns not in the codebook (ignored): {', '.join(result.unknown_columns)}")
    if report_json is not None:
        report_json.write_text(result.to_json(), encoding="utf-8")


def _fiscal_year_option(wave: str | None) -> int | None:
    from kyodo_analysis.calendar import parse_fiscal_year

    if wave is None:
        return None
    try:
        return parse_fiscal_year(wave)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--wave") from None


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_ingest_options
@click.option("--wave", default=None,
              help="Fiscal year of the wave (checks 調査年度 and the questions' waves).")
@click.option("--study", "study_name", default=None,
              help="A study.yaml file: its codebook and sampling list layout are used.")
def validate(file, codebook_file, sheet, header_row, encoding, strict, report_json,
             sampling_list, sampling_id, sampling_column, wave, study_name) -> None:
    """Check a survey file against its codebook without importing it (dry run)."""
    study = _study_file(study_name)
    if study_name and study is None:
        raise click.BadParameter(f"no study file {study_name!r} (a study.yaml)",
                                 param_hint="--study")
    _, result = _validated(file, codebook_file, sheet, header_row, encoding, strict,
                           _fiscal_year_option(wave), study=study,
                           sampling_list=sampling_list, sampling_id=sampling_id,
                           sampling_column=sampling_column)
    _summarise(result, report_json)
    sys.exit(1 if result.n_quarantined else 0)


@main.command(name="import")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@_ingest_options
@click.option("--wave", default=None, help="Fiscal year of the wave: FY2025, 2025 or 令和7年度.")
@click.option("--study", "study_name", default="default", show_default=True,
              help="Study name the wave belongs to in the store, or a study.yaml file (its name, "
                   "codebook, store and the wave's sampling list are then used; without FILE "
                   "every wave of the study is imported).")
@click.option("--db", type=click.Path(path_type=Path), default=None,
              help="The DuckDB store file [default: the study's store, else data/kyodo.duckdb].")
@click.option("--replace", is_flag=True, help="Replace a wave already imported from another file.")
def import_(file, codebook_file, sheet, header_row, encoding, strict, report_json, sampling_list,
            sampling_id, sampling_column, wave, study_name, db, replace) -> None:
    """Validate a survey file and import its accepted rows (and quarantine) into the store.

    With --study STUDY.yaml and no FILE, every wave of the study is read, validated and
    imported (unchanged files are skipped). Exit 0 when every row was accepted, 1 when rows
    were quarantined, 2 when a file was rejected (nothing of it imported).
    """
    from kyodo_analysis.store import Store

    fiscal_year = _fiscal_year_option(wave)
    study = _study_file(study_name)
    if file is None:
        if study is None:
            raise click.UsageError("give FILE --wave FY, or --study STUDY.yaml to import every wave")
        _import_study(study, db, replace)
        return
    if fiscal_year is None:
        raise click.UsageError("importing one FILE needs --wave (its fiscal year)")
    if study is not None:
        study_name = study.name
    db = db or (study.store_path if study is not None else DEFAULT_STORE)
    codebook, result = _validated(file, codebook_file, sheet, header_row, encoding, strict,
                                  fiscal_year, study=study, sampling_list=sampling_list,
                                  sampling_id=sampling_id, sampling_column=sampling_column)
    _summarise(result, report_json)
    try:
        with Store(db) as store:
            outcome = store.import_wave(result, study=study_name, fiscal_year=fiscal_year,
                                        codebook=codebook, replace=replace)
    except StoreBusyError as exc:
        _fail(str(exc))  # exit 1: nothing is wrong with the file
    except KyodoError as exc:
        click.echo(f"kyodo: rejected: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{outcome.status}: wave FY{fiscal_year} of {study_name!r} in {db} "
               f"(import {outcome.import_id})")
    sys.exit(1 if result.n_quarantined else 0)


def _import_study(study, db: Path | None, replace: bool) -> None:
    """Import every wave of ``study``: one line per wave, then exit 0, 1 or 2."""
    try:
        outcomes = study.import_waves(db, replace=replace)
    except StoreBusyError as exc:
        _fail(str(exc))
    except KyodoError as exc:
        click.echo(f"kyodo: rejected: {exc}", err=True)
        sys.exit(2)
    for o in outcomes:
        click.echo(f"{o.status}: wave FY{o.fiscal_year}: read {o.read}, accepted {o.accepted}, "
                   f"quarantined {o.quarantined} (import {o.import_id})")
    click.echo(f"store: {db or study.store_path}")
    if any(o.quarantined for o in outcomes):
        click.echo("quarantined rows and their reasons: SELECT * FROM quarantine "
                   "(or kyodo validate FILE --study ... --wave FY)")
    sys.exit(1 if any(o.quarantined for o in outcomes) else 0)


@main.command()
@click.option("--study", "study_file", type=click.Path(path_type=Path), default=None,
              help="A study.yaml: show its store [default: the demo study's].")
@click.option("--db", type=click.Path(path_type=Path), default=None,
              help="A DuckDB store file to show instead of a study's.")
def status(study_file: Path | None, db: Path | None) -> None:
    """Show the waves and activity series in a store, with their counts.

    Without options, the store of the demo study; with --study, that study's store; with
    --db, that file. The first line says which store is shown.
    """
    from kyodo_analysis.store import Store
    from kyodo_analysis.study import Study

    try:
        if db is None:
            which = "the demo study" if study_file is None else str(study_file)
            study = Study.from_yaml(study_file or DEFAULT_STUDY, check=False)
            db = study.store_path
            if not db.is_file():
                _fail(f"{which} has no store yet at {db}: import it first "
                      f"(kyodo import --study {study.path}, or kyodo report)")
            click.echo(f"study: {study.name} ({which})")
        with Store(db, read_only=True) as store:
            waves, series = store.status(), store.series_status()
            population = store.population_status()
    except KyodoError as exc:
        _fail(str(exc))
    click.echo(f"store: {db}")
    click.echo("waves:" if len(waves) else "waves: none")
    if len(waves):
        click.echo(waves.to_string(index=False))
    click.echo("activity series:" if len(series) else "activity series: none")
    if len(series):
        click.echo(series.to_string(index=False))
    for row in population.itertuples():
        click.echo(f"population margins of {row.study!r}: {row.cells} cells, {row.total:,.0f} people")


@main.command()
def schema() -> None:
    """Print the JSON Schema of study.yaml (for editors and validators)."""
    from kyodo_analysis.config import json_schema_text

    click.echo(json_schema_text())


if __name__ == "__main__":  # pragma: no cover
    main()
