"""The tier snapshot written at each rollup refresh: members per tier and the repeat rate per
tier for the page's preset ranges (``TierSnapshot``; see ``selectors_tiers``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from loyalty.analytics.models import NO_TIER, TierSnapshot
from loyalty.analytics.selectors import PRESETS, DateRange
from loyalty.analytics.selectors_tiers import TierCounts, tier_counts
from loyalty.analytics.services import shop_zone
from loyalty.services.tiers import tier_rules_load
from merchants.models import Shop


def tier_snapshot_refresh(*, shop: Shop, now: datetime) -> int:
    """Replace the shop's snapshot with the counts as of ``now`` for each preset range
    ending on ``now``'s local day (none while tiers are off); returns the rows written.
    Called by ``rollup_refresh`` inside its transaction, with the shop's rollup state row
    locked, so the snapshot and the rollups share one as-of time."""
    TierSnapshot.objects.filter(shop=shop).delete()
    if tier_rules_load(shop=shop) is None:
        return 0
    today = now.astimezone(shop_zone(shop)).date()
    ranges = {
        preset: DateRange(today - timedelta(days=days - 1), today)
        for preset, days in PRESETS.items()
    }
    # every preset has a No tier row: a shop without members still has its snapshot
    no_members = TierCounts(members=0, repeaters=(0,) * len(ranges))
    counts = {NO_TIER: no_members, **tier_counts(shop=shop, ranges=list(ranges.values()))}
    rows = [
        TierSnapshot(
            shop=shop,
            preset=preset,
            tier_key=key,
            range_start=rng.start,
            range_end=rng.end,
            members=c.members,
            repeaters=c.repeaters[i],
            as_of=now,
        )
        for i, (preset, rng) in enumerate(ranges.items())
        for key, c in counts.items()
    ]
    TierSnapshot.objects.bulk_create(rows)
    return len(rows)
