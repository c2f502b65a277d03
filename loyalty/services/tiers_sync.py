"""The member's tier on the store's customer: an app-owned metafield (``$app.tier``, a
single line of text: the tier's name) and, when the shop turns it on, a customer tag
"<prefix><tier name>" (the old tier's tag removed), so merchants can use the tier in the
platform's own segments, discounts and flows.

Written in batches, coalesced, within the rate limit. A tier change only marks the member
(``tier_sync_mark``, in the transaction that changes the tier: one ``TierSync`` row per
member, its ``mark`` bumped); the periodic ``tiers_sync_run`` writes what each marked member
holds *when it runs*, so ten changes between two runs are one write of the last value. Each
batch is at most 25 members (the ``metafieldsSet`` limit): one ``metafieldsSet``, one
``metafieldsDelete`` for members who lost their tier, one aliased document of
``tagsRemove``/``tagsAdd``. A run stops for a shop when the platform throttles it or its
bucket runs low (the rows wait for the next run); failures back off and, past
``MAX_ATTEMPTS`` or refused by the platform, are parked for the merchant to see and retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, Q, Value, When
from django.utils import timezone

from loyalty.audit import audit_record
from loyalty.models import Member, Tier, TierSettings, TierSync
from merchants.errors import ShopifyApiError, ShopNotInstalled
from merchants.models import Shop
from merchants.shopify.client import THROTTLED_CODE, AdminClient
from merchants.shopify.operations.customers import (
    METAFIELDS_SET_MAX,
    TIER_METAFIELD_KEY,
    TIER_METAFIELD_NAMESPACE,
    customer_tags_batch,
    customer_text_metafield_write,
)

logger = logging.getLogger(__name__)

BATCH = METAFIELDS_SET_MAX
MAX_BATCHES_PER_RUN = 40  # per shop and run (1,000 members); the rest waits for the next run
LEASE = timedelta(minutes=2)  # a claimed batch is not taken again before this (a dead worker)
MAX_ATTEMPTS = 8
# A batch costs at most 10 per mutation: metafieldsSet, metafieldsDelete and two tag
# mutations per member. Below this many points left in the bucket, the run stops early.
BATCH_COST = 10 * (2 + 2 * BATCH)
CLIENT_MAX_WAIT = 5.0  # seconds a call may sleep on throttling before the rows are postponed
TAG_MAX_LENGTH = 255
MARK_CHUNK = 2000  # member ids per marking statement (a recompute batch is 5,000)


def tier_sync_backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failed ones (bounded exponential)."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(attempts - 1, 0)))


# --- marking -----------------------------------------------------------------------------------

_UPSERT = """
INSERT INTO {table} (shop_id, member_id, mark, pending, next_attempt_at, attempts,
                     last_error, parked_at, synced_value, synced_tag)
SELECT m.shop_id, m.id, 1, %s, %s, 0, '', NULL, '', ''
FROM {members} m WHERE m.shop_id = %s AND ({where})
ON CONFLICT (member_id) DO UPDATE SET
    mark = {table}.mark + 1,
    next_attempt_at = CASE WHEN {table}.pending AND {table}.parked_at IS NULL
                           THEN {table}.next_attempt_at ELSE excluded.next_attempt_at END,
    attempts = CASE WHEN {table}.parked_at IS NULL THEN {table}.attempts ELSE 0 END,
    pending = excluded.pending,
    parked_at = NULL
"""


def _upsert(shop_id: int, where: str, params: list[Any]) -> int:
    qn = connection.ops.quote_name
    sql = _UPSERT.format(
        table=qn(TierSync._meta.db_table), members=qn(Member._meta.db_table), where=where
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [True, timezone.now(), shop_id, *params])
        return int(cursor.rowcount or 0)


def tier_sync_mark(*, shop_id: int, member_ids: Iterable[int]) -> None:
    """Mark these members' tier as to be written to the store (in the caller's transaction,
    the one that changes their tier). A member already waiting keeps their place (and a
    running write's lease): the writer notices the new mark and writes again."""
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), MARK_CHUNK):
        chunk = ids[start : start + MARK_CHUNK]
        _upsert(shop_id, f"m.id IN ({', '.join(['%s'] * len(chunk))})", chunk)


def tier_sync_mark_shop(*, shop_id: int) -> int:
    """Mark every member who holds a tier or whose customer shows one from Beam (a change
    of the tag setting, of tier names, tiers turned on or off). One statement."""
    table = connection.ops.quote_name(TierSync._meta.db_table)
    synced = (
        "m.tier_id IS NOT NULL OR m.id IN (SELECT s.member_id FROM "  # noqa: S608 (meta only)
        + table
        + " s WHERE s.shop_id = %s AND (s.synced_value <> '' OR s.synced_tag <> ''))"
    )
    return _upsert(shop_id, synced, [shop_id])


# --- what the customer should show -------------------------------------------------------------


@dataclass(frozen=True)
class SyncView:
    """What a shop's customers show of their tier: off (no tiers), the tier names, the tag."""

    enabled: bool
    names: dict[int, str]  # active tiers
    tag_enabled: bool
    tag_prefix: str

    def value(self, tier_id: int | None) -> str | None:
        if not self.enabled or tier_id is None:
            return None
        return self.names.get(tier_id)

    def tag(self, tier_id: int | None) -> str:
        value = self.value(tier_id)
        if value is None or not self.tag_enabled:
            return ""
        return f"{self.tag_prefix}{value}".strip()[:TAG_MAX_LENGTH]


def _sync_view(shop_id: int) -> SyncView:
    settings = TierSettings.objects.filter(shop_id=shop_id).first()
    names = dict(Tier.objects.filter(shop_id=shop_id, active=True).values_list("pk", "name"))
    if settings is None:
        return SyncView(False, names, False, "")
    return SyncView(
        settings.enabled, names, settings.customer_tag_enabled, settings.customer_tag_prefix
    )


def tier_tag_problem(*, enabled: bool, prefix: str) -> str:
    """Why a tag setting cannot be saved, or ``""`` (a tag is at most 255 characters and
    a tier name 64; commas separate tags on the platform)."""
    if "," in prefix:
        return "The tag prefix cannot contain a comma."
    if len(prefix) > 40:
        return "The tag prefix has at most 40 characters."
    return ""


# --- the writer --------------------------------------------------------------------------------


@dataclass
class SyncReport:
    written: int = 0  # members whose customer now shows their tier (or no tier)
    calls: int = 0
    parked: int = 0
    postponed: int = 0  # rows left for a later run (throttled, failed, bucket low)
    throttled: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class _Row:
    pk: int
    member_id: int
    mark: int
    attempts: int
    synced_value: str
    synced_tag: str
    gid: str = ""
    value: str | None = None
    tag: str = ""


def tiers_sync_due(*, now: datetime | None = None) -> list[int]:
    """The installed shops with members waiting to be written (for the periodic run)."""
    now = now or timezone.now()
    return list(
        TierSync.objects.filter(
            pending=True,
            parked_at__isnull=True,
            next_attempt_at__lte=now,
            shop__uninstalled_at__isnull=True,
        )
        .order_by("shop_id")
        .values_list("shop_id", flat=True)
        .distinct()
    )


def tiers_sync_shop(
    *,
    shop_id: int,
    client: AdminClient | None = None,
    max_batches: int = MAX_BATCHES_PER_RUN,
) -> SyncReport:
    """Write the waiting members of one shop, batch after batch, until none is due, the
    platform throttles, its bucket runs low or ``max_batches`` were written."""
    report = SyncReport()
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None or not shop.is_active:
        return report
    api = client or AdminClient(shop, max_total_wait=CLIENT_MAX_WAIT)
    view = _sync_view(shop.pk)
    for _ in range(max_batches):
        rows = _claim(shop.pk)
        if not rows:
            break
        if not _batch_write(shop, api, view, rows, report):
            break
        throttle = api.last_cost.throttle if api.last_cost else None
        if throttle is not None and throttle.currently_available < BATCH_COST:
            report.throttled = True
            break
    return report


def _claim(shop_id: int) -> list[_Row]:
    """Take the next due rows (oldest first) under a lease, in a short transaction: no lock
    is held across the platform calls."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        found = list(
            TierSync.objects.select_for_update(skip_locked=True)
            .filter(shop_id=shop_id, pending=True, parked_at__isnull=True, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "member_id", "mark", "attempts", "synced_value", "synced_tag")[
                :BATCH
            ]
        )
        if found:
            TierSync.objects.filter(pk__in=[r[0] for r in found]).update(
                next_attempt_at=now + LEASE
            )
    return [_Row(*r) for r in found]


def _batch_write(
    shop: Shop, api: AdminClient, view: SyncView, rows: list[_Row], report: SyncReport
) -> bool:
    """Write one claimed batch; False when the shop's run should stop here."""
    members = {
        m["pk"]: m
        for m in Member.objects.filter(shop=shop, pk__in=[r.member_id for r in rows]).values(
            "pk", "customer_id", "tier_id", "redacted"
        )
    }
    gone = [r.pk for r in rows if r.member_id not in members or members[r.member_id]["redacted"]]
    if gone:  # a redacted customer: nothing to write, nothing to keep
        TierSync.objects.filter(pk__in=gone).delete()
    rows = [r for r in rows if r.pk not in gone]
    for row in rows:
        member = members[row.member_id]
        row.gid = f"gid://shopify/Customer/{member['customer_id']}"
        row.value = view.value(member["tier_id"])
        row.tag = view.tag(member["tier_id"])
    writes = [r for r in rows if r.value != (r.synced_value or None)]
    values = [(r.gid, r.value) for r in writes]
    tags = [r for r in rows if r.tag != r.synced_tag]
    refused: dict[int, str] = {}
    try:
        if values:
            report.calls += 1
            failed = customer_text_metafield_write(
                shop,
                namespace=TIER_METAFIELD_NAMESPACE,
                key=TIER_METAFIELD_KEY,
                values=values,
                client=api,
            )
            refused.update({writes[n].pk: f"metafield: {msg}" for n, msg in failed.items()})
        tag_rows = [r for r in tags if r.pk not in refused]
        if tag_rows:
            report.calls += 1
            failed = customer_tags_batch(
                shop,
                changes=[
                    (r.gid, [r.tag] if r.tag else [], [r.synced_tag] if r.synced_tag else [])
                    for r in tag_rows
                ],
                client=api,
            )
            refused.update({tag_rows[n].pk: f"tags: {msg}" for n, msg in failed.items()})
    except ShopNotInstalled:
        return False
    except ShopifyApiError as exc:
        if exc.code == THROTTLED_CODE:
            wait = float(getattr(exc, "retry_after", 1.0) or 1.0)
            _postpone(rows, timezone.now() + timedelta(seconds=wait))
            report.throttled = True
            report.postponed += len(rows)
            return False
        _failed(rows, str(exc), report, park_now=False)  # network, 5xx, auth, refused batch
        return False
    done = [r for r in rows if r.pk not in refused]
    _succeeded(done)
    report.written += len(done)
    for row in rows:
        if row.pk in refused:
            # A refused metafield is permanent (the platform named the input); a refused tag
            # change is tried again like any failure.
            permanent = refused[row.pk].startswith("metafield")
            _failed([row], refused[row.pk], report, park_now=permanent)
    return True


def _succeeded(rows: list[_Row]) -> None:
    """Record what the customers now show; a row marked again meanwhile stays pending and is
    due at once (the new value is written by the next run)."""
    now = timezone.now()
    for row in rows:
        TierSync.objects.filter(pk=row.pk).update(
            synced_value=row.value or "",
            synced_tag=row.tag,
            synced_at=now,
            attempts=0,
            last_error="",
            pending=Case(When(mark=row.mark, then=Value(False)), default=Value(True)),
            next_attempt_at=now,
        )


def _postpone(rows: list[_Row], until: datetime) -> None:
    TierSync.objects.filter(pk__in=[r.pk for r in rows]).update(next_attempt_at=until)


def _failed(rows: list[_Row], error: str, report: SyncReport, *, park_now: bool) -> None:
    now = timezone.now()
    report.errors.append(error[:300])
    for row in rows:
        attempts = row.attempts + 1
        park = park_now or attempts >= MAX_ATTEMPTS
        TierSync.objects.filter(pk=row.pk).update(
            attempts=attempts,
            last_error=error[:500],
            next_attempt_at=now + tier_sync_backoff(attempts),
            parked_at=now if park else None,
        )
        report.parked += int(park)
        report.postponed += int(not park)
    logger.warning("tier sync: %d member(s) failed: %s", len(rows), error[:300])


# --- what the merchant sees --------------------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    pending: int
    parked: int
    parked_rows: list[dict[str, Any]]  # the newest parked members: customer id, error, since


def tier_sync_status(*, shop: Shop, shown: int = 20) -> SyncStatus:
    """How far the store's customers are behind their tiers (for the Tiers page): members
    waiting, members parked with the platform's reason."""
    counts = TierSync.objects.filter(shop=shop).aggregate(
        pending=Count("pk", filter=Q(pending=True, parked_at__isnull=True)),
        parked=Count("pk", filter=Q(parked_at__isnull=False)),
    )
    parked = list(
        TierSync.objects.filter(shop=shop, parked_at__isnull=False)
        .order_by("-parked_at", "-pk")
        .values("member__customer_id", "last_error", "parked_at", "attempts")[:shown]
    )
    return SyncStatus(
        pending=counts["pending"],
        parked=counts["parked"],
        parked_rows=[
            {
                "customer_id": p["member__customer_id"],
                "error": p["last_error"],
                "parked_at": p["parked_at"],
                "attempts": p["attempts"],
            }
            for p in parked
        ],
    )


def tier_sync_retry_parked(*, shop: Shop, actor: str) -> int:
    """Put the shop's parked members back in line (the merchant's "Retry"), audited; the
    next run writes them."""
    with transaction.atomic(durable=True):
        moved = TierSync.objects.filter(shop=shop, parked_at__isnull=False).update(
            parked_at=None, attempts=0, pending=True, next_attempt_at=timezone.now()
        )
        if moved:
            audit_record(
                shop=shop,
                actor=actor,
                action="tiers.sync_retry",
                target_type="tier_settings",
                summary=f"{moved} customer(s) queued again for the tier metafield and tag",
            )
    return moved
