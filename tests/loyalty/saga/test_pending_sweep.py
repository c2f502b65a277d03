"""The pending-redemption sweeper: a redemption whose issue task was lost (broker down, worker
killed) is taken up again, and once the saga's retry budget is spent it is settled: the code
issued or the points returned. Never pending for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from devstore.models import DevDiscountCode
from loyalty import tasks
from loyalty.models import LedgerEntry, Member, Redemption
from loyalty.services import redemptions_pending_sweep, reward_redeem
from loyalty.services.redemptions import REDEMPTION_ISSUE_MAX_RETRIES

DOMAIN = "sweep-store.myshopify.com"
GRAPHQL = (
    f"http://beam.test/devstore/{DOMAIN}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
)


@pytest.fixture
def lost(shop, member, reward, django_capture_on_commit_callbacks) -> Redemption:
    """A redemption whose task message was lost: points taken, nothing enqueued ran."""
    with django_capture_on_commit_callbacks(execute=False):
        r = reward_redeem(shop=shop, member_id=member.pk, reward_id=reward.pk, client_key="k")
    assert (r.status, r.attempts) == (Redemption.Status.PENDING, 0)
    return r


def ledger(member) -> list[tuple[str, int]]:
    return list(
        LedgerEntry.objects.filter(member=member).order_by("pk").values_list("kind", "amount")
    )


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).balance


def test_the_beat_runs_the_sweeper_every_15_seconds() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["redemptions-pending-sweep"]
    assert entry == {"task": "loyalty.tasks.redemptions_pending_sweep", "schedule": 15.0}


def test_a_lost_task_is_re_enqueued_after_30_seconds_and_issues_the_code(
    dev_shop, member, lost
) -> None:
    assert redemptions_pending_sweep(now=timezone.now() + timedelta(seconds=15)) == 0
    lost.refresh_from_db()
    assert (lost.status, lost.attempts) == (Redemption.Status.PENDING, 0)

    assert tasks.redemptions_pending_sweep.apply().get() == 0  # now: still within the grace
    assert redemptions_pending_sweep(now=timezone.now() + timedelta(seconds=31)) == 1

    lost.refresh_from_db()
    assert lost.error == ""
    code = DevDiscountCode.objects.get(shop=dev_shop)
    assert lost.status == Redemption.Status.ISSUED
    assert (lost.code, lost.discount_id) == (code.code, code.gid)
    assert lost.attempts == 2  # the sweep counts as one, the task's create as another
    assert balance(member) == 500
    assert ledger(member) == [("manual", 1000), ("redeem", -500)]
    assert redemptions_pending_sweep(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_scheduled_retry_is_left_to_its_task(member, lost) -> None:
    Redemption.objects.filter(pk=lost.pk).update(attempts=3)  # next retry in 20 s
    stamp = Redemption.objects.get(pk=lost.pk).updated_at

    assert redemptions_pending_sweep(now=stamp + timedelta(seconds=49)) == 0  # 20 s + grace

    lost.refresh_from_db()
    assert (lost.status, lost.attempts, lost.updated_at) == (Redemption.Status.PENDING, 3, stamp)
    assert balance(member) == 500


def test_messages_lost_every_time_settle_once_the_budget_is_spent(
    dev_shop, member, lost, monkeypatch
) -> None:
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.redemption_issue, "delay", enqueued.append)
    now = timezone.now()

    for sweep in range(REDEMPTION_ISSUE_MAX_RETRIES):
        now += timedelta(minutes=10)
        assert redemptions_pending_sweep(now=now) == 1
        lost.refresh_from_db()
        assert (lost.status, lost.attempts) == (Redemption.Status.PENDING, sweep + 1)
    assert enqueued == [lost.pk] * REDEMPTION_ISSUE_MAX_RETRIES

    assert redemptions_pending_sweep(now=now + timedelta(minutes=10)) == 1

    lost.refresh_from_db()
    assert lost.status == Redemption.Status.ISSUED  # the final attempt ran in the sweep
    assert list(DevDiscountCode.objects.values_list("code", flat=True)) == [lost.code]
    assert len(enqueued) == REDEMPTION_ISSUE_MAX_RETRIES
    assert balance(member) == 500


def test_budget_spent_with_the_store_down_returns_the_points(member, lost, platform_http) -> None:
    Redemption.objects.filter(pk=lost.pk).update(attempts=REDEMPTION_ISSUE_MAX_RETRIES)
    platform_http.add("POST", GRAPHQL, status=503)

    assert redemptions_pending_sweep(now=timezone.now() + timedelta(minutes=10)) == 1

    lost.refresh_from_db()
    assert lost.status == Redemption.Status.FAILED and "store unavailable" in lost.error
    assert lost.attempts == REDEMPTION_ISSUE_MAX_RETRIES + 1
    assert balance(member) == 1000
    assert ledger(member) == [("manual", 1000), ("redeem", -500), ("redeem_refund", 500)]
    assert redemptions_pending_sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert balance(member) == 1000


def test_a_refused_token_refresh_fails_the_redemption_and_returns_the_points(
    shop, member, reward, redeem, platform_http
) -> None:
    """The platform refuses the refresh (its answer to an earlier refresh was lost): the
    issue step sees an auth error, not a crash that leaves the redemption pending."""
    shop.access_token_expires_at = timezone.now() - timedelta(minutes=1)
    shop.refresh_token = "shprt_already_used"
    shop.save()

    r = redeem(member, reward)

    assert r.status == Redemption.Status.FAILED and "token refresh refused" in r.error
    assert r.attempts == REDEMPTION_ISSUE_MAX_RETRIES + 1
    assert not DevDiscountCode.objects.exists()
    assert balance(member) == 1000
    assert ledger(member) == [("manual", 1000), ("redeem", -500), ("redeem_refund", 500)]
    token_calls = [c for c in platform_http.calls if c.request.url.endswith("access_token")]
    assert len(token_calls) == 1  # the refused refresh token is not sent again
