"""Tier rewards through the devstore: a tier's catalogue entry reward is a zero-point
redemption the saga issues once per tier per qualifying period (outside the crediting
transaction, retried and swept like any redemption); tier-exclusive rewards are locked in
the catalogue and refused below their tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.utils import timezone

from devstore.clock import clock_at
from devstore.models import DevDiscountCode
from loyalty.errors import InvalidTiers, RewardTierLocked
from loyalty.models import LedgerEntry, Member, Redemption, Reward, Tier
from loyalty.selectors import member_tier_rank, program_document
from loyalty.services import redemptions_pending_sweep, reward_redeem
from loyalty.services.tier_grants import tier_manual_set
from loyalty.services.tiers import tiers_evaluate_due
from loyalty.services.tiers_draft import TierDraft, tier_draft_current
from loyalty.services.tiers_recompute import tier_settings_save
from storefront_widget.selectors import reward_offers
from tests.loyalty.factories import RewardFactory
from tests.loyalty.tier_helpers import paid, tiers_setup
from tests.platform_http import _serve_in_process

DOMAIN = "tier-rewards.myshopify.com"
GRAPHQL = (
    f"http://beam.test/devstore/{DOMAIN}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def gift(shop) -> Reward:  # type: ignore[no-untyped-def]
    return RewardFactory(
        shop=shop,
        name="Welcome to Silver: $5 off",
        kind=Reward.Kind.FIXED_AMOUNT,
        points_cost=999,
        value=Decimal("5.00"),
    )


@pytest.fixture
def tiers(shop, gift) -> dict[str, Tier]:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    Tier.objects.filter(pk=tiers["Silver"].pk).update(entry_reward=gift)
    return tiers


def entry_redemptions(customer_id: int) -> list[Redemption]:
    return list(
        Redemption.objects.filter(
            member__customer_id=customer_id, channel=Redemption.Channel.TIER_ENTRY
        ).order_by("pk")
    )


def test_reaching_a_tier_issues_its_entry_reward_in_the_store(
    shop, dev_shop, customer, tiers, gift, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        paid(shop, 1, "150.00", customer_id=customer.id)  # 150 points: Silver

    (r,) = entry_redemptions(customer.id)
    assert (r.status, r.points_spent, r.value, r.reward_id) == (
        Redemption.Status.ISSUED,
        0,
        Decimal("5.00"),
        gift.pk,
    )
    assert r.client_key.startswith(f"tier:{r.member_id}:{tiers['Silver'].pk}:")
    code = DevDiscountCode.objects.get(shop=dev_shop, code=r.code)
    assert (code.customer_ids, code.value) == ([customer.id], Decimal("5.00"))
    member = Member.objects.get(pk=r.member_id)
    # the reward cost nothing: the balance is the order's points and Silver's entry points
    assert member.balance == 150 + 50
    assert not LedgerEntry.objects.filter(member=member, kind="redeem").exists()


def test_the_entry_reward_is_given_once_per_tier_per_period(
    shop, customer, tiers, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with clock_at(at(2026, 3, 1)), django_capture_on_commit_callbacks(execute=True):
        paid(shop, 1, "150.00", customer_id=customer.id)
        paid(shop, 1, "150.00", customer_id=customer.id)  # the same delivery again
        member = Member.objects.get(shop=shop, customer_id=customer.id)
        tier_manual_set(shop=shop, member_id=member.pk, tier_id=None, actor="t", key="drop")
        paid(shop, 2, "10.00", customer_id=customer.id)  # back up to Silver in the same year
    assert len(entry_redemptions(customer.id)) == 1
    assert Member.objects.get(pk=member.pk).tier_id == tiers["Silver"].pk


def test_the_entry_reward_comes_with_a_move_up_at_the_evaluation(
    shop, customer, tiers, gift, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with clock_at(at(2025, 6, 1)), django_capture_on_commit_callbacks(execute=True):
        paid(shop, 1, "600.00", customer_id=customer.id)  # Gold, held through 2026
    Tier.objects.filter(pk=tiers["Gold"].pk).update(entry_reward=gift)
    with clock_at(at(2026, 5, 1)), django_capture_on_commit_callbacks(execute=True):
        paid(shop, 2, "150.00", customer_id=customer.id)  # 2026 qualifies for Silver only
    with clock_at(at(2027, 1, 1)), django_capture_on_commit_callbacks(execute=True):
        tiers_evaluate_due(now=at(2027, 1, 1))  # down to Silver: no entry reward
    assert entry_redemptions(customer.id) == []


def test_a_lost_task_and_a_store_outage_delay_the_entry_reward_but_do_not_lose_it(
    shop, customer, tiers, platform_http, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False):  # the task message is lost
        paid(shop, 1, "150.00", customer_id=customer.id)
    (r,) = entry_redemptions(customer.id)
    assert (r.status, r.attempts) == (Redemption.Status.PENDING, 0)
    member = Member.objects.get(pk=r.member_id)
    assert member.tier_id == tiers["Silver"].pk  # the tier move committed without the store

    failures = {"left": 4}  # the store answers 503 to the sweeper's first attempt

    def flaky(request):  # type: ignore[no-untyped-def]
        if failures["left"] > 0:
            failures["left"] -= 1
            return 503, {}, b"unavailable"
        return _serve_in_process(request)

    platform_http.add_callback(responses.POST, GRAPHQL, callback=flaky)
    assert redemptions_pending_sweep(now=timezone.now() + timedelta(seconds=31)) == 1

    r.refresh_from_db()
    assert (r.status, failures["left"]) == (Redemption.Status.ISSUED, 0)
    assert r.attempts >= 2
    assert Member.objects.get(pk=member.pk).balance == 200  # nothing taken, nothing refunded


def test_the_entry_reward_is_saved_with_the_tier_settings(shop, gift) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    draft = tier_draft_current(shop=shop)
    tiers = tuple(
        t.__class__(**{**t.__dict__, "entry_reward_id": gift.pk if t.name == "Gold" else None})
        for t in draft.tiers
    )
    tier_settings_save(shop=shop, draft=TierDraft(**{**draft.__dict__, "tiers": tiers}), actor="t")
    assert Tier.objects.get(shop=shop, name="Gold").entry_reward_id == gift.pk
    assert [t.entry_reward_id for t in tier_draft_current(shop=shop).tiers] == [None, gift.pk]

    variable = RewardFactory(
        shop=shop,
        kind=Reward.Kind.VARIABLE,
        points_cost=None,
        points_per_unit=100,
        value_per_unit=Decimal("1.00"),
    )
    bad = tuple(t.__class__(**{**t.__dict__, "entry_reward_id": variable.pk}) for t in tiers)
    with pytest.raises(InvalidTiers, match="fixed value"):
        tier_settings_save(
            shop=shop, draft=TierDraft(**{**draft.__dict__, "tiers": bad}), actor="t"
        )


# --- tier-exclusive rewards ------------------------------------------------------------------


@pytest.fixture
def vip_reward(shop, tiers) -> Reward:  # type: ignore[no-untyped-def]
    return RewardFactory(
        shop=shop,
        name="Gold: $20 off",
        kind=Reward.Kind.FIXED_AMOUNT,
        points_cost=100,
        value=Decimal("20.00"),
        min_tier=tiers["Gold"],
    )


def test_a_member_below_the_tier_is_refused_and_nothing_changes(
    shop, member, vip_reward, tiers
) -> None:  # type: ignore[no-untyped-def]
    tier_manual_set(shop=shop, member_id=member.pk, tier_id=tiers["Silver"].pk, actor="t", key="s")
    with pytest.raises(RewardTierLocked, match=r"This reward is for Gold members\.") as refused:
        reward_redeem(shop=shop, member_id=member.pk, reward_id=vip_reward.pk, client_key="k")
    assert refused.value.http_status == 403
    assert Member.objects.get(pk=member.pk).balance == 1000
    assert not Redemption.objects.filter(member=member).exists()


def test_a_member_of_the_tier_or_above_redeems_it(shop, member, vip_reward, tiers, redeem) -> None:  # type: ignore[no-untyped-def]
    tier_manual_set(shop=shop, member_id=member.pk, tier_id=tiers["Gold"].pk, actor="t", key="g")
    member.refresh_from_db()
    r = redeem(member, vip_reward)
    assert r.status == Redemption.Status.ISSUED
    assert Member.objects.get(pk=member.pk).balance == 900


def test_with_tiers_off_no_one_redeems_it_and_the_catalogue_hides_it(
    shop, member, vip_reward, tiers
) -> None:  # type: ignore[no-untyped-def]
    tier_manual_set(shop=shop, member_id=member.pk, tier_id=tiers["Gold"].pk, actor="t", key="g")
    draft = tier_draft_current(shop=shop)
    tier_settings_save(
        shop=shop, draft=TierDraft(**{**draft.__dict__, "enabled": False}), actor="t"
    )
    with pytest.raises(RewardTierLocked):
        reward_redeem(shop=shop, member_id=member.pk, reward_id=vip_reward.pk, client_key="k")
    ids = [r["id"] for r in program_document(shop=shop)["rewards"]]
    assert str(vip_reward.pk) not in ids


def test_the_catalogue_marks_the_reward_for_its_tier(
    shop, member, vip_reward, reward, tiers
) -> None:  # type: ignore[no-untyped-def]
    rewards = {r["id"]: r for r in program_document(shop=shop)["rewards"]}
    assert rewards[str(vip_reward.pk)]["tier"] == {
        "name": "Gold",
        "rank": 1,
        "label": "Gold members",
    }
    assert rewards[str(reward.pk)]["tier"] is None

    tier_manual_set(shop=shop, member_id=member.pk, tier_id=tiers["Silver"].pk, actor="t", key="s")
    member.refresh_from_db()
    rank = member_tier_rank(shop=shop, member=member)
    assert rank == 0
    offers = {
        o["id"]: o for o in reward_offers(shop=shop, balance=1000, channel="", tier_rank=rank)
    }
    assert (offers[str(vip_reward.pk)]["locked"], offers[str(vip_reward.pk)]["affordable"]) == (
        True,
        False,
    )
    assert (offers[str(reward.pk)]["locked"], offers[str(reward.pk)]["affordable"]) == (
        False,
        True,
    )
    gold = {o["id"]: o for o in reward_offers(shop=shop, balance=1000, channel="", tier_rank=1)}
    assert gold[str(vip_reward.pk)]["locked"] is False
