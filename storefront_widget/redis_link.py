"""Each thread's own connection to the cache's Redis, for the storefront's one command per
request.

Through a redis-py client, a single small command costs several times the CPU of its
round trip (pool checkout with a readiness poll, argument handling, event and metrics
hooks, reply callbacks), and the storefront's reads make one on every request. Here each
thread keeps one redis-py ``Connection`` (opened from the same pool settings as Django's
``RedisCache``: URL, credentials, database, TLS, protocol) and uses it directly: the
commands packed by the connection, sent at once, the replies read by its parser (hiredis).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_LOCAL = threading.local()


class RedisLink:
    """One connection, used by one thread only."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.pid = os.getpid()
        self.conn = pool.connection_class(**pool.connection_kwargs)
        self.conn.connect()  # handshake: AUTH, HELLO/SELECT, TLS

    def close(self) -> None:
        self.conn.disconnect()

    def pipeline(self, commands: Sequence[tuple[bytes | str | int, ...]]) -> list[Any]:
        """Send the commands at once and return their replies in order. An error reply
        raises ``ResponseError`` once every reply has been read (the link stays in step)."""
        self.conn.send_packed_command(self.conn.pack_commands(commands), check_health=False)
        replies, error = [], None
        for _ in commands:
            try:
                replies.append(self.conn.read_response())
            except ResponseError as exc:
                error = error or exc
                replies.append(exc)
        if error is not None:
            raise error
        return replies


def redis_link() -> RedisLink | None:
    """This thread's link to the default cache's Redis (None for other cache backends)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    pool = backend._cache._get_connection_pool(True)  # type: ignore[attr-defined]
    link: RedisLink | None = getattr(_LOCAL, "link", None)
    if link is None or link.pool is not pool or link.pid != os.getpid():
        link = _LOCAL.link = RedisLink(pool)
    return link


def redis_pipeline(commands: Sequence[tuple[bytes | str | int, ...]]) -> list[Any]:
    """Commands sent at once on this thread's link, their replies in order; a broken
    connection is reopened and the commands sent once more (the storefront's commands
    tolerate a repeat: a limit counted twice)."""
    link = redis_link()
    assert link is not None, "the default cache is not Redis"
    try:
        return link.pipeline(commands)
    except ResponseError:  # every reply was read: the connection is in step
        raise
    except (OSError, RedisConnectionError, RedisTimeoutError):
        _drop(link)
        return redis_link().pipeline(commands)  # type: ignore[union-attr]
    except BaseException:
        _drop(link)  # a reply read halfway: never reuse the connection
        raise


def redis_call(*args: bytes | str | int) -> Any:
    """One command (``redis_pipeline`` of one)."""
    return redis_pipeline([args])[0]


def _drop(link: RedisLink) -> None:
    _LOCAL.link = None
    with contextlib.suppress(Exception):  # closing a broken socket may fail too
        link.close()
