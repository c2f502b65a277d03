"""Server-rendered SVG charts: no script, no CDN, no inline style (the admin's CSP).

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its
``<desc>`` (what it shows and the headline numbers); the page puts a data table next to it
for screen readers and for exact values. Colours come from classes in
``static/beam/analytics.css``. Coordinates are floats: they are drawing positions, never
figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HALF_WIDTH = 360
HEIGHT = 220
PAD_LEFT = 56
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class suffix: beam-chart-<css>
    values: Sequence[Decimal | int]


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 * 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def _frame(chart_id: str, title: str, desc: str, body: list[str], width: int = WIDTH) -> SafeString:
    head = format_html(
        '<svg class="beam-chart" id="{0}" role="img" aria-labelledby="{0}-title {0}-desc" '
        'viewBox="0 0 {1} {2}" preserveAspectRatio="xMidYMid meet" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<title id="{0}-title">{3}</title><desc id="{0}-desc">{4}</desc>',
        chart_id,
        width,
        HEIGHT,
        title,
        desc,
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 (every part escaped)


def _axis(top: float, low: float = 0.0, width: int = WIDTH) -> list[str]:
    """Five grid lines from ``low`` (0, or a round negative) to ``top``, with their values."""
    parts = []
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    for i in range(5):
        value = low + (top - low) * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="beam-chart-grid" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="beam-chart-tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(_fmt(value))}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    if not labels:
        return []
    every = max(1, len(labels) // 6)
    parts = []
    last = len(labels) - 1
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every and i != last:
            continue
        if i != last and last - i < every * 0.6:
            continue  # leave room for the last label
        anchor = "end" if i == last and last > 0 and len(labels) > 12 else "middle"
        parts.append(
            f'<text class="beam-chart-tick" x="{x:.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="{anchor}">{escape(label)}</text>'
        )
    return parts


def line_chart(
    *, chart_id: str, title: str, desc: str, labels: Sequence[str], series: Sequence[Series]
) -> SafeString:
    """A time series: one polyline (with a light area under the first) per series. Values
    below zero (net redemptions on a day of give-backs) get a negative axis part."""
    top = _nice_max(float(max((max(s.values, default=0) for s in series), default=0)))
    lowest = float(min((min(s.values, default=0) for s in series), default=0))
    low = -_nice_max(-lowest) if lowest < 0 else 0.0
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    n = len(labels)
    xs = [PAD_LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    body = _axis(top, low)
    bottom = PAD_TOP + plot_h
    base_y = bottom - plot_h * (0 - low) / (top - low)
    for index, s in enumerate(series):
        ys = [bottom - plot_h * (float(v) - low) / (top - low) for v in s.values]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        if index == 0 and points:
            area = f"{xs[0]:.1f},{base_y:.1f} {points} {xs[-1]:.1f},{base_y:.1f}"
            body.append(f'<polygon class="beam-chart-area-{escape(s.css)}" points="{area}"/>')
        body.append(
            f'<polyline class="beam-chart-line beam-chart-{escape(s.css)}" points="{points}">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
    body += _x_labels(labels, xs)
    body.append(_legend([(s.name, s.css) for s in series]))
    return _frame(chart_id, title, desc, body)


def _shown(
    value: Decimal | int | None, suffix: str, shown_as: Callable[[Decimal | int], str] | None
) -> str:
    if value is None:
        return "n/a"
    return shown_as(value) if shown_as else f"{value}{suffix}"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[tuple[str, Decimal | int | None, str]],
    suffix: str = "",
    top: float | None = None,
    width: int = WIDTH,
    shown_as: Callable[[Decimal | int], str] | None = None,
) -> SafeString:
    """Vertical bars with their value on top; ``None`` values draw no bar and say "n/a".
    ``shown_as`` writes a value the way the page does (money in the shop's format)."""
    values = [max(float(v), 0.0) for _, v, _ in bars if v is not None]
    top = top or _nice_max(max(values, default=0))
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(bars), 1)
    bar_w = min(slot * 0.6, 120)
    body = _axis(top, width=width)
    xs = []
    for i, (label, value, css) in enumerate(bars):
        x = PAD_LEFT + slot * i + (slot - bar_w) / 2
        xs.append(x + bar_w / 2)
        shown = _shown(value, suffix, shown_as)
        if value is not None:
            h = plot_h * max(float(value), 0.0) / top
            y = PAD_TOP + plot_h - h
            body.append(
                f'<rect class="beam-chart-bar beam-chart-{escape(css)}" x="{x:.1f}" '
                f'y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            )
        else:
            y = PAD_TOP + plot_h
        body.append(
            f'<text class="beam-chart-value" x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" '
            f'text-anchor="middle">{escape(shown)}</text>'
        )
    body += _x_labels([label for label, _, _ in bars], xs) if len(bars) <= 12 else []
    return _frame(chart_id, title, desc, body, width)


def _legend(items: Sequence[tuple[str, str]]) -> str:
    parts = []
    x = PAD_LEFT + 8
    for name, css in items:
        parts.append(
            f'<rect class="beam-chart-{escape(css)}" x="{x}" y="{PAD_TOP}" width="10" '
            f'height="10"/><text class="beam-chart-legend" x="{x + 14}" y="{PAD_TOP + 9}">'
            f"{escape(name)}</text>"
        )
        x += 24 + 7 * len(name)
    return "".join(parts)
