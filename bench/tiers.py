"""VIP tiers at scale: a shop with 1,000,000 members and 5,000,000 orders on PostgreSQL.

Run: ``.venv/bin/python bench/tiers.py`` (PostgreSQL and Redis on localhost; about 20
minutes on 2 cores), ``--quick`` (100,000 members, 500,000 orders: about 6 minutes), or
``--members N --orders N``. It creates its own database (``bench_tiers``, ``BENCH_DB``),
loads the history set-based (``bench/_tiers_data.py``: a real shop's shape, occasional
shoppers and a long tail of heavy buyers, log-normal baskets), measures the tier thresholds
a merchant would pick for it (Silver and Gold at the 67th and 91st percentiles of the
members' qualifying values: about 65% of the members in the base tier, 25% Silver, 9%
Gold), starts a Celery worker with the Procfile's worker command and, for the ``me``
phase, gunicorn with the web command (port 19300, ``BENCH_PORT``; settings
``bench/_tiers_settings.py``: production plus the floor view), and measures, in one run:

1. turning tiers on (points, rolling 12 months, a base tier every member reaches): the
   preview (``tiers_recompute_preview``, in this process, as the admin calls it) and the
   apply (``tier_settings_save`` → the ``tiers_recompute_run`` task on the worker, until
   its ``TierRecompute`` row is done). Every member gets a first tier and a history row:
   a one-time event, reported as ``recompute_preview_enable_s`` /
   ``recompute_apply_enable_s``;
2. a settings change (amount spent instead of points, lower thresholds, a new top tier:
   about one member in ten moves): preview and apply the same way —
   ``recompute_preview_s`` / ``recompute_apply_s``, the headline;
3. the crediting engine with tiers on against the same run with tiers off: rounds of
   ``--backlog`` stored deliveries (orders drawn from the history's shoppers, one in twenty
   a new shopper, refunds) drained by the worker: off on on off off on on off (ABBA: the
   machine drifts as the tables grow, and a linear drift cancels), then heavy, off.
   ``drain_with_tiers_ratio`` = mean deliveries/s of the on rounds ÷ the off rounds (each
   pair's ratio beside it, ``drain_with_tiers_ratio_pairs``), with
   ``drain_moved_share`` the share of the orders that moved their member up (the natural
   share for this shop; each move writes a history row and the tier's entry points); the
   heavy round sends each order to a member just below a threshold
   (``drain_with_tiers_ratio_heavy``, ``drain_moved_share_heavy``: nearly every order a
   move), reported beside the headline;
4. the panel's ``me`` (the tier block included) for members holding tiers against the
   minimal view on the same server (floor, me, me uncached; twice). ``me_ratio`` = me ÷
   floor with the document cached, as shoppers mostly get it (cached after a member's
   first read until a writer drops it), the bar; ``me_ratio_uncached``: members never read
   before, every request the database read with the tier block.

Bars: preview and apply of the settings change ≤ 60 s each, drain ratio ≥ 0.9, ``me``
ratio ≥ 0.6. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _support as S
from bench import _tiers_data as D

DB = os.environ.get("BENCH_DB", "bench_tiers")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "4"))
PORT = int(os.environ.get("BENCH_PORT", "19300"))
SHOP = "bench-tiers.myshopify.com"
SETTINGS = "bench._tiers_settings"
RECOMPUTE_BAR_S = 60.0
DRAIN_BAR = 0.9
ME_BAR = 0.6
ME_MEMBERS = 500
WORKER_CONCURRENCY = int(os.environ.get("CELERY_CONCURRENCY", "2"))  # as ingest's backlog

# The ``me`` requests, built in this process before each load run (the client processes
# fork from it; signatures carry a timestamp the server takes for 90 s).
REQUESTS: list[bytes] = []


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 members, 500,000 orders")
    parser.add_argument("--members", type=int, help="default 1,000,000")
    parser.add_argument("--orders", type=int, help="default 5 orders per member")
    parser.add_argument(
        "--backlog", type=int, help="deliveries per drain round (12,000; 8,000 quick)"
    )
    parser.add_argument("--me-requests", type=int, default=6000, help="per load round")
    args = parser.parse_args(argv)
    args.members = args.members or (100_000 if args.quick else 1_000_000)
    args.orders = args.orders if args.orders is not None else 5 * args.members
    args.backlog = args.backlog or (8000 if args.quick else 12000)
    return args


# --- setup ----------------------------------------------------------------------------------


def shop_create() -> Any:
    from django.utils import timezone

    from loyalty.models import LoyaltyProgram
    from merchants.models import Shop

    shop = Shop(domain=SHOP, name="Bench tiers", installed_at=timezone.now())
    shop.access_token = "bench-token"
    shop.save()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


def worker_start(env: dict[str, str], logs: Path, name: str) -> S.Proc:
    proc = S.celery_start(env, concurrency=WORKER_CONCURRENCY, log=logs / f"{name}.log", name=name)
    time.sleep(4)  # up and idle
    return proc


# --- 1 and 2: the recompute -----------------------------------------------------------------


def recompute_run(shop: Any, draft: Any, label: str) -> dict[str, Any]:
    """Preview the draft, then save it and wait for the worker to apply it."""
    from loyalty.models import TierChange, TierRecompute
    from loyalty.services.tiers_recompute import tier_settings_save, tiers_recompute_preview

    started = time.perf_counter()
    preview = tiers_recompute_preview(shop=shop, draft=draft)
    preview_s = time.perf_counter() - started
    print(
        f"{label}: preview {preview_s:.1f} s ({preview.members:,} members: {preview.up:,} up,"
        f" {preview.down:,} down, {preview.grant_lost:,} lose a grant)"
    )
    started = time.perf_counter()
    recompute = tier_settings_save(shop=shop, draft=draft, actor="bench")
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        recompute.refresh_from_db()
        if recompute.status in (TierRecompute.Status.DONE, TierRecompute.Status.FAILED):
            break
        time.sleep(0.2)
    apply_s = time.perf_counter() - started
    if recompute.status != TierRecompute.Status.DONE:
        raise RuntimeError(f"{label}: the recompute ended {recompute.status}: {recompute.error}")
    written = TierChange.objects.filter(shop=shop, key__startswith=f"settings:{recompute.pk}:")
    changes = written.count()
    print(
        f"{label}: apply {apply_s:.1f} s (save → done; {recompute.done:,} members,"
        f" counts {recompute.counts}, {changes:,} history rows)"
    )
    previewed = {
        "up": preview.up,
        "down": preview.down,
        "grant_lost": preview.grant_lost,
        "unchanged": preview.unchanged,
    }
    # The rolling window moves on between the preview and the apply (a minute or more at
    # full size): the orders placed a year ago in that minute leave it, so a handful of
    # members near a threshold may be decided differently (about 5 orders a minute here).
    difference = sum(abs(recompute.counts[k] - v) for k, v in previewed.items()) // 2
    same = difference <= max(2, preview.members // 100_000)
    return {
        "preview_s": preview_s,
        "apply_s": apply_s,
        "moved": preview.up + preview.down + preview.grant_lost,
        "history_rows": changes,
        "preview_matches_apply": same,
        "preview_apply_difference": difference,
    }


def tier_shares(shop: Any) -> dict[str, float]:
    """The share of members in each tier (``none``: without one)."""
    from django.db.models import Count

    from loyalty.models import Member

    rows = Member.objects.filter(shop=shop).values("tier__name").annotate(n=Count("pk"))
    total = sum(r["n"] for r in rows) or 1
    return {(r["tier__name"] or "none"): round(r["n"] / total, 3) for r in rows}


# --- 3: the drain ---------------------------------------------------------------------------


def tiers_switch(shop: Any, *, on: bool) -> None:
    """The bench's switch (no recompute: the members keep their tiers and multipliers)."""
    from loyalty.models import TierSettings

    TierSettings.objects.filter(shop=shop).update(enabled=on)


def backlog_store(
    shop: Any, items: list[tuple[str, int]], members: int, customers: dict[int, int] | None = None
) -> None:
    """Store the deliveries as the webhook endpoint does, then drop the drain wake-ups
    they queued (the timed drain starts when the worker is up). ``customers``: the shopper
    of an order number, for the heavy round (else ``drain_customer``)."""
    from django.core.cache import cache

    from config.celery import app
    from merchants import inbox_record

    for topic, n in items:
        if topic == "orders/paid":
            payload = D.order_payload(n, members, (customers or {}).get(n))
        else:
            payload = D.refund_payload(n)
        inbox_record.delivery_record(
            shop=shop, webhook_id=f"tiers-{topic}-{n}", topic=topic, payload=payload
        )
    app.control.purge()
    cache.delete(inbox_record.DRAIN_PENDING_KEY)


def backlog_drain(shop_id: int, dsn: str) -> float:
    """Publish one drain and time it until the shop's inbox is empty."""
    import psycopg

    from merchants.tasks import webhooks_drain

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        webhooks_drain.delay()
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM merchants_webhookdelivery WHERE shop_id = %s"
                " AND status IN ('received', 'processing')",
                [shop_id],
            ).fetchone()[0]
            if not waiting:
                return time.perf_counter() - started
            time.sleep(0.05)
    raise RuntimeError("the backlog was not drained in time")


def heavy_customers(shop: Any, thresholds: dict[str, Any], items: list[tuple[str, int]]) -> dict:
    """The heavy round's shoppers: each order to a different member just below Silver,
    Gold or Platinum (its order moves most of them up)."""
    orders = [n for topic, n in items if topic == "orders/paid"]
    near = D.members_near_threshold(
        shop_id=shop.pk, thresholds=thresholds["spend_change"], count=len(orders), below=40
    )
    return dict(zip(orders, near, strict=False))


# (tiers on, heavy). The headline rounds are ABBA-ordered, off on on off off on on off: the
# machine drifts (the tables grow round by round) and in this order a linear drift weighs
# the same on both sides of the ratio. The heavy round comes last, between two off rounds.
OFF, ON, HEAVY = (False, False), (True, False), (True, True)
ROUNDS = (OFF, ON, ON, OFF, OFF, ON, ON, OFF, HEAVY, OFF)
HEADLINE_ROUNDS = 8


def drain_rounds(
    shop: Any,
    env: dict[str, str],
    dsn: str,
    logs: Path,
    args: argparse.Namespace,
    thresholds: dict[str, Any],
) -> dict[str, Any]:
    """The ``ROUNDS``: each stores ``backlog`` new deliveries with no worker running, then a
    worker drains them. The rounds with tiers on draw their shoppers from the history's
    power law (the headline: the mean of the four on rounds over the mean of the four off
    rounds around them); the heavy round's orders each go to a member just below a threshold
    (the cost of moves, reported beside it against the off rounds either side)."""
    from loyalty.models import LoyaltyOrder, TierChange

    rates: list[tuple[str, float]] = []
    moved: dict[str, int] = {"on": 0, "heavy": 0}
    orders_of: dict[str, int] = {"on": 0, "heavy": 0}
    first = 0
    for n_round, (on, heavy) in enumerate(ROUNDS):
        kind = "heavy" if heavy else "on" if on else "off"
        tiers_switch(shop, on=on)
        items = D.drain_plan(first, args.backlog)
        first = max(n for _, n in items) + 1
        customers = heavy_customers(shop, thresholds, items) if heavy else None
        backlog_store(shop, items, args.members, customers)
        earned_before = TierChange.objects.filter(shop=shop, reason="earned").count()
        worker = worker_start(env, logs, f"drain{n_round}")
        try:
            seconds = backlog_drain(shop.pk, dsn)
        finally:
            worker.stop()
        rate = len(items) / seconds
        rates.append((kind, rate))
        moves = TierChange.objects.filter(shop=shop, reason="earned").count() - earned_before
        orders = sum(1 for topic, _ in items if topic == "orders/paid")
        if on:
            moved[kind] += moves
            orders_of[kind] += orders
        print(
            f"drain round {n_round + 1} (tiers {kind}): {len(items):,}"
            f" deliveries ({orders:,} orders) in {seconds:.1f} s = {rate:,.0f}/s"
            + (f", {moves:,} members moved up" if on else "")
        )
    tiers_switch(shop, on=True)
    headline = rates[:HEADLINE_ROUNDS]
    off = statistics.mean(r for k, r in headline if k == "off")
    on_rate = statistics.mean(r for k, r in headline if k == "on")
    # each on round against the off round beside it (off on | on off | off on | on off)
    pairs = [headline[i + 1][1] / headline[i][1] for i in (0, 4)]
    pairs += [headline[i][1] / headline[i + 1][1] for i in (2, 6)]
    heavy_rate = rates[HEADLINE_ROUNDS][1]
    heavy_off = statistics.mean((rates[HEADLINE_ROUNDS - 1][1], rates[HEADLINE_ROUNDS + 1][1]))
    credited = LoyaltyOrder.objects.filter(shop=shop, order_id__gte=3 * D.ORDER_BASE)
    not_credited = credited.exclude(state="credited").count()
    return {
        "backlog_credited_per_s_without_tiers": round(off, 1),
        "backlog_credited_per_s_with_tiers": round(on_rate, 1),
        "drain_with_tiers_ratio": round(on_rate / off, 3),
        "drain_moved_up": moved["on"],
        "drain_moved_share": round(moved["on"] / orders_of["on"], 3),
        "drain_with_tiers_ratio_pairs": [round(p, 3) for p in pairs],
        "drain_with_tiers_ratio_heavy": round(heavy_rate / heavy_off, 3),
        "drain_moved_share_heavy": round(moved["heavy"] / orders_of["heavy"], 3),
        "drain_orders_not_credited": not_credited,
    }


# --- 4: me ----------------------------------------------------------------------------------


def make_request(i: int) -> bytes:
    return REQUESTS[i % len(REQUESTS)]


def requests_build(paths: list[str]) -> None:
    REQUESTS[:] = [
        f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nAccept: application/json\r\n\r\n".encode()
        for p in paths
    ]


def me_paths(customers: list[int]) -> list[str]:
    from merchants.shopify.signatures import app_proxy_signature_compute

    paths = []
    for customer in customers:
        pairs = [
            ("shop", SHOP),
            ("logged_in_customer_id", str(customer)),
            ("path_prefix", "/apps/beam"),
            ("timestamp", str(int(time.time()))),
        ]
        pairs.append(("signature", app_proxy_signature_compute(pairs, secret=S.API_SECRET)))
        paths.append(f"/proxy/api/me?{urlencode(pairs)}")
    return paths


def me_rounds(shop: Any, env: dict[str, str], logs: Path, count: int) -> dict[str, Any]:
    """Floor, me (cached), me (uncached), twice. The cached rounds cycle over ``ME_MEMBERS``
    members read once before (what shoppers mostly get: the document stays cached until a
    writer drops it); each uncached round reads members never read before (every request
    the database read with the tier block)."""
    import http.client

    from loyalty.models import Member

    uncached = count
    holders = list(
        Member.objects.filter(shop=shop, tier__isnull=False, tier__rank__gt=0)
        .order_by("?")
        .values_list("customer_id", flat=True)[: ME_MEMBERS + 2 * uncached]
    )
    customers, fresh = holders[:ME_MEMBERS], holders[ME_MEMBERS:]
    uncached = min(uncached, len(fresh) // 2)
    web = S.gunicorn_start(env, port=PORT, workers=2, threads=4, log=logs / "web.log")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        conn.request("GET", me_paths(customers[:1])[0])
        answer = conn.getresponse()
        document = json.loads(answer.read())
        block = (document.get("member") or {}).get("tier")
        if answer.status != 200 or not block:
            raise RuntimeError(f"me has no tier block: {answer.status} {document}")
        # Warm-up: the floor once, and each cached round's member once.
        requests_build(["/bench/minimal"])
        S.load_run(port=PORT, make=make_request, count=count // 4, processes=2, connections=8)
        requests_build(me_paths(customers))
        S.load_run(port=PORT, make=make_request, count=len(customers), processes=2, connections=8)
        rates: dict[str, list[float]] = {"floor": [], "me": [], "me_uncached": []}
        for n_round in range(2):
            for name in ("floor", "me", "me_uncached"):
                if name == "floor":
                    requests_build(["/bench/minimal"])
                elif name == "me":
                    requests_build(me_paths(customers))
                else:
                    requests_build(me_paths(fresh[n_round * uncached : (n_round + 1) * uncached]))
                result = S.load_run(
                    port=PORT,
                    make=make_request,
                    count=uncached if name == "me_uncached" else count,
                    processes=2,
                    connections=8,
                )
                bad = sum(n for code, n in result.statuses.items() if code != 200)
                if bad:
                    raise RuntimeError(f"{name}: {result.statuses}")
                rates[name].append(result.per_s)
                print(
                    f"{name}: {result.per_s:,.0f} req/s, p50 {result.pct(0.5):.1f} ms,"
                    f" p99 {result.pct(0.99):.1f} ms"
                )
    finally:
        web.stop()
    floor = sum(rates["floor"]) / 2
    me = sum(rates["me"]) / 2
    cold = sum(rates["me_uncached"]) / 2
    print(
        f"me (members holding tiers) {me / floor:.2f} x the floor cached,"
        f" {cold / floor:.2f} x uncached"
    )
    return {
        "me_per_s": round(me, 1),
        "view_floor_per_s": round(floor, 1),
        "me_ratio": round(me / floor, 3),
        "me_uncached_per_s": round(cold, 1),
        "me_ratio_uncached": round(cold / floor, 3),
        "me_tier_block": block,
    }


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    env = S.bench_env(
        db_name=DB, redis_db=REDIS_DB, port=PORT, extra={"DJANGO_SETTINGS_MODULE": SETTINGS}
    )
    dsn = f"postgresql://{S.PG_USER}@{S.PG_HOST}:5432/{DB}"
    logs = Path(tempfile.mkdtemp(prefix="bench-tiers-"))
    load_start = os.getloadavg()[0]
    print(
        f"database {DB}, redis db {REDIS_DB}, port {PORT}, logs in {logs};"
        f" load average {load_start:.1f} on {S.cpu_count()} cpus"
    )
    S.database_recreate(DB)
    S.redis_flush(REDIS_DB)
    S.migrate(env)
    S.django_setup(env)
    shop = shop_create()
    started = time.perf_counter()
    loaded = D.history_load(shop_id=shop.pk, members=args.members, orders=args.orders)
    print(
        f"history: {args.members:,} members, {args.orders:,} orders in"
        f" {time.perf_counter() - started:.0f} s"
        f" ({', '.join(f'{k} {v:.0f}' for k, v in loaded.items())})"
    )

    thresholds = D.thresholds_measure(shop_id=shop.pk)
    print(f"thresholds: {thresholds}")

    worker = worker_start(env, logs, "recompute")
    try:
        enable = recompute_run(shop, D.draft_enable(thresholds), "tiers on")
        enable_shares = tier_shares(shop)
        change = recompute_run(
            shop, D.draft_change(shop=shop, thresholds=thresholds), "settings change"
        )
        change_shares = tier_shares(shop)
    finally:
        worker.stop()
    print(
        f"members per tier: after turning tiers on {enable_shares}, after the change"
        f" {change_shares}"
    )
    drain = drain_rounds(shop, env, dsn, logs, args, thresholds)
    me = me_rounds(shop, env, logs, args.me_requests)

    # The headline is the settings change; turning tiers on (every member gets a first tier
    # and a history row) is a one-time event, reported beside it.
    preview_s = change["preview_s"]
    apply_s = change["apply_s"]
    bars = {
        "recompute_preview": preview_s <= RECOMPUTE_BAR_S,
        "recompute_apply": apply_s <= RECOMPUTE_BAR_S,
        "drain_with_tiers": drain["drain_with_tiers_ratio"] >= DRAIN_BAR,
        "me": me["me_ratio"] >= ME_BAR,
    }
    checks_ok = (
        enable["preview_matches_apply"]
        and change["preview_matches_apply"]
        and drain["drain_orders_not_credited"] == 0
    )
    result = {
        "members": args.members,
        "orders": args.orders,
        "recompute_preview_s": round(preview_s, 1),
        "recompute_apply_s": round(apply_s, 1),
        "recompute_preview_enable_s": round(enable["preview_s"], 1),
        "recompute_apply_enable_s": round(enable["apply_s"], 1),
        "enable_moved": enable["moved"],
        "change_moved": change["moved"],
        "tier_shares_enable": enable_shares,
        "tier_shares_change": change_shares,
        "preview_matches_apply": enable["preview_matches_apply"]
        and change["preview_matches_apply"],
        "preview_apply_difference": enable["preview_apply_difference"]
        + change["preview_apply_difference"],
        **drain,
        **{k: v for k, v in me.items() if k != "me_tier_block"},
        "backlog_per_round": args.backlog,
        "load_average_start": round(load_start, 1),
        "load_average_end": round(os.getloadavg()[0], 1),
        "cpus": S.cpu_count(),
        "bars_met": bars,
    }
    print(json.dumps(result))
    return 0 if all(bars.values()) and checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
