"""The ways to earn other than orders: one ``EarningAction`` per shop and kind (a birthday
gift, a newsletter sign-up, a follow on one network, a review, a merchant's custom action),
one ``ActionAward`` per member and occurrence, and the member's ``MemberBirthday``.

Every award posts through the ledger (``loyalty.services.earning_actions``) under a unique
key, so a retried webhook, click or API call never awards twice; a reversal (a deleted
review) posts its opposite entry once and marks the award reversed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from loyalty.rules import earning_actions as rules
from merchants.models import Shop


class EarningAction(models.Model):
    """One way to earn of one shop: its points, switch, per-member limit and texts."""

    class Kind(models.TextChoices):
        BIRTHDAY = rules.BIRTHDAY, "Birthday"
        ANNIVERSARY = rules.ANNIVERSARY, "Membership anniversary"
        NEWSLETTER = rules.NEWSLETTER, "Newsletter sign-up"
        SOCIAL_FOLLOW = rules.SOCIAL_FOLLOW, "Social follow"
        SOCIAL_SHARE = rules.SOCIAL_SHARE, "Social share"
        REVIEW = rules.REVIEW, "Product review"
        REVIEW_PHOTO = rules.REVIEW_PHOTO, "Review photo"
        CUSTOM = rules.CUSTOM, "Custom action"

    class Limit(models.TextChoices):
        ONCE = rules.ONCE, "Once"
        DAY = rules.DAY, "Once a day"
        MONTH = rules.MONTH, "Once a month"
        YEAR = rules.YEAR, "Once a year"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # Social actions: the network (``rules.NETWORKS``); blank for other kinds.
    network = models.CharField(max_length=16, blank=True)
    # Custom actions: the merchant's key (letters, digits, ``-``/``_``); blank otherwise.
    name = models.CharField(max_length=64, blank=True)
    points = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=False)
    # When it was last turned on: a newsletter consent given before does not earn.
    enabled_at = models.DateTimeField(null=True, blank=True)
    limit = models.CharField(max_length=8, choices=Limit.choices, default=Limit.ONCE)
    # Follow: the merchant's profile; share: the page shared (blank: the store's home page).
    url = models.CharField(max_length=500, blank=True)
    # Shopper texts per language: {"fr": {"title": ..., "description": ...}}; blank = default.
    texts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "kind", "network", "name"], name="earningaction_unique"
            ),
        ]
        indexes = [
            # the yearly job finds the shops with birthdays or anniversaries on
            models.Index(fields=["kind"], name="earningaction_on_idx", condition=Q(enabled=True)),
        ]

    def __str__(self) -> str:
        return rules.action_key(self.kind, self.network, self.name)

    @property
    def key(self) -> str:
        return rules.action_key(self.kind, self.network, self.name)


class ActionAward(models.Model):
    """One award of an action to a member, once per ``key`` (``birthday:<member>:<year>``,
    ``newsletter:<member>``, ``social_follow:instagram:<member>``,
    ``custom:<name>:<idempotency key>``). ``period`` is what the action's limit counts."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(
        "loyalty.Member", on_delete=models.PROTECT, related_name="action_awards", db_index=False
    )
    action = models.ForeignKey(EarningAction, on_delete=models.PROTECT, related_name="awards")
    key = models.CharField(max_length=200)
    period = models.CharField(max_length=16, blank=True)
    # The day the award is for, in the shop's time zone (a birthday gift: the birthday).
    occurred_on = models.DateField()
    points = models.IntegerField()  # credited: the action's points times the tier multiplier
    base_points = models.IntegerField()
    tier_multiplier = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal(1))
    source_ref = models.CharField(max_length=128, blank=True)  # e.g. the review's id
    actor = models.CharField(max_length=255, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    points_reversed = models.IntegerField(default=0)
    reversal_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="actionaward_shop_key"),
            models.CheckConstraint(
                condition=Q(points_reversed__lte=models.F("points")),
                name="actionaward_reversed_lte_points",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "action", "period"], name="actionaward_member_idx"),
        ]

    def __str__(self) -> str:
        return self.key


class MemberBirthday(models.Model):
    """The member's birthday as they entered it: month and day, the year optional."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.OneToOneField(
        "loyalty.Member", on_delete=models.CASCADE, related_name="birthday_row"
    )
    month = models.PositiveSmallIntegerField()
    day = models.PositiveSmallIntegerField()
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12, day__gte=1, day__lte=31),
                name="memberbirthday_valid",
            ),
        ]
        # the daily job: a shop's members whose birthday is today
        indexes = [models.Index(fields=["shop", "month", "day"], name="memberbirthday_day_idx")]

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"
