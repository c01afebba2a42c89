"""Server-rendered trend charts: inline SVG that scales to a phone's width, no JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

# Sized for the smallest screen: a 640-unit view box shrinks to about 330 px on a phone, so
# labels are drawn at 20 units to stay readable (about 10 px there, 15 px on a desktop).
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 34, 44


@dataclass(frozen=True, slots=True)
class Series:
    """One weekly series: a title, its unit, and (week's Monday, value or None) points."""

    title: str
    unit: str
    points: Sequence[tuple[datetime, float | None]]
    note: str = ""
    top: float | None = None  # a fixed top of the scale (100 for a percentage)


def _label(value: float, unit: str) -> str:
    return f"{value:.0f}{unit}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}{unit}"


def _nice(value: float) -> float:
    """A round top for the scale: 10, 20, 50, 100, 200, … at or above `value`."""
    step = 10.0
    while True:
        for top in (step, step * 2, step * 5):
            if value <= top:
                return top
        step *= 10


def trend_svg(series: Series) -> Markup:
    """A line chart of one series with its values on the points and dates under them."""
    values = [v for _, v in series.points if v is not None]
    top = series.top or _nice(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(series.points) - 1, 1)

    def x(i: int) -> float:
        return LEFT + plot_w * i / n

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(series.title)}" preserveAspectRatio="xMidYMid meet">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" class="grid"/>',
        f'<text x="{LEFT - 8}" y="{TOP + 7}" class="tick" text-anchor="end">'
        f"{escape(_label(top, series.unit))}</text>",
        f'<text x="{LEFT - 8}" y="{TOP + plot_h + 7}" class="tick" text-anchor="end">0</text>',
    ]
    line: list[str] = []
    for i, (monday, value) in enumerate(series.points):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 12}" class="tick" text-anchor="middle">'
            f"{monday:%m/%d}</text>"
        )
        if value is None:
            continue
        line.append(f"{x(i):.1f},{y(value):.1f}")
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="4" class="dot"/>')
        parts.append(
            f'<text x="{x(i):.1f}" y="{y(value) - 12:.1f}" class="value" text-anchor="middle">'
            f"{escape(_label(value, series.unit))}</text>"
        )
    if len(line) > 1:
        parts.insert(5, f'<polyline points="{" ".join(line)}" class="line"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
