"""Home and setup: the first-run wizard and turning the program on or off."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from loyalty import services
from loyalty.branding import branding_resolve
from loyalty.errors import (
    InvalidBranding,
    InvalidConfiguration,
)
from loyalty.forms import (
    OnboardingForm,
    form_service_error,
)
from loyalty.models import Reward
from merchants.auth import embedded_admin_required
from merchants.views.pages import (
    admin_page,
    admin_redirect,
    in_shop_timezone,
    request_shop,
    staff_actor,
)

BRANDING_LABELS = {
    "program_name": "Program name",
    "primary_color": "Brand colour",
    "position": "Launcher position",
}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@dataclass(frozen=True)
class ReviewLine:
    """One line of the review step: a setting from ``before`` to ``after`` (``text`` is its
    label), or a sentence (``text`` alone). The template sets the two values apart."""

    text: str
    before: str | None = None
    after: str | None = None


def plan_lines(plan: services.OnboardingPlan) -> list[ReviewLine]:
    """The review step's lines: each setting from what to what, each reward added, each
    starter the catalogue already holds (kept as it is)."""
    lines = []
    labels = {
        "points_per_currency_unit": "Points per 1 unit spent",
        "welcome_points": "Welcome points",
        "enabled": "Program",
    }
    for name, (before, after) in plan.changes.items():
        if name == "branding":
            old, new = branding_resolve(before), branding_resolve(after)
            lines += [
                ReviewLine(label, str(old[key]), str(new[key]))
                for key, label in BRANDING_LABELS.items()
                if old[key] != new[key]
            ]
        else:
            lines.append(ReviewLine(labels[name], _shown(before), _shown(after)))
    lines += [
        ReviewLine(f"Adds the reward {r['name']} ({r['points_cost']} points)")
        for r in plan.rewards_added
    ]
    lines += [
        ReviewLine(f"Keeps {r.name} ({r.points_cost} points): already in your catalogue")
        for r in plan.rewards_present
    ]
    return lines


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest) -> HttpResponse:
    """The set-up wizard, in two steps: the form (starting from the current settings), then
    a review of exactly what will change (the plan ``program_onboard`` applies); nothing
    changes before the merchant confirms."""
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
    rewards = list(Reward.objects.filter(shop=shop, active=True))
    posted = request.method == "POST"
    form = OnboardingForm(request.POST if posted else None, program=program, rewards=rewards)
    context: dict[str, Any] = {"form": form, "program": program, "review": None}
    if posted and form.is_valid() and "edit" not in request.POST:
        data = form.cleaned_data
        arguments = {
            "points_per_currency_unit": data["points_per_currency_unit"],
            "welcome_points": data["welcome_points"],
            "starters": data["starter_rewards"],
            "branding": {
                **branding_resolve(program.branding),
                "program_name": data["program_name"],
                "primary_color": data["primary_color"],
                "position": data["position"],
            },
            "enabled": data["enabled"],
        }
        try:
            if request.POST.get("confirm") == "1":
                plan = services.program_onboard(shop=shop, actor=staff_actor(request), **arguments)
                toast = "Program launched" if plan.launches else "Setup saved"
                return admin_redirect(request, reverse("admin_home"), toast=toast)
            plan = services.onboarding_plan(program=program, rewards=rewards, **arguments)
        except (InvalidConfiguration, InvalidBranding) as exc:
            form_service_error(form, exc)
        else:
            context["review"] = {"plan": plan, "lines": plan_lines(plan)}
    status = 422 if form.errors else 200
    return admin_page(request, "loyalty/onboarding.html", context, status=status)


@embedded_admin_required
@in_shop_timezone
@require_POST
def program_toggle(request: HttpRequest) -> HttpResponse:
    shop = request_shop(request)
    enabled = request.POST.get("enabled") == "1"
    services.program_set_enabled(shop=shop, actor=staff_actor(request), enabled=enabled)
    return admin_redirect(
        request,
        reverse("loyalty_admin:earning"),
        toast="Program turned on" if enabled else "Program turned off",
    )
