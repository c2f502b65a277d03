"""Replaying failed webhook deliveries from the admin, audited."""

from __future__ import annotations

import logging

from django.db import transaction

from loyalty.audit import audit_record
from merchants.models import Shop

logger = logging.getLogger(__name__)


def deliveries_replay_audited(
    *, shop: Shop, actor: str, delivery_ids: list[int] | None = None
) -> dict[str, int]:
    """Replay the shop's failed webhook deliveries (all, or the given ones of this shop).

    The admin's change is putting the deliveries back in the queue: that and its audit row
    commit together (no audit row when there was nothing to replay). Each delivery then runs
    in the services' own transactions, as a worker would run it; the outcome is returned
    and shown on the deliveries page."""
    from merchants.inbox import REPLAYABLE, delivery_process
    from merchants.models import WebhookDelivery

    with transaction.atomic(durable=True):
        qs = WebhookDelivery.objects.filter(shop=shop, status__in=REPLAYABLE)
        if delivery_ids is not None:
            qs = qs.filter(pk__in=list(delivery_ids))
        ids = list(qs.order_by("pk").select_for_update().values_list("pk", flat=True))
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                status=WebhookDelivery.Status.RECEIVED, next_attempt_at=None
            )
            audit_record(
                shop=shop,
                actor=actor,
                action="webhooks.replay",
                target_type="webhook_delivery",
                target_id=",".join(str(i) for i in ids)[:64],
                summary=f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} queued again",
                changes={"deliveries": [None, ids]},
            )
    outcome: dict[str, int] = {}
    for delivery_id in ids:
        status = delivery_process(delivery_id=delivery_id) or "not_claimed"
        outcome[status] = outcome.get(status, 0) + 1
    logger.info("replayed %d deliveries of %s: %s", len(ids), shop.domain, outcome)
    return outcome
