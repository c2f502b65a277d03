"""Earning rules (pure): the points an order is worth and the base a refund gives back.

No database access: the program, the shop's bonus events and the product tags come in as
values, so the crediting engine reads them once for a whole batch.

Rules (see also the docstrings of the functions applying them):

* Earning base: per line item that is not a gift card and not excluded (product id or product
  tag), ``price * quantity - discount allocations`` in shop money (+ shipping lines after their
  discounts, + tax, when the program includes them). ``quantity`` is the ordered quantity, not
  ``current_quantity``: refunds are applied separately, so they never count twice.
* Bonus events overlap: for each line the highest multiplier among the events active when
  the order was placed (and whose product tags match, if any) applies; multipliers never
  compound. Shipping and tax only get the multipliers of events without product tags.
* Refund proportion: a refund's base is the subtotal of its eligible refund line items
  (+/- tax as for earning) + its shipping refund when shipping is included, minus the order
  adjustments' amounts (a negative adjustment is money given back). The order's reversed
  points are ``round_half_up(earned * min(1, refunded base so far / order base))``, computed
  on the running total so several partial refunds never reverse more than the order earned.
* Test orders: an order the platform marks ``"test": true`` (a test gateway's) earns
  nothing unless the program's ``test_orders_earn`` is set; like any order of a disabled
  program it is kept NOT_ELIGIBLE with the points it would have earned.
* Negative balance: ``deduct_to_zero_record_shortfall`` (default) takes what the balance has
  and records the rest on ``LoyaltyOrder.points_shortfall``; ``allow_negative`` lets the
  balance go below zero (and marks the member so the database check permits it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from loyalty.models import BonusEvent, LoyaltyProgram
from loyalty.payloads import allocations_total, int_or_none, shop_amount, tax_total

ZERO = Decimal(0)
CENT = Decimal("0.01")


def points_round(value: Decimal, rounding: str) -> int:
    mode = {
        LoyaltyProgram.Rounding.DOWN: ROUND_FLOOR,
        LoyaltyProgram.Rounding.NEAREST: ROUND_HALF_UP,
        LoyaltyProgram.Rounding.UP: ROUND_CEILING,
    }[LoyaltyProgram.Rounding(rounding)]
    return int(value.quantize(Decimal(1), rounding=mode))


def order_may_earn(*, program: LoyaltyProgram, payload: dict[str, Any]) -> bool:
    """Whether a triggered order earns at all: the program is on, and a test order only
    when the merchant lets test orders earn (off by default: they are not real sales)."""
    return program.enabled and (program.test_orders_earn or payload.get("test") is not True)


@dataclass
class EarningResult:
    base: Decimal
    weighted_base: Decimal
    multiplier: Decimal
    points: int


def _line_eligible(
    line: dict[str, Any], program: LoyaltyProgram, tags: dict[int, set[str]]
) -> bool:
    if line.get("gift_card"):
        return False
    product_id = int_or_none(line.get("product_id"))
    excluded_ids = {int_or_none(p) for p in program.excluded_product_ids}
    if product_id is not None and product_id in excluded_ids:
        return False
    excluded_tags = {str(t).strip().lower() for t in program.excluded_product_tags}
    return not (
        excluded_tags and product_id is not None and tags.get(product_id, set()) & excluded_tags
    )


def _tax_adjustment(tax: Decimal, *, program: LoyaltyProgram, taxes_included: bool) -> Decimal:
    """What tax adds to (or removes from) an amount so the base follows ``include_tax``."""
    if program.include_tax and not taxes_included:
        return tax
    if taxes_included and not program.include_tax:
        return -tax
    return ZERO


def earning_compute(
    *,
    program: LoyaltyProgram,
    payload: dict[str, Any],
    placed_at: datetime | None,
    tags: dict[int, set[str]],
    shop_events: Sequence[BonusEvent],
) -> EarningResult:
    """The order's earning base and points under the program and the bonus events active
    when it was placed (``shop_events``: all the shop's events; ``tags``: product tags)."""
    lines = payload.get("line_items") or []
    events = [e for e in shop_events if e.starts_at <= placed_at < e.ends_at] if placed_at else []
    order_wide = max((e.multiplier for e in events if not e.product_tags), default=Decimal(1))
    taxes_included = bool(payload.get("taxes_included"))

    def line_multiplier(product_id: int | None) -> Decimal:
        best = order_wide
        product_tags = tags.get(product_id, set()) if product_id is not None else set()
        for event in events:
            wanted = {str(t).strip().lower() for t in event.product_tags}
            if wanted and wanted & product_tags:
                best = max(best, event.multiplier)
        return max(best, Decimal(1))

    base = ZERO
    weighted = ZERO
    top = Decimal(1)
    for line in lines:
        if not _line_eligible(line, program, tags):
            continue
        quantity = int_or_none(line.get("quantity")) or 0
        amount = shop_amount(line, "price") * quantity - allocations_total(line)
        amount += _tax_adjustment(tax_total(line), program=program, taxes_included=taxes_included)
        amount = max(amount, ZERO)
        mult = line_multiplier(int_or_none(line.get("product_id")))
        top = max(top, mult)
        base += amount
        weighted += amount * mult
    if program.include_shipping:
        for ship in payload.get("shipping_lines") or []:
            if ship.get("is_removed"):
                continue
            amount = shop_amount(ship, "price") - allocations_total(ship)
            amount += _tax_adjustment(
                tax_total(ship), program=program, taxes_included=taxes_included
            )
            amount = max(amount, ZERO)
            base += amount
            weighted += amount * order_wide
            top = max(top, order_wide)
    if base < program.minimum_order_amount or base <= 0:
        return EarningResult(base=base, weighted_base=weighted, multiplier=top, points=0)
    points = points_round(weighted * program.points_per_currency_unit, program.rounding)
    return EarningResult(base=base, weighted_base=weighted, multiplier=top, points=max(points, 0))


def refund_base_compute(
    *,
    program: LoyaltyProgram,
    payload: dict[str, Any],
    taxes_included: bool,
    tags: dict[int, set[str]],
) -> Decimal:
    """The part of the earning base a refund gives back (see the module docstring), for an
    order whose prices do (or do not) include tax."""
    rlis = payload.get("refund_line_items") or []
    lines = [rli.get("line_item") or {} for rli in rlis]
    total = ZERO
    for rli, line in zip(rlis, lines, strict=True):
        if not _line_eligible(line, program, tags):
            continue
        amount = shop_amount(rli, "subtotal")
        amount += _tax_adjustment(
            shop_amount(rli, "total_tax"), program=program, taxes_included=taxes_included
        )
        total += max(amount, ZERO)
    for adjustment in payload.get("order_adjustments") or []:
        kind = adjustment.get("kind") or ""
        if kind == "shipping_refund" and not program.include_shipping:
            continue
        total -= shop_amount(adjustment, "amount")
    if program.include_shipping:
        for rsl in payload.get("refund_shipping_lines") or []:
            total += shop_amount(rsl, "subtotal_amount")
    return max(total, ZERO)


def refund_bases_compute(
    *, program: LoyaltyProgram, payload: dict[str, Any], tags: dict[int, set[str]]
) -> tuple[Decimal, Decimal]:
    """The refund's base were its order's prices to exclude tax, and to include it (in
    cents). A refund can be processed before its order says which: ``OrderRefund`` keeps
    both, and the order's snapshot picks."""
    excluded, included = (
        refund_base_compute(
            program=program, payload=payload, taxes_included=flag, tags=tags
        ).quantize(CENT)
        for flag in (False, True)
    )
    return excluded, included


def refund_product_ids(payload: dict[str, Any]) -> set[int]:
    """The products a refund's line items name (whose tags ``refund_base_compute`` reads)."""
    lines = [rli.get("line_item") or {} for rli in payload.get("refund_line_items") or []]
    return {pid for li in lines if (pid := int_or_none(li.get("product_id"))) is not None}


def order_product_ids(payload: dict[str, Any]) -> set[int]:
    """The products an order's line items name (whose tags ``earning_compute`` reads)."""
    lines = payload.get("line_items") or []
    return {pid for li in lines if (pid := int_or_none(li.get("product_id"))) is not None}
