"""Beam's inbound API (mounted at /api/v1/): review webhooks and custom actions."""

from django.urls import path

from storefront_widget.inbound_api import views

app_name = "inbound"

urlpatterns = [
    path("reviews/", views.review_webhook, name="reviews"),
    path("reviews/judgeme", views.judgeme_webhook, name="reviews_judgeme"),
    path("actions/", views.custom_action, name="actions"),
]
