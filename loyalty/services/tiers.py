"""VIP tiers: the settings as rules, the qualifying sums read set-based, a member's tier
written with its history, the new-member grant, and the periodic evaluation that ends graces
and grants (grants and manual changes: ``tier_grants``).

Moving up happens in the crediting engine (``crediting_plan``: in the transaction that
credits the order); every other move is here or in ``tiers_recompute``. Each writer holds the
member row lock, writes a ``TierChange`` under a unique key (so a retry changes nothing) and
drops the member's cached ``me`` after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.db import rows_insert, rows_update
from loyalty.analytics.services import shop_zone
from loyalty.lock_objects import member_qs_select_for_update
from loyalty.member_versions import members_changed_on_commit
from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Tier, TierChange, TierSettings
from loyalty.rules.tiers import (
    CENT,
    MemberTier,
    Period,
    QualifyingSums,
    TierDef,
    TierRules,
    Window,
    qualifying_fields,
    qualifying_value,
    tier_effective,
    tier_evaluate,
    tier_evaluation_period,
    tier_new_member,
    window_of,
)
from loyalty.services.ledger import ledger_post, member_lock
from loyalty.services.tiers_rewards import tier_entry_rewards_open
from loyalty.services.tiers_sync import tier_sync_mark
from merchants.models import Shop

logger = logging.getLogger(__name__)

# The member columns a tier change writes (the crediting engine adds them to its update).
TIER_MEMBER_FIELDS = [
    "tier",
    "tier_multiplier",
    "earned_tier",
    "tier_expires_at",
    "granted_tier",
    "grant_ends_at",
]
BATCH = 500
Reason = TierChange.Reason


# --- settings as rules -----------------------------------------------------------------------


def tier_rules_build(settings: TierSettings, tiers: Iterable[Tier], tz: ZoneInfo) -> TierRules:
    return TierRules(
        metric=settings.metric,
        window=settings.window,
        window_months=settings.window_months,
        include_discounts=settings.spend_includes_discounts,
        include_shipping=settings.spend_includes_shipping,
        include_tax=settings.spend_includes_tax,
        program_start=settings.program_start,
        grace_periods=settings.grace_periods,
        tz=tz,
        tiers=tuple(
            TierDef(
                tier_id=t.pk,
                name=t.name,
                threshold=t.threshold,
                multiplier=t.multiplier,
                entry_points=t.entry_points,
                entry_reward_id=t.entry_reward_id,
            )
            for t in tiers
        ),
        new_member_tier_id=settings.new_member_tier_id,
        new_member_days=settings.new_member_days,
    )


def tier_rules_load(*, shop: Shop) -> TierRules | None:
    """The shop's tier rules, or None while tiers are off (no settings, disabled, or no
    active tier). One query: the active tiers with their settings."""
    tiers = list(
        Tier.objects.filter(shop=shop, active=True, settings__enabled=True)
        .select_related("settings")
        .order_by("rank", "pk")
    )
    if not tiers:
        return None
    return tier_rules_build(tiers[0].settings, tiers, shop_zone(shop))


# --- the qualifying sums ---------------------------------------------------------------------


def _orders_in_window(
    qs: QuerySet[LoyaltyOrder], window: Window, *, shop: Shop
) -> QuerySet[LoyaltyOrder]:
    qs = qs.filter(shop=shop, state=LoyaltyOrder.State.CREDITED)
    if window.start is None and window.end is None:
        return qs
    qs = qs.annotate(counted_at=Coalesce("placed_at", "triggered_at"))
    if window.start is not None:
        qs = qs.filter(counted_at__gte=window.start)
    if window.end is not None:
        qs = qs.filter(counted_at__lt=window.end)
    return qs


def _legacy_or(column: str) -> Case:
    """A spend column, 0 on orders recorded before tiers (``order_counts``'s rule)."""
    return Case(When(spend_goods__isnull=True, then=Value(Decimal(0))), default=F(column))


SUMS_SQL: dict[str, Any] = {
    "orders": Sum(
        Case(When(Q(base__gt=0) & Q(refunded_base__gte=F("base")), then=Value(0)), default=1)
    ),
    "points": Sum(F("points_earned") - F("points_reversed")),
    "goods": Sum(Coalesce("spend_goods", "subtotal_price")),
    "discounts": Sum(_legacy_or("spend_discounts")),
    "shipping": Sum(_legacy_or("spend_shipping")),
    "tax": Sum(_legacy_or("spend_tax")),
    "refunded_goods": Sum(
        Case(
            When(spend_goods__isnull=True, then=F("refunded_base")),
            default=F("spend_refunded_goods"),
        )
    ),
    "refunded_discounts": Sum(_legacy_or("spend_refunded_discounts")),
    "refunded_shipping": Sum(_legacy_or("spend_refunded_shipping")),
    "refunded_tax": Sum(_legacy_or("spend_refunded_tax")),
}


SUM_FIELDS = tuple(SUMS_SQL)
COUNT_FIELDS = ("orders", "points")


def _sums_of(row: Any, fields: Sequence[str]) -> QualifyingSums:
    """A row of ``SUMS_SQL`` (SQLite sums decimals as floats: back to cents)."""
    values: dict[str, Any] = {
        k: int(row[k] or 0) if k in COUNT_FIELDS else Decimal(str(row[k] or 0)).quantize(CENT)
        for k in fields
    }
    return QualifyingSums(**values)


def _sums_by_member(
    qs: QuerySet[LoyaltyOrder], window: Window, shop: Shop, fields: Sequence[str]
) -> dict[int, QualifyingSums]:
    rows = (
        _orders_in_window(qs, window, shop=shop)
        .order_by()
        .values("member_id")
        .annotate(**{k: SUMS_SQL[k] for k in fields})
    )
    return {row["member_id"]: _sums_of(row, fields) for row in rows}


def tier_sums_read(
    *,
    shop: Shop,
    member_ids: Iterable[int],
    window: Window,
    exclude_order_ids: Sequence[int] = (),
    fields: Sequence[str] = SUM_FIELDS,
) -> dict[int, QualifyingSums]:
    """Per member, the sums of what their credited orders placed in the window count (one
    indexed read: orders by member), leaving out ``exclude_order_ids`` (the crediting
    engine adds the batch's own orders from memory). ``order_counts`` is the same rule for
    one order. Only ``fields`` are summed (``qualifying_fields`` of the rules: what the
    metric reads); the others are zero."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    qs = LoyaltyOrder.objects.filter(member_id__in=ids)
    if exclude_order_ids:
        qs = qs.exclude(order_id__in=list(exclude_order_ids))
    return _sums_by_member(qs, window, shop, fields)


def tier_sums_range(
    *,
    shop: Shop,
    first_id: int,
    last_id: int,
    window: Window,
    fields: Sequence[str] = SUM_FIELDS,
) -> dict[int, QualifyingSums]:
    """``tier_sums_read`` for the members with ids in ``[first_id, last_id]`` (the
    recompute's batches: a range, not a list of ids)."""
    qs = LoyaltyOrder.objects.filter(member_id__gte=first_id, member_id__lte=last_id)
    return _sums_by_member(qs, window, shop, fields)


def tier_sums_stream(
    *, shop: Shop, window: Window, fields: Sequence[str] = SUM_FIELDS, chunk: int = BATCH
) -> Iterator[tuple[int, QualifyingSums]]:
    """``tier_sums_read`` for every member of the shop with orders in the window, in member
    id order: one aggregate over the shop's orders (a sequential pass), read in chunks. A
    whole-shop pass (the preview of a settings change) costs a fraction of reading the
    members' orders range by range, which visits most of the table's pages again for each
    range (a member's orders are spread over years of inserts)."""
    qs = LoyaltyOrder.objects.filter(member_id__isnull=False)
    rows = (
        _orders_in_window(qs, window, shop=shop)
        .order_by("member_id")
        .values("member_id")
        .annotate(**{k: SUMS_SQL[k] for k in fields})
    )
    for row in rows.iterator(chunk_size=chunk):
        yield row["member_id"], _sums_of(row, fields)


# --- a member's tier fields ------------------------------------------------------------------


def member_tier_state(member: Member) -> MemberTier:
    return MemberTier(
        earned_id=member.earned_tier_id,
        expires_at=member.tier_expires_at,
        granted_id=member.granted_tier_id,
        grant_ends_at=member.grant_ends_at,
    )


def member_tier_set(
    member: Member, rules: TierRules, state: MemberTier, now: datetime
) -> tuple[TierDef | None, TierDef | None]:
    """Put ``state`` on the member (in memory) with the tier in effect and its multiplier;
    returns (tier in effect before, after) as ``rules`` sees them."""
    before = rules.by_id(member.tier_id)
    member.earned_tier_id = state.earned_id
    member.tier_expires_at = state.expires_at
    member.granted_tier_id = state.granted_id
    member.grant_ends_at = state.grant_ends_at
    after = tier_effective(rules, state, now)
    member.tier_id, member.tier_multiplier = tier_columns(after)
    return before, after


def tier_columns(tier: TierDef | None) -> tuple[int | None, Decimal]:
    """A member's ``tier`` and ``tier_multiplier`` for the tier in effect ``tier``."""
    return (tier.tier_id, tier.multiplier) if tier else (None, Decimal(1))


def tier_change_new(
    member: Member,
    *,
    before: TierDef | None,
    after: TierDef | None,
    reason: str,
    key: str,
    at: datetime,
    ends_at: datetime | None = None,
    actor: str = "",
    note: str = "",
) -> TierChange:
    """An unsaved history row (the writers insert them set-based, ``ON CONFLICT`` on key)."""
    return TierChange(
        shop_id=member.shop_id,
        member_id=member.pk,
        from_tier_id=before.tier_id if before else None,
        to_tier_id=after.tier_id if after else None,
        from_name=before.name if before else "",
        to_name=after.name if after else "",
        reason=reason,
        ends_at=ends_at,
        key=key,
        actor=actor[:255],
        note=note[:255],
        at=at,
    )


def tier_entry_key(member_id: int, tier_id: int | None, period: str) -> str:
    return f"tier:{member_id}:{tier_id}:{period}:entry"


def tiers_write(members: Sequence[Member], changes: Sequence[TierChange], shop_id: int) -> None:
    """Write changed members' tier fields and the history rows, set-based (the caller holds
    the members' locks); the members' cached ``me`` is dropped after commit. Every member
    with a history row is marked for the store's customer (``tier_sync_mark``)."""
    if members:
        rows_update(sorted(members, key=lambda m: m.pk), fields=TIER_MEMBER_FIELDS)
        members_changed_on_commit(shop_id=shop_id, customer_ids=[m.customer_id for m in members])
    if changes:
        rows_insert(list(changes), conflict=("shop", "key"))
        tier_sync_mark(shop_id=shop_id, member_ids=[c.member_id for c in changes])


def tier_members_locked(shop: Shop, **lookup: Any) -> list[Member]:
    """The shop's members matching ``lookup``, row-locked (every tier writer holds the lock)."""
    return list(member_qs_select_for_update().filter(shop=shop, **lookup))


# --- new members (grants and manual changes: ``tier_grants``) --------------------------------


def tier_new_member_grant(*, shop: Shop, member: Member) -> bool:
    """Give a member just created (``customers/create``) the grant the settings give every
    new member (the crediting engine does the same for the members it creates).
    Precondition: inside the caller's transaction."""
    rules = tier_rules_load(shop=shop)
    now = timezone.now()
    grant = tier_new_member(rules, now) if rules is not None else None
    if rules is None or grant is None:
        return False
    locked = member_lock(shop_id=shop.pk, member_id=member.pk)
    if locked.granted_tier_id is not None or locked.earned_tier_id is not None:
        return False
    state = replace(
        member_tier_state(locked), granted_id=grant.granted_id, grant_ends_at=grant.grant_ends_at
    )
    before, after = member_tier_set(locked, rules, state, now)
    change = tier_change_new(
        locked,
        before=before,
        after=after,
        reason=Reason.GRANTED,
        key=f"grant:new:{locked.pk}",
        at=now,
        ends_at=grant.grant_ends_at,
        note="New member",
    )
    tiers_write([locked], [change], shop.pk)
    return True


# --- the periodic evaluation -----------------------------------------------------------------


def tiers_evaluate_due(*, now: datetime | None = None) -> int:
    """Periodic: for every shop with tiers on, end the graces and grants whose time has
    come. Idempotent: a member whose grace or grant ended is no longer due."""
    now = now or timezone.now()
    moved = 0
    for shop in Shop.objects.filter(tier_settings__enabled=True).order_by("pk"):
        moved += tiers_evaluate_shop(shop=shop, now=now)
    return moved


def tiers_evaluate_shop(*, shop: Shop, now: datetime) -> int:
    """End the due graces and grants of one shop's members, in batches of locked members;
    returns the members whose tier in effect changed."""
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return 0
    due = (
        Member.objects.filter(shop=shop)
        .filter(Q(tier_expires_at__lte=now) | Q(grant_ends_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ids = list(due)
    moved = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic(durable=True):
            members = tier_members_locked(shop, pk__in=ids[start : start + BATCH])
            moved += _evaluate_members(shop, rules, members, now)
    return moved


def _evaluate_members(shop: Shop, rules: TierRules, members: list[Member], now: datetime) -> int:
    """Evaluate each member at each grace end up to now, oldest first (a catch-up after
    downtime evaluates every period it missed, in order), then end due grants."""
    states = {m.pk: member_tier_state(m) for m in members}
    changes: list[TierChange] = []
    entries: list[tuple[Member, TierDef, int, str]] = []
    rewards: list[tuple[Member, int, str]] = []
    by_pk = {m.pk: m for m in members}
    original = dict(states)
    while True:
        groups: dict[datetime, list[int]] = {}
        for pk, state in states.items():
            if state.expires_at is not None and state.expires_at <= now:
                groups.setdefault(state.expires_at, []).append(pk)
        if not groups:
            break
        for _, pks in sorted(groups.items()):
            period = tier_evaluation_period(rules, states[pks[0]])
            assert period is not None
            sums = tier_sums_read(
                shop=shop,
                member_ids=pks,
                window=window_of(rules, period),
                fields=qualifying_fields(rules),
            )
            for pk in pks:
                _evaluate_one(rules, by_pk[pk], states, sums, period, changes, entries, rewards)
    for pk, state in list(states.items()):
        if state.grant_ends_at is not None and state.grant_ends_at <= now:
            member = by_pk[pk]
            before = tier_effective(rules, state, state.grant_ends_at - timedelta(microseconds=1))
            ended = MemberTier(state.earned_id, state.expires_at, None, None)
            after = tier_effective(rules, ended, now)
            changes.append(
                tier_change_new(
                    member,
                    before=before,
                    after=after,
                    reason=Reason.GRANT_ENDED,
                    key=f"grant_end:{member.pk}:{state.grant_ends_at.isoformat()}",
                    at=state.grant_ends_at,
                )
            )
            states[pk] = ended
    changed: list[Member] = []
    moved = 0
    for pk, state in states.items():
        if state == original[pk]:
            continue
        member = by_pk[pk]
        before, after = member_tier_set(member, rules, state, now)
        changed.append(member)
        moved += (before.tier_id if before else None) != (after.tier_id if after else None)
    tiers_write(changed, changes, shop.pk)
    for member, tier, points, key in entries:
        ledger_post(
            member=member,
            amount=points,
            kind=LedgerEntry.Kind.TIER_ENTRY,
            key=key,
            source_type="tier",
            source_id=tier.tier_id or "",
            note=tier.name,
            earned=points,
        )
    tier_entry_rewards_open(shop=shop, grants=rewards)
    return moved


def _evaluate_one(
    rules: TierRules,
    member: Member,
    states: dict[int, MemberTier],
    sums: dict[int, QualifyingSums],
    period: Period,
    changes: list[TierChange],
    entries: list[tuple[Member, TierDef, int, str]],
    rewards: list[tuple[Member, int, str]],
) -> None:
    state = states[member.pk]
    assert state.expires_at is not None
    value = qualifying_value(rules, sums.get(member.pk, QualifyingSums()))
    move = tier_evaluate(rules, state, value, period)
    at = state.expires_at
    states[member.pk] = move.state
    if move.state.earned_id == state.earned_id:
        return  # held again: the grace moves on, nothing to record
    before = rules.by_id(state.earned_id)
    changes.append(
        tier_change_new(
            member,
            before=before,
            after=move.to,
            reason=Reason.EARNED if move.up else Reason.EXPIRED,
            key=f"eval:{member.pk}:{at.isoformat()}",
            at=at,
            ends_at=move.state.expires_at,
        )
    )
    if move.up and move.to is not None:
        key = tier_entry_key(member.pk, move.to.tier_id, move.entry_period)
        if move.entry_points:
            entries.append((member, move.to, move.entry_points, key))
        if move.to.entry_reward_id is not None:
            rewards.append((member, move.to.entry_reward_id, key))
