"""The tier blocks of the checkout, thank-you and customer-account extensions: where an order
leaves a member (the tier it brings them to, what the next tier then needs) and the member's
tier history in words.

Nothing here decides qualification: the value after an order is the member's qualifying sums
(``tier_sums_read``) plus what the order counts (``order_counts``, the crediting engine's
rule), and the move it gives is ``tier_upgrade``'s, the function that moves members up when
the order is credited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from loyalty.analytics.services import shop_zone
from loyalty.errors import TierChangeUnknown
from loyalty.models import LoyaltyOrder, Member, TierChange
from loyalty.rules.tiers import (
    CENT,
    SPEND,
    MemberTier,
    QualifyingSums,
    TierDef,
    TierRules,
    order_counts,
    qualifying_fields,
    qualifying_value,
    tier_effective,
    tier_next,
    tier_points,
    tier_upgrade,
    window_now,
)
from loyalty.selectors import iso, member_tier_document, number_plain, program_get, tier_threshold
from loyalty.services.orders import order_snapshot
from loyalty.services.tiers import member_tier_state, tier_rules_load, tier_sums_read
from merchants.models import Shop

HISTORY_SHOWN = 20
Reason = TierChange.Reason
CREDITED = LoyaltyOrder.State.CREDITED
PROJECTED = (LoyaltyOrder.State.OPEN, LoyaltyOrder.State.GUEST)


def member_tier_block(*, shop: Shop, member: Member | None) -> dict[str, Any] | None:
    """The member's tier block as ``me`` carries it (the customer-account page); None while
    tiers are off or for a customer Beam has no member row for."""
    if member is None:
        return None
    block = member_tier_document(
        shop=shop, member_id=member.pk, tier_id=member.tier_id, state=member_tier_state(member)
    )
    return None if block is None else {**block, "currency": shop.currency}


def _outlook(
    shop: Shop,
    rules: TierRules,
    member: Member | None,
    order: LoyaltyOrder,
    recorded: str | None = None,
) -> dict[str, Any]:
    """Where ``order`` (counted as credited) leaves the member. The order's own stored row is
    left out of the sums and counted from memory, so it counts once whether or not it was
    credited yet; ``recorded``: the tier its crediting already moved the member to."""
    now = timezone.now()
    state = member_tier_state(member) if member is not None else MemberTier()
    sums = QualifyingSums()
    if member is not None:
        read = tier_sums_read(
            shop=shop,
            member_ids=[member.pk],
            window=window_now(rules, now),
            exclude_order_ids=[order.order_id] if order.order_id else (),
            fields=qualifying_fields(rules),
        )
        sums = read.get(member.pk, sums)
    value = qualifying_value(rules, sums.add(order_counts(order)))
    before = tier_effective(rules, state, now)
    move = tier_upgrade(rules, state, value, now)
    after = tier_effective(rules, move.state, now) if move is not None else before
    reached: TierDef | None = None
    if after is not None and after.rank > (before.rank if before is not None else -1):
        reached = after
    following = tier_next(rules, after, value)
    return {
        "name": after.name if after else None,
        "reached": reached.name if reached else recorded,
        "multiplier": number_plain(after.multiplier) if after else "1",
        "metric": rules.metric,
        "currency": shop.currency,
        "value": tier_threshold(value, rules.metric),
        "next": None
        if following is None
        else {
            "name": following.name,
            "threshold": tier_threshold(following.threshold, rules.metric),
            "remaining": tier_threshold(following.threshold - value, rules.metric),
        },
    }


def _tier_earned(shop: Shop, multiplier: Decimal, points: int) -> int:
    """``points`` under a member's tier ``multiplier``, rounded as the crediting engine does
    (``tier_points``, the program's rounding); the caller knows tiers are on."""
    return tier_points(points, multiplier, program_get(shop=shop).rounding)


def member_points_estimate(*, shop: Shop, customer_id: int | None, points: int) -> int:
    """What an earning of ``points`` (the earning rule's figure, before tiers) gives this
    shopper once credited: their tier multiplier while tiers are on, as the crediting engine
    applies it; ``points`` for a guest, a customer Beam has no member for or a member at 1x
    (1 query then, 3 with a multiplier)."""
    if customer_id is None or points <= 0:
        return points
    multiplier = (
        Member.objects.filter(shop=shop, customer_id=customer_id, redacted=False)
        .values_list("tier_multiplier", flat=True)
        .first()
    )
    if multiplier is None or multiplier == 1 or tier_rules_load(shop=shop) is None:
        return points
    return _tier_earned(shop, multiplier, points)


def cart_tier_outlook(
    *, shop: Shop, member: Member | None, payload: dict[str, Any], points: int
) -> tuple[int, dict[str, Any] | None]:
    """The checkout's cart (an order-shaped ``payload`` earning ``points`` by the earning
    rule) for this member: the points it earns under the member's tier multiplier (as the
    crediting engine will apply it) and the tier block after it; ``points`` unchanged and
    None while tiers are off or for a guest."""
    rules = tier_rules_load(shop=shop) if member is not None else None
    if rules is None or member is None:
        return points, None
    earned = _tier_earned(shop, member.tier_multiplier, points)
    order = LoyaltyOrder(shop=shop, state=CREDITED, points_earned=earned)
    order_snapshot(order, payload)
    return earned, _outlook(shop, rules, member, order)


def order_tier_outlook(
    *, shop: Shop, member: Member | None, order: LoyaltyOrder
) -> dict[str, Any] | None:
    """The thank-you / order-status block: where the member's own ``order`` leaves them. A
    credited order reads the move its crediting recorded; an order still waiting for its
    trigger is projected as credited at its due points; None while tiers are off, for a
    guest, or for an order that counts nothing (cancelled, not eligible)."""
    if member is None or order.state not in (CREDITED, *PROJECTED):
        return None
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return None
    recorded = None
    if order.state == CREDITED:
        recorded = (
            TierChange.objects.filter(
                shop=shop,
                member=member,
                reason=Reason.EARNED,
                key__startswith=f"earn:{member.pk}:",
                key__endswith=f":{order.order_id}",
            )
            .values_list("to_name", flat=True)
            .first()
        )
    else:
        points = _tier_earned(shop, member.tier_multiplier, order.points_due)
        order = _order_copy(order, state=CREDITED, points_earned=points)
    return _outlook(shop, rules, member, order, recorded)


def _order_copy(order: LoyaltyOrder, **changes: Any) -> LoyaltyOrder:
    """An unsaved copy of ``order`` with ``changes`` (a projection never writes the row)."""
    fields = order._meta.concrete_fields
    copy = LoyaltyOrder(**{f.attname: getattr(order, f.attname) for f in fields})
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def tier_sample_block(tiers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A sample member's tier block for the admin's branding preview (it has no shopper):
    in the shop's first tier, halfway to the second, so the preview shows the VIP section
    as members see it. ``tiers``: the program document's; None while tiers are off."""
    if not tiers:
        return None
    first, following = tiers[0], (tiers[1] if len(tiers) > 1 else None)
    metric = first["metric"]
    low = Decimal(str(first["threshold"]))
    high = Decimal(str(following["threshold"])) if following else low
    value = low + (high - low) / 2
    value = value.quantize(CENT) if metric == SPEND else value.to_integral_value(ROUND_FLOOR)
    return {
        "name": first["name"],
        "multiplier": first["multiplier"],
        "granted": False,
        "until": None,
        "metric": metric,
        "value": tier_threshold(value, metric),
        "next": None
        if following is None
        else {
            "name": following["name"],
            "threshold": following["threshold"],
            "remaining": tier_threshold(high - value, metric),
        },
    }


# --- history ---------------------------------------------------------------------------------


def _day(value: datetime | None, shop: Shop) -> str:
    if value is None:
        return ""
    local = value.astimezone(shop_zone(shop))
    return f"{local.day} {local:%b %Y}"


def tier_change_label(change: TierChange, shop: Shop) -> str:
    """One history row in the shopper's words (the customer-account page)."""
    to, was = change.to_name, change.from_name
    if change.reason == Reason.GRANTED:
        # the last day it holds: an end at midnight reads as the day before ("until 31 Dec")
        until = _day(change.ends_at - timedelta(microseconds=1) if change.ends_at else None, shop)
        return f"{to} access until {until}" if until else f"{to} access"
    if change.reason == Reason.GRANT_ENDED:
        return f"{was} access ended" + (f": back to {to}" if to else "")
    if change.reason == Reason.MANUAL:
        return f"Set to {to} by the store" if to else f"{was} removed by the store"
    if change.reason == Reason.SETTINGS_CHANGE:
        return f"Now {to} after a program update" if to else f"{was} ended by a program update"
    if change.reason == Reason.EARNED:
        return f"Reached {to}"
    return f"Moved to {to}" if to else f"{was} ended"


def member_tier_history(
    *, shop: Shop, member: Member | None, limit: int = HISTORY_SHOWN
) -> list[dict[str, Any]]:
    """The member's newest tier changes, in words (1 query)."""
    return member_tier_history_page(shop=shop, member=member, before=None, limit=limit)[0]


def member_tier_history_page(
    *, shop: Shop, member: Member | None, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's tier changes older than the change ``before`` (newest
    first by time, then id), in words, and the next page's cursor (None at the end).
    ``TierChangeUnknown`` when ``before`` is not one of the member's changes."""
    if member is None:
        return [], None
    changes = TierChange.objects.filter(shop=shop, member=member)
    if before is not None:
        at = changes.filter(pk=before).values_list("at", flat=True).first()
        if at is None:
            raise TierChangeUnknown()
        changes = changes.filter(Q(at__lt=at) | Q(at=at, pk__lt=before))
    found = list(changes.order_by("-at", "-pk")[: limit + 1])
    page = _tier_change_lines(found[:limit], shop)
    return page, page[-1]["id"] if len(found) > limit else None


def _tier_change_lines(rows: list[TierChange], shop: Shop) -> list[dict[str, Any]]:
    return [
        {
            "id": str(row.pk),
            "at": iso(row.at),
            "reason": row.reason,
            "from": row.from_name or None,
            "to": row.to_name or None,
            "ends_at": iso(row.ends_at),
            "label": tier_change_label(row, shop),
        }
        for row in rows
    ]
