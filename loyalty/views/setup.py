"""Home and setup: the first-run wizard and turning the program on or off."""

from __future__ import annotations

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
from loyalty.models import LoyaltyProgram
from merchants.auth import embedded_admin_required
from merchants.models import Shop
from merchants.views.pages import (
    admin_page,
    admin_redirect,
    in_shop_timezone,
    request_shop,
    staff_actor,
)


def _program(shop: Shop) -> LoyaltyProgram:
    return services.program_get_or_create(shop=shop)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest) -> HttpResponse:
    """First-run wizard: defaults everywhere, one submit launches the program."""
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
    form = OnboardingForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        branding = {
            **branding_resolve(program.branding),
            "program_name": data["program_name"],
            "primary_color": data["primary_color"],
            "position": data["position"],
        }
        try:
            services.program_onboard(
                shop=shop,
                actor=staff_actor(request),
                points_per_currency_unit=data["points_per_currency_unit"],
                welcome_points=data["welcome_points"],
                rewards=[dict(services.STARTER_REWARDS[i]) for i in data["starter_rewards"]],
                branding=branding,
                enabled=data["enabled"],
            )
        except (InvalidConfiguration, InvalidBranding) as exc:
            form_service_error(form, exc)
        else:
            return admin_redirect(
                request, reverse("loyalty_admin:rewards"), toast="Program launched"
            )
    status = 422 if form.errors else 200
    context = {"form": form, "program": program, "starters": services.STARTER_REWARDS}
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
