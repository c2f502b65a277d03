"""After checkout: pay, fulfil, refund and cancel an order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from devstore.errors import OrderOperationRefused
from devstore.identifiers import id_allocate
from devstore.models import DevOrder, DevRefund
from devstore.payloads import money, money_set, shop_time
from devstore.services.writes import ZERO, cents, store_write
from devstore.webhooks import webhook_emit


def _order_locked(order: DevOrder) -> DevOrder:
    return DevOrder.objects.select_for_update().select_related("shop").get(pk=order.pk)


def _order_touch(order: DevOrder, moment: datetime, fields: list[str]) -> None:
    order.updated_at = moment
    order.payload["updated_at"] = shop_time(order.shop, moment)
    order.save(update_fields=[*fields, "payload", "updated_at"])


def order_pay(order: DevOrder, *, at: datetime | None = None) -> DevOrder:
    """Capture payment of a pending order; emits ``orders/paid``."""
    moment = at or timezone.now()
    with store_write():
        order = _order_locked(order)
        if order.financial_status != "pending" or order.cancelled_at is not None:
            raise OrderOperationRefused(f"Order {order} is {order.financial_status}, not pending.")
        order.financial_status = "paid"
        order.payload["financial_status"] = "paid"
        order.payload["total_outstanding"] = "0.00"
        _order_touch(order, moment, ["financial_status"])
        webhook_emit(order.shop, "orders/paid", order.payload, triggered_at=moment)
    return order


def order_fulfill(order: DevOrder, *, at: datetime | None = None) -> DevOrder:
    """Ship every line; emits ``orders/fulfilled``."""
    moment = at or timezone.now()
    with store_write():
        order = _order_locked(order)
        if order.cancelled_at is not None or order.fulfillment_status == "fulfilled":
            raise OrderOperationRefused(f"Order {order} cannot be fulfilled.")
        shop = order.shop
        fulfillment_id = id_allocate("fulfillment")
        order.payload["fulfillments"].append(
            {
                "id": fulfillment_id,
                "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
                "created_at": shop_time(shop, moment),
                "name": f"{order.payload['name']}.1",
                "order_id": order.id,
                "status": "success",
                "tracking_company": None,
                "tracking_number": None,
                "updated_at": shop_time(shop, moment),
                "line_items": order.payload["line_items"],
            }
        )
        order.payload["fulfillment_status"] = "fulfilled"
        for line in order.payload["line_items"]:
            line["fulfillment_status"] = "fulfilled"
            line["fulfillable_quantity"] = 0
        order.fulfillment_status = "fulfilled"
        _order_touch(order, moment, ["fulfillment_status"])
        webhook_emit(shop, "orders/fulfilled", order.payload, triggered_at=moment)
    return order


_REFUND_LINE_ITEM_KEYS = [
    "id",
    "variant_id",
    "title",
    "quantity",
    "sku",
    "variant_title",
    "vendor",
    "fulfillment_service",
    "product_id",
    "requires_shipping",
    "taxable",
    "gift_card",
    "name",
    "variant_inventory_management",
    "properties",
    "product_exists",
    "fulfillable_quantity",
    "grams",
    "price",
    "total_discount",
    "fulfillment_status",
    "price_set",
    "total_discount_set",
    "discount_allocations",
    "duties",
    "admin_graphql_api_id",
    "tax_lines",
]


def _refunded_so_far(order: DevOrder) -> dict[int, tuple[int, Decimal, Decimal]]:
    """line item id → (quantity, subtotal, tax) already refunded."""
    done: dict[int, tuple[int, Decimal, Decimal]] = {}
    for refund in order.payload.get("refunds", []):
        for item in refund["refund_line_items"]:
            qty, sub, tax = done.get(item["line_item_id"], (0, ZERO, ZERO))
            done[item["line_item_id"]] = (
                qty + item["quantity"],
                sub + Decimal(item["subtotal_set"]["shop_money"]["amount"]),
                tax + Decimal(item["total_tax_set"]["shop_money"]["amount"]),
            )
    return done


def order_refund(
    order: DevOrder,
    lines: Sequence[tuple[dict[str, Any] | int, int]] = (),
    shipping: Decimal = ZERO,
    note: str = "",
    *,
    at: datetime | None = None,
) -> DevRefund:
    """Refund ``(line item or its id, quantity)`` pairs and/or shipping; emits
    ``refunds/create`` with the REST Refund resource."""
    moment = at or timezone.now()
    shipping = cents(Decimal(shipping))
    with store_write():
        order = _order_locked(order)
        shop = order.shop
        currency = shop.currency
        if order.financial_status not in {"paid", "partially_refunded"}:
            raise OrderOperationRefused(f"Order {order} is {order.financial_status}: no refund.")
        by_id = {item["id"]: item for item in order.payload["line_items"]}
        done = _refunded_so_far(order)
        refund_id = id_allocate("refund")
        refund_items = []
        subtotal_sum = tax_sum = ZERO
        for ref, quantity in lines:
            line_id = ref["id"] if isinstance(ref, dict) else int(ref)
            item = by_id.get(line_id)
            if item is None:
                raise OrderOperationRefused(f"Line item {line_id} is not on order {order}.")
            qty_done, sub_done, tax_done = done.get(line_id, (0, ZERO, ZERO))
            if quantity < 1 or qty_done + quantity > item["quantity"]:
                raise OrderOperationRefused(
                    f"Cannot refund {quantity} of line {line_id}: "
                    f"{item['quantity'] - qty_done} refundable."
                )
            discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), ZERO)
            net = Decimal(item["price"]) * item["quantity"] - discount
            tax = sum((Decimal(t["price"]) for t in item["tax_lines"]), ZERO)
            if qty_done + quantity == item["quantity"]:
                sub, sub_tax = net - sub_done, tax - tax_done
            else:
                sub = cents(net * quantity / item["quantity"])
                sub_tax = cents(tax * quantity / item["quantity"])
            done[line_id] = (qty_done + quantity, sub_done + sub, tax_done + sub_tax)
            subtotal_sum += sub
            tax_sum += sub_tax
            line_copy = {key: item[key] for key in _REFUND_LINE_ITEM_KEYS}
            refund_items.append(
                {
                    "id": id_allocate("line_item"),
                    "quantity": quantity,
                    "line_item_id": line_id,
                    "location_id": None,
                    "restock_type": "no_restock",
                    "subtotal": float(sub),
                    "total_tax": float(sub_tax),
                    "subtotal_set": money_set(sub, currency),
                    "total_tax_set": money_set(sub_tax, currency),
                    "line_item": line_copy,
                }
            )
            item["current_quantity"] = item["quantity"] - done[line_id][0]
        refunded_shipping_before = sum(
            (
                -Decimal(adj["amount"])
                for refund in order.payload["refunds"]
                for adj in refund["order_adjustments"]
                if adj["kind"] == "shipping_refund"
            ),
            ZERO,
        )
        shipping_paid = Decimal(order.payload["current_shipping_price_set"]["shop_money"]["amount"])
        if shipping > shipping_paid:
            raise OrderOperationRefused(f"Only {money(shipping_paid)} of shipping is refundable.")
        if not refund_items and not shipping:
            raise OrderOperationRefused("Nothing to refund.")
        adjustments = []
        if shipping:
            adjustments.append(
                {
                    "id": id_allocate("transaction"),
                    "order_id": order.id,
                    "refund_id": refund_id,
                    "amount": money(-shipping),
                    "tax_amount": "0.00",
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount_set": money_set(-shipping, currency),
                    "tax_amount_set": money_set(ZERO, currency),
                }
            )
        # Tax-inclusive subtotals already hold their tax.
        included = bool(order.payload.get("taxes_included"))
        amount = subtotal_sum + (ZERO if included else tax_sum) + shipping
        transaction_id = id_allocate("transaction")
        when = shop_time(shop, moment)
        refund_payload = {
            "id": refund_id,
            "order_id": order.id,
            "created_at": when,
            "note": note or None,
            "user_id": None,
            "processed_at": when,
            "duties": [],
            "total_duties_set": money_set(ZERO, currency),
            "return": None,
            "restock": False,
            "refund_shipping_lines": [],
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
            "order_adjustments": adjustments,
            "refund_line_items": refund_items,
            "transactions": [
                {
                    "id": transaction_id,
                    "order_id": order.id,
                    "kind": "refund",
                    "gateway": "bogus",
                    "status": "success",
                    "message": "Refunded",
                    "created_at": when,
                    "test": bool(order.payload.get("test")),
                    "authorization": None,
                    "location_id": None,
                    "user_id": None,
                    "parent_id": None,
                    "processed_at": when,
                    "device_id": None,
                    "error_code": None,
                    "source_name": "web",
                    "receipt": {},
                    "amount": money(amount),
                    "currency": currency,
                    "payment_id": f"{order.payload['name']}.1",
                    "total_unsettled_set": {
                        "presentment_money": {"amount": "0.0", "currency": currency},
                        "shop_money": {"amount": "0.0", "currency": currency},
                    },
                    "manual_payment_gateway": False,
                    "amount_rounding": None,
                    "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}",
                }
            ],
        }
        refund = DevRefund.objects.create(
            order=order, id=refund_id, payload=refund_payload, created_at=moment
        )
        order.payload["refunds"].append(refund_payload)
        _order_totals_after_refund(order, shipping_refunded=refunded_shipping_before + shipping)
        _order_touch(order, moment, ["financial_status"])
        webhook_emit(shop, "refunds/create", refund_payload, triggered_at=moment)
    return refund


def _order_totals_after_refund(order: DevOrder, *, shipping_refunded: Decimal) -> None:
    payload = order.payload
    currency = order.shop.currency
    done = _refunded_so_far(order)
    refunded_sub = sum((sub for _, sub, _ in done.values()), ZERO)
    refunded_tax = sum((tax for _, _, tax in done.values()), ZERO)
    refunded_discount = ZERO
    for item in payload["line_items"]:
        qty = done.get(item["id"], (0, ZERO, ZERO))[0]
        if qty:
            discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), ZERO)
            refunded_discount += cents(discount * qty / item["quantity"])
    subtotal = Decimal(payload["subtotal_price"]) - refunded_sub
    tax = Decimal(payload["total_tax"]) - refunded_tax
    refunded = refunded_sub + (ZERO if payload.get("taxes_included") else refunded_tax)
    total = Decimal(payload["total_price"]) - refunded - shipping_refunded
    discounts = Decimal(payload["total_discounts"]) - refunded_discount
    shipping_left = (
        Decimal(payload["total_shipping_price_set"]["shop_money"]["amount"])
        - sum(
            (
                Decimal(a["amount"])
                for s in payload["shipping_lines"]
                for a in s["discount_allocations"]
            ),
            ZERO,
        )
        - shipping_refunded
    )
    payload.update(
        current_subtotal_price=money(subtotal),
        current_subtotal_price_set=money_set(subtotal, currency),
        current_total_tax=money(tax),
        current_total_tax_set=money_set(tax, currency),
        current_total_price=money(total),
        current_total_price_set=money_set(total, currency),
        current_total_discounts=money(discounts),
        current_total_discounts_set=money_set(discounts, currency),
        current_shipping_price_set=money_set(shipping_left, currency),
    )
    fully = total <= ZERO
    order.financial_status = "refunded" if fully else "partially_refunded"
    payload["financial_status"] = order.financial_status


def order_cancel(
    order: DevOrder, *, reason: str = "customer", refund: bool = True, at: datetime | None = None
) -> DevOrder:
    """Cancel; a paid order is refunded in full first (``refunds/create``) when ``refund``.
    Emits ``orders/cancelled``."""
    moment = at or timezone.now()
    with store_write():
        order = _order_locked(order)
        if order.cancelled_at is not None:
            raise OrderOperationRefused(f"Order {order} is already cancelled.")
        if refund and order.financial_status in {"paid", "partially_refunded"}:
            done = _refunded_so_far(order)
            remaining = [
                (item["id"], item["quantity"] - done.get(item["id"], (0, ZERO, ZERO))[0])
                for item in order.payload["line_items"]
            ]
            shipping_left = Decimal(
                order.payload["current_shipping_price_set"]["shop_money"]["amount"]
            )
            order_refund(
                order,
                [(line_id, qty) for line_id, qty in remaining if qty > 0],
                shipping=shipping_left,
                note="Order cancelled",
                at=moment,
            )
            order.refresh_from_db()
        elif order.financial_status == "pending":
            order.financial_status = "voided"
            order.payload["financial_status"] = "voided"
        order.cancelled_at = moment
        order.payload["cancelled_at"] = shop_time(order.shop, moment)
        order.payload["cancel_reason"] = reason
        _order_touch(order, moment, ["financial_status", "cancelled_at"])
        webhook_emit(order.shop, "orders/cancelled", order.payload, triggered_at=moment)
    return order
