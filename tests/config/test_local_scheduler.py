"""The periodic jobs under `make run`: beat's schedule, run in runserver's process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from config.celery import app
from config.local_scheduler import LocalScheduler, serving_process

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
    app.loader.import_default_modules()
    scheduler = LocalScheduler(settings.CELERY_BEAT_SCHEDULE, app=app)

    assert [entry.name for entry in scheduler.entries] == list(settings.CELERY_BEAT_SCHEDULE)
    assert all(entry.task in app.tasks for entry in scheduler.entries)
    assert scheduler.entries[0].task == "merchants.tasks.webhooks_drain"


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
