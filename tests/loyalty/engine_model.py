"""An independent model of Beam's crediting rules, and the histories it is checked on.

Plain Python written from the rules as a merchant reads them (``loyalty/services.py``'s
module docstring), not from Beam's code: nothing here imports a rule function of Beam.
``tests/loyalty/test_engine_property.py`` feeds the same history to Beam's inbox and to
``expected()`` and compares the stored results.

A history has two phases, each delivered in any order (duplicates and the same event under
a second webhook id included): phase 1 holds every order delivery (paid, fulfilled), the
customers' sign-ups and some refunds and cancellations; between the phases the members may
spend their points down to ``spend_to``; phase 2 holds the other refunds and cancellations
of those orders and the sign-ups of guests. Decisions the code's docstrings leave open,
taken as a merchant would expect:

* A refund reverses in proportion to its base computed with the *order's* ``taxes_included``,
  whenever the refund is processed (before or after its order). Of an order Beam never
  receives, the refunds' base is computed as if its prices excluded tax (nothing says
  otherwise; no points depend on it).
* Reversed points are ``round_half_up(earned * refunded / base)`` computed exactly (a tie is
  a tie, whatever the decimal expansion of the ratio), capped at the points earned.
* A guest signs up after the guest orders it placed (their deliveries are in phase 1, the
  sign-up in phase 2): the orders are credited to the new member.
* A cancelled order nets zero points, whether its cancellation came before or after the
  earning trigger.
* With ``deduct_to_zero_record_shortfall``, when several reversals compete for a balance the
  members spent, which order records the shortfall depends on processing order; the model
  predicts the member's balance and total shortfall, and that each order's shortfall is at
  most what it reversed in phase 2.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from tests.loyalty.factories import fixture as fixture_read

CENT = Decimal("0.01")
_FIXTURES: dict[str, dict[str, Any]] = {}


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of a webhook fixture (read from disk once)."""
    if name not in _FIXTURES:
        _FIXTURES[name] = fixture_read(name)
    return copy.deepcopy(_FIXTURES[name])


ZERO = Decimal(0)


@dataclass(frozen=True)
class Program:
    points_per_unit: Decimal
    rounding: str  # down | nearest | up
    include_tax: bool
    include_shipping: bool
    trigger: str  # paid | fulfilled
    pending_days: int
    policy: str  # deduct_to_zero_record_shortfall | allow_negative
    welcome: int
    minimum: Decimal
    enabled: bool


@dataclass(frozen=True)
class Line:
    line_id: int
    price: Decimal
    quantity: int
    discount: Decimal
    tax: Decimal
    gift_card: bool

    @property
    def amount(self) -> Decimal:
        return self.price * self.quantity - self.discount


@dataclass(frozen=True)
class Order:
    order_id: int
    customer_id: int | None  # None: a guest, known by ``email`` only
    email: str
    lines: tuple[Line, ...]
    shipping: Decimal | None
    shipping_tax: Decimal
    taxes_included: bool
    currency: str
    paid_fulfilled: bool  # the orders/paid payload says fulfillment_status "fulfilled"


@dataclass(frozen=True)
class RefundLine:
    line: Line
    subtotal: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Refund:
    refund_id: int
    order_id: int
    lines: tuple[RefundLine, ...]
    shipping: Decimal


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    topic: str
    payload: dict[str, Any] = field(hash=False, compare=False, repr=False)
    phase: int


@dataclass
class History:
    program: Program
    orders: list[Order]
    refunds: list[tuple[int, Refund]]  # (phase, refund)
    cancels: dict[int, int]  # order id -> phase
    triggers: dict[int, set[str]]  # order id -> order topics delivered
    signups: list[tuple[int, int, str]]  # (phase, customer id, email)
    spend_to: int | None
    deliveries: list[Delivery]  # generation order, phase 1 first
    shuffled: list[Delivery]  # the same, shuffled within each phase

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis's report
        printer.text(repr(self))

    def __repr__(self) -> str:
        deliveries = ", ".join(f"{d.webhook_id}@{d.phase}" for d in self.shuffled)
        return (
            f"History(program={self.program!r},\n orders={self.orders!r},\n"
            f" refunds={self.refunds!r},\n cancels={self.cancels!r}, triggers={self.triggers!r},"
            f"\n signups={self.signups!r}, spend_to={self.spend_to!r},\n shuffled=[{deliveries}])"
        )


# --- payloads ---------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    text = str(amount.quantize(CENT))
    return {
        "shop_money": {"amount": text, "currency_code": currency},
        "presentment_money": {"amount": text, "currency_code": currency},
    }


def _tax_lines(tax: Decimal, currency: str) -> list[dict[str, Any]]:
    if not tax:
        return []
    return [{"price": str(tax), "price_set": _money(tax, currency), "rate": 0.08, "title": "VAT"}]


def _allocations(amount: Decimal, currency: str) -> list[dict[str, Any]]:
    if not amount:
        return []
    return [
        {
            "amount": str(amount),
            "amount_set": _money(amount, currency),
            "discount_application_index": 0,
        }
    ]


def _line_payload(line: Line, currency: str) -> dict[str, Any]:
    body = fixture("orders_paid")["line_items"][0]
    body.update(
        id=line.line_id,
        price=str(line.price),
        price_set=_money(line.price, currency),
        quantity=line.quantity,
        current_quantity=line.quantity,
        product_id=100 + line.line_id % 7,
        gift_card=line.gift_card,
        discount_allocations=_allocations(line.discount, currency),
        tax_lines=_tax_lines(line.tax, currency),
    )
    return body


def order_payload(order: Order, *, fulfilled: bool) -> dict[str, Any]:
    """The order as the platform sends it (the fixture's shape with the drawn values)."""
    cur = order.currency
    payload = fixture("orders_paid")
    lines = [_line_payload(line, cur) for line in order.lines]
    total = sum((li.amount for li in order.lines), ZERO) + (order.shipping or ZERO)
    if not order.taxes_included:
        total += sum((li.tax for li in order.lines), ZERO) + order.shipping_tax
    payload.update(
        id=order.order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order.order_id}",
        name=f"#{order.order_id}",
        line_items=lines,
        email=order.email,
        contact_email=order.email,
        taxes_included=order.taxes_included,
        currency=cur,
        presentment_currency=cur,
        total_price=str(total),
        total_price_set=_money(total, cur),
        discount_codes=[],
        fulfillment_status="fulfilled" if fulfilled else None,
    )
    if order.customer_id is None:
        payload["customer"] = None
    else:
        payload["customer"].update(
            id=order.customer_id,
            email=order.email,
            admin_graphql_api_id=f"gid://shopify/Customer/{order.customer_id}",
        )
    if order.shipping is None:
        payload["shipping_lines"] = []
    else:
        ship = payload["shipping_lines"][0]
        ship.update(
            price=str(order.shipping),
            price_set=_money(order.shipping, cur),
            tax_lines=_tax_lines(order.shipping_tax, cur),
            discount_allocations=[],
        )
    return payload


def refund_payload(refund: Refund, currency: str) -> dict[str, Any]:
    payload = fixture("refunds_create")
    template = payload["refund_line_items"][0]
    rlis = []
    for n, rl in enumerate(refund.lines):
        rli = copy.deepcopy(template)
        rli.update(
            id=refund.refund_id * 10 + n,
            line_item_id=rl.line.line_id,
            subtotal=str(rl.subtotal),
            subtotal_set=_money(rl.subtotal, currency),
            total_tax=str(rl.tax),
            total_tax_set=_money(rl.tax, currency),
        )
        rli["line_item"] = _line_payload(rl.line, currency)
        rlis.append(rli)
    shipping = []
    if refund.shipping:
        shipping = [
            {
                "id": refund.refund_id,
                "shipping_line_id": 1,
                "subtotal_amount_set": _money(refund.shipping, currency),
                "subtotal_amount": str(refund.shipping),
            }
        ]
    payload.update(
        id=refund.refund_id,
        admin_graphql_api_id=f"gid://shopify/Refund/{refund.refund_id}",
        order_id=refund.order_id,
        refund_line_items=rlis,
        refund_shipping_lines=shipping,
        order_adjustments=[],
    )
    return payload


def customer_payload(customer_id: int, email: str) -> dict[str, Any]:
    return {
        "id": customer_id,
        "email": email,
        "first_name": "Ann",
        "last_name": "Lee",
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
    }


# --- the strategy -----------------------------------------------------------------------------

CLEAN = 16  # ingest.BATCH_MIN: deliveries the batch path needs to run at all
_cents = st.integers(min_value=1, max_value=20_000).map(lambda c: Decimal(c) / 100)


@st.composite
def programs(draw: st.DrawFn, *, batchable: bool = False) -> Program:
    """Program settings; ``batchable``: ones the batch path credits (on payment, enabled)."""
    return Program(
        points_per_unit=draw(st.sampled_from([Decimal(1), Decimal("1.5"), Decimal("0.1"), 3])),
        rounding=draw(st.sampled_from(["down", "nearest", "up"])),
        include_tax=draw(st.booleans()),
        include_shipping=draw(st.booleans()),
        trigger=draw(st.sampled_from(["paid"] if batchable else ["paid", "paid", "fulfilled"])),
        pending_days=draw(st.sampled_from([0, 0, 14])),
        policy=draw(st.sampled_from(["deduct_to_zero_record_shortfall", "allow_negative"])),
        welcome=draw(st.sampled_from([0, 25])),
        minimum=draw(st.sampled_from([ZERO, ZERO, Decimal(20)])),
        enabled=batchable or draw(st.sampled_from([True] * 9 + [False])),
    )


@st.composite
def _line(draw: st.DrawFn, line_id: int) -> Line:
    price = draw(_cents)
    quantity = draw(st.integers(1, 3))
    gross = price * quantity
    discount = draw(st.sampled_from([ZERO, ZERO, (gross / 4).quantize(CENT)]))
    tax = draw(st.sampled_from([ZERO, ((gross - discount) * Decimal("0.08")).quantize(CENT)]))
    gift_card = draw(st.sampled_from([False] * 9 + [True]))
    return Line(line_id, price, quantity, discount, tax, gift_card)


@st.composite
def _order(draw: st.DrawFn, order_id: int, owner: int | str) -> Order:
    taxes_included = draw(st.booleans())
    lines = tuple(draw(_line(n + 1)) for n in range(draw(st.integers(1, 3))))
    shipping = draw(st.sampled_from([None, Decimal("7.50"), Decimal("0.00")]))
    return Order(
        order_id=order_id,
        customer_id=owner if isinstance(owner, int) else None,
        email=f"c{owner}@example.com" if isinstance(owner, int) else owner,
        lines=lines,
        shipping=shipping,
        shipping_tax=Decimal("0.60") if shipping and draw(st.booleans()) else ZERO,
        taxes_included=taxes_included,
        currency=draw(st.sampled_from(["USD", "USD", "EUR", "JPY"])),
        paid_fulfilled=draw(st.sampled_from([False, False, True])),
    )


@st.composite
def _refund(draw: st.DrawFn, refund_id: int, order: Order) -> Refund:
    if draw(st.booleans()):  # full refund
        parts = [(line, 4) for line in order.lines]
        shipping = order.shipping or ZERO
    else:
        chosen = draw(st.lists(st.sampled_from(order.lines), min_size=1, max_size=2, unique=True))
        parts = [(line, draw(st.integers(1, 3))) for line in chosen]
        shipping = ZERO
    lines = tuple(
        RefundLine(
            line,
            (line.amount * quarters / 4).quantize(CENT),
            (line.tax * quarters / 4).quantize(CENT),
        )
        for line, quarters in parts
    )
    return Refund(refund_id, order.order_id, lines, shipping)


@st.composite
def histories(
    draw: st.DrawFn, *, min_orders: int = 1, max_orders: int = 10, batchable: bool = False
) -> History:
    """``batchable``: the first ``CLEAN`` orders are of distinct customers, paid once and
    refunded in phase 2 at most: deliveries the batch path takes, whatever the others."""
    program = draw(programs(batchable=batchable))
    clean = CLEAN if batchable else 0
    customers = [9000 + n for n in range(clean + draw(st.integers(1, 5)))]
    guests = [f"guest{n}@example.com" for n in range(draw(st.integers(0, 2)))]
    owners: list[int | str] = [*customers[clean:], *guests]
    orders: list[Order] = []
    refunds: list[tuple[int, Refund]] = []
    cancels: dict[int, int] = {}
    triggers: dict[int, set[str]] = {}
    raw: list[tuple[str, str, dict[str, Any], int]] = []  # (webhook id, topic, payload, phase)
    for n in range(draw(st.integers(max(min_orders, clean), max(max_orders, clean)))):
        is_clean = n < clean
        order = draw(
            _order(50_000 + n, customers[n] if is_clean else draw(st.sampled_from(owners)))
        )
        orders.append(order)
        topics = set()
        if is_clean or draw(st.sampled_from([True] * 7 + [False])):
            topics.add("orders/paid")
            fulfilled = order.paid_fulfilled
            raw.append((f"paid-{n}", "orders/paid", order_payload(order, fulfilled=fulfilled), 1))
        if not is_clean and draw(st.sampled_from([False, False, True])):
            topics.add("orders/fulfilled")
            raw.append((f"ful-{n}", "orders/fulfilled", order_payload(order, fulfilled=True), 1))
        triggers[order.order_id] = topics
        for k in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
            refund = draw(_refund(70_000 + 10 * n + k, order))
            phase = 2 if is_clean else draw(st.integers(1, 2))
            refunds.append((phase, refund))
            raw.append(
                (f"refund-{n}-{k}", "refunds/create", refund_payload(refund, order.currency), phase)
            )
        if not is_clean and draw(st.sampled_from([False] * 8 + [True])):
            phase = draw(st.integers(1, 2))
            cancels[order.order_id] = phase
            raw.append(
                (f"cancel-{n}", "orders/cancelled", order_payload(order, fulfilled=False), phase)
            )
    signups: list[tuple[int, int, str]] = []
    for customer_id in customers[clean:]:
        if draw(st.sampled_from([False, False, True])):
            signups.append((1, customer_id, f"c{customer_id}@example.com"))
    for n, email in enumerate(guests):
        if draw(st.booleans()):
            signups.append((2, 9500 + n, email))
    for phase, customer_id, email in signups:
        raw.append(
            (
                f"signup-{customer_id}",
                "customers/create",
                customer_payload(customer_id, email),
                phase,
            )
        )
    deliveries: list[Delivery] = []
    for webhook_id, topic, payload, phase in raw:
        deliveries.append(Delivery(webhook_id, topic, payload, phase))
        again = draw(st.sampled_from(["", "", "", "", "same-id", "other-id"]))
        if again == "other-id" and webhook_id.startswith("paid-") and int(webhook_id[5:]) < clean:
            again = "same-id"  # a second trigger would take the order off the batch path
        if again == "same-id":  # a platform retry of the very delivery
            deliveries.append(Delivery(webhook_id, topic, payload, phase))
        elif again == "other-id":  # the same event delivered under a second webhook id
            deliveries.append(Delivery(f"{webhook_id}-again", topic, payload, phase))
    deliveries.sort(key=lambda d: d.phase)
    shuffled = [
        *draw(st.permutations([d for d in deliveries if d.phase == 1])),
        *draw(st.permutations([d for d in deliveries if d.phase == 2])),
    ]
    spend_to = draw(st.sampled_from([None, 0, 5, 40]))
    return History(
        program, orders, refunds, cancels, triggers, signups, spend_to, deliveries, shuffled
    )


# --- the model --------------------------------------------------------------------------------


def _tax_adjust(tax: Decimal, program: Program, taxes_included: bool) -> Decimal:
    """Tax counts when the program includes it; prices that include it lose it otherwise."""
    if program.include_tax and not taxes_included:
        return tax
    if taxes_included and not program.include_tax:
        return -tax
    return ZERO


def order_base(order: Order, program: Program) -> Decimal:
    base = ZERO
    for line in order.lines:
        if not line.gift_card:
            adjust = _tax_adjust(line.tax, program, order.taxes_included)
            base += max(line.amount + adjust, ZERO)
    if program.include_shipping and order.shipping is not None:
        base += max(
            order.shipping + _tax_adjust(order.shipping_tax, program, order.taxes_included), ZERO
        )
    return base


def order_points(order: Order, program: Program) -> int:
    base = order_base(order, program)
    if base <= 0 or base < program.minimum:
        return 0
    exact = base * program.points_per_unit
    mode = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}[program.rounding]
    return max(int(exact.quantize(Decimal(1), rounding=mode)), 0)


def refund_base(refund: Refund, program: Program, *, taxes_included: bool) -> Decimal:
    total = ZERO
    for rl in refund.lines:
        if not rl.line.gift_card:
            total += max(rl.subtotal + _tax_adjust(rl.tax, program, taxes_included), ZERO)
    if program.include_shipping:
        total += refund.shipping
    return max(total, ZERO)


def reversed_points(earned: int, refunded: Decimal, base: Decimal) -> int:
    """round_half_up(earned * min(1, refunded / base)), exactly."""
    if base <= 0 or earned <= 0:
        return 0
    exact = min(Fraction(earned) * Fraction(refunded) / Fraction(base), Fraction(earned))
    return int(exact + Fraction(1, 2)) if exact >= 0 else 0


@dataclass
class OrderExpect:
    state: str
    earned_net: int  # points_earned - points_reversed
    pending: int  # before the release
    refunded_base: Decimal
    member: int | None  # customer id of the member credited (or linked to)
    phase2_reversal: int = 0  # points its phase-2 deliveries reverse from the balance


@dataclass
class MemberExpect:
    balance: int
    pending: int
    lifetime: int
    shortfall: int


@dataclass
class Expected:
    orders: dict[int, OrderExpect]
    members: dict[int, MemberExpect]


def _order_outcome(
    order: Order, history: History, *, phase: int, owner: int | None
) -> tuple[str, int, Decimal]:
    """The order's state, net points and refunded base once ``phase`` is processed."""
    program = history.program
    cancelled = order.order_id in history.cancels and history.cancels[order.order_id] <= phase
    topics = history.triggers[order.order_id]
    seen = bool(topics) or order.order_id in history.cancels
    refunded = sum(
        (
            refund_base(r, program, taxes_included=order.taxes_included and seen)
            for p, r in history.refunds
            if r.order_id == order.order_id and p <= phase
        ),
        ZERO,
    )
    if program.trigger == "paid":
        triggered = "orders/paid" in topics
    else:
        triggered = "orders/fulfilled" in topics or (
            "orders/paid" in topics and order.paid_fulfilled
        )
    if cancelled:
        return "cancelled", 0, refunded
    if not triggered:
        return "open", 0, refunded
    if not program.enabled:
        return "not_eligible", 0, refunded
    if owner is None:
        return "guest", 0, refunded
    earned = order_points(order, program)
    return (
        "credited",
        earned - reversed_points(earned, refunded, order_base(order, program)),
        refunded,
    )


def expected(history: History) -> Expected:
    """Each order's and member's expected state after both phases, before the pending
    points are released (``released()`` gives the state after)."""
    program = history.program
    pending = program.pending_days > 0
    signed_up = {email: cid for phase, cid, email in history.signups}
    members: dict[int, MemberExpect] = {}

    def member(cid: int) -> MemberExpect:
        return members.setdefault(cid, MemberExpect(0, 0, 0, 0))

    for order in history.orders:
        if order.customer_id is not None and history.triggers[order.order_id] | (
            {"orders/cancelled"} if order.order_id in history.cancels else set()
        ):
            member(order.customer_id)
    for _phase, cid, _email in history.signups:
        m = member(cid)
        if program.enabled:
            m.balance += program.welcome
            m.lifetime += program.welcome
    orders: dict[int, OrderExpect] = {}
    demand: dict[int, int] = {}
    for order in history.orders:
        owner1 = order.customer_id
        owner2 = order.customer_id if order.customer_id is not None else signed_up.get(order.email)
        _, net1, _ = _order_outcome(order, history, phase=1, owner=owner1)
        state, net2, refunded = _order_outcome(order, history, phase=2, owner=owner2)
        orders[order.order_id] = OrderExpect(
            state, net2, net2 if pending else 0, refunded, owner2 if state == "credited" else None
        )
        if owner2 is None or (state != "credited" and net1 == 0):
            continue
        m = member(owner2)
        m.lifetime += net2
        if pending:
            m.pending += net2
            continue
        if owner1 is None:  # a guest order linked in phase 2: the new member has no spends
            m.balance += net2
            continue
        m.balance += net1
        reversal = net1 - net2
        orders[order.order_id].phase2_reversal = reversal
        demand[owner2] = demand.get(owner2, 0) + reversal
    phase1_members = {o.customer_id for o in history.orders if o.customer_id is not None}
    phase1_members |= {cid for phase, cid, _ in history.signups if phase == 1}
    for cid, m in members.items():
        if cid not in phase1_members:
            continue
        if history.spend_to is not None and m.balance > history.spend_to:
            m.balance = history.spend_to
        need = demand.get(cid, 0)
        if program.policy == "allow_negative":
            m.balance -= need
        else:
            m.shortfall = max(need - m.balance, 0)
            m.balance = max(m.balance - need, 0)
    return Expected(orders, members)


def spends(history: History) -> dict[int, int]:
    """The balance each phase-1 member spends down to ``spend_to`` between the phases: the
    model's balance after phase 1 minus ``spend_to``, for the members above it."""
    if history.spend_to is None:
        return {}
    program = history.program
    balances: dict[int, int] = {}
    for phase, cid, _ in history.signups:
        if phase == 1 and program.enabled:
            balances[cid] = balances.get(cid, 0) + program.welcome
    if program.pending_days == 0:
        for order in history.orders:
            if order.customer_id is not None:
                _, net1, _ = _order_outcome(order, history, phase=1, owner=order.customer_id)
                balances[order.customer_id] = balances.get(order.customer_id, 0) + net1
    return {cid: b - history.spend_to for cid, b in balances.items() if b > history.spend_to}
