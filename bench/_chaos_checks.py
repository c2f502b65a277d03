"""The chaos bench's set-up (Beam installed in a devstore shop), its wait for the inbox to
settle, and its checks of what Beam stored against the independent model of
``_chaos_plan``. Plain SQL through psycopg: the checks do not go through Beam's code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from bench import _chaos_plan as P


def ok(status: int | str) -> bool:
    """A 2xx answer (``status`` is "refused" or "error" when no answer came)."""
    return isinstance(status, int) and 200 <= status < 300


def count(values: Iterable[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[str(value)] = out.get(str(value), 0) + 1
    return out


def shop_setup(sizes: P.Sizes) -> tuple[int, int]:
    """Beam installed in a devstore shop (a live token both sides know), its program with
    welcome points, one reward, and the redeemers as the store's customers (a discount
    code is made for one of them)."""
    from django.conf import settings
    from django.utils import timezone

    from devstore import services as store
    from devstore.models import DevAppToken, DevCustomer
    from loyalty.models import LoyaltyProgram, Reward
    from merchants.models import Shop

    dev_shop = store.shop_create(P.SHOP, name="Chaos Store", currency="USD")
    token = DevAppToken.objects.create(
        shop=dev_shop, access_token="shpat_chaos", scopes=settings.SHOPIFY_SCOPES
    )
    now = timezone.now()
    dev_shop.app_installed_at = now
    dev_shop.save(update_fields=["app_installed_at"])
    for c in range(sizes.customers):
        if P.is_redeemer(sizes, c):
            DevCustomer.objects.create(
                shop=dev_shop,
                id=P.customer_id(c),
                email=f"shopper{c}@example.com",
                state="enabled",
                created_at=now,
                updated_at=now,
            )
    shop = Shop(
        domain=P.SHOP,
        name="Chaos Store",
        currency="USD",
        installed_at=now,
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop.access_token = token.access_token
    shop.save()
    LoyaltyProgram.objects.create(shop=shop, welcome_points=P.WELCOME_POINTS)
    reward = Reward.objects.create(
        shop=shop,
        name="$5 off",
        kind=Reward.Kind.FIXED_AMOUNT,
        points_cost=P.REWARD_COST,
        value=5,
    )
    return shop.pk, reward.pk


def settle_wait(
    dsn: str, shop_id: int, timeout: float, note: Callable[[str], None]
) -> float | None:
    """When (``time.time()``) nothing of the shop waits any more (no delivery received or
    processing, no pending redemption), or None if not within ``timeout``; what still
    waits is noted every 5 s."""
    import psycopg

    started = time.time()
    shown = ""
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.time() - started < timeout:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM merchants_webhookdelivery WHERE shop_id = %s"
                " AND status = 'received'), (SELECT count(*) FROM merchants_webhookdelivery"
                " WHERE shop_id = %s AND status = 'processing'),"
                " (SELECT count(*) FROM loyalty_redemption WHERE shop_id = %s"
                " AND status = 'pending')",
                [shop_id, shop_id, shop_id],
            ).fetchone()
            assert row is not None
            if not any(row):
                return time.time()
            waiting = f"waiting: {row[0]} received, {row[1]} processing, {row[2]} redemptions"
            if waiting != shown and int(time.time() - started) % 5 == 0:
                note(waiting)
                shown = waiting
            time.sleep(0.5)
    return None


def _rows(conn: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql, params).fetchall())


def checks(
    dsn: str, shop_id: int, sizes: P.Sizes, items: list[P.Item], acked_ids: set[str]
) -> dict[str, Any]:
    """Compare what Beam stored with the model of what was acknowledged (``acked_ids``:
    the webhook ids answered 2xx)."""
    import psycopg

    acked = list({i.webhook_id: i for i in items if i.webhook_id in acked_ids}.values())
    model = P.expected(sizes, acked)
    with psycopg.connect(dsn) as conn:
        stored = dict(
            _rows(
                conn,
                "SELECT webhook_id, status FROM merchants_webhookdelivery WHERE shop_id = %s",
                [shop_id],
            )
        )
        statuses = dict(
            _rows(
                conn,
                "SELECT status, count(*) FROM merchants_webhookdelivery WHERE shop_id = %s"
                " GROUP BY status",
                [shop_id],
            )
        )
        orders = {
            oid: (state, earned, reversed_)
            for oid, state, earned, reversed_ in _rows(
                conn,
                "SELECT order_id, state, points_earned, points_reversed"
                " FROM loyalty_loyaltyorder WHERE shop_id = %s",
                [shop_id],
            )
        }
        earn_entries = _rows(
            conn,
            "SELECT source_id, count(*), sum(amount) FROM loyalty_ledgerentry"
            " WHERE shop_id = %s AND kind = 'order_earn' GROUP BY source_id",
            [shop_id],
        )
        twice = _rows(
            conn,
            "SELECT kind, member_id, source_id FROM loyalty_ledgerentry WHERE shop_id = %s"
            " AND kind IN ('welcome', 'redeem', 'redeem_refund')"
            " GROUP BY kind, member_id, source_id HAVING count(*) > 1",
            [shop_id],
        )
        members = _rows(
            conn,
            "SELECT m.customer_id, m.balance, m.pending_points,"
            " coalesce(sum(e.amount) FILTER (WHERE e.bucket = 'available'), 0),"
            " coalesce(sum(e.amount) FILTER (WHERE e.bucket = 'pending'), 0)"
            " FROM loyalty_member m LEFT JOIN loyalty_ledgerentry e ON e.member_id = m.id"
            " WHERE m.shop_id = %s GROUP BY m.id",
            [shop_id],
        )
        redemptions = _rows(
            conn,
            "SELECT m.customer_id, r.status, r.points_spent, r.code FROM loyalty_redemption r"
            " JOIN loyalty_member m ON m.id = r.member_id WHERE r.shop_id = %s",
            [shop_id],
        )
        lags = _rows(
            conn,
            "SELECT max(extract(epoch FROM processed_at - received_at)),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY"
            " extract(epoch FROM processed_at - received_at))"
            " FROM merchants_webhookdelivery WHERE shop_id = %s",
            [shop_id],
        )[0]
        redemption_lag = _rows(
            conn,
            "SELECT max(extract(epoch FROM updated_at - created_at)), max(attempts)"
            " FROM loyalty_redemption WHERE shop_id = %s",
            [shop_id],
        )[0]
        codes = {
            code
            for (code,) in _rows(
                conn,
                "SELECT d.code FROM devstore_devdiscountcode d JOIN devstore_devshop s"
                " ON s.id = d.shop_id WHERE s.domain = %s",
                [P.SHOP],
            )
        }
    # Lost: acknowledged but not in the inbox, or processed without leaving its order.
    lost = sum(1 for i in acked if i.webhook_id not in stored)
    lost += sum(
        1
        for i in acked
        if i.topic == "orders/paid"
        and stored.get(i.webhook_id) == "succeeded"
        and P.ORDER_BASE + i.n not in orders
    )
    double = sum(1 for _, count, total in earn_entries if count > 1)
    double += sum(
        1
        for oid, count, total in earn_entries
        if count == 1 and total > model.earned.get(int(oid), 0)
    )
    double += len(twice)
    balances = dict(model.balances)
    pending_redemptions = 0
    for customer, status, spent, _code in redemptions:
        if status == "pending":
            pending_redemptions += 1
        if status in ("pending", "issued", "used", "expired"):
            balances[customer] = balances.get(customer, 0) - spent
    issued_without_code = sum(
        1 for _, status, _, code in redemptions if status == "issued" and code not in codes
    )
    got = {customer: balance for customer, balance, *_ in members}
    wrong = {c for c, points in balances.items() if got.get(c) != points}
    wrong |= {c for c in got if c not in balances}
    drifted = {c for c, b, p, lb, lp in members if b != lb or p != lp}
    wrong_orders = sum(
        1
        for oid, earned in model.earned.items()
        if oid in orders and orders[oid][1:] != (earned, model.reversed[oid])
    )
    return {
        "lost": lost,
        "double_credited": double,
        "wrong_balances": len(wrong | drifted),  # against the model or the ledger
        "ledger_drift": len(drifted),
        "wrong_orders": wrong_orders,
        "stuck_deliveries": sum(
            n for status, n in statuses.items() if status not in ("succeeded", "skipped")
        ),
        "delivery_statuses": statuses,
        "pending_redemptions": pending_redemptions,
        "redemptions": dict(count(status for _, status, _, _ in redemptions)),
        "issued_without_code": issued_without_code,
        "members": len(members),
        "expected_members": len(balances),
        "delivery_lag_max_s": round(float(lags[0] or 0), 1),
        "delivery_lag_p99_s": round(float(lags[1] or 0), 1),
        "redemption_lag_max_s": round(float(redemption_lag[0] or 0), 1),
        "redemption_attempts_max": redemption_lag[1] or 0,
    }
