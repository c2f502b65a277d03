"""Reads of the platform layer for the admin pages (webhook health). Every one takes
``shop=`` and filters by it."""

from __future__ import annotations

from django.db.models import QuerySet

from merchants.models import ComplianceRequest, Shop, SyncRun, WebhookDelivery

# The list pages never need the (possibly large) bodies.
_LIST_DEFERRED = ("payload", "headers")


def deliveries_recent(
    *, shop: Shop, topic: str | None = None, status: str | None = None, limit: int = 50
) -> QuerySet[WebhookDelivery]:
    """The shop's latest deliveries, newest first, optionally of one topic/status."""
    qs = WebhookDelivery.objects.filter(shop=shop)
    if topic:
        qs = qs.filter(topic=topic)
    if status:
        qs = qs.filter(status=status)
    return qs.defer(*_LIST_DEFERRED).order_by("-received_at", "-pk")[:limit]


def deliveries_failed(*, shop: Shop, limit: int = 200) -> QuerySet[WebhookDelivery]:
    """Parked deliveries (retries exhausted) the merchant may replay, newest first."""
    return (
        WebhookDelivery.objects.filter(shop=shop, status=WebhookDelivery.Status.FAILED)
        .defer(*_LIST_DEFERRED)
        .order_by("-received_at", "-pk")[:limit]
    )


def sync_runs_recent(*, shop: Shop, limit: int = 20) -> QuerySet[SyncRun]:
    """The shop's latest reconciliation runs, newest first."""
    return SyncRun.objects.filter(shop=shop).order_by("-started_at", "-pk")[:limit]


def compliance_requests_recent(*, shop: Shop, limit: int = 50) -> QuerySet[ComplianceRequest]:
    """The shop's privacy requests (data-request exports included), newest first."""
    return ComplianceRequest.objects.filter(shop=shop).order_by("-created_at", "-pk")[:limit]
