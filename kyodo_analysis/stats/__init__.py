"""kyodo_analysis.stats: design-based estimation for complex surveys.

Linearisation designs (:class:`SurveyDesign`), replicate-weight designs
(:class:`ReplicateDesign`, :func:`to_replicate`), two-way tables with Rao–Scott tests
(:func:`crosstab`), design-based GLMs (:func:`svyglm`) and the comparison of estimates
from independent samples (:func:`compare_independent`). Results match R ``survey``.
"""

from kyodo_analysis.stats.crosstab import CrosstabResult, crosstab
from kyodo_analysis.stats.design import SurveyDesign, compare_independent
from kyodo_analysis.stats.glm import SvyGLMResult, svyglm
from kyodo_analysis.stats.replicate import ReplicateDesign, to_replicate
from kyodo_analysis.stats.weighting import (
    WEIGHTING_METHODS,
    WeightedDesign,
    WeightingReport,
    apply_weighting,
    calibrate,
    get_method,
    poststratify,
    rake,
    trim,
    weighting_report,
)

__all__ = [
    "WEIGHTING_METHODS",
    "CrosstabResult",
    "ReplicateDesign",
    "SurveyDesign",
    "SvyGLMResult",
    "WeightedDesign",
    "WeightingReport",
    "apply_weighting",
    "calibrate",
    "compare_independent",
    "crosstab",
    "get_method",
    "poststratify",
    "rake",
    "svyglm",
    "to_replicate",
    "trim",
    "weighting_report",
]
