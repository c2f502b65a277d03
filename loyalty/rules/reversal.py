"""Reversal rules (pure): what a refund or a cancellation takes back from an order's points.

The order's reversed points follow the running total of its refunded base, so several partial
refunds never reverse more than the order earned; pending points go first; the available
balance pays the rest under the shop's negative-balance policy (``deduct_to_zero`` records a
shortfall on the order, ``allow_negative`` lets the balance go below zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram

Kind = LedgerEntry.Kind


def order_reversal_target(*, order: LoyaltyOrder, cancel: bool = False) -> int:
    """The points the order's refunds (or its cancellation) take back in all:
    ``round_half_up(earned * refunded_base / base)``, at most what it earned. Multiplied
    before dividing, so the quotient of a tie (``k.5``) is exact and rounds up."""
    earned = order.points_earned
    if cancel:
        return earned
    if order.base <= 0 or earned <= 0:
        return 0
    exact = min(earned * Decimal(order.refunded_base) / Decimal(order.base), Decimal(earned))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class ReversalPlan:
    """The points a reversal takes back and from where (see ``order_reversal_plan``)."""

    delta: int  # reversed in all: the order's points_reversed grows by it
    from_pending: int  # taken from the pending bucket (entry key ``key + ":pending"``)
    take: int  # taken from the available balance (entry key ``key``)
    shortfall: int  # what the balance could not cover (deduct_to_zero policy)
    kind: str
    key: str
    source_type: str
    source_id: str
    note: str  # of the available entry; the pending entry's note is the order's name


def order_reversal_plan(
    *,
    order: LoyaltyOrder,
    balance: int,
    program: LoyaltyProgram,
    key: str | None,
    source_id: str | int,
    cancel: bool = False,
) -> ReversalPlan | None:
    """What bringing the order's reversed points up to what its refunds (or cancellation)
    require takes, given the member's available ``balance``; ``None`` when nothing is due.
    Pure: the crediting engine applies it."""
    delta = order_reversal_target(order=order, cancel=cancel) - order.points_reversed
    if delta <= 0:
        return None
    kind = Kind.ORDER_CANCEL if cancel else Kind.ORDER_REFUND
    key = key or f"order:{order.order_id}:reversal:{order.points_reversed + delta}"
    source_type = "order" if cancel or not source_id else "refund"
    source_id = source_id or order.order_id
    from_pending = min(delta, order.points_pending)
    rest = delta - from_pending
    take, shortfall = rest, 0
    if rest and program.negative_balance_policy != LoyaltyProgram.NegativePolicy.ALLOW_NEGATIVE:
        take = min(rest, max(balance, 0))
        shortfall = rest - take
    return ReversalPlan(
        delta=delta,
        from_pending=from_pending,
        take=take,
        shortfall=shortfall,
        kind=kind,
        key=key,
        source_type=source_type,
        source_id=str(source_id),
        note=order.name + (f" (shortfall {shortfall})" if shortfall else ""),
    )
