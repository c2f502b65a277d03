"""The VIP tiers section of the analytics page, pinned on a hand-computed dataset; the tier
recorded on an order by the crediting engine; the tier rollups' incremental refresh; the
page, the CSV and shop isolation; and the ROI's stated reasons.

The dataset (shop "Acme", America/New_York, EUR; range 2026-03-01..2026-03-31, local days;
tiers Silver (rank 0) and Gold (rank 1) active, Bronze archived):

member  tier now     orders (local day: total, tier at the order)
201     Gold         Mar 2: 100 Silver, Mar 20: 300 Gold, Mar 9: 999 Gold cancelled
202     Silver       Mar 5: 50 Silver
203     -            Mar 6: 40 -, Mar 7: 60 -
204     Gold         none
205     -            Apr 2: 70 - (outside)
206     Bronze       Mar 4: 10 Bronze
guest   -            Mar 8: 25 (no member: left out)

Members now: No tier 2 (33.3 %), Silver 1 (16.7 %), Gold 2 (33.3 %), Bronze 1 (16.7 %) of 6.
Revenue in March by the tier at the order: No tier 100.00 (2 orders, 17.9 %), Silver
150.00 (2, 26.8 %), Gold 300.00 (1, 53.6 %), Bronze 10.00 (1, 1.8 %); 560.00 in 6 orders.
Repeat (2+ orders in March, tier now): No tier 203 -> 1 of 2 = 50.0 %, Silver 0 of 1,
Gold 201 -> 1 of 2 = 50.0 %, Bronze 0 of 1.
History in March: up 3 (201 earned Silver Mar 2 and Gold Mar 20, 205 settings Silver ->
Gold Mar 18), down 3 (202 expired Mar 15, 203 manual Gold -> none Mar 16, 206 settings
Gold -> Silver Mar 17), granted 2 (202 Mar 1, 204 Mar 31 23:30 = Apr 1 UTC), grant ended 1
(202 Mar 10); one more grant on Apr 2 is outside.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devstore.clock import clock_at
from loyalty.analytics import selectors, selectors_tiers, services
from loyalty.analytics.models import (
    AnalyticsSettings,
    DailyTierMoveStats,
    DailyTierOrderStats,
    RollupState,
)
from loyalty.models import LoyaltyOrder, LoyaltyProgram, Member, Tier, TierChange, TierSettings
from merchants.models import Shop
from tests.loyalty.page_reading import kpi, read_page, table_rows
from tests.loyalty.test_analytics import URL, at, auth, dataset
from tests.loyalty.tier_helpers import credited, member_of, paid, tiers_setup
from tests.merchants.embedded_helpers import installed_shop

MARCH = selectors.DateRange(date(2026, 3, 1), date(2026, 3, 31))
MARCH_PARAMS = {"start": "2026-03-01", "end": "2026-03-31"}
D = Decimal
Reason = TierChange.Reason


class TierData:
    """Members, orders and tier history with chosen tiers and times."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.tiers = tiers_setup(shop)
        self.tiers["Bronze"] = Tier.objects.create(
            shop=shop, settings=self.tiers["Silver"].settings, name="Bronze", active=False
        )
        self.members: dict[int, Member] = {}
        self.next_order = 3000
        self.next_key = 0

    def member(self, customer_id: int, tier: str | None) -> Member:
        member = Member.objects.create(
            shop=self.shop, customer_id=customer_id, tier=self.tiers[tier] if tier else None
        )
        self.members[customer_id] = member
        return member

    def order(
        self,
        customer_id: int | None,
        placed: datetime,
        total: str,
        tier: str | None,
        state: str = LoyaltyOrder.State.CREDITED,
    ) -> LoyaltyOrder:
        self.next_order += 1
        return LoyaltyOrder.objects.create(
            shop=self.shop,
            order_id=self.next_order,
            member=self.members.get(customer_id) if customer_id else None,
            customer_id=customer_id,
            placed_at=placed,
            total_price=D(total),
            state=state,
            tier=self.tiers[tier] if tier else None,
        )

    def change(
        self, customer_id: int, reason: str, before: str | None, after: str | None, when: datetime
    ) -> TierChange:
        self.next_key += 1
        return TierChange.objects.create(
            shop=self.shop,
            member=self.members[customer_id],
            from_tier=self.tiers[before] if before else None,
            to_tier=self.tiers[after] if after else None,
            from_name=before or "",
            to_name=after or "",
            reason=reason,
            key=f"test:{self.next_key}",
            at=when,
        )


def tier_dataset(shop: Shop) -> TierData:
    t = TierData(shop)
    t.member(201, "Gold")
    t.member(202, "Silver")
    t.member(203, None)
    t.member(204, "Gold")
    t.member(205, None)
    t.member(206, "Bronze")
    t.order(201, at("2026-03-02"), "100.00", "Silver")
    t.order(201, at("2026-03-20"), "300.00", "Gold")
    t.order(201, at("2026-03-09"), "999.00", "Gold", state=LoyaltyOrder.State.CANCELLED)
    t.order(202, at("2026-03-05"), "50.00", "Silver")
    t.order(203, at("2026-03-06"), "40.00", None)
    t.order(203, at("2026-03-07"), "60.00", None)
    t.order(205, at("2026-04-02"), "70.00", None)
    t.order(206, at("2026-03-04"), "10.00", "Bronze")
    t.order(None, at("2026-03-08"), "25.00", None, state=LoyaltyOrder.State.GUEST)

    t.change(201, Reason.EARNED, None, "Silver", at("2026-03-02"))
    t.change(201, Reason.EARNED, "Silver", "Gold", at("2026-03-20"))
    t.change(205, Reason.SETTINGS_CHANGE, "Silver", "Gold", at("2026-03-18"))
    t.change(202, Reason.EXPIRED, "Gold", "Silver", at("2026-03-15"))
    t.change(203, Reason.MANUAL, "Gold", None, at("2026-03-16"))
    t.change(206, Reason.SETTINGS_CHANGE, "Gold", "Silver", at("2026-03-17"))
    t.change(202, Reason.GRANTED, "Silver", "Gold", at("2026-03-01", "08:00"))
    t.change(204, Reason.GRANTED, None, "Gold", at("2026-03-31", "23:30"))
    t.change(202, Reason.GRANT_ENDED, "Gold", "Silver", at("2026-03-10"))
    t.change(204, Reason.GRANTED, None, "Gold", at("2026-04-02"))
    return t


def other_shop() -> Shop:
    """Another shop with tiers and bigger figures in the same range."""
    other = installed_shop("other.myshopify.com", iana_timezone="UTC", currency="USD")
    t = TierData(other)
    for n in range(3):
        t.member(900 + n, "Gold")
        t.order(900 + n, at("2026-03-10", zone=UTC), "88888.00", "Gold")
        t.order(900 + n, at("2026-03-11", zone=UTC), "1.00", "Gold")
        t.change(900 + n, Reason.GRANTED, None, "Gold", at("2026-03-10", zone=UTC))
    services.rollup_refresh(shop=other)
    return other


@pytest.fixture
def acme(db: None) -> Shop:
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    tier_dataset(shop)
    services.rollup_refresh(shop=shop)
    return shop


def figures(board: selectors_tiers.TierBoard) -> list[tuple[Any, ...]]:
    return [
        (
            r.name,
            r.archived,
            r.members,
            r.members_share,
            r.orders,
            r.revenue,
            r.revenue_share,
            r.repeaters,
            r.repeat_rate,
        )
        for r in board.rows
    ]


# --- the figures ------------------------------------------------------------------------------


def test_every_tier_figure_of_the_hand_computed_dataset(acme: Shop) -> None:
    other_shop()

    board = selectors_tiers.tier_board_get(shop=acme, rng=MARCH)

    assert board is not None
    assert figures(board) == [
        ("No tier", False, 2, D("33.3"), 2, D("100.00"), D("17.9"), 1, D("50.0")),
        ("Silver", False, 1, D("16.7"), 2, D("150.00"), D("26.8"), 0, D("0.0")),
        ("Gold", False, 2, D("33.3"), 1, D("300.00"), D("53.6"), 1, D("50.0")),
        ("Bronze", True, 1, D("16.7"), 1, D("10.00"), D("1.8"), 0, D("0.0")),
    ]
    assert (board.members, board.orders, board.revenue) == (6, 6, D("560.00"))
    assert isinstance(board.revenue, Decimal) and board.currency == "EUR"
    assert (board.ups, board.downs, board.grants, board.grant_ends) == (3, 3, 2, 1)
    assert board.bucket == "day" and len(board.moves) == 31
    by_day = {m.start: (m.ups, m.downs, m.grants, m.grant_ends) for m in board.moves}
    assert by_day[date(2026, 3, 1)] == (0, 0, 1, 0)
    assert by_day[date(2026, 3, 2)] == (1, 0, 0, 0)
    assert by_day[date(2026, 3, 10)] == (0, 0, 0, 1)
    assert by_day[date(2026, 3, 17)] == (0, 1, 0, 0)
    assert by_day[date(2026, 3, 31)] == (0, 0, 1, 0)  # 23:30 local is Apr 1 in UTC


def test_a_tier_without_members_or_orders_still_has_its_row(acme: Shop) -> None:
    Tier.objects.create(
        shop=acme, settings=TierSettings.objects.get(shop=acme), name="Platinum", rank=2,
        threshold=D(5000),
    )  # fmt: skip

    board = selectors_tiers.tier_board_get(shop=acme, rng=MARCH)

    assert board is not None
    assert figures(board)[3] == ("Platinum", False, 0, D("0.0"), 0, D(0), D("0.0"), 0, None)


def test_long_ranges_bucket_the_movements_by_week(acme: Shop) -> None:
    rng = selectors.DateRange(date(2026, 1, 1), date(2026, 6, 30))

    board = selectors_tiers.tier_board_get(shop=acme, rng=rng)

    assert board is not None and board.bucket == "week"
    assert sum(m.grants for m in board.moves) == 3  # the April grant too
    assert board.moves[0].start == date(2026, 1, 1)
    assert board.moves[1].start == date(2026, 1, 5)  # Mondays


def test_tiers_off_means_no_tier_section(acme: Shop) -> None:
    TierSettings.objects.filter(shop=acme).update(enabled=False)

    assert selectors_tiers.tier_board_get(shop=acme, rng=MARCH) is None


def test_an_order_records_the_tier_its_member_held_when_it_was_placed(db: None) -> None:
    shop = installed_shop("engine.myshopify.com")
    LoyaltyProgram.objects.create(shop=shop)
    tiers = tiers_setup(shop)
    with clock_at(datetime(2026, 3, 10, 12, tzinfo=UTC)):
        paid(shop, 1, "150.00")  # no tier when placed; 150 points reach Silver
        paid(shop, 2, "10.00")

    assert member_of(shop).tier_id == tiers["Silver"].pk
    assert credited(shop, 1).tier_id is None
    assert credited(shop, 2).tier_id == tiers["Silver"].pk
    TierSettings.objects.filter(shop=shop).update(enabled=False)
    with clock_at(datetime(2026, 3, 11, 12, tzinfo=UTC)):
        paid(shop, 3, "10.00")
    assert credited(shop, 3).tier_id is None  # tiers off: no tier recorded
    services.rollup_refresh(shop=shop)
    TierSettings.objects.filter(shop=shop).update(enabled=True)
    rng = selectors.DateRange(date(2026, 3, 1), date(2026, 3, 31))
    board = selectors_tiers.tier_board_get(shop=shop, rng=rng)
    assert board is not None
    untiered = credited(shop, 1).total_price + credited(shop, 3).total_price
    assert [(r.name, r.orders, r.revenue, r.members, r.repeaters) for r in board.rows] == [
        ("No tier", 2, untiered, 0, 0),
        ("Silver", 1, credited(shop, 2).total_price, 1, 1),
        ("Gold", 0, D(0), 0, 0),
    ]


# --- rollups -----------------------------------------------------------------------------------


def tier_rollups(shop: Shop) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "orders": list(
            DailyTierOrderStats.objects.filter(shop=shop)
            .order_by("day", "tier_key")
            .values_list("day", "tier_key", "orders", "revenue")
        ),
        "moves": list(
            DailyTierMoveStats.objects.filter(shop=shop)
            .order_by("day")
            .values_list("day", "ups", "downs", "grants", "grant_ends")
        ),
    }


def test_incremental_refresh_of_the_tier_rollups_equals_a_full_one(acme: Shop) -> None:
    hour_ago = timezone.now() - timedelta(hours=1)
    LoyaltyOrder.objects.filter(shop=acme).update(updated_at=hour_ago)
    with connection.cursor() as cursor:  # history rows refuse ORM updates
        cursor.execute(
            "UPDATE loyalty_tierchange SET created_at = %s WHERE shop_id = %s", [hour_ago, acme.pk]
        )
    RollupState.objects.filter(shop=acme).update(
        refreshed_through=timezone.now() - timedelta(minutes=30)
    )
    t = TierData.__new__(TierData)
    t.shop, t.next_order, t.next_key = acme, 8000, 100
    t.tiers = {x.name: x for x in Tier.objects.filter(shop=acme)}
    t.members = {m.customer_id: m for m in Member.objects.filter(shop=acme)}
    # a grace that ended on Mar 12, evaluated (written) only now: found by its creation
    t.change(202, Reason.EXPIRED, "Silver", None, at("2026-03-12"))
    t.order(204, at("2026-03-12"), "45.00", "Gold")
    LoyaltyOrder.objects.filter(shop=acme, total_price=D("60.00")).update(
        state=LoyaltyOrder.State.CANCELLED, updated_at=timezone.now()
    )

    report = services.rollup_refresh(shop=acme)
    incremental = tier_rollups(acme)
    services.rollup_refresh(shop=acme, full=True)

    assert report.full is False and report.tier_move_days == 1
    assert incremental == tier_rollups(acme)
    board = selectors_tiers.tier_board_get(shop=acme, rng=MARCH)
    assert board is not None
    assert (board.downs, board.orders, board.revenue) == (4, 6, D("545.00"))


# --- page, CSV, tenancy -----------------------------------------------------------------------


def test_page_shows_the_tier_section_while_tiers_are_on(client: Any, acme: Shop) -> None:
    other_shop()

    html = client.get(URL, MARCH_PARAMS, **auth(acme)).content.decode()

    page = read_page(html)
    assert page.find(id="tiers-card-title").text() == "VIP tiers"
    assert "the tier the member held when the order was placed" in page.find(id="tiers-help").text()
    assert table_rows(html, "tier-table") == [
        ["No tier", "2", "33.3%", "2", "€100.00", "17.9%", "1", "50.0%"],
        ["Silver", "1", "16.7%", "2", "€150.00", "26.8%", "0", "0.0%"],
        ["Gold", "2", "33.3%", "1", "€300.00", "53.6%", "1", "50.0%"],
        ["Bronze (archived)", "1", "16.7%", "1", "€10.00", "1.8%", "0", "0.0%"],
    ]
    assert '<desc id="chart-tier-moves-desc">3 up, 3 down, 2 granted, 1 grants ended' in html
    assert table_rows(html, "tier-moves-table")[0] == ["2026-03-01", "0", "0", "1", "0"]
    assert "88888" not in html
    assert "style=" not in html and "<script>" not in html


def test_a_range_without_movements_shows_an_empty_state(client: Any, acme: Shop) -> None:
    html = client.get(URL, {"start": "2025-01-01", "end": "2025-01-31"}, **auth(acme))

    page = read_page(html.content.decode())
    assert page.find(id="tiers-card") is not None
    assert page.find_all(id="chart-tier-moves") == []
    assert "No tier movements in this range" in page.find(id="tiers-card").text()
    assert table_rows(html.content.decode(), "tier-table")[0][:4] == ["No tier", "2", "33.3%", "0"]


def test_page_without_tiers_has_no_tier_section(client: Any, acme: Shop) -> None:
    TierSettings.objects.filter(shop=acme).update(enabled=False)

    html = client.get(URL, MARCH_PARAMS, **auth(acme)).content.decode()

    page = read_page(html)
    assert page.find_all(id="tiers-card") == []
    assert "VIP tiers" not in page.find(id="beam-main").text()  # (the menu still lists it)


def test_csv_export_adds_the_tier_figures_while_tiers_are_on(client: Any, acme: Shop) -> None:
    response = client.get(URL + "export.csv", MARCH_PARAMS, **auth(acme))

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    start = rows.index(
        [
            "tier",
            "members_now",
            "members_share_pct",
            "orders",
            "revenue",
            "revenue_share_pct",
            "members_with_2_plus_orders",
            "repeat_rate_pct",
        ]
    )
    assert rows[start + 1 : start + 5] == [
        ["No tier", "2", "33.3", "2", "100.00", "17.9", "1", "50.0"],
        ["Silver", "1", "16.7", "2", "150.00", "26.8", "0", "0.0"],
        ["Gold", "2", "33.3", "1", "300.00", "53.6", "1", "50.0"],
        ["Bronze (archived)", "1", "16.7", "1", "10.00", "1.8", "0", "0.0"],
    ]
    assert rows[start + 6] == [
        "day_start",
        "tier_ups",
        "tier_downs",
        "tier_grants",
        "tier_grant_ends",
    ]
    assert rows[start + 7] == ["2026-03-01", "0", "0", "1", "0"]
    assert len(rows) == start + 7 + 31
    TierSettings.objects.filter(shop=acme).update(enabled=False)
    off = client.get(URL + "export.csv", MARCH_PARAMS, **auth(acme)).content.decode()
    assert "tier_ups" not in off and "members_now" not in off


def test_shop_b_sees_only_its_own_tiers(client: Any, acme: Shop) -> None:
    other = other_shop()

    html = client.get(URL, {**MARCH_PARAMS, "shop": acme.domain}, **auth(other)).content.decode()
    export = client.get(URL + "export.csv", MARCH_PARAMS, **auth(other)).content.decode()

    assert table_rows(html, "tier-table") == [
        ["No tier", "0", "0.0%", "0", "$0.00", "0.0%", "0", "—"],
        ["Silver", "0", "0.0%", "0", "$0.00", "0.0%", "0", "—"],
        ["Gold", "3", "100.0%", "6", "$266,667.00", "100.0%", "3", "100.0%"],
    ]
    assert "Bronze" not in html and "€" not in html
    assert "Gold,3,100.0,6,266667.00,100.0,3,100.0" in export


def test_query_count_with_tiers_on_does_not_grow_with_data(client: Any, acme: Shop) -> None:
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL, MARCH_PARAMS, **auth(acme)).status_code == 200
    t = TierData.__new__(TierData)
    t.shop, t.next_order, t.next_key = acme, 9000, 500
    t.tiers = {x.name: x for x in Tier.objects.filter(shop=acme)}
    t.members = {}
    for i in range(20):
        t.member(4000 + i, "Silver" if i % 2 else "Gold")
        t.order(4000 + i, at("2026-03-03"), "11.00", "Silver")
        t.order(4000 + i, at("2026-03-04"), "12.00", "Gold")
        t.change(4000 + i, Reason.EARNED, None, "Silver", at("2026-03-03"))
    services.rollup_refresh(shop=acme)

    with CaptureQueriesContext(connection) as big:
        assert client.get(URL, MARCH_PARAMS, **auth(acme)).status_code == 200

    # the dashboard's 11, tier rules, the tier snapshot (none for a custom range), members
    # by tier counted live, revenue by tier, movements, the archived tier's name
    assert len(small) == len(big) == 17


# --- ROI: a reason instead of a bare "—" --------------------------------------------------------


@pytest.fixture
def analytics_shop(db: None) -> Shop:
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    dataset(shop)
    services.rollup_refresh(shop=shop)
    return shop


def test_roi_says_why_when_no_order_used_a_reward(client: Any, analytics_shop: Shop) -> None:
    html = client.get(URL, {"start": "2026-01-01", "end": "2026-01-30"}, **auth(analytics_shop))

    assert kpi(html.content.decode(), "roi")[:2] == [
        "0\u00d7",
        "No order in the range used a Beam reward: loyalty-generated revenue is €0.00 "
        "against a plan cost of €29.00.",
    ]


@pytest.mark.parametrize(
    ("price", "start", "value", "reason", "note"),
    [
        (None, "2026-03-01", "—", "no_price", "Enter the monthly price you pay for Beam"),
        ("0.00", "2026-03-01", "—", "free_plan", "Your saved plan price is €0.00: there is no"),
        ("0.01", "2026-03-31", "—", "cost_rounds_to_zero", "The plan cost for the range's 1 day"),
        ("29.00", "2026-03-01", "10.01\u00d7", "", "Loyalty-generated revenue ÷ plan cost"),
    ],
)
def test_roi_states_each_reason(
    client: Any,
    analytics_shop: Shop,
    price: str | None,
    start: str,
    value: str,
    reason: str,
    note: str,
) -> None:
    AnalyticsSettings.objects.filter(shop=analytics_shop).delete()
    if price is not None:
        services.plan_price_set(shop=analytics_shop, price=price)
    rng = selectors.DateRange(date.fromisoformat(start), date(2026, 3, 31))

    assert selectors.dashboard_get(shop=analytics_shop, rng=rng).roi_reason == reason
    html = client.get(URL, {"start": start, "end": "2026-03-31"}, **auth(analytics_shop))
    shown = kpi(html.content.decode(), "roi")
    assert shown[0] == value
    assert shown[1].startswith(note)
