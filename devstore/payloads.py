"""REST-shaped resources as the platform puts them in webhook bodies (see the samples in
tests/fixtures/webhooks): money as strings with ``*_set`` twins, ids as exact ints, times
in the shop's offset."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from devstore.models import DevCustomer, DevShop

CENT = Decimal("0.01")


def money(amount: Decimal) -> str:
    """``Decimal`` → the platform's 2-decimal string."""
    return str(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP))


def money_set(amount: Decimal, currency: str) -> dict[str, dict[str, str]]:
    value = {"amount": money(amount), "currency_code": currency}
    return {"shop_money": dict(value), "presentment_money": dict(value)}


def shop_time(shop: DevShop, moment: datetime | None) -> str | None:
    """ISO 8601 in the shop's timezone, seconds precision (``2021-12-31T19:00:00-05:00``)."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(shop.iana_timezone)).replace(microsecond=0).isoformat()


def customer_payload(customer: DevCustomer) -> dict[str, Any]:
    """The Customer resource (customers/create, customers/update, and inside orders)."""
    shop = customer.shop
    return {
        "id": customer.id,
        "created_at": shop_time(shop, customer.created_at),
        "updated_at": shop_time(shop, customer.updated_at),
        "first_name": customer.first_name or None,
        "last_name": customer.last_name or None,
        "state": customer.state,
        "note": customer.note or None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": customer.email or None,
        "phone": None,
        "currency": shop.currency,
        "addresses": [],
        "tax_exemptions": [],
        "admin_graphql_api_id": customer.gid,
        "default_address": None,
        "tags": ", ".join(customer.tags),
        "email_marketing_consent": {
            "state": customer.email_marketing_state,
            "opt_in_level": "single_opt_in"
            if customer.email_marketing_state == "subscribed"
            else None,
            "consent_updated_at": shop_time(shop, customer.email_consent_updated_at),
        },
    }


def customer_in_order_payload(customer: DevCustomer) -> dict[str, Any]:
    """The shorter customer block embedded in an order (no ``addresses``/``tags``/consent,
    like the platform's sample)."""
    data = customer_payload(customer)
    data.pop("addresses")
    data.pop("tags")
    data.pop("email_marketing_consent")
    return data


def shop_payload(shop: DevShop) -> dict[str, Any]:
    """The Shop resource (app/uninstalled, shop/update)."""
    return {
        "id": shop.shop_id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "province": None,
        "country": "US",
        "address1": None,
        "zip": None,
        "city": None,
        "source": None,
        "phone": None,
        "latitude": None,
        "longitude": None,
        "primary_locale": "en",
        "address2": None,
        "created_at": shop_time(shop, shop.created_at),
        "updated_at": shop_time(shop, shop.created_at),
        "country_code": "US",
        "country_name": "United States",
        "currency": shop.currency,
        "customer_email": shop.email,
        "timezone": shop.iana_timezone,
        "iana_timezone": shop.iana_timezone,
        "shop_owner": shop.name,
        "money_format": "${{amount}}",
        "money_with_currency_format": "${{amount}} " + shop.currency,
        "weight_unit": "kg",
        "province_code": None,
        "taxes_included": shop.taxes_included,
        "plan_display_name": shop.plan,
        "plan_name": shop.plan.lower().replace(" ", "_"),
        "has_discounts": True,
        "has_gift_cards": True,
        "myshopify_domain": shop.domain,
        "primary_location_id": None,
        "password_enabled": False,
        "has_storefront": True,
    }
