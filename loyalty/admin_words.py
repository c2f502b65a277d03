"""Stored rows in a merchant's words: the audit trail (who by name or email, what as a
sentence, what changed from what to what, unchanged fields left out) and a member's ledger
(the order's name, not its id). Pure: rows are stored as the services wrote them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.numbers import counted, locale_of, money_format
from loyalty.models import AuditEvent, LedgerEntry, TierChange, TierSettings
from loyalty.selectors import ledger_entry_label

ACTIONS: dict[str, str] = {
    "program.update": "Changed the program settings",
    "program.enable": "Turned the program on",
    "program.disable": "Turned the program off",
    "program.onboard": "Ran the setup wizard",
    "branding.update": "Changed the branding",
    "texts.update": "Changed the shopper texts",
    "landing.update": "Changed the landing page",
    "reward.create": "Added the reward “{summary}”",
    "reward.update": "Changed the reward “{summary}”",
    "bonus_event.create": "Added the bonus event “{summary}”",
    "bonus_event.update": "Changed the bonus event “{summary}”",
    "bonus_event.delete": "Deleted the bonus event “{summary}”",
    "points.adjust": "Adjusted points: {summary}",
    "members.import": "Imported members: {summary}",
    "redemption.cancel": "Cancelled a reward: {summary}",
    "webhooks.replay": "Replayed webhooks: {summary}",
    "tier.set": "Set a tier by hand: {summary}",
    "tier.grant": "Granted a tier: {summary}",
    "earning_action.update": "Changed the way to earn “{summary}”",
    "action.award": "Awarded points: {summary}",
    "action.reverse": "Took back points: {summary}",
    "tiers.update": "Changed the VIP tiers: {summary}",
    "referrals.settings": "Changed the referral settings",
    "referral.unblock": "Unblocked a referral: {summary}",
    "referral.cancel": "Cancelled a referral: {summary}",
}
FIELDS: dict[str, str] = {
    "enabled": "Program",
    "points_per_currency_unit": "Points per 1 unit spent",
    "rounding": "Rounding",
    "include_shipping": "Shipping earns points",
    "include_tax": "Tax earns points",
    "excluded_product_ids": "Excluded products",
    "excluded_product_tags": "Excluded product tags",
    "minimum_order_amount": "Minimum order",
    "earn_trigger": "Points given when the order is",
    "pending_days": "Days points stay pending",
    "welcome_points": "Welcome points",
    "negative_balance_policy": "Refund after points were spent",
    "guest_link_window_days": "Guest orders linked within (days)",
    "test_orders_earn": "Test orders earn points",
    "expiry_days": "Points expire after (days)",
    "expiry_warning_days": "Expiry warning (days before)",
    "name": "Name",
    "kind": "Type",
    "points_cost": "Points cost",
    "value": "Value",
    "variant_gid": "Product variant",
    "points_per_unit": "Points per step",
    "value_per_unit": "Value per step",
    "min_points": "Minimum points",
    "max_points": "Maximum points",
    "minimum_subtotal": "Minimum subtotal",
    "code_valid_days": "Code valid for (days)",
    "combines_with_order": "Combines with order discounts",
    "combines_with_product": "Combines with product discounts",
    "combines_with_shipping": "Combines with shipping discounts",
    "active": "Active",
    "multiplier": "Multiplier",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "product_tags": "Product tags",
    "balance": "Balance",
    "rewards": "Rewards added",
    "errors": "Rows refused",
    "branding": "Branding",
    "program_name": "Program name",
    "primary_color": "Brand colour",
    "text_color": "Text colour",
    "position": "Launcher position",
    "shape": "Launcher shape",
    "icon": "Launcher icon",
    "launcher_label": "Launcher label",
    "panel_title": "Panel title",
    "points_name": "Name for points",
    "show_on_mobile": "Shown on mobile",
    "languages": "Languages",
    "earned_tier": "Tier",
    "granted_tier": "Granted tier",
    "grant_days": "Days",
    "offer_kind": "Friend's discount",
    "offer_value": "Friend's discount value",
    "offer_minimum": "Friend's minimum order",
    "first_order_only": "Friend's first order only",
    "reward_kind": "Advocate's reward",
    "reward_points": "Advocate's points",
    "reward_id": "Advocate's reward",
    "cap_count": "Referral cap",
    "cap_period": "Referral cap period",
    "status": "Status",
}
SECTIONS = {
    "branding": "Branding",
    "texts": "Text",
    "landing": "Landing page",
    "tiers": "VIP tiers",
}


@dataclass(frozen=True)
class AuditLine:
    """One row of the trail as the admin shows it."""

    event: AuditEvent
    who: str
    what: str
    changes: list[str]


def field_label(key: str) -> str:
    """``branding.primary_color`` → "Brand colour"; ``texts.join_cta`` → "Text: join cta"."""
    section, _, name = key.rpartition(".")
    if name in FIELDS and section in ("", "branding"):
        return FIELDS[name]
    words = name.replace("_", " ")
    if not section:
        return words.capitalize()
    # A tier's name ("VIP Gold.threshold") is shown as the merchant typed it.
    shown = section.title() if section.islower() else section
    return f"{SECTIONS.get(section, shown)}: {words}"


def value_words(value: Any) -> str:
    """A stored value as a merchant reads it."""
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value):
            return f"{len(value)} item{'' if len(value) == 1 else 's'}"
        return ", ".join(value_words(v) for v in value)
    if isinstance(value, dict):
        return f"{len(value)} setting{'' if len(value) == 1 else 's'}"
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value.replace("_", " ") if value.islower() and " " not in value else value
        if number.is_finite() and "." in value:
            text = f"{number:f}".rstrip("0").rstrip(".")
            return text or "0"
        return value
    return str(value)


def change_lines(changes: dict[str, Any]) -> list[str]:
    """``{field: [before, after]}`` → "Welcome points: 0 → 100"; a value set where there was
    none reads "Points cost: 500"; unchanged fields are left out."""
    lines = []
    for key, pair in changes.items():
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        before, after = pair
        if before == after:
            continue
        label = field_label(key)
        if key == "errors" and isinstance(after, list):
            lines += [f"Row refused: {e}" for e in after]
        elif before is None:
            lines.append(f"{label}: {value_words(after)}")
        else:
            lines.append(f"{label}: {value_words(before)} → {value_words(after)}")
    return lines


def actor_words(actor: str, staff_names: dict[str, str]) -> str:
    """Who did it: ``staff_names`` maps a staff user id to the name or email the platform
    gave for it; an unknown id reads "Staff member 123"; nobody is Beam itself."""
    if actor in staff_names:
        return staff_names[actor]
    if actor.isdigit():
        return f"Staff member {actor}"
    if not actor or actor in ("system", "beam", "unknown"):
        return "Beam"
    return actor.capitalize()


def audit_lines(events: list[AuditEvent], staff_names: dict[str, str]) -> list[AuditLine]:
    """The trail's rows."""
    rows = []
    for event in events:
        who = actor_words(event.actor, staff_names)
        template = ACTIONS.get(event.action)
        what = (
            template.format(summary=event.summary)
            if template
            else event.action.replace(".", " ").replace("_", " ").capitalize()
        )
        rows.append(AuditLine(event=event, who=who, what=what, changes=change_lines(event.changes)))
    return rows


@dataclass(frozen=True)
class LedgerLine:
    """One ledger row as the admin shows it: what happened ("Order #1001"), by whom, and a
    note only when it adds something the label does not say (an adjustment's reason)."""

    entry: LedgerEntry
    what: str
    by: str
    note: str


def ledger_lines(entries: list[LedgerEntry], staff_names: dict[str, str]) -> list[LedgerLine]:
    rows = []
    for entry in entries:
        what = ledger_entry_label(kind=entry.kind, note=entry.note, bucket=entry.bucket)
        note = "" if entry.note and entry.note in what else entry.note
        rows.append(
            LedgerLine(entry=entry, what=what, by=actor_words(entry.actor, staff_names), note=note)
        )
    return rows


TIER_REASONS: dict[str, str] = {
    TierChange.Reason.EARNED: "Earned",
    TierChange.Reason.EXPIRED: "Grace period ended",
    TierChange.Reason.MANUAL: "Set by hand",
    TierChange.Reason.GRANTED: "Granted",
    TierChange.Reason.GRANT_ENDED: "Grant ended",
    TierChange.Reason.SETTINGS_CHANGE: "Tier settings changed",
}


def tier_amount(value: Decimal, metric: str, shop: Any) -> str:
    """A qualifying value or threshold in its metric's unit: "1,250 points", "$120.00",
    "3 orders"."""
    locale = locale_of(shop)
    if metric == TierSettings.Metric.SPEND:
        return money_format(value, str(getattr(shop, "currency", "") or "USD"), locale)
    noun = "order" if metric == TierSettings.Metric.ORDERS else "point"
    return counted(int(value), noun, locale)


@dataclass(frozen=True)
class TierHistoryLine:
    """One tier change as the admin shows it."""

    change: TierChange
    before: str
    after: str
    why: str
    by: str


def tier_history_lines(
    changes: list[TierChange], staff_names: dict[str, str]
) -> list[TierHistoryLine]:
    """The rows of a member's tier history: from and to by the names they had then
    ("No tier" for none), the reason in words, who (Beam for its own moves)."""
    return [
        TierHistoryLine(
            change=c,
            before=c.from_name or "No tier",
            after=c.to_name or "No tier",
            why=TIER_REASONS.get(c.reason, c.reason.replace("_", " ").capitalize()),
            by=actor_words(c.actor, staff_names),
        )
        for c in changes
    ]
