"""Fixed-window request limits per shop and per shopper, counted in the shared cache.

In production the cache is Redis: one script call per request (``INCR``, ``EXPIRE`` on a
key's first hit, for every key), atomic across every worker process and machine; the same
call can read a versioned document (the shopper's ``me``), so a cached read costs one round
trip in all. Other cache backends (local memory in local/test settings, per process) go
through the Django cache API. Limits can be tuned with ``settings.STOREFRONT_RATE_LIMITS``
(same keys as ``DEFAULT_LIMITS``).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError, RedisError

from storefront_widget.app_proxy import ProxyContext
from storefront_widget.errors import RateLimited
from storefront_widget.redis_link import redis_call

logger = logging.getLogger(__name__)

# scope: (requests, window seconds)
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "shop": (6000, 60),  # every storefront request of one shop
    "customer": (120, 60),  # reads by one logged-in shopper
    "customer_write": (12, 60),  # redeem / cancel by one shopper
}


def _limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_LIMITS, **getattr(settings, "STOREFRONT_RATE_LIMITS", {})}


# One script call per request: INCR each counter (EXPIRE on its first hit), then, when asked,
# read a versioned document: each version key's value (a missing one is created with a
# never-used value: the server's clock plus a sequence), the stamp they make, and the
# document (stored as stamp + body; served only when its stamp is the current one).
_SCRIPT = """
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i + 1]) end
  out[i] = count
end
if #KEYS > n then
  local stamp = ''
  local fresh = nil
  for i = n + 1, #KEYS - 1 do
    local version = redis.call('GET', KEYS[i])
    if not version then
      if not fresh then
        local now = redis.call('TIME')
        fresh = now[1] .. '.' .. now[2] .. '.' .. redis.call('INCR', ARGV[n + 3])
      end
      version = fresh
      redis.call('SET', KEYS[i], version, 'EX', ARGV[n + 2])
    end
    stamp = stamp .. version .. '|'
  end
  out[n + 1] = stamp
  out[n + 2] = redis.call('GET', KEYS[#KEYS])
end
return out
"""
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis names scripts so
VERSION_SECONDS = 3600
SEQUENCE_KEY = "sf:version-seq"


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


def _script(keys: list[str], args: list[Any]) -> list[Any]:
    try:
        return redis_call(b"EVALSHA", _SCRIPT_SHA, len(keys), *keys, *args)
    except NoScriptError:  # first call on this server (or after a restart / SCRIPT FLUSH)
        return redis_call(b"EVAL", _SCRIPT, len(keys), *keys, *args)


def _counts_and_read(
    keys: list[tuple[str, int]], read: VersionedKeys | None
) -> tuple[list[int], VersionedRead | None]:
    """Increment each ``(key, ttl)`` and return the new counts, with ``read`` read."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        make_key = backend.make_key
        full = [make_key(key) for key, _ in keys]
        args: list[Any] = [len(keys), *(ttl for _, ttl in keys)]
        if read is not None:
            full += [make_key(k) for k in read.versions]
            full.append(make_key(read.document))
            args += [VERSION_SECONDS, make_key(SEQUENCE_KEY)]
        replies = _script(full, args)
        counts = [int(n) for n in replies[: len(keys)]]
        if read is None:
            return counts, None
        stamp, doc = replies[len(keys)], replies[len(keys) + 1]
        body = doc[len(stamp) :] if doc is not None and doc.startswith(stamp) else None
        return counts, VersionedRead(read, stamp, body)
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
    return counts, (None if read is None else _read_cache_api(read))


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
    try:
        redis_call(b"SET", cache.make_key(read.keys.document), value, b"EX", read.keys.seconds)
    except (OSError, RedisError) as exc:  # the answer stands; the next read fills again
        logger.warning("storefront document not cached: %s", exc)


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
