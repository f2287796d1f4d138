"""kyodo_analysis.io."""
