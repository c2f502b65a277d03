"""VIP tiers: the per-shop settings, the ordered tiers, the tier-history log, the progress
records of a settings change's preview and of the recompute that applies it.

A member's tier lives on the member row (``Member.tier`` / ``tier_multiplier`` for the
crediting engine's hot path, ``earned_tier`` + ``tier_expires_at`` for what they earned and
its grace, ``granted_tier`` + ``grant_ends_at`` for time-limited access). Tiers are never
deleted (a removed tier is archived, ``active = False``), so history rows and members keep
pointing at a real row; only ``shop_data_erase`` deletes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from merchants.models import Shop


class TierSettings(models.Model):
    """How a shop's members qualify for tiers (one row per shop; tiers are off without it
    or while ``enabled`` is false)."""

    class Metric(models.TextChoices):
        POINTS = "points", "Points earned"
        SPEND = "spend", "Amount spent"
        ORDERS = "orders", "Number of orders"

    class Window(models.TextChoices):
        LIFETIME = "lifetime", "Lifetime"
        CALENDAR_YEAR = "calendar_year", "Calendar year"
        ROLLING = "rolling", "Rolling months"

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="tier_settings")
    enabled = models.BooleanField(default=False)
    metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.POINTS)
    # Amount spent is net of discounts, without shipping and tax, unless these say otherwise.
    spend_includes_discounts = models.BooleanField(default=False)
    spend_includes_shipping = models.BooleanField(default=False)
    spend_includes_tax = models.BooleanField(default=False)
    window = models.CharField(max_length=16, choices=Window.choices, default=Window.ROLLING)
    window_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    # Orders placed before this day (shop time) do not count; none: all the history Beam has.
    program_start = models.DateField(null=True, blank=True)
    # A tier reached in a period is kept until the end of this many periods after it.
    grace_periods = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    # Time-limited access for every new member: this tier for this many days.
    new_member_tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    new_member_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # The tier is always written to the store's customer as a metafield; with this on, also
    # as a customer tag "<prefix><tier name>" (the old tier's tag removed on a change).
    customer_tag_enabled = models.BooleanField(default=False)
    customer_tag_prefix = models.CharField(max_length=40, blank=True, default="VIP: ")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tier settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(window_months__gte=1) & Q(grace_periods__gte=1),
                name="tiersettings_periods_positive",
            )
        ]

    def __str__(self) -> str:
        return f"tiers of shop {self.shop_id}"


class Tier(models.Model):
    """One named tier. ``threshold`` is in the metric's unit: points or orders (whole
    numbers) or money in the shop's currency. ``rank`` orders the active tiers (0 lowest)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    settings = models.ForeignKey(TierSettings, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=64)
    rank = models.PositiveSmallIntegerField(default=0)
    threshold = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    multiplier = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal(1))
    perks = models.JSONField(default=list, blank=True)  # texts shown to shoppers
    entry_points = models.PositiveIntegerField(default=0)
    # A catalogue reward given on entry (once per tier per qualifying period, like the entry
    # points): a zero-point redemption issued through the redemption saga.
    entry_reward = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gte=1), name="tier_multiplier_gte_1"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tier_threshold_gte_0"),
            models.UniqueConstraint(
                fields=["shop", "name"], condition=Q(active=True), name="tier_active_name"
            ),
        ]
        indexes = [models.Index(fields=["shop", "rank"], name="tier_shop_rank_idx")]

    def __str__(self) -> str:
        return self.name


class TierChangeQuerySet(models.QuerySet["TierChange"]):
    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - {"note", "actor"}:  # redaction blanks free text, nothing else
            raise ValueError("Tier history rows are never updated.")
        return super().update(**kwargs)


class TierChange(models.Model):
    """One change of a member's tier (append-only). ``key`` makes each change once: a retried
    crediting, evaluation, grant or recompute finds its row and changes nothing. From/to are
    the earned tier for ``earned``, ``expired`` and ``manual``, the tier in effect for
    ``granted``, ``grant_ended`` and ``settings_change``."""

    class Reason(models.TextChoices):
        EARNED = "earned"
        EXPIRED = "expired"  # the grace ended: the member moved to what they qualified for
        MANUAL = "manual"
        GRANTED = "granted"
        GRANT_ENDED = "grant_ended"
        SETTINGS_CHANGE = "settings_change"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(
        "loyalty.Member", on_delete=models.CASCADE, related_name="tier_changes"
    )
    # No index on the tiers: no read looks history up by tier (the analytics join them to
    # rows found by shop and time) and tiers are never deleted, only deactivated; each index
    # would be one more write on every move up.
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    # The names at the time (tiers can be renamed later).
    from_name = models.CharField(max_length=64, blank=True)
    to_name = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    ends_at = models.DateTimeField(null=True, blank=True)  # of a grant, or of the grace
    key = models.CharField(max_length=200)
    actor = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField()
    # When the row was written: ``at`` can lie in the past (a grace or grant end evaluated
    # later), so the analytics rollup finds new rows by this (``at <= created_at``).
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TierChangeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="tierchange_shop_key"),
        ]
        indexes = [
            models.Index(fields=["shop", "created_at"], name="tierchange_shop_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_name or '-'} -> {self.to_name or '-'} ({self.reason})"


class TierRecompute(models.Model):
    """A settings change applied to every member in the background, with its progress.
    ``counts``: {"up", "down", "grant_lost", "unchanged"} so far."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    actor = models.CharField(max_length=255, blank=True)
    # Members keep a tier they hold in its grace when the new settings keep it (see
    # ``loyalty.rules.tiers.tier_recompute``).
    keep_held = models.BooleanField(default=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    last_member_id = models.BigIntegerField(default=0)  # keyset: resumes after this member
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="tierrecompute_shop_idx")]

    def __str__(self) -> str:
        return f"recompute {self.pk} ({self.status} {self.done}/{self.total})"


class TierSync(models.Model):
    """The member's tier as last written to the store's customer (metafield and tag), and
    whether a newer one waits to be written. One row per member: every tier change bumps
    ``mark`` and sets ``pending``, so any number of changes coalesce into one write of the
    value the member holds when the writer runs; the writer clears ``pending`` only if
    ``mark`` is still the one it read. Rows that keep failing are parked (``parked_at``)
    with their error until the merchant retries them."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.OneToOneField(
        "loyalty.Member", on_delete=models.CASCADE, related_name="tier_sync"
    )
    mark = models.PositiveIntegerField(default=1)
    pending = models.BooleanField(default=True)
    # When the writer may take the row next: now, after a backoff, or at the end of a lease.
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)
    # What the store's customer holds from Beam ("": nothing).
    synced_value = models.CharField(max_length=64, blank=True)
    synced_tag = models.CharField(max_length=255, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["shop", "next_attempt_at"],
                condition=Q(pending=True, parked_at__isnull=True),
                name="tiersync_due_idx",
            ),
            models.Index(
                fields=["shop"], condition=Q(parked_at__isnull=False), name="tiersync_parked_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"tier sync of member {self.member_id} ({'pending' if self.pending else 'done'})"


class TierPreview(models.Model):
    """What a draft of tier settings would do to every member, worked out in the background
    (a whole-shop pass outlasts a web request at scale), with its progress. The draft is kept
    so that "Apply" saves exactly what was reviewed; ``base`` is the saved settings the draft
    was compared with: the apply is refused once they differ. A preview never changes
    members; previews are pruned after a day. ``counts`` as on ``TierRecompute``."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    actor = models.CharField(max_length=255, blank=True)
    draft = models.JSONField()  # ``tier_draft_json`` of the draft reviewed
    base = models.JSONField()  # ``tier_draft_json`` of the settings saved at the review
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "-created_at"], name="tierpreview_shop_idx"),
            models.Index(fields=["created_at"], name="tierpreview_created_idx"),
        ]

    def __str__(self) -> str:
        return f"tier preview {self.pk} ({self.status} {self.done}/{self.total})"
