"""Every referral fraud check end to end through the devstore: the friend's claim is a
signed app-proxy POST (its IP in ``X-Forwarded-For``), the orders go through the signed
webhook path, the store's own order count comes from the devstore's Admin API. Each check
blocks with its exact reason and gives the advocate nothing; the merchant's unblock then
gives the reward exactly once (a second unblock is refused) and the ledger shows it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db.models import F
from django.utils import timezone

from devstore import services as store
from devstore.models import DevCustomer, DevDiscountCode, DevShop
from loyalty.errors import ReferralRefused
from loyalty.models import AuditEvent, LoyaltyOrder, Referral
from loyalty.rules.referrals import ip_hash
from loyalty.services.referrals_rewards import (
    referral_cancel,
    referral_unblock,
    referrals_reward_due,
)
from tests.storefront_widget.conftest import SECRET
from tests.storefront_widget.referral_world import (
    ADVOCATE,
    FRIEND_IP,
    HOME,
    World,
    world_factory,
)

pytestmark = pytest.mark.django_db

LATER = timedelta(days=15)  # past the program's 14 pending days


@pytest.fixture
def make_world(client: Any, django_capture_on_commit_callbacks: Any, settings: Any) -> Any:
    return world_factory(client, django_capture_on_commit_callbacks, settings)


@pytest.fixture
def world(make_world: Any) -> World:
    return make_world()


def _at(moment: datetime) -> Any:
    patch = pytest.MonkeyPatch()
    patch.setattr(timezone, "now", lambda: moment)
    return patch


def _blocked_nothing_given(world: World, referral: Referral, reason: str, detail: str) -> None:
    referral.refresh_from_db()
    assert (referral.status, referral.reason, referral.reason_detail) == (
        "blocked",
        reason,
        detail,
    )
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    referral.refresh_from_db()
    assert (referral.status, referral.reason) == ("blocked", reason)
    assert referral.rewarded_at is None and referral.reward_points == 0
    assert world.rewards() == []


def _unblock_twice(world: World, referral: Referral, when: datetime | None = None) -> Referral:
    """The merchant unblocks (at ``when``), then clicks again: the second is refused."""
    patch = _at(when or timezone.now())
    try:
        with world.capture(execute=True):
            referral_unblock(shop=world.shop, referral_id=referral.pk, actor="owner@fraud")
        with pytest.raises(ReferralRefused, match=r"^Only a blocked referral can be unblocked\.$"):
            referral_unblock(shop=world.shop, referral_id=referral.pk, actor="owner@fraud")
    finally:
        patch.undo()
    audits = AuditEvent.objects.filter(action="referral.unblock", target_id=referral.pk)
    assert audits.count() == 1
    referral.refresh_from_db()
    return referral


def _order_block_then_unblock_rewards_once(
    world: World, referral: Referral, order: Any, reason: str, detail: str
) -> None:
    """An order-time block: nothing given; the unblock after the pending period rewards
    at once, exactly once."""
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    _blocked_nothing_given(world, referral, reason, detail)
    before = world.balance()
    assert referral.reward_due_at is not None
    referral = _unblock_twice(world, referral, referral.reward_due_at + timedelta(seconds=1))
    assert (referral.status, referral.reason, referral.reward_points) == ("completed", "", 500)
    assert referrals_reward_due(now=timezone.now() + LATER * 2) == 0
    assert world.rewards() == [(order.payload["name"], 500)]
    assert world.balance() == before + 500


def _claim_block_then_unblock_rewards_once(
    world: World, referral: Referral, friend: DevCustomer, reason: str, detail: str
) -> None:
    """A claim-time block: no code, nothing given; the unblock makes the friend's code,
    the friend's order with it is not blocked again by the check the merchant lifted, and
    the reward comes once after the pending period."""
    assert (referral.code, referral.code_status) == (None, "")
    _blocked_nothing_given(world, referral, reason, detail)
    referral = _unblock_twice(world, referral)
    assert (referral.status, referral.reason, referral.code_status) == ("pending", "", "issued")
    assert DevDiscountCode.objects.filter(shop=world.dev_shop, code=referral.code).exists()
    assert world.rewards() == []

    order = world.buy(friend, referral.code)
    referral.refresh_from_db()
    assert (referral.status, referral.reason, referral.order_id) == ("ordered", "", order.id)
    before = world.balance()
    assert referrals_reward_due(now=timezone.now() + LATER) == 1
    assert referrals_reward_due(now=timezone.now() + LATER) == 0
    referral.refresh_from_db()
    assert (referral.status, referral.reward_points) == ("completed", 500)
    assert world.rewards() == [(order.payload["name"], 500)]
    assert world.balance() == before + 500


# --- the friend's email like the advocate's ----------------------------------------------------


@pytest.mark.parametrize(
    "friend_email",
    [
        "Ada.Love.Lace+friend@googlemail.com",  # the same gmail mailbox: dots and a +tag
        "ada.lovelase@gmail.com",  # one letter off
    ],
)
def test_similar_email_blocks_the_claim_and_an_unblock_rewards_once(world, friend_email):
    referral = world.claim(friend_email)
    lowered = friend_email.lower()
    _claim_block_then_unblock_rewards_once(
        world,
        referral,
        world.customer(lowered, "Augusta", "King"),
        "similar_email",
        f"{lowered} / {ADVOCATE}",
    )


# --- the order placed by the advocate ----------------------------------------------------------


def test_order_by_the_advocate_same_customer_is_blocked_and_an_unblock_rewards_once(world):
    referral = world.claim("charles@example.org")
    order = world.buy(world.ada, referral.code)
    _order_block_then_unblock_rewards_once(
        world, referral, order, "placed_by_advocate", "same customer"
    )


def test_order_by_the_advocate_same_email_other_account_is_blocked_and_unblocked(world):
    referral = world.claim("charles@example.org")
    second = world.customer("charles@example.org", "Charles", "Babbage")
    order = world.buy(second, referral.code, email=ADVOCATE)  # the advocate's contact email
    _order_block_then_unblock_rewards_once(
        world, referral, order, "placed_by_advocate", "same email"
    )


def test_order_by_the_advocate_same_name_other_email_is_blocked_and_unblocked(world):
    referral = world.claim("countess@example.org")
    twin = world.customer("countess@example.org", "ADA", " lovelace ")
    order = world.buy(twin, referral.code)
    _order_block_then_unblock_rewards_once(
        world, referral, order, "placed_by_advocate", "same name"
    )


def test_order_to_the_advocates_address_other_name_is_blocked_and_unblocked(world):
    world.buy(world.ada, None, ship_to=HOME)  # Beam learns the advocate's address
    referral = world.claim("grace@example.org")
    grace = world.customer("grace@example.org", "Grace", "Hopper")
    moved = {**HOME, "address1": "12  st james's SQUARE", "zip": "sw1y4jh"}
    order = world.buy(grace, referral.code, ship_to=moved)
    _order_block_then_unblock_rewards_once(
        world, referral, order, "placed_by_advocate", "same shipping address"
    )


def test_a_friend_at_another_address_with_another_name_passes(world):
    world.buy(world.ada, None, ship_to=HOME)
    referral = world.claim("grace@example.org")
    grace = world.customer("grace@example.org", "Grace", "Hopper")
    world.buy(grace, referral.code, ship_to={**HOME, "address1": "1 Infinite Loop"})
    referral.refresh_from_db()
    assert (referral.status, referral.reason) == ("ordered", "")


# --- the friend already a customer -------------------------------------------------------------


def test_a_friend_with_an_order_in_beam_is_blocked_at_the_claim_and_unblocked(world):
    grace = world.customer("grace@example.org", "Grace", "Hopper")
    world.buy(grace, None)
    referral = world.claim("grace@example.org")
    _claim_block_then_unblock_rewards_once(
        world, referral, grace, "not_first_order", "orders with this email are known"
    )


def test_a_friend_with_an_order_from_before_install_is_blocked_by_the_store_count(make_world):
    def old_customer(dev_shop: DevShop) -> None:
        grace = store.customer_create(dev_shop, "grace@example.org", "Grace", "Hopper")
        product = store.product_create(dev_shop, "Old lamp", Decimal("20.00"))
        store.order_place(dev_shop, customer=grace, lines=[(product.variants.get(), 1)])

    world = make_world(old_customer)
    assert not LoyaltyOrder.objects.filter(shop=world.shop).exists()  # sent before install
    referral = world.claim("grace@example.org")
    assert (referral.status, referral.code_status) == ("pending", "issued")  # Beam knew nothing
    grace = DevCustomer.objects.get(shop=world.dev_shop, email="grace@example.org")
    order = world.buy(grace, referral.code)
    referral.refresh_from_db()
    assert referral.status == "ordered"  # Beam's own records see a first order

    # at the end of the pending period the store's count (2 orders) blocks it
    _order_block_then_unblock_rewards_once(
        world, referral, order, "not_first_order", "1 in the store"
    )


# --- a disposable email domain -----------------------------------------------------------------


def test_a_disposable_domain_blocks_the_claim_and_an_unblock_rewards_once(world):
    referral = world.claim("someone@eu.mailinator.com")
    _claim_block_then_unblock_rewards_once(
        world,
        referral,
        world.customer("someone@eu.mailinator.com", "Some", "One"),
        "disposable_email",
        "eu.mailinator.com",
    )


# --- ten referrals from one IP address in a week ----------------------------------------------


def test_the_tenth_claim_from_one_ip_in_a_week_is_blocked_and_an_unblock_rewards_once(world):
    for n in range(1, 10):
        assert world.claim(f"friend{n}@example.org").status == "pending", n
    tenth = world.claim("friend10@example.org")
    assert world.claim("other@example.org", ip="198.51.100.4").status == "pending"
    hashes = dict(Referral.objects.values_list("friend_email", "ip_hash"))
    assert hashes["friend10@example.org"] == ip_hash(FRIEND_IP, SECRET)
    assert hashes["other@example.org"] == ip_hash("198.51.100.4", SECRET)

    _claim_block_then_unblock_rewards_once(
        world,
        tenth,
        world.customer("friend10@example.org", "Ten", "Th"),
        "ip_volume",
        "10 referrals this week",
    )

    # a week later the same IP counts afresh
    Referral.objects.update(created_at=F("created_at") - timedelta(days=7, minutes=1))
    assert world.claim("friend11@example.org").status == "pending"


def test_the_raw_ip_is_stored_nowhere(world):
    referral = world.claim("friend@example.org")
    friend = world.customer("friend@example.org", "Fr", "End")
    world.buy(friend, referral.code)
    referral.refresh_from_db()
    assert referral.status == "ordered" and referral.ip_hash == ip_hash(FRIEND_IP, SECRET)
    for model in apps.get_models():
        for row in model.objects.all().values():
            assert FRIEND_IP not in json.dumps(row, default=str), model.__name__


# --- the merchant cancels a blocked referral ---------------------------------------------------


def test_cancel_of_a_blocked_referral_gives_nothing_and_a_later_unblock_is_refused(world):
    referral = world.claim("charles@example.org")
    world.buy(world.ada, referral.code)
    _blocked_nothing_given(world, referral, "placed_by_advocate", "same customer")

    referral_cancel(shop=world.shop, referral_id=referral.pk, actor="owner@fraud")
    with pytest.raises(ReferralRefused, match=r"^Only a blocked referral can be unblocked\.$"):
        referral_unblock(shop=world.shop, referral_id=referral.pk, actor="owner@fraud")

    referral.refresh_from_db()
    assert (referral.status, referral.reason, referral.rewarded_at) == (
        "cancelled",
        "merchant",
        None,
    )
    assert referrals_reward_due(now=timezone.now() + LATER * 2) == 0
    assert world.rewards() == []
    assert not AuditEvent.objects.filter(action="referral.unblock").exists()
    assert AuditEvent.objects.filter(action="referral.cancel", target_id=referral.pk).count() == 1
