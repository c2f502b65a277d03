"""Operations admin (mounted at /ops/): shops, the webhook inbox with replay, sync runs and
compliance requests. Tokens are never shown."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from merchants import replay
from merchants.models import ComplianceRequest, Shop, SyncRun, WebhookDelivery


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("domain", "name", "installed_at", "uninstalled_at", "orders_synced_at")
    list_filter = (("uninstalled_at", admin.EmptyFieldListFilter),)
    search_fields = ("domain", "name")
    fields = (
        "domain",
        "name",
        "email",
        "currency",
        "iana_timezone",
        "plan_name",
        "scopes",
        "access_token_expires_at",
        "installed_at",
        "uninstalled_at",
        "orders_synced_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "shop",
        "topic",
        "source",
        "status",
        "attempts",
        "next_attempt_at",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", "source", "topic")
    search_fields = ("webhook_id", "event_id", "shop__domain")
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ("replay_selected",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if (getattr(match, "url_name", None) or "").endswith("_changelist"):
            qs = qs.defer("payload", "headers")  # the list never shows the bodies
        return qs

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay selected deliveries", permissions=["change"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        outcome = replay.deliveries_replay(delivery_ids=list(queryset.values_list("pk", flat=True)))
        total = sum(outcome.values())
        if not total:
            self.message_user(
                request,
                "Nothing to replay: only parked or waiting deliveries are replayed.",
                messages.WARNING,
            )
            return
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcome.items()))
        level = messages.SUCCESS if set(outcome) <= {"succeeded", "skipped"} else messages.WARNING
        self.message_user(request, f"Replayed {total} deliveries: {summary}.", level)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("shop", "started_at", "finished_at", "status", "orders_seen", "orders_fed")
    list_filter = ("status",)
    search_fields = ("shop__domain",)
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ComplianceRequest)
class ComplianceRequestAdmin(admin.ModelAdmin):
    list_display = ("shop", "topic", "customer_id", "request_id", "created_at", "completed_at")
    list_filter = ("topic",)
    search_fields = ("shop__domain", "webhook_id", "request_id")
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in ComplianceRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
