"""The no-op Celery task of the ingest bench: the cost of one task per delivery."""

from celery import shared_task
from django.conf import settings

_client = None


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    """Does nothing but count itself (so the bench sees when all ran)."""
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL)
    _client.incr("bench:noop:done")
