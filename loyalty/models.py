"""Loyalty data: program settings, members, the append-only points ledger, orders, bonus
events, the audit trail. Rewards and redemptions (``models_rewards``), tiers
(``models_tiers``) and ways to earn (``models_earning``) have their own modules, imported at
the end so ``loyalty.models`` names every model.

Balances on ``Member`` are a cache of the ledger; only ``loyalty.services`` changes them, in
the same transaction as the ledger entry and under the member row lock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Q

from loyalty.errors import LedgerImmutable
from merchants.models import Shop


class LoyaltyProgram(models.Model):
    """Per-shop program settings (one row per shop, created on first use)."""

    class Rounding(models.TextChoices):
        DOWN = "down"
        NEAREST = "nearest"  # half up
        UP = "up"

    class EarnTrigger(models.TextChoices):
        PAID = "paid"
        FULFILLED = "fulfilled"

    class NegativePolicy(models.TextChoices):
        DEDUCT_TO_ZERO = "deduct_to_zero_record_shortfall"
        ALLOW_NEGATIVE = "allow_negative"

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="loyalty_program")
    enabled = models.BooleanField(default=True)
    points_per_currency_unit = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal("1")
    )
    rounding = models.CharField(max_length=16, choices=Rounding.choices, default=Rounding.DOWN)
    include_shipping = models.BooleanField(default=False)
    include_tax = models.BooleanField(default=False)
    excluded_product_ids = models.JSONField(default=list, blank=True)
    excluded_product_tags = models.JSONField(default=list, blank=True)
    minimum_order_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    earn_trigger = models.CharField(
        max_length=16, choices=EarnTrigger.choices, default=EarnTrigger.PAID
    )
    pending_days = models.PositiveIntegerField(default=0)
    welcome_points = models.PositiveIntegerField(default=0)
    negative_balance_policy = models.CharField(
        max_length=40, choices=NegativePolicy.choices, default=NegativePolicy.DEDUCT_TO_ZERO
    )
    # Guest orders placed at most this many days before the shopper's sign-up are credited.
    guest_link_window_days = models.PositiveIntegerField(default=30)
    # Orders the platform marks ``"test": true`` (test gateways) earn only when this is set.
    test_orders_earn = models.BooleanField(default=False)
    expiry_days = models.PositiveIntegerField(null=True, blank=True)
    expiry_warning_days = models.PositiveIntegerField(default=14)
    # Look and words of the launcher, panel and landing page; validated and completed with
    # defaults by ``loyalty.branding`` (one source for the storefront and the admin preview).
    branding = models.JSONField(default=dict, blank=True)
    # Merchant overrides of shopper-facing texts: {"en": {"key": "text"}, "fr": {...}}.
    texts = models.JSONField(default=dict, blank=True)
    # Landing page content: headline, intro, FAQ entries, call to action.
    landing = models.JSONField(default=dict, blank=True)
    # The store renders the launcher from a copy of the branding on Beam's installation (an
    # app-data metafield): set with each branding change, cleared once the store has it.
    branding_publish_pending = models.BooleanField(default=False)
    branding_published_at = models.DateTimeField(null=True, blank=True)
    branding_publish_error = models.CharField(max_length=255, blank=True)
    onboarded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_currency_unit__gte=0), name="program_ratio_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"program {self.shop_id}"


class ProductTags(models.Model):
    """Tags of a product as last seen (order payloads carry no product tags)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    product_id = models.BigIntegerField()
    tags = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "product_id"], name="producttags_unique")
        ]

    def __str__(self) -> str:
        return f"product {self.product_id}"


class Member(models.Model):
    """A shopper of one shop. ``balance``/``pending_points`` cache the ledger sums.

    ``balance >= 0`` is a database rule unless ``negative_balance_allowed`` is set; only a
    reversal under the shop's ``allow_negative`` policy sets that flag, so a bug in the
    redemption path can never overdraw a balance.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="members")
    customer_id = models.BigIntegerField()
    email = models.CharField(max_length=254, blank=True, db_index=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    # The birthday is a ``MemberBirthday`` row (month and day, the year optional).
    balance = models.IntegerField(default=0)
    pending_points = models.IntegerField(default=0)
    lifetime_earned = models.IntegerField(default=0)
    lifetime_redeemed = models.IntegerField(default=0)
    negative_balance_allowed = models.BooleanField(default=False)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    redacted = models.BooleanField(default=False)
    # VIP tier (``loyalty.models_tiers``): the tier in effect and its earning multiplier (the
    # crediting engine reads them with the row it locks anyway), the tier earned and the end
    # of its grace, and a time-limited grant. No single-column indexes: members are inserted
    # in bursts; the periodic evaluation reads the partial indexes below.
    tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    tier_multiplier = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal(1), db_default=Decimal(1)
    )
    earned_tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    tier_expires_at = models.DateTimeField(null=True, blank=True)
    granted_tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    grant_ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["shop", "tier_expires_at"],
                name="member_tier_expiry_idx",
                condition=Q(tier_expires_at__isnull=False),
            ),
            models.Index(
                fields=["shop", "grant_ends_at"],
                name="member_grant_end_idx",
                condition=Q(grant_ends_at__isnull=False),
            ),
            # the yearly job: members who joined on this day of an earlier year
            models.Index(fields=["shop", "created_at"], name="member_shop_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["shop", "customer_id"], name="member_shop_customer"),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(negative_balance_allowed=True),
                name="member_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(pending_points__gte=0), name="member_pending_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.customer_id} ({self.balance})"

    @property
    def customer_gid(self) -> str:
        return f"gid://shopify/Customer/{self.customer_id}"


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise LedgerImmutable("Ledger entries are never updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise LedgerImmutable("Ledger entries are never deleted.")


class LedgerEntry(models.Model):
    """One append-only movement of points. Never updated or deleted (shop/redact aside)."""

    class Kind(models.TextChoices):
        ORDER_EARN = "order_earn"
        ORDER_REFUND = "order_refund"
        ORDER_CANCEL = "order_cancel"
        WELCOME = "welcome"
        MANUAL = "manual"
        IMPORT = "import"
        REDEEM = "redeem"
        REDEEM_REFUND = "redeem_refund"
        EXPIRE = "expire"
        PENDING_RELEASE = "pending_release"
        BONUS = "bonus"
        TIER_ENTRY = "tier_entry"
        ACTION = "action"  # a way to earn other than orders (``models_earning``)
        ACTION_REVERSAL = "action_reversal"
        REFERRAL = "referral"  # an advocate's reward for a friend's order (``models_referrals``)

    class Bucket(models.TextChoices):
        AVAILABLE = "available"
        PENDING = "pending"

    # No single-column indexes on the keys: every entry of a burst updates every index, and
    # the composite indexes and the idempotency constraint below start with them.
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.IntegerField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    bucket = models.CharField(max_length=16, choices=Bucket.choices, default=Bucket.AVAILABLE)
    release_at = models.DateTimeField(null=True, blank=True)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=200)
    actor = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"], name="ledger_shop_idempotency_key"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="ledger_member_idx"),
            models.Index(fields=["shop", "created_at"], name="ledger_shop_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.bucket})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerImmutable("Ledger entries are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise LedgerImmutable("Ledger entries are never deleted.")


class LedgerDrift(models.Model):
    """A member whose cached balance did not equal the ledger sum when ``ledger_verify`` ran."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    balance = models.IntegerField()
    ledger_balance = models.IntegerField()
    pending_points = models.IntegerField()
    ledger_pending = models.IntegerField()
    detected_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"drift member {self.member_id}: {self.balance} != {self.ledger_balance}"


# The columns the tier sums read of an order (``loyalty.services.tiers.SUMS_SQL``, its
# filters, and the order ids the crediting engine leaves out), carried by the member index.
ORDER_SUMS_COLUMNS = [
    "shop",
    "order_id",
    "state",
    "placed_at",
    "triggered_at",
    "base",
    "refunded_base",
    "points_earned",
    "points_reversed",
    "spend_goods",
    "subtotal_price",
    "spend_discounts",
    "spend_shipping",
    "spend_tax",
    "spend_refunded_goods",
    "spend_refunded_discounts",
    "spend_refunded_shipping",
    "spend_refunded_tax",
]


def _spend_amount() -> models.DecimalField:
    """One of an order's "amount spent" parts (shop money; 0 until the order says otherwise)."""
    return models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal(0), db_default=Decimal(0)
    )


class LoyaltyOrder(models.Model):
    """What Beam knows of one platform order and the points it gave (and took back)."""

    class State(models.TextChoices):
        OPEN = "open"  # seen, the earning trigger has not happened yet
        GUEST = "guest"  # triggered, no customer: waits for a member with this email
        CREDITED = "credited"
        NOT_ELIGIBLE = "not_eligible"  # program disabled when the trigger happened
        CANCELLED = "cancelled"

    # Indexes kept to what queries use (each order insert and update writes all of them):
    # ``shop`` leads the unique constraint and the composite indexes.
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    order_id = models.BigIntegerField()
    order_gid = models.CharField(max_length=128, blank=True)
    name = models.CharField(max_length=64, blank=True)
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        db_index=False,  # ``loyaltyorder_member_sums_idx`` leads with it
    )
    customer_id = models.BigIntegerField(null=True, blank=True)
    email = models.CharField(max_length=254, blank=True)  # lower-cased; guest index below
    currency = models.CharField(max_length=3, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    taxes_included = models.BooleanField(default=False)
    # Order facts for analytics (shop currency): what the shopper paid, before refunds.
    total_price = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    subtotal_price = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    discount_codes = models.JSONField(default=list, blank=True)  # upper-cased codes used
    # Keyed hash of the shipping address (``rules.referrals.address_key``): the referral
    # check "placed by the advocate" compares it; never shown, blanked by redaction.
    ship_key = models.CharField(max_length=16, blank=True, default="", db_default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    base = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    multiplier = models.DecimalField(max_digits=8, decimal_places=4, default=1)
    points_due = models.IntegerField(default=0)  # computed at the trigger
    points_earned = models.IntegerField(default=0)  # credited (pending or available)
    points_pending = models.IntegerField(default=0)  # of the credited, still pending
    points_reversed = models.IntegerField(default=0)
    points_shortfall = models.IntegerField(default=0)  # reversal the balance could not cover
    refunded_base = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # The member's tier multiplier when the order was credited (``points_earned`` includes
    # it, so a reversal takes back exactly what was given).
    tier_multiplier = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal(1), db_default=Decimal(1)
    )
    # The member's tier in effect when the order was first linked to them (its placement, as
    # Beam saw it), for revenue per tier in analytics; null: no tier then, tiers off, a guest
    # order claimed later, or recorded before tiers. No index: read through the rollups.
    tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # What the order counts for a tier's "amount spent" (shop money): line items other than
    # gift cards net of their discounts and without tax, their discounts, shipping net of its
    # discounts and without tax, all tax; and what refunds gave back of each. ``spend_goods``
    # is null on orders recorded before tiers (their subtotal stands in).
    spend_goods = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    spend_discounts = _spend_amount()
    spend_shipping = _spend_amount()
    spend_tax = _spend_amount()
    spend_refunded_goods = _spend_amount()
    spend_refunded_discounts = _spend_amount()
    spend_refunded_shipping = _spend_amount()
    spend_refunded_tax = _spend_amount()
    triggered_at = models.DateTimeField(null=True, blank=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_id"], name="loyaltyorder_unique"),
            models.CheckConstraint(
                condition=Q(points_reversed__lte=F("points_earned")),
                name="loyaltyorder_reversed_lte_earned",
            ),
            models.CheckConstraint(
                condition=Q(points_pending__gte=0), name="loyaltyorder_pending_not_negative"
            ),
        ]
        indexes = [
            # Only orders with points still pending, and guest orders waiting for their
            # shopper, are in these two: most orders never are.
            models.Index(
                fields=["release_at"],
                name="loyaltyorder_release_idx",
                condition=Q(points_pending__gt=0),
            ),
            models.Index(
                fields=["shop", "email"],
                name="loyaltyorder_guest_email_idx",
                condition=Q(state="guest"),
            ),
            # Analytics rollups read orders by change, by customer and by day.
            models.Index(fields=["shop", "updated_at"], name="loyaltyorder_shop_updated_idx"),
            models.Index(fields=["shop", "customer_id"], name="loyaltyorder_shop_customer_idx"),
            models.Index(fields=["shop", "placed_at"], name="loyaltyorder_shop_placed_idx"),
            # A member's orders (the foreign key's index) carrying every column the tier
            # sums read (``SUMS_SQL``, the window, the state): the sums of a member or of a
            # range of members are an index-only scan in member order, instead of a visit
            # to each order's page (a member's orders are spread over years of inserts).
            # PostgreSQL only; elsewhere a plain index on the member.
            models.Index(
                fields=["member"],
                include=ORDER_SUMS_COLUMNS,
                name="loyaltyorder_member_sums_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.state})"


class OrderRefund(models.Model):
    """A refund as received (once per refund id), whether or not its order was credited.

    ``base`` is the refund's base under its order's ``taxes_included``. A refund can arrive
    before its order says whether prices include tax, so both candidate bases are kept and
    ``base`` is chosen again once the order is known (null on rows recorded before)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    order_id = models.BigIntegerField()
    refund_id = models.BigIntegerField()
    base = models.DecimalField(max_digits=14, decimal_places=2)
    base_tax_excluded = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    base_tax_included = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    # The refund's own time from the payload (``processed_at``, else ``created_at``); null
    # when the payload had neither (and on rows recorded before): ``created_at`` stands in.
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "refund_id"], name="orderrefund_unique")
        ]
        indexes = [models.Index(fields=["shop", "order_id"], name="orderrefund_order_idx")]

    def __str__(self) -> str:
        return f"refund {self.refund_id} of order {self.order_id}"


class BonusEvent(models.Model):
    """A points multiplier for a time window, optionally only for products with given tags.

    Overlaps: the highest multiplier that applies to a line wins; multipliers never compound.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255, blank=True)
    multiplier = models.DecimalField(max_digits=8, decimal_places=4)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    product_tags = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gte=1), name="bonus_multiplier_gte_1"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="bonus_window"),
        ]

    def __str__(self) -> str:
        return f"x{self.multiplier} {self.starts_at:%Y-%m-%d}"


class ExpiryWarning(models.Model):
    """A member whose points expire soon (the notification layer sends the email)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="expiry_warnings")
    points = models.IntegerField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "expires_at"], name="expirywarning_unique")
        ]

    def __str__(self) -> str:
        return f"warning member {self.member_id} {self.expires_at:%Y-%m-%d}"


class AuditEvent(models.Model):
    """One change made in the embedded admin: who (the session token's ``sub``), when, what.

    Append-only, written by the service that made the change in the same transaction, so a
    rolled-back change leaves no audit row and a committed one always has one.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    actor = models.CharField(max_length=255)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=255, blank=True)
    # {"field": [before, after]} for settings; free-form details for operations.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="auditevent_shop_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


# The earning-action models live in their own module; importing them registers them.
from loyalty.models_earning import (  # noqa: E402, F401
    ActionAward,
    EarningAction,
    MemberBirthday,
)

# Referrals live in their own module; importing them registers them.
from loyalty.models_referrals import (  # noqa: E402, F401
    Referral,
    ReferralCode,
    ReferralSettings,
)

# The reward catalogue and redemptions live in their own module; importing them registers them.
from loyalty.models_rewards import (  # noqa: E402, F401
    Redemption,
    Reward,
)

# The tier models live in their own module; importing them here registers them with the app.
from loyalty.models_tiers import (  # noqa: E402, F401
    Tier,
    TierChange,
    TierPreview,
    TierRecompute,
    TierSettings,
    TierSync,
)
