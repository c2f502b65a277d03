"""Crediting, refunds, cancellations and pending points against an independent model.

Hypothesis draws a short history for one fresh shop (``tests/loyalty/engine_history.py``):
program settings, customers and guests, orders with taxes included or not, refunds before
and after their order, cancellations, sign-ups, duplicate deliveries and the same event
under two webhook ids. The history reaches Beam the way deliveries really do, through the
inbox, and is processed either by the drain (batches of the crediting engine) or one
delivery at a time (batches of one) in a shuffled order. Beam's stored
results must equal the model's, every balance its ledger, and processing the deliveries
again must change nothing. The model: ``tests/loyalty/engine_model.py``.

CI runs the derandomized ``ci`` profile (the same examples every run);
``HYPOTHESIS_PROFILE=thorough`` runs 300 random examples per test locally, ``quick`` skips
shrinking.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis.control import currently_in_test_context

from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member
from loyalty.services import ledger_verify, pending_release_due, points_adjust
from merchants import inbox, inbox_record
from merchants.models import Shop, WebhookDelivery
from tests.loyalty import engine_model as model
from tests.loyalty.engine_history import (
    Delivery,
    History,
    Line,
    Order,
    Program,
    histories,
    order_payload,
)
from tests.merchants.webhook_support import ShopFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inbox_not_processed")]

_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, database=None, suppress_health_check=_HEALTH
)
settings.register_profile(  # while changing the engine: fails fast, without shrinking
    "quick",
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_HEALTH,
    phases=[Phase.explicit, Phase.generate],
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def shop_with_program(program: Program) -> Shop:
    shop = ShopFactory()
    LoyaltyProgram.objects.create(
        shop=shop,
        enabled=program.enabled,
        points_per_currency_unit=program.points_per_unit,
        rounding=program.rounding,
        include_tax=program.include_tax,
        include_shipping=program.include_shipping,
        earn_trigger=program.trigger,
        pending_days=program.pending_days,
        negative_balance_policy=program.policy,
        welcome_points=program.welcome,
        minimum_order_amount=program.minimum,
        test_orders_earn=program.test_orders_earn,
        guest_link_window_days=program.guest_window,
    )
    return shop


def record(shop: Shop, deliveries: list[Delivery], *, suffix: str = "") -> list[int]:
    """Store the deliveries in the inbox in this order; returns the new rows' ids."""
    ids = []
    for delivery in deliveries:
        result = inbox_record.delivery_record(
            shop=shop,
            webhook_id=f"{shop.pk}:{delivery.webhook_id}{suffix}",
            topic=delivery.topic,
            payload=delivery.payload,
            triggered_at=timezone.now(),
        )
        if result.created:
            ids.append(result.delivery.pk)
    return ids


def process(shop: Shop, history: History, *, one_by_one: bool, batch_calls: list[int]) -> None:
    """Both phases, with the members' spending between them. ``one_by_one``: record in
    generation order and process in the shuffled order; else record shuffled and drain."""
    for phase in (1, 2):
        if one_by_one:
            ids = record(shop, [d for d in history.deliveries if d.phase == phase])
            by_webhook = dict(
                WebhookDelivery.objects.filter(pk__in=ids).values_list("webhook_id", "pk")
            )
            seen: set[str] = set()
            for delivery in (d for d in history.shuffled if d.phase == phase):
                key = f"{shop.pk}:{delivery.webhook_id}"
                if key not in seen:
                    seen.add(key)
                    inbox.delivery_process(delivery_id=by_webhook[key])
        else:
            record(shop, [d for d in history.shuffled if d.phase == phase])
            calls = len(batch_calls)
            inbox.deliveries_drain(shop=shop)
            taken = sum(batch_calls[calls:]) > 0
            if currently_in_test_context():  # the statistics of a Hypothesis test
                event(f"phase {phase}: {'a batch' if taken else 'nothing'} credited")
        if phase == 1:
            for customer_id, amount in sorted(model.spends(history).items()):
                points_adjust(
                    shop=shop,
                    member=Member.objects.get(shop=shop, customer_id=customer_id),
                    amount=-amount,
                    reason="spent",
                    actor="test",
                    idempotency_key=f"spend-{customer_id}",
                )


def stored(shop: Shop) -> dict[str, Any]:
    """What the processing left: members, orders and the ledger, by platform ids."""
    members = {
        m.customer_id: (m.balance, m.pending_points, m.lifetime_earned, m.negative_balance_allowed)
        for m in Member.objects.filter(shop=shop)
    }
    orders = {
        o.order_id: (
            o.state,
            o.points_earned - o.points_reversed,
            o.points_pending,
            o.points_shortfall,
            o.refunded_base,
            o.member.customer_id if o.member else None,
            o.currency,
        )
        for o in LoyaltyOrder.objects.filter(shop=shop).select_related("member")
    }
    ledger = sorted(
        LedgerEntry.objects.filter(shop=shop).values_list("idempotency_key", "amount", "bucket")
    )
    return {"members": members, "orders": orders, "ledger": ledger}


def assert_matches_model(shop: Shop, history: History, *, released: bool) -> None:
    want = model.expected(history)
    got = stored(shop)
    delivered = {int(d.payload.get("order_id") or d.payload["id"]) for d in history.deliveries}
    by_id = {o.order_id: o for o in history.orders}
    assert set(got["orders"]) == {oid for oid in by_id if oid in delivered}
    for order_id, row in got["orders"].items():
        exp = want.orders[order_id]
        state, net, pending, shortfall, refunded, member, currency = row
        assert (state, net, refunded) == (exp.state, exp.earned_net, exp.refunded_base), order_id
        assert pending == (0 if released else exp.pending), order_id
        assert 0 <= shortfall <= exp.phase2_reversal, order_id
        if state == "credited":
            assert member == exp.member, order_id
        if state != "open" or history.triggers[order_id]:
            assert currency == by_id[order_id].currency, order_id
    assert set(got["members"]) == set(want.members)
    shortfalls: dict[int, int] = {}
    for row in got["orders"].values():
        if row[5] is not None:
            shortfalls[row[5]] = shortfalls.get(row[5], 0) + row[3]
    for customer_id, exp in want.members.items():
        balance, pending, lifetime, negative = got["members"][customer_id]
        want_balance = exp.balance + (exp.pending if released else 0)
        assert (balance, pending, lifetime) == (
            want_balance,
            0 if released else exp.pending,
            exp.lifetime,
        ), customer_id
        assert negative == (balance < 0), customer_id
        assert shortfalls.get(customer_id, 0) == exp.shortfall, customer_id
    in_pending = Q(entries__bucket=LedgerEntry.Bucket.PENDING)
    for m in Member.objects.filter(shop=shop).annotate(
        available=Sum("entries__amount", filter=~in_pending),
        held=Sum("entries__amount", filter=in_pending),
    ):
        assert (m.balance, m.pending_points) == (m.available or 0, m.held or 0), m.customer_id
    report = ledger_verify(shop=shop)
    assert (report.drifts, report.order_drifts) == ([], [])


def check_history(history: History, *, one_by_one: bool, batch_calls: list[int]) -> None:
    shop = shop_with_program(history.program)
    process(shop, history, one_by_one=one_by_one, batch_calls=batch_calls)
    statuses = set(WebhookDelivery.objects.filter(shop=shop).values_list("status", flat=True))
    assert statuses <= {WebhookDelivery.Status.SUCCEEDED}
    assert_matches_model(shop, history, released=False)

    pending_release_due(now=timezone.now() + timedelta(days=history.program.pending_days + 1))
    assert_matches_model(shop, history, released=True)

    before = stored(shop)
    record(shop, history.deliveries)  # the same webhook ids: duplicates, nothing stored
    record(shop, history.shuffled, suffix=":replayed")  # the same events again
    inbox.deliveries_drain(shop=shop)
    assert stored(shop) == before


@PROFILE
@given(history=histories())
def test_drained_history_matches_the_model(history: History, batch_calls: list[int]) -> None:
    check_history(history, one_by_one=False, batch_calls=batch_calls)


@PROFILE
@given(history=histories())
def test_history_processed_one_by_one_in_any_order_matches_the_model(
    history: History, batch_calls: list[int]
) -> None:
    check_history(history, one_by_one=True, batch_calls=batch_calls)


@settings(PROFILE, max_examples=max(PROFILE.max_examples // 3, 4))
@given(history=histories(min_orders=18, max_orders=22, batchable=True))
def test_large_drained_history_matches_the_model(history: History, batch_calls: list[int]) -> None:
    """Enough orders that the drain's batches hold many events of one member or order."""
    check_history(history, one_by_one=False, batch_calls=batch_calls)


def test_drain_takes_the_batch_path_for_a_batchable_history(batch_calls: list[int]) -> None:
    """A drained history reaches the engine as one batch: 20 paid orders of customers."""
    program = Program(
        Decimal(1), "down", False, False, "paid", 0, "allow_negative", 0, Decimal(0), True
    )
    line = Line(1, Decimal("10.00"), 2, Decimal(0), Decimal(0), False)
    orders = [
        Order(
            60_000 + n,
            9000 + n % 4,
            f"c{9000 + n % 4}@example.com",
            (line,),
            None,
            Decimal(0),
            False,
            "USD",
            False,
        )
        for n in range(20)
    ]
    deliveries = [
        Delivery(f"paid-{o.order_id}", "orders/paid", order_payload(o, fulfilled=False), 1)
        for o in orders
    ]
    history = History(
        program,
        orders,
        [],
        {},
        {o.order_id: {"orders/paid"} for o in orders},
        [],
        None,
        deliveries,
        deliveries,
    )
    shop = shop_with_program(program)
    process(shop, history, one_by_one=False, batch_calls=batch_calls)

    assert batch_calls == [20]  # one batch of the engine, on every database
    assert_matches_model(shop, history, released=False)
    assert Member.objects.get(shop=shop, customer_id=9001).balance == 100
