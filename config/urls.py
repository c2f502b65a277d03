from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core.views import healthz_workers

# The storefront's app-proxy routes come first: they take most of the traffic, and the
# prefixes are disjoint, so the order changes nothing but the work of resolving them.
urlpatterns = [
    path("proxy/", include("storefront_widget.urls")),
    path("", include("merchants.urls")),
    path("admin/analytics/", include("loyalty.analytics.urls")),
    path("admin/", include("loyalty.admin_urls")),
    path("webhooks/", include("merchants.shopify.webhook_urls")),
    path("ext/", include("storefront_widget.extension_urls")),
    path("ops/", admin.site.urls),
    path("healthz/workers", healthz_workers, name="healthz_workers"),
]

if settings.DEVSTORE_ENABLED:
    urlpatterns.append(path("devstore/", include("devstore.urls")))
