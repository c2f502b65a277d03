"""Discount codes: create, status, the checkout's check and preview, usage counting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from devstore.errors import DiscountCodeRefused
from devstore.identifiers import id_allocate
from devstore.models import DevCustomer, DevDiscountCode, DevOrder, DevShop, DevVariant
from devstore.payloads import money
from devstore.services.cart import Applied, Line, resolve_lines
from devstore.services.writes import ZERO, cents


def discount_code_create(
    shop: DevShop,
    *,
    code: str,
    title: str = "",
    kind: str = DevDiscountCode.Kind.BASIC,
    value_type: str = DevDiscountCode.ValueType.FIXED_AMOUNT,
    value: Decimal = ZERO,
    applies_on_each_item: bool = False,
    entitled_variant_ids: Sequence[int] = (),
    entitled_product_ids: Sequence[int] = (),
    customer_ids: Sequence[int] = (),
    usage_limit: int | None = None,
    applies_once_per_customer: bool = False,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    minimum_subtotal: Decimal | None = None,
    maximum_shipping_price: Decimal | None = None,
    tags: Sequence[str] = (),
    combines_with: dict[str, bool] | None = None,
) -> DevDiscountCode:
    """Create a code discount directly (the GraphQL mutations validate, then call this)."""
    now = timezone.now()
    if kind == DevDiscountCode.Kind.FREE_SHIPPING:
        value_type = DevDiscountCode.ValueType.FREE_SHIPPING
    return DevDiscountCode.objects.create(
        shop=shop,
        id=id_allocate("discount"),
        code=code,
        code_key=code.upper(),
        title=title or code,
        kind=kind,
        value_type=value_type,
        value=Decimal(value),
        applies_on_each_item=applies_on_each_item,
        entitled_variant_ids=list(entitled_variant_ids),
        entitled_product_ids=list(entitled_product_ids),
        customer_ids=list(customer_ids),
        usage_limit=usage_limit,
        applies_once_per_customer=applies_once_per_customer,
        starts_at=starts_at or now,
        ends_at=ends_at,
        minimum_subtotal=minimum_subtotal,
        maximum_shipping_price=maximum_shipping_price,
        tags=list(tags),
        combines_with=combines_with or {},
        created_at=now,
        updated_at=now,
    )


def discount_code_status(code: DevDiscountCode, at: datetime | None = None) -> str:
    """ACTIVE / EXPIRED / SCHEDULED, as the Admin API reports it."""
    moment = at or timezone.now()
    if code.status == DevDiscountCode.Status.DEACTIVATED:
        return "EXPIRED"
    if code.ends_at is not None and code.ends_at <= moment:
        return "EXPIRED"
    if code.starts_at > moment:
        return "SCHEDULED"
    return "ACTIVE"


def discount_check(
    code: DevDiscountCode,
    *,
    customer: DevCustomer | None,
    lines: list[Line],
    shipping: Decimal,
    at: datetime,
) -> Applied:
    """Raise ``DiscountCodeRefused`` with the shopper-facing reason, else the allocations."""
    if code.status == DevDiscountCode.Status.DEACTIVATED or code.deleted_at is not None:
        raise DiscountCodeRefused(f"Discount code {code.code} is no longer active.")
    status = discount_code_status(code, at)
    if status == "SCHEDULED":
        raise DiscountCodeRefused(f"Discount code {code.code} isn't active yet.")
    if status == "EXPIRED":
        raise DiscountCodeRefused(f"Discount code {code.code} has expired.")
    if code.customer_ids:
        if customer is None:
            raise DiscountCodeRefused(f"Log in to use discount code {code.code}.")
        if customer.id not in code.customer_ids:
            raise DiscountCodeRefused(f"Discount code {code.code} isn't available to you.")
    if code.usage_limit is not None and code.usage_count >= code.usage_limit:
        raise DiscountCodeRefused(f"Discount code {code.code} has reached its usage limit.")
    if code.applies_once_per_customer:
        if customer is None:
            raise DiscountCodeRefused(f"Log in to use discount code {code.code}.")
        if DevOrder.objects.filter(discount_code=code, customer=customer).exists():
            raise DiscountCodeRefused(
                f"Discount code {code.code} can only be used once per customer."
            )
    for line in lines:
        line.eligible = (
            not line.product.gift_card
            and (not code.entitled_variant_ids or line.variant.id in code.entitled_variant_ids)
            and (not code.entitled_product_ids or line.product.id in code.entitled_product_ids)
        )
    eligible = [line for line in lines if line.eligible]
    eligible_subtotal = sum((line.total for line in eligible), ZERO)
    if code.minimum_subtotal is not None and eligible_subtotal < code.minimum_subtotal:
        raise DiscountCodeRefused(
            f"Discount code {code.code} needs a minimum purchase of "
            f"{money(code.minimum_subtotal)} {code.shop.currency}."
        )
    applied = Applied(code=code)
    if code.kind == DevDiscountCode.Kind.FREE_SHIPPING:
        cap = code.maximum_shipping_price
        if cap is None or shipping <= cap:
            applied.shipping_discount = shipping
        return applied
    if not eligible:
        raise DiscountCodeRefused(
            f"Discount code {code.code} isn't valid for the items in your cart."
        )
    applied.lines = eligible
    if code.value_type == DevDiscountCode.ValueType.PERCENTAGE:
        for line in eligible:
            line.discount = cents(line.total * code.value)
    elif code.applies_on_each_item:
        for line in eligible:
            line.discount = min(cents(code.value * line.quantity), line.total)
    else:
        amount = min(cents(code.value), eligible_subtotal)
        remaining = amount
        for index, line in enumerate(eligible):
            if index == len(eligible) - 1:
                line.discount = remaining
            else:
                line.discount = cents(amount * line.total / eligible_subtotal)
                remaining -= line.discount
    return applied


def discount_code_preview(
    shop: DevShop,
    *,
    code: str,
    customer: DevCustomer | None,
    lines: Sequence[tuple[DevVariant | int, int]],
    shipping: Decimal = ZERO,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The checkout's "apply code" step (what ``applyDiscountCodeChange`` does in a real
    checkout): check ``code`` against the cart without using it. Raises
    ``DiscountCodeRefused`` with the buyer-facing reason; else the code, the total discount,
    the shipping discount and each variant's discount."""
    items = resolve_lines(shop, lines)
    found = DevDiscountCode.objects.filter(
        shop=shop, code_key=code.strip().upper(), deleted_at__isnull=True
    ).first()
    if found is None:
        raise DiscountCodeRefused(f"Enter a valid discount code. {code.strip()} isn't valid.")
    applied = discount_check(
        found,
        customer=customer,
        lines=items,
        shipping=cents(Decimal(shipping)),
        at=at or timezone.now(),
    )
    return {
        "code": found.code,
        "amount": applied.amount,
        "shipping_discount": applied.shipping_discount,
        "lines": {line.variant.id: line.discount for line in items if line.discount},
    }


def discount_usage_take(code: DevDiscountCode) -> None:
    """Count one use, refusing (race-safe, by a conditional update) past the limit."""
    limit = Q() if code.usage_limit is None else Q(usage_count__lt=code.usage_limit)
    taken = DevDiscountCode.objects.filter(limit, pk=code.pk).update(
        usage_count=F("usage_count") + 1, updated_at=timezone.now()
    )
    if not taken:
        raise DiscountCodeRefused(f"Discount code {code.code} has reached its usage limit.")
