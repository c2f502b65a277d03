"""How the admin shows numbers: money in the shop's currency and locale, counts with digit
grouping, and count nouns with the right plural ("1 order", "2 orders").

One place, so every page shows the same figure the same way ("$569.16", never
"569.160000000000 USD"). Babel holds the locale data (symbols, separators, patterns,
currency precision); money is rounded half-up to the currency's precision here, at the
edge, as the style rules want (Babel alone would round half-even).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, get_currency_precision

DEFAULT_LOCALE = "en"


class HasCurrency(Protocol):
    currency: str


def locale_of(shop: object | None) -> str:
    """The shop's locale for figures: its primary locale when it has one we know, else en."""
    raw = str(getattr(shop, "primary_locale", "") or "").replace("-", "_")
    if not raw:
        return DEFAULT_LOCALE
    try:
        return str(Locale.parse(raw))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def money_format(amount: object, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """``Decimal("569.16")`` in USD → "$569.16" (en), in EUR under fr → "569,16 €".
    Rounded half-up to the currency's precision; "—" for no amount."""
    number = _decimal(amount)
    if number is None:
        return "—"
    code = (currency or "USD").upper()
    exponent = Decimal(1).scaleb(-get_currency_precision(code))
    number = number.quantize(exponent, rounding=ROUND_HALF_UP)
    return format_currency(number, code, locale=locale or DEFAULT_LOCALE)


def number_format(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """A count or a decimal with the locale's grouping: 38692 → "38,692"; "—" for none."""
    number = _decimal(value)
    if number is None:
        return "—"
    return format_decimal(number, locale=locale or DEFAULT_LOCALE)


def counted(value: object, nouns: str, locale: str = DEFAULT_LOCALE) -> str:
    """A count with its noun, singular for exactly one: ``counted(1, "order")`` → "1 order",
    ``counted(1250, "order")`` → "1,250 orders". ``nouns`` is "singular" (plural adds an
    "s") or "singular,plural" for the others ("person,people")."""
    singular, _, plural = nouns.partition(",")
    number = _decimal(value)
    noun = singular if number == 1 else (plural or f"{singular}s")
    return f"{number_format(value, locale)} {noun}"
