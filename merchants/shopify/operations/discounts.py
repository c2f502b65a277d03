"""Discount codes: create (basic, free shipping), deactivate, delete, look up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from merchants.errors import ShopifyApiError
from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client, decimal_str, iso

if TYPE_CHECKING:
    from merchants.models import Shop


@dataclass(frozen=True)
class CreatedDiscount:
    id: str  # DiscountCodeNode GID
    code: str


@dataclass(frozen=True)
class DiscountCodeStatus:
    id: str  # DiscountCodeNode GID
    code: str
    status: str  # ACTIVE | EXPIRED | SCHEDULED (a deactivated code reads EXPIRED)
    usage_count: int
    title: str = ""  # tells Beam's own codes from a merchant's code with the same text


_DISCOUNT_USER_ERRORS = "userErrors { field message code extraInfo }"

DISCOUNT_CODE_BASIC_CREATE_DOCUMENT = f"""
mutation BeamDiscountCodeBasicCreate($discount: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $discount) {{
    codeDiscountNode {{
      id
      codeDiscount {{ ... on DiscountCodeBasic {{ codes(first: 1) {{ nodes {{ code }} }} }} }}
    }}
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_FREE_SHIPPING_CREATE_DOCUMENT = f"""
mutation BeamDiscountCodeFreeShippingCreate($discount: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $discount) {{
    codeDiscountNode {{
      id
      codeDiscount {{
        ... on DiscountCodeFreeShipping {{ codes(first: 1) {{ nodes {{ code }} }} }}
      }}
    }}
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_DEACTIVATE_DOCUMENT = f"""
mutation BeamDiscountCodeDeactivate($id: ID!) {{
  discountCodeDeactivate(id: $id) {{
    codeDiscountNode {{ id }}
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_DELETE_DOCUMENT = f"""
mutation BeamDiscountCodeDelete($id: ID!) {{
  discountCodeDelete(id: $id) {{
    deletedCodeDiscountId
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_LOOKUP_DOCUMENT = """
query BeamDiscountCodeLookup($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic { title status asyncUsageCount codes(first: 1) { nodes { code } } }
      ... on DiscountCodeFreeShipping {
        title status asyncUsageCount codes(first: 1) { nodes { code } }
      }
      ... on DiscountCodeBxgy { title status asyncUsageCount codes(first: 1) { nodes { code } } }
      ... on DiscountCodeApp { title status asyncUsageCount codes(first: 1) { nodes { code } } }
    }
  }
}
"""


def _discount_context_and_limits(customer_gid: str | None) -> dict[str, Any]:
    """Single use: by that customer only, or (``None``: a referred friend who is nobody's
    customer yet) by anyone, once."""
    context = {"all": "ALL"} if customer_gid is None else {"customers": {"add": [customer_gid]}}
    return {
        "context": context,
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }


def _minimum_requirement(minimum_subtotal: Decimal | None) -> dict[str, Any]:
    if minimum_subtotal is None:
        return {}
    if minimum_subtotal <= 0:
        raise ValueError("minimum_subtotal must be positive")
    return {
        "minimumRequirement": {
            "subtotal": {"greaterThanOrEqualToSubtotal": decimal_str(minimum_subtotal)}
        }
    }


def _created(payload: dict[str, Any], fallback_code: str) -> CreatedDiscount:
    node = payload.get("codeDiscountNode") or {}
    if not node.get("id"):
        raise ShopifyApiError("discount create returned no discount")
    codes = ((node.get("codeDiscount") or {}).get("codes") or {}).get("nodes") or []
    code = codes[0]["code"] if codes else fallback_code
    return CreatedDiscount(id=node["id"], code=code)


# -- discounts ---------------------------------------------------------------------------


def discount_code_basic_create(
    shop: Shop,
    *,
    code: str,
    title: str,
    customer_gid: str | None,
    starts_at: datetime,
    ends_at: datetime | None,
    amount: Decimal | None = None,
    percentage: Decimal | None = None,
    variant_gids: list[str] | None = None,
    minimum_subtotal: Decimal | None = None,
    combines_with_order: bool = False,
    combines_with_product: bool = False,
    combines_with_shipping: bool = True,
    client: AdminClient | None = None,
) -> CreatedDiscount:
    """A single-use code only ``customer_gid`` can redeem (anyone, once, when None).

    Value: ``amount`` off the order (once, not per item), or ``percentage`` (0 < p <= 1) off
    the order, or — with ``variant_gids`` — those variants free (``percentage`` defaults to
    1, i.e. 100 % off them; ``amount`` is not allowed then)."""
    if variant_gids:
        if amount is not None:
            raise ValueError("a free-product reward takes no amount")
        percentage = Decimal(1) if percentage is None else percentage
    elif (amount is None) == (percentage is None):
        raise ValueError("exactly one of amount or percentage")
    value: dict[str, Any]
    if amount is not None:
        if amount <= 0:
            raise ValueError("amount must be positive")
        value = {"discountAmount": {"amount": decimal_str(amount), "appliesOnEachItem": False}}
    else:
        assert percentage is not None
        if not (0 < percentage <= 1):
            raise ValueError("percentage must be in (0, 1]")
        value = {"percentage": float(percentage)}  # the schema's type is Float
    items: dict[str, Any] = (
        {"products": {"productVariantsToAdd": list(variant_gids)}}
        if variant_gids
        else {"all": True}
    )
    discount: dict[str, Any] = {
        "code": code,
        "title": title,
        "startsAt": iso(starts_at),
        "endsAt": iso(ends_at) if ends_at is not None else None,
        **_discount_context_and_limits(customer_gid),
        "customerGets": {"value": value, "items": items},
        "combinesWith": {
            "orderDiscounts": combines_with_order,
            "productDiscounts": combines_with_product,
            "shippingDiscounts": combines_with_shipping,
        },
        **_minimum_requirement(minimum_subtotal),
    }
    payload = admin_client(shop, client).mutate(
        DISCOUNT_CODE_BASIC_CREATE_DOCUMENT, {"discount": discount}, root="discountCodeBasicCreate"
    )
    return _created(payload, code)


def discount_code_free_shipping_create(
    shop: Shop,
    *,
    code: str,
    title: str,
    customer_gid: str,
    starts_at: datetime,
    ends_at: datetime | None,
    minimum_subtotal: Decimal | None = None,
    combines_with_order: bool = True,
    combines_with_product: bool = True,
    client: AdminClient | None = None,
) -> CreatedDiscount:
    """A single-use free-shipping code (all destinations) only ``customer_gid`` can redeem."""
    discount: dict[str, Any] = {
        "code": code,
        "title": title,
        "startsAt": iso(starts_at),
        "endsAt": iso(ends_at) if ends_at is not None else None,
        **_discount_context_and_limits(customer_gid),
        "destination": {"all": True},
        "combinesWith": {
            "orderDiscounts": combines_with_order,
            "productDiscounts": combines_with_product,
            "shippingDiscounts": False,
        },
        **_minimum_requirement(minimum_subtotal),
    }
    payload = admin_client(shop, client).mutate(
        DISCOUNT_CODE_FREE_SHIPPING_CREATE_DOCUMENT,
        {"discount": discount},
        root="discountCodeFreeShippingCreate",
    )
    return _created(payload, code)


def discount_code_deactivate(
    shop: Shop, *, discount_id: str, client: AdminClient | None = None
) -> None:
    """End a code now (it stays visible to the merchant, reading EXPIRED)."""
    admin_client(shop, client).mutate(
        DISCOUNT_CODE_DEACTIVATE_DOCUMENT, {"id": discount_id}, root="discountCodeDeactivate"
    )


def discount_code_delete(
    shop: Shop, *, discount_id: str, client: AdminClient | None = None
) -> None:
    """Delete a code for good."""
    admin_client(shop, client).mutate(
        DISCOUNT_CODE_DELETE_DOCUMENT, {"id": discount_id}, root="discountCodeDelete"
    )


def discount_code_lookup(
    shop: Shop, *, code: str, client: AdminClient | None = None
) -> DiscountCodeStatus | None:
    """The code's discount, status and usage, or None when no discount has this code."""
    data = admin_client(shop, client).execute(DISCOUNT_CODE_LOOKUP_DOCUMENT, {"code": code}).data
    node = data.get("codeDiscountNodeByCode")
    if not node:
        return None
    discount = node.get("codeDiscount") or {}
    codes = (discount.get("codes") or {}).get("nodes") or []
    return DiscountCodeStatus(
        id=node["id"],
        code=codes[0]["code"] if codes else code,
        status=str(discount.get("status", "")),
        usage_count=int(discount.get("asyncUsageCount") or 0),
        title=str(discount.get("title") or ""),
    )
