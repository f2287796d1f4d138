"""kyodo_analysis: survey and participation analysis for Handa City's collaboration plan."""

from kyodo_analysis.calendar import fiscal_year_label, parse_fiscal_year
from kyodo_analysis.errors import (
    ConfigError,
    EstimationError,
    InputError,
    KyodoError,
    ReportError,
    WeightingError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EstimationError",
    "InputError",
    "KyodoError",
    "ReportError",
    "WeightingError",
    "__version__",
    "fiscal_year_label",
    "parse_fiscal_year",
]
