"""Figures render Japanese text with a real font: no missing-glyph (tofu) warnings."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from kyodo_analysis.viz import figures
from kyodo_analysis.viz.tables import single_tabulation


def _render(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


@pytest.fixture
def restore_rc():
    saved = matplotlib.rcParams.copy()
    yield
    matplotlib.rcParams.update(saved)


def test_the_check_detects_tofu_without_the_house_style(restore_rc):
    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    fig, ax = plt.subplots()
    ax.set_title("協働の認知度")
    assert _render(fig), "expected missing-glyph warnings from a font without Japanese"


def test_house_figures_render_japanese_without_missing_glyphs(restore_rc, demo_study):
    figures.use_style()
    data = demo_study.load_wave(2025)
    cb = demo_study.codebook
    t = single_tabulation(data, cb["q1"])
    assert _render(figures.bar_chart(t)) == []
    tabs = {q.text: single_tabulation(data, q) for q in cb if q.id.startswith("q5_")}
    assert _render(figures.likert_chart(tabs, title="満足度（推進施策Ⅰ～Ⅴ）")) == []


def test_bar_chart_draws_ci_whiskers(restore_rc):
    figures.use_style()
    t = pd.DataFrame({"label": ["よく知っている", "知らない"], "percent": [40.0, 60.0]})
    t.attrs.update(base=100, text="認知")
    fig = figures.bar_chart(t, err=([35.0, 55.0], [45.0, 65.0]))
    ax = fig.axes[0]
    assert len(ax.patches) == 2 and ax.get_title(loc="left") == "認知（n=100）"
    assert any(len(c.get_segments()) == 2 for c in ax.collections)  # the error bars
    plt.close(fig)


def _label_boxes(fig, ax):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts], renderer


def test_value_labels_are_never_covered_by_whiskers(restore_rc):
    """A label sits right of its whisker: no errorbar segment crosses a label's box."""
    import numpy as np

    figures.use_style()
    t = pd.DataFrame({"label": ["よく知っている", "ある程度", "知らない"],
                      "percent": [29.2, 50.1, 20.7]})
    t.attrs.update(base=1000, text="問1")
    lo, hi = t["percent"] - 8, t["percent"] + 8
    fig = figures.bar_chart(t, err=(lo, hi))
    ax = fig.axes[0]
    boxes, _renderer = _label_boxes(fig, ax)
    assert len(boxes) == 3
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    assert segments, "the whiskers are drawn"
    for text, box in boxes:
        for seg in segments:
            pts = ax.transData.transform(np.asarray(seg))
            xs, ys = pts[:, 0], pts[:, 1]
            overlap_x = xs.max() >= box.x0 and xs.min() <= box.x1
            overlap_y = ys.max() >= box.y0 and ys.min() <= box.y1
            assert not (overlap_x and overlap_y), f"whisker crosses the label {text}"
    plt.close(fig)


def test_the_district_legend_covers_no_bar(restore_rc):
    figures.use_style()
    shown = pd.DataFrame({"回答": ["はい", "いいえ", "回答者数（n）"], "亀崎 %": [80.0, 20.0, 200],
                          "市全体 %": [70.0, 30.0, 1500]})
    fig = figures.comparison_bars(shown, district="亀崎")
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    for bar in ax.patches:
        assert not bar.get_window_extent(renderer).overlaps(legend)
    for text in ax.texts:
        assert not text.get_window_extent(renderer).overlaps(legend)
    plt.close(fig)


def test_a_hidden_district_gets_a_sentence_not_an_empty_chart(restore_rc):
    figures.use_style()
    shown = pd.DataFrame({"回答": ["はい", "回答者数（n）"], "亀崎 %": ["x", "x"], "市全体 %": [70.0, 1500]})
    fig = figures.comparison_bars(shown, district="亀崎")
    assert not fig.axes[0].patches and "秘匿" in fig.axes[0].texts[0].get_text()
    plt.close(fig)


def test_wave_chart_labels_years_in_reiwa_with_the_western_year(restore_rc):
    figures.use_style()
    series = pd.DataFrame({"fiscal_year": [2024, 2025], "label": ["はい", "はい"],
                           "percent": [40.0, 45.0], "ci_low": [37.0, 42.0], "ci_high": [43.0, 48.0]})
    fig = figures.wave_chart(series)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["R6\n(2024)", "R7\n(2025)"]
    plt.close(fig)
