"""The shape of order, refund and customer payloads, checked once before processing (pure).

A payload that breaks these rules fails the same way on every attempt, so the crediting
engine and the customer handler refuse it with a reason instead of retrying it: the inbox
parks it as ``unprocessable`` and webhook health shows the reason. Each rule mirrors what
processing reads (``loyalty.payloads``, ``loyalty.rules.earning``, ``order_snapshot``) and
the column it lands in:

* ids (order, refund, customer, product) are integers in 1..2^63-1 (``BigIntegerField``);
* money amounts are finite numbers (``NaN``/``Infinity`` refused) of less than
  ``AMOUNT_LIMIT`` (``DecimalField(max_digits=14, decimal_places=2)``), and so is the
  largest base they can add up to; quantities are integers in 0..2^31-1;
* lists (``line_items``, ``tax_lines``, …) are lists of objects: a ``null`` line is refused;
* strings that identify (GID, email) must fit their columns; names are cut when stored
  (``payloads.name_cut``); other strings are cut already where they are stored.

Absent (or ``null``) optional values are fine: processing treats them as empty.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.payloads import shop_amount_raw

ID_MAX = 2**63 - 1
QUANTITY_MAX = 2**31 - 1
AMOUNT_LIMIT = Decimal(10) ** 12  # 14 digits, 2 of them decimals
GID_MAX_CHARS = 128  # LoyaltyOrder.order_gid
EMAIL_MAX_CHARS = 254  # Member.email, LoyaltyOrder.email
SHOWN_MAX_CHARS = 40

CUSTOMER_CHECKED_TOPICS = frozenset({"customers/create", "customers/update", "customers/delete"})


class _Refused(Exception):
    """One rule broken; ``str()`` is the reason shown to the merchant."""


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= SHOWN_MAX_CHARS else text[:SHOWN_MAX_CHARS] + "…"


def _object(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Refused(f"{path} is not an object ({_shown(value)})")
    return value


def _objects(value: Any, path: str) -> list[dict[str, Any]]:
    """A list of objects (``null`` or absent: empty); a ``null`` item is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Refused(f"{path} is not a list ({_shown(value)})")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Refused(f"{path}[{index}] is not an object ({_shown(item)})")
    return value


def _integer(value: Any, path: str, *, low: int, high: int) -> int | None:
    """An integer (or its decimal digits as a string) in ``low..high``; ``None`` if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _Refused(f"{path} is not an integer ({_shown(value)})")
    if not low <= number <= high:
        raise _Refused(f"{path} {_shown(number)} is out of range ({low} to {high})")
    return number


def _id(value: Any, path: str) -> int | None:
    return _integer(value, path, low=1, high=ID_MAX)


def _amount(obj: dict[str, Any], key: str, path: str) -> Decimal:
    """The amount ``shop_amount(obj, key)`` reads, finite and within the columns; its
    absolute value (0 when absent), for the bound on what amounts add up to."""
    raw = shop_amount_raw(obj, key)
    path = f"{path}.{key}" if path else key
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _Refused(f"{path} is not a number ({_shown(raw)})")
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Refused(f"{path} is not a number ({_shown(raw)})") from None
    if not amount.is_finite():
        raise _Refused(f"{path} is not a finite number ({_shown(raw)})")
    if abs(amount) >= AMOUNT_LIMIT:
        raise _Refused(f"{path} {_shown(raw)} does not fit (at most 12 digits)")
    return abs(amount)


def _string(value: Any, path: str, *, max_chars: int | None = None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise _Refused(f"{path} is not a string ({_shown(value)})")
    if max_chars is not None and len(value) > max_chars:
        raise _Refused(f"{path} is longer than {max_chars} characters ({len(value)})")


def _total(total: Decimal, path: str) -> None:
    if total >= AMOUNT_LIMIT:
        raise _Refused(f"{path} add up to more than an amount column holds (12 digits)")


def _adjustments(obj: dict[str, Any], path: str) -> Decimal:
    """A line's (or shipping line's) discount allocations and tax lines, bounded."""
    total = Decimal(0)
    for index, alloc in enumerate(
        _objects(obj.get("discount_allocations"), f"{path}.discount_allocations")
    ):
        total += _amount(alloc, "amount", f"{path}.discount_allocations[{index}]")
    for index, tax in enumerate(_objects(obj.get("tax_lines"), f"{path}.tax_lines")):
        total += _amount(tax, "price", f"{path}.tax_lines[{index}]")
    return total


def _customer(customer: dict[str, Any], path: str) -> None:
    _id(customer.get("id"), f"{path}id")
    _string(customer.get("email"), f"{path}email", max_chars=EMAIL_MAX_CHARS)
    _string(customer.get("first_name"), f"{path}first_name")
    _string(customer.get("last_name"), f"{path}last_name")


def _order(payload: dict[str, Any]) -> None:
    _id(payload.get("id"), "id")
    _string(payload.get("admin_graphql_api_id"), "admin_graphql_api_id", max_chars=GID_MAX_CHARS)
    _string(payload.get("name"), "name")
    for key in ("email", "contact_email"):
        _string(payload.get(key), key, max_chars=EMAIL_MAX_CHARS)
    _string(payload.get("currency"), "currency")
    total_set = _object(payload.get("total_price_set"), "total_price_set")
    shop_money = _object(total_set.get("shop_money"), "total_price_set.shop_money")
    _string(shop_money.get("currency_code"), "total_price_set.shop_money.currency_code")
    for key in ("total_price", "subtotal_price"):
        _amount(payload, key, "")
    _customer(_object(payload.get("customer"), "customer"), "customer.")
    _objects(payload.get("discount_codes"), "discount_codes")
    gross = Decimal(0)
    for index, line in enumerate(_objects(payload.get("line_items"), "line_items")):
        path = f"line_items[{index}]"
        _id(line.get("product_id"), f"{path}.product_id")
        quantity = _integer(line.get("quantity"), f"{path}.quantity", low=0, high=QUANTITY_MAX)
        gross += _amount(line, "price", path) * (quantity or 0) + _adjustments(line, path)
        _total(gross, "line_items")
    for index, ship in enumerate(_objects(payload.get("shipping_lines"), "shipping_lines")):
        path = f"shipping_lines[{index}]"
        gross += _amount(ship, "price", path) + _adjustments(ship, path)
        _total(gross, "line_items and shipping_lines")


def _refund(payload: dict[str, Any]) -> None:
    _id(payload.get("id"), "id")
    _id(payload.get("order_id"), "order_id")
    gross = Decimal(0)
    for index, rli in enumerate(_objects(payload.get("refund_line_items"), "refund_line_items")):
        path = f"refund_line_items[{index}]"
        line = _object(rli.get("line_item"), f"{path}.line_item")
        _id(line.get("product_id"), f"{path}.line_item.product_id")
        gross += _amount(rli, "subtotal", path) + _amount(rli, "total_tax", path)
    for index, adj in enumerate(_objects(payload.get("order_adjustments"), "order_adjustments")):
        gross += _amount(adj, "amount", f"order_adjustments[{index}]")
    shipping = _objects(payload.get("refund_shipping_lines"), "refund_shipping_lines")
    for index, rsl in enumerate(shipping):
        gross += _amount(rsl, "subtotal_amount", f"refund_shipping_lines[{index}]")
    _total(gross, "the refund's amounts")


def _problem(check: Any, payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return f"the payload is not an object ({_shown(payload)})"
    try:
        check(payload)
    except _Refused as refused:
        return str(refused)
    return None


def order_payload_problem(payload: Any) -> str | None:
    """Why an order payload can never be processed, or ``None`` when it can."""
    return _problem(_order, payload)


def refund_payload_problem(payload: Any) -> str | None:
    """Why a refunds/create payload can never be processed, or ``None`` when it can."""
    return _problem(_refund, payload)


def customer_payload_problem(topic: str, payload: Any) -> str | None:
    """Why a customer payload can never be processed, or ``None`` (topics Beam ignores,
    like customers/merge, are not checked)."""
    if topic not in CUSTOMER_CHECKED_TOPICS:
        return None
    return _problem(lambda p: _customer(p, ""), payload)
