"""The VIP tiers section of the analytics page, shown only while tiers are on.

Definitions (range and money as in ``loyalty.analytics.selectors``):

Members per tier
    Every member of the shop by the tier in effect now (``Member.tier``: granted or
    earned), members without one under *No tier*; the share is of all members.
Revenue per tier
    The counted orders of members placed in the range, by the tier the member held when the
    order was placed (``LoyaltyOrder.tier``, recorded when Beam links the order to its
    member). Orders placed without a tier, guest orders a member claimed later and orders
    recorded before tiers existed count under *No tier*; orders without a member are left
    out. Read from the daily rollup ``DailyTierOrderStats``.
Repeat rate per tier
    Of the members in the tier now, the share with two or more counted orders placed in the
    range. A count of distinct members does not add up over days, so there is no daily
    rollup of it: ``tier_counts`` (the one implementation of both figures) reads the members
    and the range's orders. The rollup refresh runs it for the page's preset ranges and
    stores the result (``TierSnapshot``, as of the refresh, like every other figure); a
    range that is not a preset of the last refresh runs it live up to ``LIVE_MAX_DAYS``
    days (it reads every order of the range), and beyond that the page shows members only
    and says for which ranges the repeat rate is computed.
Movements
    Tier history rows by the local day of their time, from the daily rollup
    ``DailyTierMoveStats``: *up* (earned, or a manual or settings change to a higher tier),
    *down* (a grace that ended, or a manual or settings change to a lower tier or none),
    *grants* of time-limited access and *grant ends*; bucketed like the page's series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connections
from django.db.models import Count, Q, QuerySet, Sum

from loyalty.analytics.models import (
    NO_TIER,
    DailyTierMoveStats,
    DailyTierOrderStats,
    TierSnapshot,
)
from loyalty.analytics.selectors import (
    CENT,
    PRESETS,
    ZERO,
    DateRange,
    bucket_for,
    bucket_of,
    percent,
)
from loyalty.analytics.services import day_start, orders_counted, shop_zone
from loyalty.models import Member, Tier
from loyalty.services.tiers import tier_rules_load
from merchants.models import Shop

NO_TIER_NAME = "No tier"
REPEAT_MIN_ORDERS = 2
# The longest range whose repeat rate per tier is computed while the page waits: it reads
# every counted order of the range (bench/analytics.py, 1,000,000 orders over two years:
# about 0.4 s for 31 days, 0.7-0.9 s for 92, over the page's budget with the rest of it);
# the presets come from the refresh's snapshot.
LIVE_MAX_DAYS = 31
# Where a board's members and repeaters come from (``TierBoard.counts_from``).
FROM_SNAPSHOT, FROM_LIVE, FROM_LIVE_MEMBERS_ONLY = "snapshot", "live", "members_only"


@dataclass(frozen=True)
class TierRow:
    tier_id: int | None  # None: no tier
    name: str
    archived: bool
    members: int
    members_share: Decimal | None  # percent of all members
    repeaters: int | None  # None: not computed for this range (longer than LIVE_MAX_DAYS)
    repeat_rate: Decimal | None  # percent of the tier's members
    orders: int
    revenue: Decimal
    revenue_share: Decimal | None  # percent of members' revenue in the range


@dataclass(frozen=True)
class TierMovePoint:
    start: date
    end: date
    ups: int
    downs: int
    grants: int
    grant_ends: int


@dataclass
class TierBoard:
    currency: str
    range: DateRange
    bucket: str
    rows: list[TierRow] = field(default_factory=list)
    moves: list[TierMovePoint] = field(default_factory=list)
    members: int = 0
    orders: int = 0
    revenue: Decimal = ZERO
    ups: int = 0
    downs: int = 0
    grants: int = 0
    grant_ends: int = 0
    counts_from: str = FROM_LIVE
    counts_as_of: datetime | None = None  # of the snapshot; None: counted at this request
    live_max_days: int = LIVE_MAX_DAYS
    preset_days: tuple[int, ...] = tuple(PRESETS.values())

    @property
    def has_moves(self) -> bool:
        return bool(self.ups or self.downs or self.grants or self.grant_ends)


@dataclass(frozen=True)
class TierCounts:
    members: int  # members in the tier now
    repeaters: tuple[int, ...]  # of them, with 2+ counted orders in each range asked for


def _sql(qs: QuerySet) -> tuple[str, tuple]:
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    return sql, tuple(params)


def tier_counts(*, shop: Shop, ranges: Sequence[DateRange]) -> dict[int, TierCounts]:
    """``{tier pk or NO_TIER: TierCounts}``: the shop's members by the tier in effect now
    and, for each of ``ranges``, how many of them have ``REPEAT_MIN_ORDERS`` or more
    counted orders placed in it. One statement whatever the number of ranges: the members
    left-joined to their counted orders of the ranges' span, counted per member and range
    in one pass over the ``(shop, placed_at)`` index, then summed per tier. With no range,
    members only (one grouped count of the members)."""
    members_sql, members_params = _sql(Member.objects.filter(shop=shop).values("pk", "tier_id"))
    connection = connections[Member.objects.db]
    qn = connection.ops.quote_name
    picked, join, params = "", "", [*members_params]
    if ranges:
        zone = shop_zone(shop)
        spans = [
            (day_start(r.start, zone), day_start(r.end + timedelta(days=1), zone)) for r in ranges
        ]
        per_member = (
            orders_counted(shop=shop)
            .filter(
                member_id__isnull=False,
                placed_at__gte=min(lo for lo, _ in spans),
                placed_at__lt=max(hi for _, hi in spans),
            )
            .values("member_id")
            .annotate(
                **{
                    f"n{i}": Count("pk", filter=Q(placed_at__gte=lo, placed_at__lt=hi))
                    for i, (lo, hi) in enumerate(spans)
                }
            )
            .order_by()
        )
        orders_sql, orders_params = _sql(per_member)
        picked = "".join(
            f", SUM(CASE WHEN o.{qn(f'n{i}')} >= %s THEN 1 ELSE 0 END)" for i in range(len(spans))
        )
        join = f" LEFT JOIN ({orders_sql}) o ON o.{qn('member_id')} = m.{qn('pk')}"
        params = [REPEAT_MIN_ORDERS] * len(spans) + params + list(orders_params)
    statement = (
        f"SELECT m.{qn('tier_id')}, COUNT(*){picked} "  # noqa: S608 (names, not input)
        f"FROM ({members_sql}) m{join} GROUP BY m.{qn('tier_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return {
        tier_id or NO_TIER: TierCounts(int(members), tuple(int(n) for n in repeaters))
        for tier_id, members, *repeaters in rows
    }


def _counts_for(
    *, shop: Shop, rng: DateRange
) -> tuple[dict[int, tuple[int, int | None]], str, datetime | None]:
    """``({tier key: (members, repeaters or None)}, where from, snapshot time)``: the
    refresh's snapshot when ``rng`` is one of its preset ranges, else counted live."""
    snapshot = list(
        TierSnapshot.objects.filter(
            shop=shop, range_start=rng.start, range_end=rng.end
        ).values_list("tier_key", "members", "repeaters", "as_of")
    )
    if snapshot:
        counts: dict[int, tuple[int, int | None]] = {
            key: (members, repeaters) for key, members, repeaters, _ in snapshot
        }
        return counts, FROM_SNAPSHOT, snapshot[0][3]
    if rng.days <= LIVE_MAX_DAYS:
        live = tier_counts(shop=shop, ranges=[rng])
        return {k: (c.members, c.repeaters[0]) for k, c in live.items()}, FROM_LIVE, None
    live = tier_counts(shop=shop, ranges=[])
    return {k: (c.members, None) for k, c in live.items()}, FROM_LIVE_MEMBERS_ONLY, None


def _moves(*, shop: Shop, rng: DateRange, bucket: str) -> list[TierMovePoint]:
    """Per-bucket sums of the daily rollup, with empty buckets (the page's series shape)."""
    acc: dict[date, list] = {}
    day = rng.start
    while day <= rng.end:
        key = bucket_of(day, bucket)
        acc.setdefault(key, [max(key, rng.start), day, 0, 0, 0, 0])[1] = day
        day += timedelta(days=1)
    rows = DailyTierMoveStats.objects.filter(
        shop=shop, day__gte=rng.start, day__lte=rng.end
    ).values_list("day", "ups", "downs", "grants", "grant_ends")
    for d, *counts in rows:
        row = acc[bucket_of(d, bucket)]
        for i, n in enumerate(counts):
            row[2 + i] += n
    return [TierMovePoint(*row) for row in acc.values()]


def tier_board_get(*, shop: Shop, rng: DateRange) -> TierBoard | None:
    """The tier figures for ``rng`` (see the module docstring), or None while tiers are off
    (``tier_rules_load``: the one definition of "on"). Four queries, five when a tier that
    was archived still has members or revenue."""
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return None
    board = TierBoard(currency=shop.currency, range=rng, bucket=bucket_for(rng))
    members, board.counts_from, board.counts_as_of = _counts_for(shop=shop, rng=rng)
    revenue = {  # summed stored cents: quantizing keeps them exact (SQLite returns floats' digits)
        r["tier_key"]: (r["orders"], r["revenue"].quantize(CENT))
        for r in DailyTierOrderStats.objects.filter(shop=shop, day__gte=rng.start, day__lte=rng.end)
        .values("tier_key")
        .annotate(orders=Sum("orders"), revenue=Sum("revenue"))
        .order_by()
    }
    board.moves = _moves(shop=shop, rng=rng, bucket=board.bucket)
    board.members = sum(m for m, _ in members.values())
    board.orders = sum(n for n, _ in revenue.values())
    board.revenue = sum((r for _, r in revenue.values()), ZERO)
    for point in board.moves:
        board.ups += point.ups
        board.downs += point.downs
        board.grants += point.grants
        board.grant_ends += point.grant_ends

    names: dict[int, tuple[str, bool]] = {NO_TIER: (NO_TIER_NAME, False)}
    names |= {t.tier_id: (t.name, False) for t in rules.tiers if t.tier_id is not None}
    archived = sorted((set(members) | set(revenue)) - set(names))
    if archived:
        names |= {
            pk: (name, True)
            for pk, name in Tier.objects.filter(shop=shop, pk__in=archived).values_list(
                "pk", "name"
            )
        }
    known = board.counts_from != FROM_LIVE_MEMBERS_ONLY
    for key, (name, is_archived) in names.items():
        count, repeaters = members.get(key, (0, 0 if known else None))
        orders, money = revenue.get(key, (0, ZERO))
        board.rows.append(
            TierRow(
                tier_id=None if key == NO_TIER else key,
                name=name,
                archived=is_archived,
                members=count,
                members_share=percent(count, board.members),
                repeaters=repeaters,
                repeat_rate=None if repeaters is None else percent(repeaters, count),
                orders=orders,
                revenue=money,
                revenue_share=percent(money, board.revenue),
            )
        )
    return board


def tier_board_rows(board: TierBoard) -> list[list[object]]:
    """The per-tier figures as CSV rows (header first), in the order of the page."""
    header: list[object] = [
        "tier",
        "members_now",
        "members_share_pct",
        "orders",
        "revenue",
        "revenue_share_pct",
        "members_with_2_plus_orders",
        "repeat_rate_pct",
    ]
    rows: list[list[object]] = [header]
    for r in board.rows:
        rows.append(
            [
                f"{r.name} (archived)" if r.archived else r.name,
                r.members,
                "" if r.members_share is None else r.members_share,
                r.orders,
                r.revenue,
                "" if r.revenue_share is None else r.revenue_share,
                "" if r.repeaters is None else r.repeaters,
                "" if r.repeat_rate is None else r.repeat_rate,
            ]
        )
    return rows
