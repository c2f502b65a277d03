"""Admin forms: they turn what a merchant typed into clean values with clear messages.

Business rules are re-checked by the services (``loyalty.services``); the forms exist so
a person sees every mistake next to its field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms

from loyalty.branding import (
    ICONS,
    LANDING_TEXT_DEFAULTS,
    LANGUAGES,
    POSITIONS,
    SHAPES,
    branding_resolve,
)
from loyalty.errors import InvalidBranding, InvalidConfiguration
from loyalty.models import LoyaltyProgram, Reward
from loyalty.rules.rewards import reward_settings_problems
from loyalty.services import STARTER_REWARDS, starter_in_catalogue

HEX_MESSAGE = "Use a hex colour such as #4f46e5."
IMPORT_MAX_BYTES = 2 * 1024 * 1024
LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v.replace("-", " ").capitalize()) for v in values]


class CommaListField(forms.CharField):
    """``a, b, c`` ⇄ ``["a", "b", "c"]`` (blank entries dropped, order and case kept)."""

    def __init__(self, *, integers: bool = False, **kwargs: Any) -> None:
        self.integers = integers
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[Any]:  # type: ignore[override]
        text = super().to_python(value) or ""
        items = [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]
        if not self.integers:
            return list(dict.fromkeys(items))
        numbers: list[int] = []
        for item in items:
            if not item.isdigit() or int(item) <= 0:
                raise forms.ValidationError(
                    f"“{item}” is not a product id (whole numbers separated by commas)."
                )
            numbers.append(int(item))
        return list(dict.fromkeys(numbers))


class ColorInput(forms.TextInput):
    """A colour picker; its class name gives it the ``color`` widget type, which
    ``{% field %}`` renders as a swatch, not as a text box."""

    input_type = "color"


class HexColourField(forms.RegexField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            regex=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
            error_messages={"invalid": HEX_MESSAGE},
            widget=ColorInput(),
            **kwargs,
        )


RATE_FIELD_KW: dict[str, Any] = {
    "label": "Points per 1 unit of currency spent",
    "min_value": Decimal("0"),
    "max_value": Decimal("1000"),
    "max_digits": 12,
    "decimal_places": 4,
}


class OnboardingForm(forms.Form):
    """The set-up wizard. It starts from the program's current settings (re-running it on
    a live program changes nothing unless the merchant changes a field); the starter
    rewards the catalogue already holds are shown as such and cannot be added again."""

    points_per_currency_unit = forms.DecimalField(**RATE_FIELD_KW)
    welcome_points = forms.IntegerField(
        label="Welcome points for new members", min_value=0, max_value=100000
    )
    starter_rewards = forms.TypedMultipleChoiceField(
        label="Starter rewards to add",
        choices=[],
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    program_name = forms.CharField(label="Program name", max_length=80)
    primary_color = HexColourField(label="Brand colour")
    position = forms.ChoiceField(label="Launcher position", choices=_choices(POSITIONS))
    enabled = forms.BooleanField(label="Program on", required=False)

    def __init__(
        self,
        data: Any = None,
        *,
        program: LoyaltyProgram,
        rewards: list[Reward],
    ) -> None:
        branding = branding_resolve(program.branding)
        self.present = {
            i: reward
            for i, spec in enumerate(STARTER_REWARDS)
            if (reward := starter_in_catalogue(spec, rewards)) is not None
        }
        # A first set-up with an empty catalogue offers every starter ticked.
        self.first_catalogue = not rewards
        missing = [str(i) for i in range(len(STARTER_REWARDS)) if i not in self.present]
        super().__init__(
            data,
            initial={
                "points_per_currency_unit": f"{program.points_per_currency_unit.normalize():f}",
                "welcome_points": program.welcome_points
                if program.onboarded_at
                else program.welcome_points or 100,
                "starter_rewards": missing if self.first_catalogue else [],
                "program_name": branding["program_name"],
                "primary_color": branding["primary_color"],
                "position": branding["position"],
                "enabled": program.enabled or program.onboarded_at is None,
            },
        )
        field = self.fields["starter_rewards"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [
            (str(i), f"{spec['name']} ({spec['points_cost']} points)")
            for i, spec in enumerate(STARTER_REWARDS)
            if i not in self.present
        ]

    def clean_starter_rewards(self) -> list[int]:
        picked = self.cleaned_data["starter_rewards"]
        if self.first_catalogue and not 2 <= len(picked) <= 3:
            raise forms.ValidationError("Pick two or three starter rewards.")
        return picked


class EarningForm(forms.Form):
    """Ways to earn: the order rule and welcome points."""

    points_per_currency_unit = forms.DecimalField(**RATE_FIELD_KW)
    rounding = forms.ChoiceField(choices=LoyaltyProgram.Rounding.choices)
    include_shipping = forms.BooleanField(label="Count shipping", required=False)
    include_tax = forms.BooleanField(label="Count tax", required=False)
    excluded_product_ids = CommaListField(
        integers=True, label="Excluded product ids", help_text="Comma-separated product ids."
    )
    excluded_product_tags = CommaListField(
        label="Excluded product tags", help_text="Products with any of these tags earn nothing."
    )
    minimum_order_amount = forms.DecimalField(
        label="Minimum order amount", min_value=Decimal("0"), max_digits=12, decimal_places=2
    )
    earn_trigger = forms.ChoiceField(
        label="Award points when the order is", choices=LoyaltyProgram.EarnTrigger.choices
    )
    pending_days = forms.IntegerField(
        label="Pending period (days)",
        min_value=0,
        max_value=365,
        help_text="Points become spendable after this many days (covers returns).",
    )
    welcome_points = forms.IntegerField(
        label="Welcome points for new members", min_value=0, max_value=100000
    )
    negative_balance_policy = forms.ChoiceField(
        label="When a refund takes back points already spent",
        choices=LoyaltyProgram.NegativePolicy.choices,
    )
    guest_link_window_days = forms.IntegerField(
        label="Guest order window (days)",
        min_value=0,
        max_value=365,
        help_text=(
            "Orders placed without an account earn when the shopper signs up within this many"
            " days of placing them (counted from the order's date)."
        ),
    )
    test_orders_earn = forms.BooleanField(
        label="Test orders earn points",
        required=False,
        help_text="Orders paid with a test gateway. Off by default: they are not real sales.",
    )


class ExpiryForm(forms.Form):
    expiry_enabled = forms.BooleanField(label="Points expire after inactivity", required=False)
    expiry_days = forms.IntegerField(
        label="Expire after (days without earning or redeeming)",
        min_value=1,
        max_value=3650,
        required=False,
    )
    expiry_warning_days = forms.IntegerField(
        label="Warn members this many days before", min_value=0, max_value=365
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("expiry_enabled"):
            days = data.get("expiry_days")
            if not days:
                self.add_error("expiry_days", "Give the number of days, or turn expiry off.")
            elif data.get("expiry_warning_days") is not None and (
                data["expiry_warning_days"] >= days
            ):
                self.add_error(
                    "expiry_warning_days", "The warning must come before the points expire."
                )
        else:
            data["expiry_days"] = None
        return data


class RewardForm(forms.Form):
    """All reward kinds; the fields a kind needs are required by ``clean``."""

    name = forms.CharField(max_length=255)
    kind = forms.ChoiceField(label="Type", choices=Reward.Kind.choices)
    points_cost = forms.IntegerField(
        label="Points cost", min_value=1, max_value=10_000_000, required=False
    )
    value = forms.DecimalField(
        label="Value (amount, or percent for a percentage reward)",
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        required=False,
    )
    variant_gid = forms.CharField(
        label="Free product variant",
        max_length=128,
        required=False,
        help_text="gid://shopify/ProductVariant/…",
    )
    points_per_unit = forms.IntegerField(
        label="Points per step", min_value=1, max_value=1_000_000, required=False
    )
    value_per_unit = forms.DecimalField(
        label="Value per step",
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        required=False,
    )
    min_points = forms.IntegerField(label="Minimum points", min_value=1, required=False)
    max_points = forms.IntegerField(label="Maximum points", min_value=1, required=False)
    minimum_subtotal = forms.DecimalField(
        label="Minimum order subtotal",
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        required=False,
    )
    code_valid_days = forms.IntegerField(
        label="Code expires after (days)", min_value=1, max_value=3650, initial=30
    )
    combines_with_order = forms.BooleanField(label="Combines with order discounts", required=False)
    combines_with_product = forms.BooleanField(
        label="Combines with product discounts", required=False
    )
    combines_with_shipping = forms.BooleanField(
        label="Combines with shipping discounts", required=False, initial=True
    )
    min_tier = forms.TypedChoiceField(
        label="Who can redeem it",
        coerce=int,
        empty_value=None,
        required=False,
        help_text="A tier-exclusive reward shows as locked to members below that tier.",
    )
    active = forms.BooleanField(label="Shown to shoppers", required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        tiers: Sequence[tuple[int, str]] = (),
        archived_tier: tuple[int, str] | None = None,
        **kwargs: Any,
    ) -> None:
        """``tiers``: the program's active tiers, lowest first; none (tiers off): the form
        has no tier field and a save leaves the reward's tier as it is. ``archived_tier``: the
        reward's own tier when it was archived since (nobody can redeem it until changed)."""
        super().__init__(*args, **kwargs)
        if tiers:
            field = cast(forms.TypedChoiceField, self.fields["min_tier"])
            choices: list[tuple[Any, str]] = [("", "Every member")]
            choices += [(pk, f"{name} members and above") for pk, name in tiers]
            if archived_tier is not None:  # kept as it is, so a save does not open it to all
                choices.append((archived_tier[0], f"{archived_tier[1]} (archived tier)"))
            field.choices = choices
        else:
            del self.fields["min_tier"]

    def clean(self) -> dict[str, Any]:
        """The reward rules' own check (``reward_settings_problems``), on the fields that
        passed their field-level validation."""
        super().clean()
        data = self.cleaned_data
        for field, message in reward_settings_problems(data):
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, message)
        return data

    def service_data(self) -> dict[str, Any]:
        """The cleaned values in the model's terms (blank numbers → the model's defaults)."""
        data = dict(self.cleaned_data)
        kind = data["kind"]
        if kind == Reward.Kind.VARIABLE:
            data["points_cost"] = None
        else:
            data["points_per_unit"] = None
            data["value_per_unit"] = None
        if kind in (Reward.Kind.FREE_SHIPPING, Reward.Kind.FREE_PRODUCT):
            data["value"] = Decimal("0")
        data["value"] = data.get("value") if data.get("value") is not None else Decimal("0")
        data["variant_gid"] = data.get("variant_gid") or ""
        if "min_tier" in data:
            data["min_tier_id"] = data.pop("min_tier")
        return data


class BonusEventForm(forms.Form):
    name = forms.CharField(max_length=255, required=False)
    multiplier = forms.DecimalField(
        min_value=Decimal("1"), max_value=Decimal("100"), max_digits=8, decimal_places=4
    )
    starts_at = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label="Ends", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    product_tags = CommaListField(
        label="Only products tagged", help_text="Blank: every product, shipping and tax."
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The event must end after it starts.")
        return data


class BrandingForm(forms.Form):
    program_name = forms.CharField(max_length=80)
    launcher_label = forms.CharField(label="Launcher label", max_length=80)
    panel_title = forms.CharField(label="Panel title", max_length=80, required=False)
    points_name = forms.CharField(label="Name of the points", max_length=80)
    primary_color = HexColourField(label="Brand colour")
    text_color = HexColourField(label="Text colour")
    position = forms.ChoiceField(choices=_choices(POSITIONS))
    shape = forms.ChoiceField(choices=_choices(SHAPES))
    icon = forms.ChoiceField(choices=_choices(ICONS))
    show_on_mobile = forms.BooleanField(label="Show on mobile", required=False)
    languages = forms.MultipleChoiceField(
        choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one language."},
    )


class LandingForm(forms.Form):
    headline = forms.CharField(max_length=120)
    intro = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    cta_label = forms.CharField(label="Button label", max_length=40)
    faq = forms.CharField(
        label="Questions and answers",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One per line: question | answer",
    )

    def clean_faq(self) -> list[dict[str, str]]:
        entries = []
        for n, line in enumerate(self.cleaned_data["faq"].splitlines(), start=1):
            if not line.strip():
                continue
            question, sep, answer = line.partition("|")
            if not sep or not question.strip() or not answer.strip():
                raise forms.ValidationError(f"Line {n}: write “question | answer”.")
            entries.append({"q": question.strip(), "a": answer.strip()})
        return entries


# The panel's most visible texts (keys and English defaults of beam-panel.js's EN table and
# beam-panel-tiers.js's) and the landing page's.
SHOPPER_TEXT_DEFAULTS = {
    "title": "Rewards",
    "guest_title": "Join our rewards program",
    "guest_body": "Earn points every time you shop and turn them into rewards.",
    "sign_up": "Join now",
    "balance": "Your balance",
    "earn": "Ways to earn",
    "redeem_title": "Ways to redeem",
    "redeem": "Redeem",
    "your_rewards": "Your rewards",
    "activity": "Activity",
    "empty": "No activity yet.",
    # the VIP tiers (beam-panel-tiers.js); the tier table's words are the landing page's
    "vip": "VIP status",
    "tier_spend": "Spend {v} more to reach {tier}",
    "tier_points": "Earn {n} more points to reach {tier}",
    "tier_orders": "{n} more orders to reach {tier}",
    "tier_order": "{n} more order to reach {tier}",
    "tier_until": "{tier} until {date}",
    "top_tier": "You reached the top tier!",
    "tier_none": "No tier yet",
    "tier_join": "Join to start climbing the tiers.",
    **LANDING_TEXT_DEFAULTS,  # the landing page's; the keys it shares read the same
}


class ShopperTextsForm(forms.Form):
    """Overrides of the panel's texts for one language; a blank field keeps the default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, default in SHOPPER_TEXT_DEFAULTS.items():
            self.fields[key] = forms.CharField(
                label=key.replace("_", " ").capitalize(),
                required=False,
                max_length=200,
                help_text=f"Default: {default}",
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        overrides: dict[str, str] = {}
        for key in SHOPPER_TEXT_DEFAULTS:
            value = (data.get(key) or "").strip()
            if any(ch in value for ch in "<>\n\r"):
                self.add_error(key, "Plain text on one line, without < or >.")
            elif value:
                overrides[key] = value
        return {"overrides": overrides}


class AdjustPointsForm(forms.Form):
    amount = forms.IntegerField(
        label="Points (negative to deduct)", min_value=-1_000_000, max_value=1_000_000
    )
    reason = forms.CharField(max_length=500, error_messages={"required": "Give a reason."})
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Give a number of points other than 0.")
        return amount

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: customer_id, email, first_name, last_name, points",
        error_messages={"required": "Choose a CSV file."},
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB; split it.")
        try:
            # NUL is no character of a name or number, and no text column holds one.
            return upload.read().decode("utf-8-sig").replace("\x00", "")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc


class ImportApplyForm(forms.Form):
    csv_text = forms.CharField(widget=forms.HiddenInput, max_length=IMPORT_MAX_BYTES)


def form_service_error(form: forms.Form, exc: InvalidConfiguration | InvalidBranding) -> None:
    """Show a service's refusal on the field it names (or on the form when it names none)."""
    field = getattr(exc, "field", "") or None
    form.add_error(field if field in form.fields else None, str(exc))
