"""Platform JSON to typed values: money amounts in shop currency, dates, ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

ZERO = Decimal(0)
NAME_MAX_CHARS = 255  # Member.first_name / last_name


def shop_amount_raw(obj: dict[str, Any], key: str) -> Any:
    """The JSON value ``shop_amount`` reads: ``obj[key + "_set"].shop_money.amount``, else
    ``obj[key]`` (what ``payload_checks`` checks, so both read the same value)."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return money_set["shop_money"].get("amount")
    return obj.get(key)


def shop_amount(obj: dict[str, Any] | None, key: str) -> Decimal:
    """``obj[key + "_set"].shop_money.amount`` (falling back to ``obj[key]``) as a Decimal.
    A checked payload (``payload_checks``) holds only finite amounts within the columns."""
    if not obj:
        return ZERO
    raw = shop_amount_raw(obj, key)
    if raw in (None, ""):
        return ZERO
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return ZERO


def allocations_total(obj: dict[str, Any]) -> Decimal:
    return sum((shop_amount(a, "amount") for a in obj.get("discount_allocations") or []), ZERO)


def tax_total(obj: dict[str, Any]) -> Decimal:
    return sum((shop_amount(t, "price") for t in obj.get("tax_lines") or []), ZERO)


def datetime_parse(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def name_cut(value: Any) -> str | None:
    """A person's name as stored: cut to the column's ``NAME_MAX_CHARS`` (a name may be
    shortened; an id or an email may not, so ``payload_checks`` refuses those instead)."""
    return value[:NAME_MAX_CHARS] if isinstance(value, str) else None


def int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class OrderFacts:
    """An order payload's identity and customer, parsed once; ``raw`` feeds the rules."""

    order_id: int
    customer_id: int | None
    member_email: str | None  # what a member created from this order gets (not cleaned)
    first_name: str | None
    last_name: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RefundFacts:
    refund_id: int
    order_id: int
    raw: dict[str, Any]


def order_parse(payload: dict[str, Any]) -> OrderFacts | None:
    """``None`` for a payload without an order id (nothing to do)."""
    order_id = int_or_none(payload.get("id"))
    if order_id is None:
        return None
    customer = payload.get("customer") or {}
    if not isinstance(customer, dict):
        return OrderFacts(order_id, None, None, None, None, payload)
    return OrderFacts(
        order_id=order_id,
        customer_id=int_or_none(customer.get("id")),
        member_email=customer.get("email") or payload.get("email"),
        first_name=name_cut(customer.get("first_name")),
        last_name=name_cut(customer.get("last_name")),
        raw=payload,
    )


def refund_parse(payload: dict[str, Any]) -> RefundFacts | None:
    """``None`` for a payload without a refund id or an order id (nothing to do)."""
    refund_id = int_or_none(payload.get("id"))
    order_id = int_or_none(payload.get("order_id"))
    if refund_id is None or order_id is None:
        return None
    return RefundFacts(refund_id=refund_id, order_id=order_id, raw=payload)
