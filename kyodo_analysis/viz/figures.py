"""Moved to :mod:`kyodo_analysis.views.figures` (kept so old imports work)."""

from kyodo_analysis.views.figures import *  # noqa: F403
from kyodo_analysis.views.figures import DIVERGING5, __all__  # noqa: F401
