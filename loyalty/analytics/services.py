"""Rollup refresh: keeps the analytics tables equal to a full recompute, incrementally.

No hook in the order or ledger code is needed. Every source row carries a timestamp that
moves when the row changes (``LoyaltyOrder.updated_at``, ``Redemption.updated_at``, and the
creation time of append-only ``LedgerEntry``, ``Member`` and ``TierChange`` rows), so a
refresh finds what changed since the shop's watermark (minus ``WATERMARK_OVERLAP``, which
covers transactions that committed after a later refresh started) and recomputes exactly:

* the shop-local days those rows fall on (all of a day's orders, orders by tier, entries,
  enrolments; tier movements by the day of their ``at``, which may be earlier than their
  creation: a grace end is evaluated hourly), and
* the customers those orders and members belong to (all of each customer's orders), and
  the first-order days (cohorts) those customers belonged to before and after.

A full rebuild runs on the first refresh, after a timezone change and once a day (it also
catches what no timestamp shows, e.g. an order moved to another customer by a merge).
Known cost without indexes on the loyalty tables' timestamps: finding the changes reads
``loyalty_loyaltyorder`` and ``loyalty_ledgerentry`` sequentially (about 3 s per refresh
at 1,000,000 orders; indexes on ``(shop, updated_at)``, ``(shop, customer_id)``,
``(shop, placed_at)`` of orders and ``(shop, created_at)`` of entries make it milliseconds).

Each recompute is one ``DELETE`` and one ``INSERT … SELECT`` built by the ORM (so the same
code runs on PostgreSQL and SQLite: the day cut in the shop's timezone is Django's
``TruncDate``): no Python loop over orders. Recomputing a day or a customer is idempotent,
so an overlap only costs time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connections, models, transaction
from django.db.models import BooleanField, Case, Count, F, Max, Min, Q, Sum, When
from django.db.models import Value as V
from django.db.models.functions import Coalesce, TruncDate, TruncSecond
from django.utils import timezone

from loyalty.analytics.errors import InvalidPlanPrice
from loyalty.analytics.models import (
    NO_TIER,
    REPEAT_STEPS,
    AnalyticsSettings,
    CustomerStats,
    DailyCohortStats,
    DailyMemberStats,
    DailyOrderStats,
    DailyPointsStats,
    DailyTierMoveStats,
    DailyTierOrderStats,
    RollupState,
)
from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Redemption, TierChange
from merchants.models import Shop

WATERMARK_OVERLAP = timedelta(minutes=10)
# A daily full rebuild also catches what no timestamp reveals (an order moved to another
# customer by a merge, rows erased by a redaction).
FULL_REBUILD_EVERY = timedelta(days=1)
# Above this many changed customers a refresh recomputes all customers (one set-based
# statement) rather than sending a long id list.
DIRTY_CUSTOMERS_MAX = 1000
PLAN_PRICE_MAX = Decimal("100000")
Kind = LedgerEntry.Kind
# Points "issued": credited for an order, the welcome gift, bonuses and tier entry points,
# plus positive manual adjustments and imported balances. Pending releases only move points
# between buckets.
EARN_KINDS = (
    Kind.ORDER_EARN,
    Kind.WELCOME,
    Kind.BONUS,
    Kind.TIER_ENTRY,
    Kind.ACTION,
    Kind.REFERRAL,
)
GRANT_KINDS = (Kind.MANUAL, Kind.IMPORT)
REDEEM_KINDS = (Kind.REDEEM, Kind.REDEEM_REFUND)
REVERSAL_KINDS = (Kind.ORDER_REFUND, Kind.ORDER_CANCEL, Kind.ACTION_REVERSAL)
# When a shopper became a member: the one definition behind "members enrolled" (by day) and
# "member at the first order" (per customer), so the two figures never disagree.
ENROLLED_AT = "created_at"


def shop_zone(shop: Shop) -> ZoneInfo:
    """The shop's IANA timezone (UTC when the platform sent none we know)."""
    try:
        return ZoneInfo(shop.iana_timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The aware instant a shop-local day begins."""
    return datetime.combine(day, dtime.min, tzinfo=zone)


def orders_counted(*, shop: Shop) -> models.QuerySet[LoyaltyOrder]:
    """The orders every figure counts: placed (a platform timestamp), not cancelled."""
    return LoyaltyOrder.objects.filter(shop=shop, placed_at__isnull=False).exclude(
        state=LoyaltyOrder.State.CANCELLED
    )


def reward_order_ids(*, shop: Shop) -> models.QuerySet[Redemption, Any]:
    """The ids of the orders that used a Beam redemption code (attributed as ``used``).

    Used as an uncorrelated ``order_id IN (…)``: the database hashes it once per statement
    (a correlated ``EXISTS`` per order would scan the redemptions once per order)."""
    return Redemption.objects.filter(
        shop=shop, status=Redemption.Status.USED, order_id__isnull=False
    ).values("order_id")


# --- INSERT … SELECT --------------------------------------------------------------------------


def _insert_select(
    *, model: type[models.Model], shop: Shop, mapping: dict[str, str], source: models.QuerySet
) -> int:
    """Insert the rows of an aggregate queryset for ``shop`` in one statement.

    ``mapping`` names, for each target field, the source's output column. The select runs in
    the database (wrapped as a subquery, so the source's column order does not matter)."""
    sql, params = source.query.get_compiler(using=source.db).as_sql()
    connection = connections[source.db]
    qn = connection.ops.quote_name
    fields = [cast(models.Field, model._meta.get_field(f)) for f in ("shop", *mapping)]
    target = ", ".join(qn(str(f.column)) for f in fields)
    picked = ", ".join(f"sub.{qn(alias)}" for alias in mapping.values())
    statement = (
        f"INSERT INTO {qn(model._meta.db_table)} ({target}) "  # noqa: S608 (names, not input)
        f"SELECT %s, {picked} FROM ({sql}) sub"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [shop.pk, *params])
        return max(cursor.rowcount, 0)


def _on_days(
    qs: models.QuerySet, *, field: str, days: set[date] | None, zone: ZoneInfo
) -> models.QuerySet:
    """Restrict ``qs`` (annotated with ``day``) to ``days``; ``None`` means every day. The
    instant range lets the database use its index before the per-row day cut."""
    if days is None:
        return qs
    # one spare day each side: a midnight that a DST change skips must not narrow the range
    lo, hi = min(days) - timedelta(days=1), max(days) + timedelta(days=2)
    return qs.filter(
        **{f"{field}__gte": day_start(lo, zone), f"{field}__lt": day_start(hi, zone)}
    ).filter(day__in=sorted(days))


def _rows_of_days(model: type[models.Model], *, shop: Shop, days: set[date] | None) -> None:
    stale = model.objects.filter(shop=shop)  # type: ignore[attr-defined]
    if days is not None:
        stale = stale.filter(day__in=sorted(days))
    stale.delete()


def _orders_daily_rebuild(*, shop: Shop, zone: ZoneInfo, days: set[date] | None) -> int:
    _rows_of_days(DailyOrderStats, shop=shop, days=days)
    if days is not None and not days:
        return 0
    used = Q(order_id__in=reward_order_ids(shop=shop))
    source = orders_counted(shop=shop).annotate(day=TruncDate("placed_at", tzinfo=zone))
    source = _on_days(source, field="placed_at", days=days, zone=zone)
    rows = source.values("day").annotate(
        a_orders=Count("pk"),
        a_revenue=Coalesce(Sum("total_price"), V(Decimal(0))),
        a_reward_orders=Count("pk", filter=used),
        a_reward_revenue=Coalesce(Sum("total_price", filter=used), V(Decimal(0))),
    )
    return _insert_select(
        model=DailyOrderStats,
        shop=shop,
        mapping={
            "day": "day",
            "orders": "a_orders",
            "revenue": "a_revenue",
            "reward_orders": "a_reward_orders",
            "reward_revenue": "a_reward_revenue",
        },
        source=rows,
    )


def _tier_orders_daily_rebuild(*, shop: Shop, zone: ZoneInfo, days: set[date] | None) -> int:
    """Members' counted orders by day and the tier recorded on the order (the same days as
    ``_orders_daily_rebuild``: an order's tier is written with the order)."""
    _rows_of_days(DailyTierOrderStats, shop=shop, days=days)
    if days is not None and not days:
        return 0
    source = (
        orders_counted(shop=shop)
        .filter(member_id__isnull=False)
        .annotate(day=TruncDate("placed_at", tzinfo=zone), key=Coalesce("tier_id", V(NO_TIER)))
    )
    source = _on_days(source, field="placed_at", days=days, zone=zone)
    rows = source.values("day", "key").annotate(
        a_orders=Count("pk"), a_revenue=Coalesce(Sum("total_price"), V(Decimal(0)))
    )
    return _insert_select(
        model=DailyTierOrderStats,
        shop=shop,
        mapping={"day": "day", "tier_key": "key", "orders": "a_orders", "revenue": "a_revenue"},
        source=rows,
    )


Reason = TierChange.Reason
_RANKED = Q(reason__in=(Reason.MANUAL, Reason.SETTINGS_CHANGE))
_UP = Q(reason=Reason.EARNED) | _RANKED & (
    Q(from_tier__isnull=True, to_tier__isnull=False) | Q(to_tier__rank__gt=F("from_tier__rank"))
)
_DOWN = Q(reason=Reason.EXPIRED) | _RANKED & (
    Q(from_tier__isnull=False, to_tier__isnull=True) | Q(to_tier__rank__lt=F("from_tier__rank"))
)


def _tier_moves_daily_rebuild(*, shop: Shop, zone: ZoneInfo, days: set[date] | None) -> int:
    """Tier history by the local day of ``at``. A row is written at or after its ``at``, so
    the rows of a set of days are found through the ``(shop, created_at)`` index."""
    _rows_of_days(DailyTierMoveStats, shop=shop, days=days)
    if days is not None and not days:
        return 0
    source: models.QuerySet[Any, Any] = TierChange.objects.filter(shop=shop)
    if days is not None:
        source = source.filter(created_at__gte=day_start(min(days) - timedelta(days=1), zone))
    source = _on_days(
        source.annotate(day=TruncDate("at", tzinfo=zone)), field="at", days=days, zone=zone
    )
    rows = source.values("day").annotate(
        a_ups=Count("pk", filter=_UP),
        a_downs=Count("pk", filter=_DOWN),
        a_grants=Count("pk", filter=Q(reason=Reason.GRANTED)),
        a_grant_ends=Count("pk", filter=Q(reason=Reason.GRANT_ENDED)),
    )
    return _insert_select(
        model=DailyTierMoveStats,
        shop=shop,
        mapping={
            "day": "day",
            "ups": "a_ups",
            "downs": "a_downs",
            "grants": "a_grants",
            "grant_ends": "a_grant_ends",
        },
        source=rows,
    )


def _points_daily_rebuild(*, shop: Shop, zone: ZoneInfo, days: set[date] | None) -> int:
    _rows_of_days(DailyPointsStats, shop=shop, days=days)
    if days is not None and not days:
        return 0
    source: models.QuerySet[Any, Any] = LedgerEntry.objects.filter(shop=shop).annotate(
        day=TruncDate("created_at", tzinfo=zone)
    )
    source = _on_days(source, field="created_at", days=days, zone=zone)
    issued = Q(kind__in=EARN_KINDS) | Q(kind__in=GRANT_KINDS, amount__gt=0)
    rows = source.values("day").annotate(
        a_issued=Coalesce(Sum("amount", filter=issued), 0),
        a_redeemed=Coalesce(-Sum("amount", filter=Q(kind__in=REDEEM_KINDS)), 0),
        a_expired=Coalesce(-Sum("amount", filter=Q(kind=Kind.EXPIRE)), 0),
        a_reversed=Coalesce(-Sum("amount", filter=Q(kind__in=REVERSAL_KINDS)), 0),
        a_available=Coalesce(Sum("amount", filter=Q(bucket=LedgerEntry.Bucket.AVAILABLE)), 0),
    )
    return _insert_select(
        model=DailyPointsStats,
        shop=shop,
        mapping={
            "day": "day",
            "issued": "a_issued",
            "redeemed": "a_redeemed",
            "expired": "a_expired",
            "reversed": "a_reversed",
            "available_delta": "a_available",
        },
        source=rows,
    )


def _members_daily_rebuild(*, shop: Shop, zone: ZoneInfo, days: set[date] | None) -> int:
    _rows_of_days(DailyMemberStats, shop=shop, days=days)
    if days is not None and not days:
        return 0
    source = Member.objects.filter(shop=shop).annotate(day=TruncDate(ENROLLED_AT, tzinfo=zone))
    source = _on_days(source, field=ENROLLED_AT, days=days, zone=zone)
    rows = source.values("day").annotate(a_enrolled=Count("pk"))
    return _insert_select(
        model=DailyMemberStats,
        shop=shop,
        mapping={"day": "day", "enrolled": "a_enrolled"},
        source=rows,
    )


def _customers_rebuild(*, shop: Shop, zone: ZoneInfo, ids: set[int] | None) -> int:
    """Recompute the customers with these ids (all when ``None``)."""
    stale = CustomerStats.objects.filter(shop=shop)
    source = orders_counted(shop=shop).filter(customer_id__isnull=False)
    if ids is not None:
        if not ids:
            return 0
        stale = stale.filter(customer_id__in=sorted(ids))
        source = source.filter(customer_id__in=sorted(ids))
    stale.delete()
    rows = source.values("customer_id").annotate(
        a_orders=Count("pk"),
        a_revenue=Coalesce(Sum("total_price"), V(Decimal(0))),
        a_first=Min("placed_at"),
        a_first_day=TruncDate(Min("placed_at"), tzinfo=zone),
        a_last=Max("placed_at"),
        a_enrolled=Min(f"member__{ENROLLED_AT}"),
        # Order times are as precise as their payload (whole seconds from the platform);
        # an enrolment within the very second an order is stamped with is not after it.
        a_enrolled_second=TruncSecond(Min(f"member__{ENROLLED_AT}"), tzinfo=UTC),
        a_member=Case(
            When(
                Q(a_enrolled__lte=F("a_first")) | Q(a_enrolled_second=F("a_first")),
                then=V(True),
            ),
            default=V(False),
            output_field=BooleanField(),
        ),
    )
    return _insert_select(
        model=CustomerStats,
        shop=shop,
        mapping={
            "customer_id": "customer_id",
            "orders_count": "a_orders",
            "revenue": "a_revenue",
            "first_order_at": "a_first",
            "first_order_day": "a_first_day",
            "last_order_at": "a_last",
            "enrolled_at": "a_enrolled",
            "is_member": "a_member",
        },
        source=rows,
    )


def _cohort_days_of(*, shop: Shop, ids: set[int]) -> set[date]:
    return set(
        CustomerStats.objects.filter(shop=shop, customer_id__in=sorted(ids))
        .values_list("first_order_day", flat=True)
        .distinct()
        .order_by()
    )


def _cohorts_rebuild(*, shop: Shop, days: set[date] | None) -> int:
    """Sum ``CustomerStats`` by first-order day (all days when ``None``)."""
    _rows_of_days(DailyCohortStats, shop=shop, days=days)
    source = CustomerStats.objects.filter(shop=shop)
    if days is not None:
        if not days:
            return 0
        source = source.filter(first_order_day__in=sorted(days))
    member, repeat = Q(is_member=True), Q(orders_count__gte=2)
    steps = {f"a_with_{x}": Count("pk", filter=Q(orders_count__gte=x)) for x in REPEAT_STEPS}
    rows = source.values("first_order_day").annotate(
        a_customers=Count("pk"),
        a_members=Count("pk", filter=member),
        a_member_repeaters=Count("pk", filter=member & repeat),
        a_non_member_repeaters=Count("pk", filter=~member & repeat),
        a_orders=Coalesce(Sum("orders_count"), 0),
        a_revenue=Coalesce(Sum("revenue"), V(Decimal(0))),
        **steps,
    )
    return _insert_select(
        model=DailyCohortStats,
        shop=shop,
        mapping={
            "day": "first_order_day",
            "customers": "a_customers",
            "members": "a_members",
            "member_repeaters": "a_member_repeaters",
            "non_member_repeaters": "a_non_member_repeaters",
            "orders": "a_orders",
            "revenue": "a_revenue",
            **{f"with_{x}": f"a_with_{x}" for x in REPEAT_STEPS},
        },
        source=rows,
    )


def _statistics_refresh() -> None:
    """After a full rebuild, give PostgreSQL's planner the new row counts at once (instead
    of waiting for autovacuum): with stale numbers it reads the top 5% the slow way."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    models_rebuilt = (
        DailyOrderStats,
        DailyPointsStats,
        DailyMemberStats,
        CustomerStats,
        DailyCohortStats,
        DailyTierOrderStats,
        DailyTierMoveStats,
    )
    with connection.cursor() as cursor:
        for model in models_rebuilt:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# --- refresh ----------------------------------------------------------------------------------


@dataclass
class RefreshReport:
    full: bool
    order_days: int  # -1: all
    ledger_days: int
    member_days: int
    customers: int  # customers recomputed (-1: all)
    cohort_days: int
    duration_ms: int
    tier_move_days: int = -1


def _day_pairs(qs: models.QuerySet, field: str, zone: ZoneInfo) -> set[tuple[int | None, date]]:
    """Distinct (customer id, shop-local day of ``field``) of the changed rows ``qs``."""
    return set(
        qs.annotate(changed_day=TruncDate(field, tzinfo=zone))
        .values_list("customer_id", "changed_day")
        .distinct()
        .order_by()
    )


def _local_days(qs: models.QuerySet, field: str, zone: ZoneInfo) -> set[date]:
    return set(
        qs.annotate(changed_day=TruncDate(field, tzinfo=zone))
        .values_list("changed_day", flat=True)
        .distinct()
        .order_by()
    )


@dataclass
class _Changes:
    order_days: set[date]
    ledger_days: set[date]
    member_days: set[date]
    customers: set[int] | None  # None: too many, recompute all
    tier_move_days: set[date]


def _changes_since(*, shop: Shop, since: datetime, zone: ZoneInfo) -> _Changes:
    """What changed after ``since``: each source is read once (a handful of rows come back,
    the distinct days and customers, never the orders themselves)."""
    orders = _day_pairs(
        LoyaltyOrder.objects.filter(shop=shop, updated_at__gte=since), "placed_at", zone
    )
    reattributed = LoyaltyOrder.objects.filter(
        shop=shop,
        order_id__in=Redemption.objects.filter(
            shop=shop, updated_at__gte=since, order_id__isnull=False
        ).values("order_id"),
    )
    order_days = {d for _, d in orders if d is not None} | {
        d for d in _local_days(reattributed, "placed_at", zone) if d is not None
    }
    members = _day_pairs(
        Member.objects.filter(shop=shop, created_at__gte=since), "created_at", zone
    )
    customers: set[int] | None = {c for c, _ in orders | members if c is not None}
    if customers is not None and len(customers) > DIRTY_CUSTOMERS_MAX:
        customers = None
    return _Changes(
        order_days=order_days,
        ledger_days=_local_days(
            LedgerEntry.objects.filter(shop=shop, created_at__gte=since), "created_at", zone
        ),
        member_days={d for _, d in members},
        customers=customers,
        tier_move_days=_local_days(
            TierChange.objects.filter(shop=shop, created_at__gte=since), "at", zone
        ),
    )


def rollup_refresh(*, shop: Shop, full: bool = False, now: datetime | None = None) -> RefreshReport:
    """Bring the shop's rollups up to date with its orders, ledger and members.

    Incremental unless ``full``, the shop never had a refresh, changed its timezone, or
    its last full rebuild is more than ``FULL_REBUILD_EVERY`` old. While tiers are on, the
    tier snapshot (members and repeat rate per tier for the preset ranges) is computed
    again every time: it is not incremental (a distinct count over a moving range).
    Runs in one transaction with the shop's rollup state row locked, so two refreshes of a
    shop never interleave and the dashboard never sees a half-written refresh."""
    from loyalty.analytics.services_tiers import tier_snapshot_refresh  # imports this module

    started = time.monotonic()
    zone = shop_zone(shop)
    with transaction.atomic(durable=True):
        RollupState.objects.get_or_create(shop=shop)
        state = RollupState.objects.select_for_update().get(shop=shop)
        now = now or timezone.now()
        full = (
            full
            or state.refreshed_through is None
            or state.timezone != zone.key
            or state.full_built_at is None
            or state.full_built_at < now - FULL_REBUILD_EVERY
        )
        changes: _Changes | None = None
        if not full:
            assert state.refreshed_through is not None
            changes = _changes_since(
                shop=shop, since=state.refreshed_through - WATERMARK_OVERLAP, zone=zone
            )
        ids = changes.customers if changes else None
        _orders_daily_rebuild(shop=shop, zone=zone, days=changes.order_days if changes else None)
        _tier_orders_daily_rebuild(
            shop=shop, zone=zone, days=changes.order_days if changes else None
        )
        _tier_moves_daily_rebuild(
            shop=shop, zone=zone, days=changes.tier_move_days if changes else None
        )
        _points_daily_rebuild(shop=shop, zone=zone, days=changes.ledger_days if changes else None)
        _members_daily_rebuild(shop=shop, zone=zone, days=changes.member_days if changes else None)
        # a customer's first-order day can move: rebuild the cohort days before and after
        cohort_days = _cohort_days_of(shop=shop, ids=ids) if ids else set()
        customers = _customers_rebuild(shop=shop, zone=zone, ids=ids)
        if ids:
            cohort_days |= _cohort_days_of(shop=shop, ids=ids)
        _cohorts_rebuild(shop=shop, days=None if ids is None else cohort_days)
        tier_snapshot_refresh(shop=shop, now=now)
        duration_ms = int((time.monotonic() - started) * 1000)
        state.refreshed_through = now
        state.timezone = zone.key
        state.last_duration_ms = duration_ms
        if full:
            state.full_built_at = now
            _statistics_refresh()
        state.save()
    return RefreshReport(
        full=full,
        order_days=len(changes.order_days) if changes else -1,
        ledger_days=len(changes.ledger_days) if changes else -1,
        member_days=len(changes.member_days) if changes else -1,
        customers=customers if ids is not None else -1,
        cohort_days=len(cohort_days) if ids is not None else -1,
        duration_ms=duration_ms,
        tier_move_days=len(changes.tier_move_days) if changes else -1,
    )


def rollups_refresh_all() -> int:
    """Refresh every active shop's rollups (the periodic task); returns the shops done."""
    done = 0
    for shop in Shop.objects.active().order_by("pk"):
        rollup_refresh(shop=shop)
        done += 1
    return done


# --- settings ---------------------------------------------------------------------------------


def plan_price_set(*, shop: Shop, price: str | Decimal) -> AnalyticsSettings:
    """Store the monthly plan price the merchant pays (ROI). Raises ``InvalidPlanPrice``."""
    try:
        value = Decimal(str(price).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidPlanPrice("Enter the plan price as a number, e.g. 49.00.") from exc
    if not value.is_finite() or value < 0 or value > PLAN_PRICE_MAX:
        raise InvalidPlanPrice(f"The plan price must be between 0 and {PLAN_PRICE_MAX}.")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidPlanPrice("The plan price has at most two decimals.")
    with transaction.atomic(durable=True):
        settings_row, _ = AnalyticsSettings.objects.select_for_update().get_or_create(shop=shop)
        settings_row.plan_price_monthly = value
        settings_row.save(update_fields=["plan_price_monthly", "updated_at"])
    return settings_row
