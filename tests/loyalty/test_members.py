"""Members: welcome points, guest orders, compliance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import (
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    MemberBirthday,
    Redemption,
    Reward,
)
from loyalty.services import (
    customer_data_export,
    customer_redact,
    customer_webhook_process,
    order_webhook_process,
    shop_data_erase,
)
from tests.loyalty.factories import MemberFactory, RewardFactory, fixture, line, order


def guest_paid(shop, order_id, email="guest@example.com", when=None):
    """A guest order placed and delivered at ``when`` (now by default)."""
    placed = when.isoformat() if when else None
    payload = order(order_id, [line("40.00")], customer_id=None, email=email, processed_at=placed)
    order_webhook_process(shop=shop, topic="orders/paid", payload=payload, triggered_at=when)


def created(shop, customer_id=900, email="Guest@Example.com"):
    payload = fixture("customers_create") | {"id": customer_id, "email": email}
    customer_webhook_process(shop=shop, topic="customers/create", payload=payload)
    return Member.objects.get(shop=shop, customer_id=customer_id)


def test_customers_create_gives_welcome_points_once(shop, program):
    program.welcome_points = 50
    program.save()
    payload = fixture("customers_create")
    customer_webhook_process(shop=shop, topic="customers/create", payload=payload)
    customer_webhook_process(shop=shop, topic="customers/create", payload=payload)
    m = Member.objects.get(shop=shop, customer_id=706405506930370000)
    assert (m.email, m.first_name, m.last_name) == ("bob@biller.com", "Bob", "Biller")
    assert m.balance == 50
    assert LedgerEntry.objects.filter(kind="welcome").count() == 1


def test_no_welcome_points_when_not_configured(shop, program):
    customer_webhook_process(
        shop=shop, topic="customers/create", payload=fixture("customers_create")
    )
    assert Member.objects.get().balance == 0
    assert not LedgerEntry.objects.exists()


def test_guest_order_is_held_then_credited_when_the_member_appears(shop, program):
    guest_paid(shop, 1)
    o = LoyaltyOrder.objects.get(order_id=1)
    assert (o.state, o.points_due, o.member_id) == (LoyaltyOrder.State.GUEST, 40, None)
    assert not LedgerEntry.objects.exists()

    m = created(shop)
    assert m.balance == 40
    o.refresh_from_db()
    assert (o.state, o.member_id, o.points_earned) == (LoyaltyOrder.State.CREDITED, m.pk, 40)
    created(shop)  # replay
    assert Member.objects.get(pk=m.pk).balance == 40


def test_guest_order_outside_the_window_is_not_credited(shop, program):
    guest_paid(shop, 1, when=timezone.now() - timedelta(days=31))
    guest_paid(shop, 2, when=timezone.now() - timedelta(days=29))
    m = created(shop)
    assert m.balance == 40
    assert LoyaltyOrder.objects.get(order_id=1).state == LoyaltyOrder.State.GUEST


def test_guest_window_counts_from_when_the_order_was_placed_not_delivered(shop, program):
    program.welcome_points = 100
    program.save()
    placed = (timezone.now() - timedelta(days=40)).isoformat()
    old = order(1, [line("55.00")], customer_id=None, email="guest@example.com")
    old.update(processed_at=placed, created_at=placed)
    order_webhook_process(shop=shop, topic="orders/paid", payload=old, triggered_at=None)
    guest_paid(shop, 2, email="guest@example.com")  # placed now, delivered now

    m = created(shop)

    assert m.balance == 140
    assert LoyaltyOrder.objects.get(order_id=1).state == LoyaltyOrder.State.GUEST
    assert LoyaltyOrder.objects.get(order_id=1).member_id is None
    assert LoyaltyOrder.objects.get(order_id=2).state == LoyaltyOrder.State.CREDITED


def test_guest_window_on_the_first_order_path_uses_the_placement_time(shop, program):
    placed = (timezone.now() - timedelta(days=40)).isoformat()
    old = order(1, [line("55.00")], customer_id=None, email="same@example.com")
    old.update(processed_at=placed, created_at=placed)
    order_webhook_process(shop=shop, topic="orders/paid", payload=old, triggered_at=None)
    payload = order(2, [line("10.00")], customer_id=77, email="same@example.com")
    order_webhook_process(shop=shop, topic="orders/paid", payload=payload, triggered_at=None)
    assert Member.objects.get(customer_id=77).balance == 10
    assert LoyaltyOrder.objects.get(order_id=1).state == LoyaltyOrder.State.GUEST


def test_guest_order_credited_when_first_order_creates_the_member(shop, program):
    guest_paid(shop, 1, email="same@example.com")
    payload = order(2, [line("10.00")], customer_id=77, email="same@example.com")
    order_webhook_process(shop=shop, topic="orders/paid", payload=payload, triggered_at=None)
    assert Member.objects.get(customer_id=77).balance == 50


def test_guest_link_window_is_configurable(shop, program):
    program.guest_link_window_days = 5
    program.save()
    guest_paid(shop, 1, when=timezone.now() - timedelta(days=6))
    assert created(shop).balance == 0


def test_customer_redact_keeps_amounts_and_erases_identity(shop, program):
    program.welcome_points = 10
    program.save()
    m = created(shop, customer_id=191167, email="john@example.com")
    MemberBirthday.objects.create(shop=shop, member=m, month=5, day=1, year=1990)
    customer_redact(shop=shop, customer_id=191167, email="john@example.com")
    m.refresh_from_db()
    assert (m.email, m.first_name, m.last_name, m.redacted) == ("", "", "", True)
    assert not MemberBirthday.objects.filter(member=m).exists()
    assert m.balance == 10
    assert LedgerEntry.objects.get().amount == 10
    # a later customers/update does not bring the data back
    customer_webhook_process(
        shop=shop, topic="customers/update", payload={"id": 191167, "email": "john@example.com"}
    )
    assert Member.objects.get(pk=m.pk).email == ""


def test_customer_data_export(shop, program):
    program.welcome_points = 10
    program.save()
    created(shop, customer_id=191167, email="john@example.com")
    data = customer_data_export(shop=shop, customer_id=191167, email="john@example.com")
    assert data["member"]["balance"] == 10
    assert data["member"]["email"] == "john@example.com"
    assert [e["amount"] for e in data["ledger"]] == [10]
    assert customer_data_export(shop=shop, customer_id=1, email=None)["member"] is None


def test_shop_data_erase_removes_only_that_shop(shop, program):
    program.welcome_points = 10
    program.save()
    m = created(shop)
    reward = RewardFactory(shop=shop)
    Redemption.objects.create(
        shop=shop,
        member=m,
        reward=reward,
        points_spent=1,
        value=1,
        currency="USD",
        code="BEAM-AAAA-AAAA",
        client_key="x",
        expires_at=timezone.now(),
    )
    other = MemberFactory()
    shop_data_erase(shop=shop)
    for model in (Member, LedgerEntry, LoyaltyOrder, Redemption, Reward, LoyaltyProgram):
        assert not model.objects.filter(shop=shop).exists()
    assert Member.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize("topic", ["customers/update", "customers/merge"])
def test_other_customer_topics_give_no_points(shop, program, topic):
    program.welcome_points = 10
    program.save()
    customer_webhook_process(shop=shop, topic=topic, payload=fixture("customers_create"))
    assert not LedgerEntry.objects.exists()
