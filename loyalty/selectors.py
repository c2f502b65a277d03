"""Reads of the loyalty domain. Every selector takes ``shop`` and filters by it.

The documents shoppers see are built here once: ``program_document`` is what the app proxy,
the landing page, the admin's live preview and the UI extensions all show;
``redemption_document`` and ``ledger_entry_label`` are the one serialisation of a
redemption and the one wording of a ledger entry.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from loyalty.branding import LANGUAGES, branding_resolve
from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyProgram,
    Member,
    Redemption,
    Reward,
    Tier,
    TierChange,
    TierSettings,
)
from loyalty.rules.rewards import reward_entry_cost, reward_tier_label, variable_range
from loyalty.rules.tiers import (
    MemberTier,
    QualifyingSums,
    TierDef,
    TierRules,
    qualifying_fields,
    qualifying_value,
    tier_next,
    window_now,
)
from loyalty.selectors_earning import earning_action_ways, earning_actions_shown
from loyalty.selectors_referrals import referral_program_block, referral_settings_read
from loyalty.services.tiers import tier_rules_load, tier_sums_read
from merchants.models import Shop

TEXT_LIMIT = 300
ENTRY_LABELS: dict[str, str] = {
    LedgerEntry.Kind.ORDER_EARN: "Order {note}",
    LedgerEntry.Kind.ORDER_REFUND: "Refund on order {note}",
    LedgerEntry.Kind.ORDER_CANCEL: "Order {note} cancelled",
    LedgerEntry.Kind.WELCOME: "Welcome points",
    LedgerEntry.Kind.MANUAL: "Adjustment",
    LedgerEntry.Kind.IMPORT: "Imported balance",
    LedgerEntry.Kind.REDEEM: "Redeemed {note}",
    LedgerEntry.Kind.REDEEM_REFUND: "Reward refunded",
    LedgerEntry.Kind.EXPIRE: "Points expired",
    LedgerEntry.Kind.BONUS: "Bonus points",
    LedgerEntry.Kind.TIER_ENTRY: "Welcome to {note}",
    LedgerEntry.Kind.ACTION: "{note}",  # the way to earn's reason: "Birthday gift"
    LedgerEntry.Kind.ACTION_REVERSAL: "{note} (taken back)",
    LedgerEntry.Kind.REFERRAL: "Referral: {note}",  # the friend's order, e.g. "#1002"
}
KIND_TITLES: dict[str, str] = {
    Reward.Kind.FIXED_AMOUNT: "{value} off your order",
    Reward.Kind.PERCENTAGE: "{pct}% off your order",
    Reward.Kind.FREE_SHIPPING: "Free shipping",
    Reward.Kind.FREE_PRODUCT: "Free product",
    Reward.Kind.VARIABLE: "Points discount",
    Reward.Kind.STORE_CREDIT: "Store credit",
}
SHOWN_CODE_STATUSES = (Redemption.Status.ISSUED, Redemption.Status.USED)
FAILED_REDEMPTION_MESSAGE = "The store did not accept the code; your points were returned."

MEMBER_EXPORT_COLUMNS = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "points",
    "pending_points",
    "lifetime_earned",
    "lifetime_redeemed",
    "last_activity_at",
    "created_at",
)
LEDGER_EXPORT_COLUMNS = (
    "id",
    "created_at",
    "customer_id",
    "amount",
    "kind",
    "bucket",
    "source_type",
    "source_id",
    "actor",
    "note",
)


def member_get(*, shop: Shop, member_id: int) -> Member | None:
    return Member.objects.filter(shop=shop, pk=member_id).first()


def member_get_by_customer(*, shop: Shop, customer_id: int) -> Member | None:
    return Member.objects.filter(shop=shop, customer_id=customer_id).first()


def member_ledger(*, shop: Shop, member: Member) -> QuerySet[LedgerEntry]:
    """The member's history, newest first."""
    return LedgerEntry.objects.filter(shop=shop, member=member).order_by("-created_at", "-pk")


def member_redemptions(*, shop: Shop, member: Member) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(shop=shop, member=member)
        .select_related("reward")
        .order_by("-created_at", "-pk")
    )


def _safe_cell(value: object) -> str:
    """Neutralise spreadsheet formulas in exported text (CSV injection)."""
    text = "" if value is None else str(value)
    return (
        "'" + text
        if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text)
        else text
    )


def _is_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def members_export_csv(*, shop: Shop, out: IO[str]) -> int:
    """Write the shop's members as CSV (the columns the import reads come first)."""
    writer = csv.writer(out)
    writer.writerow(MEMBER_EXPORT_COLUMNS)
    count = 0
    for m in Member.objects.filter(shop=shop).order_by("pk").iterator(chunk_size=2000):
        writer.writerow(
            [
                _safe_cell(v)
                for v in (
                    m.customer_id,
                    m.email,
                    m.first_name,
                    m.last_name,
                    m.balance,
                    m.pending_points,
                    m.lifetime_earned,
                    m.lifetime_redeemed,
                    m.last_activity_at.isoformat() if m.last_activity_at else "",
                    m.created_at.isoformat(),
                )
            ]
        )
        count += 1
    return count


def ledger_export_csv(*, shop: Shop, out: IO[str]) -> int:
    """Write the shop's ledger as CSV, oldest first."""
    writer = csv.writer(out)
    writer.writerow(LEDGER_EXPORT_COLUMNS)
    count = 0
    entries = (
        LedgerEntry.objects.filter(shop=shop)
        .select_related("member")
        .order_by("pk")
        .iterator(chunk_size=2000)
    )
    for e in entries:
        writer.writerow(
            [
                _safe_cell(v)
                for v in (
                    e.pk,
                    e.created_at.isoformat(),
                    e.member.customer_id,
                    e.amount,
                    e.kind,
                    e.bucket,
                    e.source_type,
                    e.source_id,
                    e.actor,
                    e.note,
                )
            ]
        )
        count += 1
    return count


# --- the documents shoppers see -------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with ``Z`` (what the panel's ``Date`` parses everywhere)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def number_plain(value: Decimal) -> str:
    """``1.0000`` → ``1``, ``2.5000`` → ``2.5``, ``10`` stays ``10`` (no exponent)."""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def ledger_entry_label(*, kind: str, note: str, bucket: str) -> str:
    """The one wording of a ledger entry for shoppers (panel, account page)."""
    label = ENTRY_LABELS.get(kind, "Points").format(note=note or "").strip()
    return f"{label} (pending)" if bucket == LedgerEntry.Bucket.PENDING else label


def reward_title(*, name: str, kind: str, value: Decimal | None, currency: str) -> str:
    """The reward's name, or a title made from its kind and value when it has none."""
    if name:
        return name
    amount = Decimal(value or 0)
    return KIND_TITLES[kind].format(value=f"{amount:.2f} {currency}", pct=number_plain(amount))


def reward_document(reward: Reward, currency: str) -> dict[str, Any]:
    """One reward as every surface shows it; a variable reward with its range and step."""
    variable = None
    if reward.kind == Reward.Kind.VARIABLE:
        bounds = variable_range(reward)
        variable = {
            "min_points": bounds.min_points,
            "max_points": bounds.max_points,
            "points_per_unit": bounds.step,
            "unit_value": money(bounds.unit_value),
        }
    return {
        "id": str(reward.pk),
        "title": reward_title(
            name=reward.name, kind=reward.kind, value=reward.value, currency=currency
        ),
        "kind": reward.kind,
        "points_cost": reward.points_cost if variable is None else None,
        "value": money(reward.value) if variable is None else None,
        "currency": currency,
        "min_subtotal": money(reward.minimum_subtotal or Decimal(0)),
        "variable": variable,
        # Tier-exclusive: members of this tier and above (``me``'s tier rank tells who).
        "tier": None
        if reward.min_tier is None
        else {
            "name": reward.min_tier.name,
            "rank": reward.min_tier.rank,
            "label": reward_tier_label(reward.min_tier.name),
        },
    }


def program_rewards(*, shop: Shop, program: LoyaltyProgram) -> list[Reward]:
    """The rewards shoppers can pick: none while the program is paused, cheapest first (a
    variable reward by its minimum), the same order on every database. A tier-exclusive
    reward is listed only while its tier can be reached (tiers on, the tier active)."""
    if not program.enabled:
        return []
    rewards = (
        Reward.objects.filter(shop=shop, active=True)
        .filter(
            Q(min_tier__isnull=True) | Q(min_tier__active=True, min_tier__settings__enabled=True)
        )
        .select_related("min_tier")
    )
    return sorted(rewards, key=lambda r: (reward_entry_cost(r), r.pk))


def member_tier_rank(*, shop: Shop, member: Member | None) -> int | None:
    """The rank of the member's tier in effect while tiers are on (None: no tier); what a
    tier-exclusive reward is checked against. One query when the member has a tier."""
    if member is None or member.tier_id is None:
        return None
    return (
        Tier.objects.filter(shop=shop, pk=member.tier_id, active=True, settings__enabled=True)
        .values_list("rank", flat=True)
        .first()
    )


def program_texts(program: LoyaltyProgram) -> dict[str, dict[str, str]]:
    """The merchant's shopper texts per offered language (blank ones dropped)."""
    out: dict[str, dict[str, str]] = {}
    stored = program.texts if isinstance(program.texts, dict) else {}
    for lang, entries in stored.items():
        if lang not in LANGUAGES or not isinstance(entries, dict):
            continue
        out[lang] = {
            str(k)[:40]: v[:TEXT_LIMIT]
            for k, v in entries.items()
            if isinstance(v, str) and v.strip()
        }
    return out


def _earning(program: LoyaltyProgram, currency: str, bonuses: list[BonusEvent]) -> list[dict]:
    if not program.enabled:
        return []
    ratio = number_plain(program.points_per_currency_unit)
    ways: list[dict[str, Any]] = []
    if program.points_per_currency_unit > 0:
        unit = "point" if ratio == "1" else "points"
        ways.append(
            {
                "key": "order",
                "title": "Place an order",
                "description": f"{ratio} {unit} for every 1 {currency} spent",
                "points_label": f"{ratio} pt / 1 {currency}",
                "done": None,
            }
        )
    if program.welcome_points:
        ways.append(
            {
                "key": "signup",
                "title": "Create an account",
                "description": "",
                "points_label": f"{program.welcome_points} points",
                "done": None,
            }
        )
    for bonus in bonuses:
        ways.append(
            {
                "key": f"bonus-{bonus.pk}",
                "title": bonus.name or "Bonus points",
                "description": f"Until {bonus.ends_at:%Y-%m-%d}",
                "points_label": f"x{number_plain(bonus.multiplier)} points",
                "done": None,
            }
        )
    return ways


def program_get(*, shop: Shop) -> LoyaltyProgram:
    """The shop's program settings; an unsaved default one before the first save."""
    return LoyaltyProgram.objects.filter(shop=shop).first() or LoyaltyProgram(shop=shop)


def program_document(*, shop: Shop, program: LoyaltyProgram | None = None) -> dict[str, Any]:
    """The shop-wide program shoppers see: branding, texts, ways to earn (orders, sign-up,
    bonus events, then the earning actions on), rewards, tiers, referrals (6 queries, 5 with
    ``program``). The app proxy, the landing page, the admin's live
    preview and the UI extensions all read this one document."""
    program = program or program_get(shop=shop)
    now = timezone.now()
    bonuses = list(
        BonusEvent.objects.filter(shop=shop, starts_at__lte=now, ends_at__gt=now).order_by(
            "ends_at", "pk"
        )
    )
    rewards = program_rewards(shop=shop, program=program)
    branding = branding_resolve(program.branding)
    actions = earning_action_ways(
        shop=shop, actions=earning_actions_shown(shop=shop), languages=branding["languages"]
    )
    return {
        "shop": {"name": shop.name or shop.domain.split(".")[0], "currency": shop.currency},
        "enabled": program.enabled,
        "branding": branding,
        "texts": program_texts(program),
        "earning": _earning(program, shop.currency, bonuses if program.enabled else [])
        + (actions if program.enabled else []),
        "rewards": [reward_document(r, shop.currency) for r in rewards],
        "tiers": tiers_shown(shop=shop),
        "referrals": referral_program_block(shop=shop, config=referral_settings_read(shop=shop)),
    }


def tier_threshold(value: Decimal, metric: str) -> int | str:
    """A threshold or qualifying value as shoppers see it: whole points or orders, or money."""
    if metric == TierSettings.Metric.SPEND:
        return f"{value:.2f}"
    return int(value)


def tiers_shown(*, shop: Shop) -> list[dict[str, Any]]:
    """The shop's tiers in threshold order while tiers are on (1 query): name, threshold in
    the metric's unit, earning multiplier, perks, entry points."""
    tiers = (
        Tier.objects.filter(shop=shop, active=True, settings__enabled=True)
        .select_related("settings")
        .order_by("rank", "pk")
    )
    return [
        {
            "name": t.name,
            "metric": t.settings.metric,
            "threshold": tier_threshold(t.threshold, t.settings.metric),
            "multiplier": number_plain(t.multiplier),
            "perks": [str(p) for p in t.perks or []],
            "entry_points": t.entry_points,
        }
        for t in tiers
    ]


@dataclass(frozen=True)
class MemberTierSummary:
    """A member's tier as the rules see it now: the tier in effect (None: no tier), whether
    it is granted, until when (the grant's end, or the grace's end of an earned tier), the
    qualifying value over the window ending now and the next tier the value has not reached."""

    rules: TierRules
    current: TierDef | None
    granted: bool
    until: datetime | None
    value: Decimal
    following: TierDef | None


def member_tier_summary(
    *, shop: Shop, member_id: int, tier_id: int | None, state: MemberTier
) -> MemberTierSummary | None:
    """The member's tier and progress; None while tiers are off (2 queries: the rules, the
    member's sums). The panel's ``me`` and the admin's customer page both read this."""
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return None
    now = timezone.now()
    sums = tier_sums_read(
        shop=shop,
        member_ids=[member_id],
        window=window_now(rules, now),
        fields=qualifying_fields(rules),
    )
    value = qualifying_value(rules, sums.get(member_id) or QualifyingSums())
    current = rules.by_id(tier_id)
    granted = current is not None and current.tier_id == state.granted_id
    return MemberTierSummary(
        rules=rules,
        current=current,
        granted=granted,
        until=state.grant_ends_at if granted else state.expires_at,
        value=value,
        following=tier_next(rules, current, value),
    )


def tier_last_day(end: datetime | None, tz: ZoneInfo) -> str | None:
    """The calendar day (ISO, in ``tz``) of the last moment a tier ending at ``end`` holds."""
    return (end - timedelta(microseconds=1)).astimezone(tz).date().isoformat() if end else None


def member_tier_document(
    *, shop: Shop, member_id: int, tier_id: int | None, state: MemberTier
) -> dict[str, Any] | None:
    """The member's tier block (``me``): the tier in effect, until when, the qualifying value
    over the window ending now and what the next tier needs; None while tiers are off
    (2 queries: the rules, the member's sums)."""
    summary = member_tier_summary(shop=shop, member_id=member_id, tier_id=tier_id, state=state)
    if summary is None:
        return None
    metric, current, following = summary.rules.metric, summary.current, summary.following
    return {
        "name": current.name if current else None,
        "rank": current.rank if current else None,
        "multiplier": number_plain(current.multiplier) if current else "1",
        "granted": summary.granted,
        "until": iso(summary.until),
        # The last day it holds, in the shop's zone (an end at midnight is the day before's):
        # shoppers read "Gold until 31 Dec" wherever their browser is.
        "last_day": tier_last_day(summary.until, summary.rules.tz),
        "metric": metric,
        "value": tier_threshold(summary.value, metric),
        "next": None
        if following is None
        else {
            "name": following.name,
            "threshold": tier_threshold(following.threshold, metric),
            "remaining": tier_threshold(following.threshold - summary.value, metric),
        },
    }


def member_tier_history(*, shop: Shop, member: Member) -> QuerySet[TierChange]:
    """The member's tier changes, newest first (the admin pages through them)."""
    return TierChange.objects.filter(shop=shop, member=member).order_by("-at", "-pk")


def redemption_document(
    *,
    redemption_id: int,
    code: str,
    status: str,
    reward_name: str,
    reward_kind: str,
    reward_value: Decimal | None,
    value: Decimal | None,
    currency: str,
    points: int,
    channel: str,
    expires_at: datetime | None,
    created_at: datetime | None,
) -> dict[str, Any]:
    """One redemption as shoppers see it, from its values (a model or a raw row): the code
    only once it exists in the store, and why it failed when it did."""
    shown = status in SHOWN_CODE_STATUSES
    code = code if shown else ""
    return {
        "id": str(redemption_id),
        "code": code or None,
        "status": status,
        "reward_title": reward_title(
            name=reward_name, kind=reward_kind, value=reward_value, currency=currency
        ),
        "value": money(value),
        "currency": currency,
        "points": points,
        "channel": channel,
        "expires_at": iso(expires_at),
        "created_at": iso(created_at),
        "apply_path": f"discount/{code}?redirect=cart" if code else None,
        "error": FAILED_REDEMPTION_MESSAGE if status == Redemption.Status.FAILED else "",
    }


def redemption_data(redemption: Redemption) -> dict[str, Any]:
    """``redemption_document`` of a redemption row (its reward loaded)."""
    return redemption_document(
        redemption_id=redemption.pk,
        code=redemption.code,
        status=redemption.status,
        reward_name=redemption.reward.name,
        reward_kind=redemption.reward.kind,
        reward_value=redemption.reward.value,
        value=redemption.value,
        currency=redemption.currency,
        points=redemption.points_spent,
        channel=redemption.channel,
        expires_at=redemption.expires_at,
        created_at=redemption.created_at,
    )
