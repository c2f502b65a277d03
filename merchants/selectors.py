"""Reads of the platform layer for the admin pages (webhook health). Every one takes
``shop=`` and filters by it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from merchants.models import ComplianceRequest, Shop, SyncRun, WebhookDelivery

PARKED = (WebhookDelivery.Status.FAILED, WebhookDelivery.Status.UNPROCESSABLE)
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
    """Parked deliveries (retries exhausted, or unprocessable) the merchant may replay,
    newest first."""
    return (
        WebhookDelivery.objects.filter(shop=shop, status__in=PARKED)
        .defer(*_LIST_DEFERRED)
        .order_by("-received_at", "-pk")[:limit]
    )


NOT_DONE = (
    *PARKED,
    WebhookDelivery.Status.RECEIVED,
    WebhookDelivery.Status.PROCESSING,
)


def deliveries_not_done(*, shop: Shop, limit: int = 200) -> QuerySet[WebhookDelivery]:
    """Every delivery not done yet, oldest first: parked, waiting (new or retry due) and
    being processed. A delivery stuck waiting shows here, not only one parked."""
    return (
        WebhookDelivery.objects.filter(shop=shop, status__in=NOT_DONE)
        .defer(*_LIST_DEFERRED)
        .order_by("received_at", "pk")[:limit]
    )


def sync_runs_recent(*, shop: Shop, limit: int = 20) -> QuerySet[SyncRun]:
    """The shop's latest reconciliation runs, newest first."""
    return SyncRun.objects.filter(shop=shop).order_by("-started_at", "-pk")[:limit]


def compliance_requests_recent(*, shop: Shop, limit: int = 50) -> QuerySet[ComplianceRequest]:
    """The shop's privacy requests (data-request exports included), newest first."""
    return ComplianceRequest.objects.filter(shop=shop).order_by("-created_at", "-pk")[:limit]


RECENT_PER_TOPIC = 5
_WAITING = (WebhookDelivery.Status.RECEIVED, WebhookDelivery.Status.PROCESSING)
_DONE = (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.SKIPPED)


def _deliveries_summary(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """The page's headline figures, summed from the counts per topic and status (no query):
    every delivery kept, those done, those waiting or being processed, those parked."""
    totals: dict[str, int] = defaultdict(int)
    for per_status in counts.values():
        for status, n in per_status.items():
            totals[status] += n
    return {
        "total": sum(totals.values()),
        "done": sum(totals[s] for s in _DONE),
        "waiting": sum(totals[s] for s in _WAITING),
        "parked": sum(totals[s] for s in PARKED),
    }


def webhook_health(*, shop: Shop) -> dict[str, Any]:
    """The webhook health page's data: its summary, counts per topic and status, each topic's
    latest deliveries, every delivery not done and the last reconciliation run (4 queries)."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in (
        WebhookDelivery.objects.filter(shop=shop)
        .values("topic", "status")
        .annotate(n=Count("pk"))
        .order_by("topic", "status")
    ):
        counts[row["topic"]][row["status"]] = row["n"]
    recent_by_topic: dict[str, list[WebhookDelivery]] = defaultdict(list)
    latest_per_topic = (
        WebhookDelivery.objects.filter(shop=shop)
        .defer(*_LIST_DEFERRED)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("topic")],
                order_by=[F("received_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=RECENT_PER_TOPIC)
        .order_by("topic", "rank")
    )
    for delivery in latest_per_topic:
        recent_by_topic[delivery.topic].append(delivery)
    topics = [
        {"topic": topic, "counts": counts[topic], "recent": recent_by_topic.get(topic, [])}
        for topic in sorted(counts)
    ]
    runs = list(sync_runs_recent(shop=shop, limit=1))
    return {
        "summary": _deliveries_summary(counts),
        "topics": topics,
        "not_done": list(deliveries_not_done(shop=shop, limit=50)),
        "last_run": runs[0] if runs else None,
    }
