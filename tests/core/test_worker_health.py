"""Worker liveness: `/healthz/workers` and `manage.py workers_health` answer from the
heartbeat a consuming worker refreshes (the real worker's beat is exercised in
tests/config/test_worker_broker_outage.py)."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from core.worker_health import worker_heartbeat_record


def test_no_worker_ever_beat_is_503() -> None:
    response = Client().get("/healthz/workers")

    assert response.status_code == 503
    assert response.json() == {"ok": False, "reason": "no_heartbeat"}


def test_a_fresh_heartbeat_is_200(settings) -> None:
    settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS = 30.0
    worker_heartbeat_record(hostname="celery@w1", now=time.time() - 3)

    response = Client().get("/healthz/workers")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert 3.0 <= body["age_seconds"] < 10.0
    assert body["max_age_seconds"] == 30.0


def test_a_stale_heartbeat_is_503(settings) -> None:
    settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS = 30.0
    worker_heartbeat_record(hostname="celery@w1", now=time.time() - 45)

    response = Client().get("/healthz/workers")

    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["reason"] == "heartbeat_stale"
    assert body["age_seconds"] >= 45.0


def test_the_freshest_worker_counts(settings) -> None:
    settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS = 30.0
    worker_heartbeat_record(hostname="celery@dead", now=time.time() - 300)
    worker_heartbeat_record(hostname="celery@alive", now=time.time() - 1)

    assert Client().get("/healthz/workers").status_code == 200


def test_cli_fails_without_a_heartbeat() -> None:
    with pytest.raises(CommandError, match="any worker: no heartbeat"):
        call_command("workers_health")


def test_cli_names_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    worker_heartbeat_record(hostname="celery@w1", now=time.time() - 2)

    call_command("workers_health", "--worker", "celery@w1", "--max-age", "10")
    assert capsys.readouterr().out.startswith("celery@w1: last heartbeat 2.")
    with pytest.raises(CommandError, match="celery@w2: no heartbeat"):
        call_command("workers_health", "--worker", "celery@w2")
    with pytest.raises(CommandError, match=r"celery@w1: last heartbeat 2\.\ds ago"):
        call_command("workers_health", "--worker", "celery@w1", "--max-age", "1")
