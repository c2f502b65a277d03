"""Celery tasks of the platform layer. Each takes ids, re-reads, and is safe to run twice."""

from __future__ import annotations

import dataclasses
import logging

from celery import shared_task
from django.core.cache import cache

from merchants import inbox, inbox_record
from merchants.errors import BeamError
from merchants.models import Shop
from merchants.services import shop_details_apply

logger = logging.getLogger(__name__)


@shared_task(name="merchants.tasks.webhooks_drain", ignore_result=True)
def webhooks_drain() -> int:
    """Process every due delivery (new, retry due, or abandoned by a dead worker).

    Published after commit by the webhook view (coalesced, throttled) and by beat every
    30 s. The pending flag is cleared before claiming so a delivery stored meanwhile wakes a
    new drain; the drain lingers for the wake-up interval (see
    ``inbox_record.delivery_process_on_commit``). Claimed batches go to the handlers the domain
    registered (orders and refunds: one batch of the crediting engine per shop). When the
    time budget runs out with work left, the drain queues itself again.
    """
    cache.delete(inbox_record.DRAIN_PENDING_KEY)
    outcome = inbox.deliveries_drain(linger=inbox_record.wake_interval())
    if outcome.budget_exhausted:
        webhooks_drain.delay()
    return outcome.processed


@shared_task(name="merchants.tasks.delivery_process", ignore_result=True)
def delivery_process(delivery_id: int) -> str | None:
    """Process one delivery now (replay, explicit retries)."""
    return inbox.delivery_process(delivery_id=delivery_id)


@shared_task(name="merchants.tasks.orders_reconcile_all", ignore_result=True)
def orders_reconcile_all() -> int:
    """Fan out one reconciliation per installed shop (beat, every 15 minutes)."""
    shop_ids = list(
        Shop.objects.active().exclude(access_token_encrypted="").values_list("pk", flat=True)
    )
    for shop_id in shop_ids:
        orders_reconcile.delay(shop_id)
    return len(shop_ids)


@shared_task(name="merchants.tasks.orders_reconcile", ignore_result=True)
def orders_reconcile(shop_id: int) -> int | None:
    """Reconcile one shop's recent orders; returns the SyncRun id (None when skipped)."""
    from merchants import reconciliation

    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        return None
    run = reconciliation.orders_reconcile(shop=shop)
    return run.pk if run else None


@shared_task(name="merchants.tasks.shop_details_sync", ignore_result=True)
def shop_details_sync(shop_id: int) -> list[str]:
    """After an install: copy name, email, currency, time zone and plan from the Admin API.
    Best effort: shop/update keeps them current later, so a platform error only logs."""
    from merchants.shopify.operations import shop_details_fetch

    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None or not shop.is_active:
        return []
    try:
        details = shop_details_fetch(shop)
    except BeamError as exc:
        logger.warning("shop details not synced for %s: %s", shop.domain, exc)
        return []
    return shop_details_apply(shop=shop, details=dataclasses.asdict(details))
