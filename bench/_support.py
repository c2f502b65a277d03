"""Shared helpers of the benches: a throw-away PostgreSQL database, production-like settings
for the processes the bench starts (gunicorn, Celery), process handling, signed webhook
requests and a load generator that is not the bottleneck.

The load generator speaks HTTP/1.1 keep-alive over raw asyncio streams, several processes,
many connections each: a request costs it a few tens of microseconds of CPU, far below
what the Django view under test costs, and it measures the floor (a minimal view) and the
webhook view the same way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
API_SECRET = "bench-api-secret"
SECRET_KEY = "bench-secret-key-not-for-production"
TOKEN_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"bench-token-key").digest()).decode()
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")


def bench_env(
    *, db_name: str, redis_db: int, port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for the bench itself and every process it starts: production settings
    (``bench._settings`` only adds the floor view and the no-op task), real PostgreSQL
    and Redis, no TLS redirect (plain HTTP on localhost)."""
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench._settings",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:5432/{db_name}",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "SHOPIFY_API_KEY": "bench-api-key",
            "SHOPIFY_API_SECRET": API_SECRET,
            "SHOPIFY_APP_URL": f"http://127.0.0.1:{port}",
            "BEAM_TOKEN_ENCRYPTION_KEYS": TOKEN_KEY,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra or {})
    return env


def database_recreate(db_name: str) -> None:
    """Drop and create the bench's own database (never another one)."""
    assert db_name.startswith(("bench_", "chaos_")), db_name
    for cmd in (["dropdb", "--if-exists", "--force"], ["createdb"]):
        subprocess.run([*cmd, "-h", PG_HOST, "-U", PG_USER, db_name], check=True)


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process with the bench environment."""
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def redis_flush(redis_db: int) -> None:
    """Empty the bench's own Redis database (broker queue, drain flag)."""
    import redis

    redis.Redis(db=redis_db).flushdb()


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Ask the process this bench started to stop (gunicorn and Celery shut their own
        children down), then wait; its process group is killed only if it hangs."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


def start(name: str, args: Sequence[str], env: dict[str, str], log: Path) -> Proc:
    out = log.open("wb")
    popen = subprocess.Popen(
        list(args), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Proc(name, popen)


def gunicorn_start(
    env: dict[str, str], *, port: int, workers: int, threads: int, log: Path
) -> Proc:
    """The Procfile's web command (gthread workers, access log) on a bench port."""
    proc = start(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
        ],
        env,
        log,
    )
    http_wait(port, "/bench/minimal")
    return proc


def celery_start(env: dict[str, str], *, concurrency: int, log: Path, name: str = "w") -> Proc:
    """The Procfile's worker command."""
    return start(
        "celery",
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "-l",
            "warning",
            "--concurrency",
            str(concurrency),
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        log,
    )


def http_wait(port: int, path: str, timeout: float = 60.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not come up")


# --- signed requests --------------------------------------------------------------------


def webhook_request(
    *,
    path: str,
    topic: str,
    shop: str,
    webhook_id: str,
    payload: dict[str, Any],
    port: int,
    event_id: str = "",
) -> bytes:
    """One complete HTTP/1.1 request, signed as the platform signs webhooks. ``event_id``
    (default: one per webhook id) is shared by the platform's redeliveries of one event."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest()
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-Shopify-Topic: {topic}",
        f"X-Shopify-Shop-Domain: {shop}",
        f"X-Shopify-Webhook-Id: {webhook_id}",
        f"X-Shopify-Event-Id: {event_id or f'evt-{webhook_id}'}",
        "X-Shopify-API-Version: 2026-10",
        "X-Shopify-Triggered-At: 2026-11-27T09:00:00.000000000Z",
        f"X-Shopify-Hmac-Sha256: {base64.b64encode(digest).decode()}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


# --- load generator ---------------------------------------------------------------------


@dataclass
class LoadResult:
    sent: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float]
    started_at: float  # time.time() of the first request

    @property
    def per_s(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return 0.0
        return data[min(len(data) - 1, int(q * len(data)))]


async def _client(port: int, requests: list[bytes], connections: int, out: dict[str, Any]) -> None:
    next_index = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def connection_loop() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while next_index < len(requests):
            request = requests[next_index]
            next_index += 1
            for _attempt in range(3):
                t0 = time.perf_counter()
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ", 2)[1])
                length, close = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "connection" and value.strip().lower() == "close":
                        close = True
                if length:
                    await reader.readexactly(length)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
        writer.close()

    await asyncio.gather(*(connection_loop() for _ in range(connections)))
    out["latencies"] = latencies
    out["statuses"] = statuses


def _client_process(
    port: int,
    make: Callable[[int], bytes],
    indexes: list[int],
    connections: int,
    start_at: float,
    queue: Any,
) -> None:
    requests = [make(i) for i in indexes]
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    asyncio.run(_client(port, requests, connections, out))
    queue.put((time.perf_counter() - t0, out["statuses"], out["latencies"]))


def load_run(
    *,
    port: int,
    make: Callable[[int], bytes],
    count: int,
    processes: int = 2,
    connections: int = 8,
    on_start: Callable[[float], None] | None = None,
) -> LoadResult:
    """Send requests ``make(0..count-1)`` (in that order, split round-robin over the client
    processes), ``connections`` keep-alive connections per process; ``make`` must be a
    module-level function (it runs in the client processes, which build their requests
    before the clock starts)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 1.0 + count / 40_000  # time to build the requests
    procs = [
        ctx.Process(
            target=_client_process,
            args=(port, make, list(range(p, count, processes)), connections, start_at, queue),
        )
        for p in range(processes)
    ]
    for proc in procs:
        proc.start()
    if on_start is not None:
        on_start(start_at)
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    for _, st, lat in results:
        for code, n in st.items():
            statuses[code] = statuses.get(code, 0) + n
        latencies.extend(lat)
    seconds = max(r[0] for r in results)
    return LoadResult(count, seconds, statuses, latencies, start_at)


def cpu_count() -> int:
    return os.cpu_count() or 1


def secondary_indexes_drop(cursor: Any, tables: Sequence[str]) -> list[str]:
    """Drop the secondary indexes and unique constraints of ``tables`` before a bulk load
    into them; returns the statements that build them again (one sort each afterwards
    instead of millions of index inserts)."""
    restore: list[str] = []
    for table in tables:
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
