"""Rewards and redemptions: redeem, issue in the store, cancel, mark used, expire."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.audit import AuditRecord, audit_record
from loyalty.errors import (
    InsufficientPoints,
    InvalidRedemption,
    RedemptionNotCancellable,
    RewardNotAvailable,
    RewardTierLocked,
)
from loyalty.member_versions import (
    member_changed_on_commit,
)
from loyalty.models import Member, Redemption, Reward, Tier
from loyalty.rules.codes import code_generate
from loyalty.rules.rewards import (
    reward_channel_refusal,
    reward_price,
    reward_tier_refusal,
)
from loyalty.services.ledger import Kind, enqueue_on_commit, ledger_post, member_lock
from loyalty.services.program_config import program_get_or_create
from loyalty.services.store_issue import (
    REDEMPTION_ISSUE_MAX_RETRIES,
    discount_own_find,
    issues_pending_sweep,
    store_issue_attempt,
)
from merchants.errors import ShopifyApiError, ShopNotInstalled
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


def redemption_code_generate() -> str:
    """``BEAM-XXXX-XXXX`` from a CSPRNG (no 0/O/1/I, readable aloud)."""
    return code_generate("BEAM", secrets.choice)


# A code redeemed in checkout is meant for that checkout: unused within a day, it expires
# and ``redemptions_expire_due`` gives the points back.
CHECKOUT_CODE_VALID_FOR = timedelta(hours=24)


def _redemption_channel_check(reward: Reward, channel: str) -> timedelta | None:
    """The channel's rules: what it may not redeem, and how long its codes live (``None``:
    the reward's own ``code_valid_days``)."""
    refusal = reward_channel_refusal(reward, channel)
    if refusal:
        raise InvalidRedemption(refusal)
    return CHECKOUT_CODE_VALID_FOR if channel == Redemption.Channel.CHECKOUT else None


def _redemption_tier_check(reward: Reward, member: Member) -> None:
    """A tier-exclusive reward: the member's tier in effect must rank at least as high as
    the reward's (while tiers are on and that tier is active). One query."""
    if reward.min_tier_id is None:
        return
    tiers = {
        pk: (name, rank if active and enabled else None)
        for pk, name, rank, active, enabled in Tier.objects.filter(
            shop_id=reward.shop_id, pk__in=[reward.min_tier_id, member.tier_id or 0]
        ).values_list("pk", "name", "rank", "active", "settings__enabled")
    }
    required_name, required_rank = tiers.get(reward.min_tier_id, ("", None))
    refusal = reward_tier_refusal(
        required_name=required_name,
        required_rank=required_rank,
        member_rank=tiers.get(member.tier_id or 0, ("", None))[1],
    )
    if refusal:
        raise RewardTierLocked(refusal)


def reward_redeem(
    *,
    shop: Shop,
    member_id: int,
    reward_id: int,
    points: int | None = None,
    client_key: str,
    channel: str = "",
) -> Redemption:
    """Spend points on a reward: one transaction locks the member, checks the balance,
    deducts and creates the redemption; the discount is created after commit by the
    ``redemption_issue`` task (synchronously when Celery is eager, so the code is returned).
    The same ``client_key`` returns the first redemption. ``channel`` records where it was
    redeemed and brings that channel's rules: checkout redeems no store credit, and its
    codes live ``CHECKOUT_CODE_VALID_FOR`` (an unused one expires early and its points come
    back through ``redemptions_expire_due``)."""
    client_key = (client_key or "").strip()
    if not client_key or len(client_key) > 100:
        raise InvalidRedemption("A client key (1-100 characters) is required.")
    with transaction.atomic(durable=True):
        member = member_lock(shop_id=shop.pk, member_id=member_id)
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
            code_valid_for = _redemption_channel_check(reward, channel)
            _redemption_tier_check(reward, member)
            cost, value = reward_price(reward, points)
            if member.balance < cost:
                raise InsufficientPoints(f"This reward needs {cost} points.")
            valid_for = timedelta(days=reward.code_valid_days)
            if code_valid_for is not None:
                valid_for = min(valid_for, code_valid_for)
            redemption = redemption_open(
                shop=shop,
                member=member,
                reward=reward,
                points_spent=cost,
                value=value,
                client_key=client_key,
                channel=channel,
                valid_for=valid_for,
            )
            now = redemption.created_at
            ledger_post(
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
    redemption.refresh_from_db()
    return redemption


def redemption_open(
    *,
    shop: Shop,
    member: Member,
    reward: Reward,
    points_spent: int,
    value: Decimal,
    client_key: str,
    channel: str,
    valid_for: timedelta,
) -> Redemption:
    """The saga's first step: a pending redemption with a fresh code, its issue queued after
    the commit. Precondition: the caller holds the member's lock and has checked the
    redemption may be made (and takes the points, if any, in the same transaction)."""
    from loyalty import tasks

    code = redemption_code_generate()
    while Redemption.objects.filter(shop=shop, code=code).exists():
        code = redemption_code_generate()
    redemption = Redemption.objects.create(
        shop=shop,
        member=member,
        reward=reward,
        points_spent=points_spent,
        value=value,
        currency=shop.currency,
        code=code,
        client_key=client_key,
        channel=channel,
        expires_at=timezone.now() + valid_for,
    )
    enqueue_on_commit(tasks.redemption_issue, redemption.pk)
    return redemption


def customer_reward_redeem(
    *,
    shop: Shop,
    customer_id: int,
    reward_id: int,
    points: int | None,
    client_key: str,
    channel: str,
) -> Redemption:
    """``reward_redeem`` for a shopper known by customer id (the storefront's and the
    extensions' caller); a customer who is not a member yet has no points."""
    member_id = (
        Member.objects.filter(shop=shop, customer_id=customer_id).values_list("pk", flat=True)
    ).first()
    if member_id is None:
        raise InsufficientPoints("You have no points yet.")
    return reward_redeem(
        shop=shop,
        member_id=member_id,
        reward_id=reward_id,
        points=points,
        client_key=client_key,
        channel=channel,
    )


def _redemption_title(redemption: Redemption) -> str:
    """The discount's title in the store; it ends with the code so a lookup can tell the
    redemption's own discount from a merchant's discount that happens to use the code."""
    return f"Beam reward: {redemption.reward.name} ({redemption.code})"


def _redemption_discount_find(redemption: Redemption) -> DiscountCodeStatus | None:
    """The redemption's own discount in the store (``discount_own_find``)."""
    return discount_own_find(redemption.shop, redemption.code)


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
    flags: dict[str, Any] = {
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
    """Create the redemption's discount (the saga's second step, ``store_issue_attempt``).
    Every attempt counts against ``REDEMPTION_ISSUE_MAX_RETRIES`` and stamps ``updated_at``
    (what the sweeper watches). A permanent failure refunds the points; before creating
    again after an earlier attempt, the code (or, for store credit, the credit transaction)
    is looked up in the store and adopted, so an ambiguous timeout never yields two codes
    nor credits the customer twice.
    """
    redemption = Redemption.objects.select_related("reward", "shop", "member").get(pk=redemption_id)
    if redemption.status != Redemption.Status.PENDING:
        return redemption
    earlier_attempt = redemption.attempts > 0
    final_attempt = final_attempt or redemption.attempts >= REDEMPTION_ISSUE_MAX_RETRIES
    Redemption.objects.filter(pk=redemption.pk).update(
        attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    is_code = redemption.reward.kind != Reward.Kind.STORE_CREDIT

    def find_code() -> str | None:
        found = _redemption_discount_find(redemption)
        return found.id if found is not None else None

    outcome = store_issue_attempt(
        create=lambda: _redemption_create_in_store(redemption),
        find=lambda: _redemption_find_in_store(redemption),
        find_code=find_code if is_code else None,
        earlier_attempt=earlier_attempt,
        final_attempt=final_attempt,
    )
    if outcome.error:
        return _redemption_refund(
            redemption=redemption,
            from_status=Redemption.Status.PENDING,
            to_status=Redemption.Status.FAILED,
            error=outcome.error,
        )
    return _redemption_mark_issued(redemption, discount_id=outcome.object_id)


def redemptions_pending_sweep(*, now: datetime | None = None) -> int:
    """Take up pending redemptions whose issue task is overdue (``issues_pending_sweep``):
    the final attempt issues the code or refunds the points."""
    from loyalty import tasks

    return issues_pending_sweep(
        Redemption.objects.filter(status=Redemption.Status.PENDING),
        now=now,
        final=lambda pk: redemption_issue(redemption_id=pk, final_attempt=True),
        enqueue=tasks.redemption_issue.delay,
    )


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
        member = member_lock(shop_id=redemption.shop_id, member_id=redemption.member_id)
        moved = Redemption.objects.filter(pk=redemption.pk, status=from_status).update(
            status=to_status,
            error=error[:2000],
            closed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if moved:
            ledger_post(
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


CODE_CHANNELS = (Redemption.Channel.CHECKOUT, Redemption.Channel.CUSTOMER_ACCOUNT)
# Closed with the points given back (``_redemption_refund``): releasing again changes nothing.
POINTS_RETURNED = (
    Redemption.Status.CANCELLED,
    Redemption.Status.EXPIRED,
    Redemption.Status.FAILED,
)


def redemption_release(*, shop: Shop, redemption: Redemption, actor: str) -> Redemption:
    """Give back a code the checkout could not apply or the buyer removed from it:
    ``redemption_cancel`` deactivates it and refunds the points. Only codes redeemed through
    the extensions; releasing one whose points already came back answers it unchanged."""
    if redemption.channel not in CODE_CHANNELS:
        raise RedemptionNotCancellable("Only codes redeemed here can be released here.")
    if redemption.status in POINTS_RETURNED:
        return redemption
    return redemption_cancel(shop=shop, redemption_id=redemption.pk, actor=actor)


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


def redemption_cancel_audited(*, shop: Shop, redemption_id: int, actor: str) -> Redemption:
    """``redemption_cancel`` from the admin, audited in the refund's transaction."""
    return redemption_cancel(
        shop=shop, redemption_id=redemption_id, actor=actor, audit=AuditRecord(actor=actor)
    )
