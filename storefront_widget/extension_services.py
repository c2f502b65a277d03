"""What the checkout and customer-account extensions ask of the loyalty domain.

Reads and the cart earn estimate live here so the API views stay thin. The estimate builds an
order-shaped payload from the cart and runs it through ``loyalty.services.order_earning_compute``
— the very function that credits real orders — so the number shown in checkout and the points
the order later earns come from one rule (exclusions, product tags, bonus events, rounding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from loyalty.errors import InsufficientPoints, InvalidRedemption, RedemptionNotCancellable
from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Redemption, Reward
from loyalty.selectors import member_get_by_customer, member_ledger, member_redemptions
from loyalty.services import (
    EarningResult,
    order_earning_compute,
    program_get_or_create,
    redemption_cancel,
    reward_redeem,
)
from merchants.models import Shop

CENT = Decimal("0.01")
ZERO = Decimal(0)
# A code redeemed in checkout is meant for this checkout: if it is not used within a day it
# expires and ``redemptions_expire_due`` gives the points back.
CHECKOUT_CODE_VALID_FOR = timedelta(hours=24)
CUSTOMER_GID_RE = re.compile(r"^gid://shopify/Customer/([0-9]{1,19})$")
ORDER_REF_RE = re.compile(r"^(?:gid://shopify/(?:Order|OrderIdentity)/)?([0-9]{1,19})$")
CODE_CHANNELS = {Redemption.Channel.CHECKOUT, Redemption.Channel.CUSTOMER_ACCOUNT}


class RedemptionNotFound(InvalidRedemption):
    """No such redemption for this customer."""

    code = "redemption_not_found"
    http_status = 404


def customer_id_from_gid(sub: str) -> int | None:
    """The numeric customer id of a ``gid://shopify/Customer/<id>`` ``sub`` claim."""
    match = CUSTOMER_GID_RE.match(sub or "")
    return int(match.group(1)) if match else None


def order_id_from_ref(ref: str) -> int | None:
    """The numeric order id of an order GID (``Order`` or the thank-you page's
    ``OrderIdentity``) or of a bare id."""
    match = ORDER_REF_RE.match((ref or "").strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class CartLine:
    """One checkout line: ``total`` before discounts, ``discount`` already allocated to it."""

    product_id: int | None
    quantity: int
    total: Decimal
    discount: Decimal = ZERO
    gift_card: bool = False


def _allocate(amount: Decimal, lines: list[CartLine]) -> list[Decimal]:
    """Spread an order-level discount over the lines in proportion to what is left of each
    (cents, the last eligible line takes the remainder) — as the platform allocates it."""
    shares = [ZERO] * len(lines)
    eligible = [i for i, line in enumerate(lines) if not line.gift_card]
    remaining_of = {i: max(lines[i].total - lines[i].discount, ZERO) for i in eligible}
    pool = sum(remaining_of.values(), ZERO)
    if amount <= 0 or pool <= 0:
        return shares
    amount = min(amount, pool)
    left = amount
    for n, i in enumerate(eligible):
        if n == len(eligible) - 1:
            shares[i] = left
        else:
            shares[i] = (amount * remaining_of[i] / pool).quantize(CENT)
            left -= shares[i]
    return shares


def cart_earning_estimate(
    *,
    shop: Shop,
    lines: list[CartLine],
    order_discount: Decimal = ZERO,
    shipping: Decimal = ZERO,
    taxes_included: bool = False,
) -> EarningResult:
    """Points the cart would earn if the order were placed now (bonus events active now).

    The cart becomes the payload shape ``order_earning_compute`` reads from a webhook; the
    product tags and exclusions come from Beam's own records, never from the request."""
    extra = _allocate(order_discount, lines)
    line_items: list[dict[str, Any]] = []
    for line, share in zip(lines, extra, strict=True):
        discount = line.discount + share
        line_items.append(
            {
                "product_id": line.product_id,
                "quantity": 1,
                "price": str(line.total),
                "gift_card": line.gift_card,
                "discount_allocations": [{"amount": str(discount)}] if discount else [],
            }
        )
    payload: dict[str, Any] = {
        "line_items": line_items,
        "taxes_included": taxes_included,
        "shipping_lines": [{"price": str(shipping)}] if shipping > 0 else [],
    }
    program = program_get_or_create(shop=shop)
    if not program.enabled:
        return EarningResult(base=ZERO, weighted_base=ZERO, multiplier=Decimal(1), points=0)
    return order_earning_compute(
        shop=shop, program=program, payload=payload, placed_at=timezone.now()
    )


# --- rewards --------------------------------------------------------------------------------


def _variable_points(reward: Reward, balance: int) -> int | None:
    """The most points a member can put into a variable reward (a multiple of its step)."""
    step = reward.points_per_unit or 0
    if step <= 0:
        return None
    cap = min(balance, reward.max_points) if reward.max_points else balance
    points = (cap // step) * step
    if points <= 0 or (reward.min_points and points < reward.min_points):
        return None
    return points


def reward_options(
    *, shop: Shop, balance: int, for_checkout: bool, currency: str
) -> list[dict[str, Any]]:
    """The active rewards with the points each would take from ``balance`` and whether the
    member can afford it. Checkout lists only rewards that become a discount code."""
    options: list[dict[str, Any]] = []
    if not program_get_or_create(shop=shop).enabled:
        return options  # a paused program redeems nothing
    rewards = Reward.objects.filter(shop=shop, active=True).order_by("points_cost", "pk")
    for reward in rewards:
        if for_checkout and reward.kind == Reward.Kind.STORE_CREDIT:
            continue
        if reward.kind == Reward.Kind.VARIABLE:
            points = _variable_points(reward, balance)
            assert reward.points_per_unit and reward.value_per_unit
            value = (
                (Decimal(points) / reward.points_per_unit * reward.value_per_unit).quantize(CENT)
                if points
                else ZERO
            )
            cost = points or reward.min_points or reward.points_per_unit
            affordable = points is not None
        else:
            cost = reward.points_cost or 0
            value = reward.value
            points = None
            affordable = balance >= cost
        options.append(
            {
                "id": reward.pk,
                "name": reward.name,
                "kind": reward.kind,
                "points": cost,
                "variable_points": points,
                "value": str(value),
                "currency": currency,
                "minimum_subtotal": (
                    str(reward.minimum_subtotal) if reward.minimum_subtotal is not None else None
                ),
                "affordable": affordable,
            }
        )
    return options


def member_for(*, shop: Shop, customer_id: int | None) -> Member | None:
    return member_get_by_customer(shop=shop, customer_id=customer_id) if customer_id else None


def member_summary(member: Member | None) -> dict[str, int]:
    """Balance figures; a customer who never earned has a zero balance, not an error."""
    if member is None:
        return {"balance": 0, "pending": 0, "lifetime_earned": 0}
    return {
        "balance": member.balance,
        "pending": member.pending_points,
        "lifetime_earned": member.lifetime_earned,
    }


def extension_redeem(
    *,
    shop: Shop,
    member: Member | None,
    reward_id: int,
    points: int | None,
    client_key: str,
    channel: str,
) -> Redemption:
    """Redeem through the points engine's saga; checkout codes live ``CHECKOUT_CODE_VALID_FOR``."""
    if member is None:
        raise InsufficientPoints("You have no points yet.")
    reward = Reward.objects.filter(shop=shop, pk=reward_id, active=True).first()
    if (
        channel == Redemption.Channel.CHECKOUT
        and reward
        and reward.kind == Reward.Kind.STORE_CREDIT
    ):
        raise InvalidRedemption("Store credit cannot be applied as a checkout code.")
    return reward_redeem(
        shop=shop,
        member_id=member.pk,
        reward_id=reward_id,
        points=points,
        client_key=client_key,
        channel=channel,
        code_valid_for=CHECKOUT_CODE_VALID_FOR if channel == Redemption.Channel.CHECKOUT else None,
    )


def redemption_for_member(*, shop: Shop, member: Member | None, redemption_id: int) -> Redemption:
    """The member's own redemption, else ``RedemptionNotCancellable`` (404-like, no leak)."""
    redemption = (
        Redemption.objects.filter(shop=shop, member=member, pk=redemption_id)
        .select_related("reward")
        .first()
        if member is not None
        else None
    )
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


def extension_release(*, shop: Shop, member: Member | None, redemption_id: int) -> Redemption:
    """Give back a code that could not be applied in checkout: the existing cancel path
    deactivates it in the store and refunds the points. Only codes from the extensions."""
    redemption = redemption_for_member(shop=shop, member=member, redemption_id=redemption_id)
    if redemption.channel not in CODE_CHANNELS:
        raise RedemptionNotCancellable("Only codes redeemed here can be released here.")
    if redemption.status == Redemption.Status.CANCELLED:
        return redemption
    return redemption_cancel(shop=shop, redemption_id=redemption.pk, actor="checkout-extension")


def redemption_payload(redemption: Redemption) -> dict[str, Any]:
    issued = redemption.status in (Redemption.Status.ISSUED, Redemption.Status.USED)
    return {
        "id": redemption.pk,
        "reward": redemption.reward.name,
        "status": redemption.status,
        "code": redemption.code if issued else None,
        "points_spent": redemption.points_spent,
        "value": str(redemption.value),
        "currency": redemption.currency,
        "channel": redemption.channel,
        "expires_at": redemption.expires_at.isoformat(),
        "error": "The store did not accept the code; your points were returned."
        if redemption.status == Redemption.Status.FAILED
        else "",
    }


# --- orders and history ---------------------------------------------------------------------


ORDER_STATUS = {
    LoyaltyOrder.State.OPEN: "processing",
    LoyaltyOrder.State.GUEST: "guest",
    LoyaltyOrder.State.NOT_ELIGIBLE: "not_eligible",
    LoyaltyOrder.State.CANCELLED: "cancelled",
}


def order_points_for_customer(
    *, shop: Shop, customer_id: int, order_id: int
) -> dict[str, Any] | None:
    """The points of the customer's own order; ``None`` for an unknown order and for someone
    else's (the two are indistinguishable to the caller)."""
    order = (
        LoyaltyOrder.objects.filter(shop=shop, order_id=order_id).select_related("member").first()
    )
    if order is None:
        return None
    owner = order.member.customer_id if order.member is not None else order.customer_id
    if owner != customer_id:
        return None
    if order.state == LoyaltyOrder.State.CREDITED:
        status = "pending" if order.points_pending > 0 else "credited"
    else:
        status = ORDER_STATUS.get(LoyaltyOrder.State(order.state), "processing")
    return {
        "id": order.order_id,
        "name": order.name,
        "status": status,
        "points": order.points_earned - order.points_reversed
        if order.state == LoyaltyOrder.State.CREDITED
        else order.points_due,
        "pending_points": order.points_pending,
        "release_at": order.release_at.isoformat() if order.release_at else None,
    }


KIND_LABELS = {
    LedgerEntry.Kind.ORDER_EARN: "Order",
    LedgerEntry.Kind.REDEEM: "Reward redeemed",
    LedgerEntry.Kind.REDEEM_REFUND: "Points returned",
}


def member_history(*, shop: Shop, member: Member | None, limit: int) -> dict[str, Any]:
    """The newest ledger entries and redemptions of the member, for the account pages."""
    if member is None:
        return {"entries": [], "redemptions": []}
    entries = [
        {
            "id": e.pk,
            "amount": e.amount,
            "kind": e.kind,
            "label": KIND_LABELS.get(e.kind, e.get_kind_display()),
            "note": e.note,
            "bucket": e.bucket,
            "created_at": e.created_at.isoformat(),
        }
        for e in member_ledger(shop=shop, member=member)[:limit]
    ]
    redemptions = [
        redemption_payload(r) for r in member_redemptions(shop=shop, member=member)[:limit]
    ]
    return {"entries": entries, "redemptions": redemptions}
