"""Storefront bench: (a) bytes of the launcher and the panel against their budgets,
(b) Lighthouse performance of a devstore storefront page without and with the launcher,
(c) throughput and p99 of the ``me`` and ``program`` endpoints under concurrent load, beside a
minimal Django view served by the same gunicorn server in the same run.

    .venv/bin/python bench/storefront.py                 # everything
    .venv/bin/python bench/storefront.py --bytes-only    # (a) only, no server

Ends with one JSON line. Exit status 1 when a budget or bar is missed: launcher <= 6 KB gz,
panel <= 25 KB gz, every JS file <= 10,000 B raw, Lighthouse difference <= 2 points,
``me``/``program`` throughput >= 0.6 of the floor's.

The server is gunicorn (gthread) on 127.0.0.1 with ``bench/storefront_settings.py``: DEBUG
off, PostgreSQL ``bench_storefront`` and Redis DB 3 when reachable (else SQLite and the local
cache; ``--database-url``/``--redis-url`` override). Requests are signed like the platform's
app proxy signs them. Lighthouse is the npm package pinned in ``bench/package.json``, run
against ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.client import HTTPConnection
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
ASSETS = ROOT / "extensions" / "beam-theme" / "assets"
CHROME = Path(os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"

LAUNCHER_FILES = ("beam-launcher.js",)
PANEL_FILES = (
    "beam-panel.js",
    "beam-panel-views.js",
    "beam-panel-tiers.js",
    "beam-panel-earn.js",
    "beam-panel-referrals.js",
    "beam-panel.css",
)
LOCALE_GLOB = "beam-i18n-*.js"
LAUNCHER_GZ_BUDGET = 6_000
PANEL_GZ_BUDGET = 25_000
JS_FILE_RAW_BUDGET = 10_000  # the platform's theme linter limit per JavaScript file
LIGHTHOUSE_MAX_DIFF = 2
FLOOR_RATIO = 0.6

SHOP = "bench-store.myshopify.com"
MEMBERS = 40
ENTRIES_PER_MEMBER = 25
FIRST_CUSTOMER_ID = 8_800_000_000_000_001


# --- (a) bytes ------------------------------------------------------------------------------


def gz_size(data: bytes) -> int:
    """Gzip level 9 with a fixed mtime, so the figure is reproducible."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass
class Measurement:
    files: dict[str, tuple[int, int]]  # name -> (raw bytes, gzipped bytes)
    panel_files: list[str]
    totals: dict[str, int | bool]


def measure(assets: Path = ASSETS) -> Measurement:
    """Sizes of every storefront asset and the launcher/panel totals against the budgets.
    The panel is what one shopper downloads on first open: its scripts, its stylesheet and
    the largest locale file (a shopper loads at most one). The launcher's styles live in
    the script (a constructed stylesheet), so the launcher figure is script + styles."""
    blobs = {p.name: p.read_bytes() for p in sorted(assets.iterdir()) if p.is_file()}
    files = {n: (len(b), gz_size(b)) for n, b in blobs.items()}
    locales = [n for n in files if Path(n).match(LOCALE_GLOB)]
    panel = [*PANEL_FILES, *([max(locales, key=lambda n: files[n][1])] if locales else [])]
    totals: dict[str, int | bool] = {
        "launcher_raw_bytes": sum(files[n][0] for n in LAUNCHER_FILES),
        "launcher_gz_bytes": sum(files[n][1] for n in LAUNCHER_FILES),
        "panel_raw_bytes": sum(files[n][0] for n in panel),
        "panel_gz_bytes": sum(files[n][1] for n in panel),
    }
    js_ok = all(raw <= JS_FILE_RAW_BUDGET for n, (raw, _) in files.items() if n.endswith(".js"))
    totals["within_budget"] = bool(
        js_ok
        and totals["launcher_gz_bytes"] <= LAUNCHER_GZ_BUDGET
        and totals["panel_gz_bytes"] <= PANEL_GZ_BUDGET
    )
    return Measurement(files, panel, totals)


def print_bytes(result: Measurement) -> None:
    for name, (raw, gzipped) in result.files.items():
        print(f"{name:28} raw {raw:>7,} B   gzip {gzipped:>6,} B")
    t = result.totals
    print(
        f"launcher: gzip {t['launcher_gz_bytes']:,} / {LAUNCHER_GZ_BUDGET:,} B; "
        f"every JS file raw <= {JS_FILE_RAW_BUDGET:,} B"
    )
    print(
        f"panel ({', '.join(result.panel_files)}): "
        f"gzip {t['panel_gz_bytes']:,} / {PANEL_GZ_BUDGET:,} B"
    )


# --- the server and its data ----------------------------------------------------------------


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port(start: int, end: int) -> int:
    for port in range(start, end):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {start}-{end}")


def server_env(args: argparse.Namespace, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "storefront_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "DATABASE_URL": args.database_url,
        "SHOPIFY_APP_URL": f"http://127.0.0.1:{port}",
        "DJANGO_DEBUG": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def database_prepare(args: argparse.Namespace) -> None:
    if args.database_url.startswith("postgres"):
        name = args.database_url.rsplit("/", 1)[1]
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", name],
            capture_output=True,
            check=False,
        )


SETUP = r"""
import django, sys
django.setup()
from decimal import Decimal
from datetime import timedelta
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0, interactive=False)
from devstore import services as dev
from devstore.models import DevShop
from loyalty import services as loyalty
from loyalty.models import LoyaltyProgram, Member, Reward
from merchants.models import Shop
shop_domain = sys.argv[1]
members, entries, first = (int(x) for x in sys.argv[2:5])
if not DevShop.objects.filter(domain=shop_domain).exists():
    dev_shop = dev.shop_create(shop_domain, name="Bench Store", currency="EUR")
    prices = ["49.00", "79.00", "38.50", "64.00", "24.00", "129.00", "18.00", "32.00"]
    for n, price in enumerate(prices):
        dev.product_create(dev_shop, f"Product {n + 1}", Decimal(price))
shop = Shop.objects.filter(domain=shop_domain).first()
if shop is None:
    shop = Shop(domain=shop_domain, name="Bench Store", currency="EUR", installed_at=timezone.now())
    shop.access_token = "shpat_bench"
    shop.access_token_expires_at = timezone.now() + timedelta(days=3650)
    shop.save()
    LoyaltyProgram.objects.create(shop=shop, welcome_points=100)
    for cost in (500, 1000, 2000, 5000):
        Reward.objects.create(shop=shop, name=f"{cost // 100} EUR off", kind="fixed_amount",
                              points_cost=cost, value=Decimal(cost // 100))
    for i in range(members):
        member = Member.objects.create(shop=shop, customer_id=first + i, email=f"m{i}@example.com")
        for j in range(entries):
            loyalty.points_adjust(shop=shop, member=member, amount=10 + j, reason="bench",
                                  actor="bench", idempotency_key=f"bench:{i}:{j}")
from django.db import connection
if connection.vendor == "postgresql":
    # Fresh tables have no planner statistics until autovacuum (off on some servers) gets
    # to them; a production database has them. Without them the history query is planned
    # as a scan of the shop's whole ledger.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
print("data ready")
"""


def data_prepare(env: dict[str, str], python: str) -> None:
    subprocess.run(
        [python, "-c", SETUP, SHOP, str(MEMBERS), str(ENTRIES_PER_MEMBER), str(FIRST_CUSTOMER_ID)],
        env=env,
        cwd=ROOT,
        check=True,
    )


class Server:
    """gunicorn on 127.0.0.1:port, stopped by its own pid."""

    def __init__(self, env: dict[str, str], port: int, workers: int, threads: int) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="bench-gunicorn-", suffix=".log"
        )
        self.proc = subprocess.Popen(
            [
                str(gunicorn),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--keep-alive",
                "5",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.port = port
        for _ in range(100):
            if _reachable("127.0.0.1", port):
                return
            time.sleep(0.1)
        self.stop()
        raise SystemExit("gunicorn did not start:\n" + Path(self.log.name).read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --- (c) load -------------------------------------------------------------------------------


def signed_paths(path: str, secret: str, customers: list[int | None]) -> list[str]:
    """App-proxy-signed URLs of ``path`` (fresh timestamp), one per shopper."""
    sys.path[:0] = [str(ROOT)]
    from merchants.shopify.signatures import app_proxy_signature_compute

    out = []
    for customer in customers:
        pairs = [
            ("shop", SHOP),
            ("logged_in_customer_id", "" if customer is None else str(customer)),
            ("path_prefix", "/apps/beam"),
            ("timestamp", str(int(time.time()))),
        ]
        pairs.append(("signature", app_proxy_signature_compute(pairs, secret=secret)))
        out.append(f"{path}?{urlencode(pairs)}")
    return out


def _client(args: tuple[int, list[str], float, int]) -> tuple[int, int, list[float]]:
    """One load process: ``threads`` keep-alive connections until ``deadline``."""
    port, paths, deadline, threads = args
    ok = bad = 0
    latencies: list[float] = []
    lock = threading.Lock()

    def run(offset: int) -> None:
        nonlocal ok, bad
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        good = errors = 0
        i = offset
        while time.time() < deadline:
            path = paths[i % len(paths)]
            i += 1
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Accept": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except OSError:
                conn.close()
                conn = HTTPConnection("127.0.0.1", port, timeout=10)
                status = 0
            mine.append(time.perf_counter() - start)
            if status == 200:
                good += 1
            else:
                errors += 1
        conn.close()
        with lock:
            ok += good
            bad += errors
            latencies.extend(mine)

    workers = [threading.Thread(target=run, args=(n * 7,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return ok, bad, latencies


@dataclass
class LoadResult:
    per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def load(port: int, paths: list[str], seconds: float, procs: int, threads: int) -> LoadResult:
    ctx = get_context("spawn")
    with ctx.Pool(procs) as pool:
        warm = time.time() + min(1.0, seconds / 4)
        pool.map(_client, [(port, paths, warm, threads)] * procs)
        start = time.time()
        deadline = start + seconds
        results = pool.map(_client, [(port, paths, deadline, threads)] * procs)
        elapsed = max(time.time() - start, seconds)
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    lat = sorted(x for r in results for x in r[2])
    p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)] if lat else float("nan")
    return LoadResult(
        per_s=ok / elapsed,
        p50_ms=1000 * statistics.median(lat) if lat else float("nan"),
        p99_ms=1000 * p99,
        errors=bad,
    )


# --- (b) Lighthouse -------------------------------------------------------------------------


def lighthouse_ready() -> Path:
    binary = BENCH / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH, check=True
        )
    return binary


def lighthouse_score(binary: Path, url: str, attempts: int = 3) -> float:
    """The performance score (0-100) of one Lighthouse run; a run that fails to record its
    trace (it happens on a loaded machine: ``NO_NAVSTART``) is retried."""
    for attempt in range(1, attempts + 1):
        try:
            return _lighthouse_once(binary, url)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, KeyError):
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _lighthouse_once(binary: Path, url: str) -> float:
    with tempfile.TemporaryDirectory(prefix="beam-lh-") as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                str(binary),
                url,
                "--only-categories=performance",
                "--output=json",
                f"--output-path={report}",
                f"--chrome-flags={CHROME_FLAGS}",
                "--quiet",
            ],
            env={**os.environ, "CHROME_PATH": str(CHROME), "TMPDIR": tmp},
            check=True,
            timeout=240,
        )
        data = json.loads(report.read_text())
    return round(100 * data["categories"]["performance"]["score"], 1)


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes-only", action="store_true")
    parser.add_argument("--skip-lighthouse", action="store_true")
    parser.add_argument("--seconds", type=float, default=8.0, help="per load phase")
    parser.add_argument("--rounds", type=int, default=2, help="load rounds (floor, me, program)")
    parser.add_argument("--procs", type=int, default=2, help="load processes")
    parser.add_argument("--threads", type=int, default=8, help="connections per process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--lighthouse-runs", type=int, default=5)
    parser.add_argument("--port-range", default="19200-19299")
    pg = _reachable("127.0.0.1", 5432)
    redis = _reachable("127.0.0.1", 6379)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL")
        or ("postgres://postgres@127.0.0.1:5432/bench_storefront" if pg else ""),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL") or ("redis://127.0.0.1:6379/3" if redis else ""),
    )
    args = parser.parse_args(argv)

    sizes = measure()
    print_bytes(sizes)
    figures: dict[str, object] = dict(sizes.totals)
    if args.bytes_only:
        print(json.dumps(figures))
        return 0 if sizes.totals["within_budget"] else 1

    tmpdir = tempfile.mkdtemp(prefix="beam-bench-")
    if not args.database_url:
        args.database_url = f"sqlite:///{tmpdir}/bench.sqlite3"
    low, high = (int(x) for x in args.port_range.split("-"))
    port = _free_port(low, high + 1)
    env = server_env(args, port)
    print(f"server: gunicorn gthread {args.workers}x{args.worker_threads} on :{port}")
    print(f"database: {args.database_url.split('@')[-1]}; cache: {args.redis_url or 'local'}")
    database_prepare(args)
    data_prepare(env, sys.executable)
    server = Server(env, port, args.workers, args.worker_threads)
    checks: dict[str, bool] = {"bytes_within_budget": bool(sizes.totals["within_budget"])}
    try:
        base = f"http://127.0.0.1:{port}"
        if not args.skip_lighthouse:
            binary = lighthouse_ready()
            page = f"{base}/devstore/{SHOP}/"
            scores: dict[str, list[float]] = {"without": [], "with": []}
            for _ in range(args.lighthouse_runs):
                scores["without"].append(lighthouse_score(binary, page + "?launcher=0"))
                scores["with"].append(lighthouse_score(binary, page))
            without = statistics.median(scores["without"])
            with_ = statistics.median(scores["with"])
            diff = round(without - with_, 1)
            print(f"lighthouse runs without launcher: {scores['without']}")
            print(f"lighthouse runs with launcher:    {scores['with']}")
            print(
                f"lighthouse performance (median): without {without}, with {with_}, "
                f"difference {diff} (must be <= {LIGHTHOUSE_MAX_DIFF})"
            )
            figures.update(lighthouse_without=without, lighthouse_with=with_, lighthouse_diff=diff)
            checks["lighthouse_diff"] = diff <= LIGHTHOUSE_MAX_DIFF

        secret = "beam-dev-api-secret"
        customers = [FIRST_CUSTOMER_ID + i for i in range(MEMBERS)]
        totals: dict[str, list[LoadResult]] = {"floor": [], "me": [], "program": []}
        for _ in range(args.rounds):
            phases = {
                "floor": ["/bench/floor"],
                "me": signed_paths("/proxy/api/me", secret, customers),
                "program": signed_paths("/proxy/api/program", secret, [None, *customers]),
            }
            for name, paths in phases.items():
                totals[name].append(load(port, paths, args.seconds, args.procs, args.threads))
        summary: dict[str, LoadResult] = {}
        for name, runs in totals.items():
            summary[name] = LoadResult(
                per_s=statistics.mean(r.per_s for r in runs),
                p50_ms=statistics.mean(r.p50_ms for r in runs),
                p99_ms=max(r.p99_ms for r in runs),
                errors=sum(r.errors for r in runs),
            )
        floor = summary["floor"].per_s
        print(
            f"load: {args.procs} processes x {args.threads} keep-alive connections, "
            f"{args.rounds} rounds x {args.seconds:g} s per endpoint"
        )
        for name, r in summary.items():
            ratio = r.per_s / floor if floor else 0.0
            print(
                f"{name:8} {r.per_s:8.0f} req/s   p50 {r.p50_ms:6.2f} ms   "
                f"p99 {r.p99_ms:6.2f} ms   errors {r.errors}   {ratio:.2f} of floor"
            )
        figures.update(
            me_per_s=round(summary["me"].per_s, 1),
            me_p99_ms=round(summary["me"].p99_ms, 2),
            program_per_s=round(summary["program"].per_s, 1),
            program_p99_ms=round(summary["program"].p99_ms, 2),
            floor_per_s=round(floor, 1),
            floor_p99_ms=round(summary["floor"].p99_ms, 2),
            me_ratio=round(summary["me"].per_s / floor, 3) if floor else 0.0,
            program_ratio=round(summary["program"].per_s / floor, 3) if floor else 0.0,
        )
        checks["no_errors"] = all(r.errors == 0 for r in summary.values())
        checks["me_ratio"] = figures["me_ratio"] >= FLOOR_RATIO  # type: ignore[operator]
        checks["program_ratio"] = figures["program_ratio"] >= FLOOR_RATIO  # type: ignore[operator]
    finally:
        server.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
    figures["checks"] = checks
    print(json.dumps(figures))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
