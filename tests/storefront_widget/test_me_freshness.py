"""The cached ``me`` document is never served stale: after any change of the member's ledger,
balance, orders, profile or redemptions has committed, the next ``me`` shows it. One test per
writer path; each first proves that ``me`` is being served from the cache (no query)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from loyalty import services
from loyalty.member_versions import member_version_key
from loyalty.models import LoyaltyOrder, Member, MemberBirthday, Redemption, Reward
from storefront_widget import rate_limits
from tests.loyalty.factories import line, order, refund
from tests.storefront_widget.conftest import ProxyClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_me(proxy: ProxyClient, django_assert_num_queries: Any) -> Callable[..., dict]:
    """``me`` read twice: the second answer comes from the cache, without a query."""

    def read(client: ProxyClient = proxy) -> dict:
        first = client.get("api/me")
        with django_assert_num_queries(0):
            second = client.get("api/me")
        assert second.status_code == 200 and second.content == first.content
        return second.json()

    return read


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[Callable[[], Any]], Any]:
    """Run a write and its after-commit work, as a real commit would."""

    def run(write: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return write()

    return run


def _issued(member: Member, reward: Reward, code: str, **fields: Any) -> Redemption:
    return Redemption.objects.create(
        shop=member.shop,
        member=member,
        reward=reward,
        points_spent=500,
        value=Decimal("5.00"),
        currency="EUR",
        code=code,
        client_key=code,
        status=Redemption.Status.ISSUED,
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(days=30)),
        **fields,
    )


def test_points_adjustment(proxy, program, member, give_points, cached_me, committed):
    give_points(member, 100, "seed")
    assert cached_me()["member"]["balance"] == 100

    committed(lambda: give_points(member, 40, "gift"))

    data = proxy.get("api/me").json()
    assert data["member"]["balance"] == 140
    assert data["history"]["entries"][0]["amount"] == 40


def test_order_credit_with_pending_points_then_release(
    proxy, program, member, shop, cached_me, committed
):
    program.pending_days = 14
    program.save()
    assert cached_me()["member"]["pending"] == []

    payload = order(4001, [line("30.00")], customer_id=member.customer_id, email=member.email)
    committed(
        lambda: services.order_webhook_process(
            shop=shop, topic="orders/paid", payload=payload, triggered_at=timezone.now()
        )
    )

    data = proxy.get("api/me").json()
    release = LoyaltyOrder.objects.get(shop=shop, order_id=4001).release_at
    assert data["member"]["pending_points"] == 30
    assert data["member"]["pending"] == [
        {"points": 30, "release_at": release.isoformat().replace("+00:00", "Z")}
    ]
    assert cached_me()["member"]["balance"] == 0

    committed(lambda: services.pending_release_due(now=timezone.now() + timedelta(days=15)))

    data = proxy.get("api/me").json()
    assert (data["member"]["balance"], data["member"]["pending"]) == (30, [])


def test_refund_reversal(proxy, program, member, shop, cached_me, committed):
    payload = order(4002, [line("50.00")], customer_id=member.customer_id, email=member.email)
    services.order_webhook_process(
        shop=shop, topic="orders/paid", payload=payload, triggered_at=timezone.now()
    )
    assert cached_me()["member"]["balance"] == 50

    committed(
        lambda: services.refund_webhook_process(shop=shop, payload=refund(77, 4002, [(1, "20.00")]))
    )

    data = proxy.get("api/me").json()
    assert data["member"]["balance"] == 30
    assert data["member"]["lifetime_earned"] == 30


def test_redeem_then_cancel_through_the_api(
    proxy, program, rewards, member, give_points, cached_me, committed
):
    give_points(member, 1200)
    assert cached_me()["redemptions"] == []

    created = committed(
        lambda: proxy.post(
            "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-fresh-000001"}
        )
    ).json()["redemption"]

    data = cached_me()  # issued after commit: the code is there, and cached again
    assert data["member"]["balance"] == 700
    assert data["redemptions"][0]["status"] == "issued"
    assert data["redemptions"][0]["code"].startswith("BEAM-")

    committed(lambda: proxy.post(f"api/redemptions/{created['id']}/cancel", {}))

    data = proxy.get("api/me").json()
    assert data["member"]["balance"] == 1200
    assert data["redemptions"][0]["status"] == "cancelled"


def test_code_used_on_an_order(proxy, program, rewards, member, shop, cached_me, committed):
    _issued(member, rewards["five"], "BEAM-USED-0001")
    assert cached_me()["redemptions"][0]["status"] == "issued"

    payload = order(  # a guest's order: the member's ledger does not move
        4003,
        [line("30.00")],
        customer_id=None,
        email="friend@example.com",
        discount_codes=["BEAM-USED-0001"],
    )
    committed(
        lambda: services.order_webhook_process(
            shop=shop, topic="orders/paid", payload=payload, triggered_at=timezone.now()
        )
    )

    assert proxy.get("api/me").json()["redemptions"][0]["status"] == "used"


def test_code_expiry(proxy, program, rewards, member, cached_me, committed):
    _issued(member, rewards["five"], "BEAM-EXPI-0001", expires_at=timezone.now())
    assert cached_me()["redemptions"][0]["status"] == "issued"

    committed(lambda: services.redemptions_expire_due(now=timezone.now() + timedelta(days=1)))

    data = proxy.get("api/me").json()
    assert data["redemptions"][0]["status"] == "expired"
    assert data["member"]["balance"] == 500  # the points came back


def test_points_expiry(proxy, program, member, give_points, cached_me, committed):
    program.expiry_days = 30
    program.save()
    give_points(member, 80)
    assert cached_me()["member"]["balance"] == 80

    committed(lambda: services.points_expire_due(now=timezone.now() + timedelta(days=31)))

    assert proxy.get("api/me").json()["member"]["balance"] == 0


@pytest.mark.parametrize("welcome", [100, 0])  # without welcome points: no ledger entry
def test_sign_up_turns_the_newcomer_into_a_member(
    proxy, program, shop, customer, cached_me, committed, welcome
):
    program.welcome_points = welcome
    program.save()
    assert cached_me()["member"]["done"] == []

    committed(
        lambda: services.customer_webhook_process(
            shop=shop,
            topic="customers/create",
            payload={"id": customer.id, "email": customer.email, "first_name": "Ada"},
        )
    )

    data = proxy.get("api/me").json()
    assert data["member"]["done"] == ["signup"]
    assert data["member"]["balance"] == welcome


def test_redaction(proxy, program, member, shop, cached_me, committed):
    MemberBirthday.objects.create(shop=shop, member=member, month=5, day=1, year=1990)
    assert cached_me()["member"]["done"] == ["signup", "birthday"]

    committed(
        lambda: services.customer_webhook_process(
            shop=shop, topic="customers/delete", payload={"id": member.customer_id}
        )
    )

    assert proxy.get("api/me").json()["member"]["done"] == ["signup"]


def test_balance_import(proxy, program, member, shop, cached_me, committed):
    assert cached_me()["member"]["balance"] == 0
    csv = f"customer_id,email,first_name,last_name,points\n{member.customer_id},,,,250\n"

    committed(
        lambda: services.members_import_balances(shop=shop, csv_file=io.StringIO(csv), actor="test")
    )

    assert proxy.get("api/me").json()["member"]["balance"] == 250


def test_reward_renamed_shows_in_the_codes(proxy, program, rewards, member, cached_me, committed):
    _issued(member, rewards["five"], "BEAM-NAME-0001")
    assert cached_me()["redemptions"][0]["reward_title"] == "€5 off"

    def rename() -> None:
        rewards["five"].name = "Five euros off"
        rewards["five"].save()

    committed(rename)

    assert proxy.get("api/me").json()["redemptions"][0]["reward_title"] == "Five euros off"


def test_shop_data_erased(proxy, program, member, shop, give_points, cached_me, committed):
    give_points(member, 70)
    assert cached_me()["member"]["balance"] == 70

    committed(lambda: services.shop_data_erase(shop=shop))

    data = proxy.get("api/me").json()
    assert data["member"]["balance"] == 0 and data["member"]["done"] == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the batch path is PostgreSQL's")
def test_batch_crediting(client, settings, monkeypatch, committed, cached_me):
    from merchants import inbox, tasks
    from tests.loyalty.test_crediting import record_all, shop_prepare

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: None)
    shop = shop_prepare("default")  # customer 9001 is a member with 50 points
    shopper = ProxyClient(client, shop, 9001)
    assert cached_me(shopper)["member"]["balance"] == 50
    deliveries = [
        (
            f"paid-{n}",
            "orders/paid",
            order(90_000 + n, [line("10.00")], customer_id=9001, email="c9001@example.com"),
        )
        for n in range(20)
    ]
    record_all(shop, deliveries)

    committed(lambda: inbox.deliveries_drain(shop=shop))

    data = shopper.get("api/me").json()
    assert data["member"]["balance"] == 50 + 20 * 10
    assert data["history"]["entries"][0]["kind"] == "order_earn"


# --- the versions themselves ------------------------------------------------------------------


def test_a_fill_from_before_a_write_is_never_served(proxy, program, member, shop):
    keys = rate_limits.VersionedKeys(
        versions=(member_version_key(shop.pk, member.customer_id),),
        document="test:doc",
        seconds=60,
    )
    before = rate_limits.rate_limit_hits([], read=keys)
    assert before is not None and before.body is None

    from django.core.cache import cache

    cache.delete(member_version_key(shop.pk, member.customer_id))  # a writer commits
    rate_limits.versioned_store(before, b'{"old":true}')  # the slow reader fills late
    after = rate_limits.rate_limit_hits([], read=keys)

    assert after is not None and after.body is None and after.stamp != before.stamp
    rate_limits.versioned_store(after, b'{"new":true}')
    assert rate_limits.rate_limit_hits([], read=keys).body == b'{"new":true}'


def test_cached_me_still_counts_against_the_limits(proxy, program, member, settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer": (2, 3600)}

    codes = [proxy.get("api/me").status_code for _ in range(3)]

    assert codes == [200, 200, 429]


def test_later_history_pages_are_read_fresh(
    proxy, program, member, give_points, django_assert_num_queries
):
    for n in range(1, 15):
        give_points(member, n, f"p{n}")
    token = proxy.get("api/me").json()["history"]["next_page"]

    with django_assert_num_queries(1):
        proxy.get("api/me", page=token)
    with django_assert_num_queries(1):
        later = proxy.get("api/me", page=token).json()

    assert [e["amount"] for e in later["history"]["entries"]] == [4, 3, 2, 1]


def test_tier_settings_saved(proxy, program, member, shop, cached_me, committed):
    from dataclasses import replace

    from loyalty.services.tiers_draft import tier_draft_current
    from loyalty.services.tiers_recompute import tier_settings_save
    from tests.loyalty.tier_helpers import tiers_setup

    tiers_setup(shop, (("Silver", "0", "1", 0),))
    draft = tier_draft_current(shop=shop)
    committed(lambda: tier_settings_save(shop=shop, draft=draft, actor="staff"))  # in Silver
    assert cached_me()["member"]["tier"]["name"] == "Silver"
    renamed = replace(draft, tiers=(replace(draft.tiers[0], name="Argent"),))

    committed(lambda: tier_settings_save(shop=shop, draft=renamed, actor="staff"))

    # A rename moves no member (the recompute writes nothing): the shop's members are re-read.
    assert proxy.get("api/me").json()["member"]["tier"]["name"] == "Argent"
