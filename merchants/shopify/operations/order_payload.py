"""A GraphQL order converted to the REST webhook payload shape Beam reads."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


def gid_to_id(gid: str | None) -> int | None:
    """``gid://shopify/Order/820982911946154508`` → 820982911946154508 (exact, no float)."""
    if not gid:
        return None
    tail = str(gid).rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def _money(amount: Any) -> str:
    return str(Decimal(str(amount))) if amount is not None else "0.00"


def _money_set(bag: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    bag = bag or {}
    shop_money = bag.get("shopMoney") or {"amount": "0.00", "currencyCode": currency}
    presentment = bag.get("presentmentMoney") or shop_money
    return {
        "shop_money": {
            "amount": _money(shop_money.get("amount")),
            "currency_code": shop_money.get("currencyCode") or currency,
        },
        "presentment_money": {
            "amount": _money(presentment.get("amount")),
            "currency_code": presentment.get("currencyCode") or currency,
        },
    }


def _shop_amount(bag: dict[str, Any] | None) -> str:
    return _money(((bag or {}).get("shopMoney") or {}).get("amount"))


def _datetime_field(value: str | None) -> str | None:
    return value or None


def _line_item(node: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "id": gid_to_id(node.get("id")),
        "admin_graphql_api_id": node.get("id"),
        "product_id": gid_to_id((node.get("product") or {}).get("id")),
        "variant_id": gid_to_id((node.get("variant") or {}).get("id")),
        "quantity": int(node.get("quantity") or 0),
        "price": _shop_amount(node.get("originalUnitPriceSet")),
        "gift_card": bool(node.get("isGiftCard")),
        "total_discount": _shop_amount(node.get("totalDiscountSet")),
        "discount_allocations": [
            {
                "amount": _shop_amount(alloc.get("allocatedAmountSet")),
                "amount_set": _money_set(alloc.get("allocatedAmountSet"), currency),
                "discount_code": (alloc.get("discountApplication") or {}).get("code"),
            }
            for alloc in node.get("discountAllocations") or []
        ],
        "tax_lines": [
            {
                "title": tax.get("title"),
                "rate": tax.get("rate"),
                "price": _shop_amount(tax.get("priceSet")),
            }
            for tax in node.get("taxLines") or []
        ],
    }


def _discount_codes(
    order: dict[str, Any], line_items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """REST ``discount_codes``: the amount is what the code actually took (its allocations
    on line items and shipping lines); the type follows the application's value/target."""
    allocated: dict[str, Decimal] = {}
    allocation_sources = list(line_items) + list(
        (order.get("shippingLines") or {}).get("nodes") or []
    )
    for source in allocation_sources:
        for alloc in source.get("discountAllocations") or []:
            code = (alloc.get("discountApplication") or {}).get("code")
            if code:
                taken = Decimal(_shop_amount(alloc.get("allocatedAmountSet")))
                allocated[code] = allocated.get(code, Decimal(0)) + taken
    codes = []
    for application in (order.get("discountApplications") or {}).get("nodes") or []:
        code = application.get("code")
        if not code:
            continue
        value = application.get("value") or {}
        if application.get("targetType") == "SHIPPING_LINE":
            kind = "shipping"
        elif "percentage" in value:
            kind = "percentage"
        else:
            kind = "fixed_amount"
        if code in allocated:
            amount = str(allocated[code])
        elif kind == "fixed_amount":
            amount = _money(value.get("amount"))
        else:
            amount = "0.00"
        codes.append({"code": code, "amount": amount, "type": kind})
    return codes


def _refund(
    refund: dict[str, Any], order_id: int | None, items: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    return {
        "id": gid_to_id(refund.get("id")),
        "admin_graphql_api_id": refund.get("id"),
        "order_id": order_id,
        "created_at": _datetime_field(refund.get("createdAt")),
        "refund_line_items": [
            {
                "line_item_id": gid_to_id((item.get("lineItem") or {}).get("id")),
                "quantity": int(item.get("quantity") or 0),
                "subtotal": _shop_amount(item.get("subtotalSet")),
                "subtotal_set": _money_set(item.get("subtotalSet"), currency),
                "total_tax": _shop_amount(item.get("totalTaxSet")),
            }
            for item in items
        ],
        "order_adjustments": [],
    }


def order_rest_payload(
    order: dict[str, Any],
    *,
    line_items: list[dict[str, Any]] | None = None,
    refund_line_items: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A GraphQL ``Order`` (as ``ORDER_DOCUMENT`` selects it) in the REST webhook shape, for
    the fields Beam reads. Money amounts are strings (REST's refund line ``subtotal`` and
    ``total_tax`` are JSON numbers; here they are strings too, so never floats).

    Not filled (not selected or not in the schema the same way): ``order_adjustments`` (always
    ``[]``), ``discount_applications``, ``shipping_lines``, ``fulfillments``, addresses,
    ``note_attributes``, ``source_name``, ``name``/``order_number``, ``current_total_*``
    except ``current_subtotal_price``, line item ``title``/``sku``/``price_set``/
    ``fulfillment_status``, and discount allocations' ``discount_application_index`` (each
    allocation carries ``discount_code`` instead). ``customer`` has only id, email and GID."""
    currency = order.get("currencyCode") or ""
    order_id = gid_to_id(order.get("id"))
    legacy = order.get("legacyResourceId")
    if legacy is not None and str(legacy).isdigit():
        order_id = int(str(legacy))
    items = (
        line_items if line_items is not None else (order.get("lineItems") or {}).get("nodes", [])
    )
    refund_items = refund_line_items or {}
    customer = order.get("customer")
    status = order.get("displayFinancialStatus")
    payload: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": order.get("id"),
        "email": order.get("email"),
        "created_at": _datetime_field(order.get("createdAt")),
        "updated_at": _datetime_field(order.get("updatedAt")),
        "processed_at": _datetime_field(order.get("processedAt")),
        "cancelled_at": _datetime_field(order.get("cancelledAt")),
        "financial_status": status.lower() if status else None,
        "currency": currency,
        "subtotal_price": _shop_amount(order.get("subtotalPriceSet")),
        "total_price": _shop_amount(order.get("totalPriceSet")),
        "total_tax": _shop_amount(order.get("totalTaxSet")),
        "total_discounts": _shop_amount(order.get("totalDiscountsSet")),
        "current_subtotal_price": _shop_amount(order.get("currentSubtotalPriceSet")),
        "subtotal_price_set": _money_set(order.get("subtotalPriceSet"), currency),
        "total_price_set": _money_set(order.get("totalPriceSet"), currency),
        "total_tax_set": _money_set(order.get("totalTaxSet"), currency),
        "total_discounts_set": _money_set(order.get("totalDiscountsSet"), currency),
        "current_subtotal_price_set": _money_set(order.get("currentSubtotalPriceSet"), currency),
        "total_shipping_price_set": _money_set(order.get("totalShippingPriceSet"), currency),
        "customer": (
            {
                "id": _customer_id(customer),
                "email": (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
                "admin_graphql_api_id": customer.get("id"),
            }
            if customer
            else None
        ),
        "discount_codes": _discount_codes(order, items),
        "line_items": [_line_item(node, currency) for node in items],
        "refunds": [
            _refund(
                refund,
                order_id,
                refund_items.get(
                    refund["id"], (refund.get("refundLineItems") or {}).get("nodes") or []
                ),
                currency,
            )
            for refund in order.get("refunds") or []
        ],
        "tags": ", ".join(order.get("tags") or []),
    }
    return payload


def _customer_id(customer: dict[str, Any]) -> int | None:
    legacy = customer.get("legacyResourceId")
    if legacy is not None and str(legacy).isdigit():
        return int(str(legacy))
    return gid_to_id(customer.get("id"))
