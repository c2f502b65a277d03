"""Ledger bench: redemption throughput under 32 concurrent clients, and the cost of reading
a balance with a small ledger and with 10 million ledger entries.

Run: ``.venv/bin/python bench/ledger.py`` (PostgreSQL and Redis on localhost). It recreates
its own database (``bench_ingest_ledger`` unless ``BENCH_DB`` says otherwise) with production
settings.

* Redemptions: 32 clients (4 processes x 8 threads, one connection each) call
  ``loyalty.services.reward_redeem``; half the attempts target 20 "hot" members that can
  afford only a few rewards, so most of those race for the same row lock and many must be
  refused. The store call (``redemption_issue``) is what Celery workers do after commit:
  here the tasks are published to Redis (DB 7) as in production, and not run.
* Balance reads: ``loyalty.selectors.member_get_by_customer`` (the cached balance) and the
  first page of a member's ledger, timed for random members, before and after adding
  ``LEDGER_ROWS`` entries with one set-based ``INSERT … SELECT generate_series`` per
  million (+1/-1 pairs, so every balance still equals its ledger sum).
  Timing on a shared machine is noisy, so it also prints the pages PostgreSQL touches for
  one read (``EXPLAIN (ANALYZE, BUFFERS)``): the figure that shows the read does not depend
  on the ledger's size.
* Overdrafts: members whose balance is negative, differs from its ledger sum, or is not
  their seeded points minus what their redemptions spent. Must be 0.

The last line is one JSON object.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _support as S

DB = os.environ.get("BENCH_DB", "bench_ingest_ledger")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "7"))
PORT = int(os.environ.get("BENCH_PORT", "19101"))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "5000"))
HOT_MEMBERS = 20
SEED_POINTS = 1000
REWARD_COST = 100
CLIENT_PROCESSES = 4
CLIENT_THREADS = 8  # 32 clients
ATTEMPTS_PER_CLIENT = int(os.environ.get("BENCH_ATTEMPTS", "60"))
LEDGER_ROWS = int(os.environ.get("BENCH_LEDGER_ROWS", "10000000"))
READS = int(os.environ.get("BENCH_READS", "2000"))
SHOP = "bench-ledger.myshopify.com"
CUSTOMER_BASE = 8_100_000_000


def seed() -> tuple[int, int]:
    """The shop, its program and reward, MEMBERS members with SEED_POINTS each (one import
    entry per member, set-based)."""
    from django.db import connection
    from django.utils import timezone

    from loyalty.models import LoyaltyProgram, Reward
    from merchants.models import Shop

    shop = Shop(domain=SHOP, name="Bench", installed_at=timezone.now())
    shop.access_token = "bench-token"
    shop.save()
    LoyaltyProgram.objects.create(shop=shop)
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, points_cost=REWARD_COST, value=5
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_member (shop_id, customer_id, email, first_name, last_name,"
            " balance, pending_points, lifetime_earned, lifetime_redeemed,"
            " negative_balance_allowed, redacted, created_at, updated_at)"
            " SELECT %s, %s + i, 'm' || i || '@example.com', '', '', %s, 0, %s, 0, false, false,"
            " now(), now() FROM generate_series(0, %s - 1) AS i",
            [shop.pk, CUSTOMER_BASE, SEED_POINTS, SEED_POINTS, MEMBERS],
        )
        cursor.execute(
            "INSERT INTO loyalty_ledgerentry (shop_id, member_id, amount, kind, bucket,"
            " source_type, source_id, idempotency_key, actor, note, created_at)"
            " SELECT %s, id, %s, 'import', 'available', 'import', customer_id::text,"
            " 'import:' || customer_id || ':1', 'bench', 'seed', now() - interval '1 day'"
            " FROM loyalty_member WHERE shop_id = %s",
            [shop.pk, SEED_POINTS, shop.pk],
        )
        cursor.execute("ANALYZE")
    return shop.pk, reward.pk


def _client_process(
    shop_id: int, reward_id: int, member_ids: list[int], hot: list[int], p: int, queue: Any
) -> None:
    from django.db import connection

    from loyalty import services
    from loyalty.errors import InsufficientPoints
    from merchants.models import Shop

    shop = Shop.objects.get(pk=shop_id)
    results: list[tuple[str, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENT_THREADS)

    def client(t: int) -> None:
        rng = random.Random(p * 100 + t)
        local: list[tuple[str, float]] = []
        barrier.wait()
        try:
            for k in range(ATTEMPTS_PER_CLIENT):
                member_id = rng.choice(hot) if k % 2 else rng.choice(member_ids)
                t0 = time.perf_counter()
                try:
                    services.reward_redeem(
                        shop=shop,
                        member_id=member_id,
                        reward_id=reward_id,
                        client_key=f"c{p}-{t}-{k}",
                    )
                    outcome = "redeemed"
                except InsufficientPoints:
                    outcome = "refused"
                local.append((outcome, (time.perf_counter() - t0) * 1000))
        finally:
            connection.close()
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(CLIENT_THREADS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((time.perf_counter() - t0, results))


def redemptions_run(shop_id: int, reward_id: int) -> dict[str, Any]:
    from django.db import connections

    from loyalty.models import Member

    ids = list(Member.objects.filter(shop_id=shop_id).order_by("pk").values_list("pk", flat=True))
    hot, rest = ids[:HOT_MEMBERS], ids[HOT_MEMBERS:]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_client_process, args=(shop_id, reward_id, rest, hot, p, queue))
        for p in range(CLIENT_PROCESSES)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    outs = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    results = [r for _, rs in outs for r in rs]
    redeemed = sum(1 for outcome, _ in results if outcome == "redeemed")
    latencies = sorted(ms for _, ms in results)
    return {
        "attempts": len(results),
        "redeemed": redeemed,
        "refused": len(results) - redeemed,
        "seconds": seconds,
        "redeem_per_s": redeemed / seconds,
        "attempts_per_s": len(results) / seconds,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def reads_time(shop_id: int, rounds: int = 3) -> dict[str, float]:
    """The best of ``rounds`` rounds (the machine may be shared: the best round is the one
    least disturbed) of :func:`_reads_round`."""
    results = [_reads_round(shop_id) for _ in range(rounds)]
    return min(results, key=lambda r: r["balance_read_ms"])


def _reads_round(shop_id: int) -> dict[str, float]:
    """Mean ms of a balance read and of a first ledger page, for random members."""
    from django.db import connection

    from loyalty import selectors
    from loyalty.models import Member
    from merchants.models import Shop

    connection.close()
    shop = Shop.objects.get(pk=shop_id)
    rng = random.Random(7)
    customers = [CUSTOMER_BASE + rng.randrange(MEMBERS) for _ in range(READS)]
    for customer_id in customers[:50]:  # warm the connection and caches
        selectors.member_get_by_customer(shop=shop, customer_id=customer_id)
    balance_ms = []
    for customer_id in customers:
        t0 = time.perf_counter()
        member = selectors.member_get_by_customer(shop=shop, customer_id=customer_id)
        assert member is not None
        _ = member.balance
        balance_ms.append((time.perf_counter() - t0) * 1000)
    members = list(Member.objects.filter(shop=shop, customer_id__in=customers[:300]))
    page_ms = []
    for member in members:
        t0 = time.perf_counter()
        list(selectors.member_ledger(shop=shop, member=member)[:20])
        page_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "balance_read_buffers": _read_buffers(shop, customers[0]),
        "balance_read_ms": statistics.mean(balance_ms),
        "balance_read_p99_ms": sorted(balance_ms)[int(0.99 * len(balance_ms))],
        "ledger_page_ms": statistics.mean(page_ms),
    }


def _read_buffers(shop: Any, customer_id: int) -> int:
    """Pages PostgreSQL touches for one balance read (``EXPLAIN (ANALYZE, BUFFERS)`` of the
    selector's own query): the machine-independent figure that must not grow."""
    import re

    from django.db import connection

    from loyalty.models import Member

    query = Member.objects.filter(shop=shop, customer_id=customer_id).order_by("pk")[:1]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    top = next(line for line in plan.splitlines() if "Buffers:" in line)
    return sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", top))


def ledger_grow(shop_id: int, rows: int) -> float:
    """Add ``rows`` entries (+1/-1 pairs spread over all members), set-based, a million
    per statement; returns the seconds it took."""
    from django.db import connection

    t0 = time.perf_counter()
    chunk = 1_000_000
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM loyalty_member WHERE shop_id = %s", [shop_id]
        )
        member_ids = cursor.fetchone()[0]
        cursor.execute(
            "CREATE TEMP TABLE bench_members AS SELECT * FROM unnest(%s::bigint[])"
            " WITH ORDINALITY AS m(id, n)",
            [member_ids],
        )
        for start in range(0, rows, chunk):
            stop = min(rows, start + chunk)
            cursor.execute(
                "INSERT INTO loyalty_ledgerentry (shop_id, member_id, amount, kind, bucket,"
                " source_type, source_id, idempotency_key, actor, note, created_at)"
                " SELECT %s, m.id, CASE WHEN (i / %s) %% 2 = 0 THEN 1 ELSE -1 END, 'manual',"
                " 'available', 'manual', '', 'bench:' || i, 'bench', 'history',"
                " now() - interval '400 days' + (i / %s) * interval '1 second'"
                " FROM generate_series(%s, %s - 1) AS i"
                " JOIN bench_members m ON m.n = (i %% %s) + 1",
                [shop_id, len(member_ids), len(member_ids), start, stop, len(member_ids)],
            )
            print(f"  ledger entries: {stop:,}", flush=True)
        cursor.execute("DROP TABLE bench_members")
        # What autovacuum does after a bulk insert, done now: otherwise it runs during the
        # read timing below and the timing measures it.
        cursor.execute("VACUUM (ANALYZE) loyalty_ledgerentry")
    return time.perf_counter() - t0


def overdrafts_count(shop_id: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE m.balance < 0),"
            " count(*) FILTER (WHERE m.balance <> coalesce(l.total, 0)),"
            " count(*) FILTER (WHERE m.balance <> %s - coalesce(r.spent, 0)),"
            " count(*) FROM loyalty_member m"
            " LEFT JOIN (SELECT member_id, sum(amount) AS total FROM loyalty_ledgerentry"
            "   GROUP BY member_id) l ON l.member_id = m.id"
            " LEFT JOIN (SELECT member_id, sum(points_spent) AS spent FROM loyalty_redemption"
            "   GROUP BY member_id) r ON r.member_id = m.id"
            " WHERE m.shop_id = %s",
            [SEED_POINTS, shop_id],
        )
        negative, ledger_drift, spent_drift, members = cursor.fetchone()
    return {
        "negative": negative,
        "ledger_drift": ledger_drift,
        "spent_drift": spent_drift,
        "members": members,
    }


def main() -> int:
    env = S.bench_env(db_name=DB, redis_db=REDIS_DB, port=PORT)
    print(f"database {DB}, redis db {REDIS_DB}")
    S.database_recreate(DB)
    S.redis_flush(REDIS_DB)
    S.migrate(env)
    S.django_setup(env)
    shop_id, reward_id = seed()

    small = reads_time(shop_id)
    print(
        f"small ledger ({MEMBERS + 0:,} entries): balance read {small['balance_read_ms']:.3f} ms,"
        f" ledger page {small['ledger_page_ms']:.3f} ms,"
        f" {small['balance_read_buffers']} buffers"
    )
    redeem = redemptions_run(shop_id, reward_id)
    print(
        f"redemptions, 32 clients: {redeem['redeemed']} redeemed, {redeem['refused']} refused"
        f" in {redeem['seconds']:.1f} s = {redeem['redeem_per_s']:,.0f} redeemed/s"
        f" ({redeem['attempts_per_s']:,.0f} attempts/s, p50 {redeem['p50_ms']:.1f} ms,"
        f" p99 {redeem['p99_ms']:.1f} ms)"
    )
    over_small = overdrafts_count(shop_id)
    print(f"after redemptions: {over_small}")

    print(f"adding {LEDGER_ROWS:,} ledger entries ...")
    grow_s = ledger_grow(shop_id, LEDGER_ROWS)
    print(f"added in {grow_s:.0f} s")
    big = reads_time(shop_id)
    print(
        f"large ledger ({LEDGER_ROWS:,}+ entries): balance read {big['balance_read_ms']:.3f} ms,"
        f" ledger page {big['ledger_page_ms']:.3f} ms,"
        f" {big['balance_read_buffers']} buffers"
    )
    over = overdrafts_count(shop_id)
    overdrafts = over["negative"] + over["ledger_drift"] + over["spent_drift"]
    S.redis_flush(REDIS_DB)  # the queued redemption_issue tasks: never run here
    result = {
        "redeem_per_s": round(redeem["redeem_per_s"], 1),
        "redeem_attempts_per_s": round(redeem["attempts_per_s"], 1),
        "redeem_p99_ms": round(redeem["p99_ms"], 2),
        "redeemed": redeem["redeemed"],
        "refused": redeem["refused"],
        "clients": CLIENT_PROCESSES * CLIENT_THREADS,
        "balance_read_ms_small": round(small["balance_read_ms"], 3),
        "balance_read_ms_10m": round(big["balance_read_ms"], 3),
        "balance_read_buffers_small": small["balance_read_buffers"],
        "balance_read_buffers_10m": big["balance_read_buffers"],
        "ledger_page_ms_small": round(small["ledger_page_ms"], 3),
        "ledger_page_ms_10m": round(big["ledger_page_ms"], 3),
        "ledger_entries_added": LEDGER_ROWS,
        "overdrafts": overdrafts,
        "cpus": S.cpu_count(),
    }
    print(json.dumps(result))
    return 0 if overdrafts == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
