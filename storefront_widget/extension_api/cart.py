"""The checkout's cart in the loyalty domain's terms: the order ids the extensions send, and
the points a cart would earn.

The estimate builds an order-shaped payload from the cart and runs it through
``loyalty.services.order_earning_compute`` — the very function that credits real orders — so
the number shown in checkout and the points the order later earns come from one rule
(exclusions, product tags, bonus events, rounding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from loyalty.services import (
    EarningResult,
    order_earning_compute,
    program_get_or_create,
)
from merchants.models import Shop

CENT = Decimal("0.01")
ZERO = Decimal(0)
ORDER_REF_RE = re.compile(r"^(?:gid://shopify/(?:Order|OrderIdentity)/)?([0-9]{1,19})$")


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


def cart_payload(
    lines: list[CartLine],
    *,
    order_discount: Decimal = ZERO,
    shipping: Decimal = ZERO,
    taxes_included: bool = False,
) -> dict[str, Any]:
    """The cart as the order payload shape a webhook delivers (what the earning rule and the
    tier rules read); product tags and exclusions come from Beam's own records later."""
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
    return {
        "line_items": line_items,
        "taxes_included": taxes_included,
        "shipping_lines": [{"price": str(shipping)}] if shipping > 0 else [],
    }


def cart_earning_estimate(
    *,
    shop: Shop,
    lines: list[CartLine],
    order_discount: Decimal = ZERO,
    shipping: Decimal = ZERO,
    taxes_included: bool = False,
) -> EarningResult:
    """Points the cart would earn if the order were placed now (bonus events active now),
    before any tier multiplier (the product page's figure)."""
    payload = cart_payload(
        lines, order_discount=order_discount, shipping=shipping, taxes_included=taxes_included
    )
    return payload_earning_estimate(shop=shop, payload=payload)


def payload_earning_estimate(*, shop: Shop, payload: dict[str, Any]) -> EarningResult:
    """Points an order-shaped ``payload`` (``cart_payload``) would earn if placed now, by the
    function that credits real orders, before the member's tier multiplier."""
    program = program_get_or_create(shop=shop)
    if not program.enabled:
        return EarningResult(base=ZERO, weighted_base=ZERO, multiplier=Decimal(1), points=0)
    return order_earning_compute(
        shop=shop, program=program, payload=payload, placed_at=timezone.now()
    )
