"""From platform webhooks to the dashboard: orders, attribution of a Beam code, earning,
cancellation and enrolment go through ``loyalty.services`` (the real path), then the
rollups, then the figures. No analytics hook in the order path: the refresh finds the
changes by their timestamps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from loyalty.analytics import selectors, services
from loyalty.models import Member, Redemption
from loyalty.services import customer_webhook_process, order_webhook_process
from merchants.models import Shop
from tests.loyalty.factories import RewardFactory, line, order


def _money(amount: str) -> dict[str, Any]:
    return {"shop_money": {"amount": amount, "currency_code": "USD"}}


def _order(order_id: int, total: str, **kwargs: Any) -> dict[str, Any]:
    payload = order(order_id, [line(total)], **kwargs)
    payload.update(
        total_price=total,
        total_price_set=_money(total),
        subtotal_price=total,
        subtotal_price_set=_money(total),
    )
    return payload


def test_webhook_orders_reach_the_dashboard(shop: Shop, program: Any) -> None:
    now = timezone.now()
    customer_webhook_process(
        shop=shop, topic="customers/create", payload={"id": 501, "email": "a@example.com"}
    )
    member = Member.objects.get(shop=shop, customer_id=501)
    reward = RewardFactory(shop=shop)
    Redemption.objects.create(
        shop=shop,
        member=member,
        reward=reward,
        points_spent=500,
        value=Decimal(5),
        currency="USD",
        code="BEAM-XYZ",
        status=Redemption.Status.ISSUED,
        client_key="k1",
        expires_at=now + timedelta(days=30),
    )
    services.rollup_refresh(shop=shop)  # the rollups exist before the orders arrive
    later = (now + timedelta(minutes=1)).isoformat()
    paid = _order(9001, "100.00", customer_id=501, discount_codes=["beam-xyz"], processed_at=later)
    order_webhook_process(shop=shop, topic="orders/paid", payload=paid, triggered_at=None)
    other = _order(9002, "40.00", customer_id=502, email="b@example.com", processed_at=later)
    order_webhook_process(shop=shop, topic="orders/paid", payload=other, triggered_at=None)
    order_webhook_process(shop=shop, topic="orders/cancelled", payload=other, triggered_at=None)
    guest = _order(9003, "30.00", customer_id=None, processed_at=later)
    order_webhook_process(shop=shop, topic="orders/paid", payload=guest, triggered_at=None)

    report = services.rollup_refresh(shop=shop)

    assert report.full is False
    today = timezone.now().date()
    board = selectors.dashboard_get(
        shop=shop, rng=selectors.DateRange(today - timedelta(days=1), today + timedelta(days=1))
    )
    assert Redemption.objects.get(code="BEAM-XYZ").status == Redemption.Status.USED
    assert (board.orders, board.revenue) == (2, Decimal("130.00"))
    assert (board.reward_orders, board.reward_revenue) == (1, Decimal("100.00"))
    assert board.aov_with_reward == Decimal("100.00")
    assert board.aov_without_reward == Decimal("30.00")
    assert board.members_enrolled == 2  # 501 signed up, 502 came with an order
    assert board.points_issued == 100 + 40  # 502's earning was reversed, not un-issued
    assert board.points_reversed == 40
    assert board.outstanding_points == 100
    assert (board.customers, board.member_customers) == (1, 1)  # 502 has no counted order
    assert board.repeat_rate_members == Decimal("0.0")
    assert board.customer_lifetime_value == Decimal("100.00")
