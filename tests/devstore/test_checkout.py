from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from devstore import services
from devstore.errors import DiscountCodeRefused, OrderOperationRefused
from devstore.models import DevDiscountCode, DevOrder
from tests.devstore.factories import DevCustomerFactory, DevProductFactory


@pytest.fixture
def shirt(dev_shop):
    return DevProductFactory(shop=dev_shop, title="Shirt", price=Decimal("30.00")).variants.get()


@pytest.fixture
def alice(dev_shop):
    return DevCustomerFactory(shop=dev_shop)


def _code(shop, code="SAVE10", **kwargs):
    kwargs.setdefault("value", Decimal("10"))
    return services.discount_code_create(shop, code=code, **kwargs)


def test_fixed_code_is_applied_and_counted(dev_shop, shirt, alice):
    code = _code(dev_shop)
    order = services.order_place(
        dev_shop, customer=alice, lines=[(shirt, 2)], discount_code="save10", shipping=Decimal("5")
    )
    p = order.payload
    assert (
        p["total_line_items_price"],
        p["total_discounts"],
        p["subtotal_price"],
        p["total_price"],
    ) == ("60.00", "10.00", "50.00", "55.00")
    assert p["discount_codes"] == [{"code": "SAVE10", "amount": "10.00", "type": "fixed_amount"}]
    assert p["discount_applications"][0]["allocation_method"] == "across"
    assert p["line_items"][0]["discount_allocations"][0]["amount"] == "10.00"
    code.refresh_from_db()
    assert code.usage_count == 1 and order.discount_code == code


def test_percentage_free_shipping_and_free_product(dev_shop, shirt, alice):
    hat = DevProductFactory(shop=dev_shop, title="Hat", price=Decimal("12.00")).variants.get()
    _code(dev_shop, "PCT", value_type="percentage", value=Decimal("0.25"))
    _code(dev_shop, "SHIP", kind="free_shipping")
    _code(
        dev_shop,
        "FREEHAT",
        value_type="percentage",
        value=Decimal("1"),
        entitled_variant_ids=[hat.id],
    )
    pct = services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="PCT")
    assert pct.payload["total_price"] == "22.50"
    ship = services.order_place(
        dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="SHIP", shipping=Decimal("7")
    )
    assert ship.payload["total_price"] == "30.00"
    assert ship.payload["discount_codes"][0] == {
        "code": "SHIP",
        "amount": "7.00",
        "type": "shipping",
    }
    free = services.order_place(
        dev_shop, customer=alice, lines=[(shirt, 1), (hat, 1)], discount_code="FREEHAT"
    )
    assert free.payload["total_discounts"] == "12.00" and free.payload["total_price"] == "30.00"
    with pytest.raises(DiscountCodeRefused, match="isn't valid for the items"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="FREEHAT")


def test_customer_restriction_is_enforced(dev_shop, shirt, alice):
    bob = DevCustomerFactory(shop=dev_shop)
    _code(dev_shop, customer_ids=[alice.id])
    with pytest.raises(DiscountCodeRefused, match="isn't available to you"):
        services.order_place(dev_shop, customer=bob, lines=[(shirt, 1)], discount_code="SAVE10")
    with pytest.raises(DiscountCodeRefused, match="Log in"):
        services.order_place(
            dev_shop, email="g@example.com", lines=[(shirt, 1)], discount_code="SAVE10"
        )
    assert not DevOrder.objects.exists()
    services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="SAVE10")


def test_usage_limit_and_once_per_customer(dev_shop, shirt, alice):
    _code(dev_shop, usage_limit=1)
    services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="SAVE10")
    with pytest.raises(DiscountCodeRefused, match="usage limit"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="SAVE10")
    assert DevDiscountCode.objects.get(code="SAVE10").usage_count == 1
    _code(dev_shop, "ONCE", applies_once_per_customer=True)
    services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="ONCE")
    with pytest.raises(DiscountCodeRefused, match="once per customer"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="ONCE")


def test_minimum_subtotal_dates_and_unknown_codes(dev_shop, shirt, alice):
    _code(dev_shop, minimum_subtotal=Decimal("50"))
    with pytest.raises(DiscountCodeRefused, match=r"minimum purchase of 50\.00"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="SAVE10")
    services.order_place(dev_shop, customer=alice, lines=[(shirt, 2)], discount_code="SAVE10")
    _code(
        dev_shop,
        "OLD",
        ends_at=timezone.now() - timedelta(days=1),
        starts_at=timezone.now() - timedelta(days=2),
    )
    with pytest.raises(DiscountCodeRefused, match="expired"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="OLD")
    _code(dev_shop, "SOON", starts_at=timezone.now() + timedelta(days=1))
    with pytest.raises(DiscountCodeRefused, match="isn't active yet"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="SOON")
    with pytest.raises(DiscountCodeRefused, match="Enter a valid discount code"):
        services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], discount_code="NOPE")


def test_refunds_track_quantities_and_totals(dev_shop, shirt, alice):
    order = services.order_place(
        dev_shop, customer=alice, lines=[(shirt, 2)], shipping=Decimal("5"), tax_rate=Decimal("0.1")
    )
    line_id = order.payload["line_items"][0]["id"]
    refund = services.order_refund(order, [(line_id, 1)], note="Too big")
    item = refund.payload["refund_line_items"][0]
    assert (
        item["subtotal_set"]["shop_money"]["amount"],
        item["total_tax_set"]["shop_money"]["amount"],
    ) == ("30.00", "3.00")
    assert refund.payload["transactions"][0]["amount"] == "33.00"
    order.refresh_from_db()
    assert order.financial_status == "partially_refunded"
    assert order.payload["current_total_price"] == "38.00"
    with pytest.raises(OrderOperationRefused, match="1 refundable"):
        services.order_refund(order, [(line_id, 2)])
    services.order_refund(order, [(line_id, 1)], shipping=Decimal("5"))
    order.refresh_from_db()
    assert order.financial_status == "refunded" and order.payload["current_total_price"] == "0.00"


def test_tax_inclusive_shop_reports_the_tax_inside_its_prices(dev_shop, shirt, alice):
    """VAT-style shop: the 30.00 price holds 5.00 of 20 % tax (30 * 0.2 / 1.2); the total is
    not raised by it, and a refund gives back the price, not price + tax."""
    dev_shop.taxes_included = True
    dev_shop.save(update_fields=["taxes_included"])
    order = services.order_place(
        dev_shop, customer=alice, lines=[(shirt, 2)], shipping=Decimal("5"), tax_rate=Decimal("0.2")
    )
    p = order.payload
    assert p["taxes_included"] is True
    assert (p["subtotal_price"], p["total_tax"], p["total_price"]) == ("60.00", "10.00", "65.00")
    assert p["line_items"][0]["tax_lines"][0]["price"] == "10.00"

    line_id = p["line_items"][0]["id"]
    refund = services.order_refund(order, [(line_id, 1)])
    item = refund.payload["refund_line_items"][0]
    assert (
        item["subtotal_set"]["shop_money"]["amount"],
        item["total_tax_set"]["shop_money"]["amount"],
    ) == ("30.00", "5.00")
    assert refund.payload["transactions"][0]["amount"] == "30.00"
    order.refresh_from_db()
    assert order.payload["current_total_price"] == "35.00"
    assert order.payload["current_total_tax"] == "5.00"


def test_cancel_refunds_paid_orders_and_voids_pending(dev_shop, shirt, alice):
    paid = services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)])
    services.order_cancel(paid)
    paid.refresh_from_db()
    assert paid.financial_status == "refunded" and paid.cancelled_at is not None
    assert paid.payload["cancel_reason"] == "customer" and len(paid.payload["refunds"]) == 1
    pending = services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], paid=False)
    services.order_pay(pending)
    pending.refresh_from_db()
    assert pending.financial_status == "paid"
    unpaid = services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)], paid=False)
    services.order_cancel(unpaid)
    unpaid.refresh_from_db()
    assert unpaid.financial_status == "voided"


def test_order_ids_are_exact_64_bit_ints(dev_shop, shirt, alice):
    order = services.order_place(dev_shop, customer=alice, lines=[(shirt, 1)])
    assert isinstance(order.id, int) and order.id > 2**53
    assert order.payload["admin_graphql_api_id"] == f"gid://shopify/Order/{order.id}"
    assert order.payload["customer"]["id"] == alice.id
    assert order.payload["order_number"] == 1001 and order.payload["name"] == "#1001"
