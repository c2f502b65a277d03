"""Tier rules (pure): what a member qualifies for, when a tier is kept until, what an order
counts and what a tier multiplier does to an order's points.

No database access: the settings and tiers come in as a ``TierRules`` value (built from the
rows by ``loyalty.services.tiers``, or from a draft by the recompute's preview), the facts
as ``QualifyingSums`` (the sums of what the member's orders count, read set-based).

Rules, as a merchant reads them:

* **Qualifying value.** Over the window, the member's credited orders count, by the date the
  order was placed: *points earned* = their points (tier multiplier included) net of what
  refunds and cancellations took back; *amount spent* = line items other than gift cards net
  of their discounts and without tax, plus (per setting) the discounts, shipping and tax,
  net of what refunds gave back; *number of orders* = orders not cancelled or refunded in
  full. Welcome, manual and entry points do not count. Orders placed before the program
  start date do not count.
* **Periods.** A calendar year (in the shop's time zone) for calendar-year and lifetime
  windows; blocks of N months from the month of the program start (from January 2000
  without one) for rolling windows.
* **Up** as soon as the value over the window ending now reaches a higher tier's threshold
  (the order that reaches it still earns at the old multiplier). A tier reached in period P
  is kept until the end of period P + ``grace_periods`` (default 1: the end of the next one).
* **Down** only when that time comes: the member is then evaluated over the period that just
  ended (lifetime: everything until then) and holds what that value reaches, again until
  the end of ``grace_periods`` periods later; nothing reached: no tier. Never mid-grace, and
  a refund only changes the next evaluation.
* **Grants**: a granted tier applies until its end when it ranks above the earned one.
* **Entry points** are given when a member moves up into a tier, once per tier and period
  (lifetime windows: once per tier ever).
* **Multiplier**: an order's points are the earning rule's points times the multiplier of the
  member's tier at the moment the order is credited, rounded by the program's rounding.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loyalty.payloads import allocations_total, shop_amount, tax_total
from loyalty.rules.earning import points_round

ZERO = Decimal(0)
CENT = Decimal("0.01")
ONE = Decimal(1)
POINTS = "points"
SPEND = "spend"
ORDERS = "orders"
LIFETIME = "lifetime"
CALENDAR_YEAR = "calendar_year"
ROLLING = "rolling"
ROLLING_ANCHOR = date(2000, 1, 1)


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierDef:
    """One tier as the rules see it; ``rank`` is its index in threshold order."""

    tier_id: int | None  # None: a tier of a draft, not saved yet
    name: str
    threshold: Decimal
    multiplier: Decimal = ONE
    entry_points: int = 0
    rank: int = 0
    entry_reward_id: int | None = None  # a catalogue reward given on entry


@dataclass(frozen=True)
class TierRules:
    metric: str
    window: str
    window_months: int = 12
    include_discounts: bool = False
    include_shipping: bool = False
    include_tax: bool = False
    program_start: date | None = None
    grace_periods: int = 1
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    tiers: tuple[TierDef, ...] = ()
    new_member_tier_id: int | None = None  # time-limited access for every new member
    new_member_days: int | None = None

    def __post_init__(self) -> None:
        ordered = sorted(self.tiers, key=lambda t: (t.threshold, t.multiplier))
        ranked = tuple(replace(t, rank=n) for n, t in enumerate(ordered))
        object.__setattr__(self, "tiers", ranked)
        # Not fields (outside equality and hashing): the tiers by id, and the periods
        # ``period_at`` computed for these rules (a recompute asks for the same few for
        # every member).
        object.__setattr__(self, "_by_id", {t.tier_id: t for t in ranked})
        object.__setattr__(self, "_periods", {})

    def by_id(self, tier_id: int | None) -> TierDef | None:
        if tier_id is None:
            return None
        found: TierDef | None = self._by_id.get(tier_id)  # type: ignore[attr-defined]
        return found

    def rank_of(self, tier_id: int | None) -> int:
        """The rank of a tier of these rules; -1 for none or a tier they no longer hold."""
        tier = self.by_id(tier_id)
        return -1 if tier is None else tier.rank


def tier_settings_problem(rules: TierRules) -> str:
    """Why these settings cannot be saved, or ``""``: at least one tier, distinct names and
    thresholds, whole-number thresholds for points and orders, multipliers of at least 1."""
    if not rules.tiers:
        return "Add at least one tier."
    names = [t.name.strip().lower() for t in rules.tiers]
    if any(not n for n in names) or len(set(names)) != len(names):
        return "Each tier needs its own name."
    thresholds = [t.threshold for t in rules.tiers]
    if len(set(thresholds)) != len(thresholds):
        return "Each tier needs its own threshold."
    for tier in rules.tiers:
        if tier.threshold < 0:
            return f"{tier.name}: the threshold cannot be negative."
        if rules.metric != SPEND and tier.threshold != tier.threshold.to_integral_value():
            return f"{tier.name}: the threshold must be a whole number."
        if tier.multiplier < 1:
            return f"{tier.name}: the multiplier must be at least 1."
        if tier.entry_points < 0:
            return f"{tier.name}: entry points cannot be negative."
    if not 1 <= rules.window_months <= 60:
        return "A rolling window is 1 to 60 months."
    if not 1 <= rules.grace_periods <= 4:
        return "The grace is 1 to 4 periods."
    return ""


# --- what orders count -----------------------------------------------------------------------


@dataclass(frozen=True)
class QualifyingSums:
    """The sums of what a member's orders count (one window). ``add`` composes them."""

    orders: int = 0
    points: int = 0
    goods: Decimal = ZERO
    discounts: Decimal = ZERO
    shipping: Decimal = ZERO
    tax: Decimal = ZERO
    refunded_goods: Decimal = ZERO
    refunded_discounts: Decimal = ZERO
    refunded_shipping: Decimal = ZERO
    refunded_tax: Decimal = ZERO

    def add(self, other: QualifyingSums, sign: int = 1) -> QualifyingSums:
        return QualifyingSums(
            *(getattr(self, n) + sign * getattr(other, n) for n in self.__dataclass_fields__)
        )


class OrderFactsRow(Protocol):
    """The stored facts of an order the qualifying value reads (a ``LoyaltyOrder``)."""

    state: str
    base: Decimal
    refunded_base: Decimal
    points_earned: int
    points_reversed: int
    subtotal_price: Decimal
    spend_goods: Decimal | None
    spend_discounts: Decimal
    spend_shipping: Decimal
    spend_tax: Decimal
    spend_refunded_goods: Decimal
    spend_refunded_discounts: Decimal
    spend_refunded_shipping: Decimal
    spend_refunded_tax: Decimal


def order_counts(order: OrderFactsRow) -> QualifyingSums:
    """What one stored order counts. Only credited orders count; an order refunded in full
    is not counted as an order. Orders recorded before tiers have no spend facts: their
    subtotal and refunded base stand in. ``tier_sums_read`` sums the same in SQL."""
    if order.state != "credited":
        return QualifyingSums()
    counted = 0 if order.base > 0 and order.refunded_base >= order.base else 1
    points = order.points_earned - order.points_reversed
    if order.spend_goods is None:
        return QualifyingSums(
            orders=counted,
            points=points,
            goods=order.subtotal_price,
            refunded_goods=order.refunded_base,
        )
    return QualifyingSums(
        orders=counted,
        points=points,
        goods=order.spend_goods,
        discounts=order.spend_discounts,
        shipping=order.spend_shipping,
        tax=order.spend_tax,
        refunded_goods=order.spend_refunded_goods,
        refunded_discounts=order.spend_refunded_discounts,
        refunded_shipping=order.spend_refunded_shipping,
        refunded_tax=order.spend_refunded_tax,
    )


def qualifying_value(rules: TierRules, sums: QualifyingSums) -> Decimal:
    """The member's qualifying value in the metric's unit (never below zero)."""
    if rules.metric == POINTS:
        value = Decimal(sums.points)
    elif rules.metric == ORDERS:
        value = Decimal(sums.orders)
    else:
        value = sums.goods - sums.refunded_goods
        if rules.include_discounts:
            value += sums.discounts - sums.refunded_discounts
        if rules.include_shipping:
            value += sums.shipping - sums.refunded_shipping
        if rules.include_tax:
            value += sums.tax - sums.refunded_tax
    return max(value.quantize(CENT), ZERO)


def qualifying_fields(rules: TierRules) -> tuple[str, ...]:
    """The ``QualifyingSums`` fields ``qualifying_value`` reads under these rules (the sums
    read from the database are only these; the others stay zero)."""
    if rules.metric == POINTS:
        return ("points",)
    if rules.metric == ORDERS:
        return ("orders",)
    fields = ["goods", "refunded_goods"]
    for included, name in (
        (rules.include_discounts, "discounts"),
        (rules.include_shipping, "shipping"),
        (rules.include_tax, "tax"),
    ):
        if included:
            fields += [name, f"refunded_{name}"]
    return tuple(fields)


def tier_for_value(rules: TierRules, value: Decimal) -> TierDef | None:
    """The highest tier whose threshold the value reaches."""
    reached = [t for t in rules.tiers if value >= t.threshold]
    return reached[-1] if reached else None


def tier_next(rules: TierRules, current: TierDef | None, value: Decimal) -> TierDef | None:
    """The tier to aim for next: the lowest tier above ``current`` whose threshold the value
    has not reached (None at the top)."""
    floor = current.rank if current is not None else -1
    return next((t for t in rules.tiers if t.rank > floor and t.threshold > value), None)


@dataclass(frozen=True)
class OrderSpend:
    goods: Decimal
    discounts: Decimal
    shipping: Decimal
    tax: Decimal


def order_spend(payload: dict[str, Any]) -> OrderSpend:
    """What an order payload counts for "amount spent" (shop money, cents)."""
    included = bool(payload.get("taxes_included"))
    goods = discounts = shipping = tax = ZERO
    for line in payload.get("line_items") or []:
        if line.get("gift_card"):
            continue
        quantity = line.get("quantity")
        quantity = quantity if isinstance(quantity, int) and quantity > 0 else 0
        line_tax = tax_total(line)
        allocated = allocations_total(line)
        goods += shop_amount(line, "price") * quantity - allocated - (line_tax if included else 0)
        discounts += allocated
        tax += line_tax
    for ship in payload.get("shipping_lines") or []:
        if ship.get("is_removed"):
            continue
        ship_tax = tax_total(ship)
        amount = shop_amount(ship, "price") - allocations_total(ship)
        shipping += amount - (ship_tax if included else 0)
        tax += ship_tax
    return OrderSpend(
        *(max(v, ZERO).quantize(CENT) for v in (goods, discounts, shipping, tax)),
    )


@dataclass(frozen=True)
class RefundSpend:
    subtotal: Decimal  # of the refunded lines, tax included when the order's prices do
    tax: Decimal
    shipping: Decimal


def refund_spend(payload: dict[str, Any]) -> RefundSpend:
    """What a refund payload gives back of the amount spent (order adjustments aside)."""
    subtotal = tax = shipping = ZERO
    for rli in payload.get("refund_line_items") or []:
        if (rli.get("line_item") or {}).get("gift_card"):
            continue
        subtotal += shop_amount(rli, "subtotal")
        tax += shop_amount(rli, "total_tax")
    for rsl in payload.get("refund_shipping_lines") or []:
        shipping += shop_amount(rsl, "subtotal_amount")
    return RefundSpend(*(max(v, ZERO).quantize(CENT) for v in (subtotal, tax, shipping)))


def refunded_discounts(*, discounts: Decimal, goods: Decimal, refunded_goods: Decimal) -> Decimal:
    """The share of an order's discounts its refunds give back: in proportion to the goods
    refunded, at most all of them."""
    if goods <= 0 or discounts <= 0 or refunded_goods <= 0:
        return ZERO
    share = min(refunded_goods / goods, ONE)
    return (discounts * share).quantize(CENT, rounding=ROUND_HALF_UP)


# --- the multiplier --------------------------------------------------------------------------


def tier_points(points: int, multiplier: Decimal, rounding: str) -> int:
    """The order's points under the member's tier multiplier (the program's rounding)."""
    if multiplier == ONE or points <= 0:
        return points
    return points_round(Decimal(points) * multiplier, rounding)


# --- periods and windows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str
    start: datetime
    end: datetime


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _months_add(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


PERIODS_KEPT = 256


def period_at(rules: TierRules, at: datetime) -> Period:
    """The period holding ``at`` (see the module docstring), remembered by the rules."""
    periods: dict[datetime, Period] = rules._periods  # type: ignore[attr-defined]
    found = periods.get(at)
    if found is None:
        if len(periods) >= PERIODS_KEPT:
            periods.clear()
        found = periods[at] = _period_compute(rules, at)
    return found


def _period_compute(rules: TierRules, at: datetime) -> Period:
    local = at.astimezone(rules.tz).date()
    if rules.window == ROLLING:
        anchor = (rules.program_start or ROLLING_ANCHOR).replace(day=1)
        months = (local.year - anchor.year) * 12 + local.month - anchor.month
        index = months // rules.window_months
        start = _months_add(anchor, index * rules.window_months)
        end = _months_add(start, rules.window_months)
        return Period(
            f"{start:%Y-%m}", _local_midnight(start, rules.tz), _local_midnight(end, rules.tz)
        )
    start = date(local.year, 1, 1)
    return Period(
        str(local.year),
        _local_midnight(start, rules.tz),
        _local_midnight(date(local.year + 1, 1, 1), rules.tz),
    )


def period_next(rules: TierRules, period: Period) -> Period:
    return period_at(rules, period.end)


def held_until(rules: TierRules, reached_in: Period) -> datetime:
    """When a tier reached in ``reached_in`` comes up for evaluation."""
    period = reached_in
    for _ in range(rules.grace_periods):
        period = period_next(rules, period)
    return period.end


def entry_key(rules: TierRules, period: Period) -> str:
    """The period an entry reward is given once for."""
    return "lifetime" if rules.window == LIFETIME else period.key


@dataclass(frozen=True)
class Window:
    start: datetime | None  # None: from the beginning
    end: datetime | None  # None: open (now and anything later)


def _clipped(rules: TierRules, start: datetime | None) -> datetime | None:
    if rules.program_start is None:
        return start
    begin = _local_midnight(rules.program_start, rules.tz)
    return begin if start is None else max(start, begin)


def window_now(rules: TierRules, now: datetime) -> Window:
    """The window an upgrade is judged over: it ends now."""
    if rules.window == LIFETIME:
        return Window(_clipped(rules, None), None)
    if rules.window == CALENDAR_YEAR:
        return Window(_clipped(rules, period_at(rules, now).start), None)
    local = now.astimezone(rules.tz)
    back = _months_add(local.date(), -rules.window_months)
    start = datetime.combine(back, local.timetz())
    return Window(_clipped(rules, start), None)


def window_of(rules: TierRules, period: Period) -> Window:
    """The window the evaluation at the end of ``period`` is judged over."""
    if rules.window == LIFETIME:
        return Window(_clipped(rules, None), period.end)
    return Window(_clipped(rules, period.start), period.end)


# --- a member's tier -------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberTier:
    """A member's tier fields (``Member``'s)."""

    earned_id: int | None = None
    expires_at: datetime | None = None
    granted_id: int | None = None
    grant_ends_at: datetime | None = None


def tier_effective(rules: TierRules, state: MemberTier, now: datetime) -> TierDef | None:
    """The tier in effect: the earned one, or a running grant that ranks above it."""
    earned = rules.by_id(state.earned_id)
    granted = rules.by_id(state.granted_id)
    running = granted is not None and state.grant_ends_at is not None and state.grant_ends_at > now
    if running and granted is not None and (earned is None or granted.rank > earned.rank):
        return granted
    return earned


@dataclass(frozen=True)
class TierMove:
    """A change of the earned tier: the new state, the tier moved to, whether it is up, and
    the entry points it gives (with their once-only period key)."""

    state: MemberTier
    to: TierDef | None
    up: bool
    entry_points: int
    entry_period: str


def tier_can_rise(rules: TierRules, earned_id: int | None) -> bool:
    """Whether a member who earned this tier can still move up (no tier is above the top
    one: the crediting engine does not read such a member's qualifying sums)."""
    return rules.rank_of(earned_id) < len(rules.tiers) - 1


def tier_upgrade(
    rules: TierRules, state: MemberTier, value: Decimal, now: datetime
) -> TierMove | None:
    """The move up the value over the window ending now gives, if any."""
    reached = tier_for_value(rules, value)
    if reached is None or reached.rank <= rules.rank_of(state.earned_id):
        return None
    period = period_at(rules, now)
    return TierMove(
        state=replace(state, earned_id=reached.tier_id, expires_at=held_until(rules, period)),
        to=reached,
        up=True,
        entry_points=reached.entry_points,
        entry_period=entry_key(rules, period),
    )


def tier_evaluation_period(rules: TierRules, state: MemberTier) -> Period | None:
    """The period whose end the member's grace has reached (evaluated next), if it has one."""
    if state.expires_at is None:
        return None
    return period_at(rules, state.expires_at - timedelta(microseconds=1))


def tier_evaluate(rules: TierRules, state: MemberTier, value: Decimal, period: Period) -> TierMove:
    """The evaluation when the grace ends (at ``period.end``): hold what the value over
    ``period`` reaches until the end of the grace after it; nothing reached: no tier."""
    reached = tier_for_value(rules, value)
    before = rules.rank_of(state.earned_id)
    up = reached is not None and reached.rank > before
    return TierMove(
        state=replace(
            state,
            earned_id=reached.tier_id if reached else None,
            expires_at=held_until(rules, period) if reached else None,
        ),
        to=reached,
        up=up,
        entry_points=reached.entry_points if up and reached else 0,
        entry_period=entry_key(rules, period),
    )


def tier_new_member(rules: TierRules, now: datetime) -> MemberTier | None:
    """A new member's grant when the settings give every new member one."""
    granted = rules.by_id(rules.new_member_tier_id)
    if granted is None or not rules.new_member_days:
        return None
    return MemberTier(
        granted_id=granted.tier_id, grant_ends_at=now + timedelta(days=rules.new_member_days)
    )


@dataclass(frozen=True)
class Recomputed:
    """A member under new settings: the new state, the tier in effect, whether that is a
    move up (1), down (-1) or none (0), and whether a running grant was lost."""

    state: MemberTier
    tier: TierDef | None
    move: int
    grant_lost: bool


def tier_recompute(
    new: TierRules,
    state: MemberTier,
    current: TierDef | None,
    value: Decimal,
    now: datetime,
    *,
    keep_held: bool = True,
) -> Recomputed:
    """The member's tier under ``new`` settings (the preview and the apply of a settings
    change): what the value over the window ending now reaches, or, with ``keep_held``, the
    tier the member holds in its grace if the new settings keep it and it ranks higher (a
    settings change then lowers nobody mid-grace). A grant of a tier the settings no longer
    hold ends. ``current``: the tier in effect before (of any settings)."""
    reached = tier_for_value(new, value)
    running = state.expires_at is not None and state.expires_at > now
    held = new.by_id(state.earned_id) if keep_held and running else None
    if held is not None and (reached is None or held.rank >= reached.rank):
        earned_id, expires = held.tier_id, state.expires_at
    elif reached is not None:
        same = reached.tier_id is not None and reached.tier_id == state.earned_id
        expires = state.expires_at if same and running else held_until(new, period_at(new, now))
        earned_id = reached.tier_id
    else:
        earned_id, expires = None, None
    granting = state.grant_ends_at is not None and state.grant_ends_at > now
    kept_grant = new.by_id(state.granted_id) is not None
    lost = state.granted_id is not None and granting and not kept_grant
    granted = (state.granted_id, state.grant_ends_at) if kept_grant else (None, None)
    after = MemberTier(earned_id, expires, *granted)
    tier = tier_effective(new, after, now)
    return Recomputed(after, tier, tier_rank_compared(current, tier, new), lost)


def tier_rank_compared(old: TierDef | None, new: TierDef | None, rules: TierRules) -> int:
    """-1, 0 or 1: whether moving from ``old`` (a tier of other settings, kept by
    ``rules`` or not) to ``new`` (of ``rules``) is down, none or up. A tier ``rules`` no
    longer holds sits between the tiers around its old threshold."""
    if old is None and new is None:
        return 0
    if old is not None and new is not None and old.tier_id == new.tier_id and old.tier_id:
        return 0
    if old is None:
        return 1
    if new is None:
        return -1
    kept = rules.by_id(old.tier_id)
    if kept is not None:
        old_rank = Decimal(kept.rank)
    else:
        below = sum(1 for t in rules.tiers if t.threshold <= old.threshold)
        old_rank = Decimal(below) - Decimal("0.5")
    return (new.rank > old_rank) - (new.rank < old_rank)


def tiers_sorted(tiers: Sequence[TierDef]) -> tuple[TierDef, ...]:
    return TierRules(metric=POINTS, window=LIFETIME, tiers=tuple(tiers)).tiers
