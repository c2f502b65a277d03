"""The order facts Beam keeps on ``LoyaltyOrder`` for analytics (what was paid, before
refunds, and which codes were used), from the real fixture payloads, by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from loyalty.models import LoyaltyOrder
from loyalty.services import order_discount_codes, order_webhook_process, refund_webhook_process
from tests.loyalty.factories import fixture, line, order, refund

FIXTURE_ORDER_ID = 820982911946154500


def test_orders_paid_fixture_sets_the_order_facts_exactly(shop, program) -> None:
    # fixture: total_price "404.95", subtotal_price "404.95" (the shop_money of the *_set
    # twins agrees), discount_codes [], name "#9999", processed_at 2021-12-31T19:00-05:00
    payload = fixture("orders_paid")

    order_webhook_process(shop=shop, topic="orders/paid", payload=payload, triggered_at=None)

    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=FIXTURE_ORDER_ID)
    assert snapshot.total_price == Decimal("404.95")
    assert snapshot.subtotal_price == Decimal("404.95")
    assert snapshot.discount_codes == []
    assert snapshot.name == "#9999"
    assert snapshot.currency == "USD"
    assert snapshot.order_gid == "gid://shopify/Order/820982911946154508"
    assert snapshot.placed_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert snapshot.email == "jon@example.com"
    assert snapshot.taxes_included is False


def test_orders_create_fixture_sets_the_same_facts_before_payment(shop, program) -> None:
    order_webhook_process(
        shop=shop, topic="orders/create", payload=fixture("orders_create"), triggered_at=None
    )

    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=FIXTURE_ORDER_ID)
    assert (snapshot.state, snapshot.points_earned) == (LoyaltyOrder.State.OPEN, 0)
    assert (snapshot.total_price, snapshot.subtotal_price, snapshot.discount_codes) == (
        Decimal("404.95"),
        Decimal("404.95"),
        [],
    )


def test_discount_codes_are_upper_cased_sorted_and_deduplicated(shop, program) -> None:
    payload = order(9001, [line("60.00", 1)], discount_codes=["summer10", "BEAM-AB12-CD34"])
    payload["discount_codes"].append({"code": "Summer10", "amount": "0.00", "type": "percentage"})
    payload["discount_codes"].append({"code": "  ", "amount": "0.00", "type": "fixed_amount"})

    order_webhook_process(shop=shop, topic="orders/paid", payload=payload, triggered_at=None)

    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=9001)
    assert snapshot.discount_codes == ["BEAM-AB12-CD34", "SUMMER10"]
    assert order_discount_codes({"discount_codes": None}) == []
    assert order_discount_codes({"discount_codes": ["not-a-dict"]}) == []


def test_facts_are_what_was_paid_and_refunds_do_not_change_them(shop, program) -> None:
    payload = order(9002, [line("50.00", 2, line_id=7)], shipping="5.00")
    payload["total_price_set"]["shop_money"]["amount"] = "105.00"
    payload["subtotal_price_set"]["shop_money"]["amount"] = "100.00"
    # presentment money differs (another currency): the shop's money is what is kept
    payload["total_price_set"]["presentment_money"] = {"amount": "95.00", "currency_code": "EUR"}
    order_webhook_process(shop=shop, topic="orders/paid", payload=payload, triggered_at=None)

    refund_webhook_process(shop=shop, payload=refund(77, 9002, [(7, "50.00")]))

    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=9002)
    assert (snapshot.total_price, snapshot.subtotal_price) == (
        Decimal("105.00"),
        Decimal("100.00"),
    )
    assert snapshot.refunded_base == Decimal("50.00")
    assert (snapshot.points_earned, snapshot.points_reversed) == (100, 50)
