"""The admin's one way of showing figures: money in the shop's currency and locale, counts
with grouping, count nouns with the right plural, and the template filters over them."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template

from core import numbers

D = Decimal


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (D("569.160000000000"), "USD", "en", "$569.16"),
        (D("13910.98"), "USD", "en", "$13,910.98"),
        (D("569.16"), "EUR", "fr", "569,16\u00a0€"),
        (D("569.16"), "EUR", "de", "569,16\u00a0€"),
        (D("0.125"), "USD", "en", "$0.13"),  # half-up at the edge, not half-even
        (D("1234.5"), "JPY", "en", "¥1,235"),  # the currency's own precision
        (D("-5"), "usd", "en", "-$5.00"),
        (None, "USD", "en", "—"),
    ],
)
def test_money_format(amount: Decimal | None, currency: str, locale: str, shown: str) -> None:
    assert numbers.money_format(amount, currency, locale) == shown


def test_number_format_groups_digits_the_locale_way() -> None:
    assert numbers.number_format(38692) == "38,692"
    assert numbers.number_format(38692, "de") == "38.692"
    assert numbers.number_format(D("3.60")) == "3.6"
    assert numbers.number_format(None) == "—"


@pytest.mark.parametrize(
    ("value", "nouns", "shown"),
    [
        (0, "order", "0 orders"),
        (1, "order", "1 order"),
        (2, "order", "2 orders"),
        (1250, "order", "1,250 orders"),
        (1, "person,people", "1 person"),
        (3, "person,people", "3 people"),
    ],
)
def test_counted_uses_the_right_plural(value: int, nouns: str, shown: str) -> None:
    assert numbers.counted(value, nouns) == shown


def test_locale_of_the_shop_defaults_to_en() -> None:
    assert numbers.locale_of(SimpleNamespace(currency="EUR")) == "en"
    assert numbers.locale_of(SimpleNamespace(primary_locale="fr-FR")) == "fr_FR"
    assert numbers.locale_of(SimpleNamespace(primary_locale="xx-nope")) == "en"
    assert numbers.locale_of(None) == "en"


def test_template_filters() -> None:
    shop = SimpleNamespace(currency="EUR", primary_locale="fr")
    html = Template(
        "{% load beam_numbers %}{{ a|money:shop }}|{{ a|money:'USD' }}|{{ n|number:shop }}|"
        "{{ n|number }}|{{ one|counted:'order' }}|{{ n|counted:'point' }}"
    ).render(Context({"shop": shop, "a": D("1569.1"), "n": 38692, "one": 1}))

    assert html == "1\u202f569,10\u00a0€|$1,569.10|38\u202f692|38,692|1 order|38,692 points"
