"""The shop (one installation of Beam) and the durable inbox of platform deliveries."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from merchants.domains import SHOP_DOMAIN_RE
from merchants.encryption import secret_decrypt, secret_encrypt


class ShopQuerySet(models.QuerySet["Shop"]):
    def active(self) -> ShopQuerySet:
        return self.filter(uninstalled_at__isnull=True)


class Shop(models.Model):
    """A store that installed Beam. Tokens are only ever stored encrypted."""

    domain = models.CharField(
        max_length=255,
        unique=True,
        validators=[RegexValidator(SHOP_DOMAIN_RE, "Not a valid myshopify.com domain.")],
    )
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    iana_timezone = models.CharField(max_length=64, default="UTC")
    plan_name = models.CharField(max_length=64, blank=True)
    # The storefront's primary language (``shop/update``'s ``primary_locale``, e.g. "fr" or
    # "pt-BR"): the admin formats money and numbers in it. Blank until the platform says.
    primary_locale = models.CharField(max_length=16, blank=True)

    access_token_encrypted = models.TextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=1024, blank=True)

    installed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    # Cursor of the reconciliation job: orders updated after this were not yet pulled.
    orders_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ShopQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(domain__regex=r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$"),
                name="shop_domain_valid",
            )
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_active(self) -> bool:
        return self.uninstalled_at is None and bool(self.access_token_encrypted)

    @property
    def access_token(self) -> str:
        return secret_decrypt(self.access_token_encrypted)

    @access_token.setter
    def access_token(self, value: str) -> None:
        self.access_token_encrypted = secret_encrypt(value)

    @property
    def refresh_token(self) -> str:
        return secret_decrypt(self.refresh_token_encrypted)

    @refresh_token.setter
    def refresh_token(self, value: str) -> None:
        self.refresh_token_encrypted = secret_encrypt(value)

    @property
    def granted_scopes(self) -> set[str]:
        return {s.strip() for s in self.scopes.split(",") if s.strip()}


class WebhookDelivery(models.Model):
    """One delivery from the platform (or one order the reconciliation job pulled), stored
    before it is acknowledged so nothing is lost; processed asynchronously."""

    class Status(models.TextChoices):
        RECEIVED = "received"  # waiting; due when next_attempt_at is null or past
        PROCESSING = "processing"  # claimed; next_attempt_at is the claim's lease deadline
        SUCCEEDED = "succeeded"
        SKIPPED = "skipped"  # not processed on purpose (e.g. the shop uninstalled); see note
        FAILED = "failed"  # parked: retries exhausted
        # parked at once: the payload was refused or the error cannot change on a retry;
        # the reason is in last_error
        UNPROCESSABLE = "unprocessable"

    class Source(models.TextChoices):
        WEBHOOK = "webhook"
        RECONCILIATION = "reconciliation"

    # Every insert updates every index of this table (the hot path of a burst), so it keeps
    # only those queries use: the composite indexes below start with ``shop``, and the unique
    # constraint on ``webhook_id`` (in Meta: ``unique=True`` would add a ``LIKE`` index too).
    # No database foreign key either: its check ran a query per inserted row and locked the
    # shop's row (``FOR KEY SHARE``) in every intake commit. Shops are never deleted (an
    # uninstall deactivates, ``shop/redact`` erases data), and the row's shop comes from the
    # verified lookup just before the insert; Django's ``CASCADE`` still applies.
    shop = models.ForeignKey(
        Shop,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    webhook_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, blank=True)
    topic = models.CharField(max_length=64)
    # The payload's top-level ``id`` (order, refund, customer) so lookups need no JSON scan.
    resource_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    api_version = models.CharField(max_length=16, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    payload = models.JSONField()

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    note = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Status indexes are partial: a row is in them only while it is waiting, leased
            # or parked, so the drain's claim reads the oldest waiting rows in id order (not
            # every waiting row, then a sort) and marking a row done adds no entry to them.
            models.Index(
                fields=["id"], name="delivery_waiting_idx", condition=Q(status="received")
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_leased_idx",
                condition=Q(status="processing"),
            ),
            models.Index(
                fields=["shop", "-received_at"],
                name="delivery_parked_idx",
                condition=Q(status__in=["failed", "unprocessable"]),
            ),
            models.Index(fields=["shop", "topic", "-received_at"], name="delivery_shop_topic_idx"),
            models.Index(fields=["shop", "topic", "resource_id"], name="delivery_resource_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["webhook_id"], name="delivery_webhook_id_uniq"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id} ({self.status})"


class SyncRun(models.Model):
    """One run of the order reconciliation job for a shop, kept for the webhook-health page."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="sync_runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    updated_since = models.DateTimeField(null=True, blank=True)
    orders_seen = models.PositiveIntegerField(default=0)
    orders_fed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-started_at"], name="syncrun_shop_idx")]

    def __str__(self) -> str:
        return f"sync {self.shop_id} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class ComplianceRequest(models.Model):
    """One privacy request from the platform (customers/data_request, customers/redact,
    shop/redact) and what Beam did about it. A data request keeps the export for the
    merchant; after shop/redact this row is the only trace of the shop's data."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="compliance_requests")
    webhook_id = models.CharField(max_length=255, unique=True)
    topic = models.CharField(max_length=64)
    customer_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(default=dict)
    result = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="compliance_shop_idx")]

    def __str__(self) -> str:
        return f"{self.topic} {self.shop_id} {self.customer_id or ''}".strip()


class StaffMember(models.Model):
    """A staff user of a shop as the platform named them (first and last name, email), learnt
    from an online token exchange when they open Beam. The session token carries only the
    user id; the audit trail shows this name instead. The online token itself is not kept."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="staff")
    user_id = models.CharField(max_length=64)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    account_owner = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "user_id"], name="staff_shop_user_unique")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """ "Ann Lee", else the email, else "Staff member 42"."""
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"Staff member {self.user_id}"


class OAuthStateUse(models.Model):
    """An install's state nonce, once its callback has been taken. The unique nonce makes the
    claim once-only in the database (the cache may be down or emptied); rows older than the
    nonce's lifetime are pruned at the next claim, so the table stays small."""

    nonce = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"state used at {self.used_at:%Y-%m-%d %H:%M}"


class ShopApiKey(models.Model):
    """The shop's key for calls into Beam (review webhooks, the custom-action API): callers
    sign each body with it. Stored encrypted like the platform tokens; after a rotation the
    previous key still verifies until ``previous_valid_until`` (a grace window to update the
    senders)."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="api_key")
    key_encrypted = models.TextField()
    # The key's last characters, shown in the admin to tell keys apart (never the key).
    hint = models.CharField(max_length=8)
    previous_key_encrypted = models.TextField(blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"API key …{self.hint} of shop {self.shop_id}"
