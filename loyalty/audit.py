"""The admin's audit trail: who changed what, when (``AuditEvent`` rows).

``audit_record`` is called by the service that made the change, inside its transaction when
it has one, so the trail and the change commit (or roll back) together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from loyalty.models import AuditEvent
from merchants.models import Shop


@dataclass(frozen=True)
class AuditRecord:
    """Who asked for an admin change. Given to a write service, it makes the service write
    the ``AuditEvent`` inside the change's own transaction: never a change without its audit
    row, nor an audit row without a change."""

    actor: str


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def audit_record(
    *,
    shop: Shop,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: str | int = "",
    summary: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row. ``changes`` maps a field to ``[before, after]``."""
    return AuditEvent.objects.create(
        shop=shop,
        actor=actor or "unknown",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary[:255],
        changes=_jsonable(changes or {}),
    )


def audit_events_recent(*, shop: Shop) -> QuerySet[AuditEvent]:
    """The shop's audit trail, newest first (paginate it)."""
    return AuditEvent.objects.filter(shop=shop).order_by("-created_at", "-pk")


def replay_audit(*, shop: Shop, actor: str) -> Callable[[list[int]], None]:
    """The audit row of an admin's webhook replay, as the ``on_queued`` callback of
    ``merchants.replay.deliveries_replay``: written in the transaction that queues the
    deliveries again, and only when there was something to replay."""

    def record(ids: list[int]) -> None:
        audit_record(
            shop=shop,
            actor=actor,
            action="webhooks.replay",
            target_type="webhook_delivery",
            target_id=",".join(str(i) for i in ids)[:64],
            summary=f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} queued again",
            changes={"deliveries": [None, ids]},
        )

    return record
