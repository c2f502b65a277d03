"""An independent model of Beam's crediting rules: what a history must leave.

Plain Python written from the rules as a merchant reads them (the module docstring of
``loyalty/services/earning.py``), not from Beam's code: nothing here imports a rule function
of Beam. ``tests/loyalty/test_engine_property.py`` feeds a history
(``tests/loyalty/engine_history.py``: two phases, spending between them) to Beam's inbox
and to ``expected()`` and compares the stored results. Decisions the code's docstrings
leave open, taken as a merchant would expect:

* A refund reverses in proportion to its base computed with the *order's* ``taxes_included``,
  whenever the refund is processed (before or after its order). Of an order Beam never
  receives, the refunds' base is computed as if its prices excluded tax (nothing says
  otherwise; no points depend on it).
* Reversed points are ``round_half_up(earned * refunded / base)`` computed exactly (a tie is
  a tie, whatever the decimal expansion of the ratio), capped at the points earned.
* A guest signs up after the guest orders it placed (their deliveries are in phase 1, the
  sign-up in phase 2): the orders placed (by their own date, not their delivery's) within
  the program's guest window before the sign-up are credited to the new member; older ones
  stay guest orders.
* A test order (the platform's ``"test": true``) earns nothing, like an order of a disabled
  program, unless the program lets test orders earn.
* A cancelled order nets zero points, whether its cancellation came before or after the
  earning trigger.
* With ``deduct_to_zero_record_shortfall``, when several reversals compete for a balance the
  members spent, which order records the shortfall depends on processing order; the model
  predicts the member's balance and total shortfall, and that each order's shortfall is at
  most what it reversed in phase 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

from tests.loyalty.engine_history import History, Order, Program, Refund

ZERO = Decimal(0)


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
    if not program.enabled or (order.test and not program.test_orders_earn):
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
        owner2 = order.customer_id
        if owner2 is None and order.placed_days_ago <= program.guest_window:
            owner2 = signed_up.get(order.email)
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
