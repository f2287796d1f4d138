"""A study: the typed configuration (``study.yaml``) tying waves, codebook and population together.

``study.yaml`` is parsed once into a :class:`~kyodo_analysis.config.StudyConfig` (see
``docs/study-config.md``), checked against the codebook, and handed to every layer through
the :class:`Study`: its district levels, attributes, headline questions, plan and disrupted
years are what notebooks and evaluation read; nothing about a particular study lives in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.codebook import Codebook
from kyodo_analysis.config import (
    AttributeConfig,
    DistrictLevelConfig,
    HeadlineConfig,
    PlanConfig,
    StudyConfig,
    TableFile,
    load_study_config,
)
from kyodo_analysis.errors import ConfigError, KyodoError
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.io.validate import ValidationResult, validate
from kyodo_analysis.store import ImportOutcome

__all__ = ["Study", "Wave", "open_study"]

#: study.yaml's ``design.weighting.method`` -> the weighting registry's name.
_METHOD_NAMES = {"rake": "rake", "poststratify": "poststratify", "linear": "calibrate_linear",
                 "raking": "calibrate_raking", "logit": "calibrate_logit"}


@dataclass(frozen=True)
class Wave:
    """One survey wave: its fiscal year and raw file (resolved against the study folder)."""

    fiscal_year: int
    file: Path
    format: str
    encoding: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    header_rows: tuple[int, ...] | None = None
    sampling_list: Path | None = None


@dataclass(frozen=True)
class Study:
    """A study folder described by ``study.yaml``; paths in it are relative to that file."""

    path: Path
    settings: StudyConfig = field(repr=False)

    # ----------------------------------------------------------------------------------
    # loading
    # ----------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path, *, check: bool = True) -> Study:
        """Load and validate ``study.yaml``; every problem is a :class:`ConfigError` naming
        the file, the key path and what was expected.

        With ``check`` (the default) the names the study uses (district and attribute
        columns, headline questions, strata, weighting margins) are checked against the
        codebook as well, so nothing fails later with a KeyError.
        """
        path = Path(path)
        study = cls(path=path, settings=load_study_config(path))
        if check:
            study.check()
        return study

    def check(self) -> None:
        """Check the study's references against its codebook (ConfigError on the first)."""
        cb = self.codebook
        columns = _columns(cb)

        def need(column: str, key: str, what: str) -> None:
            if column not in columns:
                raise ConfigError(f"{what} {column!r} is not a column of the codebook "
                                  f"({cb.source})", file=str(self.path), key=key)

        cfg = self.settings
        for i, level in enumerate(cfg.districts):
            need(level.column, f"districts[{i}].column", "district column")
            if level.within:
                labels = set(cb[level.column].codes.values())
                parent = self.district_level(level.parent) if level.parent else None
                parent_labels = set(cb[parent.column].codes.values()) if parent else set()
                for p, children in level.within.items():
                    if parent and p not in parent_labels:
                        raise ConfigError(f"{p!r} is not a {parent.name} in the codebook",
                                          file=str(self.path), key=f"districts[{i}].within")
                    bad = [c for c in children if c not in labels]
                    if bad:
                        raise ConfigError(f"{bad[0]!r} is not a {level.name} in the codebook "
                                          f"(codes of {level.column})", file=str(self.path),
                                          key=f"districts[{i}].within.{p}")
        for i, attr in enumerate(cfg.attributes):
            need(attr.column, f"attributes[{i}].column", "attribute column")
        for i, qid in enumerate(cfg.headline.questions):
            if qid not in cb:
                raise ConfigError(f"headline question {qid!r} is not in the codebook",
                                  file=str(self.path), key=f"headline.questions[{i}]")
        for i, fig in enumerate(cfg.headline.figures):
            need(fig.question, f"headline.figures[{i}].question", "headline column")
        design = cfg.design
        if design and design.strata:
            need(design.strata, "design.strata", "stratum column")
        if design and design.weighting:
            for column in design.weighting.margins:
                need(column, f"design.weighting.margins.{column}", "weighting column")
            if cfg.population is None:
                raise ConfigError("weighting needs population totals: add population: "
                                  "<file> to study.yaml", file=str(self.path),
                                  key="design.weighting")
        if cfg.sampling_list:
            for list_col, column in cfg.sampling_list.columns.items():
                need(column, f"sampling_list.columns.{list_col}", "sampling list target")

    # ----------------------------------------------------------------------------------
    # plain facts
    # ----------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.settings.study

    @property
    def title(self) -> str:
        return self.settings.title or self.settings.study

    @property
    def demo(self) -> bool:
        return self.settings.demo

    @property
    def notice(self) -> str | None:
        return self.settings.notice

    @property
    def suppression_threshold(self) -> int:
        return self.settings.suppression_threshold

    @property
    def plan(self) -> PlanConfig:
        return self.settings.plan

    @property
    def headline(self) -> HeadlineConfig:
        return self.settings.headline

    @property
    def attributes(self) -> list[AttributeConfig]:
        return list(self.settings.attributes)

    @property
    def district_levels(self) -> list[DistrictLevelConfig]:
        return list(self.settings.districts)

    @cached_property
    def waves(self) -> tuple[Wave, ...]:
        out = []
        for w in self.settings.waves:
            fmt = w.format or Path(w.file).suffix.lstrip(".").lower()
            out.append(Wave(w.fiscal_year, self.root / w.file, fmt, w.encoding, w.sheet,
                            w.header_row, tuple(w.header_rows) if w.header_rows else None,
                            self.root / w.sampling_list if w.sampling_list else None))
        return tuple(sorted(out, key=lambda w: w.fiscal_year))

    @cached_property
    def codebook(self) -> Codebook:
        return Codebook.from_yaml(self.root / self.settings.codebook)

    @property
    def fiscal_years(self) -> list[int]:
        return [w.fiscal_year for w in self.waves]

    def wave(self, fiscal_year: int | str) -> Wave:
        """The wave of ``fiscal_year`` (2025, FY2025, 令和7年度, R7 ...)."""
        fy = parse_fiscal_year(fiscal_year)
        for w in self.waves:
            if w.fiscal_year == fy:
                return w
        raise ConfigError(f"no wave for fiscal year {fy}; the study has "
                          f"{self.fiscal_years}", file=str(self.path), key="waves")

    @property
    def store_path(self) -> Path:
        """The DuckDB store of this study (``store:`` in study.yaml; default next to it)."""
        return (self.root / (self.settings.store or "kyodo.duckdb")).resolve()

    # ----------------------------------------------------------------------------------
    # districts and attributes
    # ----------------------------------------------------------------------------------
    def district_level(self, name: str) -> DistrictLevelConfig:
        for level in self.settings.districts:
            if level.name == name:
                return level
        raise ConfigError(f"no district level {name!r}; the study declares "
                          f"{[d.name for d in self.settings.districts]}",
                          file=str(self.path), key="districts")

    def districts(self, level: str) -> list[str]:
        """The districts of ``level`` in order: by parent (``within``), else codebook order."""
        lv = self.district_level(level)
        labels = list(self.codebook[lv.column].codes.values())
        if lv.within:
            ordered = [c for children in lv.within.values() for c in children]
            return ordered + [c for c in labels if c not in ordered]
        return labels

    def parent_of(self, level: str, district: str) -> str | None:
        """The enclosing district of ``district`` (from ``within``), if declared."""
        lv = self.district_level(level)
        for parent, children in (lv.within or {}).items():
            if district in children:
                return parent
        return None

    def district_units(self) -> list[tuple[str, str]]:
        """``(level, district)`` of every district page: level by level, in study order."""
        return [(lv.name, d) for lv in self.settings.districts if lv.pages
                for d in self.districts(lv.name) if lv.pages is True or d in lv.pages]

    def domain_column(self, name: str) -> str:
        """The codebook column behind a domain name: a district level, an attribute, or a
        codebook column given directly."""
        for lv in self.settings.districts:
            if lv.name == name:
                return lv.column
        for attr in self.settings.attributes:
            if attr.name == name:
                return attr.column
        if name in _columns(self.codebook):
            return name
        known = [d.name for d in self.settings.districts] + [a.name for a in self.settings.attributes]
        raise ConfigError(f"unknown domain {name!r}: use one of {known} (districts and "
                          "attributes in study.yaml) or a codebook column",
                          file=str(self.path), key="domain")

    # ----------------------------------------------------------------------------------
    # survey data
    # ----------------------------------------------------------------------------------
    def read_wave(self, fiscal_year: int, *, strict: bool = False) -> ValidationResult:
        """Read and validate one wave's raw file (nothing is stored), joined to the wave's
        sampling list (発送名簿) when study.yaml gives one."""
        from kyodo_analysis.io.sampling import read_sampling_list

        w = self.wave(fiscal_year)
        cb = self.codebook
        raw = read_table(w.file, format=w.format, encoding=w.encoding, sheet=w.sheet,
                         header_row=w.header_row, header_rows=w.header_rows,
                         text_columns=cb.text_headers(), known_headers=set(cb.header_aliases()))
        spec = self.sampling_spec(w.fiscal_year)
        sampling = read_sampling_list(spec.pop("path"), cb, **spec) if spec else None
        return validate(raw, cb, fiscal_year=w.fiscal_year, strict=strict, sampling_list=sampling)

    def sampling_spec(self, fiscal_year: int) -> dict | None:
        """Arguments of :func:`~kyodo_analysis.io.sampling.read_sampling_list` (with
        ``path``) for the wave's sampling list, or ``None`` when the wave has none."""
        from kyodo_analysis.io.sampling import sampling_list_spec

        w = self.wave(fiscal_year)
        if w.sampling_list is None:
            return None
        layout = self.settings.sampling_list
        return sampling_list_spec(layout.model_dump() if layout else None,
                                  {"sampling_list": str(w.sampling_list)}, self.root,
                                  source=str(self.path))

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
            if self.settings.activity is not None:
                store.load_series(self.activity(), study=self.name, domain_column="domain",
                                  year_column="fiscal_year")
            if self.settings.population is not None:
                margins = self.population_margins()
                store.load_population(margins, study=self.name, count_column=margins.columns[-1])
        return outcomes

    def ensure_imported(self) -> None:
        """Import the waves the store lacks; refuse to go on with a wave whose file changed.

        A wave already in the store but imported from another version of its file (or with
        another codebook or sampling list) is an error: analysing the old rows silently would be wrong, and
        replacing them is a decision (``kyodo import ... --replace``).
        """
        from kyodo_analysis.store import Store, file_sha256

        if self.store_path.is_file():
            with Store(self.store_path, read_only=True) as store:
                imported = store.wave_sources(self.name)
            stale = [w for w in self.waves if w.fiscal_year in imported
                     and imported[w.fiscal_year] != (
                         file_sha256(w.file), self.codebook.sha256,
                         file_sha256(w.sampling_list) if w.sampling_list else None)]
            if stale:
                w = stale[0]
                raise ConfigError(
                    f"wave FY{w.fiscal_year} in the store {self.store_path} was imported from "
                    f"another version of {w.file.name} (or with another codebook or sampling "
                    "list); re-import it "
                    f"with: kyodo import --study {self.path} --replace",
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

        fy = self.wave(fiscal_year).fiscal_year
        path = Path(store_path or self.store_path)
        if not path.is_file():
            raise ConfigError(f"no store at {path}: import the study first", file=str(self.path))
        with Store(path, read_only=True) as store:
            return store.load_wave(self.name, fy, self.codebook)

    # ----------------------------------------------------------------------------------
    # design
    # ----------------------------------------------------------------------------------
    @property
    def weighted(self) -> bool:
        """Whether the study's designs are weighted to population totals."""
        design = self.settings.design
        return bool(design and design.weighting)

    def frame_sizes(self) -> dict[str, float]:
        """Frame size (number of people in the sampling frame) by stratum label."""
        spec = self.settings.design
        if spec is None or spec.frame_sizes is None:
            return {}
        if isinstance(spec.frame_sizes, dict):
            return dict(spec.frame_sizes)
        sizes = self._table(spec.frame_sizes)
        label_col, size_col = sizes.columns[:2]
        return {str(k).strip(): float(v) for k, v in zip(sizes[label_col], sizes[size_col],
                                                         strict=True)}

    def design(self, fiscal_year: int, data: pd.DataFrame | None = None, *,
               weighted: bool = True):
        """The wave's survey design, weighted as ``study.yaml`` says.

        The sample is stratified by ``design.strata`` with the stratum's frame size as finite
        population correction (``design.frame_sizes``): a respondent's design weight is
        N_h / n_h, the stratum-level nonresponse adjustment. Without strata the design is a
        simple random sample. With ``design.weighting`` (and ``weighted=True``) the design is
        then weighted to the population totals (``population``) by the method study.yaml
        names (rake, poststratify, linear/raking/logit calibration; optional trimming): each
        data column named under ``margins`` (a register attribute known for every sampled
        person) is matched, through its codebook labels, to a column of the population file.
        Every estimate from the returned design carries the weighting in its standard error
        (calibration residuals, as R ``survey``).
        """
        if data is None:
            # One design per wave and store state: the pages and the indicator history ask
            # for the same wave again and again (a design is never changed in place; a
            # re-import changes the store file and so the key).
            key = (self.wave(fiscal_year).fiscal_year, weighted, self._data_stamp(fiscal_year))
            cache = self.__dict__.setdefault("_designs", {})
            if key not in cache:
                cache[key] = self._design(fiscal_year, self.load_wave(fiscal_year), weighted=weighted)
            return cache[key]
        return self._design(fiscal_year, data, weighted=weighted)

    def _data_stamp(self, fiscal_year: int) -> tuple[int, int] | None:
        """(mtime, size) of what the wave is read from (the store): a change to it makes the
        designs kept by :meth:`design` stale."""
        store = self.store_path
        if not store.is_file():
            return None
        stat = store.stat()
        return stat.st_mtime_ns, stat.st_size

    def _design(self, fiscal_year: int, data: pd.DataFrame, *, weighted: bool):
        from kyodo_analysis.stats import SurveyDesign

        spec = self.settings.design
        strata = spec.strata if spec else None
        if not strata:
            design = SurveyDesign(data)
        else:
            by_label = self.frame_sizes()
            labels = self.codebook[strata].codes
            missing = sorted({labels.get(int(c), str(c)) for c in data[strata].dropna().unique()}
                             - set(by_label))
            if missing:
                raise ConfigError(f"frame sizes lack strata {missing}", file=str(self.path),
                                  key="design.frame_sizes")
            n_h = data[strata].map(lambda c: by_label[labels[int(c)]]).astype(float)
            design = SurveyDesign(data.assign(_N_h=n_h), strata=strata, fpc="_N_h")
        weighting = spec.weighting if spec else None
        if not (weighted and weighting):
            return design
        return self._weight(design, data, weighting)

    def _weight(self, design, data: pd.DataFrame, weighting):
        """Adjust ``design`` to the population totals by the method study.yaml names.

        Each data column under ``margins`` is matched through its codebook labels to a column
        of the population file; ``rake`` and the ``calibrate*`` methods take the marginal
        totals, ``poststratify`` the joint cells of the margin columns. ``trim`` bounds the
        final weights.
        """
        from kyodo_analysis.stats.weighting import apply_weighting, get_method

        method = _METHOD_NAMES[weighting.method]
        try:
            get_method(method)
        except KyodoError as exc:
            raise ConfigError(str(exc), file=str(self.path), key="design.weighting.method") from None
        population = self.population_margins()
        count = population.columns[-1]
        margins, columns = {}, {}
        for column, pop_column in weighting.margins.items():
            if pop_column not in population.columns:
                raise ConfigError(f"population file has no column {pop_column!r}",
                                  file=str(self.path), key=f"design.weighting.margins.{column}")
            target = population.groupby(pop_column, sort=False)[count].sum()
            codes = self.codebook[column].codes
            values = data[column].map(lambda c, codes=codes: codes.get(int(c)) if pd.notna(c) else None)
            name = pop_column if pop_column not in data.columns else f"{pop_column}（台帳）"
            columns[name] = pd.Categorical(values, categories=list(target.index))
            margins[name] = target
        options: dict = {}
        targets: object = margins
        if method == "poststratify":
            by = list(margins)
            cells = population.groupby(list(weighting.margins.values()), sort=False)[count].sum()
            targets = cells.reset_index().set_axis([*by, count], axis=1)
            options = {"by": by, "count": count}
        if weighting.bounds is not None:
            options["bounds"] = weighting.bounds
        return apply_weighting(design.assign(**columns), method, targets,
                               trim=weighting.trim, **options)

    # ----------------------------------------------------------------------------------
    # other inputs
    # ----------------------------------------------------------------------------------
    def _table(self, spec: str | TableFile) -> pd.DataFrame:
        if isinstance(spec, str):
            spec = TableFile(file=spec)
        table = read_table(self.root / spec.file, encoding=spec.encoding, sheet=spec.sheet).data
        for col in table.columns:  # CSV cells arrive as text: whole-number columns become numbers
            numbers = pd.to_numeric(table[col], errors="coerce")
            if numbers.notna().sum() == table[col].notna().sum() and len(table):
                table[col] = numbers
        return table

    def activity(self) -> pd.DataFrame:
        """Activity statistics in long form: series, domain, fiscal_year, value.

        The city-wide series have domain 市全体; a series published by district
        (``activity.by_district``) has the district name as domain.
        """
        spec = self.settings.activity
        if spec is None:
            raise ConfigError("the study has no activity statistics: add activity: <file> to "
                              "study.yaml", file=str(self.path), key="activity")
        wide = self._table(spec)
        year_col = getattr(spec, "year_column", None) or wide.columns[0]
        long = wide.melt(id_vars=[year_col], var_name="series", value_name="value")
        parts = [long.assign(domain="市全体").rename(columns={year_col: "fiscal_year"})]
        for extra in getattr(spec, "by_district", []):
            table = self._table(extra)
            year, domain, value = table.columns[:3]
            parts.append(pd.DataFrame({"fiscal_year": table[year], "series": extra.series,
                                       "domain": table[domain].astype(str).str.strip(),
                                       "value": table[value]}))
        out = pd.concat(parts, ignore_index=True)
        out["fiscal_year"] = out["fiscal_year"].map(parse_fiscal_year)
        out["value"] = pd.to_numeric(out["value"])
        return out[["series", "domain", "fiscal_year", "value"]]

    def indicator_series(self) -> pd.DataFrame:
        """What activity-type indicators read: the activity statistics (:meth:`activity`)
        plus, when study.yaml has a collaboration register, the register's yearly series
        (:func:`~kyodo_analysis.collaboration.measures.register_series`, for indicators of
        ``type: register``); same long form."""
        from kyodo_analysis.collaboration.measures import register_series

        parts = [self.activity()] if self.settings.activity is not None else []
        collab = self.collaboration()
        if collab is not None:
            parts.append(register_series(collab.register, collab.reviews, self.plan.policies,
                                         city="市全体"))
        if not parts:
            return self.activity()  # the error saying what to add
        return pd.concat(parts, ignore_index=True)

    def activity_levels(self) -> dict[str, str]:
        """Series published by district -> the district level they are published by."""
        spec = self.settings.activity
        return {e.series: e.level for e in getattr(spec, "by_district", [])}

    def fieldwork(self) -> pd.DataFrame:
        """Questionnaires sent and returned by register attributes, with ``fiscal_year``,
        ``sent`` and ``returned`` columns (for response rates)."""
        spec = self.settings.fieldwork
        if spec is None:
            raise ConfigError("the study has no fieldwork counts: add fieldwork: <file> to "
                              "study.yaml", file=str(self.path), key="fieldwork")
        from kyodo_analysis.config import FieldworkConfig

        spec = FieldworkConfig(file=spec) if isinstance(spec, str) else spec
        table = self._table(spec)
        for key in ("year_column", "sent_column", "returned_column"):
            if getattr(spec, key) not in table.columns:
                raise ConfigError(f"fieldwork file has no column {getattr(spec, key)!r} "
                                  f"(columns: {list(table.columns)})", file=str(self.path),
                                  key=f"fieldwork.{key}")
        by = spec.by or [c for c in table.columns
                         if c not in (spec.year_column, spec.sent_column, spec.returned_column)]
        out = table[by].copy()
        out["fiscal_year"] = table[spec.year_column].map(parse_fiscal_year)
        out["sent"] = pd.to_numeric(table[spec.sent_column])
        out["returned"] = pd.to_numeric(table[spec.returned_column])
        out.attrs["by"] = list(by)
        return out

    def population_margins(self) -> pd.DataFrame:
        """Residents by the cells of the population file (the weighting targets); the count
        column last."""
        spec = self.settings.population
        if spec is None:
            raise ConfigError("the study has no population totals: add population: <file> "
                              "to study.yaml", file=str(self.path), key="population")
        table = self._table(spec)
        count = getattr(spec, "count_column", None)
        if count:
            if count not in table.columns:
                raise ConfigError(f"population file has no column {count!r}",
                                  file=str(self.path), key="population.count_column")
            table = table[[c for c in table.columns if c != count] + [count]]
        return table

    # ----------------------------------------------------------------------------------
    # collaborative projects (協働事業台帳) and their reviews
    # ----------------------------------------------------------------------------------
    def collaboration_rules(self):
        """What the study's register is checked against: the plan's 施策, the partner
        types, forms and grant categories of ``collaboration:``, and every district level."""
        from kyodo_analysis.collaboration.register import RegisterRules, measure_codes

        spec = self.settings.collaboration
        if spec is None:
            raise ConfigError("the study has no collaboration register: add collaboration: "
                              "{register: <file>} to study.yaml", file=str(self.path),
                              key="collaboration")
        return RegisterRules(measures=measure_codes(self.plan.policies),
                             partner_types=tuple(spec.partner_types), forms=tuple(spec.forms),
                             city_types=tuple(spec.city_types),
                             grant_categories=tuple(spec.grant_categories),
                             districts={lv.name: tuple(self.districts(lv.name))
                                        for lv in self.settings.districts})

    def collaboration(self):
        """The study's register and reviews, read and validated
        (:class:`~kyodo_analysis.collaboration.Collaboration`), or ``None`` when study.yaml
        has no ``collaboration:`` block. Rejected rows are in each part's ``quarantine``.
        Read once per :class:`Study` object."""
        return self._collaboration

    @cached_property
    def _collaboration(self):
        from kyodo_analysis.collaboration import Collaboration
        from kyodo_analysis.collaboration.register import combine_registers, read_register
        from kyodo_analysis.collaboration.reviews import combine_reviews, read_reviews

        spec = self.settings.collaboration
        if spec is None:
            return None
        if not self.plan.policies:
            raise ConfigError("a collaboration register needs the plan's policies and measures "
                              "(plan.policies) to check its 施策 codes", file=str(self.path),
                              key="plan.policies")
        rules = self.collaboration_rules()
        register = combine_registers([
            read_register(self.root / f.file, rules, sheet=f.sheet, encoding=f.encoding)
            for f in spec.register_files])
        reviews = None
        if spec.reviews:
            reviews = combine_reviews([
                read_reviews(self.root / f.file, register, spec.review_items, sheet=f.sheet,
                             encoding=f.encoding) for f in spec.reviews])
        return Collaboration(register=register, reviews=reviews)

    # ----------------------------------------------------------------------------------
    # what a report can show
    # ----------------------------------------------------------------------------------
    def missing_inputs(self) -> dict[str, str]:
        """Inputs a report section needs and the study lacks: section -> what to add."""
        cfg = self.settings
        out = {}
        if cfg.fieldwork is None:
            out["fieldwork"] = ("回収状況の表には発送数・回収数のファイルが必要です: study.yaml に "
                                "fieldwork: <ファイル> を追加してください。")
        if not self.weighted:
            out["weighting"] = ("重み付けをしていません。母集団の人数で補正するには study.yaml に "
                                "population: <ファイル> と design.weighting.margins を追加してください。")
        if cfg.indicators is None:
            out["indicators"] = ("成果指標の評価には指標の定義が必要です: study.yaml に "
                                 "indicators: indicators.yaml を追加してください（kyodo init が雛形を作ります）。")
        if cfg.activity is None:
            out["activity"] = ("活動統計の推移には年度別の活動統計ファイルが必要です: study.yaml に "
                               "activity: <ファイル> を追加してください。")
        if not cfg.districts:
            out["districts"] = ("地区別の集計には地区の定義が必要です: study.yaml に districts "
                                "（name と codebook の列）を追加してください。")
        if cfg.collaboration is None:
            out["collaboration"] = ("協働事業台帳が設定されていません: 協働事業の相手方・形態・段階を示すには "
                                    "study.yaml に collaboration: {register: <ファイル>} を追加してください"
                                    "（kyodo init --collaboration が雛形を作ります）。")
        if not cfg.plan.start:
            out["plan"] = ("計画開始年度（plan.start）が未設定のため、計画前後の比較はしません。")
        return out


def _columns(codebook: Codebook) -> set[str]:
    """Every canonical data column of the codebook (questions, option columns, derived)."""
    return set(codebook.header_aliases().values()) | {q.id for q in codebook}


def open_study(path: str | Path | None = None) -> Study:
    """Open a study; with no path (or ``""``) the project's demo study, generated and imported
    into its store if missing.

    Notebooks use this so that their default parameters run anywhere: from JupyterLab, from
    ``kyodo report`` and from the plain ``papermill`` command line.
    """
    if path:
        # partner bundles (#17): a bundle's study opens read-only on its anonymised data
        from kyodo_analysis.bundle.study import bundle_root, open_bundle

        if bundle_root(path) is not None:
            return open_bundle(path, verify=False)
        return Study.from_yaml(path)
    from kyodo_analysis.paths import demo_study_file

    demo = demo_study_file()
    if not demo.is_file():
        from kyodo_analysis.demo.generate import DEFAULT_SEED, generate_demo

        generate_demo(demo.parent, seed=DEFAULT_SEED)
    study = Study.from_yaml(demo)
    study.ensure_imported()
    return study
