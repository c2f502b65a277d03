"""A tier settings draft: the settings and tiers as the admin submits them, the saved ones as
a draft, the draft's problems in the merchant's words, its rules, and what it changes
(before -> after, for the review and the audit). ``tiers_recompute`` previews, saves and
applies drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from loyalty.analytics.services import shop_zone
from loyalty.models import Reward, Tier, TierSettings
from loyalty.rules.tiers import (
    TierDef,
    TierRules,
    tier_settings_problem,
)
from loyalty.services.tiers_sync import tier_tag_problem
from merchants.models import Shop

PERKS_MAX = 10
PERK_LENGTH = 200


@dataclass(frozen=True)
class TierDraftTier:
    """One tier of a draft; ``tier_id`` names a tier it keeps (None: a new one)."""

    name: str
    threshold: Decimal
    multiplier: Decimal = Decimal(1)
    perks: tuple[str, ...] = ()
    entry_points: int = 0
    tier_id: int | None = None
    entry_reward_id: int | None = None  # a catalogue reward given on entry


@dataclass(frozen=True)
class TierDraft:
    """Tier settings as the admin submits them (before they are saved)."""

    tiers: tuple[TierDraftTier, ...]
    enabled: bool = True
    metric: str = TierSettings.Metric.POINTS
    window: str = TierSettings.Window.ROLLING
    window_months: int = 12
    spend_includes_discounts: bool = False
    spend_includes_shipping: bool = False
    spend_includes_tax: bool = False
    program_start: date | None = None
    grace_periods: int = 1
    new_member_tier: str = ""  # the name of a tier of the draft
    new_member_days: int | None = None
    customer_tag_enabled: bool = False  # also tag the store's customer "<prefix><tier>"
    customer_tag_prefix: str = "VIP: "


def tier_draft_current(*, shop: Shop) -> TierDraft:
    """The shop's saved settings as a draft (the admin's form starts from it)."""
    settings = TierSettings.objects.filter(shop=shop).first()
    if settings is None:
        return TierDraft(tiers=(), enabled=False)
    tiers = list(Tier.objects.filter(shop=shop, active=True).order_by("rank", "pk"))
    new_member = next((t.name for t in tiers if t.pk == settings.new_member_tier_id), "")
    return TierDraft(
        tiers=tuple(
            TierDraftTier(
                name=t.name,
                threshold=t.threshold,
                multiplier=t.multiplier,
                perks=tuple(t.perks or ()),
                entry_points=t.entry_points,
                tier_id=t.pk,
                entry_reward_id=t.entry_reward_id,
            )
            for t in tiers
        ),
        enabled=settings.enabled,
        metric=settings.metric,
        window=settings.window,
        window_months=settings.window_months,
        spend_includes_discounts=settings.spend_includes_discounts,
        spend_includes_shipping=settings.spend_includes_shipping,
        spend_includes_tax=settings.spend_includes_tax,
        program_start=settings.program_start,
        grace_periods=settings.grace_periods,
        new_member_tier=new_member,
        new_member_days=settings.new_member_days,
        customer_tag_enabled=settings.customer_tag_enabled,
        customer_tag_prefix=settings.customer_tag_prefix,
    )


def tier_draft_rules(shop: Shop, draft: TierDraft) -> TierRules:
    """The draft as rules; its new tiers get stand-in ids below zero (never saved)."""
    defs = tuple(
        TierDef(
            tier_id=t.tier_id if t.tier_id is not None else -(n + 1),
            name=t.name.strip(),
            threshold=t.threshold,
            multiplier=t.multiplier,
            entry_points=t.entry_points,
        )
        for n, t in enumerate(draft.tiers)
    )
    new_member = next((d.tier_id for d in defs if d.name == draft.new_member_tier.strip()), None)
    return TierRules(
        metric=draft.metric,
        window=draft.window,
        window_months=draft.window_months,
        include_discounts=draft.spend_includes_discounts,
        include_shipping=draft.spend_includes_shipping,
        include_tax=draft.spend_includes_tax,
        program_start=draft.program_start,
        grace_periods=draft.grace_periods,
        tz=shop_zone(shop),
        tiers=defs,
        new_member_tier_id=new_member,
        new_member_days=draft.new_member_days,
    )


def tier_draft_problem(*, shop: Shop, draft: TierDraft) -> str:
    """Why the draft cannot be saved (for people), or ``""``."""
    if draft.metric not in TierSettings.Metric.values:
        return "Choose what members qualify by."
    if draft.window not in TierSettings.Window.values:
        return "Choose the qualifying window."
    problem = tier_settings_problem(tier_draft_rules(shop, draft))
    if problem:
        return problem
    kept = [t.tier_id for t in draft.tiers if t.tier_id is not None]
    if len(set(kept)) != len(kept) or Tier.objects.filter(shop=shop, pk__in=kept).count() != len(
        kept
    ):
        return "A tier of the draft is not one of this program's tiers."
    for tier in draft.tiers:
        if len(tier.name.strip()) > 64:
            return f"{tier.name[:20]}…: a tier name has at most 64 characters."
        if len(tier.perks) > PERKS_MAX or any(len(p) > PERK_LENGTH for p in tier.perks):
            return f"{tier.name}: at most {PERKS_MAX} perks of {PERK_LENGTH} characters."
        if tier.multiplier > 10:
            return f"{tier.name}: the multiplier is at most 10."
    names = {t.name.strip() for t in draft.tiers}
    if draft.new_member_tier and draft.new_member_tier.strip() not in names:
        return "The tier for new members must be one of the tiers."
    if bool(draft.new_member_tier) != bool(draft.new_member_days):
        return "A tier for new members needs a number of days, and days a tier."
    if draft.new_member_days is not None and not 1 <= draft.new_member_days <= 3650:
        return "New members get a tier for 1 to 3650 days."
    rewards = {t.entry_reward_id for t in draft.tiers if t.entry_reward_id is not None}
    usable = Reward.objects.filter(shop=shop, pk__in=rewards, active=True).exclude(
        kind=Reward.Kind.VARIABLE
    )
    if rewards and usable.count() != len(rewards):
        return "An entry reward must be a shown reward of the catalogue with a fixed value."
    return tier_tag_problem(enabled=draft.customer_tag_enabled, prefix=draft.customer_tag_prefix)


@dataclass(frozen=True)
class TierDraftChange:
    """One difference between two drafts: a program setting (``tier`` empty) or one field of
    a tier (``key`` ``added``/``archived`` for a whole tier, its threshold as the value)."""

    key: str
    before: Any
    after: Any
    tier: str = ""

    @property
    def audit_key(self) -> str:
        return f"{self.tier}.{self.key}" if self.tier else f"tiers.{self.key}"


SETTING_FIELDS = (
    "enabled",
    "metric",
    "spend_includes_discounts",
    "spend_includes_shipping",
    "spend_includes_tax",
    "window",
    "window_months",
    "program_start",
    "grace_periods",
    "new_member_tier",
    "new_member_days",
    "customer_tag_enabled",
    "customer_tag_prefix",
)
TIER_FIELDS = ("name", "threshold", "multiplier", "perks", "entry_points", "entry_reward_id")


def tier_draft_changes(before: TierDraft, after: TierDraft) -> list[TierDraftChange]:
    """What saving ``after`` over ``before`` changes, setting by setting and tier by tier
    (a tier is matched by its id, so a rename is a change of name): the admin's review
    and the audit trail read the same list."""
    changes = [
        TierDraftChange(name, getattr(before, name), getattr(after, name))
        for name in SETTING_FIELDS
        if getattr(before, name) != getattr(after, name)
    ]
    old = {t.tier_id: t for t in before.tiers}
    kept = {t.tier_id for t in after.tiers if t.tier_id is not None}
    for tier in after.tiers:
        was = old.get(tier.tier_id) if tier.tier_id is not None else None
        if was is None:
            changes.append(TierDraftChange("added", None, tier.threshold, tier.name.strip()))
            continue
        changes += [
            TierDraftChange(name, _plain(getattr(was, name)), _plain(getattr(tier, name)), was.name)
            for name in TIER_FIELDS
            if _plain(getattr(was, name)) != _plain(getattr(tier, name))
        ]
    changes += [
        TierDraftChange("archived", t.threshold, None, t.name)
        for t in before.tiers
        if t.tier_id not in kept
    ]
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, tuple):
        return [p.strip() for p in value if p.strip()]
    return value
