"""Verification of the platform's session tokens: the embedded admin's (App Bridge
``id_token``) and the checkout / customer-account extensions'. Both are HS256 JWTs signed
with the app secret.

Admin tokens are decoded by the platform's library,
``shopify.session_token.decode_from_header``: HS256 only, ``aud`` is our API key,
``exp``/``nbf``/``iat`` with its 10 s clock-skew leeway, ``iss``, ``dest``, ``sub``, ``jti``
and ``sid`` required, ``iss`` a shop's admin on the same origin as ``dest``. Beam adds that
``exp`` must be present (the library checks it only when it is there). Either way the shop
comes from ``dest`` only after its host passed Beam's shop-domain check. The library's issuer
check refuses a one-character shop name, which the platform's documented pattern (and so
Beam's domain check) allows: such a shop's admin tokens are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from shopify import session_token as library_session_token

from merchants.domains import shop_domain_normalise
from merchants.errors import BeamError

ALGORITHM = library_session_token.ALGORITHM
# App Bridge often sends a future ``nbf``: the platform allows 10 s of clock skew.
LEEWAY_SECONDS = library_session_token.LEEWAY_SECONDS
# Session tokens live one minute (checkout tokens five); anything far longer is refused.
MAX_TOKEN_CHARS = 8192
RETRY_INVALID_SESSION_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
# Extension tokens carry neither ``iss`` nor ``sid``, which the library's decoder requires;
# they are decoded by ``_extension_token_decode`` with the same algorithm, leeway and audience.
EXTENSION_REQUIRED_CLAIMS = ["exp", "aud", "dest"]
_HOSTS_DIFFER = "The session token's iss and dest hosts differ."


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


def _admin_token_decode(token: str, *, audience: str, key: str) -> dict[str, Any]:
    header = f"{library_session_token.PREFIX}{token}"
    return library_session_token.decode_from_header(header, audience, key)


def _extension_token_decode(token: str, *, audience: str, key: str) -> dict[str, Any]:
    return jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=audience,
        leeway=LEEWAY_SECONDS,
        options={"require": EXTENSION_REQUIRED_CLAIMS},
    )


# The reason given for each decoding failure, most specific first (``InvalidSignatureError``
# is a ``DecodeError``).
_DECODE_REASONS: list[tuple[type[Exception], str]] = [
    (library_session_token.MismatchedHostsError, _HOSTS_DIFFER),
    (
        library_session_token.InvalidIssuerError,
        "The session token's iss, and so its dest, is not a valid shop domain.",
    ),
    (jwt.ExpiredSignatureError, "The session token has expired."),
    (jwt.ImmatureSignatureError, "The session token is not valid yet (nbf/iat)."),
    (jwt.InvalidAudienceError, "The session token was issued for another app."),
    (jwt.InvalidSignatureError, "The session token signature does not match."),
    (jwt.InvalidAlgorithmError, f"The session token algorithm must be {ALGORITHM}."),
    (jwt.DecodeError, "The session token is not a well-formed JWT."),
]


def _decode_failure(exc: Exception) -> SessionTokenInvalid:
    """The 401 for a token either decoder refused. The library wraps PyJWT's errors in its
    ``SessionTokenError``; the original is its ``__cause__``."""
    cause = exc.__cause__ if isinstance(exc.__cause__, jwt.PyJWTError) else exc
    if isinstance(cause, jwt.MissingRequiredClaimError):
        return SessionTokenInvalid(f"The session token lacks the {cause.claim!r} claim.")
    for error_class, reason in _DECODE_REASONS:
        if isinstance(cause, error_class):
            return SessionTokenInvalid(reason)
    return SessionTokenInvalid(f"The session token is invalid: {cause}.")


def session_token_verify(
    token: str | None,
    *,
    audience: str | None = None,
    secret: str | None = None,
    require_iss: bool = True,
) -> SessionTokenClaims:
    """Verify ``token`` and return its claims, or raise :class:`SessionTokenInvalid` with the
    reason. ``audience``/``secret`` default to the app's API key/secret. Admin tokens
    (``require_iss=True``) go through the library; checkout-extension tokens carry no
    ``iss``, so they are verified with ``require_iss=False`` (an ``iss`` that is present
    must still match ``dest``)."""
    if not token or not isinstance(token, str):
        raise SessionTokenInvalid("No session token was sent.")
    if len(token) > MAX_TOKEN_CHARS:
        raise SessionTokenInvalid("The session token is too long.")
    key = secret if secret is not None else settings.SHOPIFY_API_SECRET
    expected_audience = audience if audience is not None else settings.SHOPIFY_API_KEY
    if not key or not expected_audience:
        raise SessionTokenInvalid("The app has no API key/secret configured.")
    decode = _admin_token_decode if require_iss else _extension_token_decode
    try:
        claims = decode(token, audience=expected_audience, key=key)
    except (jwt.PyJWTError, library_session_token.SessionTokenError) as exc:
        raise _decode_failure(exc) from exc
    except (TypeError, ValueError) as exc:
        # The library's iss/dest comparison (``urljoin``) on a signed token whose claims are
        # not URL strings.
        raise SessionTokenInvalid("The session token's dest/iss claims are not URLs.") from exc

    if claims.get("exp") is None:
        raise SessionTokenInvalid("The session token lacks the 'exp' claim.")
    dest = claims.get("dest")
    iss = claims.get("iss")
    if not isinstance(dest, str) or (iss is not None and not isinstance(iss, str)):
        raise SessionTokenInvalid("The session token's dest/iss claims are not strings.")
    dest_host = _host_of(dest)
    shop_domain = shop_domain_normalise(dest_host)
    if shop_domain is None:
        raise SessionTokenInvalid("The session token's dest is not a valid shop domain.")
    if iss is not None and _host_of(iss) != dest_host:
        raise SessionTokenInvalid(_HOSTS_DIFFER)
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
