"""``/apps/beam/api/product_points``: what the product block shows is the program's own
earning rule applied to the price — the figure checkout estimates and the order earns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.models import LoyaltyProgram
from storefront_widget.extension_api.cart import CartLine, cart_earning_estimate
from tests.loyalty.factories import BonusEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_per_unit(program: LoyaltyProgram) -> LoyaltyProgram:
    program.points_per_currency_unit = Decimal("2")
    program.save()
    return program


def test_the_earning_rate_applies_to_the_price(proxy, two_per_unit):
    response = proxy.get("api/product_points", customer=None, price="12900", product_id="42")

    assert response.status_code == 200
    assert response.json() == {"points": 258}  # 2 points per unit x 129.00, not 129
    assert response["Cache-Control"] == "public, max-age=60, stale-while-revalidate=300"


def test_the_figure_is_the_checkout_estimate_of_the_same_product(proxy, shop, two_per_unit):
    two_per_unit.rounding = LoyaltyProgram.Rounding.DOWN
    two_per_unit.excluded_product_ids = [7]
    two_per_unit.save()
    BonusEventFactory(shop=shop, multiplier=Decimal("1.5"))

    shown = proxy.get("api/product_points", customer=None, price="1999", product_id="42")
    excluded = proxy.get("api/product_points", customer=None, price="1999", product_id="7")

    checkout = cart_earning_estimate(
        shop=shop, lines=[CartLine(product_id=42, quantity=1, total=Decimal("19.99"))]
    )
    assert shown.json()["points"] == checkout.points == 59  # floor(19.99 x 2 x 1.5)
    assert excluded.json()["points"] == 0


def test_a_paused_program_promises_nothing(proxy, two_per_unit):
    two_per_unit.enabled = False
    two_per_unit.save()

    assert proxy.get("api/product_points", price="12900").json() == {"points": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"price": "12.90"}, "price"),
        ({}, "price"),
        ({"price": "100", "product_id": "x"}, "product_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(proxy, program, params, field):
    response = proxy.get("api/product_points", customer=None, **params)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_it_needs_the_proxy_signature(client, shop):
    response = client.get(f"/proxy/api/product_points?shop={shop.domain}&price=100")

    assert response.status_code == 401
