"""Fixed query counts, the per-shop program cache with ETag, its invalidation, no platform
call on a read path, and the rate limits."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from loyalty.models import LoyaltyProgram
from storefront_widget import rate_limits
from storefront_widget.errors import RateLimited
from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db


def test_program_hits_the_database_only_when_not_cached(
    proxy, program, rewards, django_assert_num_queries
):
    # shop, program, bonus events, rewards, earning actions, tiers, referral settings
    with django_assert_num_queries(7):
        first = proxy.get("api/program")
    with django_assert_num_queries(0):  # shop and program both from the shared cache
        second = proxy.get("api/program")

    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert first["Cache-Control"] == "public, max-age=30, stale-while-revalidate=300"


def test_program_query_count_does_not_grow_with_the_catalogue(
    proxy, program, shop, django_assert_num_queries
):
    for n in range(30):
        RewardFactory(shop=shop, name=f"r{n}", points_cost=100 + n, value=Decimal("1.00"))

    with django_assert_num_queries(7):
        response = proxy.get("api/program")

    assert len(response.json()["rewards"]) == 30


def test_if_none_match_gets_304_without_a_body(proxy, program, rewards):
    etag = proxy.get("api/program")["ETag"]

    response = proxy.get("api/program", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


@pytest.mark.parametrize("change", ["branding", "reward_added", "reward_edited", "shop_renamed"])
def test_program_cache_is_invalidated_when_the_program_changes(
    proxy, program, rewards, shop, change
):
    before = proxy.get("api/program")

    if change == "branding":
        program.branding = {**program.branding, "primary_color": "#000000"}
        program.save()
    elif change == "reward_added":
        RewardFactory(shop=shop, name="New", points_cost=50, value=Decimal("1.00"))
    elif change == "reward_edited":
        rewards["five"].points_cost = 450
        rewards["five"].save()
    else:
        shop.name = "Renamed Store"
        shop.save()
    after = proxy.get("api/program", headers={"If-None-Match": before["ETag"]})

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    data = after.json()
    expected = {
        "branding": lambda: data["branding"]["primary_color"] == "#000000",
        "reward_added": lambda: "New" in [r["title"] for r in data["rewards"]],
        "reward_edited": lambda: 450 in [r["points_cost"] for r in data["rewards"]],
        "shop_renamed": lambda: data["shop"]["name"] == "Renamed Store",
    }
    assert expected[change]()


def test_program_cache_is_per_shop(client, proxy, program, rewards):
    from django.utils import timezone

    from merchants.models import Shop
    from tests.storefront_widget.conftest import ProxyClient

    other = Shop(domain="other-sf.myshopify.com", name="Other", installed_at=timezone.now())
    other.access_token = "shpat_other"
    other.save()

    mine = proxy.get("api/program").json()
    theirs = ProxyClient(client, other, None).get("api/program").json()

    assert mine["shop"]["name"] == "Demo Store" and len(mine["rewards"]) == 3
    assert theirs["shop"]["name"] == "Other" and theirs["rewards"] == []


def test_me_query_count_is_fixed_whatever_the_history(
    proxy, program, rewards, member, give_points, django_assert_num_queries
):
    for n in range(1, 40):
        give_points(member, n, f"gift {n}")
    proxy.get("api/program")  # the shop is now in the cache, as on a busy storefront
    # member row with birthday and history, awards, codes, referral settings (off)
    with django_assert_num_queries(4):
        data = proxy.get("api/me").json()
    with django_assert_num_queries(1):  # a later page: member row with its history page
        proxy.get("api/me", page=data["history"]["next_page"])
    with django_assert_num_queries(0):  # a guest
        proxy.get("api/me", customer=None)


def test_me_of_a_member_without_history_or_of_a_newcomer(
    proxy, program, member, other_customer, django_assert_num_queries
):
    proxy.get("api/program")
    with django_assert_num_queries(4):  # member row (no history), awards, codes, referrals
        data = proxy.get("api/me").json()
    with django_assert_num_queries(2):  # no member row; referral settings
        newcomer = proxy.get("api/me", customer=other_customer.id).json()

    assert data["member"]["balance"] == 0 and data["member"]["done"] == ["signup"]
    assert newcomer["member"]["done"] == [] and newcomer["redemptions"] == []


def test_me_with_pending_points_lists_them_with_one_more_query(
    proxy, program, member, shop, django_assert_num_queries
):
    from datetime import timedelta

    from django.utils import timezone

    from loyalty.models import LoyaltyOrder

    release = timezone.now() + timedelta(days=14)
    LoyaltyOrder.objects.create(
        shop=shop,
        order_id=1,
        member=member,
        state="credited",
        points_earned=45,
        points_pending=45,
        release_at=release,
    )
    member.pending_points = 45
    member.save()

    # shop (cold), member with history, awards, pending, codes, referral settings
    with django_assert_num_queries(6):
        data = proxy.get("api/me").json()

    assert data["member"]["pending"] == [
        {"points": 45, "release_at": release.isoformat().replace("+00:00", "Z")}
    ]


def test_uninstall_takes_effect_at_once_despite_the_shop_cache(proxy, program, shop):
    from django.utils import timezone

    assert proxy.get("api/program").status_code == 200
    shop.uninstalled_at = timezone.now()
    shop.save(update_fields=["uninstalled_at"])

    assert proxy.get("api/program").status_code == 403


def test_read_paths_make_no_platform_call(proxy, program, rewards, member, platform_http):
    proxy.get("api/program")
    proxy.get("api/me")
    proxy.get("")

    assert len(platform_http.calls) == 0


def test_rate_limit_per_customer_is_429_with_retry_after(proxy, program, settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer": (3, 3600)}

    codes = [proxy.get("api/me").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    response = proxy.get("api/me")
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert proxy.get("api/me", customer=None).status_code == 200  # others are not limited


def test_rate_limit_per_shop_covers_guests_and_the_landing_page(proxy, program, settings):
    settings.STOREFRONT_RATE_LIMITS = {"shop": (2, 3600)}

    codes = [
        proxy.get("api/program", customer=None).status_code,
        proxy.get("", customer=None).status_code,
        proxy.get("api/program", customer=None).status_code,
    ]

    assert codes == [200, 200, 429]


def test_writes_have_their_own_stricter_limit(proxy, program, member, settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer_write": (1, 3600)}

    first = proxy.post("api/redeem", {"reward_id": "999", "client_key": "k-limit-00001"})
    second = proxy.post("api/redeem", {"reward_id": "999", "client_key": "k-limit-00002"})

    assert first.status_code == 404
    assert second.status_code == 429
    assert proxy.get("api/me").status_code == 200


def test_window_rolls_over(settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer": (1, 10)}
    start = 1_000_000.0

    rate_limits.rate_limit_hit(scope="customer", ident="x", now=start)
    with pytest.raises(RateLimited) as caught:
        rate_limits.rate_limit_hit(scope="customer", ident="x", now=start + 5)
    rate_limits.rate_limit_hit(scope="customer", ident="x", now=start + 10)

    assert caught.value.retry_after == 5


def _hammer(args: tuple[str, str, int]) -> int:
    """One process: its own Redis connection, ``n`` hits; returns how many were allowed."""
    import django

    django.setup()
    from django.core.cache import cache

    from storefront_widget import rate_limits as limits

    ident, _, n = args
    allowed = 0
    for _ in range(n):
        try:
            limits.rate_limit_hit(scope="customer", ident=ident)
            allowed += 1
        except limits.RateLimited:
            pass
    cache.close()
    return allowed


@pytest.mark.skipif(
    "RedisCache" not in __import__("django.conf").conf.settings.CACHES["default"]["BACKEND"],
    reason="needs the Redis cache (REDIS_URL)",
)
def test_limit_is_exact_across_processes_on_redis(settings):
    import multiprocessing

    settings.STOREFRONT_RATE_LIMITS = {"customer": (50, 3600)}
    ident = f"race-{time.time_ns()}"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        allowed = pool.map(_hammer, [(ident, "", 40)] * 4)

    assert sum(allowed) == 50


def test_program_disabled_hides_rewards_and_earning(proxy, program, rewards):
    LoyaltyProgram.objects.filter(pk=program.pk).update(enabled=False)
    from storefront_widget.selectors import program_cache_invalidate

    program_cache_invalidate(shop_id=program.shop_id)

    data = proxy.get("api/program").json()

    assert data["enabled"] is False and data["rewards"] == [] and data["earning"] == []


def test_per_process_memo_serves_without_a_round_trip_and_follows_local_saves(
    proxy, program, rewards, settings, django_assert_num_queries
):
    from django.core.cache import cache

    settings.STOREFRONT_LOCAL_CACHE_SECONDS = 2
    first = proxy.get("api/program")
    cache.clear()  # the shared cache is gone: the memo still answers, without the database
    with django_assert_num_queries(0):
        second = proxy.get("api/program")
    program.branding = {**program.branding, "primary_color": "#123456"}
    program.save()  # this process drops its memo at once
    third = proxy.get("api/program")

    assert first.content == second.content
    assert third.json()["branding"]["primary_color"] == "#123456"
