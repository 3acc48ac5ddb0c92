"""A report's bar chart as a PNG (matplotlib, Agg canvas: no display, no pyplot state).

Chinese labels need a CJK font. When font_manager knows one (fonts-wqy-microhei, Noto CJK,
Source Han …) the chart carries its Chinese title and labels; otherwise it is drawn with the
ASCII part of each text only (the numbers), never with the empty boxes a font without the
glyphs would draw, and the document's caption carries the Chinese title.
"""

from __future__ import annotations

import io
from functools import cache

from bridge.admin.report.document import Chart

BAR_COLOUR = "#4472c4"
OVER_COLOUR = "#c0504d"  # bars after the chart's limit (over the legal time limit)

CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Sarasa Gothic SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
"""Families tried in order; the first one installed draws the Chinese text."""

_KEPT = frozenset("–—≤≥…")  # beyond ASCII, what the default font (DejaVu Sans) has


@cache
def cjk_family() -> str | None:
    """The first CJK font family font_manager knows, or None."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in known), None)


def ascii_only(text: str) -> str:
    """``text`` with what a font without CJK glyphs cannot draw removed."""
    kept = "".join(ch for ch in text if ch.isascii() or ch in _KEPT)
    return " ".join(kept.split())


def chart_png(chart: Chart) -> bytes:
    """The chart as PNG bytes, with Chinese text if a CJK font is installed."""
    return draw(chart, cjk_family())


def draw(chart: Chart, family: str | None) -> bytes:
    """The chart drawn with font ``family``; None: the default font and ASCII text only."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    def text(s: str) -> str:
        return s if family else ascii_only(s)

    labels = [text(label) or str(i) for i, (label, _) in enumerate(chart.bars, start=1)]
    counts = [count for _, count in chart.bars]
    colours = [OVER_COLOUR if o else BAR_COLOUR for o in chart.over()]
    fig = Figure(figsize=(6.4, 3.6), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    font = {"family": family} if family else {}
    positions = list(range(len(counts)))
    bars = ax.bar(positions, counts, color=colours, width=0.7)
    ax.bar_label(bars, labels=[str(c) for c in counts], fontsize=8, padding=2)
    ax.set_xticks(positions, labels, fontdict=font, fontsize=8)
    if len(labels) > 8:
        for tick in ax.get_xticklabels():
            tick.set_rotation(45)
            tick.set_horizontalalignment("right")
    ax.set_xlabel(text(chart.x_label), fontdict=font)
    ax.set_ylabel(text(chart.y_label), fontdict=font)
    ax.set_title(text(chart.title), fontdict=font)
    ax.set_ylim(0, max([*counts, 1]) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    if not counts:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "0", transform=ax.transAxes, ha="center", va="center")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
