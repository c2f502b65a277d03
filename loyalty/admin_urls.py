"""Embedded admin pages for running the program (mounted under /admin/)."""

from django.urls import path

from loyalty import views

app_name = "loyalty_admin"

urlpatterns = [
    path("welcome/", views.onboarding, name="onboarding"),
    path("program/toggle", views.program_toggle, name="program_toggle"),
    path("earning/", views.earning, name="earning"),
    path("expiry/", views.expiry, name="expiry"),
    path("bonus-events/", views.bonus_events, name="bonus_events"),
    path("bonus-events/<int:event_id>/", views.bonus_event_edit, name="bonus_event_edit"),
    path("bonus-events/<int:event_id>/delete", views.bonus_event_delete, name="bonus_event_delete"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/new", views.reward_new, name="reward_new"),
    path("rewards/<int:reward_id>/", views.reward_edit, name="reward_edit"),
    path("branding/", views.branding, name="branding"),
    path("branding/preview", views.branding_preview, name="branding_preview"),
    path(
        "branding/preview-frame/<str:token>/",
        views.branding_preview_frame,
        name="branding_preview_frame",
    ),
    path(
        "branding/preview-frame/<str:token>/api/<path:path>",
        views.branding_preview_api,
        name="branding_preview_api",
    ),
    path("theme-assets/<str:name>", views.theme_asset, name="theme_asset"),
    path("landing/", views.landing, name="landing"),
    path("texts/", views.shopper_texts, name="shopper_texts"),
    path("customers/", views.customers, name="customers"),
    path("customers/import", views.customers_import, name="customers_import"),
    path("customers/import/apply", views.customers_import_apply, name="customers_import_apply"),
    path("customers/export/members.csv", views.export_members, name="export_members"),
    path("customers/export/ledger.csv", views.export_ledger, name="export_ledger"),
    path("customers/<int:member_id>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:member_id>/adjust", views.customer_adjust, name="customer_adjust"),
    path(
        "customers/<int:member_id>/redemptions/<int:redemption_id>/cancel",
        views.redemption_cancel,
        name="redemption_cancel",
    ),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/replay", views.webhooks_replay, name="webhooks_replay"),
    path("audit/", views.audit, name="audit"),
]
