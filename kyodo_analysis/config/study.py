"""The typed schema of ``study.yaml``.

Everything that makes a study *this* study (its waves and files, sampling strata and frame
sizes, district levels, attributes for cross-tabulation, headline questions, the plan's
policies and years, disrupted years) is declared here and nowhere in the package's code.
``docs/study-config.md`` explains every key with a worked example; ``kyodo schema`` prints
the JSON Schema generated from these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from kyodo_analysis.config.base import FiscalYear, Model, Slug

__all__ = [
    "ActivityConfig",
    "AttributeConfig",
    "BundleConfig",
    "CollaborationConfig",
    "DesignConfig",
    "DisclosureConfig",
    "DistrictLevelConfig",
    "DistrictSeriesConfig",
    "FieldworkConfig",
    "HeadlineConfig",
    "HeadlineFigure",
    "PlanConfig",
    "PlanMeasure",
    "PlanPolicy",
    "PopulationConfig",
    "ReportConfig",
    "ReportNotebook",
    "SamplingListConfig",
    "StudyConfig",
    "TableFile",
    "WaveConfig",
    "WeightingConfig",
]

FileFormat = Literal["csv", "xlsx", "sav", "dta"]


class TableFile(Model):
    """A table file (CSV in UTF-8/CP932, or an Excel sheet), relative to study.yaml."""

    file: str = Field(description="Path relative to study.yaml / study.yaml からの相対パス")
    encoding: str | None = Field(None, description="CSV encoding (default: detected)")
    sheet: str | int | None = Field(None, description="Excel sheet (default: the first)")


class WaveConfig(Model):
    """One survey wave (調査回): its fiscal year and raw file as the city received it."""

    fiscal_year: FiscalYear = Field(description="2025, FY2025, 令和7年度, R7 ...")
    file: str
    format: FileFormat | None = Field(None, description="default: from the file extension")
    encoding: str | None = None
    sheet: str | int | None = None
    header_row: int | None = Field(None, ge=1, description="1-based row of a one-row header")
    header_rows: list[int] | None = Field(
        None, min_length=1, max_length=3,
        description="1-based rows of a header spread over several rows (merged cells)")
    sampling_list: str | None = Field(
        None, description="This wave's sampling list (発送名簿), laid out as `sampling_list`")

    @field_validator("header_rows")
    @classmethod
    def _consecutive(cls, rows: list[int] | None) -> list[int] | None:
        if rows is not None and (rows[0] < 1 or rows != list(range(rows[0], rows[0] + len(rows)))):
            raise ValueError(f"header rows must be consecutive 1-based rows, got {rows}")
        return rows


class SamplingListConfig(Model):
    """Layout of the sampling lists (発送名簿): register attributes joined to responses by id."""

    id_column: str = Field(description="The list's id column matched to the respondent id")
    columns: dict[str, str] = Field(description="list column -> codebook id it fills")
    sheet: str | int | None = None
    encoding: str | None = None


class WeightingConfig(Model):
    """How the design weights are adjusted to population totals (weighting method by name)."""

    method: Literal["rake", "poststratify", "linear", "logit", "raking"] = "rake"
    margins: dict[str, str] = Field(
        description="data column (codebook id) -> column of the population file",
        min_length=1)
    trim: tuple[float | None, float | None] | None = Field(
        None, description="lower and upper bounds of the final weights (trimming; null for "
                          "no bound), optional")
    bounds: tuple[float, float] | None = Field(
        None, description="bounds on g-weights for logit calibration (required by logit)")

    @model_validator(mode="after")
    def _logit_needs_bounds(self) -> WeightingConfig:
        if self.method == "logit" and self.bounds is None:
            raise ValueError("logit calibration needs bounds: [lower, upper] on the g-weights "
                             "(e.g. [0.3, 3.0])")
        return self


class DesignConfig(Model):
    """The sampling design: strata with their frame sizes, and weighting."""

    strata: str | None = Field(None, description="codebook id of the sampling stratum")
    frame_sizes: str | dict[str, float] | None = Field(
        None, description="CSV of stratum label, frame size; or a mapping label: size")
    weighting: WeightingConfig | None = None

    @model_validator(mode="after")
    def _strata_need_sizes(self) -> DesignConfig:
        if self.strata and self.frame_sizes is None:
            raise ValueError("strata need frame_sizes (the number of people in each stratum "
                             "of the sampling frame)")
        return self


class PopulationConfig(TableFile):
    """Population counts by register attributes (the weighting targets)."""

    count_column: str | None = Field(None, description="default: the last column")


class FieldworkConfig(TableFile):
    """Questionnaires sent and returned (発送数・回収数) by register attributes and year."""

    year_column: str = "年度"
    sent_column: str = "発送数"
    returned_column: str = "回収数"
    by: list[str] | None = Field(None, description="attribute columns (default: all others)")


class DistrictSeriesConfig(TableFile):
    """An activity series published by district: year, district, value columns (in order)."""

    series: str
    level: str = Field(description="the district level it is published by (a `districts` name)")


class ActivityConfig(TableFile):
    """Yearly activity statistics: one row per fiscal year, one column per series."""

    year_column: str | None = Field(None, description="default: the first column")
    by_district: list[DistrictSeriesConfig] = Field(default_factory=list)


class DistrictLevelConfig(Model):
    """A level of districts (中学校区, 小学校区, 地区 ...): its data column and how it nests."""

    name: str
    column: str = Field(description="codebook id holding the district code")
    parent: str | None = Field(None, description="name of the level that contains this one")
    within: dict[str, list[str]] | None = Field(
        None, description="parent district -> its districts at this level")
    source: Literal["register", "self-reported"] = "self-reported"
    pages: bool | list[str] = Field(
        True, description="one report page per district of this level (true), none (false), "
                          "or only for the districts listed")


class AttributeConfig(Model):
    """A respondent attribute used for cross-tabulation and domain estimates (性別, 年代 ...)."""

    name: str
    column: str = Field(description="codebook id")


class HeadlineFigure(Model):
    """A headline share: respondents giving one of ``codes`` to ``question``."""

    label: str
    question: str = Field(description="codebook id (or a multiple-response option column)")
    codes: list[int] = Field(min_length=1)


class HeadlineConfig(Model):
    """What the overview and district pages put first."""

    questions: list[str] = Field([], description="question ids shown first, in order")
    figures: list[HeadlineFigure] = Field(default_factory=list)


class PlanMeasure(Model):
    id: str
    name: str


class PlanPolicy(Model):
    id: str
    name: str
    measures: list[PlanMeasure] = Field(default_factory=list)


class PlanConfig(Model):
    """The plan being evaluated: its period, policies and the years to read with care."""

    name: str | None = None
    start: FiscalYear | None = Field(None, description="first fiscal year of the plan")
    end: FiscalYear | None = None
    midterm: FiscalYear | None = None
    policies: list[PlanPolicy] = Field(default_factory=list)
    disrupted_years: list[FiscalYear] = Field(
        [], description="years whose activity was disrupted (e.g. COVID-19)")
    reference_years: list[FiscalYear] = Field(
        [], description="undisrupted pre-plan years used as a reference level")

    @model_validator(mode="after")
    def _order(self) -> PlanConfig:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"plan end {self.end} is before its start {self.start}")
        ids = [p.id for p in self.policies]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate policy ids in {ids}")
        return self


class DisclosureConfig(Model):
    """Disclosure rules of published tables and free text (自由記述).

    A group of respondents (a district, an attribute level, the respondents of one row or
    column) smaller than ``min_base`` is never shown; a single cell is suppressed only for
    questions marked ``sensitive: true`` in the codebook (with ``suppression_threshold``).
    """

    min_base: int | None = Field(
        None, ge=1, description="smallest group (row/column base) shown; default: "
                                "suppression_threshold")
    allow_free_text: bool = Field(False, description="publish free-text answers, masked")
    mask_names: list[str] = Field([], description="names to mask in free text besides the "
                                                  "automatic patterns")


class ReportNotebook(Model):
    """A notebook of the report set: its file name (without .ipynb) in the notebook folder."""

    stem: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                      description="file name without .ipynb: letters, digits, '-', '_'")
    title: str | None = None
    scope: Literal["city", "district"] = "city"


class ReportConfig(Model):
    """How reports are computed and shown: one interval method for every published %."""

    notebooks: list[ReportNotebook] | None = None
    interval: Literal["logit", "wald", "asin"] = Field(
        "logit", description="confidence interval of every published share: logit (R "
                             "svyciprop default), wald (clipped to 0-100) or asin")
    confidence_level: float = Field(0.95, gt=0, lt=1, description="level of every interval")
    decimals: int = Field(1, ge=0, le=3, description="decimal places of percentages")
    small_base: int = Field(30, ge=1, description="bases below this are marked 参考値")


# ----------------------------------------------------------------------------- collaboration
#: Partner types (協働の主体) a register may use unless study.yaml lists its own.
DEFAULT_PARTNER_TYPES = ["市民", "自治区・町内会", "まちづくり協議会", "市民活動団体", "NPO法人",
                         "事業者", "教育機関", "行政"]
#: Forms of collaboration (協働の形態).
DEFAULT_FORMS = ["委託", "補助・助成", "共催", "事業協力・協定", "実行委員会・協議会", "後援",
                 "情報交換"]
#: Items both sides score 1-5 on a project review (協働事業評価書 / ふりかえりシート).
DEFAULT_REVIEW_ITEMS = ["目的の共有", "役割分担", "対等性", "情報共有", "相乗効果", "成果",
                        "継続の意向"]


class CollaborationConfig(Model):
    """The register of collaborative projects (協働事業台帳) and their two-sided reviews.

    The layout of the files is described in ``docs/study-config.md`` (協働事業台帳);
    ``kyodo init --collaboration`` writes a template.
    """

    register_files: list[TableFile] = Field(
        alias="register", min_length=1,
        description="register file(s): one row per project (事業台帳)")
    reviews: list[TableFile] = Field(
        default_factory=list, description="review sheet(s): one row per project, year and side")
    partner_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PARTNER_TYPES), min_length=1,
        description="partner types (協働の主体) a partner may have")
    city_types: list[str] = Field(
        default_factory=lambda: ["行政"],
        description="partner types that are the city itself (its departments)")
    private_types: list[str] = Field(
        default_factory=lambda: ["市民"],
        description="partner types whose names are never shown (individual citizens)")
    merge_city: bool = Field(
        True, description="draw the city's departments as one node in the network (false: "
                          "one node per department)")
    forms: list[str] = Field(default_factory=lambda: list(DEFAULT_FORMS), min_length=1,
                             description="forms of collaboration (協働の形態)")
    review_items: list[str] = Field(default_factory=lambda: list(DEFAULT_REVIEW_ITEMS),
                                    min_length=1, description="items scored 1-5 by both sides")
    grant_categories: list[str] = Field(
        default_factory=list, description="grant categories (助成区分); empty: any text")

    @field_validator("register_files", "reviews", mode="before")
    @classmethod
    def _files(cls, value: object) -> object:
        if isinstance(value, (str, dict)):
            value = [value]
        if isinstance(value, list):
            return [{"file": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _city_types_known(self) -> CollaborationConfig:
        for key in ("city_types", "private_types"):
            bad = [t for t in getattr(self, key) if t not in self.partner_types]
            if bad:
                raise ValueError(f"{key}: {bad[0]!r} is not one of partner_types "
                                 f"{self.partner_types}")
        for key in ("partner_types", "forms", "review_items"):
            values = getattr(self, key)
            if len(values) != len(set(values)):
                raise ValueError(f"{key} lists a value twice: {values}")
        return self


# ---- partner bundles (#17) ---------------------------------------------------------------
class BundleConfig(Model):
    """How ``kyodo bundle`` anonymises microdata for university partners (partner bundles).

    Key variables are the codebook questions marked ``quasi_identifier: true`` plus
    ``quasi_identifiers`` here; the design's strata and weighting margins among them are never
    suppressed (the weights depend on them).
    """

    k: int = Field(5, ge=2, description="k-anonymity: smallest key frequency allowed")
    l: int = Field(2, ge=1, description="l-diversity wanted for sensitive items (reported)")  # noqa: E741
    quasi_identifiers: list[str] = Field([], description="key variables besides the codebook's "
                                                         "quasi_identifier: true")
    sensitive: list[str] = Field([], description="items checked for l-diversity besides the "
                                                 "codebook's sensitive: true")
    importance: list[str] | None = Field(
        None, description="key variables from most to least important (the least important "
                          "is suppressed first); default: districts, then attributes, then others")
    recode: dict[str, dict[str, list[int]]] = Field(
        {}, description="global recoding: column -> {new label: [codes merged into the first]}")
    free_text: list[str] = Field([], description="free-text items shipped masked (only with "
                                                 "disclosure.allow_free_text)")
    dates: Literal["month", "fiscal_year"] = Field("month", description="precision of dates")


class StudyConfig(Model):
    """study.yaml: one study (a survey series with its statistics) and how to report it."""

    study: Slug = Field(description="short ASCII name used in folder names")
    title: str | None = None
    demo: bool = False
    notice: str | None = Field(None, description="a notice printed at the top of every page")
    codebook: str
    indicators: str | None = None
    store: str | None = None
    waves: list[WaveConfig] = Field(min_length=1)
    sampling_list: SamplingListConfig | None = None
    design: DesignConfig | None = None
    population: str | PopulationConfig | None = None
    fieldwork: str | FieldworkConfig | None = None
    activity: str | ActivityConfig | None = None
    districts: list[DistrictLevelConfig] = Field(default_factory=list)
    attributes: list[AttributeConfig] = Field(default_factory=list)
    headline: HeadlineConfig = HeadlineConfig()
    plan: PlanConfig = PlanConfig()
    suppression_threshold: int = Field(10, ge=1)
    disclosure: DisclosureConfig = DisclosureConfig()
    report: ReportConfig | None = None
    collaboration: CollaborationConfig | None = Field(
        None, description="register of collaborative projects and their reviews (optional)")
    bundle: BundleConfig | None = None  # partner bundles (#17)

    @model_validator(mode="after")
    def _consistent(self) -> StudyConfig:
        years = [w.fiscal_year for w in self.waves]
        dup = sorted({y for y in years if years.count(y) > 1})
        if dup:
            raise ValueError(f"two waves for fiscal year {dup[0]}")
        names = [d.name for d in self.districts]
        for level in self.districts:
            if names.count(level.name) > 1:
                raise ValueError(f"district level {level.name!r} is declared twice")
            if level.parent is not None and level.parent not in names:
                raise ValueError(f"district level {level.name!r} has parent {level.parent!r}, "
                                 f"which is not a declared level ({names})")
        if self.waves and any(w.sampling_list for w in self.waves) and not self.sampling_list:
            raise ValueError("a wave names a sampling_list file but the top-level "
                             "sampling_list (id_column, columns) is missing")
        return self
