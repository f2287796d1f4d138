"""kyodo_analysis.reporting."""
