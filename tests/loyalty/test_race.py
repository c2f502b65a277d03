"""Real races on PostgreSQL: threads with their own connections hit the same member row."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry, Member, Redemption
from loyalty.services import ledger_verify, order_webhook_process, points_adjust, reward_redeem
from tests.loyalty.factories import (
    MemberFactory,
    ProgramFactory,
    RewardFactory,
    ShopFactory,
    line,
    order,
)
from tests.loyalty.test_redemption import FakeStore, store  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers on a database-wide lock; row-lock races need PostgreSQL",
    ),
]


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together; collect results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_redemptions_never_overdraw(store: FakeStore):  # noqa: F811
    shop = ShopFactory()
    ProgramFactory(shop=shop)
    member = MemberFactory(shop=shop)
    points_adjust(
        shop=shop, member=member, amount=1000, reason="seed", actor="t", idempotency_key="s"
    )
    reward = RewardFactory(shop=shop, points_cost=300)

    results = race(
        12,
        lambda i: reward_redeem(
            shop=shop, member_id=member.pk, reward_id=reward.pk, client_key=f"k{i}"
        ),
    )

    won = [r for r in results if isinstance(r, Redemption)]
    lost = [r for r in results if isinstance(r, InsufficientPoints)]
    assert len(won) == 3 and len(lost) == 9, results
    member.refresh_from_db()
    assert member.balance == 100
    assert LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"] == 100
    assert len(store.codes) == 3
    assert all(r.status == Redemption.Status.ISSUED for r in won)
    assert ledger_verify(shop=shop).drifts == []


def test_concurrent_duplicate_deliveries_credit_once():
    shop = ShopFactory()
    ProgramFactory(shop=shop)
    payload = order(1, [line("75.00")])

    results = race(
        8,
        lambda i: order_webhook_process(
            shop=shop, topic="orders/paid", payload=payload, triggered_at=None
        ),
    )

    assert [r for r in results if isinstance(r, Exception)] == []
    assert Member.objects.get(shop=shop).balance == 75
    assert LedgerEntry.objects.filter(shop=shop).count() == 1
