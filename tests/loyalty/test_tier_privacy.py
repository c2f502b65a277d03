"""Tier data under the compliance webhooks: the customer's export holds their tier and its
history; redaction blanks the history's notes; a shop's erasure removes every tier row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devstore.clock import clock_at
from loyalty.models import (
    LoyaltyProgram,
    Member,
    Tier,
    TierChange,
    TierPreview,
    TierRecompute,
    TierSettings,
)
from loyalty.services import customer_data_export, customer_redact, shop_data_erase
from loyalty.services.tier_grants import tier_grant, tier_manual_set
from tests.loyalty.factories import RewardFactory
from tests.loyalty.tier_helpers import member_of, paid, tiers_setup
from tests.merchants.webhook_support import ShopFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 10, 12, tzinfo=UTC)


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = ShopFactory()
    LoyaltyProgram.objects.create(shop=shop)
    tiers = tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "150.00")
        tier_grant(
            shop=shop, customer_ids=[501], tier_id=tiers["Gold"].pk, days=7, actor="a", key="g"
        )
        tier_manual_set(
            shop=shop,
            member_id=member_of(shop).pk,
            tier_id=tiers["Gold"].pk,
            actor="staff",
            key="m",
            note="Ann asked at the counter",
        )
    return shop


def test_the_export_holds_the_tier_and_its_history(shop) -> None:  # type: ignore[no-untyped-def]
    data = customer_data_export(shop=shop, customer_id=501, email=None)
    member = data["member"]
    assert (member["tier"], member["tier_multiplier"], member["earned_tier"]) == (
        "Gold",
        "1.5000",
        "Gold",
    )
    assert (member["earned_tier_until"], member["granted_tier"], member["granted_tier_until"]) == (
        "2027-01-01T00:00:00+00:00",
        "Gold",
        "2025-06-17T12:00:00+00:00",
    )
    assert [(h["reason"], h["from"], h["to"], h["note"]) for h in data["tier_history"]] == [
        ("earned", "", "Silver", ""),
        ("granted", "Silver", "Gold", ""),
        ("manual", "Silver", "Gold", "Ann asked at the counter"),
    ]


def test_redaction_keeps_the_history_but_blanks_its_notes(shop) -> None:  # type: ignore[no-untyped-def]
    customer_redact(shop=shop, customer_id=501, email=None)
    rows = TierChange.objects.filter(member=member_of(shop))
    assert rows.count() == 3
    assert set(rows.values_list("note", flat=True)) == {""}


def test_history_rows_are_never_rewritten(shop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="never updated"):
        TierChange.objects.filter(shop=shop).update(reason="manual")


def test_erasing_the_shop_removes_every_tier_row(shop) -> None:  # type: ignore[no-untyped-def]
    gold = Tier.objects.get(shop=shop, name="Gold")
    gold.entry_reward = RewardFactory(shop=shop)
    gold.save()
    TierSettings.objects.filter(shop=shop).update(new_member_tier=gold, new_member_days=3)
    TierRecompute.objects.create(shop=shop)
    TierPreview.objects.create(shop=shop, draft={}, base={})
    other = ShopFactory()
    tiers_setup(other)
    shop_data_erase(shop=shop)
    for model in (TierChange, TierPreview, TierRecompute, Tier, TierSettings, Member):
        assert not model.objects.filter(shop=shop).exists(), model
    assert Tier.objects.filter(shop=other).count() == 2
