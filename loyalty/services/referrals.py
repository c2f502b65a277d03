"""Referrals, the friend's side: the shop's settings, members' referral codes and links, a
followed link, the friend's claim and their one-time discount code, created in the store by
the redemption saga's platform step (``store_issue_attempt``: retried, looked up before a
second create, never two codes). The advocate's side (attribution of the friend's order,
the reward after the pending period, the merchant's unblock and cancel) is
``referrals_rewards``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from loyalty.audit import audit_record
from loyalty.errors import RedemptionIssueRetry, ReferralNotAvailable, ReferralRefused
from loyalty.member_versions import member_changed_on_commit
from loyalty.models import LoyaltyOrder, Member, Referral, ReferralCode, ReferralSettings, Reward
from loyalty.rules import referrals as rules
from loyalty.services.ledger import enqueue_on_commit
from loyalty.services.store_issue import (
    REDEMPTION_ISSUE_MAX_RETRIES,
    discount_own_find,
    issues_pending_sweep,
    store_issue_attempt,
)
from merchants.errors import ShopifyApiError, ShopNotInstalled
from merchants.models import Shop
from merchants.shopify.oauth import store_origin
from merchants.shopify.operations import discount_code_basic_create, discount_code_deactivate

logger = logging.getLogger(__name__)

CodeStatus = Referral.CodeStatus
Status = Referral.Status
CANCELLED_CODE_ERROR = "cancelled by the merchant"


def referral_settings_get(*, shop: Shop) -> ReferralSettings:
    """The shop's referral settings; unsaved defaults (off) before the first save."""
    return ReferralSettings.objects.filter(shop=shop).first() or ReferralSettings(shop=shop)


def referral_settings_save(*, shop: Shop, actor: str, data: dict[str, Any]) -> ReferralSettings:
    """Change the referral program (switch, friend offer, advocate reward, cap) and audit
    what changed, in one transaction; a refused setting raises ``ReferralRefused`` naming
    the field, and nothing is written."""
    with transaction.atomic(durable=True):
        row = ReferralSettings.objects.select_for_update().filter(shop=shop).first()
        row = row or ReferralSettings(shop=shop)
        current = {f: getattr(row, f) for f in rules.SETTINGS_FIELDS}
        merged = {**current, **data}
        reward_ids = Reward.objects.filter(shop=shop, active=True).exclude(
            kind=Reward.Kind.VARIABLE
        )
        problem = rules.settings_problem(merged, reward_ids=reward_ids.values_list("pk", flat=True))
        if problem is not None:
            raise ReferralRefused(problem[1], field=problem[0])
        changes = {f: [current[f], v] for f, v in data.items() if current[f] != v}
        if not changes and row.pk is not None:
            return row
        for field, value in data.items():
            setattr(row, field, value)
        if row.reward_kind == rules.REWARD_POINTS:
            row.reward_id = None
        row.save()
        audit_record(
            shop=shop,
            actor=actor,
            action="referrals.settings",
            target_type="referral_settings",
            target_id=row.pk,
            summary="Referral settings",
            changes=changes,
        )
    return row


# --- codes and links -------------------------------------------------------------------------


REFERRAL_CODE_DRAWS = 8


def referral_code_ensure(*, shop: Shop, member_id: int) -> str:
    """The member's referral code, made on the first read of their referral card.

    Why not when the member is created: members are created set-based by the crediting
    engine and by imports, and most never open the card; a code per member there would tax
    every path for a few readers. Here the read is one indexed query once the code exists;
    the first time, one conditional insert (``ON CONFLICT DO NOTHING``: the member's
    one-to-one and the shop's unique code are the guards, no savepoint, no lock) and a read
    back. Two concurrent first reads both insert; the database keeps one row and both read
    it. A draw clashing with another member's code inserts nothing and draws again."""
    found = ReferralCode.objects.filter(member_id=member_id).values_list("code", flat=True)
    code = found.first()
    for _ in range(REFERRAL_CODE_DRAWS):
        if code is not None:
            return code
        draw = rules.referral_code_new(secrets.choice)
        ReferralCode.objects.bulk_create(
            [ReferralCode(shop=shop, member_id=member_id, code=draw)], ignore_conflicts=True
        )
        code = found.first()
    if code is not None:
        return code
    raise RuntimeError(f"no free referral code after {REFERRAL_CODE_DRAWS} draws")


def referral_link(*, shop: Shop, code: str, path_prefix: str = "/apps/beam") -> str:
    """The referral link on the store's own domain (the app proxy serves it; the devstore's
    store in local and test settings)."""
    return f"{store_origin(shop.domain)}{path_prefix}/r/{code}"


def referral_advocate(*, shop: Shop, code: str) -> tuple[ReferralSettings, Member]:
    """The shop's settings (on) and the advocate of ``code``, else ``ReferralNotAvailable``."""
    clean = rules.referral_code_clean(code)
    config = referral_settings_get(shop=shop)
    if clean is None or not config.enabled:
        raise ReferralNotAvailable()
    found = ReferralCode.objects.select_related("member").filter(shop=shop, code=clean).first()
    if found is None or found.member.redacted:
        raise ReferralNotAvailable()
    return config, found.member


def referral_visit(*, shop: Shop, code: str) -> bool:
    """Count a followed link (one conditional update); False for an unknown code."""
    clean = rules.referral_code_clean(code)
    if clean is None:
        return False
    return bool(ReferralCode.objects.filter(shop=shop, code=clean).update(visits=F("visits") + 1))


# --- the friend's claim ----------------------------------------------------------------------


def _known_customer(shop: Shop, email: str) -> bool:
    """Beam holds orders of this email (as a member's or a guest's)."""
    members = Member.objects.filter(shop=shop, email=email).values_list("pk", flat=True)
    if LoyaltyOrder.objects.filter(shop=shop, member_id__in=list(members)).exists():
        return True
    return LoyaltyOrder.objects.filter(shop=shop, email=email, member__isnull=True).exists()


def referral_claim(*, shop: Shop, code: str, email: str, ip: str) -> Referral:
    """The friend gives an email on the advocate's link: one ``Referral`` per mailbox in the
    shop (the same email again returns the first one, its code included), checked against
    the claim's fraud checks (a blocked claim gets no code). The code is created in the
    store after the commit by ``referral_discount_issue`` (a failed one is tried again by a
    new claim)."""
    config, advocate = referral_advocate(shop=shop, code=code)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ReferralRefused("Enter a valid email address.", field="email") from exc
    key = rules.email_key(email)
    existing = Referral.objects.filter(shop=shop, friend_key=key).first()
    if existing is not None:
        return _claim_again(existing)
    hashed = rules.ip_hash(ip, settings.SHOPIFY_API_SECRET) if ip else ""
    since = timezone.now() - rules.IP_WINDOW
    from_ip = (
        Referral.objects.filter(shop=shop, ip_hash=hashed, created_at__gte=since).count()
        if hashed
        else 0
    )
    verdict = rules.claim_verdict(
        friend_email=email,
        advocate_email=advocate.email,
        ip_referrals_this_week=from_ip + 1,
        known_customer=_known_customer(shop, key) or _known_customer(shop, email),
    )
    try:
        with transaction.atomic(durable=True):
            referral = Referral(
                shop=shop, advocate=advocate, friend_email=email, friend_key=key, ip_hash=hashed
            )
            if verdict is not None:
                referral.status = Status.BLOCKED
                referral.reason, referral.reason_detail = verdict.reason, verdict.detail[:255]
                referral.save()
            else:
                _friend_code_open(referral, config)
            member_changed_on_commit(shop_id=shop.pk, customer_id=advocate.customer_id)
    except IntegrityError:  # the same mailbox claimed concurrently: the first one stands
        return Referral.objects.get(shop=shop, friend_key=key)
    referral.refresh_from_db()
    return referral


def _friend_code_open(referral: Referral, config: ReferralSettings) -> None:
    """Give the referral a fresh code to create (saved), its issue queued after the commit.
    Precondition: inside the transaction that writes the referral."""
    from loyalty import tasks

    now = timezone.now()
    for _ in range(8):
        code = rules.friend_code_new(secrets.choice)
        if not Referral.objects.filter(shop_id=referral.shop_id, code=code).exists():
            break
    referral.code = code
    referral.code_status = CodeStatus.PENDING
    referral.attempts = 0
    referral.error = ""
    referral.expires_at = now + timedelta(days=config.code_valid_days)
    referral.save()
    enqueue_on_commit(tasks.referral_discount_issue, referral.pk)


def _claim_again(referral: Referral) -> Referral:
    """The same mailbox claims again: its referral as it is; a code whose creation failed
    for good is tried again (a new code: the failed one may half-exist in the store)."""
    if referral.code_status != CodeStatus.FAILED or referral.status != Status.PENDING:
        return referral
    with transaction.atomic(durable=True):
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if locked.code_status == CodeStatus.FAILED and locked.status == Status.PENDING:
            _friend_code_open(locked, referral_settings_get(shop=referral.shop))
    referral.refresh_from_db()
    return referral


def referral_friend_code_reopen(*, referral: Referral) -> None:
    """A claim-time block lifted by the merchant: the friend's code is made now.
    Precondition: inside the transaction holding the referral's lock."""
    _friend_code_open(referral, referral_settings_get(shop=referral.shop))


# --- the friend's code in the store (the saga's platform step) --------------------------------


def _friend_discount_create(referral: Referral, config: ReferralSettings) -> str:
    assert referral.code is not None
    percent = config.offer_kind == rules.OFFER_PERCENT
    created = discount_code_basic_create(
        referral.shop,
        code=referral.code,
        title=f"Beam referral: friend of {referral.advocate.first_name or 'a member'} "
        f"({referral.code})",
        customer_gid=None,
        starts_at=referral.created_at,
        ends_at=referral.expires_at,
        minimum_subtotal=config.offer_minimum,
        combines_with_shipping=True,
        percentage=config.offer_value / Decimal(100) if percent else None,
        amount=None if percent else config.offer_value,
    )
    return created.id


def referral_discount_issue(*, referral_id: int, final_attempt: bool) -> Referral:
    """Create the friend's code in the store (``store_issue_attempt``: an earlier attempt's
    code is adopted, never a second one). A permanent failure marks the code failed (the
    friend's next claim tries again); a transient one raises ``RedemptionIssueRetry``."""
    referral = Referral.objects.select_related("shop", "advocate").get(pk=referral_id)
    if referral.code_status != CodeStatus.PENDING or referral.code is None:
        return referral
    code = referral.code
    earlier_attempt = referral.attempts > 0
    final_attempt = final_attempt or referral.attempts >= REDEMPTION_ISSUE_MAX_RETRIES
    # conditional: a cancel that finds no attempt started marks the code failed instead
    started = Referral.objects.filter(pk=referral.pk, code_status=CodeStatus.PENDING).update(
        attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not started:
        referral.refresh_from_db()
        return referral
    if referral.status == Status.CANCELLED:
        return _friend_code_end(referral, look_up=earlier_attempt, final_attempt=final_attempt)
    config = referral_settings_get(shop=referral.shop)

    def find() -> str | None:
        found = discount_own_find(referral.shop, code)
        return found.id if found is not None else None

    outcome = store_issue_attempt(
        create=lambda: _friend_discount_create(referral, config),
        find=find,
        find_code=find,
        earlier_attempt=earlier_attempt,
        final_attempt=final_attempt,
    )
    pending = Referral.objects.filter(pk=referral.pk, code_status=CodeStatus.PENDING)
    now = timezone.now()
    if outcome.error:
        pending.update(code_status=CodeStatus.FAILED, error=outcome.error[:2000], updated_at=now)
    elif not pending.exclude(status=Status.CANCELLED).update(
        code_status=CodeStatus.ISSUED, discount_id=outcome.object_id, error="", updated_at=now
    ):
        # cancelled while the store made the code: kept, so a retry ends this very code
        pending.update(discount_id=outcome.object_id, updated_at=now)
        referral.refresh_from_db()
        if referral.code_status == CodeStatus.PENDING:
            return _friend_code_end(referral, look_up=False, final_attempt=final_attempt)
    referral.refresh_from_db()
    return referral


def _friend_code_end(referral: Referral, *, look_up: bool, final_attempt: bool) -> Referral:
    """The saga's step for a friend's code whose referral the merchant cancelled while an
    issue attempt had started: the code the store made (its id recorded, else looked up
    when an earlier attempt may have made it) is deactivated, the call the cancel itself
    uses. A transient failure raises ``RedemptionIssueRetry`` (the task's retries, then the
    sweep, come back here); the code ends ``issued`` (ended in the store) or ``failed``."""
    pending = Referral.objects.filter(pk=referral.pk, code_status=CodeStatus.PENDING)
    discount_id = referral.discount_id
    try:
        if not discount_id and look_up and referral.code:
            found = discount_own_find(referral.shop, referral.code)
            discount_id = found.id if found is not None else ""
        if discount_id:
            discount_code_deactivate(referral.shop, discount_id=discount_id)
    except ShopNotInstalled:
        discount_id = ""  # uninstalled: the store ended the app's codes with it
    except ShopifyApiError as exc:
        if not final_attempt:
            raise RedemptionIssueRetry(str(exc)) from exc
        logger.error("referral %s: cancelled code not ended in the store: %s", referral.pk, exc)
        pending.update(
            code_status=CodeStatus.FAILED,
            error=f"cancelled by the merchant; the store could not end the code: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        referral.refresh_from_db()
        return referral
    pending.update(
        code_status=CodeStatus.ISSUED if discount_id else CodeStatus.FAILED,
        discount_id=discount_id,
        error=CANCELLED_CODE_ERROR,
        updated_at=timezone.now(),
    )
    referral.refresh_from_db()
    return referral


def referral_codes_pending_sweep(*, now: datetime | None = None) -> int:
    """Take up friends' codes whose issue task is overdue (``issues_pending_sweep``, the
    redemptions' sweep): the final attempt issues the code or marks it failed."""
    from loyalty import tasks

    return issues_pending_sweep(
        Referral.objects.filter(code_status=CodeStatus.PENDING),
        now=now,
        final=lambda pk: referral_discount_issue(referral_id=pk, final_attempt=True),
        enqueue=tasks.referral_discount_issue.delay,
    )


def referral_ip_hashes_purge(*, now: datetime | None = None) -> int:
    """Blank the hashed IPs older than ``IP_RETENTION`` (the weekly check needs a week)."""
    cutoff = (now or timezone.now()) - rules.IP_RETENTION
    return Referral.objects.filter(created_at__lt=cutoff).exclude(ip_hash="").update(ip_hash="")
