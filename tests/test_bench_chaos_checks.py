"""The chaos bench's model and checks (``bench/_chaos_plan.py``, ``bench/_chaos_checks.py``)
against Beam's real inbox and crediting, in-process: its deliveries, recorded (duplicates
included) and drained in small batches, leave exactly the balances the bench's independent
model expects, and each fault the bench reports is seen when it is put in the database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from bench import _chaos_plan as P
from bench._chaos_checks import checks
from loyalty.models import LedgerEntry, LoyaltyProgram, Member
from merchants import inbox, inbox_record
from merchants.models import Shop, WebhookDelivery

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the bench's checks read PostgreSQL over their own connection",
    ),
]

SIZES = P.Sizes(orders=40, customers=9, redeemers=0)
FIGURES = ("lost", "double_credited", "wrong_balances", "stuck_deliveries", "wrong_orders")


@pytest.fixture
def recorded(settings: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[P.Item]]:
    """The bench's deliveries in its sending order, recorded and drained 7 at a time."""
    from merchants import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: None)
    shop = Shop(domain=P.SHOP, currency="USD", installed_at=timezone.now())
    shop.access_token = "shpat_chaos"
    shop.save()
    LoyaltyProgram.objects.create(shop=shop, welcome_points=P.WELCOME_POINTS)
    items = P.plan(SIZES)
    for item in items:
        inbox_record.delivery_record(
            shop=shop,
            webhook_id=item.webhook_id,
            topic=item.topic,
            payload=P.payload_of(SIZES, item),
            event_id=item.event_id,
        )
    inbox.deliveries_drain(batch_size=7)
    return shop.pk, items


def _dsn() -> str:
    s = connection.settings_dict
    return (
        f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} dbname={s['NAME']}"
        f" user={s['USER']} password={s['PASSWORD'] or ''}"
    )


def _figures(shop_id: int, items: list[P.Item]) -> dict[str, int]:
    found = checks(_dsn(), shop_id, SIZES, items, {i.webhook_id for i in items})
    return {k: found[k] for k in FIGURES}


def test_the_plan_mixes_every_kind_of_delivery() -> None:
    items = P.plan(SIZES)
    ids = [i.webhook_id for i in items]
    events = [i.event_id for i in items]
    assert len(set(ids)) < len(ids)  # the platform's retries (same webhook id)
    assert len({(w, e) for w, e in zip(ids, events, strict=True)}) > len(set(events))
    first = {i.n for i in items if i.topic == "refunds/create"} & {
        n for n in range(SIZES.orders) if P.refund_first(n)
    }
    position = {(i.topic, i.n): k for k, i in reversed(list(enumerate(items)))}
    assert first and all(
        position[("refunds/create", n)] < position[("orders/paid", n)] for n in first
    )
    refunded_taxes_included = {
        i.n for i in items if i.topic == "refunds/create" and P.taxes_included(i.n)
    }
    assert refunded_taxes_included & first and refunded_taxes_included - first


def test_beam_ends_where_the_bench_model_says(recorded: tuple[int, list[P.Item]]) -> None:
    shop_id, items = recorded
    model = P.expected(SIZES, items)
    assert sum(model.reversed.values()) > 0 and len(model.balances) == SIZES.customers

    assert _figures(shop_id, items) == dict.fromkeys(FIGURES, 0)


def test_the_checks_see_a_wrong_balance_a_double_credit_a_loss_and_a_stuck_delivery(
    recorded: tuple[int, list[P.Item]],
) -> None:
    shop_id, items = recorded
    doubled = LedgerEntry.objects.filter(shop_id=shop_id, kind="order_earn").order_by("id")[0]
    other = Member.objects.filter(shop_id=shop_id).exclude(pk=doubled.member_id).order_by("pk")[0]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_member SET balance = balance + 1 WHERE id = %s", [other.pk])
        cursor.execute(
            "INSERT INTO loyalty_ledgerentry (shop_id, member_id, amount, kind, bucket,"
            " source_type, source_id, idempotency_key, actor, note, created_at)"
            " SELECT shop_id, member_id, amount, kind, bucket, source_type, source_id,"
            " 'again', actor, note, created_at FROM loyalty_ledgerentry WHERE id = %s",
            [doubled.pk],
        )
    WebhookDelivery.objects.filter(shop_id=shop_id, topic="orders/paid").order_by("pk")[0].delete()
    leased = WebhookDelivery.objects.filter(shop_id=shop_id, topic="refunds/create").update(
        status=WebhookDelivery.Status.PROCESSING
    )

    found = _figures(shop_id, items)

    assert leased > 0
    assert found == {
        "lost": 1,
        "double_credited": 1,
        "wrong_balances": 2,  # the changed balance; the member credited twice (ledger drift)
        "stuck_deliveries": leased,
        "wrong_orders": 0,
    }
