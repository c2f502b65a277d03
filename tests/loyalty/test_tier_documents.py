"""What shoppers read about tiers: the next tier to aim for (``tier_next``, shared by ``me``
and the extensions) and a tier change in words."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from loyalty.models import TierChange
from loyalty.rules.tiers import SPEND, TierDef, TierRules, tier_next
from loyalty.tier_documents import tier_change_label
from merchants.models import Shop

RULES = TierRules(
    metric=SPEND,
    window="lifetime",
    tiers=(
        TierDef(1, "Bronze", Decimal("0")),
        TierDef(2, "Silver", Decimal("100")),
        TierDef(3, "Gold", Decimal("500")),
    ),
)
BRONZE, SILVER, GOLD = RULES.tiers


def test_the_next_tier_is_the_lowest_above_the_current_not_reached_yet() -> None:
    assert tier_next(RULES, None, Decimal("50")) == SILVER
    assert tier_next(RULES, BRONZE, Decimal("50")) == SILVER
    assert tier_next(RULES, SILVER, Decimal("120")) == GOLD
    # a granted Gold with nothing spent: nothing above Gold
    assert tier_next(RULES, GOLD, Decimal("0")) is None
    # a held Silver (grace) whose value already passed Gold's threshold: none left to aim for
    assert tier_next(RULES, SILVER, Decimal("600")) is None


def _change(reason: str, was: str, to: str, ends: datetime | None = None) -> TierChange:
    return TierChange(reason=reason, from_name=was, to_name=to, ends_at=ends)


def test_each_reason_reads_as_a_sentence() -> None:
    shop = Shop(domain="words.myshopify.com", iana_timezone="Europe/Paris")
    ends = datetime(2027, 12, 31, 23, 30, tzinfo=UTC)  # 1 Jan 2028 in Paris
    expected = {
        ("earned", "", "Silver"): "Reached Silver",
        ("earned", "Silver", "Gold"): "Reached Gold",
        ("expired", "Gold", "Silver"): "Moved to Silver",
        ("expired", "Silver", ""): "Silver ended",
        ("manual", "", "Gold"): "Set to Gold by the store",
        ("manual", "Gold", ""): "Gold removed by the store",
        ("grant_ended", "Gold", "Silver"): "Gold access ended: back to Silver",
        ("grant_ended", "Gold", ""): "Gold access ended",
        ("settings_change", "Gold", "Silver"): "Now Silver after a program update",
        ("settings_change", "Gold", ""): "Gold ended by a program update",
    }
    for (reason, was, to), words in expected.items():
        assert tier_change_label(_change(reason, was, to), shop) == words
    granted = _change("granted", "Silver", "Gold", ends)
    assert tier_change_label(granted, shop) == "Gold access until 1 Jan 2028"
    # An end at the shop's midnight holds through the day before.
    at_midnight = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)  # 1 Jan 2028 00:00 in Paris
    assert tier_change_label(_change("granted", "", "Gold", at_midnight), shop) == (
        "Gold access until 31 Dec 2027"
    )
    assert tier_change_label(_change("granted", "", "Gold"), shop) == "Gold access"
