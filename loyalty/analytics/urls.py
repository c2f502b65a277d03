"""Analytics dashboard routes (mounted at /admin/analytics/)."""

from django.urls import path

from loyalty.analytics import views

urlpatterns = [
    path("", views.analytics_dashboard, name="analytics_dashboard"),
    path("plan-price", views.analytics_plan_price, name="analytics_plan_price"),
    path("export.csv", views.analytics_export, name="analytics_export"),
]
