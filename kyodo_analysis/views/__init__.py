"""Views: what report pages show, built from the study and its designs (escaped on the way out)."""

from kyodo_analysis.views import page

__all__ = ["page"]
