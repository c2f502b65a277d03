"""The periodic jobs under `make run`: beat's schedule, run in runserver's process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.module_loading import autodiscover_modules

from config.celery import app
from config.local_scheduler import LocalScheduler, serving_process
from tests.config.local_process import _UNSET, ROOT

runs: list[str] = []


@app.task(name="tests.config.job_record")
def job_record(label: str) -> None:
    runs.append(label)


@app.task(name="tests.config.job_fail")
def job_fail() -> None:
    raise RuntimeError("boom")


@pytest.fixture(autouse=True)
def runs_reset() -> None:
    runs.clear()


def test_every_job_of_beats_schedule_is_a_registered_task() -> None:
    autodiscover_modules("tasks")
    scheduler = LocalScheduler(settings.CELERY_BEAT_SCHEDULE, app=app)

    assert [entry.name for entry in scheduler.entries] == list(settings.CELERY_BEAT_SCHEDULE)
    assert all(entry.task in app.tasks for entry in scheduler.entries)
    assert scheduler.entries[0].task == "merchants.tasks.webhooks_drain"


@pytest.mark.django_db  # each run ends by closing the thread's stale connections
def test_tick_runs_due_jobs_only_and_survives_a_failing_one() -> None:
    scheduler = LocalScheduler(
        {
            "fails": {"task": "tests.config.job_fail", "schedule": 30.0},
            "due": {"task": "tests.config.job_record", "schedule": 30.0, "args": ("due",)},
            "later": {"task": "tests.config.job_record", "schedule": 600.0, "args": ("later",)},
        },
        app=app,
    )
    for entry in scheduler.entries[:2]:
        entry.last_run_at -= timedelta(seconds=31)

    wait = scheduler.tick()

    assert runs == ["due"]
    assert 29.0 < wait <= 30.0  # the jobs that just ran are next, in one interval
    assert scheduler.tick() == pytest.approx(wait, abs=1.0)
    assert runs == ["due"]  # nothing ran twice


@pytest.mark.django_db
def test_first_run_is_one_interval_after_start_like_beat() -> None:
    scheduler = LocalScheduler(
        {"due": {"task": "tests.config.job_record", "schedule": 5.0, "args": ("x",)}}, app=app
    )

    scheduler.tick()

    assert runs == []


@pytest.mark.parametrize(
    ("argv", "environ", "serving"),
    [
        (["manage.py", "runserver", "127.0.0.1:8000"], {"RUN_MAIN": "true"}, True),
        (["manage.py", "runserver", "--noreload"], {}, True),
        (["manage.py", "runserver", "127.0.0.1:8000"], {}, False),  # the reloader's parent
        (["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
        (["manage.py", "points_expire"], {}, False),
        (["pytest"], {}, False),
    ],
)
def test_only_runservers_serving_process_runs_the_jobs(
    argv: list[str], environ: dict[str, str], serving: bool
) -> None:
    assert serving_process(argv, environ) is serving


def test_runserver_starts_the_jobs(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local"}
    env["BEAM_SQLITE_PATH"] = str(tmp_path / "db.sqlite3")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if "local scheduler:" in line or "Quit the server" in line:
                break
        started = [line for line in lines if "local scheduler:" in line]
        assert started, "".join(lines)
        assert (
            started[0]
            .rstrip()
            .endswith(f"local scheduler: {len(settings.CELERY_BEAT_SCHEDULE)} periodic jobs")
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
