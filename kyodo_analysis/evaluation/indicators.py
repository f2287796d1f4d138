"""Plan indicators (成果指標): a thin re-export of the evaluation modules.

The code lives by concern in :mod:`~kyodo_analysis.evaluation.registry` (the
``indicators.yaml`` schema), :mod:`~kyodo_analysis.evaluation.compute` (values with
uncertainty and grades), :mod:`~kyodo_analysis.evaluation.formatting` (Japanese tables),
:mod:`~kyodo_analysis.evaluation.trends` (trends and forecasts) and
:mod:`~kyodo_analysis.evaluation.status` (progress status). This module keeps
``kyodo_analysis.evaluation.indicators`` importable for notebooks and callers.
"""

from kyodo_analysis.evaluation.compute import compute_indicators, indicator_history
from kyodo_analysis.evaluation.formatting import (
    JA_COLUMNS,
    dashboard_table,
    domain_table,
    to_japanese,
)
from kyodo_analysis.evaluation.registry import (
    CITY,
    ActivitySource,
    Baseline,
    Indicator,
    IndicatorRegistry,
    SurveySource,
    load_registry,
)
from kyodo_analysis.evaluation.trends import (
    IndicatorTrends,
    indicator_trends,
    its_table,
    plan_effects,
)

__all__ = [
    "CITY",
    "JA_COLUMNS",
    "ActivitySource",
    "Baseline",
    "Indicator",
    "IndicatorRegistry",
    "IndicatorTrends",
    "SurveySource",
    "compute_indicators",
    "dashboard_table",
    "domain_table",
    "indicator_history",
    "indicator_trends",
    "its_table",
    "load_registry",
    "plan_effects",
    "to_japanese",
]
