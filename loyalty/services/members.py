"""Members: creation from customers, profile updates, guest-order linking, customer webhooks."""

from __future__ import annotations

from typing import Protocol

from loyalty.member_versions import (
    member_changed_on_commit,
)
from loyalty.models import (
    Member,
)
from merchants.models import Shop


def member_upsert(
    *,
    shop: Shop,
    customer_id: int,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
) -> tuple[Member, bool]:
    """Find or create the member; refresh profile fields (never balances, so no lock)."""
    email_clean = (email or "").strip().lower()
    member, created = Member.objects.get_or_create(
        shop=shop,
        customer_id=customer_id,
        defaults={
            "email": email_clean,
            "first_name": first_name or "",
            "last_name": last_name or "",
        },
    )
    if not created:
        changed = member_profile_apply(
            member, email=email_clean, first_name=first_name, last_name=last_name
        )
        if changed:
            member.save(update_fields=[*changed, "updated_at"])
    if created:
        member_changed_on_commit(shop_id=member.shop_id, customer_id=member.customer_id)
    return member, created


class MemberProfile(Protocol):
    """A member's profile fields: a ``Member`` or the batch path's locked-row record."""

    email: str
    first_name: str
    last_name: str
    redacted: bool


def member_profile_apply(
    member: MemberProfile, *, email: str, first_name: str | None, last_name: str | None
) -> list[str]:
    """Copy the non-empty profile values that differ onto ``member`` (not a redacted one);
    returns the fields changed. Shared by the per-delivery and the batch paths."""
    if member.redacted:
        return []
    changed = []
    for name, value in (("email", email), ("first_name", first_name), ("last_name", last_name)):
        if value and getattr(member, name) != value:
            setattr(member, name, value)
            changed.append(name)
    return changed
