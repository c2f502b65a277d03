"""The platform's order and refund webhook bodies the benches send: a paid order of bench
products with one standard shipping line, and the refund of one of its lines (shop and
presentment money in USD, no tax, no discounts). Each bench decides the ids, the shopper
and the lines."""

from __future__ import annotations

from typing import Any

CREATED_AT = "2026-11-27T09:00:00-05:00"
REFUNDED_AT = "2026-11-27T10:00:00-05:00"
SHIPPING_CENTS = 700


def money(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def _cents(value: int) -> str:
    return f"{value / 100:.2f}"


def paid_order(
    *,
    order_id: int,
    name: str,
    customer_id: int,
    email: str,
    last_name: str,
    lines: list[tuple[int, int, int]],
    shipping_line_id: int,
) -> dict[str, Any]:
    """``orders/paid`` for ``lines`` of (line id, unit price in cents, quantity)."""
    subtotal = sum(price * qty for _, price, qty in lines)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": name,
        "email": email,
        "contact_email": email,
        "created_at": CREATED_AT,
        "processed_at": CREATED_AT,
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "taxes_included": False,
        "subtotal_price": _cents(subtotal),
        "subtotal_price_set": money(_cents(subtotal)),
        "total_price": _cents(subtotal + SHIPPING_CENTS),
        "total_price_set": money(_cents(subtotal + SHIPPING_CENTS)),
        "discount_codes": [],
        "customer": {
            "id": customer_id,
            "email": email,
            "first_name": "Shopper",
            "last_name": last_name,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        },
        "line_items": [
            {
                "id": line_id,
                "product_id": 900 + line_id % 50,
                "variant_id": 1900 + line_id % 50,
                "title": "Bench product",
                "gift_card": False,
                "price": _cents(price),
                "price_set": money(_cents(price)),
                "quantity": qty,
                "current_quantity": qty,
                "discount_allocations": [],
                "tax_lines": [],
            }
            for line_id, price, qty in lines
        ],
        "shipping_lines": [
            {
                "id": shipping_line_id,
                "title": "Standard",
                "price": _cents(SHIPPING_CENTS),
                "price_set": money(_cents(SHIPPING_CENTS)),
            }
        ],
    }


def line_refund(
    *, refund_id: int, order_id: int, refund_line_id: int, line: tuple[int, int, int]
) -> dict[str, Any]:
    """``refunds/create`` giving back the whole of ``line`` (line id, cents, quantity)."""
    line_id, price, qty = line
    amount = _cents(price * qty)
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": REFUNDED_AT,
        "refund_line_items": [
            {
                "id": refund_line_id,
                "line_item_id": line_id,
                "quantity": qty,
                "subtotal": amount,
                "subtotal_set": money(amount),
                "total_tax": "0.00",
                "total_tax_set": money("0.00"),
                "line_item": {"id": line_id, "product_id": 900 + line_id % 50, "gift_card": False},
            }
        ],
        "order_adjustments": [],
        "refund_shipping_lines": [],
    }
