"""What the chaos bench sends, and the independent model of what Beam must end with.

Everything is deterministic from the sizes, so the client processes (forked) and the
checks rebuild the same deliveries. The orders are kept simple enough that the model is
small and obviously right: whole-unit prices, a 10 % tax line on every line that is never
counted (``include_tax`` off), 1 point per unit rounded down (so points = base), a refund
always gives back its order's whole first line (so it reverses exactly that line's base).
A third of the orders are ``taxes_included``: their line prices contain the tax, so the
base of a line is ``price * quantity - tax``, for the order and for its refund alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHOP = "chaos-store.myshopify.com"
CUSTOMER_BASE = 7_700_000_000_000
ORDER_BASE = 5_500_000_000
REFUND_BASE = 8_800_000_000
WELCOME_POINTS = 100
REWARD_COST = 50
CREATED_AT = "2026-11-27T09:00:00-05:00"


@dataclass(frozen=True)
class Sizes:
    orders: int
    customers: int
    redeemers: int


@dataclass(frozen=True)
class Item:
    """One delivery: topic, the number of its order or customer, webhook and event ids."""

    topic: str
    n: int
    webhook_id: str
    event_id: str


def _money(units: int) -> dict[str, Any]:
    amount = f"{units}.00"
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def customer_id(c: int) -> int:
    return CUSTOMER_BASE + c


def is_redeemer(sizes: Sizes, c: int) -> bool:
    """Every tenth customer, up to ``sizes.redeemers``: they redeem once through the app
    proxy, and their orders are never refunded (a reversal after a redemption could meet a
    balance too small for it, which the deduct-to-zero policy records as a shortfall)."""
    return c % 10 == 0 and c // 10 < sizes.redeemers


def customer_of(sizes: Sizes, n: int) -> int:
    return (n * 7919) % sizes.customers


def taxes_included(n: int) -> bool:
    """A third of the orders; some of their refunds come first, some after them."""
    return n % 3 == 1


def order_lines(n: int) -> list[tuple[int, int, int, int]]:
    """(line id, unit price, quantity, tax) of order ``n``, in whole currency units; the tax
    is 10 % of the line, rounded down."""
    lines = []
    for k in range(1 + n % 2):
        price = 5 + (n * 31 + k * 17) % 60
        qty = 1 + (n + k) % 2
        lines.append((n * 10 + k, price, qty, price * qty // 10))
    return lines


def line_base(n: int, price: int, qty: int, tax: int) -> int:
    """A line's earning base: tax is never counted, and taxes-included prices contain it."""
    return price * qty - (tax if taxes_included(n) else 0)


def has_refund(sizes: Sizes, n: int) -> bool:
    return n % 5 == 1 and not is_redeemer(sizes, customer_of(sizes, n))


def refund_first(n: int) -> bool:
    """Half of the refunds reach Beam before their order does."""
    return n % 10 == 1


def order_payload(sizes: Sizes, n: int) -> dict[str, Any]:
    lines = order_lines(n)
    subtotal = sum(price * qty for _, price, qty, _ in lines)
    tax = sum(t for *_, t in lines)
    total = subtotal + 7 + (0 if taxes_included(n) else tax)
    c = customer_of(sizes, n)
    email = f"shopper{c}@example.com"
    return {
        "id": ORDER_BASE + n,
        "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_BASE + n}",
        "name": f"#{1000 + n}",
        "email": email,
        "contact_email": email,
        "created_at": CREATED_AT,
        "processed_at": CREATED_AT,
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "test": False,
        "taxes_included": taxes_included(n),
        "subtotal_price": f"{subtotal}.00",
        "subtotal_price_set": _money(subtotal),
        "total_tax": f"{tax}.00",
        "total_tax_set": _money(tax),
        "total_price": f"{total}.00",
        "total_price_set": _money(total),
        "discount_codes": [],
        "customer": {
            "id": customer_id(c),
            "email": email,
            "first_name": "Shopper",
            "last_name": f"N{c}",
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id(c)}",
        },
        "line_items": [
            {
                "id": line_id,
                "product_id": 900 + line_id % 50,
                "variant_id": 1900 + line_id % 50,
                "title": "Chaos product",
                "gift_card": False,
                "price": f"{price}.00",
                "price_set": _money(price),
                "quantity": qty,
                "current_quantity": qty,
                "discount_allocations": [],
                "tax_lines": [
                    {"title": "VAT", "rate": 0.1, "price": f"{t}.00", "price_set": _money(t)}
                ],
            }
            for line_id, price, qty, t in lines
        ],
        "shipping_lines": [{"id": n, "title": "Standard", "price": "7.00", "price_set": _money(7)}],
    }


def refund_payload(n: int) -> dict[str, Any]:
    """The whole first line back (its subtotal includes the tax when the order's prices do)."""
    line_id, price, qty, tax = order_lines(n)[0]
    return {
        "id": REFUND_BASE + n,
        "order_id": ORDER_BASE + n,
        "created_at": "2026-11-27T10:00:00-05:00",
        "refund_line_items": [
            {
                "id": 9_000_000 + n,
                "line_item_id": line_id,
                "quantity": qty,
                "subtotal": f"{price * qty}.00",
                "subtotal_set": _money(price * qty),
                "total_tax": f"{tax}.00",
                "total_tax_set": _money(tax),
                "line_item": {"id": line_id, "product_id": 900 + line_id % 50, "gift_card": False},
            }
        ],
        "order_adjustments": [],
        "refund_shipping_lines": [],
    }


def customer_payload(c: int) -> dict[str, Any]:
    return {
        "id": customer_id(c),
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id(c)}",
        "email": f"shopper{c}@example.com",
        "first_name": "Shopper",
        "last_name": f"N{c}",
        "state": "enabled",
        "created_at": CREATED_AT,
        "updated_at": CREATED_AT,
    }


def payload_of(sizes: Sizes, item: Item) -> dict[str, Any]:
    if item.topic == "orders/paid":
        return order_payload(sizes, item.n)
    if item.topic == "refunds/create":
        return refund_payload(item.n)
    return customer_payload(item.n)


def plan(sizes: Sizes) -> list[Item]:
    """The deliveries in sending order. Redeemers' ``customers/create`` come first (they
    need their welcome points to redeem); two thirds of the others just before their
    customer's first order, the rest 30 deliveries after it (the order makes the member,
    the welcome comes later). Half of the refunds precede their order, half follow it by
    40 deliveries. Every 10th delivery is sent again 25 deliveries later (same webhook id:
    the platform's retry) and every 15th 40 later under a new webhook id with the same
    event id (the platform's redelivery of one event)."""

    def one(topic: str, n: int) -> Item:
        wid = f"chaos-{topic.replace('/', '-')}-{n}"
        return Item(topic, n, wid, f"evt-{wid}")

    items: list[Item] = []
    later: dict[int, list[Item]] = {}
    welcomed: set[int] = set()
    for c in range(sizes.customers):
        if is_redeemer(sizes, c):
            items.append(one("customers/create", c))
            welcomed.add(c)
    for n in range(sizes.orders):
        items.extend(later.pop(n, []))
        c = customer_of(sizes, n)
        if c not in welcomed:
            welcomed.add(c)
            if c % 3:
                items.append(one("customers/create", c))
            else:
                later.setdefault(n + 30, []).append(one("customers/create", c))
        if has_refund(sizes, n) and refund_first(n):
            items.append(one("refunds/create", n))
        items.append(one("orders/paid", n))
        if has_refund(sizes, n) and not refund_first(n):
            later.setdefault(n + 40, []).append(one("refunds/create", n))
    for n in sorted(later):
        items.extend(later[n])
    for c in range(sizes.customers):
        if c not in welcomed:
            items.append(one("customers/create", c))
    out: list[Item] = []
    again: dict[int, list[Item]] = {}
    for i, item in enumerate(items):
        out.extend(again.pop(i, []))
        out.append(item)
        if i % 10 == 5:
            again.setdefault(i + 25, []).append(item)
        if i % 15 == 7:
            redelivery = Item(item.topic, item.n, f"{item.webhook_id}-again", item.event_id)
            again.setdefault(i + 40, []).append(redelivery)
    for i in sorted(again):
        out.extend(again[i])
    return out


@dataclass
class Expected:
    """The model's figures: each member's balance before redemptions, each order's points
    earned and reversed."""

    balances: dict[int, int] = field(default_factory=dict)  # customer id -> points
    earned: dict[int, int] = field(default_factory=dict)  # order id -> points
    reversed: dict[int, int] = field(default_factory=dict)  # order id -> points


def expected(sizes: Sizes, items: list[Item]) -> Expected:
    """What Beam must end with, from what was sent: 1 point per unit of each order's line
    bases; a refund of the first line reverses that line's base; 100 welcome points once per
    ``customers/create``d customer. Redemptions are applied by the caller."""
    out = Expected()
    orders = {i.n for i in items if i.topic == "orders/paid"}
    refunds = {i.n for i in items if i.topic == "refunds/create"}
    created = {i.n for i in items if i.topic == "customers/create"}
    for c in created:
        out.balances[customer_id(c)] = WELCOME_POINTS
    for n in sorted(orders):
        lines = order_lines(n)
        earned = sum(line_base(n, price, qty, tax) for _, price, qty, tax in lines)
        back = line_base(n, *order_lines(n)[0][1:]) if n in refunds else 0
        out.earned[ORDER_BASE + n] = earned
        out.reversed[ORDER_BASE + n] = back
        cid = customer_id(customer_of(sizes, n))
        out.balances[cid] = out.balances.get(cid, 0) + earned - back
    return out
