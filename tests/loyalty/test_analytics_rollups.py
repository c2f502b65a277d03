"""Incremental rollup refresh equals a full recompute, over rounds of random changes."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from loyalty.analytics import selectors, services
from loyalty.analytics.models import RollupState
from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Redemption
from merchants.models import Shop
from tests.loyalty.test_analytics import NY, Builder, rollup_snapshot
from tests.merchants.embedded_helpers import installed_shop


def _age(shop: Shop) -> None:
    """Everything so far happened an hour ago (never before the shop's midnight: a member's
    day is fixed once a refresh counted it, as in production where ``created_at`` never
    moves); the last refresh ran half an hour ago."""
    now = timezone.now()
    midnight = now.astimezone(NY).replace(hour=0, minute=0, second=0, microsecond=0)
    hour_ago = max(now - timedelta(hours=1), midnight)
    LoyaltyOrder.objects.filter(shop=shop).update(updated_at=hour_ago)
    Redemption.objects.filter(shop=shop).update(updated_at=hour_ago)
    Member.objects.filter(shop=shop, created_at__gt=hour_ago).update(created_at=hour_ago)
    RollupState.objects.filter(shop=shop).update(
        refreshed_through=timezone.now() - timedelta(minutes=30)
    )


def _when(rng: random.Random) -> datetime:
    day = date(2026, 2, 20) + timedelta(days=rng.randrange(50))
    return datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60), tzinfo=NY)


def test_random_rounds_of_changes(db: None) -> None:
    rng = random.Random(7)
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    b = Builder(shop)
    for customer_id in range(1, 9):
        b.member(customer_id, _when(rng))
    for _ in range(40):
        b.order(rng.choice([None, *range(1, 12)]), _when(rng), f"{rng.randrange(5, 300)}.00")
    services.rollup_refresh(shop=shop)

    codes = 0
    for _round in range(4):
        _age(shop)
        for _ in range(rng.randrange(3, 9)):
            action = rng.choice(["order", "cancel", "member", "ledger", "attribute"])
            if action == "order":
                customer = rng.choice([None, *range(1, 12)])
                b.order(customer, _when(rng), f"{rng.randrange(5, 300)}.00")
            elif action == "cancel":
                victim = rng.choice(list(LoyaltyOrder.objects.filter(shop=shop)))
                LoyaltyOrder.objects.filter(pk=victim.pk).update(
                    state=LoyaltyOrder.State.CANCELLED, updated_at=timezone.now()
                )
            elif action == "member":
                b.member(100 + len(b.members), timezone.now())
            elif action == "ledger":
                b.entry(
                    rng.randrange(1, 9),
                    rng.choice([50, -20]),
                    LedgerEntry.Kind.MANUAL,
                    timezone.now(),
                )
            else:
                target = rng.choice(list(LoyaltyOrder.objects.filter(shop=shop)))
                codes += 1
                b.redemption(rng.randrange(1, 9), f"R{codes}", status=Redemption.Status.ISSUED)
                Redemption.objects.filter(shop=shop, code=f"R{codes}").update(
                    status=Redemption.Status.USED, order_id=target.order_id
                )
        report = services.rollup_refresh(shop=shop)
        incremental = rollup_snapshot(shop)
        board = selectors.dashboard_get(
            shop=shop, rng=selectors.DateRange(date(2026, 2, 1), date(2026, 4, 30))
        )

        services.rollup_refresh(shop=shop, full=True)

        assert report.full is False
        assert incremental == rollup_snapshot(shop)
        again = selectors.dashboard_get(
            shop=shop, rng=selectors.DateRange(date(2026, 2, 1), date(2026, 4, 30))
        )
        assert replace(board, as_of=None) == replace(again, as_of=None)
    total = sum(
        LoyaltyOrder.objects.filter(shop=shop, placed_at__isnull=False)
        .exclude(state=LoyaltyOrder.State.CANCELLED)
        .values_list("total_price", flat=True),
        Decimal(0),
    )
    assert board.revenue == total
