"""Referrals: the shop's referral settings, each member's referral code, and one
``Referral`` per friend (their email, their one-time discount code, the order that used it
and the advocate's reward), with the fraud check that blocked it, if any.

A referral moves ``pending`` (the friend has a code) → ``ordered`` (an order paid with the
code; the reward waits for the order's pending period) → ``completed`` (the advocate was
rewarded, once, under ``referral:<pk>:reward``). A fraud check or the cap makes it
``blocked`` with its reason (the merchant may unblock: the reward is then given, or
cancel); a cancelled or refunded order, or the merchant, makes it ``cancelled``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from loyalty.rules import referrals as rules
from merchants.models import Shop


class ReferralSettings(models.Model):
    """One shop's referral program: the friend's offer and the advocate's reward."""

    class OfferKind(models.TextChoices):
        AMOUNT = rules.OFFER_AMOUNT, "Amount off"
        PERCENT = rules.OFFER_PERCENT, "Percent off"

    class RewardKind(models.TextChoices):
        POINTS = rules.REWARD_POINTS, "Points"
        REWARD = rules.REWARD_CATALOGUE, "A reward of the catalogue"

    class CapPeriod(models.TextChoices):
        MONTH = rules.CAP_MONTH, "Per month"
        YEAR = rules.CAP_YEAR, "Per year"
        EVER = rules.CAP_EVER, "In total"

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    offer_kind = models.CharField(max_length=8, choices=OfferKind.choices, default="amount")
    offer_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(10))
    offer_minimum = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    first_order_only = models.BooleanField(default=True)
    code_valid_days = models.PositiveIntegerField(default=30)
    reward_kind = models.CharField(max_length=8, choices=RewardKind.choices, default="points")
    reward_points = models.PositiveIntegerField(default=500)
    reward = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Rewarded referrals per advocate per period; 0: no cap.
    cap_count = models.PositiveIntegerField(default=0)
    cap_period = models.CharField(max_length=8, choices=CapPeriod.choices, default="month")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(offer_value__gt=0) & (Q(offer_kind="amount") | Q(offer_value__lte=100)),
                name="referralsettings_offer_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"referrals of shop {self.shop_id}"


class ReferralCode(models.Model):
    """A member's referral code (unique in the shop) and how often its link was followed."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.OneToOneField(
        "loyalty.Member", on_delete=models.CASCADE, related_name="referral_code"
    )
    code = models.CharField(max_length=16)
    visits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="referralcode_shop_code"),
        ]

    def __str__(self) -> str:
        return self.code


class Referral(models.Model):
    """One friend referred by one advocate (see the module docstring for the states)."""

    class Status(models.TextChoices):
        PENDING = rules.PENDING, "Pending"
        ORDERED = rules.ORDERED, "Ordered"
        COMPLETED = rules.COMPLETED, "Completed"
        BLOCKED = rules.BLOCKED, "Blocked"
        CANCELLED = rules.CANCELLED, "Cancelled"

    class CodeStatus(models.TextChoices):
        NONE = "", "No code"
        PENDING = "pending", "Being created"
        ISSUED = "issued", "Issued"
        FAILED = "failed", "Failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    advocate = models.ForeignKey(
        "loyalty.Member", on_delete=models.PROTECT, related_name="referrals_made"
    )
    friend_email = models.CharField(max_length=254)  # as entered, lower-cased
    friend_key = models.CharField(max_length=254)  # ``rules.email_key``: one referral each
    friend_customer_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=32, blank=True)  # ``rules.REASONS``
    reason_detail = models.CharField(max_length=255, blank=True)
    # The claim check the merchant lifted by an unblock: not applied to this referral again.
    unblocked_reason = models.CharField(max_length=32, blank=True)
    # HMAC-SHA256 of the friend's IP with the app secret; blanked after ``IP_RETENTION``.
    ip_hash = models.CharField(max_length=64, blank=True)
    # The friend's one-time discount code, created in the store by the saga.
    code = models.CharField(max_length=32, null=True, blank=True)
    code_status = models.CharField(max_length=8, choices=CodeStatus.choices, blank=True)
    discount_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The order that used the code, and the advocate's reward.
    order_id = models.BigIntegerField(null=True, blank=True)
    order_name = models.CharField(max_length=64, blank=True)
    order_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    reward_due_at = models.DateTimeField(null=True, blank=True)
    rewarded_at = models.DateTimeField(null=True, blank=True)
    reward_points = models.IntegerField(default=0)
    redemption = models.ForeignKey(
        "loyalty.Redemption", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "friend_key"], name="referral_shop_friend"),
            models.UniqueConstraint(fields=["shop", "code"], name="referral_shop_code"),
            models.CheckConstraint(
                condition=~Q(status="blocked") | ~Q(reason=""), name="referral_blocked_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["advocate", "status"], name="referral_advocate_idx"),
            models.Index(fields=["shop", "ip_hash", "created_at"], name="referral_ip_idx"),
            models.Index(
                fields=["reward_due_at"], name="referral_due_idx", condition=Q(status="ordered")
            ),
            models.Index(
                fields=["updated_at"],
                name="referral_code_pending_idx",
                condition=Q(code_status="pending"),
            ),
            models.Index(fields=["shop", "status", "-created_at"], name="referral_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.friend_email} ({self.status})"
