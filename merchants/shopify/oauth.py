"""Calls to the shop's token endpoint: authorization code, token exchange and refresh.

Every grant asks for an expiring offline token (``expiring: "1"``), which the platform
requires of new public apps; each refresh returns a new refresh token too. The grants are
Beam's own: ShopifyAPI's ``Session.request_token`` does only the code grant (form-encoded,
no ``expiring``, no timeout) and has no token exchange or refresh. The permission URL and
the scope arithmetic are the library's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import shopify
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from merchants.errors import BeamError, ShopifyApiError
from merchants.models import OAuthStateUse
from merchants.shopify.library_session import app_session_class

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"


class TokenGrantRejected(BeamError):
    """The platform refused the grant (bad code, invalid session token, revoked refresh)."""

    code = "grant_rejected"
    http_status = 400


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    scope: str
    access_token_expires_at: datetime | None
    refresh_token: str
    refresh_token_expires_at: datetime | None
    associated_user: dict[str, Any] | None = None  # online tokens: the staff member


def store_origin(shop_domain: str) -> str:
    """Base URL of a (validated) shop's admin; the devstore's in local and test settings."""
    return settings.SHOPIFY_STORE_ORIGIN.format(shop=shop_domain)


def _expiry(now: datetime, seconds: Any) -> datetime | None:
    try:
        return now + timedelta(seconds=int(seconds)) if seconds is not None else None
    except (TypeError, ValueError):
        return None


def _token_request(shop_domain: str, payload: dict[str, str]) -> TokenGrant:
    body = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        **payload,
    }
    url = f"{store_origin(shop_domain)}/admin/oauth/access_token"
    try:
        response = requests.post(
            url,
            json=body,
            headers={"Accept": "application/json"},
            timeout=settings.SHOPIFY_HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ShopifyApiError(f"Token endpoint unreachable: {exc.__class__.__name__}") from exc
    if response.status_code in (400, 401, 403):
        try:
            reason = response.json().get("error", "") or response.text[:200]
        except ValueError:
            reason = response.text[:200]
        raise TokenGrantRejected(f"The platform rejected the grant: {reason}")
    if response.status_code >= 300:
        raise ShopifyApiError(f"Token endpoint answered HTTP {response.status_code}")
    try:
        data = response.json()
        access_token = data["access_token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ShopifyApiError("Token endpoint answered without an access token") from exc
    now = timezone.now()
    return TokenGrant(
        access_token=access_token,
        scope=data.get("scope", ""),
        access_token_expires_at=_expiry(now, data.get("expires_in")),
        refresh_token=data.get("refresh_token", ""),
        refresh_token_expires_at=_expiry(now, data.get("refresh_token_expires_in")),
        associated_user=user if isinstance(user := data.get("associated_user"), dict) else None,
    )


def token_from_code(*, shop_domain: str, code: str) -> TokenGrant:
    """Authorization-code grant (the non-embedded install path)."""
    return _token_request(shop_domain, {"code": code, "expiring": "1"})


def token_from_session_token(*, shop_domain: str, session_token: str) -> TokenGrant:
    """Token exchange: a verified App Bridge session token for an expiring offline token."""
    return _token_request(
        shop_domain,
        {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TOKEN_TYPE,
            "expiring": "1",
        },
    )


def staff_from_session_token(*, shop_domain: str, session_token: str) -> dict[str, Any]:
    """The staff member a session token speaks for (``associated_user``: id, names, email,
    account owner), through an online token exchange; the online token is not used."""
    grant = _token_request(
        shop_domain,
        {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": ONLINE_TOKEN_TYPE,
        },
    )
    if grant.associated_user is None:
        raise ShopifyApiError("The online token came without its staff member")
    return grant.associated_user


def token_refresh(*, shop_domain: str, refresh_token: str) -> TokenGrant:
    """Refresh grant; the answer carries a new refresh token that replaces the old one."""
    return _token_request(
        shop_domain, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def scopes_required() -> list[str]:
    """The access scopes Beam asks for (``SHOPIFY_SCOPES``)."""
    return [s.strip() for s in settings.SHOPIFY_SCOPES.split(",") if s.strip()]


def scopes_missing(granted: Iterable[str], required: Iterable[str] | None = None) -> list[str]:
    """Required scopes the grant does not cover, in the order they are required. Coverage is
    the library's (``shopify.ApiAccess``): the platform reports ``write_x`` alone when both
    ``read_x`` and ``write_x`` were granted, so a write scope covers its read scope. A scope
    the library cannot parse (e.g. ``customer_read_orders``) covers only itself, rather than
    failing the page."""
    have = {scope.strip() for scope in granted if scope.strip()}
    access = shopify.ApiAccess([scope for scope in have if shopify.ApiAccess.SCOPE_RE.match(scope)])

    def covered(scope: str) -> bool:
        if scope in have:
            return True
        return bool(shopify.ApiAccess.SCOPE_RE.match(scope)) and access.covers(
            shopify.ApiAccess([scope])
        )

    wanted = scopes_required() if required is None else list(required)
    return [scope for scope in wanted if not covered(scope)]


def oauth_state_claim(*, nonce: str, max_age: int) -> bool:
    """Claim an install's state nonce: True once, False for every later callback carrying it.
    The signed cookie alone is replayable for ``max_age`` (a copied callback URL and cookie
    would send the code to the token endpoint again); the claim is a row with a unique nonce,
    so it holds with the cache down or emptied. Claims older than ``max_age`` are pruned: their
    cookies have expired, so no callback can carry them any more."""
    OAuthStateUse.objects.filter(used_at__lt=timezone.now() - timedelta(seconds=max_age)).delete()
    try:
        with transaction.atomic():
            OAuthStateUse.objects.create(nonce=nonce)
    except IntegrityError:
        return False
    return True


def authorize_url(*, shop_domain: str, state: str) -> str:
    """Where the authorization-code grant starts, for a validated shop domain: the
    library's permission URL (``Session.create_permission_url``), on the devstore's origin
    in local and test settings."""
    session_class = app_session_class(api_key=settings.SHOPIFY_API_KEY)
    session = session_class(shop_domain, settings.SHOPIFY_API_VERSION)
    url = session.create_permission_url(
        scopes_required(), f"{settings.SHOPIFY_APP_URL}/auth/callback", state=state
    )
    parts = urlsplit(url)
    return f"{store_origin(shop_domain)}{parts.path}?{parts.query}"


def embedded_app_url(*, shop_domain: str) -> str:
    """Beam inside the shop's admin: where a finished install sends the merchant."""
    if settings.DEVSTORE_ENABLED:
        return f"{store_origin(shop_domain)}/admin/apps/beam"
    store_name = shop_domain.removesuffix(".myshopify.com")
    return f"https://admin.shopify.com/store/{store_name}/apps/{settings.SHOPIFY_API_KEY}"
