"""The simulated store's operations: what a merchant, a shopper or the platform does.

Plain functions used by the devstore's pages, the demo command, tests and benchmarks. Each
write runs in one transaction and sends its webhooks after commit (see devstore.webhooks).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from devstore.errors import DiscountCodeRefused, OrderOperationRefused
from devstore.identifiers import id_allocate, ids_allocate, sequence_next
from devstore.models import (
    DevAppToken,
    DevCustomer,
    DevDiscountCode,
    DevOrder,
    DevProduct,
    DevRefund,
    DevShop,
    DevVariant,
)
from devstore.oauth import session_token_issue
from devstore.payloads import (
    customer_in_order_payload,
    customer_payload,
    money,
    money_set,
    shop_payload,
    shop_time,
)
from devstore.webhooks import webhook_emit, webhook_outbox

__all__ = [
    "app_uninstall",
    "compliance_customer_data_request",
    "compliance_customer_redact",
    "compliance_shop_redact",
    "customer_create",
    "customer_delete",
    "customer_update",
    "discount_code_create",
    "order_cancel",
    "order_fulfill",
    "order_pay",
    "order_place",
    "order_refund",
    "product_create",
    "session_token_issue",
    "shop_create",
]

CENT = Decimal("0.01")
ZERO = Decimal("0")


@contextmanager
def _store_write():
    with webhook_outbox(), transaction.atomic():
        yield


def _q(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


# --- shops, catalogue, customers ------------------------------------------------------


def shop_create(
    domain: str,
    *,
    name: str = "",
    email: str = "",
    currency: str = "USD",
    iana_timezone: str = "UTC",
    plan: str = "Basic",
) -> DevShop:
    """Create the simulated shop ``domain`` (or return it unchanged when it exists)."""
    from merchants.domains import shop_domain_normalise

    normalised = shop_domain_normalise(domain)
    if normalised is None:
        raise ValueError(f"not a valid shop domain: {domain!r}")
    existing = DevShop.objects.filter(domain=normalised).first()
    if existing is not None:
        return existing
    return DevShop.objects.create(
        domain=normalised,
        shop_id=id_allocate("shop"),
        name=name or normalised.split(".")[0].replace("-", " ").title(),
        email=email or f"owner@{normalised}",
        currency=currency,
        iana_timezone=iana_timezone,
        plan=plan,
    )


def product_create(
    shop: DevShop,
    title: str,
    price: Decimal,
    *,
    tags: Iterable[str] = (),
    gift_card: bool = False,
    sku: str = "",
) -> DevProduct:
    """A product with one default variant (``product.variants.get()``)."""
    with transaction.atomic():
        product = DevProduct.objects.create(
            shop=shop, id=id_allocate("product"), title=title, tags=list(tags), gift_card=gift_card
        )
        DevVariant.objects.create(
            product=product, id=id_allocate("variant"), price=Decimal(price), sku=sku
        )
    return product


def customer_create(
    shop: DevShop,
    email: str,
    first_name: str = "",
    last_name: str = "",
    *,
    tags: Iterable[str] = (),
    at: datetime | None = None,
) -> DevCustomer:
    """A new customer; emits ``customers/create``."""
    moment = at or timezone.now()
    with _store_write():
        customer = DevCustomer.objects.create(
            shop=shop,
            id=id_allocate("customer"),
            email=email,
            first_name=first_name,
            last_name=last_name,
            tags=list(tags),
            created_at=moment,
            updated_at=moment,
        )
        webhook_emit(shop, "customers/create", customer_payload(customer), triggered_at=moment)
    return customer


_CUSTOMER_FIELDS = {"email", "first_name", "last_name", "tags", "state", "note"}


def customer_update(customer: DevCustomer, **changes: Any) -> DevCustomer:
    """Change ``email``/``first_name``/``last_name``/``tags``/``state``/``note``; emits
    ``customers/update``."""
    unknown = set(changes) - _CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"unknown customer fields: {sorted(unknown)}")
    with _store_write():
        for name, value in changes.items():
            setattr(customer, name, list(value) if name == "tags" else value)
        customer.updated_at = timezone.now()
        customer.save(update_fields=[*changes, "updated_at"])
        webhook_emit(customer.shop, "customers/update", customer_payload(customer))
    return customer


def customer_delete(customer: DevCustomer) -> None:
    """Delete the customer (their orders stay, without a customer); emits ``customers/delete``."""
    payload = {"id": customer.id, "tax_exemptions": [], "admin_graphql_api_id": customer.gid}
    shop = customer.shop
    with _store_write():
        customer.delete()
        webhook_emit(shop, "customers/delete", payload)


# --- discount codes -------------------------------------------------------------------


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


# --- checkout -------------------------------------------------------------------------


@dataclass
class _Line:
    variant: DevVariant
    quantity: int
    line_id: int = 0
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    tax_rate: Decimal | None = None
    eligible: bool = False

    @property
    def product(self) -> DevProduct:
        return self.variant.product

    @property
    def total(self) -> Decimal:
        return self.variant.price * self.quantity

    @property
    def taxable(self) -> bool:
        return not self.product.gift_card


@dataclass
class _Applied:
    code: DevDiscountCode
    shipping_discount: Decimal = ZERO
    lines: list[_Line] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return sum((line.discount for line in self.lines), ZERO) + self.shipping_discount


def _discount_check(
    code: DevDiscountCode,
    *,
    customer: DevCustomer | None,
    lines: list[_Line],
    shipping: Decimal,
    at: datetime,
) -> _Applied:
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
    applied = _Applied(code=code)
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
            line.discount = _q(line.total * code.value)
    elif code.applies_on_each_item:
        for line in eligible:
            line.discount = min(_q(code.value * line.quantity), line.total)
    else:
        amount = min(_q(code.value), eligible_subtotal)
        remaining = amount
        for index, line in enumerate(eligible):
            if index == len(eligible) - 1:
                line.discount = remaining
            else:
                line.discount = _q(amount * line.total / eligible_subtotal)
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
    items = _resolve_lines(shop, lines)
    found = DevDiscountCode.objects.filter(
        shop=shop, code_key=code.strip().upper(), deleted_at__isnull=True
    ).first()
    if found is None:
        raise DiscountCodeRefused(f"Enter a valid discount code. {code.strip()} isn't valid.")
    applied = _discount_check(
        found,
        customer=customer,
        lines=items,
        shipping=_q(Decimal(shipping)),
        at=at or timezone.now(),
    )
    return {
        "code": found.code,
        "amount": applied.amount,
        "shipping_discount": applied.shipping_discount,
        "lines": {line.variant.id: line.discount for line in items if line.discount},
    }


def _discount_usage_take(code: DevDiscountCode) -> None:
    """Count one use, refusing (race-safe, by a conditional update) past the limit."""
    limit = Q() if code.usage_limit is None else Q(usage_count__lt=code.usage_limit)
    taken = DevDiscountCode.objects.filter(limit, pk=code.pk).update(
        usage_count=F("usage_count") + 1, updated_at=timezone.now()
    )
    if not taken:
        raise DiscountCodeRefused(f"Discount code {code.code} has reached its usage limit.")


def _resolve_lines(shop: DevShop, lines: Sequence[tuple[DevVariant | int, int]]) -> list[_Line]:
    if not lines:
        raise OrderOperationRefused("An order needs at least one line.")
    ids = [v.id if isinstance(v, DevVariant) else int(v) for v, _ in lines]
    variants = DevVariant.objects.select_related("product").in_bulk(ids)
    out = []
    for variant_id, (_, quantity) in zip(ids, lines, strict=True):
        variant = variants.get(variant_id)
        if variant is None or variant.product.shop_id != shop.pk:
            raise OrderOperationRefused(f"Unknown variant {variant_id}.")
        if int(quantity) < 1:
            raise OrderOperationRefused("Quantities must be at least 1.")
        out.append(_Line(variant=variant, quantity=int(quantity)))
    return out


def _line_item_payload(shop: DevShop, line: _Line, applied: _Applied | None) -> dict[str, Any]:
    currency = shop.currency
    allocations = []
    if line.discount:
        allocations.append(
            {
                "amount": money(line.discount),
                "discount_application_index": 0,
                "amount_set": money_set(line.discount, currency),
            }
        )
    tax_lines = []
    if line.taxable and line.tax_rate is not None:
        tax_lines.append(
            {
                "channel_liable": False,
                "price": money(line.tax),
                "price_set": money_set(line.tax, currency),
                "rate": float(line.tax_rate),
                "title": "Sales tax",
            }
        )
    return {
        "id": line.line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line.line_id}",
        "attributed_staffs": [],
        "current_quantity": line.quantity,
        "fulfillable_quantity": line.quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": line.product.gift_card,
        "grams": 0 if line.product.gift_card else 500,
        "name": line.product.title,
        "price": money(line.variant.price),
        "price_set": money_set(line.variant.price, currency),
        "product_exists": True,
        "product_id": line.product.id,
        "properties": [],
        "quantity": line.quantity,
        "requires_shipping": not line.product.gift_card,
        "sales_line_item_group_id": None,
        "sku": line.variant.sku or None,
        "taxable": line.taxable,
        "title": line.product.title,
        "total_discount": "0.00",
        "total_discount_set": money_set(ZERO, currency),
        "variant_id": line.variant.id,
        "variant_inventory_management": None,
        "variant_title": None if line.variant.title == "Default Title" else line.variant.title,
        "vendor": shop.name,
        "tax_lines": tax_lines,
        "duties": [],
        "discount_allocations": allocations,
    }


def _discount_application(applied: _Applied) -> dict[str, Any]:
    code = applied.code
    if code.kind == DevDiscountCode.Kind.FREE_SHIPPING:
        return {
            "target_type": "shipping_line",
            "type": "discount_code",
            "value": "100.0",
            "value_type": "percentage",
            "allocation_method": "each",
            "target_selection": "all",
            "code": code.code,
        }
    percentage = code.value_type == DevDiscountCode.ValueType.PERCENTAGE
    entitled = bool(code.entitled_variant_ids or code.entitled_product_ids)
    return {
        "target_type": "line_item",
        "type": "discount_code",
        "value": str((code.value * 100).normalize()) if percentage else money(code.value),
        "value_type": "percentage" if percentage else "fixed_amount",
        "allocation_method": "each" if percentage or code.applies_on_each_item else "across",
        "target_selection": "entitled" if entitled else "all",
        "code": code.code,
    }


def order_place(
    shop: DevShop,
    *,
    customer: DevCustomer | None = None,
    email: str | None = None,
    lines: Sequence[tuple[DevVariant | int, int]],
    discount_code: str | None = None,
    shipping: Decimal = ZERO,
    tax_rate: Decimal = ZERO,
    paid: bool = True,
    at: datetime | None = None,
    tags: Iterable[str] = (),
    test: bool = False,
) -> DevOrder:
    """Check out: validate and apply ``discount_code`` (raises ``DiscountCodeRefused`` with
    the reason), build the REST order, emit ``orders/create`` and, when paid, ``orders/paid``."""
    moment = at or timezone.now()
    shipping = _q(Decimal(shipping))
    tax_rate = Decimal(tax_rate)
    order_email = email if email is not None else (customer.email if customer else "")
    with _store_write():
        items = _resolve_lines(shop, lines)
        applied = None
        if discount_code:
            code = (
                DevDiscountCode.objects.select_for_update()
                .filter(shop=shop, code_key=discount_code.strip().upper(), deleted_at__isnull=True)
                .first()
            )
            if code is None:
                raise DiscountCodeRefused(
                    f"Enter a valid discount code. {discount_code.strip()} isn't valid."
                )
            applied = _discount_check(
                code, customer=customer, lines=items, shipping=shipping, at=moment
            )
            _discount_usage_take(code)
        line_ids = ids_allocate("line_item", len(items))
        for line, line_id in zip(items, line_ids, strict=True):
            line.line_id = line_id
            line.tax_rate = tax_rate if tax_rate else None
            line.tax = _q((line.total - line.discount) * tax_rate) if line.taxable else ZERO
        order_id = id_allocate("order")
        number = _order_number_next(shop)
        payload = _order_payload(
            shop,
            order_id=order_id,
            number=number,
            customer=customer,
            email=order_email,
            items=items,
            applied=applied,
            shipping=shipping,
            paid=paid,
            at=moment,
            tags=list(tags),
            test=test,
        )
        order = DevOrder.objects.create(
            shop=shop,
            id=order_id,
            number=number,
            customer=customer,
            email=order_email,
            discount_code=applied.code if applied else None,
            payload=payload,
            financial_status=payload["financial_status"],
            created_at=moment,
            processed_at=moment,
            updated_at=moment,
        )
        webhook_emit(shop, "orders/create", payload, triggered_at=moment)
        if paid:
            webhook_emit(shop, "orders/paid", payload, triggered_at=moment)
    return order


def _order_number_next(shop: DevShop) -> int:
    return sequence_next(f"order_number:{shop.pk}") + 1000


def _order_payload(
    shop: DevShop,
    *,
    order_id: int,
    number: int,
    customer: DevCustomer | None,
    email: str,
    items: list[_Line],
    applied: _Applied | None,
    shipping: Decimal,
    paid: bool,
    at: datetime,
    tags: list[str],
    test: bool,
) -> dict[str, Any]:
    currency = shop.currency
    line_items_total = sum((line.total for line in items), ZERO)
    line_discounts = sum((line.discount for line in items), ZERO)
    shipping_discount = applied.shipping_discount if applied else ZERO
    total_discounts = line_discounts + shipping_discount
    subtotal = line_items_total - line_discounts
    total_tax = sum((line.tax for line in items), ZERO)
    total = subtotal + shipping - shipping_discount + total_tax
    when = shop_time(shop, at)
    token = secrets.token_hex(16)
    tax_rate = next((line.tax_rate for line in items if line.tax_rate is not None), None)
    order_tax_lines = []
    if tax_rate is not None:
        order_tax_lines.append(
            {
                "price": money(total_tax),
                "rate": float(tax_rate),
                "title": "Sales tax",
                "price_set": money_set(total_tax, currency),
                "channel_liable": False,
            }
        )
    shipping_lines = []
    if shipping or shipping_discount:
        shipping_allocations = []
        if shipping_discount:
            shipping_allocations.append(
                {
                    "amount": money(shipping_discount),
                    "discount_application_index": 0,
                    "amount_set": money_set(shipping_discount, currency),
                }
            )
        shipping_lines.append(
            {
                "id": id_allocate("shipping_line"),
                "carrier_identifier": None,
                "code": "Standard",
                "current_discounted_price_set": money_set(shipping - shipping_discount, currency),
                "discounted_price": money(shipping - shipping_discount),
                "discounted_price_set": money_set(shipping - shipping_discount, currency),
                "is_removed": False,
                "phone": None,
                "price": money(shipping),
                "price_set": money_set(shipping, currency),
                "requested_fulfillment_service_id": None,
                "source": "shopify",
                "title": "Standard",
                "tax_lines": [],
                "discount_allocations": shipping_allocations,
            }
        )
    discount_codes = []
    discount_applications = []
    if applied is not None:
        kind = applied.code.kind
        discount_codes.append(
            {
                "code": applied.code.code,
                "amount": money(applied.amount),
                "type": "shipping"
                if kind == DevDiscountCode.Kind.FREE_SHIPPING
                else ("percentage" if applied.code.value_type == "percentage" else "fixed_amount"),
            }
        )
        discount_applications.append(_discount_application(applied))
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": None,
        "cancelled_at": None,
        "cart_token": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": None,
        "confirmation_number": token[:9].upper(),
        "confirmed": True,
        "contact_email": email or None,
        "created_at": when,
        "currency": currency,
        "current_shipping_price_set": money_set(shipping - shipping_discount, currency),
        "current_subtotal_price": money(subtotal),
        "current_subtotal_price_set": money_set(subtotal, currency),
        "current_total_additional_fees_set": None,
        "current_total_discounts": money(total_discounts),
        "current_total_discounts_set": money_set(total_discounts, currency),
        "current_total_duties_set": None,
        "current_total_price": money(total),
        "current_total_price_set": money_set(total, currency),
        "current_total_tax": money(total_tax),
        "current_total_tax_set": money_set(total_tax, currency),
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": discount_codes,
        "duties_included": False,
        "email": email or None,
        "estimated_taxes": False,
        "financial_status": "paid" if paid else "pending",
        "fulfillment_status": None,
        "landing_site": None,
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": None,
        "merchant_of_record_app_id": None,
        "name": f"#{number}",
        "note": None,
        "note_attributes": [],
        "number": number - 1000,
        "order_number": number,
        "order_status_url": f"https://{shop.domain}/{shop.shop_id}/orders/{token}/authenticate",
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["bogus"],
        "phone": None,
        "po_number": None,
        "presentment_currency": currency,
        "processed_at": when,
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "subtotal_price": money(subtotal),
        "subtotal_price_set": money_set(subtotal, currency),
        "tags": ", ".join(tags),
        "tax_exempt": False,
        "tax_lines": order_tax_lines,
        "taxes_included": False,
        "test": test,
        "token": token,
        "total_cash_rounding_payment_adjustment_set": money_set(ZERO, currency),
        "total_cash_rounding_refund_adjustment_set": money_set(ZERO, currency),
        "total_discounts": money(total_discounts),
        "total_discounts_set": money_set(total_discounts, currency),
        "total_line_items_price": money(line_items_total),
        "total_line_items_price_set": money_set(line_items_total, currency),
        "total_outstanding": "0.00" if paid else money(total),
        "total_price": money(total),
        "total_price_set": money_set(total, currency),
        "total_shipping_price_set": money_set(shipping, currency),
        "total_tax": money(total_tax),
        "total_tax_set": money_set(total_tax, currency),
        "total_tip_received": "0.00",
        "total_weight": sum(500 * line.quantity for line in items if line.taxable),
        "updated_at": when,
        "user_id": None,
        "billing_address": None,
        "customer": customer_in_order_payload(customer) if customer else None,
        "discount_applications": discount_applications,
        "fulfillments": [],
        "line_items": [_line_item_payload(shop, line, applied) for line in items],
        "payment_terms": None,
        "refunds": [],
        "shipping_address": None,
        "shipping_lines": shipping_lines,
        "returns": [],
        "line_item_groups": [],
    }


# --- after checkout -------------------------------------------------------------------


def _order_locked(order: DevOrder) -> DevOrder:
    return DevOrder.objects.select_for_update().select_related("shop").get(pk=order.pk)


def _order_touch(order: DevOrder, moment: datetime, fields: list[str]) -> None:
    order.updated_at = moment
    order.payload["updated_at"] = shop_time(order.shop, moment)
    order.save(update_fields=[*fields, "payload", "updated_at"])


def order_pay(order: DevOrder, *, at: datetime | None = None) -> DevOrder:
    """Capture payment of a pending order; emits ``orders/paid``."""
    moment = at or timezone.now()
    with _store_write():
        order = _order_locked(order)
        if order.financial_status != "pending" or order.cancelled_at is not None:
            raise OrderOperationRefused(f"Order {order} is {order.financial_status}, not pending.")
        order.financial_status = "paid"
        order.payload["financial_status"] = "paid"
        order.payload["total_outstanding"] = "0.00"
        _order_touch(order, moment, ["financial_status"])
        webhook_emit(order.shop, "orders/paid", order.payload, triggered_at=moment)
    return order


def order_fulfill(order: DevOrder, *, at: datetime | None = None) -> DevOrder:
    """Ship every line; emits ``orders/fulfilled``."""
    moment = at or timezone.now()
    with _store_write():
        order = _order_locked(order)
        if order.cancelled_at is not None or order.fulfillment_status == "fulfilled":
            raise OrderOperationRefused(f"Order {order} cannot be fulfilled.")
        shop = order.shop
        fulfillment_id = id_allocate("fulfillment")
        order.payload["fulfillments"].append(
            {
                "id": fulfillment_id,
                "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
                "created_at": shop_time(shop, moment),
                "name": f"{order.payload['name']}.1",
                "order_id": order.id,
                "status": "success",
                "tracking_company": None,
                "tracking_number": None,
                "updated_at": shop_time(shop, moment),
                "line_items": order.payload["line_items"],
            }
        )
        order.payload["fulfillment_status"] = "fulfilled"
        for line in order.payload["line_items"]:
            line["fulfillment_status"] = "fulfilled"
            line["fulfillable_quantity"] = 0
        order.fulfillment_status = "fulfilled"
        _order_touch(order, moment, ["fulfillment_status"])
        webhook_emit(shop, "orders/fulfilled", order.payload, triggered_at=moment)
    return order


_REFUND_LINE_ITEM_KEYS = [
    "id",
    "variant_id",
    "title",
    "quantity",
    "sku",
    "variant_title",
    "vendor",
    "fulfillment_service",
    "product_id",
    "requires_shipping",
    "taxable",
    "gift_card",
    "name",
    "variant_inventory_management",
    "properties",
    "product_exists",
    "fulfillable_quantity",
    "grams",
    "price",
    "total_discount",
    "fulfillment_status",
    "price_set",
    "total_discount_set",
    "discount_allocations",
    "duties",
    "admin_graphql_api_id",
    "tax_lines",
]


def _refunded_so_far(order: DevOrder) -> dict[int, tuple[int, Decimal, Decimal]]:
    """line item id → (quantity, subtotal, tax) already refunded."""
    done: dict[int, tuple[int, Decimal, Decimal]] = {}
    for refund in order.payload.get("refunds", []):
        for item in refund["refund_line_items"]:
            qty, sub, tax = done.get(item["line_item_id"], (0, ZERO, ZERO))
            done[item["line_item_id"]] = (
                qty + item["quantity"],
                sub + Decimal(item["subtotal_set"]["shop_money"]["amount"]),
                tax + Decimal(item["total_tax_set"]["shop_money"]["amount"]),
            )
    return done


def order_refund(
    order: DevOrder,
    lines: Sequence[tuple[dict[str, Any] | int, int]] = (),
    shipping: Decimal = ZERO,
    note: str = "",
    *,
    at: datetime | None = None,
) -> DevRefund:
    """Refund ``(line item or its id, quantity)`` pairs and/or shipping; emits
    ``refunds/create`` with the REST Refund resource."""
    moment = at or timezone.now()
    shipping = _q(Decimal(shipping))
    with _store_write():
        order = _order_locked(order)
        shop = order.shop
        currency = shop.currency
        if order.financial_status not in {"paid", "partially_refunded"}:
            raise OrderOperationRefused(f"Order {order} is {order.financial_status}: no refund.")
        by_id = {item["id"]: item for item in order.payload["line_items"]}
        done = _refunded_so_far(order)
        refund_id = id_allocate("refund")
        refund_items = []
        subtotal_sum = tax_sum = ZERO
        for ref, quantity in lines:
            line_id = ref["id"] if isinstance(ref, dict) else int(ref)
            item = by_id.get(line_id)
            if item is None:
                raise OrderOperationRefused(f"Line item {line_id} is not on order {order}.")
            qty_done, sub_done, tax_done = done.get(line_id, (0, ZERO, ZERO))
            if quantity < 1 or qty_done + quantity > item["quantity"]:
                raise OrderOperationRefused(
                    f"Cannot refund {quantity} of line {line_id}: "
                    f"{item['quantity'] - qty_done} refundable."
                )
            discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), ZERO)
            net = Decimal(item["price"]) * item["quantity"] - discount
            tax = sum((Decimal(t["price"]) for t in item["tax_lines"]), ZERO)
            if qty_done + quantity == item["quantity"]:
                sub, sub_tax = net - sub_done, tax - tax_done
            else:
                sub = _q(net * quantity / item["quantity"])
                sub_tax = _q(tax * quantity / item["quantity"])
            done[line_id] = (qty_done + quantity, sub_done + sub, tax_done + sub_tax)
            subtotal_sum += sub
            tax_sum += sub_tax
            line_copy = {key: item[key] for key in _REFUND_LINE_ITEM_KEYS}
            refund_items.append(
                {
                    "id": id_allocate("line_item"),
                    "quantity": quantity,
                    "line_item_id": line_id,
                    "location_id": None,
                    "restock_type": "no_restock",
                    "subtotal": float(sub),
                    "total_tax": float(sub_tax),
                    "subtotal_set": money_set(sub, currency),
                    "total_tax_set": money_set(sub_tax, currency),
                    "line_item": line_copy,
                }
            )
            item["current_quantity"] = item["quantity"] - done[line_id][0]
        refunded_shipping_before = sum(
            (
                -Decimal(adj["amount"])
                for refund in order.payload["refunds"]
                for adj in refund["order_adjustments"]
                if adj["kind"] == "shipping_refund"
            ),
            ZERO,
        )
        shipping_paid = Decimal(order.payload["current_shipping_price_set"]["shop_money"]["amount"])
        if shipping > shipping_paid:
            raise OrderOperationRefused(f"Only {money(shipping_paid)} of shipping is refundable.")
        if not refund_items and not shipping:
            raise OrderOperationRefused("Nothing to refund.")
        adjustments = []
        if shipping:
            adjustments.append(
                {
                    "id": id_allocate("transaction"),
                    "order_id": order.id,
                    "refund_id": refund_id,
                    "amount": money(-shipping),
                    "tax_amount": "0.00",
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount_set": money_set(-shipping, currency),
                    "tax_amount_set": money_set(ZERO, currency),
                }
            )
        amount = subtotal_sum + tax_sum + shipping
        transaction_id = id_allocate("transaction")
        when = shop_time(shop, moment)
        refund_payload = {
            "id": refund_id,
            "order_id": order.id,
            "created_at": when,
            "note": note or None,
            "user_id": None,
            "processed_at": when,
            "duties": [],
            "total_duties_set": money_set(ZERO, currency),
            "return": None,
            "restock": False,
            "refund_shipping_lines": [],
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
            "order_adjustments": adjustments,
            "refund_line_items": refund_items,
            "transactions": [
                {
                    "id": transaction_id,
                    "order_id": order.id,
                    "kind": "refund",
                    "gateway": "bogus",
                    "status": "success",
                    "message": "Refunded",
                    "created_at": when,
                    "test": bool(order.payload.get("test")),
                    "authorization": None,
                    "location_id": None,
                    "user_id": None,
                    "parent_id": None,
                    "processed_at": when,
                    "device_id": None,
                    "error_code": None,
                    "source_name": "web",
                    "receipt": {},
                    "amount": money(amount),
                    "currency": currency,
                    "payment_id": f"{order.payload['name']}.1",
                    "total_unsettled_set": {
                        "presentment_money": {"amount": "0.0", "currency": currency},
                        "shop_money": {"amount": "0.0", "currency": currency},
                    },
                    "manual_payment_gateway": False,
                    "amount_rounding": None,
                    "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}",
                }
            ],
        }
        refund = DevRefund.objects.create(
            order=order, id=refund_id, payload=refund_payload, created_at=moment
        )
        order.payload["refunds"].append(refund_payload)
        _order_totals_after_refund(order, shipping_refunded=refunded_shipping_before + shipping)
        _order_touch(order, moment, ["financial_status"])
        webhook_emit(shop, "refunds/create", refund_payload, triggered_at=moment)
    return refund


def _order_totals_after_refund(order: DevOrder, *, shipping_refunded: Decimal) -> None:
    payload = order.payload
    currency = order.shop.currency
    done = _refunded_so_far(order)
    refunded_sub = sum((sub for _, sub, _ in done.values()), ZERO)
    refunded_tax = sum((tax for _, _, tax in done.values()), ZERO)
    refunded_discount = ZERO
    for item in payload["line_items"]:
        qty = done.get(item["id"], (0, ZERO, ZERO))[0]
        if qty:
            discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), ZERO)
            refunded_discount += _q(discount * qty / item["quantity"])
    subtotal = Decimal(payload["subtotal_price"]) - refunded_sub
    tax = Decimal(payload["total_tax"]) - refunded_tax
    total = Decimal(payload["total_price"]) - refunded_sub - refunded_tax - shipping_refunded
    discounts = Decimal(payload["total_discounts"]) - refunded_discount
    shipping_left = (
        Decimal(payload["total_shipping_price_set"]["shop_money"]["amount"])
        - sum(
            (
                Decimal(a["amount"])
                for s in payload["shipping_lines"]
                for a in s["discount_allocations"]
            ),
            ZERO,
        )
        - shipping_refunded
    )
    payload.update(
        current_subtotal_price=money(subtotal),
        current_subtotal_price_set=money_set(subtotal, currency),
        current_total_tax=money(tax),
        current_total_tax_set=money_set(tax, currency),
        current_total_price=money(total),
        current_total_price_set=money_set(total, currency),
        current_total_discounts=money(discounts),
        current_total_discounts_set=money_set(discounts, currency),
        current_shipping_price_set=money_set(shipping_left, currency),
    )
    fully = total <= ZERO
    order.financial_status = "refunded" if fully else "partially_refunded"
    payload["financial_status"] = order.financial_status


def order_cancel(
    order: DevOrder, *, reason: str = "customer", refund: bool = True, at: datetime | None = None
) -> DevOrder:
    """Cancel; a paid order is refunded in full first (``refunds/create``) when ``refund``.
    Emits ``orders/cancelled``."""
    moment = at or timezone.now()
    with _store_write():
        order = _order_locked(order)
        if order.cancelled_at is not None:
            raise OrderOperationRefused(f"Order {order} is already cancelled.")
        if refund and order.financial_status in {"paid", "partially_refunded"}:
            done = _refunded_so_far(order)
            remaining = [
                (item["id"], item["quantity"] - done.get(item["id"], (0, ZERO, ZERO))[0])
                for item in order.payload["line_items"]
            ]
            shipping_left = Decimal(
                order.payload["current_shipping_price_set"]["shop_money"]["amount"]
            )
            order_refund(
                order,
                [(line_id, qty) for line_id, qty in remaining if qty > 0],
                shipping=shipping_left,
                note="Order cancelled",
                at=moment,
            )
            order.refresh_from_db()
        elif order.financial_status == "pending":
            order.financial_status = "voided"
            order.payload["financial_status"] = "voided"
        order.cancelled_at = moment
        order.payload["cancelled_at"] = shop_time(order.shop, moment)
        order.payload["cancel_reason"] = reason
        _order_touch(order, moment, ["financial_status", "cancelled_at"])
        webhook_emit(order.shop, "orders/cancelled", order.payload, triggered_at=moment)
    return order


# --- compliance and uninstall ---------------------------------------------------------


def compliance_customer_data_request(customer: DevCustomer) -> dict[str, Any]:
    """Emit ``customers/data_request`` for ``customer``; returns the payload."""
    shop = customer.shop
    payload = {
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain,
        "customer": {"id": customer.id, "email": customer.email or None, "phone": None},
        "orders_requested": list(
            DevOrder.objects.filter(customer=customer).values_list("id", flat=True)
        ),
        "data_request": {"id": id_allocate("transaction") % 10_000_000},
    }
    with _store_write():
        webhook_emit(shop, "customers/data_request", payload)
    return payload


def compliance_customer_redact(customer: DevCustomer) -> dict[str, Any]:
    """Emit ``customers/redact`` for ``customer``; returns the payload."""
    shop = customer.shop
    payload = {
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain,
        "customer": {"id": customer.id, "email": customer.email or None, "phone": None},
        "orders_to_redact": list(
            DevOrder.objects.filter(customer=customer).values_list("id", flat=True)
        ),
    }
    with _store_write():
        webhook_emit(shop, "customers/redact", payload)
    return payload


def compliance_shop_redact(shop: DevShop) -> dict[str, Any]:
    """Emit ``shop/redact`` (the platform sends it ~48 h after an uninstall)."""
    payload = {"shop_id": shop.shop_id, "shop_domain": shop.domain}
    with _store_write():
        webhook_emit(shop, "shop/redact", payload)
    return payload


def app_uninstall(shop: DevShop) -> DevShop:
    """The merchant removes the app: every token dies; emits ``app/uninstalled``."""
    now = timezone.now()
    with _store_write():
        DevAppToken.objects.filter(shop=shop, revoked_at__isnull=True).update(revoked_at=now)
        DevShop.objects.filter(pk=shop.pk).update(app_installed_at=None)
        shop.app_installed_at = None
        webhook_emit(shop, "app/uninstalled", shop_payload(shop))
    return shop
