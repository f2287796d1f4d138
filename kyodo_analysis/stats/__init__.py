"""kyodo_analysis.stats."""
