"""Tiers over time: the periodic evaluation ends graces (never earlier), grants give a tier
for N days and end, manual overrides; every change once, whatever is retried."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from devstore.clock import clock_at
from loyalty import services, tasks
from loyalty.errors import InvalidTiers
from loyalty.models import LedgerEntry, LoyaltyProgram, Member, TierChange
from loyalty.services.tier_grants import tier_grant, tier_manual_set
from loyalty.services.tiers import tiers_evaluate_due
from tests.loyalty.factories import refund
from tests.loyalty.tier_helpers import history, member_of, paid, tier_name, tiers_setup
from tests.merchants.webhook_support import ShopFactory

pytestmark = pytest.mark.django_db
D = Decimal


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = ShopFactory()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


def evaluate(moment: datetime) -> int:
    with clock_at(moment):
        return tiers_evaluate_due(now=moment)


def test_a_tier_is_kept_through_the_next_year_whatever_refunds_say(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "600.00")  # Gold, held until 1 January 2027
        services.refund_webhook_process(shop=shop, payload=refund(71, 1, [(1, "600.00")]))
    for moment in (at(2025, 12, 31), at(2026, 1, 1), at(2026, 12, 31, 23, 59)):
        assert evaluate(moment) == 0
        assert tier_name(member_of(shop)) == "Gold"
    assert evaluate(at(2027, 1, 1)) == 1  # nothing earned in 2026: no tier
    member = member_of(shop)
    assert (tier_name(member), member.earned_tier_id, member.tier_expires_at) == (None, None, None)
    assert member.tier_multiplier == D(1)
    assert history(member) == [("earned", "", "Gold"), ("expired", "Gold", "")]
    assert evaluate(at(2027, 1, 2)) == 0  # idempotent: nothing due any more
    assert history(member) == [("earned", "", "Gold"), ("expired", "Gold", "")]


def test_the_evaluation_keeps_or_lowers_the_tier_by_the_year_that_ended(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "600.00", customer_id=1)
        paid(shop, 2, "600.00", customer_id=2)
    with clock_at(at(2026, 5, 1)):
        paid(shop, 3, "520.00", customer_id=1)  # Gold again in 2026
        paid(shop, 4, "150.00", customer_id=2)  # only Silver in 2026
    assert evaluate(at(2027, 1, 1)) == 1
    first, second = member_of(shop, 1), member_of(shop, 2)
    assert (tier_name(first), first.tier_expires_at) == ("Gold", at(2028, 1, 1))
    assert (tier_name(second), second.tier_expires_at) == ("Silver", at(2028, 1, 1))
    assert second.tier_multiplier == D("1.25")
    assert history(first) == [("earned", "", "Gold")]  # held again: nothing to record
    assert history(second) == [("earned", "", "Gold"), ("expired", "Gold", "Silver")]
    assert TierChange.objects.get(member=second, reason="expired").at == at(2027, 1, 1)


def test_an_evaluation_missed_for_years_catches_up_period_by_period(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "600.00")
    with clock_at(at(2026, 5, 1)):
        paid(shop, 2, "150.00")  # Silver in 2026, nothing in 2027
    assert evaluate(at(2029, 6, 1)) == 1
    member = member_of(shop)
    assert tier_name(member) is None
    assert history(member) == [
        ("earned", "", "Gold"),
        ("expired", "Gold", "Silver"),
        ("expired", "Silver", ""),
    ]
    assert list(
        TierChange.objects.filter(member=member).order_by("at").values_list("at", flat=True)
    ) == [at(2025, 3, 1), at(2027, 1, 1), at(2028, 1, 1)]


def test_the_celery_task_runs_the_evaluation(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "600.00")
    with clock_at(at(2027, 1, 1)):
        assert tasks.tiers_evaluate_due() == 1


def test_a_grant_gives_a_tier_until_its_end_then_the_earned_one_returns(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "150.00", customer_id=1)  # Silver
        paid(shop, 2, "10.00", customer_id=2)
        report = tier_grant(
            shop=shop,
            customer_ids=[1, 2, 404],
            tier_id=tiers["Gold"].pk,
            days=10,
            actor="staff 7",
            key="spring",
        )
        again = tier_grant(
            shop=shop,
            customer_ids=[1, 2],
            tier_id=tiers["Gold"].pk,
            days=30,
            actor="x",
            key="spring",
        )
    assert (report.granted, report.unknown, report.already) == (2, [404], 0)
    assert (again.granted, again.already) == (0, 2)  # the same grant: nothing changed
    first = member_of(shop, 1)
    assert (tier_name(first), first.tier_multiplier, first.grant_ends_at) == (
        "Gold",
        D("1.5"),
        at(2025, 3, 11),
    )
    with clock_at(at(2025, 3, 5)):
        paid(shop, 3, "10.00", customer_id=2)  # earns with the granted multiplier
    assert member_of(shop, 2).balance == 10 + 15
    assert evaluate(at(2025, 3, 10)) == 0
    assert evaluate(at(2025, 3, 11)) == 2
    first, second = member_of(shop, 1), member_of(shop, 2)
    assert (tier_name(first), first.granted_tier_id, first.grant_ends_at) == ("Silver", None, None)
    assert (tier_name(second), second.tier_multiplier) == (None, D(1))
    assert history(first) == [
        ("earned", "", "Silver"),
        ("granted", "Silver", "Gold"),
        ("grant_ended", "Gold", "Silver"),
    ]
    grant_row = TierChange.objects.get(member=first, reason="granted")
    assert (grant_row.actor, grant_row.ends_at) == ("staff 7", at(2025, 3, 11))


def test_a_grant_below_the_earned_tier_changes_nothing_in_effect(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "600.00")
        tier_grant(
            shop=shop, customer_ids=[501], tier_id=tiers["Silver"].pk, days=5, actor="a", key="k"
        )
    member = member_of(shop)
    assert (tier_name(member), member.granted_tier_id) == ("Gold", tiers["Silver"].pk)


@pytest.mark.parametrize(
    ("days", "tier", "key", "message"),
    [
        (0, "Gold", "k", "A grant lasts 1 to 3650 days."),
        (5, "Gold", "", "A grant needs an idempotency key."),
        (5, "archived", "k", "Choose one of the program's active tiers."),
    ],
)
def test_a_bad_grant_is_refused_and_changes_nothing(shop, days, tier, key, message) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    tiers["Gold"].active = tier != "archived"
    tiers["Gold"].save()
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "10.00")
        with pytest.raises(InvalidTiers) as raised:
            tier_grant(
                shop=shop,
                customer_ids=[501],
                tier_id=tiers["Gold"].pk,
                days=days,
                actor="a",
                key=key,
            )
    assert str(raised.value) == message
    assert raised.value.http_status == 400
    member = member_of(shop)
    assert (member.granted_tier_id, member.tier_id) == (None, None)
    assert not TierChange.objects.filter(member=member).exists()


def test_grants_need_tiers_on(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    tiers["Gold"].settings.enabled = False
    tiers["Gold"].settings.save()
    with pytest.raises(InvalidTiers):
        tier_grant(
            shop=shop, customer_ids=[1], tier_id=tiers["Gold"].pk, days=5, actor="a", key="k"
        )


def test_a_manual_override_is_held_like_an_earned_tier_and_recorded_once(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "10.00")
        member = member_of(shop)
        done = [
            tier_manual_set(
                shop=shop,
                member_id=member.pk,
                tier_id=tiers["Gold"].pk,
                actor="staff",
                key="fix-1",
                note="VIP customer",
            )
            for _ in range(2)
        ]
    assert done == [True, False]
    member = member_of(shop)
    assert (tier_name(member), member.tier_expires_at) == ("Gold", at(2027, 1, 1))
    assert history(member) == [("manual", "", "Gold")]
    assert TierChange.objects.get(member=member).note == "VIP customer"


def test_an_evaluation_can_move_up_and_gives_the_entry_points_once(shop) -> None:  # type: ignore[no-untyped-def]
    """Rolling 6-month windows in blocks from July 2024: an order placed at the end of a block
    but delivered after it no longer meets the orders earlier in the block in the window
    ending now, but the evaluation of the block counts them together."""
    tiers_setup(shop, window="rolling", window_months=6, program_start=date(2024, 7, 1))
    with clock_at(at(2024, 8, 1)):
        paid(shop, 1, "150.00")  # Silver, held until 1 July 2025
    with clock_at(at(2025, 1, 2)):
        paid(shop, 2, "200.00")  # 250 points; 400 in the window: still Silver
    with clock_at(at(2025, 7, 15)):
        paid(shop, 3, "200.00", processed_at="2025-06-30T00:00:00+00:00")  # 250 in the window
        assert tier_name(member_of(shop)) == "Silver"
        assert evaluate(at(2025, 7, 15)) == 1
    member = member_of(shop)
    # Reached over January-June 2025: held until the end of the next block.
    assert (tier_name(member), member.tier_expires_at) == ("Gold", at(2026, 1, 1))
    assert history(member) == [("earned", "", "Silver"), ("earned", "Silver", "Gold")]
    entries = LedgerEntry.objects.filter(member=member, kind="tier_entry")
    assert sorted(entries.values_list("amount", flat=True)) == [50, 200]
    assert member.balance == 150 + 50 + 250 + 250 + 200
    assert evaluate(at(2025, 7, 16)) == 0


def test_tiers_off_evaluate_nobody(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        paid(shop, 1, "600.00")
    tiers["Gold"].settings.enabled = False
    tiers["Gold"].settings.save()
    assert evaluate(at(2030, 1, 1)) == 0
    assert tier_name(member_of(shop)) == "Gold"


def test_members_held_until_a_grace_end_are_found_by_their_index(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(at(2025, 3, 1)):
        for n in range(3):
            paid(shop, n + 1, "600.00", customer_id=n + 1)
    assert Member.objects.filter(shop=shop, tier_expires_at__lte=at(2027, 1, 1)).count() == 3
    assert evaluate(at(2027, 1, 1) - timedelta(seconds=1)) == 0
    assert evaluate(at(2027, 1, 1)) == 3
