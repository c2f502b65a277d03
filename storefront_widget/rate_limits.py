"""Fixed-window request limits per shop and per shopper, counted in the shared cache.

In production the cache is Redis: one pipelined round trip per request (an ``INCR`` per
key; a window's first hit also sets the key's lifetime), atomic across every worker process
and machine; the same round trip can read a versioned document (the shopper's ``me``), so a
cached read costs one round trip in all. Other cache backends (local memory in local/test
settings, per process) go through the Django cache API. Limits can be tuned with
``settings.STOREFRONT_RATE_LIMITS`` (same keys as ``DEFAULT_LIMITS``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from core.redis_cache import (
    REDIS_DOWN,
    ResilientRedisCache,
    cache_drops_pending,
    cache_failed,
    cache_reachable,
)
from storefront_widget.app_proxy import ProxyContext
from storefront_widget.errors import RateLimited
from storefront_widget.redis_link import redis_call, redis_pipeline

logger = logging.getLogger(__name__)

# scope: (requests, window seconds)
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "shop": (6000, 60),  # every storefront request of one shop
    "customer": (120, 60),  # reads by one logged-in shopper
    "customer_write": (12, 60),  # redeem / cancel by one shopper
    "ext_read": (120, 60),  # extension API (/ext/) requests by one buyer
    "ext_redeem": (10, 60),  # extension redeem / release by one buyer
    "ext_write": (10, 60),  # other extension writes by one buyer (the birthday)
    "referral_claim": (5, 600),  # a friend's claims from one IP (hashed) in one shop
    "inbound": (600, 60),  # review webhooks and custom actions naming one shop
    "inbound_ip": (1200, 60),  # inbound calls from one client address
}


def _limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_LIMITS, **getattr(settings, "STOREFRONT_RATE_LIMITS", {})}


# A versioned document is stored as stamp + body, the stamp being the values of its version
# keys; it is served only while its stamp is the current one. A missing version key is
# created with a new random value, so a dropped version never comes back.
VERSION_SECONDS = 3600

# The counters of this process while Redis is down (a per-process bound on every limit).
_LOCAL_COUNTS = LocMemCache("beam-rate-limits-local", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


@dataclass(frozen=True, slots=True)
class VersionedKeys:
    """A document cached under versions: read it in the limits' round trip."""

    versions: tuple[str, ...]
    document: str
    seconds: int


@dataclass(frozen=True, slots=True)
class VersionedRead:
    """The current stamp of a ``VersionedKeys`` and its document's body when the cached one
    was stored under that stamp (else None: read the source, then ``versioned_store``)."""

    keys: VersionedKeys
    stamp: bytes
    body: bytes | None


def _counts_and_read(
    keys: list[tuple[str, int]], read: VersionedKeys | None
) -> tuple[list[int], VersionedRead | None]:
    """Increment each ``(key, ttl)`` and return the new counts, with ``read`` read. On
    Redis: one round trip (``INCR`` per key, ``MGET`` of the versions and the document); a
    second one only for a window's first hit or to create a missing version."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return _counts_cache_api(keys, cache), (None if read is None else _read_cache_api(read))
    try:
        if isinstance(backend, ResilientRedisCache):
            backend.cache_ready()
        counts, found = _counts_and_read_redis(backend, keys, read)
        if found is not None and cache_drops_pending():
            found = None  # read on a new connection: Redis may have come back with old entries
        return counts, found
    except REDIS_DOWN as exc:
        if cache_reachable():
            cache_failed(exc)
        return _counts_cache_api(keys, _LOCAL_COUNTS), None


def _counts_and_read_redis(
    backend: RedisCache, keys: list[tuple[str, int]], read: VersionedKeys | None
) -> tuple[list[int], VersionedRead | None]:
    make_key = backend.make_key
    counters = [(make_key(key), ttl) for key, ttl in keys]
    commands: list[tuple[bytes | str | int, ...]] = [(b"INCR", full) for full, _ in counters]
    if read is not None:
        versions = [make_key(k) for k in read.versions]
        commands.append((b"MGET", *versions, make_key(read.document)))
    replies = redis_pipeline(commands)
    counts = [int(n) for n in replies[: len(keys)]]
    if 1 in counts:
        _lifetimes_set([c for c, n in zip(counters, counts, strict=True) if n == 1])
    if read is None:
        return counts, None
    *found, doc = replies[-1]
    if None in found:
        found, doc = _versions_create(versions, found), None
    stamp = b"".join(v + b"|" for v in found)
    body = doc[len(stamp) :] if doc is not None and doc.startswith(stamp) else None
    return counts, VersionedRead(read, stamp, body)


def _lifetimes_set(counters: list[tuple[str, int]]) -> None:
    """Give the counters of a window's first hit their lifetime. It only frees memory: the
    window's slot is part of the key, so a key left without one (a crash in between) never
    counts beyond its window."""
    try:
        redis_pipeline([(b"EXPIRE", full, ttl) for full, ttl in counters])
    except (OSError, RedisError) as exc:
        logger.warning("rate-limit counters left without a lifetime: %s", exc)


def _versions_create(keys: list[str], found: list[bytes | None]) -> list[bytes]:
    """Give each missing version key a new random value (unless another reader just did:
    ``SET … NX GET`` answers the value that won)."""
    pairs = enumerate(zip(keys, found, strict=True))
    missing = [(n, key) for n, (key, value) in pairs if value is None]
    fresh = uuid.uuid4().hex.encode()
    commands = [(b"SET", key, fresh, b"NX", b"GET", b"EX", VERSION_SECONDS) for _, key in missing]
    values = list(found)
    for (n, _), old in zip(missing, redis_pipeline(commands), strict=True):
        values[n] = fresh if old is None else old
    return values  # type: ignore[return-value]


def _counts_cache_api(keys: list[tuple[str, int]], store: BaseCache) -> list[int]:
    counts = []
    for key, ttl in keys:
        if store.add(key, 1, timeout=ttl):
            counts.append(1)
            continue
        try:
            counts.append(store.incr(key))
        except ValueError:  # expired between add and incr
            store.add(key, 1, timeout=ttl)
            counts.append(1)
    return counts


def _read_cache_api(read: VersionedKeys) -> VersionedRead:
    """The same read on another cache backend, through Django's cache API."""
    found = cache.get_many([*read.versions, read.document])
    parts = []
    for key in read.versions:
        version = found.get(key)
        if version is None:
            cache.add(key, uuid.uuid4().hex, VERSION_SECONDS)
            version = cache.get(key)
        parts.append(f"{version}|")
    stamp = "".join(parts).encode()
    doc = found.get(read.document)
    body = doc[len(stamp) :] if doc is not None and doc.startswith(stamp) else None
    return VersionedRead(read, stamp, body)


def versioned_store(read: VersionedRead, body: bytes) -> None:
    """Cache ``body`` under the stamp ``read`` saw before the source was read: if a writer
    dropped a version meanwhile, the stored document is never served."""
    value = read.stamp + body
    if not isinstance(caches["default"], RedisCache):
        cache.set(read.keys.document, value, read.keys.seconds)
        return
    if not cache_reachable():
        return
    try:
        redis_call(b"SET", cache.make_key(read.keys.document), value, b"EX", read.keys.seconds)
    except REDIS_DOWN as exc:  # the answer stands; the next read fills again
        cache_failed(exc)


def rate_limit_hits(
    hits: list[tuple[str, str]], *, now: float | None = None, read: VersionedKeys | None = None
) -> VersionedRead | None:
    """Count one request for each ``(scope, ident)``; raise ``RateLimited`` when any of them
    is past its limit (the request still counts: hammering does not reset the window).
    With ``read``, also read that versioned document in the same round trip."""
    limits = _limits()
    current = time.time() if now is None else now
    keys = []
    for scope, ident in hits:
        _, window = limits[scope]
        slot = int(current // window)
        keys.append((f"sf:rl:{scope}:{ident}:{slot}", window + 1))
    counts, found = _counts_and_read(keys, read)
    for (scope, _), count in zip(hits, counts, strict=True):
        limit, window = limits[scope]
        if count > limit:
            retry_after = max(1, int((int(current // window) + 1) * window - current))
            raise RateLimited(
                f"Too many requests ({scope}); try again in {retry_after} s.",
                retry_after=retry_after,
            )
    return found


def rate_limit_hit(*, scope: str, ident: str, now: float | None = None) -> None:
    """Count one request of ``ident`` in ``scope``; raise ``RateLimited`` past the limit."""
    rate_limit_hits([(scope, ident)], now=now)


def storefront_rate_limit(
    *, proxy: ProxyContext, write: bool = False, read: VersionedKeys | None = None
) -> VersionedRead | None:
    """The limits of one storefront request: the shop's and the shopper's, and ``read``
    when given (one round trip)."""
    hits = [("shop", str(proxy.shop.pk))]
    if proxy.customer_id is not None:
        scope = "customer_write" if write else "customer"
        hits.append((scope, f"{proxy.shop.pk}:{proxy.customer_id}"))
    return rate_limit_hits(hits, read=read)
