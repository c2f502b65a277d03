"""Referral reads: the program document's referral block (shop-wide, cached with it), a
member's referral block in ``me`` (code, link, share links, counts by status), the friend's
offer behind a link, and the admin's reads (every one filtered by shop)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from loyalty.models import Member, Referral, ReferralSettings
from loyalty.rules import referrals as rules
from merchants.models import Shop

SHARE_SUBJECT = "A gift for you from {shop}"
SHARE_BODY = "Here is {offer} your first order at {shop}:"


def referral_program_block(*, shop: Shop, config: ReferralSettings | None) -> dict[str, Any]:
    """What the program document says of referrals: on or off, the friend's offer (kind,
    value, minimum, first order only) and the advocate's reward."""
    if config is None or not config.enabled:
        return {"enabled": False}
    reward: dict[str, Any] = {"kind": config.reward_kind}
    if config.reward_kind == rules.REWARD_POINTS:
        reward["points"] = config.reward_points
    else:
        reward["reward"] = config.reward.name if config.reward else ""
    return {
        "enabled": True,
        "friend_offer": {
            "kind": config.offer_kind,
            "value": f"{config.offer_value:.2f}",
            "minimum": None if config.offer_minimum is None else f"{config.offer_minimum:.2f}",
            "first_order_only": config.first_order_only,
            "label": rules.offer_label(config.offer_kind, config.offer_value, shop.currency),
        },
        "advocate_reward": reward,
    }


def referral_settings_read(*, shop: Shop) -> ReferralSettings | None:
    return ReferralSettings.objects.select_related("reward").filter(shop=shop).first()


def referral_counts(*, shop: Shop, member_id: int) -> dict[str, int]:
    """The member's referrals by status (every status present, 0 when none)."""
    counts = dict.fromkeys(rules.STATUSES, 0)
    rows = (
        Referral.objects.filter(shop=shop, advocate_id=member_id)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    counts.update(dict(rows))
    return counts


def member_referral_block(
    *, shop: Shop, member_id: int, code: str, link: str, offer_label: str
) -> dict[str, Any]:
    """The panel's referral block: code, link, share links by URL, counts by status."""
    shop_name = shop.name or shop.domain.split(".")[0]
    return {
        "code": code,
        "url": link,
        "share": rules.share_links(
            url=link,
            subject=SHARE_SUBJECT.format(shop=shop_name),
            body=SHARE_BODY.format(offer=offer_label, shop=shop_name),
        ),
        "counts": referral_counts(shop=shop, member_id=member_id),
    }


def friend_offer(*, shop: Shop, config: ReferralSettings, advocate: Member) -> dict[str, Any]:
    """What a visitor who followed a link sees: whose friend they are (first name only) and
    the offer."""
    block = referral_program_block(shop=shop, config=config)
    return {"advocate": advocate.first_name or "", "offer": block["friend_offer"]}


def referral_claim_document(referral: Referral) -> dict[str, Any]:
    """The friend's answer: the referral's state and, once created, the code."""
    refused = referral.status in (rules.BLOCKED, rules.CANCELLED)  # a cancel ends the code
    issued = referral.code_status == Referral.CodeStatus.ISSUED
    return {
        "status": "refused" if refused else referral.code_status or "pending",
        "code": referral.code if issued and not refused else None,
        "expires_at": referral.expires_at.isoformat() if referral.expires_at and issued else None,
    }


def referrals_admin(*, shop: Shop, status: str = "", search: str = "") -> QuerySet[Referral]:
    """The shop's referrals for the merchant, newest first, by status and email search."""
    rows = Referral.objects.filter(shop=shop).select_related("advocate").order_by("-created_at")
    if status in rules.STATUSES:
        rows = rows.filter(status=status)
    if search.strip():
        rows = rows.filter(friend_email__icontains=search.strip().lower())
    return rows


def referral_reason_label(reason: str) -> str:
    return rules.REASONS.get(reason, reason)
