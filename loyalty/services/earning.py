"""Earning inputs: the product tags and bonus events the earning rules read
(``loyalty.rules.earning`` holds the rules themselves)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from loyalty.models import BonusEvent, LoyaltyProgram, ProductTags
from loyalty.rules.earning import EarningResult, earning_compute, order_product_ids
from merchants.models import Shop


def product_tags_read(*, shop: Shop, product_ids: Iterable[int | None]) -> dict[int, set[str]]:
    ids = {pid for pid in product_ids if pid is not None}
    if not ids:
        return {}
    rows = ProductTags.objects.filter(shop=shop, product_id__in=ids).values_list(
        "product_id", "tags"
    )
    return {pid: {str(t).strip().lower() for t in tags} for pid, tags in rows}


def order_earning_compute(
    *, shop: Shop, program: LoyaltyProgram, payload: dict[str, Any], placed_at: datetime | None
) -> EarningResult:
    """The points an order-shaped payload would earn now (the cart estimate): the earning
    rule with the shop's product tags and bonus events read for it."""
    tags = product_tags_read(shop=shop, product_ids=order_product_ids(payload))
    events = (
        list(BonusEvent.objects.filter(shop=shop, starts_at__lte=placed_at, ends_at__gt=placed_at))
        if placed_at
        else []
    )
    return earning_compute(
        program=program, payload=payload, placed_at=placed_at, tags=tags, shop_events=events
    )


def product_tags_record(*, shop: Shop, product_id: int, tags: Iterable[str] | str) -> None:
    """Remember a product's tags (from products/* webhooks) for exclusions and bonus events."""
    if isinstance(tags, str):
        tags = tags.split(",")
    clean = sorted({t.strip().lower() for t in tags if t and t.strip()})
    ProductTags.objects.update_or_create(shop=shop, product_id=product_id, defaults={"tags": clean})
