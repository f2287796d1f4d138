"""Which notebooks make up a report set, and with which parameters each runs.

The set is data: :data:`DEFAULT_SUITE` lists the house notebooks, and a study can replace it
with a ``report: {notebooks: [...]}`` block in study.yaml (same keys as :class:`NotebookSpec`).
City-level notebooks run once; district notebooks run once per district of every level the
study declares with pages (``districts`` in study.yaml), or once, saying what to add, when it
declares none. A missing notebook file is an error: a report set is never published short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kyodo_analysis.errors import ReportError

__all__ = [
    "DEFAULT_SUITE",
    "NotebookSpec",
    "PlannedRun",
    "plan_runs",
    "suite_for",
]


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of the report set.

    Attributes
    ----------
    stem
        File name without ``.ipynb`` in the notebook folder.
    title
        Japanese title shown in the index.
    scope
        ``"city"`` (one run) or ``"district"`` (one run per district of every level).
    """

    stem: str
    title: str
    scope: Literal["city", "district"] = "city"


DEFAULT_SUITE: tuple[NotebookSpec, ...] = (
    NotebookSpec("01_overview", "調査結果の概要（単純集計）"),
    NotebookSpec("02_indicators", "協働プランの成果指標"),
    NotebookSpec("03_trends", "市民活動の推移"),
    NotebookSpec("04_district", "地区別の集計", scope="district"),
    NotebookSpec("05_comparison", "経年比較"),
    # Runs for every study: without a collaboration block its page says what to add.
    NotebookSpec("06_collaboration", "協働プロセスの可視化"),
    NotebookSpec("07_awareness", "協働への意識と参加の要因"),
    NotebookSpec("08_crosstabs", "属性別クロス集計"),
)


@dataclass(frozen=True)
class PlannedRun:
    """One notebook execution of a report set."""

    id: str
    stem: str
    title: str
    parameters: dict
    group: str


def suite_for(study) -> tuple[NotebookSpec, ...]:
    """The study's notebook list (``report.notebooks`` in study.yaml) or :data:`DEFAULT_SUITE`."""
    report = study.settings.report
    if report is None or report.notebooks is None:
        return DEFAULT_SUITE
    return tuple(NotebookSpec(n.stem, n.title or n.stem, n.scope) for n in report.notebooks)


def plan_runs(specs: Sequence[NotebookSpec], study, *, notebook_dir: Path,
              base: Mapping) -> list[PlannedRun]:
    """Expand notebook specs into runs.

    ``base`` holds the parameters every run gets (``study``, ``fiscal_year``). Run ids are
    ASCII (``04_district-1-1``: level 1, district 1) so file names and links stay plain.

    Raises
    ------
    ReportError
        When a notebook is missing.
    """
    runs = []
    for spec in specs:
        if not (Path(notebook_dir) / f"{spec.stem}.ipynb").is_file():
            raise ReportError(f"notebook not found: {Path(notebook_dir) / (spec.stem + '.ipynb')}")
        if spec.scope == "city":
            runs.append(PlannedRun(spec.stem, spec.stem, spec.title, dict(base), "市全体"))
            continue
        units = study.district_units()
        if not units:  # one page saying what to add to study.yaml
            runs.append(PlannedRun(spec.stem, spec.stem, spec.title,
                                   {**base, "district": "", "level": ""}, "市全体"))
            continue
        levels = list(dict.fromkeys(level for level, _ in units))
        counters = dict.fromkeys(levels, 0)
        for level, name in units:
            counters[level] += 1
            tag = f"{levels.index(level) + 1}-{counters[level]}"
            runs.append(PlannedRun(f"{spec.stem}-{tag}", spec.stem, f"{spec.title}：{name}（{level}）",
                                   {**base, "district": name, "level": level}, level))
    return _number_chapters(runs)


def _number_chapters(runs: list[PlannedRun]) -> list[PlannedRun]:
    """City-level pages are the printed report's chapters, in suite order: each gets its
    ``chapter`` parameter (its 表/図 are numbered 表{chapter}-1, ...); district pages do not."""
    chapter = 0
    out = []
    for r in runs:
        if r.group == "市全体":
            chapter += 1
            r = PlannedRun(r.id, r.stem, r.title, {**r.parameters, "chapter": chapter}, r.group)
        out.append(r)
    return out
