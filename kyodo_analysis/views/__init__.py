"""Views: what report pages show, built from the study and its designs (escaped on the way out).

``tables`` (the one tabulation path and publication layouts), ``crosstabs`` (属性別クロス集計
with group protection), ``comparison`` (district beside city, 経年比較), ``figures`` (one
style), ``page`` (page furniture).
"""

from kyodo_analysis.views import page

__all__ = ["page"]
