"""Referral services: settings (refused with the field, audited), the friend's code (a
platform failure retried, a lost task swept, never two codes), the advocate's reward after
the pending period (points with the tier multiplier, a catalogue reward through the saga,
the cap per period, a refund or cancel inside the period), the merchant's unblock (once)
and cancel (the friend's code ended in the store)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.errors import RedemptionIssueRetry, ReferralNotAvailable, ReferralRefused
from loyalty.models import AuditEvent, LedgerEntry, Member, Redemption, Referral, ReferralCode
from loyalty.models import ReferralSettings as Settings
from loyalty.services import refund_webhook_process
from loyalty.services.referrals import (
    referral_code_ensure,
    referral_codes_pending_sweep,
    referral_discount_issue,
    referral_settings_save,
)
from loyalty.services.referrals_rewards import (
    referral_cancel,
    referral_reward,
    referral_unblock,
    referrals_reward_due,
)
from loyalty.services.store_issue import REDEMPTION_ISSUE_MAX_RETRIES
from merchants import inbox_record
from merchants.errors import ShopifyApiError
from merchants.inbox import deliveries_drain
from tests.loyalty.factories import RewardFactory, ShopFactory, line, order, refund
from tests.loyalty.referral_helpers import claim, friend_order, referrals_on, store_fake
from tests.loyalty.tier_helpers import tiers_setup

pytestmark = pytest.mark.django_db

LATER = timedelta(days=15)


@pytest.fixture
def fake(monkeypatch):
    return store_fake(monkeypatch)


@pytest.fixture
def advocate(shop) -> Member:
    return referrals_on(shop)


def _referred(shop, advocate, n: int, capture) -> Referral:
    """Friend ``n`` claimed (code issued) and paid with the code: ordered."""
    with capture(execute=True):
        referral = claim(shop, advocate, f"friend{n}@example.org")
    referral.refresh_from_db()
    with capture(execute=True):
        friend_order(shop, n, f"friend{n}@example.org", referral.code)
    referral.refresh_from_db()
    assert referral.status == "ordered", (referral.status, referral.reason)
    return referral


def _referral_points(member: Member) -> list[int]:
    return list(
        LedgerEntry.objects.filter(member=member, kind="referral")
        .order_by("pk")
        .values_list("amount", flat=True)
    )


def _at(monkeypatch, when) -> None:
    monkeypatch.setattr(timezone, "now", lambda: when)


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"offer_value": Decimal(0)}, "offer_value", "Give the friend's discount, more than 0."),
        (
            {"offer_kind": "percent", "offer_value": Decimal(120)},
            "offer_value",
            "A percentage is at most 100.",
        ),
        ({"reward_kind": "reward", "reward_id": 999}, "reward_id", "Choose a reward of your"),
        ({"cap_count": -1}, "cap_count", "Give a cap from 0 (none) to 10000."),
        ({"bogus": 1}, "bogus", "Unknown setting."),
    ],
)
def test_a_refused_setting_names_its_field_and_writes_nothing(shop, data, field, message):
    with pytest.raises(ReferralRefused) as refused:
        referral_settings_save(shop=shop, actor="owner@shop", data=data)
    assert refused.value.field == field and str(refused.value).startswith(message)
    assert not Settings.objects.filter(shop=shop).exists()
    assert not AuditEvent.objects.exists()


def test_settings_save_audits_what_changed_and_a_same_save_audits_nothing(shop):
    saved = referral_settings_save(
        shop=shop,
        actor="owner@shop",
        data={"enabled": True, "reward_points": 250, "cap_count": 3, "cap_period": "year"},
    )
    assert (saved.enabled, saved.reward_points, saved.cap_count) == (True, 250, 3)
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.target_id) == (
        "owner@shop",
        "referrals.settings",
        str(saved.pk),
    )
    assert event.changes == {
        "enabled": [False, True],
        "reward_points": [500, 250],
        "cap_count": [0, 3],
        "cap_period": ["month", "year"],
    }
    referral_settings_save(shop=shop, actor="owner@shop", data={"reward_points": 250})
    assert AuditEvent.objects.count() == 1


def test_a_catalogue_reward_must_be_the_shops_own(shop):
    theirs = RewardFactory(shop=ShopFactory())
    with pytest.raises(ReferralRefused) as refused:
        referral_settings_save(
            shop=shop, actor="o", data={"reward_kind": "reward", "reward_id": theirs.pk}
        )
    assert refused.value.field == "reward_id"


# --- the member's code ----------------------------------------------------------------------


def test_the_referral_code_is_made_once_and_read_after(shop, advocate, django_assert_num_queries):
    first = referral_code_ensure(shop=shop, member_id=advocate.pk)
    with django_assert_num_queries(1):
        assert referral_code_ensure(shop=shop, member_id=advocate.pk) == first
    assert list(ReferralCode.objects.values_list("member_id", "code")) == [(advocate.pk, first)]


def test_a_drawn_code_taken_by_another_member_draws_again(shop, advocate, monkeypatch):
    other = Member.objects.create(shop=shop, customer_id=42, email="o@example.com")
    ReferralCode.objects.create(shop=shop, member=other, code="AAAAAAA")
    draws = iter(["AAAAAAA", "BBBBBBB"])
    monkeypatch.setattr(
        "loyalty.services.referrals.rules.referral_code_new", lambda choose: next(draws)
    )
    assert referral_code_ensure(shop=shop, member_id=advocate.pk) == "BBBBBBB"
    assert ReferralCode.objects.count() == 2


# --- the friend's code in the store ---------------------------------------------------------


def test_a_platform_failure_is_retried_and_the_code_made_once(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    fake.failures = [ShopifyApiError("timeout")]
    with django_capture_on_commit_callbacks(execute=True):
        referral = claim(shop, advocate, "bo@example.org")
    referral.refresh_from_db()
    assert (referral.code_status, referral.attempts) == ("issued", 2)
    assert [c["code"] for c in fake.creates] == [referral.code, referral.code]
    assert list(fake.codes) == [referral.code]
    assert referral.discount_id == fake.codes[referral.code]["id"]


def test_a_create_whose_answer_was_lost_is_adopted_not_made_again(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    fake.failures = [("after", ShopifyApiError("read timeout"))]
    with django_capture_on_commit_callbacks(execute=True):
        referral = claim(shop, advocate, "bo@example.org")
    referral.refresh_from_db()
    assert (referral.code_status, referral.attempts) == ("issued", 2)
    assert len(fake.creates) == 1  # the retry looked the code up first
    assert referral.discount_id == fake.codes[referral.code]["id"]


def test_a_lost_issue_task_is_taken_up_by_the_sweep(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the task message is lost
        referral = claim(shop, advocate, "bo@example.org")
    assert (referral.code_status, referral.attempts) == ("pending", 0)
    now = timezone.now()
    assert referral_codes_pending_sweep(now=now + timedelta(seconds=20)) == 0  # within grace
    assert referral_codes_pending_sweep(now=now + timedelta(seconds=31)) == 1
    referral.refresh_from_db()
    assert referral.code_status == "issued" and len(fake.creates) == 1
    assert referral_codes_pending_sweep(now=now + timedelta(hours=1)) == 0


def test_the_sweep_runs_the_final_attempt_when_the_budget_is_spent(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        referral = claim(shop, advocate, "bo@example.org")
    fake.always_fail = ShopifyApiError("down")
    Referral.objects.filter(pk=referral.pk).update(attempts=REDEMPTION_ISSUE_MAX_RETRIES)
    assert referral_codes_pending_sweep(now=timezone.now() + timedelta(minutes=10)) == 1
    referral.refresh_from_db()
    assert referral.code_status == "failed" and referral.error.startswith("store unavailable")
    # the friend's next claim makes a new code (the failed one may half-exist in the store)
    fake.always_fail = None
    with django_capture_on_commit_callbacks(execute=True):
        again = claim(shop, advocate, "bo@example.org")
    again.refresh_from_db()
    assert again.pk == referral.pk and again.code_status == "issued"
    assert again.code != referral.code and list(fake.codes) == [again.code]


# --- the advocate's reward ------------------------------------------------------------------


def test_the_reward_waits_for_the_pending_period_and_is_given_once(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    assert referrals_reward_due() == 0
    assert referrals_reward_due(now=timezone.now() + LATER) == 1
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    referral.refresh_from_db()
    assert (referral.status, referral.reward_points) == ("completed", 500)
    assert _referral_points(advocate) == [500]
    assert Member.objects.get(pk=advocate.pk).balance == 500


def test_the_tier_multiplier_applies_to_a_points_reward(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    tiers_setup(shop)
    Member.objects.filter(pk=advocate.pk).update(tier_multiplier=Decimal("1.5"))
    _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    assert referrals_reward_due(now=timezone.now() + LATER) == 1
    assert _referral_points(advocate) == [750]
    assert Referral.objects.get().reward_points == 750


def test_a_catalogue_reward_is_issued_through_the_saga(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    reward = RewardFactory(shop=shop, name="$5 off", points_cost=400, value=Decimal("5.00"))
    Settings.objects.filter(shop=shop).update(reward_kind="reward", reward=reward)
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert referrals_reward_due(now=timezone.now() + LATER) == 1
    referral.refresh_from_db()
    redemption = Redemption.objects.get(member=advocate)
    assert referral.status == "completed" and referral.redemption_id == redemption.pk
    assert (redemption.status, redemption.channel, redemption.points_spent) == (
        "issued",
        "referral",
        0,
    )
    assert redemption.value == Decimal("5.00")
    assert [c["code"] for c in fake.creates if c["code"] == redemption.code] == [redemption.code]
    assert Member.objects.get(pk=advocate.pk).balance == 0  # nothing spent, nothing earned
    assert _referral_points(advocate) == []


def test_the_cap_blocks_the_next_referral_in_the_period_and_the_next_period_rewards(
    shop, advocate, fake, django_capture_on_commit_callbacks, monkeypatch
):
    Settings.objects.filter(shop=shop).update(cap_count=2, cap_period="month")
    start = timezone.now().replace(day=1, hour=12) + timedelta(days=31)  # a month's 1st
    start = start.replace(day=1)
    _at(monkeypatch, start)
    referred = [_referred(shop, advocate, n, django_capture_on_commit_callbacks) for n in (1, 2, 3)]
    assert referrals_reward_due(now=start + LATER) == 2
    statuses = [Referral.objects.get(pk=r.pk) for r in referred]
    assert [(r.status, r.reason) for r in statuses] == [
        ("completed", ""),
        ("completed", ""),
        ("blocked", "cap_reached"),
    ]
    assert statuses[2].reason_detail == "2 per month"
    assert _referral_points(advocate) == [500, 500]

    _at(monkeypatch, start + timedelta(days=20))  # still that month
    fourth = _referred(shop, advocate, 4, django_capture_on_commit_callbacks)
    _at(monkeypatch, start + timedelta(days=40))  # the next month
    assert referrals_reward_due(now=start + timedelta(days=40)) == 1
    assert Referral.objects.get(pk=fourth.pk).status == "completed"
    assert _referral_points(advocate) == [500, 500, 500]


def test_a_refund_inside_the_pending_period_cancels_the_reward(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    refund_webhook_process(shop=shop, payload=refund(70_001, referral.order_id, [(11, "50.00")]))
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    referral.refresh_from_db()
    assert (referral.status, referral.reason) == ("cancelled", "order_refunded")
    assert _referral_points(advocate) == []


def test_a_cancel_inside_the_pending_period_cancels_the_reward(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    friend_order(shop, 1, "friend1@example.org", referral.code, topic="orders/cancelled")
    referral.refresh_from_db()
    assert (referral.status, referral.reason) == ("cancelled", "order_cancelled")
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    assert _referral_points(advocate) == []


def _late_refund(referral: Referral, *, at, payload_time) -> None:
    """A refund of the friend's order recorded at ``at`` whose payload says it happened at
    ``payload_time`` (None: the payload carries no time)."""
    payload = refund(70_001, referral.order_id, [(11, "50.00")])
    stamp = payload_time.isoformat() if payload_time is not None else None
    payload.update(processed_at=stamp, created_at=stamp)
    with pytest.MonkeyPatch.context() as patch:
        _at(patch, at)
        refund_webhook_process(shop=referral.shop, payload=payload)


@pytest.mark.parametrize(
    ("recorded", "happened", "outcome"),
    [
        # recorded after the due time, before the due job ran: the payload's time decides
        (timedelta(hours=1), timedelta(seconds=-1), "cancelled"),
        (timedelta(hours=1), timedelta(seconds=1), "completed"),
        (timedelta(hours=1), timedelta(0), "completed"),
        # no time in the payload: when it was recorded decides
        (timedelta(seconds=-1), None, "cancelled"),
        (timedelta(seconds=1), None, "completed"),
    ],
)
def test_only_a_refund_before_the_due_time_cancels_the_reward(
    shop, advocate, fake, django_capture_on_commit_callbacks, recorded, happened, outcome
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    due = referral.reward_due_at
    _late_refund(
        referral, at=due + recorded, payload_time=None if happened is None else due + happened
    )
    assert referrals_reward_due(now=due + timedelta(hours=2)) == int(outcome == "completed")
    referral.refresh_from_db()
    assert referral.status == outcome
    assert _referral_points(advocate) == ([500] if outcome == "completed" else [])


@pytest.mark.parametrize(
    ("cancelled", "outcome"),
    [(timedelta(seconds=-1), "cancelled"), (timedelta(seconds=1), "completed")],
)
def test_only_a_cancel_before_the_due_time_cancels_the_reward(
    shop, advocate, fake, monkeypatch, django_capture_on_commit_callbacks, cancelled, outcome
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    due = referral.reward_due_at
    with monkeypatch.context() as patch:
        _at(patch, due + cancelled)
        friend_order(shop, 1, "friend1@example.org", referral.code, topic="orders/cancelled")
    referral.refresh_from_db()
    assert referral.status == ("cancelled" if outcome == "cancelled" else "ordered")
    assert referrals_reward_due(now=due + timedelta(hours=2)) == int(outcome == "completed")
    referral.refresh_from_db()
    assert referral.status == outcome
    assert _referral_points(advocate) == ([500] if outcome == "completed" else [])


def test_a_refund_after_the_reward_does_not_take_it_back(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    assert referrals_reward_due(now=timezone.now() + LATER) == 1
    refund_webhook_process(shop=shop, payload=refund(70_001, referral.order_id, [(11, "50.00")]))
    referral.refresh_from_db()
    assert referral.status == "completed"
    assert _referral_points(advocate) == [500]
    assert Member.objects.get(pk=advocate.pk).balance == 500


def test_an_earlier_order_in_the_store_blocks_the_reward(
    shop, advocate, monkeypatch, django_capture_on_commit_callbacks
):
    store_fake(monkeypatch, earlier_orders=2)
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    referral.refresh_from_db()
    assert (referral.status, referral.reason, referral.reason_detail) == (
        "blocked",
        "not_first_order",
        "2 in the store",
    )


# --- the merchant ---------------------------------------------------------------------------


def _blocked(shop, advocate, fake, capture) -> Referral:
    Settings.objects.filter(shop=shop).update(cap_count=1)
    first = _referred(shop, advocate, 1, capture)
    second = _referred(shop, advocate, 2, capture)
    assert referrals_reward_due(now=timezone.now() + LATER) == 1
    assert Referral.objects.get(pk=first.pk).status == "completed"
    second.refresh_from_db()
    assert (second.status, second.reason) == ("blocked", "cap_reached")
    return second


def test_unblock_before_the_period_ends_leaves_the_reward_to_the_due_job(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    Settings.objects.filter(shop=shop).update(cap_count=1)
    _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    second = _referred(shop, advocate, 2, django_capture_on_commit_callbacks)
    Referral.objects.filter(pk=second.pk).update(status="blocked", reason="placed_by_advocate")
    unblocked = referral_unblock(shop=shop, referral_id=second.pk, actor="owner@shop")
    assert (unblocked.status, unblocked.reason) == ("ordered", "unblocked")
    assert _referral_points(advocate) == []
    # both due: the first takes the cap, the unblocked one is rewarded all the same
    assert referrals_reward_due(now=timezone.now() + LATER) == 2
    assert Referral.objects.get(pk=second.pk).status == "completed"
    assert _referral_points(advocate) == [500, 500]


def test_unblock_gives_the_reward_exactly_once(
    shop, advocate, fake, django_capture_on_commit_callbacks, monkeypatch
):
    blocked = _blocked(shop, advocate, fake, django_capture_on_commit_callbacks)
    _at(monkeypatch, timezone.now() + LATER)
    unblocked = referral_unblock(shop=shop, referral_id=blocked.pk, actor="owner@shop")
    assert (unblocked.status, unblocked.reason) == ("completed", "")
    with pytest.raises(ReferralRefused, match="Only a blocked referral"):
        referral_unblock(shop=shop, referral_id=blocked.pk, actor="owner@shop")
    assert referrals_reward_due(now=timezone.now() + timedelta(days=60)) == 0
    assert _referral_points(advocate) == [500, 500]
    entry = LedgerEntry.objects.filter(kind="referral").last()
    assert (entry.actor, entry.idempotency_key) == ("owner@shop", f"referral:{blocked.pk}:reward")
    assert AuditEvent.objects.filter(action="referral.unblock").count() == 1


def test_cancel_of_a_blocked_referral_gives_nothing_and_is_final(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    blocked = _blocked(shop, advocate, fake, django_capture_on_commit_callbacks)
    cancelled = referral_cancel(shop=shop, referral_id=blocked.pk, actor="owner@shop")
    assert (cancelled.status, cancelled.reason) == ("cancelled", "merchant")
    assert fake.deactivated == []  # the code was used by the order: nothing to end
    with pytest.raises(ReferralRefused):
        referral_unblock(shop=shop, referral_id=blocked.pk, actor="owner@shop")
    with pytest.raises(ReferralRefused, match="A cancelled referral cannot be cancelled"):
        referral_cancel(shop=shop, referral_id=blocked.pk, actor="owner@shop")
    assert referrals_reward_due(now=timezone.now() + timedelta(days=60)) == 0
    assert _referral_points(advocate) == [500]
    assert AuditEvent.objects.filter(action="referral.cancel").count() == 1


def test_cancel_ends_the_friends_unused_code_in_the_store(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        referral = claim(shop, advocate, "bo@example.org")
    referral.refresh_from_db()
    cancelled = referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")
    assert fake.deactivated == [referral.discount_id]
    assert (cancelled.status, cancelled.reason) == ("cancelled", "merchant")


def test_a_store_failure_refuses_the_cancel_and_changes_nothing(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        referral = claim(shop, advocate, "bo@example.org")
    fake.deactivate_error = ShopifyApiError("down")
    with pytest.raises(ReferralRefused, match="The store could not end the friend's code"):
        referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")
    referral.refresh_from_db()
    assert (referral.status, referral.code_status) == ("pending", "issued")
    assert not AuditEvent.objects.exists()


def test_cancel_while_the_code_is_being_made_stops_its_issue(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        referral = claim(shop, advocate, "bo@example.org")
    referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")
    assert referral_codes_pending_sweep(now=timezone.now() + timedelta(minutes=5)) == 0
    referral.refresh_from_db()
    assert (referral.status, referral.code_status) == ("cancelled", "failed")
    assert fake.creates == [] and fake.deactivated == []


def test_a_cancel_after_an_attempt_whose_answer_was_lost_ends_the_code_it_made(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        referral = claim(shop, advocate, "bo@example.org")
    fake.failures = [("after", ShopifyApiError("read timeout"))]  # made, answer lost
    with pytest.raises(RedemptionIssueRetry):
        referral_discount_issue(referral_id=referral.pk, final_attempt=False)
    referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")
    referral.refresh_from_db()
    assert (referral.status, referral.code_status) == ("cancelled", "pending")
    # the retry (here the sweep's) finds the code the lost answer made and ends it
    assert referral_codes_pending_sweep(now=timezone.now() + timedelta(minutes=5)) == 1
    referral.refresh_from_db()
    made = fake.codes[referral.code]["id"]
    assert (referral.code_status, referral.discount_id) == ("issued", made)
    assert fake.deactivated == [made] and len(fake.creates) == 1
    assert referral_codes_pending_sweep(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_cancel_during_an_attempt_that_makes_nothing_fails_the_code_without_a_call(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        referral = claim(shop, advocate, "bo@example.org")
    fake.failures = [ShopifyApiError("down")]  # nothing made
    with pytest.raises(RedemptionIssueRetry):
        referral_discount_issue(referral_id=referral.pk, final_attempt=False)
    referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")
    done = referral_discount_issue(referral_id=referral.pk, final_attempt=False)
    assert (done.status, done.code_status, done.discount_id) == ("cancelled", "failed", "")
    assert done.error == "cancelled by the merchant"
    assert len(fake.creates) == 1 and fake.deactivated == []


def test_the_merchant_acts_on_their_own_shops_referrals_only(
    shop, advocate, fake, django_capture_on_commit_callbacks
):
    referral = _referred(shop, advocate, 1, django_capture_on_commit_callbacks)
    other = ShopFactory()
    for act in (referral_cancel, referral_unblock):
        with pytest.raises(ReferralNotAvailable):
            act(shop=other, referral_id=referral.pk, actor="them")
    with pytest.raises(ReferralNotAvailable):
        referral_reward(shop=other, referral_id=referral.pk)
    referral.refresh_from_db()
    assert referral.status == "ordered"


def _friend_orders_batch(shop, advocate, first: int, count: int, capture) -> list[Referral]:
    """``count`` friends claim; their orders paid with their codes arrive as one batch."""
    referrals = []
    for n in range(first, first + count):
        with capture(execute=True):
            referrals.append(claim(shop, advocate, f"friend{n}@example.org"))
    for n, referral in enumerate(referrals, start=first):
        referral.refresh_from_db()
        payload = order(
            900_000 + n,
            [line("50.00", line_id=n * 10 + 1)],
            customer_id=880_000 + n,
            email=f"friend{n}@example.org",
            discount_codes=[referral.code],
        )
        inbox_record.delivery_record(
            shop=shop, webhook_id=f"batch-{n}", topic="orders/paid", payload=payload
        )
    return referrals


def test_a_batch_attributes_its_referrals_in_a_fixed_number_of_queries(
    shop, advocate, fake, django_capture_on_commit_callbacks
) -> None:
    """The order checks (and the redemption codes' attribution) read what they need for the
    whole batch at once: a batch of six friends' orders costs the queries of a batch of two."""
    shop.access_token = "shpat_batch"  # installed: the inbox processes its deliveries
    shop.save()
    counts = []
    for first, count in ((0, 2), (10, 6)):
        referrals = _friend_orders_batch(
            shop, advocate, first, count, django_capture_on_commit_callbacks
        )
        with CaptureQueriesContext(connection) as queries:
            assert deliveries_drain(shop=shop).processed == count
        counts.append(len(queries))
        for n, referral in enumerate(referrals, start=first):
            referral.refresh_from_db()
            assert (referral.status, referral.order_id) == ("ordered", 900_000 + n)
            assert referral.reward_due_at is not None and referral.order_total == Decimal("404.95")
    assert counts[0] == counts[1]
