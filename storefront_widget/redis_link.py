"""Each thread's own connection to the cache's Redis, for the storefront's one command per
request.

Through redis-py, a single small command costs several times the CPU of its round trip
(pool checkout with a readiness poll, generic argument packing, event and metrics hooks,
reply callbacks), and the storefront's reads make one on every request. Here the
connection is opened by redis-py (same URL, credentials, database, TLS and protocol as
Django's ``RedisCache``) and then kept by its thread; commands are packed and replies read
directly on its socket. Only what the storefront's commands answer is understood:
integers, bulk and simple strings, nulls, arrays and errors, in RESP2 and RESP3.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ResponseError

_LOCAL = threading.local()
_CHUNK = 65536


class RedisLink:
    """One connection, used by one thread only."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.pid = os.getpid()
        self.conn = pool.connection_class(**pool.connection_kwargs)
        self.conn.connect()  # handshake: AUTH, HELLO/SELECT, TLS
        self.sock = self.conn._sock
        self.buffer = b""
        self.pos = 0

    def close(self) -> None:
        self.conn.disconnect()

    def pipeline(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
        """Send the commands at once and return their replies in order. An error reply
        raises ``ResponseError`` once every reply has been read (the link stays in step)."""
        parts = []
        for args in commands:
            parts.append(b"*%d\r\n" % len(args))
            for arg in args:
                data = arg if isinstance(arg, bytes) else str(arg).encode()
                parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.buffer, self.pos = b"", 0
        self.sock.sendall(b"".join(parts))
        replies, error = [], None
        for _ in commands:
            try:
                replies.append(self._reply())
            except ResponseError as exc:
                error = error or exc
                replies.append(exc)
        if error is not None:
            raise error
        return replies

    def _fill(self) -> None:
        chunk = self.sock.recv(_CHUNK)
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0

    def _line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buffer[self.pos : end]
                self.pos = end + 2
                return line
            self._fill()

    def _bytes(self, size: int) -> bytes:
        while len(self.buffer) - self.pos < size + 2:
            self._fill()
        data = self.buffer[self.pos : self.pos + size]
        self.pos += size + 2
        return data

    def _reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"="):  # bulk / verbatim string
            size = int(rest)
            return None if size < 0 else self._bytes(size)
        if kind in (b"*", b"~", b">"):  # array / set / push
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        if kind == b"_":
            return None
        if kind == b"+":
            return rest
        if kind == b"#":
            return rest == b"t"
        if kind == b"-":
            raise ResponseError(rest.decode(errors="replace"))
        raise ConnectionError(f"unexpected Redis reply {line[:20]!r}")


def redis_link() -> RedisLink | None:
    """This thread's link to the default cache's Redis (None for other cache backends)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    pool = backend._cache._get_connection_pool(True)
    link: RedisLink | None = getattr(_LOCAL, "link", None)
    if link is None or link.pool is not pool or link.pid != os.getpid():
        link = _LOCAL.link = RedisLink(pool)
    return link


def redis_pipeline(commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
    """Commands sent at once on this thread's link, their replies in order; a broken
    connection is reopened and the commands sent once more (the storefront's commands
    tolerate a repeat: a limit counted twice)."""
    link = redis_link()
    assert link is not None, "the default cache is not Redis"
    try:
        return link.pipeline(commands)
    except ResponseError:  # every reply was read: the connection is in step
        raise
    except OSError:
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
