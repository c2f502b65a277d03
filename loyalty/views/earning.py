"""Ways to earn and bonus events (multiplier windows)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from loyalty import services
from loyalty.branding import branding_resolve
from loyalty.errors import InvalidConfiguration
from loyalty.forms import (
    BonusEventForm,
    EarningForm,
    form_service_error,
)
from loyalty.forms_earning import CustomActionAddForm, EarningActionForm
from loyalty.models import BonusEvent
from loyalty.models_earning import EarningAction
from loyalty.rules import earning_actions as rules
from loyalty.selectors import number_plain
from loyalty.selectors_earning import earning_actions_admin
from loyalty.services.inbound import api_key_create
from loyalty.views.settings import settings_page
from merchants.auth import embedded_admin_required
from merchants.inbound_keys import url_token
from merchants.models import Shop, ShopApiKey
from merchants.views.pages import (
    admin_page,
    admin_redirect,
    in_shop_timezone,
    request_shop,
    shop_row_or_404,
    staff_actor,
)

EARNING_FIELDS = tuple(EarningForm.base_fields)


def _lang(request: HttpRequest, shop: Shop) -> tuple[str, list[str]]:
    """The language whose shopper texts the page edits (``?lang=``), and those offered."""
    languages = list(
        branding_resolve(services.program_get_or_create(shop=shop).branding)["languages"]
    )
    asked = request.POST.get("lang") or request.GET.get("lang") or ""
    return (asked if asked in languages else str(languages[0])), languages


def _actions_context(
    request: HttpRequest, shop: Shop, bound: EarningActionForm | None = None
) -> dict[str, Any]:
    """The other ways to earn, one form each (``bound``: the one just posted, with its
    errors)."""
    lang, languages = _lang(request, shop)
    forms = [
        bound
        if bound is not None and bound.row.key == row.key
        else EarningActionForm(row=row, lang=lang)
        for row in earning_actions_admin(shop=shop)
    ]
    return {
        "action_forms": forms,
        "lang": lang,
        "languages": languages,
        "api_key": ShopApiKey.objects.filter(shop=shop).first(),
        "api_base": f"{settings.SHOPIFY_APP_URL}/api/v1/",
        "custom_form": CustomActionAddForm(initial={"points": 10, "limit": rules.ONCE}),
    }


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def earning(request: HttpRequest) -> HttpResponse:
    """Ways to earn: the order rule (ratio, base, rounding, exclusions, minimum, trigger,
    pending period), welcome points, and every other way to earn (birthday, anniversary,
    newsletter, social follows and shares) with its switch, points, limit and texts."""
    shop = request_shop(request)
    return settings_page(
        request,
        form_class=EarningForm,
        template="loyalty/earning.html",
        initial=lambda p: {
            **{name: getattr(p, name) for name in EARNING_FIELDS},
            "points_per_currency_unit": number_plain(p.points_per_currency_unit),
        },
        to_data=lambda d: {name: d[name] for name in EARNING_FIELDS},
        extra=lambda: _actions_context(request, shop),
    )


@embedded_admin_required
@in_shop_timezone
@require_POST
def earning_action_save(request: HttpRequest) -> HttpResponse:
    """Save one way to earn (audited; the storefront's cached program is dropped)."""
    shop = request_shop(request)
    key = request.POST.get("action", "")
    row = next((r for r in earning_actions_admin(shop=shop) if r.key == key), None)
    if row is None:
        raise Http404("No such way to earn.")
    lang, _ = _lang(request, shop)
    form = EarningActionForm(request.POST, row=row, lang=lang)
    toast = None
    if form.is_valid():
        try:
            services.earning_action_save(
                shop=shop,
                actor=staff_actor(request),
                kind=row.kind,
                network=row.network,
                name=row.name,
                data=form.service_data(),
            )
        except InvalidConfiguration as exc:
            form_service_error(form, exc)
        else:
            toast = f"{row.title}: saved"
    return _earning_page(
        request,
        shop,
        bound=None if toast else form,
        status=422 if form.errors else 200,
        toast=toast,
    )


def _earning_page(
    request: HttpRequest,
    shop: Shop,
    *,
    bound: EarningActionForm | None = None,
    status: int = 200,
    toast: str | None = None,
    **extra: Any,
) -> HttpResponse:
    """The Ways to earn page after a post to one of its cards (``extra``: that card's
    context, e.g. the key just issued)."""
    program = services.program_get_or_create(shop=shop)
    context = {
        "form": EarningForm(
            initial={
                **{name: getattr(program, name) for name in EARNING_FIELDS},
                "points_per_currency_unit": number_plain(program.points_per_currency_unit),
            }
        ),
        "program": program,
        **_actions_context(request, shop, bound),
        **extra,
    }
    return admin_page(request, "loyalty/earning.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_POST
def custom_action_add(request: HttpRequest) -> HttpResponse:
    """Add a named custom action (off: the merchant turns it on in its row); audited."""
    shop = request_shop(request)
    form = CustomActionAddForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        if EarningAction.objects.filter(shop=shop, kind=rules.CUSTOM, name=name).exists():
            form.add_error("name", "A custom action of this name exists.")
        else:
            try:
                services.earning_action_save(
                    shop=shop,
                    actor=staff_actor(request),
                    kind=rules.CUSTOM,
                    name=name,
                    data={
                        "points": form.cleaned_data["points"],
                        "limit": form.cleaned_data["limit"],
                    },
                )
            except InvalidConfiguration as exc:
                form_service_error(form, exc)
            else:
                return _earning_page(
                    request, shop, toast=f"{name}: added (off until you turn it on)"
                )
    return _earning_page(request, shop, status=422, custom_form=form)


@embedded_admin_required
@in_shop_timezone
@require_POST
def api_key_rotate(request: HttpRequest) -> HttpResponse:
    """Create or rotate the shop's API key; the page shows it (and the Judge.me webhook
    URL made from it) this once."""
    shop = request_shop(request)
    issued = api_key_create(shop=shop, actor=staff_actor(request))
    judgeme_url = (
        f"{settings.SHOPIFY_APP_URL}/api/v1/reviews/judgeme?shop={shop.domain}"
        f"&token={url_token(issued.key)}"
    )
    toast = "API key rotated" if issued.rotated else "API key created"
    return _earning_page(request, shop, toast=toast, issued=issued, judgeme_url=judgeme_url)


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
