"""Analytics figures pinned on a hand-computed dataset, rollup refresh, page, CSV, tenancy.

The dataset (shop "Acme", America/New_York, EUR; range 2026-03-01..2026-03-31, local days):

customer  enrolled (local)      orders (local day: total)                     member?
101       Feb 20                Mar 2: 100 (Beam code), Mar 10: 50, Mar 20: 30   yes
102       Mar 5 12:00           Mar 5 09:00: 80, Apr 2: 40                       no (after)
103       Mar 1 00:30           Mar 15: 200 (Beam code)                          yes
104       Apr 1 00:10           Mar 31 23:30: 60 (= Apr 1 UTC)                   no
105       Feb 1                 Feb 25: 20, Mar 12: 25                           (cohort Feb)
106       Feb 28 23:40          Feb 28 23:30: 70 (= Mar 1 UTC)                   (cohort Feb)
107       Feb 1                 Mar 3: 10, Apr 5: 10 x 10                        yes
108       Mar 31 12:00          none
guest     -                     Mar 8: 40
101       -                     Mar 9: 500, cancelled (never counted)

Orders in range: 9 (O1 100, O2 50, O3 30, O4 80, O6 200, O7 60, 107's 10, O9 25, guest 40)
= 595.00; with a Beam code: O1 + O6 = 300.00 (2) -> 50.4 %; AOV 150.00 vs 295/7 = 42.14.
Cohort (first order in March): 101, 102, 103, 104, 107 -> 5 customers, 18 orders, 670.00
-> frequency 3.60, CLV 134.00; members 101/103/107 repeat 2 of 3 = 66.7 %, non-members
102/104 repeat 1 of 2 = 50.0 %, all 3 of 5 = 60.0 %; top 5% = ceil(0.25) = 1 customer
(103, 200.00) = 29.9 %; n1..n11 = 5, 3, 2, 1 x 8.
Ledger in range: issued 100 + 50 + 200 (pending) + 80 + 25 (bonus) + 40 (manual +) = 495;
redeemed 300 + (200 - 200) = 300 -> 60.6 %; expired 30; reversed 10. Outstanding at
Mar 31 (available bucket up to then): 740 + 250 + 80 + 70 + 65 + 70 = 1275; best active
value per point 1.50/100 -> liability 19.125 -> 19.13. Enrolled in range: 102, 103, 108.
Plan 29.00/month -> cost 29 * 31 / 30 = 29.97 -> ROI 300 / 29.97 = 10.01.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.analytics import selectors, services
from loyalty.analytics.errors import InvalidDateRange, InvalidPlanPrice
from loyalty.analytics.models import (
    AnalyticsSettings,
    CustomerStats,
    DailyCohortStats,
    DailyMemberStats,
    DailyOrderStats,
    DailyPointsStats,
    RollupState,
)
from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Redemption, Reward
from merchants.models import Shop
from tests.loyalty.page_reading import kpi, kpi_names, read_page, table_rows
from tests.merchants.embedded_helpers import installed_shop, session_token

NY = ZoneInfo("America/New_York")
MARCH = selectors.DateRange(date(2026, 3, 1), date(2026, 3, 31))
D = Decimal
Kind = LedgerEntry.Kind


def at(day: str, hm: str = "10:00", zone: ZoneInfo = NY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=zone)


class Builder:
    """Creates rows with chosen timestamps (``auto_now_add`` fields included)."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.members: dict[int, Member] = {}
        self.next_order = 1000
        self.reward = Reward.objects.create(
            shop=shop, name="5 off", kind=Reward.Kind.FIXED_AMOUNT, points_cost=500, value=D(5)
        )

    def member(self, customer_id: int, enrolled: datetime) -> Member:
        with mock.patch("django.utils.timezone.now", return_value=enrolled):
            member = Member.objects.create(
                shop=self.shop, customer_id=customer_id, email=f"c{customer_id}@example.com"
            )
        self.members[customer_id] = member
        return member

    def order(
        self,
        customer_id: int | None,
        placed: datetime,
        total: str,
        *,
        code: str | None = None,
        state: str = LoyaltyOrder.State.CREDITED,
    ) -> LoyaltyOrder:
        self.next_order += 1
        member = self.members.get(customer_id) if customer_id else None
        order = LoyaltyOrder.objects.create(
            shop=self.shop,
            order_id=self.next_order,
            member=member,
            customer_id=customer_id,
            currency=self.shop.currency,
            placed_at=placed,
            total_price=D(total),
            subtotal_price=D(total),
            discount_codes=[code] if code else [],
            state=state,
        )
        if code:
            self.redemption(customer_id or 0, code, status=Redemption.Status.USED, order=order)
        return order

    def redemption(
        self, customer_id: int, code: str, *, status: str, order: LoyaltyOrder | None = None
    ) -> Redemption:
        return Redemption.objects.create(
            shop=self.shop,
            member=self.members[customer_id],
            reward=self.reward,
            points_spent=500,
            value=D(5),
            currency=self.shop.currency,
            code=code,
            status=status,
            client_key=code,
            order_id=order.order_id if order else None,
            expires_at=timezone.now() + timedelta(days=30),
        )

    def entry(
        self,
        customer_id: int,
        amount: int,
        kind: str,
        when: datetime,
        bucket: str = LedgerEntry.Bucket.AVAILABLE,
    ) -> LedgerEntry:
        with mock.patch("django.utils.timezone.now", return_value=when):
            return LedgerEntry.objects.create(
                shop=self.shop,
                member=self.members[customer_id],
                amount=amount,
                kind=kind,
                bucket=bucket,
                idempotency_key=f"{kind}:{customer_id}:{when.isoformat()}:{amount}:{bucket}",
            )


def dataset(shop: Shop) -> Builder:
    """The hand-computed dataset of the module docstring."""
    b = Builder(shop)
    b.member(101, at("2026-02-20"))
    b.member(102, at("2026-03-05", "12:00"))
    b.member(103, at("2026-03-01", "00:30"))
    b.member(104, at("2026-04-01", "00:10"))
    b.member(105, at("2026-02-01"))
    b.member(106, at("2026-02-28", "23:40"))
    b.member(107, at("2026-02-01"))
    b.member(108, at("2026-03-31", "12:00"))

    b.order(101, at("2026-03-02"), "100.00", code="BEAM-AAA")
    b.order(101, at("2026-03-10"), "50.00")
    b.order(101, at("2026-03-20"), "30.00")
    b.order(101, at("2026-03-09"), "500.00", state=LoyaltyOrder.State.CANCELLED)
    b.order(102, at("2026-03-05", "09:00"), "80.00")
    b.order(102, at("2026-04-02"), "40.00")
    b.order(103, at("2026-03-15"), "200.00", code="BEAM-BBB")
    b.order(104, at("2026-03-31", "23:30"), "60.00")
    b.order(105, at("2026-02-25"), "20.00")
    b.order(105, at("2026-03-12"), "25.00")
    b.order(106, at("2026-02-28", "23:30"), "70.00")
    b.order(107, at("2026-03-03"), "10.00")
    for minute in range(10):
        b.order(107, at("2026-04-05", f"10:{minute:02d}"), "10.00")
    b.order(None, at("2026-03-08"), "40.00", state=LoyaltyOrder.State.GUEST)
    b.redemption(101, "BEAM-CCC", status=Redemption.Status.CANCELLED)

    avail, pending = LedgerEntry.Bucket.AVAILABLE, LedgerEntry.Bucket.PENDING
    b.entry(101, 1000, Kind.IMPORT, at("2026-02-20"))
    b.entry(101, -300, Kind.REDEEM, at("2026-03-01", "09:00"))
    b.entry(101, 100, Kind.ORDER_EARN, at("2026-03-02"))
    b.entry(101, -50, Kind.MANUAL, at("2026-03-03"))
    b.entry(101, -200, Kind.REDEEM, at("2026-03-12"))
    b.entry(101, 200, Kind.REDEEM_REFUND, at("2026-03-14"))
    b.entry(101, -10, Kind.ORDER_REFUND, at("2026-03-21"))
    b.entry(103, 50, Kind.WELCOME, at("2026-03-01", "00:30"))
    b.entry(103, 200, Kind.ORDER_EARN, at("2026-03-15"), pending)
    b.entry(103, -200, Kind.PENDING_RELEASE, at("2026-03-29"), pending)
    b.entry(103, 200, Kind.PENDING_RELEASE, at("2026-03-29"), avail)
    b.entry(102, 80, Kind.ORDER_EARN, at("2026-03-05", "09:05"))
    b.entry(102, -80, Kind.REDEEM, at("2026-04-03"))
    b.entry(105, 100, Kind.IMPORT, at("2026-02-01"))
    b.entry(105, -30, Kind.EXPIRE, at("2026-03-20"))
    b.entry(107, 25, Kind.BONUS, at("2026-03-03"))
    b.entry(107, 40, Kind.MANUAL, at("2026-03-04"))
    b.entry(106, 70, Kind.ORDER_EARN, at("2026-02-28", "23:30"))

    Reward.objects.filter(pk=b.reward.pk).update(points_cost=500, value=D("5.00"))
    Reward.objects.create(
        shop=shop,
        name="Slider",
        kind=Reward.Kind.VARIABLE,
        points_per_unit=100,
        value_per_unit=D("1.50"),
    )
    Reward.objects.create(
        shop=shop,
        name="Old credit",
        kind=Reward.Kind.STORE_CREDIT,
        points_cost=200,
        value=D("4.00"),
        active=False,
    )
    Reward.objects.create(
        shop=shop, name="10%", kind=Reward.Kind.PERCENTAGE, points_cost=1000, value=D(10)
    )
    AnalyticsSettings.objects.create(shop=shop, plan_price_monthly=D("29.00"))
    return b


def noise_shop() -> Shop:
    """Another shop with big figures in the same range: must never show up in Acme's."""
    other = installed_shop("other.myshopify.com", iana_timezone="UTC", currency="USD")
    b = Builder(other)
    b.member(101, at("2026-02-01", zone=ZoneInfo("UTC")))
    b.order(101, at("2026-03-10", zone=ZoneInfo("UTC")), "99999.00", code="BEAM-AAA")
    b.entry(101, 5000, Kind.ORDER_EARN, at("2026-03-10", zone=ZoneInfo("UTC")))
    services.rollup_refresh(shop=other)
    return other


@pytest.fixture
def acme(db: None) -> Shop:
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    dataset(shop)
    services.rollup_refresh(shop=shop)
    return shop


def rollup_snapshot(shop: Shop) -> dict[str, list[tuple[Any, ...]]]:
    def rows(model: Any, *fields: str) -> list[tuple[Any, ...]]:
        return list(model.objects.filter(shop=shop).order_by(*fields[:1]).values_list(*fields))

    return {
        "orders": rows(
            DailyOrderStats, "day", "orders", "revenue", "reward_orders", "reward_revenue"
        ),
        "points": rows(
            DailyPointsStats, "day", "issued", "redeemed", "expired", "reversed", "available_delta"
        ),
        "members": rows(DailyMemberStats, "day", "enrolled"),
        "cohorts": rows(
            DailyCohortStats,
            "day",
            "customers",
            "members",
            "member_repeaters",
            "non_member_repeaters",
            "orders",
            "revenue",
            *[f"with_{x}" for x in range(2, 12)],
        ),
        "customers": rows(
            CustomerStats,
            "customer_id",
            "orders_count",
            "revenue",
            "first_order_at",
            "first_order_day",
            "last_order_at",
            "enrolled_at",
            "is_member",
        ),
    }


# --- every figure -------------------------------------------------------------------------


def test_every_figure_of_the_hand_computed_dataset(acme: Shop) -> None:
    noise_shop()

    board = selectors.dashboard_get(shop=acme, rng=MARCH)

    assert board.currency == "EUR"
    assert board.orders == 9
    assert board.revenue == D("595.00")
    assert board.reward_orders == 2
    assert board.reward_revenue == D("300.00")
    assert board.reward_revenue_share == D("50.4")
    assert board.aov_with_reward == D("150.00")
    assert board.aov_without_reward == D("42.14")
    assert board.members_enrolled == 3
    assert board.points_issued == 495
    assert board.points_redeemed == 300
    assert board.points_expired == 30
    assert board.points_reversed == 10
    assert board.redemption_rate == D("60.6")
    assert board.outstanding_points == 1275
    assert board.value_per_point == (D("1.50"), 100)
    assert board.value_per_point_money == D("0.0150")
    assert board.liability == D("19.13")
    assert board.customers == 5
    assert board.member_customers == 3
    assert board.member_repeaters == 2
    assert board.non_member_customers == 2
    assert board.non_member_repeaters == 1
    assert board.repeat_rate_members == D("66.7")
    assert board.repeat_rate_non_members == D("50.0")
    assert board.repeat_rate_all == D("60.0")
    assert board.cohort_orders == 18
    assert board.cohort_revenue == D("670.00")
    assert board.purchase_frequency == D("3.60")
    assert board.customer_lifetime_value == D("134.00")
    assert board.top_customers == 1
    assert board.top_customers_revenue == D("200.00")
    assert board.top_customers_share == D("29.9")
    assert board.plan_price_monthly == D("29.00")
    assert board.program_cost == D("29.97")
    assert board.roi == D("10.01")
    assert [
        (s.x, s.customers_with_x, s.customers_with_next, s.probability) for s in board.repeat_steps
    ] == [
        (1, 5, 3, D("60.0")),
        (2, 3, 2, D("66.7")),
        (3, 2, 1, D("50.0")),
        *[(x, 1, 1, D("100.0")) for x in range(4, 11)],
    ]


def test_series_is_per_local_day_with_empty_days(acme: Shop) -> None:
    board = selectors.dashboard_get(shop=acme, rng=MARCH)

    assert board.series_bucket == "day"
    assert len(board.series) == 31
    by_day = {p.start: p for p in board.series}
    first = by_day[date(2026, 3, 1)]
    assert (first.orders, first.revenue, first.issued, first.redeemed, first.enrolled) == (
        0,
        D(0),
        50,
        300,
        1,
    )
    second = by_day[date(2026, 3, 2)]
    assert (second.orders, second.revenue, second.reward_revenue, second.issued) == (
        1,
        D("100.00"),
        D("100.00"),
        100,
    )
    last = by_day[date(2026, 3, 31)]
    assert (last.orders, last.revenue, last.enrolled) == (1, D("60.00"), 1)
    assert sum(p.revenue for p in board.series) == D("595.00")
    assert sum(p.issued for p in board.series) == 495


def test_long_ranges_are_bucketed_by_week_then_month(acme: Shop) -> None:
    weekly = selectors.dashboard_get(
        shop=acme, rng=selectors.DateRange(date(2026, 2, 1), date(2026, 5, 31))
    )
    monthly = selectors.dashboard_get(
        shop=acme, rng=selectors.DateRange(date(2024, 1, 1), date(2026, 12, 31))
    )

    assert weekly.series_bucket == "week"
    assert weekly.series[0].start == date(2026, 2, 1)  # clipped to the range start
    assert weekly.series[1].start == date(2026, 2, 2)  # a Monday
    assert sum(p.revenue for p in weekly.series) == weekly.revenue == D("825.00")
    assert monthly.series_bucket == "month"
    assert len(monthly.series) == 36
    march = next(p for p in monthly.series if p.start == date(2026, 3, 1))
    assert march.revenue == D("595.00")


def test_outstanding_points_are_as_of_the_range_end(acme: Shop) -> None:
    april = selectors.dashboard_get(
        shop=acme, rng=selectors.DateRange(date(2026, 4, 1), date(2026, 4, 30))
    )
    february = selectors.dashboard_get(
        shop=acme, rng=selectors.DateRange(date(2026, 2, 1), date(2026, 2, 28))
    )

    assert (february.customers, february.top_customers) == (2, 1)  # a narrow cohort
    assert february.top_customers_revenue == D("70.00")  # 106 (70.00) over 105 (45.00)
    assert february.top_customers_share == D("60.9")
    assert april.outstanding_points == 1275 - 80
    assert february.outstanding_points == 1000 + 100 + 70
    assert april.points_redeemed == 80


def test_empty_range_has_no_rates(acme: Shop) -> None:
    board = selectors.dashboard_get(
        shop=acme, rng=selectors.DateRange(date(2025, 1, 1), date(2025, 1, 31))
    )

    assert (board.orders, board.revenue, board.customers) == (0, D(0), 0)
    assert board.reward_revenue_share is None
    assert board.aov_with_reward is None and board.aov_without_reward is None
    assert board.redemption_rate is None
    assert board.repeat_rate_members is None and board.repeat_rate_non_members is None
    assert board.purchase_frequency is None and board.customer_lifetime_value is None
    assert board.top_customers == 0 and board.top_customers_share is None
    assert board.roi == D("0.00")
    assert all(s.probability is None for s in board.repeat_steps)
    assert board.outstanding_points == 0


def test_liability_is_unknown_without_a_reward_of_fixed_value(acme: Shop) -> None:
    Reward.objects.filter(shop=acme).exclude(kind=Reward.Kind.PERCENTAGE).update(active=False)

    board = selectors.dashboard_get(shop=acme, rng=MARCH)

    assert board.value_per_point is None
    assert board.liability is None


def test_roi_without_a_plan_price_is_unknown(acme: Shop) -> None:
    AnalyticsSettings.objects.filter(shop=acme).delete()

    board = selectors.dashboard_get(shop=acme, rng=MARCH)

    assert board.plan_price_monthly == 0
    assert board.program_cost == D("0.00")
    assert board.roi is None


def test_member_when_enrolled_within_the_second_the_first_order_is_stamped(db: None) -> None:
    """Order times come at the payload's precision (whole seconds): an account created at
    02:51:09.276 is not after an order placed at 02:51:09; one created at 02:51:10 is."""
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    b = Builder(shop)
    utc = ZoneInfo("UTC")
    placed = datetime(2026, 3, 2, 2, 51, 9, tzinfo=utc)
    b.member(201, placed.replace(microsecond=276_000))
    b.order(201, placed, "30.00")
    b.member(202, placed + timedelta(seconds=1))
    b.order(202, placed, "30.00")
    b.member(203, placed.replace(microsecond=276_000))
    b.order(203, placed.replace(microsecond=100_000), "30.00")  # a sub-second order time

    services.rollup_refresh(shop=shop)

    members = dict(CustomerStats.objects.filter(shop=shop).values_list("customer_id", "is_member"))
    assert members == {201: True, 202: False, 203: False}
    cohort = DailyCohortStats.objects.get(shop=shop)
    assert (cohort.customers, cohort.members) == (3, 1)


# --- date ranges and the plan price -----------------------------------------------------------


def test_date_range_parse() -> None:
    today = date(2026, 3, 31)
    assert selectors.date_range_parse(start=None, end=None, preset=None, today=today) == (
        selectors.DateRange(date(2026, 3, 2), today)
    )
    assert selectors.date_range_parse(start=None, end=None, preset="7d", today=today).days == 7
    assert selectors.date_range_parse(
        start="2026-01-01", end="2026-01-01", preset="7d", today=today
    ) == selectors.DateRange(date(2026, 1, 1), date(2026, 1, 1))
    for start, end, preset in [
        ("2026-02-01", "2026-01-01", None),
        ("2026-13-01", "2026-12-01", None),
        ("2026-01-01", "", None),
        ("1999-01-01", "1999-02-01", None),
        ("2020-01-01", "2026-01-01", None),
        (None, None, "2y"),
    ]:
        with pytest.raises(InvalidDateRange):
            selectors.date_range_parse(start=start, end=end, preset=preset, today=today)


def test_plan_price_set_validates_and_changes_nothing_on_error(db: None) -> None:
    shop = installed_shop()
    services.plan_price_set(shop=shop, price="49.00")
    for bad in ["", "abc", "-1", "100000.01", "1.001", "NaN", "Infinity"]:
        with pytest.raises(InvalidPlanPrice):
            services.plan_price_set(shop=shop, price=bad)
    assert AnalyticsSettings.objects.get(shop=shop).plan_price_monthly == D("49.00")


# --- rollups ------------------------------------------------------------------------------------


def _age_the_dataset(shop: Shop) -> None:
    """Make the dataset look an hour old and the last refresh half an hour old, so only
    what a test changes afterwards is newer than the watermark (minus its overlap)."""
    hour_ago = timezone.now() - timedelta(hours=1)
    LoyaltyOrder.objects.filter(shop=shop).update(updated_at=hour_ago)
    Redemption.objects.filter(shop=shop).update(updated_at=hour_ago)
    RollupState.objects.filter(shop=shop).update(
        refreshed_through=timezone.now() - timedelta(minutes=30)
    )


def test_incremental_refresh_equals_full_recompute(acme: Shop) -> None:
    _age_the_dataset(acme)
    b = Builder(acme)
    b.members = {m.customer_id: m for m in Member.objects.filter(shop=acme)}
    b.next_order = 5000
    # a new order of an existing customer, a cancellation, a late attribution of a code,
    # new ledger entries, a new member with a first order today, and a guest order
    b.order(103, at("2026-03-16"), "70.00")
    LoyaltyOrder.objects.filter(shop=acme, customer_id=101, total_price=D("50.00")).update(
        state=LoyaltyOrder.State.CANCELLED, updated_at=timezone.now()
    )
    late = LoyaltyOrder.objects.get(shop=acme, customer_id=105, total_price=D("25.00"))
    Redemption.objects.filter(shop=acme, code="BEAM-CCC").update(
        status=Redemption.Status.USED, order_id=late.order_id, updated_at=timezone.now()
    )
    b.entry(103, -100, Kind.REDEEM, timezone.now())
    b.entry(107, -5, Kind.EXPIRE, timezone.now())
    b.member(109, timezone.now())
    b.order(109, timezone.now() + timedelta(minutes=1), "15.00")
    b.order(None, at("2026-03-18"), "12.00", state=LoyaltyOrder.State.GUEST)

    report = services.rollup_refresh(shop=acme)
    incremental = rollup_snapshot(acme)
    full_report = services.rollup_refresh(shop=acme, full=True)
    full = rollup_snapshot(acme)

    assert report.full is False and full_report.full is True
    # Mar 16, Mar 10, Mar 12, Mar 18 and today (at most two local days for "now")
    assert 5 <= report.order_days <= 6
    assert 1 <= report.ledger_days <= 2
    assert 1 <= report.member_days <= 2
    assert report.customers == 3  # 101, 103, 109 (a guest is no customer)
    assert report.cohort_days == 3  # 101's Mar 2, 103's Mar 15, 109's today
    assert incremental["cohorts"] and incremental["customers"]
    assert incremental == full
    board = selectors.dashboard_get(shop=acme, rng=MARCH)
    assert board.orders == 9 - 1 + 1 + 1
    assert board.revenue == D("595.00") - D("50.00") + D("70.00") + D("12.00")
    assert board.reward_revenue == D("300.00") + D("25.00")
    assert board.repeat_rate_members == D("100.0")  # 103 now has two orders
    assert board.cohort_revenue == D("670.00") - D("50.00") + D("70.00")


def test_refresh_with_no_change_keeps_the_rollups(acme: Shop) -> None:
    _age_the_dataset(acme)
    before = rollup_snapshot(acme)

    report = services.rollup_refresh(shop=acme)

    assert report.full is False
    assert (report.order_days, report.ledger_days, report.member_days) == (0, 0, 0)
    assert (report.customers, report.cohort_days) == (0, 0)
    assert rollup_snapshot(acme) == before


def test_a_day_old_full_build_is_rebuilt_in_full(acme: Shop) -> None:
    RollupState.objects.filter(shop=acme).update(
        full_built_at=timezone.now() - timedelta(days=1, minutes=1)
    )

    report = services.rollup_refresh(shop=acme)

    assert report.full is True
    assert RollupState.objects.get(shop=acme).full_built_at > timezone.now() - timedelta(minutes=1)


def test_changing_the_shop_timezone_rebuilds_the_days(acme: Shop) -> None:
    acme.iana_timezone = "UTC"
    acme.save(update_fields=["iana_timezone"])

    report = services.rollup_refresh(shop=acme)

    assert report.full is True
    assert RollupState.objects.get(shop=acme).timezone == "UTC"
    board = selectors.dashboard_get(shop=acme, rng=MARCH)
    # 106's Feb 28 23:30 New York order is Mar 1 in UTC; 104's Mar 31 23:30 is Apr 1
    assert board.orders == 9 + 1 - 1


def test_refresh_task_and_beat_entry(acme: Shop) -> None:
    from django.conf import settings

    from loyalty.analytics import tasks

    assert settings.CELERY_BEAT_SCHEDULE["analytics-rollups"]["task"] == (
        "loyalty.analytics.tasks.rollups_refresh_all"
    )
    DailyOrderStats.objects.filter(shop=acme).delete()
    assert tasks.rollup_refresh.delay(acme.pk, True).get() is True
    assert tasks.rollup_refresh.delay(999999).get() is False
    assert tasks.rollups_refresh_all.delay().get() == 1
    assert DailyOrderStats.objects.filter(shop=acme).count() == 13


# --- page, CSV, tenancy ---------------------------------------------------------------------------

URL = "/admin/analytics/"


def auth(shop: Shop) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {session_token(shop.domain)}"}


def test_page_shows_the_figures_and_charts(client: Any, acme: Shop) -> None:
    noise_shop()

    response = client.get(URL, {"start": "2026-03-01", "end": "2026-03-31"}, **auth(acme))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Analytics · Beam</title>" in html
    assert [h.text() for h in read_page(html).walk() if h.tag == "h1"] == ["Analytics"]
    assert kpi(html, "loyalty_revenue")[:2] == [
        "€300.00",
        "2 orders used a Beam reward · 50.4% of revenue",
    ]
    assert kpi(html, "roi")[0] == "10.01\u00d7"
    assert "plan cost of €29.97 for these 31 days" in kpi(html, "roi")[1]
    assert kpi(html, "revenue")[0] == "€595.00"
    assert kpi(html, "liability") == [
        "1,275",
        "liability €19.13 at €1.50 per 100 points, at the end of the range",
    ]
    assert kpi(html, "repeat_rate") == [
        "66.7% / 50.0%",
        "Of the 5 customers whose first order fell in the range: 3 were members at that "
        "order, 2 were not.",
    ]
    assert kpi(html, "clv")[0] == "€134.00"
    assert kpi(html, "top5") == ["29.9%", "1 customer, €200.00"]
    assert "redemption rate 60.6%" in kpi(html, "points_redeemed")[1]
    assert "99999" not in html
    assert html.count('<svg class="beam-chart"') == 5
    assert 'role="img" aria-labelledby="chart-revenue-title chart-revenue-desc"' in html
    assert '<desc id="chart-revenue-desc">Total revenue €595.00, of which €300.00' in html
    assert table_rows(html, "repeat-table")[0] == ["1", "5", "3", "60.0%"]
    assert table_rows(html, "aov-table")[1] == ["Without", "7", "€295.00", "€42.14"]
    assert table_rows(html, "repeat-rate-table")[0] == ["Members", "3", "2", "66.7%"]
    assert "<script>" not in html and "style=" not in html
    assert response["Cache-Control"] == "no-store"
    assert "HX-Request" in response["Vary"]


def test_htmx_request_gets_the_body_partial(client: Any, acme: Shop) -> None:
    response = client.get(URL, {"range": "7d"}, HTTP_HX_REQUEST="true", **auth(acme))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "loyalty_revenue" in kpi_names(html)
    current = [a for a in read_page(html).walk() if a.tag == "a" and a.attrs.get("aria-current")]
    assert [a.text() for a in current] == ["Last 7 days"]


def test_bad_range_is_a_400_with_the_reason(client: Any, acme: Shop) -> None:
    response = client.get(URL, {"start": "2026-03-31", "end": "2026-03-01"}, **auth(acme))

    assert response.status_code == 400
    assert "The start date is after the end date." in response.content.decode()
    assert kpi_names(response.content.decode()) == []


def test_page_requires_a_session_token(client: Any, acme: Shop) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert client.get(URL + "export.csv").status_code == 401
    assert client.post(URL + "plan-price", {"plan_price": "1"}).status_code == 401
    assert AnalyticsSettings.objects.get(shop=acme).plan_price_monthly == D("29.00")


def test_plan_price_form_saves_and_recomputes_roi(client: Any, acme: Shop) -> None:
    data = {"plan_price": "300.00", "start": "2026-03-01", "end": "2026-03-31"}
    response = client.post(URL + "plan-price", data, HTTP_HX_REQUEST="true", **auth(acme))

    assert response.status_code == 200
    assert AnalyticsSettings.objects.get(shop=acme).plan_price_monthly == D("300.00")
    html = response.content.decode()
    assert "Saved." in html
    assert "0.97\u00d7" in html  # 300 / (300 * 31 / 30 = 310.00)


def test_plan_price_form_rejects_bad_input_and_changes_nothing(client: Any, acme: Shop) -> None:
    data = {"plan_price": "-5", "start": "2026-03-01", "end": "2026-03-31"}
    response = client.post(URL + "plan-price", data, HTTP_HX_REQUEST="true", **auth(acme))

    assert response.status_code == 400
    assert "The plan price must be between 0 and 100000." in response.content.decode()
    assert AnalyticsSettings.objects.get(shop=acme).plan_price_monthly == D("29.00")


def test_csv_export_has_every_figure(client: Any, acme: Shop) -> None:
    response = client.get(
        URL + "export.csv", {"start": "2026-03-01", "end": "2026-03-31"}, **auth(acme)
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="beam-analytics-2026-03-01-2026-03-31.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    figures = {r[0]: r[1] for r in rows[1:32]}
    assert figures == {
        "range_start": "2026-03-01",
        "range_end": "2026-03-31",
        "orders": "9",
        "revenue": "595.00",
        "loyalty_revenue": "300.00",
        "loyalty_revenue_share": "50.4",
        "orders_with_reward": "2",
        "aov_with_reward": "150.00",
        "aov_without_reward": "42.14",
        "members_enrolled": "3",
        "points_issued": "495",
        "points_redeemed": "300",
        "points_expired": "30",
        "points_reversed": "10",
        "redemption_rate": "60.6",
        "outstanding_points": "1275",
        "value_per_point": "0.0150",
        "liability": "19.13",
        "customers_acquired": "5",
        "member_customers": "3",
        "non_member_customers": "2",
        "repeat_rate": "60.0",
        "repeat_rate_members": "66.7",
        "repeat_rate_non_members": "50.0",
        "purchase_frequency": "3.60",
        "customer_lifetime_value": "134.00",
        "top5_customers": "1",
        "top5_revenue_share": "29.9",
        "plan_price_monthly": "29.00",
        "program_cost": "29.97",
        "roi": "10.01",
    }
    assert rows[33] == [
        "x",
        "customers_with_x_orders",
        "customers_with_x_plus_1",
        "probability_pct",
    ]
    assert rows[34] == ["1", "5", "3", "60.0"]
    assert rows[43] == ["10", "1", "1", "100.0"]
    assert rows[45][0] == "day_start"
    assert rows[46] == ["2026-03-01", "0", "0", "0", "50", "300", "1"]
    assert len(rows) == 46 + 31


def test_shop_b_sees_only_its_own_figures_page_and_csv(client: Any, acme: Shop) -> None:
    other = noise_shop()
    params = {"start": "2026-03-01", "end": "2026-03-31", "shop": acme.domain}

    page = client.get(URL, params, **auth(other)).content.decode()
    export = client.get(URL + "export.csv", params, **auth(other)).content.decode()

    assert kpi(page, "revenue")[0] == "$99,999.00" and "595.00" not in page
    assert "EUR" not in page and "€" not in page
    assert "revenue,99999.00,USD" in export and "595.00" not in export
    client.post(URL + "plan-price", {**params, "plan_price": "1.00"}, **auth(other))
    assert AnalyticsSettings.objects.get(shop=acme).plan_price_monthly == D("29.00")
    assert AnalyticsSettings.objects.get(shop=other).plan_price_monthly == D("1.00")


def test_dashboard_query_count_does_not_grow_with_data(client: Any, acme: Shop) -> None:
    params = {"start": "2026-03-01", "end": "2026-03-31"}
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL, params, **auth(acme)).status_code == 200
    b = Builder(acme)
    b.members = {m.customer_id: m for m in Member.objects.filter(shop=acme)}
    b.next_order = 9000
    for i in range(30):
        b.member(2000 + i, at("2026-03-02"))
        b.order(2000 + i, at("2026-03-03"), "11.00")
    services.rollup_refresh(shop=acme)

    with CaptureQueriesContext(connection) as big:
        assert client.get(URL, params, **auth(acme)).status_code == 200

    assert len(small) == len(big) == 12  # 11, and whether tiers are on


def test_first_visit_refreshes_missing_or_stale_rollups(client: Any, db: None) -> None:
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    dataset(shop)
    params = {"start": "2026-03-01", "end": "2026-03-31"}

    first = client.get(URL, params, **auth(shop))  # eager Celery: the refresh runs first

    assert RollupState.objects.get(shop=shop).refreshed_through is not None
    assert kpi(first.content.decode(), "revenue")[0] == "€595.00"
    RollupState.objects.filter(shop=shop).update(
        refreshed_through=timezone.now() - timedelta(minutes=6)
    )
    b = Builder(shop)
    b.members = {m.customer_id: m for m in Member.objects.filter(shop=shop)}
    b.next_order = 7000
    b.order(101, at("2026-03-04"), "5.00")

    again = client.get(URL, params, **auth(shop))

    assert kpi(again.content.decode(), "revenue")[0] == "€600.00"


def test_export_with_a_bad_range_is_a_400_and_methods_are_checked(client: Any, acme: Shop) -> None:
    bad = client.get(URL + "export.csv", {"start": "2026-03-31", "end": "nope"}, **auth(acme))

    assert bad.status_code == 400
    assert bad.content.decode() == "Dates must look like 2026-01-31."
    assert client.post(URL, **auth(acme)).status_code == 405
    assert client.get(URL + "plan-price", **auth(acme)).status_code == 405
    assert AnalyticsSettings.objects.get(shop=acme).plan_price_monthly == D("29.00")
