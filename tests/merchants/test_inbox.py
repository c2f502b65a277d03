"""Processing the inbox: claim, dispatch, retry with backoff, park, reclaim, replay."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from merchants import inbox, inbox_record, replay, selectors
from merchants.models import Shop, WebhookDelivery
from tests.merchants.webhook_support import (
    SHOP_DOMAIN,
    LoyaltyCalls,
    ShopFactory,
    fixture_payload,
    loyalty_calls_install,
    order_payload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> Shop:
    return ShopFactory(domain=SHOP_DOMAIN)


@pytest.fixture
def loyalty(monkeypatch: pytest.MonkeyPatch) -> LoyaltyCalls:
    return loyalty_calls_install(monkeypatch)


def record(shop: Shop, topic: str = "orders/paid", *, order_id: int = 1, **kwargs: Any):  # type: ignore[no-untyped-def]
    """Store a delivery without processing it (its on-commit wake-up never runs here)."""
    webhook_id = kwargs.pop("webhook_id", f"wh-{topic}-{order_id}")
    return inbox_record.delivery_record(
        shop=shop,
        webhook_id=webhook_id,
        topic=topic,
        payload=kwargs.pop("payload", order_payload(order_id)),
        **kwargs,
    ).delivery


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_backoff_doubles_from_a_minute_and_is_capped() -> None:
    delays = [inbox.backoff_delay(n).total_seconds() for n in range(1, 9)]

    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_processing_moves_received_to_processing_to_succeeded(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def handler(**kwargs: Any) -> dict[int, str]:
        seen.append(WebhookDelivery.objects.get(pk=delivery.pk).status)
        return {}

    monkeypatch.setattr("loyalty.services.deliveries_credit", handler)
    delivery = record(shop)
    assert delivery.status == "received"

    outcome = inbox.deliveries_drain()

    delivery.refresh_from_db()
    assert outcome == inbox.DrainOutcome(processed=1, budget_exhausted=False)
    assert seen == ["processing"]
    assert delivery.status == "succeeded"
    assert delivery.processed_at is not None
    assert delivery.next_attempt_at is None
    assert delivery.attempts == 0


def test_failing_handler_is_retried_with_backoff_then_parked(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    loyalty.failing["order_webhook_process"] = RuntimeError("ledger unavailable")
    delivery = record(shop)

    before = timezone.now()
    inbox.deliveries_drain()

    delivery.refresh_from_db()
    assert delivery.status == "received"
    assert delivery.attempts == 1
    assert delivery.last_error == "RuntimeError: ledger unavailable"
    assert before + timedelta(seconds=60) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=60)

    # Not due yet: a drain leaves it alone.
    assert inbox.deliveries_drain().processed == 0
    assert len(loyalty.calls) == 1

    for attempt in range(2, inbox.MAX_ATTEMPTS + 1):
        make_due(delivery)
        inbox.deliveries_drain()
        delivery.refresh_from_db()
        assert delivery.attempts == attempt

    assert delivery.status == "failed"
    assert delivery.next_attempt_at is None
    assert delivery.last_error == "RuntimeError: ledger unavailable"
    assert len(loyalty.calls) == inbox.MAX_ATTEMPTS
    assert list(selectors.deliveries_failed(shop=shop)) == [delivery]
    # Parked: no drain touches it again.
    assert inbox.deliveries_drain().processed == 0


def test_long_errors_are_truncated(shop: Shop, loyalty: LoyaltyCalls) -> None:
    loyalty.failing["order_webhook_process"] = ValueError("x" * 10_000)
    delivery = record(shop)

    inbox.deliveries_drain()

    delivery.refresh_from_db()
    assert len(delivery.last_error) == inbox.LAST_ERROR_MAX_CHARS
    assert delivery.last_error.startswith("ValueError: xxx")


def test_unknown_topic_is_parked_at_once(shop: Shop) -> None:
    delivery = record(shop, "products/create")

    inbox.deliveries_drain()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("unprocessable", 1)
    assert delivery.last_error == "no handler for topic 'products/create'"


def test_abandoned_claim_is_counted_as_a_failed_attempt_and_retried_at_once(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    abandoned = record(shop, order_id=1)
    held = record(shop, order_id=2)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=abandoned.pk).update(
        status="processing", next_attempt_at=now - timedelta(seconds=1)
    )
    WebhookDelivery.objects.filter(pk=held.pk).update(
        status="processing", next_attempt_at=now + timedelta(seconds=25)
    )

    assert inbox.deliveries_reclaim_abandoned(now=now) == 1

    abandoned.refresh_from_db()
    held.refresh_from_db()
    assert (abandoned.status, abandoned.attempts) == ("received", 1)
    assert abandoned.last_error.startswith("ProcessingLeaseExpired")
    assert abandoned.next_attempt_at == now  # its worker died: no backoff
    assert held.status == "processing"
    assert loyalty.calls == []

    assert inbox.deliveries_drain().processed == 1
    abandoned.refresh_from_db()
    held.refresh_from_db()
    assert abandoned.status == "succeeded"
    assert held.status == "processing"
    assert len(loyalty.calls) == 1


def test_a_killed_workers_batch_is_credited_seconds_later(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    """A worker claimed a batch and was SIGKILLed: nothing renews its claim, so the next
    drain half a minute later takes the deliveries over (it waited ten minutes before)."""
    deliveries = [record(shop, order_id=n) for n in (1, 2, 3)]
    killed_at = timezone.now() - inbox.PROCESSING_LEASE - timedelta(seconds=1)
    ids, lease = inbox.deliveries_claim(now=killed_at)
    assert sorted(ids) == sorted(d.pk for d in deliveries)
    assert lease == killed_at + timedelta(seconds=30)

    assert inbox.deliveries_drain().processed == 3

    statuses = WebhookDelivery.objects.order_by("pk").values_list("status", "attempts")
    assert list(statuses) == [("succeeded", 1)] * 3
    assert len(loyalty.calls) == 3


def test_a_working_drain_renews_its_claim_between_runs(
    shop: Shop, loyalty: LoyaltyCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that outlives the short lease keeps it: no other drain takes it over."""
    order, customer = record(shop, order_id=1), record(shop, "customers/create", order_id=2)
    ids, lease = inbox.deliveries_claim(now=timezone.now() - timedelta(seconds=25))
    seen: list[tuple[str, Any, int]] = []

    def customer_webhook_process(**kwargs: Any) -> None:
        row = WebhookDelivery.objects.get(pk=customer.pk)
        reclaimed = inbox.deliveries_reclaim_abandoned(now=lease + timedelta(seconds=1))
        seen.append((row.status, row.next_attempt_at, reclaimed))

    monkeypatch.setattr("loyalty.services.customer_webhook_process", customer_webhook_process)
    started = timezone.now()

    assert inbox.deliveries_drain().processed == 0  # another drain: the batch is held
    assert inbox._claimed_batch_run(ids, lease=lease) == 2

    ((status, renewed, reclaimed),) = seen
    assert (status, reclaimed) == ("processing", 0)
    assert renewed >= started + inbox.PROCESSING_LEASE
    statuses = WebhookDelivery.objects.filter(pk__in=[order.pk, customer.pk]).values_list(
        "status", "attempts"
    )
    assert sorted(statuses) == [("succeeded", 0), ("succeeded", 0)]
    assert loyalty.names() == ["order_webhook_process"]


def test_delivery_process_does_not_touch_a_delivery_another_worker_holds(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    delivery = record(shop)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="processing", next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert inbox.delivery_process(delivery_id=delivery.pk) is None
    assert loyalty.calls == []


def test_orders_of_an_uninstalled_shop_are_skipped_with_a_note(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    delivery = record(shop)
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=timezone.now(), access_token_encrypted="")

    inbox.deliveries_drain()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.note) == ("skipped", "shop uninstalled: not processed")
    assert loyalty.calls == []


def test_compliance_still_runs_after_uninstall(shop: Shop, loyalty: LoyaltyCalls) -> None:
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=timezone.now(), access_token_encrypted="")
    delivery = record(shop, "customers/redact", payload=fixture_payload("customers_redact"))

    inbox.deliveries_drain()

    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert loyalty.names() == ["customer_redact"]


def test_drain_limited_to_one_shop_leaves_the_others(loyalty: LoyaltyCalls) -> None:
    one, two = ShopFactory(), ShopFactory()
    mine = record(one, order_id=1)
    theirs = record(two, order_id=2)

    assert inbox.deliveries_drain(shop=one).processed == 1

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("succeeded", "received")


def test_drain_stops_when_its_time_budget_is_spent(shop: Shop, loyalty: LoyaltyCalls) -> None:
    record(shop, order_id=1)

    outcome = inbox.deliveries_drain(time_budget=0)

    assert outcome == inbox.DrainOutcome(processed=0, budget_exhausted=True)


# --- replay ---------------------------------------------------------------------------------


def park(delivery: WebhookDelivery, attempts: int = inbox.MAX_ATTEMPTS) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=attempts, last_error="RuntimeError: boom"
    )


def test_replay_service_runs_parked_deliveries_after_a_fix(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    failed = record(shop, order_id=1)
    park(failed)
    done = record(shop, order_id=2)
    WebhookDelivery.objects.filter(pk=done.pk).update(status="succeeded")

    outcome = replay.deliveries_replay(delivery_ids=[failed.pk, done.pk])

    failed.refresh_from_db()
    done.refresh_from_db()
    assert outcome == {"succeeded": 1}
    assert failed.status == "succeeded"
    assert failed.attempts == inbox.MAX_ATTEMPTS
    assert failed.last_error == ""
    assert done.status == "succeeded"
    assert [c["payload"]["id"] for c in loyalty.of("order_webhook_process")] == [1]


def test_replay_that_fails_again_is_parked_again(shop: Shop, loyalty: LoyaltyCalls) -> None:
    loyalty.failing["order_webhook_process"] = RuntimeError("still broken")
    delivery = record(shop)
    park(delivery)

    assert replay.deliveries_replay(shop=shop) == {"failed": 1}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", inbox.MAX_ATTEMPTS + 1)
    assert delivery.last_error == "RuntimeError: still broken"


def test_replay_calls_on_queued_with_the_ids_in_the_requeue_transaction(
    shop: Shop, loyalty: LoyaltyCalls
) -> None:
    first, second = record(shop, order_id=1), record(shop, order_id=2)
    park(first)
    park(second)
    seen: list[tuple[list[int], bool, list[str]]] = []

    def on_queued(ids: list[int]) -> None:
        statuses = list(WebhookDelivery.objects.order_by("pk").values_list("status", flat=True))
        seen.append((ids, connection.in_atomic_block, statuses))

    outcome = replay.deliveries_replay(shop=shop, on_queued=on_queued)

    assert outcome == {"succeeded": 2}
    assert seen == [([first.pk, second.pk], True, ["received", "received"])]


def test_replay_whose_callback_fails_requeues_nothing(shop: Shop, loyalty: LoyaltyCalls) -> None:
    delivery = record(shop)
    park(delivery)

    def on_queued(ids: list[int]) -> None:
        raise RuntimeError("audit down")

    with pytest.raises(RuntimeError, match="audit down"):
        replay.deliveries_replay(delivery_ids=[delivery.pk], on_queued=on_queued)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", inbox.MAX_ATTEMPTS)
    assert loyalty.of("order_webhook_process") == []


def test_replay_with_nothing_to_replay_does_not_call_on_queued(shop: Shop) -> None:
    calls: list[list[int]] = []

    assert replay.deliveries_replay(shop=shop, on_queued=calls.append) == {}
    assert calls == []


def test_replay_needs_a_selection() -> None:
    with pytest.raises(ValueError, match="delivery_ids or shop"):
        replay.deliveries_replay()


def test_replay_command_by_id_shop_and_all_failed(loyalty: LoyaltyCalls, capsys) -> None:
    one, two = ShopFactory(), ShopFactory()
    a, b, c = record(one, order_id=1), record(one, order_id=2), record(two, order_id=3)
    for delivery in (a, b, c):
        park(delivery)

    call_command("webhooks_replay", "--id", str(a.pk))
    assert capsys.readouterr().out.strip() == "replayed 1 deliveries: succeeded=1"
    call_command("webhooks_replay", "--shop", one.domain, "--all-failed")
    assert capsys.readouterr().out.strip() == "replayed 1 deliveries: succeeded=1"
    assert WebhookDelivery.objects.get(pk=c.pk).status == "failed"
    call_command("webhooks_replay", "--all-failed")
    assert capsys.readouterr().out.strip() == "replayed 1 deliveries: succeeded=1"

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert [k["payload"]["id"] for k in loyalty.of("order_webhook_process")] == [1, 2, 3]


def test_replay_command_refuses_no_selection_and_unknown_shop(db: None) -> None:
    with pytest.raises(CommandError, match="--id, --shop or --all-failed"):
        call_command("webhooks_replay")
    with pytest.raises(CommandError, match="No shop"):
        call_command("webhooks_replay", "--shop", "nobody.myshopify.com")


def test_admin_replay_action(admin_client: Client, shop: Shop, loyalty: LoyaltyCalls) -> None:
    delivery = record(shop)
    park(delivery)

    listing = admin_client.get("/ops/merchants/webhookdelivery/")
    response = admin_client.post(
        "/ops/merchants/webhookdelivery/",
        {"action": "replay_selected", "_selected_action": [str(delivery.pk)]},
        follow=True,
    )

    assert listing.status_code == 200
    assert response.status_code == 200
    assert "Replayed 1 deliveries: 1 succeeded." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert len(loyalty.of("order_webhook_process")) == 1


def test_admin_pages_render(admin_client: Client, shop: Shop) -> None:
    delivery = record(shop)

    for url in (
        f"/ops/merchants/webhookdelivery/{delivery.pk}/change/",
        "/ops/merchants/shop/",
        f"/ops/merchants/shop/{shop.pk}/change/",
        "/ops/merchants/syncrun/",
        "/ops/merchants/compliancerequest/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "access_token_encrypted" not in response.content.decode()


def test_admin_replay_is_refused_to_staff_without_change_permission(
    client: Client, shop: Shop, loyalty: LoyaltyCalls, django_user_model
) -> None:
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(user)
    delivery = record(shop)
    park(delivery)

    client.post(
        "/ops/merchants/webhookdelivery/",
        {"action": "replay_selected", "_selected_action": [str(delivery.pk)]},
    )

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert loyalty.calls == []


# --- selectors --------------------------------------------------------------------------------


def test_selectors_filter_by_shop_topic_and_status() -> None:
    one, two = ShopFactory(), ShopFactory()
    paid = record(one, "orders/paid", order_id=1)
    cancelled = record(one, "orders/cancelled", order_id=1)
    record(two, "orders/paid", order_id=2)
    park(cancelled)

    assert list(selectors.deliveries_recent(shop=one)) == [cancelled, paid]
    assert list(selectors.deliveries_recent(shop=one, topic="orders/paid")) == [paid]
    assert list(selectors.deliveries_recent(shop=one, status="failed")) == [cancelled]
    assert list(selectors.deliveries_recent(shop=one, limit=1)) == [cancelled]
    assert list(selectors.deliveries_failed(shop=one)) == [cancelled]
    assert list(selectors.deliveries_failed(shop=two)) == []


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_never_process_a_delivery_twice(
    monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) need PostgreSQL")
    from merchants import tasks

    # Autocommit here: keep the after-commit wake-up from processing inline.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: None)
    shop = ShopFactory()
    for n in range(40):
        record(shop, order_id=n + 1)
    processed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def handler(**kwargs: Any) -> dict[int, str]:
        time.sleep(0.002)  # widen the window in which the two drains overlap
        with lock:
            processed.extend(d.payload["id"] for d in kwargs["deliveries"])
        return {}

    monkeypatch.setattr("loyalty.services.deliveries_credit", handler)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            inbox.deliveries_drain(batch_size=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(processed) == 40
    assert Counter(processed) == Counter(range(1, 41))
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


# --- shop details after install ----------------------------------------------------------------


def test_shop_details_sync_copies_valid_details(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants import tasks
    from merchants.shopify import operations

    details = operations.ShopDetails(
        name="Acme",
        email="o@acme.test",
        currency="eur",
        iana_timezone="Nowhere/City",
        plan_name="Basic",
    )
    monkeypatch.setattr(operations, "shop_details_fetch", lambda s: details)

    changed = tasks.shop_details_sync(shop.pk)

    shop.refresh_from_db()
    assert changed == ["currency", "email", "name", "plan_name"]
    assert (shop.name, shop.email, shop.currency, shop.iana_timezone, shop.plan_name) == (
        "Acme",
        "o@acme.test",
        "EUR",
        "UTC",
        "Basic",
    )


def test_shop_details_sync_only_logs_a_platform_error(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants import tasks
    from merchants.errors import ShopifyApiError
    from merchants.shopify import operations

    def fail(s: Shop) -> None:
        raise ShopifyApiError("down")

    monkeypatch.setattr(operations, "shop_details_fetch", fail)

    assert tasks.shop_details_sync(shop.pk) == []
    shop.refresh_from_db()
    assert shop.name == "Beam Test Shop"
