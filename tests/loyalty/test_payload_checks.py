"""The payload shape checks (pure): every real platform payload passes; each broken rule is
refused with a reason that names the value's place."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from loyalty.payload_checks import (
    customer_payload_problem,
    order_payload_problem,
    refund_payload_problem,
)
from merchants.shopify.operations.order_payload import order_rest_payload
from tests.loyalty.factories import line, order, refund

FIXTURE_DIRS = [
    Path(__file__).resolve().parent.parent / "fixtures" / "webhooks",
    Path("/work/shared/fixtures/shopify/webhooks"),
]
ORDER_FIXTURES = ("orders_paid", "orders_create", "orders_cancelled")
CUSTOMER_FIXTURES = {"customers_create": "customers/create", "customers_delete": "customers/delete"}


def fixtures(name: str) -> list[dict[str, Any]]:
    found = [d / f"{name}.json" for d in FIXTURE_DIRS if (d / f"{name}.json").exists()]
    assert found, name
    return [json.loads(p.read_text()) for p in found]


@pytest.mark.parametrize("name", ORDER_FIXTURES)
def test_every_order_fixture_passes(name: str) -> None:
    for payload in fixtures(name):
        assert order_payload_problem(payload) is None


def test_every_refund_fixture_passes() -> None:
    for payload in fixtures("refunds_create"):
        assert refund_payload_problem(payload) is None


@pytest.mark.parametrize("name", sorted(CUSTOMER_FIXTURES))
def test_every_customer_fixture_passes(name: str) -> None:
    for payload in fixtures(name):
        assert customer_payload_problem(CUSTOMER_FIXTURES[name], payload) is None


def test_the_shapes_beam_builds_pass() -> None:
    """The test factories' payloads and a reconciled GraphQL order in the REST shape."""
    assert order_payload_problem(order(1, [line("10.00", 3, discount="1.00", tax="0.50")])) is None
    assert order_payload_problem(order(2, [line("10.00")], shipping="5.00")) is None
    assert refund_payload_problem(refund(3, 1, [(1, "9.99")], adjustments=[("x", "-1")])) is None
    graphql = {
        "id": "gid://shopify/Order/42",
        "legacyResourceId": "42",
        "currencyCode": "EUR",
        "customer": {"id": "gid://shopify/Customer/7", "legacyResourceId": "7"},
        "totalPriceSet": {"shopMoney": {"amount": "12.5", "currencyCode": "EUR"}},
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/9",
                    "quantity": 2,
                    "product": {"id": "gid://shopify/Product/5"},
                    "originalUnitPriceSet": {"shopMoney": {"amount": "6.25"}},
                    "taxLines": [{"priceSet": {"shopMoney": {"amount": "1.0"}}}],
                }
            ]
        },
    }
    assert order_payload_problem(order_rest_payload(graphql)) is None


def test_numbers_as_json_numbers_and_ids_as_digit_strings_pass() -> None:
    payload = order(1, [line("10.00")])
    payload["id"] = "1"
    payload["line_items"][0].pop("price_set")
    payload["line_items"][0]["price"] = 10.5
    payload["total_price_set"]["shop_money"]["amount"] = 0
    payload["customer"] = None
    payload["line_items"][0]["product_id"] = None
    assert order_payload_problem(payload) is None


def mutated(payload: dict[str, Any], change: Any) -> dict[str, Any]:
    copied = copy.deepcopy(payload)
    change(copied)
    return copied


ORDER = order(1, [line("10.00", discount="1.00", tax="0.50")], shipping="5.00")
BAD_ORDERS: list[tuple[Any, str]] = [
    (lambda p: p.update(id=True), "id is not an integer (True)"),
    (lambda p: p.update(id=1.5), "id is not an integer (1.5)"),
    (lambda p: p.update(id=0), "id 0 is out of range (1 to 9223372036854775807)"),
    (lambda p: p.update(id=-5), "id -5 is out of range (1 to 9223372036854775807)"),
    (lambda p: p.update(id="12a"), "id is not an integer ('12a')"),
    (lambda p: p.update(customer="x"), "customer is not an object ('x')"),
    (
        lambda p: p["customer"].update(email="a" * 250 + "@b.cd"),
        "customer.email is longer than 254 characters (255)",
    ),
    (lambda p: p["customer"].update(first_name=7), "customer.first_name is not a string (7)"),
    (lambda p: p.update(discount_codes="x"), "discount_codes is not a list ('x')"),
    (lambda p: p.update(total_price_set="x"), "total_price_set is not an object ('x')"),
    (
        lambda p: p["total_price_set"]["shop_money"].update(amount="12,00"),
        "total_price is not a number ('12,00')",
    ),
    (
        lambda p: p["line_items"][0].update(quantity="2.5"),
        "line_items[0].quantity is not an integer ('2.5')",
    ),
    (
        lambda p: p["line_items"][0].update(quantity=2**31),
        "line_items[0].quantity 2147483648 is out of range (0 to 2147483647)",
    ),
    (
        lambda p: p["line_items"][0].update(product_id=2**64),
        "line_items[0].product_id 18446744073709551616 is out of range (1 to 9223372036854775807)",
    ),
    (
        lambda p: p["line_items"][0]["tax_lines"].append(None),
        "line_items[0].tax_lines[1] is not an object (null)",
    ),
    (
        lambda p: p["line_items"][0]["discount_allocations"][0]["amount_set"]["shop_money"].update(
            amount="-Infinity"
        ),
        "line_items[0].discount_allocations[0].amount is not a finite number ('-Infinity')",
    ),
    (
        lambda p: p["line_items"][0]["price_set"]["shop_money"].update(amount="sNaN"),
        "line_items[0].price is not a finite number ('sNaN')",
    ),
    (
        lambda p: p["line_items"][0]["price_set"]["shop_money"].update(amount="1e400"),
        "line_items[0].price '1e400' does not fit (at most 12 digits)",
    ),
    (
        lambda p: p["line_items"][0].update(price_set=None, price=[1]),
        "line_items[0].price is not a number ([1])",
    ),
    (lambda p: p.update(shipping_lines=[None]), "shipping_lines[0] is not an object (null)"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_ORDERS, ids=[r for _, r in BAD_ORDERS])
def test_a_broken_order_is_refused_with_its_reason(change: Any, reason: str) -> None:
    assert order_payload_problem(mutated(ORDER, change)) == reason


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    assert order_payload_problem([1]) == "the payload is not an object ([1])"


REFUND = refund(9, 1, [(1, "5.00")], adjustments=[("refund_discrepancy", "-1.00")])
BAD_REFUNDS: list[tuple[Any, str]] = [
    (
        lambda p: p.update(order_id=2**63),
        "order_id 9223372036854775808 is out of range (1 to 9223372036854775807)",
    ),
    (
        lambda p: p["refund_line_items"][0].update(line_item="x"),
        "refund_line_items[0].line_item is not an object ('x')",
    ),
    (
        lambda p: p["refund_line_items"][0].update(total_tax_set=None, total_tax="Infinity"),
        "refund_line_items[0].total_tax is not a finite number ('Infinity')",
    ),
    (lambda p: p.update(order_adjustments=[None]), "order_adjustments[0] is not an object (null)"),
    (lambda p: p.update(refund_shipping_lines="x"), "refund_shipping_lines is not a list ('x')"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_REFUNDS, ids=[r for _, r in BAD_REFUNDS])
def test_a_broken_refund_is_refused_with_its_reason(change: Any, reason: str) -> None:
    assert refund_payload_problem(mutated(REFUND, change)) == reason


def test_customer_checks_by_topic() -> None:
    customer = fixtures("customers_create")[0]
    assert customer_payload_problem("customers/update", {**customer, "id": 2**63}) == (
        "id 9223372036854775808 is out of range (1 to 9223372036854775807)"
    )
    assert customer_payload_problem("customers/delete", {**customer, "email": ["x"]}) == (
        "email is not a string (['x'])"
    )
    assert (
        customer_payload_problem("customers/create", {**customer, "first_name": "A" * 10_000})
        is None
    )
    assert customer_payload_problem("customers/merge", {"id": "whatever"}) is None
