"""Chaos bench: the production shape on localhost, a paced burst of signed deliveries and
app-proxy redemptions, and faults injected while it runs; then it checks that nothing was
lost, credited twice or left waiting.

Run: ``.venv/bin/python bench/chaos.py`` (about 4,000 deliveries sent over 90 s; 3 to 4
minutes in all) or ``--quick`` (about 400 over 30 s; 1.5 to 2.5 minutes in all, more when
a redemption's task message is lost and waits for the sweeper). It needs PostgreSQL
on 127.0.0.1:5432 and ``redis-server`` on the PATH. It starts, all on localhost:

* its own PostgreSQL database (``chaos_bench``, ``CHAOS_DB``), recreated;
* its **own** ``redis-server`` on a spare port (``CHAOS_REDIS_PORT``, default 19479), no
  persistence, so a restart comes back empty;
* gunicorn with the Procfile's web command (``CHAOS_PORT``, default 19400), also serving
  the devstore, which answers the Admin API calls redemptions make;
* two Celery workers (the Procfile's worker command, concurrency 2 each) and beat.

The burst (``bench/_chaos_plan.py``): orders, a third of them ``taxes_included``,
refunds before and after their orders, ``customers/create`` with welcome points before
and after the customer's first order, duplicates (same webhook id) and redeliveries of
one event under a new webhook id, sent at a steady rate by a client that retries a
non-2xx answer or a refused connection like the platform does, boundedly. Alongside,
some members redeem a reward through the signed app proxy once their welcome points are
in the database, then read ``me`` and ``program`` once (not retried).
During the burst: ``kill -9`` of one worker (restarted 3 s later, as its supervisor would),
Redis killed for 10 s and restarted empty, gunicorn stopped and started.

Then it waits for the inbox to settle (nothing waiting or leased, no pending redemption)
and checks against the independent model of ``_chaos_plan.expected``. Figures and bars:
``lost``, ``double_credited``, ``wrong_balances``, ``stuck_deliveries``,
``non2xx_after_retries``, ``pending_redemptions`` must be 0; ``first_attempt_5xx`` 0
(while gunicorn restarts, refused connections and connections reset unanswered are
counted apart: ``first_attempt_refused``, ``first_attempt_errors``);
``settle_seconds`` <= 60 after the last send. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _chaos_plan as P
from bench import _support as S
from bench._chaos_checks import checks, count, ok, settle_wait, shop_setup

DB = os.environ.get("CHAOS_DB", "chaos_bench")
PORT = int(os.environ.get("CHAOS_PORT", "19400"))
REDIS_PORT = int(os.environ.get("CHAOS_REDIS_PORT", "19479"))
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 8.0)  # the platform retries for hours; here ~23 s
SENDER_THREADS = 24
REDIS_OUTAGE_SECONDS = 10.0
WORKER_RESTART_SECONDS = 3.0
SETTLE_BAR_SECONDS = 60.0


# --- the sending side ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What the client saw for one delivery or redemption."""

    first: int | str = 0  # HTTP status of the first attempt, or "refused" / "error"
    final: int | str = 0
    attempts: int = 0
    body: bytes = b""
    done_at: float = 0.0  # time.time() of the last attempt's end


def _post_once(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one raw HTTP/1.1 request on a new connection; (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.sendall(request)
        response = http.client.HTTPResponse(conn.sock)
        response.begin()
        return response.status, response.read()
    finally:
        conn.close()


def send_with_retries(port: int, build: Any) -> Outcome:
    """Like the platform: a 2xx is done; a non-2xx or a failed connection is retried after
    a growing delay, ``len(RETRY_DELAYS)`` times at most. ``build()`` makes the request
    afresh (app-proxy signatures carry a timestamp)."""
    out = Outcome()
    for attempt in range(len(RETRY_DELAYS) + 1):
        try:
            status: int | str
            status, out.body = _post_once(port, build())
        except ConnectionRefusedError:
            status = "refused"
        except OSError:
            status = "error"
        out.attempts = attempt + 1
        if attempt == 0:
            out.first = status
        out.final = status
        out.done_at = time.time()
        if isinstance(status, int) and (200 <= status < 300 or status in (400, 404, 409, 422)):
            return out  # a 4xx answer to a redemption is the shopper's, not a fault
        if attempt < len(RETRY_DELAYS):
            time.sleep(RETRY_DELAYS[attempt])
    return out


def webhook_bytes(sizes: P.Sizes, item: P.Item) -> bytes:
    return S.webhook_request(
        path=f"/webhooks/{item.topic}",
        topic=item.topic,
        shop=P.SHOP,
        webhook_id=item.webhook_id,
        event_id=item.event_id,
        payload=P.payload_of(sizes, item),
        port=PORT,
    )


def burst_send(
    sizes: P.Sizes, items: list[P.Item], rate: float, start_at: float
) -> dict[str, Outcome]:
    """Send ``items`` in order at ``rate`` per second from ``start_at`` (several threads,
    each waiting for its item's slot); the outcome per webhook id of each sending."""
    outcomes: list[tuple[str, Outcome]] = []
    lock = threading.Lock()
    next_index = 0

    def worker() -> None:
        nonlocal next_index
        while True:
            with lock:
                i = next_index
                next_index += 1
            if i >= len(items):
                return
            time.sleep(max(0.0, start_at + i / rate - time.time()))
            item = items[i]
            outcome = send_with_retries(PORT, lambda item=item: webhook_bytes(sizes, item))
            with lock:
                outcomes.append((item.webhook_id, outcome))

    threads = [threading.Thread(target=worker) for _ in range(SENDER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged: dict[str, Outcome] = {}
    for webhook_id, outcome in outcomes:  # a duplicate's outcome joins its first sending's
        seen = merged.get(webhook_id)
        if seen is None or not ok(seen.final):
            merged[webhook_id] = outcome
    return merged


def proxy_request(method: str, path: str, customer: int, body: dict[str, Any] | None) -> bytes:
    """A storefront request as the platform's app proxy forwards it (signed query)."""
    from merchants.shopify.signatures import app_proxy_signature_compute

    pairs = [
        ("shop", P.SHOP),
        ("logged_in_customer_id", str(customer)),
        ("path_prefix", "/apps/beam"),
        ("timestamp", str(int(time.time()))),
    ]
    pairs.append(("signature", app_proxy_signature_compute(pairs, secret=S.API_SECRET)))
    data = json.dumps(body).encode() if body is not None else b""
    head = [
        f"{method} /proxy/{path}?{urlencode(pairs)} HTTP/1.1",
        f"Host: 127.0.0.1:{PORT}",
        "Accept: application/json",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


@dataclass
class Redeemed:
    customer: int
    outcome: Outcome | None = None
    had_points: bool = True
    reads: list[int | str] = field(default_factory=list)  # first answers of the reads


def _balance(conn: Any, customer: int) -> int:
    row = conn.execute(
        "SELECT balance FROM loyalty_member m JOIN merchants_shop s ON s.id = m.shop_id"
        " WHERE s.domain = %s AND m.customer_id = %s",
        [P.SHOP, customer],
    ).fetchone()
    return row[0] if row else 0


def _read_once(customer: int, path: str) -> int | str:
    try:
        return _post_once(PORT, proxy_request("GET", path, customer, None))[0]
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "error"


def redeem_all(
    dsn: str, redeemers: list[int], reward_id: int, start_at: float, seconds: float
) -> list[Redeemed]:
    """Each redeemer, at its time within the burst, waits (60 s at most) until the
    database shows its welcome points, redeems once with its own client key (retried like
    a shopper would, so the same redemption comes back), then opens its panel: ``me`` and
    ``program`` once each, not retried (what the storefront shows at that moment)."""
    import psycopg

    results = [Redeemed(customer=c) for c in redeemers]

    def one(k: int, result: Redeemed) -> None:
        time.sleep(max(0.0, start_at + seconds * (0.05 + 0.85 * k / len(results)) - time.time()))
        with psycopg.connect(dsn, autocommit=True) as conn:
            deadline = time.time() + 60
            while _balance(conn, result.customer) < P.REWARD_COST:
                if time.time() > deadline:
                    result.had_points = False
                    break
                time.sleep(0.5)
        body = {"reward_id": str(reward_id), "client_key": f"chaos-redeem-{result.customer}"}
        result.outcome = send_with_retries(
            PORT, lambda: proxy_request("POST", "api/redeem", result.customer, body)
        )
        result.reads = [_read_once(result.customer, p) for p in ("api/me", "api/program")]

    threads = [threading.Thread(target=one, args=(k, r)) for k, r in enumerate(results)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- the processes and the faults ----------------------------------------------------------


@dataclass
class Shape:
    """The processes of the production shape, as this bench runs and kills them."""

    env: dict[str, str]
    logs: Path
    web_workers: int
    web_threads: int
    procs: dict[str, S.Proc] = field(default_factory=dict)
    t0: float = 0.0
    web_restart_seconds: float = 0.0  # SIGTERM to the new server's first answer

    def note(self, what: str) -> None:
        print(f"  t+{time.time() - self.t0:5.1f} s  {what}", flush=True)

    def redis_start(self) -> None:
        self.procs["redis"] = S.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            self.env,
            self.logs / "redis.log",
        )
        import redis

        client = redis.Redis(port=REDIS_PORT)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def web_start(self) -> None:
        self.procs["web"] = S.gunicorn_start(
            self.env,
            port=PORT,
            workers=self.web_workers,
            threads=self.web_threads,
            log=self.logs / f"web-{int(time.time())}.log",
        )

    def worker_start(self, name: str) -> None:
        log = self.logs / f"worker-{name}-{int(time.time())}.log"
        self.procs[name] = S.celery_start(self.env, concurrency=2, log=log, name=name)

    def beat_start(self) -> None:
        self.procs["beat"] = S.start(
            "beat",
            [
                str(S.BIN / "celery"),
                "-A",
                "config",
                "beat",
                "-l",
                "warning",
                "-s",
                str(self.logs / "beat-schedule"),
            ],
            self.env,
            self.logs / "beat.log",
        )

    def kill9(self, name: str) -> None:
        """SIGKILL the process and every child of it (a crashed container)."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(10)

    def worker_crash(self) -> None:
        self.note("kill -9 worker a (and its pool)")
        self.kill9("a")
        time.sleep(WORKER_RESTART_SECONDS)
        self.worker_start("a")
        self.note("worker a restarted")

    def redis_outage(self) -> None:
        self.note("kill -9 redis-server")
        self.kill9("redis")
        time.sleep(REDIS_OUTAGE_SECONDS)
        self.redis_start()
        self.note("redis-server restarted, empty")

    def web_restart(self) -> None:
        self.note("gunicorn stopped (SIGTERM)")
        stopping = time.time()
        self.procs["web"].stop()
        self.note("gunicorn exited")
        self.web_start()
        self.web_restart_seconds = time.time() - stopping
        self.note("gunicorn started and answering")

    def dead(self) -> dict[str, int]:
        """Processes that exited on their own: name -> exit code."""
        return {n: p.popen.returncode for n, p in self.procs.items() if p.popen.poll() is not None}

    def stop_all(self) -> None:
        for name in ("beat", "a", "b", "web", "redis"):
            if name in self.procs:
                self.procs[name].stop()


def chaos_run(shape: Shape, start_at: float, seconds: float) -> threading.Thread:
    """The faults, in a thread: worker crash at 15 % of the burst, the Redis outage at 30 %,
    gunicorn's restart after the outage plus 15 %."""

    def run() -> None:
        schedule = [
            (0.15 * seconds, shape.worker_crash),
            (0.30 * seconds, shape.redis_outage),
            (0.45 * seconds + REDIS_OUTAGE_SECONDS, shape.web_restart),
        ]
        for at, action in schedule:
            time.sleep(max(0.0, start_at + at - time.time()))
            action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# --- main ---------------------------------------------------------------------------------


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred deliveries")
    parser.add_argument("--orders", type=int, help="orders in the burst (default 2500)")
    parser.add_argument("--customers", type=int, help="customers (default orders / 5)")
    parser.add_argument("--redeemers", type=int, help="members redeeming (default 30)")
    parser.add_argument("--seconds", type=float, help="length of the burst (default 90)")
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    env = os.environ.get
    orders = args.orders or int(env("CHAOS_ORDERS", "250" if args.quick else "2500"))
    args.sizes = P.Sizes(
        orders=orders,
        customers=args.customers or max(40, orders // 5),
        redeemers=args.redeemers or (6 if args.quick else 30),
    )
    args.seconds = args.seconds or float(env("CHAOS_SECONDS", "30" if args.quick else "90"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    sizes: P.Sizes = args.sizes
    redis_url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    env = S.bench_env(
        db_name=DB,
        redis_db=0,
        port=PORT,
        extra={
            "DJANGO_SETTINGS_MODULE": "bench._chaos_settings",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
        },
    )
    dsn = f"postgresql://{S.PG_USER}@{S.PG_HOST}:5432/{DB}"
    logs = Path(os.environ.get("CHAOS_LOGS") or tempfile.mkdtemp(prefix="bench-chaos-"))
    logs.mkdir(parents=True, exist_ok=True)
    items = P.plan(sizes)
    rate = len(items) / args.seconds
    print(
        f"database {DB}, redis-server :{REDIS_PORT}, gunicorn :{PORT}, logs in {logs}\n"
        f"{len(items)} deliveries ({sizes.orders} orders, {sizes.customers} customers,"
        f" {sizes.redeemers} redeemers) at {rate:.0f}/s over {args.seconds:.0f} s",
        flush=True,
    )
    S.database_recreate(DB)
    S.migrate(env)
    shape = Shape(env=env, logs=logs, web_workers=2, web_threads=8)
    try:
        shape.redis_start()
        S.django_setup(env)
        shop_id, reward_id = shop_setup(sizes)
        shape.web_start()
        for name in ("a", "b"):
            shape.worker_start(name)
        shape.beat_start()
        time.sleep(3)  # workers up
        start_at = time.time() + 1
        shape.t0 = start_at
        faults = chaos_run(shape, start_at, args.seconds)
        redeemers = [P.customer_id(c) for c in range(sizes.customers) if P.is_redeemer(sizes, c)]
        redeemed: list[Redeemed] = []
        redeeming = threading.Thread(
            target=lambda: redeemed.extend(
                redeem_all(dsn, redeemers, reward_id, start_at, args.seconds)
            )
        )
        redeeming.start()
        sent = burst_send(sizes, items, rate, start_at)
        redeeming.join()
        faults.join()
        outcomes = list(sent.values()) + [r.outcome for r in redeemed if r.outcome is not None]
        last_send = max(o.done_at for o in outcomes)
        shape.note("faults done; waiting for the inbox to settle")
        settled_at = settle_wait(dsn, shop_id, args.settle_timeout, shape.note)
        settle = None if settled_at is None else max(0.0, settled_at - last_send)
        shape.note(
            f"settled {settle:.1f} s after the last send" if settle is not None else "not settled"
        )
        dead = shape.dead()
    finally:
        shape.stop_all()
    figures = checks(dsn, shop_id, sizes, items, {w for w, o in sent.items() if ok(o.final)})
    firsts = count([*(o.first for o in outcomes), *(s for r in redeemed for s in r.reads)])
    result: dict[str, Any] = {
        "lost": figures["lost"],
        "double_credited": figures["double_credited"],
        "wrong_balances": figures["wrong_balances"],
        "stuck_deliveries": figures["stuck_deliveries"],
        "non2xx_after_retries": sum(1 for o in sent.values() if not ok(o.final)),
        "first_attempt_5xx": sum(n for status, n in firsts.items() if status.startswith("5")),
        "first_attempt_refused": firsts.get("refused", 0),
        "first_attempt_errors": firsts.get("error", 0),
        "settle_seconds": round(settle, 1) if settle is not None else None,
        "pending_redemptions": figures["pending_redemptions"],
        "deliveries": len(items),
        "orders": sizes.orders,
        "first_attempt_statuses": firsts,
        "retried": sum(1 for o in outcomes if o.attempts > 1),
        "redeem_answers": count(r.outcome.final for r in redeemed if r.outcome is not None),
        "storefront_reads": count(s for r in redeemed for s in r.reads),
        "redeemers_without_points": sum(1 for r in redeemed if not r.had_points),
        "processes_dead": dead,
        "gunicorn_restart_seconds": round(shape.web_restart_seconds, 1),
        **{k: v for k, v in figures.items() if k not in ("lost", "double_credited")},
    }
    print(f"last send at {time.strftime('%H:%M:%S', time.gmtime(last_send))} UTC")
    for key, value in result.items():
        print(f"{key}: {value}")
    bars = (
        all(
            result[k] == 0
            for k in (
                "lost",
                "double_credited",
                "wrong_balances",
                "stuck_deliveries",
                "non2xx_after_retries",
                "pending_redemptions",
                "first_attempt_5xx",
            )
        )
        and settle is not None
        and settle <= SETTLE_BAR_SECONDS
    )
    result["bars_met"] = bars
    print(json.dumps(result))
    return 0 if bars else 1


if __name__ == "__main__":
    sys.exit(main())
