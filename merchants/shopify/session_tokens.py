"""Verification of the platform's session tokens (App Bridge ``id_token``; later the checkout
extension's token): HS256 JWTs signed with the app secret.

One verifier for both, so the rules live in one place: HS256 only, the app secret, ``aud``
is our API key, ``exp``/``nbf`` with a small clock-skew leeway, and the shop comes from
``dest`` only after its host passed the strict shop-domain check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings

from merchants.domains import shop_domain_normalise
from merchants.errors import BeamError

ALGORITHM = "HS256"
# Session tokens live one minute (checkout tokens five); anything far longer is refused.
MAX_TOKEN_CHARS = 8192
RETRY_INVALID_SESSION_HEADER = "X-Shopify-Retry-Invalid-Session-Request"


class SessionTokenInvalid(BeamError):
    """The session token is missing, malformed, expired or not signed for this app."""

    code = "invalid_session_token"
    http_status = 401
    # The platform's front end retries a request once with a fresh token on this header.
    response_headers = {
        RETRY_INVALID_SESSION_HEADER: "1",
        "WWW-Authenticate": 'Bearer error="invalid_token"',
    }


@dataclass(frozen=True)
class SessionTokenClaims:
    """The verified claims. ``sub`` is the staff user id (admin) or a customer GID (checkout),
    empty when absent."""

    shop_domain: str
    sub: str
    sid: str
    exp: int
    dest: str
    iss: str
    jti: str
    aud: str

    @property
    def user_id(self) -> str:
        return self.sub


def _host_of(value: str) -> str | None:
    """The host of ``https://host[/path]`` or of a bare ``host``; ``None`` when the value
    carries userinfo, a port or anything else that makes the host ambiguous."""
    if "://" not in value:
        value = f"https://{value}"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or port is not None or parts.username is not None:
        return None
    host = parts.hostname
    if not host or parts.netloc.lower() != host:
        return None
    return host


def session_token_verify(
    token: str | None,
    *,
    leeway: int = 10,
    audience: str | None = None,
    secret: str | None = None,
    require_iss: bool = True,
) -> SessionTokenClaims:
    """Verify ``token`` and return its claims, or raise :class:`SessionTokenInvalid` with the
    reason. ``audience``/``secret`` default to the app's API key/secret; checkout-extension
    tokens carry no ``iss``, so they are verified with ``require_iss=False`` (an ``iss`` that
    is present must still match ``dest``)."""
    if not token or not isinstance(token, str):
        raise SessionTokenInvalid("No session token was sent.")
    if len(token) > MAX_TOKEN_CHARS:
        raise SessionTokenInvalid("The session token is too long.")
    key = secret if secret is not None else settings.SHOPIFY_API_SECRET
    expected_audience = audience if audience is not None else settings.SHOPIFY_API_KEY
    if not key or not expected_audience:
        raise SessionTokenInvalid("The app has no API key/secret configured.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise SessionTokenInvalid("The session token is not a well-formed JWT.") from exc
    if header.get("alg") != ALGORITHM:
        raise SessionTokenInvalid(f"The session token algorithm must be {ALGORITHM}.")
    required = ["exp", "aud", "dest"] + (["iss"] if require_iss else [])
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=expected_audience,
            leeway=leeway,
            options={"require": required, "verify_iat": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise SessionTokenInvalid("The session token has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise SessionTokenInvalid("The session token is not valid yet (nbf).") from exc
    except jwt.InvalidAudienceError as exc:
        raise SessionTokenInvalid("The session token was issued for another app.") from exc
    except jwt.InvalidSignatureError as exc:
        raise SessionTokenInvalid("The session token signature does not match.") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise SessionTokenInvalid(f"The session token lacks the {exc.claim!r} claim.") from exc
    except jwt.PyJWTError as exc:
        raise SessionTokenInvalid(f"The session token is invalid: {exc}.") from exc

    dest = claims.get("dest")
    iss = claims.get("iss")
    if not isinstance(dest, str) or (iss is not None and not isinstance(iss, str)):
        raise SessionTokenInvalid("The session token's dest/iss claims are not strings.")
    dest_host = _host_of(dest)
    shop_domain = shop_domain_normalise(dest_host)
    if shop_domain is None:
        raise SessionTokenInvalid("The session token's dest is not a valid shop domain.")
    if iss is not None and _host_of(iss) != dest_host:
        raise SessionTokenInvalid("The session token's iss and dest hosts differ.")
    aud = claims.get("aud")
    return SessionTokenClaims(
        shop_domain=shop_domain,
        sub=str(claims.get("sub") or ""),
        sid=str(claims.get("sid") or ""),
        exp=int(claims["exp"]),
        dest=dest,
        iss=iss or "",
        jti=str(claims.get("jti") or ""),
        aud=aud if isinstance(aud, str) else expected_audience,
    )
