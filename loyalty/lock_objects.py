"""Named row locks. Lock in this order when several are needed: orders, then members, then
referrals; rows of one model in pk order."""

from __future__ import annotations

from django.db.models import QuerySet

from loyalty.models import LoyaltyOrder, Member, Redemption


def member_qs_select_for_update() -> QuerySet[Member]:
    """Members locked for a balance read-modify-write (must be inside a transaction)."""
    return Member.objects.order_by("pk").select_for_update()


def order_qs_select_for_update() -> QuerySet[LoyaltyOrder]:
    """Orders locked while their points are credited or reversed."""
    return LoyaltyOrder.objects.order_by("pk").select_for_update()


def redemption_qs_select_for_update() -> QuerySet[Redemption]:
    """Redemptions locked for a status transition."""
    return Redemption.objects.order_by("pk").select_for_update()
