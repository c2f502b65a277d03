"""The shop's API key for inbound calls (review webhooks, custom actions): issue and rotate
it, and verify a signed request with it.

A request names its shop (``X-Beam-Shop-Domain``) and signs its exact raw body:
``X-Beam-Hmac-Sha256`` = base64(HMAC-SHA256(key, body)), like the platform's webhooks. The
key is stored encrypted (``merchants.encryption``); after a rotation the previous key still
verifies for ``ROTATION_GRACE`` so senders can be updated without losing deliveries.

A review app that cannot sign with a key of ours (Judge.me signs with its own app secret)
is given a URL token instead: an HMAC of the key over a fixed label, so the key itself never
leaves Beam and rotating the key changes the token too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from merchants.domains import SHOP_DOMAIN_RE
from merchants.encryption import InvalidToken, secret_decrypt, secret_encrypt
from merchants.errors import BeamError
from merchants.models import Shop, ShopApiKey

SIGNATURE_HEADER = "X-Beam-Hmac-Sha256"
SHOP_HEADER = "X-Beam-Shop-Domain"
KEY_PREFIX = "beam_sk_"
ROTATION_GRACE = timedelta(hours=24)
URL_TOKEN_LABEL = b"beam-review-webhook-url"


class InboundAuthFailed(BeamError):
    """The request's signature is missing or does not match the shop's API key."""

    code = "invalid_signature"
    http_status = 401


class InboundShopUnknown(BeamError):
    """The request names no shop, or a shop that has not installed Beam."""

    code = "unknown_shop"
    http_status = 401


class InboundKeyMissing(BeamError):
    """The shop has no API key yet: create one on Beam's Ways to earn page."""

    code = "no_api_key"
    http_status = 401


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``key`` is shown once and never stored in clear."""

    key: str
    hint: str
    rotated: bool


def api_key_issue(*, shop: Shop) -> IssuedKey:
    """Create the shop's key, or rotate it (the old one verifies for ``ROTATION_GRACE``).
    Precondition: inside the caller's transaction (the caller audits it there)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    hint = key[-4:]
    row = ShopApiKey.objects.select_for_update().filter(shop=shop).first()
    if row is None:
        ShopApiKey.objects.create(shop=shop, key_encrypted=secret_encrypt(key), hint=hint)
        return IssuedKey(key, hint, rotated=False)
    row.previous_key_encrypted = row.key_encrypted
    row.previous_valid_until = timezone.now() + ROTATION_GRACE
    row.key_encrypted = secret_encrypt(key)
    row.hint = hint
    row.save()
    return IssuedKey(key, hint, rotated=True)


def _keys(row: ShopApiKey) -> list[str]:
    """The keys that verify now: the current one, and the previous one in its grace."""
    keys = [row.key_encrypted]
    until = row.previous_valid_until
    if row.previous_key_encrypted and until is not None and until > timezone.now():
        keys.append(row.previous_key_encrypted)
    out = []
    for encrypted in keys:
        try:
            out.append(secret_decrypt(encrypted))
        except InvalidToken:  # encrypted with a retired server key: cannot verify
            continue
    return out


def body_signature(body: bytes, key: str) -> str:
    """What ``X-Beam-Hmac-Sha256`` carries: base64 of HMAC-SHA256(key, raw body)."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def url_token(key: str) -> str:
    """The token a review app puts in its webhook URL (hex HMAC of a fixed label)."""
    return hmac.new(key.encode(), URL_TOKEN_LABEL, hashlib.sha256).hexdigest()


def _shop_with_key(domain: str) -> tuple[Shop, ShopApiKey]:
    domain = domain.strip().lower()
    if not domain:
        raise InboundShopUnknown(f"Name the shop in the {SHOP_HEADER} header.")
    if not SHOP_DOMAIN_RE.match(domain):
        raise InboundShopUnknown(f"{SHOP_HEADER} is not a myshopify.com domain.")
    shop = Shop.objects.active().filter(domain=domain).first()
    if shop is None:
        raise InboundShopUnknown("No shop with this domain has Beam installed.")
    row = ShopApiKey.objects.filter(shop=shop).first()
    if row is None:
        raise InboundKeyMissing()
    return shop, row


def request_verify(*, body: bytes, headers: Mapping[str, str]) -> Shop:
    """The shop whose current (or rotated, in grace) key signed ``body``; raises with the
    reason otherwise. Every candidate is compared in constant time."""
    shop, row = _shop_with_key(headers.get(SHOP_HEADER, ""))
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise InboundAuthFailed(f"The {SIGNATURE_HEADER} header is missing.")
    matched = False
    for key in _keys(row):
        matched |= hmac.compare_digest(body_signature(body, key).encode(), given.encode())
    if not matched:
        raise InboundAuthFailed(
            f"{SIGNATURE_HEADER} does not match the body signed with the shop's API key."
        )
    return shop


def url_token_verify(*, domain: str, token: str) -> Shop:
    """The shop whose key's URL token is ``token`` (see ``url_token``); raises otherwise."""
    shop, row = _shop_with_key(domain)
    if not token:
        raise InboundAuthFailed("The webhook URL carries no token.")
    matched = False
    for key in _keys(row):
        matched |= hmac.compare_digest(url_token(key).encode(), token.encode())
    if not matched:
        raise InboundAuthFailed("The webhook URL's token does not match the shop's API key.")
    return shop
