"""Deliveries that can never be processed: refused by the payload checks (or by the database
for a value out of its columns' range) after one attempt, parked as ``unprocessable`` with
their reason on webhook health, nothing of them written, their batch-mates credited."""

from __future__ import annotations

import copy
import html
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member
from merchants import inbox, selectors
from merchants.models import Shop, WebhookDelivery
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.factories import line, order, refund
from tests.merchants.webhook_support import fixture_payload, webhook_post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inbox_not_processed")]

GOOD_ID = 5_001
BAD_ID = 5_002
CUSTOMER = 501  # the factories' customer, shared by the good and the bad order


@pytest.fixture
def shop() -> Shop:
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


def post(shop: Shop, topic: str, payload: dict[str, Any], webhook_id: str) -> None:
    response = webhook_post(Client(), topic, payload, shop=shop.domain, webhook_id=webhook_id)
    assert response.status_code == 200, response.content


def bad_price(value: str) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        payload["line_items"][0]["price"] = value
        payload["line_items"][0]["price_set"]["shop_money"]["amount"] = value

    return mutate


def setter(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def null_line(payload: dict[str, Any]) -> None:
    payload["line_items"].append(None)


def huge_quantity(payload: dict[str, Any]) -> None:
    bad_price("999999999.99")(payload)
    payload["line_items"][0]["quantity"] = 1001


BAD_ORDERS = {
    "nan_price": (bad_price("NaN"), "line_items[0].price is not a finite number ('NaN')"),
    "infinite_price": (
        bad_price("Infinity"),
        "line_items[0].price is not a finite number ('Infinity')",
    ),
    "line_items_a_string": (
        setter("line_items", value="x"),
        "line_items is not a list ('x')",
    ),
    "null_line": (null_line, "line_items[1] is not an object (null)"),
    "id_2_63": (
        setter("id", value=2**63),
        "id 9223372036854775808 is out of range (1 to 9223372036854775807)",
    ),
    "customer_id_2_63": (
        setter("customer", "id", value=2**63),
        "customer.id 9223372036854775808 is out of range (1 to 9223372036854775807)",
    ),
    "amount_overflows_its_column": (
        setter("total_price_set", "shop_money", "amount", value="1000000000000.00"),
        "total_price '1000000000000.00' does not fit (at most 12 digits)",
    ),
    "lines_add_up_past_the_columns": (
        huge_quantity,
        "line_items add up to more than an amount column holds (12 digits)",
    ),
    "gid_of_10000_characters": (
        setter("admin_graphql_api_id", value="g" * 10_000),
        "admin_graphql_api_id is longer than 128 characters (10000)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ORDERS))
def test_a_bad_order_is_parked_after_one_attempt_and_its_batch_mate_credits(
    shop: Shop, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    mutate, reason = BAD_ORDERS[case]
    bad = order(BAD_ID, [line("30.00")])
    mutate(bad)
    post(shop, "orders/paid", order(GOOD_ID, [line("10.00")]), "good")
    post(shop, "orders/paid", bad, "bad")

    with caplog.at_level(logging.WARNING):
        inbox.deliveries_drain()

    parked = WebhookDelivery.objects.get(webhook_id="bad")
    assert (parked.status, parked.attempts, parked.last_error) == ("unprocessable", 1, reason)
    assert parked.next_attempt_at is None
    assert WebhookDelivery.objects.get(webhook_id="good").status == "succeeded"
    member = Member.objects.get(shop=shop, customer_id=CUSTOMER)
    assert member.balance == 10
    assert list(LedgerEntry.objects.filter(shop=shop).values_list("source_id", flat=True)) == [
        str(GOOD_ID)
    ]
    assert list(LoyaltyOrder.objects.filter(shop=shop).values_list("order_id", flat=True)) == [
        GOOD_ID
    ]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.exc_info) for r in warnings] == [("WARNING", None)]
    assert reason in warnings[0].getMessage()

    page = AdminClient(shop).get("/admin/webhooks/").content.decode()
    not_done = page[page.index('id="beam-failures"') : page.index("Recent deliveries by topic")]
    assert ">Unprocessable</span>" in not_done
    assert html.escape(reason)[:190] in not_done


def test_a_parked_delivery_is_not_retried(shop: Shop) -> None:
    bad = order(BAD_ID, [line("30.00")])
    bad["line_items"] = "x"
    post(shop, "orders/paid", bad, "bad")
    inbox.deliveries_drain()
    WebhookDelivery.objects.filter(webhook_id="bad").update(next_attempt_at=None)

    assert inbox.deliveries_drain().processed == 0
    assert WebhookDelivery.objects.get(webhook_id="bad").attempts == 1


def test_a_bad_refund_is_parked_and_the_credited_order_keeps_its_points(shop: Shop) -> None:
    post(shop, "orders/paid", order(GOOD_ID, [line("10.00")]), "order")
    inbox.deliveries_drain()
    bad = refund(9_001, GOOD_ID, [(1, "5.00")])
    bad["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] = "NaN"
    post(shop, "refunds/create", bad, "refund")

    inbox.deliveries_drain()

    parked = WebhookDelivery.objects.get(webhook_id="refund")
    assert (parked.status, parked.attempts, parked.last_error) == (
        "unprocessable",
        1,
        "refund_line_items[0].subtotal is not a finite number ('NaN')",
    )
    assert Member.objects.get(shop=shop, customer_id=CUSTOMER).balance == 10
    assert LedgerEntry.objects.filter(shop=shop).count() == 1
    assert LoyaltyOrder.objects.get(shop=shop, order_id=GOOD_ID).refunded_base == 0


def test_a_customer_id_above_2_63_is_parked(shop: Shop) -> None:
    payload = fixture_payload("customers_create", shop=shop.domain)
    payload["id"] = 2**63
    post(shop, "customers/create", payload, "customer")

    inbox.deliveries_drain()

    parked = WebhookDelivery.objects.get(webhook_id="customer")
    assert (parked.status, parked.attempts) == ("unprocessable", 1)
    assert parked.last_error == "id 9223372036854775808 is out of range (1 to 9223372036854775807)"
    assert not Member.objects.filter(shop=shop).exists()


def test_a_name_of_10000_characters_is_cut_not_refused(shop: Shop) -> None:
    """A name may be shortened to its column (an id or email may not): the order credits
    and the customer is created, each in one attempt."""
    long_order = order(GOOD_ID, [line("10.00")])
    long_order["customer"]["first_name"] = "A" * 10_000
    long_order["name"] = "#" + "9" * 10_000
    customer = fixture_payload("customers_create", shop=shop.domain)
    customer["last_name"] = "B" * 10_000
    post(shop, "orders/paid", long_order, "order")
    post(shop, "customers/create", customer, "customer")

    inbox.deliveries_drain()

    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("succeeded", 0)}
    member = Member.objects.get(shop=shop, customer_id=CUSTOMER)
    assert (member.first_name, member.balance) == ("A" * 255, 10)
    assert Member.objects.get(shop=shop, customer_id=customer["id"]).last_name == "B" * 255
    assert LoyaltyOrder.objects.get(shop=shop, order_id=GOOD_ID).name == "#" + "9" * 63


def test_replaying_an_unprocessable_delivery_checks_it_again(shop: Shop) -> None:
    bad = order(BAD_ID, [line("30.00")])
    bad["line_items"].append(None)
    post(shop, "orders/paid", bad, "bad")
    inbox.deliveries_drain()
    parked = WebhookDelivery.objects.get(webhook_id="bad")
    admin = AdminClient(shop)

    response = admin.post("/admin/webhooks/replay", {"delivery_id": str(parked.pk)})

    assert "Replayed: 1 unprocessable." in response.content.decode()
    parked.refresh_from_db()
    assert (parked.status, parked.attempts) == ("unprocessable", 2)
    assert not LedgerEntry.objects.filter(shop=shop).exists()

    payload = copy.deepcopy(parked.payload)  # the platform's payload, as a fix would read it
    payload["line_items"] = payload["line_items"][:1]
    WebhookDelivery.objects.filter(pk=parked.pk).update(payload=payload)
    admin.post("/admin/webhooks/replay", {"delivery_id": str(parked.pk)})

    parked.refresh_from_db()
    assert (parked.status, parked.last_error) == ("succeeded", "")
    assert Member.objects.get(shop=shop, customer_id=CUSTOMER).balance == 30


def test_the_engine_batch_leaves_out_a_refused_delivery(shop: Shop) -> None:
    """The crediting engine's batch path itself: one refused payload is returned with its
    reason and does not fail the batch (nothing of it written)."""
    from loyalty.services import Delivery, deliveries_credit

    bad = order(BAD_ID, [line("30.00")])
    bad["line_items"][0]["price_set"]["shop_money"]["amount"] = "Infinity"

    refused = deliveries_credit(
        shop=shop,
        deliveries=[
            Delivery("orders/paid", order(GOOD_ID, [line("10.00")])),
            Delivery("orders/paid", bad),
            Delivery("orders/paid", order(GOOD_ID + 10, [line("20.00")])),
        ],
    )

    assert refused == {1: "line_items[0].price is not a finite number ('Infinity')"}
    assert Member.objects.get(shop=shop, customer_id=CUSTOMER).balance == 30
    assert not LoyaltyOrder.objects.filter(shop=shop, order_id=BAD_ID).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite integers are 64-bit")
def test_a_value_the_database_refuses_is_parked_and_the_batch_mate_credits(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """A shape within bounds whose points overflow their integer column (this program's
    rate): the database's DataError is deterministic, so the delivery is parked at once."""
    LoyaltyProgram.objects.filter(shop=shop).update(points_per_currency_unit=Decimal("99999999"))
    post(shop, "orders/paid", order(GOOD_ID, [line("0.01")]), "good")
    post(shop, "orders/paid", order(BAD_ID, [line("999.00")]), "bad")

    with caplog.at_level(logging.WARNING):
        inbox.deliveries_drain()

    parked = WebhookDelivery.objects.get(webhook_id="bad")
    assert (parked.status, parked.attempts) == ("unprocessable", 1)
    assert parked.last_error.startswith("the database refused a value (DataError: ")
    assert "out of range" in parked.last_error
    assert WebhookDelivery.objects.get(webhook_id="good").status == "succeeded"
    assert Member.objects.get(shop=shop, customer_id=CUSTOMER).balance == 999_999
    assert not LoyaltyOrder.objects.filter(shop=shop, order_id=BAD_ID).exists()
    assert all(r.exc_info is None for r in caplog.records)


def test_the_replay_command_takes_unprocessable_deliveries_with_all_failed(shop: Shop) -> None:
    bad = order(BAD_ID, [line("30.00")])
    bad["id"] = 2**63
    post(shop, "orders/paid", bad, "bad")
    inbox.deliveries_drain()
    parked = WebhookDelivery.objects.get(webhook_id="bad")
    assert list(selectors.deliveries_failed(shop=shop)) == [parked]

    call_command("webhooks_replay", "--all-failed")

    parked.refresh_from_db()
    assert (parked.status, parked.attempts) == ("unprocessable", 2)
