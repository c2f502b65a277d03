"""The points ledger: posting entries with their cached balances, member locks, drift checks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from kombu.exceptions import OperationalError

from loyalty.errors import (
    MemberNotFound,
)
from loyalty.lock_objects import member_qs_select_for_update
from loyalty.member_versions import (
    member_changed_on_commit,
)
from loyalty.models import (
    LedgerDrift,
    LedgerEntry,
    Member,
)
from merchants.models import Shop

logger = logging.getLogger(__name__)


AVAILABLE = LedgerEntry.Bucket.AVAILABLE
PENDING = LedgerEntry.Bucket.PENDING
Kind = LedgerEntry.Kind
CENT = Decimal("0.01")
ZERO = Decimal(0)


# One quick retry (a pooled broker connection may be stale after a Redis restart), not the
# default's three with pauses: a request waits milliseconds, not most of a second, for a
# broker that is down.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """Queue a Celery task once the current transaction commits (at once in autocommit).
    A broker that does not answer is logged, not raised: the write has committed, and each
    task queued this way has a periodic sweep that finds its work again
    (``redemption_issue``: ``redemptions_pending_sweep``)."""
    transaction.on_commit(lambda: task_publish(task, *args))


def task_publish(task: Any, *args: Any) -> None:
    """Queue a Celery task now (nothing to wait for); a broker that does not answer is
    logged, not raised, like ``enqueue_on_commit``: the caller's periodic sweep catches up."""
    try:
        task.apply_async(args, retry_policy=PUBLISH_RETRY_POLICY)
    except OperationalError as exc:
        logger.warning(
            "%s%r not queued (broker unreachable), left to its sweep: %s", task.name, args, exc
        )


def ledger_post(
    *,
    member: Member,
    amount: int,
    kind: str,
    key: str,
    bucket: str = AVAILABLE,
    source_type: str = "",
    source_id: str | int = "",
    actor: str = "",
    note: str = "",
    release_at: datetime | None = None,
    earned: int = 0,
    redeemed: int = 0,
    activity_at: datetime | None = None,
    allow_negative: bool = False,
) -> LedgerEntry | None:
    """Append one entry and update the cached sums in the same transaction.

    Precondition: inside a transaction, ``member`` was fetched with
    ``member_qs_select_for_update()``. Only ``allow_negative`` (a reversal under the
    ``allow_negative`` policy) may take the balance below zero. Returns None (and changes
    nothing) when the key was already used: this is what makes every caller replay-safe.
    """
    if amount == 0:
        return None
    if LedgerEntry.objects.filter(shop_id=member.shop_id, idempotency_key=key).exists():
        return None
    entry = ledger_entry_new(
        member=member,
        amount=amount,
        kind=kind,
        key=key,
        bucket=bucket,
        release_at=release_at,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
        note=note,
    )
    entry.save(force_insert=True)
    fields = ledger_effect_apply(
        member,
        amount=amount,
        bucket=bucket,
        earned=earned,
        redeemed=redeemed,
        activity_at=activity_at,
        allow_negative=allow_negative,
    )
    member.save(update_fields=[*fields, "updated_at"])
    member_changed_on_commit(shop_id=member.shop_id, customer_id=member.customer_id)
    return entry


def ledger_entry_new(
    *,
    member: Member,
    amount: int,
    kind: str,
    key: str,
    bucket: str,
    release_at: datetime | None,
    source_type: str,
    source_id: str | int,
    note: str,
    actor: str = "",
) -> LedgerEntry:
    """An unsaved entry of ``member`` (``ledger_post`` saves one, the engine many at once)."""
    return LedgerEntry(
        shop_id=member.shop_id,
        member=member,
        amount=amount,
        kind=kind,
        bucket=bucket,
        release_at=release_at,
        source_type=source_type,
        source_id=str(source_id),
        idempotency_key=key,
        actor=actor,
        note=note,
    )


def ledger_effect_apply(
    member: Member,
    *,
    amount: int,
    bucket: str,
    earned: int = 0,
    redeemed: int = 0,
    activity_at: datetime | None = None,
    allow_negative: bool = False,
) -> list[str]:
    """What one entry does to the member's cached sums (in memory; returns the fields
    changed). The one rule for ``ledger_post`` and the crediting engine's batches."""
    if bucket == AVAILABLE:
        member.balance += amount
    else:
        member.pending_points += amount
    member.lifetime_earned += earned
    member.lifetime_redeemed += redeemed
    fields = ["balance", "pending_points", "lifetime_earned", "lifetime_redeemed"]
    if activity_at is not None:
        member.last_activity_at = activity_at
        fields.append("last_activity_at")
    if member.balance < 0 and allow_negative:
        member.negative_balance_allowed = True
        fields.append("negative_balance_allowed")
    return fields


def member_lock(*, shop_id: int, member_id: int) -> Member:
    member = member_qs_select_for_update().filter(shop_id=shop_id, pk=member_id).first()
    if member is None:
        raise MemberNotFound()
    return member


@dataclass
class DriftReport:
    members_checked: int
    drifts: list[LedgerDrift]
    order_drifts: list[Any] = field(default_factory=list)  # ``orders.OrderDrift``


def ledger_verify(*, shop: Shop | None = None) -> DriftReport:
    """Compare every member's cached balance and pending points with the ledger sums and
    record a ``LedgerDrift`` row for each mismatch (the cache must always equal the ledger);
    report the orders whose reversed points disagree with their refunds (``order_drifts``,
    logged: ``orders_reversal_verify``)."""
    members = Member.objects.all() if shop is None else Member.objects.filter(shop=shop)
    annotated = members.annotate(
        ledger_balance=Coalesce(Sum("entries__amount", filter=Q(entries__bucket=AVAILABLE)), 0),
        ledger_pending=Coalesce(Sum("entries__amount", filter=Q(entries__bucket=PENDING)), 0),
    )
    checked = 0
    drifts: list[LedgerDrift] = []
    for member in annotated.iterator(chunk_size=2000):
        checked += 1
        if (
            member.balance == member.ledger_balance
            and member.pending_points == member.ledger_pending
        ):
            continue
        logger.error(
            "ledger drift shop=%s member=%s balance=%s ledger=%s pending=%s ledger_pending=%s",
            member.shop_id,
            member.pk,
            member.balance,
            member.ledger_balance,
            member.pending_points,
            member.ledger_pending,
        )
        drifts.append(
            LedgerDrift.objects.create(
                shop_id=member.shop_id,
                member=member,
                balance=member.balance,
                ledger_balance=member.ledger_balance,
                pending_points=member.pending_points,
                ledger_pending=member.ledger_pending,
            )
        )
    from loyalty.services.orders import orders_reversal_verify  # orders imports this module

    return DriftReport(
        members_checked=checked, drifts=drifts, order_drifts=orders_reversal_verify(shop=shop)
    )
