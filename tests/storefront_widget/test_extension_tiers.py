"""Tiers in the checkout, thank-you and customer-account extensions (/ext/, signed with the
extension session token): where this order leaves the member's tier, computed by the tier
rules and equal to what crediting the real devstore order then does; the member's tier and
tier history in words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from devstore import services as store
from devstore.clock import clock_at
from devstore.webhooks import webhook_outbox
from loyalty.analytics.services import shop_zone
from loyalty.models import LoyaltyOrder, Member, TierChange
from loyalty.selectors import iso
from loyalty.services.tier_grants import tier_grant, tier_manual_set
from tests.loyalty.factories import ProgramFactory
from tests.loyalty.tier_helpers import tiers_setup
from tests.storefront_widget.extension_helpers import bearer, devstore_with_beam, ext_post

pytestmark = pytest.mark.django_db

SPEND_TIERS = (("Silver", "100", "1.25", 0), ("Gold", "500", "1.5", 0))


@pytest.fixture
def env(settings: Any) -> Any:
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam()
    ProgramFactory(shop=shop, points_per_currency_unit=Decimal("1"), welcome_points=0)
    return dev_shop, shop


@pytest.fixture
def dev_shop(env: Any) -> Any:
    return env[0]


@pytest.fixture
def shop(env: Any) -> Any:
    return env[1]


@pytest.fixture
def ada(dev_shop: Any, django_capture_on_commit_callbacks: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        return store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")


def _buy(dev_shop: Any, ada: Any, price: str, capture: Any) -> Any:
    product = store.product_create(dev_shop, f"Item {price}", Decimal(price))
    with capture(execute=True), webhook_outbox():
        return store.order_place(dev_shop, customer=ada, lines=[(product.variants.get(), 1)])


def _cart(total: str, shipping: str = "0") -> dict[str, Any]:
    return {
        "lines": [{"product_id": "", "quantity": 1, "total": total, "discount": "0"}],
        "shipping": shipping,
        "currency": "USD",
    }


def _summary(client: Any, shop: Any, customer_id: int | None, total: str) -> dict[str, Any]:
    response = ext_post(client, "checkout/summary", _cart(total), bearer(shop.domain, customer_id))
    assert response.status_code == 200
    return response.json()


def _member(shop: Any, ada: Any) -> Member:
    return Member.objects.get(shop=shop, customer_id=ada.id)


# --- checkout: the order's effect on the tier -------------------------------------------------


def test_checkout_says_this_order_brings_the_member_to_the_next_tier_and_crediting_agrees(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    _buy(dev_shop, ada, "460.00", django_capture_on_commit_callbacks)
    assert _member(shop, ada).tier.name == "Silver"

    summary = _summary(client, shop, ada.id, "50.00")

    assert summary["tier"] == {
        "name": "Gold",
        "reached": "Gold",
        "multiplier": "1.5",
        "metric": "spend",
        "currency": "USD",
        "value": "510.00",
        "next": None,
    }
    # the order earns at the Silver multiplier it is credited at: 50 x 1.25 = 62.5 -> 62
    assert summary["earn"]["points"] == 62
    order = _buy(dev_shop, ada, "50.00", django_capture_on_commit_callbacks)
    credited = LoyaltyOrder.objects.get(shop=shop, order_id=order.id)
    assert credited.points_earned == 62
    assert _member(shop, ada).tier.name == "Gold"


def test_checkout_says_what_the_next_tier_still_needs_after_this_order(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    _buy(dev_shop, ada, "460.00", django_capture_on_commit_callbacks)

    tier = _summary(client, shop, ada.id, "19.99")["tier"]

    assert (tier["name"], tier["reached"], tier["value"]) == ("Silver", None, "479.99")
    assert tier["next"] == {"name": "Gold", "threshold": "500.00", "remaining": "20.01"}
    # the estimate changed nothing
    assert _member(shop, ada).tier.name == "Silver"
    assert LoyaltyOrder.objects.filter(shop=shop).count() == 1


def test_an_order_count_metric_counts_this_order_as_one_more(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, (("Silver", "2", "1", 0), ("Gold", "3", "2", 0)), metric="orders")
    _buy(dev_shop, ada, "10.00", django_capture_on_commit_callbacks)

    tier = _summary(client, shop, ada.id, "10.00")["tier"]

    assert (tier["name"], tier["reached"], tier["value"]) == ("Silver", "Silver", 2)
    assert tier["next"] == {"name": "Gold", "threshold": 3, "remaining": 1}


def test_a_points_metric_counts_this_orders_points_with_the_tier_multiplier(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, (("Silver", "100", "2", 0), ("Gold", "300", "3", 0)), metric="points")
    _buy(dev_shop, ada, "120.00", django_capture_on_commit_callbacks)  # 120 points: Silver

    summary = _summary(client, shop, ada.id, "60.00")

    assert summary["earn"]["points"] == 120  # 60 x 2 at Silver
    tier = summary["tier"]
    assert (tier["name"], tier["reached"], tier["value"]) == ("Silver", None, 240)
    assert tier["next"] == {"name": "Gold", "threshold": 300, "remaining": 60}
    _buy(dev_shop, ada, "60.00", django_capture_on_commit_callbacks)
    after = client.get("/ext/customer", headers=bearer(shop.domain, ada.id)).json()["tier"]
    assert (after["name"], after["value"], after["next"]["remaining"]) == ("Silver", 240, 60)


def test_a_guest_and_a_shop_without_tiers_get_no_tier_block(
    client: Any, shop: Any, ada: Any
) -> None:
    assert _summary(client, shop, ada.id, "10.00")["tier"] is None  # tiers off
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    guest = _summary(client, shop, None, "10.00")
    assert guest["tier"] is None and guest["earn"]["points"] == 10


def test_bad_cart_is_a_400_and_computes_nothing(client: Any, shop: Any, ada: Any) -> None:
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    body = _cart("-5.00")
    response = ext_post(client, "checkout/summary", body, bearer(shop.domain, ada.id))
    assert response.status_code == 400
    assert TierChange.objects.count() == 0


# --- thank-you and order status ---------------------------------------------------------------


def test_thank_you_says_the_order_brought_the_member_to_gold(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    first = _buy(dev_shop, ada, "120.00", django_capture_on_commit_callbacks)
    second = _buy(dev_shop, ada, "400.00", django_capture_on_commit_callbacks)
    headers = bearer(shop.domain, ada.id)

    def points(order: Any) -> dict[str, Any]:
        response = client.get("/ext/orders/points", {"order_id": str(order.id)}, headers=headers)
        assert response.status_code == 200
        return response.json()

    gold = points(second)["tier"]
    assert (gold["name"], gold["reached"], gold["value"], gold["next"]) == (
        "Gold",
        "Gold",
        "520.00",
        None,
    )
    # the first order brought Ada to Silver; read later, she is Gold by now
    assert (points(first)["tier"]["reached"], points(first)["tier"]["name"]) == ("Silver", "Gold")


def test_an_order_waiting_for_its_trigger_is_projected(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    shop.loyalty_program.earn_trigger = "fulfilled"
    shop.loyalty_program.save()
    order = _buy(dev_shop, ada, "150.00", django_capture_on_commit_callbacks)
    stored = LoyaltyOrder.objects.get(shop=shop, order_id=order.id)
    assert stored.state == LoyaltyOrder.State.OPEN

    body = client.get(
        "/ext/orders/points", {"order_id": str(order.id)}, headers=bearer(shop.domain, ada.id)
    ).json()

    assert (body["tier"]["reached"], body["tier"]["value"]) == ("Silver", "150.00")
    assert _member(shop, ada).tier_id is None  # a projection writes nothing
    assert TierChange.objects.count() == 0


# --- customer account ---------------------------------------------------------------------------


def test_customer_account_shows_the_tier_and_its_history_in_words(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers = tiers_setup(shop, SPEND_TIERS, metric="spend")
    _buy(dev_shop, ada, "120.00", django_capture_on_commit_callbacks)
    member = _member(shop, ada)
    now = timezone.now()
    ends = (now + timezone.timedelta(days=30)).astimezone(shop_zone(shop))
    with clock_at(now):
        tier_grant(
            shop=shop,
            customer_ids=[ada.id],
            tier_id=tiers["Gold"].pk,
            days=30,
            actor="staff",
            key="launch",
        )
    headers = bearer(shop.domain, ada.id)

    summary = client.get("/ext/customer", headers=headers).json()
    history = client.get("/ext/customer/history", headers=headers).json()

    assert summary["tier"]["name"] == "Gold" and summary["tier"]["granted"] is True
    assert summary["tier"]["value"] == "120.00"
    labels = [(c["reason"], c["label"]) for c in history["tier_changes"]]
    assert labels == [
        ("granted", f"Gold access until {ends.day} {ends:%b %Y}"),
        ("earned", "Reached Silver"),
    ]
    assert history["tier_changes"][0]["ends_at"] == iso(now + timezone.timedelta(days=30))
    tier_manual_set(shop=shop, member_id=member.pk, tier_id=None, actor="s", key="m")
    history = client.get("/ext/customer/history", headers=headers).json()
    assert history["tier_changes"][0]["label"] == "Silver removed by the store"


def test_tier_history_is_the_members_own(
    client: Any, dev_shop: Any, shop: Any, ada: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tiers_setup(shop, SPEND_TIERS, metric="spend")
    _buy(dev_shop, ada, "120.00", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        bob = store.customer_create(dev_shop, "bob@example.com", "Bob")
    body = client.get("/ext/customer/history", headers=bearer(shop.domain, bob.id)).json()
    assert body["tier_changes"] == []
    assert (
        client.get("/ext/customer", headers=bearer(shop.domain, bob.id)).json()["tier"]["name"]
        is None
    )
