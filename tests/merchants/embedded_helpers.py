"""Signed requests and session tokens for the install/auth tests, minted like the platform."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from django.conf import settings
from django.utils import timezone

from merchants.models import Shop
from merchants.shopify.signatures import query_hmac_compute

SHOP = "acme.myshopify.com"
TOKEN_URL = "http://beam.test/devstore/{shop}/admin/oauth/access_token"
HTML = {"Accept": "text/html,application/xhtml+xml"}


def token_url(shop: str = SHOP) -> str:
    return TOKEN_URL.format(shop=shop)


def session_token(
    shop: str = SHOP,
    *,
    secret: str | None = None,
    algorithm: str = "HS256",
    lifetime: int = 60,
    now: float | None = None,
    **overrides: Any,
) -> str:
    """An App Bridge session token; ``overrides`` replace or (with ``None``) drop claims."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": "42",
        "exp": issued + lifetime,
        "nbf": issued,
        "iat": issued,
        "jti": f"jti-{issued}-{shop}",
        "sid": "session-1",
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    key = settings.SHOPIFY_API_SECRET if secret is None else secret
    return jwt.encode(claims, key, algorithm=algorithm)


def signed_query(
    params: dict[str, str], *, secret: str | None = None, timestamp: int | None = None
) -> str:
    """``params`` plus ``timestamp`` and the platform's query ``hmac``, url-encoded."""
    full = {**params, "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
    key = settings.SHOPIFY_API_SECRET if secret is None else secret
    full["hmac"] = query_hmac_compute(full, secret=key)
    return urlencode(full)


def token_response(
    access: str = "shpat_new", refresh: str = "shprt_new", scope: str | None = None
) -> dict[str, Any]:
    return {
        "access_token": access,
        "scope": settings.SHOPIFY_SCOPES if scope is None else scope,
        "expires_in": 3600,
        "refresh_token": refresh,
        "refresh_token_expires_in": 7776000,
    }


def installed_shop(domain: str = SHOP, **fields: Any) -> Shop:
    shop = Shop(
        domain=domain,
        name=fields.pop("name", "Acme"),
        installed_at=timezone.now() - timedelta(days=3),
        scopes=fields.pop("scopes", settings.SHOPIFY_SCOPES),
        access_token_expires_at=fields.pop(
            "access_token_expires_at", timezone.now() + timedelta(hours=1)
        ),
        **fields,
    )
    shop.access_token = "shpat_old"
    shop.refresh_token = "shprt_old"
    shop.save()
    return shop
