"""The review of a tier settings change as a background job: "Review changes" records the
draft on a ``TierPreview`` row and queues ``tier_preview_run``, which works out what the
draft does to every member with ``tiers_recompute_preview`` (the pass that the apply runs
too), its progress saved as it goes. "Apply" saves the draft read back from the row, so
what was reviewed is what is applied, and only while the saved settings are still the ones
the preview was compared with. One path for every shop size: with eager Celery (tests,
``make run``) the job has finished when the request returns.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.errors import InvalidTiers
from loyalty.models import Member, TierPreview, TierRecompute
from loyalty.services.ledger import enqueue_on_commit
from loyalty.services.tiers_draft import (
    TierDraft,
    TierDraftTier,
    tier_draft_current,
    tier_draft_problem,
)
from loyalty.services.tiers_recompute import (
    RecomputeCounts,
    tier_settings_save,
    tiers_recompute_preview,
)
from merchants.models import Shop

logger = logging.getLogger(__name__)
PREVIEW_KEEP = timedelta(days=1)
# A preview pending or running this long lost its worker (it takes about a minute at 1M
# members): it is marked failed, and the page offers to review again.
PREVIEW_STUCK = timedelta(minutes=15)


# --- the draft as JSON -----------------------------------------------------------------------


def tier_draft_json(draft: TierDraft) -> dict[str, Any]:
    """The draft as plain JSON (Decimals and dates as strings), for the preview row."""
    data = asdict(draft)
    data["program_start"] = draft.program_start.isoformat() if draft.program_start else None
    data["tiers"] = [
        {
            **asdict(tier),
            "threshold": str(tier.threshold),
            "multiplier": str(tier.multiplier),
            "perks": list(tier.perks),
        }
        for tier in draft.tiers
    ]
    return data


def tier_draft_from_json(data: dict[str, Any]) -> TierDraft:
    """The draft ``tier_draft_json`` wrote (equal to the one it was given)."""
    tiers = tuple(
        TierDraftTier(
            **{
                **tier,
                "threshold": Decimal(tier["threshold"]),
                "multiplier": Decimal(tier["multiplier"]),
                "perks": tuple(tier["perks"]),
            }
        )
        for tier in data["tiers"]
    )
    start = data["program_start"]
    return TierDraft(
        **{
            **data,
            "tiers": tiers,
            "program_start": date.fromisoformat(start) if start else None,
        }
    )


# --- the job ---------------------------------------------------------------------------------


def tier_preview_start(*, shop: Shop, draft: TierDraft, actor: str) -> TierPreview:
    """Record the draft and the saved settings it changes, and queue the pass that works out
    what it does to the members (after the commit). ``InvalidTiers`` (nothing written) for a
    draft that cannot be saved."""
    problem = tier_draft_problem(shop=shop, draft=draft)
    if problem:
        raise InvalidTiers(problem)
    from loyalty import tasks  # tasks import the services

    with transaction.atomic(durable=True):
        preview = TierPreview.objects.create(
            shop=shop,
            actor=actor[:255],
            draft=tier_draft_json(draft),
            base=tier_draft_json(tier_draft_current(shop=shop)),
        )
        enqueue_on_commit(tasks.tier_preview_run, preview.pk)
    return preview


def tier_preview_compute(*, preview_id: int) -> TierPreview:
    """Work out the preview's counts (nothing but the preview row is written). The row is
    claimed by a conditional update, so a task delivered twice runs the pass once. A draft
    that can no longer be saved (a reward hidden since) fails the preview with the reason."""
    now = timezone.now()
    claimed = TierPreview.objects.filter(pk=preview_id, status=TierPreview.Status.PENDING).update(
        status=TierPreview.Status.RUNNING, started_at=now
    )
    preview = TierPreview.objects.select_related("shop").get(pk=preview_id)
    if not claimed:
        return preview
    shop = preview.shop
    preview.total = Member.objects.filter(shop=shop).count()
    preview.save(update_fields=["total"])

    def progress(done: int, counts: RecomputeCounts) -> None:
        TierPreview.objects.filter(pk=preview_id).update(done=done, counts=asdict(counts))

    try:
        counts = tiers_recompute_preview(
            shop=shop, draft=tier_draft_from_json(preview.draft), progress=progress
        )
    except InvalidTiers as exc:
        return _preview_failed(preview, str(exc))
    preview.status = TierPreview.Status.DONE
    preview.counts = asdict(counts)
    preview.total = preview.done = counts.members or preview.total  # tiers off: no moves
    preview.finished_at = timezone.now()
    preview.save(update_fields=["status", "counts", "total", "done", "finished_at"])
    return preview


def tier_preview_fail(*, preview_id: int, error: str) -> None:
    """Mark a preview that stopped on an error failed, with the error (the page says so)."""
    TierPreview.objects.filter(
        pk=preview_id,
        status__in=(TierPreview.Status.PENDING, TierPreview.Status.RUNNING),
    ).update(status=TierPreview.Status.FAILED, error=error[:2000], finished_at=timezone.now())


def _preview_failed(preview: TierPreview, error: str) -> TierPreview:
    tier_preview_fail(preview_id=preview.pk, error=error)
    preview.refresh_from_db()
    return preview


def tier_preview_stale(*, shop: Shop, preview: TierPreview) -> bool:
    """Whether the saved settings changed since the preview was worked out (its counts no
    longer say what applying the draft does)."""
    return tier_draft_current(shop=shop) != tier_draft_from_json(preview.base)


def tier_preview_apply(*, shop: Shop, preview: TierPreview, actor: str) -> TierRecompute:
    """Save the draft the preview worked out (``tier_settings_save``: audited, recompute
    queued). ``InvalidTiers`` with the reason, nothing written, when the preview has no
    counts yet or failed, when the saved settings changed since it was worked out, or while
    a recompute is still running (both checked under the settings row lock)."""
    if preview.shop_id != shop.pk:
        raise InvalidTiers("No such review.")
    if preview.status == TierPreview.Status.FAILED:
        raise InvalidTiers("This review stopped before it finished: review the change again.")
    if preview.status != TierPreview.Status.DONE:
        raise InvalidTiers(
            "This review is still working out what the change does: apply once it shows "
            "the members' moves."
        )
    return tier_settings_save(
        shop=shop,
        draft=tier_draft_from_json(preview.draft),
        actor=actor,
        one_at_a_time=True,
        expected=tier_draft_from_json(preview.base),
    )


def tier_previews_prune(*, keep: timedelta = PREVIEW_KEEP) -> int:
    """Periodic: fail previews whose worker was lost, delete those older than ``keep``
    (a review is for now; an older one is reviewed again). Returns the rows deleted."""
    now = timezone.now()
    TierPreview.objects.filter(
        status__in=(TierPreview.Status.PENDING, TierPreview.Status.RUNNING),
        created_at__lt=now - PREVIEW_STUCK,
    ).update(
        status=TierPreview.Status.FAILED,
        error="the review did not finish in time",
        finished_at=now,
    )
    deleted, _ = TierPreview.objects.filter(created_at__lt=now - keep).delete()
    return deleted
