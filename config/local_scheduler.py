"""The periodic jobs under ``make run``: no broker and no beat there (tasks run in-process),
so runserver's serving process runs ``CELERY_BEAT_SCHEDULE`` itself on one daemon thread.

Installed by the local settings only; production runs ``celery beat`` (the Procfile) on the
same schedule. Each job runs as beat would start it (the task, its args), in this process.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from celery.schedules import BaseSchedule, maybe_schedule
from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger(__name__)

THREAD_NAME = "beam-local-scheduler"
MAX_SLEEP_SECONDS = 60.0


@dataclass
class _Entry:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    last_run_at: datetime


def _schedule(value: Any, *, app: Celery) -> BaseSchedule:
    """Beat's reading of an entry's ``schedule`` (seconds, timedelta, crontab…)."""
    schedule = maybe_schedule(value, app=app)
    if not isinstance(schedule, BaseSchedule):
        raise ImproperlyConfigured(f"Not a schedule: {value!r}")
    return schedule


class LocalScheduler:
    """Runs each entry of a beat schedule when it is due. Like beat, an entry first runs
    one interval after the start."""

    def __init__(self, schedule: Mapping[str, Mapping[str, Any]], *, app: Celery) -> None:
        self.app = app
        start = app.now()
        self.entries = [
            _Entry(
                name=name,
                task=spec["task"],
                schedule=_schedule(spec["schedule"], app=app),
                args=tuple(spec.get("args", ())),
                kwargs=dict(spec.get("kwargs", {})),
                last_run_at=start,
            )
            for name, spec in schedule.items()
        ]

    def tick(self) -> float:
        """Run every due entry (one failing does not stop the others); the seconds until
        the next one is due."""
        waits = [MAX_SLEEP_SECONDS]
        for entry in self.entries:
            due, next_in = entry.schedule.is_due(entry.last_run_at)
            if due:
                entry.last_run_at = self.app.now()
                self._run(entry)
            waits.append(next_in)
        return max(min(waits), 1.0)

    def _run(self, entry: _Entry) -> None:
        try:
            self.app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs, throw=True)
        except Exception:
            logger.exception("local scheduler: %s (%s) failed", entry.name, entry.task)
        finally:
            close_old_connections()

    def run_forever(self) -> None:
        while True:
            time.sleep(self.tick())


def scheduler_start() -> threading.Thread:
    """Start the schedule of the settings on a daemon thread of this process."""
    from config.celery import app

    autodiscover_modules("tasks")  # every app's tasks, as a worker loads them
    scheduler = LocalScheduler(settings.CELERY_BEAT_SCHEDULE, app=app)
    thread = threading.Thread(target=scheduler.run_forever, name=THREAD_NAME, daemon=True)
    thread.start()
    logger.info("local scheduler: %d periodic jobs", len(scheduler.entries))
    return thread


def serving_process(argv: list[str], environ: Mapping[str, str]) -> bool:
    """True in the process that serves ``runserver`` (the autoreloader's child, or the only
    process with ``--noreload``); every other command runs no periodic jobs."""
    if len(argv) < 2 or argv[1] != "runserver":
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv


class LocalSchedulerConfig(AppConfig):
    name = "config.local_scheduler"
    label = "local_scheduler"
    verbose_name = "Periodic jobs under runserver"

    def ready(self) -> None:
        if serving_process(sys.argv, os.environ):
            scheduler_start()
