"""A study: the configuration (``study.yaml``) tying waves, codebook and population together."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import yaml

from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import ValidationResult, validate
from kyodo_analysis.store import ImportOutcome

__all__ = ["Study", "Wave", "open_study"]


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

    @property
    def store_path(self) -> Path:
        """The DuckDB store of this study (``store:`` in study.yaml; default next to it)."""
        return (self.root / self.config.get("store", "kyodo.duckdb")).resolve()

    def read_wave(self, fiscal_year: int, *, strict: bool = False) -> ValidationResult:
        """Read and validate one wave's raw file (nothing is stored), joined to the wave's
        sampling list (発送名簿) when study.yaml gives one."""
        from kyodo_analysis.io.sampling import read_sampling_list, sampling_list_spec

        w = self.wave(fiscal_year)
        cb = self.codebook
        raw = read_table(w.file, format=w.format, encoding=w.encoding, sheet=w.sheet,
                         header_row=w.header_row, text_columns=cb.text_headers(),
                         known_headers=set(cb.header_aliases()))
        entry = next((e for e in self.config["waves"]
                      if int(e["fiscal_year"]) == fiscal_year), None)
        spec = sampling_list_spec(self.config.get("sampling_list"), entry, self.root,
                                  source=str(self.path))
        sampling = read_sampling_list(spec.pop("path"), cb, **spec) if spec else None
        return validate(raw, cb, fiscal_year=fiscal_year, strict=strict, sampling_list=sampling)

    def import_waves(self, store_path: str | Path | None = None, *,
                     replace: bool = False) -> list[ImportOutcome]:
        """Import every wave (idempotent: unchanged files are skipped) and the activity series."""
        from kyodo_analysis.store import Store

        outcomes = []
        with Store(store_path or self.store_path) as store:
            for w in self.waves:
                result = self.read_wave(w.fiscal_year)
                outcomes.append(store.import_wave(result, study=self.name,
                                                  fiscal_year=w.fiscal_year,
                                                  codebook=self.codebook, replace=replace))
            if "activity" in self.config:
                store.load_series(self.activity(), study=self.name, domain_column="domain",
                                  year_column="fiscal_year")
            if "population" in self.config:
                margins = self.population_margins()
                store.load_population(margins, study=self.name, count_column=margins.columns[-1])
        return outcomes

    def ensure_imported(self) -> None:
        """Import the waves the store lacks; refuse to go on with a wave whose file changed.

        A wave already in the store but imported from another version of its file (or with
        another codebook) is an error: analysing the old rows silently would be wrong, and
        replacing them is a decision (``kyodo import ... --replace``).
        """
        from kyodo_analysis.store import Store, file_sha256

        if self.store_path.is_file():
            with Store(self.store_path, read_only=True) as store:
                imported = store.wave_sources(self.name)
            stale = [w for w in self.waves if w.fiscal_year in imported
                     and imported[w.fiscal_year] != (file_sha256(w.file), self.codebook.sha256)]
            if stale:
                w = stale[0]
                raise ConfigError(
                    f"wave FY{w.fiscal_year} in the store {self.store_path} was imported from "
                    f"another version of {w.file.name} (or with another codebook); re-import it "
                    f"with: kyodo import {w.file} --codebook ... --wave FY{w.fiscal_year} "
                    f"--study {self.name} --db {self.store_path} --replace",
                    file=str(self.path), key="waves")
            if all(w.fiscal_year in imported for w in self.waves):
                return
        self.import_waves()

    def load_wave(self, fiscal_year: int, *, store_path: str | Path | None = None) -> pd.DataFrame:
        """One wave's accepted responses from the store, in canonical columns.

        Codes are nullable integers, id and free text strings. Import the wave first
        (:meth:`import_waves` or ``kyodo import``).
        """
        from kyodo_analysis.store import Store

        self.wave(fiscal_year)
        path = Path(store_path or self.store_path)
        if not path.is_file():
            raise ConfigError(f"no store at {path}: import the study first", file=str(self.path))
        with Store(path, read_only=True) as store:
            return store.load_wave(self.name, fiscal_year, self.codebook)

    def design(self, fiscal_year: int, data: pd.DataFrame | None = None, *,
               weighted: bool = True):
        """The wave's survey design, weighted as ``study.yaml`` says.

        The sample is stratified by ``design.strata`` with the stratum's frame size as finite
        population correction (``design.frame_sizes``): a respondent's design weight is
        N_h / n_h, the stratum-level nonresponse adjustment. With ``design.weighting`` (and
        ``weighted=True``) the design is then raked to the population margins
        (``population``): each data column named under ``margins`` (a register attribute known
        for every sampled person) is matched, through its codebook labels, to a column of the
        population file. Every estimate from the returned design carries the raking in its
        standard error (calibration residuals, as R ``survey``).
        """
        from kyodo_analysis.stats import SurveyDesign, rake

        spec = self.config.get("design") or {}
        data = self.load_wave(fiscal_year) if data is None else data
        strata = spec.get("strata")
        if not strata:
            design = SurveyDesign(data)
        else:
            sizes = pd.read_csv(self.root / spec["frame_sizes"], encoding="utf-8-sig")
            label_col, size_col = sizes.columns[:2]
            by_label = dict(zip(sizes[label_col].astype(str), sizes[size_col], strict=True))
            labels = self.codebook[strata].codes
            missing = sorted({labels.get(int(c), str(c)) for c in data[strata].dropna().unique()}
                             - set(by_label))
            if missing:
                raise ConfigError(f"frame sizes lack strata {missing}", file=str(self.path),
                                  key="design.frame_sizes")
            n_h = data[strata].map(lambda c: by_label[labels[int(c)]]).astype(float)
            design = SurveyDesign(data.assign(_N_h=n_h), strata=strata, fpc="_N_h")
        weighting = spec.get("weighting")
        if not (weighted and weighting):
            return design
        if not isinstance(weighting, dict) or not isinstance(weighting.get("margins"), dict):
            raise ConfigError("design.weighting must be a mapping with 'margins' "
                              "(data column: population column), e.g. margins: {stratum: 中学校区}",
                              file=str(self.path), key="design.weighting")
        if weighting.get("method", "rake") != "rake":
            raise ConfigError("only method: rake is supported for study weighting",
                              file=str(self.path), key="design.weighting.method")
        population = self.population_margins()
        count = population.columns[-1]
        margins, columns = {}, {}
        for column, pop_column in weighting["margins"].items():
            if pop_column not in population.columns:
                raise ConfigError(f"population file has no column {pop_column!r}",
                                  file=str(self.path), key=f"design.weighting.margins.{column}")
            target = population.groupby(pop_column, sort=False)[count].sum()
            codes = self.codebook[column].codes
            values = data[column].map(lambda c, codes=codes: codes.get(int(c)) if pd.notna(c) else None)
            name = pop_column if pop_column not in data.columns else f"{pop_column}（台帳）"
            columns[name] = pd.Categorical(values, categories=list(target.index))
            margins[name] = target
        return rake(design.assign(**columns), margins)

    def activity(self) -> pd.DataFrame:
        """Activity statistics in long form: series, domain, fiscal_year, value."""
        parts = []
        spec = self.config["activity"]
        wide = read_table(self.root / spec["file"], encoding=spec.get("encoding")).data
        year_col = wide.columns[0]
        long = wide.melt(id_vars=[year_col], var_name="series", value_name="value")
        parts.append(long.assign(domain="市全体").rename(columns={year_col: "fiscal_year"}))
        extra = self.config.get("workshops_by_district")
        if extra:
            table = read_table(self.root / extra["file"], encoding=extra.get("encoding")).data
            year_col, domain_col, value_col = table.columns[:3]
            parts.append(pd.DataFrame({"fiscal_year": table[year_col],
                                       "series": extra.get("series", value_col),
                                       "domain": table[domain_col], "value": table[value_col]}))
        out = pd.concat(parts, ignore_index=True)
        out["fiscal_year"] = out["fiscal_year"].map(parse_fiscal_year)
        out["value"] = pd.to_numeric(out["value"])
        return out[["series", "domain", "fiscal_year", "value"]]

    def fieldwork(self) -> pd.DataFrame:
        """Questionnaires sent and returned by register attributes (for response rates)."""
        table = pd.read_csv(self.root / self.config["fieldwork"], encoding="utf-8-sig")
        table["fiscal_year"] = table["年度"].map(parse_fiscal_year)
        return table

    def population_margins(self) -> pd.DataFrame:
        """Residents aged 18+ by the cells of the population file (the weighting targets)."""
        return pd.read_csv(self.root / self.config["population"], encoding="utf-8-sig")


def open_study(path: str | Path | None = None) -> Study:
    """Open a study; with no path (or ``""``) the project's demo study, generated and imported
    into its store if missing.

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
    study = Study.from_yaml(demo)
    study.ensure_imported()
    return study
