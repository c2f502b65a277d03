"""The analytics dashboard's figures, read from the rollups (never from raw orders).

Definitions (every figure is for a date range ``[start, end]`` of shop-local days, cut in
the shop's IANA timezone; money is the shop currency, ``Decimal``, rounded half-up to cents
only when shown; rates are percentages rounded half-up to one decimal):

Orders and revenue
    *Counted orders* have a platform timestamp (``placed_at``) and are not cancelled.
    *Revenue* is the sum of their ``total_price`` (what the shopper paid, before refunds),
    by the day the order was placed.
    *Loyalty-generated revenue* is the revenue of counted orders that used a Beam code: an
    order whose id a ``Redemption`` in status ``used`` names (the code was attributed).
    *AOV with / without a reward*: revenue ÷ orders of the orders that did / did not use one.

Points (ledger entries by the day they were posted)
    *Issued*: order earnings (pending included), welcome and bonus points, and positive
    manual adjustments or imports. *Redeemed*: points spent on rewards minus points given
    back by failed, cancelled or expired codes (net). *Expired*: points taken by expiry.
    *Redemption rate*: redeemed ÷ issued in the range.
    *Outstanding points*: the available balance of all members at the end of the range
    (the sum of every available-bucket entry up to that day; pending points excluded).
    *Liability*: outstanding points * value per point, where the value per point is the
    highest money value a point buys among the active rewards with a fixed money value
    (fixed amount off and store credit: value ÷ cost; points slider: value per unit ÷ points
    per unit). Percentage, free-shipping and free-product rewards have no fixed value and
    are left out; with no such reward the liability is unknown (shown as "—"). Taking the
    highest rate makes the figure an upper bound, the prudent number to book.

Members
    *Members enrolled*: loyalty accounts created in the range, by the shop-local day of
    their enrolment time (``services.ENROLLED_AT``, the account's creation). The same
    enrolment time decides below whether an acquired customer was a member at their first
    order, so the two figures count one population one way: a customer enrolled and first
    ordering in the range is in both; the page says which population each figure counts.

Customers (the range's acquisition cohort, lifetime to date)
    A *customer* is a platform customer id with at least one counted order; guest checkouts
    without a customer are not customers here (they still count in revenue and AOV). The
    per-customer figures describe the customers *whose first counted order was placed in the
    range*, with all their counted orders to date:
    *Member / non-member*: a customer is a member when their loyalty account was created at
    or before their first order (enrolled before buying), compared at the precision of the
    order's time (an account created within the second an order is stamped with counts as
    before it); the others are non-members.
    *Repeat-customer rate*: the share of those customers with two or more orders.
    *Purchase frequency*: their orders ÷ their number. *Customer lifetime value*: their
    revenue ÷ their number.
    *Top 5% share*: the revenue of the ``ceil(5% * customers)`` customers with the highest
    revenue ÷ the cohort's revenue.
    *P(order x+1 | x orders)* for x = 1..10: of the customers with at least x orders, the
    share with at least x + 1 (unknown when none has x).

ROI
    *Program cost*: the monthly plan price the merchant entered * days in range ÷ 30.
    *ROI*: loyalty-generated revenue ÷ program cost (a multiple: 12.5 means every unit of
    currency spent on the plan came back 12.5 times as revenue from reward orders). Unknown
    without a cost (no price entered, a price of 0, or a cost that rounds to 0.00); 0 when no
    order of the range used a reward. ``Dashboard.roi_reason`` names the case for the page.

VIP tiers: ``loyalty.analytics.selectors_tiers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from loyalty.analytics.errors import InvalidDateRange
from loyalty.analytics.models import (
    REPEAT_STEPS,
    AnalyticsSettings,
    CustomerStats,
    DailyCohortStats,
    DailyMemberStats,
    DailyOrderStats,
    DailyPointsStats,
    RollupState,
)
from loyalty.models import Reward
from merchants.models import Shop

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
ZERO = Decimal(0)
REPEAT_MAX_X = 10
TOP_SHARE_PERCENT = 5
MAX_RANGE_DAYS = 366 * 5
PRESETS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PRESET = "30d"


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def date_range_parse(
    *, start: str | None, end: str | None, preset: str | None, today: date
) -> DateRange:
    """The range a request asks for: explicit ``start``/``end`` (ISO dates, inclusive) win,
    else a preset ending today, else the last 30 days. Raises ``InvalidDateRange``."""
    if start or end:
        try:
            lo = date.fromisoformat((start or "").strip())
            hi = date.fromisoformat((end or "").strip())
        except ValueError as exc:
            raise InvalidDateRange("Dates must look like 2026-01-31.") from exc
        if lo > hi:
            raise InvalidDateRange("The start date is after the end date.")
        if (hi - lo).days + 1 > MAX_RANGE_DAYS:
            raise InvalidDateRange(f"A range can span at most {MAX_RANGE_DAYS} days.")
        if lo.year < 2000:
            raise InvalidDateRange("The start date is before 2000.")
        return DateRange(lo, hi)
    days = PRESETS.get(preset or DEFAULT_PRESET)
    if days is None:
        raise InvalidDateRange("Unknown range.")
    return DateRange(today - timedelta(days=days - 1), today)


def _ratio(num: Decimal | int, den: Decimal | int, unit: Decimal) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num) / Decimal(den)).quantize(unit, rounding=ROUND_HALF_UP)


def percent(num: Decimal | int, den: Decimal | int) -> Decimal | None:
    """``num / den`` as a percentage with one decimal (None when ``den`` is zero)."""
    if not den:
        return None
    return (Decimal(num) * 100 / Decimal(den)).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RepeatStep:
    x: int
    customers_with_x: int
    customers_with_next: int
    probability: Decimal | None  # percent


@dataclass(frozen=True)
class SeriesPoint:
    start: date
    end: date
    revenue: Decimal
    reward_revenue: Decimal
    orders: int
    issued: int
    redeemed: int
    enrolled: int


@dataclass
class Dashboard:
    shop_id: int
    currency: str
    range: DateRange
    as_of: datetime | None
    members_enrolled: int = 0
    points_issued: int = 0
    points_redeemed: int = 0
    points_expired: int = 0
    points_reversed: int = 0
    redemption_rate: Decimal | None = None
    outstanding_points: int = 0
    value_per_point: tuple[Decimal, int] | None = None  # (money, points)
    liability: Decimal | None = None
    orders: int = 0
    revenue: Decimal = ZERO
    reward_orders: int = 0
    reward_revenue: Decimal = ZERO
    reward_revenue_share: Decimal | None = None
    aov_with_reward: Decimal | None = None
    aov_without_reward: Decimal | None = None
    customers: int = 0
    member_customers: int = 0
    member_repeaters: int = 0
    non_member_customers: int = 0
    non_member_repeaters: int = 0
    repeat_rate_members: Decimal | None = None
    repeat_rate_non_members: Decimal | None = None
    repeat_rate_all: Decimal | None = None
    cohort_orders: int = 0
    cohort_revenue: Decimal = ZERO
    purchase_frequency: Decimal | None = None
    customer_lifetime_value: Decimal | None = None
    top_customers: int = 0
    top_customers_revenue: Decimal = ZERO
    top_customers_share: Decimal | None = None
    plan_price_monthly: Decimal = ZERO
    plan_price_saved: bool = False
    program_cost: Decimal = ZERO
    roi: Decimal | None = None
    repeat_steps: list[RepeatStep] = field(default_factory=list)
    series: list[SeriesPoint] = field(default_factory=list)
    series_bucket: str = "day"

    @property
    def orders_without_reward(self) -> int:
        return self.orders - self.reward_orders

    @property
    def revenue_without_reward(self) -> Decimal:
        return self.revenue - self.reward_revenue

    @property
    def roi_reason(self) -> str:
        """Why ROI is unknown or zero, for the page to say so (not a bare "—"):
        ``no_price`` (never entered), ``free_plan`` (a price of 0 saved), ``cost_rounds_to_zero``
        (a price so small the range's cost is 0.00), ``no_loyalty_revenue`` (ROI is 0: no
        order in the range used a Beam reward); "" when ROI is a positive multiple."""
        if not self.plan_price_saved:
            return "no_price"
        if not self.plan_price_monthly:
            return "free_plan"
        if not self.program_cost:
            return "cost_rounds_to_zero"
        if not self.reward_revenue:
            return "no_loyalty_revenue"
        return ""

    @property
    def value_per_point_money(self) -> Decimal | None:
        if self.value_per_point is None:
            return None
        money, points = self.value_per_point
        return (money / points).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def value_per_point_best(*, shop: Shop) -> tuple[Decimal, int] | None:
    """The highest money value one point buys among the active rewards with a fixed money
    value, as an exact (money, points) pair, or None."""
    rows = Reward.objects.filter(
        Q(kind__in=(Reward.Kind.FIXED_AMOUNT, Reward.Kind.STORE_CREDIT), points_cost__gt=0)
        | Q(kind=Reward.Kind.VARIABLE, points_per_unit__gt=0, value_per_unit__gt=0),
        shop=shop,
        active=True,
    ).values_list("kind", "points_cost", "value", "points_per_unit", "value_per_unit")
    best: tuple[Decimal, int] | None = None
    for kind, cost, value, per_unit, unit_value in rows:
        money, points = (unit_value, per_unit) if kind == Reward.Kind.VARIABLE else (value, cost)
        if money is None or money <= 0 or not points:
            continue
        # a/b > c/d  <=>  a*d > c*b (exact, no division)
        if best is None or money * best[1] > best[0] * points:
            best = (money, points)
    return best


def bucket_for(rng: DateRange) -> str:
    """The time series' bucket: days up to 92 days, weeks up to two years, else months."""
    return "day" if rng.days <= 92 else "week" if rng.days <= 731 else "month"


def bucket_of(day: date, bucket: str) -> date:
    """The first day of the bucket ``day`` falls in."""
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _series(
    rng: DateRange,
    orders: list[tuple],
    points: list[tuple],
    members: list[tuple],
) -> tuple[str, list[SeriesPoint]]:
    """Per-day (≤ 92 days), per-week (≤ 2 years) or per-month sums, with empty buckets."""
    bucket = bucket_for(rng)
    acc: dict[date, list] = {}
    day = rng.start
    while day <= rng.end:
        key = bucket_of(day, bucket)
        acc.setdefault(key, [max(key, rng.start), day, ZERO, ZERO, 0, 0, 0, 0])[1] = day
        day += timedelta(days=1)
    for d, n, revenue, _ro, reward_revenue in orders:
        row = acc[bucket_of(d, bucket)]
        row[2] += revenue
        row[3] += reward_revenue
        row[4] += n
    for d, issued, redeemed, *_ in points:
        row = acc[bucket_of(d, bucket)]
        row[5] += issued
        row[6] += redeemed
    for d, enrolled in members:
        acc[bucket_of(d, bucket)][7] += enrolled
    return bucket, [SeriesPoint(*row) for row in acc.values()]


def dashboard_get(*, shop: Shop, rng: DateRange) -> Dashboard:
    """Every figure of the dashboard for ``rng`` (see the module docstring), in a fixed
    number of queries over the rollups whatever the shop's size."""
    state = RollupState.objects.filter(shop=shop).values_list("refreshed_through", flat=True)
    board = Dashboard(
        shop_id=shop.pk, currency=shop.currency, range=rng, as_of=next(iter(state), None)
    )
    in_range = {"shop": shop, "day__gte": rng.start, "day__lte": rng.end}

    orders = list(
        DailyOrderStats.objects.filter(**in_range)
        .order_by("day")
        .values_list("day", "orders", "revenue", "reward_orders", "reward_revenue")
    )
    points = list(
        DailyPointsStats.objects.filter(**in_range)
        .order_by("day")
        .values_list("day", "issued", "redeemed", "expired", "reversed")
    )
    members = list(
        DailyMemberStats.objects.filter(**in_range).order_by("day").values_list("day", "enrolled")
    )
    board.orders = sum(r[1] for r in orders)
    board.revenue = sum((r[2] for r in orders), ZERO)
    board.reward_orders = sum(r[3] for r in orders)
    board.reward_revenue = sum((r[4] for r in orders), ZERO)
    board.points_issued = sum(r[1] for r in points)
    board.points_redeemed = sum(r[2] for r in points)
    board.points_expired = sum(r[3] for r in points)
    board.points_reversed = sum(r[4] for r in points)
    board.members_enrolled = sum(r[1] for r in members)
    board.series_bucket, board.series = _series(rng, orders, points, members)

    board.reward_revenue_share = percent(board.reward_revenue, board.revenue)
    board.aov_with_reward = _ratio(board.reward_revenue, board.reward_orders, CENT)
    board.aov_without_reward = _ratio(
        board.revenue - board.reward_revenue, board.orders - board.reward_orders, CENT
    )
    board.redemption_rate = percent(board.points_redeemed, board.points_issued)

    board.outstanding_points = DailyPointsStats.objects.filter(
        shop=shop, day__lte=rng.end
    ).aggregate(total=Coalesce(Sum("available_delta"), 0))["total"]
    board.value_per_point = value_per_point_best(shop=shop)
    if board.value_per_point is not None:
        money, pts = board.value_per_point
        board.liability = (Decimal(max(board.outstanding_points, 0)) * money / pts).quantize(
            CENT, rounding=ROUND_HALF_UP
        )

    _cohort_fill(board, shop=shop, rng=rng)

    plan = AnalyticsSettings.objects.filter(shop=shop).values_list("plan_price_monthly", flat=True)
    saved = next(iter(plan), None)
    board.plan_price_saved = saved is not None
    board.plan_price_monthly = saved if saved is not None else ZERO
    board.program_cost = (board.plan_price_monthly * rng.days / 30).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    board.roi = _ratio(board.reward_revenue, board.program_cost, CENT)
    return board


def _cohort_fill(board: Dashboard, *, shop: Shop, rng: DateRange) -> None:
    """The acquisition cohort's figures: sums of the per-day cohort rollup, then the top 5%
    from the per-customer rollup (read by revenue, biggest first, stopping after k)."""
    in_range = Q(day__gte=rng.start, day__lte=rng.end)
    steps = {f"with_{x}": Coalesce(Sum(f"with_{x}", filter=in_range), 0) for x in REPEAT_STEPS}
    row = DailyCohortStats.objects.filter(shop=shop).aggregate(
        all_customers=Coalesce(Sum("customers"), 0),
        customers=Coalesce(Sum("customers", filter=in_range), 0),
        members=Coalesce(Sum("members", filter=in_range), 0),
        member_repeaters=Coalesce(Sum("member_repeaters", filter=in_range), 0),
        non_member_repeaters=Coalesce(Sum("non_member_repeaters", filter=in_range), 0),
        orders=Coalesce(Sum("orders", filter=in_range), 0),
        revenue=Coalesce(Sum("revenue", filter=in_range), ZERO),
        **steps,
    )
    board.customers = row["customers"]
    board.member_customers = row["members"]
    board.member_repeaters = row["member_repeaters"]
    board.non_member_customers = board.customers - board.member_customers
    board.non_member_repeaters = row["non_member_repeaters"]
    board.cohort_orders = row["orders"]
    board.cohort_revenue = row["revenue"]
    board.repeat_rate_members = percent(board.member_repeaters, board.member_customers)
    board.repeat_rate_non_members = percent(board.non_member_repeaters, board.non_member_customers)
    board.repeat_rate_all = percent(row["with_2"], board.customers)
    board.purchase_frequency = _ratio(board.cohort_orders, board.customers, CENT)
    board.customer_lifetime_value = _ratio(board.cohort_revenue, board.customers, CENT)
    counts = {1: board.customers, **{x: row[f"with_{x}"] for x in REPEAT_STEPS}}
    board.repeat_steps = [
        RepeatStep(x, counts[x], counts[x + 1], percent(counts[x + 1], counts[x]))
        for x in range(1, REPEAT_MAX_X + 1)
    ]
    if board.customers:
        board.top_customers = (board.customers * TOP_SHARE_PERCENT + 99) // 100
        cohort = CustomerStats.objects.filter(
            shop=shop, first_order_day__gte=rng.start, first_order_day__lte=rng.end
        )
        # Most of the customers: walk the revenue index from the top and stop after k.
        # A smaller cohort (often recent, low spenders, far down that index): read the
        # cohort by its day index and keep the top k (``revenue + 0`` is not indexed).
        # Ties at the cut have equal revenue: the sum does not depend on which one is kept.
        wide = board.customers * 2 >= row["all_customers"]
        order = F("revenue").desc() if wide else (F("revenue") + 0).desc()
        top = cohort.order_by(order)[: board.top_customers].aggregate(
            total=Coalesce(Sum("revenue"), ZERO)
        )
        board.top_customers_revenue = top["total"]
        board.top_customers_share = percent(board.top_customers_revenue, board.cohort_revenue)


def dashboard_rows(board: Dashboard) -> list[tuple[str, object, str]]:
    """The figures as (metric, value, unit) rows, in the order of the page (CSV export)."""
    cur = board.currency
    vpp = board.value_per_point_money
    return [
        ("range_start", board.range.start, "date"),
        ("range_end", board.range.end, "date"),
        ("orders", board.orders, "orders"),
        ("revenue", board.revenue, cur),
        ("loyalty_revenue", board.reward_revenue, cur),
        ("loyalty_revenue_share", board.reward_revenue_share, "%"),
        ("orders_with_reward", board.reward_orders, "orders"),
        ("aov_with_reward", board.aov_with_reward, cur),
        ("aov_without_reward", board.aov_without_reward, cur),
        ("members_enrolled", board.members_enrolled, "members"),
        ("points_issued", board.points_issued, "points"),
        ("points_redeemed", board.points_redeemed, "points"),
        ("points_expired", board.points_expired, "points"),
        ("points_reversed", board.points_reversed, "points"),
        ("redemption_rate", board.redemption_rate, "%"),
        ("outstanding_points", board.outstanding_points, "points"),
        ("value_per_point", vpp, cur),
        ("liability", board.liability, cur),
        ("customers_acquired", board.customers, "customers"),
        ("member_customers", board.member_customers, "customers"),
        ("non_member_customers", board.non_member_customers, "customers"),
        ("repeat_rate", board.repeat_rate_all, "%"),
        ("repeat_rate_members", board.repeat_rate_members, "%"),
        ("repeat_rate_non_members", board.repeat_rate_non_members, "%"),
        ("purchase_frequency", board.purchase_frequency, "orders/customer"),
        ("customer_lifetime_value", board.customer_lifetime_value, cur),
        ("top5_customers", board.top_customers, "customers"),
        ("top5_revenue_share", board.top_customers_share, "%"),
        ("plan_price_monthly", board.plan_price_monthly, cur),
        ("program_cost", board.program_cost, cur),
        ("roi", board.roi, "x"),
    ]
