"""The crediting engine: the one path by which order and refund deliveries change balances.

A batch of deliveries of one shop is handled in one transaction, in three steps:

1. **Load and lock** what the batch touches: its orders (created as ``get_or_create``
   would, locked in pk order), the guest orders a new member may claim, then its members
   (created from their first order, locked in pk order), the refunds already recorded, the
   product tags and bonus events.
2. **Fold** the deliveries, in delivery order, through planning steps over that in-memory
   state, using the pure rules (``loyalty.rules``): two events of one order or member in a
   batch compose exactly as if run one by one. The fold only collects rows to write.
3. **Apply** the plan: multi-row inserts of refunds and ledger entries (``ON CONFLICT DO
   NOTHING``: the idempotency keys are unique constraints) and one update each of the
   changed members and orders (``core.db``), then the attribution of reward codes.

One delivery is a batch of one (``order_webhook_process``, ``refund_webhook_process``).
A ledger key already taken (the database says so before anything is written) makes the
batch run again with that key treated as posted, which is what ``ledger_post`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from core.db import rows_insert, rows_update
from loyalty.lock_objects import member_qs_select_for_update, order_qs_select_for_update
from loyalty.member_versions import members_changed_on_commit
from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
)
from loyalty.payloads import OrderFacts, RefundFacts, order_parse, refund_parse
from loyalty.rules.earning import (
    earning_compute,
    order_product_ids,
    refund_base_compute,
    refund_product_ids,
)
from loyalty.rules.reversal import order_reversal_plan
from loyalty.services.earning import product_tags_read
from loyalty.services.ledger import (
    AVAILABLE,
    CENT,
    PENDING,
    Kind,
    ledger_effect_apply,
    ledger_entry_new,
)
from loyalty.services.members import member_profile_apply
from loyalty.services.orders import (
    order_is_trigger,
    order_snapshot,
    redemptions_attribute,
)
from loyalty.services.program_config import program_get_or_create
from merchants.models import Shop

ORDER_TOPICS = frozenset(
    {"orders/paid", "orders/fulfilled", "orders/cancelled", "orders/create", "orders/updated"}
)
REFUND_TOPIC = "refunds/create"
GUEST = LoyaltyOrder.State.GUEST
OPEN = LoyaltyOrder.State.OPEN
CREDITED = LoyaltyOrder.State.CREDITED
# Order columns the engine writes (all but the key and the creation time).
ORDER_FIELDS = [
    f.name
    for f in LoyaltyOrder._meta.concrete_fields
    if not f.primary_key and f.name not in ("shop", "order_id", "created_at")
]
MEMBER_FIELDS = [
    "email",
    "first_name",
    "last_name",
    "balance",
    "pending_points",
    "lifetime_earned",
    "lifetime_redeemed",
    "negative_balance_allowed",
    "last_activity_at",
]
MAX_RUNS = 4
T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """One order or refund delivery as the engine sees it; batches run in list order."""

    topic: str
    payload: dict[str, Any]
    triggered_at: datetime | None = None


class _KeysTaken(Exception):
    def __init__(self, keys: set[str]) -> None:
        super().__init__(f"ledger keys already used: {sorted(keys)[:5]}")
        self.keys = keys


@dataclass
class _State:
    """What the batch reads (locked) and changes in memory."""

    shop: Shop
    program: LoyaltyProgram
    now: datetime
    orders: dict[int, LoyaltyOrder]  # by platform order id
    members: dict[int, Member]  # by pk
    by_customer: dict[int, Member]
    created: set[int]  # pks of members this batch created, not yet claimed by a delivery
    refunds: dict[int, list[OrderRefund]]  # by order id: recorded ones (to re-base) and new
    recorded: set[int]  # refund ids
    tags: dict[int, set[str]]
    events: list[BonusEvent]
    taken_keys: set[str]  # ledger keys already used: posting them again is a no-op


@dataclass
class _Plan:
    entries: list[LedgerEntry] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    refunds: list[OrderRefund] = field(default_factory=list)
    rebased: dict[int, OrderRefund] = field(default_factory=dict)  # recorded ones, by pk
    members: dict[int, Member] = field(default_factory=dict)  # changed, by pk
    orders: dict[int, LoyaltyOrder] = field(default_factory=dict)  # changed, by pk
    attributions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def post(
        self,
        state: _State,
        member: Member,
        *,
        amount: int,
        kind: str,
        key: str,
        bucket: str = AVAILABLE,
        release_at: datetime | None = None,
        source_type: str,
        source_id: str | int,
        note: str,
        earned: int = 0,
        activity_at: datetime | None = None,
        allow_negative: bool = False,
    ) -> None:
        """Plan one ledger entry and its effect on the member (``ledger_post``'s rule: no
        entry for zero points, nothing for a key already used)."""
        if amount == 0 or key in self.keys or key in state.taken_keys:
            return
        self.keys.add(key)
        self.entries.append(
            ledger_entry_new(
                member=member,
                amount=amount,
                kind=kind,
                key=key,
                bucket=bucket,
                release_at=release_at,
                source_type=source_type,
                source_id=source_id,
                note=note,
            )
        )
        ledger_effect_apply(
            member,
            amount=amount,
            bucket=bucket,
            earned=earned,
            activity_at=activity_at,
            allow_negative=allow_negative,
        )
        self.members[member.pk] = member


# --- entry points ------------------------------------------------------------------------


def deliveries_credit(*, shop: Shop, deliveries: Sequence[Delivery]) -> None:
    """Handle a shop's order and refund deliveries, in list order, in one transaction
    (``atomic(durable=True)``: this owns it). Idempotent like each delivery's handling."""
    parsed: list[tuple[Delivery, OrderFacts | RefundFacts]] = []
    for delivery in deliveries:
        if delivery.topic == REFUND_TOPIC:
            facts: OrderFacts | RefundFacts | None = refund_parse(delivery.payload)
        elif delivery.topic in ORDER_TOPICS:
            facts = order_parse(delivery.payload)
        else:
            raise ValueError(f"not a crediting topic: {delivery.topic!r}")
        if facts is not None:
            parsed.append((delivery, facts))
    if not parsed:
        return

    def run(taken: set[str]) -> None:
        program = program_get_or_create(shop=shop)
        state = _state_load(shop, program, parsed, taken)
        plan = _Plan()
        for delivery, facts in parsed:
            if isinstance(facts, RefundFacts):
                _refund_fold(state, plan, facts)
            else:
                _order_fold(state, plan, delivery, facts)
        _plan_apply(state, plan)

    _runs(run, durable=True)


def order_webhook_process(
    *, shop: Shop, topic: str, payload: dict[str, Any], triggered_at: datetime | None
) -> None:
    """Handle one order delivery (orders/paid, fulfilled, cancelled, create, updated): the
    trigger credits an OPEN order once; a cancelled order never earns; a cancellation
    reverses what the order still holds. A batch of one."""
    deliveries_credit(shop=shop, deliveries=[Delivery(topic, payload, triggered_at)])


def refund_webhook_process(*, shop: Shop, payload: dict[str, Any]) -> None:
    """Handle refunds/create: record the refund once and reverse points in proportion; a
    refund arriving before its order is credited is applied at the credit. A batch of one."""
    deliveries_credit(shop=shop, deliveries=[Delivery(REFUND_TOPIC, payload)])


def guest_orders_link(*, shop: Shop, member: Member, program: LoyaltyProgram) -> int:
    """Credit the held guest orders with the member's email placed within the window.

    Precondition: inside the caller's transaction (this runs in a savepoint)."""
    if not member.email:
        return 0

    def run(taken: set[str]) -> int:
        orders = _guest_orders_lock(shop, program, {member.email}, {})
        locked = member_qs_select_for_update().get(pk=member.pk)
        state = _State(
            shop=shop,
            program=program,
            now=timezone.now(),
            orders=orders,
            members={locked.pk: locked},
            by_customer={locked.customer_id: locked},
            created=set(),
            refunds=_refunds_read(shop, orders.values()),
            recorded=set(),
            tags={},
            events=[],
            taken_keys=taken,
        )
        plan = _Plan()
        linked = _guest_link(state, plan, locked)
        _plan_apply(state, plan)
        return linked

    return _runs(run, durable=False)


def _runs(run: Callable[[set[str]], T], *, durable: bool) -> T:
    taken: set[str] = set()
    for _ in range(MAX_RUNS):
        try:
            with transaction.atomic(durable=durable):
                return run(taken)
        except _KeysTaken as exc:
            taken |= exc.keys
    raise RuntimeError("crediting kept finding ledger keys taken")


# --- load --------------------------------------------------------------------------------


def _state_load(
    shop: Shop,
    program: LoyaltyProgram,
    parsed: list[tuple[Delivery, OrderFacts | RefundFacts]],
    taken: set[str],
) -> _State:
    """Create the batch's missing orders and members, lock them (orders first, pk order)."""
    order_ids = sorted({facts.order_id for _, facts in parsed})
    rows_insert(
        [LoyaltyOrder(shop=shop, order_id=order_id) for order_id in order_ids],
        conflict=("shop", "order_id"),
    )
    orders = {
        o.order_id: o
        for o in order_qs_select_for_update().filter(shop=shop, order_id__in=order_ids)
    }
    # Which customers become members: those of orders that have none yet, in order.
    holder = {order_id: o.member_id for order_id, o in orders.items()}
    first: dict[int, OrderFacts] = {}
    for _, facts in parsed:
        if (
            isinstance(facts, OrderFacts)
            and facts.customer_id is not None
            and holder[facts.order_id] is None
        ):
            holder[facts.order_id] = -1
            first.setdefault(facts.customer_id, facts)
    known = dict(
        Member.objects.filter(shop=shop, customer_id__in=first).values_list("customer_id", "pk")
    )
    new = [
        Member(
            shop=shop,
            customer_id=customer_id,
            email=(facts.member_email or "").strip().lower(),
            first_name=facts.first_name or "",
            last_name=facts.last_name or "",
        )
        for customer_id, facts in sorted(first.items())
        if customer_id not in known
    ]
    emails = {m.email for m in new if m.email}
    if emails:
        orders.update(_guest_orders_lock(shop, program, emails, orders))
    created = {pk for (pk,) in rows_insert(new, conflict=("shop", "customer_id"))}
    pks = {o.member_id for o in orders.values() if o.member_id is not None} | created
    pks |= set(known.values())
    missing = [m.customer_id for m in new]
    pks |= set(
        Member.objects.filter(shop=shop, customer_id__in=missing).values_list("pk", flat=True)
    )
    members = {m.pk: m for m in member_qs_select_for_update().filter(pk__in=pks)}
    product_ids: set[int] = set()
    refund_ids: set[int] = set()
    for _, facts in parsed:
        if isinstance(facts, RefundFacts):
            product_ids |= refund_product_ids(facts.raw)
            refund_ids.add(facts.refund_id)
        else:
            product_ids |= order_product_ids(facts.raw)
    return _State(
        shop=shop,
        program=program,
        now=timezone.now(),
        orders=orders,
        members=members,
        by_customer={m.customer_id: m for m in members.values()},
        created=created,
        refunds=_refunds_read(shop, orders.values()),
        recorded=set(
            OrderRefund.objects.filter(shop=shop, refund_id__in=refund_ids).values_list(
                "refund_id", flat=True
            )
        ),
        tags=product_tags_read(shop=shop, product_ids=product_ids),
        events=list(BonusEvent.objects.filter(shop=shop)),
        taken_keys=taken,
    )


def _guest_orders_lock(
    shop: Shop, program: LoyaltyProgram, emails: set[str], held: dict[int, LoyaltyOrder]
) -> dict[int, LoyaltyOrder]:
    """Lock the guest orders new members with these emails may claim (not already held)."""
    since = timezone.now() - timedelta(days=program.guest_link_window_days)
    found = order_qs_select_for_update().filter(
        shop=shop, state=GUEST, member__isnull=True, email__in=emails, triggered_at__gte=since
    )
    return {o.order_id: o for o in found if o.order_id not in held}


def _refunds_read(shop: Shop, orders: Any) -> dict[int, list[OrderRefund]]:
    """The recorded refunds of the orders (their bases follow the order's tax setting)."""
    ids = [o.order_id for o in orders]
    refunds: dict[int, list[OrderRefund]] = {}
    for refund in OrderRefund.objects.filter(shop=shop, order_id__in=ids).order_by("pk"):
        refunds.setdefault(refund.order_id, []).append(refund)
    return refunds


# --- fold --------------------------------------------------------------------------------


def _order_fold(state: _State, plan: _Plan, delivery: Delivery, facts: OrderFacts) -> None:
    program, payload = state.program, facts.raw
    when = delivery.triggered_at or state.now
    order = state.orders[facts.order_id]
    taxes_included = order.taxes_included
    order_snapshot(order, payload)
    if order.taxes_included != taxes_included:
        _refunds_rebase(state, plan, order)
    new_member: Member | None = None
    if facts.customer_id is not None and order.member_id is None:
        member = state.by_customer[facts.customer_id]
        if member.pk in state.created:
            state.created.discard(member.pk)  # the insert carried this delivery's profile
            new_member = member
        elif member_profile_apply(
            member,
            email=(facts.member_email or "").strip().lower(),
            first_name=facts.first_name,
            last_name=facts.last_name,
        ):
            plan.members[member.pk] = member
        order.member_id = member.pk
        order.customer_id = facts.customer_id
    plan.orders[order.pk] = order

    if delivery.topic == "orders/cancelled":
        _order_cancel(state, plan, order, when)
    elif order_is_trigger(program, delivery.topic, payload) and order.state == OPEN:
        earning = earning_compute(
            program=program,
            payload=payload,
            placed_at=order.placed_at or when,
            tags=state.tags,
            shop_events=state.events,
        )
        order.base = earning.base.quantize(CENT)
        order.multiplier = earning.multiplier
        order.points_due = earning.points
        order.triggered_at = when
        if not program.enabled:
            order.state = LoyaltyOrder.State.NOT_ELIGIBLE
        elif order.member_id is None:
            order.state = GUEST
        else:
            _order_credit(state, plan, order)
    if new_member is not None:
        _guest_link(state, plan, new_member)
    plan.attributions.append((facts.order_id, payload))


def _refund_fold(state: _State, plan: _Plan, facts: RefundFacts) -> None:
    if facts.refund_id in state.recorded:
        return
    state.recorded.add(facts.refund_id)
    order = state.orders[facts.order_id]
    bases = {
        included: refund_base_compute(
            program=state.program, payload=facts.raw, taxes_included=included, tags=state.tags
        ).quantize(CENT)
        for included in (False, True)
    }
    refund = OrderRefund(
        shop_id=state.shop.pk,
        order_id=facts.order_id,
        refund_id=facts.refund_id,
        base=bases[order.taxes_included],
        base_taxes_excluded=bases[False],
        base_taxes_included=bases[True],
    )
    plan.refunds.append(refund)
    state.refunds.setdefault(order.order_id, []).append(refund)
    order.refunded_base += refund.base
    plan.orders[order.pk] = order
    if order.state == CREDITED and order.member_id is not None:
        _reversal_sync(
            state,
            plan,
            order,
            key=f"refund:{facts.refund_id}",
            source_id=facts.refund_id,
        )


def _refunds_rebase(state: _State, plan: _Plan, order: LoyaltyOrder) -> None:
    """The order's prices turned out to (not) include tax: its refunds' bases follow, so a
    refund processed before its order gives back what it would have after it."""
    total = Decimal(0)
    for refund in state.refunds.get(order.order_id, []):
        base = refund.base_taxes_included if order.taxes_included else refund.base_taxes_excluded
        if refund.base != base and refund.pk is not None:
            plan.rebased[refund.pk] = refund
        refund.base = base
        total += base
    if order.order_id in state.refunds:
        order.refunded_base = total


def _order_credit(state: _State, plan: _Plan, order: LoyaltyOrder) -> None:
    """Post the order's due points to its member, then apply refunds received earlier
    (the order has a member; its state is OPEN or GUEST)."""
    assert order.member_id is not None
    member = state.members[order.member_id]
    program, now = state.program, state.now
    amount = order.points_due
    pending = program.pending_days > 0
    release_at = (order.triggered_at or now) + timedelta(days=program.pending_days)
    plan.post(
        state,
        member,
        amount=amount,
        kind=Kind.ORDER_EARN,
        key=f"order:{order.order_id}:earn",
        bucket=PENDING if pending else AVAILABLE,
        release_at=release_at if pending else None,
        source_type="order",
        source_id=order.order_id,
        note=order.name,
        earned=amount,
        activity_at=now,
    )
    order.points_earned = amount
    order.points_pending = amount if pending else 0
    order.release_at = release_at if pending and amount else None
    order.state = CREDITED
    order.credited_at = now
    plan.orders[order.pk] = order
    _reversal_sync(state, plan, order, key=None, source_id="")


def _order_cancel(state: _State, plan: _Plan, order: LoyaltyOrder, when: datetime) -> None:
    if order.state == LoyaltyOrder.State.CANCELLED:
        return
    if order.state == CREDITED and order.member_id is not None:
        _reversal_sync(
            state,
            plan,
            order,
            key=f"order:{order.order_id}:cancel",
            source_id=order.order_id,
            cancel=True,
        )
    order.state = LoyaltyOrder.State.CANCELLED
    order.cancelled_at = when


def _reversal_sync(
    state: _State,
    plan: _Plan,
    order: LoyaltyOrder,
    *,
    key: str | None,
    source_id: str | int,
    cancel: bool = False,
) -> None:
    """Bring the order's reversed points up to what its refunds (or cancellation) require:
    pending points first, the available balance the rest (the reversal rule's plan)."""
    assert order.member_id is not None
    member = state.members[order.member_id]
    reversal = order_reversal_plan(
        order=order,
        balance=member.balance,
        program=state.program,
        key=key,
        source_id=source_id,
        cancel=cancel,
    )
    if reversal is None:
        return
    common = {"kind": reversal.kind, "source_type": reversal.source_type}
    plan.post(
        state,
        member,
        amount=-reversal.from_pending,
        key=f"{reversal.key}:pending",
        bucket=PENDING,
        source_id=reversal.source_id,
        note=order.name,
        **common,
    )
    plan.post(
        state,
        member,
        amount=-reversal.take,
        key=reversal.key,
        source_id=reversal.source_id,
        note=reversal.note,
        allow_negative=True,
        **common,
    )
    order.points_pending -= reversal.from_pending
    member.lifetime_earned -= reversal.delta
    plan.members[member.pk] = member
    order.points_reversed += reversal.delta
    order.points_shortfall += reversal.shortfall
    plan.orders[order.pk] = order


def _guest_link(state: _State, plan: _Plan, member: Member) -> int:
    """Credit the guest orders (held, or left GUEST earlier in the batch) with the new
    member's email placed within the window, in pk order."""
    if not member.email:
        return 0
    since = state.now - timedelta(days=state.program.guest_link_window_days)
    linked = 0
    for order in sorted(state.orders.values(), key=lambda o: o.pk):
        if (
            order.state == GUEST
            and order.member_id is None
            and order.email.lower() == member.email.lower()
            and order.triggered_at is not None
            and order.triggered_at >= since
        ):
            order.member_id = member.pk
            order.customer_id = member.customer_id
            _order_credit(state, plan, order)
            linked += 1
    return linked


# --- apply -------------------------------------------------------------------------------


def _plan_apply(state: _State, plan: _Plan) -> None:
    """Write the plan: refunds, ledger entries, members, orders; then code attribution."""
    if plan.keys:
        taken = set(
            LedgerEntry.objects.filter(shop=state.shop, idempotency_key__in=plan.keys).values_list(
                "idempotency_key", flat=True
            )
        )
        if taken:
            raise _KeysTaken(taken)
    if len(rows_insert(plan.refunds, conflict=("shop", "refund_id"))) != len(plan.refunds):
        raise RuntimeError("a refund was recorded concurrently")
    if len(rows_insert(plan.entries, conflict=("shop", "idempotency_key"))) != len(plan.entries):
        raise RuntimeError("a ledger key was used concurrently")
    members = sorted(plan.members.values(), key=lambda m: m.pk)
    rows_update(members, fields=MEMBER_FIELDS)
    rows_update(sorted(plan.orders.values(), key=lambda o: o.pk), fields=ORDER_FIELDS)
    for order_id, payload in plan.attributions:
        redemptions_attribute(shop=state.shop, order_id=order_id, payload=payload)
    rows_update(list(plan.rebased.values()), fields=["base"])
    customers = sorted({m.customer_id for m in state.members.values()})
    members_changed_on_commit(shop_id=state.shop.pk, customer_ids=customers)
