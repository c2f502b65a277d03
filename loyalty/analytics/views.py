"""The analytics page of the embedded admin: thin htmx views over the selectors.

GET renders the whole page, or only its body partial for htmx (range changes); POST of
the plan price re-renders the body; the CSV has the same figures as the page.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core import numbers
from loyalty.analytics import charts, selectors, selectors_tiers, services, tasks
from loyalty.analytics.errors import InvalidDateRange, InvalidPlanPrice
from loyalty.analytics.models import RollupState
from loyalty.services.ledger import task_publish
from merchants.auth import embedded_admin_required

TEMPLATE = "analytics/dashboard.html"
# A page view finding rollups older than this asks for a refresh (the beat does it too).
STALE_AFTER = timedelta(minutes=5)


def _range_from(request: HttpRequest, params: Any) -> selectors.DateRange:
    today = timezone.now().astimezone(services.shop_zone(request.shop)).date()  # type: ignore[attr-defined]
    return selectors.date_range_parse(
        start=params.get("start"), end=params.get("end"), preset=params.get("range"), today=today
    )


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{value}%"


def _charts(board: selectors.Dashboard, locale: str) -> dict[str, Any]:
    labels = [p.start.strftime("%b %d") for p in board.series]
    cur = board.currency

    def money(amount: object) -> str:
        return numbers.money_format(amount, cur, locale)

    def count(value: object) -> str:
        return numbers.number_format(value, locale)

    revenue = charts.line_chart(
        chart_id="chart-revenue",
        title=f"Revenue per {board.series_bucket} ({cur})",
        desc=(
            f"Total revenue {money(board.revenue)}, of which {money(board.reward_revenue)} "
            f"from orders that used a Beam reward, {board.range.start} to {board.range.end}."
        ),
        labels=labels,
        series=[
            charts.Series("All orders", "total", [p.revenue for p in board.series]),
            charts.Series(
                "With a Beam reward", "loyalty", [p.reward_revenue for p in board.series]
            ),
        ],
    )
    points = charts.line_chart(
        chart_id="chart-points",
        title=f"Points issued and redeemed per {board.series_bucket}",
        desc=(
            f"{numbers.counted(board.points_issued, 'point', locale)} issued and "
            f"{count(board.points_redeemed)} redeemed."
        ),
        labels=labels,
        series=[
            charts.Series("Issued", "issued", [p.issued for p in board.series]),
            charts.Series("Redeemed", "redeemed", [p.redeemed for p in board.series]),
        ],
    )
    aov = charts.bar_chart(
        chart_id="chart-aov",
        title=f"Average order value ({cur})",
        desc=(
            f"With a Beam reward {money(board.aov_with_reward)}, "
            f"without {money(board.aov_without_reward)}."
        ),
        bars=[
            ("With a reward", board.aov_with_reward, "loyalty"),
            ("Without", board.aov_without_reward, "total"),
        ],
        width=charts.HALF_WIDTH,
        shown_as=money,
    )
    repeat = charts.bar_chart(
        chart_id="chart-repeat",
        title="Repeat-customer rate (%)",
        desc=(
            f"Members {_pct(board.repeat_rate_members)}, "
            f"non-members {_pct(board.repeat_rate_non_members)}."
        ),
        bars=[
            ("Members", board.repeat_rate_members, "loyalty"),
            ("Non-members", board.repeat_rate_non_members, "total"),
        ],
        suffix="%",
        top=100.0,
        width=charts.HALF_WIDTH,
    )
    probability = charts.bar_chart(
        chart_id="chart-probability",
        title="Chance of a next order after x orders (%)",
        desc="; ".join(f"after {s.x}: {_pct(s.probability)}" for s in board.repeat_steps),
        bars=[(str(s.x), s.probability, "loyalty") for s in board.repeat_steps],
        suffix="%",
        top=100.0,
    )
    return {
        "revenue": revenue,
        "points": points,
        "aov": aov,
        "repeat": repeat,
        "probability": probability,
    }


def _tier_chart(tiers: selectors_tiers.TierBoard) -> Any:
    """Tier movements per bucket, one line each for ups, downs, grants and grant ends."""
    return charts.line_chart(
        chart_id="chart-tier-moves",
        title=f"Tier movements per {tiers.bucket}",
        desc=(
            f"{tiers.ups} up, {tiers.downs} down, {tiers.grants} granted, "
            f"{tiers.grant_ends} grants ended, {tiers.range.start} to {tiers.range.end}."
        ),
        labels=[p.start.strftime("%b %d") for p in tiers.moves],
        series=[
            charts.Series("Up", "up", [p.ups for p in tiers.moves]),
            charts.Series("Down", "down", [p.downs for p in tiers.moves]),
            charts.Series("Granted", "grant", [p.grants for p in tiers.moves]),
            charts.Series("Grant ended", "grant-end", [p.grant_ends for p in tiers.moves]),
        ],
    )


def _empty(board: selectors.Dashboard) -> dict[str, bool]:
    """Which charts have nothing to draw in the range: the page shows an empty state saying
    what will appear there instead of a flat line or a table of zeros."""
    return {
        "revenue": not board.orders,
        "points": not any(p.issued or p.redeemed or p.enrolled for p in board.series),
        "aov": not board.orders,
        "customers": not board.customers,
    }


def _context(
    request: HttpRequest, rng: selectors.DateRange | None, error: str = ""
) -> dict[str, Any]:
    board = selectors.dashboard_get(shop=request.shop, rng=rng) if rng else None  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "shop": request.shop,  # type: ignore[attr-defined]
        "board": board,
        "error": error,
        "presets": list(selectors.PRESETS),
        "preset": request.GET.get("range", "") if not request.GET.get("start") else "",
        "dashboard_url": reverse("analytics_dashboard"),
        "plan_url": reverse("analytics_plan_price"),
    }
    if board is not None:
        context["charts"] = _charts(board, numbers.locale_of(request.shop))  # type: ignore[attr-defined]
        context["empty"] = _empty(board)
        tiers = (  # none while the figures are being prepared (the page shows a skeleton)
            selectors_tiers.tier_board_get(shop=request.shop, rng=board.range)  # type: ignore[attr-defined]
            if board.as_of
            else None
        )
        context["tiers"] = tiers
        if tiers is not None and tiers.has_moves:
            context["charts"]["tier_moves"] = _tier_chart(tiers)
        context["export_url"] = (
            f"{reverse('analytics_export')}?start={board.range.start}&end={board.range.end}"
        )
    return context


def _render(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    template = f"{TEMPLATE}#body" if request.htmx else TEMPLATE  # type: ignore[attr-defined]
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _refresh_if_stale(request: HttpRequest) -> None:
    """Queue a rollup refresh when the shop's rollups are missing or stale. With eager tasks
    (local, demo) it runs before the figures are read; in production a worker picks it up
    and the page shows the rollups as of their last refresh (the page says when)."""
    shop = request.shop  # type: ignore[attr-defined]
    fresh = RollupState.objects.filter(
        shop=shop, refreshed_through__gte=timezone.now() - STALE_AFTER
    ).exists()
    if not fresh:
        # a broker that does not answer is logged: the periodic refresh catches up
        task_publish(tasks.rollup_refresh, shop.pk)


@require_GET
@embedded_admin_required
def analytics_dashboard(request: HttpRequest) -> HttpResponse:
    """The dashboard for the requested range (400 with the reason for a bad range)."""
    _refresh_if_stale(request)
    try:
        rng = _range_from(request, request.GET)
    except InvalidDateRange as exc:
        return _render(request, _context(request, None, str(exc)), status=400)
    return _render(request, _context(request, rng))


@require_POST
@embedded_admin_required
def analytics_plan_price(request: HttpRequest) -> HttpResponse:
    """Store the monthly plan price (for ROI), then show the body for the posted range."""
    try:
        rng = _range_from(request, request.POST)
    except InvalidDateRange as exc:
        return _render(request, _context(request, None, str(exc)), status=400)
    try:
        services.plan_price_set(shop=request.shop, price=request.POST.get("plan_price", ""))  # type: ignore[attr-defined]
    except InvalidPlanPrice as exc:
        return _render(request, {**_context(request, rng), "plan_error": str(exc)}, status=400)
    return _render(request, {**_context(request, rng), "plan_saved": True})


@require_GET
@embedded_admin_required
def analytics_export(request: HttpRequest) -> HttpResponse:
    """The dashboard's figures as CSV: the metrics, the P(x+1|x) table, the time series,
    and while tiers are on the per-tier figures and the tier movements."""
    try:
        rng = _range_from(request, request.GET)
    except InvalidDateRange as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    board = selectors.dashboard_get(shop=request.shop, rng=rng)  # type: ignore[attr-defined]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"beam-analytics-{rng.start}-{rng.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(["metric", "value", "unit"])
    for name, value, unit in selectors.dashboard_rows(board):
        writer.writerow([name, "" if value is None else value, unit])
    writer.writerow([])
    writer.writerow(["x", "customers_with_x_orders", "customers_with_x_plus_1", "probability_pct"])
    for step in board.repeat_steps:
        writer.writerow(
            [
                step.x,
                step.customers_with_x,
                step.customers_with_next,
                "" if step.probability is None else step.probability,
            ]
        )
    writer.writerow([])
    writer.writerow(
        [
            f"{board.series_bucket}_start",
            "orders",
            "revenue",
            "reward_revenue",
            "points_issued",
            "points_redeemed",
            "members_enrolled",
        ]
    )
    for p in board.series:
        writer.writerow(
            [p.start, p.orders, p.revenue, p.reward_revenue, p.issued, p.redeemed, p.enrolled]
        )
    tiers = selectors_tiers.tier_board_get(shop=request.shop, rng=rng)  # type: ignore[attr-defined]
    if tiers is not None:
        writer.writerow([])
        writer.writerows(selectors_tiers.tier_board_rows(tiers))
        writer.writerow([])
        writer.writerow(
            [f"{tiers.bucket}_start", "tier_ups", "tier_downs", "tier_grants", "tier_grant_ends"]
        )
        for m in tiers.moves:
            writer.writerow([m.start, m.ups, m.downs, m.grants, m.grant_ends])
    return response
