"""Privacy: customer data export, customer and shop redaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models, transaction
from django.db.models import Q

from loyalty.member_versions import (
    member_changed_on_commit,
    shop_members_changed_on_commit,
)
from loyalty.models import (
    ActionAward,
    BonusEvent,
    EarningAction,
    ExpiryWarning,
    LedgerDrift,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    MemberBirthday,
    OrderRefund,
    ProductTags,
    Redemption,
    Referral,
    ReferralCode,
    ReferralSettings,
    Reward,
    Tier,
    TierChange,
    TierPreview,
    TierRecompute,
    TierSettings,
    TierSync,
)
from loyalty.rules import referrals as referral_rules
from merchants.models import Shop


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


def _birthday_export(member: Member) -> dict[str, int | None] | None:
    row = MemberBirthday.objects.filter(member=member).first()
    return None if row is None else {"month": row.month, "day": row.day, "year": row.year}


def _referral_export(r: Referral) -> dict[str, Any]:
    return {
        "friend_email": r.friend_email,
        "status": r.status,
        "reason": r.reason,
        "code": r.code,
        "order": r.order_name,
        "reward_points": r.reward_points,
        "ip_hash": r.ip_hash,
        "created_at": r.created_at.isoformat(),
    }


def _emails(*candidates: str | None) -> set[str]:
    return {e.strip().lower() for e in candidates if e}


def _friend_referrals(
    *, shop: Shop, customer_id: int, emails: set[str]
) -> models.QuerySet[Referral]:
    """The referrals naming the customer as the friend: by customer id (once they ordered)
    or by email (a friend may never have ordered)."""
    friend = Q(friend_customer_id=customer_id)
    for address in emails:
        friend |= Q(friend_key=referral_rules.email_key(address)) | Q(friend_email=address)
    return Referral.objects.filter(shop=shop).filter(friend)


def customer_data_export(*, shop: Shop, customer_id: int, email: str | None) -> dict[str, Any]:
    """Everything Beam holds on one customer (compliance customers/data_request)."""
    member = _member_for_customer(shop=shop, customer_id=customer_id, email=email)
    received = _friend_referrals(
        shop=shop, customer_id=customer_id, emails=_emails(email, member.email if member else None)
    ).order_by("pk")
    if member is None:
        return {
            "customer_id": customer_id,
            "email": email,
            "member": None,
            "referrals_received": [_referral_export(r) for r in received],
        }

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
            "birthday": _birthday_export(member),
            "balance": member.balance,
            "pending_points": member.pending_points,
            "lifetime_earned": member.lifetime_earned,
            "lifetime_redeemed": member.lifetime_redeemed,
            "created_at": _iso(member.created_at),
            "tier": member.tier.name if member.tier else None,
            "tier_multiplier": str(member.tier_multiplier),
            "earned_tier": member.earned_tier.name if member.earned_tier else None,
            "earned_tier_until": _iso(member.tier_expires_at),
            "granted_tier": member.granted_tier.name if member.granted_tier else None,
            "granted_tier_until": _iso(member.grant_ends_at),
        },
        "tier_history": [
            {
                "at": _iso(c.at),
                "from": c.from_name,
                "to": c.to_name,
                "reason": c.reason,
                "until": _iso(c.ends_at),
                "note": c.note,
            }
            for c in member.tier_changes.order_by("at", "pk")
        ],
        "earning_actions": [
            {
                "action": a.action.key,
                "key": a.key,
                "source_ref": a.source_ref,
                "on": _iso(a.occurred_on),
                "points": a.points,
                "points_reversed": a.points_reversed,
                "reversed_at": _iso(a.reversed_at),
                "created_at": _iso(a.created_at),
            }
            for a in member.action_awards.select_related("action").order_by("pk")
        ],
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
        "referrals_made": [_referral_export(r) for r in member.referrals_made.order_by("pk")],
        "referrals_received": [_referral_export(r) for r in received],
        "referral_code": ReferralCode.objects.filter(member=member)
        .values_list("code", flat=True)
        .first(),
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
        emails = _emails(email, member.email if member else None)
        if member is not None:
            member.email = ""
            member.first_name = ""
            member.last_name = ""
            member.redacted = True
            member.save(
                update_fields=["email", "first_name", "last_name", "redacted", "updated_at"]
            )
            MemberBirthday.objects.filter(shop=shop, member=member).delete()
            # Awards stay (anonymous points history); what a source said of them goes.
            ActionAward.objects.filter(shop=shop, member=member).update(
                source_ref="", reversal_reason=""
            )
            member_changed_on_commit(shop_id=shop.pk, customer_id=member.customer_id)
            # The tier history stays (tiers and reasons, anonymous once the member is);
            # notes are free text staff may have written about the customer.
            TierChange.objects.filter(shop=shop, member=member).update(note="")
            # Nothing more is written to the customer (its data is going away).
            TierSync.objects.filter(shop=shop, member=member).delete()
            # As advocate: the friends' emails and hashed IPs go; the rows (counts, rewards)
            # stay anonymous.
            _referrals_redact(Referral.objects.filter(shop=shop, advocate=member))
        _referrals_redact(_friend_referrals(shop=shop, customer_id=customer_id, emails=emails))
        orders = LoyaltyOrder.objects.filter(shop=shop)
        match = Q(customer_id=customer_id)
        if emails:
            match |= Q(email__in=emails)
        orders.filter(match).update(email="", ship_key="")


def _referrals_redact(rows: models.QuerySet[Referral]) -> None:
    for pk in rows.values_list("pk", flat=True):
        Referral.objects.filter(pk=pk).update(
            friend_email="", friend_key=f"redacted:{pk}", ip_hash="", reason_detail=""
        )


def shop_data_erase(*, shop: Shop) -> None:
    """Erase every loyalty row of the shop (shop/redact). The only path that deletes ledger
    entries: the shop's data must go entirely."""
    with transaction.atomic(durable=True):
        for model in (
            Referral,
            ReferralCode,
            ReferralSettings,
            MemberBirthday,
            ActionAward,
            TierSync,
            TierChange,
            LedgerDrift,
            ExpiryWarning,
            Redemption,
            OrderRefund,
            LoyaltyOrder,
        ):
            model.objects.filter(shop=shop).delete()
        models.QuerySet.delete(LedgerEntry.objects.filter(shop=shop))
        for parent in (
            Member,
            TierPreview,
            TierRecompute,
            Tier,
            TierSettings,
            Reward,
            BonusEvent,
            EarningAction,
            ProductTags,
            LoyaltyProgram,
        ):
            parent.objects.filter(shop=shop).delete()
        shop_members_changed_on_commit(shop_id=shop.pk)
