"""The Admin API's leaky bucket, per shop, kept in the shop's row.

State is ``(throttle_available, throttle_updated_at)`` on DevShop, refilled lazily by
``restore_rate * elapsed`` and spent with a conditional UPDATE that only succeeds if the row
still holds what was read (optimistic concurrency): safe across processes and workers on
both SQLite and PostgreSQL, no cache needed.

Limits: ``settings.DEVSTORE_THROTTLE_MAXIMUM`` (2000) and ``DEVSTORE_THROTTLE_RESTORE_RATE``
(100/s); a shop with ``throttle_strict`` (or ``settings.DEVSTORE_THROTTLE_STRICT``) gets 50 and
10/s so tests can force throttling. A query costing more than a strict bucket holds is
charged the whole bucket (so it can still run once the bucket is full).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from devstore.models import DevShop

STRICT_MAXIMUM = 50.0
STRICT_RESTORE_RATE = 10.0
MAX_QUERY_COST = 1000


@dataclass(frozen=True)
class ThrottleOutcome:
    allowed: bool
    requested: int
    maximum: float
    available: float
    restore_rate: float

    def cost_extension(self, *, actual: int | None) -> dict:
        return {
            "requestedQueryCost": self.requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": math.floor(self.available),
                "restoreRate": self.restore_rate,
            },
        }

    @property
    def retry_after(self) -> int:
        """Seconds until the bucket holds the cost (for a 429's ``Retry-After``)."""
        missing = min(self.requested, self.maximum) - self.available
        return max(1, math.ceil(missing / self.restore_rate))


def throttle_limits(strict: bool) -> tuple[float, float]:
    if strict or getattr(settings, "DEVSTORE_THROTTLE_STRICT", False):
        return STRICT_MAXIMUM, STRICT_RESTORE_RATE
    return (
        float(getattr(settings, "DEVSTORE_THROTTLE_MAXIMUM", 2000)),
        float(getattr(settings, "DEVSTORE_THROTTLE_RESTORE_RATE", 100)),
    )


def throttle_spend(shop: DevShop, cost: int) -> ThrottleOutcome:
    """Take ``cost`` points from ``shop``'s bucket if it holds them."""
    for _ in range(20):
        row = DevShop.objects.values(
            "throttle_available", "throttle_updated_at", "throttle_strict"
        ).get(pk=shop.pk)
        maximum, restore_rate = throttle_limits(row["throttle_strict"])
        now = timezone.now()
        before, updated_at = row["throttle_available"], row["throttle_updated_at"]
        if before is None or updated_at is None:
            available = maximum
        else:
            elapsed = max(0.0, (now - updated_at).total_seconds())
            available = min(maximum, before + elapsed * restore_rate)
        charge = min(float(cost), maximum)
        if available < charge:
            return ThrottleOutcome(False, cost, maximum, available, restore_rate)
        claimed = DevShop.objects.filter(
            pk=shop.pk, throttle_available=before, throttle_updated_at=updated_at
        ).update(throttle_available=available - charge, throttle_updated_at=now)
        if claimed:
            return ThrottleOutcome(True, cost, maximum, available - charge, restore_rate)
    return ThrottleOutcome(False, cost, maximum, 0.0, restore_rate)
