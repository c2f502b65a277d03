"""The Procfile's worker rides out a Redis (broker) outage: Redis is killed (`kill -9`) with
messages in flight and restarted empty, several times; the same worker process is still
alive afterwards, consumes a task sent after the last restart, and reports its liveness.

Issue 12 item 5: with celery 5.7.0 the worker died with `Unrecoverable error:
AttributeError("'NoneType' object has no attribute 'hostname'")` while restoring the
unacknowledged messages of the lost connection (a race: which broken socket the worker
notices first): against 5.7.0 this test failed about one run in three."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from cryptography.fernet import Fernet

from tests.processes import free_port, procfile_command

ROOT = Path(__file__).resolve().parents[2]
KILLS = 4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def _wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class _Redis:
    """A private, empty, non-persistent redis-server this test may kill."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        _wait_until(lambda: self._pings(client), timeout=10, what="redis-server")

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def count(self) -> int:
        try:
            return int(redis.Redis.from_url(self.url).get("outage:done") or 0)
        except redis.ConnectionError:
            return 0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[_Redis]:
    server = _Redis(tmp_path)
    server.start()
    yield server
    server.kill()


def worker_env(broker_url: str, tmp_path: Path) -> dict[str, str]:
    """Production settings (plus the probe task) on the private Redis."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.config.outage_settings",
        "DJANGO_SECRET_KEY": "broker-outage-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "SHOPIFY_API_KEY": "key",
        "SHOPIFY_API_SECRET": "secret",
        "SHOPIFY_APP_URL": "https://beam.example.com",
        "BEAM_TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "CELERY_CONCURRENCY": "2",
    }
    return env


@pytest.fixture
def worker(broker: _Redis, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The Procfile's `worker` command on a migrated database (as the Procfile's `release`
    leaves it), stopped by its own PID (its group if it hangs)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=worker_env(broker.url, tmp_path),
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "worker.log").open("wb")
    popen = subprocess.Popen(
        ["bash", "-c", f"exec {procfile_command('worker')}"],
        cwd=ROOT,
        env=worker_env(broker.url, tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield popen
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(5)
    log.close()


def test_worker_survives_redis_killed_and_restarted_empty(
    broker: _Redis, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    probe = Celery("outage-probe", broker=broker.url)
    log = tmp_path / "worker.log"

    def alive() -> None:
        assert worker.poll() is None, f"the worker exited:\n{log.read_text()[-3000:]}"

    def sent_tasks_run(n: int, seconds: float, *, timeout: float) -> None:
        before = broker.count()
        for _ in range(n):
            probe.send_task("tests.outage.count", args=[seconds])

        def started() -> bool:
            alive()
            return broker.count() > before

        _wait_until(started, timeout=timeout, what="the worker to consume")

    try:
        sent_tasks_run(1, 0, timeout=30)
        for _ in range(KILLS):
            # Given a worker busy with a backlog: messages delivered and not yet acknowledged.
            sent_tasks_run(20, 0.2, timeout=20)
            # When Redis dies and comes back empty.
            broker.kill()
            time.sleep(1)
            broker.start()
        # Then the same process consumes what is sent after the outage.
        probe.send_task("tests.outage.count", args=[0])

        def consumed() -> bool:
            alive()
            return broker.count() >= 1

        _wait_until(consumed, timeout=20, what="a task sent after the last restart")
        alive()
        assert "Unrecoverable error" not in log.read_text()
        # And its liveness is visible again to the supervisor's check (on the new, empty
        # Redis) within a few heartbeats (a beat may fall in the cache's back-off after the
        # outage and be skipped; the next one is stored).
        deadline = time.monotonic() + 4 * 5 + 10
        while True:
            check = subprocess.run(
                [sys.executable, "manage.py", "workers_health", "--max-age", "10"],
                cwd=ROOT,
                env=worker_env(broker.url, tmp_path),
                capture_output=True,
                text=True,
                timeout=60,
            )
            if check.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith("any worker: last heartbeat ")
    finally:
        probe.close()
