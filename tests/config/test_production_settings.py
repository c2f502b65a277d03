"""Production settings started for real, in a subprocess with production's environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json
import django
from django.conf import settings
from django.test import Client

django.setup()
client = Client()
answers = {
    host: client.get("/healthz", HTTP_HOST=host, secure=True).status_code
    for host in ("beam.example.com", "evil.example")
}
print(json.dumps({"allowed_hosts": settings.ALLOWED_HOSTS, "answers": answers}))
"""


def _start_production(tmp_path: Path, **extra: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "SHOPIFY_", "BEAM_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="production-test-secret-key-" + "x" * 40,
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:6379/15",
        SHOPIFY_API_KEY="key",
        SHOPIFY_API_SECRET="secret",
        SHOPIFY_APP_URL="https://beam.example.com/",
        BEAM_TOKEN_ENCRYPTION_KEYS="a" * 44,
        **extra,
    )
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("extra", "allowed_hosts", "answers"),
    [
        ({}, ["beam.example.com"], {"beam.example.com": 200, "evil.example": 400}),
        (
            {"DJANGO_ALLOWED_HOSTS": "beam.example.com,evil.example"},
            ["beam.example.com", "evil.example"],
            {"beam.example.com": 200, "evil.example": 200},
        ),
    ],
)
def test_production_allowed_hosts_come_from_the_app_url_unless_set(
    tmp_path: Path, extra: dict, allowed_hosts: list, answers: dict
) -> None:
    started = _start_production(tmp_path, **extra)

    assert started == {"allowed_hosts": allowed_hosts, "answers": answers}
