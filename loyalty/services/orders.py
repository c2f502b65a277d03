"""Orders: crediting on the trigger topic, cancellations, refunds and their reversals,
pending releases."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from loyalty.lock_objects import order_qs_select_for_update
from loyalty.member_versions import (
    member_changed_on_commit,
    members_changed_on_commit,
)
from loyalty.models import (
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
    Redemption,
)
from loyalty.payloads import datetime_parse, int_or_none, shop_amount
from loyalty.services.earning import (
    order_earning_compute,
    order_reversal_target,
    refund_bases_compute,
)
from loyalty.services.ledger import AVAILABLE, CENT, PENDING, Kind, ledger_post, member_lock
from loyalty.services.members import member_upsert
from loyalty.services.program_config import program_get_or_create
from merchants.models import Shop

logger = logging.getLogger(__name__)


def _order_upsert_locked(*, shop: Shop, order_id: int) -> LoyaltyOrder:
    LoyaltyOrder.objects.get_or_create(shop=shop, order_id=order_id)
    return order_qs_select_for_update().get(shop=shop, order_id=order_id)


def order_refunds_rebase(order: LoyaltyOrder) -> None:
    """The order's ``taxes_included`` changed (its first snapshot after refunds created the
    row with the default): choose its refunds' bases again and sum them.

    Precondition: the order row is locked (refunds of an order are recorded under it)."""
    total = Decimal(0)
    for refund in OrderRefund.objects.filter(shop_id=order.shop_id, order_id=order.order_id):
        chosen = refund.base_tax_included if order.taxes_included else refund.base_tax_excluded
        if chosen is not None and chosen != refund.base:
            refund.base = chosen
            refund.save(update_fields=["base"])
        total += refund.base
    order.refunded_base = total


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
    if not order.email:
        order.email = (payload.get("email") or payload.get("contact_email") or "").strip().lower()


def order_credit(*, order: LoyaltyOrder, program: LoyaltyProgram) -> None:
    """Post the order's due points to its member, then apply refunds received earlier.

    Precondition: the order row is locked and has a member; the state is OPEN or GUEST.
    """
    assert order.member_id is not None
    member = member_lock(shop_id=order.shop_id, member_id=order.member_id)
    now = timezone.now()
    trigger = order.triggered_at or now
    amount = order.points_due
    pending = program.pending_days > 0
    release_at = trigger + timedelta(days=program.pending_days) if pending else None
    if amount > 0:
        ledger_post(
            member=member,
            amount=amount,
            kind=Kind.ORDER_EARN,
            key=f"order:{order.order_id}:earn",
            bucket=PENDING if pending else AVAILABLE,
            release_at=release_at,
            source_type="order",
            source_id=order.order_id,
            note=order.name,
            earned=amount,
            activity_at=now,
        )
    order.points_earned = amount
    order.points_pending = amount if pending else 0
    order.release_at = release_at if pending and amount else None
    order.state = LoyaltyOrder.State.CREDITED
    order.credited_at = now
    order.save()
    _order_reversal_sync(order=order, member=member, program=program, key=None, source_id="")


def guest_orders_link(*, shop: Shop, member: Member, program: LoyaltyProgram) -> int:
    """Credit the held guest orders with the member's email placed within the window."""
    if not member.email:
        return 0
    since = timezone.now() - timedelta(days=program.guest_link_window_days)
    ids = list(
        LoyaltyOrder.objects.filter(
            shop=shop,
            state=LoyaltyOrder.State.GUEST,
            member__isnull=True,
            email__iexact=member.email,
            triggered_at__gte=since,
        ).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    # Orders first, then the member: the lock order every order path uses.
    orders = list(order_qs_select_for_update().filter(pk__in=ids, state=LoyaltyOrder.State.GUEST))
    for order in orders:
        order.member = member
        order.customer_id = member.customer_id
        order.save(update_fields=["member", "customer_id", "updated_at"])
        order_credit(order=order, program=program)
    return len(orders)


@dataclass(frozen=True)
class ReversalPlan:
    """The points a reversal takes back and from where (see ``order_reversal_plan``)."""

    delta: int  # reversed in all: the order's points_reversed grows by it
    from_pending: int  # taken from the pending bucket (entry key ``key + ":pending"``)
    take: int  # taken from the available balance (entry key ``key``)
    shortfall: int  # what the balance could not cover (deduct_to_zero policy)
    kind: str
    key: str
    source_type: str
    source_id: str
    note: str  # of the available entry; the pending entry's note is the order's name


def order_reversal_plan(
    *,
    order: LoyaltyOrder,
    balance: int,
    program: LoyaltyProgram,
    key: str | None,
    source_id: str | int,
    cancel: bool = False,
) -> ReversalPlan | None:
    """What bringing the order's reversed points up to what its refunds (or cancellation)
    require takes, given the member's available ``balance``; ``None`` when nothing is due.
    Pure: the per-delivery path (``_order_reversal_sync``) and the batch path
    (``loyalty.ingest``) both apply it."""
    delta = order_reversal_target(order=order, cancel=cancel) - order.points_reversed
    if delta <= 0:
        return None
    kind = Kind.ORDER_CANCEL if cancel else Kind.ORDER_REFUND
    key = key or f"order:{order.order_id}:reversal:{order.points_reversed + delta}"
    source_type = "order" if cancel or not source_id else "refund"
    source_id = source_id or order.order_id
    from_pending = min(delta, order.points_pending)
    rest = delta - from_pending
    take, shortfall = rest, 0
    if rest and program.negative_balance_policy != LoyaltyProgram.NegativePolicy.ALLOW_NEGATIVE:
        take = min(rest, max(balance, 0))
        shortfall = rest - take
    return ReversalPlan(
        delta=delta,
        from_pending=from_pending,
        take=take,
        shortfall=shortfall,
        kind=kind,
        key=key,
        source_type=source_type,
        source_id=str(source_id),
        note=order.name + (f" (shortfall {shortfall})" if shortfall else ""),
    )


def _order_reversal_sync(
    *,
    order: LoyaltyOrder,
    member: Member,
    program: LoyaltyProgram,
    key: str | None,
    source_id: str | int,
    cancel: bool = False,
) -> int:
    """Bring the order's reversed points up to what its refunds (or cancellation) require.

    Precondition: the order and member rows are locked. Pending points are reduced first;
    the available balance pays the rest under the shop's negative-balance policy.
    """
    plan = order_reversal_plan(
        order=order,
        balance=member.balance,
        program=program,
        key=key,
        source_id=source_id,
        cancel=cancel,
    )
    if plan is None:
        return 0
    if plan.from_pending:
        ledger_post(
            member=member,
            amount=-plan.from_pending,
            kind=plan.kind,
            key=f"{plan.key}:pending",
            bucket=PENDING,
            source_type=plan.source_type,
            source_id=plan.source_id,
            note=order.name,
        )
        order.points_pending -= plan.from_pending
    if plan.take:
        ledger_post(
            member=member,
            amount=-plan.take,
            kind=plan.kind,
            key=plan.key,
            source_type=plan.source_type,
            source_id=plan.source_id,
            note=plan.note,
            allow_negative=True,
        )
    member.lifetime_earned -= plan.delta
    member.save(update_fields=["lifetime_earned", "updated_at"])
    member_changed_on_commit(shop_id=member.shop_id, customer_id=member.customer_id)
    order.points_reversed += plan.delta
    order.points_shortfall += plan.shortfall
    order.save(
        update_fields=["points_pending", "points_reversed", "points_shortfall", "updated_at"]
    )
    return plan.delta


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


def redemptions_attribute(*, shop: Shop, order_id: int, payload: dict[str, Any]) -> int:
    """Mark issued redemptions whose code the order used as used (attribution)."""
    codes = order_discount_codes(payload)
    if not codes:
        return 0
    issued = Redemption.objects.filter(shop=shop, code__in=codes, status=Redemption.Status.ISSUED)
    customer_ids = list(issued.values_list("member__customer_id", flat=True))
    if not customer_ids:
        return 0
    members_changed_on_commit(shop_id=shop.pk, customer_ids=customer_ids)
    return issued.update(status=Redemption.Status.USED, order_id=order_id, used_at=timezone.now())


def order_webhook_process(
    *, shop: Shop, topic: str, payload: dict[str, Any], triggered_at: datetime | None
) -> None:
    """Handle orders/paid, orders/fulfilled, orders/cancelled (and reconciled orders),
    orders/create and orders/updated (snapshot and attribution only).

    The earning trigger credits an OPEN order once; a cancelled order never earns; a
    cancellation reverses whatever the order still holds.
    """
    order_id = int_or_none(payload.get("id"))
    if order_id is None:
        return
    when = triggered_at or timezone.now()
    customer = payload.get("customer") or {}
    customer_id = int_or_none(customer.get("id")) if isinstance(customer, dict) else None
    new_member: Member | None = None
    with transaction.atomic(durable=True):
        program = program_get_or_create(shop=shop)
        order = _order_upsert_locked(shop=shop, order_id=order_id)
        taxes_included = order.taxes_included
        order_snapshot(order, payload)
        if order.taxes_included != taxes_included:
            order_refunds_rebase(order)
        if customer_id is not None and order.member_id is None:
            member, created = member_upsert(
                shop=shop,
                customer_id=customer_id,
                email=customer.get("email") or payload.get("email"),
                first_name=customer.get("first_name"),
                last_name=customer.get("last_name"),
            )
            order.member = member
            order.customer_id = customer_id
            new_member = member if created else None
        order.save()

        if topic == "orders/cancelled":
            _order_cancel(order=order, program=program, when=when)
        elif order_is_trigger(program, topic, payload) and order.state == LoyaltyOrder.State.OPEN:
            earning = order_earning_compute(
                shop=shop, program=program, payload=payload, placed_at=order.placed_at or when
            )
            order.base = earning.base.quantize(CENT)
            order.multiplier = earning.multiplier
            order.points_due = earning.points
            order.triggered_at = when
            if not program.enabled:
                order.state = LoyaltyOrder.State.NOT_ELIGIBLE
                order.save()
            elif order.member_id is None:
                order.state = LoyaltyOrder.State.GUEST
                order.save()
            else:
                order.save()
                order_credit(order=order, program=program)
        if new_member is not None:
            guest_orders_link(shop=shop, member=new_member, program=program)
        redemptions_attribute(shop=shop, order_id=order_id, payload=payload)


def _order_cancel(*, order: LoyaltyOrder, program: LoyaltyProgram, when: datetime) -> None:
    """Precondition: the order row is locked."""
    if order.state == LoyaltyOrder.State.CANCELLED:
        return
    if order.state == LoyaltyOrder.State.CREDITED and order.member_id is not None:
        member = member_lock(shop_id=order.shop_id, member_id=order.member_id)
        _order_reversal_sync(
            order=order,
            member=member,
            program=program,
            key=f"order:{order.order_id}:cancel",
            source_id=order.order_id,
            cancel=True,
        )
    order.state = LoyaltyOrder.State.CANCELLED
    order.cancelled_at = when
    order.save(update_fields=["state", "cancelled_at", "updated_at"])


def refund_webhook_process(*, shop: Shop, payload: dict[str, Any]) -> None:
    """Handle refunds/create: record the refund once and reverse points in proportion.

    A refund arriving before its order was credited is kept and applied at the credit.
    """
    refund_id = int_or_none(payload.get("id"))
    order_id = int_or_none(payload.get("order_id"))
    if refund_id is None or order_id is None:
        return
    with transaction.atomic(durable=True):
        program = program_get_or_create(shop=shop)
        order = _order_upsert_locked(shop=shop, order_id=order_id)
        if OrderRefund.objects.filter(shop=shop, refund_id=refund_id).exists():
            return
        excluded, included = refund_bases_compute(shop=shop, program=program, payload=payload)
        base = included if order.taxes_included else excluded
        OrderRefund.objects.create(
            shop=shop,
            order_id=order_id,
            refund_id=refund_id,
            base=base,
            base_tax_excluded=excluded,
            base_tax_included=included,
        )
        order.refunded_base = F("refunded_base") + base
        order.save(update_fields=["refunded_base", "updated_at"])
        order.refresh_from_db()
        if order.state == LoyaltyOrder.State.CREDITED and order.member_id is not None:
            member = member_lock(shop_id=shop.pk, member_id=order.member_id)
            _order_reversal_sync(
                order=order,
                member=member,
                program=program,
                key=f"refund:{refund_id}",
                source_id=refund_id,
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
            common = {
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
