"""kyodo_analysis.demo."""
