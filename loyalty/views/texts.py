"""What shoppers read: the landing page's texts and the panel's texts per language."""

from __future__ import annotations

from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.views.decorators.http import require_http_methods

from loyalty import services
from loyalty.branding import branding_resolve
from loyalty.forms import (
    LandingForm,
    ShopperTextsForm,
)
from merchants.auth import embedded_admin_required
from merchants.views.pages import (
    admin_page,
    in_shop_timezone,
    request_shop,
    staff_actor,
)

LANDING_DEFAULTS = {
    "headline": "Earn points every time you shop",
    "intro": "Join our rewards program: earn points on every order and turn them into discounts.",
    "cta_label": "Join now",
    "faq": [],
}


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
    current = {**LANDING_DEFAULTS, **(program.landing or {})}
    initial = {
        **current,
        "faq": "\n".join(f"{e.get('q', '')} | {e.get('a', '')}" for e in current["faq"]),
    }
    toast = None
    form = LandingForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        program = services.branding_update(
            shop=shop, actor=staff_actor(request), landing=dict(form.cleaned_data)
        )
        toast = "Landing page saved"
    status = 422 if form.errors else 200
    return admin_page(request, "loyalty/landing.html", {"form": form}, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def shopper_texts(request: HttpRequest) -> HttpResponse:
    """The panel's texts, per language the program offers (blank keeps the default)."""
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
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
        program = services.branding_update(shop=shop, actor=staff_actor(request), texts=texts)
        toast = "Texts saved"
        form = ShopperTextsForm(initial=program.texts.get(lang, {}))
    context = {"form": form, "lang": lang, "languages": languages}
    status = 422 if form.errors else 200
    return admin_page(request, "loyalty/shopper_texts.html", context, status=status, toast=toast)
