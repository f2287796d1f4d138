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
