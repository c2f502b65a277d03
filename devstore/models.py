"""The simulated platform's data: shops, app tokens, customers, catalogue, orders, discount
codes and the log of webhooks it sent. Platform ids are 64-bit integers like the real ones."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q


class DevShop(models.Model):
    """A simulated store. Throttle and webhook-chaos switches live here so a test can flip
    them per shop; the leaky bucket's state is kept in the row (see devstore.throttle)."""

    domain = models.CharField(max_length=255, unique=True)
    shop_id = models.BigIntegerField(unique=True)
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    iana_timezone = models.CharField(max_length=64, default="UTC")
    plan = models.CharField(max_length=64, default="Basic")
    taxes_included = models.BooleanField(default=False)  # prices include tax (VAT style)
    app_installed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    throttle_strict = models.BooleanField(default=False)
    throttle_http_429 = models.BooleanField(default=False)
    throttle_available = models.FloatField(null=True, blank=True)
    throttle_updated_at = models.DateTimeField(null=True, blank=True)

    webhook_chaos = models.BooleanField(default=False)  # every delivery is sent twice
    webhook_hold = models.BooleanField(default=False)  # deliveries wait for a release

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def gid(self) -> str:
        return f"gid://shopify/Shop/{self.shop_id}"


class DevAuthCode(models.Model):
    """An authorization code of the OAuth code grant: single use, short-lived."""

    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="auth_codes")
    code = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(max_length=1024)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.shop_id}"


class DevAppToken(models.Model):
    """An access token the app holds for a shop (with its refresh token when expiring)."""

    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="tokens")
    access_token = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_used_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=1024)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token {self.access_token[:10]}… of {self.shop_id}"


class DevCustomer(models.Model):
    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="customers")
    id = models.BigIntegerField(primary_key=True)
    email = models.CharField(max_length=255, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list)
    state = models.CharField(max_length=16, default="disabled")
    note = models.TextField(blank=True)
    # email_marketing_consent.state: not_subscribed, pending, subscribed, unsubscribed
    email_marketing_state = models.CharField(max_length=16, default="not_subscribed")
    email_consent_updated_at = models.DateTimeField(null=True, blank=True)
    store_credit = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shop", "updated_at"], name="devcustomer_updated_idx")]

    def __str__(self) -> str:
        return self.email or str(self.id)

    @property
    def gid(self) -> str:
        return f"gid://shopify/Customer/{self.id}"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class DevMetafield(models.Model):
    """A metafield on any owner (customer, shop, order), keyed by the resolved namespace."""

    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="metafields")
    id = models.BigIntegerField(primary_key=True)
    owner_gid = models.CharField(max_length=128)
    namespace = models.CharField(max_length=255)
    key = models.CharField(max_length=64)
    type = models.CharField(max_length=64)
    value = models.TextField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "owner_gid", "namespace", "key"], name="devmetafield_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner_gid} {self.namespace}.{self.key}"


class DevStoreCreditTransaction(models.Model):
    customer = models.ForeignKey(
        DevCustomer, on_delete=models.CASCADE, related_name="store_credit_transactions"
    )
    id = models.BigIntegerField(primary_key=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} to {self.customer_id}"


class DevProduct(models.Model):
    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="products")
    id = models.BigIntegerField(primary_key=True)
    title = models.CharField(max_length=255)
    tags = models.JSONField(default=list)
    gift_card = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title

    @property
    def gid(self) -> str:
        return f"gid://shopify/Product/{self.id}"


class DevVariant(models.Model):
    product = models.ForeignKey(DevProduct, on_delete=models.CASCADE, related_name="variants")
    id = models.BigIntegerField(primary_key=True)
    title = models.CharField(max_length=255, default="Default Title")
    price = models.DecimalField(max_digits=12, decimal_places=2)
    sku = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.product.title} / {self.title}"

    @property
    def gid(self) -> str:
        return f"gid://shopify/ProductVariant/{self.id}"


class DevDiscountCode(models.Model):
    """A code discount (one code per discount, like the codes an app creates)."""

    class Kind(models.TextChoices):
        BASIC = "basic"
        FREE_SHIPPING = "free_shipping"

    class ValueType(models.TextChoices):
        FIXED_AMOUNT = "fixed_amount"
        PERCENTAGE = "percentage"
        FREE_SHIPPING = "free_shipping"

    class Status(models.TextChoices):
        ACTIVE = "active"
        EXPIRED = "expired"
        DEACTIVATED = "deactivated"

    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="discount_codes")
    id = models.BigIntegerField(primary_key=True)
    code = models.CharField(max_length=255)
    code_key = models.CharField(max_length=255)  # upper-cased: codes are case-insensitive
    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value_type = models.CharField(max_length=16, choices=ValueType.choices)
    # A fixed amount in the shop currency, or a fraction (0.1 = 10 %) for percentages.
    value = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    applies_on_each_item = models.BooleanField(default=False)
    entitled_variant_ids = models.JSONField(default=list)  # empty: every item
    entitled_product_ids = models.JSONField(default=list)
    customer_ids = models.JSONField(default=list)  # context customers; empty: everyone
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    applies_once_per_customer = models.BooleanField(default=False)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    minimum_subtotal = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    maximum_shipping_price = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    combines_with = models.JSONField(default=dict)
    tags = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    usage_count = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "code_key"],
                condition=Q(deleted_at__isnull=True),
                name="devdiscount_code_unique_live",
            )
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def gid(self) -> str:
        return f"gid://shopify/DiscountCodeNode/{self.id}"


class DevOrder(models.Model):
    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="orders")
    id = models.BigIntegerField(primary_key=True)
    number = models.PositiveIntegerField()
    customer = models.ForeignKey(
        DevCustomer, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    email = models.CharField(max_length=255, blank=True)
    discount_code = models.ForeignKey(
        DevDiscountCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    payload = models.JSONField()  # the REST resource, exactly as webhooks carry it
    financial_status = models.CharField(max_length=32)
    fulfillment_status = models.CharField(max_length=32, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shop", "updated_at", "id"], name="devorder_updated_idx")]

    def __str__(self) -> str:
        return self.payload.get("name", str(self.id))

    @property
    def gid(self) -> str:
        return f"gid://shopify/Order/{self.id}"


class DevRefund(models.Model):
    order = models.ForeignKey(DevOrder, on_delete=models.CASCADE, related_name="refunds")
    id = models.BigIntegerField(primary_key=True)
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"refund {self.id}"


class DevSequence(models.Model):
    """Allocator of platform ids (``base + value``) that survives restarts."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class DevWebhookLog(models.Model):
    """One webhook delivery: what was sent, where, and how the app answered."""

    class Status(models.TextChoices):
        PENDING = "pending"
        HELD = "held"
        SENDING = "sending"
        DELIVERED = "delivered"
        FAILED = "failed"

    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="webhook_logs")
    topic = models.CharField(max_length=64)
    url = models.CharField(max_length=512)
    webhook_id = models.CharField(max_length=64, unique=True)
    event_id = models.CharField(max_length=64)
    api_version = models.CharField(max_length=16)
    triggered_at = models.DateTimeField()
    body = models.TextField()
    copies = models.PositiveSmallIntegerField(default=1)  # chaos mode sends 2
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shop", "status"], name="devwebhook_status_idx")]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id} ({self.status})"


class DevReviewApp(models.Model):
    """The store's simulated review app (and the merchant's own system firing custom
    actions): holds the Beam API key the merchant pasted into it, and signs with it."""

    shop = models.OneToOneField(DevShop, on_delete=models.CASCADE, related_name="review_app")
    beam_api_key = models.CharField(max_length=128)
    connected_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"review app of {self.shop_id}"


class DevReview(models.Model):
    """A product review written in the simulated review app; its webhooks go to Beam."""

    shop = models.ForeignKey(DevShop, on_delete=models.CASCADE, related_name="reviews")
    customer = models.ForeignKey(DevCustomer, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(DevProduct, on_delete=models.CASCADE, related_name="+")
    rating = models.PositiveSmallIntegerField()
    has_photo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    last_response = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.review_id

    @property
    def review_id(self) -> str:
        return f"devstore-{self.pk}"
