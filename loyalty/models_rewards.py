"""The reward catalogue (what points buy) and redemptions (a reward bought: points spent and
the discount code created in the store, through the redemption saga)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from merchants.models import Shop


class Reward(models.Model):
    """A reward of the catalogue."""

    class Kind(models.TextChoices):
        FIXED_AMOUNT = "fixed_amount"
        PERCENTAGE = "percentage"
        FREE_SHIPPING = "free_shipping"
        FREE_PRODUCT = "free_product"
        VARIABLE = "variable"  # points_per_unit points = value_per_unit currency
        STORE_CREDIT = "store_credit"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="rewards")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    points_cost = models.PositiveIntegerField(null=True, blank=True)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    variant_gid = models.CharField(max_length=128, blank=True)
    points_per_unit = models.PositiveIntegerField(null=True, blank=True)
    value_per_unit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    min_points = models.PositiveIntegerField(null=True, blank=True)
    max_points = models.PositiveIntegerField(null=True, blank=True)
    minimum_subtotal = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    code_valid_days = models.PositiveIntegerField(default=30)
    combines_with_order = models.BooleanField(default=False)
    combines_with_product = models.BooleanField(default=False)
    combines_with_shipping = models.BooleanField(default=True)
    # Tier-exclusive: only members of this tier or a higher one may redeem it.
    min_tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="variable") | Q(points_cost__gt=0),
                name="reward_fixed_cost_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind="variable")
                | (Q(points_per_unit__gt=0) & Q(value_per_unit__gt=0)),
                name="reward_variable_rate",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Redemption(models.Model):
    """Points spent on a reward; the saga pending → issued | failed; issued → used | expired |
    cancelled. Failed, expired and cancelled redemptions gave their points back."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ISSUED = "issued"
        FAILED = "failed"
        USED = "used"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    class Channel(models.TextChoices):
        """Where the shopper redeemed; checkout codes get a short validity."""

        UNSPECIFIED = "", "Unspecified"
        STOREFRONT = "storefront", "Storefront"
        CHECKOUT = "checkout", "Checkout"
        CUSTOMER_ACCOUNT = "customer_account", "Customer account"
        TIER_ENTRY = "tier_entry", "Tier entry reward"  # given, no points spent
        REFERRAL = "referral", "Referral reward"  # given to an advocate, no points spent

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        "loyalty.Member", on_delete=models.PROTECT, related_name="redemptions"
    )
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points_spent = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    code = models.CharField(max_length=32)
    discount_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    client_key = models.CharField(max_length=100)
    channel = models.CharField(max_length=24, choices=Channel.choices, default="", blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="redemption_shop_code"),
            models.UniqueConstraint(
                fields=["shop", "member", "client_key"], name="redemption_client_key"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="redemption_due_idx"),
            models.Index(fields=["shop", "order_id"], name="redemption_shop_order_idx"),
            models.Index(fields=["shop", "updated_at"], name="redemption_shop_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"
