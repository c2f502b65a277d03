"""The crediting engine's batches: what a drain hands it, their exact results, and the
fallback without loss when a batch fails (its deliveries then go one by one). Each delivery
is a batch of one, so the comparisons of a shop drained in batches with one drained one
delivery at a time check that the deliveries of a batch compose as if run one by one.
Crediting, refunds and cancellations in any order against an independent model:
``test_engine_property.py``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from loyalty import services
from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
    ProductTags,
    Redemption,
    Reward,
)
from loyalty.services import crediting, ledger_verify, points_adjust
from merchants import inbox, inbox_record
from merchants.models import Shop, WebhookDelivery
from tests.loyalty.factories import line, order, refund
from tests.merchants.webhook_support import ShopFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inbox_not_processed")]

BASE_TIME = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PG = connection.vendor == "postgresql"


# --- scenario generation -----------------------------------------------------------------------


def shop_prepare(variant: str) -> Shop:
    """A shop with the default program (and bonus events for ``bonus``), two known members
    and one issued reward code."""
    shop = ShopFactory()
    LoyaltyProgram.objects.create(shop=shop)
    if variant == "bonus":
        BonusEvent.objects.create(
            shop=shop,
            multiplier=Decimal("2"),
            starts_at=BASE_TIME,
            ends_at=BASE_TIME + timedelta(minutes=30),
        )
        BonusEvent.objects.create(
            shop=shop,
            multiplier=Decimal("3.5"),
            starts_at=BASE_TIME + timedelta(minutes=20),
            ends_at=BASE_TIME + timedelta(hours=2),
            product_tags=["summer"],
        )
        ProductTags.objects.create(shop=shop, product_id=222, tags=["summer"])
    for customer_id in (9000, 9001):
        member = Member.objects.create(
            shop=shop, customer_id=customer_id, email=f"c{customer_id}@example.com"
        )
        points_adjust(
            shop=shop,
            member=member,
            amount=50,
            reason="seed",
            actor="t",
            idempotency_key=f"seed-{customer_id}",
        )
    reward = Reward.objects.create(
        shop=shop, name="$5", kind=Reward.Kind.FIXED_AMOUNT, points_cost=10, value=5
    )
    Redemption.objects.create(
        shop=shop,
        member=Member.objects.get(shop=shop, customer_id=9000),
        reward=reward,
        points_spent=10,
        value=5,
        currency="USD",
        code="BEAM-AAAA-BBBB",
        client_key="k",
        status=Redemption.Status.ISSUED,
        expires_at=BASE_TIME + timedelta(days=30),
    )
    return shop


def record_all(shop: Shop, deliveries: list[tuple[str, str, dict[str, Any]]]) -> None:
    for n, (suffix, topic, payload) in enumerate(deliveries):
        inbox_record.delivery_record(
            shop=shop,
            webhook_id=f"{shop.pk}:{suffix}",
            topic=topic,
            payload=payload,
            triggered_at=BASE_TIME + timedelta(seconds=n),
        )


# --- comparison ---------------------------------------------------------------------------------

_ORDER_SKIP = {"id", "shop", "member", "created_at", "updated_at", "credited_at"}


def outcome(shop: Shop) -> dict[str, Any]:
    """Everything the processing wrote for the shop, without pks and wall-clock times."""
    members = sorted(
        (
            m.customer_id,
            m.email,
            m.first_name,
            m.last_name,
            m.balance,
            m.pending_points,
            m.lifetime_earned,
            m.lifetime_redeemed,
            m.negative_balance_allowed,
            m.last_activity_at is None,
            m.redacted,
        )
        for m in Member.objects.filter(shop=shop)
    )
    entries = sorted(
        (
            e.member.customer_id,
            e.amount,
            e.kind,
            e.bucket,
            e.release_at,
            e.source_type,
            e.source_id,
            e.idempotency_key,
            e.actor,
            e.note,
        )
        for e in LedgerEntry.objects.filter(shop=shop).select_related("member")
    )
    fields = [f for f in LoyaltyOrder._meta.concrete_fields if f.name not in _ORDER_SKIP]
    orders = sorted(
        (
            tuple(f.value_from_object(o) for f in fields),
            o.member.customer_id if o.member else None,
            o.credited_at is None,
        )
        for o in LoyaltyOrder.objects.filter(shop=shop).select_related("member")
    )
    refunds = sorted(
        OrderRefund.objects.filter(shop=shop).values_list("order_id", "refund_id", "base")
    )
    redemptions = sorted(
        Redemption.objects.filter(shop=shop).values_list("code", "status", "order_id")
    )
    deliveries = sorted(
        (d.webhook_id.split(":", 1)[1], d.topic, d.status, d.attempts, d.note, d.last_error)
        for d in WebhookDelivery.objects.filter(shop=shop)
    )
    return {
        "members": members,
        "entries": entries,
        "orders": orders,
        "refunds": refunds,
        "redemptions": redemptions,
        "deliveries": deliveries,
    }


def _assert_same(one: dict[str, Any], two: dict[str, Any]) -> None:
    for key in one:
        assert one[key] == two[key], key


def test_clean_burst_is_credited_entirely_by_the_batch_path(batch_calls) -> None:
    """The Black-Friday case: paid orders of new and known customers, nothing else."""
    reference, batched = shop_prepare("default"), shop_prepare("default")
    deliveries = []
    for n in range(120):
        customer_id = 9000 + n % 30
        payload = order(
            80_000 + n,
            [line("19.99", 2, line_id=1), line("5.00", line_id=2)],
            customer_id=customer_id,
            email=f"c{customer_id}@example.com",
        )
        deliveries.append((f"paid-{n}", "orders/paid", payload))
    record_all(reference, deliveries)
    record_all(batched, deliveries)

    inbox.deliveries_drain(shop=reference, batch_size=1)
    batch_calls.clear()
    inbox.deliveries_drain(shop=batched)

    _assert_same(outcome(reference), outcome(batched))
    assert batch_calls == [120]
    member = Member.objects.get(shop=batched, customer_id=9001)
    assert (member.balance, member.lifetime_earned) == (50 + 4 * 44, 50 + 4 * 44)


def _paid(n: int, customer_id: int) -> tuple[str, str, dict[str, Any]]:
    payload = order(
        80_000 + n,
        [line("19.99", 2, line_id=1), line("5.00", line_id=2)],
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
    )
    return (f"paid-{n}", "orders/paid", payload)


def _refund(n: int, suffix: str, items: list[tuple[int, str]]) -> tuple[str, str, dict[str, Any]]:
    refund_id = 70_000 + n * 10 + len(suffix)
    return (f"refund-{n}-{suffix}", "refunds/create", refund(refund_id, 80_000 + n, items))


def _drain_both(
    reference: Shop,
    batched: Shop,
    deliveries: list[tuple[str, str, dict[str, Any]]],
    batch_calls: list[int],
    *,
    batch_size: int = 500,
) -> int:
    """Record the deliveries for both shops, drain one per delivery and the other in
    batches; returns how many deliveries the batches were given."""
    record_all(reference, deliveries)
    record_all(batched, deliveries)
    inbox.deliveries_drain(shop=reference, batch_size=1)
    batch_calls.clear()
    inbox.deliveries_drain(shop=batched, batch_size=batch_size)
    _assert_same(outcome(reference), outcome(batched))
    assert not ledger_verify(shop=batched).drifts
    return sum(batch_calls)


@pytest.mark.parametrize("batch_size", [7, 500])
def test_refunds_are_applied_by_the_batch_path(batch_size: int, batch_calls) -> None:
    """Refunds of orders credited earlier, of orders credited in the same claim, arriving
    before their order (in the same claim or an earlier one), two refunds of one order:
    all in batches, with the one-by-one results."""
    reference, batched = shop_prepare("default"), shop_prepare("default")
    first = [_paid(n, 9000 + n % 6) for n in range(8)]
    assert _drain_both(reference, batched, first, batch_calls) == 8

    second = [
        _refund(0, "a", [(1, "39.98")]),  # an order credited by the first drain
        _refund(1, "a", [(1, "19.99")]),  # two refunds of one credited order
        _refund(1, "bb", [(2, "5.00")]),
        _refund(12, "a", [(1, "39.98")]),  # before its order, same claim
        _paid(12, 9003),
        _paid(13, 9004),
        _refund(13, "a", [(2, "5.00")]),  # after its order, same claim
        _refund(13, "bb", [(1, "39.98")]),
        _refund(20, "a", [(1, "19.99")]),  # its order comes in the next drain
        *(_paid(n, 9000 + n % 7) for n in range(30, 45)),
    ]
    handled = _drain_both(reference, batched, second, batch_calls, batch_size=batch_size)
    assert handled == len(second)
    third = [_refund(20, "bb", [(2, "5.00")]), _paid(20, 9005), *(_paid(n, 9001) for n in (50, 51))]
    handled = _drain_both(reference, batched, third, batch_calls, batch_size=batch_size)
    assert handled == len(third)

    orders = {o.order_id: o for o in LoyaltyOrder.objects.filter(shop=batched)}
    assert (orders[80_000].points_earned, orders[80_000].points_reversed) == (44, 39)
    assert (orders[80_001].refunded_base, orders[80_001].points_reversed) == (Decimal("24.99"), 24)
    assert (orders[80_012].refunded_base, orders[80_012].points_reversed) == (Decimal("39.98"), 39)
    assert (orders[80_020].state, orders[80_020].points_reversed) == ("credited", 24)
    assert set(
        LedgerEntry.objects.filter(shop=batched, kind="order_refund").values_list(
            "idempotency_key", flat=True
        )
    ) == {
        "refund:70001",
        "refund:70011",
        "refund:70012",
        "refund:70132",
        "refund:70131",
        "order:80012:reversal:39",
        "order:80020:reversal:24",
    }


@pytest.mark.parametrize("pending", [False, True])
@pytest.mark.parametrize("policy", ["deduct_to_zero_record_shortfall", "allow_negative"])
def test_refund_reversals_when_the_points_were_spent(
    policy: str, pending: bool, batch_calls
) -> None:
    """Refunds after the members spent their points: the shortfall policy (or a negative
    balance) and the pending bucket as one-by-one processing applies them."""
    shops = []
    for _ in range(2):
        shop = shop_prepare("default")
        LoyaltyProgram.objects.filter(shop=shop).update(
            negative_balance_policy=policy, pending_days=14 if pending else 0
        )
        shops.append(shop)
    reference, batched = shops
    first = [_paid(n, 9000 + n % 4) for n in range(12)]
    _drain_both(reference, batched, first, batch_calls)
    for shop in shops:
        for member in Member.objects.filter(shop=shop, balance__gt=3).order_by("customer_id"):
            points_adjust(
                shop=shop,
                member=member,
                amount=3 - member.balance,
                reason="spent",
                actor="t",
                idempotency_key=f"spend-{member.customer_id}",
            )

    second = [_refund(n, "a", [(1, "39.98"), (2, "5.00")]) for n in range(0, 12, 2)]
    second += [_paid(20, 9000), _refund(20, "a", [(1, "39.98")]), _refund(1, "a", [(1, "9.99")])]
    handled = _drain_both(reference, batched, second, batch_calls)

    assert handled == len(second)
    orders = LoyaltyOrder.objects.filter(shop=batched)
    if pending:
        assert not orders.filter(points_shortfall__gt=0).exists()
        assert Member.objects.filter(shop=batched, pending_points__gt=0).exists()
    elif policy == "allow_negative":
        assert Member.objects.filter(shop=batched, balance__lt=0).exists()
        assert not Member.objects.filter(
            shop=batched, negative_balance_allowed=False, balance__lt=0
        )
    else:
        assert orders.filter(points_shortfall__gt=0).exists()
        assert not Member.objects.filter(shop=batched, balance__lt=0).exists()


def test_a_small_claim_is_one_batch(batch_calls) -> None:
    shop = shop_prepare("default")
    record_all(
        shop, [(f"p{n}", "orders/paid", order(60_000 + n, [line("10.00")])) for n in range(3)]
    )

    assert inbox.deliveries_drain(shop=shop).processed == 3

    assert batch_calls == [3]
    assert Member.objects.get(shop=shop, customer_id=501).balance == 30


def _batches_fail(monkeypatch: pytest.MonkeyPatch, step: str, failure: Any) -> None:
    """Make ``crediting.<step>`` call ``failure()`` when it handles more than one delivery."""
    real = getattr(crediting, step)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        size = len(args[2]) if step == "_state_load" else len(args[1].attributions)
        if size > 1:
            failure()
        return real(*args, **kwargs)

    monkeypatch.setattr(crediting, step, wrapper)


@pytest.mark.parametrize("failure", ["bug", "database"])
@pytest.mark.parametrize("step", ["_state_load", "_plan_apply"])
def test_a_failing_batch_is_processed_one_by_one(
    step: str, failure: str, batch_calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error in a batch (a bug, or a statement the database rejects, while it
    loads or while it writes) rolls the whole batch back; the claimed deliveries are then
    processed one by one, so nothing is lost or doubled."""

    def fail() -> None:
        if failure == "bug":
            raise RuntimeError("boom")
        with connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM loyalty_member")
        raise AssertionError("unreachable")

    _batches_fail(monkeypatch, step, fail)
    shop = shop_prepare("default")
    record_all(
        shop, [(f"p{n}", "orders/paid", order(61_000 + n, [line("10.00")])) for n in range(20)]
    )

    assert inbox.deliveries_drain(shop=shop).processed == 20

    assert batch_calls == [20] + [1] * 20
    member = Member.objects.get(shop=shop, customer_id=501)
    assert member.balance == 200
    assert LedgerEntry.objects.filter(member=member, kind="order_earn").count() == 20
    assert set(WebhookDelivery.objects.filter(shop=shop).values_list("status", flat=True)) == {
        "succeeded"
    }


def test_a_refused_order_does_not_fail_its_batch(batch_calls) -> None:
    """A payload whose shape the checks refuse is left out of its batch (which credits the
    others at once, not one by one) and parked after one attempt with its reason."""
    shop = shop_prepare("default")
    deliveries = [(f"p{n}", "orders/paid", order(62_000 + n, [line("10.00")])) for n in range(20)]
    bad = order(62_999, [line("10.00")])
    bad["line_items"] = ["not an object"]
    bad["customer"]["id"] = 777
    deliveries.append(("bad", "orders/paid", bad))
    record_all(shop, deliveries)

    inbox.deliveries_drain(shop=shop)

    assert batch_calls == [21]
    parked = WebhookDelivery.objects.get(webhook_id=f"{shop.pk}:bad")
    assert (parked.status, parked.attempts) == ("unprocessable", 1)
    assert parked.last_error == "line_items[0] is not an object ('not an object')"
    assert Member.objects.get(shop=shop, customer_id=501).balance == 200
    assert not Member.objects.filter(shop=shop, customer_id=777).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_batch_drains_and_redemptions_keep_the_ledger_exact(batch_calls) -> None:
    """Two drains crediting overlapping members while redemptions spend from them: no
    deadlock, nothing credited twice, no overdraft, every balance equals its ledger."""
    if not PG:
        pytest.skip("row-lock races need PostgreSQL")
    from loyalty.errors import InsufficientPoints

    shop = shop_prepare("default")
    members = {m.customer_id: m for m in Member.objects.filter(shop=shop)}
    reward = Reward.objects.create(
        shop=shop, name="$1", kind=Reward.Kind.FIXED_AMOUNT, points_cost=30, value=1
    )
    deliveries = []
    for n in range(300):
        customer_id = 9000 + n % 25
        deliveries.append(
            (
                f"paid-{n}",
                "orders/paid",
                order(90_000 + n, [line("10.00")], customer_id=customer_id, email=f"x{n % 25}@e.x"),
            )
        )
    record_all(shop, deliveries)
    errors: list[BaseException] = []
    redeemed: list[int] = []
    barrier = threading.Barrier(4)

    def drain() -> None:
        try:
            barrier.wait()
            inbox.deliveries_drain(shop=shop, batch_size=60)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def redeem(i: int) -> None:
        try:
            barrier.wait()
            for k in range(15):
                try:
                    services.reward_redeem(
                        shop=shop,
                        member_id=members[9000 + (i + k) % 2].pk,
                        reward_id=reward.pk,
                        client_key=f"r{i}-{k}",
                    )
                    redeemed.append(30)
                except InsufficientPoints:
                    pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    from unittest import mock

    from loyalty.services import redemptions

    with mock.patch.object(redemptions, "enqueue_on_commit", lambda *a: None):
        threads = [threading.Thread(target=drain) for _ in range(2)]
        threads += [threading.Thread(target=redeem, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)

    assert errors == []
    assert set(WebhookDelivery.objects.filter(shop=shop).values_list("status", flat=True)) == {
        "succeeded"
    }
    assert LedgerEntry.objects.filter(shop=shop, kind="order_earn").count() == 300
    assert not ledger_verify(shop=shop).drifts
    assert not Member.objects.filter(shop=shop, balance__lt=0).exists()
    total = Member.objects.filter(shop=shop).aggregate(s=Sum("balance"))["s"]
    assert total == 2 * 50 + 300 * 10 - sum(redeemed)
    assert sum(batch_calls) > 0


@pytest.mark.parametrize("batch_size", [1, 500])
def test_bonus_events_and_reward_codes_in_a_drain(batch_size: int, batch_calls) -> None:
    """Overlapping bonus events (order-wide x2, tagged x3.5: the higher per line, never
    compounded) and a reward code's attribution (used by two orders: the first has it), the
    same one by one and in a batch."""
    shop = shop_prepare("bonus")
    deliveries = []
    for n in range(16):
        customer_id = 9000 + n % 4
        payload = order(
            80_000 + n,
            [line("10.00", line_id=1, product_id=222), line("5.00", line_id=2, product_id=111)],
            customer_id=customer_id,
            email=f"c{customer_id}@example.com",
            # a one-time code used twice: the first order has it, in a batch as one by one
            discount_codes=["BEAM-AAAA-BBBB"] if n in (0, 5) else [],
            processed_at=(BASE_TIME + timedelta(minutes=10 * n)).isoformat(),
        )
        deliveries.append((f"paid-{n}", "orders/paid", payload))
    record_all(shop, deliveries)

    inbox.deliveries_drain(shop=shop, batch_size=batch_size)

    assert batch_calls == ([1] * 16 if batch_size == 1 else [16])
    earned = dict(LoyaltyOrder.objects.filter(shop=shop).values_list("order_id", "points_earned"))
    # 0-20 min: x2 on both lines (the tagged x3.5 from 20 min on); 30 min-2 h: x3.5 on the
    # tagged line only; later: no event.
    assert [earned[80_000 + n] for n in range(16)] == [30, 30, 45] + [40] * 9 + [15] * 4
    balances = dict(Member.objects.filter(shop=shop).values_list("customer_id", "balance"))
    assert balances == {9000: 50 + 125, 9001: 50 + 125, 9002: 140, 9003: 135}
    code = Redemption.objects.get(shop=shop, code="BEAM-AAAA-BBBB")
    assert (code.status, code.order_id) == (Redemption.Status.USED, 80_000)
    assert ledger_verify(shop=shop).drifts == []


@pytest.mark.parametrize("refund_claim", ["same", "earlier"])
def test_refund_before_its_taxes_included_order_in_a_drain(refund_claim: str, batch_calls) -> None:
    """Regression: a refund processed before its taxes-included order took its base from
    the placeholder row (tax not included) and reversed 75 instead of 69. Whether the
    refund is in the same batch or was drained earlier, its base is chosen again when the
    order's snapshot says prices include tax."""
    shop = shop_prepare("default")
    LoyaltyProgram.objects.filter(shop=shop).update(points_per_currency_unit=Decimal("1.5"))
    taxed = order(
        80_100,
        [line("100.00", line_id=1, tax="8.00")],
        customer_id=9004,
        email="c9004@example.com",
        taxes_included=True,
    )
    half = refund(70_100, 80_100, [(1, "50.00")])
    tax = {"amount": "4.00", "currency_code": "USD"}
    half["refund_line_items"][0].update(
        total_tax="4.00", total_tax_set={"shop_money": tax, "presentment_money": tax}
    )
    fillers = [_paid(n, 9000 + n % 4) for n in range(16)]
    first = [("refund-taxed", "refunds/create", half)]
    rest = [("paid-taxed", "orders/paid", taxed), *fillers]
    if refund_claim == "same":
        record_all(shop, first + rest)
    else:
        record_all(shop, first)
        inbox.deliveries_drain(shop=shop)
        batch_calls.clear()
        record_all(shop, rest)

    inbox.deliveries_drain(shop=shop)

    assert batch_calls == ([18] if refund_claim == "same" else [17])
    o = LoyaltyOrder.objects.get(shop=shop, order_id=80_100)
    assert (o.points_earned, o.points_reversed, o.refunded_base) == (138, 69, Decimal("46.00"))
    assert Member.objects.get(shop=shop, customer_id=9004).balance == 69
    assert OrderRefund.objects.get(shop=shop, refund_id=70_100).base == Decimal("46.00")
    report = ledger_verify(shop=shop)
    assert (report.drifts, report.order_drifts) == ([], [])
