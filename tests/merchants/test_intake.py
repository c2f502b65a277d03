"""The webhook intake's fast path (``merchants.intake``): the WSGI application in front of
Django stores order/refund/customer deliveries with group commits and answers exactly as the
Django view does; everything else still reaches Django."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_started
from django.core.wsgi import get_wsgi_application
from django.db import DataError, connection
from django.test import Client

from loyalty.models import LoyaltyProgram, Member
from merchants import inbox, intake
from merchants.models import Shop, WebhookDelivery
from merchants.shopify import webhooks
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    ShopFactory,
    order_payload,
    webhook_headers,
)

pytestmark = pytest.mark.django_db(transaction=True)  # the committer has its own connection


@pytest.fixture(autouse=True)
def _fresh_shop_cache() -> Iterator[None]:
    webhooks._shop_cache.clear()
    yield
    webhooks._shop_cache.clear()


@pytest.fixture
def app() -> intake.IntakeApp:
    return intake.IntakeApp(get_wsgi_application())


@pytest.fixture
def django_requests() -> Iterator[list[str]]:
    """Paths of the requests that went through Django's request cycle."""
    seen: list[str] = []

    def receiver(sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        seen.append(environ.get("PATH_INFO", ""))

    request_started.connect(receiver, dispatch_uid="test-intake-requests")
    yield seen
    request_started.disconnect(dispatch_uid="test-intake-requests")


@pytest.fixture
def shop() -> Shop:
    return ShopFactory(domain=SHOP_DOMAIN)


def call(
    app: intake.IntakeApp,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    method: str = "POST",
    host: str = "beam.test",
) -> tuple[int, dict[str, str], Any]:
    """One request through the WSGI application, as gunicorn would make it."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_HOST": host,
            "wsgi.input": io.BytesIO(body),
        }
    )
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list, exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    chunks = app(environ, start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    is_json = answer["headers"].get("Content-Type", "").startswith("application/json")
    return answer["status"], answer["headers"], json.loads(data) if is_json else data


def signed(topic: str, payload: dict[str, Any], **extra: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, webhook_headers(topic, body, **extra)


def test_a_delivery_is_stored_and_a_repeat_is_a_duplicate(
    app: intake.IntakeApp, shop: Shop, django_requests: list[str]
) -> None:
    LoyaltyProgram.objects.create(shop=shop, enabled=False)  # stored, processed as a no-op
    body, headers = signed("orders/paid", order_payload(4242), webhook_id="wh-1")

    first = call(app, "/webhooks/orders/paid", body, headers)
    again = call(app, "/webhooks/orders/paid", body, headers)

    assert first[0] == 200 and first[2] == {"ok": True, "duplicate": False}
    assert again[0] == 200 and again[2] == {"ok": True, "duplicate": True}
    assert first[1]["Content-Type"] == "application/json"
    row = WebhookDelivery.objects.get(webhook_id="wh-1")
    assert (row.shop_id, row.topic, row.resource_id) == (shop.pk, "orders/paid", 4242)
    assert row.payload == json.loads(body)  # the body as sent, as jsonb
    assert row.headers["X-Shopify-Topic"] == "orders/paid"
    assert "X-Shopify-Hmac-Sha256" not in row.headers
    assert row.event_id == "evt-orders-paid" and row.triggered_at is not None
    assert row.source == WebhookDelivery.Source.WEBHOOK
    assert django_requests == []  # never went through Django's request cycle


def test_the_stored_order_is_credited(app: intake.IntakeApp, shop: Shop) -> None:
    """Eager Celery (tests): the stored delivery is processed once it is committed."""
    LoyaltyProgram.objects.create(shop=shop)
    body, headers = signed("orders/paid", order_payload(77, customer_id=901))

    assert call(app, "/webhooks/orders/paid", body, headers)[0] == 200

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert Member.objects.get(shop=shop, customer_id=901).balance > 0


BAD_CASES = {
    "bad signature": ("orders/paid", {"X-Shopify-Hmac-Sha256": "bm9wZQ=="}, None),
    "no topic": ("orders/paid", {"X-Shopify-Topic": None}, None),
    "other topic": ("orders/paid", {"X-Shopify-Topic": "refunds/create"}, None),
    "bad domain": ("orders/paid", {"X-Shopify-Shop-Domain": "evil.example.com"}, None),
    "no webhook id": ("orders/paid", {"X-Shopify-Webhook-Id": ""}, None),
    "unknown shop": ("orders/paid", {"X-Shopify-Shop-Domain": "nobody.myshopify.com"}, None),
    "not an object": ("customers/create", {}, b"[1, 2]"),
    "not json": ("customers/create", {}, b"{nope"),
    "NaN": ("customers/create", {}, b'{"id": NaN}'),
    "shop mismatch": ("shop/update", {}, b'{"myshopify_domain": "other.myshopify.com"}'),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_refusals_answer_exactly_as_the_django_view(
    app: intake.IntakeApp, shop: Shop, case: str, django_requests: list[str]
) -> None:
    topic, extra, raw = BAD_CASES[case]
    body = raw if raw is not None else json.dumps(order_payload(1)).encode()
    headers = webhook_headers(topic, body, **extra)
    path = f"/webhooks/{topic}"

    fast = call(app, path, body, headers)
    assert django_requests == []
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    django = Client().post(path, body, content_type="application/json", **meta)

    assert fast[0] == django.status_code >= 400
    assert fast[2] == django.json()
    assert WebhookDelivery.objects.count() == 0


def test_an_uninstalled_shop_is_refused_alike(app: intake.IntakeApp, shop: Shop) -> None:
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=shop.installed_at)
    body, headers = signed("orders/paid", order_payload(5))

    status, _, data = call(app, "/webhooks/orders/paid", body, headers)

    assert (status, data["error"]) == (403, "shop_not_installed")
    assert WebhookDelivery.objects.count() == 0


def test_an_oversized_body_is_refused_before_it_is_read(
    app: intake.IntakeApp, shop: Shop, settings
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    body, headers = signed("orders/paid", order_payload(5))

    status, _, data = call(app, "/webhooks/orders/paid", body, headers)

    assert (status, data["error"]) == (413, "payload_too_large")


def test_values_jsonb_cannot_hold_get_400_and_do_not_sink_the_batch(shop: Shop) -> None:
    """A batch with one delivery PostgreSQL refuses (a NUL character): that one gets the
    error, the others of the batch are stored."""
    good = [
        webhooks.delivery_check(*signed_parts("customers/create", {"id": n}), topics=CUSTOMERS)
        for n in (1, 2)
    ]
    bad_body = b'{"id": 3, "note": "\\u0000"}'
    bad = webhooks.delivery_check(
        bad_body, header_map(webhook_headers("customers/create", bad_body)), topics=CUSTOMERS
    )
    assert isinstance(bad, webhooks.Accepted)
    items = [intake._Pending(good[0]), intake._Pending(bad), intake._Pending(good[1])]
    committer = intake.GroupCommitter()

    committer._commit(items)

    assert isinstance(items[1].error, DataError)
    assert items[0].delivery_id and items[2].delivery_id and items[1].delivery_id is None
    assert WebhookDelivery.objects.count() == 2


CUSTOMERS = frozenset({"customers/create"})


def header_map(headers: dict[str, str]) -> Any:
    from django.http import HttpHeaders

    return HttpHeaders({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})


def signed_parts(topic: str, payload: dict[str, Any]) -> tuple[bytes, Any]:
    body, headers = signed(topic, payload)
    return body, header_map(headers)


def test_the_bad_delivery_gets_400_through_the_app(app: intake.IntakeApp, shop: Shop) -> None:
    body = b'{"id": 3, "note": "\\u0000"}'
    status, _, data = call(
        app, "/webhooks/customers/create", body, webhook_headers("customers/create", body)
    )
    assert (status, data["error"]) == (400, "invalid_payload")


def test_concurrent_deliveries_are_each_stored_once(app: intake.IntakeApp, shop: Shop) -> None:
    """12 threads, 60 requests, 30 webhook ids each sent twice: every id stored once and
    answered as new exactly once."""
    LoyaltyProgram.objects.create(shop=shop, enabled=False)
    requests = [signed("customers/create", {"id": n}, webhook_id=f"c-{n}") for n in range(30)]
    requests = requests + requests
    answers: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def worker(part: list[tuple[bytes, dict[str, str]]]) -> None:
        try:
            for body, headers in part:
                status, _, data = call(app, "/webhooks/customers/create", body, headers)
                with lock:
                    answers.append((headers["X-Shopify-Webhook-Id"], (status, data)))
        finally:
            connection.close()  # a leader commits on its own thread's connection

    threads = [threading.Thread(target=worker, args=(requests[i::12],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(status == 200 for _, (status, _) in answers)
    new = sorted(wid for wid, (_, data) in answers if not data["duplicate"])
    assert new == sorted(f"c-{n}" for n in range(30))
    assert WebhookDelivery.objects.count() == 30


def test_other_requests_go_to_django(
    app: intake.IntakeApp, shop: Shop, django_requests: list[str]
) -> None:
    body, headers = signed("app/uninstalled", {"id": 1, "myshopify_domain": SHOP_DOMAIN})
    status, _, data = call(app, "/webhooks/app/uninstalled", body, headers)
    assert (status, data) == (200, {"ok": True, "duplicate": False})
    shop.refresh_from_db()
    assert not shop.is_active  # the Django view's own work: API calls stop at once

    body, headers = signed("orders/paid", order_payload(9))
    status, response_headers, data = call(app, "/webhooks/orders/paid", b"", headers, method="GET")
    assert status == 405 and response_headers["Allow"] == "POST"
    assert django_requests == ["/webhooks/app/uninstalled", "/webhooks/orders/paid"]


def test_a_host_outside_allowed_hosts_is_left_to_django(
    app: intake.IntakeApp, shop: Shop, settings, django_requests: list[str]
) -> None:
    settings.ALLOWED_HOSTS = ["beam.test"]
    body, headers = signed("orders/paid", order_payload(11))

    status, _, _ = call(app, "/webhooks/orders/paid", body, headers, host="evil.test")

    assert status == 400 and django_requests == ["/webhooks/orders/paid"]
    assert WebhookDelivery.objects.count() == 0


def test_an_unavailable_database_answers_503_and_stores_nothing(
    app: intake.IntakeApp, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform retries a 503; nothing is acknowledged that is not stored."""

    def down(items: list[intake._Pending]) -> None:
        raise intake.IntakeUnavailable("connection refused")

    monkeypatch.setattr(intake, "_insert", down)
    body, headers = signed("orders/paid", order_payload(12))

    status, _, data = call(app, "/webhooks/orders/paid", body, headers)

    assert (status, data["error"]) == (503, "unavailable")
    assert not inbox.WebhookDelivery.objects.exists()


def test_the_fast_insert_writes_what_the_django_path_writes(shop: Shop) -> None:
    """The prepared multi-row insert sets the columns it does not send to the model's
    initial values, and a payload of several kilobytes is stored LZ4-compressed where the
    server has LZ4 (migration 0004)."""
    payload = order_payload(5150) | {"note": "gift " * 2000}  # compressible, over the TOAST limit
    accepted = [
        webhooks.delivery_check(*signed_parts("orders/paid", payload), topics=PAID),
        webhooks.delivery_check(*signed_parts("orders/paid", order_payload(5151)), topics=PAID),
    ]
    items = [intake._Pending(a) for a in accepted]

    intake._insert(items)

    rows = WebhookDelivery.objects.filter(pk__in=[i.delivery_id for i in items]).order_by("pk")
    assert [r.resource_id for r in rows] == [5150, 5151]
    for row in rows:
        assert row.status == WebhookDelivery.Status.RECEIVED
        assert row.source == WebhookDelivery.Source.WEBHOOK
        assert (row.attempts, row.next_attempt_at, row.processed_at) == (0, None, None)
        assert (row.last_error, row.note) == ("", "")
        assert row.received_at is not None and row.shop_id == shop.pk
    assert rows[0].payload == payload
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        expected = "lz4" if cursor.fetchone()[0] else "pglz"
        cursor.execute(
            "SELECT pg_column_compression(payload) FROM merchants_webhookdelivery WHERE id = %s",
            [items[0].delivery_id],
        )
        assert cursor.fetchone()[0] == expected


PAID = frozenset({"orders/paid"})


def test_environ_headers_read_as_djangos_http_headers() -> None:
    from django.http import HttpHeaders

    environ = {
        "HTTP_X_SHOPIFY_TOPIC": "orders/paid",
        "HTTP_X_SHOPIFY_API_VERSION": "2026-10",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "12",
        "REQUEST_METHOD": "POST",
        "wsgi.input": io.BytesIO(b""),
    }
    ours = intake._EnvironHeaders(environ)

    assert dict(ours) == dict(HttpHeaders(environ))
    assert len(ours) == 4
    assert ours.get("x-shopify-topic") == ours["X-Shopify-Topic"] == "orders/paid"
    assert ours.get("Content-Type") == "application/json"
    assert ours.get("X-Shopify-Hmac-Sha256") is None
