"""Celery tasks of the loyalty domain: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from loyalty import services
from loyalty.errors import RedemptionIssueRetry
from loyalty.services.redemptions import REDEMPTION_ISSUE_MAX_RETRIES, redemption_issue_backoff

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=REDEMPTION_ISSUE_MAX_RETRIES)
def redemption_issue(self, redemption_id: int) -> str:
    """Create the redemption's discount; transient failures retry with bounded backoff and
    the last attempt refunds the points. Eager (tests, demo) retries inline, so the shopper
    gets the code or the refund before ``reward_redeem`` returns."""
    retries = self.request.retries or 0
    while True:
        final = retries >= REDEMPTION_ISSUE_MAX_RETRIES
        try:
            redemption = services.redemption_issue(redemption_id=redemption_id, final_attempt=final)
        except RedemptionIssueRetry as exc:
            if self.request.is_eager or self.request.called_directly:
                retries += 1
                continue
            countdown = redemption_issue_backoff(retries).total_seconds()
            raise self.retry(exc=exc, countdown=countdown) from exc
        return redemption.status


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
def redemptions_pending_sweep() -> int:
    """Periodic: re-enqueue pending redemptions whose task is overdue; past the retry
    budget, issue or refund them."""
    return services.redemptions_pending_sweep()


@shared_task
def redemptions_expire_due() -> int:
    """Periodic: deactivate expired unused codes and refund their points."""
    return services.redemptions_expire_due()
