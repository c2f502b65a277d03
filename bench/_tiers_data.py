"""The tier bench's shop: members and two years of orders loaded set-based, the tier
settings it changes, and the deliveries its drain credits.

Shaped like a real shop's customers, because what a tier pass and the crediting engine cost
depends on it: most members bought once or twice (or never: they signed up), a few heavy
buyers place many orders, and order values are long-tailed (a median basket near 45.00, a
few of several hundred). Tiers reward the few: the thresholds are placed at percentiles of
the loaded members' qualifying values (``thresholds_measure``), so about two thirds stay in
the base tier, a quarter reach Silver and a tenth Gold, as merchants set them. Then an order
rarely moves its member up (low single-digit percent of the drain's orders), which is what
the engine's tier cost is in a real shop; the heavy case (every order moves a member up) is
a separate round of the bench, not its headline.

The history is generated in the database (``INSERT … SELECT generate_series``, a fixed
seed): customer ``CUSTOMER_BASE + k`` is member ``k`` (1..M); an order belongs to member
``member_of`` (5 orders per member on average, the issue's size: 15% of the orders from
occasional shoppers, the rest from the regulars by a power law; about 60% of the members
have two orders or fewer, a fifth none, the heaviest buyer about 300), placed uniformly over
the last 730 days, goods ``15 + exp(N(3.4, 0.75))`` (log-normal) with 7.00 of shipping, 1 point per
unit of the goods; every 50th order cancelled, every 25th refunded by half. Secondary
indexes are dropped for the load and built again after it, then ``VACUUM (ANALYZE)``: the
planner statistics and visibility map a production database has.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

from bench import _payloads as P
from bench import _support as S

CUSTOMER_BASE = 7_700_000_000_000
ORDER_BASE = 1_000_000_000
NEW_CUSTOMER_BASE = 7_800_000_000_000  # shoppers of the drain who are not members yet
TABLES = ("loyalty_member", "loyalty_loyaltyorder")
# Orders per member: a share ``OCCASIONAL`` of the orders goes to the occasional shoppers
# (members above ``REGULARS`` of the shop, uniformly: one or two orders each, or none); the
# rest to the regulars (members 1..R) by a power law, member
# k = 1 + floor(R * (x - x0) / (1 - x0)), x = (LOW + (1 - LOW) u)^SKEW for u uniform in [0, 1)
# (x0 = LOW^SKEW): the heaviest buyer places about 300 orders in two years.
OCCASIONAL = 0.15
REGULARS = 0.35
SKEW = 10
LOW = 0.6
# Where the tiers start, as shares of the members below them (``thresholds_measure``).
SHARES = {"Silver": 0.67, "Gold": 0.91, "Platinum": 0.98}

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
    SELECT g, CASE WHEN random() < %(occasional)s
            THEN %(regulars)s + 1 + floor((%(members)s - %(regulars)s) * random())
            ELSE least(%(regulars)s, 1 + floor(%(regulars)s
                * (power(%(low)s + (1 - %(low)s) * random(), %(skew)s) - %(low_x)s)
                / (1 - %(low_x)s))) END::bigint AS k,
        now() - random() * interval '730 days' AS placed_at,
        round(least(3000, 15 + exp(3.4 + 0.75 * sqrt(-2 * ln(1 - random()))
            * cos(2 * pi() * random())))::numeric, 2) AS goods
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
        "skew": SKEW,
        "low": LOW,
        "low_x": LOW**SKEW,
        "occasional": OCCASIONAL,
        "regulars": regulars_of(members),
    }
    with connection.cursor() as cursor:
        restore = S.secondary_indexes_drop(cursor, TABLES)
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


# --- the settings ---------------------------------------------------------------------------

VALUE_SQL = {
    "points": "o.points_earned - o.points_reversed",
    "spend": "coalesce(o.spend_goods, o.subtotal_price) - o.spend_refunded_goods",
}
# What the settings change lowers: the shares of members below Silver and Gold (the new
# Platinum at its share): about one member in ten moves.
CHANGE_SHARES = {"Silver": 0.62, "Gold": 0.88, "Platinum": SHARES["Platinum"]}

PERCENTILES_SQL = """
SELECT percentile_disc(%(shares)s::float8[]) WITHIN GROUP (ORDER BY coalesce(v.value, 0))
FROM loyalty_member m LEFT JOIN (
    SELECT o.member_id, sum({value}) AS value FROM loyalty_loyaltyorder o
    WHERE o.shop_id = %(shop)s AND o.state = 'credited'
        AND o.placed_at >= now() - interval '12 months'
    GROUP BY o.member_id
) v ON v.member_id = m.id
WHERE m.shop_id = %(shop)s
"""


def thresholds_measure(*, shop_id: int) -> dict[str, dict[str, Decimal]]:
    """Per metric (points, spend over a rolling 12 months), the value each tier's share of
    members (``SHARES``, ``CHANGE_SHARES``) stays below, rounded: the thresholds a merchant
    would pick for this history. Keys ``points`` and ``spend`` (``SHARES``) and
    ``spend_change`` (``CHANGE_SHARES``)."""
    from django.db import connection

    wanted = {"points": SHARES, "spend": SHARES, "spend_change": CHANGE_SHARES}
    measured: dict[str, dict[str, Decimal]] = {}
    with connection.cursor() as cursor:
        for name, shares in wanted.items():
            value = VALUE_SQL[name.split("_")[0]]
            cursor.execute(
                PERCENTILES_SQL.format(value=value),
                {"shop": shop_id, "shares": list(shares.values())},
            )
            values = cursor.fetchone()[0]
            step = 10 if name == "points" else 5
            measured[name] = {
                tier: max(Decimal(step), (Decimal(str(v)) / step).quantize(Decimal(1)) * step)
                for tier, v in zip(shares, values, strict=True)
            }
    return measured


def draft_enable(thresholds: dict[str, dict[str, Decimal]]) -> Any:
    """Tiers turned on for a shop with history: points over a rolling 12 months, a base tier
    every member reaches (so every member is written once: a one-time event), Silver and
    Gold at the measured thresholds."""
    from loyalty.services.tiers_draft import TierDraft, TierDraftTier

    points = thresholds["points"]
    return TierDraft(
        tiers=(
            TierDraftTier("Bronze", Decimal(0)),
            TierDraftTier("Silver", points["Silver"], Decimal("1.25"), ("Free shipping",), 100),
            TierDraftTier("Gold", points["Gold"], Decimal("1.5"), ("Early access",), 300),
        ),
        metric="points",
        window="rolling",
    )


def draft_change(*, shop: Any, thresholds: dict[str, dict[str, Decimal]]) -> Any:
    """The settings change: amount spent instead of points, lower thresholds and a new top
    tier (members keep a tier held in its grace: the admin's default)."""
    from loyalty.services.tiers_draft import TierDraft, TierDraftTier, tier_draft_current

    current = tier_draft_current(shop=shop)
    spend = thresholds["spend_change"]
    new = {"Bronze": Decimal(0), "Silver": spend["Silver"], "Gold": spend["Gold"]}
    kept = tuple(
        TierDraftTier(t.name, new[t.name], t.multiplier, t.perks, t.entry_points, t.tier_id)
        for t in current.tiers
    )
    platinum = TierDraftTier("Platinum", spend["Platinum"], Decimal(2), ("Concierge",), 500)
    return TierDraft(tiers=(*kept, platinum), metric="spend", window="rolling")


def members_near_threshold(
    *, shop_id: int, thresholds: dict[str, Decimal], count: int, below: Decimal
) -> list[int]:
    """Up to ``count`` customer ids of members whose amount spent over the last 12 months is
    less than ``below`` under one of ``thresholds`` (closest first): an order of the drain
    moves most of them up (the heavy case)."""
    from django.db import connection

    sql = f"""
    SELECT m.customer_id, min(t.threshold - v.value) AS gap
    FROM loyalty_member m JOIN (
        SELECT o.member_id, sum({VALUE_SQL["spend"]}) AS value FROM loyalty_loyaltyorder o
        WHERE o.shop_id = %(shop)s AND o.state = 'credited'
            AND o.placed_at >= now() - interval '12 months'
        GROUP BY o.member_id
    ) v ON v.member_id = m.id
    JOIN unnest(%(thresholds)s::numeric[]) AS t(threshold)
        ON v.value < t.threshold AND v.value >= t.threshold - %(below)s
    WHERE m.shop_id = %(shop)s
    GROUP BY m.customer_id ORDER BY gap, m.customer_id LIMIT %(count)s
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "shop": shop_id,
                "thresholds": list(thresholds.values()),
                "below": below,
                "count": count,
            },
        )
        return [row[0] for row in cursor.fetchall()]


# --- the drain's deliveries -----------------------------------------------------------------


def _uniform(n: int, salt: int) -> float:
    """A fixed pseudo-random number in [0, 1) for ``n`` (the drain is the same every run)."""
    return ((n * 2_654_435_761 + salt * 40_503) % 4_294_967_296) / 4_294_967_296


def drain_customer(n: int, members: int) -> int:
    """The shopper of drain order ``n``: a member drawn from the history's power law (heavy
    buyers buy again more often), one in twenty a new shopper."""
    if n % 20 == 0:
        return NEW_CUSTOMER_BASE + n
    return CUSTOMER_BASE + member_of(_uniform(n, 1), _uniform(n, 11), members)


def regulars_of(members: int) -> int:
    return max(1, int(members * REGULARS))


def member_of(u: float, v: float, members: int) -> int:
    """Member ``k`` (1..``members``) at ``u`` and ``v`` in [0, 1): ``ORDERS_SQL``'s law."""
    regulars = regulars_of(members)
    if v < OCCASIONAL:
        return min(members, regulars + 1 + int((members - regulars) * u))
    low_x = LOW**SKEW
    x = (LOW + (1 - LOW) * u) ** SKEW
    return min(regulars, 1 + int(regulars * (x - low_x) / (1 - low_x)))


def order_lines(n: int) -> list[tuple[int, int, int]]:
    """(line id, unit price in cents, quantity) of drain order ``n``: one line priced as the
    history's baskets (log-normal, ``ORDERS_SQL``)."""
    z = math.sqrt(-2 * math.log(1 - _uniform(n, 2))) * math.cos(2 * math.pi * _uniform(n, 7))
    price = min(300_000, 1500 + int(100 * math.exp(3.4 + 0.75 * z)))
    return [(n * 10, price, 1)]


def order_payload(n: int, members: int, customer: int | None = None) -> dict[str, Any]:
    """The ``orders/paid`` delivery of drain order ``n`` (its shopper ``drain_customer``
    unless ``customer`` is given)."""
    customer = customer if customer is not None else drain_customer(n, members)
    return P.paid_order(
        order_id=3 * ORDER_BASE + n,
        name=f"#D{n}",
        customer_id=customer,
        email=f"d{customer}@example.com",
        last_name=f"D{n}",
        lines=order_lines(n),
        shipping_line_id=n,
    )


def refund_payload(n: int) -> dict[str, Any]:
    return P.line_refund(
        refund_id=4 * ORDER_BASE + n,
        order_id=3 * ORDER_BASE + n,
        refund_line_id=5 * ORDER_BASE + n,
        line=order_lines(n)[0],
    )


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
