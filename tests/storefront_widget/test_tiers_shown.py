"""The shop's tiers on the storefront: the program document's tier list (panel, landing page,
extensions), the member's tier block in ``me``, and ``me`` kept fresh by tier changes."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from devstore.clock import clock_at
from loyalty import services
from loyalty.models import Member, TierSettings
from loyalty.services.tier_grants import tier_grant
from loyalty.services.tiers import tiers_evaluate_due
from tests.loyalty.factories import line, order
from tests.loyalty.tier_helpers import tiers_setup
from tests.storefront_widget.conftest import ProxyClient

pytestmark = pytest.mark.django_db
PERKS = ["Free shipping", "Early access"]


def _paid(shop, customer_id: int, order_id: int, price: str) -> None:  # type: ignore[no-untyped-def]
    services.order_webhook_process(
        shop=shop,
        topic="orders/paid",
        payload=order(order_id, [line(price)], customer_id=customer_id),
        triggered_at=None,
    )


def test_no_tiers_no_list_and_no_tier_block(proxy: ProxyClient, program, member) -> None:  # type: ignore[no-untyped-def]
    assert proxy.get("api/program").json()["tiers"] == []
    assert proxy.get("api/me").json()["member"]["tier"] is None


def test_the_program_lists_the_tiers_in_threshold_order(proxy: ProxyClient, program, shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    tiers["Gold"].perks = PERKS
    tiers["Gold"].save()
    assert proxy.get("api/program").json()["tiers"] == [
        {
            "name": "Silver",
            "metric": "points",
            "threshold": 100,
            "multiplier": "1.25",
            "perks": [],
            "entry_points": 50,
        },
        {
            "name": "Gold",
            "metric": "points",
            "threshold": 500,
            "multiplier": "1.5",
            "perks": PERKS,
            "entry_points": 200,
        },
    ]
    TierSettings.objects.filter(shop=shop).update(enabled=False)
    tiers["Gold"].save()  # a save drops the cached document
    assert proxy.get("api/program").json()["tiers"] == []


def test_money_thresholds_are_amounts_and_the_landing_page_says_so(
    proxy: ProxyClient, program, shop
) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop, (("Silver", "99.50", "1.25", 0), ("Gold", "250", "1.5", 0)), metric="spend")
    assert [t["threshold"] for t in proxy.get("api/program").json()["tiers"]] == [
        "99.50",
        "250.00",
    ]
    html = unescape(proxy.get("", customer=None).content.decode())
    assert "VIP tiers" in html
    assert "From 99.50 EUR" in html and "From 250.00 EUR" in html


def test_the_landing_page_states_point_thresholds(proxy: ProxyClient, program, shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop, (("Silver", "1500", "1.25", 0),))
    html = unescape(proxy.get("", customer=None).content.decode())
    assert '<h3>Silver</h3><p class="bl-pts">From 1,500 points</p>' in html


def test_me_shows_the_tier_its_end_and_what_the_next_one_needs(
    proxy: ProxyClient,
    program,  # type: ignore[no-untyped-def]
    shop,
    customer,
    django_assert_num_queries: Any,
) -> None:
    tiers_setup(shop)
    now = datetime(2025, 6, 10, 12, tzinfo=UTC)
    with clock_at(now):
        _paid(shop, customer.id, 1, "140.00")
        # shop, member with history, awards, tier rules, sums, codes, referral settings
        with django_assert_num_queries(7):
            block = proxy.get("api/me").json()["member"]["tier"]
    assert block == {
        "name": "Silver",
        "rank": 0,
        "multiplier": "1.25",
        "granted": False,
        "until": "2027-01-01T00:00:00Z",
        "last_day": "2026-12-31",  # the shop's midnight: the tier holds through the day before
        "metric": "points",
        "value": 140,
        "next": {"name": "Gold", "threshold": 500, "remaining": 360},
    }


def test_me_shows_a_grant_with_its_end(proxy: ProxyClient, program, shop, customer, member) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    now = datetime(2025, 6, 10, 12, tzinfo=UTC)
    with clock_at(now):
        tier_grant(
            shop=shop,
            customer_ids=[customer.id],
            tier_id=tiers["Gold"].pk,
            days=3,
            actor="a",
            key="k",
        )
        block = proxy.get("api/me").json()["member"]["tier"]
    assert (block["name"], block["granted"], block["until"], block["last_day"]) == (
        "Gold",
        True,
        "2025-06-13T12:00:00Z",
        "2025-06-13",
    )
    assert block["next"] is None  # nothing above Gold
    assert block["value"] == 0


def test_tier_changes_reach_the_cached_me(
    proxy: ProxyClient,
    program,  # type: ignore[no-untyped-def]
    shop,
    customer,
    member: Member,
    django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:
    tiers = tiers_setup(shop)

    def cached() -> dict[str, Any]:
        first = proxy.get("api/me").json()
        with django_assert_num_queries(0):
            assert proxy.get("api/me").json() == first
        return first["member"]["tier"]

    with clock_at(timezone.now()):
        assert cached()["name"] is None
        with django_capture_on_commit_callbacks(execute=True):
            tier_grant(
                shop=shop,
                customer_ids=[customer.id],
                tier_id=tiers["Silver"].pk,
                days=1,
                actor="a",
                key="k",
            )
        assert cached()["name"] == "Silver"
    later = timezone.now() + timezone.timedelta(days=2)
    with clock_at(later), django_capture_on_commit_callbacks(execute=True):
        tiers_evaluate_due(now=later)
    with clock_at(later):
        assert cached()["name"] is None
