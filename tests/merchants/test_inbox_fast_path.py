"""The webhook fast path: cached shop lookup, throttled drain wake-ups, lingering drains,
and the drain handing claimed batches to the crediting engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty import services
from loyalty.models import LedgerEntry, LoyaltyProgram, Member
from merchants import inbox, inbox_record
from merchants.models import Shop, WebhookDelivery
from merchants.shopify import webhooks
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    ShopFactory,
    order_payload,
    webhook_post,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> Shop:
    return ShopFactory(domain=SHOP_DOMAIN)


@pytest.fixture
def published(settings, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Not eager: deliveries wait for a drain; drain publications are recorded."""
    from merchants import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls: list[int] = []
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: calls.append(1))
    return calls


@pytest.fixture(autouse=True)
def _clean_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh per-process caches; the shared drain flag (Redis in CI) left as found."""
    from django.core.cache import cache

    webhooks._shop_cache.clear()
    monkeypatch.setattr(inbox_record, "_last_wake", 0.0)
    cache.delete(inbox_record.DRAIN_PENDING_KEY)
    yield
    cache.delete(inbox_record.DRAIN_PENDING_KEY)
    webhooks._shop_cache.clear()


def test_shop_lookup_is_cached_and_dropped_when_the_shop_changes(
    client: Client, shop: Shop, published: list[int], settings
) -> None:
    settings.WEBHOOK_SHOP_CACHE_SECONDS = 60
    assert webhook_post(client, "orders/paid", order_payload(1)).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        response = webhook_post(client, "orders/paid", order_payload(2))
    assert response.json() == {"ok": True, "duplicate": False}
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1 and statements[0].startswith("INSERT")  # no shop lookup

    assert webhook_post(client, "app/uninstalled", {"id": 1}).status_code == 200
    response = webhook_post(client, "orders/paid", order_payload(3))

    assert response.status_code == 403
    assert response.json()["error"] == "shop_not_installed"
    assert WebhookDelivery.objects.filter(topic="orders/paid").count() == 2


def test_unknown_shops_are_not_cached(client: Client, settings, published: list[int]) -> None:
    settings.WEBHOOK_SHOP_CACHE_SECONDS = 60
    assert webhook_post(client, "orders/paid", order_payload(1)).status_code == 404

    ShopFactory(domain=SHOP_DOMAIN)

    assert webhook_post(client, "orders/paid", order_payload(1)).status_code == 200


def test_wake_ups_are_throttled_per_process(
    client: Client, shop: Shop, published: list[int], settings, django_capture_on_commit_callbacks
) -> None:
    from django.core.cache import cache

    settings.WEBHOOK_WAKE_INTERVAL_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_post(client, "orders/paid", order_payload(1)).status_code == 200
    cache.delete(inbox_record.DRAIN_PENDING_KEY)  # as the drain does when it starts
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(2, 5):
            assert webhook_post(client, "orders/paid", order_payload(n)).status_code == 200

    assert published == [1]  # one wake-up for the interval; the woken drain lingers
    assert WebhookDelivery.objects.filter(status="received").count() == 4


def test_drain_lingers_for_the_wake_up_interval(shop: Shop, published: list[int]) -> None:
    started = time.monotonic()

    outcome = inbox.deliveries_drain(linger=0.3)

    assert outcome == inbox.DrainOutcome(processed=0, budget_exhausted=False)
    assert time.monotonic() - started >= 0.3


def test_the_drain_task_lingers_by_the_setting(
    shop: Shop, published: list[int], settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants import tasks

    seen: list[float] = []
    monkeypatch.setattr(
        inbox,
        "deliveries_drain",
        lambda **kw: seen.append(kw["linger"]) or inbox.DrainOutcome(0, False),
    )
    settings.WEBHOOK_WAKE_INTERVAL_SECONDS = 0.25

    tasks.webhooks_drain()

    assert seen == [0.25]


@pytest.mark.django_db(transaction=True)
def test_a_delivery_stored_while_the_drain_lingers_is_processed_by_it(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The throttle's guarantee: a delivery that woke nobody is claimed by the drain that
    was woken before it, because that drain lingers."""
    if connection.vendor != "postgresql":
        pytest.skip("two connections at once need PostgreSQL")
    from merchants import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.WEBHOOK_WAKE_INTERVAL_SECONDS = 60
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: None)
    shop = ShopFactory()
    LoyaltyProgram.objects.create(shop=shop)
    outcome: list[Any] = []

    def drain() -> None:
        try:
            outcome.append(inbox.deliveries_drain(linger=1.5))
        finally:
            connection.close()

    thread = threading.Thread(target=drain)
    thread.start()
    time.sleep(0.3)
    inbox_record.delivery_record(
        shop=shop, webhook_id="late", topic="orders/paid", payload=order_payload(42)
    )
    thread.join(30)

    assert outcome and outcome[0].processed == 1
    assert WebhookDelivery.objects.get(webhook_id="late").status == "succeeded"


def test_duplicate_insert_returns_the_stored_row(shop: Shop, published: list[int]) -> None:
    first = inbox_record.delivery_record(
        shop=shop, webhook_id="dup", topic="orders/paid", payload=order_payload(1)
    )
    again = inbox_record.delivery_record(
        shop=shop, webhook_id="dup", topic="orders/paid", payload=order_payload(2)
    )

    assert (first.created, again.created) == (True, False)
    assert again.delivery.pk == first.delivery.pk
    assert again.delivery.payload["id"] == 1
    assert WebhookDelivery.objects.count() == 1


def test_drain_credits_a_burst_through_the_batch_path(
    shop: Shop, published: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    LoyaltyProgram.objects.create(shop=shop)
    batches: list[int] = []
    real = services.deliveries_credit
    monkeypatch.setattr(
        services,
        "deliveries_credit",
        lambda **kw: batches.append(len(kw["deliveries"])) or real(**kw),
    )
    for n in range(40):
        inbox_record.delivery_record(
            shop=shop,
            webhook_id=f"b{n}",
            topic="orders/paid",
            payload=order_payload(n + 1, customer_id=100 + n % 7, email=f"c{n % 7}@example.com"),
        )

    assert inbox.deliveries_drain().processed == 40

    assert batches == [40]  # one batch of the crediting engine, on every database
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert Member.objects.count() == 7
    # one line of 89.99 per order: 89 points each
    assert LedgerEntry.objects.filter(kind="order_earn").count() == 40
    assert sorted(Member.objects.values_list("balance", flat=True)) == [
        89 * 5,
        89 * 5,
        89 * 6,
        89 * 6,
        89 * 6,
        89 * 6,
        89 * 6,
    ]


def test_the_body_is_stored_as_sent_and_a_value_postgresql_refuses_is_400(
    client: Client, shop: Shop, published: list[int]
) -> None:
    """The view hands PostgreSQL the body's own JSON text (no second serialisation in
    Python): what is stored reads back as the payload sent, 64-bit ids exact, and a body
    the ``jsonb`` cast refuses is a 400 with nothing stored."""
    import json

    payload = order_payload(7, customer_id=2**63 - 1)
    payload["note"] = "café ✓"
    response = webhook_post(client, "orders/paid", body=json.dumps(payload).encode())

    assert response.json() == {"ok": True, "duplicate": False}
    stored = WebhookDelivery.objects.get()
    assert stored.payload == payload
    assert stored.resource_id == payload["id"]

    refused = webhook_post(
        client, "orders/paid", body=b'{"id": 8, "note": "\\u0000"}', webhook_id="nul"
    )
    if connection.vendor == "postgresql":  # jsonb has no NUL character
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_payload"
        assert WebhookDelivery.objects.count() == 1
    else:
        assert refused.status_code == 200
