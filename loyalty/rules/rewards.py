"""Reward rules: what a reward costs and is worth, and which settings a reward may have.

Pure functions over a ``Reward``'s values (no queries, no writes), so the redemption
service, the program document every surface shows, and the admin's form and services all
price and validate a reward the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loyalty.errors import InvalidRedemption
from loyalty.models import Redemption, Reward

CENT = Decimal("0.01")
# A variable reward without a maximum takes at most this many steps in one redemption.
VARIABLE_MAX_STEPS = 10_000
VARIANT_GID = re.compile(r"^gid://shopify/ProductVariant/[0-9]{1,19}$")
REQUIRED = "Required for this type of reward."
# What a reward's columns hold: its whole numbers are PositiveIntegerFields, its amounts
# DecimalField(max_digits=12, decimal_places=2).
INTEGER_COLUMN_MAX = 2_147_483_647
AMOUNT_COLUMN_MAX = Decimal("9999999999.99")
INTEGER_SETTINGS = ("points_cost", "points_per_unit", "min_points", "max_points", "code_valid_days")
AMOUNT_SETTINGS = ("value", "value_per_unit", "minimum_subtotal")
# The settings each kind needs (the others are ignored for that kind).
NEEDED: dict[str, tuple[str, ...]] = {
    Reward.Kind.FIXED_AMOUNT: ("points_cost", "value"),
    Reward.Kind.PERCENTAGE: ("points_cost", "value"),
    Reward.Kind.FREE_SHIPPING: ("points_cost",),
    Reward.Kind.FREE_PRODUCT: ("points_cost", "variant_gid"),
    Reward.Kind.STORE_CREDIT: ("points_cost", "value"),
    Reward.Kind.VARIABLE: ("points_per_unit", "value_per_unit"),
}


@dataclass(frozen=True)
class VariableRange:
    """The points a variable reward accepts: ``min_points..max_points`` in steps of
    ``step``, each step worth ``unit_value``."""

    step: int
    min_points: int
    max_points: int
    unit_value: Decimal


def variable_range(reward: Reward) -> VariableRange:
    """The bounds of a variable reward, with the defaults of unset minimum and maximum."""
    step = reward.points_per_unit or 1
    return VariableRange(
        step=step,
        min_points=reward.min_points or step,
        max_points=reward.max_points or step * VARIABLE_MAX_STEPS,
        unit_value=reward.value_per_unit or Decimal(0),
    )


def variable_value(reward: Reward, points: int) -> Decimal:
    """What ``points`` put into a variable reward are worth, in the shop's currency."""
    bounds = variable_range(reward)
    return (Decimal(points) / bounds.step * bounds.unit_value).quantize(CENT)


def reward_price(reward: Reward, points: int | None) -> tuple[int, Decimal]:
    """``(points spent, value)`` of redeeming ``reward``; ``points`` is the shopper's choice
    for a variable reward and must be absent or the cost for the others."""
    if reward.kind == Reward.Kind.VARIABLE:
        bounds = variable_range(reward)
        if points is None or points <= 0:
            raise InvalidRedemption("Choose how many points to spend.")
        if points < bounds.min_points:
            raise InvalidRedemption(f"At least {bounds.min_points} points.")
        if points > bounds.max_points:
            raise InvalidRedemption(f"At most {bounds.max_points} points.")
        if points % bounds.step:
            raise InvalidRedemption(f"Points must be a multiple of {bounds.step}.")
        return points, variable_value(reward, points)
    cost = reward.points_cost or 0
    if points is not None and points != cost:
        raise InvalidRedemption(f"This reward costs {cost} points.")
    return cost, reward.value


def reward_points_for_balance(reward: Reward, balance: int) -> int | None:
    """The most points a member with ``balance`` can put into a variable reward (a multiple
    of its step within its bounds), or None when the balance does not reach its minimum."""
    bounds = variable_range(reward)
    points = (min(balance, bounds.max_points) // bounds.step) * bounds.step
    return points if points >= bounds.min_points else None


def reward_entry_cost(reward: Reward) -> int:
    """The fewest points the reward takes: its cost, or a variable reward's minimum."""
    if reward.kind == Reward.Kind.VARIABLE:
        return variable_range(reward).min_points
    return reward.points_cost or 0


def reward_channel_refusal(reward: Reward, channel: str) -> str | None:
    """Why ``reward`` cannot be redeemed through ``channel`` (None: it can). Checkout only
    applies discount codes, and store credit is not one."""
    if channel == Redemption.Channel.CHECKOUT and reward.kind == Reward.Kind.STORE_CREDIT:
        return "Store credit cannot be applied as a checkout code."
    return None


def reward_tier_label(tier_name: str) -> str:
    """Who a tier-exclusive reward is for, in the shopper's words."""
    return f"{tier_name} members"


def reward_tier_refusal(
    *, required_name: str | None, required_rank: int | None, member_rank: int | None
) -> str | None:
    """Why a member of rank ``member_rank`` (None: no tier) may not redeem a reward for
    members of ``required_name`` and above (None: not tier-exclusive); ``required_rank``
    None: that tier cannot be reached now (tiers off, the tier removed), so no one may."""
    if required_name is None:
        return None
    if required_rank is None or member_rank is None or member_rank < required_rank:
        return f"This reward is for {reward_tier_label(required_name)}."
    return None


def reward_settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every ``(field, message)`` wrong with a reward's settings (``kind``, ``name`` and the
    fields of ``NEEDED``, plus ``min_points``/``max_points``); empty when it is valid. The
    admin's form shows them all; the services refuse the first."""
    kind = settings.get("kind")
    if kind not in Reward.Kind.values:
        return [("kind", "Choose a reward type.")]
    problems = _column_problems(settings)
    if not str(settings.get("name") or "").strip():
        problems.append(("name", "The reward needs a name."))
    missing = [f for f in NEEDED[kind] if settings.get(f) in (None, "")]
    problems += [(field, REQUIRED) for field in missing]
    value = settings.get("value")
    if kind == Reward.Kind.VARIABLE:
        problems += _variable_problems(settings, missing)
        return problems
    cost = settings.get("points_cost")
    if cost is not None and cost != "" and cost <= 0:
        problems.append(("points_cost", "The points cost must be at least 1."))
    if value is not None and "value" in NEEDED[kind]:
        if kind == Reward.Kind.PERCENTAGE and not 0 < value <= 100:
            problems.append(("value", "A percentage is between 0 and 100."))
        elif kind != Reward.Kind.PERCENTAGE and value <= 0:
            problems.append(("value", "The value must be more than 0."))
    gid = settings.get("variant_gid") or ""
    if kind == Reward.Kind.FREE_PRODUCT and gid and not VARIANT_GID.match(gid):
        problems.append(("variant_gid", "Use gid://shopify/ProductVariant/<number>."))
    return problems


def _column_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Numbers past what their column holds (the database would refuse the row)."""
    bounds: list[tuple[str, int | Decimal]] = [
        (name, INTEGER_COLUMN_MAX) for name in INTEGER_SETTINGS
    ]
    bounds += [(name, AMOUNT_COLUMN_MAX) for name in AMOUNT_SETTINGS]
    return [
        (name, f"At most {bound:,}.")
        for name, bound in bounds
        if isinstance(settings.get(name), int | Decimal) and settings[name] > bound
    ]


def _variable_problems(settings: Mapping[str, Any], missing: list[str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    step: int | None = settings.get("points_per_unit")
    if step is not None and "points_per_unit" not in missing and step <= 0:
        problems.append(("points_per_unit", "Points per step must be at least 1."))
        step = None
    unit_value: Decimal | None = settings.get("value_per_unit")
    if unit_value is not None and "value_per_unit" not in missing and unit_value <= 0:
        problems.append(("value_per_unit", "The value per step must be more than 0."))
    low, high = settings.get("min_points"), settings.get("max_points")
    if step:
        for name, points in (("min_points", low), ("max_points", high)):
            if points and points % step:
                problems.append((name, f"Use a multiple of the step ({step} points)."))
    if low and high and low > high:
        problems.append(("max_points", "The maximum must be at least the minimum."))
    return problems
