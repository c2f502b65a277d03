"""Tier-exclusive rewards through the app proxy: the catalogue says who a reward is for,
``me`` says the member's tier rank, and redeeming below the tier is a 403 with the reason,
nothing spent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.models import LedgerEntry, Redemption, Reward
from loyalty.services.tier_grants import tier_manual_set
from tests.loyalty.tier_helpers import tiers_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def vip(shop, program):  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    reward = Reward.objects.create(
        shop=shop,
        name="Gold lunch",
        kind=Reward.Kind.FIXED_AMOUNT,
        points_cost=100,
        value=Decimal("15.00"),
        min_tier=tiers["Gold"],
    )
    return tiers, reward


def test_below_the_tier_redeeming_is_403_with_the_reason_and_nothing_changes(
    proxy, shop, member, give_points, vip
) -> None:  # type: ignore[no-untyped-def]
    tiers, reward = vip
    give_points(member, 500)
    tier_manual_set(shop=shop, member_id=member.pk, tier_id=tiers["Silver"].pk, actor="t", key="s")

    response = proxy.post("api/redeem", {"reward_id": str(reward.pk), "client_key": "k-00000001"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "reward_tier_locked"
    assert response.json()["error"]["message"] == "This reward is for Gold members."
    member.refresh_from_db()
    assert member.balance == 500
    assert not Redemption.objects.exists()
    assert not LedgerEntry.objects.filter(kind="redeem").exists()


def test_the_catalogue_and_me_carry_what_the_panel_locks_by(
    proxy, shop, member, give_points, vip, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    tiers, reward = vip
    give_points(member, 500)
    tier_manual_set(shop=shop, member_id=member.pk, tier_id=tiers["Gold"].pk, actor="t", key="g")

    (shown,) = [r for r in proxy.get("api/program").json()["rewards"] if r["id"] == str(reward.pk)]
    assert shown["tier"] == {"name": "Gold", "rank": 1, "label": "Gold members"}
    assert proxy.get("api/me").json()["member"]["tier"]["rank"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = proxy.post(
            "api/redeem", {"reward_id": str(reward.pk), "client_key": "k-00000002"}
        )
    assert response.status_code == 201, response.content
    member.refresh_from_db()
    assert member.balance == 400
