"""Routes for the checkout and customer-account extensions (mounted at /ext/)."""

from django.urls import path, re_path

from storefront_widget.extension_api import views as api

app_name = "extensions"

urlpatterns = [
    path("checkout/summary", api.CheckoutSummaryApi.as_view(), name="checkout_summary"),
    path("customer", api.CustomerSummaryApi.as_view(), name="customer_summary"),
    path("customer/history", api.CustomerHistoryApi.as_view(), name="customer_history"),
    path(
        "customer/history/entries",
        api.CustomerEntriesPageApi.as_view(),
        name="customer_history_entries",
    ),
    path(
        "customer/history/tier-changes",
        api.CustomerTierChangesPageApi.as_view(),
        name="customer_history_tier_changes",
    ),
    path("customer/birthday", api.CustomerBirthdayApi.as_view(), name="customer_birthday"),
    path("redemptions", api.RedemptionCreateApi.as_view(), name="redemption_create"),
    path(
        "redemptions/cancel", api.RedemptionCodeCancelApi.as_view(), name="redemption_code_cancel"
    ),
    path(
        "redemptions/<int:redemption_id>",
        api.RedemptionDetailApi.as_view(),
        name="redemption_detail",
    ),
    path(
        "redemptions/<int:redemption_id>/release",
        api.RedemptionReleaseApi.as_view(),
        name="redemption_release",
    ),
    path("orders/points", api.OrderPointsApi.as_view(), name="order_points"),
    re_path(r"^.*$", api.preflight_only),
]
