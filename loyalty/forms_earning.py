"""The admin form of one way to earn (other than orders): switch, points, limit, link and
the shopper texts of one language. The service re-checks every rule."""

from __future__ import annotations

from typing import Any

from django import forms

from loyalty.rules import earning_actions as rules
from loyalty.selectors_earning import ActionRow


class EarningActionForm(forms.Form):
    """One row of the Ways to earn page; ``prefix`` is the row's slug (unique ids)."""

    enabled = forms.BooleanField(label="On", required=False)
    points = forms.IntegerField(label="Points", min_value=0, max_value=rules.MAX_POINTS)
    limit = forms.ChoiceField(label="How often", choices=list(rules.LIMIT_WORDS.items()))
    url = forms.CharField(label="Link", required=False, max_length=500)
    title = forms.CharField(label="Title", required=False, max_length=rules.TEXT_LIMIT)
    description = forms.CharField(label="Description", required=False, max_length=rules.TEXT_LIMIT)

    def __init__(self, *args: Any, row: ActionRow, lang: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", row.slug)
        super().__init__(*args, **kwargs)
        self.row, self.lang = row, lang
        defaults = rules.action_texts(
            kind=row.kind, network=row.network, name=row.name, stored={}, languages=[lang]
        )[lang]
        limit = self.fields["limit"]
        assert isinstance(limit, forms.ChoiceField)
        limit.choices = [(v, rules.LIMIT_WORDS[v]) for v in row.limits]
        if len(row.limits) == 1:
            limit.widget = forms.HiddenInput()
        if row.kind == rules.SOCIAL_FOLLOW:
            self.fields["url"].label = f"Your {rules.NETWORKS[row.network]} profile"
            self.fields["url"].help_text = "The full https:// address shoppers open."
        elif row.kind == rules.SOCIAL_SHARE:
            self.fields["url"].label = "Page to share"
            self.fields["url"].help_text = "Blank: your store's home page."
        else:
            self.fields["url"].widget = forms.HiddenInput()
        for name in rules.TEXT_FIELDS:
            self.fields[name].label = f"{self.fields[name].label} ({lang.upper()})"
            self.fields[name].help_text = f"Default: {defaults[name] or '(none)'}"
        if not self.is_bound:
            own = row.texts.get(lang, {}) if isinstance(row.texts, dict) else {}
            self.initial = {
                "enabled": row.enabled,
                "points": row.points,
                "limit": row.limit,
                "url": row.url,
                **{n: own.get(n, "") for n in rules.TEXT_FIELDS},
            }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if len(self.row.limits) == 1 and "limit" in self.errors:  # hidden: say it above
            del self.errors["limit"]
            self.add_error(None, "This way to earn cannot have that limit.")
        for name in rules.TEXT_FIELDS:
            value = (data.get(name) or "").strip()
            if any(ch in value for ch in "<>\n\r"):
                self.add_error(name, "Plain text on one line, without < or >.")
            data[name] = value
        data["url"] = (data.get("url") or "").strip()
        return data

    def service_data(self) -> dict[str, Any]:
        """What ``earning_action_save`` takes: the settings and the texts of every
        language, this one's replaced (blank texts dropped: the default shows)."""
        data = self.cleaned_data
        texts = {k: dict(v) for k, v in self.row.texts.items() if isinstance(v, dict)}
        own = {n: data[n] for n in rules.TEXT_FIELDS if data[n]}
        if own:
            texts[self.lang] = own
        else:
            texts.pop(self.lang, None)
        return {
            "enabled": bool(data["enabled"]),
            "points": data["points"],
            "limit": data["limit"],
            "url": data["url"],
            "texts": texts,
        }


class CustomActionAddForm(forms.Form):
    """A new custom action: the name the API call gives, its points and limit (off until
    the merchant turns it on below, like every way to earn)."""

    name = forms.RegexField(
        label="Name",
        regex=rules.CUSTOM_NAME_RE,
        max_length=64,
        help_text="What your API call sends as action: letters, digits, - and _.",
        error_messages={"invalid": "Letters, digits, - and _ only (at most 64)."},
    )
    points = forms.IntegerField(label="Points", min_value=0, max_value=rules.MAX_POINTS)
    limit = forms.ChoiceField(label="How often", choices=list(rules.LIMIT_WORDS.items()))
