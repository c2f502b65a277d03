"""The pure tier rules (``loyalty.rules.tiers``): periods, windows, what orders count, the
qualifying value, moving up, the evaluation at the end of a grace, grants, the multiplier."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError

from loyalty.models import LoyaltyOrder, Tier, TierSettings
from loyalty.rules.tiers import (
    MemberTier,
    QualifyingSums,
    TierDef,
    TierRules,
    held_until,
    order_counts,
    order_spend,
    period_at,
    qualifying_fields,
    qualifying_value,
    refund_spend,
    refunded_discounts,
    tier_can_rise,
    tier_effective,
    tier_evaluate,
    tier_evaluation_period,
    tier_for_value,
    tier_new_member,
    tier_points,
    tier_rank_compared,
    tier_settings_problem,
    tier_upgrade,
    window_now,
    window_of,
)
from tests.loyalty.factories import ShopFactory

D = Decimal
PARIS = ZoneInfo("Europe/Paris")
BRONZE = TierDef(1, "Bronze", D(0))
SILVER = TierDef(2, "Silver", D(100), D("1.25"), entry_points=50)
GOLD = TierDef(3, "Gold", D(500), D("1.5"), entry_points=200)


def rules(**kwargs: object) -> TierRules:
    base: dict[str, object] = {
        "metric": "points",
        "window": "calendar_year",
        "tz": PARIS,
        "tiers": (GOLD, BRONZE, SILVER),  # any order: ranked by threshold
    }
    return TierRules(**{**base, **kwargs})  # type: ignore[arg-type]


def at(*args: int, tz: ZoneInfo = UTC) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


# --- settings ------------------------------------------------------------------------------


def test_tiers_are_ranked_by_threshold_whatever_their_order() -> None:
    r = rules()
    assert [(t.name, t.rank) for t in r.tiers] == [("Bronze", 0), ("Silver", 1), ("Gold", 2)]
    assert r.rank_of(3) == 2
    assert r.rank_of(99) == -1  # a tier these rules no longer hold
    assert r.rank_of(None) == -1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"tiers": ()}, "Add at least one tier."),
        ({"tiers": (BRONZE, replace(SILVER, name=" bronze"))}, "Each tier needs its own name."),
        (
            {"tiers": (BRONZE, replace(SILVER, threshold=D(0)))},
            "Each tier needs its own threshold.",
        ),
        (
            {"tiers": (replace(SILVER, threshold=D("10.5")),)},
            "Silver: the threshold must be a whole number.",
        ),
        (
            {"tiers": (replace(SILVER, multiplier=D("0.9")),)},
            "Silver: the multiplier must be at least 1.",
        ),
        ({"window_months": 0}, "A rolling window is 1 to 60 months."),
        ({"grace_periods": 0}, "The grace is 1 to 4 periods."),
    ],
)
def test_settings_problems_are_named(change: dict[str, object], problem: str) -> None:
    assert tier_settings_problem(rules(**change)) == problem


def test_money_thresholds_may_have_cents_and_good_settings_have_no_problem() -> None:
    assert tier_settings_problem(rules()) == ""
    spend = rules(metric="spend", tiers=(replace(SILVER, threshold=D("99.50")),))
    assert tier_settings_problem(spend) == ""


# --- periods and windows -------------------------------------------------------------------


def test_calendar_periods_follow_the_shop_time_zone() -> None:
    r = rules()
    # 23:30 UTC on 31 December is already the new year in Paris.
    period = period_at(r, at(2025, 12, 31, 23, 30))
    assert period.key == "2026"
    assert period.start == at(2026, 1, 1, tz=PARIS)
    assert period.end == at(2027, 1, 1, tz=PARIS)


def test_rolling_periods_are_blocks_of_months_from_the_program_start_month() -> None:
    r = rules(window="rolling", window_months=6, program_start=date(2024, 3, 17), tz=UTC)
    assert period_at(r, at(2024, 3, 20)).key == "2024-03"
    assert period_at(r, at(2024, 9, 1)).key == "2024-09"
    assert period_at(r, at(2025, 2, 28)).key == "2024-09"
    assert period_at(r, at(2024, 1, 5)).key == "2023-09"  # before the start: blocks go back
    without_start = replace(r, program_start=None)
    assert period_at(without_start, at(2024, 8, 1)).key == "2024-07"  # from January 2000


def test_a_tier_is_held_until_the_end_of_the_next_period_by_default() -> None:
    r = rules(tz=UTC)
    reached = period_at(r, at(2025, 3, 1))
    assert held_until(r, reached) == at(2027, 1, 1)
    assert held_until(replace(r, grace_periods=2), reached) == at(2028, 1, 1)
    rolling = rules(window="rolling", window_months=12, tz=UTC, program_start=date(2025, 1, 1))
    assert held_until(rolling, period_at(rolling, at(2025, 3, 1))) == at(2027, 1, 1)


def test_the_upgrade_window_ends_now_and_starts_with_the_window_or_the_program() -> None:
    now = at(2025, 8, 15, 12)
    assert window_now(rules(window="lifetime", tz=UTC), now).start is None
    assert window_now(rules(tz=UTC), now).start == at(2025, 1, 1)
    rolling = window_now(rules(window="rolling", window_months=3, tz=UTC), now)
    assert (rolling.start, rolling.end) == (at(2025, 5, 15, 12), None)
    started = rules(tz=UTC, program_start=date(2025, 6, 1))
    assert window_now(started, now).start == at(2025, 6, 1)
    assert window_now(replace(started, window="lifetime"), now).start == at(2025, 6, 1)


def test_the_evaluation_window_is_the_period_that_ended() -> None:
    r = rules(tz=UTC)
    period = period_at(r, at(2025, 5, 1))
    assert (window_of(r, period).start, window_of(r, period).end) == (
        at(2025, 1, 1),
        at(2026, 1, 1),
    )
    lifetime = window_of(replace(r, window="lifetime"), period)
    assert (lifetime.start, lifetime.end) == (None, at(2026, 1, 1))


# --- what orders count ---------------------------------------------------------------------


def order(**kwargs: object) -> LoyaltyOrder:
    values: dict[str, object] = {
        "state": "credited",
        "base": D("50.00"),
        "refunded_base": D(0),
        "points_earned": 60,
        "points_reversed": 0,
        "subtotal_price": D("55.00"),
        "spend_goods": D("50.00"),
        "spend_discounts": D("10.00"),
        "spend_shipping": D("5.00"),
        "spend_tax": D("4.00"),
    }
    return LoyaltyOrder(**{**values, **kwargs})


def test_a_credited_order_counts_its_facts_net_of_refunds() -> None:
    counted = order_counts(
        order(points_reversed=15, spend_refunded_goods=D("20.00"), spend_refunded_tax=D("1.60"))
    )
    assert counted == QualifyingSums(
        orders=1,
        points=45,
        goods=D("50.00"),
        discounts=D("10.00"),
        shipping=D("5.00"),
        tax=D("4.00"),
        refunded_goods=D("20.00"),
        refunded_tax=D("1.60"),
    )


def test_orders_that_are_not_credited_count_nothing_and_a_full_refund_is_no_order() -> None:
    for state in ("open", "guest", "not_eligible", "cancelled"):
        assert order_counts(order(state=state)) == QualifyingSums()
    assert order_counts(order(refunded_base=D("50.00"))).orders == 0
    assert order_counts(order(base=D(0), refunded_base=D(0))).orders == 1


def test_an_order_recorded_before_tiers_counts_its_subtotal_and_refunded_base() -> None:
    legacy = order(spend_goods=None, refunded_base=D("5.00"), spend_refunded_tax=D("9.00"))
    assert order_counts(legacy) == QualifyingSums(
        orders=1, points=60, goods=D("55.00"), refunded_goods=D("5.00")
    )


def test_the_qualifying_value_of_each_metric() -> None:
    sums = QualifyingSums(
        orders=3,
        points=420,
        goods=D("300.00"),
        discounts=D("30.00"),
        shipping=D("12.00"),
        tax=D("24.00"),
        refunded_goods=D("100.00"),
        refunded_discounts=D("10.00"),
        refunded_shipping=D("2.00"),
        refunded_tax=D("8.00"),
    )
    assert qualifying_value(rules(), sums) == D(420)
    assert qualifying_value(rules(metric="orders"), sums) == D(3)
    spend = rules(metric="spend")
    assert qualifying_value(spend, sums) == D("200.00")  # net of discounts, no shipping, no tax
    assert qualifying_value(replace(spend, include_discounts=True), sums) == D("220.00")
    assert qualifying_value(replace(spend, include_shipping=True), sums) == D("210.00")
    assert qualifying_value(replace(spend, include_tax=True), sums) == D("216.00")
    assert qualifying_value(rules(), QualifyingSums(points=-5)) == D(0)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"metric": "orders"},
        {"metric": "spend"},
        {"metric": "spend", "include_discounts": True},
        {"metric": "spend", "include_shipping": True, "include_tax": True},
        {"metric": "spend", "include_discounts": True, "include_shipping": True},
    ],
)
def test_the_value_reads_only_the_sums_the_metric_names(settings: dict[str, object]) -> None:
    """The database sums only ``qualifying_fields``: the value from those alone (the others
    zero) is the value from all of them."""
    sums = QualifyingSums(
        orders=3,
        points=420,
        goods=D("300.00"),
        discounts=D("30.00"),
        shipping=D("12.00"),
        tax=D("24.00"),
        refunded_goods=D("100.00"),
        refunded_discounts=D("10.00"),
        refunded_shipping=D("2.00"),
        refunded_tax=D("8.00"),
    )
    r = rules(**settings)
    only = QualifyingSums(**{name: getattr(sums, name) for name in qualifying_fields(r)})
    assert qualifying_value(r, only) == qualifying_value(r, sums)
    assert len(qualifying_fields(r)) < len(QualifyingSums.__dataclass_fields__)


def test_an_order_payload_counts_goods_net_of_discounts_and_without_tax() -> None:
    payload = {
        "taxes_included": True,
        "line_items": [
            {
                "price": "30.00",
                "quantity": 2,
                "discount_allocations": [{"amount": "6.00"}],
                "tax_lines": [{"price": "9.00"}],
            },
            {"price": "50.00", "quantity": 1, "gift_card": True},
        ],
        "shipping_lines": [
            {"price": "12.00", "tax_lines": [{"price": "2.00"}], "discount_allocations": []},
            {"price": "99.00", "is_removed": True},
        ],
    }
    spend = order_spend(payload)
    assert (spend.goods, spend.discounts, spend.shipping, spend.tax) == (
        D("45.00"),
        D("6.00"),
        D("10.00"),
        D("11.00"),
    )
    excluded = order_spend({**payload, "taxes_included": False})
    assert (excluded.goods, excluded.shipping) == (D("54.00"), D("12.00"))


def test_a_refund_payload_gives_back_its_lines_and_shipping_but_not_gift_cards() -> None:
    payload = {
        "refund_line_items": [
            {"subtotal": "24.00", "total_tax": "4.00", "line_item": {}},
            {"subtotal": "50.00", "total_tax": "0", "line_item": {"gift_card": True}},
        ],
        "refund_shipping_lines": [{"subtotal_amount": "7.50"}],
    }
    spend = refund_spend(payload)
    assert (spend.subtotal, spend.tax, spend.shipping) == (D("24.00"), D("4.00"), D("7.50"))


def test_refunds_give_back_discounts_in_proportion_to_the_goods_refunded() -> None:
    assert refunded_discounts(discounts=D("10"), goods=D("30"), refunded_goods=D("10")) == D("3.33")
    assert refunded_discounts(discounts=D("10"), goods=D("30"), refunded_goods=D("99")) == D("10")
    assert refunded_discounts(discounts=D("10"), goods=D(0), refunded_goods=D("5")) == D(0)


# --- moving between tiers ------------------------------------------------------------------


def test_the_tier_a_value_reaches() -> None:
    r = rules()
    assert tier_for_value(r, D(99)) == r.by_id(1)
    assert tier_for_value(r, D(100)) == r.by_id(2)
    assert tier_for_value(r, D(10_000)) == r.by_id(3)
    assert tier_for_value(rules(tiers=(SILVER,)), D(5)) is None


def test_only_a_member_below_the_top_tier_can_rise() -> None:
    r = rules()
    assert [tier_can_rise(r, tier_id) for tier_id in (None, 1, 2, 3)] == [True, True, True, False]
    assert tier_can_rise(r, 99)  # a tier these rules no longer hold ranks below all
    assert tier_upgrade(r, MemberTier(earned_id=3), D(10_000), at(2025, 6, 1)) is None


def test_a_period_remembered_by_the_rules_is_the_period_computed() -> None:
    r = rules()
    first = period_at(r, at(2025, 12, 31, 23, 30))  # already 2026 in Paris
    assert period_at(r, at(2025, 12, 31, 23, 30)) is first
    assert first.key == "2026"
    assert period_at(replace(r, tz=UTC), at(2025, 12, 31, 23, 30)).key == "2025"


def test_an_upgrade_holds_the_tier_until_the_end_of_the_next_period() -> None:
    r = rules(tz=UTC)
    now = at(2025, 6, 1)
    move = tier_upgrade(r, MemberTier(earned_id=1), D(120), now)
    assert move is not None
    assert move.state == MemberTier(earned_id=2, expires_at=at(2027, 1, 1))
    assert (move.to, move.up, move.entry_points, move.entry_period) == (
        r.by_id(2),
        True,
        50,
        "2025",
    )
    assert tier_upgrade(r, move.state, D(130), now) is None  # already there
    assert tier_upgrade(r, MemberTier(earned_id=3), D(120), now) is None  # never down
    lifetime = tier_upgrade(replace(r, window="lifetime"), MemberTier(), D(600), now)
    assert lifetime is not None and lifetime.entry_period == "lifetime"


def test_the_evaluation_keeps_moves_down_or_drops_by_the_period_that_ended() -> None:
    r = rules(tz=UTC, tiers=(SILVER, GOLD))
    held = MemberTier(earned_id=3, expires_at=at(2027, 1, 1))
    period = tier_evaluation_period(r, held)
    assert period is not None and period.key == "2026"
    kept = tier_evaluate(r, held, D(700), period)
    assert kept.state == MemberTier(earned_id=3, expires_at=at(2028, 1, 1))
    down = tier_evaluate(r, held, D(150), period)
    assert (down.state, down.up, down.entry_points) == (
        MemberTier(earned_id=2, expires_at=at(2028, 1, 1)),
        False,
        0,
    )
    none = tier_evaluate(r, held, D(10), period)
    assert none.state == MemberTier()
    up = tier_evaluate(r, MemberTier(earned_id=2, expires_at=at(2027, 1, 1)), D(900), period)
    assert (up.up, up.entry_points, up.entry_period) == (True, 200, "2026")


def test_a_running_grant_applies_only_above_the_earned_tier() -> None:
    r = rules()
    now = at(2025, 6, 1)
    granted = MemberTier(earned_id=2, granted_id=3, grant_ends_at=now + timedelta(days=1))
    assert tier_effective(r, granted, now) == r.by_id(3)
    assert tier_effective(r, replace(granted, grant_ends_at=now), now) == r.by_id(2)
    assert tier_effective(r, replace(granted, earned_id=3, granted_id=2), now) == r.by_id(3)
    assert tier_effective(r, MemberTier(earned_id=42), now) is None  # archived tier


def test_new_members_get_the_grant_the_settings_name() -> None:
    now = at(2025, 6, 1)
    assert tier_new_member(rules(), now) is None
    r = rules(new_member_tier_id=3, new_member_days=14)
    assert tier_new_member(r, now) == MemberTier(granted_id=3, grant_ends_at=at(2025, 6, 15))


def test_the_multiplier_uses_the_program_rounding() -> None:
    assert tier_points(10, D("1.25"), "down") == 12
    assert tier_points(10, D("1.25"), "nearest") == 13
    assert tier_points(11, D("1.1"), "up") == 13
    assert tier_points(10, D(1), "up") == 10
    assert tier_points(0, D("1.5"), "up") == 0


def test_moves_between_settings_compare_ranks_and_removed_tiers_by_threshold() -> None:
    r = rules()
    platinum = TierDef(9, "Platinum", D(2000), D(2))
    assert tier_rank_compared(r.by_id(2), r.by_id(3), r) == 1
    assert tier_rank_compared(r.by_id(3), r.by_id(2), r) == -1
    assert tier_rank_compared(r.by_id(2), r.by_id(2), r) == 0
    assert tier_rank_compared(platinum, r.by_id(3), r) == -1  # Platinum is gone
    assert tier_rank_compared(TierDef(8, "Old", D(300)), r.by_id(3), r) == 1
    assert tier_rank_compared(None, r.by_id(1), r) == 1
    assert tier_rank_compared(r.by_id(1), None, r) == -1


# --- the rows ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_active_tier_names_are_unique_per_shop_and_multipliers_at_least_one() -> None:
    shop = ShopFactory()
    settings = TierSettings.objects.create(shop=shop)
    Tier.objects.create(shop=shop, settings=settings, name="Gold", threshold=D(100))
    Tier.objects.create(shop=shop, settings=settings, name="Gold", threshold=D(5), active=False)
    with pytest.raises(IntegrityError):
        Tier.objects.create(shop=shop, settings=settings, name="Gold", threshold=D(200))


@pytest.mark.django_db
def test_a_multiplier_below_one_is_refused_by_the_database() -> None:
    shop = ShopFactory()
    settings = TierSettings.objects.create(shop=shop)
    with pytest.raises(IntegrityError):
        Tier.objects.create(shop=shop, settings=settings, name="Odd", multiplier=D("0.5"))
