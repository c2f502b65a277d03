"""Orders: line items, shipping lines, discount applications and refunds."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.dateparse import parse_datetime

from devstore.graphql.connections import list_connection
from devstore.graphql.values import bag, bag_from_rest, iso, money_v2
from devstore.models import DevOrder, DevShop

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstore.graphql.metafields import Resolver
    from devstore.models import DevCustomer, DevProduct, DevVariant


class OrderNodes:
    """Order resolvers of ``ShopGraph``."""

    shop: DevShop
    currency: str
    # resolvers of the other ``ShopGraph`` mixins
    variant: Callable[[int | None], DevVariant | None]
    variant_node: Callable[[DevVariant], dict]
    product_node: Callable[[DevProduct], dict]
    customer_node: Callable[[DevCustomer], dict]
    metafield_fields: Callable[[str], dict[str, Resolver]]

    def discount_application_node(self, application: dict, index: int) -> dict:
        """A REST ``discount_applications`` entry as the ``DiscountApplication`` interface."""
        if application.get("value_type") == "percentage":
            value: dict[str, Any] = {
                "__typename": "PricingPercentageValue",
                "percentage": float(application["value"]),
            }
        else:
            value = {"__typename": "MoneyV2", **money_v2(application["value"], self.currency)}
        typename = {
            "discount_code": "DiscountCodeApplication",
            "manual": "ManualDiscountApplication",
            "script": "ScriptDiscountApplication",
        }.get(application.get("type", ""), "AutomaticDiscountApplication")
        node = {
            "__typename": typename,
            "index": index,
            "allocationMethod": application["allocation_method"].upper(),
            "targetSelection": application["target_selection"].upper(),
            "targetType": application["target_type"].upper(),
            "value": value,
            "title": application.get("title") or application.get("code"),
            "description": application.get("description"),
        }
        if typename == "DiscountCodeApplication":
            node["code"] = application["code"]
        return node

    def _allocations(self, allocations: list[dict], applications: list[dict]) -> list[dict]:
        out = []
        for allocation in allocations:
            index = allocation.get("discount_application_index")
            applied = None
            if isinstance(index, int) and 0 <= index < len(applications):
                applied = self.discount_application_node(applications[index], index)
            out.append(
                {
                    "allocatedAmountSet": bag_from_rest(allocation["amount_set"]),
                    "discountApplication": applied,
                }
            )
        return out

    def shipping_line_node(self, line: dict, applications: list[dict]) -> dict:
        return {
            "__typename": "ShippingLine",
            "id": f"gid://shopify/ShippingLine/{line['id']}",
            "title": line["title"],
            "code": line.get("code"),
            "source": line.get("source"),
            "carrierIdentifier": line.get("carrier_identifier"),
            "phone": line.get("phone"),
            "custom": False,
            "isRemoved": bool(line.get("is_removed")),
            "originalPriceSet": bag_from_rest(line["price_set"]),
            "discountedPriceSet": bag_from_rest(line["discounted_price_set"]),
            "currentDiscountedPriceSet": bag_from_rest(line["current_discounted_price_set"]),
            "taxLines": [],
            "discountAllocations": self._allocations(
                line.get("discount_allocations") or [], applications
            ),
        }

    def line_item_node(
        self, item: dict, refunded_quantity: int = 0, applications: list[dict] | None = None
    ) -> dict:
        currency = self.currency
        variant = self.variant(item.get("variant_id"))
        price = Decimal(item["price"])
        discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), Decimal(0))
        total = price * item["quantity"]
        return {
            "__typename": "LineItem",
            "id": item["admin_graphql_api_id"],
            "name": item["name"],
            "title": item["title"],
            "sku": item.get("sku"),
            "quantity": item["quantity"],
            "currentQuantity": item.get("current_quantity", item["quantity"]),
            "isGiftCard": item["gift_card"],
            "requiresShipping": item["requires_shipping"],
            "variant": self.variant_node(variant) if variant else None,
            "product": self.product_node(variant.product) if variant else None,
            "originalUnitPriceSet": bag(price, currency),
            "originalTotalSet": bag(total, currency),
            "discountedTotalSet": bag(total - discount, currency),
            "discountedUnitPriceSet": bag((total - discount) / item["quantity"], currency),
            "totalDiscountSet": bag(discount, currency),
            "taxLines": [
                {
                    "title": t["title"],
                    "rate": t["rate"],
                    "ratePercentage": t["rate"] * 100,
                    "priceSet": bag_from_rest(t["price_set"]),
                    "channelLiable": t.get("channel_liable", False),
                }
                for t in item["tax_lines"]
            ],
            "discountAllocations": self._allocations(
                item["discount_allocations"], applications or []
            ),
        }

    def refund_node(
        self, refund: dict, line_items: dict[int, dict], applications: list[dict] | None = None
    ) -> dict:
        currency = self.currency
        total = sum((Decimal(t["amount"]) for t in refund["transactions"]), Decimal(0))

        def refund_line_items(info, first=None, after=None, **_):
            nodes = [
                {
                    "id": f"gid://shopify/RefundLineItem/{r['id']}",
                    "quantity": r["quantity"],
                    "lineItem": self.line_item_node(
                        line_items[r["line_item_id"]], applications=applications
                    ),
                    "subtotalSet": bag_from_rest(r["subtotal_set"]),
                    "totalTaxSet": bag_from_rest(r["total_tax_set"]),
                    "restocked": False,
                }
                for r in refund["refund_line_items"]
            ]
            return list_connection(nodes, first, after)

        return {
            "__typename": "Refund",
            "id": refund["admin_graphql_api_id"],
            "legacyResourceId": str(refund["id"]),
            "note": refund.get("note"),
            "createdAt": iso(parse_datetime(refund["created_at"])),
            "processedAt": iso(parse_datetime(refund["processed_at"])),
            "updatedAt": iso(parse_datetime(refund["processed_at"])),
            "totalRefundedSet": bag(total, currency),
            "refundLineItems": refund_line_items,
        }

    def order_node(self, order: DevOrder) -> dict:
        payload = order.payload
        currency = self.currency
        line_items = {item["id"]: item for item in payload["line_items"]}
        refunds = payload.get("refunds", [])
        refunded_total = sum(
            (Decimal(t["amount"]) for r in refunds for t in r["transactions"]), Decimal(0)
        )
        refunded_shipping = sum(
            (
                -Decimal(a["amount"])
                for r in refunds
                for a in r["order_adjustments"]
                if a["kind"] == "shipping_refund"
            ),
            Decimal(0),
        )

        applications = payload.get("discount_applications") or []

        def line_items_connection(info, first=None, after=None, **_):
            nodes = [
                self.line_item_node(item, applications=applications)
                for item in payload["line_items"]
            ]
            return list_connection(nodes, first, after)

        def refunds_list(info, first=None):
            nodes = [self.refund_node(r, line_items, applications) for r in refunds]
            return nodes if first is None else nodes[:first]

        def discount_applications(info, first=None, after=None, **_):
            nodes = [self.discount_application_node(a, i) for i, a in enumerate(applications)]
            return list_connection(nodes, first, after)

        def shipping_lines(info, first=None, after=None, includeRemovals=False, **_):
            nodes = [
                self.shipping_line_node(line, applications)
                for line in payload.get("shipping_lines") or []
                if includeRemovals or not line.get("is_removed")
            ]
            return list_connection(nodes, first, after)

        codes = [c["code"] for c in payload["discount_codes"]]
        return {
            "__typename": "Order",
            "id": order.gid,
            "legacyResourceId": str(order.id),
            "name": payload["name"],
            "email": payload.get("email"),
            "phone": None,
            "note": payload.get("note"),
            "createdAt": iso(order.created_at),
            "updatedAt": iso(order.updated_at),
            "processedAt": iso(order.processed_at),
            "cancelledAt": iso(order.cancelled_at),
            "cancelReason": (payload.get("cancel_reason") or "").upper() or None,
            "closed": False,
            "confirmed": True,
            "displayFinancialStatus": order.financial_status.upper(),
            "displayFulfillmentStatus": "FULFILLED"
            if order.fulfillment_status == "fulfilled"
            else "UNFULFILLED",
            "currencyCode": currency,
            "presentmentCurrencyCode": currency,
            "customer": lambda info: (
                self.customer_node(order.customer) if order.customer_id and order.customer else None
            ),
            "subtotalPriceSet": bag_from_rest(payload["subtotal_price_set"]),
            "currentSubtotalPriceSet": bag_from_rest(payload["current_subtotal_price_set"]),
            "totalPriceSet": bag_from_rest(payload["total_price_set"]),
            "currentTotalPriceSet": bag_from_rest(payload["current_total_price_set"]),
            "totalTaxSet": bag_from_rest(payload["total_tax_set"]),
            "currentTotalTaxSet": bag_from_rest(payload["current_total_tax_set"]),
            "totalShippingPriceSet": bag_from_rest(payload["total_shipping_price_set"]),
            "totalDiscountsSet": bag_from_rest(payload["total_discounts_set"]),
            "currentTotalDiscountsSet": bag_from_rest(payload["current_total_discounts_set"]),
            "totalRefundedSet": bag(refunded_total, currency),
            "totalRefundedShippingSet": bag(refunded_shipping, currency),
            "discountCodes": codes,
            "discountCode": codes[0] if codes else None,
            "tags": [t.strip() for t in payload.get("tags", "").split(",") if t.strip()],
            "test": bool(payload.get("test")),
            "requiresShipping": any(i["requires_shipping"] for i in payload["line_items"]),
            "taxLines": [],
            "lineItems": line_items_connection,
            "refunds": refunds_list,
            "discountApplications": discount_applications,
            "shippingLines": shipping_lines,
            **self.metafield_fields(order.gid),
        }
