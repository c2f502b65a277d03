"""The VIP tiers page's forms: the program's tier settings and one form per tier (a formset),
turned into a ``TierDraft``. Field checks only (types, ranges); the tier rules are checked by
``tier_draft_problem``, whose message the page shows on the field it names."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms

from loyalty.models import Reward, TierSettings
from loyalty.services.tiers_draft import TierDraft, TierDraftTier

TIER_PREFIX = "tier"
METRIC_CHOICES = [
    (TierSettings.Metric.POINTS, "Points earned"),
    (TierSettings.Metric.SPEND, "Amount spent"),
    (TierSettings.Metric.ORDERS, "Number of orders"),
]
WINDOW_CHOICES = [
    (TierSettings.Window.LIFETIME, "Lifetime: everything since the program start"),
    (TierSettings.Window.CALENDAR_YEAR, "Calendar year: from 1 January"),
    (TierSettings.Window.ROLLING, "Rolling months: the last N months"),
]
# A sensible first program per metric: (name, threshold, multiplier, entry points, perks).
STARTERS: dict[str, tuple[tuple[str, str, str, int, tuple[str, ...]], ...]] = {
    "points": (
        ("Bronze", "0", "1", 0, ("Members-only offers",)),
        ("Silver", "500", "1.25", 100, ("Early access to sales",)),
        ("Gold", "2000", "1.5", 250, ("Early access to sales", "Free shipping on every order")),
    ),
    "spend": (
        ("Bronze", "0", "1", 0, ("Members-only offers",)),
        ("Silver", "250", "1.25", 100, ("Early access to sales",)),
        ("Gold", "1000", "1.5", 250, ("Early access to sales", "Free shipping on every order")),
    ),
    "orders": (
        ("Bronze", "0", "1", 0, ("Members-only offers",)),
        ("Silver", "3", "1.25", 100, ("Early access to sales",)),
        ("Gold", "10", "1.5", 250, ("Early access to sales", "Free shipping on every order")),
    ),
}


def tier_starter(metric: str) -> TierDraft:
    """Bronze, Silver and Gold for ``metric`` (points when unknown), tiers on: the empty
    state's offer, shown in the form and saved only after the review."""
    metric = metric if metric in STARTERS else "points"
    return TierDraft(
        tiers=tuple(
            TierDraftTier(name, Decimal(threshold), Decimal(multiplier), perks, entry)
            for name, threshold, multiplier, entry, perks in STARTERS[metric]
        ),
        enabled=True,
        metric=metric,
    )


def spend_words(*, discounts: bool, shipping: bool, tax: bool) -> str:
    """What "amount spent" counts, as the merchant reads it next to the choice."""
    items = "items before discounts" if discounts else "items after discounts"
    return (
        f"Amount spent counts paid orders, net of refunds: {items}, "
        f"{'with' if shipping else 'without'} shipping, {'with' if tax else 'without'} tax. "
        "Gift cards never count."
    )


class TierSettingsForm(forms.Form):
    enabled = forms.BooleanField(label="Tiers are on", required=False)
    metric = forms.ChoiceField(
        label="Members qualify by", choices=METRIC_CHOICES, widget=forms.RadioSelect
    )
    spend_includes_discounts = forms.BooleanField(
        label="Discounts count as spent (the price before discounts)", required=False
    )
    spend_includes_shipping = forms.BooleanField(label="Shipping counts as spent", required=False)
    spend_includes_tax = forms.BooleanField(label="Tax counts as spent", required=False)
    window = forms.ChoiceField(
        label="Over which period", choices=WINDOW_CHOICES, widget=forms.RadioSelect
    )
    window_months = forms.IntegerField(
        label="Rolling window (months)", min_value=1, max_value=60, initial=12
    )
    program_start = forms.DateField(
        label="Program start",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Orders placed before this day do not count. Empty: all the history Beam has.",
    )
    grace_periods = forms.IntegerField(
        label="Grace (periods)",
        min_value=1,
        max_value=4,
        initial=1,
        help_text=(
            "A tier reached is kept until the end of this many periods after the one it was "
            "reached in (1: until the end of the next period)."
        ),
    )
    new_member_tier = forms.ChoiceField(label="Time-limited access for new members", required=False)
    new_member_days = forms.IntegerField(
        label="For (days)", min_value=1, max_value=3650, required=False
    )
    customer_tag_enabled = forms.BooleanField(
        label="Also tag the store's customer with their tier",
        required=False,
        help_text=(
            "The tier is always written to the customer (a metafield) for the store's own "
            "segments, discounts and flows; a tag is optional."
        ),
    )
    customer_tag_prefix = forms.CharField(
        label="Tag prefix",
        max_length=40,
        required=False,
        strip=False,
        help_text="The tag reads the prefix and the tier's name, e.g. “VIP: Gold”.",
    )

    def __init__(self, *args: Any, tier_names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [n for n in dict.fromkeys(n.strip() for n in tier_names) if n]
        field = self.fields["new_member_tier"]
        field.choices = [("", "None"), *((n, n) for n in names)]  # type: ignore[attr-defined]


class TierForm(forms.Form):
    tier_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label="Name", max_length=64)
    threshold = forms.DecimalField(
        label="Threshold", min_value=Decimal(0), max_digits=14, decimal_places=2
    )
    multiplier = forms.DecimalField(
        label="Points multiplier",
        min_value=Decimal(1),
        max_value=Decimal(10),
        max_digits=6,
        decimal_places=4,
        initial=Decimal(1),
        help_text="Orders earn this many times the usual points (1 to 10).",
    )
    entry_points = forms.IntegerField(
        label="Entry points", min_value=0, max_value=1_000_000, initial=0
    )
    entry_reward = forms.TypedChoiceField(
        label="Entry reward", required=False, coerce=int, empty_value=None
    )
    perks = forms.CharField(
        label="Perks",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, shown to shoppers (Beam does not deliver them).",
    )
    archive = forms.BooleanField(label="Archive this tier", required=False)

    def __init__(self, *args: Any, rewards: Sequence[Reward] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["entry_reward"]
        field.choices = [  # type: ignore[attr-defined]
            ("", "None"),
            *(
                (r.pk, r.name if entry_reward_usable(r) else f"{r.name} (cannot be given)")
                for r in rewards
            ),
        ]
        if not (self.initial.get("tier_id") or self.data.get(self.add_prefix("tier_id"))):
            self.fields["archive"].label = "Remove this new tier"

    def draft_tier(self) -> TierDraftTier:
        data = self.cleaned_data
        return TierDraftTier(
            name=data["name"].strip(),
            threshold=data["threshold"],
            multiplier=data["multiplier"],
            perks=tuple(p.strip() for p in (data["perks"] or "").splitlines() if p.strip()),
            entry_points=data["entry_points"],
            tier_id=data["tier_id"],
            entry_reward_id=data["entry_reward"],
        )


def entry_reward_usable(reward: Reward) -> bool:
    """A reward the tier rules accept on entry: shown, with a fixed value (the select also
    lists a tier's current one that no longer is, so the page shows what is saved)."""
    return reward.active and reward.kind != Reward.Kind.VARIABLE


TierFormSet = forms.formset_factory(TierForm, extra=0, max_num=20, validate_max=True)


def decimal_shown(value: Decimal, places: int = 0) -> str:
    """500.00 → "500" (or "500.00" with ``places=2``), 1.2500 → "1.25": as a person types it."""
    if places:
        return f"{value:.{places}f}"
    return f"{value.normalize():f}"


def tier_initial(tier: TierDraftTier, metric: str) -> dict[str, Any]:
    return {
        "tier_id": tier.tier_id,
        "name": tier.name,
        "threshold": decimal_shown(tier.threshold, 2 if metric == "spend" else 0),
        "multiplier": decimal_shown(tier.multiplier),
        "entry_points": tier.entry_points,
        "entry_reward": tier.entry_reward_id,
        "perks": "\n".join(tier.perks),
    }


def settings_initial(draft: TierDraft) -> dict[str, Any]:
    return {
        "enabled": draft.enabled,
        "metric": draft.metric,
        "spend_includes_discounts": draft.spend_includes_discounts,
        "spend_includes_shipping": draft.spend_includes_shipping,
        "spend_includes_tax": draft.spend_includes_tax,
        "window": draft.window,
        "window_months": draft.window_months,
        "program_start": draft.program_start,
        "grace_periods": draft.grace_periods,
        "new_member_tier": draft.new_member_tier,
        "new_member_days": draft.new_member_days,
        "customer_tag_enabled": draft.customer_tag_enabled,
        "customer_tag_prefix": draft.customer_tag_prefix,
    }


def draft_from_forms(settings: TierSettingsForm, tiers: Any) -> TierDraft:
    """The draft of two valid forms; tiers marked to archive (or remove) are left out, which
    is how ``tier_settings_save`` archives them."""
    data = settings.cleaned_data
    return TierDraft(
        tiers=tuple(
            form.draft_tier() for form in tiers.forms if not form.cleaned_data.get("archive")
        ),
        enabled=data["enabled"],
        metric=data["metric"],
        window=data["window"],
        window_months=data["window_months"],
        spend_includes_discounts=data["spend_includes_discounts"],
        spend_includes_shipping=data["spend_includes_shipping"],
        spend_includes_tax=data["spend_includes_tax"],
        program_start=data["program_start"],
        grace_periods=data["grace_periods"],
        new_member_tier=data["new_member_tier"] or "",
        new_member_days=data["new_member_days"],
        customer_tag_enabled=data["customer_tag_enabled"],
        customer_tag_prefix=data["customer_tag_prefix"],
    )
