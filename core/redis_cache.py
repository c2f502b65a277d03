"""Django's Redis cache for a Redis that may be down: the cache degrades, requests do not fail.

Every rule for an unreachable cache lives here, so no caller can forget one:

* a read that cannot reach Redis is a miss (the caller reads the database);
* a write (``set``, ``add``, ``touch``) is skipped (``add`` answers False: nothing claimed);
* a drop (``delete``, ``delete_many``) is recorded in the database (``CacheDrop``, with the
  full Redis keys) and applied later, so a committed write never turns into an error;
* after a failure the process leaves Redis alone for ``CACHE_RETRY_SECONDS``: a hung Redis
  costs one socket timeout per process and period, not one per cache call;
* a process applies the recorded drops (deletes the keys, then the rows) before its next
  cache operation whenever it saw a failure or opened another connection (a reconnect after
  a Redis restart or a blip). Redis coming back with old entries therefore never serves them
  to a process that noticed the outage; one that did not (its connection survived, or it
  started after the outage) follows once a process that noticed uses the cache again.

The storefront's direct link (``storefront_widget.redis_link``) opens its connections from
the same pool settings, so the same connect hook and timeouts apply; ``rate_limits`` calls
``cache_ready`` / ``cache_failed`` around it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What an unreachable or hung Redis raises (redis-py wraps socket errors; a few escape raw).
REDIS_DOWN = (RedisError, OSError)
T = TypeVar("T")

_down_until = 0.0  # monotonic time before which this process does not try Redis
_drops_pending = False  # a reconnect or a failure since the drops were last applied
_connected_in = 0  # the pid of the process that opened its first connection


def cache_reachable() -> bool:
    """False while this process is backing off after a Redis failure."""
    return time.monotonic() >= _down_until


def cache_failed(exc: BaseException) -> None:
    """Note a Redis failure: back off, and apply the recorded drops on the way back."""
    global _down_until, _drops_pending
    seconds = float(getattr(settings, "CACHE_RETRY_SECONDS", 1.0))
    _down_until = time.monotonic() + seconds
    _drops_pending = True
    logger.warning("cache unreachable, degrading for %ss: %s", seconds, exc)


def cache_drops_pending() -> bool:
    """True when drops must be applied before the cache is trusted: a read that opened a new
    connection on its way (redis-py and the storefront's link reconnect by themselves) is
    discarded, not served."""
    return _drops_pending


def cache_state_reset() -> None:
    """Forget this process's backoff and pending flag (tests switch caches between runs)."""
    global _down_until, _drops_pending
    _down_until, _drops_pending = 0.0, False


def _connected(conn: Any) -> None:
    """redis-py's connect hook: the usual handshake; any connection after a process's first
    marks the drops to be applied (the server may have restarted with old entries)."""
    global _drops_pending, _connected_in
    conn.on_connect()
    if _connected_in == os.getpid():
        _drops_pending = True
    _connected_in = os.getpid()


class ResilientRedisCache(RedisCache):
    """``RedisCache`` that degrades as the module says. Configure it like ``RedisCache``;
    set ``socket_connect_timeout`` / ``socket_timeout`` in ``OPTIONS`` (see base settings)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        options: dict[str, Any] = params.get("OPTIONS", {})
        self._options = {**options, "redis_connect_func": _connected}

    # --- the rules -----------------------------------------------------------------------

    def cache_ready(self) -> None:
        """Raise a Redis error unless the cache may be used now; apply the recorded drops
        first when a new connection or a failure happened since they were last applied."""
        if not cache_reachable():
            raise RedisError("the cache is backing off after a failure")
        if _drops_pending:
            self._drops_apply()

    def _drops_apply(self) -> None:
        from core.models import CacheDrop

        global _drops_pending
        _drops_pending = False  # first: a connection opened while applying marks it again
        try:
            rows = list(CacheDrop.objects.values_list("pk", "key"))
            if rows:
                self._cache.delete_many(sorted({key for _, key in rows}))
                CacheDrop.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
                logger.info("applied %d cache drops recorded during an outage", len(rows))
        except BaseException:
            _drops_pending = True
            raise

    def _attempt(self, operation: Callable[[], T], fallback: T, *, read: bool = False) -> T:
        if not cache_reachable():
            return fallback
        try:
            if _drops_pending:
                self._drops_apply()
            result = operation()
        except REDIS_DOWN as exc:
            cache_failed(exc)
            return fallback
        return fallback if read and _drops_pending else result

    def _drop(self, keys: list[str], version: int | None) -> bool:
        """Delete ``keys`` now, or record them for later when Redis does not answer."""
        from core.models import CacheDrop

        full = [self.make_and_validate_key(key, version=version) for key in keys]
        if not full:
            return True

        def delete() -> bool:
            self._cache.delete_many(full)
            return True

        done = self._attempt(delete, False)
        if not done:
            CacheDrop.objects.bulk_create([CacheDrop(key=key) for key in full])
        return done

    # --- Django's cache API --------------------------------------------------------------

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._attempt(partial(super().get, key, default, version), default, read=True)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._attempt(partial(super().get_many, list(keys), version), {}, read=True)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._attempt(partial(super().has_key, key, version), False, read=True)

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        self._attempt(partial(super().set, key, value, timeout, version), None)

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        return self._attempt(partial(super().set_many, data, timeout, version), list(data))

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        return self._attempt(partial(super().add, key, value, timeout, version), False)

    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._attempt(partial(super().touch, key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._drop([key], version)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._drop(list(keys), version)

    def clear(self) -> None:
        """Flush (raises when Redis is down: a caller asking for a flush must know). An empty
        cache holds nothing stale, so the recorded drops need not be applied first."""
        global _drops_pending
        super().clear()
        _drops_pending = False
