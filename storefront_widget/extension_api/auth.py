"""Who calls the extension API: the extension session token (HS256 with the app secret,
``dest`` the shop, ``sub`` the customer GID when logged in) and the per-buyer rate limits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from merchants.auth import bearer_token, embedded_shop_authenticate
from merchants.models import Shop
from merchants.shopify.session_tokens import SessionTokenClaims, SessionTokenInvalid
from storefront_widget.errors import RateLimited
from storefront_widget.rate_limits import rate_limit_hit

CUSTOMER_GID_RE = re.compile(r"^gid://shopify/Customer/([0-9]{1,19})$")


def customer_id_from_gid(sub: str) -> int | None:
    """The numeric customer id of a ``gid://shopify/Customer/<id>`` ``sub`` claim."""
    match = CUSTOMER_GID_RE.match(sub or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ExtensionBuyer:
    """``request.user`` of an extension request: the shop and, when logged in, the customer."""

    shop: Shop
    claims: SessionTokenClaims
    customer_id: int | None
    is_authenticated: bool = True
    is_anonymous: bool = False


class ExtensionTokenAuthentication(BaseAuthentication):
    """Verify the extension session token (no ``iss`` in these tokens) and load the shop. A
    ``sub`` that is present but not a customer GID is refused rather than treated as a guest."""

    def authenticate(self, request: Request) -> tuple[ExtensionBuyer, SessionTokenClaims]:
        shop, claims = embedded_shop_authenticate(bearer_token(request._request), require_iss=False)
        customer_id = customer_id_from_gid(claims.sub) if claims.sub else None
        if claims.sub and customer_id is None:
            raise SessionTokenInvalid("The session token's sub is not a customer GID.")
        return ExtensionBuyer(shop=shop, claims=claims, customer_id=customer_id), claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="beam-extensions"'


class _BuyerThrottle(BaseThrottle):
    """Per shop and customer (guests: per client address), counted by the storefront's
    atomic limiter (``rate_limits``: one ``INCR`` on Redis), so concurrent requests cannot
    slip past the limit; the limits are ``rate_limits.DEFAULT_LIMITS[scope]``."""

    scope: str
    retry_after: int | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        buyer = request.user
        if not isinstance(buyer, ExtensionBuyer):
            return True
        who = f"c{buyer.customer_id}" if buyer.customer_id else f"ip{self.get_ident(request)}"
        try:
            rate_limit_hit(scope=self.scope, ident=f"{buyer.shop.pk}:{who}")
        except RateLimited as exc:
            self.retry_after = exc.retry_after
            return False
        return True

    def wait(self) -> int | None:
        return self.retry_after


class ReadThrottle(_BuyerThrottle):
    scope = "ext_read"


class RedeemThrottle(_BuyerThrottle):
    scope = "ext_redeem"


class WriteThrottle(_BuyerThrottle):
    """Other writes of one buyer (the birthday)."""

    scope = "ext_write"
