"""The order reconciliation job: pulled orders go through the same inbox as webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from merchants import inbox_record, reconciliation, tasks
from merchants.errors import ShopifyApiError
from merchants.models import Shop, SyncRun, WebhookDelivery
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    LoyaltyCalls,
    ShopFactory,
    loyalty_calls_install,
    order_payload,
)

pytestmark = pytest.mark.django_db

UPDATED = "2026-11-20T10:00:00-05:00"


@pytest.fixture
def shop() -> Shop:
    return ShopFactory(domain=SHOP_DOMAIN)


@pytest.fixture
def loyalty(monkeypatch: pytest.MonkeyPatch) -> LoyaltyCalls:
    return loyalty_calls_install(monkeypatch)


class FakeOrders:
    """Stands in for ``orders_updated_since``: yields the given orders, optionally failing
    after some, and remembers every ``since`` it was asked for."""

    def __init__(self, orders: list[dict[str, Any]], fail_after: int | None = None) -> None:
        self.orders = orders
        self.fail_after = fail_after
        self.calls: list[tuple[str, datetime | None]] = []

    def __call__(self, shop: Shop, *, since: datetime | None) -> Iterator[dict[str, Any]]:
        self.calls.append((shop.domain, since))
        for n, order in enumerate(self.orders):
            if self.fail_after is not None and n == self.fail_after:
                raise ShopifyApiError("platform timed out")
            yield order


def refund(refund_id: int, order_id: int) -> dict[str, Any]:
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": "2026-11-20T11:00:00-05:00",
        "transactions": [{"kind": "refund", "amount": "10.00"}],
    }


@pytest.fixture
def orders() -> list[dict[str, Any]]:
    return [
        order_payload(101),  # paid, no webhook came
        order_payload(102),  # paid, its webhook did come
        order_payload(103, financial_status="pending"),  # nothing to credit yet
        order_payload(104, financial_status="voided", cancelled_at="2026-11-20T09:00:00-05:00"),
        order_payload(105, financial_status="partially_refunded", refunds=[refund(501, 105)]),
    ]


def run(shop: Shop, fake: FakeOrders, monkeypatch, capture) -> SyncRun | None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reconciliation, "orders_updated_since", fake)
    with capture(execute=True):
        return reconciliation.orders_reconcile(shop=shop)


def test_feeds_missing_orders_through_the_inbox_and_records_the_run(
    shop: Shop,
    loyalty: LoyaltyCalls,
    orders: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    inbox_record.delivery_record(
        shop=shop, webhook_id="real-102", topic="orders/paid", payload=orders[1]
    )
    cursor = timezone.now() - timedelta(hours=1)
    Shop.objects.filter(pk=shop.pk).update(orders_synced_at=cursor)
    shop.refresh_from_db()
    fake = FakeOrders(orders)
    before = timezone.now()

    sync = run(shop, fake, monkeypatch, django_capture_on_commit_callbacks)

    assert fake.calls == [(SHOP_DOMAIN, cursor - reconciliation.RECONCILE_OVERLAP)]
    assert sync is not None
    assert (sync.status, sync.orders_seen, sync.orders_fed, sync.error) == ("succeeded", 5, 3, "")
    assert sync.updated_since == cursor - reconciliation.RECONCILE_OVERLAP
    assert sync.finished_at is not None
    fed = WebhookDelivery.objects.filter(source="reconciliation").order_by("pk")
    assert [(d.topic, d.resource_id, d.status) for d in fed] == [
        ("orders/paid", 101, "succeeded"),
        ("orders/cancelled", 104, "succeeded"),
        ("orders/paid", 105, "succeeded"),
        ("refunds/create", 501, "succeeded"),
    ]
    assert fed[0].webhook_id == f"reconcile:{shop.pk}:orders/paid:101:{UPDATED}"
    assert fed[0].api_version == "2026-10"
    assert fed[0].triggered_at == datetime.fromisoformat(UPDATED)
    assert [(c["topic"], c["payload"]["id"]) for c in loyalty.of("order_webhook_process")] == [
        ("orders/paid", 101),
        ("orders/cancelled", 104),
        ("orders/paid", 105),
    ]
    assert [c["payload"] for c in loyalty.of("refund_webhook_process")] == [refund(501, 105)]
    shop.refresh_from_db()
    assert before <= shop.orders_synced_at <= timezone.now()


def test_a_rerun_feeds_nothing_twice(
    shop: Shop,
    loyalty: LoyaltyCalls,
    orders: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    run(shop, FakeOrders(orders), monkeypatch, django_capture_on_commit_callbacks)
    count = WebhookDelivery.objects.count()
    calls = len(loyalty.calls)
    orders[0]["updated_at"] = "2026-11-21T08:00:00-05:00"  # updated since: a new key, same order

    second = run(shop, FakeOrders(orders), monkeypatch, django_capture_on_commit_callbacks)

    assert second is not None
    assert (second.status, second.orders_seen, second.orders_fed) == ("succeeded", 5, 0)
    assert WebhookDelivery.objects.count() == count
    assert len(loyalty.calls) == calls
    assert SyncRun.objects.filter(shop=shop).count() == 2


def test_a_failed_pull_keeps_the_cursor_and_what_was_fed(
    shop: Shop,
    loyalty: LoyaltyCalls,
    orders: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    cursor = timezone.now() - timedelta(hours=1)
    Shop.objects.filter(pk=shop.pk).update(orders_synced_at=cursor)
    shop.refresh_from_db()

    sync = run(
        shop, FakeOrders(orders, fail_after=1), monkeypatch, django_capture_on_commit_callbacks
    )

    assert sync is not None
    assert (sync.status, sync.orders_seen, sync.orders_fed) == ("failed", 1, 1)
    assert sync.error == "ShopifyApiError: platform timed out"
    shop.refresh_from_db()
    assert shop.orders_synced_at == cursor
    assert list(WebhookDelivery.objects.values_list("resource_id", flat=True)) == [101]

    # The next run starts from the same cursor and finishes the job.
    retry = FakeOrders(orders)
    again = run(shop, retry, monkeypatch, django_capture_on_commit_callbacks)
    assert retry.calls == [(SHOP_DOMAIN, cursor - reconciliation.RECONCILE_OVERLAP)]
    assert again is not None
    assert (again.status, again.orders_fed) == ("succeeded", 3)


def test_first_run_starts_at_the_install_not_the_beginning_of_time(
    loyalty: LoyaltyCalls, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    installed = timezone.now() - timedelta(days=2)
    shop = ShopFactory(installed_at=installed)
    fake = FakeOrders([])

    run(shop, fake, monkeypatch, django_capture_on_commit_callbacks)

    assert fake.calls == [(shop.domain, installed - reconciliation.RECONCILE_OVERLAP)]


def test_uninstalled_shop_is_skipped(
    loyalty: LoyaltyCalls, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    shop = ShopFactory(uninstalled_at=timezone.now(), access_token="")
    fake = FakeOrders([order_payload(1)])

    assert run(shop, fake, monkeypatch, django_capture_on_commit_callbacks) is None
    assert fake.calls == []
    assert SyncRun.objects.count() == 0


def test_a_run_already_going_on_for_the_shop_is_not_doubled(
    shop: Shop,
    loyalty: LoyaltyCalls,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    from django.core.cache import cache

    cache.add(f"reconcile:running:{shop.pk}", 1)
    fake = FakeOrders([order_payload(1)])

    assert run(shop, fake, monkeypatch, django_capture_on_commit_callbacks) is None
    assert fake.calls == []


def test_reconcile_all_fans_out_to_installed_shops_only(
    loyalty: LoyaltyCalls, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    active = [ShopFactory(), ShopFactory()]
    ShopFactory(uninstalled_at=timezone.now(), access_token="")
    fake = FakeOrders([order_payload(7)])
    monkeypatch.setattr(reconciliation, "orders_updated_since", fake)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.orders_reconcile_all() == 2

    assert sorted(domain for domain, _ in fake.calls) == sorted(s.domain for s in active)
    assert sorted(SyncRun.objects.values_list("shop_id", "status")) == sorted(
        (s.pk, "succeeded") for s in active
    )
    assert WebhookDelivery.objects.filter(resource_id=7).count() == 2
