"""A referred friend's code against the devstore when the merchant cancels the referral
while the code's issue is in flight: the store must end with the code inactive, the
deactivation retried like the saga's other store calls. The calls are ordered by the
platform HTTP mock (the cancel runs while the store answers the create)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings

from devstore.models import DevDiscountCode
from loyalty.models import Member, Referral
from loyalty.services import referrals_rewards
from loyalty.services.referrals import referral_discount_issue
from loyalty.services.referrals_rewards import referral_cancel
from merchants.shopify import client as client_module
from tests.loyalty.referral_helpers import claim, referrals_on
from tests.platform_http import _serve_in_process

DOMAIN = "referral-store.myshopify.com"
GRAPHQL = (
    f"http://beam.test/devstore/{DOMAIN}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
)


@pytest.fixture
def advocate(shop) -> Member:
    return referrals_on(shop)


def _mutation(request, name: str) -> bool:
    return name.encode() in (request.body or b"")


def _store_code(dev_shop) -> DevDiscountCode:
    return DevDiscountCode.objects.get(shop=dev_shop, title__startswith="Beam referral")


def _claim_cancelled_mid_create(
    shop, advocate, platform_http, capture, *, deactivate_failures: int = 0
) -> tuple[Referral, dict[str, int]]:
    """The friend claims; while the store is making the code, the merchant cancels; the
    first ``deactivate_failures`` deactivations fail as a store outage would."""
    calls = {"create": 0, "deactivate": 0, "fail": deactivate_failures}

    def in_flight(request):
        if _mutation(request, "discountCodeDeactivate"):
            calls["deactivate"] += 1
            if calls["fail"] > 0:
                calls["fail"] -= 1
                return 503, {}, "Service Unavailable"
        answer = _serve_in_process(request)
        if _mutation(request, "discountCodeBasicCreate"):
            calls["create"] += 1
            referral = Referral.objects.get(shop=shop)
            referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")
        return answer

    platform_http.add_callback("POST", GRAPHQL, callback=in_flight)
    with capture(execute=True):
        referral = claim(shop, advocate, "bo@example.org")
    referral.refresh_from_db()
    return referral, calls


def test_a_cancel_during_the_create_leaves_the_code_inactive_in_the_store(
    dev_shop, shop, advocate, platform_http, django_capture_on_commit_callbacks
) -> None:
    referral, calls = _claim_cancelled_mid_create(
        shop, advocate, platform_http, django_capture_on_commit_callbacks
    )

    code = _store_code(dev_shop)
    assert calls["create"] == 1 and calls["deactivate"] == 1
    assert (referral.status, referral.reason) == ("cancelled", "merchant")
    assert (referral.code_status, referral.discount_id) == ("issued", code.gid)
    assert referral.error == "cancelled by the merchant"
    assert code.code == referral.code and code.status == DevDiscountCode.Status.DEACTIVATED


def test_a_store_outage_on_the_deactivation_is_retried_until_the_code_is_inactive(
    dev_shop, shop, advocate, platform_http, django_capture_on_commit_callbacks
) -> None:
    failures = 2 * client_module.DEFAULT_MAX_ATTEMPTS  # two whole client calls fail
    referral, calls = _claim_cancelled_mid_create(
        shop,
        advocate,
        platform_http,
        django_capture_on_commit_callbacks,
        deactivate_failures=failures,
    )

    assert calls["fail"] == 0 and calls["deactivate"] > failures
    assert calls["create"] == 1  # the retries end the recorded code, never make another
    assert referral.code_status == "issued" and referral.status == "cancelled"
    assert _store_code(dev_shop).status == DevDiscountCode.Status.DEACTIVATED


def test_a_code_issued_between_the_cancels_store_call_and_its_lock_is_ended(
    dev_shop, shop, advocate, platform_http, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """The cancel read the referral while its code was still being made (nothing to end
    yet); the issue finishes before the cancel takes the lock: the saga ends the code."""
    with django_capture_on_commit_callbacks(execute=False):  # the issue task not run yet
        referral = claim(shop, advocate, "bo@example.org")
    Referral.objects.filter(pk=referral.pk).update(attempts=1)  # its attempt under way
    checked: Callable[[Referral], None] = referrals_rewards._cancellable
    finished = []

    def issue_finishes_meanwhile(found: Referral) -> None:
        checked(found)
        if not finished:
            finished.append(referral_discount_issue(referral_id=found.pk, final_attempt=False))

    monkeypatch.setattr(referrals_rewards, "_cancellable", issue_finishes_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        referral_cancel(shop=shop, referral_id=referral.pk, actor="owner@shop")

    referral.refresh_from_db()
    code = _store_code(dev_shop)
    assert finished[0].code_status == "issued"  # issued before the cancel's lock
    assert (referral.status, referral.code_status, referral.discount_id) == (
        "cancelled",
        "issued",
        code.gid,
    )
    assert code.status == DevDiscountCode.Status.DEACTIVATED
