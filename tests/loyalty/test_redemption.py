"""Rewards and the redemption saga, with the platform operations replaced by a fake store."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from loyalty.errors import (
    InsufficientPoints,
    InvalidRedemption,
    RedemptionNotCancellable,
    RewardNotAvailable,
)
from loyalty.models import LedgerEntry, Member, Redemption, Reward
from loyalty.services import (
    ledger_verify,
    order_webhook_process,
    points_adjust,
    redemption_cancel,
    redemptions,
    redemptions_expire_due,
    reward_redeem,
    store_issue,
)
from loyalty.tasks import REDEMPTION_ISSUE_MAX_RETRIES
from merchants.errors import ShopifyApiError, ShopifyUserError
from merchants.shopify.operations import CreatedDiscount, DiscountCodeStatus
from tests.loyalty.factories import MemberFactory, RewardFactory, line, order

CODE_RE = re.compile(r"^BEAM-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


class FakeStore:
    """Plays the store's discount API: keeps the codes it created, fails on demand.

    ``failures`` is a queue of what the next create calls do: an exception to raise before
    creating, or ("after", exception) to create the code and then raise (a timeout whose
    request actually succeeded)."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[str, Any]] = {}
        self.creates: list[dict[str, Any]] = []
        self.deactivated: list[str] = []
        self.credits: list[dict[str, Any]] = []
        self.failures: list[Any] = []
        self.always_fail: Exception | None = None
        self.usage: dict[str, int] = {}
        self.deactivate_error: Exception | None = None

    def _create(self, kind: str, code: str, **kwargs: Any) -> CreatedDiscount:
        self.creates.append({"kind": kind, "code": code, **kwargs})
        if self.always_fail is not None:
            raise self.always_fail
        failure = self.failures.pop(0) if self.failures else None
        if isinstance(failure, Exception):
            raise failure
        gid = f"gid://shopify/DiscountCodeNode/{len(self.codes) + 1}"
        self.codes[code] = {"id": gid, "kind": kind, **kwargs}
        if failure is not None:
            raise failure[1]
        return CreatedDiscount(id=gid, code=code)

    def basic_create(self, shop, *, code, **kwargs):
        return self._create("basic", code, **kwargs)

    def free_shipping_create(self, shop, *, code, **kwargs):
        return self._create("free_shipping", code, **kwargs)

    def lookup(self, shop, *, code):
        found = self.codes.get(code)
        if found is None:
            return None
        return DiscountCodeStatus(
            id=found["id"], code=code, status="ACTIVE", usage_count=self.usage.get(code, 0)
        )

    def deactivate(self, shop, *, discount_id):
        if self.deactivate_error is not None:
            raise self.deactivate_error
        self.deactivated.append(discount_id)

    def store_credit(self, shop, *, customer_gid, amount, currency):
        self.credits.append({"customer_gid": customer_gid, "amount": amount, "currency": currency})
        return "gid://shopify/StoreCreditAccountCreditTransaction/1"


@pytest.fixture
def store(monkeypatch) -> FakeStore:
    fake = FakeStore()
    monkeypatch.setattr(redemptions, "discount_code_basic_create", fake.basic_create)
    monkeypatch.setattr(
        redemptions, "discount_code_free_shipping_create", fake.free_shipping_create
    )
    monkeypatch.setattr(redemptions, "discount_code_lookup", fake.lookup)
    monkeypatch.setattr(store_issue, "discount_code_lookup", fake.lookup)
    monkeypatch.setattr(redemptions, "discount_code_deactivate", fake.deactivate)
    monkeypatch.setattr(redemptions, "store_credit_account_credit", fake.store_credit)
    return fake


@pytest.fixture
def member(shop, program) -> Member:
    m = MemberFactory(shop=shop, customer_id=4242)
    points_adjust(
        shop=shop, member=m, amount=1000, reason="seed", actor="t", idempotency_key="seed"
    )
    m.refresh_from_db()
    return m


@pytest.fixture
def reward(shop) -> Reward:
    return RewardFactory(shop=shop, minimum_subtotal=Decimal("20.00"))


@pytest.fixture
def redeem(shop, django_capture_on_commit_callbacks):
    def _redeem(member, reward, key="k1", points=None) -> Redemption:
        with django_capture_on_commit_callbacks(execute=True):
            r = reward_redeem(
                shop=shop, member_id=member.pk, reward_id=reward.pk, points=points, client_key=key
            )
        r.refresh_from_db()
        return r

    return _redeem


def kinds(member) -> list[tuple[str, int]]:
    return list(
        LedgerEntry.objects.filter(member=member).order_by("pk").values_list("kind", "amount")
    )


def test_redeem_success(shop, member, reward, store, redeem):
    r = redeem(member, reward)

    assert r.status == Redemption.Status.ISSUED
    assert CODE_RE.match(r.code)
    assert r.discount_id == "gid://shopify/DiscountCodeNode/1"
    assert (r.points_spent, r.value, r.currency) == (500, Decimal("5.00"), "USD")
    created = store.creates[0]
    assert created["amount"] == Decimal("5.00")
    assert created["customer_gid"] == "gid://shopify/Customer/4242"
    assert created["minimum_subtotal"] == Decimal("20.00")
    assert created["ends_at"] == r.expires_at
    member.refresh_from_db()
    assert (member.balance, member.lifetime_redeemed) == (500, 500)
    assert kinds(member) == [("manual", 1000), ("redeem", -500)]


def test_same_client_key_redeems_once(shop, member, reward, store, redeem):
    first = redeem(member, reward, key="tap")
    second = redeem(member, reward, key="tap")
    assert first.pk == second.pk
    assert len(store.creates) == 1
    assert Member.objects.get(pk=member.pk).balance == 500


def test_insufficient_points_changes_nothing(shop, member, store, redeem):
    expensive = RewardFactory(shop=shop, points_cost=1001)
    with pytest.raises(InsufficientPoints):
        redeem(member, expensive)
    assert Member.objects.get(pk=member.pk).balance == 1000
    assert not Redemption.objects.exists()
    assert kinds(member) == [("manual", 1000)]
    assert store.creates == []


def test_inactive_or_foreign_reward(shop, member, store, redeem):
    with pytest.raises(RewardNotAvailable):
        redeem(member, RewardFactory(shop=shop, active=False))
    with pytest.raises(RewardNotAvailable):
        redeem(member, RewardFactory())  # another shop's reward
    assert Member.objects.get(pk=member.pk).balance == 1000
    assert not Redemption.objects.exists()


def test_store_rejection_refunds_the_points(shop, member, reward, store, redeem):
    store.failures = [ShopifyUserError("Code must be unique")]
    r = redeem(member, reward)
    assert r.status == Redemption.Status.FAILED
    assert "Code must be unique" in r.error
    member.refresh_from_db()
    assert (member.balance, member.lifetime_redeemed) == (1000, 0)
    assert kinds(member) == [("manual", 1000), ("redeem", -500), ("redeem_refund", 500)]
    assert store.codes == {}


def test_transient_failure_then_success_makes_one_code(shop, member, reward, store, redeem):
    store.failures = [ShopifyApiError("502")]
    r = redeem(member, reward)
    assert r.status == Redemption.Status.ISSUED
    assert r.attempts == 2
    assert len(store.codes) == 1
    assert Member.objects.get(pk=member.pk).balance == 500


def test_ambiguous_timeout_is_looked_up_not_created_twice(shop, member, reward, store, redeem):
    store.failures = [("after", ShopifyApiError("read timeout"))]
    r = redeem(member, reward)
    assert r.status == Redemption.Status.ISSUED
    assert len(store.creates) == 1
    assert list(store.codes) == [r.code]
    assert r.discount_id == store.codes[r.code]["id"]


def test_transient_failures_exhausted_refund(shop, member, reward, store, redeem):
    store.always_fail = ShopifyApiError("down")
    r = redeem(member, reward)
    assert r.status == Redemption.Status.FAILED
    assert r.attempts == REDEMPTION_ISSUE_MAX_RETRIES + 1
    assert Member.objects.get(pk=member.pk).balance == 1000
    assert kinds(member)[-1] == ("redeem_refund", 500)


def test_eager_redeem_returns_the_issued_code(transactional_db, shop, member, reward, store):
    r = reward_redeem(shop=shop, member_id=member.pk, reward_id=reward.pk, client_key="now")
    assert r.status == Redemption.Status.ISSUED
    assert r.code in store.codes


def test_cancel_refunds_once(shop, member, reward, store, redeem):
    r = redeem(member, reward)
    cancelled = redemption_cancel(shop=shop, redemption_id=r.pk, actor="staff")
    assert cancelled.status == Redemption.Status.CANCELLED
    assert store.deactivated == [r.discount_id]
    assert Member.objects.get(pk=member.pk).balance == 1000
    with pytest.raises(RedemptionNotCancellable):
        redemption_cancel(shop=shop, redemption_id=r.pk)
    assert Member.objects.get(pk=member.pk).balance == 1000
    assert LedgerEntry.objects.filter(kind="redeem_refund").count() == 1


def test_cancel_of_a_used_code_is_refused(shop, member, reward, store, redeem):
    r = redeem(member, reward)
    store.usage[r.code] = 1
    with pytest.raises(RedemptionNotCancellable):
        redemption_cancel(shop=shop, redemption_id=r.pk)
    r.refresh_from_db()
    assert r.status == Redemption.Status.USED
    assert store.deactivated == []
    assert Member.objects.get(pk=member.pk).balance == 500


def test_cancel_when_the_store_is_down_changes_nothing(shop, member, reward, store, redeem):
    r = redeem(member, reward)
    store.deactivate_error = ShopifyApiError("down")
    with pytest.raises(ShopifyApiError):
        redemption_cancel(shop=shop, redemption_id=r.pk)
    r.refresh_from_db()
    assert r.status == Redemption.Status.ISSUED
    assert Member.objects.get(pk=member.pk).balance == 500


def test_expired_unused_codes_are_deactivated_and_refunded(shop, member, reward, store, redeem):
    r = redeem(member, reward)
    assert redemptions_expire_due(now=timezone.now()) == 0
    later = r.expires_at + timezone.timedelta(seconds=1)
    assert redemptions_expire_due(now=later) == 1
    assert redemptions_expire_due(now=later) == 0
    r.refresh_from_db()
    assert r.status == Redemption.Status.EXPIRED
    assert store.deactivated == [r.discount_id]
    assert Member.objects.get(pk=member.pk).balance == 1000


def test_order_using_the_code_marks_it_used(shop, member, reward, store, redeem):
    r = redeem(member, reward)
    payload = order(9001, [line("30.00")], customer_id=4242, discount_codes=[r.code.lower()])
    order_webhook_process(shop=shop, topic="orders/create", payload=payload, triggered_at=None)
    r.refresh_from_db()
    assert (r.status, r.order_id) == (Redemption.Status.USED, 9001)
    assert redemptions_expire_due(now=r.expires_at + timezone.timedelta(days=1)) == 0
    assert Member.objects.get(pk=member.pk).balance == 500


def test_variable_reward(shop, member, store, redeem):
    slider = RewardFactory(
        shop=shop,
        kind=Reward.Kind.VARIABLE,
        points_cost=None,
        value=0,
        points_per_unit=100,
        value_per_unit=Decimal("1.00"),
        min_points=100,
        max_points=800,
    )
    for bad in (None, 250, 900, 0):
        with pytest.raises(InvalidRedemption):
            redeem(member, slider, key=f"bad{bad}", points=bad)
    assert not Redemption.objects.exists()
    r = redeem(member, slider, points=300)
    assert (r.points_spent, r.value) == (300, Decimal("3.00"))
    assert store.creates[0]["amount"] == Decimal("3.00")
    assert Member.objects.get(pk=member.pk).balance == 700


def test_percentage_free_shipping_free_product_and_store_credit(shop, member, store, redeem):
    pct = RewardFactory(
        shop=shop, kind=Reward.Kind.PERCENTAGE, value=Decimal("10"), points_cost=100
    )
    ship = RewardFactory(shop=shop, kind=Reward.Kind.FREE_SHIPPING, value=0, points_cost=100)
    gift = RewardFactory(
        shop=shop,
        kind=Reward.Kind.FREE_PRODUCT,
        value=0,
        points_cost=100,
        variant_gid="gid://shopify/ProductVariant/5",
    )
    credit = RewardFactory(
        shop=shop, kind=Reward.Kind.STORE_CREDIT, value=Decimal("7.50"), points_cost=100
    )
    for n, reward in enumerate((pct, ship, gift, credit)):
        assert redeem(member, reward, key=f"r{n}").status == Redemption.Status.ISSUED
    assert store.creates[0]["percentage"] == Decimal("0.1")
    assert store.creates[1]["kind"] == "free_shipping"
    assert store.creates[2]["variant_gids"] == ["gid://shopify/ProductVariant/5"]
    assert store.credits == [
        {
            "customer_gid": "gid://shopify/Customer/4242",
            "amount": Decimal("7.50"),
            "currency": "USD",
        }
    ]
    assert Member.objects.get(pk=member.pk).balance == 600
    assert ledger_verify(shop=shop).drifts == []


def test_checkout_redeems_no_store_credit_and_changes_nothing(shop, member, store):
    credit = RewardFactory(
        shop=shop, kind=Reward.Kind.STORE_CREDIT, value=Decimal("7.50"), points_cost=100
    )

    with pytest.raises(InvalidRedemption, match="Store credit cannot be applied as a checkout"):
        reward_redeem(
            shop=shop, member_id=member.pk, reward_id=credit.pk, client_key="c1", channel="checkout"
        )

    assert Member.objects.get(pk=member.pk).balance == 1000
    assert kinds(member) == [("manual", 1000)]
    assert not Redemption.objects.exists()
    assert store.credits == [] and store.creates == []


def test_checkout_codes_live_a_day_other_channels_the_rewards_own_days(
    shop, member, reward, store, django_capture_on_commit_callbacks
):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        checkout = reward_redeem(
            shop=shop, member_id=member.pk, reward_id=reward.pk, client_key="c", channel="checkout"
        )
        account = reward_redeem(
            shop=shop,
            member_id=member.pk,
            reward_id=reward.pk,
            client_key="a",
            channel="customer_account",
        )

    after = timezone.now()
    assert before + timedelta(hours=24) <= checkout.expires_at <= after + timedelta(hours=24)
    own = timedelta(days=reward.code_valid_days)
    assert before + own <= account.expires_at <= after + own
    assert (checkout.channel, account.channel) == ("checkout", "customer_account")
