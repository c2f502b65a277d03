"""Fixed-window request limits per shop and per shopper, counted in the Django cache.

In production the cache is Redis, whose ``INCR`` is atomic, so the count is shared by every
worker process; the local-memory cache of local/test settings is per process. Limits can be
tuned with ``settings.STOREFRONT_RATE_LIMITS`` (same keys as ``DEFAULT_LIMITS``).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from storefront_widget.app_proxy import ProxyContext
from storefront_widget.errors import RateLimited

# scope: (requests, window seconds)
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "shop": (6000, 60),  # every storefront request of one shop
    "customer": (120, 60),  # reads by one logged-in shopper
    "customer_write": (12, 60),  # redeem / cancel by one shopper
}


def _limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_LIMITS, **getattr(settings, "STOREFRONT_RATE_LIMITS", {})}


def rate_limit_hit(*, scope: str, ident: str, now: float | None = None) -> None:
    """Count one request of ``ident`` in ``scope``; raise ``RateLimited`` past the limit."""
    limit, window = _limits()[scope]
    current = time.time() if now is None else now
    slot = int(current // window)
    key = f"sf:rl:{scope}:{ident}:{slot}"
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
    if count > limit:
        retry_after = max(1, int((slot + 1) * window - current))
        raise RateLimited(
            f"Too many requests ({scope}); try again in {retry_after} s.", retry_after=retry_after
        )


def storefront_rate_limit(*, proxy: ProxyContext, write: bool = False) -> None:
    """The limits of one storefront request: the shop's, then the shopper's."""
    rate_limit_hit(scope="shop", ident=str(proxy.shop.pk))
    if proxy.customer_id is not None:
        ident = f"{proxy.shop.pk}:{proxy.customer_id}"
        rate_limit_hit(scope="customer_write" if write else "customer", ident=ident)
