"""The tier bench's shop: members and two years of orders loaded set-based, the tier
settings it changes, and the deliveries its drain credits.

The history is generated in the database (``INSERT … SELECT generate_series``, a fixed
seed): customer ``CUSTOMER_BASE + k`` is member ``k`` (1..M); an order belongs to member
``1 + floor(M * random()^1.5)`` (low ``k`` buy more: a long tail of loyal shoppers, many
members with one order or none), placed uniformly over the last 730 days, 22.00 to 202.00
with 7.00 of shipping, 1 point per unit of the goods; every 50th order cancelled, every
25th refunded by half. Secondary indexes are dropped for the load and built again after it,
then ``VACUUM (ANALYZE)``: the planner statistics and visibility map a production database
has.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

CUSTOMER_BASE = 7_700_000_000_000
ORDER_BASE = 1_000_000_000
NEW_CUSTOMER_BASE = 7_800_000_000_000  # shoppers of the drain who are not members yet
TABLES = ("loyalty_member", "loyalty_loyaltyorder")

MEMBERS_SQL = """
INSERT INTO loyalty_member (shop_id, customer_id, email, first_name, last_name,
    balance, pending_points, lifetime_earned, lifetime_redeemed, negative_balance_allowed,
    last_activity_at, redacted, created_at, updated_at, tier_multiplier)
SELECT %(shop)s, %(base)s + k, 'm' || k || '@example.com', 'Member', '', 0, 0, 0, 0,
    false, NULL, false, now() - (k %% 730) * interval '1 day', now(), 1
FROM generate_series(1, %(members)s) AS k
"""

ORDERS_SQL = """
INSERT INTO loyalty_loyaltyorder (shop_id, order_id, order_gid, name, member_id, customer_id,
    email, currency, placed_at, taxes_included, total_price, subtotal_price, discount_codes,
    state, base, multiplier, points_due, points_earned, points_pending, points_reversed,
    points_shortfall, refunded_base, tier_multiplier, spend_goods, spend_discounts,
    spend_shipping, spend_tax, spend_refunded_goods, spend_refunded_discounts,
    spend_refunded_shipping, spend_refunded_tax, triggered_at, credited_at, release_at,
    cancelled_at, created_at, updated_at)
SELECT %(shop)s, %(order_base)s + o.g, '', '#' || o.g, o.k + %(first_member)s - 1,
    %(base)s + o.k, '', 'USD', o.placed_at, false, o.goods + 7, o.goods, '[]'::jsonb,
    CASE WHEN o.g %% 50 = 0 THEN 'cancelled' ELSE 'credited' END,
    o.goods, 1, floor(o.goods)::int, floor(o.goods)::int, 0,
    CASE WHEN o.g %% 50 = 0 THEN floor(o.goods)::int
         WHEN o.g %% 25 = 7 THEN floor(o.goods / 2)::int ELSE 0 END,
    0, CASE WHEN o.g %% 25 = 7 THEN round(o.goods / 2, 2) ELSE 0 END, 1,
    o.goods, CASE WHEN o.g %% 5 = 0 THEN 5 ELSE 0 END, 7, 0,
    CASE WHEN o.g %% 25 = 7 THEN round(o.goods / 2, 2) ELSE 0 END, 0, 0, 0,
    o.placed_at, o.placed_at, NULL,
    CASE WHEN o.g %% 50 = 0 THEN o.placed_at + interval '1 day' END,
    o.placed_at, now()
FROM (
    SELECT g, 1 + floor(%(members)s * power(random(), 1.5))::bigint AS k,
        now() - random() * interval '730 days' AS placed_at,
        round((15 + random() * 180)::numeric, 2) AS goods
    FROM generate_series(1, %(orders)s) AS g
) o
"""


def history_load(*, shop_id: int, members: int, orders: int) -> dict[str, float]:
    """Members 1..``members`` and ``orders`` orders of the shop, set-based; returns the
    seconds each step took. Precondition: the shop has no members or orders yet."""
    from django.db import connection

    seconds: dict[str, float] = {}
    params: dict[str, Any] = {
        "shop": shop_id,
        "base": CUSTOMER_BASE,
        "members": members,
        "orders": orders,
        "order_base": ORDER_BASE,
    }
    with connection.cursor() as cursor:
        restore = _indexes_drop(cursor)
        # This session only: the rows are right by construction (foreign keys not checked).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("SELECT setseed(0.42)")
        started = time.perf_counter()
        cursor.execute(MEMBERS_SQL, params)
        cursor.execute("SELECT min(id) FROM loyalty_member WHERE shop_id = %s", [shop_id])
        params["first_member"] = cursor.fetchone()[0]
        seconds["members_s"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute(ORDERS_SQL, params)
        seconds["orders_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for statement in restore:
            cursor.execute(statement)
        seconds["indexes_s"] = time.perf_counter() - started
        cursor.execute("SET session_replication_role = DEFAULT")
        started = time.perf_counter()
        for table in TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        seconds["vacuum_analyze_s"] = time.perf_counter() - started
    return seconds


def _indexes_drop(cursor: Any) -> list[str]:
    """Drop the secondary indexes and unique constraints of the loaded tables; returns the
    statements that build them again (one sort each instead of millions of inserts)."""
    restore: list[str] = []
    for table in TABLES:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
            restore.append(definition)
    return restore


# --- the settings ---------------------------------------------------------------------------


def draft_enable() -> Any:
    """Tiers turned on for a shop with history: points over a rolling 12 months, a base tier
    every member reaches (so every member is written: the heaviest recompute)."""
    from loyalty.services.tiers_recompute import TierDraft, TierDraftTier

    return TierDraft(
        tiers=(
            TierDraftTier("Bronze", Decimal(0)),
            TierDraftTier("Silver", Decimal(500), Decimal("1.25"), ("Free shipping",), 100),
            TierDraftTier("Gold", Decimal(1500), Decimal("1.5"), ("Early access",), 300),
        ),
        metric="points",
        window="rolling",
    )


def draft_change(*, shop: Any) -> Any:
    """The settings change: amount spent instead of points, lower money thresholds and a
    new top tier (members keep a tier held in its grace: the admin's default)."""
    from loyalty.services.tiers_recompute import TierDraft, TierDraftTier, tier_draft_current

    current = tier_draft_current(shop=shop)
    by_name = {t.name: t for t in current.tiers}
    thresholds = {"Bronze": "0", "Silver": "400", "Gold": "1200"}
    kept = tuple(
        TierDraftTier(
            t.name, Decimal(thresholds[t.name]), t.multiplier, t.perks, t.entry_points, t.tier_id
        )
        for t in by_name.values()
    )
    platinum = TierDraftTier("Platinum", Decimal(3000), Decimal(2), ("Concierge",), 500)
    return TierDraft(tiers=(*kept, platinum), metric="spend", window="rolling")


# --- the drain's deliveries -----------------------------------------------------------------


def _money(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def drain_customer(n: int, members: int) -> int:
    """The shopper of drain order ``n``: a member spread over the whole shop, one in
    twenty a new shopper."""
    if n % 20 == 0:
        return NEW_CUSTOMER_BASE + n
    return CUSTOMER_BASE + 1 + (n * 2_654_435_761) % members


def order_lines(n: int) -> list[tuple[int, int, int]]:
    """(line id, unit price in cents, quantity) of drain order ``n``."""
    return [
        (n * 10 + k, 1500 + (n * 7919 + k * 104_729) % 9000, 1 + (n + k) % 2)
        for k in range(1 + n % 3)
    ]


def order_payload(n: int, members: int) -> dict[str, Any]:
    lines = order_lines(n)
    subtotal = sum(price * qty for _, price, qty in lines)
    customer = drain_customer(n, members)
    email = f"d{customer}@example.com"
    order_id = 3 * ORDER_BASE + n
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#D{n}",
        "email": email,
        "created_at": "2026-11-27T09:00:00-05:00",
        "processed_at": "2026-11-27T09:00:00-05:00",
        "currency": "USD",
        "financial_status": "paid",
        "taxes_included": False,
        "subtotal_price": f"{subtotal / 100:.2f}",
        "subtotal_price_set": _money(f"{subtotal / 100:.2f}"),
        "total_price": f"{(subtotal + 700) / 100:.2f}",
        "total_price_set": _money(f"{(subtotal + 700) / 100:.2f}"),
        "discount_codes": [],
        "customer": {
            "id": customer,
            "email": email,
            "first_name": "Shopper",
            "last_name": f"D{n}",
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer}",
        },
        "line_items": [
            {
                "id": line_id,
                "product_id": 900 + line_id % 50,
                "variant_id": 1900 + line_id % 50,
                "title": "Bench product",
                "gift_card": False,
                "price": f"{price / 100:.2f}",
                "price_set": _money(f"{price / 100:.2f}"),
                "quantity": qty,
                "current_quantity": qty,
                "discount_allocations": [],
                "tax_lines": [],
            }
            for line_id, price, qty in lines
        ],
        "shipping_lines": [
            {"id": n, "title": "Standard", "price": "7.00", "price_set": _money("7.00")}
        ],
    }


def refund_payload(n: int) -> dict[str, Any]:
    line_id, price, qty = order_lines(n)[0]
    amount = f"{price * qty / 100:.2f}"
    return {
        "id": 4 * ORDER_BASE + n,
        "order_id": 3 * ORDER_BASE + n,
        "created_at": "2026-11-27T10:00:00-05:00",
        "refund_line_items": [
            {
                "id": 5 * ORDER_BASE + n,
                "line_item_id": line_id,
                "quantity": qty,
                "subtotal": amount,
                "subtotal_set": _money(amount),
                "total_tax": "0.00",
                "total_tax_set": _money("0.00"),
                "line_item": {"id": line_id, "product_id": 900 + line_id % 50, "gift_card": False},
            }
        ],
        "order_adjustments": [],
        "refund_shipping_lines": [],
    }


def drain_plan(first: int, count: int) -> list[tuple[str, int]]:
    """``count`` deliveries of orders ``first``…: each order, and for one in 25 a refund of
    its first line a while later."""
    items: list[tuple[str, int]] = []
    n = first
    while len(items) < count:
        items.append(("orders/paid", n))
        back = n - 100
        if back >= first and back % 25 == 0 and len(items) < count:
            items.append(("refunds/create", back))
        n += 1
    return items
