"""The webhook endpoints: verify → record → 200 → process, through HTTP with signed bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from core.numbers import locale_of, money_format
from merchants import inbox
from merchants.errors import ShopNotInstalled
from merchants.models import Shop, WebhookDelivery
from merchants.services import shop_access_token, shop_details_apply
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    TRIGGERED_AT,
    LoyaltyCalls,
    ShopFactory,
    delivery_of,
    fixture_payload,
    loyalty_calls_install,
    order_payload,
    webhook_headers,
    webhook_post,
)

pytestmark = pytest.mark.django_db

ORDER_ID = 9_007_199_254_740_993  # 2**53 + 1: a float would round it
ENDPOINTS = [(topic, f"/webhooks/{topic}") for topic in inbox.WEBHOOK_TOPICS] + [
    (topic, "/webhooks/compliance") for topic in sorted(inbox.COMPLIANCE_TOPICS)
]


@pytest.fixture
def shop() -> Shop:
    return ShopFactory(domain=SHOP_DOMAIN)


@pytest.fixture
def loyalty(monkeypatch: pytest.MonkeyPatch) -> LoyaltyCalls:
    return loyalty_calls_install(monkeypatch)


# --- verification ------------------------------------------------------------------------


@pytest.mark.parametrize(("topic", "path"), ENDPOINTS)
def test_bad_hmac_is_401_on_every_endpoint(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, topic: str, path: str
) -> None:
    response = webhook_post(client, topic, {"id": 1}, path=path, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert WebhookDelivery.objects.count() == 0
    assert loyalty.calls == []


@pytest.mark.parametrize("path", ["/webhooks/orders/paid", "/webhooks/compliance"])
def test_missing_hmac_header_is_401(client: Client, shop: Shop, path: str) -> None:
    topic = "orders/paid" if "orders" in path else "shop/redact"
    response = webhook_post(client, topic, {"id": 1}, path=path, X_Shopify_Hmac_Sha256=None)

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_body_tampered_after_signing_is_401(client: Client, shop: Shop) -> None:
    body = json.dumps(order_payload(ORDER_ID)).encode()
    headers = webhook_headers("orders/paid", body)

    response = client.post(
        "/webhooks/orders/paid",
        data=body.replace(b"414.95", b"999.99"),
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_previous_secret_is_accepted_during_rotation(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, settings
) -> None:
    settings.SHOPIFY_API_SECRET = "new-secret"
    settings.SHOPIFY_API_SECRET_PREVIOUS = "old-secret"

    old = webhook_post(client, "orders/paid", order_payload(1), secret="old-secret")
    new = webhook_post(client, "orders/paid", order_payload(2), secret="new-secret")
    other = webhook_post(client, "orders/paid", order_payload(3), secret="older-secret")

    assert (old.status_code, new.status_code, other.status_code) == (200, 200, 401)
    assert sorted(WebhookDelivery.objects.values_list("resource_id", flat=True)) == [1, 2]


def test_get_is_405(client: Client, shop: Shop) -> None:
    response = client.get("/webhooks/orders/paid")

    assert response.status_code == 405
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_topic_is_a_json_404(client: Client, shop: Shop, method: str) -> None:
    if method == "post":
        response = webhook_post(client, "orders/create", order_payload(1))
    else:
        response = client.get("/webhooks/orders/create")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "unknown_topic",
        "detail": "No webhook endpoint for 'orders/create'.",
    }
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(
    "missing", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_missing_required_header_is_400(client: Client, shop: Shop, missing: str) -> None:
    response = webhook_post(client, "orders/paid", order_payload(1), **{missing: None})

    assert response.status_code == 400
    assert response.json() == {"error": "missing_header", "detail": f"{missing} is required."}
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(
    "domain", ["evil.com", "beam-shop.myshopify.com.evil.com", "-x.myshopify.com", "a b"]
)
def test_invalid_shop_domain_is_400(client: Client, shop: Shop, domain: str) -> None:
    response = webhook_post(client, "orders/paid", order_payload(1), shop=domain)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_shop"


@pytest.mark.parametrize(
    ("path", "topic"),
    [
        ("/webhooks/orders/paid", "orders/cancelled"),
        ("/webhooks/orders/paid", "customers/redact"),
        ("/webhooks/compliance", "orders/paid"),
        ("/webhooks/compliance", "app/uninstalled"),
    ],
)
def test_topic_not_served_by_endpoint_is_400(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, path: str, topic: str
) -> None:
    response = webhook_post(client, topic, order_payload(1), path=path)

    assert response.status_code == 400
    assert response.json()["error"] == "topic_mismatch"
    assert WebhookDelivery.objects.count() == 0
    assert loyalty.calls == []


def test_webhook_id_too_long_is_400(client: Client, shop: Shop) -> None:
    response = webhook_post(client, "orders/paid", order_payload(1), webhook_id="w" * 256)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_header"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b"null", b"", b'{"a": NaN}', b'{"a": 1e999}', b"\xff\xfe"],
)
def test_body_not_a_json_object_is_400(client: Client, shop: Shop, body: bytes) -> None:
    response = webhook_post(client, "orders/paid", body=body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert WebhookDelivery.objects.count() == 0


def test_deeply_nested_body_is_400_not_500(client: Client, shop: Shop) -> None:
    response = webhook_post(client, "orders/paid", body=b'{"a":' + b"[" * 100_000)

    assert response.status_code == 400


def test_oversize_body_is_413(client: Client, shop: Shop, settings) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 200
    payload = {"id": 1, "note": "x" * 300}

    response = webhook_post(client, "orders/paid", payload)

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert WebhookDelivery.objects.count() == 0


def test_body_at_the_limit_is_accepted(client: Client, shop: Shop, loyalty, settings) -> None:
    body = json.dumps({"id": 1, "note": "x" * 100}).encode()
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)

    assert webhook_post(client, "orders/paid", body=body).status_code == 200


def test_body_shop_domain_must_match_the_header(client: Client, shop: Shop) -> None:
    payload = fixture_payload("shop_redact", shop="other-shop.myshopify.com")

    response = webhook_post(client, "shop/redact", payload, path="/webhooks/compliance")

    assert response.status_code == 400
    assert response.json()["error"] == "shop_mismatch"


# --- shops ---------------------------------------------------------------------------------


def test_unknown_shop_is_404(client: Client, db: None) -> None:
    response = webhook_post(client, "orders/paid", order_payload(1), shop="nobody.myshopify.com")

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_shop"
    assert WebhookDelivery.objects.count() == 0


def test_compliance_for_unknown_shop_is_acknowledged_with_nothing_stored(
    client: Client, db: None
) -> None:
    response = webhook_post(
        client,
        "shop/redact",
        fixture_payload("shop_redact", shop="nobody.myshopify.com"),
        path="/webhooks/compliance",
        shop="nobody.myshopify.com",
    )

    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 0


def test_uninstalled_shop_rejects_orders_but_honours_compliance(
    client: Client, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    ShopFactory(domain=SHOP_DOMAIN, uninstalled_at=timezone.now(), access_token="")

    rejected = webhook_post(client, "orders/paid", order_payload(1))
    with django_capture_on_commit_callbacks(execute=True):
        accepted = webhook_post(
            client,
            "customers/redact",
            fixture_payload("customers_redact"),
            path="/webhooks/compliance",
        )

    assert rejected.status_code == 403
    assert rejected.json()["error"] == "shop_not_installed"
    assert accepted.status_code == 200
    assert list(WebhookDelivery.objects.values_list("topic", "status")) == [
        ("customers/redact", "succeeded")
    ]
    assert loyalty.names() == ["customer_redact"]


# --- recording -------------------------------------------------------------------------------


def test_delivery_is_recorded_with_headers_and_exact_ids_then_processed(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    payload = order_payload(ORDER_ID, customer_id=2**63 - 1)
    body = json.dumps(payload).encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(
            client, "orders/paid", body=body, webhook_id="wh-1", triggered_at=TRIGGERED_AT
        )

    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": False}
    delivery = delivery_of("wh-1")
    assert delivery.shop_id == shop.pk
    assert delivery.topic == "orders/paid"
    assert delivery.source == "webhook"
    assert delivery.event_id == "evt-orders-paid"
    assert delivery.api_version == "2026-10"
    assert delivery.triggered_at == datetime(2026, 11, 20, 10, 15, 30, 123456, tzinfo=UTC)
    assert delivery.resource_id == ORDER_ID
    assert delivery.payload["id"] == ORDER_ID
    assert delivery.payload["customer"]["id"] == 2**63 - 1
    assert delivery.payload == payload
    assert delivery.headers["X-Shopify-Topic"] == "orders/paid"
    assert delivery.headers["X-Shopify-Webhook-Id"] == "wh-1"
    assert "X-Shopify-Hmac-Sha256" not in delivery.headers
    assert delivery.status == "succeeded"
    assert delivery.attempts == 0
    assert delivery.processed_at is not None
    assert loyalty.calls == [
        (
            "order_webhook_process",
            {
                "shop": delivery.shop,
                "topic": "orders/paid",
                "payload": payload,
                "triggered_at": delivery.triggered_at,
            },
        )
    ]


def test_bad_triggered_at_is_tolerated(client: Client, shop: Shop, loyalty) -> None:
    response = webhook_post(
        client, "orders/paid", order_payload(1), webhook_id="wh-t", triggered_at="yesterday"
    )

    assert response.status_code == 200
    assert delivery_of("wh-t").triggered_at is None


def test_duplicate_webhook_id_is_200_stored_once_processed_once(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = webhook_post(client, "orders/paid", order_payload(1), webhook_id="wh-dup")
        second = webhook_post(client, "orders/paid", order_payload(1), webhook_id="wh-dup")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"ok": True, "duplicate": True}
    assert WebhookDelivery.objects.filter(webhook_id="wh-dup").count() == 1
    assert loyalty.names() == ["order_webhook_process"]


def test_view_costs_a_shop_lookup_and_one_insert(
    client: Client,
    shop: Shop,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
) -> None:
    body = json.dumps(order_payload(1)).encode()
    headers = webhook_headers("orders/paid", body)

    # SELECT shop; SAVEPOINT + INSERT + RELEASE (the savepoint exists because the test runs
    # inside a transaction; in production the INSERT is a single autocommit statement).
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        django_assert_num_queries(4),
    ):
        response = client.post(
            "/webhooks/orders/paid", data=body, content_type="application/json", headers=headers
        )

    assert response.status_code == 200
    assert len(callbacks) == 1
    assert WebhookDelivery.objects.get().status == "received"


def test_processing_waits_for_commit(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        webhook_post(client, "orders/paid", order_payload(1), webhook_id="wh-c")
        assert delivery_of("wh-c").status == "received"
        assert loyalty.calls == []

    for callback in callbacks:
        callback()

    assert delivery_of("wh-c").status == "succeeded"
    assert loyalty.names() == ["order_webhook_process"]


def test_without_eager_celery_drain_wake_ups_are_coalesced(
    client: Client,
    shop: Shop,
    loyalty: LoyaltyCalls,
    settings,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    from merchants import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    published: list[int] = []
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: published.append(1))

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            assert webhook_post(client, "orders/paid", order_payload(n + 1)).status_code == 200

    assert published == [1]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"received"}
    assert loyalty.calls == []

    assert tasks.webhooks_drain() == 3  # what the worker runs

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(loyalty.of("order_webhook_process")) == 3


@pytest.mark.parametrize(
    ("topic", "entry_point", "expected_kwargs"),
    [
        ("orders/fulfilled", "order_webhook_process", {"topic": "orders/fulfilled"}),
        ("orders/cancelled", "order_webhook_process", {"topic": "orders/cancelled"}),
        ("refunds/create", "refund_webhook_process", {}),
        ("customers/create", "customer_webhook_process", {"topic": "customers/create"}),
        ("customers/update", "customer_webhook_process", {"topic": "customers/update"}),
        ("customers/delete", "customer_webhook_process", {"topic": "customers/delete"}),
        ("customers/merge", "customer_webhook_process", {"topic": "customers/merge"}),
    ],
)
def test_each_topic_dispatches_to_its_loyalty_entry_point(
    client: Client,
    shop: Shop,
    loyalty: LoyaltyCalls,
    django_capture_on_commit_callbacks,
    topic: str,
    entry_point: str,
    expected_kwargs: dict,
) -> None:
    payload = {"id": 42, "order_id": 41}

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(client, topic, payload, webhook_id="wh-topic")

    assert response.status_code == 200
    assert loyalty.names() == [entry_point]
    kwargs = loyalty.of(entry_point)[0]
    assert kwargs["payload"] == payload
    assert kwargs["shop"].pk == shop.pk
    for key, value in expected_kwargs.items():
        assert kwargs[key] == value
    assert delivery_of("wh-topic").status == "succeeded"


def test_shop_update_copies_shop_details(
    client: Client, shop: Shop, django_capture_on_commit_callbacks
) -> None:
    payload = {
        "id": 548380009,
        "name": "Renamed Shop",
        "email": "owner@example.com",
        "currency": "CAD",
        "iana_timezone": "America/Toronto",
        "primary_locale": "fr-CA",
        "myshopify_domain": SHOP_DOMAIN,
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(client, "shop/update", payload)

    assert response.status_code == 200
    shop.refresh_from_db()
    assert (shop.name, shop.email, shop.currency, shop.iana_timezone, shop.primary_locale) == (
        "Renamed Shop",
        "owner@example.com",
        "CAD",
        "America/Toronto",
        "fr-CA",
    )
    # the admin's figures follow the shop's language and currency
    assert money_format(Decimal("1234.5"), shop.currency, locale_of(shop)) == "1\xa0234,50\xa0$"


def test_shop_update_ignores_a_locale_that_is_not_one(shop: Shop) -> None:
    assert shop_details_apply(shop=shop, details={"primary_locale": "<script>"}) == []
    assert shop_details_apply(shop=shop, details={"primary_locale": "de"}) == ["primary_locale"]


def test_stale_shop_update_does_not_overwrite_a_newer_one(
    client: Client, shop: Shop, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(client, "shop/update", {"name": "Newer"}, triggered_at="2026-11-20T12:00:00Z")
        webhook_post(
            client,
            "shop/update",
            {"name": "Older", "iana_timezone": "Not/AZone"},
            triggered_at="2026-11-20T11:00:00Z",
        )

    shop.refresh_from_db()
    assert shop.name == "Newer"
    assert shop.iana_timezone == "UTC"
    older = WebhookDelivery.objects.get(payload__name="Older")
    assert (older.status, older.note) == ("succeeded", "stale: a newer shop/update was applied")


# --- app/uninstalled ---------------------------------------------------------------------------


def test_app_uninstalled_deactivates_at_once_and_stops_api_calls(
    client: Client, shop: Shop, loyalty: LoyaltyCalls
) -> None:
    assert shop_access_token(shop=shop) == "x"

    # No on-commit callbacks run here: the uninstall must not wait for processing.
    response = webhook_post(client, "app/uninstalled", fixture_payload("app_uninstalled"))

    assert response.status_code == 200
    shop.refresh_from_db()
    assert shop.uninstalled_at is not None
    assert shop.access_token_encrypted == ""
    with pytest.raises(ShopNotInstalled):
        shop_access_token(shop=shop)
    assert WebhookDelivery.objects.get().topic == "app/uninstalled"
    later = webhook_post(client, "orders/paid", order_payload(1))
    assert later.status_code == 403
    again = webhook_post(client, "app/uninstalled", fixture_payload("app_uninstalled"))
    assert again.status_code == 200
    assert WebhookDelivery.objects.count() == 2
    assert loyalty.calls == []


def test_app_uninstalled_older_than_a_reinstall_is_ignored(
    client: Client, django_capture_on_commit_callbacks
) -> None:
    shop = ShopFactory(domain=SHOP_DOMAIN, installed_at=timezone.now())
    stale = (timezone.now() - timedelta(hours=2)).isoformat()

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(
            client, "app/uninstalled", fixture_payload("app_uninstalled"), triggered_at=stale
        )

    assert response.status_code == 200
    shop.refresh_from_db()
    assert shop.uninstalled_at is None
    assert shop_access_token(shop=shop) == "x"
    assert WebhookDelivery.objects.get().status == "succeeded"
