"""The crediting engine: the one path by which order and refund deliveries change balances.

A batch of deliveries of one shop is handled in one transaction, in three steps:

1. **Load and lock** (here) what the batch touches: its orders (created as ``get_or_create``
   would, locked in pk order), the guest orders a new member may claim, then its members
   (created from their first order, locked in pk order), the refunds already recorded, the
   product tags and bonus events.
2. **Fold** the deliveries, in delivery order, through the planning steps of
   ``crediting_plan`` over that in-memory state, using the pure rules (``loyalty.rules``):
   two events of one order or member in a batch compose exactly as if run one by one. The
   fold only collects rows to write.
3. **Apply** (here) the plan: multi-row inserts of refunds and ledger entries (``ON CONFLICT DO
   NOTHING``: the idempotency keys are unique constraints) and one update each of the
   changed members and orders (``core.db``), then the attribution of reward codes.

One delivery is a batch of one (``order_webhook_process``, ``refund_webhook_process``).
A ledger key already taken (the database says so before anything is written) makes the
batch run again with that key treated as posted, which is what ``ledger_post`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from core.db import rows_insert, rows_update
from loyalty.errors import PayloadInvalid
from loyalty.lock_objects import member_qs_select_for_update, order_qs_select_for_update
from loyalty.member_versions import members_changed_on_commit
from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
    TierChange,
)
from loyalty.payload_checks import order_payload_problem, refund_payload_problem
from loyalty.payloads import OrderFacts, RefundFacts, order_parse, refund_parse
from loyalty.rules.earning import (
    order_product_ids,
    refund_product_ids,
)
from loyalty.rules.tiers import qualifying_fields, tier_can_rise, tier_new_member, window_now
from loyalty.services.crediting_plan import (
    CreditPlan,
    CreditState,
    Delivery,
    guest_link,
    order_fold,
    refund_fold,
)
from loyalty.services.earning import product_tags_read
from loyalty.services.orders import (
    redemptions_attribute,
)
from loyalty.services.program_config import program_get_or_create
from loyalty.services.referrals_rewards import referrals_attribute
from loyalty.services.tiers import (
    TIER_MEMBER_FIELDS,
    member_tier_set,
    tier_change_new,
    tier_rules_load,
    tier_sums_read,
)
from loyalty.services.tiers_rewards import tier_entry_rewards_open
from loyalty.services.tiers_sync import tier_sync_mark
from merchants.models import Shop

ORDER_TOPICS = frozenset(
    {"orders/paid", "orders/fulfilled", "orders/cancelled", "orders/create", "orders/updated"}
)
REFUND_TOPIC = "refunds/create"
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


class _KeysTaken(Exception):
    def __init__(self, keys: set[str]) -> None:
        super().__init__(f"ledger keys already used: {sorted(keys)[:5]}")
        self.keys = keys


# --- entry points ------------------------------------------------------------------------


def deliveries_credit(*, shop: Shop, deliveries: Sequence[Delivery]) -> dict[int, str]:
    """Handle a shop's order and refund deliveries, in list order, in one transaction
    (``atomic(durable=True)``: this owns it). Idempotent like each delivery's handling.

    Each payload's shape is checked first (``payload_checks``): one that breaks it is left
    out, so it cannot fail its batch-mates, and returned as ``{index in deliveries:
    reason}`` (nothing of it is written)."""
    parsed: list[tuple[Delivery, OrderFacts | RefundFacts]] = []
    refused: dict[int, str] = {}
    for index, delivery in enumerate(deliveries):
        if delivery.topic == REFUND_TOPIC:
            problem = refund_payload_problem(delivery.payload)
            parse: Callable[[dict[str, Any]], OrderFacts | RefundFacts | None] = refund_parse
        elif delivery.topic in ORDER_TOPICS:
            problem = order_payload_problem(delivery.payload)
            parse = order_parse
        else:
            raise ValueError(f"not a crediting topic: {delivery.topic!r}")
        if problem is not None:
            refused[index] = problem
            continue
        facts = parse(delivery.payload)
        if facts is not None:
            parsed.append((delivery, facts))
    if not parsed:
        return refused

    def run(taken: set[str]) -> None:
        program = program_get_or_create(shop=shop)
        state = _state_load(shop, program, parsed, taken)
        plan = CreditPlan()
        for delivery, facts in parsed:
            if isinstance(facts, RefundFacts):
                refund_fold(state, plan, facts)
            else:
                order_fold(state, plan, delivery, facts)
        _plan_apply(state, plan)

    _runs(run, durable=True)
    return refused


def order_webhook_process(
    *, shop: Shop, topic: str, payload: dict[str, Any], triggered_at: datetime | None
) -> None:
    """Handle one order delivery (orders/paid, fulfilled, cancelled, create, updated): the
    trigger credits an OPEN order once; a cancelled order never earns; a cancellation
    reverses what the order still holds. A batch of one; ``PayloadInvalid`` when the
    payload's shape is refused (nothing written)."""
    _single_credit(shop, Delivery(topic, payload, triggered_at))


def refund_webhook_process(*, shop: Shop, payload: dict[str, Any]) -> None:
    """Handle refunds/create: record the refund once and reverse points in proportion; a
    refund arriving before its order is credited is applied at the credit. A batch of one;
    ``PayloadInvalid`` when the payload's shape is refused (nothing written)."""
    _single_credit(shop, Delivery(REFUND_TOPIC, payload))


def _single_credit(shop: Shop, delivery: Delivery) -> None:
    refused = deliveries_credit(shop=shop, deliveries=[delivery])
    if refused:
        raise PayloadInvalid(refused[0])


def guest_orders_link(*, shop: Shop, member: Member, program: LoyaltyProgram) -> int:
    """Credit the held guest orders with the member's email placed within the window.

    Precondition: inside the caller's transaction (this runs in a savepoint)."""
    if not member.email:
        return 0

    def run(taken: set[str]) -> int:
        orders = _guest_orders_lock(shop, {member.email}, {})
        locked = member_qs_select_for_update().get(pk=member.pk)
        state = CreditState(
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
        _tiers_load(state)
        plan = CreditPlan()
        linked = guest_link(state, plan, locked)
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
) -> CreditState:
    """Create the batch's missing orders and members, lock them (orders first, pk order)."""
    order_ids = sorted({facts.order_id for _, facts in parsed})
    now = timezone.now()
    tiers = tier_rules_load(shop=shop)
    grant = tier_new_member(tiers, now) if tiers is not None else None
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
    if tiers is not None and grant is not None:
        for member in new:
            member_tier_set(member, tiers, grant, now)
    emails = {m.email for m in new if m.email}
    if emails:
        orders.update(_guest_orders_lock(shop, emails, orders))
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
    state = CreditState(
        shop=shop,
        program=program,
        now=now,
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
    _tiers_load(state, rules=tiers)
    if tiers is not None and grant is not None:
        granted = tiers.by_id(grant.granted_id)
        state.tier_log = [
            tier_change_new(
                m,
                before=None,
                after=granted,
                reason=TierChange.Reason.GRANTED,
                key=f"grant:new:{m.pk}",
                at=now,
                ends_at=grant.grant_ends_at,
                note="New member",
            )
            for m in members.values()
            if m.pk in created and m.granted_tier_id is not None
        ]
    return state


_NOT_LOADED: Any = object()


def _tiers_load(state: CreditState, *, rules: Any = _NOT_LOADED) -> None:
    """Tiers on: the rules and, for the batch's members, the qualifying sums of their
    orders outside the batch over the window ending now (one indexed read)."""
    state.tiers = tier_rules_load(shop=state.shop) if rules is _NOT_LOADED else rules
    if state.tiers is None or not state.members:
        return
    rules = state.tiers
    state.tier_window = window_now(rules, state.now)
    state.tier_base = tier_sums_read(
        shop=state.shop,
        member_ids=[
            pk for pk, m in state.members.items() if tier_can_rise(rules, m.earned_tier_id)
        ],
        window=state.tier_window,
        # the batch's orders come from memory; only those already credited are summed by
        # the read (its state filter leaves the others out), so only they are excluded
        exclude_order_ids=sorted(
            oid for oid, o in state.orders.items() if o.state == LoyaltyOrder.State.CREDITED
        ),
        fields=qualifying_fields(rules),
    )


def _guest_orders_lock(
    shop: Shop, emails: set[str], held: dict[int, LoyaltyOrder]
) -> dict[int, LoyaltyOrder]:
    """Lock the guest orders new members with these emails may claim (not already held);
    which of them the window admits is ``guest_link``'s rule, applied once, in the fold."""
    found = order_qs_select_for_update().filter(
        shop=shop, state=LoyaltyOrder.State.GUEST, member__isnull=True, email__in=emails
    )
    return {o.order_id: o for o in found if o.order_id not in held}


def _refunds_read(shop: Shop, orders: Any) -> dict[int, list[OrderRefund]]:
    """The recorded refunds of the orders (their bases follow the order's tax setting)."""
    ids = [o.order_id for o in orders]
    refunds: dict[int, list[OrderRefund]] = {}
    for refund in OrderRefund.objects.filter(shop=shop, order_id__in=ids).order_by("pk"):
        refunds.setdefault(refund.order_id, []).append(refund)
    return refunds


# --- apply -------------------------------------------------------------------------------


def _plan_apply(state: CreditState, plan: CreditPlan) -> None:
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
    changes = [*state.tier_log, *plan.tier_changes]
    fields = [*MEMBER_FIELDS, *TIER_MEMBER_FIELDS] if plan.tier_changes else MEMBER_FIELDS
    rows_update(members, fields=fields)
    rows_insert(changes, conflict=("shop", "key"))
    if changes:
        tier_sync_mark(shop_id=state.shop.pk, member_ids=[c.member_id for c in changes])
    tier_entry_rewards_open(shop=state.shop, grants=plan.entry_rewards)
    rows_update(sorted(plan.orders.values(), key=lambda o: o.pk), fields=ORDER_FIELDS)
    redemptions_attribute(shop=state.shop, orders=plan.attributions)
    referrals_attribute(
        shop=state.shop,
        orders=[state.orders[order_id] for order_id, _ in plan.attributions],
        pending_days=state.program.pending_days,
        members=state.members,
    )
    rows_update(list(plan.rebased.values()), fields=["base"])
    customers = sorted({m.customer_id for m in state.members.values()})
    members_changed_on_commit(shop_id=state.shop.pk, customer_ids=customers)
