"""The embedded admin's entry: the app URL the store admin loads (managed install and token
exchange), the admin home, the session API, the liveness check and the site's favicon."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils import timezone
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
from merchants.errors import BeamError
from merchants.models import Shop
from merchants.services import shop_install_by_token_exchange, shop_needs_token_exchange
from merchants.shopify import oauth
from merchants.shopify.session_tokens import SessionTokenInvalid, session_token_verify
from merchants.shopify.signatures import query_hmac_valid, timestamp_fresh
from merchants.staff import staff_member_learn
from merchants.views.install import error_page, grant_error_page, install_url
from merchants.views.pages import admin_page, shop_zone

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the platform's load balancer: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


FAVICON = "beam/favicon.ico"


@require_safe
def favicon(request: HttpRequest) -> FileResponse:
    """``/favicon.ico``: browsers ask the site root for it whatever a page links, so the
    static icon answers here too (pages link ``beam/favicon.svg``)."""
    found = finders.find(FAVICON)
    if not isinstance(found, str):
        raise Http404("No favicon.")
    response = FileResponse(open(found, "rb"), content_type="image/x-icon")  # noqa: SIM115
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _admin_home_response(
    request: HttpRequest, shop: Shop, *, reconnected: bool = False
) -> HttpResponse:
    granted = sorted(shop.granted_scopes)
    missing = oauth.scopes_missing(granted)
    context = {
        "shop": shop,
        "granted_scopes": granted,
        "missing_scopes": missing,
        "reinstall_url": settings.SHOPIFY_APP_URL + install_url(shop.domain),
        "reconnected": reconnected,
    }
    if missing:
        return render(request, "merchants/scopes_missing.html", context, status=403)
    with timezone.override(shop_zone(shop)):
        return admin_page(request, "merchants/admin_home.html", context)


@require_safe
def app_home(request: HttpRequest) -> HttpResponse:
    """The App URL. Without platform parameters: the public home. With them: verify the
    query HMAC and the ``id_token``, install through token exchange when the shop is not
    installed yet (or when its token's refresh was refused: reconnect, and say so), then
    show the embedded admin home."""
    params = request.GET
    if not any(key in params for key in ("shop", "hmac", ID_TOKEN_PARAM)):
        return render(request, "merchants/home.html")

    raw_shop = params.get("shop")
    shop_domain = shop_domain_normalise(raw_shop)
    if raw_shop is not None and shop_domain is None:
        return error_page(
            request,
            title="Invalid shop",
            reason="The shop is not a myshopify.com domain.",
            status=400,
        )
    if "hmac" in params:
        if not timestamp_fresh(params.get("timestamp"), settings.SHOPIFY_HMAC_MAX_AGE):
            return error_page(
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
            return error_page(
                request,
                title="Invalid signature",
                reason="The request's HMAC signature does not match.",
                status=400,
            )

    id_token = params.get(ID_TOKEN_PARAM)
    if not id_token:
        if "hmac" in params and shop_domain and not _shop_is_active(shop_domain):
            # A signed, non-embedded load of a shop without Beam: the authorization-code grant.
            return HttpResponseRedirect(install_url(shop_domain))
        return _unauthenticated(request, SessionTokenInvalid("No session token was sent."))
    try:
        claims = session_token_verify(id_token)
    except SessionTokenInvalid as exc:
        return _unauthenticated(request, exc)
    if shop_domain is not None and claims.shop_domain != shop_domain:
        return error_page(
            request,
            title="Shop mismatch",
            reason="The session token belongs to another shop than the request.",
            status=400,
        )

    shop = Shop.objects.filter(domain=claims.shop_domain).first()
    reconnected = shop is not None and shop_needs_token_exchange(shop)
    if shop is None or not shop.is_active or reconnected:
        try:
            shop = shop_install_by_token_exchange(domain=claims.shop_domain, session_token=id_token)
        except BeamError as exc:
            return grant_error_page(request, exc, claims.shop_domain)
        if reconnected:
            logger.info("shop reconnected by token exchange: %s", shop.domain)
    request_shop_set(request, shop, claims)
    staff_member_learn(shop=shop, user_id=claims.sub, session_token=id_token)
    return _admin_home_response(request, shop, reconnected=reconnected)


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
