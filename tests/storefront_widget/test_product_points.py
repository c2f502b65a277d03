"""``/apps/beam/api/product_points``: what the product block shows is the program's own
earning rule applied to the price — the figure checkout estimates and the order earns."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import LoyaltyProgram, Member, TierSettings
from storefront_widget.extension_api.cart import CartLine, cart_earning_estimate
from tests.loyalty.factories import BonusEventFactory, MemberFactory, ShopFactory
from tests.loyalty.tier_helpers import credited, paid, tiers_setup

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


# --- a logged-in member's own figure: their tier multiplier, as crediting applies it --------


@pytest.fixture
def gold_member(shop, customer, program):
    """Ada holds Gold (1.5x) in a program at 1 point per unit, rounding to nearest."""
    program.rounding = LoyaltyProgram.Rounding.NEAREST
    program.save()
    tiers = tiers_setup(shop, (("Silver", "100", "1.25", 0), ("Gold", "500", "1.5", 0)))
    gold = tiers["Gold"]
    return MemberFactory(
        shop=shop, customer_id=customer.id, tier=gold, tier_multiplier=gold.multiplier
    )


def test_a_member_sees_their_tier_multiplier_and_crediting_gives_exactly_that(
    proxy, shop, gold_member
):
    # given Gold (1.5x), a product at 19.99: 20 points by the earning rule (nearest)
    mine = proxy.get("api/product_points", price="1999", product_id="111", member="1")

    assert mine.status_code == 200
    assert mine.json() == {"points": 30}  # round(20 x 1.5), not 20, not round(19.99 x 1.5)
    assert mine["Cache-Control"] == "private, no-store"

    # when the member buys it, the credited order earns the promised figure
    paid(shop, 9001, "19.99", customer_id=gold_member.customer_id)
    assert credited(shop, 9001).points_earned == 30


def test_the_rounding_is_the_programs_on_the_rounded_base(proxy, shop, gold_member, program):
    program.rounding = LoyaltyProgram.Rounding.DOWN
    program.save()
    Member.objects.filter(pk=gold_member.pk).update(tier_multiplier=Decimal("1.25"))

    # 19.99 -> 19 points (down), x 1.25 = 23.75 -> 23 (down)
    mine = proxy.get("api/product_points", price="1999", product_id="111", member="1")

    assert mine.json() == {"points": 23}


def test_the_shop_wide_figure_stays_the_base_and_publicly_cacheable(proxy, gold_member):
    shared = proxy.get("api/product_points", price="1999", product_id="111")

    assert shared.json() == {"points": 20}
    assert shared["Cache-Control"] == "public, max-age=60, stale-while-revalidate=300"


def test_a_guest_asking_for_their_own_figure_gets_the_base_privately(proxy, gold_member):
    guest = proxy.get(
        "api/product_points", customer=None, price="1999", product_id="111", member="1"
    )

    assert guest.json() == {"points": 20}
    assert guest["Cache-Control"] == "private, no-store"


def test_no_multiplier_while_tiers_are_off_as_crediting(proxy, shop, gold_member):
    TierSettings.objects.filter(shop=shop).update(enabled=False)

    mine = proxy.get("api/product_points", price="1999", product_id="111", member="1")

    assert mine.json() == {"points": 20}
    paid(shop, 9002, "19.99", customer_id=gold_member.customer_id)
    assert credited(shop, 9002).points_earned == 20


def test_a_customer_without_a_member_row_gets_the_base(proxy, program, other_customer):
    tiers_setup(proxy.shop)

    response = proxy.get("api/product_points", customer=other_customer.id, price="1999", member="1")

    assert response.json() == {"points": 19}  # 19.99, rounded down


def test_another_shops_member_row_is_not_read(proxy, program, customer):
    other = ShopFactory()
    tiers_setup(other)
    MemberFactory(shop=other, customer_id=customer.id, tier_multiplier=Decimal("2"))

    response = proxy.get("api/product_points", price="1999", member="1")

    assert response.json() == {"points": 19}  # 19.99, rounded down, not x2


def test_member_must_be_1(proxy, program):
    response = proxy.get("api/product_points", price="1999", member="yes")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["member"]


def test_the_guest_figure_reads_no_member(proxy, gold_member):
    with CaptureQueriesContext(connection) as shared:
        proxy.get("api/product_points", customer=None, price="1999")

    assert not [q for q in shared.captured_queries if "loyalty_member" in q["sql"]]
