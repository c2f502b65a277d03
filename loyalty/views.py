"""Embedded admin pages for running the program (function-based htmx views).

Every view is wrapped in ``embedded_admin_required`` (session token → ``request.shop``) and
reads or writes only ``request.shop``'s rows: other shops' ids are a 404. An htmx request
gets the page's ``content`` partial, a document load the whole page; the change itself is
made by a ``loyalty.services`` function, which also writes the audit row.
"""

from __future__ import annotations

import io
import json
import mimetypes
from collections import defaultdict
from decimal import Decimal
from functools import wraps
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import signing
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from loyalty import services
from loyalty.audit import audit_events_recent
from loyalty.branding import branding_resolve, branding_validate
from loyalty.errors import (
    InsufficientPoints,
    InvalidAdjustment,
    InvalidBranding,
    InvalidConfiguration,
    RedemptionNotCancellable,
    RewardNotAvailable,
)
from loyalty.forms import (
    AdjustPointsForm,
    BonusEventForm,
    BrandingForm,
    EarningForm,
    ExpiryForm,
    ImportApplyForm,
    ImportUploadForm,
    LandingForm,
    OnboardingForm,
    RewardForm,
    ShopperTextsForm,
)
from loyalty.models import BonusEvent, LoyaltyProgram, Member, Reward
from loyalty.selectors import (
    ledger_export_csv,
    member_get,
    member_ledger,
    member_redemptions,
    members_export_csv,
)
from merchants.auth import embedded_admin_required
from merchants.errors import ShopifyApiError
from merchants.middleware import frame_ancestors_for
from merchants.models import Shop, WebhookDelivery
from merchants.selectors import deliveries_failed, sync_runs_recent

MEMBERS_PER_PAGE = 25
LEDGER_PER_PAGE = 50
AUDIT_PER_PAGE = 50
RECENT_PER_TOPIC = 5
PREVIEW_SALT = "loyalty.branding.preview"
PREVIEW_MAX_AGE = 3600
THEME_ASSETS = Path(settings.BASE_DIR) / "extensions" / "beam-theme" / "assets"
PREVIEW_ASSETS = (
    "beam-launcher.js",
    "beam-panel-views.js",
    "beam-panel.js",
    "beam-panel.css",
    "beam-i18n-fr.js",
    "beam-i18n-de.js",
    "beam-i18n-es.js",
)
LANDING_DEFAULTS = {
    "headline": "Earn points every time you shop",
    "intro": "Join our rewards program: earn points on every order and turn them into discounts.",
    "cta_label": "Join now",
    "faq": [],
}


# --- plumbing ------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> str:
    """The staff member acting: the session token's ``sub`` (user id)."""
    claims = getattr(request, "session_token_claims", None)
    return str(getattr(claims, "sub", "") or "unknown")


def _shop(request: HttpRequest) -> Shop:
    return request.shop  # type: ignore[attr-defined,no-any-return]


def _page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    toast: str | None = None,
) -> HttpResponse:
    """The ``content`` partial for htmx swaps, the whole page for document loads (and for
    htmx's history restore, which wants a full page)."""
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    response = render(
        request,
        f"{template}#content" if partial else template,
        {"shop": _shop(request), **context},
        status=status,
    )
    if toast:
        response["HX-Trigger"] = json.dumps({"beam:toast": {"message": toast}})
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response


def _redirect(request: HttpRequest, url: str, *, toast: str | None = None) -> HttpResponse:
    """After a successful POST: htmx follows ``HX-Location`` (with the token), a plain form
    gets a 303."""
    if getattr(request, "htmx", None):
        response = HttpResponse(status=204)
        response["HX-Location"] = json.dumps({"path": url, "target": "#beam-main"})
        if toast:
            response["HX-Trigger"] = json.dumps({"beam:toast": {"message": toast}})
        return response
    return HttpResponseRedirect(url, status=303)


def _service_error(form: Any, exc: InvalidConfiguration | InvalidBranding) -> None:
    field = getattr(exc, "field", "") or None
    form.add_error(field if field in getattr(form, "fields", {}) else None, str(exc))


def in_shop_timezone(view: Any) -> Any:
    """Dates typed into and shown by the view are in the shop's own time zone."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            zone = ZoneInfo(_shop(request).iana_timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        with timezone.override(zone):
            return view(request, *args, **kwargs)

    return wrapper


def _program(shop: Shop) -> LoyaltyProgram:
    return services.program_get_or_create(shop=shop)


# --- onboarding and program on/off ------------------------------------------------------


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest) -> HttpResponse:
    """First-run wizard: defaults everywhere, one submit launches the program."""
    shop = _shop(request)
    program = _program(shop)
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
                actor=_actor(request),
                points_per_currency_unit=data["points_per_currency_unit"],
                welcome_points=data["welcome_points"],
                rewards=[dict(services.STARTER_REWARDS[i]) for i in data["starter_rewards"]],
                branding=branding,
                enabled=data["enabled"],
            )
        except (InvalidConfiguration, InvalidBranding) as exc:
            _service_error(form, exc)
        else:
            return _redirect(request, reverse("loyalty_admin:rewards"), toast="Program launched")
    status = 422 if form.errors else 200
    context = {"form": form, "program": program, "starters": services.STARTER_REWARDS}
    return _page(request, "loyalty/onboarding.html", context, status=status)


@embedded_admin_required
@in_shop_timezone
@require_POST
def program_toggle(request: HttpRequest) -> HttpResponse:
    shop = _shop(request)
    enabled = request.POST.get("enabled") == "1"
    services.program_set_enabled(shop=shop, actor=_actor(request), enabled=enabled)
    return _redirect(
        request,
        reverse("loyalty_admin:earning"),
        toast="Program turned on" if enabled else "Program turned off",
    )


# --- ways to earn, expiry ----------------------------------------------------------------


def _settings_page(
    request: HttpRequest,
    *,
    form_class: type,
    template: str,
    initial: dict[str, Any],
    to_data: Any,
) -> HttpResponse:
    shop = _shop(request)
    program = _program(shop)
    toast = None
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                program = services.program_update(
                    shop=shop, actor=_actor(request), data=to_data(form.cleaned_data)
                )
            except InvalidConfiguration as exc:
                _service_error(form, exc)
            else:
                toast = "Settings saved"
                form = form_class(initial=initial(program))
    else:
        form = form_class(initial=initial(program))
    status = 422 if form.errors else 200
    context = {"form": form, "program": program, "saved": bool(toast)}
    return _page(request, template, context, status=status, toast=toast)


EARNING_FIELDS = tuple(EarningForm.base_fields)


def _decimal_plain(value: Decimal) -> str:
    """``1.0000`` → ``1``, ``2.5000`` → ``2.5``, ``10`` stays ``10`` (no exponent)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def earning(request: HttpRequest) -> HttpResponse:
    """Ways to earn: the order rule (ratio, base, rounding, exclusions, minimum, trigger,
    pending period) and welcome points."""
    return _settings_page(
        request,
        form_class=EarningForm,
        template="loyalty/earning.html",
        initial=lambda p: {
            **{name: getattr(p, name) for name in EARNING_FIELDS},
            "points_per_currency_unit": _decimal_plain(p.points_per_currency_unit),
        },
        to_data=lambda d: {name: d[name] for name in EARNING_FIELDS},
    )


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def expiry(request: HttpRequest) -> HttpResponse:
    return _settings_page(
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


# --- bonus events -------------------------------------------------------------------------


def _shop_row_or_404(model: type[Any], shop: Shop, pk: int, message: str) -> Any:
    """The shop's own row, or a 404 (another shop's id looks exactly like a missing one)."""
    row = model.objects.filter(shop=shop, pk=pk).first()
    if row is None:
        raise Http404(message)
    return row


def _event_get(shop: Shop, event_id: int) -> BonusEvent:
    return _shop_row_or_404(BonusEvent, shop, event_id, "No such bonus event.")


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def bonus_events(request: HttpRequest) -> HttpResponse:
    """List of multiplier windows and the form to add one."""
    shop = _shop(request)
    form = BonusEventForm(request.POST if request.method == "POST" else None)
    toast = None
    if request.method == "POST" and form.is_valid():
        try:
            services.bonus_event_create(shop=shop, actor=_actor(request), data=form.cleaned_data)
        except InvalidConfiguration as exc:
            _service_error(form, exc)
        else:
            toast = "Bonus event scheduled"
            form = BonusEventForm()
    events = BonusEvent.objects.filter(shop=shop).order_by("-starts_at", "-pk")
    context = {"form": form, "events": events, "now": timezone.now()}
    status = 422 if form.errors else 200
    return _page(request, "loyalty/bonus_events.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def bonus_event_edit(request: HttpRequest, event_id: int) -> HttpResponse:
    shop = _shop(request)
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
                shop=shop, actor=_actor(request), bonus_event_id=event.pk, data=form.cleaned_data
            )
        except InvalidConfiguration as exc:
            _service_error(form, exc)
        else:
            return _redirect(
                request, reverse("loyalty_admin:bonus_events"), toast="Bonus event saved"
            )
    status = 422 if form.errors else 200
    return _page(
        request, "loyalty/bonus_event_edit.html", {"form": form, "event": event}, status=status
    )


@embedded_admin_required
@in_shop_timezone
@require_POST
def bonus_event_delete(request: HttpRequest, event_id: int) -> HttpResponse:
    shop = _shop(request)
    event = _event_get(shop, event_id)
    services.bonus_event_delete(shop=shop, actor=_actor(request), bonus_event_id=event.pk)
    return _redirect(request, reverse("loyalty_admin:bonus_events"), toast="Bonus event removed")


# --- rewards ------------------------------------------------------------------------------


def _reward_get(shop: Shop, reward_id: int) -> Reward:
    return _shop_row_or_404(Reward, shop, reward_id, "No such reward.")


@embedded_admin_required
@in_shop_timezone
@require_safe
def rewards(request: HttpRequest) -> HttpResponse:
    shop = _shop(request)
    catalogue = (
        Reward.objects.filter(shop=shop)
        .annotate(issued=Count("redemptions"))
        .order_by("-active", "points_cost", "pk")
    )
    return _page(request, "loyalty/rewards.html", {"rewards": catalogue})


def _reward_form_page(request: HttpRequest, reward: Reward | None) -> HttpResponse:
    shop = _shop(request)
    initial = (
        {name: getattr(reward, name) for name in RewardForm.base_fields}
        if reward is not None
        else None
    )
    form = RewardForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if reward is None:
                services.reward_create(shop=shop, actor=_actor(request), data=form.service_data())
                toast = "Reward created"
            else:
                services.reward_update(
                    shop=shop,
                    actor=_actor(request),
                    reward_id=reward.pk,
                    data=form.service_data(),
                )
                toast = "Reward saved"
        except InvalidConfiguration as exc:
            _service_error(form, exc)
        except RewardNotAvailable as exc:
            raise Http404("No such reward.") from exc
        else:
            return _redirect(request, reverse("loyalty_admin:rewards"), toast=toast)
    status = 422 if form.errors else 200
    context = {"form": form, "reward": reward, "kinds": Reward.Kind}
    return _page(request, "loyalty/reward_form.html", context, status=status)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def reward_new(request: HttpRequest) -> HttpResponse:
    return _reward_form_page(request, None)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def reward_edit(request: HttpRequest, reward_id: int) -> HttpResponse:
    return _reward_form_page(request, _reward_get(_shop(request), reward_id))


# --- branding and its live preview --------------------------------------------------------


def _branding_initial(program: LoyaltyProgram) -> dict[str, Any]:
    return branding_resolve(program.branding)


def _preview_token(shop: Shop, branding: dict[str, Any]) -> str:
    """A signed, short-lived reference to (shop, draft branding): the preview frame and its
    fake API trust only what this admin request signed, never a shop id from the URL."""
    return signing.dumps({"s": shop.pk, "b": branding}, salt=PREVIEW_SALT, compress=True)


def _preview_context(shop: Shop, branding: dict[str, Any]) -> dict[str, Any]:
    token = _preview_token(shop, branding)
    return {
        "preview_url": reverse("loyalty_admin:branding_preview_frame", args=[token]),
        "preview_branding": branding,
    }


def _branding_form_data(form: BrandingForm, program: LoyaltyProgram) -> dict[str, Any]:
    return {**branding_resolve(program.branding), **form.cleaned_data}


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def branding(request: HttpRequest) -> HttpResponse:
    """Colours, position, shape, icon, texts and languages, beside the real launcher."""
    shop = _shop(request)
    program = _program(shop)
    toast = None
    preview_branding = branding_resolve(program.branding)
    if request.method == "POST":
        form = BrandingForm(request.POST)
        if form.is_valid():
            try:
                program = services.branding_update(
                    shop=shop,
                    actor=_actor(request),
                    branding=_branding_form_data(form, program),
                )
            except InvalidBranding as exc:
                _service_error(form, exc)
            else:
                toast = "Branding saved"
                preview_branding = branding_resolve(program.branding)
                form = BrandingForm(initial=preview_branding)
    else:
        form = BrandingForm(initial=preview_branding)
    status = 422 if form.errors else 200
    context = {"form": form, "program": program, **_preview_context(shop, preview_branding)}
    return _page(request, "loyalty/branding.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_POST
def branding_preview(request: HttpRequest) -> HttpResponse:
    """The preview for the form's current (unsaved) values; nothing is stored."""
    shop = _shop(request)
    program = _program(shop)
    form = BrandingForm(request.POST)
    errors: list[str] = []
    draft = branding_resolve(program.branding)
    if form.is_valid():
        try:
            draft = branding_validate(_branding_form_data(form, program))
        except InvalidBranding as exc:
            errors.append(str(exc))
    else:
        errors = [
            f"{form[name].label}: {' '.join(msgs)}" if name in form.fields else " ".join(msgs)
            for name, msgs in form.errors.items()
        ]
    context = {"preview_errors": errors, **_preview_context(shop, draft)}
    response = render(request, "loyalty/branding.html#preview", {"shop": shop, **context})
    patch_vary_headers(response, ["HX-Request"])
    response["Cache-Control"] = "no-store"
    return response


def _preview_load(token: str) -> tuple[Shop, dict[str, Any]]:
    try:
        data = signing.loads(token, salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature as exc:
        raise Http404("This preview has expired; reload the branding page.") from exc
    shop = Shop.objects.active().filter(pk=data.get("s")).first()
    if shop is None:
        raise Http404("No such shop.")
    return shop, branding_resolve(data.get("b"))


@require_safe
def branding_preview_frame(request: HttpRequest, token: str) -> HttpResponse:
    """A storefront-like page running the theme extension's real launcher and panel with the
    draft branding, against a preview API. Framed only by the admin page (same origin)
    inside the shop's admin."""
    shop, draft = _preview_load(token)
    i18n = ""
    lang = (draft.get("languages") or ["en"])[0]
    if lang != "en":
        i18n = reverse("loyalty_admin:theme_asset", args=[f"beam-i18n-{lang}.js"])
    context = {
        "shop": shop,
        "b": draft,
        "proxy": reverse("loyalty_admin:branding_preview_frame", args=[token]).rstrip("/"),
        "asset": {
            name.replace("-", "_").replace(".", "_"): reverse(
                "loyalty_admin:theme_asset", args=[name]
            )
            for name in PREVIEW_ASSETS
        },
        "i18n_js": i18n,
        "locale": lang,
    }
    response = render(request, "loyalty/branding_preview_frame.html", context)
    ancestors = frame_ancestors_for(shop.domain).rstrip(";")
    if "'self'" not in ancestors:
        ancestors += " 'self'"
    response["Content-Security-Policy"] = ancestors + ";"
    response["Cache-Control"] = "no-store"
    return response


def _preview_rewards(shop: Shop) -> list[dict[str, Any]]:
    out = []
    for r in Reward.objects.filter(shop=shop, active=True).order_by("points_cost", "pk")[:20]:
        out.append(
            {
                "id": f"rw_{r.pk}",
                "title": r.name,
                "kind": r.kind,
                "points_cost": r.points_cost,
                "value": str(r.value) if r.kind != Reward.Kind.VARIABLE else None,
                "currency": shop.currency,
                "min_subtotal": str(r.minimum_subtotal or Decimal("0.00")),
                "variable": (
                    {
                        "min_points": r.min_points or r.points_per_unit,
                        "max_points": r.max_points or (r.points_per_unit or 1) * 10,
                        "points_per_unit": r.points_per_unit,
                        "unit_value": str(r.value_per_unit),
                    }
                    if r.kind == Reward.Kind.VARIABLE
                    else None
                ),
            }
        )
    return out


@require_http_methods(["GET", "POST"])
def branding_preview_api(request: HttpRequest, token: str, path: str) -> JsonResponse:
    """The storefront JSON API as the panel sees it, with the draft branding, the shop's
    real rewards and a sample member. Redeeming is refused: nothing here writes."""
    shop, draft = _preview_load(token)
    program = _program(shop)
    if path == "program":
        lang = (draft.get("languages") or ["en"])[0]
        rate = program.points_per_currency_unit.normalize()
        payload: dict[str, Any] = {
            "shop": {"name": shop.name or shop.domain, "currency": shop.currency},
            "branding": draft,
            "texts": (program.texts or {}).get(lang, {}),
            "earning": [
                {
                    "key": "order",
                    "title": "Place an order",
                    "description": f"{rate} {draft['points_name']} per 1 {shop.currency} spent",
                    "points_label": f"{rate} / {shop.currency}",
                    "done": None,
                },
                {
                    "key": "signup",
                    "title": "Create an account",
                    "description": "",
                    "points_label": f"{program.welcome_points} {draft['points_name']}",
                    "done": True,
                },
            ],
            "rewards": _preview_rewards(shop),
            "tiers": [],
            "customer": {"logged_in": True},
            "urls": {"sign_up": "#", "log_in": "#", "landing": "#"},
        }
        return JsonResponse(payload)
    if path == "me":
        return JsonResponse(
            {
                "member": {"balance": 1200, "pending": [], "lifetime_earned": 1500},
                "history": {
                    "entries": [
                        {
                            "id": "le_1",
                            "amount": 100,
                            "kind": "welcome",
                            "label": "Welcome bonus",
                            "created_at": "2026-01-01T10:00:00Z",
                        }
                    ],
                    "next_page": None,
                },
                "redemptions": [],
            }
        )
    return JsonResponse(
        {"error": {"code": "preview", "message": "This is a preview: nothing is redeemed."}},
        status=403,
    )


@require_safe
def theme_asset(request: HttpRequest, name: str) -> FileResponse:
    """The theme extension's own launcher/panel files, for the preview (public files,
    the same the storefront serves from the platform's CDN; no shop data)."""
    if name not in PREVIEW_ASSETS:
        raise Http404("No such asset.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((THEME_ASSETS / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- landing page ---------------------------------------------------------------------------


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    shop = _shop(request)
    program = _program(shop)
    current = {**LANDING_DEFAULTS, **(program.landing or {})}
    initial = {
        **current,
        "faq": "\n".join(f"{e.get('q', '')} | {e.get('a', '')}" for e in current["faq"]),
    }
    toast = None
    form = LandingForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        program = services.branding_update(
            shop=shop, actor=_actor(request), landing=dict(form.cleaned_data)
        )
        toast = "Landing page saved"
    status = 422 if form.errors else 200
    return _page(request, "loyalty/landing.html", {"form": form}, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def shopper_texts(request: HttpRequest) -> HttpResponse:
    """The panel's texts, per language the program offers (blank keeps the default)."""
    shop = _shop(request)
    program = _program(shop)
    languages = branding_resolve(program.branding)["languages"]
    source = request.POST if request.method == "POST" else request.GET
    lang = source.get("lang") if source.get("lang") in languages else languages[0]
    stored = (program.texts or {}).get(lang, {})
    form = ShopperTextsForm(request.POST if request.method == "POST" else None, initial=stored)
    toast = None
    if request.method == "POST" and form.is_valid():
        texts = {**(program.texts or {}), lang: form.cleaned_data["overrides"]}
        if not texts[lang]:
            texts.pop(lang)
        program = services.branding_update(shop=shop, actor=_actor(request), texts=texts)
        toast = "Texts saved"
        form = ShopperTextsForm(initial=program.texts.get(lang, {}))
    context = {"form": form, "lang": lang, "languages": languages}
    status = 422 if form.errors else 200
    return _page(request, "loyalty/shopper_texts.html", context, status=status, toast=toast)


# --- customers ------------------------------------------------------------------------------


def _member_search(shop: Shop, q: str) -> Any:
    qs = Member.objects.filter(shop=shop, redacted=False)
    q = q.strip()
    if q:
        cond = Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        first, _, last = q.partition(" ")
        if last:
            cond |= Q(first_name__icontains=first, last_name__icontains=last.strip())
        if q.isdigit():
            cond |= Q(customer_id=int(q))
        qs = qs.filter(cond)
    return qs.only(
        "pk",
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "balance",
        "lifetime_earned",
        "last_activity_at",
    ).order_by("-last_activity_at", "-pk")


@embedded_admin_required
@in_shop_timezone
@require_safe
def customers(request: HttpRequest) -> HttpResponse:
    """Members with balance, lifetime points and last activity; search by email or name."""
    shop = _shop(request)
    q = request.GET.get("q", "")[:200]
    page = Paginator(_member_search(shop, q), MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "q": q}
    if getattr(request, "htmx", None) and request.headers.get("HX-Target") == "beam-members":
        response = render(request, "loyalty/customers.html#members", {"shop": shop, **context})
        patch_vary_headers(response, ["HX-Request"])
        return response
    return _page(request, "loyalty/customers.html", context)


def _member_or_404(shop: Shop, member_id: int) -> Member:
    member = member_get(shop=shop, member_id=member_id)
    if member is None:
        raise Http404("No such customer.")
    return member


def _customer_page(
    request: HttpRequest,
    member: Member,
    *,
    form: AdjustPointsForm | None = None,
    status: int = 200,
    toast: str | None = None,
    error: str = "",
) -> HttpResponse:
    shop = _shop(request)
    ledger = Paginator(member_ledger(shop=shop, member=member), LEDGER_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "member": member,
        "ledger": ledger,
        "redemptions": member_redemptions(shop=shop, member=member),
        "form": form or AdjustPointsForm(),
        "error": error,
    }
    return _page(request, "loyalty/customer_detail.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_safe
def customer_detail(request: HttpRequest, member_id: int) -> HttpResponse:
    """One member: balance, the full ledger, redemptions and their codes."""
    return _customer_page(request, _member_or_404(_shop(request), member_id))


@embedded_admin_required
@in_shop_timezone
@require_POST
def customer_adjust(request: HttpRequest, member_id: int) -> HttpResponse:
    """Add or deduct points with a required reason (idempotent per form render)."""
    shop = _shop(request)
    member = _member_or_404(shop, member_id)
    form = AdjustPointsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.member_points_adjust(
                shop=shop,
                member=member,
                amount=data["amount"],
                reason=data["reason"],
                actor=_actor(request),
                idempotency_key=f"admin:{member.pk}:{data['idempotency_key']}",
            )
        except InsufficientPoints as exc:
            form.add_error("amount", f"Not enough points to deduct: {exc}")
        except InvalidAdjustment as exc:
            form.add_error(None, str(exc))
        else:
            member.refresh_from_db()
            return _customer_page(request, member, toast=f"{entry.amount:+d} points recorded")
    return _customer_page(request, member, form=form, status=422)


@embedded_admin_required
@in_shop_timezone
@require_POST
def redemption_cancel(request: HttpRequest, member_id: int, redemption_id: int) -> HttpResponse:
    """Deactivate an unused code and give the points back."""
    shop = _shop(request)
    member = _member_or_404(shop, member_id)
    if not member.redemptions.filter(pk=redemption_id, shop=shop).exists():
        raise Http404("No such redemption.")
    try:
        services.redemption_cancel_audited(
            shop=shop, redemption_id=redemption_id, actor=_actor(request)
        )
    except RedemptionNotCancellable as exc:
        return _customer_page(request, member, status=409, error=str(exc))
    except ShopifyApiError:
        return _customer_page(
            request, member, status=502, error="The store did not answer; try again."
        )
    member.refresh_from_db()
    return _customer_page(request, member, toast="Code cancelled, points refunded")


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def customers_import(request: HttpRequest) -> HttpResponse:
    """Step 1: upload a CSV and see, row by row, what importing it would do."""
    shop = _shop(request)
    upload = ImportUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    context: dict[str, Any] = {"upload": upload}
    if request.method == "POST" and upload.is_valid():
        csv_text = upload.cleaned_data["file"]
        rows = services.members_import_preview(shop=shop, csv_text=csv_text)
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            counts[row.outcome] += 1
        context.update(
            rows=rows,
            counts=dict(counts),
            apply=ImportApplyForm(initial={"csv_text": csv_text}),
            appliable=any(r.outcome != "error" for r in rows),
        )
    status = 422 if upload.errors else 200
    return _page(request, "loyalty/customers_import.html", context, status=status)


@embedded_admin_required
@in_shop_timezone
@require_POST
def customers_import_apply(request: HttpRequest) -> HttpResponse:
    """Step 2: import the previewed file. Re-importing the same file changes nothing."""
    shop = _shop(request)
    form = ImportApplyForm(request.POST)
    if not form.is_valid():
        context = {"upload": ImportUploadForm(), "apply_errors": form.errors}
        return _page(request, "loyalty/customers_import.html", context, status=422)
    report = services.members_import_audited(
        shop=shop, csv_text=form.cleaned_data["csv_text"], actor=_actor(request)
    )
    context = {"upload": ImportUploadForm(), "report": report}
    return _page(
        request,
        "loyalty/customers_import.html",
        context,
        toast=f"Imported: {report.created} new, {report.changed} changed",
    )


def _csv_response(filename: str, write: Any, shop: Shop) -> HttpResponse:
    buffer = io.StringIO()
    write(shop=shop, out=buffer)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@embedded_admin_required
@in_shop_timezone
@require_safe
def export_members(request: HttpRequest) -> HttpResponse:
    shop = _shop(request)
    return _csv_response(f"{shop.domain}-members.csv", members_export_csv, shop)


@embedded_admin_required
@in_shop_timezone
@require_safe
def export_ledger(request: HttpRequest) -> HttpResponse:
    shop = _shop(request)
    return _csv_response(f"{shop.domain}-ledger.csv", ledger_export_csv, shop)


# --- webhook health, audit ----------------------------------------------------------------


def _webhooks_context(shop: Shop) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in (
        WebhookDelivery.objects.filter(shop=shop)
        .values("topic", "status")
        .annotate(n=Count("pk"))
        .order_by("topic", "status")
    ):
        counts[row["topic"]][row["status"]] = row["n"]
    recent_by_topic: dict[str, list[WebhookDelivery]] = defaultdict(list)
    latest_per_topic = (
        WebhookDelivery.objects.filter(shop=shop)
        .defer("payload", "headers")
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("topic")],
                order_by=[F("received_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=RECENT_PER_TOPIC)
        .order_by("topic", "rank")
    )
    for delivery in latest_per_topic:
        recent_by_topic[delivery.topic].append(delivery)
    topics = [
        {"topic": topic, "counts": counts[topic], "recent": recent_by_topic.get(topic, [])}
        for topic in sorted(counts)
    ]
    runs = list(sync_runs_recent(shop=shop, limit=1))
    return {
        "topics": topics,
        "failed": list(deliveries_failed(shop=shop, limit=50)),
        "last_run": runs[0] if runs else None,
    }


@embedded_admin_required
@in_shop_timezone
@require_safe
def webhooks(request: HttpRequest) -> HttpResponse:
    """Recent deliveries per topic, failures with their error, the last reconciliation."""
    return _page(request, "loyalty/webhooks.html", _webhooks_context(_shop(request)))


@embedded_admin_required
@in_shop_timezone
@require_POST
def webhooks_replay(request: HttpRequest) -> HttpResponse:
    """Replay one failed delivery (``delivery_id``) or all of this shop's failed ones."""
    shop = _shop(request)
    raw = request.POST.get("delivery_id", "")
    ids: list[int] | None = None
    if raw:
        if not raw.isdigit() or not WebhookDelivery.objects.filter(shop=shop, pk=int(raw)).exists():
            raise Http404("No such delivery.")
        ids = [int(raw)]
    outcome = services.deliveries_replay_audited(shop=shop, actor=_actor(request), delivery_ids=ids)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(outcome.items())) or "nothing to replay"
    return _page(
        request,
        "loyalty/webhooks.html",
        {**_webhooks_context(shop), "replayed": summary},
        toast=f"Replayed: {summary}",
    )


@embedded_admin_required
@in_shop_timezone
@require_safe
def audit(request: HttpRequest) -> HttpResponse:
    """Who changed what, when."""
    shop = _shop(request)
    page = Paginator(audit_events_recent(shop=shop), AUDIT_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return _page(request, "loyalty/audit.html", {"page": page})
