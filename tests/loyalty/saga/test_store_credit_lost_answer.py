"""A store-credit reward whose answer is lost: ``storeCreditAccountCredit`` has no
idempotency key, so the credit is sent once per attempt and, before an attempt after an
ambiguous one, looked up in the store's account history and adopted. Against the devstore;
failures are made on the platform HTTP mock, as a flaky network would."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from devstore.models import DevStoreCreditTransaction
from loyalty.models import LedgerEntry, Member, Redemption, Reward
from loyalty.services import ledger_verify
from merchants.shopify.operations import StoreCreditCredit, store_credit_credits_since
from tests.loyalty.factories import RewardFactory
from tests.platform_http import _serve_in_process

DOMAIN = "credit-store.myshopify.com"
GRAPHQL = (
    f"http://beam.test/devstore/{DOMAIN}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
)
TX = "gid://shopify/StoreCreditAccountCreditTransaction/"


@pytest.fixture
def reward(shop) -> Reward:
    return RewardFactory(
        shop=shop, kind=Reward.Kind.STORE_CREDIT, points_cost=300, value=Decimal("7.50")
    )


def _is_credit(request) -> bool:
    return b"storeCreditAccountCredit(" in (request.body or b"")


def _is_lookup(request) -> bool:
    return b"BeamStoreCreditCreditsRecent" in (request.body or b"")


def credits(customer) -> list[tuple[int, Decimal]]:
    return list(
        DevStoreCreditTransaction.objects.filter(customer=customer)
        .order_by("created_at", "id")
        .values_list("id", "amount")
    )


def ledger(member) -> list[tuple[str, int]]:
    return list(
        LedgerEntry.objects.filter(member=member).order_by("pk").values_list("kind", "amount")
    )


def test_answer_lost_after_the_store_credited_is_adopted_not_credited_again(
    shop, customer, member, reward, redeem, platform_http
) -> None:
    calls: list[str] = []
    lost = {"left": 1}

    def credited_then_timed_out(request):
        calls.append("credit" if _is_credit(request) else "lookup" if _is_lookup(request) else "")
        answer = _serve_in_process(request)
        if _is_credit(request) and lost["left"] > 0:
            lost["left"] -= 1
            raise requests.ReadTimeout("read timed out")
        return answer

    platform_http.add_callback("POST", GRAPHQL, callback=credited_then_timed_out)

    r = redeem(member, reward)

    # one credit sent (no retry inside the call), then a lookup instead of a second credit
    assert calls == ["credit", "lookup"]
    [(tx_id, amount)] = credits(customer)
    assert amount == Decimal("7.50")
    customer.refresh_from_db()
    assert customer.store_credit == Decimal("7.50")
    assert (r.status, r.attempts, r.discount_id) == (Redemption.Status.ISSUED, 2, f"{TX}{tx_id}")
    assert Member.objects.get(pk=member.pk).balance == 700
    assert ledger(member) == [("manual", 1000), ("redeem", -300)]
    assert ledger_verify(shop=shop).drifts == []


def test_5xx_before_the_store_credited_credits_once_on_the_retry(
    customer, member, reward, redeem, platform_http
) -> None:
    calls: list[str] = []
    down = {"left": 1}

    def down_once(request):
        calls.append("credit" if _is_credit(request) else "lookup" if _is_lookup(request) else "")
        if _is_credit(request) and down["left"] > 0:
            down["left"] -= 1
            return 503, {}, "Service Unavailable"
        return _serve_in_process(request)

    platform_http.add_callback("POST", GRAPHQL, callback=down_once)

    r = redeem(member, reward)

    assert calls == ["credit", "lookup", "credit"]
    [(tx_id, _)] = credits(customer)
    customer.refresh_from_db()
    assert customer.store_credit == Decimal("7.50")
    assert (r.status, r.attempts, r.discount_id) == (Redemption.Status.ISSUED, 2, f"{TX}{tx_id}")
    assert Member.objects.get(pk=member.pk).balance == 700


def test_older_or_different_credits_are_not_mistaken_for_the_lost_one(
    dev_shop, customer, member, reward, redeem, platform_http
) -> None:
    """The merchant credited 7.50 an hour ago and 5.00 just now: neither is the redemption's
    credit, so after a 503 that the store did not apply the retry credits."""
    store_credit_before = [
        DevStoreCreditTransaction.objects.create(
            customer=customer,
            id=900_001,
            amount=Decimal("7.50"),
            currency="USD",
            balance_after=Decimal("7.50"),
            created_at=timezone.now() - timedelta(hours=1),
        ),
    ]
    down = {"left": 1}

    def down_once_then_merchant_credit(request):
        if _is_credit(request) and down["left"] > 0:
            down["left"] -= 1
            DevStoreCreditTransaction.objects.create(
                customer=customer,
                id=900_002,
                amount=Decimal("5.00"),
                currency="USD",
                balance_after=Decimal("12.50"),
                created_at=timezone.now(),
            )
            return 503, {}, "Service Unavailable"
        return _serve_in_process(request)

    platform_http.add_callback("POST", GRAPHQL, callback=down_once_then_merchant_credit)

    r = redeem(member, reward)

    rows = credits(customer)
    assert [a for _, a in rows] == [Decimal("7.50"), Decimal("5.00"), Decimal("7.50")]
    new_id = rows[-1][0]
    assert new_id not in {900_001, 900_002} and store_credit_before
    assert (r.status, r.attempts, r.discount_id) == (Redemption.Status.ISSUED, 2, f"{TX}{new_id}")


def test_a_credit_another_redemption_owns_is_not_adopted(
    customer, member, reward, redeem, platform_http
) -> None:
    first = redeem(member, reward, key="first")
    assert first.status == Redemption.Status.ISSUED
    down = {"left": 1}

    def down_once(request):
        if _is_credit(request) and down["left"] > 0:
            down["left"] -= 1
            return 503, {}, "Service Unavailable"
        return _serve_in_process(request)

    platform_http.add_callback("POST", GRAPHQL, callback=down_once)

    second = redeem(member, reward, key="second")

    rows = credits(customer)
    assert [a for _, a in rows] == [Decimal("7.50"), Decimal("7.50")]
    assert first.discount_id == f"{TX}{rows[0][0]}"
    assert (second.status, second.attempts, second.discount_id) == (
        Redemption.Status.ISSUED,
        2,
        f"{TX}{rows[1][0]}",
    )
    customer.refresh_from_db()
    assert customer.store_credit == Decimal("15.00")
    assert Member.objects.get(pk=member.pk).balance == 400


def test_lookup_failing_is_retried_never_credited_blindly(
    customer, member, reward, redeem, platform_http
) -> None:
    """Answer lost, then the lookup itself fails once: the next attempt looks again and
    adopts the credit."""
    lost = {"credit": 1, "lookup": 1}
    calls: list[str] = []

    def flaky(request):
        if _is_credit(request):
            calls.append("credit")
            answer = _serve_in_process(request)
            if lost["credit"]:
                lost["credit"] -= 1
                raise requests.ReadTimeout("read timed out")
            return answer
        if _is_lookup(request):
            calls.append("lookup")
            if lost["lookup"]:
                lost["lookup"] -= 1
                return 502, {}, "Bad Gateway"
        return _serve_in_process(request)

    platform_http.add_callback("POST", GRAPHQL, callback=flaky)

    r = redeem(member, reward)

    assert calls == ["credit", "lookup", "lookup"]
    [(tx_id, _)] = credits(customer)
    assert (r.status, r.discount_id) == (Redemption.Status.ISSUED, f"{TX}{tx_id}")
    customer.refresh_from_db()
    assert customer.store_credit == Decimal("7.50")


# --- the lookup operation -----------------------------------------------------------------


def _credit_rows(customer, count: int, *, start, step=timedelta(seconds=1)) -> None:
    DevStoreCreditTransaction.objects.bulk_create(
        DevStoreCreditTransaction(
            customer=customer,
            id=800_000 + i,
            amount=Decimal(i + 1),
            currency="USD",
            balance_after=Decimal(0),
            created_at=start + i * step,
        )
        for i in range(count)
    )


def test_credits_since_reads_newest_first_across_pages_and_stops_at_since(shop, customer) -> None:
    start = timezone.now() - timedelta(hours=2)
    _credit_rows(customer, 70, start=start)

    found = store_credit_credits_since(
        shop,
        customer_gid=customer.gid,
        currency="usd",
        since=start + timedelta(seconds=5),
    )

    assert [c.amount for c in found] == [Decimal(n) for n in range(70, 5, -1)]
    assert found[0] == StoreCreditCredit(
        id=f"{TX}800069",
        amount=Decimal("70"),
        currency="USD",
        created_at=(start + timedelta(seconds=69)).replace(microsecond=0),
        event="ADJUSTMENT",
    )


def test_credits_since_without_an_account_in_that_currency_is_empty(shop, customer) -> None:
    assert (
        store_credit_credits_since(
            shop, customer_gid=customer.gid, currency="USD", since=timezone.now()
        )
        == []
    )
    _credit_rows(customer, 1, start=timezone.now())
    assert (
        store_credit_credits_since(
            shop,
            customer_gid=customer.gid,
            currency="EUR",
            since=timezone.now() - timedelta(days=1),
        )
        == []
    )
