"""The intake under a real gunicorn (the Procfile's gthread worker): clients that stall
mid-body do not starve the health check, and a chunked delivery is read. The server runs
on its own SQLite file, so this runs the same on every database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from merchants import intake

ROOT = Path(__file__).resolve().parents[2]
THREADS = 16  # the Procfile's default
SECRET = "beam-test-api-secret"  # config.settings.test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """gunicorn with one gthread worker of THREADS threads on a migrated SQLite file."""
    folder = tmp_path_factory.mktemp("intake-server")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "BEAM_SQLITE_PATH": str(folder / "db.sqlite3"),
    }
    python = Path(sys.executable)
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    log = (folder / "gunicorn.log").open("wb")
    command = [python.with_name("gunicorn"), "config.wsgi:application", "--bind"]
    command += [f"127.0.0.1:{port}", "--workers", "1", "--threads", str(THREADS)]
    command += ["--worker-class", "gthread"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if health(port, timeout=1.0)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError((folder / "gunicorn.log").read_text())
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


def health(port: int, *, timeout: float) -> tuple[int, float]:
    """``GET /healthz``: its status and how long it took."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
    finally:
        conn.close()
    return status, time.monotonic() - started


def stalled(port: int) -> socket.socket:
    """A webhook request that announces 100 bytes of body, sends 2 and stops."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /webhooks/orders/paid HTTP/1.1\r\nHost: beam.test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}"
    )
    return sock


def status_of(sock: socket.socket, *, timeout: float) -> int:
    sock.settimeout(timeout)
    head = sock.recv(64)
    return int(head.split()[1])


def test_stalled_bodies_do_not_starve_the_health_check(server: int) -> None:
    clients = [stalled(server) for _ in range(3 * THREADS)]
    try:
        time.sleep(0.5)  # every stalled request has reached a thread or waits for one
        probes = [health(server, timeout=5.0) for _ in range(10)]

        assert [status for status, _ in probes] == [200] * 10
        assert max(took for _, took in probes) < 1.0
        statuses = [status_of(sock, timeout=intake.BODY_SECONDS + 3) for sock in clients]
        assert set(statuses) <= {408, 503}
        assert 1 <= statuses.count(408) <= intake.BODY_READERS
    finally:
        for sock in clients:
            sock.close()


def test_a_chunked_delivery_is_read(server: int) -> None:
    """Signed and sent in chunks: the signature verifies over the whole body (Beam does not
    know the shop: 404, where an unread body would be a 401)."""
    body = json.dumps({"id": 1, "email": "ann@example.com"}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    try:
        conn.request(
            "POST",
            "/webhooks/customers/create",
            body=iter([body[:10], body[10:]]),
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": signature.decode(),
                "X-Shopify-Topic": "customers/create",
                "X-Shopify-Shop-Domain": "nobody.myshopify.com",
                "X-Shopify-Webhook-Id": "chunked-1",
            },
            encode_chunked=True,
        )
        response = conn.getresponse()
        answer = (response.status, json.loads(response.read()))
    finally:
        conn.close()

    assert answer == (
        404,
        {"error": "unknown_shop", "detail": "Beam is not installed on this shop."},
    )
