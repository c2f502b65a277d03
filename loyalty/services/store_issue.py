"""The saga's platform step, shared by every code Beam issues in the store (redemptions,
referred friends' offers): one attempt (``store_issue_attempt``: create, or adopt what a lost
answer made), its retry budget and backoff, and the sweep that takes up a pending issue
whose task message was lost (``issues_pending_sweep``). One code path for both sagas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from loyalty.errors import RedemptionIssueRetry
from merchants.errors import ShopifyApiError, ShopifyUserError, ShopNotInstalled
from merchants.models import Shop
from merchants.shopify.operations import DiscountCodeStatus, discount_code_lookup

# The saga's retry budget: attempts after the first. The attempt that finds the budget spent
# is final: it refunds unless the store has the code (whoever runs it: task or sweeper).
REDEMPTION_ISSUE_MAX_RETRIES = 5
# How late a pending redemption's next attempt may be before the sweeper assumes its task
# message was lost and takes it up: longer than one attempt can take (its platform calls
# time out after SHOPIFY_HTTP_TIMEOUT), short enough that a message lost to a broker
# restart costs the shopper well under a minute with the sweep every 15 s.
PENDING_SWEEP_GRACE = timedelta(seconds=30)


def redemption_issue_backoff(retries: int) -> timedelta:
    """The wait before retry number ``retries + 1`` (bounded exponential backoff)."""
    return timedelta(seconds=min(300, 5 * 2**retries))


@dataclass(frozen=True)
class StoreIssue:
    """What one attempt to create a code (or credit) in the store came to: the platform
    object's id when it exists now, else the permanent ``error`` (a transient failure
    before the last attempt raises ``RedemptionIssueRetry`` instead)."""

    object_id: str = ""
    error: str = ""


def store_issue_attempt(
    *,
    create: Callable[[], str],
    find: Callable[[], str | None],
    find_code: Callable[[], str | None] | None,
    earlier_attempt: bool,
    final_attempt: bool,
) -> StoreIssue:
    """The saga's platform step, shared by every code Beam issues (redemptions, referral
    offers): ``create`` the object, unless an ``earlier_attempt`` whose answer was lost made
    it (``find`` adopts it); a refusal is permanent unless ``find_code`` (codes only) shows
    the refused create was a retry of one that worked; a transient error raises
    ``RedemptionIssueRetry`` until ``final_attempt``, which adopts what the store has or
    fails. Runs outside any transaction (no lock is held across the platform call)."""
    try:
        if earlier_attempt:
            found_id = find()
            if found_id is not None:
                return StoreIssue(object_id=found_id)
        return StoreIssue(object_id=create())
    except ShopNotInstalled as exc:  # uninstalled meanwhile: nothing can be created
        return StoreIssue(error=f"shop not installed: {exc}")
    except (ShopifyUserError, ValueError) as exc:  # permanent: the input was refused
        if find_code is not None and isinstance(exc, ShopifyUserError):
            # The client retries a create whose answer was lost; the retry is refused as a
            # duplicate although the first one made the code. Never refund a usable code.
            try:
                found_code = find_code()
            except ShopifyApiError as lookup_exc:
                if not final_attempt:
                    raise RedemptionIssueRetry(str(lookup_exc)) from lookup_exc
                found_code = None
            if found_code is not None:
                return StoreIssue(object_id=found_code)
        return StoreIssue(error=f"rejected by the store: {exc}")
    except ShopifyApiError as exc:
        if not final_attempt:
            raise RedemptionIssueRetry(str(exc)) from exc
        try:
            found_id = find()
        except ShopifyApiError:
            found_id = None
        if found_id is not None:
            return StoreIssue(object_id=found_id)
        return StoreIssue(error=f"store unavailable: {exc}")


def discount_own_find(shop: Shop, code: str) -> DiscountCodeStatus | None:
    """Beam's own discount with this code in the store, if an earlier (maybe timed out)
    create made it: the title ends with the code, which tells it from a merchant's discount
    that happens to use the same text."""
    found = discount_code_lookup(shop, code=code)
    if found is None or (found.title and not found.title.endswith(f"({code})")):
        return None
    return found


def issues_pending_sweep(
    pending: QuerySet[Any],
    *,
    now: datetime | None,
    final: Callable[[int], object],
    enqueue: Callable[[int], object],
) -> int:
    """Take up the ``pending`` issues (rows with ``attempts`` and ``updated_at``) whose task
    is overdue (its message lost, its worker killed): re-enqueue them, each sweep counting
    as an attempt, and once the retry budget is spent run the ``final`` attempt here. A row
    is overdue ``PENDING_SWEEP_GRACE`` after its next retry was due; the claim is a
    conditional update, so concurrent sweeps take each row once."""
    now = now or timezone.now()
    stale = pending.filter(updated_at__lte=now - PENDING_SWEEP_GRACE).values_list(
        "pk", "attempts", "updated_at"
    )
    swept = 0
    for pk, attempts, updated_at in list(stale):
        wait = redemption_issue_backoff(attempts - 1) if attempts else timedelta(0)
        if updated_at + wait + PENDING_SWEEP_GRACE > now:
            continue  # a retry is still scheduled
        claimed = pending.filter(pk=pk, attempts=attempts, updated_at=updated_at).update(
            updated_at=now
        )
        if not claimed:
            continue
        if attempts >= REDEMPTION_ISSUE_MAX_RETRIES:
            final(pk)
        else:
            pending.model.objects.filter(pk=pk).update(attempts=F("attempts") + 1)
            enqueue(pk)
        swept += 1
    return swept
