"""kyodo_analysis.evaluation."""
