"""Celery tasks of the loyalty domain: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task

from loyalty import services
from loyalty.errors import RedemptionIssueRetry
from loyalty.services import storefront_sync
from loyalty.services.store_issue import REDEMPTION_ISSUE_MAX_RETRIES, redemption_issue_backoff
from merchants.errors import BeamError

logger = logging.getLogger(__name__)


def _issue_with_retries(task: Any, attempt: Callable[[bool], str]) -> str:
    """Run one saga issue attempt (``attempt(final)``); a transient failure retries with
    bounded backoff, inline when eager (tests, demo), so the shopper gets the code or the
    outcome before the request returns. The last attempt is final."""
    retries = task.request.retries or 0
    while True:
        final = retries >= REDEMPTION_ISSUE_MAX_RETRIES
        try:
            return attempt(final)
        except RedemptionIssueRetry as exc:
            if task.request.is_eager or task.request.called_directly:
                retries += 1
                continue
            countdown = redemption_issue_backoff(retries).total_seconds()
            raise task.retry(exc=exc, countdown=countdown) from exc


@shared_task(bind=True, max_retries=REDEMPTION_ISSUE_MAX_RETRIES)
def redemption_issue(self, redemption_id: int) -> str:
    """Create the redemption's discount; the last attempt refunds the points on failure."""
    return _issue_with_retries(
        self,
        lambda final: (
            services.redemption_issue(redemption_id=redemption_id, final_attempt=final).status
        ),
    )


@shared_task(bind=True, max_retries=REDEMPTION_ISSUE_MAX_RETRIES)
def referral_discount_issue(self, referral_id: int) -> str:
    """Create a referred friend's code in the store, with the redemption saga's retries."""
    from loyalty.services.referrals import referral_discount_issue as issue

    return _issue_with_retries(
        self, lambda final: issue(referral_id=referral_id, final_attempt=final).code_status
    )


@shared_task
def referrals_due() -> list[int]:
    """Periodic: reward the advocates whose friend's order passed its pending period, take
    and blank hashed IPs past their retention (overdue friends' codes are swept with the
    redemptions, ``redemptions_pending_sweep``)."""
    from loyalty.services.referrals import referral_ip_hashes_purge
    from loyalty.services.referrals_rewards import referrals_reward_due

    return [referrals_reward_due(), referral_ip_hashes_purge()]


@shared_task
def ledger_verify() -> int:
    """Periodic: record members whose cached balance differs from the ledger; report orders
    whose reversed points differ from their refunds."""
    report = services.ledger_verify()
    if report.drifts or report.order_drifts:
        logger.error(
            "ledger_verify: %d drift(s), %d order drift(s)",
            len(report.drifts),
            len(report.order_drifts),
        )
    return len(report.drifts) + len(report.order_drifts)


@shared_task
def pending_release_due() -> int:
    """Periodic: release pending order points whose time has come."""
    return services.pending_release_due()


@shared_task
def points_expire_due() -> list[int]:
    """Periodic: expire inactive balances and record expiry warnings."""
    expired, warned = services.points_expire_due()
    return [expired, warned]


@shared_task
def tiers_evaluate_due() -> int:
    """Periodic: end the tier graces and grants whose time has come (members move to what
    they qualified for); idempotent per member and period. Also resumes recomputes left
    behind and prunes old tier previews."""
    from loyalty.services.tiers import tiers_evaluate_due as evaluate
    from loyalty.services.tiers_preview import tier_previews_prune
    from loyalty.services.tiers_recompute import tiers_recompute_due

    for recompute_id in tiers_recompute_due():
        tiers_recompute_run.delay(recompute_id)
    tier_previews_prune()
    return evaluate()


@shared_task
def tiers_recompute_run(recompute_id: int) -> str:
    """Apply saved tier settings to every member (resumable; the progress is on the row).
    An error marks the recompute failed with its message (the admin shows it)."""
    from loyalty.models import TierRecompute
    from loyalty.services.tiers_recompute import tiers_recompute_apply

    try:
        return tiers_recompute_apply(recompute_id=recompute_id).status
    except Exception as exc:
        logger.exception("tier recompute %s failed", recompute_id)
        TierRecompute.objects.filter(pk=recompute_id).update(
            status=TierRecompute.Status.FAILED, error=str(exc)[:2000]
        )
        raise


@shared_task
def tier_preview_run(preview_id: int) -> str:
    """Work out what a tier settings draft does to every member (the admin's review polls
    the row's progress). An error fails the preview with its message, not the task: the
    merchant reviews again, and an eager run (tests, ``make run``) must not fail the
    request that queued it."""
    from loyalty.services.tiers_preview import tier_preview_compute, tier_preview_fail

    try:
        return tier_preview_compute(preview_id=preview_id).status
    except Exception as exc:
        logger.exception("tier preview %s failed", preview_id)
        tier_preview_fail(preview_id=preview_id, error=str(exc) or type(exc).__name__)
        return "failed"


@shared_task
def tiers_sync_run() -> int:
    """Periodic: write the tiers of the members marked since the last run to their store
    customers (metafield and tag), 25 per call, each shop until throttled; returns the
    members written. One shop failing does not hold up the others."""
    from loyalty.services.tiers_sync import tiers_sync_due, tiers_sync_shop

    written = 0
    for shop_id in tiers_sync_due():
        try:
            written += tiers_sync_shop(shop_id=shop_id).written
        except Exception:
            logger.exception("tier sync of shop %s failed", shop_id)
    return written


@shared_task
def earning_actions_yearly_due() -> int:
    """Periodic (hourly): today's birthday gifts and membership anniversaries, each shop by
    its own time zone; keyed per member and year, so the day's later runs add nothing."""
    from loyalty.services.earning_actions_yearly import earning_actions_yearly_due as due

    return due()


@shared_task
def redemptions_pending_sweep() -> int:
    """Periodic: re-enqueue pending redemptions and friends' codes whose task is overdue;
    past the retry budget, issue them or refund (fail) them. One sweep, both sagas."""
    from loyalty.services.referrals import referral_codes_pending_sweep

    return services.redemptions_pending_sweep() + referral_codes_pending_sweep()


@shared_task
def redemptions_expire_due() -> int:
    """Periodic: deactivate expired unused codes and refund their points."""
    return services.redemptions_expire_due()


@shared_task(bind=True, max_retries=5)
def branding_publish(self, program_id: int) -> bool:
    """Put the program's branding on its store (the launcher reads it there). A failure
    retries with backoff; eager runs (tests, ``make run``) leave it to the periodic sweep
    rather than fail the merchant's save; the Branding page shows what is still pending."""
    try:
        return storefront_sync.branding_publish(program_id=program_id)
    except BeamError as exc:
        if self.request.is_eager or self.request.called_directly:
            return False
        retries = self.request.retries or 0
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**retries)) from exc


@shared_task
def branding_publish_sweep() -> int:
    """Periodic: queue again the branding publications still pending after a minute."""
    due = storefront_sync.branding_publish_due()
    for program_id in due:
        branding_publish.delay(program_id)
    return len(due)
