"""Figures with Japanese labels, in one house style.

Call :func:`use_style` once (notebooks do it in their first code cell); importing this module
changes nothing. The Japanese font is IPAexGothic, bundled by ``matplotlib-fontja``, so labels
render on any machine without system fonts.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = ["PALETTE", "bar_chart", "likert_chart", "use_style"]

#: Categorical palette (colour-blind safe, Okabe–Ito order).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]
#: Diverging palette for five-level scales, positive to negative; 無回答 in grey.
DIVERGING5 = ["#2166AC", "#92C5DE", "#E0E0E0", "#F4A582", "#B2182B"]


def use_style(options: DisplayOptions = DEFAULT_OPTIONS) -> None:
    """Register the bundled Japanese font and set the house rcParams."""
    import matplotlib as mpl
    import matplotlib_fontja

    matplotlib_fontja.japanize()
    mpl.rcParams.update({
        "font.family": options.font_family,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "x",
        "grid.alpha": 0.3,
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "figure.figsize": (7.5, 4.0),
    })


def _wrap(label: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(str(label), width)) or str(label)


def bar_chart(table: pd.DataFrame, *, title: str | None = None, ax=None, err=None,
              options: DisplayOptions = DEFAULT_OPTIONS):
    """Horizontal bars of a tabulation's ``percent`` by ``label``, largest answers on top.

    ``err`` optionally gives (lower, upper) CI bounds per row, drawn as whiskers.
    Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(7.5, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    pct = table["percent"].to_numpy(dtype=float)
    xerr = None
    if err is not None:
        lo, hi = (np.asarray(e, dtype=float) for e in err)
        xerr = np.vstack([pct - lo, hi - pct])
    ax.barh(y, pct, color=PALETTE[0], xerr=xerr, capsize=3 if xerr is not None else 0)
    for yi, v in zip(y, pct, strict=True):
        if not np.isnan(v):
            ax.text(v + 0.8, yi, f"{v:.{options.decimals}f}%", va="center", fontsize=9)
    ax.set_yticks(y, [_wrap(label) for label in table["label"]])
    ax.set_xlim(0, max(100.0, float(np.nanmax(pct)) * 1.15) if len(pct) else 100)
    ax.set_xlabel("%")
    base = table.attrs.get("base")
    heading = title or _wrap(table.attrs.get("text", ""), 40)
    ax.set_title(f"{heading}（n={base:,}）" if base is not None else heading, loc="left",
                 fontsize=11)
    fig.tight_layout()
    return fig


def likert_chart(tables: dict[str, pd.DataFrame], *, title: str = "",
                 options: DisplayOptions = DEFAULT_OPTIONS):
    """Stacked 100% bars for several items on the same five-level scale (one bar per item).

    ``tables`` maps an item label to its tabulation (same codes in the same order). The
    categories run from the positive end on the left; 無回答 is drawn last in grey.
    """
    import matplotlib.pyplot as plt

    labels = list(tables)
    first = next(iter(tables.values()))
    cats = list(first["label"])
    colours = [*DIVERGING5[: len(cats) - 1], "#BDBDBD"]
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(labels) + 1.6))
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for j, cat in enumerate(cats):
        vals = np.array([tables[k]["percent"].iloc[j] for k in labels], dtype=float)
        ax.barh(y, vals, left=left, color=colours[j % len(colours)], label=cat,
                edgecolor="white", linewidth=0.5)
        for yi, lft, v in zip(y, left, vals, strict=True):
            if v >= 6:
                ax.text(lft + v / 2, yi, f"{v:.{options.decimals}f}", ha="center", va="center",
                        fontsize=8)
        left += vals
    ax.set_yticks(y, [_wrap(k, 22) for k in labels])
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.grid(False)
    ax.legend(ncol=min(len(cats), 6), loc="upper center", bbox_to_anchor=(0.5, -0.18),
              frameon=False, fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    fig.tight_layout()
    return fig
