"""A study: the configuration (``study.yaml``) tying waves, codebook and population together."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import yaml

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import ConfigError, InputError
from kyodo_analysis.io.readers import read_table

__all__ = ["Study", "Wave", "codes_frame", "open_study"]


@dataclass(frozen=True)
class Wave:
    """One survey wave: its fiscal year and raw file."""

    fiscal_year: int
    file: Path
    format: str
    encoding: str | None = None
    sheet: str | None = None
    header_row: int | None = None


@dataclass(frozen=True)
class Study:
    """A study folder described by ``study.yaml``; paths in it are relative to that file."""

    path: Path
    name: str
    title: str
    demo: bool
    notice: str | None
    suppression_threshold: int
    waves: tuple[Wave, ...]
    config: dict = field(repr=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    @classmethod
    def from_yaml(cls, path: str | Path) -> Study:
        """Load ``study.yaml``; a missing file or key raises :class:`ConfigError`."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError("study file not found", file=str(path))
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"study file is not valid UTF-8 YAML: {exc}", file=str(path)) from None
        if not isinstance(doc, dict):
            raise ConfigError("study file must be a mapping", file=str(path))
        for key in ("study", "codebook", "waves"):
            if key not in doc:
                raise ConfigError("required key is missing", file=str(path), key=key)
        waves = []
        for i, w in enumerate(doc["waves"]):
            try:
                waves.append(Wave(int(w["fiscal_year"]), path.parent / w["file"],
                                  w.get("format") or Path(w["file"]).suffix.lstrip("."),
                                  w.get("encoding"), w.get("sheet"), w.get("header_row")))
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"wave needs fiscal_year and file ({exc})", file=str(path),
                                  key=f"waves[{i}]") from None
        return cls(path=path, name=str(doc["study"]), title=str(doc.get("title", doc["study"])),
                   demo=bool(doc.get("demo", False)), notice=doc.get("notice"),
                   suppression_threshold=int(doc.get("suppression_threshold", 10)),
                   waves=tuple(sorted(waves, key=lambda w: w.fiscal_year)), config=doc)

    @cached_property
    def codebook(self) -> Codebook:
        return Codebook.from_yaml(self.root / self.config["codebook"])

    @property
    def fiscal_years(self) -> list[int]:
        return [w.fiscal_year for w in self.waves]

    def wave(self, fiscal_year: int) -> Wave:
        for w in self.waves:
            if w.fiscal_year == fiscal_year:
                return w
        raise ConfigError(f"no wave for fiscal year {fiscal_year}; the study has "
                          f"{self.fiscal_years}", file=str(self.path), key="waves")

    def load_wave(self, fiscal_year: int) -> pd.DataFrame:
        """Read one wave's raw file into canonical columns holding numeric codes."""
        w = self.wave(fiscal_year)
        raw = read_table(w.file, format=w.format, encoding=w.encoding, sheet=w.sheet,
                         header_row=w.header_row)
        return codes_frame(raw.data, self.codebook, file=raw.file)

    def fieldwork(self) -> pd.DataFrame:
        """Questionnaires sent and returned by register attributes (for response rates)."""
        from kyodo_analysis.calendar import parse_fiscal_year

        table = pd.read_csv(self.root / self.config["fieldwork"], encoding="utf-8-sig")
        table["fiscal_year"] = table["年度"].map(parse_fiscal_year)
        return table

    def population_margins(self) -> pd.DataFrame:
        """Residents aged 18+ by the cells of the population file (the weighting targets)."""
        return pd.read_csv(self.root / self.config["population"], encoding="utf-8-sig")


def codes_frame(data: pd.DataFrame, codebook: Codebook, *, file: str = "") -> pd.DataFrame:
    """Rename raw headers to canonical ids and turn code cells into nullable integers.

    Free text stays text; headers the codebook does not know are dropped; a question the
    file lacks raises :class:`InputError` naming the file and the missing column.
    """
    aliases = codebook.header_aliases()
    renamed = data.rename(columns={c: aliases[c] for c in data.columns if c in aliases})
    wanted = ["id"]
    for q in codebook:
        wanted += q.option_ids if q.is_multiple else [q.id]
    missing = [c for c in wanted if c not in renamed.columns]
    if missing:
        raise InputError(f"columns missing from the file: {', '.join(missing)}", file=file,
                         column=missing[0])
    out = renamed[wanted].copy()
    out["id"] = out["id"].astype(str)
    for q in codebook:
        cols = q.option_ids if q.is_multiple else [q.id]
        for c in cols:
            if q.type == "text":
                out[c] = out[c].fillna("").astype(str)
            else:
                values = out[c].replace("", pd.NA) if out[c].dtype != float else out[c]
                out[c] = pd.to_numeric(values).astype("Int64")
    return out


def open_study(path: str | Path | None = None) -> Study:
    """Open a study; with no path (or ``""``) the project's demo study, generated if missing.

    Notebooks use this so that their default parameters run anywhere: from JupyterLab, from
    ``kyodo report`` and from the plain ``papermill`` command line.
    """
    if path:
        return Study.from_yaml(path)
    from kyodo_analysis.paths import demo_study_file

    demo = demo_study_file()
    if not demo.is_file():
        from kyodo_analysis.demo.generate import DEFAULT_SEED, generate_demo

        generate_demo(demo.parent, seed=DEFAULT_SEED)
    return Study.from_yaml(demo)
