"""Analytics rollups: small tables the dashboard reads instead of the raw orders and ledger.

Every table is a pure function of ``loyalty`` data (and the shop's timezone): it can be
dropped and rebuilt with ``rollup_refresh(full=True)`` at any time. See
``loyalty.analytics.services`` for how rows are refreshed and ``loyalty.analytics.selectors``
for the metric definitions.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from merchants.models import Shop


class AnalyticsSettings(models.Model):
    """What the merchant tells the dashboard: the monthly price of their Beam plan (ROI)."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="analytics_settings")
    plan_price_monthly = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(plan_price_monthly__gte=0), name="analytics_plan_price_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"analytics settings {self.shop_id}"


class RollupState(models.Model):
    """The refresh watermark of a shop's rollups (rows changed after it are not rolled up
    yet) and the timezone the days were cut in (a change forces a full rebuild)."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="+")
    refreshed_through = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    full_built_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"rollup state {self.shop_id} @ {self.refreshed_through}"


class DailyOrderStats(models.Model):
    """Counted orders (placed, not cancelled) by the shop-local day they were placed."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal(0))
    reward_orders = models.PositiveIntegerField(default=0)
    reward_revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="dailyorderstats_shop_day")
        ]

    def __str__(self) -> str:
        return f"orders {self.shop_id} {self.day}"


class DailyPointsStats(models.Model):
    """Ledger movements by the shop-local day they were posted."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    issued = models.IntegerField(default=0)
    redeemed = models.IntegerField(default=0)
    expired = models.IntegerField(default=0)
    reversed = models.IntegerField(default=0)
    available_delta = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="dailypointsstats_shop_day")
        ]

    def __str__(self) -> str:
        return f"points {self.shop_id} {self.day}"


class DailyMemberStats(models.Model):
    """Members enrolled by the shop-local day of their enrolment."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    enrolled = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="dailymemberstats_shop_day")
        ]

    def __str__(self) -> str:
        return f"members {self.shop_id} {self.day}"


class CustomerStats(models.Model):
    """One platform customer's counted orders, lifetime to date."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    customer_id = models.BigIntegerField()
    orders_count = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2)
    first_order_at = models.DateTimeField()
    first_order_day = models.DateField()
    last_order_at = models.DateTimeField()
    enrolled_at = models.DateTimeField(null=True, blank=True)
    is_member = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "customer_id"], name="customerstats_shop_customer"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "first_order_day"], name="customerstats_cohort_idx"),
            # top 5%: read the biggest spenders first and stop after k of the cohort
            models.Index(fields=["shop", "-revenue"], name="customerstats_revenue_idx"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: {self.orders_count} orders"


REPEAT_STEPS = range(2, 12)  # customers with at least x orders, x = 2..11 (P(x+1|x), x ≤ 10)


class DailyCohortStats(models.Model):
    """The customers whose first counted order was on ``day`` (shop-local), summed: every
    per-customer figure of the dashboard except the top 5% adds up over days, so a range
    reads one row per day instead of one per customer. Derived from ``CustomerStats``."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    customers = models.PositiveIntegerField(default=0)
    members = models.PositiveIntegerField(default=0)
    member_repeaters = models.PositiveIntegerField(default=0)
    non_member_repeaters = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal(0))
    with_2 = models.PositiveIntegerField(default=0)
    with_3 = models.PositiveIntegerField(default=0)
    with_4 = models.PositiveIntegerField(default=0)
    with_5 = models.PositiveIntegerField(default=0)
    with_6 = models.PositiveIntegerField(default=0)
    with_7 = models.PositiveIntegerField(default=0)
    with_8 = models.PositiveIntegerField(default=0)
    with_9 = models.PositiveIntegerField(default=0)
    with_10 = models.PositiveIntegerField(default=0)
    with_11 = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="dailycohortstats_shop_day")
        ]

    def __str__(self) -> str:
        return f"cohort {self.shop_id} {self.day}: {self.customers}"


NO_TIER = 0  # ``tier_key`` of the orders placed without a tier


class DailyTierOrderStats(models.Model):
    """Counted orders of members by the shop-local day they were placed and the tier the
    member held then (``LoyaltyOrder.tier``; ``tier_key`` is its pk, ``NO_TIER`` for none).
    Rebuilt with ``DailyOrderStats`` for the same days."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    tier_key = models.BigIntegerField(default=NO_TIER)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "tier_key"], name="dailytierorderstats_shop_day_tier"
            )
        ]

    def __str__(self) -> str:
        return f"tier orders {self.shop_id} {self.day} {self.tier_key}"


class DailyTierMoveStats(models.Model):
    """Tier history rows (``TierChange``) by the shop-local day of their ``at``: moves up
    (earned, or a manual or settings change to a higher tier), down (a grace that ended, or
    a manual or settings change to a lower tier or none), grants and grant ends."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    ups = models.PositiveIntegerField(default=0)
    downs = models.PositiveIntegerField(default=0)
    grants = models.PositiveIntegerField(default=0)
    grant_ends = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="dailytiermovestats_shop_day")
        ]

    def __str__(self) -> str:
        return f"tier moves {self.shop_id} {self.day}"


class TierSnapshot(models.Model):
    """Members per tier now and, of them, those with two or more counted orders in a preset
    range (``selectors_tiers.tier_counts``), written at each rollup refresh for each preset
    of the page (``range_start``..``range_end``: the preset's days ending on the refresh's
    local day). A count of distinct members does not add up over days, so it cannot be a
    daily rollup; computing it at the refresh keeps the page off the orders. Every preset has
    a ``NO_TIER`` row, so a shop without members still has its snapshot."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    preset = models.CharField(max_length=8)
    tier_key = models.BigIntegerField(default=NO_TIER)
    range_start = models.DateField()
    range_end = models.DateField()
    members = models.PositiveIntegerField(default=0)
    repeaters = models.PositiveIntegerField(default=0)
    as_of = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "preset", "tier_key"], name="tiersnapshot_shop_preset_tier"
            )
        ]

    def __str__(self) -> str:
        return f"tier snapshot {self.shop_id} {self.preset} {self.tier_key}"
