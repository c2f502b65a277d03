"""Referrals and privacy, through the devstore's signed compliance webhooks: a data request
exports the referrals a member made and received, their code and their birthday, and no
raw IP; a customer's redaction blanks friend emails, hashed IPs and shipping keys without
breaking the other party's referral; shop/redact erases every referral row of the shop
only. Hashed IPs are blanked after the retention limit."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from devstore import services as store
from devstore.models import DevCustomer, DevShop
from loyalty.models import (
    LoyaltyOrder,
    Member,
    MemberBirthday,
    Referral,
    ReferralCode,
    ReferralSettings,
)
from loyalty.rules.referrals import IP_RETENTION, ip_hash
from loyalty.services import member_birthday_set
from loyalty.services.referrals import referral_ip_hashes_purge
from loyalty.services.referrals_rewards import referrals_reward_due
from merchants.models import ComplianceRequest
from tests.storefront_widget.conftest import SECRET, ProxyClient
from tests.storefront_widget.referral_world import FRIEND_IP, World, world_factory

pytestmark = pytest.mark.django_db

HASH = ip_hash(FRIEND_IP, SECRET)
GRACE_HOME = {"address1": "1 Navy Yard", "zip": "20374", "country_code": "US"}
LATER = timedelta(days=15)


@pytest.fixture
def make_world(client: Any, django_capture_on_commit_callbacks: Any, settings: Any) -> Any:
    return world_factory(client, django_capture_on_commit_callbacks, settings)


class Story:
    """Ada referred Grace (who ordered with her code, to her own address) and Bob (who only
    claimed); Grace referred Hal (who only claimed). Ada gave her birthday."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.grace_ref = world.claim("grace@example.org")
        self.grace = world.customer("grace@example.org", "Grace", "Hopper")
        self.order = world.buy(self.grace, self.grace_ref.code, ship_to=GRACE_HOME)
        self.bob_ref = world.claim("bob@example.org")
        self.bob = world.customer("bob@example.org", "Bob", "Kahn")
        grace_proxy = ProxyClient(world.proxy.client, world.shop, self.grace.id)
        self.grace_code = grace_proxy.get("api/me").json()["referral"]["code"]
        self.hal_ref = world.claim("hal@example.org", code=self.grace_code)
        member_birthday_set(shop=world.shop, customer_id=world.ada.id, month=12, day=10)
        for row in (self.grace_ref, self.bob_ref, self.hal_ref):
            row.refresh_from_db()

    def compliance(self, send: Any, *args: Any) -> None:
        with self.world.capture(execute=True):
            send(*args)

    def export(self, customer: DevCustomer) -> dict[str, Any]:
        self.compliance(store.compliance_customer_data_request, customer)
        request = ComplianceRequest.objects.filter(
            shop=self.world.shop, topic="customers/data_request", customer_id=customer.id
        ).latest("pk")
        assert FRIEND_IP not in json.dumps(request.result, default=str)
        return request.result["loyalty"]

    def redact(self, customer: DevCustomer) -> None:
        self.compliance(store.compliance_customer_redact, customer)


@pytest.fixture
def story(make_world: Any) -> Story:
    return Story(make_world())


def _rows(referrals: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("friend_email", "status", "reason", "code", "order", "reward_points", "ip_hash")
    return [tuple(r[k] for k in keys) for r in referrals]


def test_a_data_request_exports_referrals_made_and_received_code_and_birthday(story):
    ada = story.export(story.world.ada)
    assert ada["referral_code"] == story.world.code
    assert ada["member"]["birthday"] == {"month": 12, "day": 10, "year": None}
    assert _rows(ada["referrals_made"]) == [
        (
            "grace@example.org",
            "ordered",
            "",
            story.grace_ref.code,
            story.order.payload["name"],
            0,
            HASH,
        ),
        ("bob@example.org", "pending", "", story.bob_ref.code, "", 0, HASH),
    ]
    assert ada["referrals_received"] == []

    grace = story.export(story.grace)
    assert grace["referral_code"] == story.grace_code
    assert _rows(grace["referrals_received"]) == _rows(ada["referrals_made"][:1])
    assert _rows(grace["referrals_made"]) == [
        ("hal@example.org", "pending", "", story.hal_ref.code, "", 0, HASH)
    ]

    # a friend who only claimed (never ordered) finds their referral too
    bob = story.export(story.bob)
    assert _rows(bob["referrals_received"]) == _rows(ada["referrals_made"][1:])


def test_a_friends_redaction_blanks_their_traces_and_the_advocate_is_still_rewarded(story):
    story.redact(story.grace)

    row = Referral.objects.get(pk=story.grace_ref.pk)
    assert (row.friend_email, row.friend_key, row.ip_hash, row.reason_detail) == (
        "",
        f"redacted:{row.pk}",
        "",
        "",
    )
    assert (row.status, row.code, row.order_id) == ("ordered", story.grace_ref.code, story.order.id)
    order = LoyaltyOrder.objects.get(shop=story.world.shop, order_id=story.order.id)
    assert (order.email, order.ship_key) == ("", "")
    # Grace as an advocate: Hal's email and IP go, Hal's row and code stay usable
    hal = Referral.objects.get(pk=story.hal_ref.pk)
    assert (hal.friend_email, hal.ip_hash, hal.status, hal.code) == (
        "",
        "",
        "pending",
        story.hal_ref.code,
    )
    # Ada's and Bob's rows are untouched
    bob = Referral.objects.get(pk=story.bob_ref.pk)
    assert (bob.friend_email, bob.ip_hash) == ("bob@example.org", HASH)

    # the advocate's side still works: the reward comes after the pending period, once
    assert referrals_reward_due(now=timezone.now() + LATER) == 1
    assert story.world.rewards() == [(story.order.payload["name"], 500)]
    made = story.export(story.world.ada)["referrals_made"]
    assert _rows(made)[0] == ("", "completed", "", story.grace_ref.code, "#1001", 500, "")
    assert "grace@example.org" not in json.dumps(made)


def test_an_advocates_redaction_keeps_the_friends_referral_working(story):
    story.redact(story.world.ada)

    assert not MemberBirthday.objects.filter(shop=story.world.shop).exists()
    advocate = Member.objects.get(pk=story.world.advocate.pk)
    assert (advocate.redacted, advocate.email, advocate.first_name) == (True, "", "")
    rows = Referral.objects.filter(advocate=advocate).order_by("pk")
    assert list(rows.values_list("friend_email", "ip_hash", "status", "code")) == [
        ("", "", "ordered", story.grace_ref.code),
        ("", "", "pending", story.bob_ref.code),
    ]
    # Bob can still use the code he was given; Grace's order still counts for the shop
    world = story.world
    order = world.buy(story.bob, story.bob_ref.code)
    bob = Referral.objects.get(pk=story.bob_ref.pk)
    assert (bob.status, bob.order_id, bob.friend_customer_id) == ("ordered", order.id, story.bob.id)
    grace = story.export(story.grace)["referrals_received"]
    assert _rows(grace) == [("", "ordered", "", story.grace_ref.code, "#1001", 0, "")]
    # Hal, referred by Grace, is untouched; the redacted advocate's link is gone
    hal = Referral.objects.get(pk=story.hal_ref.pk)
    assert (hal.friend_email, hal.ip_hash) == ("hal@example.org", HASH)
    assert world.proxy.get(f"api/referrals/{world.code}", customer=None).status_code == 404


def test_shop_redact_erases_every_referral_row_of_that_shop_only(make_world):
    other = Story(make_world(domain="other-refer.myshopify.com"))
    story = Story(make_world())
    dev_shop = DevShop.objects.get(pk=story.world.dev_shop.pk)
    store.app_uninstall(dev_shop)
    story.compliance(store.compliance_shop_redact, DevShop.objects.get(pk=dev_shop.pk))

    for model in (Referral, ReferralCode, ReferralSettings, MemberBirthday):
        assert not model.objects.filter(shop=story.world.shop).exists(), model.__name__
        assert model.objects.filter(shop=other.world.shop).exists(), model.__name__
    assert Referral.objects.filter(shop=other.world.shop).count() == 3


def test_hashed_ips_are_blanked_after_the_retention_limit_and_newer_ones_kept(story):
    now = timezone.now()
    Referral.objects.filter(pk=story.grace_ref.pk).update(
        created_at=now - IP_RETENTION - timedelta(minutes=1)
    )
    Referral.objects.filter(pk=story.bob_ref.pk).update(
        created_at=now - IP_RETENTION + timedelta(minutes=1)
    )

    assert referral_ip_hashes_purge(now=now) == 1
    assert referral_ip_hashes_purge(now=now) == 0
    hashes = dict(Referral.objects.values_list("pk", "ip_hash"))
    assert hashes == {story.grace_ref.pk: "", story.bob_ref.pk: HASH, story.hal_ref.pk: HASH}
    # the rows themselves stay whole
    assert Referral.objects.get(pk=story.grace_ref.pk).status == "ordered"

    Referral.objects.update(created_at=F("created_at") - IP_RETENTION)
    assert referral_ip_hashes_purge() == 2
    assert set(Referral.objects.values_list("ip_hash", flat=True)) == {""}
