"""Referral reads: the program document's referral block (shop-wide, cached with it), a
member's referral block in ``me`` (code, link, share links, counts by status), the friend's
offer behind a link, and the admin's reads (every one filtered by shop)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from loyalty.models import Member, Referral, ReferralSettings
from loyalty.rules import referrals as rules
from merchants.models import Shop


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


def member_referral_block(*, shop: Shop, member_id: int, code: str, link: str) -> dict[str, Any]:
    """The panel's referral block: code, link, share intents by URL, counts by status (the
    panel writes the texts, the email's included, in the shopper's language)."""
    return {
        "code": code,
        "url": link,
        "share": rules.share_links(url=link),
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
    """The shop's referrals for the merchant, newest first, by status and a search over the
    friend's and the advocate's emails, the advocate's referral code and the friend's code."""
    rows = (
        Referral.objects.filter(shop=shop)
        .select_related("advocate", "advocate__referral_code")
        .order_by("-created_at", "-pk")
    )
    if status in rules.STATUSES:
        rows = rows.filter(status=status)
    q = search.strip()
    if q:
        rows = rows.filter(
            Q(friend_email__icontains=q.lower())
            | Q(advocate__email__icontains=q)
            | Q(advocate__referral_code__code=q.upper())
            | Q(code=q.upper())
        )
    return rows


def referral_status_counts(*, shop: Shop) -> dict[str, int]:
    """The shop's referrals by status (every status present): the list's tab counts."""
    counts = dict.fromkeys(rules.STATUSES, 0)
    rows = Referral.objects.filter(shop=shop).values_list("status").annotate(n=Count("pk"))
    counts.update(dict(rows))
    return counts


TOP_ADVOCATES = 5


def referral_analytics(*, shop: Shop) -> dict[str, Any]:
    """The admin's referral figures (4 queries): referred revenue per currency (orders paid
    with a friend's code, not cancelled), conversion (claims that got a code → those whose
    order was paid) and the top advocates by rewarded referrals, with their revenue per
    currency."""
    converted = Q(order_id__isnull=False, status__in=(rules.ORDERED, rules.COMPLETED))
    rows = Referral.objects.filter(shop=shop)
    revenue = list(
        rows.filter(converted)
        .values("currency")
        .annotate(total=Sum("order_total"))
        .order_by("currency")
    )
    figures = rows.aggregate(
        claims=Count("pk", filter=~Q(code=None)), orders=Count("pk", filter=converted)
    )
    claims, orders = figures["claims"], figures["orders"]
    completed = rows.filter(status=rules.COMPLETED)
    top = list(
        completed.values(
            "advocate_id", "advocate__email", "advocate__first_name", "advocate__last_name"
        )
        .annotate(completed=Count("pk"))
        .order_by("-completed", "advocate_id")[:TOP_ADVOCATES]
    )
    # Their revenue per currency: amounts in different currencies are never added up.
    revenue_of: dict[int, list[dict[str, Any]]] = {}
    for r in (
        completed.filter(advocate_id__in=[t["advocate_id"] for t in top])
        .values("advocate_id", "currency")
        .annotate(total=Sum("order_total"))
        .order_by("advocate_id", "currency")
    ):
        revenue_of.setdefault(r["advocate_id"], []).append(
            {"currency": r["currency"] or shop.currency, "total": r["total"] or Decimal(0)}
        )
    return {
        "revenue": [
            {"currency": r["currency"] or shop.currency, "total": r["total"] or Decimal(0)}
            for r in revenue
        ],
        "claims": claims,
        "orders": orders,
        "conversion": None if not claims else round(Decimal(orders * 100) / claims, 1),
        "top_advocates": [
            {
                "member_id": t["advocate_id"],
                "name": " ".join(
                    x for x in (t["advocate__first_name"], t["advocate__last_name"]) if x
                ),
                "email": t["advocate__email"],
                "completed": t["completed"],
                "revenue": revenue_of.get(t["advocate_id"], []),
            }
            for t in top
        ],
    }


def referral_reason_label(reason: str) -> str:
    return rules.REASONS.get(reason, reason)
