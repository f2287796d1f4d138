"""The ``kyodo`` command. Thin: parse options, call the package, print where things went.

Exit codes: 0 success; 1 the work failed (a notebook failed, bad input or configuration), with a
one-line reason on stderr; 2 the command line itself was wrong (unknown option, missing value).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kyodo_analysis.demo.spec import DEFAULT_SEED
from kyodo_analysis.errors import KyodoError
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
              show_default=True, help="Folder to write the demo study to (replaced if present).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Random seed; the same seed gives byte-identical files.")
def demo(out: Path, seed: int) -> None:
    """Generate the synthetic Handa-like demo study (デモデータ)."""
    from kyodo_analysis.demo.generate import generate_demo

    try:
        study = generate_demo(out, seed=seed)
    except (KyodoError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"demo study written to {study.study_file}")


@main.command()
@click.option("--study", "study_file", type=click.Path(path_type=Path), default=DEFAULT_STUDY,
              show_default=True, help="The study's study.yaml. The demo study is generated "
              "when the default is asked for and missing.")
@click.option("--fiscal-year", "fiscal_year", default=None,
              help="Fiscal year to report (2025, FY2025 or 令和7年度); default the latest wave.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=project_root() / "reports",
              show_default=True, help="Root folder of published reports.")
@click.option("--timeout", type=int, default=600, show_default=True,
              help="Seconds one notebook may run before it counts as failed.")
def report(study_file: Path, fiscal_year: str | None, out: Path, timeout: int) -> None:
    """Run the report notebooks for one fiscal year and publish HTML."""
    from kyodo_analysis.calendar import parse_fiscal_year
    from kyodo_analysis.reporting.report import run_report
    from kyodo_analysis.study import open_study

    try:
        if study_file == DEFAULT_STUDY and not study_file.exists():
            click.echo(f"no study at {study_file}: generating the demo study")
        study = open_study(None if study_file == DEFAULT_STUDY else study_file)
        try:
            fy = parse_fiscal_year(fiscal_year) if fiscal_year else max(study.fiscal_years)
        except ValueError as exc:
            _fail(str(exc))
        result = run_report(study, fy, out_root=out, timeout=timeout)
    except KyodoError as exc:
        _fail(str(exc))
    for nb in result.notebooks:
        mark = "ok" if nb.ok else f"FAILED at cell {nb.failed_cell}: {nb.error}"
        click.echo(f"  {nb.name}: {mark}")
    click.echo(f"report: {result.index.resolve()}")
    if not result.ok:
        _fail("one or more notebooks failed; their partial output is in the report folder")


if __name__ == "__main__":  # pragma: no cover
    main()
