"""The devstore's own forms: a new shop and a new product, checked before anything is written,
so bad input gets a message on the page (400) instead of a half-made shop or a 500."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from django import forms
from django.utils.text import slugify
from graphql import GraphQLEnumType

from devstore.models import DevShop
from merchants.domains import shop_domain_normalise

HANDLE_MAX = 60
PRICE_MAX = Decimal("9999999999.99")  # DevVariant.price: 12 digits, 2 places
VARIANTS_MAX = 20


@cache
def currency_choices() -> list[tuple[str, str]]:
    """The platform's ``CurrencyCode`` enum (from its Admin schema), so a shop's currency is
    always one the Admin API can answer with (``XXX``, "no currency", left out)."""
    from merchants.shopify.admin_schema import admin_schema

    enum = admin_schema().type_map["CurrencyCode"]
    assert isinstance(enum, GraphQLEnumType)
    return [(code, code) for code in sorted(enum.values) if code != "XXX"]


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(zoneinfo.available_timezones())]


class ShopCreateForm(forms.Form):
    """A simulated shop: ``name`` gives the handle (``<handle>.myshopify.com``) unless one is
    typed. Creating it installs nothing: Beam is installed from the shop's admin."""

    name = forms.CharField(max_length=255, strip=True)
    handle = forms.CharField(
        max_length=HANDLE_MAX,
        required=False,
        strip=True,
        help_text="Letters, digits and hyphens; from the name when left empty.",
    )
    email = forms.EmailField(max_length=255, required=False)
    currency = forms.ChoiceField(choices=currency_choices, initial="USD")
    iana_timezone = forms.ChoiceField(label="Time zone", choices=time_zone_choices, initial="UTC")
    taxes_included = forms.BooleanField(label="Prices include taxes", required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if "name" not in data:
            return data
        typed = str(data.get("handle") or "")
        handle = typed or slugify(str(data["name"]))[:HANDLE_MAX].strip("-")
        field = "handle" if typed else "name"
        domain = shop_domain_normalise(f"{handle}.myshopify.com")
        if not handle:
            self.add_error(field, "This name gives no handle: type one in Handle.")
            return data
        if domain is None or handle.endswith("-"):
            self.add_error(
                field,
                f"“{handle}” is not a valid handle: use letters, digits and hyphens, "
                "starting with a letter or digit.",
            )
            return data
        if DevShop.objects.filter(domain=domain).exists():
            self.add_error(field, f"{domain} already exists.")
        data["domain"] = domain
        return data


class ProductCreateForm(forms.Form):
    """A product priced in the shop's currency. ``variants`` is optional, one per line:
    ``Title`` (at the product's price) or ``Title = price``."""

    title = forms.CharField(max_length=255, strip=True)
    price = forms.DecimalField(
        min_value=Decimal("0.00"), max_value=PRICE_MAX, decimal_places=2, max_digits=12
    )
    sku = forms.CharField(label="SKU", max_length=64, required=False, strip=True)
    tags = forms.CharField(max_length=255, required=False, help_text="Comma separated.")
    variants = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Optional, one per line: “Small” or “Large = 24.00”.",
    )
    gift_card = forms.BooleanField(required=False)

    def __init__(self, *args: Any, currency: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if currency:
            self.fields["price"].label = f"Price ({currency})"

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [tag.strip() for tag in raw.split(",") if tag.strip()]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        price = data.get("price")
        if not isinstance(price, Decimal):
            return data
        variants: list[tuple[str, Decimal]] = []
        for number, line in enumerate(str(data.get("variants") or "").splitlines(), start=1):
            if not line.strip():
                continue
            title, _, amount = (part.strip() for part in line.partition("="))
            try:
                variant_price = Decimal(amount) if amount else price
            except InvalidOperation:
                variant_price = Decimal("NaN")
            if (
                not title
                or len(title) > 255
                or not variant_price.is_finite()
                or variant_price < 0
                or variant_price > PRICE_MAX
                or variant_price != variant_price.quantize(Decimal("0.01"))
            ):
                self.add_error(
                    "variants",
                    f"Line {number}: write “Title” or “Title = price” with a price like 24.00.",
                )
                return data
            if title in {t for t, _ in variants}:
                self.add_error("variants", f"Line {number}: “{title}” is listed twice.")
                return data
            variants.append((title, variant_price))
        if len(variants) > VARIANTS_MAX:
            self.add_error("variants", f"At most {VARIANTS_MAX} variants.")
        data["variants"] = variants
        return data
