"""Small charts for the admin pages: inline SVG made here, as text.

No JavaScript and no outside requests (the pages run on air-gapped networks under a CSP
without script-src): each function takes labelled values and returns one ``<svg>``
element with a ``<title>`` and ``<desc>`` (read by screen readers through
``aria-labelledby``); the page puts a table with the same numbers under it. Every label
is escaped: none comes from a scraped page, but a source name is configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 36, 16, 44  # room for the value axis and the labels
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
TICKS = 4  # grid lines above the zero line


def nice_top(largest: float) -> int:
    """The axis maximum: the smallest of 1, 2, 5 × 10^k (but at least 4, so four ticks
    are whole numbers) that holds ``largest``."""
    if largest <= TICKS:
        return TICKS
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step * TICKS >= largest:
                return m * step * TICKS
        step *= 10


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _frame(chart_id: str, title: str, desc: str, top: int, y_label: str, x_label: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
        '<g class="grid" stroke="#d0d7de" stroke-width="1">',
    ]
    for i in range(TICKS + 1):
        y = TOP + PLOT_H - PLOT_H * i / TICKS
        parts.append(f'<line x1="{LEFT}" y1="{_num(y)}" x2="{LEFT + PLOT_W}" y2="{_num(y)}"/>')
    parts.append("</g>")
    parts.append('<g class="y-ticks" font-size="11" fill="#57606a" text-anchor="end">')
    for i in range(TICKS + 1):
        y = TOP + PLOT_H - PLOT_H * i / TICKS
        parts.append(f'<text x="{LEFT - 6}" y="{_num(y + 4)}">{_num(top * i / TICKS)}</text>')
    parts.append("</g>")
    parts.append(
        f'<text class="y-label" x="4" y="{TOP - 4}" font-size="11" fill="#57606a">'
        f"{escape(y_label)}</text>"
    )
    parts.append(
        f'<text class="x-label" x="{LEFT + PLOT_W / 2:.0f}" y="{HEIGHT - 4}" font-size="11" '
        f'fill="#57606a" text-anchor="middle">{escape(x_label)}</text>'
    )
    return parts


def _label_every(n: int) -> int:
    """Label every k-th category so that at most about 12 labels share the axis."""
    return max(1, -(-n // 12))


def bar_chart(
    bars: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    y_label: str,
    x_label: str,
    over: Sequence[str] = (),
) -> str:
    """One ``<rect class="bar">`` per value (a zero is a bar of height 0), its height
    ``value / top × PLOT_H`` where ``top = nice_top(max)``; each bar has a ``<title>``
    tooltip with its label and value. Bars labelled in ``over`` (past a limit) are drawn
    apart: class ``bar over``, in red."""
    top = nice_top(max((v for _, v in bars), default=0))
    parts = _frame(chart_id, title, desc, top, y_label, x_label)
    slot = PLOT_W / max(len(bars), 1)
    gap = min(slot * 0.2, 8)
    every = _label_every(len(bars))
    parts.append('<g class="bars" fill="#0b5cad">')
    for i, (label, value) in enumerate(bars):
        h = PLOT_H * value / top
        x = LEFT + i * slot + gap / 2
        apart = ' over" fill="#cf222e' if label in over else ""
        parts.append(
            f'<rect class="bar{apart}" x="{_num(x)}" y="{_num(TOP + PLOT_H - h)}" '
            f'width="{_num(slot - gap)}" height="{_num(h)}">'
            f"<title>{escape(label)}：{value}</title></rect>"
        )
    parts.append("</g>")
    parts.append('<g class="x-ticks" font-size="11" fill="#57606a" text-anchor="middle">')
    for i, (label, _) in enumerate(bars):
        if i % every == 0:
            x = LEFT + (i + 0.5) * slot
            parts.append(f'<text x="{_num(x)}" y="{TOP + PLOT_H + 16}">{escape(label)}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


def line_chart(
    points: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    y_label: str,
    x_label: str,
    label_every: int | None = None,
) -> str:
    """A ``<polyline>`` through the values, evenly spaced, and one ``<circle class="point">``
    per value with a ``<title>`` tooltip."""
    top = nice_top(max((v for _, v in points), default=0))
    parts = _frame(chart_id, title, desc, top, y_label, x_label)
    step = PLOT_W / max(len(points) - 1, 1)
    xy = [(LEFT + i * step, TOP + PLOT_H - PLOT_H * v / top) for i, (_, v) in enumerate(points)]
    coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in xy)
    parts.append(
        f'<polyline class="line" fill="none" stroke="#0b5cad" stroke-width="2" points="{coords}"/>'
    )
    parts.append('<g class="points" fill="#0b5cad">')
    for (label, value), (x, y) in zip(points, xy, strict=True):
        parts.append(
            f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="3">'
            f"<title>{escape(label)}：{value}</title></circle>"
        )
    parts.append("</g>")
    every = label_every or _label_every(len(points))
    parts.append('<g class="x-ticks" font-size="11" fill="#57606a" text-anchor="middle">')
    for i, (label, _) in enumerate(points):
        if i % every == 0:
            parts.append(
                f'<text x="{_num(xy[i][0])}" y="{TOP + PLOT_H + 16}">{escape(label)}</text>'
            )
    parts.append("</g></svg>")
    return "".join(parts)
