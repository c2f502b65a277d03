"""Admin forms for a member's tier: set it by hand, grant one for a number of days, and grant
one to a list of customers from a CSV file.

The choices are the program's active tiers (``TierRules.tiers``, threshold order); the
services check them again (``InvalidTiers``) in case the tiers changed since the page was
rendered.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms

from loyalty.forms import IMPORT_MAX_BYTES, ImportUploadForm
from loyalty.rules.tiers import TierDef

NO_TIER = "none"
GRANT_DAYS_MAX = 365
NOTE_MAX = 255


def _tier_choices(tiers: Sequence[TierDef]) -> list[tuple[str, str]]:
    return [(str(t.tier_id), t.name) for t in reversed(tiers)]  # highest first


class _KeyedForm(forms.Form):
    """A form whose render carries a fresh idempotency key: submitting the same render
    twice (a double click, a retried request) changes things once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex


class TierSetForm(_KeyedForm):
    """The merchant's override of the tier a member earned ("No tier" removes it)."""

    tier = forms.ChoiceField(label="Tier", error_messages={"required": "Choose a tier."})
    reason = forms.CharField(
        max_length=NOTE_MAX, error_messages={"required": "Give a reason."}, label="Reason"
    )

    def __init__(self, *args: Any, tiers: Sequence[TierDef], **kwargs: Any) -> None:
        super().__init__(*args, prefix="tier_set", **kwargs)
        field = self.fields["tier"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [*_tier_choices(tiers), (NO_TIER, "No tier")]
        field.error_messages["invalid_choice"] = "Choose one of the program's active tiers."

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason

    def tier_id(self) -> int | None:
        value = self.cleaned_data["tier"]
        return None if value == NO_TIER else int(value)


class _GrantFields(forms.Form):
    tier = forms.ChoiceField(
        label="Tier",
        error_messages={
            "required": "Choose a tier.",
            "invalid_choice": "Choose one of the program's active tiers.",
        },
    )
    days = forms.IntegerField(
        label="Days",
        min_value=1,
        max_value=GRANT_DAYS_MAX,
        initial=30,
        help_text=f"1 to {GRANT_DAYS_MAX} days; then the customer returns to the tier they earned.",
        error_messages={
            "required": "Give a number of days.",
            "invalid": "Give a whole number of days.",
            "min_value": f"A grant lasts 1 to {GRANT_DAYS_MAX} days.",
            "max_value": f"A grant lasts 1 to {GRANT_DAYS_MAX} days.",
        },
    )
    note = forms.CharField(max_length=NOTE_MAX, required=False, label="Note (optional)")

    def _set_tiers(self, tiers: Sequence[TierDef]) -> None:
        field = self.fields["tier"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _tier_choices(tiers)

    def clean_note(self) -> str:
        return self.cleaned_data["note"].strip()


class TierGrantForm(_KeyedForm, _GrantFields):
    """Time-limited access to a tier for one member."""

    def __init__(self, *args: Any, tiers: Sequence[TierDef], **kwargs: Any) -> None:
        super().__init__(*args, prefix="tier_grant", **kwargs)
        self._set_tiers(tiers)


class TierGrantListForm(ImportUploadForm, _GrantFields):
    """Step 1 of a grant to a list: the file (2 MB at most, UTF-8), the tier and the days."""

    def __init__(self, *args: Any, tiers: Sequence[TierDef], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_tiers(tiers)
        self.fields["file"].help_text = (
            "One customer per line: a customer id or an email (a header row naming "
            "customer_id or email columns is read too)."
        )
        self.order_fields(["file", "tier", "days", "note"])


class TierGrantListApplyForm(_GrantFields):
    """Step 2: the previewed file and choices again, with the preview's idempotency key (the
    same preview applied twice grants once)."""

    csv_text = forms.CharField(widget=forms.HiddenInput, max_length=IMPORT_MAX_BYTES)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, tiers: Sequence[TierDef], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_tiers(tiers)
        for name in ("tier", "days", "note"):
            self.fields[name].widget = forms.HiddenInput()
