"""Refunds and cancellations: proportional, capped, once, in any delivery order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member, OrderRefund
from loyalty.services import (
    ledger_verify,
    order_webhook_process,
    pending_release_due,
    points_adjust,
    refund_webhook_process,
)
from tests.loyalty.factories import fixture, line, order, refund

FIXTURE_CUSTOMER = 115310627314723950


def process(shop, payload, topic="orders/paid"):
    order_webhook_process(shop=shop, topic=topic, payload=payload, triggered_at=None)


def member(shop, customer_id=501) -> Member:
    return Member.objects.get(shop=shop, customer_id=customer_id)


def snapshot(shop, order_id=1) -> LoyaltyOrder:
    return LoyaltyOrder.objects.get(shop=shop, order_id=order_id)


def hundred_point_order(order_id=1):
    return order(order_id, [line("60.00", line_id=1), line("40.00", line_id=2)])


def test_fixture_refund_reverses_the_whole_order(shop, program):
    process(shop, fixture("orders_paid"))
    refund_webhook_process(shop=shop, payload=fixture("refunds_create"))
    m = member(shop, FIXTURE_CUSTOMER)
    assert m.balance == 0
    assert m.lifetime_earned == 0
    o = LoyaltyOrder.objects.get(shop=shop, order_id=820982911946154500)
    assert o.refunded_base == o.base
    assert o.points_reversed == 414
    entry = LedgerEntry.objects.get(kind="order_refund")
    assert (entry.amount, entry.source_type, entry.source_id) == (
        -414,
        "refund",
        "890088186047892400",
    )


def test_fixture_cancellation_reverses_everything(shop, program):
    process(shop, fixture("orders_paid"))
    process(shop, fixture("orders_cancelled"), topic="orders/cancelled")
    assert member(shop, FIXTURE_CUSTOMER).balance == 0
    o = LoyaltyOrder.objects.get(shop=shop)
    assert (o.state, o.points_reversed) == (LoyaltyOrder.State.CANCELLED, 414)


def test_partial_then_second_refund_then_duplicate(shop, program):
    process(shop, hundred_point_order())
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "60.00")]))
    assert member(shop).balance == 40
    refund_webhook_process(shop=shop, payload=refund(12, 1, [(2, "40.00")]))
    assert member(shop).balance == 0
    before = LedgerEntry.objects.count()
    refund_webhook_process(shop=shop, payload=refund(12, 1, [(2, "40.00")]))
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "60.00")]))
    assert LedgerEntry.objects.count() == before
    assert member(shop).balance == 0
    assert snapshot(shop).points_reversed == 100
    assert OrderRefund.objects.count() == 2


def test_multiple_partial_refunds_never_lose_to_rounding(shop, program):
    process(shop, order(1, [line("33.33", line_id=i) for i in (1, 2, 3)]))
    assert member(shop).balance == 99  # 99.99 down
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "33.33")]))
    assert member(shop).balance == 66  # round(99 * 33.33 / 99.99) = 33
    refund_webhook_process(shop=shop, payload=refund(12, 1, [(2, "33.33")]))
    assert member(shop).balance == 33
    refund_webhook_process(shop=shop, payload=refund(13, 1, [(3, "33.33")]))
    assert member(shop).balance == 0
    assert [e.amount for e in LedgerEntry.objects.filter(kind="order_refund").order_by("pk")] == [
        -33,
        -33,
        -33,
    ]


def test_refund_before_paid_is_applied_at_credit(shop, program):
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "60.00")]))
    assert not Member.objects.exists()
    assert snapshot(shop).state == LoyaltyOrder.State.OPEN
    process(shop, hundred_point_order())
    m = member(shop)
    assert m.balance == 40
    assert sorted(LedgerEntry.objects.values_list("kind", "amount")) == [
        ("order_earn", 100),
        ("order_refund", -60),
    ]
    process(shop, hundred_point_order())
    assert member(shop).balance == 40


def test_refunds_never_reverse_more_than_earned(shop, program):
    process(shop, hundred_point_order())
    refund_webhook_process(
        shop=shop,
        payload=refund(
            11, 1, [(1, "60.00"), (2, "40.00")], adjustments=[("refund_discrepancy", "-25.00")]
        ),
    )
    refund_webhook_process(
        shop=shop, payload=refund(12, 1, [], adjustments=[("refund_discrepancy", "-5.00")])
    )
    assert member(shop).balance == 0
    assert snapshot(shop).points_reversed == 100


def test_refund_of_money_only_counts_the_adjustment(shop, program):
    process(shop, hundred_point_order())
    refund_webhook_process(
        shop=shop, payload=refund(11, 1, [], adjustments=[("refund_discrepancy", "-10.00")])
    )
    assert member(shop).balance == 90


def test_shipping_refund_only_counts_when_shipping_earns(shop, program):
    process(shop, hundred_point_order())
    refund_webhook_process(
        shop=shop, payload=refund(11, 1, [], adjustments=[("shipping_refund", "-10.00")])
    )
    assert member(shop).balance == 100


def test_refund_of_gift_card_line_reverses_nothing(shop, program):
    process(shop, order(1, [line("50.00", line_id=1), line("25.00", line_id=2, gift_card=True)]))
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(2, "25.00")], gift_card_lines={2}))
    assert member(shop).balance == 50
    assert snapshot(shop).points_reversed == 0


def test_cancellation_after_partial_refund_reverses_the_rest(shop, program):
    process(shop, hundred_point_order())
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "60.00")]))
    process(shop, hundred_point_order(), topic="orders/cancelled")
    process(shop, hundred_point_order(), topic="orders/cancelled")
    assert member(shop).balance == 0
    assert [e.amount for e in LedgerEntry.objects.order_by("pk")] == [100, -60, -40]
    refund_webhook_process(shop=shop, payload=refund(12, 1, [(2, "40.00")]))
    assert member(shop).balance == 0
    assert LedgerEntry.objects.count() == 3


def test_cancelled_before_paid_never_earns(shop, program):
    process(shop, hundred_point_order(), topic="orders/cancelled")
    process(shop, hundred_point_order())
    assert member(shop).balance == 0
    assert not LedgerEntry.objects.exists()
    assert snapshot(shop).state == LoyaltyOrder.State.CANCELLED


def test_deduct_to_zero_records_the_shortfall(shop, program):
    process(shop, hundred_point_order())
    points_adjust(
        shop=shop,
        member=member(shop),
        amount=-80,
        reason="gift",
        actor="staff",
        idempotency_key="k1",
    )
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "60.00"), (2, "40.00")]))
    m = member(shop)
    assert m.balance == 0
    assert m.negative_balance_allowed is False
    o = snapshot(shop)
    assert (o.points_reversed, o.points_shortfall) == (100, 80)
    assert LedgerEntry.objects.get(kind="order_refund").amount == -20
    assert ledger_verify(shop=shop).drifts == []


def test_allow_negative_policy(shop, program):
    program.negative_balance_policy = LoyaltyProgram.NegativePolicy.ALLOW_NEGATIVE
    program.save()
    process(shop, hundred_point_order())
    points_adjust(
        shop=shop,
        member=member(shop),
        amount=-80,
        reason="gift",
        actor="staff",
        idempotency_key="k1",
    )
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "60.00"), (2, "40.00")]))
    m = member(shop)
    assert m.balance == -80
    assert m.negative_balance_allowed is True
    assert snapshot(shop).points_shortfall == 0
    assert ledger_verify(shop=shop).drifts == []


def test_pending_points_release_and_refund_during_pending(shop, program):
    program.pending_days = 14
    program.save()
    process(shop, hundred_point_order())
    m = member(shop)
    assert (m.balance, m.pending_points) == (0, 100)

    assert pending_release_due(now=timezone.now() + timedelta(days=13)) == 0
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "30.00")]))
    m = member(shop)
    assert (m.balance, m.pending_points) == (0, 70)

    assert pending_release_due(now=timezone.now() + timedelta(days=15)) == 1
    assert pending_release_due(now=timezone.now() + timedelta(days=16)) == 0
    m = member(shop)
    assert (m.balance, m.pending_points) == (70, 0)
    assert snapshot(shop).points_pending == 0
    assert ledger_verify(shop=shop).drifts == []


def test_cancel_during_pending_clears_pending_only(shop, program):
    program.pending_days = 7
    program.save()
    process(shop, hundred_point_order())
    process(shop, hundred_point_order(), topic="orders/cancelled")
    m = member(shop)
    assert (m.balance, m.pending_points) == (0, 0)
    assert pending_release_due(now=timezone.now() + timedelta(days=8)) == 0
    assert member(shop).balance == 0
    assert ledger_verify(shop=shop).drifts == []


def _money(amount: str) -> dict[str, dict[str, str]]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def taxes_included_order(order_id: int = 1) -> dict:
    """One line at 100.00 of which 8.00 is tax (the price includes it)."""
    return order(order_id, [line("100.00", line_id=1, tax="8.00")], taxes_included=True)


def half_refund_with_tax(refund_id: int = 11, order_id: int = 1) -> dict:
    """Half the line back: 50.00, of which 4.00 is tax."""
    payload = refund(refund_id, order_id, [(1, "50.00")])
    payload["refund_line_items"][0].update(total_tax="4.00", total_tax_set=_money("4.00"))
    return payload


@pytest.mark.parametrize("refund_first", [False, True])
def test_refund_of_a_taxes_included_order_reverses_the_same_whatever_came_first(
    shop, program, refund_first: bool
) -> None:
    """Regression: a refund processed before its order used the placeholder row's
    ``taxes_included`` (False) and reversed 75 instead of 69. At 1.5 points per unit, tax
    not counted: the order earns (100 - 8) * 1.5 = 138, the refund gives back 50 - 4 = 46 of
    its 92, so 69."""
    program.points_per_currency_unit = Decimal("1.5")
    program.save()
    if refund_first:
        refund_webhook_process(shop=shop, payload=half_refund_with_tax())
        process(shop, taxes_included_order())
    else:
        process(shop, taxes_included_order())
        refund_webhook_process(shop=shop, payload=half_refund_with_tax())

    o = snapshot(shop)
    assert (o.points_earned, o.points_reversed, o.refunded_base) == (138, 69, Decimal("46.00"))
    assert member(shop).balance == 69
    stored = OrderRefund.objects.get(shop=shop, refund_id=11)
    assert (stored.base, stored.base_tax_excluded, stored.base_tax_included) == (
        Decimal("46.00"),
        Decimal("50.00"),
        Decimal("46.00"),
    )
    report = ledger_verify(shop=shop)
    assert (report.drifts, report.order_drifts) == ([], [])


def test_reversal_rounds_an_exact_half_up(shop, program) -> None:
    """Regression: ``earned * (refunded / base)`` rounded 13 * 3.40 / 5.20 = 8.5 to 8,
    because the ratio 0.6538… was cut at 28 digits first. Multiplying first keeps the tie
    exact: 9."""
    program.points_per_currency_unit = Decimal("2.5")
    program.save()
    process(shop, order(1, [line("5.20", line_id=1)]))
    refund_webhook_process(shop=shop, payload=refund(11, 1, [(1, "3.40")]))

    o = snapshot(shop)
    assert (o.points_earned, o.points_reversed) == (13, 9)
    assert member(shop).balance == 4


def test_ledger_verify_reports_orders_whose_reversal_disagrees_with_their_refunds(
    shop, program
) -> None:
    """A balance can equal its ledger and still be wrong: the check recomputes each order's
    reversal from its snapshot and refunds (the state the taxes-included bug left)."""
    program.points_per_currency_unit = Decimal("1.5")
    program.save()
    process(shop, taxes_included_order())
    refund_webhook_process(shop=shop, payload=half_refund_with_tax())
    assert ledger_verify(shop=shop).order_drifts == []

    OrderRefund.objects.filter(shop=shop).update(base=Decimal("50.00"))
    LoyaltyOrder.objects.filter(shop=shop).update(refunded_base=Decimal("50.00"))
    report = ledger_verify(shop=shop)
    assert report.drifts == []
    assert [(d.order_id, d.problem) for d in report.order_drifts] == [
        (1, "refund 11 base 50.00 != 46.00")
    ]

    OrderRefund.objects.filter(shop=shop).update(base=Decimal("46.00"))
    LoyaltyOrder.objects.filter(shop=shop).update(refunded_base=Decimal("46.00"))
    LoyaltyOrder.objects.filter(shop=shop).update(points_reversed=75)
    assert [d.problem for d in ledger_verify(shop=shop).order_drifts] == ["reversed 75 != 69"]
