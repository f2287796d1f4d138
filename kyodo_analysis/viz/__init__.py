"""kyodo_analysis.viz."""
