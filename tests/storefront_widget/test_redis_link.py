"""The storefront's direct Redis link: replies, errors, a dropped connection, a server that
does not know the script yet."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import ResponseError

from storefront_widget import rate_limits, redis_link

pytestmark = pytest.mark.skipif(
    "RedisCache" not in settings.CACHES["default"]["BACKEND"],
    reason="needs the Redis cache (REDIS_URL)",
)


def test_replies_of_every_kind_the_storefront_uses():
    key = cache.make_key("link:test")
    redis_link.redis_call(b"DEL", key)

    assert redis_link.redis_call(b"INCR", key) == 1
    assert redis_link.redis_call(b"SET", key, b"a\r\nb", b"EX", 60) == b"OK"
    assert redis_link.redis_call(b"GET", key) == b"a\r\nb"
    assert redis_link.redis_call(b"MGET", key, cache.make_key("link:none")) == [b"a\r\nb", None]
    with pytest.raises(ResponseError):
        redis_link.redis_call(b"INCR", key)  # not an integer
    assert redis_link.redis_call(b"GET", key) == b"a\r\nb"  # the link is still in step


def test_a_large_reply_is_read_across_several_receives():
    key = cache.make_key("link:big")
    value = bytes(range(256)) * 1024  # 256 KiB, CRLFs included

    redis_link.redis_call(b"SET", key, value, b"EX", 60)

    assert redis_link.redis_call(b"GET", key) == value


def test_a_dropped_connection_is_reopened():
    own_id = redis_link.redis_call(b"CLIENT", b"ID")
    cache._cache.get_client(write=True).client_kill_filter(_id=own_id)

    assert redis_link.redis_call(b"PING") == b"PONG"
    assert redis_link.redis_call(b"CLIENT", b"ID") != own_id


def test_a_server_without_the_script_gets_it_sent(monkeypatch, settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer": (1, 60)}
    monkeypatch.setattr(rate_limits, "_SCRIPT_SHA", "0" * 40)  # unknown: NOSCRIPT

    rate_limits.rate_limit_hit(scope="customer", ident="noscript")
    with pytest.raises(rate_limits.RateLimited):
        rate_limits.rate_limit_hit(scope="customer", ident="noscript")
