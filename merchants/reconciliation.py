"""Order reconciliation: a missed webhook never means missed points (PRODUCT P3).

Every 15 minutes each installed shop's recently updated orders are pulled from the Admin
API and fed through the same inbox as webhooks, as ``source=reconciliation`` deliveries:
``orders/paid`` for a paid (or later refunded) order, ``orders/cancelled`` for a cancelled
one and one ``refunds/create`` per refund. An order/topic that already has a delivery
(webhook or an earlier run) is not fed again; the loyalty layer is idempotent per order and
refund anyway, so a race between the two sources has one effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from merchants import inbox, inbox_record
from merchants.models import Shop, SyncRun, WebhookDelivery
from merchants.shopify.operations import orders_updated_since

logger = logging.getLogger(__name__)

# Pull a little before the cursor: an order updated while the last run was paging through
# the list could otherwise fall between two runs.
RECONCILE_OVERLAP = timedelta(minutes=10)
PAID_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
RECONCILE_LOCK_TIMEOUT = 15 * 60


@dataclass(frozen=True)
class FeedItem:
    topic: str
    resource_id: int
    payload: dict[str, Any]
    version: str
    triggered_at: datetime | None


def order_feed_items(order: dict[str, Any]) -> list[FeedItem]:
    """The deliveries a webhook would have brought for this order's current state."""
    order_id = order.get("id")
    if not isinstance(order_id, int):
        return []
    updated = str(order.get("updated_at") or "")
    updated_at = inbox_record.triggered_at_parse(updated)
    items: list[FeedItem] = []
    if order.get("financial_status") in PAID_STATUSES:
        items.append(FeedItem("orders/paid", order_id, order, updated, updated_at))
    if order.get("cancelled_at"):
        items.append(FeedItem("orders/cancelled", order_id, order, updated, updated_at))
    for refund in order.get("refunds") or []:
        if not isinstance(refund, dict) or not isinstance(refund.get("id"), int):
            continue
        refund = {**refund, "order_id": refund.get("order_id") or order_id}
        created = str(refund.get("created_at") or "")
        items.append(
            FeedItem(
                inbox.REFUND_TOPIC,
                refund["id"],
                refund,
                created,
                inbox_record.triggered_at_parse(created),
            )
        )
    return items


def order_feed(*, shop: Shop, order: dict[str, Any]) -> list[int]:
    """Insert the order's missing deliveries; returns the ids of the rows inserted."""
    inserted: list[int] = []
    for item in order_feed_items(order):
        known = WebhookDelivery.objects.filter(
            shop=shop, topic=item.topic, resource_id=item.resource_id
        ).exists()
        if known:
            continue
        recorded = inbox_record.delivery_record(
            shop=shop,
            webhook_id=f"reconcile:{shop.pk}:{item.topic}:{item.resource_id}:{item.version}",
            topic=item.topic,
            payload=item.payload,
            api_version=settings.SHOPIFY_API_VERSION,
            triggered_at=item.triggered_at,
            source=WebhookDelivery.Source.RECONCILIATION,
        )
        if recorded.created:
            inserted.append(recorded.delivery.pk)
    return inserted


def orders_reconcile(*, shop: Shop, now: datetime | None = None) -> SyncRun | None:
    """Pull orders updated since the shop's cursor, feed the missing ones, process them.

    The cursor advances (to when this run started) only when the whole pull succeeded.
    Returns the ``SyncRun``, or ``None`` when the shop is not installed or a run for it is
    already going on.
    """
    if not shop.is_active:
        return None
    lock_key = f"reconcile:running:{shop.pk}"
    if not cache.add(lock_key, 1, timeout=RECONCILE_LOCK_TIMEOUT):
        return None
    started = now or timezone.now()
    cursor = shop.orders_synced_at or shop.installed_at or shop.created_at
    since = cursor - RECONCILE_OVERLAP
    run = SyncRun.objects.create(shop=shop, updated_since=since)
    seen = fed = 0
    try:
        for order in orders_updated_since(shop, since=since):
            seen += 1
            if order_feed(shop=shop, order=order):
                fed += 1
    except Exception as exc:
        logger.exception("reconciliation failed for %s", shop.domain)
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            orders_seen=seen,
            orders_fed=fed,
            error=f"{type(exc).__name__}: {exc}"[: inbox.LAST_ERROR_MAX_CHARS],
        )
        cache.delete(lock_key)
        run.refresh_from_db()
        return run
    try:
        Shop.objects.filter(pk=shop.pk).update(orders_synced_at=started)
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            orders_seen=seen,
            orders_fed=fed,
        )
        shop.orders_synced_at = started
    finally:
        cache.delete(lock_key)
    run.refresh_from_db()
    logger.info("reconciled %s: %d orders seen, %d fed", shop.domain, seen, fed)
    return run
