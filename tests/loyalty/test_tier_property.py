"""VIP tiers against an independent model (``tests/loyalty/tier_model.py``).

Hypothesis draws tier settings (metric, spend options, window, grace, program start, two or
three tiers with multipliers and entry points, the program's rounding) and a history of
orders, refunds, grants, settings changes and clock advances (after each, the periodic
evaluation runs); consecutive orders are processed one by one or as one drained batch.
After every step each member's tier in effect, multiplier and balance (the multiplied points
and entry points) must equal the model's, the tier earned may go down only where its grace
ended and the tier in effect only where a grace or a grant ended (or the merchant replaced
a grant). The ledger must match every balance.

Profiles: CI runs ``tiers-ci`` (60 derandomized examples, no shrinking, ~10 s);
``HYPOTHESIS_PROFILE=quick`` 60 random ones, ``thorough`` 300 random ones with shrinking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from devstore.clock import clock_at
from loyalty import services
from loyalty.models import LoyaltyProgram, Member, Tier
from loyalty.services import ledger_verify
from loyalty.services.tier_grants import tier_grant
from loyalty.services.tiers import tiers_evaluate_shop
from loyalty.services.tiers_draft import tier_draft_current
from loyalty.services.tiers_recompute import tier_settings_save, tiers_recompute_apply
from merchants import inbox, inbox_record
from tests.loyalty.factories import line, order, refund
from tests.loyalty.tier_helpers import tiers_setup
from tests.loyalty.tier_model import Level, Model, Settings
from tests.merchants.webhook_support import ShopFactory

pytestmark = pytest.mark.django_db

_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(  # no shrinking: a failure prints the example as drawn, at once
    "tiers-ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_HEALTH,
    phases=[Phase.explicit, Phase.generate],
)
settings.register_profile(
    "tiers-thorough", max_examples=300, deadline=None, database=None, suppress_health_check=_HEALTH
)
settings.register_profile(
    "tiers-quick",
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=_HEALTH,
    phases=[Phase.explicit, Phase.generate],
)
PROFILE = settings.get_profile(
    {"thorough": "tiers-thorough", "quick": "tiers-quick"}.get(
        os.environ.get("HYPOTHESIS_PROFILE", ""), "tiers-ci"
    )
)
START = datetime(2024, 11, 20, 10, tzinfo=UTC)
CENT = Decimal("0.01")
NAMES = ("Silver", "Gold", "Platinum")
CUSTOMERS = (1, 2, 3)


@dataclass(frozen=True)
class Step:
    kind: str  # order | refund | grant | settings | advance
    customer: int = 0
    price: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    order: int = 0  # refund: the index of the order
    half: bool = False  # refund: half of it, else all of it
    level: int = 0  # grant
    days: int = 0  # grant, advance
    levels: tuple[Level, ...] = ()  # settings


@dataclass(frozen=True)
class TierHistory:
    settings: Settings
    steps: tuple[Step, ...]
    batched: bool  # consecutive orders reach the engine as one drained batch


@st.composite
def _levels(draw: st.DrawFn, metric: str, count: int) -> tuple[Level, ...]:
    if metric == "orders":
        thresholds = sorted(draw(st.sets(st.integers(1, 6), min_size=count, max_size=count)))
    else:
        values = st.sampled_from([20, 45, 80, 150, 260, 400, 700])
        thresholds = sorted(draw(st.sets(values, min_size=count, max_size=count)))
    factors = [Decimal(1), Decimal("1.1"), Decimal("1.25"), Decimal("1.5"), Decimal(2), Decimal(3)]
    multipliers = sorted(draw(st.lists(st.sampled_from(factors), min_size=count, max_size=count)))
    return tuple(
        Level(NAMES[n], Decimal(thresholds[n]), multipliers[n], draw(st.sampled_from([0, 10, 25])))
        for n in range(count)
    )


@st.composite
def tier_histories(draw: st.DrawFn) -> TierHistory:
    metric = draw(st.sampled_from(["points", "spend", "orders"]))
    count = draw(st.sampled_from([2, 3]))
    tier_settings = Settings(
        metric=metric,
        window=draw(st.sampled_from(["lifetime", "calendar_year", "rolling"])),
        months=draw(st.sampled_from([3, 6, 12])),
        grace=draw(st.sampled_from([1, 1, 2])),
        start=draw(st.sampled_from([None, date(2024, 6, 1), date(2025, 1, 1)])),
        discounts=draw(st.booleans()),
        shipping=draw(st.booleans()),
        tax=draw(st.booleans()),
        levels=draw(_levels(metric, count)),
        rounding=draw(st.sampled_from(["down", "nearest", "up"])),
    )
    steps: list[Step] = []
    refunded: list[int] = []  # halves refunded, by order
    buyers: list[int] = []
    for _ in range(draw(st.integers(4, 16))):
        kinds = ["order"] * 5 + ["advance"] * 3
        if refunded:
            kinds += ["refund"] * 2 + ["grant", "settings"]
        kind = draw(st.sampled_from(kinds))
        if kind == "order":
            price = Decimal(draw(st.integers(100, 30_000))) / 100
            discount = draw(st.sampled_from([Decimal(0), (price / 10).quantize(CENT)]))
            tax = draw(
                st.sampled_from([Decimal(0), ((price - discount) * Decimal("0.08")).quantize(CENT)])
            )
            customer = draw(st.sampled_from(CUSTOMERS))
            steps.append(
                Step(
                    "order",
                    customer=customer,
                    price=price,
                    discount=discount,
                    tax=tax,
                    shipping=draw(st.sampled_from([Decimal(0), Decimal("5.00")])),
                )
            )
            refunded.append(0)
            buyers.append(customer)
        elif kind == "refund":
            open_orders = [n for n, halves in enumerate(refunded) if halves < 2]
            if not open_orders:
                continue
            index = draw(st.sampled_from(open_orders))
            half = refunded[index] == 1 or draw(st.booleans())
            refunded[index] += 1 if half else 2
            steps.append(Step("refund", order=index, half=half))
        elif kind == "grant":
            steps.append(
                Step(
                    "grant",
                    customer=draw(st.sampled_from(buyers)),
                    level=draw(st.integers(0, count - 1)),
                    days=draw(st.sampled_from([3, 45, 400])),
                )
            )
        elif kind == "settings":
            steps.append(Step("settings", levels=draw(_levels(metric, count))))
        else:
            steps.append(Step("advance", days=draw(st.sampled_from([1, 30, 120, 200, 400]))))
    return TierHistory(tier_settings, tuple(steps), draw(st.booleans()))


# --- running a history through Beam ----------------------------------------------------------


def _shop_for(history: TierHistory):  # type: ignore[no-untyped-def]
    s = history.settings
    shop = ShopFactory()
    LoyaltyProgram.objects.create(
        shop=shop, rounding=s.rounding, negative_balance_policy="allow_negative"
    )
    tiers = tiers_setup(
        shop,
        [(lv.name, str(lv.threshold), str(lv.multiplier), lv.entry) for lv in s.levels],
        metric=s.metric,
        window=s.window,
        window_months=s.months,
        grace_periods=s.grace,
        program_start=s.start,
        spend_includes_discounts=s.discounts,
        spend_includes_shipping=s.shipping,
        spend_includes_tax=s.tax,
    )
    return shop, [tiers[lv.name] for lv in s.levels]


def _order_payload(step: Step, order_id: int, now: datetime) -> dict:  # type: ignore[type-arg]
    item = line(
        str(step.price),
        discount=str(step.discount) if step.discount else None,
        tax=str(step.tax) if step.tax else None,
    )
    return order(
        order_id,
        [item],
        customer_id=step.customer,
        email=f"c{step.customer}@example.com",
        shipping=str(step.shipping) if step.shipping else None,
        processed_at=now.isoformat(),
    )


def _refund_payload(refund_id: int, order_id: int, goods: Decimal, tax: Decimal) -> dict:  # type: ignore[type-arg]
    payload = refund(refund_id, order_id, [(1, str(goods))])
    item = payload["refund_line_items"][0]
    item["total_tax"] = str(tax)
    item["total_tax_set"] = {"shop_money": {"amount": str(tax), "currency_code": "USD"}}
    return payload


def _ranks(member: Member) -> tuple[int, int, datetime | None, datetime | None]:
    """(rank earned, rank in effect, grace end, grant end); -1: no tier."""
    ranks = dict(Tier.objects.filter(shop_id=member.shop_id).values_list("pk", "rank"))
    return (
        ranks.get(member.earned_tier_id, -1),
        ranks.get(member.tier_id, -1),
        member.tier_expires_at,
        member.grant_ends_at,
    )


def _members(shop) -> dict[int, Member]:  # type: ignore[no-untyped-def]
    return {m.customer_id: m for m in Member.objects.filter(shop=shop).select_related("tier")}


def run_history(history: TierHistory) -> None:
    shop, tiers = _shop_for(history)
    model = Model(history.settings, START)
    now = START
    orders: list[tuple[int, Step]] = []
    queued: list[tuple[int, dict]] = []  # type: ignore[type-arg]
    before = _before(shop)
    for number, step in enumerate(history.steps):
        if history.batched and step.kind == "order":  # consecutive orders: one drained batch
            order_id = 1000 + number
            queued.append((order_id, _order_payload(step, order_id, now)))
            model.order(step.customer, step.price, step.discount, step.tax, step.shipping)
            orders.append((order_id, step))
            continue
        if queued:
            with clock_at(now):
                _drain(shop, queued)
            _check(shop, model, before, "order", number, now)
            before = _before(shop)
        if step.kind == "advance":
            now += timedelta(days=step.days)
        with clock_at(now):
            _apply(shop, tiers, model, orders, number, step, now)
        _check(shop, model, before, step.kind, number, now)
        before = _before(shop)
    if queued:
        with clock_at(now):
            _drain(shop, queued)
        _check(shop, model, before, "order", len(history.steps), now)
    report = ledger_verify(shop=shop)
    assert (report.drifts, report.order_drifts) == ([], [])
    multiplied = sum(1 for o in model.orders if o.points != round(o.goods))
    event(f"orders multiplied: {min(multiplied, 3)}+")
    event(f"members with a tier at the end: {sum(1 for c in model.shoppers if model.tier(c))}")


def _before(shop) -> dict[int, tuple[int, int, datetime | None, datetime | None]]:  # type: ignore[no-untyped-def]
    return {c: _ranks(m) for c, m in _members(shop).items()}


def _drain(shop, queued: list[tuple[int, dict]]) -> None:  # type: ignore[no-untyped-def,type-arg]
    for order_id, payload in queued:
        inbox_record.delivery_record(
            shop=shop,
            webhook_id=f"{shop.pk}:paid-{order_id}",
            topic="orders/paid",
            payload=payload,
            triggered_at=None,
        )
    inbox.deliveries_drain(shop=shop)
    queued.clear()


def _check(shop, model: Model, before: dict, kind: str, number: int, now: datetime) -> None:  # type: ignore[no-untyped-def,type-arg]
    """Every member equals the model; nobody moved down where no grace or grant ended."""
    got = _members(shop)
    assert set(got) == set(model.shoppers), number
    for customer, member in got.items():
        want = (
            model.tier(customer),
            model.multiplier(customer),
            model.shoppers[customer].balance,
        )
        have = (
            member.tier.name if member.tier else None,
            member.tier_multiplier,
            member.balance,
        )
        assert have == want, (number, kind, customer)
        # The tier earned goes down only when its grace ends; the tier in effect only then
        # or when a grant ends or the merchant replaces it.
        earned, effective, expires, grant_end = before.get(customer, (-1, -1, None, None))
        now_earned, now_effective, *_ = _ranks(member)
        if now_earned < earned:
            assert kind == "advance" and expires and expires <= now, (number, customer)
        if now_effective < effective and kind != "grant":
            ended = [t for t in (expires, grant_end) if t is not None and t <= now]
            assert kind == "advance" and ended, (number, kind, customer)


def _apply(shop, tiers, model: Model, orders: list, number: int, step: Step, now: datetime) -> None:  # type: ignore[no-untyped-def,type-arg]
    if step.kind == "order":
        order_id = 1000 + number
        services.order_webhook_process(
            shop=shop,
            topic="orders/paid",
            payload=_order_payload(step, order_id, now),
            triggered_at=None,
        )
        model.order(step.customer, step.price, step.discount, step.tax, step.shipping)
        orders.append((order_id, step))
    elif step.kind == "refund":
        order_id, bought = orders[step.order]
        goods = bought.price - bought.discount
        goods, tax = (
            ((goods / 2).quantize(CENT), (bought.tax / 2).quantize(CENT))
            if step.half
            else (goods, bought.tax)
        )
        if step.half and model.orders[step.order].refunded:  # the second half: what is left
            goods = bought.price - bought.discount - model.orders[step.order].refunded
            tax = bought.tax - model.orders[step.order].refunded_tax
        services.refund_webhook_process(
            shop=shop, payload=_refund_payload(5000 + number, order_id, goods, tax)
        )
        model.refund(step.order, goods, tax)
    elif step.kind == "grant":
        tier_grant(
            shop=shop,
            customer_ids=[step.customer],
            tier_id=tiers[step.level].pk,
            days=step.days,
            actor="test",
            key=f"grant-{number}",
        )
        model.grant(step.customer, step.level, step.days)
    elif step.kind == "settings":
        draft = tier_draft_current(shop=shop)
        changed = tuple(
            replace(t, threshold=lv.threshold, multiplier=lv.multiplier)
            for t, lv in zip(draft.tiers, step.levels, strict=True)
        )
        recompute = tier_settings_save(shop=shop, draft=replace(draft, tiers=changed), actor="test")
        tiers_recompute_apply(recompute_id=recompute.pk)
        model.settings_change(
            replace(
                model.s,
                levels=tuple(
                    replace(old, threshold=new.threshold, multiplier=new.multiplier)
                    for old, new in zip(model.s.levels, step.levels, strict=True)
                ),
            )
        )
    else:
        tiers_evaluate_shop(shop=shop, now=now)
        model.advance(step.days)


@PROFILE
@given(history=tier_histories())
@pytest.mark.usefixtures("inbox_not_processed")
def test_tiers_multipliers_and_balances_match_the_model(history: TierHistory) -> None:
    run_history(history)
