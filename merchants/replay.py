"""Replaying parked or retry-waiting webhook deliveries now (the admin, the command, the
Django admin): one function, run as a worker would run the deliveries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

from merchants.inbox import delivery_process
from merchants.models import Shop, WebhookDelivery

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status


PARKED = (Status.FAILED, Status.UNPROCESSABLE)
REPLAYABLE = (*PARKED, Status.RECEIVED)


def deliveries_replay(
    *,
    delivery_ids: Iterable[int] | None = None,
    shop: Shop | None = None,
    on_queued: Callable[[list[int]], None] | None = None,
) -> dict[str, int]:
    """Run parked (failed, unprocessable) or retry-waiting deliveries again now, e.g. after
    a fix; an unprocessable one's payload is checked again by its handler.

    Select by ``delivery_ids`` and/or ``shop`` (at least one). Putting them back in the
    queue is one transaction; ``on_queued(ids)`` runs inside it when there is something to
    replay, so a caller's record of the replay (the admin's audit row) commits with it.
    Each delivery then runs in its handlers' own transactions, as a worker would run it.
    Attempts are kept, so a replayed delivery that fails again is parked at once;
    ``last_error`` stays until it succeeds. Returns how many ended in each status.
    """
    if delivery_ids is None and shop is None:
        raise ValueError("deliveries_replay needs delivery_ids or shop")
    with transaction.atomic(durable=True):
        qs = WebhookDelivery.objects.filter(status__in=REPLAYABLE)
        if delivery_ids is not None:
            qs = qs.filter(pk__in=list(delivery_ids))
        if shop is not None:
            qs = qs.filter(shop=shop)
        ids = list(qs.order_by("pk").select_for_update().values_list("pk", flat=True))
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                status=Status.RECEIVED, next_attempt_at=None
            )
            if on_queued is not None:
                on_queued(ids)
    outcome: dict[str, int] = {}
    for delivery_id in ids:
        status = delivery_process(delivery_id=delivery_id) or "not_claimed"
        outcome[status] = outcome.get(status, 0) + 1
    logger.info("replayed %d deliveries: %s", len(ids), outcome)
    return outcome
