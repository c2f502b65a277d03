"""The storefront's direct Redis link: replies, errors, large values, a dropped connection;
the versions it reads."""

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


def test_an_error_in_a_pipeline_is_raised_after_every_reply_was_read():
    key = cache.make_key("link:text")
    redis_link.redis_call(b"SET", key, b"text", b"EX", 60)

    with pytest.raises(ResponseError):
        redis_link.redis_pipeline([(b"INCR", key), (b"GET", key)])

    assert redis_link.redis_call(b"GET", key) == b"text"  # the link is still in step


def test_a_missing_version_is_created_once_whoever_creates_it():
    keys = rate_limits.VersionedKeys(versions=("test:v1", "test:v2"), document="d", seconds=60)
    cache.set("test:v1", "x")  # not the raw format: the Redis client pickles; still a value
    first = rate_limits.rate_limit_hits([], read=keys)
    again = rate_limits.rate_limit_hits([], read=keys)

    assert first is not None and again is not None
    assert first.stamp == again.stamp  # the version created by the first read is kept


def test_counters_get_their_window_as_lifetime(settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer": (10, 60)}
    now = 1_000_000.0
    key = cache.make_key(f"sf:rl:customer:ttl:{int(now // 60)}")

    rate_limits.rate_limit_hit(scope="customer", ident="ttl", now=now)
    rate_limits.rate_limit_hit(scope="customer", ident="ttl", now=now)

    assert redis_link.redis_call(b"GET", key) == b"2"
    assert 0 < redis_link.redis_call(b"TTL", key) <= 61
