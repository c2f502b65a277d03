"""Loyalty domain operations: the only place balances change.

Entry points called by the platform layer (merchants.shopify.webhooks processing). Each is
idempotent: a replayed or duplicated delivery has no second effect.

Rules (see also the docstrings of the functions applying them):

* Earning base: per line item that is not a gift card and not excluded (product id or product
  tag), ``price * quantity - discount allocations`` in shop money (+ shipping lines after their
  discounts, + tax, when the program includes them). ``quantity`` is the ordered quantity, not
  ``current_quantity``: refunds are applied separately, so they never count twice.
* Bonus events overlap: for each line the highest multiplier among the events active when
  the order was placed (and whose product tags match, if any) applies; multipliers never
  compound. Shipping and tax only get the multipliers of events without product tags.
* Refund proportion: a refund's base is the subtotal of its eligible refund line items
  (+/- tax as for earning) + its shipping refund when shipping is included, minus the order
  adjustments' amounts (a negative adjustment is money given back). The order's reversed
  points are ``round_half_up(earned * min(1, refunded base so far / order base))``, computed
  on the running total so several partial refunds never reverse more than the order earned.
* Negative balance: ``deduct_to_zero_record_shortfall`` (default) takes what the balance has
  and records the rest on ``LoyaltyOrder.points_shortfall``; ``allow_negative`` lets the
  balance go below zero (and marks the member so the database check permits it).
"""

from __future__ import annotations

import csv
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO, Any, Protocol

from django.db import models, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.audit import audit_record
from loyalty.errors import (
    InsufficientPoints,
    InvalidAdjustment,
    InvalidConfiguration,
    InvalidRedemption,
    MemberNotFound,
    RedemptionIssueRetry,
    RedemptionNotCancellable,
    RewardNotAvailable,
)
from loyalty.lock_objects import member_qs_select_for_update, order_qs_select_for_update
from loyalty.member_versions import (
    member_changed_on_commit,
    members_changed_on_commit,
    shop_members_changed_on_commit,
)
from loyalty.models import (
    BonusEvent,
    ExpiryWarning,
    LedgerDrift,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
    ProductTags,
    Redemption,
    Reward,
)
from merchants.errors import BeamError, ShopifyApiError, ShopifyUserError, ShopNotInstalled
from merchants.models import Shop
from merchants.shopify.operations import (
    DiscountCodeStatus,
    discount_code_basic_create,
    discount_code_deactivate,
    discount_code_free_shipping_create,
    discount_code_lookup,
    store_credit_account_credit,
    store_credit_credits_since,
)

logger = logging.getLogger(__name__)

AVAILABLE = LedgerEntry.Bucket.AVAILABLE
PENDING = LedgerEntry.Bucket.PENDING
Kind = LedgerEntry.Kind
CENT = Decimal("0.01")
ZERO = Decimal(0)


@dataclass(frozen=True)
class AuditRecord:
    """Who asked for an admin change. Given to a write service, it makes the service write
    the ``AuditEvent`` inside the change's own transaction: never a change without its audit
    row, nor an audit row without a change."""

    actor: str


# --- small helpers --------------------------------------------------------------------------


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """Queue a Celery task once the current transaction commits (at once in autocommit)."""
    transaction.on_commit(lambda: task.delay(*args))


def _shop_amount(obj: dict[str, Any] | None, key: str) -> Decimal:
    """``obj[key + "_set"].shop_money.amount`` (falling back to ``obj[key]``) as a Decimal."""
    if not obj:
        return ZERO
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        raw = money_set["shop_money"].get("amount")
    else:
        raw = obj.get(key)
    if raw in (None, ""):
        return ZERO
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return ZERO


def _allocations(obj: dict[str, Any]) -> Decimal:
    return sum((_shop_amount(a, "amount") for a in obj.get("discount_allocations") or []), ZERO)


def _tax(obj: dict[str, Any]) -> Decimal:
    return sum((_shop_amount(t, "price") for t in obj.get("tax_lines") or []), ZERO)


def _parse_dt(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _points_round(value: Decimal, rounding: str) -> int:
    mode = {
        LoyaltyProgram.Rounding.DOWN: ROUND_FLOOR,
        LoyaltyProgram.Rounding.NEAREST: ROUND_HALF_UP,
        LoyaltyProgram.Rounding.UP: ROUND_CEILING,
    }[LoyaltyProgram.Rounding(rounding)]
    return int(value.quantize(Decimal(1), rounding=mode))


def program_get_or_create(*, shop: Shop) -> LoyaltyProgram:
    """The shop's program settings, created with the defaults on first use."""
    program, _ = LoyaltyProgram.objects.get_or_create(shop=shop)
    return program


# --- the ledger -----------------------------------------------------------------------------


def _ledger_post(
    *,
    member: Member,
    amount: int,
    kind: str,
    key: str,
    bucket: str = AVAILABLE,
    source_type: str = "",
    source_id: str | int = "",
    actor: str = "",
    note: str = "",
    release_at: datetime | None = None,
    earned: int = 0,
    redeemed: int = 0,
    activity_at: datetime | None = None,
    allow_negative: bool = False,
) -> LedgerEntry | None:
    """Append one entry and update the cached sums in the same transaction.

    Precondition: inside a transaction, ``member`` was fetched with
    ``member_qs_select_for_update()``. Only ``allow_negative`` (a reversal under the
    ``allow_negative`` policy) may take the balance below zero. Returns None (and changes
    nothing) when the key was already used: this is what makes every caller replay-safe.
    """
    if amount == 0:
        return None
    if LedgerEntry.objects.filter(shop_id=member.shop_id, idempotency_key=key).exists():
        return None
    entry = LedgerEntry.objects.create(
        shop_id=member.shop_id,
        member=member,
        amount=amount,
        kind=kind,
        bucket=bucket,
        release_at=release_at,
        source_type=source_type,
        source_id=str(source_id),
        idempotency_key=key,
        actor=actor,
        note=note,
    )
    if bucket == AVAILABLE:
        member.balance += amount
    else:
        member.pending_points += amount
    member.lifetime_earned += earned
    member.lifetime_redeemed += redeemed
    fields = ["balance", "pending_points", "lifetime_earned", "lifetime_redeemed", "updated_at"]
    if activity_at is not None:
        member.last_activity_at = activity_at
        fields.append("last_activity_at")
    if member.balance < 0 and allow_negative:
        member.negative_balance_allowed = True
        fields.append("negative_balance_allowed")
    member.save(update_fields=fields)
    member_changed_on_commit(shop_id=member.shop_id, customer_id=member.customer_id)
    return entry


def _member_lock(*, shop_id: int, member_id: int) -> Member:
    member = member_qs_select_for_update().filter(shop_id=shop_id, pk=member_id).first()
    if member is None:
        raise MemberNotFound()
    return member


@dataclass
class DriftReport:
    members_checked: int
    drifts: list[LedgerDrift]


def ledger_verify(*, shop: Shop | None = None) -> DriftReport:
    """Compare every member's cached balance and pending points with the ledger sums and
    record a ``LedgerDrift`` row for each mismatch (the cache must always equal the ledger)."""
    members = Member.objects.all() if shop is None else Member.objects.filter(shop=shop)
    annotated = members.annotate(
        ledger_balance=Coalesce(Sum("entries__amount", filter=Q(entries__bucket=AVAILABLE)), 0),
        ledger_pending=Coalesce(Sum("entries__amount", filter=Q(entries__bucket=PENDING)), 0),
    )
    checked = 0
    drifts: list[LedgerDrift] = []
    for member in annotated.iterator(chunk_size=2000):
        checked += 1
        if (
            member.balance == member.ledger_balance
            and member.pending_points == member.ledger_pending
        ):
            continue
        logger.error(
            "ledger drift shop=%s member=%s balance=%s ledger=%s pending=%s ledger_pending=%s",
            member.shop_id,
            member.pk,
            member.balance,
            member.ledger_balance,
            member.pending_points,
            member.ledger_pending,
        )
        drifts.append(
            LedgerDrift.objects.create(
                shop_id=member.shop_id,
                member=member,
                balance=member.balance,
                ledger_balance=member.ledger_balance,
                pending_points=member.pending_points,
                ledger_pending=member.ledger_pending,
            )
        )
    return DriftReport(members_checked=checked, drifts=drifts)


# --- members --------------------------------------------------------------------------------


def _member_upsert(
    *,
    shop: Shop,
    customer_id: int,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
) -> tuple[Member, bool]:
    """Find or create the member; refresh profile fields (never balances, so no lock)."""
    email_clean = (email or "").strip().lower()
    member, created = Member.objects.get_or_create(
        shop=shop,
        customer_id=customer_id,
        defaults={
            "email": email_clean,
            "first_name": first_name or "",
            "last_name": last_name or "",
        },
    )
    if not created:
        changed = member_profile_apply(
            member, email=email_clean, first_name=first_name, last_name=last_name
        )
        if changed:
            member.save(update_fields=[*changed, "updated_at"])
    if created:
        member_changed_on_commit(shop_id=member.shop_id, customer_id=member.customer_id)
    return member, created


class MemberProfile(Protocol):
    """A member's profile fields: a ``Member`` or the batch path's locked-row record."""

    email: str
    first_name: str
    last_name: str
    redacted: bool


def member_profile_apply(
    member: MemberProfile, *, email: str, first_name: str | None, last_name: str | None
) -> list[str]:
    """Copy the non-empty profile values that differ onto ``member`` (not a redacted one);
    returns the fields changed. Shared by the per-delivery and the batch paths."""
    if member.redacted:
        return []
    changed = []
    for name, value in (("email", email), ("first_name", first_name), ("last_name", last_name)):
        if value and getattr(member, name) != value:
            setattr(member, name, value)
            changed.append(name)
    return changed


def _guest_orders_link(*, shop: Shop, member: Member, program: LoyaltyProgram) -> int:
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
        _order_credit(order=order, program=program)
    return len(orders)


def customer_webhook_process(*, shop: Shop, topic: str, payload: dict[str, Any]) -> None:
    """Handle customers/create, customers/update, customers/delete, customers/merge.

    ``customers/create`` creates the member, gives the welcome points once and credits the
    guest orders placed with the same email within the window.
    """
    customer_id = _int_or_none(payload.get("id"))
    if customer_id is None:
        return
    if topic == "customers/delete":
        customer_redact(shop=shop, customer_id=customer_id, email=payload.get("email"))
        return
    if topic not in ("customers/create", "customers/update"):
        logger.info("customer topic %s ignored", topic)
        return
    with transaction.atomic(durable=True):
        program = program_get_or_create(shop=shop)
        member, _ = _member_upsert(
            shop=shop,
            customer_id=customer_id,
            email=payload.get("email"),
            first_name=payload.get("first_name"),
            last_name=payload.get("last_name"),
        )
        if topic == "customers/create" and program.enabled and program.welcome_points:
            locked = _member_lock(shop_id=shop.pk, member_id=member.pk)
            _ledger_post(
                member=locked,
                amount=program.welcome_points,
                kind=Kind.WELCOME,
                key=f"welcome:{customer_id}",
                source_type="customer",
                source_id=customer_id,
                note="Welcome points",
                earned=program.welcome_points,
                activity_at=timezone.now(),
            )
        _guest_orders_link(shop=shop, member=member, program=program)


# --- earning --------------------------------------------------------------------------------


@dataclass
class EarningResult:
    base: Decimal
    weighted_base: Decimal
    multiplier: Decimal
    points: int


def _product_tags(*, shop: Shop, product_ids: Iterable[int | None]) -> dict[int, set[str]]:
    ids = {pid for pid in product_ids if pid is not None}
    if not ids:
        return {}
    rows = ProductTags.objects.filter(shop=shop, product_id__in=ids).values_list(
        "product_id", "tags"
    )
    return {pid: {str(t).strip().lower() for t in tags} for pid, tags in rows}


def _line_eligible(
    line: dict[str, Any], program: LoyaltyProgram, tags: dict[int, set[str]]
) -> bool:
    if line.get("gift_card"):
        return False
    product_id = _int_or_none(line.get("product_id"))
    excluded_ids = {_int_or_none(p) for p in program.excluded_product_ids}
    if product_id is not None and product_id in excluded_ids:
        return False
    excluded_tags = {str(t).strip().lower() for t in program.excluded_product_tags}
    return not (
        excluded_tags and product_id is not None and tags.get(product_id, set()) & excluded_tags
    )


def _tax_adjustment(tax: Decimal, *, program: LoyaltyProgram, taxes_included: bool) -> Decimal:
    """What tax adds to (or removes from) an amount so the base follows ``include_tax``."""
    if program.include_tax and not taxes_included:
        return tax
    if taxes_included and not program.include_tax:
        return -tax
    return ZERO


def order_earning_compute(
    *,
    shop: Shop,
    program: LoyaltyProgram,
    payload: dict[str, Any],
    placed_at: datetime | None,
    tags: dict[int, set[str]] | None = None,
    shop_events: list[BonusEvent] | None = None,
) -> EarningResult:
    """The order's earning base and points under the program and bonus events (pure read).

    The batch path (``loyalty.ingest``) passes the product ``tags`` and all the shop's bonus
    events (``shop_events``) it read once for many orders; the result is the same."""
    lines = payload.get("line_items") or []
    if tags is None:
        tags = _product_tags(
            shop=shop, product_ids=(_int_or_none(li.get("product_id")) for li in lines)
        )
    if not placed_at:
        events: list[BonusEvent] = []
    elif shop_events is not None:
        events = [e for e in shop_events if e.starts_at <= placed_at < e.ends_at]
    else:
        events = list(
            BonusEvent.objects.filter(shop=shop, starts_at__lte=placed_at, ends_at__gt=placed_at)
        )
    order_wide = max((e.multiplier for e in events if not e.product_tags), default=Decimal(1))
    taxes_included = bool(payload.get("taxes_included"))

    def line_multiplier(product_id: int | None) -> Decimal:
        best = order_wide
        product_tags = tags.get(product_id, set()) if product_id is not None else set()
        for event in events:
            wanted = {str(t).strip().lower() for t in event.product_tags}
            if wanted and wanted & product_tags:
                best = max(best, event.multiplier)
        return max(best, Decimal(1))

    base = ZERO
    weighted = ZERO
    top = Decimal(1)
    for line in lines:
        if not _line_eligible(line, program, tags):
            continue
        quantity = _int_or_none(line.get("quantity")) or 0
        amount = _shop_amount(line, "price") * quantity - _allocations(line)
        amount += _tax_adjustment(_tax(line), program=program, taxes_included=taxes_included)
        amount = max(amount, ZERO)
        mult = line_multiplier(_int_or_none(line.get("product_id")))
        top = max(top, mult)
        base += amount
        weighted += amount * mult
    if program.include_shipping:
        for ship in payload.get("shipping_lines") or []:
            if ship.get("is_removed"):
                continue
            amount = _shop_amount(ship, "price") - _allocations(ship)
            amount += _tax_adjustment(_tax(ship), program=program, taxes_included=taxes_included)
            amount = max(amount, ZERO)
            base += amount
            weighted += amount * order_wide
            top = max(top, order_wide)
    if base < program.minimum_order_amount or base <= 0:
        return EarningResult(base=base, weighted_base=weighted, multiplier=top, points=0)
    points = _points_round(weighted * program.points_per_currency_unit, program.rounding)
    return EarningResult(base=base, weighted_base=weighted, multiplier=top, points=max(points, 0))


def refund_base_compute(
    *,
    shop: Shop,
    program: LoyaltyProgram,
    payload: dict[str, Any],
    taxes_included: bool,
    tags: dict[int, set[str]] | None = None,
) -> Decimal:
    """The part of the earning base a refund gives back (see the module docstring).

    The batch path passes the product ``tags`` it read once for many deliveries."""
    rlis = payload.get("refund_line_items") or []
    lines = [rli.get("line_item") or {} for rli in rlis]
    if tags is None:
        tags = _product_tags(
            shop=shop, product_ids=(_int_or_none(li.get("product_id")) for li in lines)
        )
    total = ZERO
    for rli, line in zip(rlis, lines, strict=True):
        if not _line_eligible(line, program, tags):
            continue
        amount = _shop_amount(rli, "subtotal")
        amount += _tax_adjustment(
            _shop_amount(rli, "total_tax"), program=program, taxes_included=taxes_included
        )
        total += max(amount, ZERO)
    for adjustment in payload.get("order_adjustments") or []:
        kind = adjustment.get("kind") or ""
        if kind == "shipping_refund" and not program.include_shipping:
            continue
        total -= _shop_amount(adjustment, "amount")
    if program.include_shipping:
        for rsl in payload.get("refund_shipping_lines") or []:
            total += _shop_amount(rsl, "subtotal_amount")
    return max(total, ZERO)


def _order_upsert_locked(*, shop: Shop, order_id: int) -> LoyaltyOrder:
    LoyaltyOrder.objects.get_or_create(shop=shop, order_id=order_id)
    return order_qs_select_for_update().get(shop=shop, order_id=order_id)


def _order_snapshot(order: LoyaltyOrder, payload: dict[str, Any]) -> None:
    order.order_gid = payload.get("admin_graphql_api_id") or order.order_gid
    order.name = (payload.get("name") or order.name)[:64]
    total_set = payload.get("total_price_set") or {}
    order.currency = (
        (total_set.get("shop_money") or {}).get("currency_code") or payload.get("currency") or ""
    )[:3]
    order.placed_at = (
        _parse_dt(payload.get("processed_at"))
        or _parse_dt(payload.get("created_at"))
        or order.placed_at
    )
    order.taxes_included = bool(payload.get("taxes_included"))
    order.total_price = _shop_amount(payload, "total_price").quantize(CENT)
    order.subtotal_price = _shop_amount(payload, "subtotal_price").quantize(CENT)
    order.discount_codes = order_discount_codes(payload)
    if not order.email:
        order.email = (payload.get("email") or payload.get("contact_email") or "").strip().lower()


def _order_credit(*, order: LoyaltyOrder, program: LoyaltyProgram) -> None:
    """Post the order's due points to its member, then apply refunds received earlier.

    Precondition: the order row is locked and has a member; the state is OPEN or GUEST.
    """
    assert order.member_id is not None
    member = _member_lock(shop_id=order.shop_id, member_id=order.member_id)
    now = timezone.now()
    trigger = order.triggered_at or now
    amount = order.points_due
    pending = program.pending_days > 0
    release_at = trigger + timedelta(days=program.pending_days) if pending else None
    if amount > 0:
        _ledger_post(
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
    earned = order.points_earned
    if cancel:
        target = earned
    elif order.base > 0 and earned > 0:
        ratio = min(Decimal(1), order.refunded_base / order.base)
        target = int((earned * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    else:
        target = 0
    delta = min(target, earned) - order.points_reversed
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
        _ledger_post(
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
        _ledger_post(
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


def _order_is_trigger(program: LoyaltyProgram, topic: str, payload: dict[str, Any]) -> bool:
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


def _redemptions_attribute(*, shop: Shop, order_id: int, payload: dict[str, Any]) -> int:
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
    order_id = _int_or_none(payload.get("id"))
    if order_id is None:
        return
    when = triggered_at or timezone.now()
    customer = payload.get("customer") or {}
    customer_id = _int_or_none(customer.get("id")) if isinstance(customer, dict) else None
    new_member: Member | None = None
    with transaction.atomic(durable=True):
        program = program_get_or_create(shop=shop)
        order = _order_upsert_locked(shop=shop, order_id=order_id)
        _order_snapshot(order, payload)
        if customer_id is not None and order.member_id is None:
            member, created = _member_upsert(
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
        elif _order_is_trigger(program, topic, payload) and order.state == LoyaltyOrder.State.OPEN:
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
                _order_credit(order=order, program=program)
        if new_member is not None:
            _guest_orders_link(shop=shop, member=new_member, program=program)
        _redemptions_attribute(shop=shop, order_id=order_id, payload=payload)


def _order_cancel(*, order: LoyaltyOrder, program: LoyaltyProgram, when: datetime) -> None:
    """Precondition: the order row is locked."""
    if order.state == LoyaltyOrder.State.CANCELLED:
        return
    if order.state == LoyaltyOrder.State.CREDITED and order.member_id is not None:
        member = _member_lock(shop_id=order.shop_id, member_id=order.member_id)
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
    refund_id = _int_or_none(payload.get("id"))
    order_id = _int_or_none(payload.get("order_id"))
    if refund_id is None or order_id is None:
        return
    with transaction.atomic(durable=True):
        program = program_get_or_create(shop=shop)
        order = _order_upsert_locked(shop=shop, order_id=order_id)
        if OrderRefund.objects.filter(shop=shop, refund_id=refund_id).exists():
            return
        base = refund_base_compute(
            shop=shop, program=program, payload=payload, taxes_included=order.taxes_included
        ).quantize(CENT)
        OrderRefund.objects.create(shop=shop, order_id=order_id, refund_id=refund_id, base=base)
        order.refunded_base = F("refunded_base") + base
        order.save(update_fields=["refunded_base", "updated_at"])
        order.refresh_from_db()
        if order.state == LoyaltyOrder.State.CREDITED and order.member_id is not None:
            member = _member_lock(shop_id=shop.pk, member_id=order.member_id)
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
            member = _member_lock(shop_id=order.shop_id, member_id=order.member_id)
            points = order.points_pending
            key = f"order:{order.order_id}:release"
            common = {
                "member": member,
                "kind": Kind.PENDING_RELEASE,
                "source_type": "order",
                "source_id": order.order_id,
                "note": order.name,
            }
            _ledger_post(amount=-points, key=f"{key}:pending", bucket=PENDING, **common)
            _ledger_post(amount=points, key=f"{key}:available", **common)
            order.points_pending = 0
            order.save(update_fields=["points_pending", "updated_at"])
            released += 1
    return released


# --- manual adjustments, import, export ---------------------------------------------------


def points_adjust(
    *,
    shop: Shop,
    member: Member,
    amount: int,
    reason: str,
    actor: str,
    idempotency_key: str,
    audit: AuditRecord | None = None,
) -> LedgerEntry:
    """A merchant's manual adjustment. A reason is required; a deduction cannot take the
    balance below zero; the same idempotency key returns the first entry (and, with
    ``audit``, audits nothing more: only the entry's creation is audited, in its
    transaction)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAdjustment("A reason is required.", code="reason_required")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise InvalidAdjustment("The amount must be a non-zero whole number of points.")
    if not idempotency_key:
        raise InvalidAdjustment("An idempotency key is required.")
    key = f"manual:{idempotency_key}"
    with transaction.atomic(durable=True):
        locked = _member_lock(shop_id=shop.pk, member_id=member.pk)
        existing = LedgerEntry.objects.filter(shop=shop, idempotency_key=key).first()
        if existing is not None:
            return existing
        if amount < 0 and locked.balance + amount < 0:
            raise InsufficientPoints(f"The balance is {locked.balance} points.")
        entry = _ledger_post(
            member=locked,
            amount=amount,
            kind=Kind.MANUAL,
            key=key,
            source_type="manual",
            actor=actor,
            note=reason,
            earned=max(amount, 0),
            activity_at=timezone.now() if amount > 0 else None,
        )
        assert entry is not None
        if audit is not None:
            audit_record(
                shop=shop,
                actor=audit.actor,
                action="points.adjust",
                target_type="ledger_entry",
                target_id=entry.pk,
                summary=f"{entry.amount:+d} points for customer {locked.customer_id}: {reason}",
                changes={"balance": [locked.balance - entry.amount, locked.balance]},
            )
    member.refresh_from_db()
    return entry


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


IMPORT_COLUMNS = ("customer_id", "email", "first_name", "last_name", "points")


def members_import_balances(
    *, shop: Shop, csv_file: IO[str], actor: str, audit: AuditRecord | None = None
) -> ImportReport:
    """Import balances from another program. Columns: customer_id, email, first_name,
    last_name, points. The points imported for a customer converge to the file's value, so
    importing the same file twice changes nothing; invalid rows are reported, not applied.

    Without ``audit`` each row commits on its own (a long command-line import holds no
    locks for long). With ``audit`` the whole run is one transaction (one savepoint per
    row, so an invalid row is still skipped alone) and its single audit row commits with
    it, written only when the run created or changed something."""
    report = ImportReport()
    reader = csv.DictReader(csv_file)
    missing = {"customer_id", "points"} - set(reader.fieldnames or [])
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(sorted(missing))}"))
        return report
    if audit is None:
        _members_import_rows(shop=shop, reader=reader, actor=actor, report=report, nested=False)
        return report
    with transaction.atomic(durable=True):
        _members_import_rows(shop=shop, reader=reader, actor=actor, report=report, nested=True)
        if report.created or report.changed:
            audit_record(
                shop=shop,
                actor=audit.actor,
                action="members.import",
                target_type="import",
                summary=(
                    f"{report.rows} row(s): {report.created} new, {report.changed} changed, "
                    f"{report.unchanged} unchanged, {len(report.errors)} error(s)"
                ),
                changes={"errors": [None, [f"line {n}: {msg}" for n, msg in report.errors[:50]]]},
            )
    return report


def _members_import_rows(
    *, shop: Shop, reader: csv.DictReader, actor: str, report: ImportReport, nested: bool
) -> None:
    for line_no, row in enumerate(reader, start=2):
        report.rows += 1
        customer_id = _int_or_none((row.get("customer_id") or "").strip())
        points = _int_or_none((row.get("points") or "").strip())
        email = (row.get("email") or "").strip()
        if customer_id is None or customer_id <= 0:
            report.errors.append((line_no, "customer_id must be a positive whole number"))
            continue
        if points is None or points < 0:
            report.errors.append((line_no, "points must be a whole number >= 0"))
            continue
        if email and ("@" not in email or len(email) > 254):
            report.errors.append((line_no, "email is not valid"))
            continue
        try:
            outcome = _member_import_row(
                shop=shop,
                customer_id=customer_id,
                email=email,
                first_name=(row.get("first_name") or "").strip(),
                last_name=(row.get("last_name") or "").strip(),
                points=points,
                actor=actor,
                nested=nested,
            )
        except InsufficientPoints as exc:
            report.errors.append((line_no, str(exc)))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)


def _member_import_row(
    *,
    shop: Shop,
    customer_id: int,
    email: str,
    first_name: str,
    last_name: str,
    points: int,
    actor: str,
    nested: bool = False,
) -> str:
    # Nested: a savepoint inside the run's transaction, so a failing row undoes only itself.
    with transaction.atomic(durable=not nested):
        member, created = _member_upsert(
            shop=shop,
            customer_id=customer_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
        )
        locked = _member_lock(shop_id=shop.pk, member_id=member.pk)
        imported = LedgerEntry.objects.filter(member=locked, kind=Kind.IMPORT).aggregate(
            total=Coalesce(Sum("amount"), 0), count=Count("pk")
        )
        delta = points - imported["total"]
        if delta == 0:
            return "created" if created else "unchanged"
        if locked.balance + delta < 0:
            raise InsufficientPoints(
                f"lowering the imported points by {-delta} would overdraw the balance"
            )
        _ledger_post(
            member=locked,
            amount=delta,
            kind=Kind.IMPORT,
            key=f"import:{customer_id}:{imported['count'] + 1}",
            source_type="import",
            source_id=customer_id,
            actor=actor,
            note="Imported balance",
            earned=delta,
        )
    return "created" if created else "changed"


# --- expiry ---------------------------------------------------------------------------------


def points_expire_due(*, now: datetime | None = None) -> tuple[int, int]:
    """Expire the available balance of members without earning or redeeming for
    ``expiry_days`` and record a warning ``expiry_warning_days`` before. Returns (expired,
    warned). Idempotent per member and inactivity period."""
    now = now or timezone.now()
    expired = warned = 0
    for program in LoyaltyProgram.objects.filter(expiry_days__isnull=False, enabled=True):
        assert program.expiry_days is not None
        members = Member.objects.filter(shop_id=program.shop_id, balance__gt=0).annotate(
            activity=Coalesce("last_activity_at", "created_at")
        )
        cutoff = now - timedelta(days=program.expiry_days)
        warn_cutoff = cutoff + timedelta(days=program.expiry_warning_days)
        for member in members.filter(activity__lte=cutoff):
            expired += _member_expire(member_id=member.pk, shop_id=program.shop_id, cutoff=cutoff)
        for member in members.filter(activity__gt=cutoff, activity__lte=warn_cutoff):
            expires_at = member.activity + timedelta(days=program.expiry_days)
            _, created = ExpiryWarning.objects.get_or_create(
                member=member,
                expires_at=expires_at,
                defaults={"shop_id": program.shop_id, "points": member.balance},
            )
            warned += int(created)
    return expired, warned


def _member_expire(*, member_id: int, shop_id: int, cutoff: datetime) -> int:
    with transaction.atomic(durable=True):
        member = _member_lock(shop_id=shop_id, member_id=member_id)
        activity = member.last_activity_at or member.created_at
        if member.balance <= 0 or activity > cutoff:
            return 0
        entry = _ledger_post(
            member=member,
            amount=-member.balance,
            kind=Kind.EXPIRE,
            key=f"expire:{member.pk}:{int(activity.timestamp())}",
            source_type="expiry",
            note=f"No activity since {activity:%Y-%m-%d}",
        )
        return int(entry is not None)


# --- rewards and redemption -----------------------------------------------------------------

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def redemption_code_generate() -> str:
    """``BEAM-XXXX-XXXX`` from a CSPRNG (no 0/O/1/I, readable aloud)."""
    chars = [secrets.choice(CODE_ALPHABET) for _ in range(8)]
    return f"BEAM-{''.join(chars[:4])}-{''.join(chars[4:])}"


def _reward_price(reward: Reward, points: int | None) -> tuple[int, Decimal]:
    if reward.kind == Reward.Kind.VARIABLE:
        assert reward.points_per_unit and reward.value_per_unit
        if points is None or points <= 0:
            raise InvalidRedemption("Choose how many points to spend.")
        if reward.min_points and points < reward.min_points:
            raise InvalidRedemption(f"At least {reward.min_points} points.")
        if reward.max_points and points > reward.max_points:
            raise InvalidRedemption(f"At most {reward.max_points} points.")
        if points % reward.points_per_unit:
            raise InvalidRedemption(f"Points must be a multiple of {reward.points_per_unit}.")
        value = (Decimal(points) / reward.points_per_unit * reward.value_per_unit).quantize(CENT)
        return points, value
    assert reward.points_cost
    if points is not None and points != reward.points_cost:
        raise InvalidRedemption(f"This reward costs {reward.points_cost} points.")
    return reward.points_cost, reward.value


def reward_redeem(
    *,
    shop: Shop,
    member_id: int,
    reward_id: int,
    points: int | None = None,
    client_key: str,
    channel: str = "",
    code_valid_for: timedelta | None = None,
) -> Redemption:
    """Spend points on a reward: one transaction locks the member, checks the balance,
    deducts and creates the redemption; the discount is created after commit by the
    ``redemption_issue`` task (synchronously when Celery is eager, so the code is returned).
    The same ``client_key`` returns the first redemption. ``channel`` records where it was
    redeemed; ``code_valid_for`` shortens the code's life (checkout codes), so an unused one
    expires early and its points come back through ``redemptions_expire_due``."""
    client_key = (client_key or "").strip()
    if not client_key or len(client_key) > 100:
        raise InvalidRedemption("A client key (1-100 characters) is required.")
    from loyalty import tasks

    with transaction.atomic(durable=True):
        member = _member_lock(shop_id=shop.pk, member_id=member_id)
        redemption = Redemption.objects.filter(
            shop=shop, member=member, client_key=client_key
        ).first()
        if redemption is None:
            reward = Reward.objects.filter(shop=shop, pk=reward_id, active=True).first()
            if reward is None:
                raise RewardNotAvailable()
            program = program_get_or_create(shop=shop)
            if not program.enabled:
                raise RewardNotAvailable("The loyalty program is paused.")
            cost, value = _reward_price(reward, points)
            if member.balance < cost:
                raise InsufficientPoints(f"This reward needs {cost} points.")
            code = redemption_code_generate()
            while Redemption.objects.filter(shop=shop, code=code).exists():
                code = redemption_code_generate()
            now = timezone.now()
            valid_for = timedelta(days=reward.code_valid_days)
            if code_valid_for is not None:
                valid_for = min(valid_for, code_valid_for)
            redemption = Redemption.objects.create(
                shop=shop,
                member=member,
                reward=reward,
                points_spent=cost,
                value=value,
                currency=shop.currency,
                code=code,
                client_key=client_key,
                channel=channel,
                expires_at=now + valid_for,
            )
            _ledger_post(
                member=member,
                amount=-cost,
                kind=Kind.REDEEM,
                key=f"redemption:{redemption.pk}:redeem",
                source_type="redemption",
                source_id=redemption.pk,
                note=reward.name,
                redeemed=cost,
                activity_at=now,
            )
            enqueue_on_commit(tasks.redemption_issue, redemption.pk)
    redemption.refresh_from_db()
    return redemption


def _redemption_title(redemption: Redemption) -> str:
    """The discount's title in the store; it ends with the code so a lookup can tell the
    redemption's own discount from a merchant's discount that happens to use the code."""
    return f"Beam reward: {redemption.reward.name} ({redemption.code})"


def _redemption_discount_find(redemption: Redemption) -> DiscountCodeStatus | None:
    """The redemption's own discount in the store, if an earlier (maybe timed out) create
    made it."""
    found = discount_code_lookup(redemption.shop, code=redemption.code)
    if found is None or (found.title and not found.title.endswith(f"({redemption.code})")):
        return None
    return found


# How far the store's clock may be behind ours when looking for a credit made for a
# redemption (the store's ``createdAt`` against the redemption's ``created_at``).
STORE_CREDIT_CLOCK_SKEW = timedelta(minutes=5)


def _redemption_credit_find(redemption: Redemption) -> str | None:
    """The store credit transaction an earlier attempt made for the redemption although its
    answer was lost, if any.

    ``storeCreditAccountCredit`` takes no idempotency key nor (in 2026-10) any reference, so
    the credit is recognised by what it is: an ``ADJUSTMENT`` credit to this customer, of
    exactly this amount and currency, made since the redemption was created, and not already
    the transaction of another redemption. The oldest such credit is adopted. The residual
    risk is adopting a credit of the same amount the merchant gave the same customer by hand
    in that window (the customer then gets one credit instead of two): far better than
    crediting twice, and visible in the store's account history."""
    credits = store_credit_credits_since(
        redemption.shop,
        customer_gid=redemption.member.customer_gid,
        currency=redemption.currency,
        since=redemption.created_at - STORE_CREDIT_CLOCK_SKEW,
    )
    candidates = [
        c
        for c in credits
        if c.event == "ADJUSTMENT"
        and c.amount == redemption.value
        and c.currency == redemption.currency.upper()
    ]
    if not candidates:
        return None
    taken = set(
        Redemption.objects.filter(
            shop_id=redemption.shop_id, discount_id__in=[c.id for c in candidates]
        )
        .exclude(pk=redemption.pk)
        .values_list("discount_id", flat=True)
    )
    free = [c for c in candidates if c.id not in taken]
    return min(free, key=lambda c: (c.created_at, c.id)).id if free else None


def _redemption_find_in_store(redemption: Redemption) -> str | None:
    """The id of what an earlier attempt whose answer was lost made in the store: the
    redemption's discount, or its store credit transaction."""
    if redemption.reward.kind == Reward.Kind.STORE_CREDIT:
        return _redemption_credit_find(redemption)
    found = _redemption_discount_find(redemption)
    return found.id if found is not None else None


def _redemption_create_in_store(redemption: Redemption) -> str:
    """Create the platform object for the redemption; returns its id. Raises Shopify errors."""
    reward = redemption.reward
    shop = redemption.shop
    customer_gid = redemption.member.customer_gid
    if reward.kind == Reward.Kind.STORE_CREDIT:
        return store_credit_account_credit(
            shop, customer_gid=customer_gid, amount=redemption.value, currency=redemption.currency
        )
    common: dict[str, Any] = {
        "code": redemption.code,
        "title": _redemption_title(redemption),
        "customer_gid": customer_gid,
        "starts_at": redemption.created_at,
        "ends_at": redemption.expires_at,
        "minimum_subtotal": reward.minimum_subtotal,
    }
    if reward.kind == Reward.Kind.FREE_SHIPPING:
        created = discount_code_free_shipping_create(shop, **common)
        return created.id
    flags = {
        "combines_with_order": reward.combines_with_order,
        "combines_with_product": reward.combines_with_product,
        "combines_with_shipping": reward.combines_with_shipping,
    }
    if reward.kind == Reward.Kind.PERCENTAGE:
        created = discount_code_basic_create(
            shop, percentage=reward.value / Decimal(100), **common, **flags
        )
    elif reward.kind == Reward.Kind.FREE_PRODUCT:
        created = discount_code_basic_create(
            shop, variant_gids=[reward.variant_gid], **common, **flags
        )
    else:  # fixed amount, variable
        created = discount_code_basic_create(shop, amount=redemption.value, **common, **flags)
    return created.id


def redemption_issue(*, redemption_id: int, final_attempt: bool) -> Redemption:
    """Create the redemption's discount (the saga's second step). Runs outside any
    transaction: no row lock is held across the platform call.

    A rejection refunds the points; a transient error raises ``RedemptionIssueRetry`` until
    ``final_attempt``, then refunds. Before creating again after an earlier attempt, the code
    (or, for store credit, the credit transaction) is looked up in the store and adopted, so
    an ambiguous timeout never yields two codes nor credits the customer twice.
    """
    redemption = Redemption.objects.select_related("reward", "shop", "member").get(pk=redemption_id)
    if redemption.status != Redemption.Status.PENDING:
        return redemption
    earlier_attempt = redemption.attempts > 0
    Redemption.objects.filter(pk=redemption.pk).update(attempts=F("attempts") + 1)
    is_code = redemption.reward.kind != Reward.Kind.STORE_CREDIT
    try:
        if earlier_attempt:
            found_id = _redemption_find_in_store(redemption)
            if found_id is not None:
                return _redemption_mark_issued(redemption, discount_id=found_id)
        discount_id = _redemption_create_in_store(redemption)
    except ShopNotInstalled as exc:  # uninstalled meanwhile: nothing can be created
        return _redemption_refund(
            redemption=redemption,
            from_status=Redemption.Status.PENDING,
            to_status=Redemption.Status.FAILED,
            error=f"shop not installed: {exc}",
        )
    except (ShopifyUserError, ValueError) as exc:  # permanent: the input was refused
        if is_code and isinstance(exc, ShopifyUserError):
            # The client retries a create whose answer was lost; the retry is refused as a
            # duplicate although the first one made the code. Never refund a usable code.
            try:
                found = _redemption_discount_find(redemption)
            except ShopifyApiError as lookup_exc:
                if not final_attempt:
                    raise RedemptionIssueRetry(str(lookup_exc)) from lookup_exc
                found = None
            if found is not None:
                return _redemption_mark_issued(redemption, discount_id=found.id)
        return _redemption_refund(
            redemption=redemption,
            from_status=Redemption.Status.PENDING,
            to_status=Redemption.Status.FAILED,
            error=f"rejected by the store: {exc}",
        )
    except ShopifyApiError as exc:
        if not final_attempt:
            raise RedemptionIssueRetry(str(exc)) from exc
        try:
            found_id = _redemption_find_in_store(redemption)
        except ShopifyApiError:
            found_id = None
        if found_id is not None:
            return _redemption_mark_issued(redemption, discount_id=found_id)
        return _redemption_refund(
            redemption=redemption,
            from_status=Redemption.Status.PENDING,
            to_status=Redemption.Status.FAILED,
            error=f"store unavailable: {exc}",
        )
    return _redemption_mark_issued(redemption, discount_id=discount_id)


def _redemption_mark_issued(redemption: Redemption, *, discount_id: str) -> Redemption:
    Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.PENDING).update(
        status=Redemption.Status.ISSUED,
        discount_id=discount_id,
        issued_at=timezone.now(),
        error="",
        updated_at=timezone.now(),
    )
    member_changed_on_commit(shop_id=redemption.shop_id, customer_id=redemption.member.customer_id)
    redemption.refresh_from_db()
    return redemption


def _redemption_refund(
    *,
    redemption: Redemption,
    from_status: str,
    to_status: str,
    error: str = "",
    actor: str = "",
    audit: AuditRecord | None = None,
) -> Redemption:
    """Close the redemption and give its points back, once (the refund key is shared by
    failure, cancellation and expiry). With ``audit`` a cancellation is audited in the same
    transaction, only when this call closed it."""
    with transaction.atomic(durable=True):
        member = _member_lock(shop_id=redemption.shop_id, member_id=redemption.member_id)
        moved = Redemption.objects.filter(pk=redemption.pk, status=from_status).update(
            status=to_status,
            error=error[:2000],
            closed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if moved:
            _ledger_post(
                member=member,
                amount=redemption.points_spent,
                kind=Kind.REDEEM_REFUND,
                key=f"redemption:{redemption.pk}:refund",
                source_type="redemption",
                source_id=redemption.pk,
                actor=actor,
                note=f"{to_status}: {redemption.code}",
                redeemed=-redemption.points_spent,
            )
            if audit is not None:
                audit_record(
                    shop=redemption.shop,
                    actor=audit.actor,
                    action="redemption.cancel",
                    target_type="redemption",
                    target_id=redemption.pk,
                    summary=f"code {redemption.code}: {redemption.points_spent} points refunded",
                )
    redemption.refresh_from_db()
    return redemption


def redemption_cancel(
    *, shop: Shop, redemption_id: int, actor: str = "", audit: AuditRecord | None = None
) -> Redemption:
    """Cancel an issued, unused code: deactivate it in the store, then refund the points
    (and, with ``audit``, write the audit row in the refund's transaction). A platform
    failure raises and changes nothing."""
    redemption = (
        Redemption.objects.select_related("reward", "shop", "member")
        .filter(shop=shop, pk=redemption_id)
        .first()
    )
    if redemption is None or redemption.status != Redemption.Status.ISSUED:
        raise RedemptionNotCancellable()
    if redemption.reward.kind == Reward.Kind.STORE_CREDIT:
        raise RedemptionNotCancellable("Store credit was already given.")
    status = discount_code_lookup(shop, code=redemption.code)
    if status is not None and status.usage_count > 0:
        _redemption_mark_used(redemption)
        raise RedemptionNotCancellable("The code was already used.")
    if redemption.discount_id:
        discount_code_deactivate(shop, discount_id=redemption.discount_id)
    return _redemption_refund(
        redemption=redemption,
        from_status=Redemption.Status.ISSUED,
        to_status=Redemption.Status.CANCELLED,
        actor=actor,
        audit=audit,
    )


def _redemption_mark_used(redemption: Redemption) -> None:
    Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.ISSUED).update(
        status=Redemption.Status.USED, used_at=timezone.now(), updated_at=timezone.now()
    )
    member_changed_on_commit(shop_id=redemption.shop_id, customer_id=redemption.member.customer_id)


def redemptions_expire_due(*, now: datetime | None = None) -> int:
    """Deactivate issued codes past their end that were never used and refund their points;
    a code the store reports as used is marked used instead. Idempotent."""
    now = now or timezone.now()
    due = (
        Redemption.objects.select_related("reward", "shop", "member")
        .filter(
            status=Redemption.Status.ISSUED,
            expires_at__lte=now,
            shop__uninstalled_at__isnull=True,  # no API calls for an uninstalled shop
        )
        .exclude(reward__kind=Reward.Kind.STORE_CREDIT)
    )
    expired = 0
    for redemption in due:
        try:
            status = discount_code_lookup(redemption.shop, code=redemption.code)
            if status is not None and status.usage_count > 0:
                _redemption_mark_used(redemption)
                continue
            if redemption.discount_id:
                discount_code_deactivate(redemption.shop, discount_id=redemption.discount_id)
        except (ShopifyApiError, ShopNotInstalled) as exc:
            logger.warning("redemption %s expiry postponed: %s", redemption.pk, exc)
            continue
        result = _redemption_refund(
            redemption=redemption,
            from_status=Redemption.Status.ISSUED,
            to_status=Redemption.Status.EXPIRED,
        )
        expired += int(result.status == Redemption.Status.EXPIRED)
    return expired


# --- product tags, compliance ---------------------------------------------------------------


def product_tags_record(*, shop: Shop, product_id: int, tags: Iterable[str] | str) -> None:
    """Remember a product's tags (from products/* webhooks) for exclusions and bonus events."""
    if isinstance(tags, str):
        tags = tags.split(",")
    clean = sorted({t.strip().lower() for t in tags if t and t.strip()})
    ProductTags.objects.update_or_create(shop=shop, product_id=product_id, defaults={"tags": clean})


def _member_for_customer(
    *, shop: Shop, customer_id: int | None, email: str | None
) -> Member | None:
    if customer_id is not None:
        member = Member.objects.filter(shop=shop, customer_id=customer_id).first()
        if member is not None:
            return member
    if email:
        return Member.objects.filter(shop=shop, email__iexact=email.strip()).first()
    return None


def customer_data_export(*, shop: Shop, customer_id: int, email: str | None) -> dict[str, Any]:
    """Everything Beam holds on one customer (compliance customers/data_request)."""
    member = _member_for_customer(shop=shop, customer_id=customer_id, email=email)
    if member is None:
        return {"customer_id": customer_id, "email": email, "member": None}

    def _iso(value: datetime | date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "customer_id": customer_id,
        "email": email,
        "member": {
            "customer_id": member.customer_id,
            "email": member.email,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "birthday": _iso(member.birthday),
            "balance": member.balance,
            "pending_points": member.pending_points,
            "lifetime_earned": member.lifetime_earned,
            "lifetime_redeemed": member.lifetime_redeemed,
            "created_at": _iso(member.created_at),
        },
        "ledger": [
            {
                "created_at": _iso(e.created_at),
                "amount": e.amount,
                "kind": e.kind,
                "bucket": e.bucket,
                "source_type": e.source_type,
                "source_id": e.source_id,
                "note": e.note,
            }
            for e in member.entries.order_by("pk")
        ],
        "orders": [
            {
                "order_id": o.order_id,
                "name": o.name,
                "points_earned": o.points_earned,
                "points_reversed": o.points_reversed,
                "state": o.state,
            }
            for o in member.orders.order_by("pk")
        ],
        "redemptions": [
            {
                "code": r.code,
                "reward": r.reward.name,
                "points_spent": r.points_spent,
                "value": str(r.value),
                "currency": r.currency,
                "status": r.status,
                "created_at": _iso(r.created_at),
            }
            for r in member.redemptions.select_related("reward").order_by("pk")
        ],
    }


def customer_redact(*, shop: Shop, customer_id: int, email: str | None) -> None:
    """Erase the customer's personal data; anonymous ledger totals stay (customers/redact)."""
    with transaction.atomic(durable=True):
        member = _member_for_customer(shop=shop, customer_id=customer_id, email=email)
        emails = {e.strip().lower() for e in (email, member.email if member else None) if e}
        if member is not None:
            member.email = ""
            member.first_name = ""
            member.last_name = ""
            member.birthday = None
            member.redacted = True
            member.save(
                update_fields=[
                    "email",
                    "first_name",
                    "last_name",
                    "birthday",
                    "redacted",
                    "updated_at",
                ]
            )
            member_changed_on_commit(shop_id=shop.pk, customer_id=member.customer_id)
        orders = LoyaltyOrder.objects.filter(shop=shop)
        match = Q(customer_id=customer_id)
        if emails:
            match |= Q(email__in=emails)
        orders.filter(match).update(email="")


def shop_data_erase(*, shop: Shop) -> None:
    """Erase every loyalty row of the shop (shop/redact). The only path that deletes ledger
    entries: the shop's data must go entirely."""
    with transaction.atomic(durable=True):
        for model in (LedgerDrift, ExpiryWarning, Redemption, OrderRefund, LoyaltyOrder):
            model.objects.filter(shop=shop).delete()
        models.QuerySet.delete(LedgerEntry.objects.filter(shop=shop))
        for model in (Member, Reward, BonusEvent, ProductTags, LoyaltyProgram):
            model.objects.filter(shop=shop).delete()
        shop_members_changed_on_commit(shop_id=shop.pk)


# --- embedded admin: configuration changes, each audited ----------------------------------
# The admin's forms validate input for people; these services re-check the rules that must
# hold whatever the caller (the database constraints back them), lock the row they change,
# and write the ``AuditEvent`` in the same transaction.

PROGRAM_EDITABLE_FIELDS = (
    "enabled",
    "points_per_currency_unit",
    "rounding",
    "include_shipping",
    "include_tax",
    "excluded_product_ids",
    "excluded_product_tags",
    "minimum_order_amount",
    "earn_trigger",
    "pending_days",
    "welcome_points",
    "negative_balance_policy",
    "guest_link_window_days",
    "expiry_days",
    "expiry_warning_days",
)
REWARD_EDITABLE_FIELDS = (
    "name",
    "kind",
    "points_cost",
    "value",
    "variant_gid",
    "points_per_unit",
    "value_per_unit",
    "min_points",
    "max_points",
    "minimum_subtotal",
    "code_valid_days",
    "combines_with_order",
    "combines_with_product",
    "combines_with_shipping",
    "active",
)
BONUS_EVENT_EDITABLE_FIELDS = ("name", "multiplier", "starts_at", "ends_at", "product_tags")


def _changes_apply(obj: models.Model, data: dict[str, Any], allowed: Iterable[str]) -> dict:
    """Set the allowed fields of ``data`` on ``obj``; return ``{field: [before, after]}``."""
    changes: dict[str, list[Any]] = {}
    for name in allowed:
        if name not in data:
            continue
        before, after = getattr(obj, name), data[name]
        if before != after:
            changes[name] = [before, after]
            setattr(obj, name, after)
    unknown = set(data) - set(allowed)
    if unknown:
        raise InvalidConfiguration(
            f"Unknown setting(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0]
        )
    return changes


def _program_check(program: LoyaltyProgram) -> None:
    if program.points_per_currency_unit is None or program.points_per_currency_unit < 0:
        raise InvalidConfiguration(
            "The earning rate cannot be negative.", field="points_per_currency_unit"
        )
    if program.minimum_order_amount is not None and program.minimum_order_amount < 0:
        raise InvalidConfiguration(
            "The minimum order cannot be negative.", field="minimum_order_amount"
        )
    if program.expiry_days is not None and program.expiry_days < 1:
        raise InvalidConfiguration("Points expire after at least 1 day.", field="expiry_days")
    if program.expiry_days and program.expiry_warning_days >= program.expiry_days:
        raise InvalidConfiguration(
            "The warning must come before the points expire.", field="expiry_warning_days"
        )


def _program_lock(shop: Shop) -> LoyaltyProgram:
    program_get_or_create(shop=shop)
    return LoyaltyProgram.objects.select_for_update().get(shop=shop)


def program_update(
    *, shop: Shop, actor: str, data: dict[str, Any], action: str = "program.update"
) -> LoyaltyProgram:
    """Change program settings (earning rule, welcome points, expiry, on/off). Nothing is
    written, audit included, when no value changes."""
    with transaction.atomic(durable=True):
        program = _program_lock(shop)
        changes = _changes_apply(program, data, PROGRAM_EDITABLE_FIELDS)
        if not changes:
            return program
        _program_check(program)
        program.save(update_fields=[*changes, "updated_at"])
        audit_record(
            shop=shop,
            actor=actor,
            action=action,
            target_type="program",
            target_id=program.pk,
            summary=", ".join(sorted(changes)),
            changes=changes,
        )
    return program


def program_set_enabled(*, shop: Shop, actor: str, enabled: bool) -> LoyaltyProgram:
    """Turn the program on or off (off: orders earn nothing, see ``NOT_ELIGIBLE``)."""
    return program_update(
        shop=shop,
        actor=actor,
        data={"enabled": bool(enabled)},
        action="program.enable" if enabled else "program.disable",
    )


def branding_update(
    *,
    shop: Shop,
    actor: str,
    branding: dict[str, Any] | None = None,
    texts: dict[str, Any] | None = None,
    landing: dict[str, Any] | None = None,
) -> LoyaltyProgram:
    """Store the launcher/panel branding (validated by ``loyalty.branding``), shopper text
    overrides and landing page content. Raises ``InvalidBranding`` and changes nothing."""
    from loyalty.branding import branding_validate

    cleaned = branding_validate(branding) if branding is not None else None
    with transaction.atomic(durable=True):
        program = _program_lock(shop)
        data: dict[str, Any] = {}
        if cleaned is not None:
            data["branding"] = cleaned
        if texts is not None:
            data["texts"] = texts
        if landing is not None:
            data["landing"] = landing
        changes = _changes_apply(program, data, ("branding", "texts", "landing"))
        if not changes:
            return program
        program.save(update_fields=[*changes, "updated_at"])
        detail = {}
        for name, (before, after) in changes.items():
            if isinstance(after, dict):
                keys = sorted(set(before or {}) | set(after))
                detail.update(
                    {
                        f"{name}.{k}": [(before or {}).get(k), after.get(k)]
                        for k in keys
                        if (before or {}).get(k) != after.get(k)
                    }
                )
        audit_record(
            shop=shop,
            actor=actor,
            action=(
                "branding.update"
                if "branding" in changes
                else "texts.update"
                if "texts" in changes
                else "landing.update"
            ),
            target_type="program",
            target_id=program.pk,
            summary=", ".join(sorted(detail)) or ", ".join(sorted(changes)),
            changes=detail,
        )
    return program


def _reward_check(reward: Reward) -> None:
    kind = reward.kind
    if kind not in Reward.Kind.values:
        raise InvalidConfiguration("Choose a reward type.", field="kind")
    if not (reward.name or "").strip():
        raise InvalidConfiguration("The reward needs a name.", field="name")
    if kind == Reward.Kind.VARIABLE:
        if not reward.points_per_unit or reward.points_per_unit <= 0:
            raise InvalidConfiguration(
                "Points per step must be at least 1.", field="points_per_unit"
            )
        if not reward.value_per_unit or reward.value_per_unit <= 0:
            raise InvalidConfiguration(
                "The value per step must be more than 0.", field="value_per_unit"
            )
        if reward.min_points and reward.max_points and reward.min_points > reward.max_points:
            raise InvalidConfiguration(
                "The minimum points cannot exceed the maximum.", field="max_points"
            )
        return
    if not reward.points_cost or reward.points_cost <= 0:
        raise InvalidConfiguration("The points cost must be at least 1.", field="points_cost")
    if kind in (Reward.Kind.FIXED_AMOUNT, Reward.Kind.STORE_CREDIT) and reward.value <= 0:
        raise InvalidConfiguration("The value must be more than 0.", field="value")
    if kind == Reward.Kind.PERCENTAGE and not (0 < reward.value <= 100):
        raise InvalidConfiguration("A percentage is between 0 and 100.", field="value")
    if kind == Reward.Kind.FREE_PRODUCT and not reward.variant_gid.startswith(
        "gid://shopify/ProductVariant/"
    ):
        raise InvalidConfiguration(
            "Give the product variant (gid://shopify/ProductVariant/…).", field="variant_gid"
        )


def _config_create(
    *,
    shop: Shop,
    actor: str,
    obj: Any,
    data: dict[str, Any],
    fields: Iterable[str],
    check: Callable[[Any], None],
    target_type: str,
    summary: Callable[[Any], str],
) -> Any:
    """Create a shop's configuration row from ``data`` and audit it, in one transaction."""
    with transaction.atomic(durable=True):
        changes = _changes_apply(obj, data, fields)
        check(obj)
        obj.save()
        audit_record(
            shop=shop,
            actor=actor,
            action=f"{target_type}.create",
            target_type=target_type,
            target_id=obj.pk,
            summary=summary(obj),
            changes={k: [None, v[1]] for k, v in changes.items()},
        )
    return obj


def _config_update(
    *,
    shop: Shop,
    actor: str,
    queryset: Any,
    pk: int,
    missing: BeamError,
    data: dict[str, Any],
    fields: Iterable[str],
    check: Callable[[Any], None],
    target_type: str,
    summary: Callable[[Any], str],
) -> Any:
    """Change a shop's configuration row under its lock and audit what changed (nothing is
    written when nothing changed)."""
    with transaction.atomic(durable=True):
        obj = queryset.select_for_update().filter(shop=shop, pk=pk).first()
        if obj is None:
            raise missing
        changes = _changes_apply(obj, data, fields)
        if not changes:
            return obj
        check(obj)
        obj.save(update_fields=list(changes))
        audit_record(
            shop=shop,
            actor=actor,
            action=f"{target_type}.update",
            target_type=target_type,
            target_id=obj.pk,
            summary=summary(obj),
            changes=changes,
        )
    return obj


def _reward_summary(reward: Reward) -> str:
    return reward.name


def _bonus_event_summary(event: BonusEvent) -> str:
    return event.name or f"x{event.multiplier}"


def reward_create(*, shop: Shop, actor: str, data: dict[str, Any]) -> Reward:
    """Add a reward to the catalogue."""
    return _config_create(
        shop=shop,
        actor=actor,
        obj=Reward(shop=shop),
        data=data,
        fields=REWARD_EDITABLE_FIELDS,
        check=_reward_check,
        target_type="reward",
        summary=_reward_summary,
    )


def reward_update(*, shop: Shop, actor: str, reward_id: int, data: dict[str, Any]) -> Reward:
    """Change a reward; issued codes keep the terms they were issued with."""
    return _config_update(
        shop=shop,
        actor=actor,
        queryset=Reward.objects,
        pk=reward_id,
        missing=RewardNotAvailable(),
        data=data,
        fields=REWARD_EDITABLE_FIELDS,
        check=_reward_check,
        target_type="reward",
        summary=_reward_summary,
    )


def _bonus_event_check(event: BonusEvent) -> None:
    if event.multiplier is None or event.multiplier < 1:
        raise InvalidConfiguration("The multiplier must be at least 1.", field="multiplier")
    if event.starts_at is None or event.ends_at is None:
        raise InvalidConfiguration("Give a start and an end.", field="starts_at")
    if event.ends_at <= event.starts_at:
        raise InvalidConfiguration("The event must end after it starts.", field="ends_at")


def bonus_event_create(*, shop: Shop, actor: str, data: dict[str, Any]) -> BonusEvent:
    """Schedule a points multiplier window."""
    return _config_create(
        shop=shop,
        actor=actor,
        obj=BonusEvent(shop=shop),
        data=data,
        fields=BONUS_EVENT_EDITABLE_FIELDS,
        check=_bonus_event_check,
        target_type="bonus_event",
        summary=_bonus_event_summary,
    )


def bonus_event_update(
    *, shop: Shop, actor: str, bonus_event_id: int, data: dict[str, Any]
) -> BonusEvent:
    """Change a bonus event (orders already credited keep their points)."""
    return _config_update(
        shop=shop,
        actor=actor,
        queryset=BonusEvent.objects,
        pk=bonus_event_id,
        missing=InvalidConfiguration("No such bonus event.", field="id"),
        data=data,
        fields=BONUS_EVENT_EDITABLE_FIELDS,
        check=_bonus_event_check,
        target_type="bonus_event",
        summary=_bonus_event_summary,
    )


def bonus_event_delete(*, shop: Shop, actor: str, bonus_event_id: int) -> None:
    """Remove a bonus event (orders already credited keep their points)."""
    with transaction.atomic(durable=True):
        event = BonusEvent.objects.select_for_update().filter(shop=shop, pk=bonus_event_id).first()
        if event is None:
            raise InvalidConfiguration("No such bonus event.", field="id")
        audit_record(
            shop=shop,
            actor=actor,
            action="bonus_event.delete",
            target_type="bonus_event",
            target_id=event.pk,
            summary=_bonus_event_summary(event),
            changes={
                "multiplier": [event.multiplier, None],
                "starts_at": [event.starts_at, None],
                "ends_at": [event.ends_at, None],
            },
        )
        event.delete()


STARTER_REWARDS: tuple[dict[str, Any], ...] = (
    {"name": "$5 off your order", "kind": "fixed_amount", "points_cost": 500, "value": 5},
    {"name": "Free shipping", "kind": "free_shipping", "points_cost": 800, "value": 0},
    {"name": "10% off your order", "kind": "percentage", "points_cost": 1000, "value": 10},
)


def program_onboard(
    *,
    shop: Shop,
    actor: str,
    points_per_currency_unit: Decimal,
    welcome_points: int,
    rewards: list[dict[str, Any]],
    branding: dict[str, Any],
    enabled: bool = True,
) -> LoyaltyProgram:
    """The first-run wizard in one transaction: earning rate, welcome points, starter
    rewards, branding, launch. Raises (and writes nothing) on any invalid part."""
    from loyalty.branding import branding_validate

    cleaned_branding = branding_validate(branding)
    if not 1 <= len(rewards) <= 5:
        raise InvalidConfiguration("Pick at least one starter reward.", field="rewards")
    with transaction.atomic(durable=True):
        program = _program_lock(shop)
        data = {
            "points_per_currency_unit": Decimal(points_per_currency_unit),
            "welcome_points": int(welcome_points),
            "branding": cleaned_branding,
            "enabled": bool(enabled),
        }
        changes = _changes_apply(
            program, data, ("points_per_currency_unit", "welcome_points", "branding", "enabled")
        )
        _program_check(program)
        program.onboarded_at = timezone.now()
        program.save(update_fields=[*changes, "onboarded_at", "updated_at"])
        created = []
        for spec in rewards:
            reward = Reward(shop=shop)
            _changes_apply(reward, spec, REWARD_EDITABLE_FIELDS)
            _reward_check(reward)
            reward.save()
            created.append(reward.name)
        audit_record(
            shop=shop,
            actor=actor,
            action="program.onboard",
            target_type="program",
            target_id=program.pk,
            summary=f"launched with {len(created)} reward(s)",
            changes={**changes, "rewards": [None, created]},
        )
    return program


def member_points_adjust(
    *, shop: Shop, member: Member, amount: int, reason: str, actor: str, idempotency_key: str
) -> LedgerEntry:
    """``points_adjust`` from the admin, audited once per ledger entry in the entry's own
    transaction (a repeated submit with the same key neither moves points nor audits)."""
    return points_adjust(
        shop=shop,
        member=member,
        amount=amount,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        audit=AuditRecord(actor=actor),
    )


@dataclass
class ImportPreviewRow:
    line: int
    customer_id: str
    email: str
    points: str
    outcome: str  # new | change | unchanged | error
    delta: int = 0
    error: str = ""


def members_import_preview(*, shop: Shop, csv_text: str) -> list[ImportPreviewRow]:
    """What ``members_import_balances`` would do with this file, row by row, without
    writing: the same validation, and each valid row's change of imported points."""
    reader = csv.DictReader(csv_text.splitlines())
    missing = {"customer_id", "points"} - set(reader.fieldnames or [])
    if missing:
        return [
            ImportPreviewRow(
                line=1,
                customer_id="",
                email="",
                points="",
                outcome="error",
                error=f"missing column(s): {', '.join(sorted(missing))}",
            )
        ]
    raw = list(enumerate(reader, start=2))
    ids = {cid for _, row in raw if (cid := _int_or_none((row.get("customer_id") or "").strip()))}
    members = {
        m.customer_id: m for m in Member.objects.filter(shop=shop, customer_id__in=ids).only("pk")
    }
    imported = dict(
        LedgerEntry.objects.filter(shop=shop, member__customer_id__in=ids, kind=Kind.IMPORT)
        .values_list("member__customer_id")
        .annotate(total=Sum("amount"))
    )
    balances = dict(
        Member.objects.filter(shop=shop, customer_id__in=ids).values_list("customer_id", "balance")
    )
    rows: list[ImportPreviewRow] = []
    seen: dict[int, int] = {}
    for line_no, row in raw:
        cid_text = (row.get("customer_id") or "").strip()
        pts_text = (row.get("points") or "").strip()
        email = (row.get("email") or "").strip()
        out = ImportPreviewRow(
            line=line_no, customer_id=cid_text, email=email, points=pts_text, outcome="error"
        )
        rows.append(out)
        customer_id = _int_or_none(cid_text)
        points = _int_or_none(pts_text)
        if customer_id is None or customer_id <= 0:
            out.error = "customer_id must be a positive whole number"
            continue
        if points is None or points < 0:
            out.error = "points must be a whole number >= 0"
            continue
        if email and ("@" not in email or len(email) > 254):
            out.error = "email is not valid"
            continue
        previous = seen.get(customer_id, imported.get(customer_id, 0))
        delta = points - previous
        if balances.get(customer_id, 0) + delta < 0:
            out.error = f"lowering the imported points by {-delta} would overdraw the balance"
            continue
        first_sight = customer_id not in seen
        seen[customer_id] = points
        out.delta = delta
        if customer_id not in members and first_sight:
            out.outcome = "new"
        else:
            out.outcome = "change" if delta else "unchanged"
    return rows


def members_import_audited(*, shop: Shop, csv_text: str, actor: str) -> ImportReport:
    """``members_import_balances`` from the admin: one transaction and one audit row for the
    run (none when nothing changed)."""
    import io

    return members_import_balances(
        shop=shop, csv_file=io.StringIO(csv_text), actor=actor, audit=AuditRecord(actor=actor)
    )


def redemption_cancel_audited(*, shop: Shop, redemption_id: int, actor: str) -> Redemption:
    """``redemption_cancel`` from the admin, audited in the refund's transaction."""
    return redemption_cancel(
        shop=shop, redemption_id=redemption_id, actor=actor, audit=AuditRecord(actor=actor)
    )


def deliveries_replay_audited(
    *, shop: Shop, actor: str, delivery_ids: list[int] | None = None
) -> dict[str, int]:
    """Replay the shop's failed webhook deliveries (all, or the given ones of this shop).

    The admin's change is putting the deliveries back in the queue: that and its audit row
    commit together (no audit row when there was nothing to replay). Each delivery then runs
    in the services' own transactions, as a worker would run it; the outcome is returned
    and shown on the deliveries page."""
    from merchants.inbox import REPLAYABLE, delivery_process
    from merchants.models import WebhookDelivery

    with transaction.atomic(durable=True):
        qs = WebhookDelivery.objects.filter(shop=shop, status__in=REPLAYABLE)
        if delivery_ids is not None:
            qs = qs.filter(pk__in=list(delivery_ids))
        ids = list(qs.order_by("pk").select_for_update().values_list("pk", flat=True))
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                status=WebhookDelivery.Status.RECEIVED, next_attempt_at=None
            )
            audit_record(
                shop=shop,
                actor=actor,
                action="webhooks.replay",
                target_type="webhook_delivery",
                target_id=",".join(str(i) for i in ids)[:64],
                summary=f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} queued again",
                changes={"deliveries": [None, ids]},
            )
    outcome: dict[str, int] = {}
    for delivery_id in ids:
        status = delivery_process(delivery_id=delivery_id) or "not_claimed"
        outcome[status] = outcome.get(status, 0) + 1
    logger.info("replayed %d deliveries of %s: %s", len(ids), shop.domain, outcome)
    return outcome
