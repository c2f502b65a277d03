"""The platform's side of app authorization: the code grant, token exchange, expiring
offline tokens with rotating refresh tokens, and App Bridge session tokens."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devstore.errors import OAuthError
from devstore.models import DevAppToken, DevAuthCode, DevShop
from devstore.signing import query_hmac

ACCESS_TOKEN_TTL = 3600
REFRESH_TOKEN_TTL = 90 * 24 * 3600
AUTH_CODE_TTL = 600
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"


def session_token_issue(
    *, shop_domain: str, user_id: int = 1, ttl: int = 60, **overrides: Any
) -> str:
    """An App Bridge session token for ``shop_domain`` (HS256, app secret, aud = API key).
    ``overrides`` replace or add claims (e.g. ``exp=0`` or ``aud="other"`` in tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": str(user_id),
        "exp": now + ttl,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid5(uuid.NAMESPACE_URL, f"{shop_domain}/{user_id}").hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, settings.SHOPIFY_API_SECRET, algorithm="HS256")


def extension_token_issue(
    *, shop_domain: str, customer_id: int | None, ttl: int = 300, **overrides: Any
) -> str:
    """A checkout / customer-account UI extension session token as the platform mints it:
    HS256 with the app secret, ``dest`` the bare shop domain, ``aud`` the API key, no ``iss``,
    five minutes; ``sub`` the customer GID only for a logged-in buyer."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "dest": shop_domain,
        "aud": settings.SHOPIFY_API_KEY,
        "exp": now + ttl,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    if customer_id is not None:
        claims["sub"] = f"gid://shopify/Customer/{customer_id}"
    claims.update(overrides)
    return jwt.encode(claims, settings.SHOPIFY_API_SECRET, algorithm="HS256")


def admin_host_param(shop: DevShop) -> str:
    """The ``host`` query parameter: base64 (no padding) of the admin's host and path."""
    origin = settings.SHOPIFY_STORE_ORIGIN.format(shop=shop.domain)
    host = origin.split("://", 1)[-1] + "/admin"
    return base64.b64encode(host.encode()).decode().rstrip("=")


def signed_query(params: dict[str, str]) -> str:
    """``params`` plus ``hmac`` as the platform signs app-load and callback URLs."""
    signed = dict(params)
    signed["hmac"] = query_hmac(params, settings.SHOPIFY_API_SECRET)
    return urlencode(signed)


def app_load_url(shop: DevShop, *, path: str = "/", query: Mapping[str, str] | None = None) -> str:
    """The URL the store admin loads Beam at: a signed query with a fresh session token.

    Loading it is the managed install (Beam exchanges the ``id_token`` with the store for an
    offline token), so the admin frame and ``demo_setup`` both install through this one URL.
    ``path`` and ``query`` name an app page (checked by ``devstore.app_paths``): the admin
    frames the app URL's origin plus that path, the page's own parameters signed with the
    platform's, as the platform loads an app page the merchant reloaded.
    """
    params = {
        **(query or {}),
        "embedded": "1",
        "host": admin_host_param(shop),
        "id_token": session_token_issue(shop_domain=shop.domain),
        "shop": shop.domain,
        "timestamp": str(int(time.time())),
    }
    if path == "/":
        return f"{settings.SHOPIFY_APP_URL}/?{signed_query(params)}"
    app = urlsplit(settings.SHOPIFY_APP_URL)
    return f"{app.scheme}://{app.netloc}{path}?{signed_query(params)}"


def authorize_redirect(shop: DevShop, *, scope: str, redirect_uri: str, state: str) -> str:
    """Approve an install: issue a code and return the signed callback URL."""
    code = secrets.token_hex(16)
    DevAuthCode.objects.create(
        shop=shop,
        code=code,
        scopes=scope,
        expires_at=timezone.now() + timedelta(seconds=AUTH_CODE_TTL),
    )
    params = {
        "code": code,
        "host": admin_host_param(shop),
        "shop": shop.domain,
        "state": state,
        "timestamp": str(int(time.time())),
    }
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{signed_query(params)}"


def _token_issue(shop: DevShop, scopes: str, *, expiring: bool) -> dict[str, Any]:
    now = timezone.now()
    token = DevAppToken.objects.create(
        shop=shop,
        access_token="shpat_" + secrets.token_hex(16),
        expires_at=now + timedelta(seconds=ACCESS_TOKEN_TTL) if expiring else None,
        refresh_token="shprt_" + secrets.token_hex(16) if expiring else None,
        refresh_expires_at=now + timedelta(seconds=REFRESH_TOKEN_TTL) if expiring else None,
        scopes=scopes,
    )
    DevShop.objects.filter(pk=shop.pk).update(app_installed_at=now)
    shop.app_installed_at = now
    body: dict[str, Any] = {"access_token": token.access_token, "scope": scopes}
    if expiring:
        body.update(
            expires_in=ACCESS_TOKEN_TTL,
            refresh_token=token.refresh_token,
            refresh_token_expires_in=REFRESH_TOKEN_TTL,
        )
    return body


def _flag(value: Any) -> bool:
    return str(value).lower() in {"1", "true"}


def session_token_verify(token: str, shop: DevShop) -> dict[str, Any]:
    """Claims of a session token this devstore issued for ``shop``; raises on anything else."""
    claims = jwt.decode(
        token,
        settings.SHOPIFY_API_SECRET,
        algorithms=["HS256"],
        audience=settings.SHOPIFY_API_KEY,
        leeway=10,
        options={"require": ["exp", "nbf", "iat", "iss", "dest", "aud", "sub"]},
    )
    if claims.get("dest") != f"https://{shop.domain}":
        raise jwt.InvalidTokenError("dest does not match the shop")
    if claims.get("iss") != f"https://{shop.domain}/admin":
        raise jwt.InvalidTokenError("iss does not match the shop")
    return claims


def token_grant(shop: DevShop, body: dict[str, Any]) -> dict[str, Any]:
    """Answer ``POST /admin/oauth/access_token``; raises ``OAuthError`` with the status and
    JSON body the platform would answer."""
    if body.get("client_id") != settings.SHOPIFY_API_KEY or not secrets.compare_digest(
        str(body.get("client_secret", "")), settings.SHOPIFY_API_SECRET
    ):
        raise OAuthError(
            401,
            {"error": "invalid_client", "error_description": "Client credentials are invalid"},
        )
    grant_type = body.get("grant_type") or ("authorization_code" if "code" in body else "")
    expiring = _flag(body.get("expiring", "0"))
    with transaction.atomic():
        if grant_type == "authorization_code":
            return _grant_code(shop, str(body.get("code", "")), expiring)
        if grant_type == TOKEN_EXCHANGE:
            return _grant_token_exchange(shop, body, expiring)
        if grant_type == "refresh_token":
            return _grant_refresh(shop, str(body.get("refresh_token", "")))
    raise OAuthError(
        400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}
    )


def _grant_code(shop: DevShop, code: str, expiring: bool) -> dict[str, Any]:
    now = timezone.now()
    used = DevAuthCode.objects.filter(
        shop=shop, code=code, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not used:
        raise OAuthError(
            400,
            {
                "error": "invalid_request",
                "error_description": "The authorization code was not found or was already used",
            },
        )
    scopes = DevAuthCode.objects.values_list("scopes", flat=True).get(code=code)
    return _token_issue(shop, scopes, expiring=expiring)


def _grant_token_exchange(shop: DevShop, body: dict[str, Any], expiring: bool) -> dict[str, Any]:
    if body.get("subject_token_type", ID_TOKEN_TYPE) != ID_TOKEN_TYPE:
        raise OAuthError(400, {"error": "invalid_subject_token"})
    try:
        claims = session_token_verify(str(body.get("subject_token", "")), shop)
    except jwt.PyJWTError as exc:
        raise OAuthError(400, {"error": "invalid_subject_token"}) from exc
    if body.get("requested_token_type") == ONLINE_TOKEN_TYPE:
        return _online_token_issue(shop, str(claims["sub"]))
    return _token_issue(shop, settings.SHOPIFY_SCOPES, expiring=expiring)


def _online_token_issue(shop: DevShop, user_id: str) -> dict[str, Any]:
    """An online token names its staff member (``associated_user``). The devstore's staff:
    user 1 is the shop's owner, any other id a staff member of that number. The token is
    not usable against this devstore's Admin API (Beam never uses it)."""
    owner = user_id == "1"
    handle = shop.domain.split(".", 1)[0]
    return {
        "access_token": "shpua_" + secrets.token_hex(16),
        "scope": settings.SHOPIFY_SCOPES,
        "expires_in": 86399,
        "associated_user_scope": settings.SHOPIFY_SCOPES,
        "associated_user": {
            "id": int(user_id) if user_id.isdigit() else 0,
            "first_name": "Store" if owner else "Staff",
            "last_name": "Owner" if owner else user_id,
            "email": (shop.email or f"owner@{handle}.example")
            if owner
            else f"staff{user_id}@{handle}.example",
            "email_verified": True,
            "account_owner": owner,
            "locale": "en",
            "collaborator": False,
        },
    }


def _grant_refresh(shop: DevShop, refresh_token: str) -> dict[str, Any]:
    now = timezone.now()
    invalid = OAuthError(
        400,
        {"error": "invalid_request", "error_description": "The refresh token is invalid"},
    )
    token = DevAppToken.objects.filter(
        shop=shop, refresh_token=refresh_token, revoked_at__isnull=True
    ).first()
    if not refresh_token or token is None:
        raise invalid
    used = DevAppToken.objects.filter(
        pk=token.pk, refresh_used_at__isnull=True, refresh_expires_at__gt=now
    ).update(refresh_used_at=now)
    if not used:
        raise invalid
    return _token_issue(shop, token.scopes, expiring=True)


def access_token_lookup(shop: DevShop, access_token: str) -> DevAppToken | None:
    """The live token of ``shop`` with this value (not revoked, not expired), else None."""
    if not access_token:
        return None
    token = DevAppToken.objects.filter(
        shop=shop, access_token=access_token, revoked_at__isnull=True
    ).first()
    if token is None or (token.expires_at is not None and token.expires_at <= timezone.now()):
        return None
    return token
