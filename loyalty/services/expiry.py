"""Points expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import (
    ExpiryWarning,
    LoyaltyProgram,
    Member,
)
from loyalty.services.ledger import Kind, ledger_post, member_lock


def points_expire_due(*, now: datetime | None = None) -> tuple[int, int]:
    """Expire the available balance of members without earning or redeeming for
    ``expiry_days`` and record a warning ``expiry_warning_days`` before. Returns (expired,
    warned). Idempotent per member and inactivity period."""
    now = now or timezone.now()
    expired = warned = 0
    for program in LoyaltyProgram.objects.filter(expiry_days__isnull=False, enabled=True):
        assert program.expiry_days is not None
        members = Member.objects.filter(shop_id=program.shop_id, balance__gt=0).annotate(
            activity=Coalesce("last_activity_at", "created_at")
        )
        cutoff = now - timedelta(days=program.expiry_days)
        warn_cutoff = cutoff + timedelta(days=program.expiry_warning_days)
        for member in members.filter(activity__lte=cutoff):
            expired += _member_expire(member_id=member.pk, shop_id=program.shop_id, cutoff=cutoff)
        for member in members.filter(activity__gt=cutoff, activity__lte=warn_cutoff):
            expires_at = member.activity + timedelta(days=program.expiry_days)
            _, created = ExpiryWarning.objects.get_or_create(
                member=member,
                expires_at=expires_at,
                defaults={"shop_id": program.shop_id, "points": member.balance},
            )
            warned += int(created)
    return expired, warned


def _member_expire(*, member_id: int, shop_id: int, cutoff: datetime) -> int:
    with transaction.atomic(durable=True):
        member = member_lock(shop_id=shop_id, member_id=member_id)
        activity = member.last_activity_at or member.created_at
        if member.balance <= 0 or activity > cutoff:
            return 0
        entry = ledger_post(
            member=member,
            amount=-member.balance,
            kind=Kind.EXPIRE,
            key=f"expire:{member.pk}:{int(activity.timestamp())}",
            source_type="expiry",
            note=f"No activity since {activity:%Y-%m-%d}",
        )
        return int(entry is not None)
