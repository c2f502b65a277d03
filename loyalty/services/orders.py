"""Orders: the snapshot of an order payload, the earning trigger, code attribution and
pending releases, the reversal check (crediting, cancellations and refunds are
``loyalty.services.crediting``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from loyalty.lock_objects import order_qs_select_for_update
from loyalty.member_versions import (
    members_changed_on_commit,
)
from loyalty.models import (
    LoyaltyOrder,
    LoyaltyProgram,
    OrderRefund,
    Redemption,
)
from loyalty.payloads import datetime_parse, shop_amount
from loyalty.rules.referrals import address_key
from loyalty.rules.reversal import order_reversal_target
from loyalty.rules.tiers import order_spend, refunded_discounts
from loyalty.services.ledger import CENT, PENDING, Kind, ledger_post, member_lock
from merchants.models import Shop

logger = logging.getLogger(__name__)


def order_snapshot(order: LoyaltyOrder, payload: dict[str, Any]) -> None:
    order.order_gid = payload.get("admin_graphql_api_id") or order.order_gid
    order.name = (payload.get("name") or order.name)[:64]
    total_set = payload.get("total_price_set") or {}
    order.currency = (
        (total_set.get("shop_money") or {}).get("currency_code") or payload.get("currency") or ""
    )[:3]
    order.placed_at = (
        datetime_parse(payload.get("processed_at"))
        or datetime_parse(payload.get("created_at"))
        or order.placed_at
    )
    order.taxes_included = bool(payload.get("taxes_included"))
    order.total_price = shop_amount(payload, "total_price").quantize(CENT)
    order.subtotal_price = shop_amount(payload, "subtotal_price").quantize(CENT)
    order.discount_codes = order_discount_codes(payload)
    order.ship_key = address_key(payload.get("shipping_address"), settings.SHOPIFY_API_SECRET)
    if not order.email:
        order.email = (payload.get("email") or payload.get("contact_email") or "").strip().lower()
    spend = order_spend(payload)
    order.spend_goods = spend.goods
    order.spend_discounts = spend.discounts
    order.spend_shipping = spend.shipping
    order.spend_tax = spend.tax
    order_spend_settle(order)


def order_spend_settle(order: LoyaltyOrder) -> None:
    """The share of the order's discounts its refunds gave back (after either changed)."""
    order.spend_refunded_discounts = refunded_discounts(
        discounts=order.spend_discounts,
        goods=order.spend_goods or Decimal(0),
        refunded_goods=order.spend_refunded_goods,
    )


def order_is_trigger(program: LoyaltyProgram, topic: str, payload: dict[str, Any]) -> bool:
    if program.earn_trigger == LoyaltyProgram.EarnTrigger.PAID:
        return topic == "orders/paid"
    return topic == "orders/fulfilled" or (
        topic in ("orders/paid", "orders/updated")
        and payload.get("fulfillment_status") == "fulfilled"
    )


def order_discount_codes(payload: dict[str, Any]) -> list[str]:
    """The discount codes an order payload used, upper-cased, sorted, without blanks."""
    return sorted(
        {
            str(dc.get("code") or "").strip().upper()
            for dc in payload.get("discount_codes") or []
            if isinstance(dc, dict)
        }
        - {""}
    )


def redemptions_attribute(*, shop: Shop, orders: Sequence[tuple[int, dict[str, Any]]]) -> int:
    """Mark issued redemptions whose code the orders used as used by that order
    (attribution): one read for the whole batch, then one update per order that used one
    (a code two orders of the batch used goes to the first, as one by one)."""
    order_of: dict[str, int] = {}
    for order_id, payload in orders:
        for code in order_discount_codes(payload):
            order_of.setdefault(code, order_id)
    if not order_of:
        return 0
    issued = Redemption.objects.filter(
        shop=shop, code__in=sorted(order_of), status=Redemption.Status.ISSUED
    )
    found = list(issued.values_list("pk", "code", "member__customer_id"))
    if not found:
        return 0
    members_changed_on_commit(shop_id=shop.pk, customer_ids=sorted({c for _, _, c in found}))
    by_order: dict[int, list[int]] = {}
    for pk, code, _ in found:
        by_order.setdefault(order_of[code], []).append(pk)
    now = timezone.now()
    return sum(
        issued.filter(pk__in=pks).update(
            status=Redemption.Status.USED, order_id=order_id, used_at=now
        )
        for order_id, pks in sorted(by_order.items())
    )


def pending_release_due(*, now: datetime | None = None) -> int:
    """Move the pending points of orders whose release time has come to the available
    balance. Idempotent: a released order has no pending points left."""
    now = now or timezone.now()
    due = LoyaltyOrder.objects.filter(
        state=LoyaltyOrder.State.CREDITED, points_pending__gt=0, release_at__lte=now
    ).values_list("pk", flat=True)
    released = 0
    for pk in list(due):
        with transaction.atomic(durable=True):
            order = order_qs_select_for_update().filter(pk=pk).first()
            if order is None or order.points_pending <= 0 or order.member_id is None:
                continue
            if (
                order.state != LoyaltyOrder.State.CREDITED
                or not order.release_at
                or order.release_at > now
            ):
                continue
            member = member_lock(shop_id=order.shop_id, member_id=order.member_id)
            points = order.points_pending
            key = f"order:{order.order_id}:release"
            common: dict[str, Any] = {
                "member": member,
                "kind": Kind.PENDING_RELEASE,
                "source_type": "order",
                "source_id": order.order_id,
                "note": order.name,
            }
            ledger_post(amount=-points, key=f"{key}:pending", bucket=PENDING, **common)
            ledger_post(amount=points, key=f"{key}:available", **common)
            order.points_pending = 0
            order.save(update_fields=["points_pending", "updated_at"])
            released += 1
    return released


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderDrift:
    """An order whose stored points disagree with its own snapshot and refunds."""

    shop_id: int
    order_id: int
    problem: str


def _order_drift(order: LoyaltyOrder, refunds: list[OrderRefund]) -> str:
    """What is wrong with the order's refunds and reversed points, or ``""``: each refund's
    base must be the one for the order's ``taxes_included``, the refunded base their sum,
    and the reversed points what ``order_reversal_target`` derives from them."""
    for refund in refunds:
        chosen = refund.base_tax_included if order.taxes_included else refund.base_tax_excluded
        if chosen is not None and chosen != refund.base:
            return f"refund {refund.refund_id} base {refund.base} != {chosen}"
    total = sum((refund.base for refund in refunds), Decimal(0))
    if total != order.refunded_base:
        return f"refunded base {order.refunded_base} != refunds' {total}"
    cancel = order.state == LoyaltyOrder.State.CANCELLED
    target = order_reversal_target(order=order, cancel=cancel)
    if order.points_reversed != target:
        return f"reversed {order.points_reversed} != {target}"
    return ""


def orders_reversal_verify(*, shop: Shop | None = None, chunk: int = 2000) -> list[OrderDrift]:
    """Recompute the reversal of every order with refunds or reversed points from its
    stored snapshot and refunds; log and return each order that disagrees (part of
    ``ledger_verify``: a balance can equal its ledger and still be wrong)."""
    has_refund = Exists(
        OrderRefund.objects.filter(shop_id=OuterRef("shop_id"), order_id=OuterRef("order_id"))
    )
    orders = LoyaltyOrder.objects.filter(has_refund | Q(points_reversed__gt=0)).order_by("pk")
    if shop is not None:
        orders = orders.filter(shop=shop)
    drifts: list[OrderDrift] = []
    batch: list[LoyaltyOrder] = []
    for order in [*orders.iterator(chunk_size=chunk), None]:
        if order is not None:
            batch.append(order)
        if batch and (order is None or len(batch) == chunk):
            refunds: dict[tuple[int, int], list[OrderRefund]] = {}
            for refund in OrderRefund.objects.filter(
                shop_id__in={o.shop_id for o in batch}, order_id__in={o.order_id for o in batch}
            ):
                refunds.setdefault((refund.shop_id, refund.order_id), []).append(refund)
            for one in batch:
                problem = _order_drift(one, refunds.get((one.shop_id, one.order_id), []))
                if problem:
                    logger.error(
                        "order drift shop=%s order=%s: %s", one.shop_id, one.order_id, problem
                    )
                    drifts.append(OrderDrift(one.shop_id, one.order_id, problem))
            batch = []
    return drifts
