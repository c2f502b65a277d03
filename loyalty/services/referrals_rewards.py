"""Referrals, the advocate's side: the friend's order found by its code in the crediting
engine's apply step (one indexed lookup, only for orders with discount codes), the reward
after the order's pending period (points through the ledger with the tier multiplier, or a
catalogue reward issued by the saga), once per referral, within the cap; and the
merchant's unblock and cancel (which ends the friend's unused code in the store), audited.

Locks: orders, then members, then referrals (``loyalty.lock_objects``), as the crediting
engine takes them, so an attribution and a reward never wait on each other in a circle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.db import rows_update
from loyalty.analytics.services import shop_zone
from loyalty.audit import audit_record
from loyalty.errors import ReferralNotAvailable, ReferralRefused
from loyalty.lock_objects import order_qs_select_for_update
from loyalty.member_versions import member_changed_on_commit, members_changed_on_commit
from loyalty.models import LoyaltyOrder, Member, OrderRefund, Redemption, Referral, Reward
from loyalty.rules import referrals as rules
from loyalty.rules.rewards import reward_price
from loyalty.services.earning_actions import award_context, shop_today
from loyalty.services.ledger import Kind, enqueue_on_commit, ledger_post, member_lock
from loyalty.services.redemptions import redemption_open
from loyalty.services.referrals import (
    CANCELLED_CODE_ERROR,
    referral_friend_code_reopen,
    referral_settings_get,
)
from merchants.errors import BeamError, ShopifyApiError
from merchants.models import Shop
from merchants.shopify.operations import customer_order_count, discount_code_deactivate

logger = logging.getLogger(__name__)

Status = Referral.Status
CodeStatus = Referral.CodeStatus
OPEN_STATUSES = (Status.PENDING, Status.ORDERED)


def _referrals_lock(**filters: Any) -> list[Referral]:
    return list(Referral.objects.filter(**filters).order_by("pk").select_for_update())


# --- attribution (inside the crediting engine's transaction) ----------------------------------


def referrals_attribute(
    *,
    shop: Shop,
    orders: Iterable[LoyaltyOrder],
    pending_days: int,
    members: Mapping[int, Member] | None = None,
) -> int:
    """Find the referrals whose code the batch's orders used (one indexed query, none when
    no order has a code): an order paid (its earning trigger fired) makes a pending referral
    ``ordered`` with its reward due after the pending period, or ``blocked`` by the order's
    fraud checks; a cancelled order cancels an ordered one. The checks read what they need
    for the whole batch at once (``_TakeFacts``) and the referrals taken are written in one
    statement: a fixed number of queries per batch, not per referral. ``members``: the
    batch's members (the crediting engine's, already locked), read by id when missing.
    Precondition: inside the engine's transaction, holding the orders' and members' locks."""
    by_code = {code: o for o in orders for code in o.discount_codes if code.startswith("FRIEND-")}
    if not by_code:
        return 0
    referrals = list(
        Referral.objects.filter(shop=shop, code__in=sorted(by_code), status__in=OPEN_STATUSES)
        .select_related("advocate")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    taking = [
        r
        for r in referrals
        if r.status == Status.PENDING
        and by_code[r.code or ""].state != LoyaltyOrder.State.CANCELLED
        and by_code[r.code or ""].triggered_at is not None
    ]
    facts = _TakeFacts.load(shop, taking, [by_code[r.code or ""] for r in taking], members or {})
    changed = 0
    for referral in referrals:
        order = by_code[referral.code or ""]
        cancels = order.state == LoyaltyOrder.State.CANCELLED
        if (
            cancels
            and referral.order_id in (None, order.order_id)
            and _before_due(referral, order.cancelled_at)
        ):
            _close(referral, Status.CANCELLED, rules.ORDER_CANCELLED, order.name)
            changed += 1
    for referral in taking:
        _order_take(referral, by_code[referral.code or ""], pending_days, facts)
    rows_update(taking, fields=TAKE_FIELDS)
    changed += len(taking)
    if referrals:
        customers = sorted({r.advocate.customer_id for r in referrals})
        members_changed_on_commit(shop_id=shop.pk, customer_ids=customers)
    return changed


TAKE_FIELDS = [
    "order_id",
    "order_name",
    "order_total",
    "currency",
    "friend_customer_id",
    "reward_due_at",
    "status",
    "reason",
    "reason_detail",
]


@dataclass
class _TakeFacts:
    """What the order checks of a batch's referrals read, in one query each: the settings,
    the advocates' shipping address keys, the ordering members' names and the friends'
    other orders Beam knows (by customer, else by email)."""

    first_order_only: bool = True
    advocate_addresses: dict[int, set[str]] = field(default_factory=dict)
    members: Mapping[int, Member] = field(default_factory=dict)
    # (customer id or email) → that friend's orders: (order id, placed at)
    friend_orders: dict[int | str, list[tuple[int, datetime | None]]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        shop: Shop,
        referrals: list[Referral],
        orders: list[LoyaltyOrder],
        members: Mapping[int, Member],
    ) -> _TakeFacts:
        if not referrals:
            return cls()
        facts = cls(first_order_only=referral_settings_get(shop=shop).first_order_only)
        shop_orders = LoyaltyOrder.objects.filter(shop=shop)
        addresses = shop_orders.filter(member_id__in={r.advocate_id for r in referrals})
        for member_id, key in addresses.exclude(ship_key="").values_list("member_id", "ship_key"):
            facts.advocate_addresses.setdefault(member_id, set()).add(key)
        wanted = {o.member_id for o in orders if o.member_id is not None}
        missing = wanted - set(members)
        facts.members = {**members, **Member.objects.in_bulk(missing)} if missing else members
        customers = {o.customer_id for o in orders if o.customer_id is not None}
        emails = {o.email for o in orders if o.customer_id is None and o.email}
        if customers:
            rows = shop_orders.filter(customer_id__in=customers)
            for customer_id, order_id, placed_at in rows.values_list(
                "customer_id", "order_id", "placed_at"
            ):
                if customer_id is not None:
                    facts.friend_orders.setdefault(customer_id, []).append((order_id, placed_at))
        if emails:
            rows = shop_orders.filter(email__in=emails)
            for email, order_id, placed_at in rows.values_list("email", "order_id", "placed_at"):
                facts.friend_orders.setdefault(email, []).append((order_id, placed_at))
        return facts

    def earlier_orders(self, order: LoyaltyOrder) -> int:
        """The friend's orders before this one that Beam knows (by customer, else by email;
        with no placing time on the order, every other one)."""
        who: int | str | None = order.customer_id if order.customer_id is not None else order.email
        if not who:
            return 0
        return sum(
            1
            for order_id, placed_at in self.friend_orders.get(who, [])
            if order_id != order.order_id
            and (order.placed_at is None or (placed_at is not None and placed_at < order.placed_at))
        )


def _order_take(
    referral: Referral, order: LoyaltyOrder, pending_days: int, facts: _TakeFacts
) -> None:
    """The order checks of one referral (``rules.order_verdict``) and what the order sets
    on it; the caller writes it."""
    advocate = referral.advocate
    advocate_party = rules.Party(
        customer_id=advocate.customer_id,
        email=advocate.email,
        first_name=advocate.first_name,
        last_name=advocate.last_name,
        address_keys=frozenset(facts.advocate_addresses.get(advocate.pk, ())),
    )
    member = facts.members.get(order.member_id) if order.member_id is not None else None
    order_party = rules.Party(
        customer_id=order.customer_id,
        email=order.email,
        first_name=member.first_name if member else "",
        last_name=member.last_name if member else "",
        address_keys=frozenset({order.ship_key} - {""}),
    )
    verdict = rules.order_verdict(
        order=order_party,
        advocate=advocate_party,
        earlier_orders=facts.earlier_orders(order),
        first_order_only=facts.first_order_only,
        lifted=referral.unblocked_reason,
    )
    referral.order_id = order.order_id
    referral.order_name = order.name
    referral.order_total = order.total_price
    referral.currency = order.currency
    referral.friend_customer_id = order.customer_id
    referral.reward_due_at = (order.triggered_at or timezone.now()) + timedelta(days=pending_days)
    if verdict is not None:
        referral.status = Status.BLOCKED
        referral.reason, referral.reason_detail = verdict.reason, verdict.detail[:255]
    else:
        referral.status = Status.ORDERED


def _before_due(referral: Referral, at: datetime | None) -> bool:
    """Whether a refund or cancel at ``at`` falls inside the referral's pending period (the
    only time one cancels the reward); an unknown time counts as inside."""
    due = referral.reward_due_at
    return due is None or at is None or at < due


def _refunded_before_due(referral: Referral, order: LoyaltyOrder) -> bool:
    """A refund of the order inside the pending period: by the refund's own time from the
    payload, else by when Beam recorded it (a refund recorded after the due time but before
    the due job ran does not count)."""
    refunds = OrderRefund.objects.filter(shop_id=order.shop_id, order_id=order.order_id)
    if referral.reward_due_at is None:
        return refunds.exists()
    when = Coalesce("refunded_at", "created_at")
    return refunds.alias(at=when).filter(at__lt=referral.reward_due_at).exists()


def _close(referral: Referral, status: str, reason: str, detail: str = "") -> None:
    referral.status = status
    referral.reason = reason
    referral.reason_detail = detail[:255]
    referral.save(update_fields=["status", "reason", "reason_detail", "updated_at"])


# --- the reward ------------------------------------------------------------------------------


def _store_earlier_orders(referral: Referral) -> int | None:
    """Orders the friend has in the store (those from before Beam was installed included),
    this one excepted; None when the store cannot say now (the check is then Beam's own)."""
    if referral.friend_customer_id is None:
        return None
    gid = f"gid://shopify/Customer/{referral.friend_customer_id}"
    try:
        count = customer_order_count(referral.shop, customer_gid=gid)
    except (BeamError, ValueError) as exc:  # a lookup that fails must not hold up the reward
        logger.warning("referral %s: customer orders lookup failed: %s", referral.pk, exc)
        return None
    return None if count is None else max(count - 1, 0)


def referrals_reward_due(*, now: datetime | None = None) -> int:
    """Reward the advocates of referrals whose order's pending period is over (periodic):
    each checked against the store's count of the friend's orders, then rewarded once
    (``referral_reward``). Returns the referrals rewarded."""
    now = now or timezone.now()
    due = Referral.objects.filter(status=Status.ORDERED, reward_due_at__lte=now)
    rewarded = 0
    for pk in list(due.values_list("pk", flat=True)[:500]):
        referral = Referral.objects.select_related("shop").get(pk=pk)
        earlier = None
        if referral_settings_get(shop=referral.shop).first_order_only:
            earlier = _store_earlier_orders(referral)
        rewarded += int(
            referral_reward(shop=referral.shop, referral_id=pk, store_earlier_orders=earlier)
        )
    return rewarded


def referral_reward(
    *,
    shop: Shop,
    referral_id: int,
    store_earlier_orders: int | None = None,
    actor: str = "",
) -> bool:
    """Give the advocate the reward of one ordered referral whose time has come, once: a
    cancelled or refunded order cancels the referral, an earlier order in the store or the
    cap blocks it with the reason; an ``actor`` (the merchant's unblock) skips the checks.
    True when the reward was given by this call."""
    with transaction.atomic(durable=True):
        return _reward_locked(
            shop=shop, referral_id=referral_id, earlier=store_earlier_orders, actor=actor
        )


def _reward_locked(*, shop: Shop, referral_id: int, earlier: int | None, actor: str) -> bool:
    head = Referral.objects.filter(shop=shop, pk=referral_id).values("order_id", "advocate_id")
    row = head.first()
    if row is None:
        raise ReferralNotAvailable()
    order = None
    if row["order_id"] is not None:
        order = order_qs_select_for_update().filter(shop=shop, order_id=row["order_id"]).first()
    advocate = member_lock(shop_id=shop.pk, member_id=row["advocate_id"])
    referral = _referrals_lock(shop=shop, pk=referral_id)[0]
    if referral.status != Status.ORDERED or referral.rewarded_at is not None:
        return False
    # the merchant's unblock overrides the fraud checks and the cap, now or at the due time
    overridden = bool(actor) or referral.reason == rules.UNBLOCKED
    if not actor:
        cancelled = order is not None and order.state == LoyaltyOrder.State.CANCELLED
        if cancelled and order is not None and _before_due(referral, order.cancelled_at):
            _close(referral, Status.CANCELLED, rules.ORDER_CANCELLED, order.name)
            return False
        if order is not None and _refunded_before_due(referral, order):
            _close(referral, Status.CANCELLED, rules.ORDER_REFUNDED, referral.order_name)
            return False
        if earlier and not overridden and referral.unblocked_reason != rules.NOT_FIRST_ORDER:
            _close(referral, Status.BLOCKED, rules.NOT_FIRST_ORDER, f"{earlier} in the store")
            return False
    config = referral_settings_get(shop=shop)
    if not overridden and config.cap_count:
        period = rules.cap_period(config.cap_period, shop_today(shop))
        if rules.cap_reached(
            cap_count=config.cap_count, rewarded_in_period=_rewarded_in(shop, advocate, period)
        ):
            detail = f"{config.cap_count} per {config.cap_period}"
            _close(referral, Status.BLOCKED, rules.CAP_REACHED, detail)
            return False
    _reward_give(shop, referral, advocate, config, actor)
    member_changed_on_commit(shop_id=shop.pk, customer_id=advocate.customer_id)
    return True


def _rewarded_in(shop: Shop, advocate: Member, period: str) -> int:
    rewarded = Referral.objects.filter(
        shop=shop, advocate=advocate, status=Status.COMPLETED, rewarded_at__isnull=False
    )
    if not period:
        return rewarded.count()
    zone_today = shop_today(shop)
    start = zone_today.replace(day=1) if len(period) == 7 else zone_today.replace(month=1, day=1)
    since = datetime.combine(start, datetime.min.time(), tzinfo=shop_zone(shop))
    return rewarded.filter(rewarded_at__gte=since).count()


def _reward_give(shop: Shop, referral: Referral, advocate: Member, config: Any, actor: str) -> None:
    """The reward itself. Precondition: the advocate's and the referral's locks held."""
    now = timezone.now()
    note = referral.order_name or referral.friend_email
    if config.reward_kind == rules.REWARD_CATALOGUE and config.reward_id:
        reward = Reward.objects.get(shop=shop, pk=config.reward_id)
        _, value = reward_price(reward, None)
        referral.redemption = redemption_open(
            shop=shop,
            member=advocate,
            reward=reward,
            points_spent=0,
            value=value,
            client_key=f"referral:{referral.pk}",
            channel=Redemption.Channel.REFERRAL,
            valid_for=timedelta(days=reward.code_valid_days),
        )
    else:
        points, _ = award_context(shop).points_for(advocate, config.reward_points)
        ledger_post(
            member=advocate,
            amount=points,
            kind=Kind.REFERRAL,
            key=f"referral:{referral.pk}:reward",
            source_type="referral",
            source_id=referral.pk,
            actor=actor,
            note=note,
            earned=points,
            activity_at=now,
        )
        referral.reward_points = points
    referral.status = Status.COMPLETED
    referral.rewarded_at = now
    referral.save()


# --- the merchant ----------------------------------------------------------------------------


def referral_unblock(*, shop: Shop, referral_id: int, actor: str) -> Referral:
    """Lift a block (audited): with an order, the advocate is rewarded now (or when the
    order's pending period ends, unless the order is cancelled or refunded by then), once,
    whatever the fraud checks and the cap said; without one (a blocked claim), the friend's
    code is made, and the lifted check is kept (``unblocked_reason``) so that its twin at
    the friend's order does not block the same referral again."""
    with transaction.atomic(durable=True):
        found = Referral.objects.filter(shop=shop, pk=referral_id).first()
        if found is None:
            raise ReferralNotAvailable()
        if found.status != Status.BLOCKED:
            raise ReferralRefused("Only a blocked referral can be unblocked.")
        audit_record(
            shop=shop,
            actor=actor,
            action="referral.unblock",
            target_type="referral",
            target_id=found.pk,
            summary=f"{found.friend_email}: {found.reason}",
            changes={"status": [found.status, Status.ORDERED if found.order_id else "pending"]},
        )
        if found.order_id is None:
            locked = _referrals_lock(shop=shop, pk=found.pk)[0]
            locked.unblocked_reason = locked.reason
            locked.status, locked.reason, locked.reason_detail = Status.PENDING, "", ""
            referral_friend_code_reopen(referral=locked)
            return locked
        # orders, members, referrals: the engine's lock order
        order_qs_select_for_update().filter(shop=shop, order_id=found.order_id).first()
        member_lock(shop_id=shop.pk, member_id=found.advocate_id)
        locked = _referrals_lock(shop=shop, pk=found.pk)[0]
        if locked.status != Status.BLOCKED:
            raise ReferralRefused("Only a blocked referral can be unblocked.")
        due_now = locked.reward_due_at is None or locked.reward_due_at <= timezone.now()
        # not due yet: marked, so the due job skips the checks the merchant overrode
        locked.status, locked.reason = Status.ORDERED, "" if due_now else rules.UNBLOCKED
        locked.reason_detail = ""
        locked.save(update_fields=["status", "reason", "reason_detail", "updated_at"])
        if due_now:
            _reward_locked(shop=shop, referral_id=locked.pk, earlier=None, actor=actor)
    return Referral.objects.get(pk=referral_id)


def referral_cancel(*, shop: Shop, referral_id: int, actor: str) -> Referral:
    """Cancel a referral that gave no reward yet (audited). A friend's code that is in the
    store and unused is deactivated there first, outside the transaction (no lock across a
    platform call): a store failure refuses the cancel and changes nothing, and a retry
    deactivates again harmlessly. A code whose issue has not started is marked failed, so
    neither its task nor the sweep makes it afterwards; one whose issue is under way is
    ended in the store by that issue step when it finishes (``referral_discount_issue``)."""
    found = Referral.objects.filter(shop=shop, pk=referral_id).first()
    if found is None:
        raise ReferralNotAvailable()
    _cancellable(found)
    if found.discount_id and found.order_id is None:
        try:
            discount_code_deactivate(shop, discount_id=found.discount_id)
        except ShopifyApiError as exc:
            raise ReferralRefused(f"The store could not end the friend's code: {exc}") from exc
    with transaction.atomic(durable=True):
        referral = _referrals_lock(shop=shop, pk=referral_id)[0]
        _cancellable(referral)
        audit_record(
            shop=shop,
            actor=actor,
            action="referral.cancel",
            target_type="referral",
            target_id=referral.pk,
            summary=referral.friend_email,
            changes={"status": [referral.status, Status.CANCELLED]},
        )
        _close(referral, Status.CANCELLED, rules.BY_MERCHANT)
        # an issue not started yet never starts; one under way ends its code itself
        Referral.objects.filter(pk=referral.pk, code_status=CodeStatus.PENDING, attempts=0).update(
            code_status=CodeStatus.FAILED, error=CANCELLED_CODE_ERROR
        )
        if referral.discount_id != found.discount_id and referral.order_id is None:
            _late_code_end_on_commit(referral)
        member_changed_on_commit(shop_id=shop.pk, customer_id=referral.advocate.customer_id)
    referral.refresh_from_db()
    return referral


def _late_code_end_on_commit(referral: Referral) -> None:
    """The friend's code was issued between the cancel's store call and its lock: handed
    back to the saga (pending again), whose issue step ends it in the store, retried.
    Precondition: inside the cancel's transaction, holding the referral's lock."""
    from loyalty import tasks

    Referral.objects.filter(pk=referral.pk, code_status=CodeStatus.ISSUED).update(
        code_status=CodeStatus.PENDING
    )
    enqueue_on_commit(tasks.referral_discount_issue, referral.pk)


def _cancellable(referral: Referral) -> None:
    if referral.status in (Status.COMPLETED, Status.CANCELLED):
        raise ReferralRefused(f"A {referral.status} referral cannot be cancelled.")
