"""Moved to :mod:`kyodo_analysis.views.tables` (kept so old imports work)."""

from kyodo_analysis.views.tables import *  # noqa: F403
from kyodo_analysis.views.tables import __all__  # noqa: F401
