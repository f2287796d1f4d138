"""kyodo_analysis: survey and participation analysis for Handa City's collaboration plan."""

from kyodo_analysis.calendar import fiscal_year_label, parse_fiscal_year
from kyodo_analysis.codebook import Codebook, Question
from kyodo_analysis.errors import (
    ConfigError,
    DisclosureError,
    EstimationError,
    InputError,
    KyodoError,
    ReportError,
    WeightingError,
)
from kyodo_analysis.io.readers import read_table
from kyodo_analysis.stats import (
    CrosstabResult,
    ReplicateDesign,
    SurveyDesign,
    SvyGLMResult,
    WeightedDesign,
    WeightingReport,
    calibrate,
    compare_independent,
    crosstab,
    poststratify,
    rake,
    svyglm,
    to_replicate,
    trim,
    weighting_report,
)
from kyodo_analysis.study import Study, open_study

__version__ = "0.1.0"

__all__ = [
    "Codebook",
    "ConfigError",
    "CrosstabResult",
    "DisclosureError",
    "EstimationError",
    "InputError",
    "KyodoError",
    "Question",
    "ReplicateDesign",
    "ReportError",
    "Study",
    "SurveyDesign",
    "SvyGLMResult",
    "WeightedDesign",
    "WeightingError",
    "WeightingReport",
    "__version__",
    "calibrate",
    "compare_independent",
    "crosstab",
    "fiscal_year_label",
    "open_study",
    "parse_fiscal_year",
    "poststratify",
    "rake",
    "read_table",
    "svyglm",
    "to_replicate",
    "trim",
    "weighting_report",
]


# ---- partner bundles (#17) ---------------------------------------------------------------
def open_bundle(path, **options):
    """Open a partner bundle (``.zip`` or its folder) as a read-only study: the same
    ``design()`` as the city's, microdata from the bundle
    (:func:`kyodo_analysis.bundle.open_bundle`)."""
    from kyodo_analysis.bundle.study import open_bundle as _open_bundle

    return _open_bundle(path, **options)


__all__ += ["open_bundle"]
