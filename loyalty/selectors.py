"""Reads of the loyalty domain. Every selector takes ``shop`` and filters by it."""

from __future__ import annotations

import csv
from typing import IO

from django.db.models import QuerySet

from loyalty.models import LedgerEntry, Member, Redemption, Reward
from merchants.models import Shop

MEMBER_EXPORT_COLUMNS = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "points",
    "pending_points",
    "lifetime_earned",
    "lifetime_redeemed",
    "last_activity_at",
    "created_at",
)
LEDGER_EXPORT_COLUMNS = (
    "id",
    "created_at",
    "customer_id",
    "amount",
    "kind",
    "bucket",
    "source_type",
    "source_id",
    "actor",
    "note",
)


def member_get(*, shop: Shop, member_id: int) -> Member | None:
    return Member.objects.filter(shop=shop, pk=member_id).first()


def member_get_by_customer(*, shop: Shop, customer_id: int) -> Member | None:
    return Member.objects.filter(shop=shop, customer_id=customer_id).first()


def member_ledger(*, shop: Shop, member: Member) -> QuerySet[LedgerEntry]:
    """The member's history, newest first."""
    return LedgerEntry.objects.filter(shop=shop, member=member).order_by("-created_at", "-pk")


def rewards_active(*, shop: Shop) -> QuerySet[Reward]:
    return Reward.objects.filter(shop=shop, active=True).order_by("points_cost", "pk")


def member_redemptions(*, shop: Shop, member: Member) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(shop=shop, member=member)
        .select_related("reward")
        .order_by("-created_at", "-pk")
    )


def _safe_cell(value: object) -> str:
    """Neutralise spreadsheet formulas in exported text (CSV injection)."""
    text = "" if value is None else str(value)
    return (
        "'" + text
        if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text)
        else text
    )


def _is_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def members_export_csv(*, shop: Shop, out: IO[str]) -> int:
    """Write the shop's members as CSV (the columns the import reads come first)."""
    writer = csv.writer(out)
    writer.writerow(MEMBER_EXPORT_COLUMNS)
    count = 0
    for m in Member.objects.filter(shop=shop).order_by("pk").iterator(chunk_size=2000):
        writer.writerow(
            [
                _safe_cell(v)
                for v in (
                    m.customer_id,
                    m.email,
                    m.first_name,
                    m.last_name,
                    m.balance,
                    m.pending_points,
                    m.lifetime_earned,
                    m.lifetime_redeemed,
                    m.last_activity_at.isoformat() if m.last_activity_at else "",
                    m.created_at.isoformat(),
                )
            ]
        )
        count += 1
    return count


def ledger_export_csv(*, shop: Shop, out: IO[str]) -> int:
    """Write the shop's ledger as CSV, oldest first."""
    writer = csv.writer(out)
    writer.writerow(LEDGER_EXPORT_COLUMNS)
    count = 0
    entries = (
        LedgerEntry.objects.filter(shop=shop)
        .select_related("member")
        .order_by("pk")
        .iterator(chunk_size=2000)
    )
    for e in entries:
        writer.writerow(
            [
                _safe_cell(v)
                for v in (
                    e.pk,
                    e.created_at.isoformat(),
                    e.member.customer_id,
                    e.amount,
                    e.kind,
                    e.bucket,
                    e.source_type,
                    e.source_id,
                    e.actor,
                    e.note,
                )
            ]
        )
        count += 1
    return count
