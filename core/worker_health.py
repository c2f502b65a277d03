"""Worker liveness: every consuming Celery worker refreshes a heartbeat in the cache (Redis)
on its event loop's timer; ``/healthz/workers`` and ``manage.py workers_health`` fail when
no heartbeat is fresh, i.e. when no worker consumes.

The beat runs as a consumer bootstep, so it stops while the worker has lost the broker and
resumes once it consumes again, and it stops for good when the worker dies or hangs."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import bootsteps
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

KEY_ANY = "beam:workers:heartbeat"
KEY_PREFIX = "beam:workers:heartbeat:"


def worker_heartbeat_record(*, hostname: str, now: float | None = None) -> None:
    """Store that ``hostname`` consumes now (for itself and for "any worker")."""
    at = time.time() if now is None else now
    timeout = settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS * 4
    cache.set_many({KEY_ANY: at, KEY_PREFIX + hostname: at}, timeout=timeout)


def worker_heartbeat_age(*, hostname: str | None = None, now: float | None = None) -> float | None:
    """Seconds since the last heartbeat of ``hostname`` (of any worker when None); None
    when there is none."""
    at = cache.get(KEY_ANY if hostname is None else KEY_PREFIX + hostname)
    if at is None:
        return None
    return max(0.0, (time.time() if now is None else now) - float(at))


def workers_alive(*, hostname: str | None = None, max_age: float | None = None) -> bool:
    """True when a worker (``hostname`` if given) beat within ``max_age`` seconds."""
    limit = settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS if max_age is None else max_age
    age = worker_heartbeat_age(hostname=hostname)
    return age is not None and age <= limit


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: beats every ``WORKER_HEARTBEAT_INTERVAL_SECONDS`` once the task
    consumer is up. Restarted with the connection, so no beat while the broker is lost."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        self.beat(parent.hostname)
        self.tref = parent.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_INTERVAL_SECONDS, self.beat, (parent.hostname,)
        )

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop

    def beat(self, hostname: str) -> None:
        # The event loop must outlive a cache outage: a missed beat is what the check sees.
        try:
            worker_heartbeat_record(hostname=hostname)
        except Exception:  # any cache client error
            logger.warning("worker heartbeat not stored", exc_info=True)
