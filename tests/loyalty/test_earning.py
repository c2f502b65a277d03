"""Earning on orders: base, ratio, rounding, exclusions, minimum, bonus events, triggers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member, ProductTags
from loyalty.services import order_webhook_process
from tests.loyalty.factories import BonusEventFactory, fixture, line, order

FIXTURE_CUSTOMER = 115310627314723950


def paid(shop, payload, topic="orders/paid", when=None):
    order_webhook_process(shop=shop, topic=topic, payload=payload, triggered_at=when)


def balance(shop, customer_id=501) -> int:
    return Member.objects.get(shop=shop, customer_id=customer_id).balance


# --- the real fixture, computed by hand ---------------------------------------------------
# Lines: 89.99 + 19.99 + 24.99 + 159.99 + 119.99 = 414.95, no line discounts, no gift cards;
# shipping line 10.00 with no allocations; no taxes.


@pytest.mark.parametrize(
    ("ratio", "rounding", "expected"),
    [
        ("1", "down", 414),  # 414.95
        ("5", "down", 2074),  # 2074.75
        ("0.1", "down", 41),  # 41.495
        ("0.1", "nearest", 41),  # 41.495 half-up -> 41
        ("0.1", "up", 42),
        ("1", "up", 415),
        ("1", "nearest", 415),  # 414.95
    ],
)
def test_fixture_order_paid_points(shop, program, ratio, rounding, expected):
    program.points_per_currency_unit = Decimal(ratio)
    program.rounding = rounding
    program.save()

    paid(shop, fixture("orders_paid"))

    member = Member.objects.get(shop=shop, customer_id=FIXTURE_CUSTOMER)
    assert member.email == "john@example.com"
    assert member.first_name == "John"
    assert member.balance == expected
    assert member.lifetime_earned == expected
    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=820982911946154500)
    assert snapshot.base == Decimal("414.95")
    assert snapshot.points_earned == expected
    assert snapshot.state == LoyaltyOrder.State.CREDITED
    assert snapshot.currency == "USD"
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.amount, entry.kind, entry.source_id) == (
        expected,
        "order_earn",
        "820982911946154500",
    )


def test_fixture_with_shipping(shop, program):
    program.include_shipping = True
    program.save()
    paid(shop, fixture("orders_paid"))
    assert balance(shop, FIXTURE_CUSTOMER) == 424  # 414.95 + 10.00


def test_fixture_excluding_a_product(shop, program):
    program.excluded_product_ids = [788032119674292900]
    program.save()
    paid(shop, fixture("orders_paid"))
    assert balance(shop, FIXTURE_CUSTOMER) == 44  # 19.99 + 24.99 = 44.98


def test_fixture_orders_create_gives_nothing_until_paid(shop, program):
    paid(shop, fixture("orders_create"), topic="orders/create")
    snapshot = LoyaltyOrder.objects.get(shop=shop)
    assert snapshot.state == LoyaltyOrder.State.OPEN
    assert balance(shop, FIXTURE_CUSTOMER) == 0
    assert not LedgerEntry.objects.exists()


def test_duplicate_paid_credits_once(shop, program):
    payload = fixture("orders_paid")
    paid(shop, payload)
    paid(shop, payload)
    paid(shop, payload, topic="orders/updated")
    assert balance(shop, FIXTURE_CUSTOMER) == 414
    assert LedgerEntry.objects.count() == 1


# --- the base -----------------------------------------------------------------------------


def test_base_is_price_times_quantity_minus_line_discounts(shop, program):
    paid(shop, order(1, [line("10.00", 3, discount="5.00"), line("2.50", 2, line_id=2)]))
    assert balance(shop) == 30  # 30 - 5 + 5


def test_gift_cards_earn_nothing(shop, program):
    paid(shop, order(1, [line("50.00", gift_card=True), line("20.00", line_id=2)]))
    assert balance(shop) == 20


def test_tax_excluded_by_default_and_included_on_request(shop, program):
    paid(shop, order(1, [line("100.00", tax="10.00")]))
    assert balance(shop) == 100
    program.include_tax = True
    program.save()
    paid(shop, order(2, [line("100.00", tax="10.00")]))
    assert balance(shop) == 100 + 110


def test_tax_inclusive_prices_lose_their_tax(shop, program):
    paid(shop, order(1, [line("110.00", tax="10.00")], taxes_included=True))
    assert balance(shop) == 100


def test_shipping_after_its_discounts(shop, program):
    program.include_shipping = True
    program.save()
    paid(shop, order(1, [line("20.00")], shipping="7.00", shipping_discount="2.00"))
    assert balance(shop) == 25
    paid(shop, order(2, [line("20.00")], shipping="7.00", shipping_discount="7.00"))
    assert balance(shop) == 25 + 20


def test_shipping_excluded_by_default(shop, program):
    paid(shop, order(1, [line("20.00")], shipping="7.00"))
    assert balance(shop) == 20


@pytest.mark.parametrize(
    ("price", "rounding", "expected"),
    [
        ("10.99", "down", 10),
        ("10.50", "nearest", 11),
        ("10.49", "nearest", 10),
        ("10.01", "up", 11),
        ("10.00", "up", 10),
    ],
)
def test_rounding(shop, program, price, rounding, expected):
    program.rounding = rounding
    program.save()
    paid(shop, order(1, [line(price)]))
    assert balance(shop) == expected


def test_ratio_one_point_per_ten(shop, program):
    program.points_per_currency_unit = Decimal("0.1")
    program.save()
    paid(shop, order(1, [line("99.99")]))
    assert balance(shop) == 9


def test_minimum_order_amount(shop, program):
    program.minimum_order_amount = Decimal("50.00")
    program.save()
    paid(shop, order(1, [line("49.99")]))
    assert balance(shop) == 0
    assert LoyaltyOrder.objects.get(order_id=1).points_earned == 0
    assert not LedgerEntry.objects.exists()
    paid(shop, order(2, [line("50.00")]))
    assert balance(shop) == 50


def test_excluded_product_tags(shop, program):
    ProductTags.objects.create(shop=shop, product_id=222, tags=["sale"])
    program.excluded_product_tags = ["Sale"]
    program.save()
    paid(shop, order(1, [line("30.00"), line("40.00", line_id=2, product_id=222)]))
    assert balance(shop) == 30


def test_disabled_program_earns_nothing(shop, program):
    program.enabled = False
    program.save()
    paid(shop, order(1, [line("30.00")]))
    assert balance(shop) == 0
    assert LoyaltyOrder.objects.get(order_id=1).state == LoyaltyOrder.State.NOT_ELIGIBLE


def test_test_order_earns_nothing_by_default(shop, program):
    payload = order(1, [line("30.00")])
    payload["test"] = True
    paid(shop, payload)
    assert balance(shop) == 0
    assert not LedgerEntry.objects.filter(shop=shop).exists()
    o = LoyaltyOrder.objects.get(order_id=1)
    assert (o.state, o.points_due, o.points_earned) == (LoyaltyOrder.State.NOT_ELIGIBLE, 30, 0)
    paid(shop, payload)  # a retry changes nothing either
    assert balance(shop) == 0


def test_test_order_earns_when_the_program_lets_it(shop, program):
    program.test_orders_earn = True
    program.save()
    payload = order(1, [line("30.00")])
    payload["test"] = True
    paid(shop, payload)
    assert balance(shop) == 30
    assert LoyaltyOrder.objects.get(order_id=1).state == LoyaltyOrder.State.CREDITED


def test_fulfilled_trigger(shop, program):
    program.earn_trigger = LoyaltyProgram.EarnTrigger.FULFILLED
    program.save()
    payload = order(1, [line("30.00")])
    paid(shop, payload)
    assert balance(shop) == 0
    paid(shop, payload, topic="orders/fulfilled")
    assert balance(shop) == 30
    paid(shop, payload, topic="orders/fulfilled")
    assert balance(shop) == 30


def test_reconciled_fulfilled_order_credits_under_fulfilled_trigger(shop, program):
    program.earn_trigger = LoyaltyProgram.EarnTrigger.FULFILLED
    program.save()
    payload = order(1, [line("30.00")])
    payload["fulfillment_status"] = "fulfilled"
    paid(shop, payload)
    assert balance(shop) == 30


# --- bonus events -------------------------------------------------------------------------


def test_overlapping_bonus_events_take_the_highest_not_the_product(shop, program):
    BonusEventFactory(shop=shop, multiplier=Decimal("2"))
    BonusEventFactory(shop=shop, multiplier=Decimal("3"))
    paid(shop, order(1, [line("100.00")]))
    assert balance(shop) == 300
    assert LoyaltyOrder.objects.get(order_id=1).multiplier == Decimal("3")


def test_tagged_bonus_applies_to_matching_lines_only(shop, program):
    ProductTags.objects.create(shop=shop, product_id=222, tags=["summer"])
    BonusEventFactory(shop=shop, multiplier=Decimal("2"))
    BonusEventFactory(shop=shop, multiplier=Decimal("4"), product_tags=["Summer"])
    paid(shop, order(1, [line("100.00"), line("50.00", line_id=2, product_id=222)]))
    assert balance(shop) == 100 * 2 + 50 * 4


def test_bonus_event_uses_the_time_the_order_was_placed(shop, program):
    now = timezone.now()
    BonusEventFactory(
        shop=shop,
        multiplier=Decimal("2"),
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=2),
    )
    late = order(1, [line("10.00")], processed_at=(now - timedelta(days=2, hours=12)).isoformat())
    paid(shop, late)
    paid(shop, order(2, [line("10.00")]))
    assert balance(shop) == 20 + 10


def test_bonus_with_ratio_and_rounding(shop, program):
    program.points_per_currency_unit = Decimal("0.1")
    program.save()
    BonusEventFactory(shop=shop, multiplier=Decimal("1.5"))
    paid(shop, order(1, [line("99.00")]))
    assert balance(shop) == 14  # 99 * 1.5 * 0.1 = 14.85 -> down
