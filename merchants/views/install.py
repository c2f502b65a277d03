"""Install: the authorization-code grant (``/auth/install`` → consent → ``/auth/callback``)
and the error pages of a failed install."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET

from merchants.domains import shop_domain_normalise
from merchants.errors import BeamError, ShopifyApiError
from merchants.middleware import frame_ancestors_for
from merchants.services import shop_install_by_code
from merchants.shopify import oauth
from merchants.shopify.signatures import query_hmac_valid, timestamp_fresh

logger = logging.getLogger(__name__)

OAUTH_STATE_COOKIE = "beam_oauth_state"
OAUTH_STATE_SALT = "merchants.oauth.state"
OAUTH_STATE_MAX_AGE = 600
OAUTH_COOKIE_PATH = "/auth/"


def error_page(
    request: HttpRequest,
    *,
    title: str,
    reason: str,
    status: int,
    frame_shop: str | None = None,
    retry_url: str = "",
) -> HttpResponse:
    """An HTML error with a reason. Framed only in ``frame_shop``'s admin (a domain that
    passed validation, or came from a verified token)."""
    response = render(
        request,
        "merchants/error.html",
        {"title": title, "reason": reason, "retry_url": retry_url},
        status=status,
    )
    response["Content-Security-Policy"] = frame_ancestors_for(frame_shop)
    response["Cache-Control"] = "no-store"
    return response


def grant_error_page(request: HttpRequest, exc: BeamError, shop_domain: str) -> HttpResponse:
    is_platform_down = isinstance(exc, ShopifyApiError)
    logger.warning("install failed for %s: %s", shop_domain, exc)
    return error_page(
        request,
        title="Beam could not be installed",
        reason=str(exc),
        status=exc.http_status if is_platform_down else 400,
        frame_shop=shop_domain,
    )


def install_url(shop_domain: str) -> str:
    return f"{reverse('auth_install')}?{urlencode({'shop': shop_domain})}"


@require_GET
def auth_install(request: HttpRequest) -> HttpResponse:
    """Start the authorization-code grant: a nonce in a signed, short-lived cookie and a
    redirect to the shop's consent screen."""
    shop_domain = shop_domain_normalise(request.GET.get("shop"))
    if shop_domain is None:
        return error_page(
            request,
            title="Invalid shop",
            reason="Enter your store's myshopify.com domain, e.g. my-store.myshopify.com.",
            status=400,
        )
    nonce = secrets.token_urlsafe(32)
    response = HttpResponseRedirect(oauth.authorize_url(shop_domain=shop_domain, state=nonce))
    response.set_signed_cookie(
        OAUTH_STATE_COOKIE,
        f"{shop_domain}|{nonce}",
        salt=OAUTH_STATE_SALT,
        max_age=OAUTH_STATE_MAX_AGE,
        path=OAUTH_COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=not settings.DEBUG,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def auth_callback(request: HttpRequest) -> HttpResponse:
    """Finish the authorization-code grant. Shop, HMAC (with timestamp window) and nonce are
    all checked before the code is exchanged; any rejection writes nothing."""
    params = request.GET
    shop_domain = shop_domain_normalise(params.get("shop"))
    if shop_domain is None:
        return error_page(
            request,
            title="Invalid shop",
            reason="The shop is not a myshopify.com domain.",
            status=400,
        )
    if not timestamp_fresh(params.get("timestamp"), settings.SHOPIFY_HMAC_MAX_AGE):
        return error_page(
            request,
            title="Link expired",
            reason="The callback's timestamp is missing or too old.",
            status=400,
            retry_url=install_url(shop_domain),
        )
    if not query_hmac_valid(
        list(params.lists()),
        secret=settings.SHOPIFY_API_SECRET,
        max_age=settings.SHOPIFY_HMAC_MAX_AGE,
    ):
        return error_page(
            request,
            title="Invalid signature",
            reason="The callback's HMAC signature does not match.",
            status=400,
        )
    cookie = request.get_signed_cookie(
        OAUTH_STATE_COOKIE, default=None, salt=OAUTH_STATE_SALT, max_age=OAUTH_STATE_MAX_AGE
    )
    cookie_shop, _, cookie_nonce = (cookie or "").partition("|")
    state = params.get("state", "")
    if not cookie_nonce or not state or not constant_time_compare(state, cookie_nonce):
        return error_page(
            request,
            title="Install session expired",
            reason="The install's state does not match this browser's (missing, expired or "
            "forged). Start the install again.",
            status=403,
            retry_url=install_url(shop_domain),
        )
    if cookie_shop != shop_domain:
        return error_page(
            request,
            title="Shop mismatch",
            reason="The install was started for another shop.",
            status=403,
        )
    code = params.get("code", "")
    if not code:
        return error_page(
            request,
            title="Missing code",
            reason="The callback carries no authorization code.",
            status=400,
        )
    if not oauth.oauth_state_claim(nonce=cookie_nonce, max_age=OAUTH_STATE_MAX_AGE):
        return error_page(
            request,
            title="Install link already used",
            reason="This install's callback was already used. Start the install again.",
            status=403,
            retry_url=install_url(shop_domain),
        )

    try:
        shop = shop_install_by_code(domain=shop_domain, code=code)
    except BeamError as exc:
        response = grant_error_page(request, exc, shop_domain)
    else:
        missing = oauth.scopes_missing(shop.granted_scopes)
        if missing:
            response = error_page(
                request,
                title="Beam needs more permissions",
                reason="The store granted fewer permissions than Beam needs; missing: "
                + ", ".join(missing)
                + ".",
                status=403,
                retry_url=install_url(shop_domain),
            )
        else:
            response = HttpResponseRedirect(oauth.embedded_app_url(shop_domain=shop.domain))
    # The nonce is single use, whatever the outcome of the exchange.
    response.delete_cookie(OAUTH_STATE_COOKIE, path=OAUTH_COOKIE_PATH, samesite="Lax")
    return response
