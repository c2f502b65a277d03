"""Referrals end to end through the devstore: the advocate's link (signed app-proxy GET),
the friend's claim (signed POST: the code is created in the simulated store), the friend's
order paid with the code through the signed webhook path, the pending period, the
advocate's reward; fraud checks block with their reason and an unblock gives the reward
once; another shop never sees the referral."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from devstore import services as store
from devstore.models import DevDiscountCode
from devstore.webhooks import webhook_outbox
from loyalty.models import AuditEvent, LedgerEntry, Member, Referral, ReferralSettings
from loyalty.services.referrals_rewards import referral_unblock, referrals_reward_due
from tests.loyalty.factories import ProgramFactory
from tests.storefront_widget.conftest import ProxyClient
from tests.storefront_widget.extension_helpers import devstore_with_beam

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(settings: Any, client: Any, django_capture_on_commit_callbacks: Any) -> Any:
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam("refer.myshopify.com")
    ProgramFactory(
        shop=shop, points_per_currency_unit=Decimal("1"), welcome_points=0, pending_days=14
    )
    ReferralSettings.objects.create(
        shop=shop, enabled=True, offer_value=Decimal("10"), reward_points=500
    )
    with django_capture_on_commit_callbacks(execute=True):
        ada = store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    advocate, _ = Member.objects.update_or_create(
        shop=shop,
        customer_id=ada.id,
        defaults={"email": ada.email, "first_name": "Ada", "last_name": "Lovelace"},
    )
    return dev_shop, shop, ada, advocate, ProxyClient(client, shop, ada.id)


def _code_of(proxy: ProxyClient) -> str:
    block = proxy.get("api/me").json()["referral"]
    return block["code"]


def _buy(dev_shop: Any, customer: Any, code: str, capture: Any, price: str = "50.00") -> Any:
    product = store.product_create(dev_shop, f"Item {price}", Decimal(price))
    with capture(execute=True), webhook_outbox():
        return store.order_place(
            dev_shop, customer=customer, lines=[(product.variants.get(), 1)], discount_code=code
        )


def _claim(proxy: ProxyClient, code: str, email: str, capture: Any) -> str:
    with capture(execute=True):
        proxy.post(f"api/referrals/{code}/claim", {"email": email}, None)
    return Referral.objects.get(friend_email=email).code or ""


def _referral_points(advocate: Member) -> list[tuple[str, int]]:
    return list(
        LedgerEntry.objects.filter(member=advocate, kind="referral").values_list("note", "amount")
    )


def test_link_claim_order_pending_period_reward(env, django_capture_on_commit_callbacks):
    dev_shop, _shop, _ada, advocate, proxy = env
    me = proxy.get("api/me").json()["referral"]
    code = me["code"]
    # on the store's own domain (the devstore's store in the tests' settings)
    assert me["url"] == f"http://beam.test/devstore/refer.myshopify.com/apps/beam/r/{code}"
    assert me["share"]["facebook"].startswith("https://www.facebook.com/sharer/sharer.php?u=")
    assert set(me["share"]) == {"facebook", "x"}  # the panel writes the email in its language
    assert me["counts"] == {
        "pending": 0,
        "ordered": 0,
        "completed": 0,
        "blocked": 0,
        "cancelled": 0,
    }

    # the friend follows the link (a guest) and lands on the store with the code
    visit = proxy.get(f"r/{code}", customer=None)
    assert visit.status_code == 302
    assert visit["Location"] == f"http://beam.test/devstore/refer.myshopify.com/?beam_ref={code}"
    offer = proxy.get(f"api/referrals/{code}", customer=None).json()
    assert offer == {
        "advocate": "Ada",
        "offer": {
            "kind": "amount",
            "value": "10.00",
            "minimum": None,
            "first_order_only": True,
            "label": "10.00 USD off",
        },
    }

    # the friend claims: a one-time code, created in the store, the same on a second claim
    with django_capture_on_commit_callbacks(execute=True):
        claim = proxy.post(f"api/referrals/{code}/claim", {"email": "Bob@Example.com"}, None)
    assert claim.status_code == 200, claim.content
    assert claim.json()["referral"]["status"] == "pending"  # created after the commit
    again = proxy.post(f"api/referrals/{code}/claim", {"email": "BOB+x@example.com"}, None)
    friend_code = again.json()["referral"]["code"]
    assert again.json()["referral"]["status"] == "issued" and friend_code.startswith("FRIEND-")
    assert Referral.objects.count() == 1
    stored = DevDiscountCode.objects.get(shop=dev_shop, code=friend_code)
    assert (stored.usage_limit, stored.customer_ids) == (1, [])

    # the friend's paid order with the code: ordered, the reward due after 14 days
    with django_capture_on_commit_callbacks(execute=True):
        bob = store.customer_create(dev_shop, "bob@example.com", "Bob", "Builder")
    order = _buy(dev_shop, bob, friend_code, django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    assert referral.status == "ordered" and referral.order_id == order.id
    assert referrals_reward_due() == 0
    assert _referral_points(advocate) == []

    later = timezone.now() + timedelta(days=15)
    assert referrals_reward_due(now=later) == 1
    assert referrals_reward_due(now=later) == 0  # once
    referral.refresh_from_db()
    assert (referral.status, referral.reward_points) == ("completed", 500)
    assert _referral_points(advocate) == [(order.payload["name"], 500)]
    assert proxy.get("api/me").json()["referral"]["counts"]["completed"] == 1


def test_a_refund_inside_the_pending_period_cancels_the_reward(
    env, django_capture_on_commit_callbacks
):
    dev_shop, _shop, _ada, advocate, proxy = env
    code = _code_of(proxy)
    friend_code = _claim(proxy, code, "cy@example.com", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cy = store.customer_create(dev_shop, "cy@example.com", "Cy", "Young")
    order = _buy(dev_shop, cy, friend_code, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True), webhook_outbox():
        store.order_cancel(order)

    referrals_reward_due(now=timezone.now() + timedelta(days=15))
    referral = Referral.objects.get()
    assert (referral.status, referral.reason) == ("cancelled", "order_cancelled")
    assert _referral_points(advocate) == []


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("Ada+friend@example.com", "similar_email"),
        ("someone@mailinator.com", "disposable_email"),
    ],
)
def test_a_claim_failing_a_fraud_check_is_blocked_with_its_reason_and_gets_no_code(
    env, django_capture_on_commit_callbacks, email, reason
):
    dev_shop, _shop, _ada, _advocate, proxy = env
    code = _code_of(proxy)
    with django_capture_on_commit_callbacks(execute=True):
        response = proxy.post(f"api/referrals/{code}/claim", {"email": email}, None)
    assert response.json()["referral"] == {"status": "refused", "code": None, "expires_at": None}
    referral = Referral.objects.get()
    assert (referral.status, referral.reason) == ("blocked", reason)
    assert not DevDiscountCode.objects.filter(shop=dev_shop).exists()


def test_an_order_placed_by_the_advocate_is_blocked_and_an_unblock_rewards_once(
    env, django_capture_on_commit_callbacks
):
    dev_shop, shop, ada, advocate, proxy = env
    code = _code_of(proxy)
    friend_code = _claim(proxy, code, "dee@example.com", django_capture_on_commit_callbacks)
    _buy(dev_shop, ada, friend_code, django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    assert (referral.status, referral.reason) == ("blocked", "placed_by_advocate")
    assert referrals_reward_due(now=timezone.now() + timedelta(days=15)) == 0

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: referral.reward_due_at + timedelta(seconds=1))
        referral_unblock(shop=shop, referral_id=referral.pk, actor="owner@shop")
    referrals_reward_due(now=timezone.now() + timedelta(days=30))
    referral.refresh_from_db()
    assert referral.status == "completed"
    assert [a for _, a in _referral_points(advocate)] == [500]
    assert AuditEvent.objects.filter(action="referral.unblock").count() == 1


def test_ten_claims_from_one_ip_in_a_week_block_the_tenth(env, settings):
    settings.STOREFRONT_RATE_LIMITS = {"referral_claim": (100, 600)}
    _dev_shop, _shop, _ada, _advocate, proxy = env
    code = _code_of(proxy)
    for n in range(10):
        proxy.post(f"api/referrals/{code}/claim", {"email": f"f{n}@example.org"}, None)
    statuses = list(Referral.objects.order_by("pk").values_list("status", "reason"))
    assert statuses[:9] == [("pending", "")] * 9
    assert statuses[9] == ("blocked", "ip_volume")
    assert all(len(h) == 64 for h in Referral.objects.values_list("ip_hash", flat=True))


def test_bad_input_unknown_code_and_another_shop(env, client):
    _dev_shop, _shop, _ada, _advocate, proxy = env
    code = _code_of(proxy)
    bad = proxy.post(f"api/referrals/{code}/claim", {"email": "not an email"}, None)
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {
        "email": ["Enter a valid email address."]
    }
    assert proxy.get("api/referrals/ZZZZZZZ", customer=None).status_code == 404
    _, other = devstore_with_beam("other-refer.myshopify.com")
    ReferralSettings.objects.create(shop=other, enabled=True)
    theirs = ProxyClient(client, other, None)
    assert theirs.get(f"api/referrals/{code}").status_code == 404
    response = theirs.post(f"api/referrals/{code}/claim", {"email": "x@example.com"})
    assert response.status_code == 404
    assert not Referral.objects.exists()
