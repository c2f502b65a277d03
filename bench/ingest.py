"""Black-Friday burst: signed orders/paid deliveries against the real server and workers.

Run: ``.venv/bin/python bench/ingest.py`` (PostgreSQL and Redis on localhost). It creates its
own database (``bench_ingest``), starts gunicorn with the Procfile's web command on port
19100 and Celery workers with the Procfile's worker command, and measures, in one run:

1. the no-op Celery task rate (one task per delivery is the design this replaces);
2. the floor: a minimal Django view served by the same gunicorn, same load generator, same
   request bodies, before and after the burst (the bars use the mean: the machine drifts);
3. the burst: ``ORDERS`` signed ``orders/paid`` deliveries for ``MEMBERS`` customers plus
   5 % repeated deliveries (same webhook id) and some refunds, sent concurrently: the ack
   rate and latency, and how fast the orders are credited end to end (first request sent
   → last order credited);
4. the backlog: ``BACKLOG`` deliveries (orders, 5 % of them delivered again under another
   webhook id, refunds) for a second shop, stored through the inbox's own record function
   while no worker runs, then drained by one worker (the no-op phase's settings) with the
   web tier idle: deliveries credited per second, start of the drain → inbox empty;
5. referral attribution, off and on: ABBA rounds (off on on off) of ``REFERRAL_ROUND``
   new stored deliveries for the backlog shop, each drained by a fresh worker; 5 % of the
   orders carry a code, in the on rounds the friend code of a referral claimed in setup
   (created set-based), in the off rounds an ordinary code (the same payloads otherwise,
   so only the referral attribution differs): ``referral_attribution_ratio`` is the mean
   on rate over the mean off rate;
6. the ceiling: the same crediting as set-based SQL straight in PostgreSQL.

Then it checks, for both shops, that every member's balance equals its ledger sum and
equals the points recomputed here, independently of Beam's code, from what was sent.
Bars: ack >= 0.5 x floor with p99 <= 50 ms; backlog credited/s >= 3 x no-op task rate
(the end-to-end credited/s of the burst is printed too); referral attribution on >= 0.9 x
off. Every order of the rounds must be credited and the balances check covers them.
The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _payloads as P
from bench import _support as S

DB = os.environ.get("BENCH_DB", "bench_ingest")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "2"))
PORT = int(os.environ.get("BENCH_PORT", "19100"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "20000"))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "5000"))
DUPLICATE_EVERY = 20  # 5 % of the deliveries are sent twice (same webhook id)
REFUND_EVERY = 25  # 4 % of the orders get a refund of their first line
NOOP_TASKS = int(os.environ.get("BENCH_NOOP_TASKS", "3000"))
FLOOR_REQUESTS = int(os.environ.get("BENCH_FLOOR_REQUESTS", "12000"))
WEB_WORKERS = int(os.environ.get("WEB_CONCURRENCY", "3"))
WEB_THREADS = int(os.environ.get("GUNICORN_THREADS", "16"))  # the Procfile default
CELERY_CONCURRENCY = int(os.environ.get("CELERY_CONCURRENCY", "2"))  # the no-op task phase
# The drain is one set-based task at a time (the wake-up flag coalesces them): one worker
# process drains the burst; a second would only take CPU from the web workers on 2 cores.
DRAIN_CONCURRENCY = int(os.environ.get("BENCH_DRAIN_CONCURRENCY", "1"))
CLIENT_PROCESSES = 2
CLIENT_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))  # per client process
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "20000"))
SHOP = "bench-burst.myshopify.com"
BACKLOG_SHOP = "bench-backlog.myshopify.com"
CUSTOMER_BASE = 7_300_000_000_000
REFERRAL_EVERY = 20  # 5 % of the orders of a round carry a code
REFERRAL_ROUNDS = (False, True, True, False)  # attribution off on on off (ABBA)
REFERRAL_ADVOCATES = 10
REFERRAL_BAR = 0.9


# --- the deliveries (deterministic; the client processes rebuild them after fork) ----------


def order_lines(n: int) -> list[tuple[int, int, int]]:
    """(line id, unit price in cents, quantity) of order ``n``."""
    count = 1 + n % 3
    return [
        (n * 10 + k, 500 + (n * 7919 + k * 104729) % 9500, 1 + (n + k) % 2) for k in range(count)
    ]


def customer_of(n: int) -> int:
    return CUSTOMER_BASE + (n * 7919) % MEMBERS


def order_payload(n: int, code: str | None = None) -> dict[str, Any]:
    """Order ``n``; ``code``: a discount code it used (worth nothing here, so the points
    recomputed below stay those of its lines)."""
    customer_id = customer_of(n)
    payload = P.paid_order(
        order_id=5_000_000_000 + n,
        name=f"#{1000 + n}",
        customer_id=customer_id,
        email=f"shopper{customer_id % MEMBERS}@example.com",
        last_name=f"N{customer_id % MEMBERS}",
        lines=order_lines(n),
        shipping_line_id=n,
    )
    if code is not None:
        payload["discount_codes"] = [{"code": code, "amount": "0.00", "type": "fixed_amount"}]
    return payload


def refund_payload(n: int) -> dict[str, Any]:
    return P.line_refund(
        refund_id=8_000_000_000 + n,
        order_id=5_000_000_000 + n,
        refund_line_id=9_000_000 + n,
        line=order_lines(n)[0],
    )


def plan() -> list[tuple[str, int, str]]:
    """(topic, order number, webhook id) in sending order: the orders, each refund a while
    after its order, and every 20th delivery sent a second time a little later."""
    items: list[tuple[str, int, str]] = []
    for n in range(ORDERS):
        items.append(("orders/paid", n, f"bench-paid-{n}"))
        back = n - 200
        if back >= 0 and back % REFUND_EVERY == 0:
            items.append(("refunds/create", back, f"bench-refund-{back}"))
    for back in range(max(0, ORDERS - 200), ORDERS):
        if back % REFUND_EVERY == 0:
            items.append(("refunds/create", back, f"bench-refund-{back}"))
    out: list[tuple[str, int, str]] = []
    for i, item in enumerate(items):
        out.append(item)
        if i % DUPLICATE_EVERY == 0 and i >= 50:
            out.append(items[i - 50])  # a platform retry of an earlier delivery
    return out


PLAN = plan()
# Orders per referral round: a quarter of the backlog, so the four rounds store about as much.
REFERRAL_ROUND = int(
    os.environ.get("BENCH_REFERRAL_ROUND", str(max(min(BACKLOG, len(PLAN)) // 4, 40)))
)


def make_webhook(i: int) -> bytes:
    topic, n, webhook_id = PLAN[i]
    payload = order_payload(n) if topic == "orders/paid" else refund_payload(n)
    return S.webhook_request(
        path=f"/webhooks/{topic}",
        topic=topic,
        shop=SHOP,
        webhook_id=webhook_id,
        payload=payload,
        port=PORT,
    )


def make_floor(i: int) -> bytes:
    topic, n, webhook_id = PLAN[i % len(PLAN)]
    payload = order_payload(n) if topic == "orders/paid" else refund_payload(n)
    return S.webhook_request(
        path="/bench/minimal",
        topic=topic,
        shop=SHOP,
        webhook_id=webhook_id,
        payload=payload,
        port=PORT,
    )


def expected_balances(items: list[tuple[str, int, str]]) -> dict[int, int]:
    """Points per customer recomputed from the deliveries sent: 1 point per currency unit of
    the line subtotals, rounded down; a refund takes back its share of the order's points,
    rounded half up (the documented rules), independently of Beam's code."""
    paid = {n for topic, n, _ in items if topic == "orders/paid"}
    refunded = {n for topic, n, _ in items if topic == "refunds/create"}
    balances: dict[int, int] = {}
    for n in sorted(paid):
        cents = sum(price * qty for _, price, qty in order_lines(n))
        earned = cents // 100
        if n in refunded:
            _, price, qty = order_lines(n)[0]
            ratio = min(Decimal(1), Decimal(price * qty) / Decimal(cents))
            earned -= int((earned * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        customer = customer_of(n)
        balances[customer] = balances.get(customer, 0) + earned
    return balances


# --- phases -------------------------------------------------------------------------------------


def shop_create(domain: str = SHOP) -> int:
    from django.utils import timezone

    from loyalty.models import LoyaltyProgram
    from merchants.models import Shop

    shop = Shop(domain=domain, name="Bench", installed_at=timezone.now())
    shop.access_token = "bench-token"
    shop.save()
    LoyaltyProgram.objects.create(shop=shop)
    return shop.pk


def noop_rate(redis_client: Any) -> float:
    from bench._tasks import noop

    redis_client.delete("bench:noop:done")
    published = time.monotonic()
    for _ in range(NOOP_TASKS):
        noop.delay()
    started = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = int(redis_client.get("bench:noop:done") or 0)
        if done and started is None:
            started, first = time.monotonic(), done
        if done >= NOOP_TASKS:
            assert started is not None
            if done > first:
                return (done - first) / max(time.monotonic() - started, 1e-6)
            return done / (time.monotonic() - published)  # all ran before the first look
        time.sleep(0.01)
    raise RuntimeError("no-op tasks did not finish")


def credited_watch(shop_id: int, dsn: str, expected: int, result: dict[str, float]) -> None:
    """Poll until every order is credited and no delivery is waiting; note when."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        deadline = time.time() + 600
        while time.time() < deadline:
            credited = conn.execute(
                "SELECT count(*) FROM loyalty_loyaltyorder"
                " WHERE shop_id = %s AND state = 'credited'",
                [shop_id],
            ).fetchone()[0]
            waiting = conn.execute(
                "SELECT count(*) FROM merchants_webhookdelivery "
                "WHERE status IN ('received', 'processing')"
            ).fetchone()[0]
            if credited >= expected and not waiting and result.get("sent_all"):
                result["done_at"] = time.time()
                result["credited"] = credited
                return
            # Two counts over the growing tables: polled gently, so the watch does not take
            # the CPU the web workers are being measured with (0.25 s of a run of a minute).
            time.sleep(0.25)


def sql_ceiling(dsn: str) -> float:
    """Set-based crediting of ORDERS orders for MEMBERS new members straight in SQL (the
    members, the orders, the ledger entries, the balances), rolled back afterwards."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO merchants_shop (domain, name, email, currency, iana_timezone, plan_name,"
            " primary_locale, access_token_encrypted, refresh_token_encrypted, scopes,"
            " installed_at, created_at, updated_at) VALUES ('bench-ceiling.myshopify.com', '',"
            " '', 'USD', 'UTC', '', '', 'x', '', '', now(), now(), now())"
        )
        shop_id = conn.execute(
            "SELECT id FROM merchants_shop WHERE domain = 'bench-ceiling.myshopify.com'"
        ).fetchone()[0]
        conn.execute(
            "CREATE TEMP TABLE staging AS SELECT 6000000000 + i AS order_id,"
            " 100 + (i * 7919) %% %s AS customer_id, (500 + (i * 104729) %% 9500)::numeric / 100"
            " AS base FROM generate_series(0, %s - 1) AS i",
            [MEMBERS, ORDERS],
        )
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO loyalty_member (shop_id, customer_id, email, first_name, last_name,"
            " balance, pending_points, lifetime_earned, lifetime_redeemed,"
            " negative_balance_allowed, redacted, created_at, updated_at)"
            " SELECT DISTINCT %s, customer_id, '', '', '', 0, 0, 0, 0, false, false, now(), now()"
            " FROM staging ON CONFLICT DO NOTHING",
            [shop_id],
        )
        conn.execute(
            "INSERT INTO loyalty_loyaltyorder (shop_id, order_id, order_gid, name, member_id,"
            " customer_id, email, currency, placed_at, taxes_included, total_price,"
            " subtotal_price, discount_codes, state, base, multiplier, points_due,"
            " points_earned, points_pending, points_reversed, points_shortfall, refunded_base,"
            " triggered_at, credited_at, created_at, updated_at)"
            " SELECT %s, s.order_id, '', '', m.id, s.customer_id, '', 'USD', now(), false,"
            " s.base, s.base, '[]', 'credited', s.base, 1, floor(s.base), floor(s.base), 0, 0,"
            " 0, 0, now(), now(), now(), now() FROM staging s JOIN loyalty_member m"
            " ON m.shop_id = %s AND m.customer_id = s.customer_id",
            [shop_id, shop_id],
        )
        conn.execute(
            "INSERT INTO loyalty_ledgerentry (shop_id, member_id, amount, kind, bucket,"
            " source_type, source_id, idempotency_key, actor, note, created_at)"
            " SELECT %s, m.id, floor(s.base), 'order_earn', 'available', 'order',"
            " s.order_id::text, 'order:' || s.order_id || ':earn', '', '', now()"
            " FROM staging s JOIN loyalty_member m ON m.shop_id = %s"
            " AND m.customer_id = s.customer_id",
            [shop_id, shop_id],
        )
        conn.execute(
            "UPDATE loyalty_member m SET balance = m.balance + t.points,"
            " lifetime_earned = m.lifetime_earned + t.points, last_activity_at = now(),"
            " updated_at = now() FROM (SELECT customer_id, sum(floor(base))::int AS points"
            " FROM staging GROUP BY customer_id) t WHERE m.shop_id = %s"
            " AND m.customer_id = t.customer_id",
            [shop_id],
        )
        conn.commit()
        seconds = time.perf_counter() - t0
        for table, column in (
            ("loyalty_ledgerentry", "shop_id"),
            ("loyalty_loyaltyorder", "shop_id"),
            ("loyalty_member", "shop_id"),
            ("loyalty_loyaltyprogram", "shop_id"),
            ("merchants_shop", "id"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} = %s", [shop_id])
        conn.commit()
    return ORDERS / seconds


def balances_check(shop_id: int, dsn: str, expected: dict[int, int]) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT m.customer_id, m.balance, m.pending_points,"
            " coalesce(sum(e.amount) FILTER (WHERE e.bucket = 'available'), 0),"
            " coalesce(sum(e.amount) FILTER (WHERE e.bucket = 'pending'), 0)"
            " FROM loyalty_member m LEFT JOIN loyalty_ledgerentry e ON e.member_id = m.id"
            " WHERE m.shop_id = %s GROUP BY m.id",
            [shop_id],
        ).fetchall()
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM merchants_webhookdelivery WHERE shop_id = %s"
                " GROUP BY status",
                [shop_id],
            ).fetchall()
        )
    ledger_mismatch = sum(1 for _, bal, pend, lsum, lpend in rows if bal != lsum or pend != lpend)
    got = {customer: bal for customer, bal, *_ in rows}
    recompute_mismatch = sum(1 for c, pts in expected.items() if got.get(c) != pts)
    recompute_mismatch += sum(1 for c in got if c not in expected)
    return {
        "members": len(rows),
        "ledger_mismatch": ledger_mismatch,
        "recompute_mismatch": recompute_mismatch,
        "delivery_statuses": statuses,
        "balances_match": ledger_mismatch == 0 and recompute_mismatch == 0 and bool(rows),
    }


def backlog_plan() -> list[tuple[str, int, str]]:
    """``BACKLOG`` deliveries: the burst's mix, a repeat under its own webhook id (the same
    order or refund delivered twice, which the inbox cannot deduplicate)."""
    items: list[tuple[str, int, str]] = []
    seen: set[str] = set()
    for i, (topic, n, webhook_id) in enumerate(PLAN[:BACKLOG]):
        again = f"-again-{i}" if webhook_id in seen else ""
        seen.add(webhook_id)
        items.append((topic, n, f"backlog-{webhook_id}{again}"))
    return items


def backlog_store(
    shop_id: int, items: list[tuple[str, int, str]], codes: dict[int, str] | None = None
) -> None:
    """Store the deliveries as the webhook endpoint does (``delivery_record``), then drop
    the drain wake-ups they queued: the timed drain starts when the worker is ready.
    ``codes``: the discount code of an order number, if it used one."""
    from django.core.cache import cache

    from config.celery import app
    from merchants import inbox_record
    from merchants.models import Shop

    shop = Shop.objects.get(pk=shop_id)
    codes = codes or {}
    for topic, n, webhook_id in items:
        paid = topic == "orders/paid"
        payload = order_payload(n, codes.get(n)) if paid else refund_payload(n)
        inbox_record.delivery_record(shop=shop, webhook_id=webhook_id, topic=topic, payload=payload)
    app.control.purge()
    cache.delete(inbox_record.DRAIN_PENDING_KEY)


def backlog_drain(shop_id: int, dsn: str) -> float:
    """Publish one drain and time it until the shop's inbox is empty; returns seconds."""
    import psycopg

    from merchants.tasks import webhooks_drain

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        webhooks_drain.delay()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM merchants_webhookdelivery WHERE shop_id = %s"
                " AND status IN ('received', 'processing')",
                [shop_id],
            ).fetchone()[0]
            if not waiting:
                return time.perf_counter() - started
            time.sleep(0.05)  # the web tier is idle: a finer poll costs nothing measured
    raise RuntimeError("the backlog was not drained in time")


def referral_round_plan(n_round: int) -> list[tuple[str, int, str]]:
    """Round ``n_round``'s deliveries: ``REFERRAL_ROUND`` new orders (numbered after the
    burst's) and a refund of every 25th, in the burst's shape."""
    first = ORDERS + n_round * REFERRAL_ROUND
    items: list[tuple[str, int, str]] = []
    for n in range(first, first + REFERRAL_ROUND):
        items.append(("orders/paid", n, f"round{n_round}-paid-{n}"))
        if n % REFUND_EVERY == 0:
            items.append(("refunds/create", n, f"round{n_round}-refund-{n}"))
    return items


def referral_codes(n_round: int, on: bool) -> dict[int, str]:
    """The codes 5 % of the round's orders used: a claimed referral's friend code when on,
    else an ordinary code (redemption attribution looks both up alike)."""
    first = ORDERS + n_round * REFERRAL_ROUND
    return {
        n: f"FRIEND-{n:010d}" if on else f"BENCH-{n:010d}"
        for n in range(first, first + REFERRAL_ROUND)
        if n % REFERRAL_EVERY == 3
    }


def referrals_setup(shop_id: int) -> int:
    """Referrals on for the backlog shop and, set-based, a claimed referral (code issued)
    for every friend code of the on rounds, from ``REFERRAL_ADVOCATES`` members the backlog
    made (the friends' orders are repeat customers': attributed, then blocked as not their
    first order, which is the attribution's whole work)."""
    from loyalty.models import Member, Referral, ReferralSettings

    ReferralSettings.objects.create(shop_id=shop_id, enabled=True, reward_points=500)
    advocates = list(Member.objects.filter(shop_id=shop_id).order_by("pk")[:REFERRAL_ADVOCATES])
    codes = [
        code
        for n_round, on in enumerate(REFERRAL_ROUNDS)
        if on
        for code in referral_codes(n_round, on).values()
    ]
    Referral.objects.bulk_create(
        [
            Referral(
                shop_id=shop_id,
                advocate=advocates[i % len(advocates)],
                friend_email=f"friend{i}@example.org",
                friend_key=f"friend{i}@example.org",
                code=code,
                code_status=Referral.CodeStatus.ISSUED,
            )
            for i, code in enumerate(codes)
        ],
        batch_size=1000,
    )
    return len(codes)


def referral_rounds(
    shop_id: int, env: dict[str, str], dsn: str, logs: Path
) -> tuple[dict[str, Any], list[tuple[str, int, str]]]:
    """The ABBA rounds: each stores its deliveries with no worker running, then a fresh
    worker drains them. Returns the figures and every delivery the rounds stored."""
    from loyalty.models import Referral

    rates: dict[bool, list[float]] = {False: [], True: []}
    stored: list[tuple[str, int, str]] = []
    for n_round, on in enumerate(REFERRAL_ROUNDS):
        items = referral_round_plan(n_round)
        backlog_store(shop_id, items, referral_codes(n_round, on))
        stored += items
        worker = S.celery_start(
            env, concurrency=CELERY_CONCURRENCY, log=logs / f"referrals{n_round}.log"
        )
        try:
            time.sleep(3)  # worker up, idle
            seconds = backlog_drain(shop_id, dsn)
        finally:
            worker.stop()
        rates[on].append(len(items) / seconds)
        print(
            f"referral round {n_round + 1} (attribution {'on' if on else 'off'}):"
            f" {len(items)} deliveries in {seconds:.1f} s = {rates[on][-1]:,.0f}/s"
        )
    off = sum(rates[False]) / len(rates[False])
    on_rate = sum(rates[True]) / len(rates[True])
    attributed = Referral.objects.filter(shop_id=shop_id, order_id__isnull=False).count()
    return {
        "backlog_credited_per_s_referrals_off": round(off, 1),
        "backlog_credited_per_s_referrals_on": round(on_rate, 1),
        "referral_attribution_ratio": round(on_rate / off, 3),
        "referral_orders_attributed": attributed,
    }, stored


def orders_not_credited(shop_id: int, dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM loyalty_loyaltyorder WHERE shop_id = %s AND state <> 'credited'",
            [shop_id],
        ).fetchone()[0]


def floor_run(when: str) -> S.LoadResult:
    """The minimal view under the burst's load generator (same connections, same bodies)."""
    floor = S.load_run(
        port=PORT,
        make=make_floor,
        count=FLOOR_REQUESTS,
        processes=CLIENT_PROCESSES,
        connections=CLIENT_CONNECTIONS,
    )
    print(
        f"floor (minimal view, {when}): {floor.per_s:,.0f} req/s, p50 {floor.pct(0.5):.1f} ms,"
        f" p99 {floor.pct(0.99):.1f} ms, statuses {floor.statuses}"
    )
    return floor


def main() -> int:
    env = S.bench_env(db_name=DB, redis_db=REDIS_DB, port=PORT)
    dsn = f"postgresql://{S.PG_USER}@{S.PG_HOST}:5432/{DB}"
    logs = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    print(f"database {DB}, redis db {REDIS_DB}, port {PORT}, logs in {logs}")
    S.database_recreate(DB)
    S.redis_flush(REDIS_DB)
    S.migrate(env)
    S.django_setup(env)
    shop_id = shop_create()
    import redis

    redis_client = redis.Redis(db=REDIS_DB)
    procs: list[S.Proc] = []
    try:
        procs.append(
            S.gunicorn_start(
                env, port=PORT, workers=WEB_WORKERS, threads=WEB_THREADS, log=logs / "web.log"
            )
        )
        noop_worker = S.celery_start(env, concurrency=CELERY_CONCURRENCY, log=logs / "noop.log")
        procs.append(noop_worker)
        time.sleep(3)  # workers up

        noop_per_s = noop_rate(redis_client)
        print(
            f"no-op Celery task: {noop_per_s:,.0f} tasks/s ({NOOP_TASKS} tasks,"
            f" concurrency {CELERY_CONCURRENCY})"
        )
        noop_worker.stop()
        procs.remove(noop_worker)
        procs.append(S.celery_start(env, concurrency=DRAIN_CONCURRENCY, log=logs / "worker.log"))
        time.sleep(3)

        floor = floor_run("before the burst")

        watch: dict[str, float] = {}
        watcher = threading.Thread(
            target=credited_watch, args=(shop_id, dsn, ORDERS, watch), daemon=True
        )
        watcher.start()
        burst = S.load_run(
            port=PORT,
            make=make_webhook,
            count=len(PLAN),
            processes=CLIENT_PROCESSES,
            connections=CLIENT_CONNECTIONS,
        )
        watch["sent_all"] = 1
        watcher.join(600)
        print(
            f"burst: {len(PLAN)} deliveries ({ORDERS} orders, {MEMBERS} members), ack"
            f" {burst.per_s:,.0f} req/s, p50 {burst.pct(0.5):.1f} ms, p99"
            f" {burst.pct(0.99):.1f} ms, statuses {burst.statuses}"
        )
        if "done_at" not in watch:
            raise RuntimeError("the orders were not all credited in time")
        e2e_seconds = watch["done_at"] - burst.started_at
        credited_per_s = ORDERS / e2e_seconds
        print(
            f"credited end to end: {ORDERS} orders in {e2e_seconds:.1f} s = {credited_per_s:,.0f}/s"
        )
        floor_after = floor_run("after it")

        drainer = procs.pop()  # the backlog is stored while no worker runs
        drainer.stop()
        backlog_shop_id = shop_create(BACKLOG_SHOP)
        backlog = backlog_plan()
        backlog_store(backlog_shop_id, backlog)
        procs.append(S.celery_start(env, concurrency=CELERY_CONCURRENCY, log=logs / "drain.log"))
        time.sleep(3)  # worker up, idle
        backlog_seconds = backlog_drain(backlog_shop_id, dsn)
        backlog_per_s = len(backlog) / backlog_seconds
        print(
            f"backlog: {len(backlog)} stored deliveries drained by one worker in"
            f" {backlog_seconds:.1f} s = {backlog_per_s:,.0f}/s"
            f" ({backlog_per_s / noop_per_s:.2f} x the no-op task rate)"
        )
        procs.pop().stop()  # each round stores with no worker running
        referrals_claimed = referrals_setup(backlog_shop_id)
        referral_figures, round_items = referral_rounds(backlog_shop_id, env, dsn, logs)
        print(
            f"referral attribution: {referrals_claimed} claimed referrals,"
            f" {referral_figures['referral_orders_attributed']} orders attributed, on/off"
            f" {referral_figures['referral_attribution_ratio']:.3f}"
        )
    finally:
        for proc in reversed(procs):
            proc.stop()

    ceiling = sql_ceiling(dsn)
    print(f"set-based SQL crediting: {ceiling:,.0f} orders/s")
    check = balances_check(shop_id, dsn, expected_balances(PLAN))
    print(f"check: {check}")
    backlog_check = balances_check(
        backlog_shop_id, dsn, expected_balances([*backlog, *round_items])
    )
    backlog_check["orders_not_credited"] = orders_not_credited(backlog_shop_id, dsn)
    print(f"backlog check: {backlog_check}")

    # The floor is the mean of the runs before and after the burst: these machines drift
    # (neighbours come and go), and the burst sits between the two.
    floor_per_s = (floor.per_s + floor_after.per_s) / 2
    ack_ok = burst.per_s >= 0.5 * floor_per_s and burst.pct(0.99) <= 50
    credit_ok = backlog_per_s >= 3 * noop_per_s
    balances_match = (
        check["balances_match"]
        and backlog_check["balances_match"]
        and backlog_check["orders_not_credited"] == 0
    )
    bars = {
        "ack": ack_ok,
        "credit": credit_ok,
        "referral_attribution": referral_figures["referral_attribution_ratio"] >= REFERRAL_BAR,
    }
    result = {
        "ack_per_s": round(burst.per_s, 1),
        "ack_p50_ms": round(burst.pct(0.5), 2),
        "ack_p99_ms": round(burst.pct(0.99), 2),
        "ack_non_200": sum(n for code, n in burst.statuses.items() if code != 200),
        "view_floor_per_s": round(floor_per_s, 1),
        "view_floor_before_per_s": round(floor.per_s, 1),
        "view_floor_after_per_s": round(floor_after.per_s, 1),
        "view_floor_p99_ms": round(max(floor.pct(0.99), floor_after.pct(0.99)), 2),
        "ack_vs_floor": round(burst.per_s / floor_per_s, 3),
        "credited_per_s": round(credited_per_s, 1),
        "noop_task_per_s": round(noop_per_s, 1),
        "credited_vs_noop": round(credited_per_s / noop_per_s, 2),
        "backlog_credited_per_s": round(backlog_per_s, 1),
        "backlog_vs_noop": round(backlog_per_s / noop_per_s, 2),
        "backlog_deliveries": len(backlog),
        **referral_figures,
        "referral_round_deliveries": len(round_items) // len(REFERRAL_ROUNDS),
        "referrals_claimed": referrals_claimed,
        "backlog_orders_not_credited": backlog_check["orders_not_credited"],
        "sql_ceiling_per_s": round(ceiling, 1),
        "deliveries": len(PLAN),
        "orders": ORDERS,
        "members": MEMBERS,
        "balances_match": balances_match,
        "ack_bar_met": ack_ok,
        "credit_bar_met": credit_ok,
        "cpus": S.cpu_count(),
        "bars_met": bars,
    }
    print(json.dumps(result))
    return 0 if (all(bars.values()) and balances_match) else 1


if __name__ == "__main__":
    sys.exit(main())
