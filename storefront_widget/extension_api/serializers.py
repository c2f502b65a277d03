"""Input shapes of the extension API (checkout and customer-account UI extensions)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, TypedDict

from rest_framework import serializers

from storefront_widget.proxy_api.serializers import BirthdayInputSerializer

PRODUCT_GID_RE = re.compile(r"^(?:gid://shopify/Product/)?([0-9]{1,19})$")
# The customer is the token's ``sub``; a body naming one is refused, not silently ignored.
IDENTITY_FIELDS = ("customer_id", "customer", "customer_gid", "member_id")


class _MoneyField(TypedDict):
    max_digits: int
    decimal_places: int
    min_value: Decimal


MONEY = _MoneyField(max_digits=14, decimal_places=2, min_value=Decimal(0))


class CartLineInput(serializers.Serializer):
    """A checkout line: ``total`` before discounts, ``discount`` allocated to it."""

    product_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=100000)
    total = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY, required=False, default=Decimal(0))
    gift_card = serializers.BooleanField(required=False, default=False)

    def validate_product_id(self, value: str) -> int | None:
        if not value:
            return None
        match = PRODUCT_GID_RE.match(value)
        if not match:
            raise serializers.ValidationError("Expected a product GID or id.")
        return int(match.group(1))


class CartSummaryInput(serializers.Serializer):
    # DRF passes ``max_length`` on to the ListSerializer of ``many=True``; the stubs' __init__
    # does not list it.
    lines = CartLineInput(many=True, max_length=250)  # type: ignore[call-arg]
    order_discount = serializers.DecimalField(**MONEY, required=False, default=Decimal(0))
    shipping = serializers.DecimalField(**MONEY, required=False, default=Decimal(0))
    taxes_included = serializers.BooleanField(required=False, default=False)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)


class NoIdentity(serializers.Serializer):
    """Refuses a body naming a customer: the customer is the token's ``sub``."""

    def to_internal_value(self, data: Any) -> Any:
        named = [f for f in IDENTITY_FIELDS if isinstance(data, dict) and f in data]
        if named:
            raise serializers.ValidationError(dict.fromkeys(named, "Not accepted."))
        return super().to_internal_value(data)


class RedeemInput(NoIdentity):
    reward_id = serializers.IntegerField(min_value=1)
    points = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    client_key = serializers.CharField(max_length=100)
    channel = serializers.ChoiceField(
        choices=["checkout", "customer_account"], required=False, default="checkout"
    )


class CodeCancelInput(NoIdentity):
    """A reward code the buyer removed from the checkout."""

    code = serializers.RegexField(r"^[A-Za-z0-9-]{4,32}$", max_length=32)


class BirthdayInput(NoIdentity, BirthdayInputSerializer):
    """``{"month": 5, "day": 1, "year": 1990?}``, as the panel sends it."""


HISTORY_PAGE_MAX = 50


class HistoryPageInput(serializers.Serializer):
    """A "Show more" page of the customer account's histories: the cursor (the id of the
    last row shown) and how many rows, bounded."""

    before = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    limit = serializers.IntegerField(
        min_value=1, max_value=HISTORY_PAGE_MAX, required=False, default=20
    )
