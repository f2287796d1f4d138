"""kyodo_analysis.stats: design-based estimation for complex surveys.

Linearisation designs (:class:`SurveyDesign`), replicate-weight designs
(:class:`ReplicateDesign`, :func:`to_replicate`), two-way tables with Rao–Scott tests
(:func:`crosstab`), design-based GLMs (:func:`svyglm`) and the comparison of estimates
from independent samples (:func:`compare_independent`). Results match R ``survey``.
"""

from kyodo_analysis.stats.crosstab import CrosstabResult, crosstab
from kyodo_analysis.stats.design import SurveyDesign, compare_independent
from kyodo_analysis.stats.factor import FactorResult, factor_analysis, parallel_analysis
from kyodo_analysis.stats.glm import SvyGLMResult, svyglm
from kyodo_analysis.stats.likert import likert_distribution, likert_summary
from kyodo_analysis.stats.margins import average_marginal_effects
from kyodo_analysis.stats.reliability import ReliabilityResult, reliability
from kyodo_analysis.stats.replicate import ReplicateDesign, to_replicate
from kyodo_analysis.stats.segments import SegmentResult, segment
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
    "FactorResult",
    "ReliabilityResult",
    "ReplicateDesign",
    "SegmentResult",
    "SurveyDesign",
    "SvyGLMResult",
    "WeightedDesign",
    "WeightingReport",
    "apply_weighting",
    "average_marginal_effects",
    "calibrate",
    "compare_independent",
    "crosstab",
    "factor_analysis",
    "get_method",
    "likert_distribution",
    "likert_summary",
    "parallel_analysis",
    "poststratify",
    "rake",
    "reliability",
    "segment",
    "svyglm",
    "to_replicate",
    "trim",
    "weighting_report",
]
