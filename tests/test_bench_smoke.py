"""The benches at toy sizes: each still runs its real path end to end (gunicorn with the
webhook intake, Celery workers draining the inbox, PostgreSQL, Redis) and its correctness
checks must hold. The figures are not looked at; this keeps the benches from rotting and
tests the production process shape the in-process tests cannot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
    or not os.environ.get("REDIS_URL"),
    reason="the benches need PostgreSQL and Redis",
)


def bench_run(
    script: str, env: dict[str, str], timeout: int = 240, args: Sequence[str] = ()
) -> dict[str, Any]:
    """Run ``bench/<script> args`` with ``env`` and return its final JSON line."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise AssertionError(done.stdout[-3000:] + done.stderr[-3000:]) from None


def test_ingest_bench_credits_every_order_through_the_real_processes() -> None:
    result = bench_run(
        "ingest.py",
        {
            "BENCH_DB": "bench_smoke_ingest",
            "BENCH_REDIS_DB": "14",
            "BENCH_PORT": "19190",
            "BENCH_ORDERS": "400",
            "BENCH_MEMBERS": "60",
            "BENCH_NOOP_TASKS": "100",
            "BENCH_FLOOR_REQUESTS": "200",
        },
    )
    assert result["orders"] == 400 and result["deliveries"] > 400  # duplicates and refunds
    assert result["backlog_deliveries"] == result["deliveries"]  # the whole mix, stored first
    assert result["backlog_credited_per_s"] > 0
    assert result["ack_non_200"] == 0
    assert result["balances_match"] is True
    # the referral rounds: every order credited, 5 % of the on rounds' orders attributed
    assert result["backlog_orders_not_credited"] == 0
    assert result["referral_round_deliveries"] > 0
    assert result["referrals_claimed"] > 0
    assert result["referral_orders_attributed"] == result["referrals_claimed"]
    assert result["backlog_credited_per_s_referrals_on"] > 0
    assert result["backlog_credited_per_s_referrals_off"] > 0
    assert "referral_attribution" in result["bars_met"]


def test_ledger_bench_finds_no_overdraft() -> None:
    result = bench_run(
        "ledger.py",
        {
            "BENCH_DB": "bench_smoke_ledger",
            "BENCH_REDIS_DB": "15",
            "BENCH_MEMBERS": "80",
            "BENCH_ATTEMPTS": "4",
            "BENCH_LEDGER_ROWS": "20000",
            "BENCH_READS": "40",
        },
    )
    assert result["redeemed"] > 0 and result["overdrafts"] == 0
    # The read touches the member's index and row only, never the ledger (the redemptions
    # in between may leave a member's row one page further along its update chain).
    assert result["balance_read_buffers_10m"] <= result["balance_read_buffers_small"] + 1


@pytest.mark.skipif(
    not os.environ.get("BEAM_TIERS_SMOKE"),
    reason="the tier bench at toy size takes about two minutes (a worker started for each"
    " drain round, gunicorn for me); set BEAM_TIERS_SMOKE=1 to run it",
)
def test_tiers_bench_applies_what_it_previews_and_credits_every_order() -> None:
    """The figures are the bench's report; here its checks must hold: the apply wrote what
    the preview counted, every order of the drains was credited, me carried the tier block."""
    result = bench_run(
        "tiers.py",
        {"BENCH_DB": "bench_smoke_tiers", "BENCH_REDIS_DB": "13", "BENCH_PORT": str(free_port())},
        timeout=420,
        args=["--members", "2000", "--orders", "10000", "--backlog", "300", "--me-requests", "400"],
    )
    assert (result["members"], result["orders"]) == (2000, 10000)
    assert result["preview_matches_apply"] is True
    assert result["enable_moved"] == 2000  # the base tier: every member is written
    assert result["drain_orders_not_credited"] == 0
    assert result["drain_moved_up"] > 0
    assert result["me_per_s"] > 0 and result["view_floor_per_s"] > 0


@pytest.mark.skipif(
    not os.environ.get("BEAM_CHAOS_SMOKE") or not shutil.which("redis-server"),
    reason="the chaos bench's quick mode takes about two minutes (faults are timed: a 10 s"
    " Redis outage, restarts); set BEAM_CHAOS_SMOKE=1 to run it (needs redis-server)",
)
def test_chaos_bench_quick_mode_loses_and_doubles_nothing() -> None:
    """The money figures must hold whatever the faults; the fault figures (first-attempt
    5xx, settle time) are the bench's report, not asserted here."""
    db = f"chaos_smoke_{os.getpid()}"
    try:
        result = bench_run(
            "chaos.py",
            {
                "CHAOS_DB": db,
                "CHAOS_PORT": str(free_port()),
                "CHAOS_REDIS_PORT": str(free_port()),
                "CHAOS_ORDERS": "150",
                "CHAOS_SECONDS": "25",
            },
            timeout=420,
            args=["--quick"],
        )
    finally:
        subprocess.run(
            ["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", db],
            check=False,
        )
    assert result["orders"] == 150 and result["deliveries"] > 150
    assert result["lost"] == 0
    assert result["double_credited"] == 0
    assert result["wrong_balances"] == 0
    assert result["non2xx_after_retries"] == 0
    assert result["redemptions"] and result["issued_without_code"] == 0
