"""Which notebooks make up a report set, and with which parameters each runs.

The set is data: :data:`DEFAULT_SUITE` lists the house notebooks, and a study can replace it
with a ``report: {notebooks: [...]}`` block in study.yaml (same keys as :class:`NotebookSpec`).
City-level notebooks run once; district notebooks run once per 中学校区 and per 小学校区 of the
study's ``districts`` mapping. A notebook declared ``optional`` is skipped when its file is not
there yet (e.g. ``03_trends`` before it lands); a missing required notebook is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kyodo_analysis.errors import ConfigError, ReportError

__all__ = [
    "DEFAULT_SUITE",
    "LEVELS",
    "NotebookSpec",
    "PlannedRun",
    "district_units",
    "plan_runs",
    "suite_for",
]

#: District levels, coarse to fine.
LEVELS = ("中学校区", "小学校区")


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
    optional
        Skip, with a note in the log, when the notebook file does not exist.
    """

    stem: str
    title: str
    scope: Literal["city", "district"] = "city"
    optional: bool = False


DEFAULT_SUITE: tuple[NotebookSpec, ...] = (
    NotebookSpec("01_overview", "調査結果の概要（単純集計）"),
    NotebookSpec("02_indicators", "協働プランの成果指標", optional=True),
    NotebookSpec("03_trends", "市民活動の推移", optional=True),
    NotebookSpec("04_district", "地区別の集計", scope="district"),
    NotebookSpec("05_comparison", "地区間の比較", optional=True),
)


@dataclass(frozen=True)
class PlannedRun:
    """One notebook execution of a report set."""

    id: str
    stem: str
    title: str
    parameters: dict
    group: str


def suite_for(config: Mapping) -> tuple[NotebookSpec, ...]:
    """The study's notebook list (``report.notebooks`` in study.yaml) or :data:`DEFAULT_SUITE`."""
    block = (config.get("report") or {}).get("notebooks")
    if block is None:
        return DEFAULT_SUITE
    specs = []
    for i, item in enumerate(block):
        try:
            specs.append(NotebookSpec(str(item["stem"]), str(item.get("title", item["stem"])),
                                      item.get("scope", "city"), bool(item.get("optional", False))))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"report notebook needs a stem ({exc})",
                              key=f"report.notebooks[{i}]") from None
        if specs[-1].scope not in ("city", "district"):
            raise ConfigError(f"scope must be city or district, not {specs[-1].scope!r}",
                              key=f"report.notebooks[{i}].scope")
    return tuple(specs)


def district_units(config: Mapping) -> list[tuple[str, str]]:
    """``(level, district)`` pairs: every 中学校区, then every 小学校区, in study.yaml order."""
    districts = config.get("districts") or {}
    if not isinstance(districts, Mapping):
        raise ConfigError("districts must map 中学校区 to a list of 小学校区", key="districts")
    units = [("中学校区", str(j)) for j in districts]
    units += [("小学校区", str(e)) for j in districts for e in (districts[j] or [])]
    return units


def plan_runs(specs: Sequence[NotebookSpec], config: Mapping, *, notebook_dir: Path,
              base: Mapping) -> tuple[list[PlannedRun], list[NotebookSpec]]:
    """Expand notebook specs into runs; returns ``(runs, skipped optional specs)``.

    ``base`` holds the parameters every run gets (``study``, ``fiscal_year``). Run ids are
    ASCII (``04_district-j1``, ``04_district-e13``) so file names and links stay plain.

    Raises
    ------
    ReportError
        When a required notebook is missing, or a district notebook has no districts to run.
    """
    runs, skipped = [], []
    for spec in specs:
        if not (Path(notebook_dir) / f"{spec.stem}.ipynb").is_file():
            if spec.optional:
                skipped.append(spec)
                continue
            raise ReportError(f"notebook not found: {Path(notebook_dir) / (spec.stem + '.ipynb')}")
        if spec.scope == "city":
            runs.append(PlannedRun(spec.stem, spec.stem, spec.title, dict(base), "市全体"))
            continue
        units = district_units(config)
        if not units:
            raise ReportError(f"{spec.stem} runs per district but the study has no districts")
        counters = {"中学校区": 0, "小学校区": 0}
        for level, name in units:
            counters[level] += 1
            tag = ("j" if level == "中学校区" else "e") + str(counters[level])
            runs.append(PlannedRun(f"{spec.stem}-{tag}", spec.stem, f"{spec.title}：{name}（{level}）",
                                   {**base, "district": name, "level": level}, level))
    return runs, skipped
