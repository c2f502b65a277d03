"""An independent model of VIP tiers: what a history of orders, refunds, grants, settings
changes and clock advances must leave each member with (tier, multiplier, balance).

Written from the rules as a merchant reads them (the module docstring of
``loyalty/rules/tiers.py``), not from Beam's code: nothing here imports Beam. The shop's time
zone is UTC; the program earns 1 point per currency unit on line items net of discounts
(without shipping and tax), rounded by the program's rounding, lets balances go negative,
and moves nothing to pending. Decisions the rules leave open, taken as a merchant would:

* The order that reaches a tier earns at the multiplier held before it.
* A grant's end and a grace's end take effect when the clock passes them (the test runs the
  periodic evaluation after every clock advance).
* A settings change keeps a tier held in its grace when the new settings keep that tier and
  rank it at least as high as what the member's value reaches.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

ZERO = Decimal(0)
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Level:
    """A tier: its position in the list never changes (settings changes scale thresholds
    and change multipliers, keeping the order)."""

    name: str
    threshold: Decimal
    multiplier: Decimal
    entry: int


@dataclass(frozen=True)
class Settings:
    metric: str  # points | spend | orders
    window: str  # lifetime | calendar_year | rolling
    months: int
    grace: int
    start: date | None
    discounts: bool
    shipping: bool
    tax: bool
    levels: tuple[Level, ...]  # by threshold
    rounding: str  # the program's: down | nearest | up


@dataclass
class Purchase:
    customer: int
    at: datetime
    price: Decimal
    discount: Decimal
    tax: Decimal
    shipping: Decimal
    points: int = 0
    reversed: int = 0
    refunded: Decimal = ZERO  # goods given back (the refunds' subtotals: taxes excluded)
    refunded_tax: Decimal = ZERO

    @property
    def goods(self) -> Decimal:
        return self.price - self.discount


@dataclass
class Shopper:
    balance: int = 0
    earned: int | None = None  # index into the levels
    until: datetime | None = None
    granted: int | None = None
    grant_end: datetime | None = None
    entries: set[tuple[int, str]] = field(default_factory=set)


def rounded(value: Decimal, how: str) -> int:
    mode = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}[how]
    return int(value.quantize(Decimal(1), rounding=mode))


def month_shift(day: date, months: int) -> date:
    total = day.year * 12 + (day.month - 1) + months
    year, month0 = total // 12, total % 12
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Model:
    def __init__(self, settings: Settings, now: datetime) -> None:
        self.s = settings
        self.now = now
        self.orders: list[Purchase] = []
        self.shoppers: dict[int, Shopper] = {}

    # --- periods ---------------------------------------------------------------------------

    def period(self, moment: datetime) -> tuple[str, datetime, datetime]:
        """(key, start, end) of the period holding ``moment``."""
        if self.s.window == "rolling":
            first = (self.s.start or date(2000, 1, 1)).replace(day=1)
            months = (moment.year - first.year) * 12 + moment.month - first.month
            block = months // self.s.months
            begin = month_shift(first, block * self.s.months)
            finish = month_shift(begin, self.s.months)
            return begin.strftime("%Y-%m"), midnight(begin), midnight(finish)
        return (
            str(moment.year),
            midnight(date(moment.year, 1, 1)),
            midnight(date(moment.year + 1, 1, 1)),
        )

    def kept_until(self, moment: datetime) -> datetime:
        _, _, end = self.period(moment)
        for _ in range(self.s.grace):
            _, _, end = self.period(end)
        return end

    def entry_key(self, moment: datetime) -> str:
        return "all time" if self.s.window == "lifetime" else self.period(moment)[0]

    # --- values ----------------------------------------------------------------------------

    def value(self, customer: int, begin: datetime | None, end: datetime | None) -> Decimal:
        if self.s.start is not None:
            floor = midnight(self.s.start)
            begin = floor if begin is None else max(begin, floor)
        mine = [
            o
            for o in self.orders
            if o.customer == customer
            and (begin is None or o.at >= begin)
            and (end is None or o.at < end)
        ]
        if self.s.metric == "points":
            total = Decimal(sum(o.points - o.reversed for o in mine))
        elif self.s.metric == "orders":
            total = Decimal(sum(1 for o in mine if o.refunded < o.goods))
        else:
            total = ZERO
            for o in mine:
                total += o.goods - o.refunded
                if self.s.discounts:
                    share = min(o.refunded / o.goods, Decimal(1)) if o.goods else ZERO
                    total += o.discount - (o.discount * share).quantize(CENTS, ROUND_HALF_UP)
                if self.s.shipping:
                    total += o.shipping
                if self.s.tax:
                    total += o.tax - o.refunded_tax
        return max(total, ZERO)

    def value_now(self, customer: int) -> Decimal:
        if self.s.window == "lifetime":
            return self.value(customer, None, None)
        if self.s.window == "calendar_year":
            return self.value(customer, self.period(self.now)[1], None)
        back = month_shift(self.now.date(), -self.s.months)
        return self.value(customer, datetime.combine(back, self.now.timetz()), None)

    def reached(self, value: Decimal) -> int | None:
        best = None
        for index, level in enumerate(self.s.levels):
            if value >= level.threshold:
                best = index
        return best

    # --- a shopper's tier ------------------------------------------------------------------

    def in_effect(self, shopper: Shopper) -> int | None:
        grant = shopper.granted if shopper.grant_end and shopper.grant_end > self.now else None
        if grant is not None and (shopper.earned is None or grant > shopper.earned):
            return grant
        return shopper.earned

    def multiplier(self, customer: int) -> Decimal:
        index = self.in_effect(self.shoppers[customer])
        return Decimal(1) if index is None else self.s.levels[index].multiplier

    def tier(self, customer: int) -> str | None:
        index = self.in_effect(self.shoppers[customer])
        return None if index is None else self.s.levels[index].name

    def _entry(self, shopper: Shopper, index: int, key: str) -> None:
        if (index, key) not in shopper.entries:
            shopper.entries.add((index, key))
            shopper.balance += self.s.levels[index].entry

    # --- events ----------------------------------------------------------------------------

    def order(
        self, customer: int, price: Decimal, discount: Decimal, tax: Decimal, shipping: Decimal
    ) -> int:
        shopper = self.shoppers.setdefault(customer, Shopper())
        purchase = Purchase(customer, self.now, price, discount, tax, shipping)
        base_points = rounded(purchase.goods, self.s.rounding)
        factor = self.multiplier(customer)
        purchase.points = (
            base_points if factor == 1 else rounded(Decimal(base_points) * factor, self.s.rounding)
        )
        self.orders.append(purchase)
        shopper.balance += purchase.points
        reached = self.reached(self.value_now(customer))
        if reached is not None and (shopper.earned is None or reached > shopper.earned):
            shopper.earned = reached
            shopper.until = self.kept_until(self.now)
            self._entry(shopper, reached, self.entry_key(self.now))
        return len(self.orders) - 1

    def refund(self, index: int, goods: Decimal, tax: Decimal) -> None:
        purchase = self.orders[index]
        purchase.refunded += goods
        purchase.refunded_tax += tax
        exact = Fraction(purchase.points) * Fraction(purchase.refunded) / Fraction(purchase.goods)
        exact = min(exact, Fraction(purchase.points))
        target = int(exact + Fraction(1, 2))
        self.shoppers[purchase.customer].balance -= target - purchase.reversed
        purchase.reversed = target

    def grant(self, customer: int, index: int, days: int) -> None:
        shopper = self.shoppers[customer]
        shopper.granted, shopper.grant_end = index, self.now + timedelta(days=days)

    def advance(self, days: int) -> None:
        self.now += timedelta(days=days)
        for customer, shopper in self.shoppers.items():
            while shopper.until is not None and shopper.until <= self.now:
                moment = shopper.until - timedelta(microseconds=1)  # in the period that ended
                _, begin, end = self.period(moment)
                lifetime = self.s.window == "lifetime"
                reached = self.reached(self.value(customer, None if lifetime else begin, end))
                before = shopper.earned
                shopper.earned = reached
                shopper.until = self.kept_until(moment) if reached is not None else None
                if reached is not None and (before is None or reached > before):
                    self._entry(shopper, reached, self.entry_key(moment))
            if shopper.grant_end is not None and shopper.grant_end <= self.now:
                shopper.granted, shopper.grant_end = None, None

    def settings_change(self, settings: Settings) -> None:
        """New thresholds and multipliers (same tiers, same order); members keep a tier
        held in its grace unless their value now reaches a higher one."""
        self.s = settings
        for customer, shopper in self.shoppers.items():
            reached = self.reached(self.value_now(customer))
            running = shopper.until is not None and shopper.until > self.now
            if (
                running
                and shopper.earned is not None
                and (reached is None or shopper.earned >= reached)
            ):
                continue
            if reached is None:
                shopper.earned, shopper.until = None, None
            elif not (reached == shopper.earned and running):
                shopper.earned, shopper.until = reached, self.kept_until(self.now)
