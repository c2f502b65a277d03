"""The redemption saga against the devstore (no fake store): the real operations and
client create, look up and deactivate codes in the simulated shop, and failures are made
on the platform HTTP mock, as a flaky network would."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from devstore import services as store
from devstore.errors import DiscountCodeRefused
from devstore.models import DevAppToken, DevDiscountCode
from loyalty.errors import RedemptionNotCancellable
from loyalty.models import LedgerEntry, Member, Redemption, Reward
from loyalty.services import (
    ledger_verify,
    points_adjust,
    redemption_cancel,
    redemptions,
    redemptions_expire_due,
    reward_redeem,
)
from loyalty.tasks import REDEMPTION_ISSUE_MAX_RETRIES
from merchants.models import Shop
from merchants.shopify import client as client_module
from tests.loyalty.factories import MemberFactory, ProgramFactory, RewardFactory
from tests.platform_http import _serve_in_process

DOMAIN = "saga-store.myshopify.com"
GRAPHQL = (
    f"http://beam.test/devstore/{DOMAIN}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
)


def ledger(member) -> list[tuple[str, int]]:
    return list(
        LedgerEntry.objects.filter(member=member).order_by("pk").values_list("kind", "amount")
    )


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).balance


def _is_create(request) -> bool:
    return b"discountCodeBasicCreate" in (request.body or b"")


def test_success_creates_a_single_use_code_for_that_customer_only(
    dev_shop, customer, member, reward, redeem
) -> None:
    r = redeem(member, reward)

    assert r.status == Redemption.Status.ISSUED and r.attempts == 1
    code = DevDiscountCode.objects.get(shop=dev_shop)
    assert code.code == r.code and code.gid == r.discount_id
    assert code.customer_ids == [customer.id]
    assert (code.usage_limit, code.applies_once_per_customer) == (1, True)
    assert (code.value_type, code.value, code.minimum_subtotal) == (
        "fixed_amount",
        Decimal("10.00"),
        Decimal("20.00"),
    )
    assert abs(code.ends_at - r.expires_at) < timedelta(seconds=1)
    assert code.title == f"Beam reward: $10 off ({r.code})"
    assert balance(member) == 500
    assert ledger(member) == [("manual", 1000), ("redeem", -500)]
    # the store enforces it: another shopper is refused, so is an order under the minimum
    lamp = store.product_create(dev_shop, "Lamp", Decimal("15.00")).variants.get()
    grace = store.customer_create(dev_shop, "grace@example.com", "Grace", "Hopper")
    with pytest.raises(DiscountCodeRefused):
        store.order_place(dev_shop, customer=grace, lines=[(lamp, 2)], discount_code=r.code)
    with pytest.raises(DiscountCodeRefused):
        store.order_place(dev_shop, customer=customer, lines=[(lamp, 1)], discount_code=r.code)


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        (Reward.Kind.PERCENTAGE, {"value": Decimal("15")}, ("percentage", Decimal("0.15"))),
        (Reward.Kind.FREE_SHIPPING, {}, ("free_shipping", Decimal("0"))),
    ],
)
def test_percentage_and_free_shipping_codes(
    shop, dev_shop, member, redeem, kind, fields, expected
) -> None:
    reward = RewardFactory(shop=shop, kind=kind, points_cost=200, **fields)

    r = redeem(member, reward)

    assert r.status == Redemption.Status.ISSUED
    code = DevDiscountCode.objects.get(shop=dev_shop)
    assert (code.value_type, code.value) == expected
    assert balance(member) == 800


def test_store_credit_reward_credits_the_customers_account(shop, customer, member, redeem) -> None:
    reward = RewardFactory(
        shop=shop, kind=Reward.Kind.STORE_CREDIT, points_cost=300, value=Decimal("7.50")
    )

    r = redeem(member, reward)

    assert r.status == Redemption.Status.ISSUED
    assert r.discount_id.startswith("gid://shopify/")
    customer.refresh_from_db()
    assert customer.store_credit == Decimal("7.50")
    assert balance(member) == 700


def test_store_rejection_gives_the_points_back(
    dev_shop, member, reward, redeem, monkeypatch
) -> None:
    # a merchant's own discount already uses the code Beam picks: the store refuses it
    store.discount_code_create(dev_shop, code="BEAM-TAKN-CODE", title="Merchant code")
    monkeypatch.setattr(redemptions, "redemption_code_generate", lambda: "BEAM-TAKN-CODE")

    r = redeem(member, reward)

    assert r.status == Redemption.Status.FAILED
    assert "rejected by the store" in r.error
    assert balance(member) == 1000
    assert ledger(member) == [("manual", 1000), ("redeem", -500), ("redeem_refund", 500)]
    assert list(DevDiscountCode.objects.values_list("title", flat=True)) == ["Merchant code"]


def test_store_down_then_back_retries_and_makes_one_code(
    dev_shop, member, reward, redeem, platform_http
) -> None:
    failures = {"left": client_module.DEFAULT_MAX_ATTEMPTS}  # one whole client call fails

    def flaky(request):
        if _is_create(request) and failures["left"] > 0:
            failures["left"] -= 1
            return 503, {}, "Service Unavailable"
        return _serve_in_process(request)

    platform_http.add_callback("POST", GRAPHQL, callback=flaky)

    r = redeem(member, reward)

    assert failures["left"] == 0
    assert r.status == Redemption.Status.ISSUED and r.attempts == 2
    assert list(DevDiscountCode.objects.values_list("code", flat=True)) == [r.code]
    assert balance(member) == 500


def test_timeout_after_the_store_created_the_code_is_not_refunded(
    dev_shop, member, reward, redeem, platform_http
) -> None:
    """The create reached the store but the answer was lost; the retry of the same create is
    refused as a duplicate. The code exists and can be used, so the redemption is issued
    with it (never a usable code with the points given back)."""
    timeouts = {"left": 1}

    def created_then_timed_out(request):
        answer = _serve_in_process(request)
        if _is_create(request) and timeouts["left"] > 0:
            timeouts["left"] -= 1
            raise requests.ReadTimeout("read timed out")
        return answer

    platform_http.add_callback("POST", GRAPHQL, callback=created_then_timed_out)

    r = redeem(member, reward)

    code = DevDiscountCode.objects.get(shop=dev_shop)
    assert r.status == Redemption.Status.ISSUED
    assert (r.code, r.discount_id) == (code.code, code.gid)
    assert balance(member) == 500
    assert ledger(member) == [("manual", 1000), ("redeem", -500)]


def test_store_down_for_good_gives_the_points_back(
    dev_shop, member, reward, redeem, platform_http
) -> None:
    platform_http.add("POST", GRAPHQL, status=503)

    r = redeem(member, reward)

    assert r.status == Redemption.Status.FAILED
    assert r.attempts == REDEMPTION_ISSUE_MAX_RETRIES + 1
    assert "store unavailable" in r.error
    assert not DevDiscountCode.objects.exists()
    assert balance(member) == 1000
    assert ledger(member)[-1] == ("redeem_refund", 500)


def test_expired_unused_code_is_deactivated_in_the_store_and_refunded(
    dev_shop, member, reward, redeem
) -> None:
    r = redeem(member, reward)

    assert redemptions_expire_due(now=r.expires_at + timedelta(seconds=1)) == 1
    assert redemptions_expire_due(now=r.expires_at + timedelta(days=1)) == 0

    r.refresh_from_db()
    assert r.status == Redemption.Status.EXPIRED
    code = DevDiscountCode.objects.get(shop=dev_shop)
    assert code.status == DevDiscountCode.Status.DEACTIVATED
    assert store.discount_code_status(code) == "EXPIRED"
    assert balance(member) == 1000
    assert ledger(member) == [("manual", 1000), ("redeem", -500), ("redeem_refund", 500)]


def test_expiry_of_a_code_the_store_saw_used_marks_it_used_without_refund(
    dev_shop, customer, member, reward, redeem
) -> None:
    r = redeem(member, reward)
    lamp = store.product_create(dev_shop, "Lamp", Decimal("30.00")).variants.get()
    # the order used it but Beam has not seen that order's webhook (not installed for it here)
    DevDiscountCode.objects.filter(code=r.code).update(usage_count=1)

    assert redemptions_expire_due(now=r.expires_at + timedelta(seconds=1)) == 0

    r.refresh_from_db()
    assert r.status == Redemption.Status.USED
    assert balance(member) == 500
    assert lamp is not None


def test_cancel_deactivates_in_the_store_and_refunds_once(
    shop, dev_shop, member, reward, redeem
) -> None:
    r = redeem(member, reward)

    cancelled = redemption_cancel(shop=shop, redemption_id=r.pk, actor="shopper")

    assert cancelled.status == Redemption.Status.CANCELLED
    code = DevDiscountCode.objects.get(shop=dev_shop)
    assert code.status == DevDiscountCode.Status.DEACTIVATED
    assert balance(member) == 1000
    with pytest.raises(RedemptionNotCancellable):
        redemption_cancel(shop=shop, redemption_id=r.pk)
    assert balance(member) == 1000
    assert ledger(member) == [("manual", 1000), ("redeem", -500), ("redeem_refund", 500)]
    assert ledger_verify(shop=shop).drifts == []


def test_cancel_when_the_store_is_down_changes_nothing(
    shop, dev_shop, member, reward, redeem, platform_http
) -> None:
    r = redeem(member, reward)
    platform_http.add("POST", GRAPHQL, status=503)

    with pytest.raises(Exception, match="503"):
        redemption_cancel(shop=shop, redemption_id=r.pk)

    r.refresh_from_db()
    assert r.status == Redemption.Status.ISSUED
    assert DevDiscountCode.objects.get(shop=dev_shop).status == DevDiscountCode.Status.ACTIVE
    assert balance(member) == 500


def test_expiry_job_skips_uninstalled_shops_and_runs_for_the_others(
    shop, dev_shop, member, reward, redeem, platform_http
) -> None:
    """An uninstalled shop gets no API call; its codes wait (they are handled if the shop
    comes back), and it does not block the other shops' expiries."""
    stale = redeem(member, reward, key="uninstalled")
    other_dev = store.shop_create("other-saga.myshopify.com", name="Other", currency="USD")
    other_token = DevAppToken.objects.create(
        shop=other_dev,
        access_token="shpat_other",
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=settings.SHOPIFY_SCOPES,
    )
    other = Shop(domain=other_dev.domain, currency="USD", installed_at=timezone.now())
    other.access_token = other_token.access_token
    other.access_token_expires_at = other_token.expires_at
    other.save()
    ProgramFactory(shop=other)
    other_customer = store.customer_create(other_dev, "bo@example.com", "Bo", "Li")
    other_member = MemberFactory(shop=other, customer_id=other_customer.id)
    points_adjust(
        shop=other, member=other_member, amount=600, reason="seed", actor="t", idempotency_key="s"
    )
    other_reward = RewardFactory(shop=other, points_cost=600)
    fresh = redeem(other_member, other_reward, key="installed")
    assert fresh.status == Redemption.Status.ISSUED
    from merchants.services import shop_uninstall

    shop_uninstall(shop=shop)
    calls = len(platform_http.calls)

    later = max(stale.expires_at, fresh.expires_at) + timedelta(seconds=1)
    assert redemptions_expire_due(now=later) == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Redemption.Status.ISSUED and balance(member) == 500
    assert fresh.status == Redemption.Status.EXPIRED and balance(other_member) == 600
    assert all(DOMAIN not in call.request.url for call in platform_http.calls[calls:])


def test_issue_for_a_shop_uninstalled_meanwhile_gives_the_points_back(
    shop, member, reward, django_capture_on_commit_callbacks, platform_http
) -> None:
    from merchants.services import shop_uninstall

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = reward_redeem(shop=shop, member_id=member.pk, reward_id=reward.pk, client_key="k")
    assert balance(member) == 500
    shop_uninstall(shop=shop)
    calls = len(platform_http.calls)

    for callback in callbacks:
        callback()

    r.refresh_from_db()
    assert r.status == Redemption.Status.FAILED and "not installed" in r.error
    assert balance(member) == 1000
    assert ledger(member)[-1] == ("redeem_refund", 500)
    assert len(platform_http.calls) == calls
    assert not DevDiscountCode.objects.exists()
