"""Real races on PostgreSQL: concurrent awards of one action to one member (the same click
sent twice at once, two different keys under a once-only limit) give the points once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.models import ActionAward, EarningAction, LedgerEntry, Member
from loyalty.services.earning_actions import action_award
from tests.loyalty.factories import MemberFactory, ProgramFactory, ShopFactory
from tests.loyalty.test_race import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers on a database-wide lock; row-lock races need PostgreSQL",
    ),
]


@pytest.mark.parametrize("same_key", [True, False])
def test_concurrent_awards_give_the_points_once(same_key: bool) -> None:
    shop = ShopFactory()
    ProgramFactory(shop=shop)
    member = MemberFactory(shop=shop)
    EarningAction.objects.create(
        shop=shop, kind="newsletter", points=50, enabled=True, enabled_at=timezone.now()
    )

    results = race(
        8,
        lambda i: (
            action_award(
                shop=shop,
                member_id=member.pk,
                kind="newsletter",
                key="newsletter:x" if same_key else f"newsletter:{i}",
            ).status
        ),
    )

    assert sorted(results).count("awarded") == 1, results
    assert set(results) == ({"awarded", "already"} if same_key else {"awarded", "limit"})
    assert ActionAward.objects.count() == 1
    assert LedgerEntry.objects.filter(member=member).count() == 1
    assert Member.objects.get(pk=member.pk).balance == 50
