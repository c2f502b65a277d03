"""Who is asking: the app-proxy signature, its timestamp window, the shop and the shopper.

Every storefront request goes through ``app_proxy_verify`` (DEBUG included). The shopper is
``logged_in_customer_id`` as signed by the platform and nothing the browser says; cookies
never reach Beam through the proxy anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from merchants.domains import shop_domain_normalise
from merchants.errors import ShopNotInstalled, SignatureInvalid
from merchants.models import Shop
from merchants.shopify.signatures import app_proxy_pairs_signed, timestamp_fresh
from storefront_widget.errors import CustomerIdInvalid, SignatureMissing, SignatureStale
from storefront_widget.selectors import memo_forget, memo_get, memo_set

SHOP_CACHE_SECONDS = 60
# Columns every storefront request needs; tokens stay unread.
SHOP_FIELDS = (
    "id",
    "domain",
    "name",
    "currency",
    "iana_timezone",
    "uninstalled_at",
    "access_token_encrypted",
    "updated_at",
)


@dataclass(frozen=True)
class ProxyContext:
    """A verified app-proxy request: the shop, the shopper (None for guests) and the prefix
    the store mounts Beam under (``/apps/beam``); ``params`` is the signed query (last value
    of each key)."""

    shop: Shop
    customer_id: int | None
    path_prefix: str
    params: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def canonical_base(self) -> str:
        """The store-domain URL of the proxy root, e.g. ``https://x.myshopify.com/apps/beam``."""
        return f"https://{self.shop.domain}{self.path_prefix}"


def _shop_key(domain: str) -> str:
    return f"sf:shop:{domain}"


def shop_cache_invalidate(*, domain: str) -> None:
    memo_forget(_shop_key(domain))
    cache.delete(_shop_key(domain))


def shop_for_proxy(domain: str) -> Shop | None:
    """The installed, active shop of ``domain`` (no tokens loaded), else None. Kept in the
    shared cache for ``SHOP_CACHE_SECONDS`` and dropped whenever the shop row is saved (an
    uninstall saves it): the worker that saved sees it at once, the others within the
    per-process memo's few seconds. The memo holds the ``Shop`` instance itself, shared by
    the requests of the process: read it, never change it (writes load their own row)."""
    key = _shop_key(domain)
    shop = memo_get(key)
    if shop is None:
        cached = cache.get(key)
        if cached is None or len(cached) != 6:  # 6: with the time zone (shop days, birthdays)
            row = Shop.objects.filter(domain=domain).only(*SHOP_FIELDS).first()
            if row is None:
                return None
            cached = (row.pk, row.domain, row.name, row.currency, row.is_active, row.iana_timezone)
            cache.set(key, cached, SHOP_CACHE_SECONDS)
        pk, domain, name, currency, active, zone = cached
        shop = False
        if active:
            shop = Shop(pk=pk, domain=domain, name=name, currency=currency, iana_timezone=zone)
            shop._state.adding = False
            shop._state.db = "default"
        memo_set(key, shop)
    return shop or None


_ENCODED: dict[tuple[str, str], list[bytes]] = {}


def _secrets() -> list[bytes]:
    """The current and previous app secrets, encoded (once per pair of values)."""
    pair = (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS)
    encoded = _ENCODED.get(pair)
    if encoded is None:
        encoded = _ENCODED[pair] = [s.encode() for s in pair if s]
    return encoded


def _query_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """The decoded query pairs in order. A plain ASCII query (what the proxy sends) is
    parsed directly, which is several times cheaper than building ``request.GET``; anything
    else goes through Django's parsing (encodings, the field-count limit)."""
    raw = request.META.get("QUERY_STRING", "")
    if not raw.isascii() or raw.count("&") >= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:
        return [(key, value) for key, values in request.GET.lists() for value in values]
    pairs = []
    for part in raw.split("&"):  # what parse_qsl(keep_blank_values=True) gives, faster
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key, value = unquote_plus(key), unquote_plus(value)
        pairs.append((key, value))
    return pairs


def app_proxy_verify(request: HttpRequest) -> ProxyContext:
    """Verify the signed query and resolve the shop; raises 401/403/400 ``BeamError``s."""
    pairs = _query_pairs(request)
    params = dict(pairs)
    if not params.get("signature"):
        raise SignatureMissing()
    if not timestamp_fresh(params.get("timestamp"), settings.SHOPIFY_HMAC_MAX_AGE):
        raise SignatureStale()
    if not app_proxy_pairs_signed(pairs, secrets=_secrets()):
        raise SignatureInvalid("The app-proxy signature does not match.")
    domain = shop_domain_normalise(params.get("shop"))
    if domain is None:
        raise ShopNotInstalled("Unknown shop.")
    shop = shop_for_proxy(domain)
    if shop is None:
        raise ShopNotInstalled()
    raw = params.get("logged_in_customer_id", "")
    if raw and not (raw.isdigit() and len(raw) <= 19):
        raise CustomerIdInvalid()
    prefix = params.get("path_prefix") or settings.SHOPIFY_APP_PROXY_PREFIX
    if not prefix.startswith("/") or "//" in prefix:
        prefix = settings.SHOPIFY_APP_PROXY_PREFIX
    return ProxyContext(
        shop=shop, customer_id=int(raw) if raw else None, path_prefix=prefix, params=params
    )
