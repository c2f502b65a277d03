"""The server-rendered SVG charts: accessible names, escaping, axes, empty values."""

from __future__ import annotations

import re
from decimal import Decimal

from loyalty.analytics import charts


def test_line_chart_is_an_accessible_image_with_escaped_text() -> None:
    svg = charts.line_chart(
        chart_id="c1",
        title="Revenue <per day>",
        desc='Total "595" & more',
        labels=["Mar 01", "Mar 02", "Mar 03"],
        series=[
            charts.Series("All <b>", "total", [Decimal("10.00"), Decimal("0"), Decimal("30.00")]),
            charts.Series("Loyalty", "loyalty", [Decimal("0"), Decimal("0"), Decimal("20")]),
        ],
    )

    assert svg.startswith(
        '<svg class="beam-chart" id="c1" role="img" aria-labelledby="c1-title c1-desc"'
    )
    assert '<title id="c1-title">Revenue &lt;per day&gt;</title>' in svg
    assert '<desc id="c1-desc">Total &quot;595&quot; &amp; more</desc>' in svg
    assert "<b>" not in svg and "All &lt;b&gt;" in svg
    assert svg.count("<polyline") == 2 and svg.count("<polygon") == 1
    assert "style=" not in svg and "<script" not in svg
    # axis 0..50 (the round maximum above 30), the last point at the top right area
    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["0", "12.5", "25", "37.5", "50"]


def test_line_chart_with_negative_values_has_a_negative_axis() -> None:
    svg = charts.line_chart(
        chart_id="c2",
        title="Points",
        desc="",
        labels=["a", "b"],
        series=[charts.Series("Redeemed", "redeemed", [300, -200])],
    )

    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert ticks[0] == "-200" and ticks[-1] == "500"


def test_bar_chart_shows_values_and_unknowns() -> None:
    svg = charts.bar_chart(
        chart_id="c3",
        title="Repeat rate",
        desc="",
        bars=[("Members", Decimal("66.7"), "loyalty"), ("Non-members", None, "total")],
        suffix="%",
        top=100.0,
        width=charts.HALF_WIDTH,
    )

    assert 'viewBox="0 0 360 220"' in svg
    assert svg.count("<rect") == 1
    assert "<title>Members: 66.7%</title>" in svg
    assert ">n/a</text>" in svg
    assert ">66.7%</text>" in svg


def test_empty_series_draws_an_axis_only() -> None:
    svg = charts.line_chart(chart_id="c4", title="t", desc="d", labels=[], series=[])

    assert "<polyline" not in svg
    assert svg.endswith("</svg>")
