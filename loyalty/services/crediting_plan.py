"""The crediting engine's planning step: deliveries folded, in order, over the batch's
in-memory state (orders, members, refunds as loaded and locked by ``crediting``).

Nothing here reads or writes the database: each step applies the pure rules
(``loyalty.rules``) and the ledger's effect rule to the state and collects what to write in
a ``CreditPlan``, so two events of one order or member in a batch compose exactly as if
they ran one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
    TierChange,
)
from loyalty.payloads import OrderFacts, RefundFacts, datetime_parse
from loyalty.rules.earning import earning_compute, order_may_earn, refund_bases_compute
from loyalty.rules.reversal import order_reversal_plan
from loyalty.rules.tiers import (
    ONE,
    QualifyingSums,
    TierRules,
    Window,
    order_counts,
    qualifying_value,
    refund_spend,
    tier_can_rise,
    tier_points,
    tier_upgrade,
)
from loyalty.services.ledger import (
    AVAILABLE,
    CENT,
    PENDING,
    Kind,
    ledger_effect_apply,
    ledger_entry_new,
)
from loyalty.services.members import member_profile_apply
from loyalty.services.orders import order_is_trigger, order_snapshot, order_spend_settle
from loyalty.services.tiers import (
    member_tier_set,
    member_tier_state,
    tier_change_new,
    tier_entry_key,
)
from merchants.models import Shop

GUEST = LoyaltyOrder.State.GUEST
OPEN = LoyaltyOrder.State.OPEN
CREDITED = LoyaltyOrder.State.CREDITED


@dataclass(frozen=True)
class Delivery:
    """One order or refund delivery as the engine sees it; batches run in list order."""

    topic: str
    payload: dict[str, Any]
    triggered_at: datetime | None = None


@dataclass
class CreditState:
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
    guests: dict[str, list[LoyaltyOrder]] = field(default_factory=dict)  # GUEST, by email
    # Tiers (None: off). ``tier_base``: by member, the qualifying sums of their orders in
    # ``tier_window`` other than the batch's, which count from memory (``member_orders``).
    tiers: TierRules | None = None
    tier_window: Window | None = None
    tier_base: dict[int, QualifyingSums] = field(default_factory=dict)
    member_orders: dict[int, list[LoyaltyOrder]] = field(default_factory=dict)
    tier_log: list[TierChange] = field(default_factory=list)  # grants of new members

    def __post_init__(self) -> None:
        for order in self.orders.values():
            if order.state == GUEST:
                self.guest_add(order)
            if order.member_id is not None:
                self.member_orders.setdefault(order.member_id, []).append(order)

    def guest_add(self, order: LoyaltyOrder) -> None:
        self.guests.setdefault(order.email.lower(), []).append(order)


@dataclass
class CreditPlan:
    """What a batch writes: new refunds and ledger entries, changed members and orders."""

    entries: list[LedgerEntry] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    refunds: list[OrderRefund] = field(default_factory=list)
    rebased: dict[int, OrderRefund] = field(default_factory=dict)  # recorded ones, by pk
    members: dict[int, Member] = field(default_factory=dict)  # changed, by pk
    orders: dict[int, LoyaltyOrder] = field(default_factory=dict)  # changed, by pk
    attributions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)
    # Entry rewards of tiers reached: (member, reward id, once-only key).
    entry_rewards: list[tuple[Member, int, str]] = field(default_factory=list)

    def post(
        self,
        state: CreditState,
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


# --- fold --------------------------------------------------------------------------------


def order_fold(state: CreditState, plan: CreditPlan, delivery: Delivery, facts: OrderFacts) -> None:
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
        # the tier the shopper held when the order was placed (revenue per tier)
        order.tier_id = member.tier_id if state.tiers is not None else None
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
        if not order_may_earn(program=program, payload=payload):
            order.state = LoyaltyOrder.State.NOT_ELIGIBLE
        elif order.member_id is None:
            order.state = GUEST
            state.guest_add(order)
        else:
            _order_credit(state, plan, order)
    if new_member is not None:
        guest_link(state, plan, new_member)
    plan.attributions.append((facts.order_id, payload))


def refund_fold(state: CreditState, plan: CreditPlan, facts: RefundFacts) -> None:
    if facts.refund_id in state.recorded:
        return
    state.recorded.add(facts.refund_id)
    order = state.orders[facts.order_id]
    excluded, included = refund_bases_compute(
        program=state.program, payload=facts.raw, tags=state.tags
    )
    refund = OrderRefund(
        shop_id=state.shop.pk,
        order_id=facts.order_id,
        refund_id=facts.refund_id,
        base=included if order.taxes_included else excluded,
        base_tax_excluded=excluded,
        base_tax_included=included,
        refunded_at=datetime_parse(facts.raw.get("processed_at"))
        or datetime_parse(facts.raw.get("created_at")),
    )
    plan.refunds.append(refund)
    state.refunds.setdefault(order.order_id, []).append(refund)
    order.refunded_base += refund.base
    spend = refund_spend(facts.raw)
    order.spend_refunded_goods += spend.subtotal - (spend.tax if order.taxes_included else 0)
    order.spend_refunded_tax += spend.tax
    order.spend_refunded_shipping += spend.shipping
    order_spend_settle(order)
    plan.orders[order.pk] = order
    if order.state == CREDITED and order.member_id is not None:
        _reversal_sync(
            state,
            plan,
            order,
            key=f"refund:{facts.refund_id}",
            source_id=facts.refund_id,
        )


def _refunds_rebase(state: CreditState, plan: CreditPlan, order: LoyaltyOrder) -> None:
    """The order's prices turned out to (not) include tax: its refunds' bases follow, so a
    refund processed before its order gives back what it would have after it."""
    total = Decimal(0)
    for refund in state.refunds.get(order.order_id, []):
        chosen = refund.base_tax_included if order.taxes_included else refund.base_tax_excluded
        if chosen is not None and chosen != refund.base:  # None: recorded before both were
            refund.base = chosen
            if refund.pk is not None:
                plan.rebased[refund.pk] = refund
        total += refund.base
    if order.order_id in state.refunds:
        order.refunded_base = total
    tax = order.spend_refunded_tax
    order.spend_refunded_goods += -tax if order.taxes_included else tax
    order_spend_settle(order)


def _order_credit(state: CreditState, plan: CreditPlan, order: LoyaltyOrder) -> None:
    """Post the order's due points to its member, then apply refunds received earlier
    (the order has a member; its state is OPEN or GUEST)."""
    assert order.member_id is not None
    member = state.members[order.member_id]
    program, now = state.program, state.now
    order.tier_multiplier = member.tier_multiplier if state.tiers is not None else ONE
    amount = tier_points(order.points_due, order.tier_multiplier, program.rounding)
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
    _tier_upgrade(state, plan, member, order)


def _tier_upgrade(
    state: CreditState, plan: CreditPlan, member: Member, order: LoyaltyOrder
) -> None:
    """Move the member up as soon as the order's credit reaches a higher tier (under the
    member lock this batch holds), with the tier's entry points once per period."""
    rules, window = state.tiers, state.tier_window
    if rules is None or window is None or not tier_can_rise(rules, member.earned_tier_id):
        return
    counted = state.member_orders.setdefault(member.pk, [])
    if all(o is not order for o in counted):
        counted.append(order)
    sums = state.tier_base.get(member.pk, QualifyingSums())
    for one in counted:
        at = one.placed_at or one.triggered_at
        if window.start is None or (at is not None and at >= window.start):
            sums = sums.add(order_counts(one))
    earned = rules.by_id(member.earned_tier_id)
    move = tier_upgrade(rules, member_tier_state(member), qualifying_value(rules, sums), state.now)
    if move is None or move.to is None:
        return
    member_tier_set(member, rules, move.state, state.now)
    plan.members[member.pk] = member
    plan.tier_changes.append(
        tier_change_new(
            member,
            before=earned,
            after=move.to,
            reason=TierChange.Reason.EARNED,
            key=f"earn:{member.pk}:{move.to.tier_id}:{order.order_id}",
            at=state.now,
            ends_at=move.state.expires_at,
        )
    )
    entry_key = tier_entry_key(member.pk, move.to.tier_id, move.entry_period)
    if move.to.entry_reward_id is not None:
        plan.entry_rewards.append((member, move.to.entry_reward_id, entry_key))
    plan.post(
        state,
        member,
        amount=move.entry_points,
        kind=Kind.TIER_ENTRY,
        key=entry_key,
        source_type="tier",
        source_id=move.to.tier_id or "",
        note=move.to.name,
        earned=move.entry_points,
    )


def _order_cancel(
    state: CreditState, plan: CreditPlan, order: LoyaltyOrder, when: datetime
) -> None:
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
    state: CreditState,
    plan: CreditPlan,
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
    common: dict[str, Any] = {"kind": reversal.kind, "source_type": reversal.source_type}
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


def guest_link(state: CreditState, plan: CreditPlan, member: Member) -> int:
    """Credit the guest orders (held, or left GUEST earlier in the batch) with the new
    member's email placed within the window, in pk order."""
    if not member.email:
        return 0
    linked = 0
    for order in sorted(state.guests.pop(member.email.lower(), []), key=lambda o: o.pk):
        if (
            order.state == GUEST
            and order.member_id is None
            and guest_order_in_window(order, program=state.program, now=state.now)
        ):
            order.member_id = member.pk
            order.customer_id = member.customer_id
            _order_credit(state, plan, order)
            linked += 1
    return linked


def guest_order_in_window(order: LoyaltyOrder, *, program: LoyaltyProgram, now: datetime) -> bool:
    """Whether a guest order was placed within the link window before ``now``: counted from
    the order's own time (``processed_at``, else ``created_at``), not from when its delivery
    arrived, so an old order delivered late is not linked; the trigger time stands in only
    for a payload without either."""
    placed = order.placed_at or order.triggered_at
    return placed is not None and placed >= now - timedelta(days=program.guest_link_window_days)
