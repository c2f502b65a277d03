"""Recording deliveries in the inbox: build and store a delivery under its unique webhook id
(one ``INSERT … ON CONFLICT DO NOTHING``), then, after the commit, wake a drain
(``merchants.inbox`` claims and processes them). The intake side of the inbox: what a
request does before it answers."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.db import rows_insert
from merchants.models import Shop, WebhookDelivery

DRAIN_PENDING_KEY = "webhooks:drain:pending"
DRAIN_PENDING_TIMEOUT = 2
# A process wakes a drain at most this often; a drain lingers at least this long
# (setting WEBHOOK_WAKE_INTERVAL_SECONDS; 0 in tests: every delivery wakes, no linger).
WAKE_INTERVAL_SECONDS = 0.2


def wake_interval() -> float:
    return float(getattr(settings, "WEBHOOK_WAKE_INTERVAL_SECONDS", WAKE_INTERVAL_SECONDS))


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def triggered_at_parse(value: str | None) -> datetime | None:
    """The aware datetime in ``X-Shopify-Triggered-At`` (nanoseconds allowed), or ``None``
    for a missing or malformed value: it is informative, never a reason to drop a delivery."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except (ValueError, OverflowError):
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _resource_id(payload: Mapping[str, Any]) -> int | None:
    value = payload.get("id")
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and _BIGINT_MIN <= value <= _BIGINT_MAX
    ):
        return value
    return None


# --- recording -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordResult:
    delivery: WebhookDelivery
    created: bool


def delivery_build(
    *,
    shop: Shop,
    webhook_id: str,
    topic: str,
    payload: dict[str, Any],
    event_id: str = "",
    api_version: str = "",
    triggered_at: datetime | None = None,
    headers: Mapping[str, str] | None = None,
    source: str = WebhookDelivery.Source.WEBHOOK,
) -> WebhookDelivery:
    """The unsaved row of a new delivery, as both ``delivery_record`` and
    ``deliveries_insert`` store it."""
    return WebhookDelivery(
        shop=shop,
        webhook_id=webhook_id,
        event_id=event_id[:255],
        topic=topic,
        resource_id=_resource_id(payload),
        source=source,
        api_version=api_version[:16],
        triggered_at=triggered_at,
        headers=dict(headers or {}),
        payload=payload,
    )


def deliveries_insert(deliveries: list[WebhookDelivery]) -> list[int | None]:
    """Insert built deliveries (``delivery_build``) with one ``INSERT … ON CONFLICT
    (webhook_id) DO NOTHING`` (the webhook intake's batches): the new pk of
    each, ``None`` for a webhook id stored already or earlier in the list. Processing is
    queued after commit. A value the database refuses fails the whole statement
    (``DataError``): the caller then records the deliveries one by one."""
    inserted = {
        webhook_id: pk
        for pk, webhook_id in rows_insert(
            deliveries, conflict=("webhook_id",), returning=("id", "webhook_id")
        )
    }
    pks = [inserted.pop(delivery.webhook_id, None) for delivery in deliveries]
    for pk in pks:
        if pk is not None:
            delivery_process_on_commit(delivery_id=pk)
    return pks


def delivery_record(
    *,
    shop: Shop,
    webhook_id: str,
    topic: str,
    payload: dict[str, Any],
    event_id: str = "",
    api_version: str = "",
    triggered_at: datetime | None = None,
    headers: Mapping[str, str] | None = None,
    source: str = WebhookDelivery.Source.WEBHOOK,
) -> RecordResult:
    """Store a delivery under its unique ``webhook_id``; a duplicate changes nothing and
    returns the stored row with ``created=False``. Processing is queued after commit.

    Costs one ``INSERT … ON CONFLICT (webhook_id) DO NOTHING`` on the happy path: no read
    first, no savepoint outside a transaction.
    """
    delivery = delivery_build(
        shop=shop,
        webhook_id=webhook_id,
        topic=topic,
        payload=payload,
        event_id=event_id,
        api_version=api_version,
        triggered_at=triggered_at,
        headers=headers,
        source=source,
    )
    if connection.in_atomic_block:
        with transaction.atomic():  # a savepoint: a bad value must not break the caller
            inserted = rows_insert([delivery], conflict=("webhook_id",))
    else:
        inserted = rows_insert([delivery], conflict=("webhook_id",))  # autocommit
    if not inserted:
        return _duplicate(webhook_id)
    delivery.pk = inserted[0][0]
    delivery._state.adding = False
    delivery_process_on_commit(delivery_id=delivery.pk)
    return RecordResult(delivery, created=True)


def _duplicate(webhook_id: str) -> RecordResult:
    existing = WebhookDelivery.objects.filter(webhook_id=webhook_id).first()
    if existing is None:
        raise IntegrityError(f"webhook {webhook_id!r} neither inserted nor found")
    return RecordResult(existing, created=False)


_last_wake = 0.0  # monotonic time this process last woke a drain (throttle)


def delivery_process_on_commit(*, delivery_id: int) -> None:
    """After commit: ``delivery_stored`` (the row must be committed before a worker looks)."""
    transaction.on_commit(lambda: delivery_stored(delivery_id=delivery_id), robust=True)


def delivery_stored(*, delivery_id: int) -> None:
    """A committed delivery: process it at once under eager Celery (tests, demo), else wake
    a drain.

    Wake-ups cost at most one Redis ``SET NX`` per ``wake_interval()`` per process,
    and one Celery publish while no drain is pending (the flag). It stays correct because
    every drain lingers: it returns only after finding nothing due at least
    ``wake_interval()`` after it started, and it started after the last wake-up this
    process did or saw pending — so a row stored without a wake-up of its own is claimed by
    that drain. The drain clears the flag before it claims.
    """
    global _last_wake
    if settings.CELERY_TASK_ALWAYS_EAGER:
        from merchants.tasks import delivery_process

        delivery_process.delay(delivery_id)
        return
    now = time.monotonic()
    interval = wake_interval()
    if interval > 0 and now - _last_wake < interval:
        return
    _last_wake = now
    if cache.add(DRAIN_PENDING_KEY, 1, timeout=DRAIN_PENDING_TIMEOUT):
        from merchants.tasks import webhooks_drain

        webhooks_drain.delay()
