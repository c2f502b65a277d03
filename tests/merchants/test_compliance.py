"""The privacy topics, through /webhooks/compliance with the platform's sample payloads."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from merchants import inbox, inbox_record, replay
from merchants.compliance import payload_scrub
from merchants.models import ComplianceRequest, Shop, SyncRun, WebhookDelivery
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    LoyaltyCalls,
    ShopFactory,
    fixture_payload,
    loyalty_calls_install,
    order_payload,
    webhook_post,
)

pytestmark = pytest.mark.django_db

CUSTOMER_ID = 191167  # the customer in the sample compliance payloads
EMAIL = "john@example.com"
OTHER_CUSTOMER = 5_000_000_000_000_000_123


@pytest.fixture
def shop() -> Shop:
    return ShopFactory(domain=SHOP_DOMAIN)


@pytest.fixture
def loyalty(monkeypatch: pytest.MonkeyPatch) -> LoyaltyCalls:
    return loyalty_calls_install(monkeypatch)


@pytest.fixture
def stored(shop: Shop) -> dict[str, WebhookDelivery]:
    """Deliveries already in the inbox: the customer's order and refund, a guest order named
    in the request, their customer event and someone else's order."""

    def add(topic: str, payload: dict, key: str) -> WebhookDelivery:
        return inbox_record.delivery_record(
            shop=shop, webhook_id=key, topic=topic, payload=payload
        ).delivery

    return {
        "order": add(
            "orders/paid", order_payload(299938, customer_id=CUSTOMER_ID, email=EMAIL), "o1"
        ),
        "refund": add(
            "refunds/create",
            {"id": 77, "order_id": 299938, "transactions": [{"amount": "10.00"}]},
            "r1",
        ),
        "named_order": add(
            "orders/paid", order_payload(280263, customer_id=1, email="guest@example.com"), "o2"
        ),
        "customer": add(
            "customers/update",
            {"id": CUSTOMER_ID, "email": EMAIL, "first_name": "John", "phone": "555-625-1199"},
            "c1",
        ),
        "other": add(
            "orders/paid",
            order_payload(123, customer_id=OTHER_CUSTOMER, email="zed@example.com"),
            "o3",
        ),
    }


def post_compliance(client: Client, topic: str, name: str, webhook_id: str, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return webhook_post(
            client, topic, fixture_payload(name), path="/webhooks/compliance", webhook_id=webhook_id
        )


@pytest.mark.parametrize(
    ("topic", "name"),
    [
        ("customers/data_request", "customers_data_request"),
        ("customers/redact", "customers_redact"),
        ("shop/redact", "shop_redact"),
    ],
)
def test_bad_hmac_on_compliance_topics_is_401(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, topic: str, name: str
) -> None:
    response = webhook_post(
        client, topic, fixture_payload(name), path="/webhooks/compliance", secret="wrong"
    )

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0
    assert ComplianceRequest.objects.count() == 0
    assert loyalty.calls == []


def test_data_request_stores_an_export_of_what_beam_holds(
    client: Client,
    shop: Shop,
    loyalty: LoyaltyCalls,
    stored: dict[str, WebhookDelivery],
    django_capture_on_commit_callbacks,
) -> None:
    response = post_compliance(
        client,
        "customers/data_request",
        "customers_data_request",
        "dr-1",
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == 200
    assert loyalty.of("customer_data_export") == [
        {
            "shop": WebhookDelivery.objects.get(webhook_id="dr-1").shop,
            "customer_id": CUSTOMER_ID,
            "email": EMAIL,
        }
    ]
    request = ComplianceRequest.objects.get()
    assert (request.shop_id, request.topic, request.customer_id, request.request_id) == (
        shop.pk,
        "customers/data_request",
        CUSTOMER_ID,
        "9999",
    )
    assert request.completed_at is not None
    result = request.result
    assert result["customer"] == {"id": CUSTOMER_ID, "email": EMAIL, "phone": "555-625-1199"}
    assert result["orders_requested"] == [299938, 280263, 220458]
    assert result["loyalty"] == {"member": {"points": 120}, "customer_id": CUSTOMER_ID}
    exported = {d["webhook_id"]: d for d in result["deliveries"]}
    assert sorted(exported) == ["c1", "o1", "o2", "r1"]
    assert exported["o1"]["payload"]["customer"]["email"] == EMAIL
    assert exported["r1"]["payload"]["transactions"] == [{"amount": "10.00"}]
    delivery = WebhookDelivery.objects.get(webhook_id="dr-1")
    assert delivery.status == "succeeded"
    assert delivery.note == f"export stored: compliance request {request.pk}"


def test_data_request_processed_twice_keeps_one_export(
    shop: Shop, loyalty: LoyaltyCalls, stored: dict[str, WebhookDelivery]
) -> None:
    delivery = inbox_record.delivery_record(
        shop=shop,
        webhook_id="dr-2",
        topic="customers/data_request",
        payload=fixture_payload("customers_data_request"),
    ).delivery

    inbox.delivery_process(delivery_id=delivery.pk)
    replay.deliveries_replay(delivery_ids=[delivery.pk])  # already succeeded: not replayed
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="received")
    inbox.delivery_process(delivery_id=delivery.pk)

    assert ComplianceRequest.objects.count() == 1
    assert len(loyalty.of("customer_data_export")) == 2


def test_redact_scrubs_the_customers_personal_data_but_keeps_amounts(
    client: Client,
    shop: Shop,
    loyalty: LoyaltyCalls,
    stored: dict[str, WebhookDelivery],
    django_capture_on_commit_callbacks,
) -> None:
    post_compliance(
        client,
        "customers/data_request",
        "customers_data_request",
        "dr-1",
        django_capture_on_commit_callbacks,
    )
    other_before = WebhookDelivery.objects.get(pk=stored["other"].pk).payload

    response = post_compliance(
        client, "customers/redact", "customers_redact", "rd-1", django_capture_on_commit_callbacks
    )

    assert response.status_code == 200
    assert [(c["customer_id"], c["email"]) for c in loyalty.of("customer_redact")] == [
        (CUSTOMER_ID, EMAIL)
    ]
    order = WebhookDelivery.objects.get(pk=stored["order"].pk).payload
    assert order["email"] is None
    assert order["contact_email"] is None
    assert order["phone"] is None
    assert order["note"] is None
    assert order["browser_ip"] is None
    assert order["customer"]["id"] == CUSTOMER_ID
    assert order["customer"]["email"] is None
    assert order["customer"]["first_name"] is None
    assert order["customer"]["default_address"]["name"] is None
    assert order["customer"]["default_address"]["address1"] is None
    assert order["customer"]["default_address"]["country_code"] == "CA"
    assert order["billing_address"]["last_name"] is None
    assert order["shipping_address"]["zip"] is None
    assert order["total_price"] == "414.95"
    assert order["name"] == "#1001"
    assert order["line_items"][0]["name"] == "Aviator sunglasses"
    named = WebhookDelivery.objects.get(pk=stored["named_order"].pk).payload
    assert named["email"] is None  # named in orders_to_redact
    customer = WebhookDelivery.objects.get(pk=stored["customer"].pk).payload
    assert (customer["id"], customer["email"], customer["first_name"]) == (CUSTOMER_ID, None, None)
    refund = WebhookDelivery.objects.get(pk=stored["refund"].pk).payload
    assert refund["transactions"] == [{"amount": "10.00"}]
    assert WebhookDelivery.objects.get(pk=stored["other"].pk).payload == other_before
    own = WebhookDelivery.objects.get(webhook_id="rd-1")
    assert own.status == "succeeded"
    assert own.payload["customer"] == {"id": CUSTOMER_ID, "email": None, "phone": None}
    assert WebhookDelivery.objects.get(webhook_id="dr-1").payload["customer"]["email"] is None
    export = ComplianceRequest.objects.get(webhook_id="dr-1")
    assert export.result == {"redacted": True, "by": "rd-1"}
    redact = ComplianceRequest.objects.get(webhook_id="rd-1")
    # o1, r1, o2, c1 plus the data-request and redact deliveries themselves
    assert redact.result == {"deliveries_scrubbed": 6, "orders_to_redact": [299938, 280263, 220458]}
    assert EMAIL not in str(list(WebhookDelivery.objects.values_list("payload", flat=True)))
    assert EMAIL not in str(list(ComplianceRequest.objects.values_list("payload", "result")))


def test_shop_redact_erases_the_shops_data_and_keeps_a_tombstone(
    client: Client,
    shop: Shop,
    loyalty: LoyaltyCalls,
    stored: dict[str, WebhookDelivery],
    django_capture_on_commit_callbacks,
) -> None:
    other_shop = ShopFactory()
    kept = inbox_record.delivery_record(
        shop=other_shop, webhook_id="elsewhere", topic="orders/paid", payload=order_payload(5)
    ).delivery
    SyncRun.objects.create(shop=shop, status="succeeded")
    SyncRun.objects.create(shop=other_shop, status="succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(client, "app/uninstalled", {"id": 1})

    response = post_compliance(
        client, "shop/redact", "shop_redact", "sr-1", django_capture_on_commit_callbacks
    )

    assert response.status_code == 200
    assert [c["shop"].pk for c in loyalty.of("shop_data_erase")] == [shop.pk]
    assert list(WebhookDelivery.objects.filter(shop=shop).values_list("webhook_id", "status")) == [
        ("sr-1", "succeeded")
    ]
    assert not SyncRun.objects.filter(shop=shop).exists()
    assert SyncRun.objects.filter(shop=other_shop).count() == 1
    assert WebhookDelivery.objects.filter(pk=kept.pk).exists()
    shop.refresh_from_db()
    assert shop.domain == SHOP_DOMAIN
    assert shop.uninstalled_at is not None
    assert (shop.access_token_encrypted, shop.refresh_token_encrypted, shop.name) == ("", "", "")
    tombstone = ComplianceRequest.objects.get(shop=shop)
    assert tombstone.topic == "shop/redact"
    assert tombstone.result == {
        "deliveries_deleted": 6,  # the five stored + app/uninstalled
        "sync_runs_deleted": 1,
        "compliance_requests_deleted": 0,
    }


def test_shop_redact_for_a_shop_beam_still_thinks_installed_uninstalls_it_first(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    response = post_compliance(
        client, "shop/redact", "shop_redact", "sr-2", django_capture_on_commit_callbacks
    )

    assert response.status_code == 200
    shop.refresh_from_db()
    assert shop.uninstalled_at is not None
    assert loyalty.names() == ["shop_data_erase"]


def test_shop_redact_older_than_a_reinstall_is_ignored(
    client: Client, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    shop = ShopFactory(domain=SHOP_DOMAIN, installed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(
            client,
            "shop/redact",
            fixture_payload("shop_redact"),
            path="/webhooks/compliance",
            webhook_id="sr-old",
            triggered_at="2020-01-01T00:00:00Z",
        )

    shop.refresh_from_db()
    assert shop.is_active
    assert loyalty.calls == []
    delivery = WebhookDelivery.objects.get(webhook_id="sr-old")
    assert (delivery.status, delivery.note) == ("succeeded", "stale: the shop reinstalled since")


def test_compliance_payload_without_customer_id_is_parked(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    payload = fixture_payload("customers_redact")
    payload["customer"] = {"email": EMAIL}
    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(
            client, "customers/redact", payload, path="/webhooks/compliance", webhook_id="bad"
        )

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(webhook_id="bad")
    assert (delivery.status, delivery.attempts) == ("unprocessable", 1)
    assert delivery.last_error == "the payload names no customer id"
    assert loyalty.calls == []


def test_payload_scrub_keeps_shape_ids_and_amounts() -> None:
    payload = {
        "id": 1,
        "name": "#1001",
        "email": "a@b.c",
        "note_attributes": [{"name": "gift", "value": "for Ann"}],
        "customer": {"id": 2, "name": "Ann", "addresses": [{"name": "Ann", "zip": "1"}]},
        "line_items": [{"name": "Hat", "price": "1.00"}],
    }

    assert payload_scrub(payload) == {
        "id": 1,
        "name": "#1001",
        "email": None,
        "note_attributes": [],
        "customer": {"id": 2, "name": None, "addresses": [{"name": None, "zip": None}]},
        "line_items": [{"name": "Hat", "price": "1.00"}],
    }


@pytest.mark.parametrize("asked", ["John@Example.COM", " JOHN@example.com "])
def test_a_request_email_with_capitals_finds_the_customers_reviews_and_guest_orders(
    client: Client,
    shop: Shop,
    loyalty: LoyaltyCalls,
    django_capture_on_commit_callbacks,
    asked: str,
) -> None:
    """Review deliveries are stored with the email lower-cased, a platform order with the
    email as the shopper typed it; the request's email is compared lower-cased to both."""

    def add(topic: str, payload: dict, key: str) -> WebhookDelivery:
        return inbox_record.delivery_record(
            shop=shop, webhook_id=key, topic=topic, payload=payload
        ).delivery

    by_email = {"id": None, "email": EMAIL}
    add(inbox.REVIEW_TOPIC, {"review_id": "r-1", "customer": by_email}, "rv1")
    add(inbox.REVIEW_TOPIC, {"review_id": "r-2", "customer": {"email": "Zed@example.com"}}, "rv2")
    guest = order_payload(555, email="John@Example.com")
    guest["customer"] = None
    add("orders/paid", guest, "o-guest")
    payload = fixture_payload("customers_data_request")
    payload["customer"].update(id=OTHER_CUSTOMER, email=asked)
    payload["orders_requested"] = []

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(
            client, "customers/data_request", payload, path="/webhooks/compliance", webhook_id="d"
        )

    assert response.status_code == 200
    exported = ComplianceRequest.objects.get().result["deliveries"]
    assert sorted(d["webhook_id"] for d in exported) == ["o-guest", "rv1"]

    with django_capture_on_commit_callbacks(execute=True):
        payload = fixture_payload("customers_redact")
        payload["customer"].update(id=OTHER_CUSTOMER, email=asked)
        payload["orders_to_redact"] = []
        webhook_post(client, "customers/redact", payload, path="/webhooks/compliance")
    assert WebhookDelivery.objects.get(webhook_id="rv1").payload["customer"]["email"] is None
    assert WebhookDelivery.objects.get(webhook_id="o-guest").payload["email"] is None
    assert WebhookDelivery.objects.get(webhook_id="rv2").payload["customer"]["email"] == (
        "Zed@example.com"
    )
