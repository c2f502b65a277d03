"""``{{ x|money:shop }}``, ``{{ n|number:shop }}``, ``{{ n|counted:"order" }}``: the admin's
figures, formatted by ``core.numbers`` (one definition for every page)."""

from __future__ import annotations

from django import template

from core import numbers

register = template.Library()


def _currency_and_locale(arg: object) -> tuple[str, str]:
    """The argument is the shop (its currency and locale) or an ISO currency code."""
    if isinstance(arg, str):
        return arg, numbers.DEFAULT_LOCALE
    return str(getattr(arg, "currency", "") or "USD"), numbers.locale_of(arg)


@register.filter
def money(value: object, shop_or_currency: object) -> str:
    """An amount in the shop's currency and locale: "$569.16"; "—" when there is none."""
    currency, locale = _currency_and_locale(shop_or_currency)
    return numbers.money_format(value, currency, locale)


@register.filter
def number(value: object, shop: object = None) -> str:
    """A count (points, orders) grouped the shop's way: "38,692"; "—" when there is none."""
    return numbers.number_format(value, numbers.locale_of(shop))


@register.filter
def counted(value: object, nouns: str) -> str:
    """A count with its noun in the right number: "1 order", "2 orders", "1,250 orders"."""
    return numbers.counted(value, nouns)
