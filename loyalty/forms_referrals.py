"""The admin's referral settings form: the switch, the friend's offer, the advocate's reward
and the cap. It parses what was typed; ``referral_settings_save`` (``rules.settings_problem``)
decides what a program may have and names the field it refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from loyalty.models import ReferralSettings
from loyalty.rules import referrals as rules


class ReferralSettingsForm(forms.Form):
    enabled = forms.BooleanField(label="Referrals are on", required=False)
    offer_kind = forms.ChoiceField(
        label="Friend's discount", choices=ReferralSettings.OfferKind.choices
    )
    offer_value = forms.DecimalField(
        label="Discount (amount in the shop's currency, or percent)",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    offer_minimum = forms.DecimalField(
        label="Minimum order (optional)",
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    first_order_only = forms.BooleanField(label="Friend's first order only", required=False)
    code_valid_days = forms.IntegerField(
        label="Friend's code is valid for (days)", min_value=1, max_value=rules.MAX_VALID_DAYS
    )
    reward_kind = forms.ChoiceField(
        label="Advocate's reward", choices=ReferralSettings.RewardKind.choices
    )
    reward_points = forms.IntegerField(
        label="Points for the advocate", min_value=0, max_value=rules.MAX_POINTS
    )
    reward_id = forms.TypedChoiceField(
        label="Reward for the advocate", required=False, coerce=int, empty_value=None
    )
    cap_count = forms.IntegerField(
        label="Rewarded referrals per advocate (0: no cap)", min_value=0, max_value=10_000
    )
    cap_period = forms.ChoiceField(label="Cap period", choices=ReferralSettings.CapPeriod.choices)

    def __init__(self, *args: Any, rewards: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reward_id"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "Choose a reward")] + [(pk, name) for pk, name in rewards]
        if not rewards:
            field.help_text = "Add a reward to your catalogue to give one to advocates."

    def service_data(self) -> dict[str, Any]:
        """The cleaned fields as ``referral_settings_save`` takes them."""
        return {name: self.cleaned_data[name] for name in rules.SETTINGS_FIELDS}


def referral_settings_initial(config: ReferralSettings) -> dict[str, Any]:
    return {name: getattr(config, name) for name in rules.SETTINGS_FIELDS}
