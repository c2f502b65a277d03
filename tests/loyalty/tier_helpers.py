"""Tier settings for tests: a shop's tiers on, as the merchant would set them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from loyalty import services
from loyalty.models import LoyaltyOrder, Member, Tier, TierChange, TierSettings
from merchants.models import Shop
from tests.loyalty.factories import line, order

SILVER_GOLD = (("Silver", "100", "1.25", 50), ("Gold", "500", "1.5", 200))


def tiers_setup(
    shop: Shop, tiers: Sequence[tuple[str, str, str, int]] = SILVER_GOLD, **settings: Any
) -> dict[str, Tier]:
    """Tier settings (enabled, calendar years; ``settings`` override) and the tiers, given as
    (name, threshold, multiplier, entry points) in threshold order."""
    row = TierSettings.objects.create(
        shop=shop, enabled=True, **{"window": "calendar_year", **settings}
    )
    return {
        name: Tier.objects.create(
            shop=shop,
            settings=row,
            name=name,
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
            entry_points=entry,
        )
        for rank, (name, threshold, multiplier, entry) in enumerate(tiers)
    }


def paid(shop: Shop, order_id: int, price: str, *, customer_id: int = 501, **kw: Any) -> None:
    """An orders/paid delivery of a one-line order, processed."""
    services.order_webhook_process(
        shop=shop,
        topic="orders/paid",
        payload=order(order_id, [line(price)], customer_id=customer_id, **kw),
        triggered_at=None,
    )


def member_of(shop: Shop, customer_id: int = 501) -> Member:
    return Member.objects.get(shop=shop, customer_id=customer_id)


def tier_name(member: Member) -> str | None:
    return member.tier.name if member.tier_id else None


def history(member: Member) -> list[tuple[str, str, str]]:
    return list(
        TierChange.objects.filter(member=member)
        .order_by("at", "pk")
        .values_list("reason", "from_name", "to_name")
    )


def credited(shop: Shop, order_id: int) -> LoyaltyOrder:
    return LoyaltyOrder.objects.get(shop=shop, order_id=order_id)
