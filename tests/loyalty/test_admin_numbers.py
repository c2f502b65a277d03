"""The other admin pages show money and points the analytics way: money in the shop's
currency format, points with digit grouping (``core.numbers`` through ``beam_numbers``)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from loyalty.models import LoyaltyProgram, Member, Reward
from loyalty.services import points_adjust
from tests.loyalty.admin_helpers import AdminClient, admin_shop

pytestmark = pytest.mark.django_db


def test_customers_list_and_detail_group_the_points() -> None:
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    member = Member.objects.create(shop=shop, customer_id=7, email="big@example.com")
    points_adjust(
        shop=shop, member=member, amount=38692, reason="import", actor="1", idempotency_key="s"
    )
    client = AdminClient(shop, user_id="1")

    listing = client.get("/admin/customers/").content.decode()
    detail = client.get(f"/admin/customers/{member.pk}/").content.decode()

    assert re.search(r'<td class="[^"]*\bbeam-num\b[^"]*">38,692</td>', listing)
    assert '<strong id="beam-balance">38,692</strong> points' in detail
    assert "38692" not in listing


def test_rewards_list_shows_money_in_the_shop_currency() -> None:
    shop = admin_shop(currency="EUR")
    Reward.objects.create(
        shop=shop,
        name="Spend points",
        kind=Reward.Kind.VARIABLE,
        points_per_unit=1000,
        value_per_unit=Decimal("1.50"),
    )
    Reward.objects.create(
        shop=shop, name="Big", kind=Reward.Kind.FIXED_AMOUNT, points_cost=12500, value=Decimal(50)
    )

    html = AdminClient(shop).get("/admin/rewards/").content.decode()

    assert "1,000 pts = €1.50" in html
    assert "12,500 pts" in html
