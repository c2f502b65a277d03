"""Install (managed install + token exchange, and the authorization-code grant) and the
embedded admin's home page. Business rules live in ``merchants.services``."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_safe
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from merchants.auth import (
    ID_TOKEN_PARAM,
    EmbeddedUser,
    SessionTokenAuthentication,
    api_error_response,
    bounce_page,
    embedded_admin_required,
    is_document_request,
    request_shop_set,
)
from merchants.domains import shop_domain_normalise
from merchants.errors import BeamError, ShopifyApiError
from merchants.middleware import frame_ancestors_for
from merchants.models import Shop
from merchants.services import shop_install_by_code, shop_install_by_token_exchange
from merchants.shopify import oauth
from merchants.shopify.session_tokens import SessionTokenInvalid, session_token_verify
from merchants.shopify.signatures import query_hmac_valid, timestamp_fresh

logger = logging.getLogger(__name__)

OAUTH_STATE_COOKIE = "beam_oauth_state"
OAUTH_STATE_SALT = "merchants.oauth.state"
OAUTH_STATE_MAX_AGE = 600
OAUTH_COOKIE_PATH = "/auth/"


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the platform's load balancer: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def _error_page(
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


def _grant_error_page(request: HttpRequest, exc: BeamError, shop_domain: str) -> HttpResponse:
    is_platform_down = isinstance(exc, ShopifyApiError)
    logger.warning("install failed for %s: %s", shop_domain, exc)
    return _error_page(
        request,
        title="Beam could not be installed",
        reason=str(exc),
        status=exc.http_status if is_platform_down else 400,
        frame_shop=shop_domain,
    )


def _install_url(shop_domain: str) -> str:
    return f"{reverse('auth_install')}?{urlencode({'shop': shop_domain})}"


def _admin_home_response(request: HttpRequest, shop: Shop) -> HttpResponse:
    granted = sorted(shop.granted_scopes)
    missing = oauth.scopes_missing(granted)
    context = {
        "shop": shop,
        "granted_scopes": granted,
        "missing_scopes": missing,
        "reinstall_url": settings.SHOPIFY_APP_URL + _install_url(shop.domain),
    }
    if missing:
        return render(request, "merchants/scopes_missing.html", context, status=403)
    response = render(request, "merchants/admin_home.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def app_home(request: HttpRequest) -> HttpResponse:
    """The App URL. Without platform parameters: the public home. With them: verify the
    query HMAC and the ``id_token``, install through token exchange when the shop is not
    installed yet, then show the embedded admin home."""
    params = request.GET
    if not any(key in params for key in ("shop", "hmac", ID_TOKEN_PARAM)):
        return render(request, "merchants/home.html")

    raw_shop = params.get("shop")
    shop_domain = shop_domain_normalise(raw_shop)
    if raw_shop is not None and shop_domain is None:
        return _error_page(
            request,
            title="Invalid shop",
            reason="The shop is not a myshopify.com domain.",
            status=400,
        )
    if "hmac" in params:
        if not timestamp_fresh(params.get("timestamp"), settings.SHOPIFY_HMAC_MAX_AGE):
            return _error_page(
                request,
                title="Link expired",
                reason="The request's timestamp is missing or too old. Open Beam again "
                "from your store admin.",
                status=400,
            )
        if not query_hmac_valid(
            list(params.lists()),
            secret=settings.SHOPIFY_API_SECRET,
            max_age=settings.SHOPIFY_HMAC_MAX_AGE,
        ):
            return _error_page(
                request,
                title="Invalid signature",
                reason="The request's HMAC signature does not match.",
                status=400,
            )

    id_token = params.get(ID_TOKEN_PARAM)
    if not id_token:
        if "hmac" in params and shop_domain and not _shop_is_active(shop_domain):
            # A signed, non-embedded load of a shop without Beam: the authorization-code grant.
            return HttpResponseRedirect(_install_url(shop_domain))
        return _unauthenticated(request, SessionTokenInvalid("No session token was sent."))
    try:
        claims = session_token_verify(id_token)
    except SessionTokenInvalid as exc:
        return _unauthenticated(request, exc)
    if shop_domain is not None and claims.shop_domain != shop_domain:
        return _error_page(
            request,
            title="Shop mismatch",
            reason="The session token belongs to another shop than the request.",
            status=400,
        )

    shop = Shop.objects.filter(domain=claims.shop_domain).first()
    if shop is None or not shop.is_active:
        try:
            shop = shop_install_by_token_exchange(domain=claims.shop_domain, session_token=id_token)
        except BeamError as exc:
            return _grant_error_page(request, exc, claims.shop_domain)
    request_shop_set(request, shop, claims)
    return _admin_home_response(request, shop)


def _shop_is_active(shop_domain: str) -> bool:
    shop = Shop.objects.filter(domain=shop_domain).first()
    return shop is not None and shop.is_active


def _unauthenticated(request: HttpRequest, exc: SessionTokenInvalid) -> HttpResponse:
    if is_document_request(request):
        return bounce_page(request, str(exc))
    return api_error_response(exc)


@require_GET
@embedded_admin_required
def admin_home(request: HttpRequest) -> HttpResponse:
    """The embedded admin's home (links and htmx navigation land here)."""
    return _admin_home_response(request, request.shop)  # type: ignore[attr-defined]


@require_GET
def auth_install(request: HttpRequest) -> HttpResponse:
    """Start the authorization-code grant: a nonce in a signed, short-lived cookie and a
    redirect to the shop's consent screen."""
    shop_domain = shop_domain_normalise(request.GET.get("shop"))
    if shop_domain is None:
        return _error_page(
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
        return _error_page(
            request,
            title="Invalid shop",
            reason="The shop is not a myshopify.com domain.",
            status=400,
        )
    if not timestamp_fresh(params.get("timestamp"), settings.SHOPIFY_HMAC_MAX_AGE):
        return _error_page(
            request,
            title="Link expired",
            reason="The callback's timestamp is missing or too old.",
            status=400,
            retry_url=_install_url(shop_domain),
        )
    if not query_hmac_valid(
        list(params.lists()),
        secret=settings.SHOPIFY_API_SECRET,
        max_age=settings.SHOPIFY_HMAC_MAX_AGE,
    ):
        return _error_page(
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
        return _error_page(
            request,
            title="Install session expired",
            reason="The install's state does not match this browser's (missing, expired or "
            "forged). Start the install again.",
            status=403,
            retry_url=_install_url(shop_domain),
        )
    if cookie_shop != shop_domain:
        return _error_page(
            request,
            title="Shop mismatch",
            reason="The install was started for another shop.",
            status=403,
        )
    code = params.get("code", "")
    if not code:
        return _error_page(
            request,
            title="Missing code",
            reason="The callback carries no authorization code.",
            status=400,
        )

    try:
        shop = shop_install_by_code(domain=shop_domain, code=code)
    except BeamError as exc:
        response = _grant_error_page(request, exc, shop_domain)
    else:
        missing = oauth.scopes_missing(shop.granted_scopes)
        if missing:
            response = _error_page(
                request,
                title="Beam needs more permissions",
                reason="The store granted fewer permissions than Beam needs; missing: "
                + ", ".join(missing)
                + ".",
                status=403,
                retry_url=_install_url(shop_domain),
            )
        else:
            response = HttpResponseRedirect(oauth.embedded_app_url(shop_domain=shop.domain))
    # The nonce is single use, whatever the outcome of the exchange.
    response.delete_cookie(OAUTH_STATE_COOKIE, path=OAUTH_COOKIE_PATH, samesite="Lax")
    return response


class ShopSessionApi(APIView):
    """``GET /admin/api/session``: who the session token speaks for (shop and staff user)."""

    authentication_classes = [SessionTokenAuthentication]

    class OutputSerializer(serializers.Serializer):
        shop = serializers.CharField(source="shop.domain")
        name = serializers.CharField(source="shop.name")
        user_id = serializers.CharField()
        scopes = serializers.SerializerMethodField()

        def get_scopes(self, obj: EmbeddedUser) -> list[str]:
            return sorted(obj.shop.granted_scopes)

    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)
