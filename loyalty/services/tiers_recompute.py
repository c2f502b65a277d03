"""Tier settings changes without deactivating anything: a preview of what a draft does to
every member ("41 move up, 7 move down, 3 lose a granted tier"), computed by the same pass
that applies it after the save, in batches, as a background job with its progress on a
``TierRecompute`` row.

The decision per member is the pure ``tier_recompute`` (``_decide``), the same for the
preview and the apply. The preview reads the members in id order beside their qualifying
sums from one aggregate over the shop's orders (``tier_sums_stream``: one sequential pass);
the apply locks the members by primary-key ranges and reads their sums with one aggregate
per range under the lock (``tier_sums_range``: an order credited meanwhile is counted).
Apply locks each range, writes the changed members set-based and one
``settings_change`` history row per member whose tier in effect changed, keyed by the
recompute, so a batch run again changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.audit import audit_record
from loyalty.errors import InvalidTiers
from loyalty.lock_objects import member_qs_select_for_update
from loyalty.member_versions import shop_members_changed_on_commit
from loyalty.models import Member, Tier, TierChange, TierRecompute, TierSettings
from loyalty.rules.tiers import (
    MemberTier,
    QualifyingSums,
    TierDef,
    TierRules,
    qualifying_fields,
    qualifying_value,
    tier_effective,
    tier_recompute,
    window_now,
)
from loyalty.services.ledger import enqueue_on_commit
from loyalty.services.tiers import (
    member_tier_set,
    tier_change_new,
    tier_columns,
    tier_rules_load,
    tier_sums_range,
    tier_sums_stream,
    tiers_write,
)
from loyalty.services.tiers_draft import (
    TierDraft,
    tier_draft_changes,
    tier_draft_current,
    tier_draft_problem,
    tier_draft_rules,
)
from loyalty.services.tiers_sync import tier_sync_mark_shop
from merchants.models import Shop

logger = logging.getLogger(__name__)
BATCH = 5000


@dataclass
class RecomputeCounts:
    up: int = 0
    down: int = 0
    grant_lost: int = 0
    unchanged: int = 0

    @property
    def members(self) -> int:
        return self.up + self.down + self.grant_lost + self.unchanged

    def add(self, move: int, grant_lost: bool) -> None:
        if grant_lost:
            self.grant_lost += 1
        elif move > 0:
            self.up += 1
        elif move < 0:
            self.down += 1
        else:
            self.unchanged += 1


def tier_recompute_running(*, shop: Shop) -> TierRecompute | None:
    """The shop's recompute still pending or running (a new settings change waits for it)."""
    return (
        TierRecompute.objects.filter(
            shop=shop,
            status__in=(TierRecompute.Status.PENDING, TierRecompute.Status.RUNNING),
        )
        .order_by("-created_at", "-pk")
        .first()
    )


# --- the pass --------------------------------------------------------------------------------


def _known_tiers(shop: Shop) -> dict[int, TierDef]:
    """Every tier of the shop (archived ones too) as it was last saved: what members hold."""
    return {
        t.pk: TierDef(t.pk, t.name, t.threshold, t.multiplier, t.entry_points, t.rank)
        for t in Tier.objects.filter(shop=shop)
    }


def _decide(
    rules: TierRules,
    known: dict[int, TierDef],
    member: Any,
    sums: dict[int, QualifyingSums],
    now: datetime,
    keep_held: bool,
) -> Any:
    value = qualifying_value(rules, sums.get(member.pk, QualifyingSums()))
    current = known.get(member.tier_id) if member.tier_id is not None else None
    return tier_recompute(
        rules,
        MemberTier(
            member.earned_tier_id,
            member.tier_expires_at,
            member.granted_tier_id,
            member.grant_ends_at,
        ),
        current,
        value,
        now,
        keep_held=keep_held,
    )


ROW_FIELDS = (
    "pk",
    "tier_id",
    "earned_tier_id",
    "tier_expires_at",
    "granted_tier_id",
    "grant_ends_at",
)


@dataclass
class _Row:
    pk: int
    tier_id: int | None
    earned_tier_id: int | None
    tier_expires_at: datetime | None
    granted_tier_id: int | None
    grant_ends_at: datetime | None


def tiers_recompute_preview(
    *,
    shop: Shop,
    draft: TierDraft,
    keep_held: bool = True,
    now: datetime | None = None,
    progress: Callable[[int, RecomputeCounts], None] | None = None,
) -> RecomputeCounts:
    """What saving the draft would do to the shop's members (nothing is written): the same
    decisions ``tiers_recompute_apply`` writes (``_decide``), over the members in id order
    beside their sums read in one pass (``tier_sums_stream``). ``progress(members, counts)``
    is told after every ``BATCH`` members (the background preview shows it). Raises
    ``InvalidTiers`` for a draft that cannot be saved."""
    problem = tier_draft_problem(shop=shop, draft=draft)
    if problem:
        raise InvalidTiers(problem)
    counts = RecomputeCounts()
    if not draft.enabled:
        return counts
    rules = tier_draft_rules(shop, draft)
    known = _known_tiers(shop)
    now = now or timezone.now()
    sums = tier_sums_stream(
        shop=shop, window=window_now(rules, now), fields=qualifying_fields(rules), chunk=BATCH
    )
    pending: dict[int, QualifyingSums] = {}
    next_sums = next(sums, None)
    members = (
        Member.objects.filter(shop=shop).order_by("pk").values_list(*ROW_FIELDS).iterator(BATCH)
    )
    for values in members:
        row = _Row(*values)
        while next_sums is not None and next_sums[0] <= row.pk:
            if next_sums[0] == row.pk:
                pending[row.pk] = next_sums[1]
            next_sums = next(sums, None)
        decided = _decide(rules, known, row, pending, now, keep_held)
        pending.pop(row.pk, None)
        counts.add(decided.move, decided.grant_lost)
        if progress is not None and counts.members % BATCH == 0:
            progress(counts.members, counts)
    return counts


def tier_settings_save(
    *,
    shop: Shop,
    draft: TierDraft,
    actor: str,
    keep_held: bool = True,
    one_at_a_time: bool = False,
    expected: TierDraft | None = None,
) -> TierRecompute:
    """Save the draft (tiers it keeps updated, new ones created, the others archived) and
    queue the recompute that applies it to every member, after the commit. Returns the
    recompute's progress row. ``InvalidTiers`` (nothing written) for a bad draft; with
    ``one_at_a_time`` (the admin) while the previous save's recompute is pending or running;
    with ``expected`` (the saved settings a preview was worked out against) once the saved
    settings differ from it. Both checked under the settings row lock, so two saves cannot
    both pass."""
    problem = tier_draft_problem(shop=shop, draft=draft)
    if problem:
        raise InvalidTiers(problem)
    from loyalty import tasks  # tasks import the services

    with transaction.atomic(durable=True):
        settings, _ = TierSettings.objects.select_for_update().get_or_create(shop=shop)
        running = tier_recompute_running(shop=shop) if one_at_a_time else None
        if running is not None:
            raise InvalidTiers(
                f"Members are still being moved after the last change ({running.done} of "
                f"{running.total} done): apply again once it has finished."
            )
        before_draft = tier_draft_current(shop=shop)
        if expected is not None and before_draft != expected:
            raise InvalidTiers(
                "The tier settings changed since this review was worked out: review the "
                "change again to see what it does now."
            )
        before = asdict(before_draft)
        rules = tier_draft_rules(shop, draft)
        ranks = {t.tier_id: t.rank for t in rules.tiers}
        kept = {t.tier_id for t in draft.tiers if t.tier_id is not None}
        Tier.objects.filter(shop=shop, active=True).exclude(pk__in=kept).update(active=False)
        saved: dict[str, Tier] = {}
        for n, spec in enumerate(draft.tiers):
            values = {
                "name": spec.name.strip(),
                "threshold": spec.threshold,
                "multiplier": spec.multiplier,
                "perks": [p.strip() for p in spec.perks if p.strip()],
                "entry_points": spec.entry_points,
                "entry_reward_id": spec.entry_reward_id,
                "rank": ranks[spec.tier_id if spec.tier_id is not None else -(n + 1)],
                "active": True,
            }
            if spec.tier_id is None:
                tier = Tier.objects.create(shop=shop, settings=settings, **values)
            else:
                tier = Tier.objects.get(shop=shop, pk=spec.tier_id)
                for name, value in values.items():
                    setattr(tier, name, value)
                tier.save()
            saved[tier.name] = tier
        settings.enabled = draft.enabled
        settings.metric = draft.metric
        settings.window = draft.window
        settings.window_months = draft.window_months
        settings.spend_includes_discounts = draft.spend_includes_discounts
        settings.spend_includes_shipping = draft.spend_includes_shipping
        settings.spend_includes_tax = draft.spend_includes_tax
        settings.program_start = draft.program_start
        settings.grace_periods = draft.grace_periods
        new_member = saved.get(draft.new_member_tier.strip())
        settings.new_member_tier = new_member
        settings.new_member_days = draft.new_member_days if new_member else None
        settings.customer_tag_enabled = draft.customer_tag_enabled
        settings.customer_tag_prefix = draft.customer_tag_prefix
        settings.save()
        after_draft = tier_draft_current(shop=shop)
        after = asdict(after_draft)
        if _store_view_changed(before, after):
            # What customers show changes for members whose tier does not (a renamed tier,
            # the tag, tiers on or off): write them all again.
            tier_sync_mark_shop(shop_id=shop.pk)
        recompute = TierRecompute.objects.create(
            shop=shop,
            actor=actor[:255],
            keep_held=keep_held,
            total=Member.objects.filter(shop=shop).count(),
            status=TierRecompute.Status.PENDING if draft.enabled else TierRecompute.Status.DONE,
            finished_at=None if draft.enabled else timezone.now(),
        )
        audit_record(
            shop=shop,
            actor=actor,
            action="tiers.update",
            target_type="tier_settings",
            target_id=settings.pk,
            summary=f"{len(draft.tiers)} tiers, {draft.metric}, {draft.window}",
            changes={
                change.audit_key: [change.before, change.after]
                for change in tier_draft_changes(before_draft, after_draft)
            },
        )
        # Every member's ``me`` shows the tier table and what the next tier needs.
        shop_members_changed_on_commit(shop_id=shop.pk)
        if draft.enabled:
            enqueue_on_commit(tasks.tiers_recompute_run, recompute.pk)
    return recompute


def _store_view_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the saved change alters what a member's store customer shows for the same
    tier: tiers on or off, the tag setting, a tier's name."""
    keys = ("enabled", "customer_tag_enabled", "customer_tag_prefix")
    if any(before[k] != after[k] for k in keys):
        return True
    names = {t["tier_id"]: t["name"] for t in before["tiers"]}
    return any(names.get(t["tier_id"], t["name"]) != t["name"] for t in after["tiers"])


def tiers_recompute_apply(*, recompute_id: int, batch: int = BATCH) -> TierRecompute:
    """Apply the shop's saved settings to every member, a locked primary-key range per
    transaction, the progress saved with each range (resumable, and a range run twice
    changes nothing: ``tier_recompute`` of a recomputed member is what it holds)."""
    while True:
        with transaction.atomic(durable=True):
            recompute = TierRecompute.objects.select_for_update().get(pk=recompute_id)
            if recompute.status in (TierRecompute.Status.DONE, TierRecompute.Status.FAILED):
                return recompute
            shop = recompute.shop
            now = timezone.now()
            if recompute.started_at is None:
                recompute.started_at = now
            recompute.status = TierRecompute.Status.RUNNING
            rules = tier_rules_load(shop=shop)
            # Locked as rows of the columns the decision reads (no model built for the
            # members that stay as they are: most of them, and most of a pass's time).
            rows = list(
                member_qs_select_for_update()
                .filter(shop=shop, pk__gt=recompute.last_member_id)
                .values_list(*ROW_FIELDS, "customer_id", "tier_multiplier")[:batch]
            )
            if rules is None or not rows:
                recompute.status = TierRecompute.Status.DONE
                recompute.finished_at = now
                recompute.save()
                return recompute
            counts = RecomputeCounts(**recompute.counts)
            _apply_range(shop, rules, rows, recompute, counts, now)
            recompute.counts = asdict(counts)
            recompute.done += len(rows)
            recompute.last_member_id = rows[-1][0]
            recompute.save()


def _apply_range(
    shop: Shop,
    rules: TierRules,
    rows: Sequence[tuple[Any, ...]],
    recompute: TierRecompute,
    counts: RecomputeCounts,
    now: datetime,
) -> None:
    """Decide each locked member of the range (``ROW_FIELDS``, customer id, multiplier) and
    write the ones whose tier fields change, with a history row when the tier in effect
    does (or a grant is lost)."""
    known = _known_tiers(shop)
    sums = tier_sums_range(
        shop=shop,
        first_id=rows[0][0],
        last_id=rows[-1][0],
        window=window_now(rules, now),
        fields=qualifying_fields(rules),
    )
    changed: list[Member] = []
    changes: list[TierChange] = []
    for values in rows:
        row = _Row(*values[: len(ROW_FIELDS)])
        customer_id, multiplier = values[len(ROW_FIELDS) :]
        decided = _decide(rules, known, row, sums, now, recompute.keep_held)
        counts.add(decided.move, decided.grant_lost)
        held = MemberTier(
            row.earned_tier_id, row.tier_expires_at, row.granted_tier_id, row.grant_ends_at
        )
        columns = tier_columns(tier_effective(rules, decided.state, now))
        if decided.state == held and columns == (row.tier_id, multiplier):
            continue
        member = Member(pk=row.pk, shop_id=shop.pk, customer_id=customer_id, tier_id=row.tier_id)
        member_tier_set(member, rules, decided.state, now)
        changed.append(member)
        if row.tier_id != member.tier_id or decided.grant_lost:
            changes.append(
                tier_change_new(
                    member,
                    before=known.get(row.tier_id) if row.tier_id is not None else None,
                    after=decided.tier,
                    reason=TierChange.Reason.SETTINGS_CHANGE,
                    key=f"settings:{recompute.pk}:{member.pk}",
                    at=now,
                    actor=recompute.actor,
                    note="grant ended: tier removed" if decided.grant_lost else "",
                )
            )
    tiers_write(changed, changes, shop.pk)


def tiers_recompute_due(*, older_than_seconds: int = 600) -> list[int]:
    """Recomputes left pending or running (a worker died, the broker was down): their ids,
    queued again by the periodic task (a run resumes after its last range)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        TierRecompute.objects.filter(
            status__in=(TierRecompute.Status.PENDING, TierRecompute.Status.RUNNING),
            created_at__lte=cutoff,
        ).values_list("pk", flat=True)
    )
