"""Embedded admin pages for running the program (mounted under /admin/)."""

from django.urls import path

from loyalty.views import (
    audit,
    branding,
    customers,
    earning,
    referrals,
    rewards,
    settings,
    setup,
    texts,
    tier_grants,
    tiers,
)
from merchants.views import webhooks

app_name = "loyalty_admin"

urlpatterns = [
    path("welcome/", setup.onboarding, name="onboarding"),
    path("program/toggle", setup.program_toggle, name="program_toggle"),
    path("earning/", earning.earning, name="earning"),
    path("earning/actions", earning.earning_action_save, name="earning_action_save"),
    path("earning/custom-actions", earning.custom_action_add, name="custom_action_add"),
    path("earning/api-key", earning.api_key_rotate, name="api_key_rotate"),
    path("expiry/", settings.expiry, name="expiry"),
    path("bonus-events/", earning.bonus_events, name="bonus_events"),
    path("bonus-events/<int:event_id>/", earning.bonus_event_edit, name="bonus_event_edit"),
    path(
        "bonus-events/<int:event_id>/delete", earning.bonus_event_delete, name="bonus_event_delete"
    ),
    path("rewards/", rewards.rewards, name="rewards"),
    path("rewards/new", rewards.reward_new, name="reward_new"),
    path("rewards/<int:reward_id>/", rewards.reward_edit, name="reward_edit"),
    path("tiers/", tiers.tiers, name="tiers"),
    path("tiers/recomputes/<int:recompute_id>/", tiers.tiers_progress, name="tiers_progress"),
    path("tiers/previews/<int:preview_id>/", tiers.tiers_preview, name="tiers_preview"),
    path("tiers/sync/retry", tiers.tiers_sync_retry, name="tiers_sync_retry"),
    path("referrals/", referrals.referrals, name="referrals"),
    path(
        "referrals/<int:referral_id>/unblock",
        referrals.referral_unblock_view,
        name="referral_unblock",
    ),
    path(
        "referrals/<int:referral_id>/cancel",
        referrals.referral_cancel_view,
        name="referral_cancel",
    ),
    path("branding/", branding.branding, name="branding"),
    path("branding/preview", branding.branding_preview, name="branding_preview"),
    path(
        "branding/preview-frame/<str:token>/",
        branding.branding_preview_frame,
        name="branding_preview_frame",
    ),
    path(
        "branding/preview-frame/<str:token>/api/<path:path>",
        branding.branding_preview_api,
        name="branding_preview_api",
    ),
    path("theme-assets/<str:name>", branding.theme_asset, name="theme_asset"),
    path("landing/", texts.landing, name="landing"),
    path("texts/", texts.shopper_texts, name="shopper_texts"),
    path("customers/", customers.customers, name="customers"),
    path("customers/import", customers.customers_import, name="customers_import"),
    path("customers/import/apply", customers.customers_import_apply, name="customers_import_apply"),
    path("customers/grant-tier", tier_grants.customers_grant_tier, name="customers_grant_tier"),
    path(
        "customers/grant-tier/apply",
        tier_grants.customers_grant_tier_apply,
        name="customers_grant_tier_apply",
    ),
    path("customers/export/members.csv", customers.export_members, name="export_members"),
    path("customers/export/ledger.csv", customers.export_ledger, name="export_ledger"),
    path("customers/<int:member_id>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:member_id>/adjust", customers.customer_adjust, name="customer_adjust"),
    path("customers/<int:member_id>/tier", customers.customer_tier_set, name="customer_tier_set"),
    path(
        "customers/<int:member_id>/tier/grant",
        customers.customer_tier_grant,
        name="customer_tier_grant",
    ),
    path(
        "customers/<int:member_id>/redemptions/<int:redemption_id>/cancel",
        customers.redemption_cancel,
        name="redemption_cancel",
    ),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/replay", audit.webhooks_replay, name="webhooks_replay"),
    path("audit/", audit.audit, name="audit"),
]
