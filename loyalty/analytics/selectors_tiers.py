"""The VIP tiers section of the analytics page, shown only while tiers are on.

Definitions (range and money as in ``loyalty.analytics.selectors``):

Members per tier
    Every member of the shop by the tier in effect now (``Member.tier``: granted or
    earned), members without one under *No tier*; the share is of all members. Read live
    (one grouped count of the members): a snapshot has no day to roll up by.
Revenue per tier
    The counted orders of members placed in the range, by the tier the member held when the
    order was placed (``LoyaltyOrder.tier``, recorded when Beam links the order to its
    member). Orders placed without a tier, guest orders a member claimed later and orders
    recorded before tiers existed count under *No tier*; orders without a member are left
    out. Read from the daily rollup ``DailyTierOrderStats``.
Repeat rate per tier
    Of the members in the tier now, the share with two or more counted orders placed in the
    range. Live: a count of distinct members does not add up over days (one grouped count
    of the members with the range's orders as a hashed ``IN``, on the ``(shop, placed_at)``
    index).
Movements
    Tier history rows by the local day of their time, from the daily rollup
    ``DailyTierMoveStats``: *up* (earned, or a manual or settings change to a higher tier),
    *down* (a grace that ended, or a manual or settings change to a lower tier or none),
    *grants* of time-limited access and *grant ends*; bucketed like the page's series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from loyalty.analytics.models import NO_TIER, DailyTierMoveStats, DailyTierOrderStats
from loyalty.analytics.selectors import CENT, ZERO, DateRange, bucket_for, bucket_of, percent
from loyalty.analytics.services import day_start, orders_counted, shop_zone
from loyalty.models import Member, Tier
from loyalty.services.tiers import tier_rules_load
from merchants.models import Shop

NO_TIER_NAME = "No tier"
REPEAT_MIN_ORDERS = 2


@dataclass(frozen=True)
class TierRow:
    tier_id: int | None  # None: no tier
    name: str
    archived: bool
    members: int
    members_share: Decimal | None  # percent of all members
    repeaters: int
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

    @property
    def has_moves(self) -> bool:
        return bool(self.ups or self.downs or self.grants or self.grant_ends)


def _members_by_tier(*, shop: Shop, rng: DateRange) -> dict[int, tuple[int, int]]:
    """``{tier pk or NO_TIER: (members now, of them with 2+ orders in the range)}``."""
    zone = shop_zone(shop)
    repeaters = (
        orders_counted(shop=shop)
        .filter(
            member_id__isnull=False,
            placed_at__gte=day_start(rng.start, zone),
            placed_at__lt=day_start(rng.end + timedelta(days=1), zone),
        )
        .values("member_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=REPEAT_MIN_ORDERS)
        .values("member_id")
    )
    rows = (
        Member.objects.filter(shop=shop)
        .values("tier_id")
        .annotate(members=Count("pk"), repeaters=Count("pk", filter=Q(pk__in=repeaters)))
        .order_by()
    )
    return {r["tier_id"] or NO_TIER: (r["members"], r["repeaters"]) for r in rows}


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
    members = _members_by_tier(shop=shop, rng=rng)
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
    for key, (name, is_archived) in names.items():
        count, repeaters = members.get(key, (0, 0))
        orders, money = revenue.get(key, (0, ZERO))
        board.rows.append(
            TierRow(
                tier_id=None if key == NO_TIER else key,
                name=name,
                archived=is_archived,
                members=count,
                members_share=percent(count, board.members),
                repeaters=repeaters,
                repeat_rate=percent(repeaters, count),
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
                r.repeaters,
                "" if r.repeat_rate is None else r.repeat_rate,
            ]
        )
    return rows
