"""The probe task of the broker-outage test: takes a moment, then counts itself in Redis."""

import time

import redis
from celery import shared_task
from django.conf import settings


@shared_task(name="tests.outage.count", ignore_result=True)
def count(seconds: float) -> None:
    """Sleeps (so messages are in flight, unacknowledged, when Redis dies), then counts."""
    time.sleep(seconds)
    redis.Redis.from_url(settings.REDIS_URL).incr("outage:done")
