"""Fixed-window request limits per shop and per shopper, counted in the shared cache.

In production the cache is Redis: one pipelined round trip ``INCR`` + ``EXPIRE NX`` per key,
atomic across every worker process and machine. Other cache backends (local memory in
local/test settings, per process) go through the Django cache API. Limits can be tuned with
``settings.STOREFRONT_RATE_LIMITS`` (same keys as ``DEFAULT_LIMITS``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

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


_CLIENTS: dict[int, Any] = {}


def _redis_client():  # type: ignore[no-untyped-def]
    """The raw Redis client on the connection pool of Django's RedisCache (one per pool:
    Django builds a new client object per call, which costs more than the round trip), or
    None for other backends."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    inner = backend._cache
    pool = inner._get_connection_pool(True)
    client = _CLIENTS.get(id(pool))
    if client is None:
        client = _CLIENTS[id(pool)] = inner._client(connection_pool=pool)
    return client


def _counts(keys: list[tuple[str, int]]) -> list[int]:
    """Increment each ``(key, ttl)`` and return the new counts."""
    client = _redis_client()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for key, ttl in keys:
            full = cache.make_and_validate_key(key)
            pipe.incr(full)
            pipe.expire(full, ttl, nx=True)
        replies = pipe.execute()
        return [int(n) for n in replies[0::2]]
    counts = []
    for key, ttl in keys:
        if cache.add(key, 1, timeout=ttl):
            counts.append(1)
            continue
        try:
            counts.append(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=ttl)
            counts.append(1)
    return counts


def rate_limit_hits(hits: list[tuple[str, str]], *, now: float | None = None) -> None:
    """Count one request for each ``(scope, ident)``; raise ``RateLimited`` when any of them
    is past its limit (the request still counts: hammering does not reset the window)."""
    limits = _limits()
    current = time.time() if now is None else now
    keys = []
    for scope, ident in hits:
        _, window = limits[scope]
        slot = int(current // window)
        keys.append((f"sf:rl:{scope}:{ident}:{slot}", window + 1))
    for (scope, _), count in zip(hits, _counts(keys), strict=True):
        limit, window = limits[scope]
        if count > limit:
            retry_after = max(1, int((int(current // window) + 1) * window - current))
            raise RateLimited(
                f"Too many requests ({scope}); try again in {retry_after} s.",
                retry_after=retry_after,
            )


def rate_limit_hit(*, scope: str, ident: str, now: float | None = None) -> None:
    """Count one request of ``ident`` in ``scope``; raise ``RateLimited`` past the limit."""
    rate_limit_hits([(scope, ident)], now=now)


def storefront_rate_limit(*, proxy: ProxyContext, write: bool = False) -> None:
    """The limits of one storefront request: the shop's and the shopper's (one round trip)."""
    hits = [("shop", str(proxy.shop.pk))]
    if proxy.customer_id is not None:
        scope = "customer_write" if write else "customer"
        hits.append((scope, f"{proxy.shop.pk}:{proxy.customer_id}"))
    rate_limit_hits(hits)
