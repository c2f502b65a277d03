"""The degrading Redis cache: admin writes commit while Redis is down, and what they could
not drop is dropped before anything cached before the outage is served again."""

from __future__ import annotations

from decimal import Decimal

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache

from core.models import CacheDrop
from loyalty.models import LedgerEntry
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.factories import MemberFactory, ProgramFactory, RewardFactory
from tests.storefront_widget.test_redis_down import DOWN_URL, resilient_cache

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(
    "RedisCache" not in django_settings.CACHES["default"]["BACKEND"],
    reason="needs the Redis cache (REDIS_URL)",
)


@pytest.fixture
def shop():
    return admin_shop()


@pytest.fixture
def admin(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


def test_admin_writes_commit_while_redis_is_down(
    shop, admin, settings, django_capture_on_commit_callbacks
):
    ProgramFactory(shop=shop)
    reward = RewardFactory(shop=shop, name="$5 off", points_cost=500, value=Decimal("5.00"))
    member = MemberFactory(shop=shop, customer_id=9, email="jane@example.com")
    settings.CACHES = resilient_cache(settings, DOWN_URL)

    with django_capture_on_commit_callbacks(execute=True):
        edited = admin.post(
            f"/admin/rewards/{reward.pk}/",
            {"name": "$6 off", "kind": "fixed_amount", "points_cost": "600", "value": "6",
             "code_valid_days": "7", "active": "on"},
        )  # fmt: skip
        adjusted = admin.post(
            f"/admin/customers/{member.pk}/adjust",
            {"amount": "25", "reason": "Birthday gift", "idempotency_key": "form-1"},
        )

    assert (edited.status_code, adjusted.status_code) == (204, 200)
    reward.refresh_from_db()
    member.refresh_from_db()
    assert (reward.name, reward.points_cost, member.balance) == ("$6 off", 600, 25)
    assert LedgerEntry.objects.filter(member=member, amount=25).count() == 1
    dropped = set(CacheDrop.objects.values_list("key", flat=True))
    assert {f":1:sf:program:{shop.pk}", f":1:mv:s:{shop.pk}", f":1:mv:m:{shop.pk}:9"} <= dropped


@needs_redis
def test_entries_redis_kept_through_an_outage_are_not_served_after_it(
    shop, admin, client, settings, django_capture_on_commit_callbacks
):
    """Redis comes back with what it held before the outage (a restart from its snapshot):
    the program document and the member's versions written before are still in it, yet the
    reads show the writes made while it was down."""
    from tests.storefront_widget.conftest import ProxyClient

    settings.CACHE_RETRY_SECONDS = 0  # no back-off: the next read goes to Redis at once
    live = {"default": dict(settings.CACHES["default"])}
    ProgramFactory(shop=shop)
    reward = RewardFactory(shop=shop, name="$5 off", points_cost=500, value=Decimal("5.00"))
    member = MemberFactory(shop=shop, customer_id=9, email="jane@example.com")
    proxy = ProxyClient(client, shop, 9)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            f"/admin/customers/{member.pk}/adjust",
            {"amount": "100", "reason": "Welcome", "idempotency_key": "form-0"},
        )
    for _ in range(2):  # the first read on a new connection is not stored
        assert proxy.get("api/me").json()["member"]["balance"] == 100
        assert [r["title"] for r in proxy.get("api/program").json()["rewards"]] == ["$5 off"]

    settings.CACHES = resilient_cache(settings, DOWN_URL)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            f"/admin/customers/{member.pk}/adjust",
            {"amount": "25", "reason": "Birthday gift", "idempotency_key": "form-1"},
        )
        reward.name = "$5 off, all week"
        reward.save()
    settings.CACHES = live

    kept = redis.Redis.from_url(live["default"]["LOCATION"])
    assert (
        kept.exists(cache.make_key(f"sf:program:{shop.pk}"), cache.make_key(f"sf:me:{shop.pk}:9"))
        == 2
    )
    assert proxy.get("api/me").json()["member"]["balance"] == 125
    assert [r["title"] for r in proxy.get("api/program").json()["rewards"]] == ["$5 off, all week"]
    assert not CacheDrop.objects.exists()  # applied once, then forgotten
    assert proxy.get("api/me").json()["member"]["balance"] == 125  # cached again, fresh


@needs_redis
def test_a_read_that_had_to_reconnect_is_not_served(
    shop, admin, client, django_capture_on_commit_callbacks
):
    """Redis restarted from its snapshot: the storefront link's connection broke and the read
    reconnects on its own. What it found may predate a write made during the outage, so it is
    not served; the next request applies the recorded drops first."""
    from loyalty.member_versions import member_version_key
    from loyalty.models import Member
    from storefront_widget import redis_link
    from tests.storefront_widget.conftest import ProxyClient

    ProgramFactory(shop=shop)
    member = MemberFactory(shop=shop, customer_id=9, email="jane@example.com")
    proxy = ProxyClient(client, shop, 9)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            f"/admin/customers/{member.pk}/adjust",
            {"amount": "100", "reason": "Welcome", "idempotency_key": "form-0"},
        )
    for _ in range(2):  # cached from the second read on (the first opened the link)
        assert proxy.get("api/me").json()["member"]["balance"] == 100
    # a write during the outage: committed, its drop recorded instead of made
    Member.objects.filter(pk=member.pk).update(balance=125)
    CacheDrop.objects.create(key=cache.make_key(member_version_key(shop.pk, 9)))
    own = redis_link.redis_call(b"CLIENT", b"ID")
    cache._cache.get_client(write=True).client_kill_filter(_id=own)

    first = proxy.get("api/me").json()["member"]["balance"]
    second = proxy.get("api/me").json()["member"]["balance"]

    assert (first, second) == (125, 125)
    assert not CacheDrop.objects.exists()
