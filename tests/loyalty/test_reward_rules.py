"""The reward rules (``loyalty.rules.rewards``): pricing, the points a balance buys, the
channel rule and the settings check. Pure functions: unsaved rewards, no database, except
where the services are shown to refuse exactly what the rules refuse."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.errors import InvalidConfiguration, InvalidRedemption
from loyalty.models import AuditEvent, Reward
from loyalty.rules.rewards import (
    REQUIRED,
    reward_channel_refusal,
    reward_entry_cost,
    reward_points_for_balance,
    reward_price,
    reward_settings_problems,
    variable_range,
)
from loyalty.services import reward_create
from tests.loyalty.admin_helpers import admin_shop


def fixed(**fields) -> Reward:
    return Reward(
        **{"kind": Reward.Kind.FIXED_AMOUNT, "points_cost": 500, "value": Decimal("5.00"), **fields}
    )


def slider(**fields) -> Reward:
    values = {
        "kind": Reward.Kind.VARIABLE,
        "points_per_unit": 100,
        "value_per_unit": Decimal("1.50"),
        "min_points": 200,
        "max_points": 800,
        **fields,
    }
    return Reward(**values)


def test_a_fixed_reward_costs_its_points_and_is_worth_its_value() -> None:
    assert reward_price(fixed(), None) == (500, Decimal("5.00"))
    assert reward_price(fixed(), 500) == (500, Decimal("5.00"))
    with pytest.raises(InvalidRedemption, match=r"This reward costs 500 points\."):
        reward_price(fixed(), 400)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (None, "Choose how many points to spend."),
        (0, "Choose how many points to spend."),
        (100, "At least 200 points."),
        (900, "At most 800 points."),
        (250, "Points must be a multiple of 100."),
    ],
)
def test_a_variable_reward_refuses_points_outside_its_range(points, message) -> None:
    with pytest.raises(InvalidRedemption, match=message):
        reward_price(slider(), points)


def test_a_variable_reward_is_worth_its_steps() -> None:
    assert reward_price(slider(), 300) == (300, Decimal("4.50"))
    assert reward_price(slider(), 800) == (800, Decimal("12.00"))


def test_an_open_variable_reward_has_the_range_every_surface_shows() -> None:
    open_ended = slider(min_points=None, max_points=None)

    bounds = variable_range(open_ended)

    assert (bounds.min_points, bounds.max_points, bounds.step) == (100, 1_000_000, 100)
    assert reward_price(open_ended, 1_000_000) == (1_000_000, Decimal("15000.00"))
    with pytest.raises(InvalidRedemption, match=r"At most 1000000 points\."):
        reward_price(open_ended, 1_000_100)


@pytest.mark.parametrize(
    ("balance", "points"), [(950, 800), (550, 500), (200, 200), (199, None), (0, None)]
)
def test_a_balance_buys_the_most_whole_steps_within_the_range(balance, points) -> None:
    assert reward_points_for_balance(slider(), balance) == points


def test_the_entry_cost_is_the_cost_or_the_minimum() -> None:
    assert reward_entry_cost(fixed()) == 500
    assert reward_entry_cost(slider()) == 200
    assert reward_entry_cost(slider(min_points=None)) == 100


def test_checkout_refuses_store_credit_only() -> None:
    credit = fixed(kind=Reward.Kind.STORE_CREDIT)

    assert reward_channel_refusal(credit, "checkout") == (
        "Store credit cannot be applied as a checkout code."
    )
    assert reward_channel_refusal(credit, "customer_account") is None
    assert reward_channel_refusal(credit, "storefront") is None
    assert reward_channel_refusal(fixed(), "checkout") is None


def settings_of(reward: Reward, **overrides) -> dict:
    fields = ("kind", "name", "points_cost", "value", "variant_gid", "points_per_unit")
    fields += ("value_per_unit", "min_points", "max_points")
    return {**{f: getattr(reward, f) for f in fields}, **overrides}


@pytest.mark.parametrize(
    ("settings", "problems"),
    [
        (settings_of(fixed(name="$5 off")), []),
        (settings_of(slider(name="Slider")), []),
        (settings_of(fixed(name="R"), value=None), [("value", REQUIRED)]),
        (
            settings_of(fixed(name="R"), value=Decimal(0)),
            [("value", "The value must be more than 0.")],
        ),
        (
            settings_of(fixed(name="R", kind=Reward.Kind.PERCENTAGE), value=Decimal(150)),
            [("value", "A percentage is between 0 and 100.")],
        ),
        (
            settings_of(fixed(name="R", kind=Reward.Kind.FREE_PRODUCT, variant_gid="42")),
            [("variant_gid", "Use gid://shopify/ProductVariant/<number>.")],
        ),
        (
            settings_of(slider(name="S", min_points=150, max_points=100)),
            [
                ("min_points", "Use a multiple of the step (100 points)."),
                ("max_points", "The maximum must be at least the minimum."),
            ],
        ),
        (
            settings_of(slider(name="S"), points_per_unit=None, value_per_unit=Decimal(0)),
            [
                ("points_per_unit", REQUIRED),
                ("value_per_unit", "The value per step must be more than 0."),
            ],
        ),
        (settings_of(fixed(name="  ")), [("name", "The reward needs a name.")]),
        ({"kind": "coupon"}, [("kind", "Choose a reward type.")]),
    ],
)
def test_settings_problems_name_the_field(settings, problems) -> None:
    assert reward_settings_problems(settings) == problems


@pytest.mark.django_db
def test_the_service_refuses_what_the_form_refuses_and_writes_nothing() -> None:
    shop = admin_shop()
    data = {
        "name": "Slider",
        "kind": Reward.Kind.VARIABLE,
        "points_per_unit": 100,
        "value_per_unit": Decimal("1.00"),
        "min_points": 150,
    }

    with pytest.raises(InvalidConfiguration, match=r"multiple of the step \(100 points\)") as exc:
        reward_create(shop=shop, actor="77", data=data)

    assert exc.value.field == "min_points"
    assert not Reward.objects.filter(shop=shop).exists()
    assert not AuditEvent.objects.filter(shop=shop).exists()
