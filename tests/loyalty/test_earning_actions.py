"""The award service: idempotent keys, limits, the tier multiplier, reversals, the ledger
and its history wording, newsletter consent from customer webhooks, privacy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from loyalty import services
from loyalty.models import (
    ActionAward,
    AuditEvent,
    EarningAction,
    LedgerEntry,
    LoyaltyProgram,
    Member,
    MemberBirthday,
)
from loyalty.selectors import ledger_entry_label
from loyalty.services.earning_actions import (
    ALREADY,
    AWARDED,
    LIMIT,
    OFF,
    BirthdayInvalid,
    action_award,
    action_reverse,
    newsletter_consent_apply,
)
from merchants.models import Shop
from tests.loyalty.factories import MemberFactory
from tests.loyalty.tier_helpers import tiers_setup

pytestmark = pytest.mark.django_db


def action_on(shop: Shop, kind: str, points: int = 100, **kw: Any) -> EarningAction:
    return EarningAction.objects.create(
        shop=shop, kind=kind, points=points, enabled=True, enabled_at=timezone.now(), **kw
    )


def entries(member: Member) -> list[tuple[str, int, str]]:
    return list(
        LedgerEntry.objects.filter(member=member)
        .order_by("pk")
        .values_list("kind", "amount", "note")
    )


@pytest.fixture
def member(shop: Shop, program: LoyaltyProgram) -> Member:
    return MemberFactory(shop=shop)


def test_an_award_posts_once_per_key_with_its_reason(shop, member):
    action_on(shop, "birthday")

    first = action_award(shop=shop, member_id=member.pk, kind="birthday", key="birthday:1:2026")
    again = action_award(shop=shop, member_id=member.pk, kind="birthday", key="birthday:1:2026")

    member.refresh_from_db()
    assert (first.status, first.points) == (AWARDED, 100)
    assert (again.status, again.points, again.award) == (ALREADY, 100, first.award)
    assert entries(member) == [("action", 100, "Birthday gift")]
    assert (member.balance, member.lifetime_earned) == (100, 100)
    assert ledger_entry_label(kind="action", note="Birthday gift", bucket="available") == (
        "Birthday gift"
    )
    assert ActionAward.objects.filter(member=member).count() == 1
    assert AuditEvent.objects.count() == 0  # no merchant acted


def test_the_tier_multiplier_applies_like_on_orders(shop, member):
    tiers = tiers_setup(shop)
    Member.objects.filter(pk=member.pk).update(
        tier=tiers["Silver"], tier_multiplier=tiers["Silver"].multiplier
    )
    action_on(shop, "social_follow", points=50, network="instagram", url="https://instagram.com/b")

    outcome = action_award(
        shop=shop, member_id=member.pk, kind="social_follow", network="instagram", key="f:1"
    )

    assert outcome.points == 62  # 50 x 1.25, rounded down like the program's orders
    assert (outcome.award.base_points, str(outcome.award.tier_multiplier)) == (50, "1.2500")
    # the tier metric counts orders only: the award moved nobody up
    member.refresh_from_db()
    assert member.tier_id == tiers["Silver"].pk


def test_tiers_off_no_multiplier(shop, member):
    Member.objects.filter(pk=member.pk).update(tier_multiplier="1.5")
    action_on(shop, "newsletter", points=40)

    assert action_award(shop=shop, member_id=member.pk, kind="newsletter", key="n").points == 40


def test_limits_count_periods_and_reversed_awards_do_not(shop, member):
    action_on(shop, "social_share", points=10, network="x", limit="day")
    day1, day2 = datetime(2026, 5, 1).date(), datetime(2026, 5, 2).date()

    def award(key: str, on: Any) -> str:
        return action_award(
            shop=shop, member_id=member.pk, kind="social_share", network="x", key=key, on=on
        ).status

    assert award("s:a", day1) == AWARDED
    assert award("s:b", day1) == LIMIT
    assert award("s:c", day2) == AWARDED
    action_reverse(shop=shop, key="s:c", reason="test")
    assert award("s:d", day2) == AWARDED
    assert LedgerEntry.objects.filter(member=member, kind="action").count() == 3


@pytest.mark.parametrize("switch", ["action", "program", "points"])
def test_nothing_is_awarded_while_off(shop, member, program, switch):
    action = action_on(shop, "newsletter")
    if switch == "action":
        EarningAction.objects.filter(pk=action.pk).update(enabled=False)
    elif switch == "program":
        LoyaltyProgram.objects.filter(pk=program.pk).update(enabled=False)
    else:
        EarningAction.objects.filter(pk=action.pk).update(points=0)

    outcome = action_award(shop=shop, member_id=member.pk, kind="newsletter", key="n")

    assert outcome.status == OFF
    assert entries(member) == [] and not ActionAward.objects.exists()


def test_a_merchants_award_is_audited(shop, member):
    action_on(shop, "custom", points=5, name="quiz")

    action_award(shop=shop, member_id=member.pk, kind="custom", name="quiz", key="c", actor="77")

    row = AuditEvent.objects.get()
    assert (row.action, row.actor, row.summary) == ("action.award", "77", "quiz: 5 points")
    assert LedgerEntry.objects.get(member=member).actor == "77"


def test_a_reversal_takes_the_points_back_exactly_once(shop, member):
    action_on(shop, "review", points=30)
    action_award(shop=shop, member_id=member.pk, kind="review", key="review:r1")

    first = action_reverse(shop=shop, key="review:r1", reason="review deleted")
    again = action_reverse(shop=shop, key="review:r1", reason="review deleted")

    member.refresh_from_db()
    assert first is not None and again is not None and again.pk == first.pk
    assert entries(member) == [
        ("action", 30, "Product review"),
        ("action_reversal", -30, "Product review"),
    ]
    assert (member.balance, member.lifetime_earned) == (0, 0)
    assert action_reverse(shop=shop, key="review:nope", reason="x") is None


def test_a_reversal_deducts_only_what_the_balance_holds(shop, member, give_spend):
    action_on(shop, "review", points=30)
    action_award(shop=shop, member_id=member.pk, kind="review", key="review:r1")
    give_spend(member, -20)

    award = action_reverse(shop=shop, key="review:r1", reason="review deleted")

    member.refresh_from_db()
    assert (award.points_reversed, member.balance) == (10, 0)


@pytest.fixture
def give_spend():
    def spend(member: Member, amount: int) -> None:
        services.points_adjust(
            shop=member.shop,
            member=member,
            amount=amount,
            reason="spent",
            actor="t",
            idempotency_key=f"spend:{amount}",
        )

    return spend


# --- newsletter consent -------------------------------------------------------------------------


def consent(state: str, at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": 4242,
        "email": "ada@example.com",
        "email_marketing_consent": {
            "state": state,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": (at or timezone.now()).isoformat(),
        },
    }


def test_subscribing_gives_the_newsletter_points_once(shop, program):
    action_on(shop, "newsletter", points=50)
    for topic, state in (
        ("customers/create", "not_subscribed"),
        ("customers/update", "subscribed"),
        ("customers/update", "subscribed"),  # a replay, or another change later
        ("customers/update", "unsubscribed"),
        ("customers/update", "subscribed"),  # subscribing again earns nothing more
    ):
        services.customer_webhook_process(shop=shop, topic=topic, payload=consent(state))

    member = Member.objects.get(shop=shop, customer_id=4242)
    assert entries(member) == [("action", 50, "Newsletter sign-up")]
    assert ActionAward.objects.get().key == f"newsletter:{member.pk}"


def test_consent_given_before_the_action_was_on_does_not_earn(shop, program):
    action_on(shop, "newsletter", points=50)
    before = timezone.now() - timedelta(days=3)

    services.customer_webhook_process(
        shop=shop, topic="customers/update", payload=consent("subscribed", before)
    )

    assert not ActionAward.objects.exists()


def test_newsletter_needs_subscribed_not_pending(shop, program):
    action_on(shop, "newsletter", points=50)
    member = MemberFactory(shop=shop)

    assert newsletter_consent_apply(
        shop=shop, member=member, payload=consent("pending")
    ).status == (OFF)


# --- birthdays entered, privacy -----------------------------------------------------------------


def test_birthday_is_validated_and_saved_month_day_year_optional(shop, member):
    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=2, day=29)
    row = MemberBirthday.objects.get(member=member)
    assert (row.month, row.day, row.year) == (2, 29, None)

    services.member_birthday_set(
        shop=shop, customer_id=member.customer_id, month=7, day=14, year=1990
    )
    row.refresh_from_db()
    assert (row.month, row.day, row.year) == (7, 14, 1990)

    with pytest.raises(BirthdayInvalid, match="That month has no such day"):
        services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=4, day=31)
    row.refresh_from_db()
    assert (row.month, row.day) == (7, 14)


def test_export_and_redaction_cover_birthdays_and_awards(shop, member):
    action_on(shop, "review", points=30)
    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=7, day=14)
    action_award(shop=shop, member_id=member.pk, kind="review", key="review:r1", source_ref="rev-9")

    data = services.customer_data_export(shop=shop, customer_id=member.customer_id, email=None)
    assert data["member"]["birthday"] == {"month": 7, "day": 14, "year": None}
    assert [(a["action"], a["key"], a["points"]) for a in data["earning_actions"]] == [
        ("review", "review:r1", 30)
    ]

    services.customer_redact(shop=shop, customer_id=member.customer_id, email=None)

    assert not MemberBirthday.objects.filter(member=member).exists()
    assert ActionAward.objects.get().source_ref == ""
    services.shop_data_erase(shop=shop)
    assert not ActionAward.objects.exists() and not EarningAction.objects.exists()


def test_awards_count_as_points_issued_in_analytics():
    from loyalty.analytics.services import EARN_KINDS, REVERSAL_KINDS

    assert "action" in EARN_KINDS and "action_reversal" in REVERSAL_KINDS


def test_consent_in_the_second_the_action_was_turned_on_counts(shop, program):
    action = action_on(shop, "newsletter", points=50)
    same_second = action.enabled_at.replace(microsecond=0)

    services.customer_webhook_process(
        shop=shop, topic="customers/update", payload=consent("subscribed", same_second)
    )

    assert ActionAward.objects.count() == 1
