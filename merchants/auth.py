"""Authentication of the embedded admin: every request carries an App Bridge session token.

- DRF APIs: ``authentication_classes = [SessionTokenAuthentication]``.
- Django/htmx views: ``@embedded_admin_required``.

Both verify the token with :func:`session_token_verify`, load the installed shop from the
token's ``dest`` and set ``request.shop`` and ``request.embedded_shop`` (the CSP middleware
frames the response only inside that shop's admin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from merchants.domains import shop_domain_normalise
from merchants.errors import BeamError, ShopNotInstalled
from merchants.middleware import frame_ancestors_for
from merchants.models import Shop
from merchants.shopify.session_tokens import (
    SessionTokenClaims,
    SessionTokenInvalid,
    session_token_verify,
)

ID_TOKEN_PARAM = "id_token"
# Query parameters that must not survive a bounce: the stale token and the stale signature
# (the fresh id_token authenticates the reload on its own).
_BOUNCE_DROPPED_PARAMS = {ID_TOKEN_PARAM, "hmac", "signature", "timestamp"}


@dataclass(frozen=True)
class EmbeddedUser:
    """``request.user`` of a DRF request authenticated by a session token: the staff member
    (``sub``) acting in ``shop``."""

    shop: Shop
    claims: SessionTokenClaims
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def user_id(self) -> str:
        return self.claims.sub


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def embedded_shop_for(claims: SessionTokenClaims) -> Shop:
    """The installed, active shop a verified token speaks for, else :class:`ShopNotInstalled`."""
    shop = Shop.objects.active().filter(domain=claims.shop_domain).first()
    if shop is None or not shop.is_active:
        raise ShopNotInstalled(f"{claims.shop_domain} has not installed Beam.")
    return shop


def embedded_shop_authenticate(
    token: str | None, **verify_options: Any
) -> tuple[Shop, SessionTokenClaims]:
    """Verify a session token and load its shop. Raises :class:`SessionTokenInvalid` (401)
    or :class:`ShopNotInstalled` (403)."""
    claims = session_token_verify(token, **verify_options)
    return embedded_shop_for(claims), claims


def request_shop_set(request: HttpRequest, shop: Shop, claims: SessionTokenClaims) -> None:
    request.shop = shop  # type: ignore[attr-defined]
    request.embedded_shop = shop  # type: ignore[attr-defined]
    request.session_token_claims = claims  # type: ignore[attr-defined]


class SessionTokenAuthentication(BaseAuthentication):
    """DRF authentication by ``Authorization: Bearer <session token>``. A missing or invalid
    token is a 401 with ``X-Shopify-Retry-Invalid-Session-Request: 1`` (raised, never an
    anonymous pass-through); a shop that is not installed is a 403."""

    verify_options: dict[str, Any] = {}

    def authenticate(self, request: Request) -> tuple[EmbeddedUser, SessionTokenClaims]:
        shop, claims = embedded_shop_authenticate(
            bearer_token(request._request), **self.verify_options
        )
        request_shop_set(request._request, shop, claims)
        return EmbeddedUser(shop=shop, claims=claims), claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="beam"'


def is_document_request(request: HttpRequest) -> bool:
    """A top-level page load (not htmx, not fetch): it can be bounced or redirected."""
    if request.method not in ("GET", "HEAD") or request.headers.get("HX-Request"):
        return False
    return "text/html" in request.headers.get("Accept", "")


def bounce_reload_url(request: HttpRequest) -> str:
    """The current URL without the stale token and signature (and without a ``shop`` that
    is not a valid domain); the bounce page adds a fresh ``id_token`` to it."""
    kept = [
        (key, value)
        for key, values in request.GET.lists()
        if key not in _BOUNCE_DROPPED_PARAMS
        for value in values
        if key != "shop" or shop_domain_normalise(value) is not None
    ]
    return request.path + (f"?{urlencode(kept)}" if kept else "")


def bounce_page(request: HttpRequest, reason: str) -> HttpResponse:
    """The page that loads App Bridge only and reloads itself with a fresh ``id_token``.
    Framing is allowed for the ``shop`` query parameter only once it passed validation."""
    shop_domain = shop_domain_normalise(request.GET.get("shop"))
    context = {"reload_url": bounce_reload_url(request), "reason": reason}
    response = TemplateResponse(request, "merchants/bounce.html", context)
    response["Content-Security-Policy"] = frame_ancestors_for(shop_domain)
    response["Cache-Control"] = "no-store"
    return response


def api_error_response(error: BeamError) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": error.code, "message": str(error)}}, status=error.http_status
    )
    for name, value in getattr(error, "response_headers", {}).items():
        response[name] = value
    return response


def _install_redirect(request: HttpRequest, claims: SessionTokenClaims, token: str) -> HttpResponse:
    """Send a document request of a shop that is not (or no longer) installed to the app URL,
    which installs through token exchange."""
    query = {"shop": claims.shop_domain, "embedded": "1", ID_TOKEN_PARAM: token}
    if request.GET.get("host"):
        query["host"] = request.GET["host"]
    return HttpResponseRedirect(f"{reverse('app_home')}?{urlencode(query)}")


def embedded_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Protect a Django/htmx view of the embedded admin.

    The token comes from ``Authorization: Bearer`` (htmx requests, added by
    ``static/beam/session.js``) or from ``?id_token=`` on document loads. On failure a
    document request gets the bounce page and anything else a 401 with the retry header;
    a shop that is not installed is sent to install (document) or refused with 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        document = is_document_request(request)
        token = bearer_token(request)
        if token is None and document:
            token = request.GET.get(ID_TOKEN_PARAM) or None
        response: HttpResponse
        try:
            claims = session_token_verify(token)
            shop = embedded_shop_for(claims)
        except SessionTokenInvalid as exc:
            response = bounce_page(request, str(exc)) if document else api_error_response(exc)
        except ShopNotInstalled as exc:
            if document:
                response = _install_redirect(request, claims, token or "")
            else:
                response = api_error_response(exc)
        else:
            request_shop_set(request, shop, claims)
            response = view(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "Authorization"])
        return response

    # Unsafe methods authenticate only by the Authorization header, which a cross-site form
    # cannot send: no CSRF cookie needed (third-party iframes often drop it anyway).
    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapper
