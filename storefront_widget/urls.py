"""App-proxy routes: the storefront API and the landing page (mounted at /proxy/)."""

from django.urls import path, re_path

from storefront_widget import views
from storefront_widget.proxy_api import referrals
from storefront_widget.proxy_api import views as api

app_name = "storefront_widget"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("landing.css", views.landing_css, name="landing_css"),
    path("api/program", api.program_get, name="program"),
    path("api/me", api.me_get, name="me"),
    path("api/product_points", api.product_points_get, name="product_points"),
    path("api/redeem", api.RedeemApi.as_view(), name="redeem"),
    path("api/redemptions/<str:redemption_id>", api.RedemptionGetApi.as_view(), name="redemption"),
    path(
        "api/redemptions/<str:redemption_id>/cancel",
        api.RedemptionCancelApi.as_view(),
        name="redemption_cancel",
    ),
    path("api/birthday", api.BirthdayApi.as_view(), name="birthday"),
    path("api/actions/click", api.ActionClickApi.as_view(), name="action_click"),
    path("r/<str:code>", referrals.referral_link_follow, name="referral_link"),
    path("api/referrals/<str:code>", referrals.referral_offer_get, name="referral_offer"),
    path(
        "api/referrals/<str:code>/claim",
        referrals.ReferralClaimApi.as_view(),
        name="referral_claim",
    ),
    re_path(r"^api/", api.not_found),
]
