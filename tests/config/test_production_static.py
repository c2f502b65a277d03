"""The documented deploy serves every asset: the Procfile's `web`, production settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

from tests.processes import free_port, procfile_command

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ["vendor/htmx/htmx.min.js", "beam/session.js", "beam/admin.css"]


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, headers={"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_procfile_web_serves_the_static_assets(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "production-static-test",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/12",
        "SHOPIFY_API_KEY": "key",
        "SHOPIFY_API_SECRET": "secret",
        "SHOPIFY_APP_URL": "https://beam.example.com",
        "BEAM_TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
    }
    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen(
        ["bash", "-c", procfile_command("web")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/static/"
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = _get(base + ASSETS[0])
                break
            except OSError:
                assert web.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.5)
        for asset in ASSETS:
            status, body = _get(base + asset)
            assert (status, body) == (200, (ROOT / "static" / asset).read_bytes()), asset
        assert _get(base + "beam/no-such-file.js")[0] == 404
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        log.close()
