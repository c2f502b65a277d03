"""Program settings pages (ways to earn, points expiry): one form over the program row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.views.decorators.http import require_http_methods

from loyalty import services
from loyalty.errors import InvalidConfiguration
from loyalty.forms import (
    ExpiryForm,
    form_service_error,
)
from loyalty.models import LoyaltyProgram
from merchants.auth import embedded_admin_required
from merchants.views.pages import (
    admin_page,
    in_shop_timezone,
    request_shop,
    staff_actor,
)


def settings_page(
    request: HttpRequest,
    *,
    form_class: type,
    template: str,
    initial: Callable[[LoyaltyProgram], dict[str, Any]],
    to_data: Callable[[dict[str, Any]], dict[str, Any]],
    extra: Callable[[], dict[str, Any]] | None = None,
) -> HttpResponse:
    """A form over the program row: shows ``initial(program)``, saves ``to_data(cleaned)``
    through ``program_update`` (which audits it); ``extra()`` adds to the page's context."""
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
    toast = None
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                program = services.program_update(
                    shop=shop, actor=staff_actor(request), data=to_data(form.cleaned_data)
                )
            except InvalidConfiguration as exc:
                form_service_error(form, exc)
            else:
                toast = "Settings saved"
                form = form_class(initial=initial(program))
    else:
        form = form_class(initial=initial(program))
    status = 422 if form.errors else 200
    context = {"form": form, "program": program, "saved": bool(toast), **(extra() if extra else {})}
    return admin_page(request, template, context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def expiry(request: HttpRequest) -> HttpResponse:
    return settings_page(
        request,
        form_class=ExpiryForm,
        template="loyalty/expiry.html",
        initial=lambda p: {
            "expiry_enabled": p.expiry_days is not None,
            "expiry_days": p.expiry_days,
            "expiry_warning_days": p.expiry_warning_days,
        },
        to_data=lambda d: {
            "expiry_days": d["expiry_days"],
            "expiry_warning_days": d["expiry_warning_days"],
        },
    )
