"""Platform JSON to typed values: money amounts in shop currency, dates, ids."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

ZERO = Decimal(0)


def shop_amount(obj: dict[str, Any] | None, key: str) -> Decimal:
    """``obj[key + "_set"].shop_money.amount`` (falling back to ``obj[key]``) as a Decimal."""
    if not obj:
        return ZERO
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        raw = money_set["shop_money"].get("amount")
    else:
        raw = obj.get(key)
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


def int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
