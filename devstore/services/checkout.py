"""Checkout: the cart priced, the code applied and the REST order built and emitted."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from devstore.errors import DiscountCodeRefused
from devstore.identifiers import id_allocate, ids_allocate, sequence_next
from devstore.models import DevCustomer, DevDiscountCode, DevOrder, DevShop, DevVariant
from devstore.payloads import customer_in_order_payload, money, money_set, shop_time
from devstore.services.cart import Applied, Line, resolve_lines
from devstore.services.discounts import discount_check, discount_usage_take
from devstore.services.writes import ZERO, cents, store_write
from devstore.webhooks import webhook_emit


def _line_item_payload(shop: DevShop, line: Line, applied: Applied | None) -> dict[str, Any]:
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


def _discount_application(applied: Applied) -> dict[str, Any]:
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
    shipping_address: dict[str, Any] | None = None,
) -> DevOrder:
    """Check out: validate and apply ``discount_code`` (raises ``DiscountCodeRefused`` with
    the reason), build the REST order, emit ``orders/create`` and, when paid, ``orders/paid``.
    ``shipping_address``: the REST address fields (``address1``, ``zip``, ``country_code``…)."""
    moment = at or timezone.now()
    shipping = cents(Decimal(shipping))
    tax_rate = Decimal(tax_rate)
    order_email = email if email is not None else (customer.email if customer else "")
    with store_write():
        items = resolve_lines(shop, lines)
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
            applied = discount_check(
                code, customer=customer, lines=items, shipping=shipping, at=moment
            )
            discount_usage_take(code)
        line_ids = ids_allocate("line_item", len(items))
        for line, line_id in zip(items, line_ids, strict=True):
            line.line_id = line_id
            line.tax_rate = tax_rate if tax_rate else None
            line.tax = _line_tax(line, tax_rate, included=shop.taxes_included)
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
            shipping_address=shipping_address,
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


def _line_tax(line: Line, tax_rate: Decimal, *, included: bool) -> Decimal:
    """The line's tax: on top of its net amount, or the part of it that is tax when the
    shop's prices include tax (``net * rate / (1 + rate)``)."""
    if not line.taxable:
        return ZERO
    net = line.total - line.discount
    return cents(net * tax_rate / (1 + tax_rate)) if included else cents(net * tax_rate)


def _order_number_next(shop: DevShop) -> int:
    return sequence_next(f"order_number:{shop.pk}") + 1000


def _order_payload(
    shop: DevShop,
    *,
    order_id: int,
    number: int,
    customer: DevCustomer | None,
    email: str,
    items: list[Line],
    applied: Applied | None,
    shipping: Decimal,
    paid: bool,
    at: datetime,
    tags: list[str],
    test: bool,
    shipping_address: dict[str, Any] | None = None,
) -> dict[str, Any]:
    currency = shop.currency
    line_items_total = sum((line.total for line in items), ZERO)
    line_discounts = sum((line.discount for line in items), ZERO)
    shipping_discount = applied.shipping_discount if applied else ZERO
    total_discounts = line_discounts + shipping_discount
    subtotal = line_items_total - line_discounts
    total_tax = sum((line.tax for line in items), ZERO)
    # Tax-inclusive prices already hold their tax: it is reported, not added.
    total = subtotal + shipping - shipping_discount + (ZERO if shop.taxes_included else total_tax)
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
        "taxes_included": shop.taxes_included,
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
        "shipping_address": dict(shipping_address) if shipping_address else None,
        "shipping_lines": shipping_lines,
        "returns": [],
        "line_item_groups": [],
    }
