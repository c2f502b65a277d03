"""The webhook sender: record each delivery, send it after the store's transaction commits,
sign it like the platform, keep failures for a retry, and (chaos mode) duplicate, hold and
shuffle deliveries so the app's idempotency and ordering logic gets exercised.

Subscriptions come from ``shopify.app.toml`` when it exists (topics and their ``uri``), or
from ``settings.DEVSTORE_WEBHOOK_SUBSCRIPTIONS`` (a dict, or ``"all"``), else every topic goes to
``/webhooks/<topic>`` and compliance topics to ``/webhooks/compliance``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devstore.models import DevAppToken, DevShop, DevWebhookLog
from devstore.signing import webhook_hmac

logger = logging.getLogger(__name__)

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
ALWAYS_SENT = COMPLIANCE_TOPICS | {"app/uninstalled"}
_local = threading.local()


def _toml_subscriptions() -> dict[str, str] | None:
    path = Path(getattr(settings, "DEVSTORE_APP_TOML", settings.BASE_DIR / "shopify.app.toml"))
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    routes: dict[str, str] = {}
    for sub in config.get("webhooks", {}).get("subscriptions", []):
        uri = sub.get("uri", "")
        for topic in [*sub.get("topics", []), *sub.get("compliance_topics", [])]:
            routes[topic] = uri
    return routes or None


def webhook_subscriptions() -> dict[str, str] | None:
    """Topic → path (or absolute URL); ``None`` means "every topic, default paths"."""
    configured = getattr(settings, "DEVSTORE_WEBHOOK_SUBSCRIPTIONS", None)
    if configured == "all":
        return None
    if configured is not None:
        return dict(configured)
    return _toml_subscriptions()


def webhook_url(topic: str) -> str | None:
    """Where ``topic`` is delivered, or ``None`` when the app did not subscribe to it."""
    routes = webhook_subscriptions()
    default = "/webhooks/compliance" if topic in COMPLIANCE_TOPICS else f"/webhooks/{topic}"
    if routes is None:
        path = default
    elif topic in routes:
        path = routes[topic] or default
    elif topic in ALWAYS_SENT:
        path = default
    else:
        return None
    if path.startswith(("http://", "https://")):
        return path
    return settings.SHOPIFY_APP_URL + "/" + path.lstrip("/")


def shop_app_installed(shop: DevShop) -> bool:
    """The app holds a live token of the shop. Read from the database, not from ``shop``:
    an install or uninstall made through another copy of the row must count at once."""
    return DevAppToken.objects.filter(
        shop_id=shop.pk, revoked_at__isnull=True, shop__app_installed_at__isnull=False
    ).exists()


def _sync_mode() -> bool:
    return bool(getattr(settings, "DEVSTORE_WEBHOOKS_SYNC", False))


@contextmanager
def webhook_outbox() -> Iterator[None]:
    """Wrap a store write (outside its ``atomic``). In sync mode deliveries recorded inside
    are sent when the block exits, instead of on commit (handy in ``db`` tests where the
    test transaction never commits)."""
    depth = getattr(_local, "depth", 0)
    if depth == 0:
        _local.pending = []
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        if depth == 0:
            pending, _local.pending = _local.pending, []
            for log_id in pending:
                webhook_deliver(log_id)


def webhook_emit(
    shop: DevShop,
    topic: str,
    payload: dict[str, Any],
    *,
    triggered_at: datetime | None = None,
    api_version: str | None = None,
) -> DevWebhookLog | None:
    """Record a delivery of ``topic`` and send it after commit (or hold it).

    Only shops with the app installed get deliveries, except compliance and uninstall."""
    if topic not in ALWAYS_SENT and not shop_app_installed(shop):
        return None
    url = webhook_url(topic)
    if url is None:
        return None
    log = DevWebhookLog.objects.create(
        shop=shop,
        topic=topic,
        url=url,
        webhook_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        api_version=api_version or settings.SHOPIFY_API_VERSION,
        triggered_at=triggered_at or timezone.now(),
        body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        copies=2 if shop.webhook_chaos else 1,
        status=DevWebhookLog.Status.HELD if shop.webhook_hold else DevWebhookLog.Status.PENDING,
    )
    if log.status == DevWebhookLog.Status.HELD:
        return log
    if _sync_mode() and getattr(_local, "depth", 0) > 0:
        _local.pending.append(log.pk)
    elif _sync_mode():
        webhook_deliver(log.pk)
    else:
        transaction.on_commit(lambda: webhook_deliver(log.pk))
    return log


def webhook_headers(log: DevWebhookLog, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": log.topic,
        "X-Shopify-Hmac-Sha256": webhook_hmac(body, settings.SHOPIFY_API_SECRET),
        "X-Shopify-Shop-Domain": log.shop.domain,
        "X-Shopify-API-Version": log.api_version,
        "X-Shopify-Webhook-Id": log.webhook_id,
        "X-Shopify-Event-Id": log.event_id,
        "X-Shopify-Triggered-At": log.triggered_at.isoformat().replace("+00:00", "Z"),
        "User-Agent": "Shopify-Captain-Hook",
    }


def webhook_deliver(log_id: int) -> DevWebhookLog | None:
    """Send one recorded delivery (``copies`` times) unless another caller already is."""
    claimed = DevWebhookLog.objects.filter(
        pk=log_id,
        status__in=[DevWebhookLog.Status.PENDING, DevWebhookLog.Status.FAILED],
    ).update(status=DevWebhookLog.Status.SENDING)
    if not claimed:
        return None
    log = DevWebhookLog.objects.select_related("shop").get(pk=log_id)
    body = log.body.encode()
    headers = webhook_headers(log, body)
    timeout = float(getattr(settings, "DEVSTORE_WEBHOOK_TIMEOUT", 5.0))
    status_code: int | None = None
    error = ""
    for _ in range(log.copies):
        try:
            response = requests.post(log.url, data=body, headers=headers, timeout=timeout)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:500]}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    ok = not error
    log.status = DevWebhookLog.Status.DELIVERED if ok else DevWebhookLog.Status.FAILED
    log.response_code = status_code
    log.attempts += 1
    log.error = error
    log.delivered_at = timezone.now() if ok else None
    log.save(update_fields=["status", "response_code", "attempts", "error", "delivered_at"])
    if not ok:
        logger.warning("devstore webhook %s %s failed: %s", log.topic, log.url, error)
    return log


def webhooks_retry_failed(shop: DevShop) -> list[DevWebhookLog]:
    """Send every failed delivery of ``shop`` again (same webhook id, like a platform retry)."""
    ids = list(
        DevWebhookLog.objects.filter(shop=shop, status=DevWebhookLog.Status.FAILED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [log for log in map(webhook_deliver, ids) if log is not None]


def webhooks_release_held(
    shop: DevShop, *, shuffle: bool = True, seed: int | None = None
) -> list[DevWebhookLog]:
    """Send the held deliveries of ``shop``, in shuffled order by default (out-of-order
    arrival); returns them in the order they were sent."""
    ids = list(
        DevWebhookLog.objects.filter(shop=shop, status=DevWebhookLog.Status.HELD)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if shuffle:
        random.Random(seed).shuffle(ids)
    sent = []
    for log_id in ids:
        DevWebhookLog.objects.filter(pk=log_id, status=DevWebhookLog.Status.HELD).update(
            status=DevWebhookLog.Status.PENDING
        )
        log = webhook_deliver(log_id)
        if log is not None:
            sent.append(log)
    return sent
