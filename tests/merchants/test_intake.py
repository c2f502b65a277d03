"""The webhook intake (``merchants.intake``): the WSGI application in front of Django reads
webhook bodies with a deadline, stores order/refund/customer deliveries with the Django view's
own functions and answers exactly as it does; everything else still reaches Django."""

from __future__ import annotations

import dataclasses
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_started
from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.test import Client, override_settings

from loyalty.models import LoyaltyProgram, Member
from merchants import intake
from merchants.models import Shop, WebhookDelivery
from merchants.shopify import webhooks
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    ShopFactory,
    order_payload,
    webhook_headers,
)

POSTGRESQL = connection.vendor == "postgresql"
only_postgresql = pytest.mark.skipif(
    not POSTGRESQL, reason="SQLite stores what PostgreSQL refuses and has no statement_timeout"
)

pytestmark = pytest.mark.django_db(transaction=True)  # requests run on their own threads


@pytest.fixture(autouse=True)
def _fresh_shop_cache() -> Iterator[None]:
    webhooks._shop_cache.clear()
    yield
    webhooks._shop_cache.clear()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[intake.IntakeApp]:
    """The intake with a writer of its own (a new thread, a new connection per test)."""
    writer = intake.Writer()
    monkeypatch.setattr(intake, "writer", writer)
    yield intake.IntakeApp(get_wsgi_application())
    writer.stop()


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
    environ_extra: dict[str, Any] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request through the WSGI application, as gunicorn would make it
    (``environ_extra``: keys to set, or to remove where the value is ``None``)."""
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
    for key, value in (environ_extra or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
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
    unread = io.BytesIO(body)

    status, _, data = call(
        app, "/webhooks/orders/paid", body, headers, environ_extra={"wsgi.input": unread}
    )

    assert (status, data["error"]) == (413, "payload_too_large")
    assert unread.tell() == 0
    assert WebhookDelivery.objects.count() == 0


def chunked(body: bytes) -> dict[str, Any]:
    """The environ of a chunked request as gunicorn passes it: no length, the body decoded."""
    return {
        "CONTENT_LENGTH": None,
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }


def test_a_chunked_body_is_read_and_stored(app: intake.IntakeApp, shop: Shop) -> None:
    LoyaltyProgram.objects.create(shop=shop, enabled=False)
    body, headers = signed("orders/paid", order_payload(31), webhook_id="wh-chunked")

    status, _, data = call(app, "/webhooks/orders/paid", b"", headers, environ_extra=chunked(body))

    assert (status, data) == (200, {"ok": True, "duplicate": False})
    assert WebhookDelivery.objects.get(webhook_id="wh-chunked").resource_id == 31


def test_a_chunked_body_over_the_cap_is_413(app: intake.IntakeApp, shop: Shop, settings) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    body, headers = signed("orders/paid", order_payload(32))

    status, _, data = call(app, "/webhooks/orders/paid", b"", headers, environ_extra=chunked(body))

    assert (status, data["error"]) == (413, "payload_too_large")
    assert WebhookDelivery.objects.count() == 0


def test_a_body_shorter_than_announced_is_400(app: intake.IntakeApp, shop: Shop) -> None:
    body, headers = signed("orders/paid", order_payload(33))

    status, _, data = call(
        app,
        "/webhooks/orders/paid",
        body,
        headers,
        environ_extra={"wsgi.input": io.BytesIO(body[:10])},  # the client closed early
    )

    assert (status, data["error"]) == (400, "incomplete_body")
    assert WebhookDelivery.objects.count() == 0


@pytest.fixture
def stalled_client() -> Iterator[dict[str, Any]]:
    """A client that sent 2 bytes of its body and stalls: the server's side of a socket pair
    as gunicorn hands it to the application (``gunicorn.socket``, ``wsgi.input``)."""
    server, client = socket.socketpair()
    client.sendall(b"{}")
    reader = server.makefile("rb", buffering=0)
    yield {"gunicorn.socket": server, "wsgi.input": reader, "CONTENT_LENGTH": "100"}
    reader.close()
    server.close()
    client.close()


def test_a_stalled_body_is_answered_408_at_its_deadline(
    app: intake.IntakeApp,
    shop: Shop,
    stalled_client: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client that stops sending costs the thread BODY_SECONDS, not forever; the server's
    side stops reading it (the server would otherwise drain the rest on this thread)."""
    monkeypatch.setattr(intake, "BODY_SECONDS", 0.3)
    environ = stalled_client
    _, headers = signed("orders/paid", order_payload(34))

    started = time.monotonic()
    status, _, data = call(app, "/webhooks/orders/paid", b"", headers, environ_extra=environ)
    took = time.monotonic() - started

    assert (status, data) == (408, intake.SLOW_BODY.body)
    assert 0.3 <= took < 2.0
    assert environ["gunicorn.socket"].gettimeout() is None  # blocking again, as it was
    assert environ["gunicorn.socket"].recv(1) == b""  # read side shut: nothing is drained
    assert WebhookDelivery.objects.count() == 0


def test_stalled_bodies_hold_at_most_body_readers_threads(
    app: intake.IntakeApp, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every reader slot taken by a stalled body, the next delivery is told to come
    back (503 busy, retryable) within BODY_READER_WAIT instead of taking one more thread."""
    monkeypatch.setattr(intake, "BODY_READER_WAIT", 0.05)
    for _ in range(intake.BODY_READERS):
        assert intake._readers.acquire(timeout=1)
    try:
        body, headers = signed("orders/paid", order_payload(35))
        started = time.monotonic()
        status, _, data = call(app, "/webhooks/orders/paid", body, headers)
        took = time.monotonic() - started
    finally:
        for _ in range(intake.BODY_READERS):
            intake._readers.release()

    assert (status, data) == (503, intake.BUSY.body)
    assert took < 1.0
    assert WebhookDelivery.objects.count() == 0
    status, _, data = call(app, "/webhooks/orders/paid", body, headers)  # slots free again
    assert (status, data) == (200, {"ok": True, "duplicate": False})


CUSTOMERS = frozenset({"customers/create"})
NUL_BODY = b'{"id": 3, "note": "\\u0000"}'  # valid JSON that jsonb cannot hold


@only_postgresql
def test_the_bad_delivery_gets_400_through_the_app(app: intake.IntakeApp, shop: Shop) -> None:
    status, _, data = call(
        app, "/webhooks/customers/create", NUL_BODY, webhook_headers("customers/create", NUL_BODY)
    )
    assert (status, data) == (400, webhooks.INVALID_VALUES.body)
    assert WebhookDelivery.objects.count() == 0


def accepted_for(body: bytes, webhook_id: str) -> webhooks.Accepted:
    headers = webhook_headers("customers/create", body, webhook_id=webhook_id)
    accepted = webhooks.delivery_check(body, header_map(headers), topics=CUSTOMERS)
    assert isinstance(accepted, webhooks.Accepted)
    return accepted


def test_a_batch_stores_each_webhook_id_once(shop: Shop) -> None:
    """The writer's batch: new rows in one statement (PostgreSQL) or one transaction
    (SQLite); a webhook id repeated in the batch or stored before is a duplicate."""
    first = accepted_for(b'{"id": 1}', "b-1")
    webhooks.delivery_store(first)
    batch = [accepted_for(b'{"id": 2}', "b-2"), first, accepted_for(b'{"id": 2}', "b-2")]

    answers = webhooks.deliveries_store([*batch, accepted_for(b'{"id": 3}', "b-3")])

    assert answers == [webhooks.STORED, webhooks.DUPLICATE, webhooks.DUPLICATE, webhooks.STORED]
    stored = WebhookDelivery.objects.order_by("pk").values_list("webhook_id", "resource_id")
    assert list(stored) == [("b-1", 1), ("b-2", 2), ("b-3", 3)]


@only_postgresql
def test_one_value_the_database_refuses_fails_only_its_own_delivery(shop: Shop) -> None:
    batch = [accepted_for(b'{"id": 1}', "g-1"), accepted_for(NUL_BODY, "bad")]
    batch.append(accepted_for(b'{"id": 2}', "g-2"))

    answers = webhooks.deliveries_store(batch)

    assert answers == [webhooks.STORED, webhooks.INVALID_VALUES, webhooks.STORED]
    assert sorted(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == ["g-1", "g-2"]


def concurrently(
    app: intake.IntakeApp, requests: list[tuple[bytes, dict[str, str]]], *, threads: int = 12
) -> list[tuple[str, int, Any]]:
    """``requests`` to ``/webhooks/customers/create`` from ``threads`` threads, as gunicorn's
    threads make them: (webhook id, status, body) of each answer."""
    answers: list[tuple[str, int, Any]] = []
    lock = threading.Lock()

    def worker(part: list[tuple[bytes, dict[str, str]]]) -> None:
        try:
            for body, headers in part:
                status, _, data = call(app, "/webhooks/customers/create", body, headers)
                with lock:
                    answers.append((headers["X-Shopify-Webhook-Id"], status, data))
        finally:
            connection.close()  # each thread's own connection

    workers = [
        threading.Thread(target=worker, args=(requests[i::threads],)) for i in range(threads)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return answers


def test_concurrent_deliveries_are_each_stored_once(app: intake.IntakeApp, shop: Shop) -> None:
    """12 threads, 60 requests, 30 webhook ids each sent twice: every id stored once and
    answered as new exactly once."""
    LoyaltyProgram.objects.create(shop=shop, enabled=False)
    requests = [signed("customers/create", {"id": n}, webhook_id=f"c-{n}") for n in range(30)]

    answers = concurrently(app, requests + requests)

    assert sorted(status for _, status, _ in answers) == [200] * 60
    new = sorted(wid for wid, _, data in answers if not data["duplicate"])
    assert new == sorted(f"c-{n}" for n in range(30))
    assert WebhookDelivery.objects.count() == 30


@only_postgresql
def test_one_bad_delivery_among_concurrent_ones_is_the_only_refusal(
    app: intake.IntakeApp, shop: Shop
) -> None:
    LoyaltyProgram.objects.create(shop=shop, enabled=False)
    requests = [signed("customers/create", {"id": n}, webhook_id=f"c-{n}") for n in range(20)]
    requests.insert(7, (NUL_BODY, webhook_headers("customers/create", NUL_BODY, webhook_id="bad")))

    answers = concurrently(app, requests, threads=6)

    assert sorted((wid, status) for wid, status, _ in answers if status != 200) == [("bad", 400)]
    assert WebhookDelivery.objects.count() == 20
    assert not WebhookDelivery.objects.filter(webhook_id="bad").exists()


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


def test_a_chunked_body_reaches_django_read(
    app: intake.IntakeApp, shop: Shop, django_requests: list[str]
) -> None:
    """Topics Django serves get the body the intake read (Django alone reads nothing of a
    chunked body and would answer 401)."""
    body, headers = signed("app/uninstalled", {"id": 1, "myshopify_domain": SHOP_DOMAIN})

    status, _, data = call(
        app, "/webhooks/app/uninstalled", b"", headers, environ_extra=chunked(body)
    )

    assert (status, data) == (200, {"ok": True, "duplicate": False})
    assert django_requests == ["/webhooks/app/uninstalled"]
    assert WebhookDelivery.objects.get().topic == "app/uninstalled"


def test_a_host_outside_allowed_hosts_is_left_to_django(
    app: intake.IntakeApp, shop: Shop, settings, django_requests: list[str]
) -> None:
    settings.ALLOWED_HOSTS = ["beam.test"]
    body, headers = signed("orders/paid", order_payload(11))

    status, _, _ = call(app, "/webhooks/orders/paid", body, headers, host="evil.test")

    assert status == 400 and django_requests == ["/webhooks/orders/paid"]
    assert WebhookDelivery.objects.count() == 0


def in_thread(fn: Any) -> Any:
    """``fn()`` on a new thread (its own database connection, closed after), its result."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(fn())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return result[0]


def test_an_unreachable_database_answers_503_and_stores_nothing(
    app: intake.IntakeApp, shop: Shop
) -> None:
    """The writer cannot open its connection (nothing listens there / no such directory):
    503, retried by the platform; once the database is back the writer serves again."""
    body, headers = signed("orders/paid", order_payload(12))
    assert isinstance(webhooks.shop_for_webhook(SHOP_DOMAIN), Shop)  # read before it goes
    settings_dict = connection.settings_dict
    key, unreachable = ("PORT", "1") if POSTGRESQL else ("NAME", "/nonexistent/beam.sqlite3")
    saved = settings_dict[key]
    settings_dict[key] = unreachable
    try:
        with override_settings(WEBHOOK_SHOP_CACHE_SECONDS=60):
            status, _, data = call(app, "/webhooks/orders/paid", body, headers)
    finally:
        settings_dict[key] = saved

    assert (status, data) == (503, intake.UNAVAILABLE.body)
    assert not WebhookDelivery.objects.exists()
    status, _, data = call(app, "/webhooks/orders/paid", body, headers)
    assert (status, data) == (200, {"ok": True, "duplicate": False})


def test_a_shop_that_cannot_be_read_answers_503(app: intake.IntakeApp, shop: Shop) -> None:
    body, headers = signed("orders/paid", order_payload(15))
    settings_dict = connection.settings_dict
    key, unreachable = ("PORT", "1") if POSTGRESQL else ("NAME", "/nonexistent/beam.sqlite3")
    saved = settings_dict[key]
    settings_dict[key] = unreachable
    try:
        status, _, data = in_thread(lambda: call(app, "/webhooks/orders/paid", body, headers))
    finally:
        settings_dict[key] = saved

    assert (status, data) == (503, intake.UNAVAILABLE.body)
    assert not WebhookDelivery.objects.exists()


def test_a_writer_that_does_not_answer_in_time_is_a_503_and_does_not_wedge(
    app: intake.IntakeApp, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer hangs on its first batch: that request is answered 503 at WAIT_SECONDS;
    once it moves again, the next request is stored and answered 200."""
    monkeypatch.setattr(intake, "WAIT_SECONDS", 0.3)
    release = threading.Event()
    real_store = webhooks.delivery_store

    def hanging_store(accepted: webhooks.Accepted) -> webhooks.Answer:
        release.wait(10)
        return real_store(accepted)

    monkeypatch.setattr(webhooks, "delivery_store", hanging_store)
    first, headers = signed("orders/paid", order_payload(16), webhook_id="first")

    started = time.monotonic()
    status, _, data = call(app, "/webhooks/orders/paid", first, headers)
    took = time.monotonic() - started
    release.set()

    assert (status, data) == (503, intake.UNAVAILABLE.body)
    assert 0.3 <= took < 2.0
    monkeypatch.setattr(intake, "WAIT_SECONDS", 10.0)  # the writer also credits (eager Celery)
    second, headers = signed("orders/paid", order_payload(17), webhook_id="second")
    status, _, data = call(app, "/webhooks/orders/paid", second, headers)
    assert (status, data) == (200, {"ok": True, "duplicate": False})
    # The first was being written when its request gave up: stored late, so the
    # platform's retry is answered as a duplicate.
    status, _, data = call(app, "/webhooks/orders/paid", first, headers_for(first, "first"))
    assert (status, data) == (200, {"ok": True, "duplicate": True})


def headers_for(body: bytes, webhook_id: str) -> dict[str, str]:
    return webhook_headers("orders/paid", body, webhook_id=webhook_id)


def test_a_queued_delivery_whose_request_gave_up_is_not_written(
    app: intake.IntakeApp, shop: Shop
) -> None:
    """A future cancelled before the writer took it is skipped: nothing is stored that was
    answered 503 without being taken."""
    body, headers = signed("orders/paid", order_payload(18), webhook_id="gave-up")
    accepted = webhooks.delivery_check(body, header_map(headers), topics=PAID)
    assert isinstance(accepted, webhooks.Accepted)
    blocker = threading.Event()
    real_store = webhooks.delivery_store
    writer = intake.writer

    def first_waits(item: webhooks.Accepted) -> webhooks.Answer:
        blocker.wait(10)
        return real_store(item)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(webhooks, "delivery_store", first_waits)
        held = writer.submit(dataclasses.replace(accepted, webhook_id="held"))
        time.sleep(0.1)  # the writer is in its batch of one
        gave_up = writer.submit(accepted)
        assert gave_up.cancel()
        blocker.set()
        assert held.result(5) == webhooks.STORED

    writer.stop()
    assert list(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == ["held"]


def test_a_failed_batch_answers_503_and_the_writer_carries_on(
    app: intake.IntakeApp, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_store = webhooks.delivery_store

    def fails_once(accepted: webhooks.Accepted) -> webhooks.Answer:
        calls.append(accepted.webhook_id)
        if len(calls) == 1:
            raise RuntimeError("a bug in the batch")
        return real_store(accepted)

    monkeypatch.setattr(webhooks, "delivery_store", fails_once)
    body, headers = signed("orders/paid", order_payload(19), webhook_id="w-19")

    first = call(app, "/webhooks/orders/paid", body, headers)
    again = call(app, "/webhooks/orders/paid", body, headers)

    assert first[:1] + first[2:] == (503, intake.UNAVAILABLE.body)
    assert again[:1] + again[2:] == (200, {"ok": True, "duplicate": False})
    assert calls == ["w-19", "w-19"]
    assert WebhookDelivery.objects.count() == 1


def test_a_writer_thread_that_ended_is_started_again(app: intake.IntakeApp, shop: Shop) -> None:
    intake.writer.stop()
    body, headers = signed("orders/paid", order_payload(20))

    status, _, data = call(app, "/webhooks/orders/paid", body, headers)

    assert (status, data) == (200, {"ok": True, "duplicate": False})


def test_redis_down_still_answers_a_stored_delivery_200_as_the_django_view_does(
    app: intake.IntakeApp, shop: Shop, settings
) -> None:
    """The drain's wake-up needs Redis; it runs after the commit and cannot fail the answer
    (the drain's periodic run picks the rows up)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    body, headers = signed("orders/paid", order_payload(13), webhook_id="fast")
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    meta["HTTP_X_SHOPIFY_WEBHOOK_ID"] = "view"

    fast = call(app, "/webhooks/orders/paid", body, headers)
    django = Client().post("/webhooks/orders/paid", body, content_type="application/json", **meta)

    assert fast[0] == django.status_code == 200
    assert fast[2] == django.json() == {"ok": True, "duplicate": False}
    statuses = dict(WebhookDelivery.objects.values_list("webhook_id", "status"))
    assert statuses == {"fast": "received", "view": "received"}


@only_postgresql
def test_a_blocked_insert_is_answered_503_at_the_statement_timeout(
    app: intake.IntakeApp, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction holds the same webhook id uncommitted: the writer's insert waits
    for it, its connection's statement_timeout ends the wait, and the request gets 503."""
    monkeypatch.setattr(intake, "STATEMENT_TIMEOUT_MS", 300)
    body, headers = signed("orders/paid", order_payload(14), webhook_id="held")
    accepted = webhooks.delivery_check(body, header_map(headers), topics=PAID)
    assert isinstance(accepted, webhooks.Accepted)

    with transaction.atomic():
        webhooks.delivery_store(accepted)  # not committed while the request runs
        started = time.monotonic()
        status, _, data = in_thread(lambda: call(app, "/webhooks/orders/paid", body, headers))
        took = time.monotonic() - started
        transaction.set_rollback(True)

    assert (status, data) == (503, intake.UNAVAILABLE.body)
    assert 0.3 <= took < intake.WAIT_SECONDS
    assert not WebhookDelivery.objects.exists()


@only_postgresql
def test_other_connections_keep_the_servers_statement_timeout(
    app: intake.IntakeApp, shop: Shop
) -> None:
    """Only the writer's connection is limited (the test above): a request thread's, a web
    view's or the Celery drain's is not."""
    body, headers = signed("orders/paid", order_payload(21))
    assert call(app, "/webhooks/orders/paid", body, headers)[0] == 200

    def timeout_shown() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    assert in_thread(timeout_shown) == "0"


def header_map(headers: dict[str, str]) -> Any:
    from django.http import HttpHeaders

    return HttpHeaders({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})


@only_postgresql
def test_a_large_payload_is_stored_as_sent_and_compressed(
    app: intake.IntakeApp, shop: Shop
) -> None:
    """The columns the intake does not send hold the model's initial values, and a payload
    of several kilobytes is stored LZ4-compressed where the server has LZ4 (migration 0004)."""
    payload = order_payload(5150) | {"note": "gift " * 2000}  # compressible, over the TOAST limit
    body, headers = signed("orders/paid", payload, webhook_id="big")
    LoyaltyProgram.objects.create(shop=shop, enabled=False)

    assert call(app, "/webhooks/orders/paid", body, headers)[0] == 200

    row = WebhookDelivery.objects.get(webhook_id="big")
    assert row.resource_id == 5150 and row.payload == payload and row.shop_id == shop.pk
    assert row.source == WebhookDelivery.Source.WEBHOOK
    assert (row.last_error, row.note) == ("", "")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        expected = "lz4" if cursor.fetchone()[0] else "pglz"
        cursor.execute(
            "SELECT pg_column_compression(payload) FROM merchants_webhookdelivery WHERE id = %s",
            [row.pk],
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
