"""Run machinery: run a report set, publish and audit its tables, reproduce a run.

Tabulation, cross-tabulation, comparison, figures, Excel and PDF are views
(:mod:`kyodo_analysis.views`); this package only runs notebooks and publishes what they show.
"""

from kyodo_analysis.reporting.publish import (
    audit_tables,
    cell_conflicts,
    collect_tables,
    publish_table,
    publish_text,
    publish_view,
)
from kyodo_analysis.reporting.report import reproduce, run_report

__all__ = ["audit_tables", "cell_conflicts", "collect_tables", "publish_table", "publish_text",
           "publish_view", "reproduce", "run_report"]
