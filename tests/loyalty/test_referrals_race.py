"""Real races on PostgreSQL: the same email claimed twice at once gives one referral and
one code; the due job and the merchant's unblock racing give the reward once; two orders
paid at once with one friend's code are attributed once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Referral
from loyalty.services.referrals_rewards import (
    referral_reward,
    referral_unblock,
    referrals_reward_due,
)
from tests.loyalty.factories import ShopFactory
from tests.loyalty.referral_helpers import claim, friend_order, referrals_on, store_fake
from tests.loyalty.test_race import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers on a database-wide lock; row-lock races need PostgreSQL",
    ),
]


def test_concurrent_claims_of_one_email_give_one_referral_and_one_code(monkeypatch):
    fake = store_fake(monkeypatch)
    shop = ShopFactory()
    advocate = referrals_on(shop)

    results = race(6, lambda i: claim(shop, advocate, "Bo@Example.org", ip=f"203.0.113.{i}").pk)

    assert all(isinstance(r, int) for r in results), results
    referral = Referral.objects.get()
    assert set(results) == {referral.pk}
    assert (referral.status, referral.code_status) == ("pending", "issued")
    assert list(fake.codes) == [referral.code]


def _issued(shop, advocate) -> Referral:
    referral = claim(shop, advocate, "bo@example.org")
    referral.refresh_from_db()
    assert referral.code_status == "issued"
    return referral


def test_the_due_job_and_an_unblock_racing_reward_once(monkeypatch):
    store_fake(monkeypatch)
    shop = ShopFactory()
    advocate = referrals_on(shop)
    referral = _issued(shop, advocate)
    friend_order(shop, 1, "bo@example.org", referral.code)
    past = timezone.now() - timedelta(minutes=1)
    Referral.objects.filter(pk=referral.pk).update(
        status="blocked", reason="placed_by_advocate", reward_due_at=past
    )

    def work(i: int) -> object:
        if i == 0:
            return referral_unblock(shop=shop, referral_id=referral.pk, actor="owner").status
        if i % 2:
            return referral_reward(shop=shop, referral_id=referral.pk)
        return referrals_reward_due()

    results = race(6, work)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[0] == "completed"
    assert Referral.objects.get(pk=referral.pk).status == "completed"
    assert list(LedgerEntry.objects.filter(kind="referral").values_list("amount", flat=True)) == [
        500
    ]
    assert Member.objects.get(pk=advocate.pk).balance == 500


def test_two_orders_paid_at_once_with_one_friend_code_are_attributed_once(monkeypatch):
    store_fake(monkeypatch)
    shop = ShopFactory()
    advocate = referrals_on(shop)
    referral = _issued(shop, advocate)

    results = race(2, lambda i: friend_order(shop, 1 + i, f"bo{i}@example.org", referral.code))

    assert not [r for r in results if isinstance(r, Exception)], results
    referral.refresh_from_db()
    orders = {o.order_id: o for o in LoyaltyOrder.objects.filter(shop=shop)}
    assert len(orders) == 2 and {o.state for o in orders.values()} == {"credited"}
    assert referral.status == "ordered" and referral.order_id in orders
    assert referral.order_name == orders[referral.order_id].name
    assert referrals_reward_due(now=timezone.now() + timedelta(days=15)) == 1
    assert list(LedgerEntry.objects.filter(kind="referral").values_list("amount", flat=True)) == [
        500
    ]
