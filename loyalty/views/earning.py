"""Ways to earn and bonus events (multiplier windows)."""

from __future__ import annotations

from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from loyalty import services
from loyalty.errors import InvalidConfiguration
from loyalty.forms import (
    BonusEventForm,
    EarningForm,
    form_service_error,
)
from loyalty.models import BonusEvent
from loyalty.selectors import number_plain
from loyalty.views.settings import settings_page
from merchants.auth import embedded_admin_required
from merchants.models import Shop
from merchants.views.pages import (
    admin_page,
    admin_redirect,
    in_shop_timezone,
    request_shop,
    shop_row_or_404,
    staff_actor,
)

EARNING_FIELDS = tuple(EarningForm.base_fields)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def earning(request: HttpRequest) -> HttpResponse:
    """Ways to earn: the order rule (ratio, base, rounding, exclusions, minimum, trigger,
    pending period) and welcome points."""
    return settings_page(
        request,
        form_class=EarningForm,
        template="loyalty/earning.html",
        initial=lambda p: {
            **{name: getattr(p, name) for name in EARNING_FIELDS},
            "points_per_currency_unit": number_plain(p.points_per_currency_unit),
        },
        to_data=lambda d: {name: d[name] for name in EARNING_FIELDS},
    )


def _event_get(shop: Shop, event_id: int) -> BonusEvent:
    return shop_row_or_404(BonusEvent, shop, event_id, "No such bonus event.")


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def bonus_events(request: HttpRequest) -> HttpResponse:
    """List of multiplier windows and the form to add one."""
    shop = request_shop(request)
    form = BonusEventForm(request.POST if request.method == "POST" else None)
    toast = None
    if request.method == "POST" and form.is_valid():
        try:
            services.bonus_event_create(
                shop=shop, actor=staff_actor(request), data=form.cleaned_data
            )
        except InvalidConfiguration as exc:
            form_service_error(form, exc)
        else:
            toast = "Bonus event scheduled"
            form = BonusEventForm()
    events = BonusEvent.objects.filter(shop=shop).order_by("-starts_at", "-pk")
    context = {"form": form, "events": events, "now": timezone.now()}
    status = 422 if form.errors else 200
    return admin_page(request, "loyalty/bonus_events.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def bonus_event_edit(request: HttpRequest, event_id: int) -> HttpResponse:
    shop = request_shop(request)
    event = _event_get(shop, event_id)
    initial = {
        "name": event.name,
        "multiplier": event.multiplier,
        "starts_at": timezone.localtime(event.starts_at).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": timezone.localtime(event.ends_at).strftime("%Y-%m-%dT%H:%M"),
        "product_tags": event.product_tags,
    }
    form = BonusEventForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.bonus_event_update(
                shop=shop,
                actor=staff_actor(request),
                bonus_event_id=event.pk,
                data=form.cleaned_data,
            )
        except InvalidConfiguration as exc:
            form_service_error(form, exc)
        else:
            return admin_redirect(
                request, reverse("loyalty_admin:bonus_events"), toast="Bonus event saved"
            )
    status = 422 if form.errors else 200
    return admin_page(
        request, "loyalty/bonus_event_edit.html", {"form": form, "event": event}, status=status
    )


@embedded_admin_required
@in_shop_timezone
@require_POST
def bonus_event_delete(request: HttpRequest, event_id: int) -> HttpResponse:
    shop = request_shop(request)
    event = _event_get(shop, event_id)
    services.bonus_event_delete(shop=shop, actor=staff_actor(request), bonus_event_id=event.pk)
    return admin_redirect(
        request, reverse("loyalty_admin:bonus_events"), toast="Bonus event removed"
    )
