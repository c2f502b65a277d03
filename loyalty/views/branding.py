"""Branding beside a live preview running the theme extension's real launcher and panel.

The preview's program document is ``loyalty.selectors.program_document`` — the very
document the store serves — with only the branding replaced by the unsaved draft."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core import signing
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from loyalty import services
from loyalty.branding import branding_resolve, branding_validate
from loyalty.errors import InvalidBranding
from loyalty.forms import (
    BrandingForm,
    form_service_error,
)
from loyalty.models import LedgerEntry, LoyaltyProgram
from loyalty.selectors import ledger_entry_label, program_document, tiers_shown
from loyalty.tier_documents import tier_sample_block
from merchants.auth import embedded_admin_required
from merchants.middleware import frame_ancestors_for
from merchants.models import Shop
from merchants.views.pages import (
    admin_page,
    admin_partial,
    in_shop_timezone,
    request_shop,
    staff_actor,
)

PREVIEW_SALT = "loyalty.branding.preview"
PREVIEW_MAX_AGE = 3600
THEME_ASSETS = Path(settings.BASE_DIR) / "extensions" / "beam-theme" / "assets"
PREVIEW_ASSETS = (
    "beam-launcher.js",
    "beam-panel-tiers.js",
    "beam-panel-earn.js",
    "beam-panel-referrals.js",
    "beam-panel-views.js",
    "beam-panel.js",
    "beam-panel.css",
    "beam-i18n-fr.js",
    "beam-i18n-de.js",
    "beam-i18n-es.js",
)


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
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
    toast = None
    preview_branding = branding_resolve(program.branding)
    if request.method == "POST":
        form = BrandingForm(request.POST)
        if form.is_valid():
            try:
                program = services.branding_update(
                    shop=shop,
                    actor=staff_actor(request),
                    branding=_branding_form_data(form, program),
                )
            except InvalidBranding as exc:
                form_service_error(form, exc)
            else:
                toast = "Branding saved"
                preview_branding = branding_resolve(program.branding)
                form = BrandingForm(initial=preview_branding)
    else:
        form = BrandingForm(initial=preview_branding)
    status = 422 if form.errors else 200
    context = {"form": form, "program": program, **_preview_context(shop, preview_branding)}
    return admin_page(request, "loyalty/branding.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_POST
def branding_preview(request: HttpRequest) -> HttpResponse:
    """The preview for the form's current (unsaved) values; nothing is stored."""
    shop = request_shop(request)
    program = services.program_get_or_create(shop=shop)
    form = BrandingForm(request.POST)
    errors: list[str] = []
    draft = branding_resolve(program.branding)
    if form.is_valid():
        try:
            draft = branding_validate(_branding_form_data(form, program))
        except InvalidBranding as exc:
            errors.append(str(exc))
    else:
        for name, msgs in form.errors.items():
            # cast: an ErrorList yields its messages as str (its __getitem__); the stubs say
            # ValidationError | str
            text = " ".join(cast("list[str]", msgs))
            errors.append(f"{form[name].label}: {text}" if name in form.fields else text)
    context = {"preview_errors": errors, **_preview_context(shop, draft)}
    return admin_partial(request, "loyalty/branding.html#preview", context)


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


def preview_program_document(shop: Shop, draft: dict[str, Any]) -> dict[str, Any]:
    """The program document the store serves, with the unsaved draft branding."""
    return {**program_document(shop=shop), "branding": draft}


def preview_member_document(tiers: list[dict[str, Any]]) -> dict[str, Any]:
    """A sample member in the shape of the store's ``me`` (the preview has no shopper), in
    the shop's first tier while tiers are on (``tiers``: the program document's)."""
    welcome = LedgerEntry.Kind.WELCOME
    return {
        "member": {
            "balance": 1200,
            "pending_points": 0,
            "pending": [],
            "lifetime_earned": 1500,
            "lifetime_redeemed": 300,
            "done": ["signup"],
            "tier": tier_sample_block(tiers),
        },
        "history": {
            "entries": [
                {
                    "id": "1",
                    "amount": 100,
                    "kind": welcome,
                    "label": ledger_entry_label(
                        kind=welcome, note="", bucket=LedgerEntry.Bucket.AVAILABLE
                    ),
                    "created_at": "2026-01-01T10:00:00Z",
                }
            ],
            "next_page": None,
        },
        "redemptions": [],
    }


@require_http_methods(["GET", "POST"])
def branding_preview_api(request: HttpRequest, token: str, path: str) -> JsonResponse:
    """The storefront JSON API as the panel sees it: the store's own program document with
    the draft branding, and a sample member. Redeeming is refused: nothing here writes."""
    shop, draft = _preview_load(token)
    if path == "program":
        return JsonResponse(preview_program_document(shop, draft))
    if path == "me":
        return JsonResponse(preview_member_document(tiers_shown(shop=shop)))
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
